"""Liquidation streams from Python against the simulator's WebSockets: sync and async iteration, the store, gaps,
counters, bad arguments, and the CLI (including Ctrl+C)."""

import asyncio
import json
import os
import signal
import subprocess
import sys
import time

import pyarrow as pa
import pytest
from ccxt_pipeline_rs import (
    BybitFetcher,
    InvalidArgumentError,
    Orchestrator,
    ParquetStore,
    SymbolNotFoundError,
    UnsupportedError,
)
from ccxt_pipeline_rs.sim import ExchangeSimulator

LIQUIDATION_COLUMNS = ["venue", "symbol", "instrument_id", "ts_event", "ts_init", "side", "price", "quantity"]
FAST = {"batch_seconds": 0.2, "idle_timeout": 1.5}
INSTRUMENT_SUFFIX = {"binance": "-PERP.BINANCE", "bybit": "-LINEAR.BYBIT"}


def event_key(venue, instrument_id, ts_ms, side, price, quantity):
    return (venue, instrument_id, ts_ms, side, round(price, 10), round(quantity, 10))


def received_keys(tables):
    keys = []
    for table in tables:
        ts = table.column("ts_event").cast(pa.int64()).to_pylist()
        for row, ns in zip(table.to_pylist(), ts, strict=True):
            ms = ns // 1_000_000
            keys.append(event_key(row["venue"], row["instrument_id"], ms, row["side"], row["price"], row["quantity"]))
    return keys


def emitted(sim, venues, natives):
    out = {}
    for venue in venues:
        for e in sim.liquidations_emitted(venue):
            if e["symbol"] in natives:
                key = event_key(
                    venue, e["symbol"] + INSTRUMENT_SUFFIX[venue], e["time_ms"], e["side"], e["price"], e["quantity"]
                )
                out[key] = e
    return out


def gaps_of(table):
    start = table.column("ts_event").cast(pa.int64()).to_pylist()
    end = table.column("ts_init").cast(pa.int64()).to_pylist()
    return [
        (row["venue"], row["instrument_id"], s, e, row["reason"])
        for row, s, e in zip(table.to_pylist(), start, end, strict=True)
    ]


def assert_once_or_in_gap(sim, venues, natives, keys, gaps, window_ms):
    assert len(set(keys)) == len(keys), "an event was delivered twice"
    truth = emitted(sim, venues, natives)
    assert set(keys) <= set(truth), "received events the simulator never emitted"
    checked = 0
    for key, e in truth.items():
        if not window_ms[0] <= e["sent_at_ms"] <= window_ms[1]:
            continue
        checked += 1
        if key in set(keys):
            continue
        sent_ns = e["sent_at_ms"] * 1_000_000
        assert any(g[0] == key[0] and g[1] == key[1] and g[2] <= sent_ns + 999_999 and sent_ns <= g[3] for g in gaps), (
            f"{key} missing outside every gap {gaps}"
        )
    return checked


def now_ms():
    return time.time_ns() // 1_000_000


def wait_connected(stream, n):
    deadline = time.monotonic() + 5
    while stream.connected < n:
        assert time.monotonic() < deadline, "the stream did not connect"
        time.sleep(0.05)


def test_sync_iteration_over_all_venues_with_drops_delivers_once_or_in_a_gap(sim):
    for venue in ("binance", "bybit"):
        sim.set_liquidation_rate(venue, 6.0)
    orchestrator = Orchestrator(["binance", "bybit"], sim.base_urls, ws_urls=sim.ws_urls)
    stream = orchestrator.stream_liquidations(["BTCUSDT-PERP", "ETHUSDT-PERP"], **FAST)
    wait_connected(stream, 2)
    start = now_ms()
    for venue in ("binance", "bybit"):
        sim.inject_ws_fault(venue, "drop_every", seconds=1.3)
    tables = []
    deadline = time.monotonic() + 5
    for table in stream:
        assert table.schema.names == LIQUIDATION_COLUMNS
        assert str(table.schema.field("ts_event").type) == "timestamp[ns, tz=UTC]"
        tables.append(table)
        if time.monotonic() > deadline:
            break
    end = now_ms() - 300
    stream.close()
    tables.extend(iter(lambda: stream.get(timeout=0.01), None))
    checked = assert_once_or_in_gap(
        sim, ["binance", "bybit"], {"BTCUSDT", "ETHUSDT"}, received_keys(tables), gaps_of(stream.gaps), (start, end)
    )
    assert checked > 50
    assert stream.reconnects >= 4
    assert stream.events == len(received_keys(tables))
    assert {g[4] for g in gaps_of(stream.gaps)} == {"server_close"}
    assert list(stream) == [], "a closed and drained stream ends the iteration"


def test_async_for_with_a_store_stores_what_it_delivers(sim, tmp_path):
    sim.set_liquidation_rate("bybit", 8.0)
    store = ParquetStore(tmp_path)

    async def consume():
        fetcher = BybitFetcher(base_url=sim.base_urls["bybit"], ws_url=sim.ws_urls["bybit"])
        tables = []
        async with fetcher.stream_liquidations("BTCUSDT-PERP", store=store, **FAST) as stream:
            sim.inject_ws_fault("bybit", "drop")
            started = time.monotonic()
            async for table in stream:
                tables.append(table)
                if time.monotonic() - started > 2.5:
                    break
        tables.extend(iter(lambda: stream.get(timeout=0.01), None))
        return stream, tables

    stream, tables = asyncio.run(consume())
    keys = received_keys(tables)
    assert len(keys) > 10 and len(set(keys)) == len(keys)
    stored = store.read("liquidation")
    assert sorted(received_keys([stored])) == sorted(keys), "the store holds exactly what was delivered"
    assert stream.stored == len(keys)
    gaps = store.read("gaps")
    assert gaps.num_rows == stream.gaps.num_rows >= 1
    assert set(gaps.column("reason").to_pylist()) == {"server_close"}


def test_a_slow_consumer_loses_the_oldest_from_the_iterator_not_from_the_store(sim, tmp_path):
    sim.set_liquidation_rate("bybit", 40.0)
    store = ParquetStore(tmp_path)
    fetcher = BybitFetcher(base_url=sim.base_urls["bybit"], ws_url=sim.ws_urls["bybit"])
    with fetcher.stream_liquidations(
        ["BTCUSDT-PERP", "ETHUSDT-PERP"], store=store, batch_rows=10, queue_rows=30, **FAST
    ) as stream:
        time.sleep(2.5)  # not reading: the queue overflows
    kept = list(iter(lambda: stream.get(timeout=0.01), None))
    assert sum(t.num_rows for t in kept) <= 30
    assert stream.dropped > 0
    overflow = [g for g in gaps_of(stream.gaps) if g[4] == "overflow"]
    assert overflow, "dropping is recorded as an overflow gap"
    assert store.read("liquidation").num_rows == stream.events, "the store got every event"


def test_get_waits_at_most_its_timeout_and_close_is_idempotent(sim):
    sim.set_liquidation_rate("bybit", 0.0)
    stream = BybitFetcher(base_url=sim.base_urls["bybit"], ws_url=sim.ws_urls["bybit"]).stream_liquidations(
        "BTCUSDT-PERP", **FAST
    )
    started = time.monotonic()
    assert stream.get(timeout=0.3) is None
    assert 0.25 <= time.monotonic() - started < 2
    stream.close()
    stream.close()
    assert stream.get() is None
    assert "LiquidationStream(events=0" in repr(stream)


def test_bad_arguments_are_refused_before_connecting(sim):
    fetcher = BybitFetcher(base_url=sim.base_urls["bybit"], ws_url=sim.ws_urls["bybit"])
    for kwargs in ({"batch_rows": 0}, {"batch_seconds": 0}, {"idle_timeout": -1}, {"queue_rows": 1, "batch_rows": 5}):
        with pytest.raises(InvalidArgumentError):
            fetcher.stream_liquidations("BTCUSDT-PERP", **kwargs)
    with pytest.raises(InvalidArgumentError, match="no symbols"):
        fetcher.stream_liquidations()
    with pytest.raises(InvalidArgumentError, match="Hyperliquid address"):
        fetcher.stream_liquidations("BTCUSDT-PERP", addresses=["0x12"])
    with pytest.raises(SymbolNotFoundError):
        fetcher.stream_liquidations("NOPEUSDT-PERP")
    with pytest.raises(UnsupportedError, match="per symbol"):
        fetcher.stream_liquidations(all_market=True)
    # Across venues, one venue that cannot start is a failure beside a running stream.
    orchestrator = Orchestrator(["binance", "bybit"], sim.base_urls, ws_urls=sim.ws_urls)
    with orchestrator.stream_liquidations(all_market=True, **FAST) as stream:
        assert [type(f) for f in stream.failures] == [UnsupportedError]
        assert stream.failures[0].venue == "bybit"


def run_cli(args, env, timeout=60):
    return subprocess.run(
        [sys.executable, "-m", "ccxt_pipeline_rs.cli", *args], capture_output=True, text=True, timeout=timeout, env=env
    )


@pytest.fixture()
def served():
    """A simulator in this process that a CLI subprocess reaches through the URL environment variables."""
    with ExchangeSimulator(seed=3) as simulator:
        env = dict(os.environ)
        for venue in ("binance", "bybit", "hyperliquid"):
            env[f"CCXT_PIPELINE_{venue.upper()}_URL"] = simulator.base_urls[venue]
            env[f"CCXT_PIPELINE_{venue.upper()}_WS_URL"] = simulator.ws_urls[venue]
        yield simulator, env


def test_cli_stores_exactly_what_arrived_and_query_gaps_covers_the_rest(served, tmp_path):
    sim, env = served
    for venue in ("binance", "bybit"):
        sim.set_liquidation_rate(venue, 10.0)
        sim.inject_ws_fault(venue, "drop_every", seconds=1.5)
    start = now_ms()
    data = str(tmp_path / "store")
    out = run_cli(
        [
            "stream-liquidations",
            "BTCUSDT-PERP",
            "ETHUSDT-PERP",
            "--exchange",
            "binance,bybit",
            "--store",
            "--data-dir",
            data,
            "--duration",
            "8",
            "--format",
            "json",
            "--batch-seconds",
            "0.2",
        ],
        env,
    )
    end = now_ms()
    assert out.returncode == 0, out.stderr
    printed = [json.loads(line) for line in out.stdout.splitlines()]
    assert printed and set(printed[0]) == set(LIQUIDATION_COLUMNS)
    assert "gap: " in out.stderr and "reconnects:" in out.stderr and "events: binance" in out.stderr
    stored = json.loads(run_cli(["query", "liquidation", "--data-dir", data, "--format", "json"], env).stdout)
    key = lambda r: (r["venue"], r["instrument_id"], r["ts_event"], r["side"], r["price"], r["quantity"])  # noqa: E731
    assert sorted(map(key, stored)) == sorted(map(key, printed)), "the store holds exactly what was printed"
    gaps_out = run_cli(["query", "gaps", "--data-dir", data, "--format", "json"], env)
    assert gaps_out.returncode == 0, gaps_out.stderr
    store = ParquetStore(data)
    checked = assert_once_or_in_gap(
        sim,
        ["binance", "bybit"],
        {"BTCUSDT", "ETHUSDT"},
        received_keys([store.read("liquidation")]),
        gaps_of(store.read("gaps")),
        (start + 3000, end - 2000),
    )
    assert checked > 20
    assert len(json.loads(gaps_out.stdout)) == store.read("gaps").num_rows >= 2


def test_cli_ctrl_c_stores_everything_received_and_exits_0(served, tmp_path):
    sim, env = served
    sim.set_liquidation_rate("bybit", 20.0)
    data = str(tmp_path / "store")
    args = ["stream-liquidations", "BTCUSDT-PERP", "--exchange", "bybit", "--store", "--data-dir", data]
    args += ["--format", "json", "--batch-seconds", "30", "--batch-rows", "100000"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "ccxt_pipeline_rs.cli", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env
    )
    time.sleep(4)
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 0, stderr.decode()
    assert b"interrupted; events: bybit" in stderr
    printed = [json.loads(line) for line in stdout.decode().splitlines()]
    assert len(printed) > 20
    # The batch never filled nor timed out: everything was stored by the flush on Ctrl+C.
    assert ParquetStore(data).read("liquidation").num_rows == len(printed)


def test_cli_refuses_a_stream_without_symbols(served):
    _, env = served
    out = run_cli(["stream-liquidations", "--exchange", "bybit"], env)
    assert out.returncode == 2
    assert out.stderr.count("\n") == 1 and "SYMBOL" in out.stderr
    out = run_cli(["stream-liquidations", "BTCUSDT-PERP", "--duration", "0"], env)
    assert out.returncode == 2, out.stderr
