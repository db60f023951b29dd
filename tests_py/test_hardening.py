"""Hardening (issue 9): no panic reaches Python, hostile venue answers end in PipelineError subclasses."""

import asyncio
import datetime as dt
import logging
import os
import socket
import subprocess
import sys
import time

import pytest
from ccxt_pipeline_rs import (
    BinanceFetcher,
    BybitFetcher,
    IncompleteHistoryWarning,
    InternalError,
    InvalidArgumentError,
    NetworkError,
    Orchestrator,
    PipelineError,
    RateLimitError,
    _core,
)


def test_a_panic_in_a_sync_call_is_an_internal_error_not_a_panic_exception():
    with pytest.raises(InternalError) as info:
        _core._panic_for_tests()
    assert isinstance(info.value, PipelineError)
    assert "internal error" in str(info.value) and "index out of bounds" in str(info.value)


async def test_a_panic_in_an_awaitable_is_an_internal_error_not_a_panic_exception():
    with pytest.raises(InternalError):
        await _core._panic_for_tests(asynchronous=True)
    # The loop and the runtime survive it.
    await asyncio.sleep(0)
    with pytest.raises(PipelineError):
        await _core._panic_for_tests(asynchronous=True)


@pytest.mark.parametrize(
    ("fetcher", "venue", "status", "seconds"),
    [
        (BinanceFetcher, "binance", 429, 18446744073709551615),
        (BinanceFetcher, "binance", 418, 2**63),
        (BybitFetcher, "bybit", 403, 18446744073709551615),
    ],
)
def test_absurd_retry_after_is_a_rate_limit_error(sim, fetcher, venue, status, seconds):
    sim.inject_status(venue, status, '{"code":-1003,"msg":"Way too many requests"}', retry_after_secs=seconds)
    with pytest.raises(RateLimitError) as info:
        fetcher(base_url=sim.base_urls[venue]).fetch_open_interest("BTCUSDT-PERP")
    # Clamped to a week: still far longer than anyone waits, and a finite number.
    assert info.value.retry_after == 7 * 86400
    assert info.value.status == status


NOW = dt.datetime(2025, 6, 1, tzinfo=dt.UTC)


def test_binance_oi_older_than_30_days_is_clamped_by_the_venue_clock_with_iso_warning(sim):
    # The simulator's clock is frozen far from this machine's: only the venue's clock gives the right window.
    sim.server.set_clock_ms(int(NOW.timestamp() * 1000))
    fetcher = BinanceFetcher(base_url=sim.base_urls["binance"])
    with pytest.warns(IncompleteHistoryWarning) as caught:
        table = fetcher.fetch_open_interest_history("BTCUSDT-PERP", NOW - dt.timedelta(days=90), NOW, period="1d")
    message = str(caught[0].message)
    assert "2025-03-03T00:00:00.000Z" in message and "2025-05-02T00:00:10.000Z" in message, message
    assert str(int((NOW - dt.timedelta(days=90)).timestamp() * 1000)) not in message
    assert table.num_rows == 30


def test_timeout_is_configurable_on_fetchers_and_orchestrator(sim):
    sim.set_latency("bybit", 2.0)
    started = time.monotonic()
    with pytest.raises(NetworkError, match="timed out"):
        BybitFetcher(base_url=sim.base_urls["bybit"], timeout=0.2).fetch_open_interest("BTCUSDT-PERP")
    assert time.monotonic() - started < 6
    result = Orchestrator(exchanges=["bybit", "binance"], base_urls=sim.base_urls, timeout=0.2).fetch_open_interest(
        "BTCUSDT-PERP"
    )
    assert result.table.column("venue").to_pylist() == ["binance"]
    assert [type(f) for f in result.failures] == [NetworkError]
    for bad in (0, -1, float("nan"), float("inf")):
        with pytest.raises(InvalidArgumentError):
            BybitFetcher(base_url=sim.base_urls["bybit"], timeout=bad)


def test_cli_timeout_option(sim):
    sim.set_latency("bybit", 2.0)
    env = {**os.environ, "CCXT_PIPELINE_BYBIT_URL": sim.base_urls["bybit"]}
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "ccxt_pipeline_rs.cli",
            "--timeout",
            "0.2",
            "fetch-oi",
            "BTCUSDT-PERP",
            "--exchange",
            "bybit",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert out.returncode == 1 and "timed out" in out.stderr, out.stderr
    bad = subprocess.run(
        [sys.executable, "-m", "ccxt_pipeline_rs.cli", "--timeout", "0", "fetch-oi", "BTCUSDT-PERP"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode == 2


@pytest.mark.parametrize(
    "url",
    [
        "http://alice:hunter2secret@127.0.0.1:{port}/binance",
        "http://127.0.0.1:{port}/binance?apiKey=tokensecret",
    ],
)
def test_secrets_in_base_urls_are_masked_in_errors_and_logs(url, caplog):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    caplog.set_level(logging.DEBUG)
    with pytest.raises(NetworkError) as info:
        BinanceFetcher(base_url=url.format(port=port), timeout=1).fetch_open_interest("BTCUSDT-PERP")
    shown = str(info.value) + caplog.text
    assert "hunter2secret" not in shown and "tokensecret" not in shown and "alice" not in shown, shown
    assert "127.0.0.1" in str(info.value)
