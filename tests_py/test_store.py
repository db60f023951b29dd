import datetime as dt
import multiprocessing
import os
import random
import signal
import subprocess
import sys
import textwrap

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from ccxt_pipeline_rs import InvalidArgumentError, Orchestrator, ParquetStore, StoreError

DAY0 = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
NS = 1_000_000_000


def oi_table(instrument_id: str, venue: str, symbol: str, start_ns: int, count: int, step_ns: int, value=1.0):
    ts = pa.array([start_ns + i * step_ns for i in range(count)], pa.timestamp("ns", tz="UTC"))
    return pa.table(
        {
            "venue": [venue] * count,
            "symbol": [symbol] * count,
            "instrument_id": [instrument_id] * count,
            "ts_event": ts,
            "ts_init": ts,
            "open_interest": pa.array([value + i for i in range(count)], pa.float64()),
            "open_interest_value": pa.array([None] * count, pa.float64()),
        }
    )


def day0_ns() -> int:
    return int(DAY0.timestamp()) * NS


def test_fetched_tables_round_trip(sim, tmp_path):
    store = ParquetStore(tmp_path)
    orchestrator = Orchestrator(base_urls=sim.base_urls)
    oi = orchestrator.fetch_open_interest("BTCUSDT-PERP").table
    funding = orchestrator.fetch_funding_rate("ETHUSDT-PERP").table
    assert store.write(oi) == {"rows_added": 3, "rows_duplicate": 0, "files_written": 3}
    assert store.write(funding)["rows_added"] == 3
    back = store.read("open_interest").sort_by("venue")
    assert back.schema.equals(oi.schema)
    assert back.to_pylist() == oi.sort_by("venue").to_pylist()
    funding_back = store.read("funding_rate", symbol="ETHUSDT-PERP").sort_by("venue")
    assert (
        funding_back.column("funding_rate").to_pylist() == funding.sort_by("venue").column("funding_rate").to_pylist()
    )
    assert funding_back.column("interval_minutes").to_pylist() == [480, 480, 60]
    # NautilusTrader's FundingRateUpdate has no mark/index price: the store does not keep them.
    assert funding_back.column("mark_price").null_count == 3
    assert store.write(oi)["rows_added"] == 0


def test_filters_by_symbol_venue_and_range(tmp_path):
    store = ParquetStore(tmp_path)
    hour = 3600 * NS
    store.write(oi_table("BTCUSDT-PERP.BINANCE", "binance", "BTCUSDT-PERP", day0_ns(), 72, hour))
    store.write(oi_table("BTCUSDT-LINEAR.BYBIT", "bybit", "BTCUSDT-PERP", day0_ns(), 72, hour))
    store.write(oi_table("ETHUSDT-PERP.BINANCE", "binance", "ETHUSDT-PERP", day0_ns(), 72, hour))
    assert store.read("open_interest").num_rows == 216
    assert store.read("open_interest", symbol="BTCUSDT-PERP").num_rows == 144
    assert store.read("open_interest", symbol="BTCUSDT-LINEAR.BYBIT").num_rows == 72
    assert store.read("open_interest", venue="binance").num_rows == 144
    assert store.read("open_interest", symbol="BTCUSDT-PERP", venue="bybit,hyperliquid").num_rows == 72
    # start/end as datetime, ISO string and epoch ms all mean the same instants; both ends inclusive.
    for start, end in [
        (DAY0 + dt.timedelta(days=1), DAY0 + dt.timedelta(days=1, hours=5)),
        ("2025-01-02", "2025-01-02T05:00:00Z"),
        (
            int((DAY0 + dt.timedelta(days=1)).timestamp() * 1000),
            int((DAY0 + dt.timedelta(days=1, hours=5)).timestamp() * 1000),
        ),
        (dt.datetime(2025, 1, 2), dt.datetime(2025, 1, 2, 5)),  # naive = UTC
    ]:
        table = store.read("open_interest", symbol="ETHUSDT-PERP", start=start, end=end)
        assert table.num_rows == 6, (start, end)
        assert table.column("open_interest").to_pylist() == [24.0 + i + 1 for i in range(6)]
    assert store.read("liquidation").num_rows == 0


def test_last_timestamp(tmp_path):
    store = ParquetStore(tmp_path)
    assert store.get_last_timestamp("open_interest", "binance", "BTCUSDT-PERP") is None
    store.write(oi_table("BTCUSDT-PERP.BINANCE", "binance", "BTCUSDT-PERP", day0_ns(), 3 * 288, 300 * NS))
    last = store.get_last_timestamp("open_interest", "binance", "BTCUSDT-PERP")
    assert last == DAY0 + dt.timedelta(days=3) - dt.timedelta(minutes=5)
    assert store.get_last_timestamp("open_interest", "bybit", "BTCUSDT-PERP") is None


def test_bad_input_is_typed(tmp_path):
    store = ParquetStore(tmp_path)
    with pytest.raises(InvalidArgumentError, match="not an open interest, funding rate or liquidation table"):
        store.write(pa.table({"x": [1.0]}))
    bad_venue = oi_table("BTCUSDT-PERP.BINANCE", "bybit", "BTCUSDT-PERP", day0_ns(), 1, NS)
    with pytest.raises(InvalidArgumentError, match="does not match instrument id"):
        store.write(bad_venue)
    escape = oi_table("../../x-PERP.BINANCE", "binance", "x", day0_ns(), 1, NS)
    with pytest.raises(InvalidArgumentError, match="not an instrument id"):
        store.write(escape)
    with pytest.raises(InvalidArgumentError, match="unknown data kind"):
        store.read("trades")
    with pytest.raises(InvalidArgumentError, match="cannot read date"):
        store.read("open_interest", start="last tuesday")
    assert not (tmp_path / "x-PERP.BINANCE").exists()
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    with pytest.raises(StoreError, match="a-file"):
        ParquetStore(blocker / "store")


WRITER = textwrap.dedent(
    """
    import sys
    import pyarrow as pa
    from ccxt_pipeline_rs import ParquetStore

    root, offset = sys.argv[1], int(sys.argv[2])
    store = ParquetStore(root)
    minute = 60 * 10**9
    start = 1735689600 * 10**9
    for i in range(100_000):
        ts = pa.array([start + (offset + i) * minute * 7 + k * minute for k in range(7)], pa.timestamp("ns", tz="UTC"))
        store.write(pa.table({
            "venue": ["binance"] * 7, "symbol": ["BTCUSDT-PERP"] * 7, "instrument_id": ["BTCUSDT-PERP.BINANCE"] * 7,
            "ts_event": ts, "ts_init": ts, "open_interest": pa.array([1.0] * 7),
            "open_interest_value": pa.array([None] * 7, pa.float64()),
        }))
        print(i, flush=True)
    """
)


def parquet_files(root):
    for folder, _, names in os.walk(root):
        for name in names:
            if name.endswith(".parquet"):
                yield os.path.join(folder, name)


def test_sigkill_never_leaves_a_torn_file(tmp_path):
    rng = random.Random(5)
    written_before = 0
    batches = 0
    for attempt in range(20):
        proc = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(tmp_path), str(batches)], stdout=subprocess.PIPE, text=True
        )
        # Let it write a random number of batches (at least one), then kill it mid-flight.
        for _ in range(rng.randint(1, 5)):
            assert proc.stdout.readline(), "writer died on its own"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        for path in parquet_files(tmp_path):
            pq.read_table(path)  # raises on a torn file
        rows = ParquetStore(tmp_path).read("open_interest").num_rows
        assert rows >= written_before + 7, attempt
        assert rows % 7 == 0  # whole batches only: a write is all or nothing
        written_before = rows
        batches = rows // 7
    table = ParquetStore(tmp_path).read("open_interest")
    ts = table.column("ts_init").cast(pa.int64()).to_pylist()
    assert ts == sorted(set(ts)), "rows sorted and unique"
    # NautilusTrader still reads the store: temporaries of killed writers do not disturb the catalog.
    from ccxt_pipeline_rs.nautilus import OpenInterest, catalog

    data = catalog(tmp_path).query(OpenInterest, identifiers=["BTCUSDT-PERP.BINANCE"])
    assert [d.ts_init for d in data] == ts


def _write_range(root, first, count):
    store = ParquetStore(root)
    for i in range(first, first + count):
        store.write(oi_table("BTCUSDT-PERP.BINANCE", "binance", "BTCUSDT-PERP", day0_ns() + i * 60 * NS, 1, NS))


def test_two_processes_writing_one_store_lose_nothing(tmp_path):
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_write_range, args=(str(tmp_path), p * 1000, 60)) for p in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    assert ParquetStore(tmp_path).read("open_interest").num_rows == 120
