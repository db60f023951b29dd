//! `BinanceFetcher`, `BybitFetcher`, `HyperliquidFetcher` and the `Orchestrator` (docs/architecture.md#python-surface).

// The methods mirror the Python signatures, keyword arguments included.
#![allow(clippy::too_many_arguments)]

use std::sync::Arc;

use pyo3::prelude::*;
use pyo3::types::PyList;

use crate::fetch::{
    History, HistoryRange, HistorySink, HistoryStore, Keep, MultiVenue, Orchestrator, VenueClient,
};
use crate::model::records::{funding_rate_batch, now_ns, open_interest_batch};
use crate::model::{FundingRate, OpenInterest, PipelineError, Venue};
use crate::net::HttpConfig;
use crate::python::dates::history_date_ns;
use crate::python::errors::{to_py_err, warn_incomplete};
use crate::python::progress::{block_on_result_progress, run_delivering, LoopDelivery, Progress};
use crate::python::runtime::{awaitable, batches_to_pyarrow, block_on_result, to_pyarrow};
use crate::python::store::PyParquetStore;
use crate::python::stream::{PyLiquidationStream, StreamArgs};
use crate::store::StoredRow;
use crate::venue::OiPeriod;

/// `start`/`end` as users pass them (end `None` = now) to an inclusive millisecond range.
fn history_range(
    start: &Bound<'_, PyAny>,
    end: Option<&Bound<'_, PyAny>>,
) -> PyResult<HistoryRange> {
    let start_ms = history_date_ns(start, "start")?.div_euclid(1_000_000);
    let end_ms = match end {
        Some(end) => history_date_ns(end, "end")?,
        None => now_ns(),
    }
    .div_euclid(1_000_000);
    HistoryRange::new(start_ms, end_ms).map_err(to_py_err)
}

fn period(text: &str) -> PyResult<OiPeriod> {
    OiPeriod::parse(text).map_err(to_py_err)
}

/// Where a history fetch puts its rows besides the result, and its progress callback, if any: the fetch only queues
/// `progress(venue, instrument_id, rows, fraction)` updates; the caller's thread or event loop calls the callback
/// (src/python/progress.rs). A callback that raises is logged and then ignored: progress display must not abort a
/// backfill. `collect=False` keeps no rows (they go to the store only), so it needs a store.
fn history_sink(
    store: Option<PyRef<'_, PyParquetStore>>,
    progress: Option<Py<PyAny>>,
    collect: bool,
) -> PyResult<(HistorySink, Option<Arc<Progress>>)> {
    if !collect && store.is_none() {
        return Err(to_py_err(PipelineError::InvalidArgument(
            "collect=False needs store=: without a store the rows would be lost (pass store=ParquetStore(...) or \
             collect=True)"
                .into(),
        )));
    }
    let progress = progress.map(Progress::new);
    let sink = HistorySink {
        store: store.map(|s| Arc::new(s.store.clone()) as Arc<dyn HistoryStore>),
        progress: progress.as_ref().map(|p| p.progress_fn()),
        keep: if collect {
            Keep::Batches
        } else {
            Keep::Nothing
        },
        store_batch_rows: None,
    };
    Ok((sink, progress))
}

/// The event-loop delivery of an `…_async` history fetch's progress.
fn loop_delivery(
    py: Python<'_>,
    progress: Option<Arc<Progress>>,
) -> PyResult<Option<LoopDelivery>> {
    progress.map(|p| LoopDelivery::new(py, p)).transpose()
}

/// The rows as one pyarrow.Table (the batches built page by page, joined without a copy), or with
/// `collect=False` the summary table.
fn history_table<R: StoredRow>(
    py: Python<'_>,
    history: History<R>,
    collect: bool,
) -> PyResult<Py<PyAny>> {
    warn_incomplete(py, &history.warnings)?;
    if collect {
        batches_to_pyarrow(py, history.batches, R::KIND.table_schema())
    } else {
        to_pyarrow(py, history_summary(&[history]))
    }
}

/// One row per instrument of a history run with `collect=False`: what was fetched and stored, and from where the
/// store was resumed.
fn history_summary<R>(histories: &[History<R>]) -> arrow_array::RecordBatch {
    use arrow_array::builder::{
        Int64Builder, ListBuilder, StringBuilder, TimestampNanosecondBuilder,
    };
    use arrow_array::{ArrayRef, RecordBatch};
    let (mut venue, mut instrument) = (StringBuilder::new(), StringBuilder::new());
    let (mut fetched, mut stored, mut requests) = (
        Int64Builder::new(),
        Int64Builder::new(),
        Int64Builder::new(),
    );
    let timestamps = || TimestampNanosecondBuilder::new().with_timezone("UTC");
    let (mut first, mut last, mut resumed) = (timestamps(), timestamps(), timestamps());
    let mut warnings = ListBuilder::new(StringBuilder::new());
    let count = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
    for h in histories {
        venue.append_value(h.venue.as_str());
        instrument.append_value(&h.instrument_id);
        fetched.append_value(count(h.rows_fetched));
        stored.append_value(count(h.rows_stored));
        requests.append_value(count(h.requests));
        first.append_option(h.first_event_ns);
        last.append_option(h.last_event_ns);
        resumed.append_option(h.resumed_after_ms.and_then(|ms| ms.checked_mul(1_000_000)));
        for w in &h.warnings {
            warnings.values().append_value(w);
        }
        warnings.append(true);
    }
    let columns: Vec<(&str, ArrayRef)> = vec![
        ("venue", Arc::new(venue.finish())),
        ("instrument_id", Arc::new(instrument.finish())),
        ("rows_fetched", Arc::new(fetched.finish())),
        ("rows_stored", Arc::new(stored.finish())),
        ("requests", Arc::new(requests.finish())),
        ("first_ts_event", Arc::new(first.finish())),
        ("last_ts_event", Arc::new(last.finish())),
        ("resumed_after", Arc::new(resumed.finish())),
        ("warnings", Arc::new(warnings.finish())),
    ];
    RecordBatch::try_from_iter(columns).expect("columns of equal length")
}

/// A `str` argument; anything else is an `InvalidArgumentError` (also a `TypeError`) naming what was given.
fn text_arg(value: &Bound<'_, PyAny>) -> PyResult<String> {
    value
        .extract::<String>()
        .map_err(|_| wrong_type(value, "a string"))
}

fn opt_text_arg(value: &Bound<'_, PyAny>) -> PyResult<Option<String>> {
    if value.is_none() {
        return Ok(None);
    }
    text_arg(value).map(Some)
}

/// Seconds as an int or float (not a bool, not a string).
fn opt_seconds_arg(value: &Bound<'_, PyAny>) -> PyResult<Option<f64>> {
    if value.is_none() {
        return Ok(None);
    }
    if value.is_instance_of::<pyo3::types::PyBool>()
        || value.is_instance_of::<pyo3::types::PyString>()
    {
        return Err(wrong_type(value, "a number of seconds"));
    }
    value
        .extract::<f64>()
        .map(Some)
        .map_err(|_| wrong_type(value, "a number of seconds"))
}

/// Venue names: a list of strings (or one string).
fn opt_names_arg(value: &Bound<'_, PyAny>) -> PyResult<Option<Vec<String>>> {
    if value.is_none() {
        return Ok(None);
    }
    if let Ok(one) = value.extract::<String>() {
        return Ok(Some(vec![one]));
    }
    value
        .extract::<Vec<String>>()
        .map(Some)
        .map_err(|_| wrong_type(value, "a list of venue names"))
}

/// Venue name → URL.
fn opt_url_map_arg(
    value: &Bound<'_, PyAny>,
) -> PyResult<Option<std::collections::HashMap<String, String>>> {
    if value.is_none() {
        return Ok(None);
    }
    value
        .extract()
        .map(Some)
        .map_err(|_| wrong_type(value, "a dict of venue name to URL"))
}

/// A progress callback.
fn opt_callable_arg(value: &Bound<'_, PyAny>) -> PyResult<Option<Py<PyAny>>> {
    if value.is_none() {
        return Ok(None);
    }
    if !value.is_callable() {
        return Err(wrong_type(
            value,
            "a callable progress(venue, instrument_id, rows, fraction)",
        ));
    }
    Ok(Some(value.clone().unbind()))
}

/// A `ParquetStore`.
fn opt_store_arg<'py>(value: &Bound<'py, PyAny>) -> PyResult<Option<PyRef<'py, PyParquetStore>>> {
    if value.is_none() {
        return Ok(None);
    }
    value
        .extract()
        .map(Some)
        .map_err(|_| wrong_type(value, "a ParquetStore"))
}

fn wrong_type(value: &Bound<'_, PyAny>, expected: &str) -> PyErr {
    let type_name = value
        .get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "?".into());
    let shown: String = value
        .repr()
        .map(|r| r.to_string())
        .unwrap_or_default()
        .chars()
        .take(60)
        .collect();
    to_py_err(PipelineError::InvalidArgument(format!(
        "expected {expected}, not {type_name} {shown}"
    )))
}

/// Most retries a caller may ask for: with the backoff capped at 10 s, more only hides an outage.
const MAX_RETRIES: u32 = 20;

/// A retry count: a non-negative int (not a bool) up to [`MAX_RETRIES`].
fn opt_retries_arg(value: &Bound<'_, PyAny>) -> PyResult<Option<u32>> {
    if value.is_none() {
        return Ok(None);
    }
    if value.is_instance_of::<pyo3::types::PyBool>() {
        return Err(wrong_type(value, "a number of retries"));
    }
    let n: i64 = value
        .extract()
        .map_err(|_| wrong_type(value, "a number of retries"))?;
    u32::try_from(n)
        .ok()
        .filter(|n| *n <= MAX_RETRIES)
        .map(Some)
        .ok_or_else(|| {
            to_py_err(PipelineError::InvalidArgument(format!(
                "retries must be from 0 to {MAX_RETRIES}, not {n}"
            )))
        })
}

/// A flag: `True` or `False` only (not `0`, not `"no"`).
fn bool_arg(value: &Bound<'_, PyAny>) -> PyResult<bool> {
    if !value.is_instance_of::<pyo3::types::PyBool>() {
        return Err(wrong_type(value, "True or False"));
    }
    value.extract()
}

/// The HTTP settings a caller may give: `timeout` (seconds per request, default 10), `retries` (after the first
/// attempt, default 4) and `rate_limits` (hold to the venues' documented limits, default on).
struct HttpArgs {
    timeout: Option<f64>,
    retries: Option<u32>,
    rate_limits: bool,
}

impl HttpArgs {
    fn config(&self) -> PyResult<HttpConfig> {
        let mut config = HttpConfig {
            rate_limits: self.rate_limits,
            ..HttpConfig::default()
        };
        if let Some(seconds) = self.timeout {
            config.timeout = std::time::Duration::try_from_secs_f64(seconds)
                .ok()
                .filter(|d| !d.is_zero() && *d <= std::time::Duration::from_secs(86_400))
                .ok_or_else(|| {
                    to_py_err(PipelineError::InvalidArgument(format!(
                        "timeout must be more than 0 and at most 86400 seconds, not {seconds}"
                    )))
                })?;
            // Connecting cannot take longer than the whole request.
            config.connect_timeout = config.connect_timeout.min(config.timeout);
        }
        if let Some(retries) = self.retries {
            config.retry.max_attempts = retries + 1;
        }
        Ok(config)
    }
}

/// A WebSocket base URL given by the caller: `ws://` or `wss://`.
fn checked_ws_url(venue: Venue, url: String) -> PyResult<String> {
    if !(url.starts_with("ws://") || url.starts_with("wss://")) {
        return Err(to_py_err(PipelineError::InvalidArgument(format!(
            "{venue} ws_url must start with ws:// or wss://, not '{}'",
            crate::net::redact::redact_url(&url)
        ))));
    }
    Ok(url)
}

/// A fetcher's `ws_url`. Hyperliquid's liquidations are polled over REST (`base_url`), so a WebSocket URL given to
/// its fetcher would be ignored: refused. (A venue → URL map, like the orchestrator's `ws_urls` or the daemon's
/// configuration, may name every venue: there a Hyperliquid entry is checked and unused.)
fn fetcher_ws_url(venue: Venue, url: String) -> PyResult<String> {
    if venue == Venue::Hyperliquid {
        return Err(to_py_err(PipelineError::InvalidArgument(
            "hyperliquid has no liquidation WebSocket (its liquidations are polled over REST at the base URL): \
             give no ws_url for it"
                .into(),
        )));
    }
    checked_ws_url(venue, url)
}

/// The client of `venue` at `base_url`, or without one at `CCXT_PIPELINE_<VENUE>_URL` (if set) or production: the
/// same resolution as the CLI and the daemon.
fn client(venue: Venue, base_url: Option<String>, http: &HttpArgs) -> PyResult<Arc<VenueClient>> {
    let base_url = base_url.unwrap_or_else(|| venue.base_url_from_env());
    VenueClient::new(venue, Some(&base_url), &http.config()?)
        .map(Arc::new)
        .map_err(to_py_err)
}

/// The same methods on the three fetcher classes; only the venue differs.
macro_rules! fetcher {
    ($name:ident, $venue:expr, $doc:literal) => {
        #[doc = $doc]
        #[pyclass(module = "ccxt_pipeline_rs", frozen)]
        pub struct $name {
            client: Arc<VenueClient>,
            ws_url: Option<String>,
        }

        #[pymethods]
        impl $name {
            #[new]
            /// `base_url` / `ws_url`: default `CCXT_PIPELINE_<VENUE>_URL` / `_WS_URL` if set, else production.
            /// `timeout`: seconds a request may take in all (connect, send, read), default 10. `retries`: attempts
            /// after the first (default 4). `rate_limits=False` lifts the venue's documented limits (simulators).
            #[pyo3(signature = (base_url=None, ws_url=None, timeout=None, *, retries=None, rate_limits=true))]
            fn new(
                #[pyo3(from_py_with = opt_text_arg)] base_url: Option<String>,
                #[pyo3(from_py_with = opt_text_arg)] ws_url: Option<String>,
                #[pyo3(from_py_with = opt_seconds_arg)] timeout: Option<f64>,
                #[pyo3(from_py_with = opt_retries_arg)] retries: Option<u32>,
                #[pyo3(from_py_with = bool_arg)] rate_limits: bool,
            ) -> PyResult<Self> {
                let http = HttpArgs { timeout, retries, rate_limits };
                Ok(Self {
                    client: client($venue, base_url, &http)?,
                    ws_url: ws_url.map(|url| fetcher_ws_url($venue, url)).transpose()?,
                })
            }

            #[getter]
            fn venue(&self) -> &'static str {
                $venue.as_str()
            }

            #[getter]
            fn base_url(&self) -> &str {
                self.client.base_url()
            }

            /// Current open interest of `symbol` as a one-row pyarrow.Table.
            fn fetch_open_interest(
                &self,
                py: Python<'_>,
                #[pyo3(from_py_with = text_arg)] symbol: String,
            ) -> PyResult<Py<PyAny>> {
                let row = block_on_result(py, self.client.fetch_open_interest(&symbol))?;
                to_pyarrow(py, open_interest_batch(&[row]))
            }

            fn fetch_open_interest_async<'py>(
                &self,
                py: Python<'py>,
                #[pyo3(from_py_with = text_arg)] symbol: String,
            ) -> PyResult<Bound<'py, PyAny>> {
                let client = self.client.clone();
                awaitable(
                    py,
                    async move { client.fetch_open_interest(&symbol).await },
                    move |py, row| to_pyarrow(py, open_interest_batch(&[row])),
                )
            }

            /// Current funding rate (with interval, next funding time, mark and index price) as a one-row table.
            fn fetch_funding_rate(
                &self,
                py: Python<'_>,
                #[pyo3(from_py_with = text_arg)] symbol: String,
            ) -> PyResult<Py<PyAny>> {
                let row = block_on_result(py, self.client.fetch_funding_rate(&symbol))?;
                to_pyarrow(py, funding_rate_batch(&[row]))
            }

            fn fetch_funding_rate_async<'py>(
                &self,
                py: Python<'py>,
                #[pyo3(from_py_with = text_arg)] symbol: String,
            ) -> PyResult<Bound<'py, PyAny>> {
                let client = self.client.clone();
                awaitable(
                    py,
                    async move { client.fetch_funding_rate(&symbol).await },
                    move |py, row| to_pyarrow(py, funding_rate_batch(&[row])),
                )
            }

            /// Open interest history in `[start, end]` (inclusive; `end` defaults to now) at `period` (5m … 1d).
            /// With `store`, starts after the last stored row and stores each page as it arrives.
            #[pyo3(signature = (symbol, start, end=None, period=String::from("5m"), progress=None, store=None, *, collect=true))]
            fn fetch_open_interest_history(
                &self,
                py: Python<'_>,
                #[pyo3(from_py_with = text_arg)] symbol: String,
                start: &Bound<'_, PyAny>,
                end: Option<&Bound<'_, PyAny>>,
                #[pyo3(from_py_with = text_arg)] period: String,
                #[pyo3(from_py_with = opt_callable_arg)] progress: Option<Py<PyAny>>,
                #[pyo3(from_py_with = opt_store_arg)] store: Option<PyRef<'_, PyParquetStore>>,
                collect: bool,
            ) -> PyResult<Py<PyAny>> {
                let (range, period, (sink, progress)) = (
                    history_range(start, end)?,
                    self::period(&period)?,
                    history_sink(store, progress, collect)?,
                );
                let history = block_on_result_progress(
                    py,
                    self.client
                        .fetch_open_interest_history(&symbol, period, range, &sink),
                    progress.as_ref(),
                )?;
                history_table(py, history, collect)
            }

            #[pyo3(signature = (symbol, start, end=None, period=String::from("5m"), progress=None, store=None, *, collect=true))]
            fn fetch_open_interest_history_async<'py>(
                &self,
                py: Python<'py>,
                #[pyo3(from_py_with = text_arg)] symbol: String,
                start: &Bound<'_, PyAny>,
                end: Option<&Bound<'_, PyAny>>,
                #[pyo3(from_py_with = text_arg)] period: String,
                #[pyo3(from_py_with = opt_callable_arg)] progress: Option<Py<PyAny>>,
                #[pyo3(from_py_with = opt_store_arg)] store: Option<PyRef<'_, PyParquetStore>>,
                collect: bool,
            ) -> PyResult<Bound<'py, PyAny>> {
                let (range, period, (sink, progress)) = (
                    history_range(start, end)?,
                    self::period(&period)?,
                    history_sink(store, progress, collect)?,
                );
                let (client, delivery) = (self.client.clone(), loop_delivery(py, progress)?);
                awaitable(
                    py,
                    async move {
                        let fetch = client.fetch_open_interest_history(&symbol, period, range, &sink);
                        run_delivering(delivery, fetch).await
                    },
                    move |py, history| history_table(py, history, collect),
                )
            }

            /// Settled funding rates in `[start, end]` (inclusive; `end` defaults to now).
            #[pyo3(signature = (symbol, start, end=None, progress=None, store=None, *, collect=true))]
            fn fetch_funding_rate_history(
                &self,
                py: Python<'_>,
                #[pyo3(from_py_with = text_arg)] symbol: String,
                start: &Bound<'_, PyAny>,
                end: Option<&Bound<'_, PyAny>>,
                #[pyo3(from_py_with = opt_callable_arg)] progress: Option<Py<PyAny>>,
                #[pyo3(from_py_with = opt_store_arg)] store: Option<PyRef<'_, PyParquetStore>>,
                collect: bool,
            ) -> PyResult<Py<PyAny>> {
                let (range, (sink, progress)) = (history_range(start, end)?, history_sink(store, progress, collect)?);
                let history = block_on_result_progress(
                    py,
                    self.client.fetch_funding_rate_history(&symbol, range, &sink),
                    progress.as_ref(),
                )?;
                history_table(py, history, collect)
            }

            #[pyo3(signature = (symbol, start, end=None, progress=None, store=None, *, collect=true))]
            fn fetch_funding_rate_history_async<'py>(
                &self,
                py: Python<'py>,
                #[pyo3(from_py_with = text_arg)] symbol: String,
                start: &Bound<'_, PyAny>,
                end: Option<&Bound<'_, PyAny>>,
                #[pyo3(from_py_with = opt_callable_arg)] progress: Option<Py<PyAny>>,
                #[pyo3(from_py_with = opt_store_arg)] store: Option<PyRef<'_, PyParquetStore>>,
                collect: bool,
            ) -> PyResult<Bound<'py, PyAny>> {
                let (range, (sink, progress)) = (history_range(start, end)?, history_sink(store, progress, collect)?);
                let (client, delivery) = (self.client.clone(), loop_delivery(py, progress)?);
                awaitable(
                    py,
                    async move {
                        let fetch = client.fetch_funding_rate_history(&symbol, range, &sink);
                        run_delivering(delivery, fetch).await
                    },
                    move |py, history| history_table(py, history, collect),
                )
            }

            /// Live liquidations of `symbols` (one or a list; none with `all_market=True` where the venue has a
            /// whole-market stream) as an iterator of small pyarrow tables; see `LiquidationStream`.
            #[pyo3(signature = (symbols=None, *, store=None, batch_rows=1000, batch_seconds=1.0, all_market=false,
                addresses=None, queue_rows=100_000, idle_timeout=60.0, max_connection_age=None, poll_interval=5.0))]
            #[allow(clippy::too_many_arguments)]
            fn stream_liquidations(
                &self,
                py: Python<'_>,
                symbols: Option<&Bound<'_, PyAny>>,
                #[pyo3(from_py_with = opt_store_arg)] store: Option<PyRef<'_, PyParquetStore>>,
                batch_rows: usize,
                batch_seconds: f64,
                all_market: bool,
                addresses: Option<Vec<String>>,
                queue_rows: usize,
                idle_timeout: f64,
                max_connection_age: Option<f64>,
                poll_interval: f64,
            ) -> PyResult<PyLiquidationStream> {
                let symbols = symbols.map(symbol_list).transpose()?.unwrap_or_default();
                StreamArgs::new(symbols, store, batch_rows, batch_seconds, all_market, addresses, queue_rows,
                    idle_timeout, max_connection_age, poll_interval)?
                    .start(py, vec![(self.client.clone(), self.ws_url.clone())])
            }

            fn __repr__(&self) -> String {
                format!(
                    "{}(base_url='{}')",
                    stringify!($name),
                    self.client.base_url()
                )
            }
        }
    };
}

fetcher!(BinanceFetcher, Venue::Binance, "Binance USDⓈ-M futures.");
fetcher!(BybitFetcher, Venue::Bybit, "Bybit v5, linear perpetuals.");
fetcher!(
    HyperliquidFetcher,
    Venue::Hyperliquid,
    "Hyperliquid perpetuals."
);

/// The rows of the venues that answered and one exception object per venue that did not.
#[pyclass(module = "ccxt_pipeline_rs", frozen, get_all)]
pub struct MultiVenueResult {
    table: Py<PyAny>,
    failures: Py<PyList>,
    /// What the venues served less of than was asked (history only).
    warnings: Vec<String>,
    /// Rows that were new to the store (history with `store=` only).
    rows_stored: usize,
}

#[pymethods]
impl MultiVenueResult {
    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(format!(
            "MultiVenueResult(rows={}, failures={})",
            self.table.bind(py).len()?,
            self.failures.bind(py).len()
        ))
    }
}

fn multi_venue_result<T>(
    py: Python<'_>,
    result: MultiVenue<T>,
    to_batch: fn(&[T]) -> arrow_array::RecordBatch,
) -> PyResult<MultiVenueResult> {
    let failures = PyList::empty(py);
    for error in result.failures {
        failures.append(to_py_err(error).into_value(py))?;
    }
    Ok(MultiVenueResult {
        table: to_pyarrow(py, to_batch(&result.rows))?,
        failures: failures.unbind(),
        warnings: Vec::new(),
        rows_stored: 0,
    })
}

/// Histories of several (venue, symbol) pairs as one result: all rows in one table, warnings collected and
/// emitted as `IncompleteHistoryWarning`.
fn multi_venue_history<R: StoredRow>(
    py: Python<'_>,
    result: MultiVenue<History<R>>,
    collect: bool,
) -> PyResult<MultiVenueResult> {
    let warnings: Vec<String> = result
        .rows
        .iter()
        .flat_map(|h| h.warnings.iter().cloned())
        .collect();
    warn_incomplete(py, &warnings)?;
    let rows_stored = result.rows.iter().map(|h| h.rows_stored).sum();
    let failures = PyList::empty(py);
    for error in result.failures {
        failures.append(to_py_err(error).into_value(py))?;
    }
    let table = if collect {
        let batches = result.rows.into_iter().flat_map(|h| h.batches).collect();
        batches_to_pyarrow(py, batches, R::KIND.table_schema())?
    } else {
        to_pyarrow(py, history_summary(&result.rows))?
    };
    Ok(MultiVenueResult {
        table,
        failures: failures.unbind(),
        warnings,
        rows_stored,
    })
}

/// One symbol or a list of them.
fn symbol_list(symbols: &Bound<'_, PyAny>) -> PyResult<Vec<String>> {
    if let Ok(one) = symbols.extract::<String>() {
        return Ok(vec![one]);
    }
    symbols.extract::<Vec<String>>().map_err(|_| {
        to_py_err(PipelineError::InvalidArgument(
            "symbols must be a string or a list of strings".into(),
        ))
    })
}

/// Fans one request out to several venues concurrently.
#[pyclass(name = "Orchestrator", module = "ccxt_pipeline_rs", frozen)]
pub struct PyOrchestrator {
    inner: Orchestrator,
    ws_urls: std::collections::HashMap<Venue, String>,
}

#[pymethods]
impl PyOrchestrator {
    /// `exchanges`: venue names (default all three); `base_urls`: venue name → base URL overrides.
    /// `ws_urls`: venue name → WebSocket base URL overrides (liquidation streams).
    /// A venue without an override uses `CCXT_PIPELINE_<VENUE>_URL` / `_WS_URL` if set, else production.
    /// `rate_limits=False` lifts the venues' documented limits: for benchmarks against a simulator only.
    /// `timeout`: seconds a request may take in all, default 10; `retries`: attempts after the first, default 4.
    #[new]
    #[pyo3(signature = (exchanges=None, base_urls=None, rate_limits=true, timeout=None, ws_urls=None, *, retries=None))]
    fn new(
        #[pyo3(from_py_with = opt_names_arg)] exchanges: Option<Vec<String>>,
        #[pyo3(from_py_with = opt_url_map_arg)] base_urls: Option<
            std::collections::HashMap<String, String>,
        >,
        #[pyo3(from_py_with = bool_arg)] rate_limits: bool,
        #[pyo3(from_py_with = opt_seconds_arg)] timeout: Option<f64>,
        #[pyo3(from_py_with = opt_url_map_arg)] ws_urls: Option<
            std::collections::HashMap<String, String>,
        >,
        #[pyo3(from_py_with = opt_retries_arg)] retries: Option<u32>,
    ) -> PyResult<Self> {
        let venues: Vec<Venue> = match exchanges {
            None => Venue::ALL.to_vec(),
            Some(names) => names
                .iter()
                .map(|n| n.parse())
                .collect::<Result<_, _>>()
                .map_err(to_py_err)?,
        };
        let mut overrides = std::collections::HashMap::new();
        for (name, url) in base_urls.unwrap_or_default() {
            overrides.insert(name.parse::<Venue>().map_err(to_py_err)?, url);
        }
        let config = HttpArgs {
            timeout,
            retries,
            rate_limits,
        }
        .config()?;
        let inner = Orchestrator::for_venues(
            &venues,
            |v| {
                Some(
                    overrides
                        .get(&v)
                        .cloned()
                        .unwrap_or_else(|| v.base_url_from_env()),
                )
            },
            &config,
        )
        .map_err(to_py_err)?;
        let ws_urls = ws_urls
            .unwrap_or_default()
            .into_iter()
            .map(|(name, url)| {
                let venue = name.parse::<Venue>().map_err(to_py_err)?;
                Ok((venue, checked_ws_url(venue, url)?))
            })
            .collect::<PyResult<_>>()?;
        Ok(PyOrchestrator { inner, ws_urls })
    }

    #[getter]
    fn exchanges(&self) -> Vec<&'static str> {
        self.inner
            .clients()
            .iter()
            .map(|c| c.venue().as_str())
            .collect()
    }

    /// Live liquidations on every venue at once; see the fetchers' `stream_liquidations`. A venue that cannot
    /// stream the symbols is in `.failures` of the returned stream while the others run.
    #[pyo3(signature = (symbols=None, *, store=None, batch_rows=1000, batch_seconds=1.0, all_market=false,
        addresses=None, queue_rows=100_000, idle_timeout=60.0, max_connection_age=None, poll_interval=5.0))]
    #[allow(clippy::too_many_arguments)]
    fn stream_liquidations(
        &self,
        py: Python<'_>,
        symbols: Option<&Bound<'_, PyAny>>,
        #[pyo3(from_py_with = opt_store_arg)] store: Option<PyRef<'_, PyParquetStore>>,
        batch_rows: usize,
        batch_seconds: f64,
        all_market: bool,
        addresses: Option<Vec<String>>,
        queue_rows: usize,
        idle_timeout: f64,
        max_connection_age: Option<f64>,
        poll_interval: f64,
    ) -> PyResult<PyLiquidationStream> {
        let symbols = symbols.map(symbol_list).transpose()?.unwrap_or_default();
        let clients = self
            .inner
            .clients()
            .iter()
            .map(|client| (client.clone(), self.ws_urls.get(&client.venue()).cloned()))
            .collect();
        StreamArgs::new(
            symbols,
            store,
            batch_rows,
            batch_seconds,
            all_market,
            addresses,
            queue_rows,
            idle_timeout,
            max_connection_age,
            poll_interval,
        )?
        .start(py, clients)
    }

    fn fetch_open_interest(
        &self,
        py: Python<'_>,
        #[pyo3(from_py_with = text_arg)] symbol: String,
    ) -> PyResult<MultiVenueResult> {
        let result = block_on_result(py, self.inner.fetch_open_interest(&symbol))?;
        multi_venue_result::<OpenInterest>(py, result, open_interest_batch)
    }

    fn fetch_open_interest_async<'py>(
        &self,
        py: Python<'py>,
        #[pyo3(from_py_with = text_arg)] symbol: String,
    ) -> PyResult<Bound<'py, PyAny>> {
        let inner = self.inner.clone();
        awaitable(
            py,
            async move { inner.fetch_open_interest(&symbol).await },
            move |py, result| multi_venue_result::<OpenInterest>(py, result, open_interest_batch),
        )
    }

    fn fetch_funding_rate(
        &self,
        py: Python<'_>,
        #[pyo3(from_py_with = text_arg)] symbol: String,
    ) -> PyResult<MultiVenueResult> {
        let result = block_on_result(py, self.inner.fetch_funding_rate(&symbol))?;
        multi_venue_result::<FundingRate>(py, result, funding_rate_batch)
    }

    fn fetch_funding_rate_async<'py>(
        &self,
        py: Python<'py>,
        #[pyo3(from_py_with = text_arg)] symbol: String,
    ) -> PyResult<Bound<'py, PyAny>> {
        let inner = self.inner.clone();
        awaitable(
            py,
            async move { inner.fetch_funding_rate(&symbol).await },
            move |py, result| multi_venue_result::<FundingRate>(py, result, funding_rate_batch),
        )
    }

    /// Open interest history of one symbol or a list, on every venue concurrently.
    #[pyo3(signature = (symbols, start, end=None, period=String::from("5m"), progress=None, store=None, *, collect=true))]
    fn fetch_open_interest_history(
        &self,
        py: Python<'_>,
        symbols: &Bound<'_, PyAny>,
        start: &Bound<'_, PyAny>,
        end: Option<&Bound<'_, PyAny>>,
        #[pyo3(from_py_with = text_arg)] period: String,
        #[pyo3(from_py_with = opt_callable_arg)] progress: Option<Py<PyAny>>,
        #[pyo3(from_py_with = opt_store_arg)] store: Option<PyRef<'_, PyParquetStore>>,
        collect: bool,
    ) -> PyResult<MultiVenueResult> {
        let (symbols, range, period) = (
            symbol_list(symbols)?,
            history_range(start, end)?,
            self::period(&period)?,
        );
        let (sink, progress) = history_sink(store, progress, collect)?;
        let result = block_on_result_progress(
            py,
            self.inner
                .fetch_open_interest_history(&symbols, period, range, &sink),
            progress.as_ref(),
        )?;
        multi_venue_history(py, result, collect)
    }

    /// Funding rate history of one symbol or a list, on every venue concurrently.
    #[pyo3(signature = (symbols, start, end=None, progress=None, store=None, *, collect=true))]
    fn fetch_funding_rate_history(
        &self,
        py: Python<'_>,
        symbols: &Bound<'_, PyAny>,
        start: &Bound<'_, PyAny>,
        end: Option<&Bound<'_, PyAny>>,
        #[pyo3(from_py_with = opt_callable_arg)] progress: Option<Py<PyAny>>,
        #[pyo3(from_py_with = opt_store_arg)] store: Option<PyRef<'_, PyParquetStore>>,
        collect: bool,
    ) -> PyResult<MultiVenueResult> {
        let (symbols, range) = (symbol_list(symbols)?, history_range(start, end)?);
        let (sink, progress) = history_sink(store, progress, collect)?;
        let result = block_on_result_progress(
            py,
            self.inner
                .fetch_funding_rate_history(&symbols, range, &sink),
            progress.as_ref(),
        )?;
        multi_venue_history(py, result, collect)
    }

    #[pyo3(signature = (symbols, start, end=None, period=String::from("5m"), progress=None, store=None, *, collect=true))]
    fn fetch_open_interest_history_async<'py>(
        &self,
        py: Python<'py>,
        symbols: &Bound<'_, PyAny>,
        start: &Bound<'_, PyAny>,
        end: Option<&Bound<'_, PyAny>>,
        #[pyo3(from_py_with = text_arg)] period: String,
        #[pyo3(from_py_with = opt_callable_arg)] progress: Option<Py<PyAny>>,
        #[pyo3(from_py_with = opt_store_arg)] store: Option<PyRef<'_, PyParquetStore>>,
        collect: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (symbols, range, period) = (
            symbol_list(symbols)?,
            history_range(start, end)?,
            self::period(&period)?,
        );
        let (inner, (sink, progress)) =
            (self.inner.clone(), history_sink(store, progress, collect)?);
        let delivery = loop_delivery(py, progress)?;
        awaitable(
            py,
            async move {
                let fetch = inner.fetch_open_interest_history(&symbols, period, range, &sink);
                run_delivering(delivery, fetch).await
            },
            move |py, result| multi_venue_history(py, result, collect),
        )
    }

    #[pyo3(signature = (symbols, start, end=None, progress=None, store=None, *, collect=true))]
    fn fetch_funding_rate_history_async<'py>(
        &self,
        py: Python<'py>,
        symbols: &Bound<'_, PyAny>,
        start: &Bound<'_, PyAny>,
        end: Option<&Bound<'_, PyAny>>,
        #[pyo3(from_py_with = opt_callable_arg)] progress: Option<Py<PyAny>>,
        #[pyo3(from_py_with = opt_store_arg)] store: Option<PyRef<'_, PyParquetStore>>,
        collect: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (symbols, range) = (symbol_list(symbols)?, history_range(start, end)?);
        let (inner, (sink, progress)) =
            (self.inner.clone(), history_sink(store, progress, collect)?);
        let delivery = loop_delivery(py, progress)?;
        awaitable(
            py,
            async move {
                let fetch = inner.fetch_funding_rate_history(&symbols, range, &sink);
                run_delivering(delivery, fetch).await
            },
            move |py, result| multi_venue_history(py, result, collect),
        )
    }
}
