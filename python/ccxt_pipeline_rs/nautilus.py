"""NautilusTrader glue: the data classes of the store's folders, and what the catalog needs to read them.

``ParquetStore`` writes the NautilusTrader catalog layout (DESIGN §4), so a catalog opened on the store's root
reads it directly once this module is imported::

    from ccxt_pipeline_rs.nautilus import OpenInterest, Liquidation, FundingRateUpdate, catalog

    cat = catalog("./data")                      # a ParquetDataCatalog, codecs registered
    rates = cat.query(FundingRateUpdate, identifiers=["BTCUSDT-PERP.BINANCE"], start="2025-01-01")
    oi = [d.data for d in cat.query(OpenInterest, identifiers=["BTCUSDT-PERP.BINANCE"])]

What importing this module does:

- defines ``OpenInterest`` and ``Liquidation``, NautilusTrader custom data classes (``@customdataclass``); the
  catalog keeps them in ``data/custom_open_interest/`` and ``data/custom_liquidation/``. Queries of custom data
  return ``CustomData`` wrappers; the row is ``.data``.
- on NautilusTrader versions that cannot read ``FundingRateUpdate`` from Parquet (1.221, the last release for
  Python 3.11), registers an Arrow codec for it (schema of DESIGN §4, instrument id in the schema metadata) and
  makes the catalog read each instrument folder on its own: pyarrow keeps only the first file's schema metadata
  when it reads several files at once, which would otherwise label every row with one instrument.

nautilus-trader is an optional dependency: ``pip install "ccxt_pipeline_rs[nautilus]"``. Importing
``ccxt_pipeline_rs`` never imports it; only this module does.
"""

# No `from __future__ import annotations` here: `@customdataclass` maps the real annotation types to Arrow types.

import json
import math
import os
from decimal import Decimal

try:
    import pyarrow as pa
    from nautilus_trader.core.data import Data
    from nautilus_trader.model.custom import customdataclass
    from nautilus_trader.model.data import FundingRateUpdate
    from nautilus_trader.model.identifiers import InstrumentId
    from nautilus_trader.persistence.catalog.parquet import ParquetDataCatalog
    from nautilus_trader.serialization.arrow import serializer as _arrow
except ImportError as exc:  # pragma: no cover - exercised in a subprocess by the tests
    raise ImportError(
        "ccxt_pipeline_rs.nautilus needs NautilusTrader (nautilus-trader >= 1.221): "
        f'pip install "ccxt_pipeline_rs[nautilus]" ({exc})'
    ) from exc

__all__ = [
    "DATA_CLASSES",
    "FUNDING_RATE_SCHEMA",
    "FUNDING_CODEC_REGISTERED",
    "FundingRateUpdate",
    "Liquidation",
    "OpenInterest",
    "catalog",
    "data_config",
]


def _instrument_ids(values) -> list:
    """``InstrumentId`` objects for a column of strings, parsing each distinct string once."""
    cache: dict = {}
    out = []
    for value in values:
        iid = cache.get(value)
        if iid is None:
            iid = cache[value] = InstrumentId.from_str(value)
        out.append(iid)
    return out


# -- custom data: open interest and liquidations -----------------------------------------------------------------------


def _decode_rows(cls, table) -> list:
    """Table rows → instances of a custom data class, by column name (extra columns are ignored, unlike the
    decorator's own decoder); a null float reads as NaN, which is how the writer stores an absent value."""
    fields = list(cls.__annotations__)
    columns = {name: table.column(name).to_pylist() for name in fields}
    columns["instrument_id"] = _instrument_ids(columns["instrument_id"])
    floats = {name for name, kind in cls.__annotations__.items() if kind is float}
    ts_event = table.column("ts_event").to_pylist()
    ts_init = table.column("ts_init").to_pylist()
    return [
        cls(
            ts_event=ts_event[i],
            ts_init=ts_init[i],
            **{name: math.nan if name in floats and columns[name][i] is None else columns[name][i] for name in fields},
        )
        for i in range(table.num_rows)
    ]


@customdataclass
class OpenInterest(Data):
    """Open interest of one instrument at ``ts_event`` (folder ``custom_open_interest``).

    ``open_interest`` is in base units; ``open_interest_value`` in quote units, NaN when the venue gave none.
    Constructed with keywords: ``OpenInterest(instrument_id=..., open_interest=..., open_interest_value=...,
    ts_event=..., ts_init=...)`` (the first two positional arguments are ``ts_event`` and ``ts_init``).
    """

    instrument_id: InstrumentId
    open_interest: float
    open_interest_value: float

    @classmethod
    def from_arrow(cls, table) -> list:
        return _decode_rows(cls, table)


@customdataclass
class Liquidation(Data):
    """One forced order (folder ``custom_liquidation``).

    ``side`` is the side of the liquidation order: ``"SELL"`` = a long was liquidated, ``"BUY"`` = a short.
    ``price`` in quote currency, ``quantity`` in base units.
    """

    instrument_id: InstrumentId
    side: str
    price: float
    quantity: float

    @classmethod
    def from_arrow(cls, table) -> list:
        return _decode_rows(cls, table)


# Registered with the decorator's schema; the explicit registration only swaps in the decoders above.
_arrow.register_arrow(OpenInterest, OpenInterest._schema, OpenInterest.to_arrow, OpenInterest.from_arrow)
_arrow.register_arrow(Liquidation, Liquidation._schema, Liquidation.to_arrow, Liquidation.from_arrow)


# -- FundingRateUpdate codec (NautilusTrader < 1.223) ------------------------------------------------------------------

#: The on-disk schema of ``data/funding_rate_update/<INSTRUMENT_ID>/*.parquet`` (DESIGN §4); each file's schema
#: metadata carries ``instrument_id``.
FUNDING_RATE_SCHEMA = pa.schema(
    [
        pa.field("rate", pa.binary(), nullable=False),
        pa.field("interval", pa.uint16(), nullable=True),
        pa.field("next_funding_ns", pa.uint64(), nullable=True),
        pa.field("ts_event", pa.uint64(), nullable=False),
        pa.field("ts_init", pa.uint64(), nullable=False),
    ]
)

_INSTRUMENT_ID_KEY = b"instrument_id"


def _funding_has_interval() -> bool:
    """Whether ``FundingRateUpdate`` takes an ``interval`` (it does from NautilusTrader 1.223)."""
    try:
        FundingRateUpdate(
            instrument_id=InstrumentId.from_str("X-PERP.TEST"), rate=Decimal(0), ts_event=0, ts_init=0, interval=None
        )
    except Exception:
        return False
    return True


_FUNDING_HAS_INTERVAL = _funding_has_interval()


def _rate_cell(rate) -> bytes:
    """A rate as the JSON string of its plain decimal form: ``Decimal("0.0001")`` -> ``b'"0.0001"'``."""
    if not isinstance(rate, Decimal):
        rate = Decimal(repr(rate)) if isinstance(rate, float) else Decimal(str(rate))
    return json.dumps(format(rate, "f")).encode()


def _rate_value(cell) -> Decimal:
    """The inverse of ``_rate_cell``; also accepts a bare JSON number or plain text."""
    if isinstance(cell, bytes | bytearray):
        cell = cell.decode()
    try:
        cell = json.loads(cell)
    except ValueError:
        pass
    return Decimal(str(cell))


def encode_funding_rates(data) -> pa.RecordBatch:
    """``FundingRateUpdate`` (or a list of them, one instrument) -> a record batch in the DESIGN §4 schema."""
    updates = data if isinstance(data, list) else [data]
    if not updates:
        raise ValueError("no funding rate updates to encode")
    instrument_id = updates[0].instrument_id
    if any(u.instrument_id != instrument_id for u in updates):
        raise ValueError("a funding rate batch holds one instrument (its id is schema metadata)")
    columns = [
        pa.array([_rate_cell(u.rate) for u in updates], pa.binary()),
        pa.array([getattr(u, "interval", None) for u in updates], pa.uint16()),
        pa.array([u.next_funding_ns for u in updates], pa.uint64()),
        pa.array([u.ts_event for u in updates], pa.uint64()),
        pa.array([u.ts_init for u in updates], pa.uint64()),
    ]
    schema = FUNDING_RATE_SCHEMA.with_metadata({_INSTRUMENT_ID_KEY: instrument_id.value.encode()})
    return pa.RecordBatch.from_arrays(columns, schema=schema)


def decode_funding_rates(table) -> list:
    """A table in the DESIGN §4 schema (one instrument, named by its schema metadata) -> ``FundingRateUpdate``s."""
    names = table.schema.names
    if "instrument_id" in names:  # tolerated: a file that names the instrument on every row
        ids = _instrument_ids(table.column("instrument_id").to_pylist())
    else:
        raw = (table.schema.metadata or {}).get(_INSTRUMENT_ID_KEY)
        if raw is None:
            raise ValueError(
                "funding_rate_update data without an instrument id: the schema metadata must carry "
                "'instrument_id' (DESIGN §4)"
            )
        ids = [InstrumentId.from_str(raw.decode())] * table.num_rows
    rates = [_rate_value(cell) for cell in table.column("rate").to_pylist()]
    nulls = [None] * table.num_rows
    intervals = table.column("interval").to_pylist() if "interval" in names else nulls
    next_ns = table.column("next_funding_ns").to_pylist() if "next_funding_ns" in names else nulls
    ts_event = table.column("ts_event").to_pylist()
    ts_init = table.column("ts_init").to_pylist()
    out = []
    for i in range(table.num_rows):
        kwargs = {"next_funding_ns": next_ns[i]}
        if _FUNDING_HAS_INTERVAL:
            kwargs["interval"] = intervals[i]
        out.append(
            FundingRateUpdate(instrument_id=ids[i], rate=rates[i], ts_event=ts_event[i], ts_init=ts_init[i], **kwargs)
        )
    return out


def _nautilus_reads_funding_rates() -> bool:
    """Whether the installed NautilusTrader has its own Arrow codec for ``FundingRateUpdate``."""
    decoder = getattr(_arrow, "_ARROW_DECODERS", {}).get(FundingRateUpdate)
    if decoder is decode_funding_rates:
        return False  # ours, from an earlier import (reload)
    return (
        decoder is not None
        or FundingRateUpdate in _arrow.list_schemas()
        or FundingRateUpdate in getattr(_arrow, "RUST_SERIALIZERS", ())
    )


def _query_per_instrument_folder(original):
    """Wrap ``ParquetDataCatalog._query_pyarrow`` so ``FundingRateUpdate`` files are read one folder at a time.

    The instrument id of funding data is schema metadata, and pyarrow keeps only the first file's metadata when it
    reads several files as one dataset. Reading each ``<INSTRUMENT_ID>`` folder on its own keeps every row with its
    instrument; the results are merged by ``ts_init``. Other data classes go straight to the original.
    """

    def _query_pyarrow(self, data_cls, identifiers=None, start=None, end=None, filter_expr=None, files=None, **kw):
        if data_cls is not FundingRateUpdate:
            return original(self, data_cls, identifiers, start, end, filter_expr=filter_expr, files=files, **kw)
        file_list = files if files else self._query_files(data_cls, identifiers, start, end)
        folders: dict[str, list[str]] = {}
        for path in file_list:
            folders.setdefault(os.path.dirname(path), []).append(path)
        data = []
        for folder_files in folders.values():
            data.extend(original(self, data_cls, None, start, end, filter_expr=filter_expr, files=folder_files, **kw))
        if len(folders) > 1:
            data.sort(key=lambda d: d.ts_init)  # stable: each folder's order is kept within equal timestamps
        return data

    _query_pyarrow.__wrapped__ = original
    _query_pyarrow.__doc__ = original.__doc__
    _query_pyarrow._ccxt_pipeline_rs = True
    return _query_pyarrow


def _register_funding_codec() -> bool:
    if _nautilus_reads_funding_rates():
        return False
    _arrow.register_arrow(
        FundingRateUpdate,
        schema=FUNDING_RATE_SCHEMA,
        encoder=encode_funding_rates,
        decoder=decode_funding_rates,
    )
    current = ParquetDataCatalog._query_pyarrow
    if not getattr(current, "_ccxt_pipeline_rs", False):
        ParquetDataCatalog._query_pyarrow = _query_per_instrument_folder(current)
    return True


#: True when this module registered the ``FundingRateUpdate`` codec (NautilusTrader had none).
FUNDING_CODEC_REGISTERED = _register_funding_codec()


# -- from the store to a backtest --------------------------------------------------------------------------------------

#: The store's kinds (``ParquetStore.read(kind)``) and the NautilusTrader class of each.
DATA_CLASSES = {
    "open_interest": OpenInterest,
    "funding_rate": FundingRateUpdate,
    "liquidation": Liquidation,
}


def catalog(root, **kwargs) -> ParquetDataCatalog:
    """A ``ParquetDataCatalog`` on a ``ParquetStore`` root (``str`` or ``Path``); kwargs go to the catalog."""
    return ParquetDataCatalog(os.fspath(root), **kwargs)


def data_config(root, kind: str, instrument_ids=None, start=None, end=None, client_id: str | None = None):
    """A ``BacktestDataConfig`` reading one kind of the store at ``root`` for a ``BacktestNode``.

    ``kind`` is ``"open_interest"``, ``"funding_rate"`` or ``"liquidation"`` (or one of the classes). Custom data
    (open interest, liquidations) reaches strategies through a data client, so it needs a ``client_id``; it defaults
    to the venue of the first instrument id. NautilusTrader loads data for ``instrument_ids`` only if the catalog
    also holds those instruments' definitions (``catalog(root).write_data([instrument])``).
    """
    from nautilus_trader.config import BacktestDataConfig

    data_cls = DATA_CLASSES.get(kind, kind)
    if data_cls not in DATA_CLASSES.values():
        raise ValueError(f"unknown kind {kind!r}: expected one of {', '.join(DATA_CLASSES)}")
    ids = [str(i) for i in instrument_ids] if instrument_ids is not None else None
    if client_id is None and data_cls is not FundingRateUpdate and ids:
        client_id = InstrumentId.from_str(ids[0]).venue.value
    return BacktestDataConfig(
        catalog_path=os.fspath(root),
        data_cls=f"{data_cls.__module__}:{data_cls.__qualname__}",
        instrument_ids=ids,
        start_time=start,
        end_time=end,
        client_id=client_id,
    )
