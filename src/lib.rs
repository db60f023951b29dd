//! ccxt_pipeline_rs: open interest, funding rates and liquidations from Binance USDⓈ-M, Bybit v5 linear and
//! Hyperliquid, returned as Arrow and stored as NautilusTrader-compatible Parquet.
//!
//! Layers (DESIGN §1): `model` (records, schemas, symbols, errors) and `venue` (sans-IO request builders and
//! parsers) do no I/O; `net` (HTTP, rate limits, retries) and `fetch` (plans over `net`, fan-out) do; `sim` is the
//! local exchange simulator; `python` is PyO3 glue, compiled only with the `python` feature.

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
