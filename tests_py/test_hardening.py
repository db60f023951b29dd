"""Hardening (issue 9): no panic reaches Python, hostile venue answers end in PipelineError subclasses."""

import asyncio
import contextlib
import datetime as dt
import http.server
import json
import logging
import os
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.request

import pytest
from ccxt_pipeline_rs import (
    VENUES,
    BinanceFetcher,
    BybitFetcher,
    IncompleteHistoryWarning,
    InternalError,
    InvalidArgumentError,
    MalformedResponseError,
    NetworkError,
    Orchestrator,
    ParquetStore,
    PipelineError,
    RateLimitError,
    _core,
)


def test_a_panic_in_a_sync_call_is_an_internal_error_not_a_panic_exception():
    with pytest.raises(InternalError) as info:
        _core._panic_for_tests()
    assert isinstance(info.value, PipelineError)
    assert "internal error" in str(info.value) and "index out of bounds" in str(info.value)


def test_a_panic_in_blocking_work_outside_a_future_is_an_internal_error():
    # Store reads and writes run as blocking work with the GIL released, through the same guard.
    with pytest.raises(InternalError) as info:
        _core._panic_for_tests(blocking=True)
    assert "index out of bounds" in str(info.value)


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


CLI = [sys.executable, "-m", "ccxt_pipeline_rs.cli"]


def run_cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=60, env=env)


@contextlib.contextmanager
def binance_answering_time(sim_url: str, time_value: int):
    """A proxy in front of the simulator's Binance that answers /fapi/v1/openInterest with an impossible time."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (the stdlib's name)
            if self.path.startswith("/fapi/v1/openInterest"):
                body = json.dumps({"symbol": "BTCUSDT", "openInterest": "10659.509", "time": time_value}).encode()
                status = 200
            else:
                with urllib.request.urlopen(sim_url + self.path) as answer:
                    body, status = answer.read(), answer.status
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()


@pytest.mark.parametrize("time_value", [-5, 1_748_736_000_000_000, 99_999_999_999_999])
def test_one_venues_impossible_timestamp_never_costs_the_others_rows(sim, tmp_path, time_value):
    with binance_answering_time(sim.base_urls["binance"], time_value) as binance:
        env = {
            **os.environ,
            "CCXT_PIPELINE_BINANCE_URL": binance,
            "CCXT_PIPELINE_BYBIT_URL": sim.base_urls["bybit"],
            "CCXT_PIPELINE_HYPERLIQUID_URL": sim.base_urls["hyperliquid"],
        }
        out = run_cli("fetch-oi", "BTCUSDT-PERP", "--store", "--data-dir", str(tmp_path), "--format", "json", env=env)
    assert out.returncode == 0, out.stderr
    assert [r["venue"] for r in json.loads(out.stdout)] == ["bybit", "hyperliquid"]
    assert re.search(r"error: binance: malformed response for open interest: timestamp", out.stderr), out.stderr
    stored = ParquetStore(tmp_path).read("open_interest")
    assert sorted(stored.column("venue").to_pylist()) == ["bybit", "hyperliquid"]
    # From Python, the same: the venue's MalformedResponseError, the others' rows.
    with binance_answering_time(sim.base_urls["binance"], time_value) as binance:
        urls = {**sim.base_urls, "binance": binance}
        result = Orchestrator(base_urls=urls).fetch_open_interest("BTCUSDT-PERP")
    assert result.table.column("venue").to_pylist() == ["bybit", "hyperliquid"]
    assert [type(f) for f in result.failures] == [MalformedResponseError]


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["fetch-oi", "BTCUSDT-PERP", "--from", "1969-12-31"], "before any venue has history"),
        (["fetch-oi", "BTCUSDT-PERP", "--from", "2015-01-01"], "before any venue has history"),
        (["fetch-funding", "BTCUSDT-PERP", "--from", "1748000000"], "looks like epoch seconds"),
        (["fetch-oi", "BTCUSDT-PERP", "--from", "2025-01-02", "--to", "1748000000"], "looks like epoch seconds"),
        (["fetch-oi", "BTCUSDT-PERP", "--to", "2025-01-01"], "--to need --from"),
        (["fetch-oi", "BTCUSDT-PERP", "--period", "1h"], "--period need --from"),
        (["fetch-funding", "BTCUSDT-PERP", "--to", "2025-01-01"], "--to need --from"),
        (["fetch-oi", "BTCUSDT-PERP", "--from", "2025-02-01", "--to", "2025-01-01"], "is before --from"),
        (["fetch-oi", "BTCUSDT-PERP", "--exchange", ""], "empty exchange name"),
        (["fetch-oi", "BTCUSDT-PERP", "--exchange", "binance,,bybit"], "empty exchange name"),
        (["fetch-oi", "BTCUSDT-PERP", "--exchange", "binance,bybit,binance"], "more than once"),
        (["fetch-funding", "BTCUSDT-PERP", "--exchange", "kraken"], "unknown exchange kraken"),
        (["--seed", "-1", "--sim", "fetch-oi", "BTCUSDT-PERP"], "--seed"),
        (["--seed", str(2**64), "--sim", "fetch-oi", "BTCUSDT-PERP"], "--seed"),
        (["sim", "serve", "--port", "70000"], "--port"),
        (["sim", "serve", "--port", "-1"], "--port"),
        (["sim", "serve", "--latency", "-1"], "--latency"),
        (["sim", "serve", "--latency", "1e9"], "--latency"),
        (["--timeout", "-3", "fetch-oi", "BTCUSDT-PERP"], "--timeout"),
    ],
)
def test_bad_cli_input_is_one_line_and_exit_2_before_any_request(args, needle):
    # Nothing listens at these URLs: a request would be a network error (exit 1), not exit 2.
    env = {**os.environ, **{f"CCXT_PIPELINE_{v.upper()}_URL": "http://127.0.0.1:9" for v in VENUES}}
    out = run_cli(*args, env=env)
    assert out.returncode == 2, (out.returncode, out.stderr)
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0], out.stderr
    assert "Traceback" not in out.stderr


def test_an_unparseable_base_url_fails_at_once():
    env = {**os.environ, "CCXT_PIPELINE_BINANCE_URL": "http://exa mple.com"}
    out = run_cli("fetch-oi", "BTCUSDT-PERP", "--exchange", "binance", env=env)
    assert out.returncode == 2 and "not a valid URL" in out.stderr, out.stderr
    for bad in ("http://", "http://host:99999", "ftp://h"):
        with pytest.raises(InvalidArgumentError):
            BinanceFetcher(base_url=bad)


@pytest.mark.parametrize("value", [True, False, 3.5, b"2025-01-01", [2025], object()])
def test_wrong_date_types_are_invalid_argument_errors_that_are_also_type_and_value_errors(value):
    fetcher = BinanceFetcher(base_url="http://127.0.0.1:9")
    for handler in (InvalidArgumentError, TypeError, ValueError, PipelineError):
        with pytest.raises(handler):
            fetcher.fetch_funding_rate_history("BTCUSDT-PERP", value)
    assert issubclass(InvalidArgumentError, (TypeError, ValueError, PipelineError))


def test_history_dates_before_the_venues_are_refused_from_python_too():
    fetcher = BinanceFetcher(base_url="http://127.0.0.1:9")
    with pytest.raises(InvalidArgumentError, match="looks like epoch seconds"):
        fetcher.fetch_funding_rate_history("BTCUSDT-PERP", 1748000000)
    with pytest.raises(InvalidArgumentError, match="before any venue"):
        fetcher.fetch_open_interest_history("BTCUSDT-PERP", dt.datetime(1960, 1, 1))


@pytest.mark.parametrize(
    "call",
    [
        lambda f: f.fetch_open_interest(123),
        lambda f: f.fetch_funding_rate(None),
        lambda f: f.fetch_open_interest_history(["BTCUSDT-PERP"], "2025-05-01"),
        lambda f: f.fetch_open_interest_history("BTCUSDT-PERP", "2025-05-01", period=60),
        lambda f: f.fetch_funding_rate_history(b"BTCUSDT-PERP", "2025-05-01"),
        lambda f: BinanceFetcher(base_url=42),
        lambda f: BinanceFetcher(timeout="10"),
        lambda f: BinanceFetcher(timeout=True),
        lambda f: Orchestrator(timeout=[1]),
        lambda f: Orchestrator().fetch_open_interest(1.5),
    ],
)
def test_wrong_argument_types_are_invalid_argument_errors(call):
    fetcher = BinanceFetcher(base_url="http://127.0.0.1:9")
    with pytest.raises(InvalidArgumentError) as info:
        call(fetcher)
    assert isinstance(info.value, TypeError) and isinstance(info.value, PipelineError)
    assert "expected" in str(info.value)


def test_cli_says_when_it_waits_out_a_rate_limit_and_until_when(sim):
    # Bybit's 403 "access too frequent" without Retry-After: the client waits Bybit's 5 s window, and says so.
    sim.inject_status("bybit", 403, "access too frequent")
    env = {**os.environ, "CCXT_PIPELINE_BYBIT_URL": sim.base_urls["bybit"]}
    started = time.monotonic()
    out = run_cli("fetch-oi", "BTCUSDT-PERP", "--exchange", "bybit", "--format", "json", env=env)
    assert out.returncode == 0, out.stderr
    assert time.monotonic() - started >= 4.5
    assert re.search(r"rate limited; waiting 5\.\d s, until \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", out.stderr), (
        out.stderr
    )
    assert [r["venue"] for r in json.loads(out.stdout)] == ["bybit"]


def test_wrong_types_of_collections_callbacks_and_stores_are_invalid_argument_errors():
    import ccxt_pipeline_rs as c

    calls = [
        lambda: c.Orchestrator(exchanges=5),
        lambda: c.Orchestrator(base_urls=["http://x"]),
        lambda: c.Orchestrator(ws_urls=3),
        lambda: c.BybitFetcher().fetch_funding_rate_history("BTCUSDT-PERP", "2024-01-01", progress=5),
        lambda: c.BybitFetcher().fetch_funding_rate_history("BTCUSDT-PERP", "2024-01-01", store="data"),
        lambda: c.Orchestrator().fetch_open_interest_history("BTCUSDT-PERP", "2024-01-01", store=1),
    ]
    for call in calls:
        with pytest.raises(c.InvalidArgumentError, match="expected") as info:
            call()
        assert isinstance(info.value, TypeError)
    assert c.Orchestrator(exchanges="bybit").exchanges == ["bybit"]
