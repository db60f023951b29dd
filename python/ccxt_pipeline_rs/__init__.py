"""Open interest, funding rates and liquidations from Binance USDⓈ-M, Bybit v5 linear and Hyperliquid.

The core is Rust; every fetch returns a ``pyarrow.Table`` whose schema is fixed (see ``docs/formats.md#tables``) and is
handed over through the Arrow C stream interface without copying.
"""

from ccxt_pipeline_rs._core import (
    KINDS,
    VENUES,
    BinanceFetcher,
    BybitFetcher,
    CCXTPipelineConfig,
    DaemonRunner,
    HyperliquidFetcher,
    LiquidationStream,
    MultiVenueResult,
    Orchestrator,
    ParquetStore,
    __version__,
)
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

__all__ = [
    "VENUES",
    "KINDS",
    "BinanceFetcher",
    "BybitFetcher",
    "HyperliquidFetcher",
    "Orchestrator",
    "ParquetStore",
    "CCXTPipelineConfig",
    "LiquidationStream",
    "DaemonRunner",
    "MultiVenueResult",
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
    "__version__",
]
