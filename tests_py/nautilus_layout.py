"""Test helper: the table schemas (docs/formats.md#tables), sample tables, and a reference writer of the catalog
layout (docs/formats.md#on-disk-catalog).

The reference writer is plain pyarrow and deliberately naive (one file per instrument per granule of its kind, named by
its rows' first and last ts_init; no locking, no de-duplication). It exists so the NautilusTrader glue can be checked
against files laid out exactly as the layout says, independently of the Rust store, and so the store's files can be
compared with it (names, schemas, metadata).
"""

import json
import math
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

NS_PER_DAY = 86_400 * 1_000_000_000
TS = pa.timestamp("ns", tz="UTC")

# -- docs/formats.md#tables: the tables returned to Python (and accepted by ParquetStore.write) ------------------------

_IDENTITY = [
    pa.field("venue", pa.utf8(), nullable=False),
    pa.field("symbol", pa.utf8(), nullable=False),
    pa.field("instrument_id", pa.utf8(), nullable=False),
    pa.field("ts_event", TS, nullable=False),
    pa.field("ts_init", TS, nullable=False),
]

OPEN_INTEREST_TABLE = pa.schema(
    _IDENTITY
    + [
        pa.field("open_interest", pa.float64(), nullable=False),
        pa.field("open_interest_value", pa.float64(), nullable=True),
    ]
)
FUNDING_RATE_TABLE = pa.schema(
    _IDENTITY
    + [
        pa.field("funding_rate", pa.float64(), nullable=False),
        pa.field("interval_minutes", pa.uint16(), nullable=True),
        pa.field("next_funding_time", TS, nullable=True),
        pa.field("mark_price", pa.float64(), nullable=True),
        pa.field("index_price", pa.float64(), nullable=True),
    ]
)
LIQUIDATION_TABLE = pa.schema(
    _IDENTITY
    + [
        pa.field("side", pa.utf8(), nullable=False),
        pa.field("price", pa.float64(), nullable=False),
        pa.field("quantity", pa.float64(), nullable=False),
    ]
)
# The `gaps` kind: intervals in which a liquidation stream was not delivering (ts_event = start, ts_init = end).
STREAM_GAP_TABLE = pa.schema(
    _IDENTITY
    + [
        pa.field("stream", pa.utf8(), nullable=False),
        pa.field("reason", pa.utf8(), nullable=False),
    ]
)

# -- docs/formats.md#on-disk-catalog: what lies on disk ----------------------------------------------------------------

FOLDERS = {
    "open_interest": "custom_open_interest",
    "funding_rate": "funding_rate_update",
    "liquidation": "custom_liquidation",
    "gaps": "custom_stream_gap",
}

FUNDING_FILE = pa.schema(
    [
        pa.field("rate", pa.binary(), nullable=False),
        pa.field("interval", pa.uint16(), nullable=True),
        pa.field("next_funding_ns", pa.uint64(), nullable=True),
        pa.field("ts_event", pa.uint64(), nullable=False),
        pa.field("ts_init", pa.uint64(), nullable=False),
    ]
)
OPEN_INTEREST_FILE = pa.schema(
    [
        pa.field("instrument_id", pa.string()),
        pa.field("open_interest", pa.float64()),
        pa.field("open_interest_value", pa.float64()),
        pa.field("type", pa.string()),
        pa.field("ts_event", pa.int64()),
        pa.field("ts_init", pa.int64()),
    ]
)
LIQUIDATION_FILE = pa.schema(
    [
        pa.field("instrument_id", pa.string()),
        pa.field("side", pa.string()),
        pa.field("price", pa.float64()),
        pa.field("quantity", pa.float64()),
        pa.field("type", pa.string()),
        pa.field("ts_event", pa.int64()),
        pa.field("ts_init", pa.int64()),
    ]
)
STREAM_GAP_FILE = pa.schema(
    [
        pa.field("instrument_id", pa.string()),
        pa.field("stream", pa.string()),
        pa.field("reason", pa.string()),
        pa.field("type", pa.string()),
        pa.field("ts_event", pa.int64()),
        pa.field("ts_init", pa.int64()),
    ]
)

# -- instruments used by the tests -------------------------------------------------------------------------------------

INSTRUMENTS = {
    # instrument id: (venue, unified symbol)
    "BTCUSDT-PERP.BINANCE": ("binance", "BTCUSDT-PERP"),
    "BTCUSDT-LINEAR.BYBIT": ("bybit", "BTCUSDT-PERP"),
    "BTC-USD-PERP.HYPERLIQUID": ("hyperliquid", "BTCUSD-PERP"),
    "ALL.BINANCE": ("binance", "ALL"),  # the gaps of a whole-market stream (Binance `!forceOrder@arr`)
}


def file_timestamp(ns: int) -> str:
    """Nanoseconds since the epoch as a catalog file-name timestamp: ``2025-01-01T00-00-00-000000000Z``."""
    seconds, nanos = divmod(ns, 1_000_000_000)
    stamp = pa.scalar(seconds * 1_000_000_000, TS).as_py()  # datetime, whole seconds
    return f"{stamp:%Y-%m-%dT%H-%M-%S}-{nanos:09d}Z"


def day_file_name(day_start_ns: int) -> str:
    return f"{file_timestamp(day_start_ns)}_{file_timestamp(day_start_ns + NS_PER_DAY - 1)}.parquet"


#: The calendar span a file of each kind stays within (docs/formats.md#file-names).
GRANULES = {"open_interest": "month", "funding_rate": "year", "liquidation": "day", "gaps": "year"}


def granule_start(kind: str, t: int) -> int:
    day = t // NS_PER_DAY * NS_PER_DAY
    date = pa.scalar(day, TS).as_py()
    granule = GRANULES[kind]
    if granule == "day":
        return day
    first = date.replace(day=1) if granule == "month" else date.replace(month=1, day=1)
    return int(first.timestamp()) * 1_000_000_000


def reference_groups(table: pa.Table) -> dict[tuple[str, str], list[int]]:
    """(instrument id, file name) -> row indices of ``table`` (sorted by ts_init) that the file holds."""
    kind = kind_of(table)
    groups: dict[tuple[str, int], list[int]] = defaultdict(list)
    times = ns(table["ts_init"])
    for i, (iid, t) in enumerate(zip(table["instrument_id"].to_pylist(), times, strict=False)):
        groups[(iid, granule_start(kind, t))].append(i)
    return {
        (iid, f"{file_timestamp(times[idx[0]])}_{file_timestamp(times[idx[-1]])}.parquet"): idx
        for (iid, _), idx in sorted(groups.items())
    }


def rate_bytes(rate: float) -> bytes:
    """The on-disk ``rate`` cell: the shortest round-trip decimal of the float in plain notation, as a JSON string.

    ``0.0001`` -> ``b'"0.0001"'``, ``-2.345e-05`` -> ``b'"-0.00002345"'``, ``1e-08`` -> ``b'"0.00000001"'``,
    ``0.0`` -> ``b'"0"'`` (what Rust's ``{}`` prints for an ``f64``).
    """
    text = format(Decimal(repr(rate)), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return json.dumps(text).encode()


def ns(column: pa.ChunkedArray) -> list:
    return pc.cast(column, pa.int64()).to_pylist()


def _disk_table(kind: str, rows: pa.Table, instrument_id: str) -> pa.Table:
    ts_event, ts_init = ns(rows["ts_event"]), ns(rows["ts_init"])
    if kind == "funding_rate":
        columns = [
            pa.array([rate_bytes(r) for r in rows["funding_rate"].to_pylist()], pa.binary()),
            pa.array(rows["interval_minutes"].to_pylist(), pa.uint16()),
            pa.array(ns(rows["next_funding_time"]), pa.uint64()),
            pa.array(ts_event, pa.uint64()),
            pa.array(ts_init, pa.uint64()),
        ]
        return pa.Table.from_arrays(columns, schema=FUNDING_FILE.with_metadata({"instrument_id": instrument_id}))
    if kind == "open_interest":
        value = [math.nan if v is None else v for v in rows["open_interest_value"].to_pylist()]
        return pa.table(
            {
                "instrument_id": pa.array([instrument_id] * rows.num_rows, pa.string()),
                "open_interest": rows["open_interest"],
                "open_interest_value": pa.array(value, pa.float64()),
                "type": pa.array(["OpenInterest"] * rows.num_rows, pa.string()),
                "ts_event": pa.array(ts_event, pa.int64()),
                "ts_init": pa.array(ts_init, pa.int64()),
            },
            schema=OPEN_INTEREST_FILE,
        )
    if kind == "liquidation":
        return pa.table(
            {
                "instrument_id": pa.array([instrument_id] * rows.num_rows, pa.string()),
                "side": rows["side"],
                "price": rows["price"],
                "quantity": rows["quantity"],
                "type": pa.array(["Liquidation"] * rows.num_rows, pa.string()),
                "ts_event": pa.array(ts_event, pa.int64()),
                "ts_init": pa.array(ts_init, pa.int64()),
            },
            schema=LIQUIDATION_FILE,
        )
    if kind == "gaps":
        return pa.table(
            {
                "instrument_id": pa.array([instrument_id] * rows.num_rows, pa.string()),
                "stream": rows["stream"],
                "reason": rows["reason"],
                "type": pa.array(["StreamGap"] * rows.num_rows, pa.string()),
                "ts_event": pa.array(ts_event, pa.int64()),
                "ts_init": pa.array(ts_init, pa.int64()),
            },
            schema=STREAM_GAP_FILE,
        )
    raise ValueError(kind)


def kind_of(table: pa.Table) -> str:
    for kind, schema in (
        ("open_interest", OPEN_INTEREST_TABLE),
        ("funding_rate", FUNDING_RATE_TABLE),
        ("liquidation", LIQUIDATION_TABLE),
        ("gaps", STREAM_GAP_TABLE),
    ):
        if table.schema.names == schema.names:
            return kind
    raise ValueError(f"not a table of docs/formats.md#tables: {table.schema.names}")


def write_reference_layout(root, table: pa.Table) -> list[Path]:
    """Write a table as catalog files under ``root``: one file per instrument per granule, rows sorted by ts_init.

    Files already present are overwritten, not merged: callers write each (instrument, granule) once.
    """
    kind = kind_of(table)
    table = table.sort_by([("ts_init", "ascending")])
    written = []
    for (iid, name), idx in reference_groups(table).items():
        folder = Path(root) / "data" / FOLDERS[kind] / iid.replace("/", "")
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / name
        pq.write_table(_disk_table(kind, table.take(idx), iid), path)
        written.append(path)
    return written


# -- sample tables -----------------------------------------------------------------------------------------------------


def table_from_rows(schema: pa.Schema, rows: list[dict]) -> pa.Table:
    return pa.Table.from_pylist(rows, schema=schema)


def identity(instrument_id: str, ts_event: int, ts_init: int | None = None) -> dict:
    venue, symbol = INSTRUMENTS[instrument_id]
    return {
        "venue": venue,
        "symbol": symbol,
        "instrument_id": instrument_id,
        "ts_event": ts_event,
        "ts_init": ts_event if ts_init is None else ts_init,
    }
