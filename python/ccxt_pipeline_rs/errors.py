"""The exception hierarchy (docs/architecture.md#errors).

Plain Python classes with typed attributes, so that type checkers, ``pickle`` and ``except ValueError`` see what
they expect. The Rust core (``src/python/errors.rs``) imports this module and raises instances of these classes;
``ccxt_pipeline_rs._core`` re-exports them. This module imports nothing from ``_core``.

Every instance has every attribute; the ones that do not apply to an error are ``None`` (``suggestions``: empty).
"""

from __future__ import annotations

from typing import Any

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
]


def _rebuild(cls: type[PipelineError], message: str, attributes: dict[str, Any]) -> PipelineError:
    """Unpickles an error (``PipelineError.__reduce__``)."""
    return cls(message, **attributes)


class PipelineError(Exception):
    """Base class of every ccxt_pipeline_rs error."""

    venue: str | None
    """The venue the error concerns (``binance``, ``bybit``, ``hyperliquid``), ``None`` if none."""
    code: int | None
    """The venue's own error code (``ExchangeError``)."""
    status: int | None
    """The HTTP status of the answer (``ExchangeError``, ``RateLimitError``)."""
    retry_after: float | None
    """Seconds the venue asked us to wait (``RateLimitError``)."""
    suggestions: list[str]
    """Symbols the venue does list that are close to the one asked for (``SymbolNotFoundError``)."""

    def __init__(
        self,
        message: str = "",
        *,
        venue: str | None = None,
        code: int | None = None,
        status: int | None = None,
        retry_after: float | None = None,
        suggestions: list[str] | None = None,
    ) -> None:
        super().__init__(message)
        self.venue = venue
        self.code = code
        self.status = status
        self.retry_after = retry_after
        self.suggestions = list(suggestions) if suggestions is not None else []

    @property
    def message(self) -> str:
        """The one-line report (also ``str(error)``)."""
        return str(self.args[0]) if self.args else ""

    def _attributes(self) -> dict[str, Any]:
        return {
            "venue": self.venue,
            "code": self.code,
            "status": self.status,
            "retry_after": self.retry_after,
            "suggestions": self.suggestions,
        }

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (type(self), self.message, self._attributes()))

    def __repr__(self) -> str:
        shown = ", ".join(f"{k}={v!r}" for k, v in self._attributes().items() if v not in (None, []))
        return f"{type(self).__name__}({self.message!r}{', ' if shown else ''}{shown})"


class NetworkError(PipelineError):
    """Connection failed or timed out; may succeed later."""


class RateLimitError(PipelineError):
    """The venue throttled us and retries did not get through (``status``, ``retry_after``)."""


class ExchangeError(PipelineError):
    """The venue answered with an error of its own (``code``, ``status``)."""


class MalformedResponseError(ExchangeError):
    """The venue's answer did not have the documented shape."""


class SymbolNotFoundError(PipelineError):
    """The venue does not list the symbol (``suggestions``)."""


class UnsupportedError(PipelineError):
    """The venue does not offer what was asked."""


class InvalidArgumentError(PipelineError, ValueError, TypeError):
    """An argument was not understood (also a ValueError and a TypeError)."""


class StoreError(PipelineError):
    """The Parquet store could not be read or written."""


class InternalError(PipelineError):
    """A bug in ccxt_pipeline_rs (e.g. a panic in the Rust core); please report it."""


class IncompleteHistoryWarning(UserWarning):
    """The venue served less history than was asked (e.g. Binance keeps 30 days of open interest)."""
