import datetime as dt
import json

import pyarrow as pa
import pytest
from ccxt_pipeline_rs import (
    BinanceFetcher,
    BybitFetcher,
    HyperliquidFetcher,
    IncompleteHistoryWarning,
    InvalidArgumentError,
    Orchestrator,
    ParquetStore,
    UnsupportedError,
)

NOW = dt.datetime(2025, 6, 1, tzinfo=dt.UTC)


@pytest.fixture()
def frozen(sim):
    sim.server.set_clock_ms(int(NOW.timestamp() * 1000))
    return sim


def times_ms(table: pa.Table) -> list[int]:
    return [v // 1_000_000 for v in table.column("ts_event").cast(pa.int64()).to_pylist()]


def test_funding_history_is_complete_and_ordered(frozen):
    start = NOW - dt.timedelta(days=20)
    table = BybitFetcher(base_url=frozen.base_urls["bybit"]).fetch_funding_rate_history("BTCUSDT-PERP", start, NOW)
    ts = times_ms(table)
    assert len(ts) == 20 * 3 + 1  # every 8 h, both ends inclusive
    assert ts == sorted(set(ts))
    assert {b - a for a, b in zip(ts, ts[1:], strict=False)} == {8 * 3_600_000}
    assert set(table.column("interval_minutes").to_pylist()) == {480}
    assert table.column("ts_init").equals(table.column("ts_event"))


def test_dates_as_iso_strings_and_epoch_ms(frozen):
    fetcher = HyperliquidFetcher(base_url=frozen.base_urls["hyperliquid"])
    a = fetcher.fetch_funding_rate_history("ETH", "2025-05-30", "2025-05-31T00:00:00Z")
    b = fetcher.fetch_funding_rate_history("ETH", 1748563200000, dt.datetime(2025, 5, 31))
    assert a.equals(b)
    assert 24 <= a.num_rows <= 25  # hourly, times a few ms after each hour
    with pytest.raises(InvalidArgumentError, match="after end"):
        fetcher.fetch_funding_rate_history("ETH", "2025-05-31", "2025-05-30")
    with pytest.raises(InvalidArgumentError, match="unknown period"):
        BinanceFetcher(base_url=frozen.base_urls["binance"]).fetch_open_interest_history(
            "BTCUSDT-PERP", "2025-05-30", period="7m"
        )


def test_progress_callback_reaches_one(frozen):
    calls = []
    BinanceFetcher(base_url=frozen.base_urls["binance"]).fetch_open_interest_history(
        "BTCUSDT-PERP", NOW - dt.timedelta(days=10), NOW, period="5m", progress=lambda *a: calls.append(a)
    )
    assert len(calls) >= 6  # 2881 rows at 500 a page
    assert all(c[0] == "binance" and c[1] == "BTCUSDT-PERP.BINANCE" for c in calls)
    fractions = [c[3] for c in calls]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert calls[-1][2] == 10 * 288 + 1


def test_binance_oi_beyond_30_days_warns(frozen):
    with pytest.warns(IncompleteHistoryWarning, match="last 30 days only"):
        table = BinanceFetcher(base_url=frozen.base_urls["binance"]).fetch_open_interest_history(
            "BTCUSDT-PERP", NOW - dt.timedelta(days=40), NOW, period="1h"
        )
    first = dt.datetime.fromtimestamp(times_ms(table)[0] / 1000, dt.UTC)
    assert NOW - first <= dt.timedelta(days=30)


def test_hyperliquid_oi_history_is_unsupported(frozen):
    with pytest.raises(UnsupportedError, match="store's own snapshots"):
        HyperliquidFetcher(base_url=frozen.base_urls["hyperliquid"]).fetch_open_interest_history("BTC", "2025-05-01")


def test_store_resume_fetches_nothing_new(frozen, tmp_path):
    store = ParquetStore(tmp_path)
    orchestrator = Orchestrator(base_urls=frozen.base_urls)
    first = orchestrator.fetch_funding_rate_history(
        ["BTCUSDT-PERP", "ETHUSDT-PERP"], NOW - dt.timedelta(days=5), NOW, store=store
    )
    assert first.failures == []
    assert store.read("funding_rate").num_rows == first.table.num_rows > 0
    again = orchestrator.fetch_funding_rate_history(
        ["BTCUSDT-PERP", "ETHUSDT-PERP"], NOW - dt.timedelta(days=5), NOW, store=store
    )
    assert again.table.num_rows == 0
    assert store.read("funding_rate").num_rows == first.table.num_rows


async def test_async_history(frozen):
    result = await Orchestrator(base_urls=frozen.base_urls).fetch_open_interest_history_async(
        "BTCUSDT-PERP", NOW - dt.timedelta(days=1), NOW, period="1h"
    )
    assert sorted(set(result.table.column("venue").to_pylist())) == ["binance", "bybit"]
    assert [f.venue for f in result.failures] == ["hyperliquid"]
    assert isinstance(result.failures[0], UnsupportedError)


def test_a_finished_range_is_not_fetched_again_and_a_corrupt_coverage_file_is_ignored(frozen, tmp_path, caplog):
    """Coverage sidecars (issue 9, item 16): a re-run costs at most one request per venue and symbol, survives a
    new store object, and a corrupt sidecar is a warning, not an error."""
    import logging

    symbols = ["BTCUSDT-PERP", "ETHUSDT-PERP"]
    end = NOW - dt.timedelta(days=1)
    start = end - dt.timedelta(days=30)
    store = ParquetStore(tmp_path)
    first = Orchestrator(base_urls=frozen.base_urls).fetch_funding_rate_history(symbols, start, end, store=store)
    assert first.failures == []
    assert store.rows_added == first.table.num_rows == store.read("funding_rate").num_rows > 0
    sidecars = sorted(p.relative_to(tmp_path).as_posix() for p in (tmp_path / ".ccxt_pipeline").rglob("*.json"))
    assert len(sidecars) == 6, sidecars
    assert all(p.startswith(".ccxt_pipeline/coverage/funding_rate/") for p in sidecars)

    counts = {v: frozen.request_count(v) for v in ("binance", "bybit", "hyperliquid")}
    again_store = ParquetStore(tmp_path)  # a restart: nothing cached in memory
    again = Orchestrator(base_urls=frozen.base_urls).fetch_funding_rate_history(symbols, start, end, store=again_store)
    assert again.failures == [] and again.table.num_rows == 0 and again_store.rows_added == 0
    for venue, before in counts.items():
        assert frozen.request_count(venue) - before <= len(symbols), venue

    for path in (tmp_path / ".ccxt_pipeline").rglob("*.json"):
        path.write_text("{ not json")
    caplog.set_level(logging.WARNING, logger="ccxt_pipeline_rs")
    third = Orchestrator(base_urls=frozen.base_urls).fetch_funding_rate_history(symbols, start, end, store=store)
    assert third.failures == [] and third.table.num_rows == 0
    warned = [r.getMessage() for r in caplog.records if "coverage file" in r.getMessage()]
    assert len(warned) == 6, warned
    assert all("is fetched again" in w for w in warned)
    for path in (tmp_path / ".ccxt_pipeline").rglob("*.json"):
        assert json.loads(path.read_text())["version"] == 1, "rewritten"


def test_collect_false_stores_everything_and_returns_a_summary(frozen, tmp_path):
    """`collect=False` keeps no rows: the store gets them all and the call returns one summary row per instrument."""
    start = NOW - dt.timedelta(days=20)
    bybit = BybitFetcher(base_url=frozen.base_urls["bybit"])
    reference = bybit.fetch_open_interest_history("BTCUSDT-PERP", start, NOW, period="15m")
    store = ParquetStore(tmp_path)
    summary = bybit.fetch_open_interest_history("BTCUSDT-PERP", start, NOW, period="15m", store=store, collect=False)
    assert summary.column_names == [
        "venue",
        "instrument_id",
        "rows_fetched",
        "rows_stored",
        "requests",
        "first_ts_event",
        "last_ts_event",
        "resumed_after",
        "warnings",
    ]
    (row,) = summary.to_pylist()
    assert (row["venue"], row["instrument_id"]) == ("bybit", "BTCUSDT-LINEAR.BYBIT")
    assert row["rows_fetched"] == row["rows_stored"] == reference.num_rows > 1_900
    assert row["requests"] >= reference.num_rows // 200
    assert row["first_ts_event"] == reference.column("ts_event")[0].as_py()
    assert row["last_ts_event"] == reference.column("ts_event")[-1].as_py()
    assert row["resumed_after"] is None and row["warnings"] == []
    stored = store.read("open_interest")
    assert stored.column("ts_event").equals(reference.column("ts_event"))
    # Again: resumed from the store, nothing new; a multi-venue call returns its summary in `table`.
    again = Orchestrator(exchanges=["bybit"], base_urls={"bybit": frozen.base_urls["bybit"]})
    result = again.fetch_open_interest_history(["BTCUSDT-PERP"], start, NOW, "15m", store=store, collect=False)
    assert result.failures == [] and result.rows_stored == 0
    assert result.table.column("rows_stored").to_pylist() == [0]
    # Without a store the rows would be lost: refused before any request.
    with pytest.raises(InvalidArgumentError, match="collect=False needs store="):
        bybit.fetch_open_interest_history("BTCUSDT-PERP", start, NOW, collect=False)


def test_history_tables_arrive_in_chunks_without_a_copy(frozen):
    """Rows are built into Arrow batches page by page; the table has their chunks, in order, with every row."""
    start = NOW - dt.timedelta(days=40)
    table = BybitFetcher(base_url=frozen.base_urls["bybit"]).fetch_open_interest_history(
        "BTCUSDT-PERP", start, NOW, period="5m"
    )
    assert table.num_rows == 40 * 288 + 1
    ts = times_ms(table)
    assert ts == sorted(set(ts))
    chunks = [len(c) for c in table.column("ts_event").chunks]
    assert len(chunks) == 2 and 8192 <= chunks[0] < 8192 + 1000  # a batch closes once it holds 8 192 rows
