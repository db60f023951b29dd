//! `LiquidationStream` for Python: a sync and an async iterator of small pyarrow tables, a context manager, and
//! the stream's gaps and counters. Waiting releases the GIL (and stays interruptible with Ctrl+C).

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use pyo3::exceptions::{PyStopAsyncIteration, PyStopIteration};
use pyo3::prelude::*;
use pyo3::types::PyList;

use crate::fetch::VenueClient;
use crate::model::records::stream_gap_batch;
use crate::model::PipelineError;
use crate::python::errors::to_py_err;
use crate::python::runtime::{block_on, block_on_result, to_pyarrow};
use crate::python::store::PyParquetStore;
use crate::stream::{start_for_symbols, LiquidationSink, LiquidationStream, StreamOptions};

/// The options every `stream_liquidations` takes, as Python passes them.
pub struct StreamArgs {
    pub symbols: Vec<String>,
    pub all_market: bool,
    pub addresses: Vec<String>,
    pub options: StreamOptions,
    pub sink: Option<Arc<dyn LiquidationSink>>,
}

fn seconds(value: f64, name: &str) -> PyResult<Duration> {
    Duration::try_from_secs_f64(value)
        .ok()
        .filter(|d| !d.is_zero())
        .ok_or_else(|| {
            to_py_err(PipelineError::InvalidArgument(format!(
                "{name} must be a positive number of seconds, got {value}"
            )))
        })
}

impl StreamArgs {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        symbols: Vec<String>,
        store: Option<PyRef<'_, PyParquetStore>>,
        batch_rows: usize,
        batch_seconds: f64,
        all_market: bool,
        addresses: Option<Vec<String>>,
        queue_rows: usize,
        idle_timeout: f64,
        max_connection_age: Option<f64>,
        poll_interval: f64,
    ) -> PyResult<Self> {
        let options = StreamOptions {
            batch_rows,
            batch_interval: seconds(batch_seconds, "batch_seconds")?,
            queue_rows,
            idle_timeout: seconds(idle_timeout, "idle_timeout")?,
            max_connection_age: max_connection_age
                .map(|s| seconds(s, "max_connection_age"))
                .transpose()?,
            poll_interval: seconds(poll_interval, "poll_interval")?,
            ..StreamOptions::default()
        };
        options.validate().map_err(to_py_err)?;
        Ok(StreamArgs {
            symbols,
            all_market,
            addresses: addresses.unwrap_or_default(),
            options,
            sink: store.map(|s| Arc::new(s.store.clone()) as Arc<dyn LiquidationSink>),
        })
    }

    /// Resolves the symbols and starts the stream on the shared runtime.
    pub fn start(
        self,
        py: Python<'_>,
        clients: Vec<(Arc<VenueClient>, Option<String>)>,
    ) -> PyResult<PyLiquidationStream> {
        // `block_on` runs inside the shared runtime, where the stream's tasks are spawned.
        let (stream, failures) = block_on_result(py, async move {
            start_for_symbols(
                &clients,
                &self.symbols,
                self.all_market,
                &self.addresses,
                self.options,
                self.sink,
            )
            .await
        })?;
        let list = PyList::empty(py);
        for error in failures {
            list.append(to_py_err(error).into_value(py))?;
        }
        Ok(PyLiquidationStream {
            stream: Arc::new(stream),
            failures: list.unbind(),
        })
    }
}

#[pyclass(name = "LiquidationStream", module = "ccxt_pipeline_rs", frozen)]
pub struct PyLiquidationStream {
    stream: Arc<LiquidationStream>,
    failures: Py<PyList>,
}

#[pymethods]
impl PyLiquidationStream {
    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    /// The next table of liquidations, waiting for one; StopIteration once closed and drained.
    fn __next__(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let stream = self.stream.clone();
        match block_on(py, async move { stream.next_batch().await })? {
            Some(batch) => to_pyarrow(py, batch),
            None => Err(PyStopIteration::new_err(())),
        }
    }

    /// The next table, or `None` if none arrives within `timeout` seconds (`None`: wait as long as it takes).
    /// After the stream is closed and drained it returns `None` at once.
    #[pyo3(signature = (timeout=None))]
    fn get(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<Option<Py<PyAny>>> {
        let stream = self.stream.clone();
        let wait = timeout
            .map(|t| seconds(t.max(1e-6), "timeout"))
            .transpose()?;
        let batch = block_on(py, async move {
            match wait {
                Some(wait) => tokio::time::timeout(wait, stream.next_batch())
                    .await
                    .ok()
                    .flatten(),
                None => stream.next_batch().await,
            }
        })?;
        batch.map(|b| to_pyarrow(py, b)).transpose()
    }

    fn __aiter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __anext__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let stream = self.stream.clone();
        pyo3_async_runtimes::tokio::future_into_py(py, async move {
            match stream.next_batch().await {
                Some(batch) => Python::attach(|py| to_pyarrow(py, batch)),
                None => Err(PyStopAsyncIteration::new_err(())),
            }
        })
    }

    /// Stops the connections, records gaps still open, flushes the last batch to the store and the iterator.
    /// Tables already queued can still be read. Idempotent.
    fn close(&self, py: Python<'_>) -> PyResult<()> {
        let stream = self.stream.clone();
        block_on(py, async move { stream.close().await })
    }

    fn aclose<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let stream = self.stream.clone();
        pyo3_async_runtimes::tokio::future_into_py(py, async move {
            stream.close().await;
            Ok(())
        })
    }

    fn __enter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __exit__(
        &self,
        py: Python<'_>,
        _ty: Py<PyAny>,
        _value: Py<PyAny>,
        _tb: Py<PyAny>,
    ) -> PyResult<bool> {
        self.close(py)?;
        Ok(false)
    }

    fn __aenter__<'py>(slf: PyRef<'py, Self>, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let this: Py<PyAny> = slf.into_pyobject(py)?.into_any().unbind();
        pyo3_async_runtimes::tokio::future_into_py(py, async move { Ok(this) })
    }

    fn __aexit__<'py>(
        &self,
        py: Python<'py>,
        _ty: Py<PyAny>,
        _value: Py<PyAny>,
        _tb: Py<PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let stream = self.stream.clone();
        pyo3_async_runtimes::tokio::future_into_py(py, async move {
            stream.close().await;
            Ok(false)
        })
    }

    /// Every interval in which a stream was not delivering (the gaps table: `venue`, `symbol`, `instrument_id`,
    /// `ts_event` = start, `ts_init` = end, `stream`, `reason`).
    #[getter]
    fn gaps(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        to_pyarrow(py, stream_gap_batch(&self.stream.gaps()))
    }

    /// One exception per venue that could not start (unknown symbol, no such stream); the others run.
    #[getter]
    fn failures(&self, py: Python<'_>) -> Py<PyList> {
        self.failures.clone_ref(py)
    }

    /// Distinct liquidations received.
    #[getter]
    fn events(&self) -> u64 {
        self.stream.stats().events.load(Ordering::Relaxed)
    }

    /// Events received again (overlapping connections, re-polls) and dropped.
    #[getter]
    fn duplicates(&self) -> u64 {
        self.stream.stats().duplicates.load(Ordering::Relaxed)
    }

    /// Connections re-established after a break.
    #[getter]
    fn reconnects(&self) -> u64 {
        self.stream.stats().reconnects.load(Ordering::Relaxed)
    }

    /// Connections replaced on schedule, overlapping, with no gap.
    #[getter]
    fn planned_reconnects(&self) -> u64 {
        self.stream
            .stats()
            .planned_reconnects
            .load(Ordering::Relaxed)
    }

    /// Rows the iterator dropped because the consumer fell behind (the store still has them).
    #[getter]
    fn dropped(&self) -> u64 {
        self.stream.stats().dropped.load(Ordering::Relaxed)
    }

    /// Frames that were not the venue's documented shape, skipped.
    #[getter]
    fn malformed(&self) -> u64 {
        self.stream.stats().malformed.load(Ordering::Relaxed)
    }

    /// Connections (and pollers) delivering now.
    #[getter]
    fn connected(&self) -> u64 {
        self.stream.stats().connected.load(Ordering::Relaxed)
    }

    /// Rows handed to the store.
    #[getter]
    fn stored(&self) -> u64 {
        self.stream.stats().stored.load(Ordering::Relaxed)
    }

    fn __repr__(&self) -> String {
        let stats = self.stream.stats();
        format!(
            "LiquidationStream(events={}, reconnects={}, gaps={}, dropped={})",
            stats.events.load(Ordering::Relaxed),
            stats.reconnects.load(Ordering::Relaxed),
            stats.gaps.load(Ordering::Relaxed),
            stats.dropped.load(Ordering::Relaxed)
        )
    }
}
