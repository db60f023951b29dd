"""NautilusTrader glue: the data classes of the store's folders, and what the catalog needs to read them.

``ParquetStore`` writes the NautilusTrader catalog layout (docs/formats.md#on-disk-catalog), so a catalog opened on
the store's root reads it directly once this module is imported::

    from ccxt_pipeline_rs.nautilus import OpenInterest, Liquidation, StreamGap, FundingRateUpdate, catalog

    cat = catalog("./data")                      # a ParquetDataCatalog, codecs registered
    rates = cat.query(FundingRateUpdate, identifiers=["BTCUSDT-PERP.BINANCE"], start="2025-01-01")
    oi = [d.data for d in cat.query(OpenInterest, identifiers=["BTCUSDT-PERP.BINANCE"])]

What importing this module does:

- defines ``OpenInterest``, ``Liquidation`` and ``StreamGap``, NautilusTrader custom data classes
  (``@customdataclass``); the catalog keeps them in ``data/custom_open_interest/``, ``data/custom_liquidation/`` and
  ``data/custom_stream_gap/``. Queries of custom data return ``CustomData`` wrappers; the row is ``.data``.
- makes ``FundingRateUpdate`` queries correct on every supported NautilusTrader version, chosen by
  ``nautilus_trader.__version__``:

  - 1.221 and 1.222 have no Arrow codec for ``FundingRateUpdate``: this module registers one (schema in
    docs/formats.md#folders-and-columns, instrument id in the schema metadata);
  - from 1.223 NautilusTrader has its own codec, with the same file format, but its decoder returns ``rate`` as a
    ``str``: this module replaces the decoder (NautilusTrader's encoder stays) so that ``rate`` is a ``Decimal``;
  - on every version, the catalog reads each ``<INSTRUMENT_ID>`` folder of ``funding_rate_update`` on its own:
    pyarrow keeps only the first file's schema metadata when it reads several files at once, which would otherwise
    label every row of a multi-instrument query with one instrument.

  The last point wraps a private method, ``ParquetDataCatalog._query_pyarrow``; its signature (and that of
  ``_query_files``, which the wrapper calls) is checked at import, and a mismatch raises
  ``NautilusCompatibilityError`` rather than reading wrong data.

nautilus-trader is an optional dependency: ``pip install "ccxt_pipeline_rs[nautilus]"``. Importing
``ccxt_pipeline_rs`` never imports it; only this module does.
"""

# No `from __future__ import annotations` here: `@customdataclass` maps the real annotation types to Arrow types.

import inspect
import json
import math
import os
import re
from decimal import Decimal

try:
    import nautilus_trader
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
    "NAUTILUS_VERSION",
    "FundingRateUpdate",
    "Liquidation",
    "NautilusCompatibilityError",
    "OpenInterest",
    "StreamGap",
    "catalog",
    "data_config",
]


class NautilusCompatibilityError(RuntimeError):
    """The installed NautilusTrader is not one this module can make read the store correctly: too old, or a private
    method it wraps changed. Raised at import, so that a catalog never silently returns mislabelled rows."""


# -- which NautilusTrader this is --------------------------------------------------------------------------------------

#: The oldest supported release (the last one for Python 3.11).
MIN_VERSION = (1, 221, 0)
#: The first release with its own ``FundingRateUpdate`` Arrow codec and ``FundingRateUpdate.interval``.
NATIVE_FUNDING_CODEC_SINCE = (1, 223, 0)


def _parse_version(text: str) -> tuple[int, int, int]:
    """``"1.231.0"`` -> ``(1, 231, 0)``; pre-release and local suffixes (``1.232.0rc1``, ``1.231.0.dev2``) are
    ignored, so a pre-release counts as its release."""
    match = re.match(r"(\d+)\.(\d+)\.(\d+)", text)
    if match is None:
        raise NautilusCompatibilityError(f"cannot parse the NautilusTrader version {text!r} (expected e.g. '1.231.0')")
    major, minor, patch = (int(g) for g in match.groups())
    return major, minor, patch


def _version_text(version: tuple[int, ...]) -> str:
    return ".".join(str(part) for part in version)


#: The installed NautilusTrader release, as ``(major, minor, patch)``.
NAUTILUS_VERSION = _parse_version(nautilus_trader.__version__)

if NAUTILUS_VERSION < MIN_VERSION:
    raise NautilusCompatibilityError(
        f"ccxt_pipeline_rs.nautilus supports nautilus-trader >= {_version_text(MIN_VERSION)}; installed is "
        f'{nautilus_trader.__version__}: pip install --upgrade "ccxt_pipeline_rs[nautilus]"'
    )

_NATIVE_FUNDING_CODEC = NAUTILUS_VERSION >= NATIVE_FUNDING_CODEC_SINCE


_POSITIONAL = inspect.Parameter.POSITIONAL_OR_KEYWORD
_VAR_KEYWORD = inspect.Parameter.VAR_KEYWORD
_NO_DEFAULT = inspect.Parameter.empty


def _expect_signature(owner: type, name: str, expected: list, *, more_optional: bool = False, role: str) -> None:
    """Fail at import unless ``owner.name`` takes exactly the parameters ``expected`` (name, kind, default), or with
    ``more_optional``, those first and then only parameters that need no argument. ``role`` says what this module
    does with it, for the message."""
    function = inspect.getattr_static(owner, name, None)
    if function is None:
        found = "no such method"
    else:
        params = [(p.name, p.kind, p.default) for p in inspect.signature(function).parameters.values()]
        head, rest = params[: len(expected)], params[len(expected) :]
        optional = all(
            default is not _NO_DEFAULT or kind in (inspect.Parameter.VAR_POSITIONAL, _VAR_KEYWORD)
            for _, kind, default in rest
        )
        if head == expected and (not rest or (more_optional and optional)):
            return
        found = _describe(params)
    raise NautilusCompatibilityError(
        f"{owner.__qualname__}.{name} of nautilus-trader {nautilus_trader.__version__} is not the one "
        f"ccxt_pipeline_rs.nautilus {role} (to read the funding rates of several instruments correctly): "
        f"expected {_describe(expected)}{', then only optional parameters' if more_optional else ''}, found {found}. "
        "Use a nautilus-trader release this ccxt_pipeline_rs "
        "supports (see its README) or upgrade ccxt_pipeline_rs."
    )


def _describe(params) -> str:
    """Parameters as (name, kind, default) -> ``"(self, data_cls, identifiers=None, *, fs, **kwargs)"``."""
    parts = []
    for name, kind, default in params:
        if kind is inspect.Parameter.KEYWORD_ONLY and not any(p.startswith("*") for p in parts):
            parts.append("*")
        prefix = "**" if kind is _VAR_KEYWORD else "*" if kind is inspect.Parameter.VAR_POSITIONAL else ""
        parts.append(f"{prefix}{name}" + ("" if default is _NO_DEFAULT else f"={default!r}"))
    return "(" + ", ".join(parts) + ")"


# ParquetDataCatalog._query_pyarrow, the same on 1.221 and 1.231 (the annotation of filter_expr differs).
_QUERY_PYARROW_PARAMS = [
    ("self", _POSITIONAL, _NO_DEFAULT),
    ("data_cls", _POSITIONAL, _NO_DEFAULT),
    ("identifiers", _POSITIONAL, None),
    ("start", _POSITIONAL, None),
    ("end", _POSITIONAL, None),
    ("filter_expr", _POSITIONAL, None),
    ("files", _POSITIONAL, None),
    ("kwargs", _VAR_KEYWORD, _NO_DEFAULT),
]
# ParquetDataCatalog._query_files, which the wrapper calls as (data_cls, identifiers, start, end); 1.231 has a further
# optional `files`, 1.221 has not.
_QUERY_FILES_PARAMS = [
    ("self", _POSITIONAL, _NO_DEFAULT),
    ("data_cls", _POSITIONAL, _NO_DEFAULT),
    ("identifiers", _POSITIONAL, None),
    ("start", _POSITIONAL, None),
    ("end", _POSITIONAL, None),
]

_expect_signature(ParquetDataCatalog, "_query_pyarrow", _QUERY_PYARROW_PARAMS, role="wraps")
_expect_signature(ParquetDataCatalog, "_query_files", _QUERY_FILES_PARAMS, more_optional=True, role="calls")

if not isinstance(getattr(_arrow, "_ARROW_DECODERS", None), dict):
    raise NautilusCompatibilityError(
        f"nautilus_trader.serialization.arrow.serializer of nautilus-trader {nautilus_trader.__version__} has no "
        "_ARROW_DECODERS registry, which ccxt_pipeline_rs.nautilus checks before registering its FundingRateUpdate "
        "decoder"
    )
if hasattr(FundingRateUpdate, "interval") != _NATIVE_FUNDING_CODEC:
    raise NautilusCompatibilityError(
        f"nautilus-trader {nautilus_trader.__version__}: FundingRateUpdate "
        f"{'has no' if _NATIVE_FUNDING_CODEC else 'has an'} `interval`, unlike every release "
        f"{'from' if _NATIVE_FUNDING_CODEC else 'before'} {_version_text(NATIVE_FUNDING_CODEC_SINCE)}: its version and "
        "its code disagree, so ccxt_pipeline_rs.nautilus cannot tell how to read funding rates with it"
    )


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


# -- custom data: open interest, liquidations, stream gaps -------------------------------------------------------------


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


@customdataclass
class StreamGap(Data):
    """An interval in which a liquidation stream was not delivering, so its events may be missing (folder
    ``custom_stream_gap``, store kind ``gaps``).

    ``ts_event`` is the start of the gap (the first instant not covered), ``ts_init`` its end (delivery resumed, or
    the stream was closed), so a backtest sees the gap when it ends. ``stream`` is the venue's stream or topic name
    (``btcusdt@forceOrder``); ``reason`` one of ``connect_failure``, ``idle_timeout``, ``server_close``,
    ``resubscribe``, ``overflow``, ``shutdown``, ``poll_failure``. A whole-market stream's gaps carry the instrument
    id ``ALL.<VENUE>`` (``ALL.BINANCE``).
    """

    instrument_id: InstrumentId
    stream: str
    reason: str

    @classmethod
    def from_arrow(cls, table) -> list:
        return _decode_rows(cls, table)


# Registered with the decorator's schema; the explicit registration only swaps in the decoders above.
for _cls in (OpenInterest, Liquidation, StreamGap):
    _arrow.register_arrow(_cls, _cls._schema, _cls.to_arrow, _cls.from_arrow)


# -- FundingRateUpdate codec -------------------------------------------------------------------------------------------

#: The on-disk schema of ``data/funding_rate_update/<INSTRUMENT_ID>/*.parquet`` (docs/formats.md#folders-and-columns);
#: each file's schema metadata carries ``instrument_id``.
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
    """``FundingRateUpdate`` (or a list of them, one instrument) -> a record batch in the on-disk schema
    (docs/formats.md#folders-and-columns)."""
    updates = data if isinstance(data, list) else [data]
    if not updates:
        raise ValueError("no funding rate updates to encode")
    instrument_id = updates[0].instrument_id
    if any(u.instrument_id != instrument_id for u in updates):
        raise ValueError("a funding rate batch holds one instrument (its id is schema metadata)")
    intervals = [u.interval for u in updates] if _NATIVE_FUNDING_CODEC else [None] * len(updates)
    columns = [
        pa.array([_rate_cell(u.rate) for u in updates], pa.binary()),
        pa.array(intervals, pa.uint16()),
        pa.array([u.next_funding_ns for u in updates], pa.uint64()),
        pa.array([u.ts_event for u in updates], pa.uint64()),
        pa.array([u.ts_init for u in updates], pa.uint64()),
    ]
    schema = FUNDING_RATE_SCHEMA.with_metadata({_INSTRUMENT_ID_KEY: instrument_id.value.encode()})
    return pa.RecordBatch.from_arrays(columns, schema=schema)


def decode_funding_rates(table) -> list:
    """A table in the on-disk schema (one instrument, named by its schema metadata) -> ``FundingRateUpdate``s
    with ``Decimal`` rates."""
    names = table.schema.names
    if "instrument_id" in names:  # tolerated: a file that names the instrument on every row
        ids = _instrument_ids(table.column("instrument_id").to_pylist())
    else:
        raw = (table.schema.metadata or {}).get(_INSTRUMENT_ID_KEY)
        if raw is None:
            raise ValueError(
                "funding_rate_update data without an instrument id: the schema metadata must carry "
                "'instrument_id' (docs/formats.md#folders-and-columns)"
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
        if _NATIVE_FUNDING_CODEC:  # FundingRateUpdate takes an interval from 1.223
            kwargs["interval"] = intervals[i]
        out.append(
            FundingRateUpdate(instrument_id=ids[i], rate=rates[i], ts_event=ts_event[i], ts_init=ts_init[i], **kwargs)
        )
    return out


def _folder_of(path: str) -> str:
    # catalog paths are fsspec paths ("/" separated on every platform), as NautilusTrader's own filter_files assumes
    return path.rsplit("/", 1)[0]


def _query_per_instrument_folder(original):
    """Wrap ``ParquetDataCatalog._query_pyarrow`` so ``FundingRateUpdate`` files are read one folder at a time.

    The instrument id of funding data is schema metadata, and pyarrow keeps only the first file's metadata when it
    reads several files as one dataset. Reading each ``<INSTRUMENT_ID>`` folder on its own keeps every row with its
    instrument; the results are merged by ``ts_init``. Other data classes go straight to the original.
    """

    def _query_pyarrow(self, data_cls, identifiers=None, start=None, end=None, filter_expr=None, files=None, **kwargs):
        if data_cls is not FundingRateUpdate:
            return original(self, data_cls, identifiers, start, end, filter_expr, files, **kwargs)
        file_list = files if files else self._query_files(data_cls, identifiers, start, end)
        folders: dict[str, list[str]] = {}
        for path in file_list:
            folders.setdefault(_folder_of(path), []).append(path)
        data = []
        for folder_files in folders.values():
            data.extend(original(self, data_cls, None, start, end, filter_expr, folder_files, **kwargs))
        if len(folders) > 1:
            data.sort(key=lambda d: d.ts_init)  # stable: each folder's order is kept within equal timestamps
        return data

    _query_pyarrow.__wrapped__ = original
    _query_pyarrow.__doc__ = original.__doc__
    return _query_pyarrow


def _register_funding_codec() -> bool:
    """Make ``FundingRateUpdate`` queries right on this version; True when NautilusTrader had no codec of its own."""
    native = FundingRateUpdate in _arrow._ARROW_DECODERS
    if native != _NATIVE_FUNDING_CODEC:
        raise NautilusCompatibilityError(
            f"nautilus-trader {nautilus_trader.__version__} {'has an' if native else 'has no'} Arrow decoder for "
            f"FundingRateUpdate, unlike every release {'before' if native else 'from'} "
            f"{_version_text(NATIVE_FUNDING_CODEC_SINCE)}: its version and its code disagree, so "
            "ccxt_pipeline_rs.nautilus cannot tell how to read funding rates with it"
        )
    if _NATIVE_FUNDING_CODEC:
        # Same file format as ours; only the decoder is replaced (theirs leaves `rate` a str). Their schema and
        # encoder stay, so NautilusTrader writes its own files as before.
        _arrow.register_arrow(FundingRateUpdate, _arrow.get_schema(FundingRateUpdate), decoder=decode_funding_rates)
    else:
        _arrow.register_arrow(
            FundingRateUpdate,
            schema=FUNDING_RATE_SCHEMA,
            encoder=encode_funding_rates,
            decoder=decode_funding_rates,
        )
    ParquetDataCatalog._query_pyarrow = _query_per_instrument_folder(ParquetDataCatalog._query_pyarrow)
    return not _NATIVE_FUNDING_CODEC


#: True when this module registered the whole ``FundingRateUpdate`` codec (NautilusTrader < 1.223 has none); from
#: 1.223 only the decoder is replaced.
FUNDING_CODEC_REGISTERED = _register_funding_codec()


# -- from the store to a backtest --------------------------------------------------------------------------------------

#: The store's kinds (``ParquetStore.read(kind)``) and the NautilusTrader class of each.
DATA_CLASSES = {
    "open_interest": OpenInterest,
    "funding_rate": FundingRateUpdate,
    "liquidation": Liquidation,
    "gaps": StreamGap,
}


def catalog(root, **kwargs) -> ParquetDataCatalog:
    """A ``ParquetDataCatalog`` on a ``ParquetStore`` root (``str`` or ``Path``); kwargs go to the catalog."""
    return ParquetDataCatalog(os.fspath(root), **kwargs)


def data_config(root, kind: str, instrument_ids=None, start=None, end=None, client_id: str | None = None):
    """A ``BacktestDataConfig`` reading one kind of the store at ``root`` for a ``BacktestNode``.

    ``kind`` is ``"open_interest"``, ``"funding_rate"``, ``"liquidation"`` or ``"gaps"`` (or one of the classes).
    Custom data (open interest, liquidations, stream gaps) reaches strategies through a data client, so it needs a
    ``client_id``; it defaults to the venue of the first instrument id. NautilusTrader loads data for
    ``instrument_ids`` only if the catalog also holds those instruments' definitions
    (``catalog(root).write_data([instrument])``); the gaps of a whole-market stream (``ALL.BINANCE``) have none, so
    load gaps without ``instrument_ids`` and with ``client_id="BINANCE"``.
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
