import socket
import time

import pyarrow as pa
from ccxt_pipeline_rs import NetworkError, Orchestrator, SymbolNotFoundError


def closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"


def test_one_row_per_venue_in_venue_order(sim):
    result = Orchestrator(base_urls=sim.base_urls).fetch_open_interest("BTCUSDT-PERP")
    assert result.failures == []
    assert result.table.column("venue").to_pylist() == ["binance", "bybit", "hyperliquid"]
    assert result.table.column("instrument_id").to_pylist() == [
        "BTCUSDT-PERP.BINANCE",
        "BTCUSDT-LINEAR.BYBIT",
        "BTC-USD-PERP.HYPERLIQUID",
    ]


def test_failing_venue_does_not_lose_the_others(sim):
    urls = dict(sim.base_urls, bybit=closed_port_url())
    result = Orchestrator(base_urls=urls).fetch_funding_rate("ETHUSDT-PERP")
    assert result.table.column("venue").to_pylist() == ["binance", "hyperliquid"]
    assert len(result.failures) == 1
    failure = result.failures[0]
    assert isinstance(failure, NetworkError) and failure.venue == "bybit"


def test_symbol_missing_on_one_venue(sim):
    result = Orchestrator(["binance", "hyperliquid"], sim.base_urls).fetch_open_interest("NOPEUSDT-PERP")
    assert result.table.num_rows == 0
    assert result.table.schema.names[:3] == ["venue", "symbol", "instrument_id"]
    assert [type(f) for f in result.failures] == [SymbolNotFoundError, SymbolNotFoundError]
    assert [f.venue for f in result.failures] == ["binance", "hyperliquid"]


def test_total_time_is_the_slowest_venue_not_the_sum(sim):
    orchestrator = Orchestrator(base_urls=sim.base_urls)
    orchestrator.fetch_open_interest("BTCUSDT-PERP")  # warm the instrument caches
    latencies = {"binance": 0.3, "bybit": 0.6, "hyperliquid": 0.9}
    for venue, seconds in latencies.items():
        sim.set_latency(venue, seconds)
    started = time.monotonic()
    result = orchestrator.fetch_open_interest("BTCUSDT-PERP")
    elapsed = time.monotonic() - started
    assert result.table.num_rows == 3
    # Sequential would take 1.8 s; concurrent takes the slowest (0.9 s) plus overhead.
    assert 0.9 <= elapsed < 1.5, elapsed


async def test_async_orchestrator(sim):
    result = await Orchestrator(base_urls=sim.base_urls).fetch_funding_rate_async("BTCUSDT-PERP")
    assert isinstance(result.table, pa.Table)
    assert result.table.num_rows == 3
    assert result.table.column("interval_minutes").to_pylist() == [480, 480, 60]
