"""Type stubs of the Rust extension module (src/python/)."""

import datetime
from collections.abc import Awaitable, Callable
from os import PathLike
from typing import Any, Self, final

import pyarrow as pa

# The exception classes are plain Python classes with typed attributes (ccxt_pipeline_rs/errors.py), re-exported
# (listed in __all__).
from ccxt_pipeline_rs.errors import (
    ExchangeError,
    IncompleteHistoryWarning,
    InternalError,
    InvalidArgumentError,
    MalformedResponseError,
    NetworkError,
    PipelineError,
    RateLimitError,
    StoreError,
    SymbolNotFoundError,
    UnsupportedError,
)

# What the module exports (PyO3 fills `__all__` with every name it adds).
__all__ = [
    "PipelineError",
    "NetworkError",
    "RateLimitError",
    "ExchangeError",
    "MalformedResponseError",
    "SymbolNotFoundError",
    "UnsupportedError",
    "InvalidArgumentError",
    "StoreError",
    "InternalError",
    "IncompleteHistoryWarning",
    "VENUES",
    "KINDS",
    "venue_from_name",
    "base_url_from_env",
    "ws_url_from_env",
    "CCXTPipelineConfig",
    "BinanceFetcher",
    "BybitFetcher",
    "HyperliquidFetcher",
    "Orchestrator",
    "MultiVenueResult",
    "SimServer",
    "ParquetStore",
    "LiquidationStream",
    "DaemonRunner",
    "daemon_pid",
    "to_epoch_ns",
    "history_date_ns",
    "_panic_for_tests",
    "__version__",
]

__version__: str

VENUES: tuple[str, ...]
KINDS: tuple[str, ...]

def venue_from_name(name: str) -> str:
    """The canonical name of a venue, aliases accepted (``binanceusdm`` -> ``binance``)."""

def base_url_from_env(venue: str) -> str:
    """``CCXT_PIPELINE_<VENUE>_URL`` if set and not blank, else the production REST base URL."""

def ws_url_from_env(venue: str) -> str:
    """``CCXT_PIPELINE_<VENUE>_WS_URL`` if set and not blank, else the production WebSocket base URL."""

def _panic_for_tests(asynchronous: bool = False, blocking: bool = False) -> Any: ...

_DateLike = datetime.datetime | str | int
_Progress = Callable[[str, str, int, float], object]  # (venue, instrument_id, rows so far, fraction done)

# The three fetcher classes have the same methods (one Rust macro defines them) but no common base class at runtime,
# so each is declared in full rather than through a base class that `isinstance` would not know.
@final
class BinanceFetcher:
    def __new__(
        cls,
        base_url: str | None = None,
        ws_url: str | None = None,
        timeout: float | None = None,
        *,
        retries: int | None = None,
        rate_limits: bool = True,
    ) -> Self: ...
    @property
    def venue(self) -> str: ...
    @property
    def base_url(self) -> str: ...
    def fetch_open_interest(self, symbol: str) -> pa.Table: ...
    def fetch_open_interest_async(self, symbol: str) -> Awaitable[pa.Table]: ...
    def fetch_funding_rate(self, symbol: str) -> pa.Table: ...
    def fetch_funding_rate_async(self, symbol: str) -> Awaitable[pa.Table]: ...
    def fetch_open_interest_history(
        self,
        symbol: str,
        start: _DateLike,
        end: _DateLike | None = None,
        period: str = ...,  # "5m"
        progress: _Progress | None = None,
        store: ParquetStore | None = None,
        *,
        collect: bool = True,
    ) -> pa.Table: ...
    def fetch_open_interest_history_async(
        self,
        symbol: str,
        start: _DateLike,
        end: _DateLike | None = None,
        period: str = ...,  # "5m"
        progress: _Progress | None = None,
        store: ParquetStore | None = None,
        *,
        collect: bool = True,
    ) -> Awaitable[pa.Table]: ...
    def fetch_funding_rate_history(
        self,
        symbol: str,
        start: _DateLike,
        end: _DateLike | None = None,
        progress: _Progress | None = None,
        store: ParquetStore | None = None,
        *,
        collect: bool = True,
    ) -> pa.Table: ...
    def fetch_funding_rate_history_async(
        self,
        symbol: str,
        start: _DateLike,
        end: _DateLike | None = None,
        progress: _Progress | None = None,
        store: ParquetStore | None = None,
        *,
        collect: bool = True,
    ) -> Awaitable[pa.Table]: ...
    def stream_liquidations(
        self,
        symbols: str | list[str] | None = None,
        *,
        store: ParquetStore | None = None,
        batch_rows: int = 1000,
        batch_seconds: float = 1.0,
        all_market: bool = False,
        addresses: list[str] | None = None,
        queue_rows: int = 100_000,
        idle_timeout: float = 60.0,
        max_connection_age: float | None = None,
        poll_interval: float = 5.0,
    ) -> LiquidationStream: ...

@final
class BybitFetcher:
    def __new__(
        cls,
        base_url: str | None = None,
        ws_url: str | None = None,
        timeout: float | None = None,
        *,
        retries: int | None = None,
        rate_limits: bool = True,
    ) -> Self: ...
    @property
    def venue(self) -> str: ...
    @property
    def base_url(self) -> str: ...
    def fetch_open_interest(self, symbol: str) -> pa.Table: ...
    def fetch_open_interest_async(self, symbol: str) -> Awaitable[pa.Table]: ...
    def fetch_funding_rate(self, symbol: str) -> pa.Table: ...
    def fetch_funding_rate_async(self, symbol: str) -> Awaitable[pa.Table]: ...
    def fetch_open_interest_history(
        self,
        symbol: str,
        start: _DateLike,
        end: _DateLike | None = None,
        period: str = ...,  # "5m"
        progress: _Progress | None = None,
        store: ParquetStore | None = None,
        *,
        collect: bool = True,
    ) -> pa.Table: ...
    def fetch_open_interest_history_async(
        self,
        symbol: str,
        start: _DateLike,
        end: _DateLike | None = None,
        period: str = ...,  # "5m"
        progress: _Progress | None = None,
        store: ParquetStore | None = None,
        *,
        collect: bool = True,
    ) -> Awaitable[pa.Table]: ...
    def fetch_funding_rate_history(
        self,
        symbol: str,
        start: _DateLike,
        end: _DateLike | None = None,
        progress: _Progress | None = None,
        store: ParquetStore | None = None,
        *,
        collect: bool = True,
    ) -> pa.Table: ...
    def fetch_funding_rate_history_async(
        self,
        symbol: str,
        start: _DateLike,
        end: _DateLike | None = None,
        progress: _Progress | None = None,
        store: ParquetStore | None = None,
        *,
        collect: bool = True,
    ) -> Awaitable[pa.Table]: ...
    def stream_liquidations(
        self,
        symbols: str | list[str] | None = None,
        *,
        store: ParquetStore | None = None,
        batch_rows: int = 1000,
        batch_seconds: float = 1.0,
        all_market: bool = False,
        addresses: list[str] | None = None,
        queue_rows: int = 100_000,
        idle_timeout: float = 60.0,
        max_connection_age: float | None = None,
        poll_interval: float = 5.0,
    ) -> LiquidationStream: ...

@final
class HyperliquidFetcher:
    def __new__(
        cls,
        base_url: str | None = None,
        ws_url: str | None = None,
        timeout: float | None = None,
        *,
        retries: int | None = None,
        rate_limits: bool = True,
    ) -> Self: ...
    @property
    def venue(self) -> str: ...
    @property
    def base_url(self) -> str: ...
    def fetch_open_interest(self, symbol: str) -> pa.Table: ...
    def fetch_open_interest_async(self, symbol: str) -> Awaitable[pa.Table]: ...
    def fetch_funding_rate(self, symbol: str) -> pa.Table: ...
    def fetch_funding_rate_async(self, symbol: str) -> Awaitable[pa.Table]: ...
    def fetch_open_interest_history(
        self,
        symbol: str,
        start: _DateLike,
        end: _DateLike | None = None,
        period: str = ...,  # "5m"
        progress: _Progress | None = None,
        store: ParquetStore | None = None,
        *,
        collect: bool = True,
    ) -> pa.Table: ...
    def fetch_open_interest_history_async(
        self,
        symbol: str,
        start: _DateLike,
        end: _DateLike | None = None,
        period: str = ...,  # "5m"
        progress: _Progress | None = None,
        store: ParquetStore | None = None,
        *,
        collect: bool = True,
    ) -> Awaitable[pa.Table]: ...
    def fetch_funding_rate_history(
        self,
        symbol: str,
        start: _DateLike,
        end: _DateLike | None = None,
        progress: _Progress | None = None,
        store: ParquetStore | None = None,
        *,
        collect: bool = True,
    ) -> pa.Table: ...
    def fetch_funding_rate_history_async(
        self,
        symbol: str,
        start: _DateLike,
        end: _DateLike | None = None,
        progress: _Progress | None = None,
        store: ParquetStore | None = None,
        *,
        collect: bool = True,
    ) -> Awaitable[pa.Table]: ...
    def stream_liquidations(
        self,
        symbols: str | list[str] | None = None,
        *,
        store: ParquetStore | None = None,
        batch_rows: int = 1000,
        batch_seconds: float = 1.0,
        all_market: bool = False,
        addresses: list[str] | None = None,
        queue_rows: int = 100_000,
        idle_timeout: float = 60.0,
        max_connection_age: float | None = None,
        poll_interval: float = 5.0,
    ) -> LiquidationStream: ...

@final
class MultiVenueResult:
    @property
    def table(self) -> pa.Table: ...
    @property
    def failures(self) -> list[PipelineError]: ...
    @property
    def warnings(self) -> list[str]: ...
    @property
    def rows_stored(self) -> int: ...

@final
class Orchestrator:
    def __new__(
        cls,
        exchanges: list[str] | None = None,
        base_urls: dict[str, str] | None = None,
        rate_limits: bool = True,
        timeout: float | None = None,
        ws_urls: dict[str, str] | None = None,
        *,
        retries: int | None = None,
    ) -> Self: ...
    def stream_liquidations(
        self,
        symbols: str | list[str] | None = None,
        *,
        store: ParquetStore | None = None,
        batch_rows: int = 1000,
        batch_seconds: float = 1.0,
        all_market: bool = False,
        addresses: list[str] | None = None,
        queue_rows: int = 100_000,
        idle_timeout: float = 60.0,
        max_connection_age: float | None = None,
        poll_interval: float = 5.0,
    ) -> LiquidationStream: ...
    @property
    def exchanges(self) -> list[str]: ...
    def fetch_open_interest(self, symbol: str) -> MultiVenueResult: ...
    def fetch_open_interest_async(self, symbol: str) -> Awaitable[MultiVenueResult]: ...
    def fetch_funding_rate(self, symbol: str) -> MultiVenueResult: ...
    def fetch_funding_rate_async(self, symbol: str) -> Awaitable[MultiVenueResult]: ...
    def fetch_open_interest_history(
        self,
        symbols: str | list[str],
        start: _DateLike,
        end: _DateLike | None = None,
        period: str = ...,  # "5m"
        progress: _Progress | None = None,
        store: ParquetStore | None = None,
        *,
        collect: bool = True,
    ) -> MultiVenueResult: ...
    def fetch_open_interest_history_async(
        self,
        symbols: str | list[str],
        start: _DateLike,
        end: _DateLike | None = None,
        period: str = ...,  # "5m"
        progress: _Progress | None = None,
        store: ParquetStore | None = None,
        *,
        collect: bool = True,
    ) -> Awaitable[MultiVenueResult]: ...
    def fetch_funding_rate_history(
        self,
        symbols: str | list[str],
        start: _DateLike,
        end: _DateLike | None = None,
        progress: _Progress | None = None,
        store: ParquetStore | None = None,
        *,
        collect: bool = True,
    ) -> MultiVenueResult: ...
    def fetch_funding_rate_history_async(
        self,
        symbols: str | list[str],
        start: _DateLike,
        end: _DateLike | None = None,
        progress: _Progress | None = None,
        store: ParquetStore | None = None,
        *,
        collect: bool = True,
    ) -> Awaitable[MultiVenueResult]: ...

@final
class LiquidationStream:
    """Live liquidations as small tables (sync and async iterator, context manager); see the README."""

    def __iter__(self) -> LiquidationStream: ...
    def __next__(self) -> pa.Table: ...
    def __aiter__(self) -> LiquidationStream: ...
    def __anext__(self) -> Awaitable[pa.Table]: ...
    def get(self, timeout: float | None = None) -> pa.Table | None: ...
    def close(self) -> None: ...
    def aclose(self) -> Awaitable[None]: ...
    def __enter__(self) -> LiquidationStream: ...
    def __exit__(self, _ty: object, _value: object, _tb: object) -> bool: ...
    def __aenter__(self) -> Awaitable[LiquidationStream]: ...
    def __aexit__(self, _ty: object, _value: object, _tb: object) -> Awaitable[bool]: ...
    @property
    def gaps(self) -> pa.Table: ...
    @property
    def failures(self) -> list[PipelineError]: ...
    @property
    def events(self) -> int: ...
    @property
    def duplicates(self) -> int: ...
    @property
    def reconnects(self) -> int: ...
    @property
    def planned_reconnects(self) -> int: ...
    @property
    def dropped(self) -> int: ...
    @property
    def malformed(self) -> int: ...
    @property
    def connected(self) -> int: ...
    @property
    def stored(self) -> int: ...

@final
class DaemonRunner:
    """Runs the collector of a ``CCXTPipelineConfig`` until ``stop()``, SIGTERM or Ctrl+C (all graceful)."""

    def __new__(cls, config: CCXTPipelineConfig) -> Self: ...
    def run(self) -> None: ...
    def run_async(self) -> Awaitable[None]: ...
    def stop(self) -> None: ...
    @property
    def data_dir(self) -> str: ...

def daemon_pid(data_dir: str | PathLike[str]) -> int | None:
    """The PID of the daemon running on ``data_dir``, or None."""

@final
class SimServer:
    def __new__(
        cls, seed: int = 0, port: int = 0, enforce_rate_limits: bool = True, liquidation_rate: float | None = None
    ) -> Self: ...
    @property
    def port(self) -> int: ...
    def base_url(self, venue_name: str) -> str: ...
    def set_latency(self, venue_name: str, seconds: float) -> None: ...
    def set_clock_ms(self, now_ms: int | None = None) -> None: ...
    def now_ms(self) -> int: ...
    def inject_status(
        self, venue_name: str, status: int, body: str, count: int = 1, retry_after_secs: int | None = None
    ) -> None: ...
    def request_count(self, venue_name: str) -> int: ...
    def ws_base_url(self, venue_name: str) -> str: ...
    def set_liquidation_rate(self, venue_name: str, per_second: float) -> None: ...
    def liquidation_symbols(self, venue_name: str) -> list[str]: ...
    def liquidations_emitted(self, venue_name: str) -> list[dict[str, Any]]: ...
    def liquidations_evicted(self, venue_name: str) -> int: ...
    def ws_connection_attempts(self, venue_name: str) -> list[tuple[int, bool]]: ...
    def ws_open_connections(self, venue_name: str) -> int: ...
    def inject_ws_fault(
        self, venue_name: str, kind: str, seconds: float | None = None, count: int | None = None
    ) -> None: ...
    def set_ws_ping_interval(self, seconds_between: float) -> None: ...
    def set_ws_queue_capacity(self, frames: int) -> None: ...
    def hyperliquid_user_fills_json(self, user: str, start_ms: int, end_ms: int | None = None) -> str: ...
    def shutdown(self) -> None: ...

@final
class ParquetStore:
    """The Parquet store in NautilusTrader's catalog layout. Kinds: ``open_interest``, ``funding_rate``,
    ``liquidation`` and ``gaps`` (liquidation-stream gap records).

    ``lock_timeout``: seconds a write (or ``compact``) waits for another process's lock before raising
    ``StoreError`` naming the holder's PID; ``None`` waits as long as it takes, logging who holds the lock after a
    moment (Ctrl+C interrupts). Readers never take the lock, so a read-only store is readable."""

    def __new__(cls, root: str | PathLike[str], lock_timeout: float | None = None) -> Self: ...
    @property
    def root(self) -> str: ...
    @property
    def rows_added(self) -> int:
        """Rows this store object has added since it was opened (``write``, fetches and streams given it)."""
    def wait_for_writes(self, timeout: float = 10.0) -> bool:
        """Waits until no write through this store is under way (e.g. the page a cancelled fetch had handed to the
        disk); ``False`` if one still is after ``timeout`` seconds. Then ``rows_added`` is final."""
    @property
    def lock_timeout(self) -> float | None: ...
    def write(self, table: pa.Table) -> dict[str, int]: ...
    def read(
        self,
        kind: str,
        symbol: str | None = None,
        venue: str | None = None,
        start: _DateLike | None = None,
        end: _DateLike | None = None,
    ) -> pa.Table: ...
    def get_last_timestamp(self, kind: str, venue: str, symbol: str) -> datetime.datetime | None: ...
    def compact(self) -> dict[str, Any]:
        """``files_before``, ``files_after``, ``stale_temp_files_removed``, ``duplicates_removed`` and
        ``quarantined`` (new paths of unreadable files moved to ``<root>/quarantine/``)."""
    def summary(self) -> list[dict[str, Any]]:
        """One dict per dataset: ``kind``, ``instrument_id``, ``files``, ``rows``, ``first``, ``last``,
        ``corrupt`` (unreadable data files, skipped by reads) and ``quarantined`` (files already moved aside)."""

@final
class CCXTPipelineConfig:
    """The daemon's configuration: defaults < TOML file < ``CCXT_PIPELINE_*`` environment < overrides (flags).

    Keys are dotted as in the file (``snapshots.open_interest_interval``). A bad value raises
    ``InvalidArgumentError`` naming where it came from, the key, the value and what is allowed.
    """

    KEYS: list[str]
    def __new__(cls, **keys: Any) -> Self: ...
    @staticmethod
    def from_file(path: str | PathLike[str], *, env: bool = True) -> CCXTPipelineConfig: ...
    @staticmethod
    def from_dict(data: dict[str, Any], *, env: bool = False) -> CCXTPipelineConfig: ...
    @staticmethod
    def env_var(key: str) -> str: ...
    @staticmethod
    def unknown_env_vars() -> list[str]: ...
    def with_env(self) -> CCXTPipelineConfig: ...
    def with_overrides(self, overrides: dict[str, Any], *, origin: str = "overrides") -> CCXTPipelineConfig: ...
    @property
    def source(self) -> str | None: ...
    @property
    def data_dir(self) -> str: ...
    @property
    def venues(self) -> list[str]: ...
    @property
    def symbols(self) -> list[str] | None: ...
    @property
    def top_n_by_open_interest(self) -> int | None: ...
    @property
    def open_interest_interval(self) -> datetime.timedelta | None: ...
    @property
    def funding_interval(self) -> datetime.timedelta | None: ...
    @property
    def history_catch_up(self) -> datetime.timedelta | None: ...
    @property
    def history_period(self) -> str: ...
    @property
    def liquidations(self) -> bool: ...
    @property
    def liquidations_all_market(self) -> bool: ...
    @property
    def hyperliquid_addresses(self) -> list[str]: ...
    @property
    def base_urls(self) -> dict[str, str]: ...
    @property
    def ws_urls(self) -> dict[str, str]: ...
    @property
    def flush_interval(self) -> datetime.timedelta: ...
    @property
    def compaction_interval(self) -> datetime.timedelta | None: ...
    @property
    def log_level(self) -> str: ...
    @property
    def log_file(self) -> str | None: ...
    @property
    def metrics_port(self) -> int | None: ...
    def to_dict(self) -> dict[str, Any]: ...
    def to_toml(self) -> str: ...

def history_date_ns(value: _DateLike, what: str = "start") -> int:
    """A history bound as epoch nanoseconds, refused before the venues existed (with a hint for epoch seconds)."""

def to_epoch_ns(value: _DateLike) -> int:
    """A date as epoch nanoseconds: datetime (naive = UTC), ISO-8601 string or epoch milliseconds."""
