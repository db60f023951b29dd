"""Type stubs of the Rust extension module (src/python/)."""

import datetime
from collections.abc import Awaitable, Callable
from os import PathLike
from typing import Any

import pyarrow as pa

__version__: str

class PipelineError(Exception):
    venue: str | None
    code: int | None
    status: int | None
    retry_after: float | None
    suggestions: list[str]

class NetworkError(PipelineError): ...
class RateLimitError(PipelineError): ...
class ExchangeError(PipelineError): ...
class MalformedResponseError(ExchangeError): ...
class SymbolNotFoundError(PipelineError): ...
class UnsupportedError(PipelineError): ...
class InvalidArgumentError(PipelineError): ...
class StoreError(PipelineError): ...
class IncompleteHistoryWarning(UserWarning): ...

DateLike = datetime.datetime | str | int
Progress = Callable[[str, str, int, float], object]  # (venue, instrument_id, rows so far, fraction done)

class _Fetcher:
    def __init__(self, base_url: str | None = None, ws_url: str | None = None) -> None: ...
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
        start: DateLike,
        end: DateLike | None = None,
        period: str = "5m",
        progress: Progress | None = None,
        store: ParquetStore | None = None,
    ) -> pa.Table: ...
    def fetch_open_interest_history_async(
        self,
        symbol: str,
        start: DateLike,
        end: DateLike | None = None,
        period: str = "5m",
        progress: Progress | None = None,
        store: ParquetStore | None = None,
    ) -> Awaitable[pa.Table]: ...
    def fetch_funding_rate_history(
        self,
        symbol: str,
        start: DateLike,
        end: DateLike | None = None,
        progress: Progress | None = None,
        store: ParquetStore | None = None,
    ) -> pa.Table: ...
    def fetch_funding_rate_history_async(
        self,
        symbol: str,
        start: DateLike,
        end: DateLike | None = None,
        progress: Progress | None = None,
        store: ParquetStore | None = None,
    ) -> Awaitable[pa.Table]: ...

class BinanceFetcher(_Fetcher): ...
class BybitFetcher(_Fetcher): ...
class HyperliquidFetcher(_Fetcher): ...

class MultiVenueResult:
    @property
    def table(self) -> pa.Table: ...
    @property
    def failures(self) -> list[PipelineError]: ...
    @property
    def warnings(self) -> list[str]: ...
    @property
    def rows_stored(self) -> int: ...

class Orchestrator:
    def __init__(
        self, exchanges: list[str] | None = None, base_urls: dict[str, str] | None = None, rate_limits: bool = True
    ) -> None: ...
    @property
    def exchanges(self) -> list[str]: ...
    def fetch_open_interest(self, symbol: str) -> MultiVenueResult: ...
    def fetch_open_interest_async(self, symbol: str) -> Awaitable[MultiVenueResult]: ...
    def fetch_funding_rate(self, symbol: str) -> MultiVenueResult: ...
    def fetch_funding_rate_async(self, symbol: str) -> Awaitable[MultiVenueResult]: ...
    def fetch_open_interest_history(
        self,
        symbols: str | list[str],
        start: DateLike,
        end: DateLike | None = None,
        period: str = "5m",
        progress: Progress | None = None,
        store: ParquetStore | None = None,
    ) -> MultiVenueResult: ...
    def fetch_open_interest_history_async(
        self,
        symbols: str | list[str],
        start: DateLike,
        end: DateLike | None = None,
        period: str = "5m",
        progress: Progress | None = None,
        store: ParquetStore | None = None,
    ) -> Awaitable[MultiVenueResult]: ...
    def fetch_funding_rate_history(
        self,
        symbols: str | list[str],
        start: DateLike,
        end: DateLike | None = None,
        progress: Progress | None = None,
        store: ParquetStore | None = None,
    ) -> MultiVenueResult: ...
    def fetch_funding_rate_history_async(
        self,
        symbols: str | list[str],
        start: DateLike,
        end: DateLike | None = None,
        progress: Progress | None = None,
        store: ParquetStore | None = None,
    ) -> Awaitable[MultiVenueResult]: ...

class SimServer:
    def __init__(self, seed: int = 0, port: int = 0, enforce_rate_limits: bool = True) -> None: ...
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
    def shutdown(self) -> None: ...

class ParquetStore:
    """The Parquet store in NautilusTrader's catalog layout. Kinds: ``open_interest``, ``funding_rate``,
    ``liquidation`` and ``gaps`` (liquidation-stream gap records).

    ``lock_timeout``: seconds a write (or ``compact``) waits for another process's lock before raising
    ``StoreError`` naming the holder's PID; ``None`` waits as long as it takes, logging who holds the lock after a
    moment (Ctrl+C interrupts). Readers never take the lock, so a read-only store is readable."""

    def __init__(self, root: str | PathLike[str], lock_timeout: float | None = None) -> None: ...
    @property
    def root(self) -> str: ...
    @property
    def lock_timeout(self) -> float | None: ...
    def write(self, table: pa.Table) -> dict[str, int]: ...
    def read(
        self,
        kind: str,
        symbol: str | None = None,
        venue: str | None = None,
        start: DateLike | None = None,
        end: DateLike | None = None,
    ) -> pa.Table: ...
    def get_last_timestamp(self, kind: str, venue: str, symbol: str) -> datetime.datetime | None: ...
    def compact(self) -> dict[str, Any]:
        """``files_before``, ``files_after``, ``stale_temp_files_removed``, ``duplicates_removed`` and
        ``quarantined`` (new paths of unreadable files moved to ``<root>/quarantine/``)."""
    def summary(self) -> list[dict[str, Any]]:
        """One dict per dataset: ``kind``, ``instrument_id``, ``files``, ``rows``, ``first``, ``last``,
        ``corrupt`` (unreadable data files, skipped by reads) and ``quarantined`` (files already moved aside)."""

def to_epoch_ns(value: DateLike) -> int:
    """A date as epoch nanoseconds: datetime (naive = UTC), ISO-8601 string or epoch milliseconds."""
