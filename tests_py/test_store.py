import datetime as dt
import fcntl
import json
import logging
import math
import multiprocessing
import os
import random
import signal
import subprocess
import sys
import textwrap
import time

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from ccxt_pipeline_rs import KINDS, InvalidArgumentError, Orchestrator, ParquetStore, StoreError

CLI = [sys.executable, "-m", "ccxt_pipeline_rs.cli"]
TS = pa.timestamp("ns", tz="UTC")

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
    with pytest.raises(
        InvalidArgumentError, match="not an open interest, funding rate, liquidation or stream gap table"
    ):
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


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=60)


def gaps_table(rows: list[tuple]) -> pa.Table:
    """rows: (venue, symbol, instrument_id, start_ns, end_ns, stream, reason)"""
    columns = list(zip(*rows, strict=True))
    return pa.table(
        {
            "venue": pa.array(columns[0], pa.string()),
            "symbol": pa.array(columns[1], pa.string()),
            "instrument_id": pa.array(columns[2], pa.string()),
            "ts_event": pa.array(columns[3], TS),
            "ts_init": pa.array(columns[4], TS),
            "stream": pa.array(columns[5], pa.string()),
            "reason": pa.array(columns[6], pa.string()),
        }
    )


def liquidation_table(rows: list[tuple]) -> pa.Table:
    """rows: (ts_event_ns, ts_init_ns, side, price, quantity) of BTCUSDT-PERP.BINANCE"""
    columns = list(zip(*rows, strict=True))
    n = len(rows)
    return pa.table(
        {
            "venue": ["binance"] * n,
            "symbol": ["BTCUSDT-PERP"] * n,
            "instrument_id": ["BTCUSDT-PERP.BINANCE"] * n,
            "ts_event": pa.array(columns[0], TS),
            "ts_init": pa.array(columns[1], TS),
            "side": pa.array(columns[2], pa.string()),
            "price": pa.array(columns[3], pa.float64()),
            "quantity": pa.array(columns[4], pa.float64()),
        }
    )


def test_gaps_kind_round_trip_in_catalog_layout_and_cli(tmp_path):
    assert "gaps" in KINDS
    d0 = day0_ns()
    rows = [
        ("binance", "ALL", "ALL.BINANCE", d0, d0 + 5 * NS, "!forceOrder@arr", "server_close"),
        ("binance", "BTCUSDT-PERP", "BTCUSDT-PERP.BINANCE", d0 + NS, d0 + 2 * NS, "btcusdt@forceOrder", "idle_timeout"),
        ("bybit", "BTCUSDT-PERP", "BTCUSDT-LINEAR.BYBIT", d0, d0 + 60 * NS, "allLiquidation.BTCUSDT", "resubscribe"),
        ("hyperliquid", "ALL", "ALL.HYPERLIQUID", d0, d0 + 3 * NS, "userFillsByTime 0xabc", "poll_failure"),
    ]
    store = ParquetStore(tmp_path)
    assert store.write(gaps_table(rows)) == {"rows_added": 4, "rows_duplicate": 0, "files_written": 4}
    # The whole row is the key: the same gaps again add nothing, another reason is another gap.
    again = gaps_table([*rows, (*rows[0][:6], "overflow")])
    assert store.write(again) == {"rows_added": 1, "rows_duplicate": 4, "files_written": 1}
    back = store.read("gaps")
    assert [(f.name, f.type) for f in back.schema] == [(f.name, f.type) for f in gaps_table(rows).schema]
    assert back.num_rows == 5
    whole_market = store.read("gaps", symbol="ALL")
    assert sorted(whole_market.column("instrument_id").to_pylist()) == ["ALL.BINANCE", "ALL.BINANCE", "ALL.HYPERLIQUID"]
    assert set(whole_market.column("symbol").to_pylist()) == {"ALL"}
    assert store.read("gaps", symbol="BTCUSDT-PERP", venue="bybit").column("reason").to_pylist() == ["resubscribe"]
    # On disk: a NautilusTrader custom data layout like custom_liquidation.
    folder = tmp_path / "data" / "custom_stream_gap" / "ALL.BINANCE"
    (name,) = os.listdir(folder)
    assert name == "2025-01-01T00-00-05-000000000Z_2025-01-01T00-00-05-000000000Z.parquet"  # its rows' ts_init
    disk = pq.read_table(folder / name)
    assert disk.schema.names == ["instrument_id", "stream", "reason", "type", "ts_event", "ts_init"]
    assert [str(t) for t in disk.schema.types] == ["string", "string", "string", "string", "int64", "int64"]
    assert disk.column("type").to_pylist() == ["StreamGap", "StreamGap"]
    assert sorted(disk.column("reason").to_pylist()) == ["overflow", "server_close"]
    kinds = {(d["kind"], d["instrument_id"]) for d in store.summary()}
    assert ("gaps", "ALL.BINANCE") in kinds and ("gaps", "BTCUSDT-LINEAR.BYBIT") in kinds
    assert store.get_last_timestamp("gaps", "binance", "ALL") == DAY0
    # The CLI: query gaps (and its whole-market selection) and the summary.
    out = cli("query", "gaps", "ALL", "--data-dir", str(tmp_path), "--format", "json")
    assert out.returncode == 0, out.stderr
    got = json.loads(out.stdout)
    assert [(r["instrument_id"], r["reason"]) for r in got] == [
        ("ALL.BINANCE", "server_close"),
        ("ALL.BINANCE", "overflow"),
        ("ALL.HYPERLIQUID", "poll_failure"),
    ]
    assert got[0]["ts_event"] == "2025-01-01T00:00:00Z" and got[0]["ts_init"] == "2025-01-01T00:00:05Z"
    table = cli("query", "gaps", "--data-dir", str(tmp_path))
    assert table.returncode == 0, table.stderr
    assert "allLiquidation.BTCUSDT" in table.stdout and "resubscribe" in table.stdout
    summary = cli("query", "--summary", "--data-dir", str(tmp_path), "--format", "json")
    assert summary.returncode == 0, summary.stderr
    assert {r["instrument_id"] for r in json.loads(summary.stdout) if r["kind"] == "gaps"} == {
        "ALL.BINANCE",
        "ALL.HYPERLIQUID",
        "BTCUSDT-PERP.BINANCE",
        "BTCUSDT-LINEAR.BYBIT",
    }
    # Bad gap rows are refused whole.
    for bad, message in [
        ((*rows[0][:3], d0 + 10, d0 + 9, "s", "overflow"), "before it starts"),
        ((*rows[0][:5], "s", "timeout"), "reason 'timeout'"),
        (("binance", "ALL", "ALL.binance", d0, d0, "s", "overflow"), "not an instrument id"),
        (("binance", "ALL", "ALL.FTX", d0, d0, "s", "overflow"), "not an instrument id"),
    ]:
        with pytest.raises(InvalidArgumentError, match=message):
            store.write(gaps_table([bad]))
    assert store.read("gaps").num_rows == 5


def test_a_liquidation_received_twice_is_stored_once(tmp_path):
    store = ParquetStore(tmp_path)
    d0 = day0_ns()
    event = (d0 + 5, "SELL", 95_000.5, 0.1)
    # Two connections deliver the same event with different receive times, one after midnight; one write or two.
    first = liquidation_table([(event[0], d0 + 7, *event[1:]), (event[0], d0 + 9, *event[1:])])
    assert store.write(first) == {"rows_added": 1, "rows_duplicate": 1, "files_written": 1}
    later = liquidation_table([(event[0], d0 + 24 * 3600 * NS + 1, *event[1:]), (d0 + 5, d0 + 7, "BUY", 95_000.5, 0.1)])
    assert store.write(later) == {"rows_added": 1, "rows_duplicate": 1, "files_written": 1}
    back = store.read("liquidation")
    assert back.column("side").to_pylist() == ["SELL", "BUY"]
    assert back.column("ts_init").cast(pa.int64()).to_pylist() == [d0 + 7, d0 + 7]


def test_timestamps_outside_the_storable_range_are_refused(tmp_path):
    store = ParquetStore(tmp_path)
    max_ns = 9_223_286_399_999_999_999  # 2262-04-10T23:59:59.999999999Z
    for bad in [-1, -(10**18), max_ns + 1, 2**63 - 1]:
        for column in ["ts_event", "ts_init"]:
            table = oi_table("BTCUSDT-PERP.BINANCE", "binance", "BTCUSDT-PERP", day0_ns(), 2, NS)
            values = table.column(column).cast(pa.int64()).to_pylist()
            values[1] = bad
            table = table.set_column(table.schema.get_field_index(column), column, pa.array(values, TS))
            with pytest.raises(InvalidArgumentError, match=rf"{column} .*\({bad} ns\).*outside the storable range"):
                store.write(table)
    assert list(parquet_files(tmp_path)) == []
    assert store.write(oi_table("BTCUSDT-PERP.BINANCE", "binance", "BTCUSDT-PERP", max_ns, 1, NS))["rows_added"] == 1
    assert (
        store.write(oi_table("BTCUSDT-PERP.BINANCE", "binance", "BTCUSDT-PERP", max_ns - 1, 1, NS))["rows_added"] == 1
    )
    assert store.read("open_interest").num_rows == 2


def test_impossible_open_interest_is_refused(tmp_path):
    store = ParquetStore(tmp_path)
    for bad in [math.nan, math.inf, -math.inf, -1.0]:
        table = oi_table("BTCUSDT-PERP.BINANCE", "binance", "BTCUSDT-PERP", day0_ns(), 2, NS)
        table = table.set_column(5, "open_interest", pa.array([1.0, bad], pa.float64()))
        with pytest.raises(InvalidArgumentError, match="open_interest"):
            store.write(table)
        valued = table.set_column(5, "open_interest", pa.array([1.0, 2.0])).set_column(
            6, "open_interest_value", pa.array([1.0, bad], pa.float64())
        )
        if math.isnan(bad):
            store.write(valued)  # NaN is how a table says "absent"
        else:
            with pytest.raises(InvalidArgumentError, match="open_interest_value"):
                store.write(valued)
    assert store.read("open_interest").column("open_interest_value").to_pylist() == [1.0, None]


def corrupt_variants(valid: bytes) -> dict[str, bytes]:
    return {
        "zero bytes": b"",
        "truncated": valid[: len(valid) // 2],
        "not parquet": b"PAR1 garbage PAR1",
    }


def test_corrupt_files_are_skipped_quarantined_and_shown(tmp_path, caplog):
    hour = 3600 * NS
    for case, payload in corrupt_variants(b"x" * 400).items():
        root = tmp_path / case.replace(" ", "_")
        store = ParquetStore(root)
        # Three months of a day each: three monthly files.
        for month in range(3):
            start = day0_ns() + month * 40 * 24 * hour
            store.write(oi_table("BTCUSDT-PERP.BINANCE", "binance", "BTCUSDT-PERP", start, 24, hour))
        folder = root / "data" / "custom_open_interest" / "BTCUSDT-PERP.BINANCE"
        names = sorted(os.listdir(folder))
        assert len(names) == 3
        valid = (folder / names[1]).read_bytes()
        payload = corrupt_variants(valid)[case]
        (folder / names[1]).write_bytes(payload)
        # Foreign things next to the data are ignored, not errors.
        (root / "data" / "custom_open_interest" / "notes").mkdir()
        (root / "data" / "custom_open_interest" / "README.txt").write_text("hi")
        (folder / "README.txt").write_text("hi")
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="ccxt_pipeline_rs"):
            table = store.read("open_interest")
        assert table.num_rows == 48, case
        messages = " | ".join(r.getMessage() for r in caplog.records)
        assert names[1] in messages and "skipping unreadable data file" in messages, messages
        assert "notes" in messages and "README.txt" in messages, messages
        (summary,) = store.summary()
        assert (summary["files"], summary["rows"]) == (2, 48), case
        assert summary["corrupt"] == [str(folder / names[1])]
        # The CLI names it on stderr and counts it in the table; json keeps its columns.
        shown = cli("query", "--summary", "--data-dir", str(root))
        assert shown.returncode == 0, shown.stderr
        assert "corrupt" in shown.stdout and f"corrupt: {folder / names[1]}" in shown.stderr
        as_json = cli("query", "--summary", "--data-dir", str(root), "--format", "json")
        assert json.loads(as_json.stdout)[0]["rows"] == 48
        assert names[1] in as_json.stderr
        queried = cli("query", "open_interest", "--data-dir", str(root), "--format", "csv")
        assert queried.returncode == 0 and queried.stdout.count("\n") == 49, queried.stderr
        assert f"warning: skipping unreadable data file {folder / names[1]}" in queried.stderr
        # A write into that file's interval moves it aside and goes on.
        at = day0_ns() + 40 * 24 * hour + hour // 2
        assert store.write(oi_table("BTCUSDT-PERP.BINANCE", "binance", "BTCUSDT-PERP", at, 1, NS))["rows_added"] == 1
        moved = root / "quarantine" / "custom_open_interest" / "BTCUSDT-PERP.BINANCE" / names[1]
        assert moved.read_bytes() == payload
        assert store.read("open_interest").num_rows == 49
        (summary,) = store.summary()
        assert (summary["corrupt"], summary["quarantined"]) == ([], [str(moved)])
        assert f"quarantined: {moved}" in cli("query", "--summary", "--data-dir", str(root)).stderr
        # compact() reports what it quarantines.
        (folder / names[2]).write_bytes(payload)
        result = store.compact()
        assert result["quarantined"] == [str(moved.parent / names[2])]
        assert store.read("open_interest").num_rows == 25


def tree(root) -> list[tuple[str, int]]:
    out = []
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            path = os.path.join(folder, name)
            out.append((path, os.stat(path).st_mtime_ns))
    return sorted(out)


def test_a_read_only_store_is_readable_and_readers_take_no_lock(tmp_path):
    store = ParquetStore(tmp_path)
    store.write(oi_table("BTCUSDT-PERP.BINANCE", "binance", "BTCUSDT-PERP", day0_ns(), 3, NS))
    os.remove(tmp_path / ".ccxt_pipeline.lock")
    before = tree(tmp_path)
    modes = {path: os.stat(path).st_mode for path, _ in before}
    for path in modes:
        os.chmod(path, modes[path] & ~0o222)
    os.chmod(tmp_path, os.stat(tmp_path).st_mode & ~0o222)
    try:
        reader = ParquetStore(tmp_path)
        assert reader.read("open_interest").num_rows == 3
        assert reader.summary()[0]["rows"] == 3
        assert reader.get_last_timestamp("open_interest", "binance", "BTCUSDT-PERP") is not None
        for args in (["query", "open_interest"], ["query", "--summary"], ["query", "gaps"]):
            out = cli(*args, "--data-dir", str(tmp_path), "--format", "json")
            assert out.returncode == 0, (args, out.stderr)
        assert json.loads(cli("query", "open_interest", "--data-dir", str(tmp_path), "--format", "json").stdout)
        if os.geteuid() != 0:  # root ignores permissions: there the tree comparison below is the proof
            with pytest.raises(StoreError, match="read-only"):
                reader.write(oi_table("BTCUSDT-PERP.BINANCE", "binance", "BTCUSDT-PERP", day0_ns() + 10 * NS, 1, NS))
        assert tree(tmp_path) == before, "a reader created or changed nothing, not even the lock file"
    finally:
        os.chmod(tmp_path, 0o755)
        for path, mode in modes.items():
            os.chmod(path, mode)


def hold_lock(root, content: str):
    """Holds the store's writer lock as another process would (flock), with `content` as the holder line."""
    fd = os.open(os.path.join(root, ".ccxt_pipeline.lock"), os.O_RDWR | os.O_CREAT)
    os.ftruncate(fd, 0)
    os.write(fd, content.encode())
    fcntl.flock(fd, fcntl.LOCK_EX)
    return fd


def test_a_waiting_writer_names_the_holder_and_times_out(tmp_path, caplog):
    ParquetStore(tmp_path)
    row = oi_table("BTCUSDT-PERP.BINANCE", "binance", "BTCUSDT-PERP", day0_ns(), 1, NS)
    for bad in [-1.0, math.nan, math.inf, 1e12]:
        with pytest.raises(InvalidArgumentError, match="lock_timeout"):
            ParquetStore(tmp_path, lock_timeout=bad)
    assert ParquetStore(tmp_path, lock_timeout=1.5).lock_timeout == 1.5
    assert ParquetStore(tmp_path).lock_timeout is None
    for content, holder in [("4242\n", "process 4242"), ("", "PID unknown"), ("junk", "PID unknown")]:
        fd = hold_lock(tmp_path, content)
        try:
            for timeout in [0.0, 0.4]:
                started = time.monotonic()
                with pytest.raises(StoreError, match=f"gave up after .* waiting for the store lock .*{holder}"):
                    ParquetStore(tmp_path, lock_timeout=timeout).write(row)
                assert timeout <= time.monotonic() - started < timeout + 3
            with pytest.raises(StoreError, match=holder):
                ParquetStore(tmp_path, lock_timeout=0.1).compact()
            # Readers do not wait for it.
            assert ParquetStore(tmp_path, lock_timeout=0.1).read("open_interest").num_rows == 0
        finally:
            os.close(fd)
    # Waiting longer than a moment logs who holds the lock.
    fd = hold_lock(tmp_path, "31337\n")
    try:
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="ccxt_pipeline_rs"), pytest.raises(StoreError):
            ParquetStore(tmp_path, lock_timeout=2.6).write(row)
        assert any(
            "waiting for the store lock" in r.getMessage() and "process 31337" in r.getMessage() for r in caplog.records
        )
    finally:
        os.close(fd)
    # Free again: the write goes through and the lock file names this process.
    assert ParquetStore(tmp_path, lock_timeout=5).write(row)["rows_added"] == 1
    assert (tmp_path / ".ccxt_pipeline.lock").read_text().strip() == str(os.getpid())


WAITER = textwrap.dedent(
    """
    import sys
    import pyarrow as pa
    from ccxt_pipeline_rs import ParquetStore

    ts = pa.array([1735689600 * 10**9], pa.timestamp("ns", tz="UTC"))
    table = pa.table({
        "venue": ["binance"], "symbol": ["BTCUSDT-PERP"], "instrument_id": ["BTCUSDT-PERP.BINANCE"],
        "ts_event": ts, "ts_init": ts, "open_interest": pa.array([1.0]),
        "open_interest_value": pa.array([None], pa.float64()),
    })
    store = ParquetStore(sys.argv[1])
    print("waiting", flush=True)
    try:
        store.write(table)
    except KeyboardInterrupt:
        print("KeyboardInterrupt", flush=True)
        sys.exit(3)
    """
)


def test_ctrl_c_interrupts_a_writer_waiting_for_the_lock(tmp_path):
    ParquetStore(tmp_path)
    fd = hold_lock(tmp_path, "999\n")
    try:
        proc = subprocess.Popen([sys.executable, "-c", WAITER, str(tmp_path)], stdout=subprocess.PIPE, text=True)
        assert proc.stdout.readline().strip() == "waiting"
        time.sleep(0.5)
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=20)
        assert proc.returncode == 3 and "KeyboardInterrupt" in out
    finally:
        os.close(fd)
    assert ParquetStore(tmp_path).read("open_interest").num_rows == 0


NAUTILUS_GAPS = textwrap.dedent(
    """
    import sys
    import pyarrow as pa
    from ccxt_pipeline_rs import ParquetStore
    from ccxt_pipeline_rs.nautilus import StreamGap, catalog

    root = sys.argv[1]
    ts = pa.timestamp("ns", tz="UTC")
    d0 = 1735689600 * 10**9
    ParquetStore(root).write(pa.table({
        "venue": ["binance", "bybit"], "symbol": ["ALL", "BTCUSDT-PERP"],
        "instrument_id": ["ALL.BINANCE", "BTCUSDT-LINEAR.BYBIT"],
        "ts_event": pa.array([d0, d0 + 1], ts), "ts_init": pa.array([d0 + 5, d0 + 9], ts),
        "stream": ["!forceOrder@arr", "allLiquidation.BTCUSDT"], "reason": ["server_close", "idle_timeout"],
    }))
    for item in catalog(root).query(StreamGap, identifiers=["ALL.BINANCE", "BTCUSDT-LINEAR.BYBIT"]):
        gap = getattr(item, "data", item)
        print(gap.instrument_id, gap.stream, gap.reason, gap.ts_event, gap.ts_init)
    """
)


def test_nautilus_trader_reads_the_gaps_folder_as_a_custom_data_class(tmp_path):
    pytest.importorskip("nautilus_trader")
    out = subprocess.run(
        [sys.executable, "-c", NAUTILUS_GAPS, str(tmp_path)], capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    d0 = day0_ns()
    assert out.stdout.splitlines() == [
        f"ALL.BINANCE !forceOrder@arr server_close {d0} {d0 + 5}",
        f"BTCUSDT-LINEAR.BYBIT allLiquidation.BTCUSDT idle_timeout {d0 + 1} {d0 + 9}",
    ]
