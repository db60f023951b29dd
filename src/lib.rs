//! ccxt_pipeline_rs: open interest, funding rates and liquidations from Binance USDⓈ-M, Bybit v5 linear and
//! Hyperliquid, returned as Arrow and stored as NautilusTrader-compatible Parquet.
//!
//! Layers (docs/architecture.md#layers): `model` (records, schemas, symbols, errors) and `venue` (sans-IO request
//! builders and parsers) do no I/O; `net` (HTTP, rate limits, retries), `fetch` (plans over `net`, fan-out), `stream`
//! (liquidation streams) and `daemon` (the collector) do; `store` is the Parquet catalog; `sim` is the local exchange
//! simulator; `python` is PyO3 glue, compiled only with the `python` feature. Data formats: docs/formats.md.

pub mod daemon;
pub mod fetch;
pub mod model;
pub mod net;
pub mod sim;
pub mod store;
pub mod stream;
pub mod venue;

#[cfg(feature = "python")]
mod python;
