import asyncio
import threading
import time

import pyarrow as pa
import pytest
from ccxt_pipeline_rs import (
    BinanceFetcher,
    BybitFetcher,
    ExchangeError,
    HyperliquidFetcher,
    InvalidArgumentError,
    NetworkError,
    PipelineError,
    RateLimitError,
    SymbolNotFoundError,
)

TS = pa.timestamp("ns", tz="UTC")
OPEN_INTEREST_SCHEMA = pa.schema(
    [
        pa.field("venue", pa.string(), nullable=False),
        pa.field("symbol", pa.string(), nullable=False),
        pa.field("instrument_id", pa.string(), nullable=False),
        pa.field("ts_event", TS, nullable=False),
        pa.field("ts_init", TS, nullable=False),
        pa.field("open_interest", pa.float64(), nullable=False),
        pa.field("open_interest_value", pa.float64()),
    ]
)
FUNDING_SCHEMA = pa.schema(
    [
        pa.field("venue", pa.string(), nullable=False),
        pa.field("symbol", pa.string(), nullable=False),
        pa.field("instrument_id", pa.string(), nullable=False),
        pa.field("ts_event", TS, nullable=False),
        pa.field("ts_init", TS, nullable=False),
        pa.field("funding_rate", pa.float64(), nullable=False),
        pa.field("interval_minutes", pa.uint16()),
        pa.field("next_funding_time", TS),
        pa.field("mark_price", pa.float64()),
        pa.field("index_price", pa.float64()),
    ]
)
FETCHERS = {"binance": BinanceFetcher, "bybit": BybitFetcher, "hyperliquid": HyperliquidFetcher}
INSTRUMENT_IDS = {
    "binance": "BTCUSDT-PERP.BINANCE",
    "bybit": "BTCUSDT-LINEAR.BYBIT",
    "hyperliquid": "BTC-USD-PERP.HYPERLIQUID",
}


def now_ns() -> int:
    return time.time_ns()


@pytest.mark.parametrize("venue", list(FETCHERS))
def test_open_interest_table_has_design_schema(sim, venue):
    before = now_ns()
    table = FETCHERS[venue](base_url=sim.base_urls[venue]).fetch_open_interest("BTCUSDT-PERP")
    assert isinstance(table, pa.Table)
    assert table.schema.equals(OPEN_INTEREST_SCHEMA), table.schema
    row = table.to_pylist()[0]
    assert table.num_rows == 1
    assert row["venue"] == venue
    # Hyperliquid's coin is USD(C)-quoted whatever quote was typed; the symbol column says so.
    assert row["symbol"] == ("BTCUSD-PERP" if venue == "hyperliquid" else "BTCUSDT-PERP")
    assert row["instrument_id"] == INSTRUMENT_IDS[venue]
    assert row["open_interest"] > 0
    ts_init = table.column("ts_init").cast(pa.int64())[0].as_py()
    assert before <= ts_init <= now_ns()
    # Only Bybit states the notional; the others leave it null instead of deriving it.
    assert (row["open_interest_value"] is not None) == (venue == "bybit")


@pytest.mark.parametrize("venue", list(FETCHERS))
def test_funding_rate_table(sim, venue):
    table = FETCHERS[venue](base_url=sim.base_urls[venue]).fetch_funding_rate("ETHUSDT-PERP")
    assert table.schema.equals(FUNDING_SCHEMA), table.schema
    row = table.to_pylist()[0]
    assert abs(row["funding_rate"]) < 0.01
    assert row["interval_minutes"] == (60 if venue == "hyperliquid" else 480)
    assert row["mark_price"] > 1000 and row["index_price"] > 1000
    next_ns = table.column("next_funding_time").cast(pa.int64())[0].as_py()
    event_ns = table.column("ts_event").cast(pa.int64())[0].as_py()
    interval_ns = row["interval_minutes"] * 60 * 10**9
    assert 0 < next_ns - event_ns <= interval_ns
    assert next_ns % interval_ns == 0


def test_non_default_funding_interval(sim):
    # DOGE funds every 4 h in the simulator, as some symbols do on Binance (fundingInfo) and Bybit.
    for venue in ("binance", "bybit"):
        table = FETCHERS[venue](base_url=sim.base_urls[venue]).fetch_funding_rate("DOGEUSDT-PERP")
        assert table.column("interval_minutes")[0].as_py() == 240, venue


def test_scaled_coin_maps_to_hyperliquid_k_prefix(sim):
    table = HyperliquidFetcher(base_url=sim.base_urls["hyperliquid"]).fetch_open_interest("1000PEPEUSDT-PERP")
    assert table.column("instrument_id")[0].as_py() == "kPEPE-USD-PERP.HYPERLIQUID"
    assert table.column("symbol")[0].as_py() == "1000PEPEUSD-PERP"


def test_native_symbols_and_instrument_ids_are_accepted(sim):
    fetcher = BybitFetcher(base_url=sim.base_urls["bybit"])
    for symbol in ("BTCUSDT", "BTCUSDT-LINEAR.BYBIT", "btcusdt-perp"):
        assert fetcher.fetch_open_interest(symbol).column("instrument_id")[0].as_py() == "BTCUSDT-LINEAR.BYBIT"


async def test_async_twins_match_sync(sim):
    fetcher = BinanceFetcher(base_url=sim.base_urls["binance"])
    oi, funding = await asyncio.gather(
        fetcher.fetch_open_interest_async("BTCUSDT-PERP"), fetcher.fetch_funding_rate_async("BTCUSDT-PERP")
    )
    assert oi.schema.equals(OPEN_INTEREST_SCHEMA)
    assert funding.schema.equals(FUNDING_SCHEMA)
    assert oi.column("instrument_id")[0].as_py() == "BTCUSDT-PERP.BINANCE"
    with pytest.raises(SymbolNotFoundError):
        await fetcher.fetch_open_interest_async("NOPEUSDT-PERP")


def test_unknown_symbol_names_venue_and_close_matches(sim):
    with pytest.raises(SymbolNotFoundError) as info:
        BinanceFetcher(base_url=sim.base_urls["binance"]).fetch_open_interest("BTCUSD-PERP")
    err = info.value
    assert err.venue == "binance"
    assert "BTCUSDT-PERP" in err.suggestions
    assert "binance" in str(err) and "BTCUSD-PERP" in str(err)
    assert isinstance(err, PipelineError)


def test_dated_future_and_delisted_coin_are_not_symbols(sim):
    # Only perpetuals are in scope: a dated future's symbol is not read as one.
    with pytest.raises(InvalidArgumentError):
        BinanceFetcher(base_url=sim.base_urls["binance"]).fetch_open_interest("BTCUSDT_261225")
    with pytest.raises(SymbolNotFoundError):
        HyperliquidFetcher(base_url=sim.base_urls["hyperliquid"]).fetch_open_interest("LOOM")


def test_unreadable_symbol_is_invalid_argument(sim):
    with pytest.raises(InvalidArgumentError, match="BTCUSDT-PERP"):
        BybitFetcher(base_url=sim.base_urls["bybit"]).fetch_open_interest("BTC$USDT")


def test_bad_base_url_is_invalid_argument():
    with pytest.raises(InvalidArgumentError, match="http"):
        BinanceFetcher(base_url="fapi.binance.com")


def test_venue_error_carries_code_and_message(sim):
    fetcher = BinanceFetcher(base_url=sim.base_urls["binance"])
    fetcher.fetch_open_interest("BTCUSDT-PERP")  # loads the instrument list first
    sim.inject_status("binance", 400, '{"code":-1130,"msg":"Data sent for parameter is not valid."}')
    with pytest.raises(ExchangeError) as info:
        fetcher.fetch_open_interest("BTCUSDT-PERP")
    assert (info.value.code, info.value.status, info.value.venue) == (-1130, 400, "binance")
    assert "Data sent for parameter is not valid." in str(info.value)


def test_rate_limit_answers_are_retried_with_retry_after(sim):
    fetcher = BybitFetcher(base_url=sim.base_urls["bybit"])
    fetcher.fetch_open_interest("BTCUSDT-PERP")
    before = sim.request_count("bybit")
    sim.inject_status("bybit", 403, "access too frequent", count=2, retry_after_secs=1)
    started = time.monotonic()
    table = fetcher.fetch_open_interest("BTCUSDT-PERP")
    assert table.num_rows == 1
    assert sim.request_count("bybit") - before == 3
    assert time.monotonic() - started >= 2.0  # two Retry-After: 1 waits honoured


def test_long_ban_fails_fast_with_retry_after(sim):
    fetcher = BinanceFetcher(base_url=sim.base_urls["binance"])
    fetcher.fetch_open_interest("BTCUSDT-PERP")
    body = '{"code":-1003,"msg":"Way too many requests; IP banned until 1544570770441."}'
    sim.inject_status("binance", 418, body, retry_after_secs=600)
    with pytest.raises(RateLimitError) as info:
        fetcher.fetch_open_interest("BTCUSDT-PERP")
    assert info.value.status == 418
    assert info.value.retry_after == 600.0


def test_connection_refused_is_network_error():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(NetworkError, match="cannot connect"):
        HyperliquidFetcher(base_url=f"http://127.0.0.1:{port}").fetch_open_interest("BTC")


def test_sync_fetch_releases_the_gil(sim):
    sim.set_latency("binance", 0.5)
    fetcher = BinanceFetcher(base_url=sim.base_urls["binance"])
    ticks = 0
    done = threading.Event()

    def count():
        nonlocal ticks
        while not done.is_set():
            ticks += 1
            time.sleep(0.005)

    thread = threading.Thread(target=count)
    thread.start()
    try:
        fetcher.fetch_open_interest("BTCUSDT-PERP")  # instruments + OI: >= 1 s of latency
    finally:
        done.set()
        thread.join()
    # With the GIL held the counter could not move during the call.
    assert ticks > 100


def test_a_ban_holds_back_later_calls_to_the_venue(sim):
    fetcher = BinanceFetcher(base_url=sim.base_urls["binance"])
    fetcher.fetch_open_interest("BTCUSDT-PERP")
    sim.inject_status("binance", 418, '{"code":-1003,"msg":"Way too many requests; IP banned"}', retry_after_secs=600)
    with pytest.raises(RateLimitError):
        fetcher.fetch_open_interest("BTCUSDT-PERP")
    before = sim.request_count("binance")
    # Another fetcher on the same host shares the ban: it fails at once, without sending anything.
    with pytest.raises(RateLimitError, match="still running") as info:
        BinanceFetcher(base_url=sim.base_urls["binance"]).fetch_funding_rate("BTCUSDT-PERP")
    assert info.value.retry_after > 590
    assert sim.request_count("binance") == before
