"""NautilusTrader reads what ParquetStore writes (docs/formats.md#on-disk-catalog), with no conversion.

CI installs the ``nautilus`` extra, so this module imports nautilus_trader unconditionally: a missing extra is a
failure, not a skip. Every test writes through ``ParquetStore`` and reads with ``ParquetDataCatalog``.
"""

import json
import math
import os
import random
import re
import shutil
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from ccxt_pipeline_rs import ParquetStore
from ccxt_pipeline_rs.nautilus import DATA_CLASSES, Liquidation, OpenInterest, StreamGap, catalog, data_config
from nautilus_layout import (
    FOLDERS,
    FUNDING_FILE,
    FUNDING_RATE_TABLE,
    LIQUIDATION_FILE,
    LIQUIDATION_TABLE,
    NS_PER_DAY,
    OPEN_INTEREST_FILE,
    OPEN_INTEREST_TABLE,
    STREAM_GAP_FILE,
    STREAM_GAP_TABLE,
    day_file_name,
    identity,
    reference_groups,
    table_from_rows,
    write_reference_layout,
)
from nautilus_trader.backtest.engine import BacktestEngine, BacktestEngineConfig
from nautilus_trader.backtest.node import BacktestNode
from nautilus_trader.common.actor import Actor
from nautilus_trader.config import ActorConfig, LoggingConfig
from nautilus_trader.model.currencies import USDT
from nautilus_trader.model.data import DataType, FundingRateUpdate
from nautilus_trader.model.enums import AccountType, OmsType
from nautilus_trader.model.identifiers import ClientId, InstrumentId, Venue
from nautilus_trader.model.objects import Money
from nautilus_trader.persistence.catalog.parquet import ParquetDataCatalog
from nautilus_trader.test_kit.providers import TestInstrumentProvider

BINANCE, BYBIT, HYPERLIQUID = "BTCUSDT-PERP.BINANCE", "BTCUSDT-LINEAR.BYBIT", "BTC-USD-PERP.HYPERLIQUID"
ALL_BINANCE = "ALL.BINANCE"  # the instrument id of a whole-market stream's gaps
DAY0 = 1_735_689_600_000_000_000  # 2025-01-01T00:00:00Z
DAYS = 3
H = 3_600 * 1_000_000_000
MS = 1_000_000

# -- input tables (docs/formats.md#tables), deliberately not in time order ---------------------------------------------


def _shuffled(schema: pa.Schema, rows: list[dict]) -> pa.Table:
    random.Random(7).shuffle(rows)
    return table_from_rows(schema, rows)


def open_interest_input() -> pa.Table:
    rows = []
    for i, t in enumerate(range(DAY0, DAY0 + DAYS * NS_PER_DAY, 8 * H)):  # Binance history: ts_init = ts_event
        oi = 80_000.0 + 10.5 * i
        value = None if i == 4 else oi * 95_000.25
        rows.append({**identity(BINANCE, t), "open_interest": oi, "open_interest_value": value})
    # the last nanosecond of a day belongs to that day's file
    rows.append({**identity(BINANCE, DAY0 + NS_PER_DAY - 1), "open_interest": 80_123.0, "open_interest_value": 7.6e9})
    for i, t in enumerate(range(DAY0 + 6 * H, DAY0 + DAYS * NS_PER_DAY, 12 * H)):  # Bybit live snapshots
        oi = {"open_interest": 51_000.125 + i, "open_interest_value": 4.85e9 + i}
        rows.append({**identity(BYBIT, t, t + 1_500), **oi})
    for i, t in enumerate(range(DAY0 + 3 * H, DAY0 + DAYS * NS_PER_DAY, 6 * H)):  # Hyperliquid: no value given
        oi = {"open_interest": 30_500.5 - i, "open_interest_value": None}
        rows.append({**identity(HYPERLIQUID, t, t + 250 * MS), **oi})
    return _shuffled(OPEN_INTEREST_TABLE, rows)


BINANCE_RATES = [0.0001, -0.00002345, 0.000125, 0.0, -0.0003, 0.00005, 0.0001, 0.00000001, -0.00002345]


def funding_rate_input() -> pa.Table:
    rows = []
    for i, t in enumerate(range(DAY0, DAY0 + DAYS * NS_PER_DAY, 8 * H)):
        rows.append(
            {
                **identity(BINANCE, t),
                "funding_rate": BINANCE_RATES[i],
                "interval_minutes": 480,
                "next_funding_time": t + 8 * H if i % 2 == 0 else None,
                "mark_price": 95_000.5 + i,
                "index_price": 94_990.25 + i,
            }
        )
    for i, t in enumerate(range(DAY0, DAY0 + DAYS * NS_PER_DAY, 8 * H)):
        rows.append(
            {
                **identity(BYBIT, t, t + 3 * MS),
                "funding_rate": -0.0005 if i % 2 else 0.00010001,
                "interval_minutes": 480,
                "next_funding_time": t + 8 * H,
                "mark_price": None,
                "index_price": None,
            }
        )
    for i, t in enumerate(range(DAY0, DAY0 + DAYS * NS_PER_DAY, H)):  # hourly, history without next time
        rows.append(
            {
                **identity(HYPERLIQUID, t),
                "funding_rate": 0.0000125 if i % 3 else -0.00000625,
                "interval_minutes": 60,
                "next_funding_time": None,
                "mark_price": None,
                "index_price": None,
            }
        )
    return _shuffled(FUNDING_RATE_TABLE, rows)


def liquidation_input() -> pa.Table:
    rows = []
    for d in range(DAYS):
        base = DAY0 + d * NS_PER_DAY
        orders = [("SELL", 94_010.1, 0.25), ("BUY", 96_500.0, 1.5), ("SELL", 93_000.9, 0.004)]
        for k, (side, price, qty) in enumerate(orders):
            t = base + (2 + 7 * k) * H + 123 * MS
            rows.append({**identity(BINANCE, t, t + 2 * MS), "side": side, "price": price, "quantity": qty})
        t = base + 11 * H
        # two forced orders at the same instant that differ only in size are both kept
        rows.append({**identity(BYBIT, t, t + 5 * MS), "side": "BUY", "price": 95_100.0, "quantity": 0.5})
        rows.append({**identity(BYBIT, t, t + 5 * MS), "side": "BUY", "price": 95_100.0, "quantity": 0.75})
        t = base + 17 * H + 1
        rows.append({**identity(HYPERLIQUID, t, t + 1_200 * MS), "side": "SELL", "price": 94_321.0, "quantity": 3.0})
    return _shuffled(LIQUIDATION_TABLE, rows)


INPUTS = {"open_interest": open_interest_input, "funding_rate": funding_rate_input, "liquidation": liquidation_input}
FILE_SCHEMAS = {"open_interest": OPEN_INTEREST_FILE, "funding_rate": FUNDING_FILE, "liquidation": LIQUIDATION_FILE}


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    """One store holding the three kinds; returns (root, {kind: input table})."""
    root = tmp_path_factory.mktemp("store")
    store = ParquetStore(root)
    tables = {kind: make() for kind, make in INPUTS.items()}
    for table in tables.values():
        store.write(table)
    return root, tables


S = 1_000_000_000


def stream_gap_input() -> pa.Table:
    """Gap rows of the `gaps` kind: ts_event = start of the gap, ts_init = its end (the day of the file)."""
    rows = []

    def gap(instrument_id, start, end, stream, reason):
        rows.append({**identity(instrument_id, start, end), "stream": stream, "reason": reason})

    gap(BINANCE, DAY0 + 2 * H, DAY0 + 2 * H + 45 * S, "btcusdt@forceOrder", "idle_timeout")
    # across midnight: the gap ends (ts_init) on day 1, so it lives in day 1's file
    gap(BINANCE, DAY0 + NS_PER_DAY - 5 * S, DAY0 + NS_PER_DAY + 20 * S, "btcusdt@forceOrder", "server_close")
    gap(
        BINANCE,
        DAY0 + 2 * NS_PER_DAY + 10 * H,
        DAY0 + 2 * NS_PER_DAY + 10 * H + 3 * S,
        "btcusdt@forceOrder",
        "resubscribe",
    )
    gap(ALL_BINANCE, DAY0 + 5 * H, DAY0 + 5 * H + 2 * S, "!forceOrder@arr", "overflow")
    gap(ALL_BINANCE, DAY0 + NS_PER_DAY + 9 * H, DAY0 + NS_PER_DAY + 9 * H + 7 * S, "!forceOrder@arr", "server_close")
    gap(ALL_BINANCE, DAY0 + 2 * NS_PER_DAY + 23 * H, DAY0 + 2 * NS_PER_DAY + 23 * H + MS, "!forceOrder@arr", "shutdown")
    gap(
        BYBIT,
        DAY0 + NS_PER_DAY + 7 * H,
        DAY0 + NS_PER_DAY + 7 * H + 12 * S,
        "allLiquidation.BTCUSDT",
        "connect_failure",
    )
    poll = "userFillsByTime 0x0000000000000000000000000000000000000001"
    gap(HYPERLIQUID, DAY0 + 3 * H, DAY0 + 3 * H + 60 * S, poll, "poll_failure")
    return _shuffled(STREAM_GAP_TABLE, rows)


@pytest.fixture(scope="module")
def gaps_written(tmp_path_factory):
    """A store root holding only `custom_stream_gap`, laid out by the reference writer exactly as the other custom
    data folders are; returns (root, input table)."""
    root = tmp_path_factory.mktemp("gaps")
    table = stream_gap_input()
    write_reference_layout(root, table)
    return root, table


# -- expected values, field by field -----------------------------------------------------------------------------------


def _nan_to_none(x):
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else x


def _input_rows(table: pa.Table, instrument_id=None, start=None, end=None) -> list[dict]:
    """The input rows of one instrument (or all) with ts_init in [start, end], timestamps as ns integers."""
    for name in ("ts_event", "ts_init", "next_funding_time"):
        if name in table.schema.names:
            table = table.set_column(table.schema.get_field_index(name), name, pc.cast(table[name], pa.int64()))
    rows = [
        r
        for r in table.to_pylist()
        if (instrument_id is None or r["instrument_id"] == instrument_id)
        and (start is None or r["ts_init"] >= start)
        and (end is None or r["ts_init"] <= end)
    ]
    return sorted(rows, key=lambda r: (r["ts_init"], r["instrument_id"], repr(r)))


def expected(kind: str, table: pa.Table, instrument_id=None, start=None, end=None) -> list[tuple]:
    rows = _input_rows(table, instrument_id, start, end)
    if kind == "open_interest":
        fields = ("instrument_id", "open_interest", "open_interest_value", "ts_event", "ts_init")
        return [tuple(r[f] for f in fields) for r in rows]
    if kind == "funding_rate":
        return [
            (r["instrument_id"], Decimal(repr(r["funding_rate"])), r["next_funding_time"], r["ts_event"], r["ts_init"])
            for r in rows
        ]
    if kind == "gaps":
        return [(r["instrument_id"], r["stream"], r["reason"], r["ts_event"], r["ts_init"]) for r in rows]
    return [(r["instrument_id"], r["side"], r["price"], r["quantity"], r["ts_event"], r["ts_init"]) for r in rows]


def observed(kind: str, data: list) -> list[tuple]:
    if kind == "funding_rate":
        assert all(type(d) is FundingRateUpdate for d in data)
        return [(d.instrument_id.value, d.rate, d.next_funding_ns, d.ts_event, d.ts_init) for d in data]
    objs = [d.data for d in data]  # custom data arrives wrapped in CustomData
    if kind == "open_interest":
        assert all(type(o) is OpenInterest for o in objs)
        return [
            (o.instrument_id.value, o.open_interest, _nan_to_none(o.open_interest_value), o.ts_event, o.ts_init)
            for o in objs
        ]
    if kind == "gaps":
        assert all(type(o) is StreamGap for o in objs)
        return [(o.instrument_id.value, o.stream, o.reason, o.ts_event, o.ts_init) for o in objs]
    assert all(type(o) is Liquidation for o in objs)
    return [(o.instrument_id.value, o.side, o.price, o.quantity, o.ts_event, o.ts_init) for o in objs]


def query(root, kind: str, **kwargs) -> list:
    return ParquetDataCatalog(str(root)).query(DATA_CLASSES[kind], **kwargs)


def by_time(rows: list[tuple]) -> list[tuple]:
    """Rows in time order, ties broken by instrument then content (the catalog keeps file order for ties)."""
    return sorted(rows, key=lambda r: (r[-1], r[0], repr(r)))


def assert_time_ordered(rows: list[tuple]) -> None:
    ts_init = [r[-1] for r in rows]
    assert ts_init == sorted(ts_init)


# -- reading the store with the catalog --------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", list(INPUTS))
@pytest.mark.parametrize("instrument_id", [BINANCE, BYBIT, HYPERLIQUID])
def test_catalog_reads_each_instrument_field_by_field(written, kind, instrument_id):
    root, tables = written
    got = observed(kind, query(root, kind, identifiers=[instrument_id]))
    want = expected(kind, tables[kind], instrument_id)
    assert len(want) >= DAYS
    assert_time_ordered(got)
    assert by_time(got) == by_time(want)  # same values, nothing lost or duplicated


@pytest.mark.parametrize("kind", list(INPUTS))
def test_catalog_reads_all_instruments_at_once(written, kind):
    root, tables = written
    assert by_time(observed(kind, query(root, kind))) == by_time(expected(kind, tables[kind]))
    several = observed(kind, query(root, kind, identifiers=[BINANCE, HYPERLIQUID]))
    want = expected(kind, tables[kind], BINANCE) + expected(kind, tables[kind], HYPERLIQUID)
    assert by_time(several) == by_time(want)


def test_funding_rates_keep_the_venue_decimal(written):
    root, tables = written
    updates = query(root, "funding_rate", identifiers=[BINANCE])
    assert [str(u.rate) for u in updates[:2]] == ["0.0001", "-0.00002345"]
    assert all(isinstance(u.rate, Decimal) for u in updates)
    rows = _input_rows(tables["funding_rate"], BINANCE)
    assert [float(u.rate) for u in updates] == [r["funding_rate"] for r in rows]
    assert [u.next_funding_ns is None for u in updates] == [r["next_funding_time"] is None for r in rows]
    if hasattr(updates[0], "interval"):  # FundingRateUpdate has no interval before NautilusTrader 1.223
        assert [u.interval for u in updates] == [r["interval_minutes"] for r in rows]


def test_missing_open_interest_value_reads_as_nan(written):
    root, _ = written
    values = [d.data.open_interest_value for d in query(root, "open_interest", identifiers=[HYPERLIQUID])]
    assert values and all(math.isnan(v) for v in values)
    binance = [d.data.open_interest_value for d in query(root, "open_interest", identifiers=[BINANCE])]
    assert sum(math.isnan(v) for v in binance) == 1


@pytest.mark.parametrize("kind", list(INPUTS))
def test_start_end_query_crosses_files_and_is_inclusive(written, kind, capsys):
    root, tables = written
    start, end = DAY0 + NS_PER_DAY + 8 * H, DAY0 + 2 * NS_PER_DAY + 8 * H  # both ends are row times for Binance
    cat = ParquetDataCatalog(str(root), show_query_paths=True)
    capsys.readouterr()
    data = cat.query(DATA_CLASSES[kind], identifiers=[BINANCE], start=start, end=end)
    opened = [Path(p).name for p in capsys.readouterr().out.split()]
    # only the files whose interval intersects the range: liquidations' day files of day 1 and day 2; the one
    # monthly or yearly file of the other kinds
    folder = Path(root) / "data" / FOLDERS[kind] / BINANCE
    intersecting = [
        p.name
        for p in sorted(folder.glob("*.parquet"))
        if _parse_stamp(p.stem.split("_")[0]) <= end and _parse_stamp(p.stem.split("_")[1]) >= start
    ]
    assert sorted(opened) == intersecting
    assert len(opened) == (2 if kind == "liquidation" else 1)
    got = observed(kind, data)
    assert_time_ordered(got)
    assert by_time(got) == by_time(expected(kind, tables[kind], BINANCE, start, end))
    assert {r[-1] for r in got} >= ({start, end} if kind != "liquidation" else set())
    # the same range given as ISO strings (UTC), over every instrument
    iso = observed(kind, query(root, kind, start="2025-01-02T08:00:00Z", end="2025-01-03T08:00:00Z"))
    assert by_time(iso) == by_time(expected(kind, tables[kind], None, start, end))


def test_range_outside_the_data_is_empty(written):
    root, _ = written
    for kind in INPUTS:
        assert query(root, kind, start=DAY0 + DAYS * NS_PER_DAY) == []
        assert query(root, kind, identifiers=["ETHUSDT-PERP.BINANCE"]) == []


# -- what lies on disk (the contract NautilusTrader relies on) ---------------------------------------------------------

_FILE_NAME = re.compile(r"^(\d{4})-(\d\d)-(\d\d)T(\d\d)-(\d\d)-(\d\d)-(\d{9})Z$")


def _parse_stamp(text: str) -> int:
    m = _FILE_NAME.match(text)
    assert m, f"bad file timestamp {text!r}"
    y, mo, d, hh, mi, ss, nanos = (int(g) for g in m.groups())
    seconds = pa.scalar(f"{y:04d}-{mo:02d}-{d:02d}T{hh:02d}:{mi:02d}:{ss:02d}").cast(pa.timestamp("s")).value
    return seconds * 1_000_000_000 + nanos


def _files(root, kind) -> list[Path]:
    return sorted((Path(root) / "data" / FOLDERS[kind]).rglob("*"))


@pytest.mark.parametrize("kind", list(INPUTS))
def test_files_follow_the_catalog_layout(written, kind):
    root, tables = written
    files = [p for p in _files(root, kind) if p.is_file()]
    instruments = set(tables[kind]["instrument_id"].to_pylist())
    assert {p.parent.name for p in files} == instruments
    by_folder: dict[str, list[tuple[int, int]]] = {}
    for path in files:
        rel = path.relative_to(Path(root) / "data" / FOLDERS[kind])
        assert len(rel.parts) == 2, f"{rel}: files sit directly in data/<type>/<INSTRUMENT_ID>/"
        assert path.suffix == ".parquet" and not path.name.startswith("."), f"stray file {rel}"
        first, last = path.stem.split("_")
        lo, hi = _parse_stamp(first), _parse_stamp(last)
        assert lo <= hi
        by_folder.setdefault(path.parent.name, []).append((lo, hi))

        table = pq.read_table(path)
        want = FILE_SCHEMAS[kind]
        assert [(f.name, f.type) for f in table.schema] == [(f.name, f.type) for f in want]
        assert table.num_rows > 0, f"empty file {rel}"
        ts_init = table["ts_init"].to_pylist()
        assert ts_init == sorted(ts_init), f"{rel}: rows not sorted by ts_init"
        assert lo <= ts_init[0] and ts_init[-1] <= hi, f"{rel}: rows outside the file's interval"
        if kind == "funding_rate":
            assert table.schema.metadata[b"instrument_id"].decode() == path.parent.name
            for cell in table["rate"].to_pylist():
                assert cell[:1] == b'"' and cell[-1:] == b'"', cell  # a JSON string
                Decimal(json.loads(cell))
        else:
            assert set(table["instrument_id"].to_pylist()) == {path.parent.name}
            assert set(table["type"].to_pylist()) == {"OpenInterest" if kind == "open_interest" else "Liquidation"}
        if kind == "open_interest":
            assert table["open_interest_value"].null_count == 0  # absent values are NaN, not null
    for intervals in by_folder.values():
        intervals.sort()
        pairs = zip(intervals, intervals[1:], strict=False)
        assert all(a[1] < b[0] for a, b in pairs), f"overlapping files: {intervals}"


@pytest.mark.parametrize("kind", list(INPUTS))
def test_one_file_per_instrument_per_granule_named_by_its_rows(written, kind):
    root, tables = written
    names = {(p.parent.name, p.name) for p in _files(root, kind) if p.is_file()}
    assert names == set(reference_groups(tables[kind].sort_by([("ts_init", "ascending")])))


def _plain(table: pa.Table) -> list[dict]:
    """Rows as dicts with NaN spelled "NaN", so that equal tables compare equal."""
    return [
        {k: "NaN" if isinstance(v, float) and math.isnan(v) else v for k, v in row.items()} for row in table.to_pylist()
    ]


@pytest.mark.parametrize("kind", list(INPUTS))
def test_store_files_hold_what_the_reference_layout_holds(written, kind, tmp_path):
    """The store's files carry the same rows, columns and metadata as a plain pyarrow rendering of the layout
    (docs/formats.md#folders-and-columns)."""
    root, tables = written
    write_reference_layout(tmp_path, tables[kind])
    ours = {p.relative_to(root): p for p in (Path(root) / "data" / FOLDERS[kind]).rglob("*.parquet")}
    reference = {p.relative_to(tmp_path): p for p in (tmp_path / "data" / FOLDERS[kind]).rglob("*.parquet")}
    assert sorted(ours) == sorted(reference)
    for rel, path in ours.items():
        got, want = pq.read_table(path), pq.read_table(reference[rel])
        if kind == "funding_rate":
            assert got.schema.metadata[b"instrument_id"] == want.schema.metadata[b"instrument_id"]
            rates = [Decimal(json.loads(c)) for c in got["rate"].to_pylist()]
            assert rates == [Decimal(json.loads(c)) for c in want["rate"].to_pylist()]
            got, want = got.drop_columns(["rate"]), want.drop_columns(["rate"])
        # rows with equal ts_init may come in any order
        keys = [(name, "ascending") for name in want.schema.names]
        assert _plain(got.cast(want.schema).sort_by(keys)) == _plain(want.sort_by(keys)), rel


def test_funding_file_columns_hold_the_table_values(written):
    root, tables = written
    folder = Path(root) / "data" / "funding_rate_update" / BINANCE
    disk = pa.concat_tables([pq.read_table(p) for p in sorted(folder.glob("*.parquet"))])
    rows = _input_rows(tables["funding_rate"], BINANCE)
    assert disk["interval"].to_pylist() == [r["interval_minutes"] for r in rows]
    assert disk["next_funding_ns"].to_pylist() == [r["next_funding_time"] for r in rows]
    rates = [Decimal(json.loads(c)) for c in disk["rate"].to_pylist()]
    assert rates == [Decimal(repr(r["funding_rate"])) for r in rows]
    assert disk.schema.field("interval").nullable and disk.schema.field("next_funding_ns").nullable


def test_catalog_sees_exactly_the_three_types(written):
    root, _ = written
    # no lock or temp file under data/
    assert sorted(catalog(root).list_data_types()) == sorted(FOLDERS[kind] for kind in INPUTS)


def test_leftovers_of_a_crash_and_the_lock_do_not_disturb_reads(written, tmp_path):
    source, tables = written
    root = tmp_path / "copy"
    shutil.copytree(source, root)
    # what a crashed atomic write leaves behind: a hidden temp file whose name does not end in ".parquet"
    for kind in INPUTS:
        folder = root / "data" / FOLDERS[kind] / BINANCE
        (folder / f".{day_file_name(DAY0)}.tmp-4242").write_bytes(b"PAR1 torn")
    (root / ".lock").touch()
    for kind in INPUTS:
        assert by_time(observed(kind, query(root, kind))) == by_time(expected(kind, tables[kind]))


@pytest.mark.parametrize("kind", list(INPUTS))
def test_later_writes_merge_into_readable_files(tmp_path, kind):
    table = INPUTS[kind]()
    t = pc.cast(table["ts_init"], pa.int64())
    first = table.filter(pc.less(t, DAY0 + 2 * NS_PER_DAY))
    second = table.filter(pc.greater_equal(t, DAY0 + NS_PER_DAY + 12 * H))  # overlaps day 1: duplicates and new rows
    store = ParquetStore(tmp_path)
    store.write(first)
    store.write(second)
    assert by_time(observed(kind, query(tmp_path, kind))) == by_time(expected(kind, table))
    cat = catalog(tmp_path)
    for instrument_id in (BINANCE, BYBIT, HYPERLIQUID):
        intervals = cat.get_intervals(DATA_CLASSES[kind], instrument_id)
        assert intervals and all(a[1] < b[0] for a, b in zip(intervals, intervals[1:], strict=False))


# -- our codec and NautilusTrader's own writer agree -------------------------------------------------------------------


def test_nautilus_writer_and_our_store_agree_on_funding_rates(written, tmp_path):
    root, _ = written
    updates = query(root, "funding_rate", identifiers=[BYBIT])
    cat = catalog(tmp_path)
    cat.write_data(updates)  # NautilusTrader's own writer, through the registered encoder
    (path,) = (tmp_path / "data" / "funding_rate_update" / BYBIT).glob("*.parquet")
    theirs = pq.read_table(path)
    assert [(f.name, f.type) for f in theirs.schema] == [(f.name, f.type) for f in FUNDING_FILE]
    assert theirs.schema.metadata[b"instrument_id"] == BYBIT.encode()
    again = cat.query(FundingRateUpdate)
    assert [(u.instrument_id, u.rate, u.next_funding_ns, u.ts_event, u.ts_init) for u in again] == [
        (u.instrument_id, u.rate, u.next_funding_ns, u.ts_event, u.ts_init) for u in updates
    ]


def test_nautilus_writer_and_our_store_agree_on_custom_data(written, tmp_path):
    root, _ = written
    for kind in ("open_interest", "liquidation"):
        data = query(root, kind, identifiers=[BINANCE])
        catalog(tmp_path).write_data(data)
        (path,) = (tmp_path / "data" / FOLDERS[kind] / BINANCE).glob("*.parquet")
        ours = pq.read_schema(next((Path(root) / "data" / FOLDERS[kind] / BINANCE).glob("*.parquet")))
        theirs = pq.read_schema(path)
        assert [(f.name, f.type) for f in theirs] == [(f.name, f.type) for f in ours]
        assert observed(kind, catalog(tmp_path).query(DATA_CLASSES[kind])) == observed(kind, data)


# -- from the store to a backtest --------------------------------------------------------------------------------------


class _Recorder(Actor):
    def __init__(self, instrument_id):
        super().__init__(ActorConfig(component_id="RECORDER"))
        self.instrument_id = instrument_id
        self.received = []

    def on_start(self):
        self.subscribe_data(DataType(OpenInterest), client_id=ClientId("BINANCE"))
        self.subscribe_data(DataType(Liquidation), client_id=ClientId("BINANCE"))
        self.subscribe_data(DataType(StreamGap), client_id=ClientId("BINANCE"))
        self.subscribe_funding_rates(self.instrument_id)

    def on_data(self, data):
        self.received.append(data)

    def on_funding_rate(self, funding_rate):
        self.received.append(funding_rate)


def test_a_backtest_receives_the_stored_data_in_time_order(written, gaps_written):
    root, tables = written
    gaps_root, gaps = gaps_written
    instrument = TestInstrumentProvider.btcusdt_perp_binance()
    assert str(instrument.id) == BINANCE
    engine = BacktestEngine(BacktestEngineConfig(logging=LoggingConfig(bypass_logging=True)))
    try:
        engine.add_venue(
            Venue("BINANCE"),
            oms_type=OmsType.NETTING,
            account_type=AccountType.MARGIN,
            starting_balances=[Money(10_000, USDT)],
            base_currency=None,
        )
        engine.add_instrument(instrument)
        cat = catalog(root)
        engine.add_data(cat.query(OpenInterest, identifiers=[BINANCE]), client_id=ClientId("BINANCE"))
        engine.add_data(cat.query(Liquidation, identifiers=[BINANCE]), client_id=ClientId("BINANCE"))
        engine.add_data(cat.query(FundingRateUpdate, identifiers=[BINANCE]))
        # the gaps of Binance's per-symbol stream and of its whole-market stream
        stream_gaps = catalog(gaps_root).query(StreamGap, identifiers=[BINANCE, ALL_BINANCE])
        engine.add_data(stream_gaps, client_id=ClientId("BINANCE"))
        recorder = _Recorder(instrument.id)
        engine.add_actor(recorder)
        engine.run()
        received = recorder.received
    finally:
        engine.dispose()
    counts = {kind: len(expected(kind, tables[kind], BINANCE)) for kind in INPUTS}
    assert sum(isinstance(d, OpenInterest) for d in received) == counts["open_interest"]
    assert sum(isinstance(d, Liquidation) for d in received) == counts["liquidation"]
    assert sum(isinstance(d, FundingRateUpdate) for d in received) == counts["funding_rate"]
    got_gaps = [(d.instrument_id.value, d.reason, d.ts_event, d.ts_init) for d in received if isinstance(d, StreamGap)]
    want_gaps = expected("gaps", gaps, BINANCE) + expected("gaps", gaps, ALL_BINANCE)
    assert sorted(got_gaps) == sorted((r[0], r[2], r[3], r[4]) for r in want_gaps)
    assert [d.ts_init for d in received] == sorted(d.ts_init for d in received)


def test_data_config_loads_each_kind_for_a_backtest_node(written, tmp_path):
    root, tables = written
    instrument = TestInstrumentProvider.btcusdt_perp_binance()
    # a BacktestNode only loads data of instruments whose definitions are in the catalog
    assert BacktestNode.load_data_config(data_config(root, "open_interest", [BINANCE])).data == []
    catalog(tmp_path).write_data([instrument])
    for kind in INPUTS:
        for p in (Path(root) / "data" / FOLDERS[kind] / BINANCE).glob("*.parquet"):
            dest = tmp_path / "data" / FOLDERS[kind] / BINANCE
            dest.mkdir(parents=True, exist_ok=True)
            (dest / p.name).write_bytes(p.read_bytes())
    start, end = DAY0 + 8 * H, DAY0 + 2 * NS_PER_DAY
    for kind in INPUTS:
        result = BacktestNode.load_data_config(data_config(tmp_path, kind, [instrument.id], start=start, end=end))
        assert result.client_id == (None if kind == "funding_rate" else ClientId("BINANCE"))
        assert by_time(observed(kind, result.data)) == by_time(expected(kind, tables[kind], BINANCE, start, end))


# -- the optional dependency -------------------------------------------------------------------------------------------


def _python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=os.environ)


def test_importing_the_package_does_not_import_nautilus():
    done = _python(
        "import sys, ccxt_pipeline_rs\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] == 'nautilus_trader')\n"
        "assert not loaded, loaded\n"
    )
    assert done.returncode == 0, done.stderr


def test_without_nautilus_the_module_says_how_to_install_it():
    done = _python(
        "import sys\n"
        "sys.modules['nautilus_trader'] = None  # as if the extra were not installed\n"
        "import ccxt_pipeline_rs\n"
        "try:\n"
        "    import ccxt_pipeline_rs.nautilus\n"
        "except ImportError as e:\n"
        "    print(e)\n"
        "else:\n"
        "    raise SystemExit('imported without nautilus_trader')\n"
    )
    assert done.returncode == 0, done.stderr
    assert 'pip install "ccxt_pipeline_rs[nautilus]"' in done.stdout


def test_data_classes_map_to_the_store_folders():
    from nautilus_trader.persistence.funcs import class_to_filename

    assert {kind: class_to_filename(cls) for kind, cls in DATA_CLASSES.items()} == FOLDERS
    assert OpenInterest._schema == OPEN_INTEREST_FILE
    assert Liquidation._schema == LIQUIDATION_FILE
    assert StreamGap._schema == STREAM_GAP_FILE
    iid = InstrumentId.from_str(BINANCE)
    oi = OpenInterest(instrument_id=iid, open_interest=1.0, open_interest_value=math.nan, ts_event=1, ts_init=2)
    assert (oi.ts_event, oi.ts_init) == (1, 2)


# -- stream gaps (folder custom_stream_gap) ----------------------------------------------------------------------------


@pytest.mark.parametrize("instrument_id", [BINANCE, ALL_BINANCE, BYBIT, HYPERLIQUID])
def test_stream_gaps_read_each_instrument_field_by_field(gaps_written, instrument_id):
    root, table = gaps_written
    got = observed("gaps", catalog(root).query(StreamGap, identifiers=[instrument_id]))
    want = expected("gaps", table, instrument_id)
    assert want
    assert_time_ordered(got)
    assert got == want
    assert all(r[3] < r[4] for r in got)  # a gap starts (ts_event) before it ends (ts_init)


def test_stream_gaps_read_several_instruments_and_ranges(gaps_written, capsys):
    root, table = gaps_written
    assert by_time(observed("gaps", query(root, "gaps"))) == by_time(expected("gaps", table))
    several = observed("gaps", query(root, "gaps", identifiers=[ALL_BINANCE, BYBIT]))
    assert by_time(several) == by_time(expected("gaps", table, ALL_BINANCE) + expected("gaps", table, BYBIT))
    # a range selects gaps by their end (ts_init): the gap across midnight belongs to day 1
    start, end = DAY0 + NS_PER_DAY, DAY0 + 2 * NS_PER_DAY - 1
    cat = ParquetDataCatalog(str(root), show_query_paths=True)
    capsys.readouterr()
    day1 = observed("gaps", cat.query(StreamGap, identifiers=[BINANCE], start=start, end=end))
    # gap files are yearly: the one file of the instrument
    assert [Path(p).name for p in capsys.readouterr().out.split()] == [
        p.name for p in (Path(root) / "data" / FOLDERS["gaps"] / BINANCE).glob("*.parquet")
    ]
    assert [(r[2], r[3] < start <= r[4]) for r in day1] == [("server_close", True)]
    iso = observed("gaps", query(root, "gaps", start="2025-01-02T00:00:00Z", end="2025-01-02T23:59:59.999999999Z"))
    assert by_time(iso) == by_time(expected("gaps", table, None, start, end))
    assert {r[0] for r in iso} == {BINANCE, ALL_BINANCE, BYBIT}


def test_nautilus_writes_stream_gaps_as_the_store_lays_them_out(gaps_written, tmp_path):
    """NautilusTrader's own writer, given StreamGap objects, produces the files of the reference layout: same
    folders, names, columns and rows (the contract the Rust store's `gaps` kind follows)."""
    root, table = gaps_written
    data = query(root, "gaps")
    catalog(tmp_path).write_data(data)
    folder, theirs_folder = Path(root) / "data" / FOLDERS["gaps"], tmp_path / "data" / FOLDERS["gaps"]
    ours = sorted(p.relative_to(folder) for p in folder.rglob("*.parquet"))
    theirs = sorted(p.relative_to(theirs_folder) for p in theirs_folder.rglob("*.parquet"))
    assert {p.parent.name for p in ours} == {BINANCE, ALL_BINANCE, BYBIT, HYPERLIQUID}
    assert [p.parent for p in theirs] == sorted({p.parent for p in ours})  # one file per instrument from NT
    for instrument in {p.parent for p in ours}:
        mine = pa.concat_tables([pq.read_table(folder / p) for p in ours if p.parent == instrument])
        (nt,) = [pq.read_table(theirs_folder / p) for p in theirs if p.parent == instrument]
        assert [(f.name, f.type) for f in nt.schema] == [(f.name, f.type) for f in STREAM_GAP_FILE]
        assert nt.to_pylist() == mine.to_pylist()
        assert set(nt["type"].to_pylist()) == {"StreamGap"}
    assert observed("gaps", catalog(tmp_path).query(StreamGap)) == observed("gaps", data)


def test_data_config_loads_stream_gaps(gaps_written):
    root, table = gaps_written
    # gaps of whole-market streams have no instrument definition: load them by venue (client id) alone
    result = BacktestNode.load_data_config(data_config(root, "gaps", client_id="BINANCE"))
    assert result.client_id == ClientId("BINANCE")
    assert by_time(observed("gaps", result.data)) == by_time(expected("gaps", table))
    assert data_config(root, StreamGap, [ALL_BINANCE]).client_id == "BINANCE"  # the venue of the first id


# -- funding rates of several instruments, Decimal rates: on every supported NautilusTrader version --------------------


def _funding_files(root) -> list[str]:
    return sorted(str(p) for p in (Path(root) / "data" / FOLDERS["funding_rate"]).rglob("*.parquet"))


@pytest.mark.parametrize(
    "identifiers",
    [[BINANCE, BYBIT], [BYBIT, BINANCE], [HYPERLIQUID, BINANCE, BYBIT], [BYBIT, HYPERLIQUID], None],
)
def test_a_funding_query_labels_each_row_with_its_own_instrument(written, identifiers):
    """pyarrow keeps only the first file's schema metadata, where the instrument id of funding data lives."""
    root, tables = written
    instruments = identifiers or [BINANCE, BYBIT, HYPERLIQUID]
    for start, end in ((None, None), (DAY0 + 8 * H, DAY0 + 2 * NS_PER_DAY + 8 * H)):
        updates = catalog(root).query(FundingRateUpdate, identifiers=identifiers, start=start, end=end)
        got = observed("funding_rate", updates)
        want = [r for iid in instruments for r in expected("funding_rate", tables["funding_rate"], iid, start, end)]
        assert_time_ordered(got)
        assert by_time(got) == by_time(want)
        assert {u.instrument_id.value for u in updates} == set(instruments)


def test_funding_query_of_explicit_files_across_folders(written):
    root, tables = written
    files = _funding_files(root)
    random.Random(3).shuffle(files)
    got = observed("funding_rate", catalog(root).query(FundingRateUpdate, files=files))
    assert_time_ordered(got)
    assert by_time(got) == by_time(expected("funding_rate", tables["funding_rate"]))


def test_funding_rates_are_decimals_on_every_path(written):
    root, _ = written
    cat = catalog(root)
    paths = {
        "one instrument": cat.query(FundingRateUpdate, identifiers=[BYBIT]),
        "several": cat.query(FundingRateUpdate, identifiers=[BINANCE, BYBIT]),
        "all, in a range": cat.query(FundingRateUpdate, start=DAY0 + H, end=DAY0 + NS_PER_DAY),
        "files=": cat.query(FundingRateUpdate, files=_funding_files(root)),
        "BacktestNode": BacktestNode.load_data_config(data_config(root, "funding_rate")).data,
    }
    for name, updates in paths.items():
        assert updates, name
        assert all(type(u.rate) is Decimal for u in updates), name
    bybit = paths["one instrument"]
    assert [u.rate * 2 for u in bybit[:2]] == [Decimal("0.00020002"), Decimal("-0.0010")]  # arithmetic, not repetition
    assert sum(u.rate for u in bybit) == sum(Decimal(repr(-0.0005 if i % 2 else 0.00010001)) for i in range(len(bybit)))


def test_funding_files_written_by_nautilus_read_back_with_their_instruments(written, tmp_path):
    """NautilusTrader's own writer (its codec from 1.223, ours before) and its own files, read back several
    instruments at a time."""
    root, tables = written
    cat = catalog(tmp_path)
    cat.write_data(catalog(root).query(FundingRateUpdate))
    folder = tmp_path / "data" / FOLDERS["funding_rate"]
    assert sorted(p.name for p in folder.iterdir()) == sorted([BINANCE, BYBIT, HYPERLIQUID])
    for path in folder.rglob("*.parquet"):
        assert pq.read_schema(path).metadata[b"instrument_id"].decode() == path.parent.name
    for identifiers in ([HYPERLIQUID, BINANCE], None):
        updates = cat.query(FundingRateUpdate, identifiers=identifiers)
        instruments = identifiers or [BINANCE, BYBIT, HYPERLIQUID]
        want = [r for iid in instruments for r in expected("funding_rate", tables["funding_rate"], iid)]
        assert by_time(observed("funding_rate", updates)) == by_time(want)
        assert all(type(u.rate) is Decimal for u in updates)


# -- which NautilusTrader: explicit version gates, loud failures -------------------------------------------------------


@pytest.mark.parametrize(
    "text, version",
    [
        ("1.221.0", (1, 221, 0)),
        ("1.231.0", (1, 231, 0)),
        ("1.232.0rc1", (1, 232, 0)),
        ("1.231.1.dev20260101", (1, 231, 1)),
        ("2.0.0", (2, 0, 0)),
    ],
)
def test_nautilus_version_is_parsed(text, version):
    from ccxt_pipeline_rs.nautilus import _parse_version

    assert _parse_version(text) == version


@pytest.mark.parametrize("text", ["", "1.231", "nightly", "v1.231.0"])
def test_an_unparseable_nautilus_version_is_an_error(text):
    from ccxt_pipeline_rs.nautilus import NautilusCompatibilityError, _parse_version

    with pytest.raises(NautilusCompatibilityError, match="cannot parse the NautilusTrader version"):
        _parse_version(text)


def test_the_installed_version_selects_the_funding_codec():
    import nautilus_trader
    from ccxt_pipeline_rs import nautilus as glue
    from nautilus_trader.serialization.arrow import serializer

    installed = tuple(int(part) for part in nautilus_trader.__version__.split(".")[:3])
    assert glue.NAUTILUS_VERSION == installed
    assert glue.FUNDING_CODEC_REGISTERED is (installed < (1, 223, 0))
    assert serializer._ARROW_DECODERS[FundingRateUpdate] is glue.decode_funding_rates  # on every version
    encoder = serializer._ARROW_ENCODERS[FundingRateUpdate]
    assert (encoder is glue.encode_funding_rates) is glue.FUNDING_CODEC_REGISTERED  # NT's own encoder from 1.223
    assert hasattr(FundingRateUpdate, "interval") is (installed >= (1, 223, 0))
    wrapped = ParquetDataCatalog._query_pyarrow
    assert wrapped.__module__ == glue.__name__ and wrapped.__wrapped__.__module__.startswith("nautilus_trader.")


_IMPORT_AFTER_PATCH = """
import nautilus_trader
from nautilus_trader.persistence.catalog.parquet import ParquetDataCatalog
installed = tuple(int(part) for part in nautilus_trader.__version__.split(".")[:3])
{patch}
try:
    import ccxt_pipeline_rs.nautilus
except Exception as exc:
    print(f"{{type(exc).__name__}}: {{exc}}")
else:
    raise SystemExit("imported although NautilusTrader does not match")
"""


@pytest.mark.parametrize(
    "patch, message",
    [
        ("nautilus_trader.__version__ = '1.220.0'", "supports nautilus-trader >= 1.221.0; installed is 1.220.0"),
        ("nautilus_trader.__version__ = 'nightly'", "cannot parse the NautilusTrader version 'nightly'"),
        # a version on the other side of 1.223 than the installed classes: the gate and the code disagree
        (
            "nautilus_trader.__version__ = '1.222.0' if installed >= (1, 223, 0) else '1.223.0'",
            "FundingRateUpdate has",
        ),
        # the private method that is wrapped changes its parameters: renamed, added, or a default dropped
        (
            "def _query_pyarrow(self, data_cls, identifiers=None, start=None, end=None, where=None, files=None,\n"
            "                   **kwargs):\n"
            "    return []\n"
            "ParquetDataCatalog._query_pyarrow = _query_pyarrow",
            "ParquetDataCatalog._query_pyarrow of nautilus-trader",
        ),
        (
            "original = ParquetDataCatalog._query_pyarrow\n"
            "def _query_pyarrow(self, data_cls, identifiers=None, start=None, end=None, filter_expr=None, files=None,\n"
            "                   columns=None, **kwargs):\n"
            "    return original(self, data_cls, identifiers, start, end, filter_expr, files, **kwargs)\n"
            "ParquetDataCatalog._query_pyarrow = _query_pyarrow",
            "columns=None",
        ),
        (
            "ParquetDataCatalog._query_files = lambda self, data_cls, identifiers, start=None, end=None: []",
            "ParquetDataCatalog._query_files of nautilus-trader",
        ),
        (
            "ParquetDataCatalog._query_files = lambda self, data_cls, instrument_ids=None, start=None, end=None: []",
            "found (self, data_cls, instrument_ids=None",
        ),
        (
            "ParquetDataCatalog._query_files = lambda self, data_cls, identifiers=None, start=None, end=None, *, fs:"
            " []",
            "found (self, data_cls, identifiers=None, start=None, end=None, *, fs)",
        ),
    ],
)
def test_an_unexpected_nautilus_fails_loudly_at_import(patch, message):
    done = _python(_IMPORT_AFTER_PATCH.format(patch=patch))
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith("NautilusCompatibilityError: "), done.stdout
    assert message in done.stdout
