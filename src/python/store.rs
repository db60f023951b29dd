//! `ParquetStore` for Python (docs/architecture.md#python-surface). Disk work runs with the GIL released.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use pyo3::prelude::*;
use pyo3::types::PyDict;
use pyo3_arrow::PyTable;

use crate::model::{PipelineError, Venue};
use crate::python::dates::{datetime_ns, py_datetime};
use crate::python::errors::to_py_err;
use crate::python::runtime::{batches_to_pyarrow, detach_guarded};
use crate::store::{Kind, ParquetStore, TimeRange};

fn venues(venue: Option<&str>) -> PyResult<Option<Vec<Venue>>> {
    venue
        .map(|v| {
            v.split(',')
                .map(str::parse)
                .collect::<Result<Vec<Venue>, _>>()
        })
        .transpose()
        .map_err(to_py_err)
}

fn paths(paths: &[PathBuf]) -> Vec<String> {
    paths.iter().map(|p| p.display().to_string()).collect()
}

/// A Python exception (Ctrl+C) raised while a writer waited for the lock, handed back after the wait ends.
type Pending = Arc<Mutex<Option<PyErr>>>;

#[pyclass(name = "ParquetStore", module = "ccxt_pipeline_rs", frozen)]
pub struct PyParquetStore {
    pub(crate) store: ParquetStore,
    interrupted: Pending,
}

impl PyParquetStore {
    /// Runs disk work without the GIL; if Ctrl+C ended a wait for the lock, raises `KeyboardInterrupt` rather than
    /// the store error that carried it out.
    fn run<T: Send>(
        &self,
        py: Python<'_>,
        work: impl FnOnce() -> Result<T, PipelineError> + Send,
    ) -> PyResult<T> {
        let result = detach_guarded(py, work)?;
        let pending = self
            .interrupted
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        match (result, pending) {
            (Err(_), Some(interrupt)) => Err(interrupt),
            (result, _) => result.map_err(to_py_err),
        }
    }
}

#[pymethods]
impl PyParquetStore {
    /// `lock_timeout`: seconds a write waits for another process's lock before raising `StoreError` naming the
    /// holder (default: wait, logging after a moment who holds it; Ctrl+C interrupts the wait).
    #[new]
    #[pyo3(signature = (root, lock_timeout=None))]
    fn new(py: Python<'_>, root: PathBuf, lock_timeout: Option<f64>) -> PyResult<Self> {
        let timeout = lock_timeout
            .map(|t| {
                if (0.0..=1e9).contains(&t) {
                    Ok(Duration::from_secs_f64(t))
                } else {
                    Err(to_py_err(PipelineError::InvalidArgument(format!(
                        "lock_timeout must be a number of seconds from 0 to 1e9, not {t}"
                    ))))
                }
            })
            .transpose()?;
        let interrupted: Pending = Arc::default();
        let pending = interrupted.clone();
        // Runs Python's signal handlers (Ctrl+C) while a write waits for the lock; they only run on the main
        // thread, so elsewhere (a fetch's blocking task) this is a no-op. No interpreter (shutting down): no-op.
        let check = move || match Python::try_attach(|py| py.check_signals()) {
            Some(Err(e)) => {
                *pending.lock().unwrap_or_else(|p| p.into_inner()) = Some(e);
                Err(PipelineError::Store(
                    "interrupted while waiting for the store lock".into(),
                ))
            }
            _ => Ok(()),
        };
        let store = detach_guarded(py, || ParquetStore::open(root))?
            .map_err(to_py_err)?
            .with_lock_timeout(timeout)
            .with_wait_check(Arc::new(check));
        Ok(PyParquetStore { store, interrupted })
    }

    #[getter]
    fn root(&self) -> PathBuf {
        self.store.root().to_path_buf()
    }

    /// Rows this store object has added since it was opened (by `write`, fetches and streams given it), counted
    /// as they reach the disk.
    #[getter]
    fn rows_added(&self) -> u64 {
        self.store.rows_added()
    }

    /// Waits (at most `timeout` seconds) until no write through this store is under way, e.g. the page a
    /// cancelled fetch had already handed to the disk; `False` if one still is. Then `rows_added` is final.
    #[pyo3(signature = (timeout=10.0))]
    fn wait_for_writes(&self, py: Python<'_>, timeout: f64) -> bool {
        let timeout = Duration::from_secs_f64(timeout.clamp(0.0, 3600.0));
        py.detach(|| self.store.wait_for_writes(timeout))
    }

    /// Writes a table of one kind (columns: docs/formats.md#tables); returns `{"rows_added", "rows_duplicate",
    /// "files_written"}`.
    fn write<'py>(&self, py: Python<'py>, table: PyTable) -> PyResult<Bound<'py, PyDict>> {
        let (batches, _) = table.into_inner();
        let summary = self.run(py, || self.store.write_batches(&batches))?;
        let out = PyDict::new(py);
        out.set_item("rows_added", summary.rows_added)?;
        out.set_item("rows_duplicate", summary.rows_duplicate)?;
        out.set_item("files_written", summary.files_written)?;
        Ok(out)
    }

    /// Rows of `kind` (`open_interest`, `funding_rate`, `liquidation`, `gaps`), optionally for one symbol (any form), a
    /// comma list of venues, and an inclusive `ts_init` range; a `pyarrow.Table` (docs/formats.md#tables).
    #[pyo3(signature = (kind, symbol=None, venue=None, start=None, end=None))]
    fn read(
        &self,
        py: Python<'_>,
        kind: &str,
        symbol: Option<&str>,
        venue: Option<&str>,
        start: Option<&Bound<'_, PyAny>>,
        end: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        let kind = Kind::parse(kind).map_err(to_py_err)?;
        let venues = venues(venue)?;
        let range = TimeRange {
            start: start.map(datetime_ns).transpose()?,
            end: end.map(datetime_ns).transpose()?,
        };
        let (batches, _) = self.run(py, || {
            let ids = self.store.select(kind, venues.as_deref(), symbol)?;
            self.store.read_batches(kind, &ids, &range)
        })?;
        batches_to_pyarrow(py, batches, kind.table_schema())
    }

    /// Latest `ts_event` stored for `symbol` on `venue` as a UTC `datetime`, or `None`; read from file footers.
    fn get_last_timestamp(
        &self,
        py: Python<'_>,
        kind: &str,
        venue: &str,
        symbol: &str,
    ) -> PyResult<Option<Py<PyAny>>> {
        let kind = Kind::parse(kind).map_err(to_py_err)?;
        let venue: Venue = venue.parse().map_err(to_py_err)?;
        let last = self.run(py, || {
            let ids = self.store.select(kind, Some(&[venue]), Some(symbol))?;
            let mut last = None;
            for id in ids {
                last = last.max(self.store.last_timestamp(kind, &id)?);
            }
            Ok::<_, PipelineError>(last)
        })?;
        last.map(|ns| py_datetime(py, ns)).transpose()
    }

    /// Quarantines unreadable files, removes rows stored twice, merges files that share a day, removes
    /// temporaries of killed writers; returns the counts and the quarantined files' new paths.
    fn compact<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let summary = self.run(py, || self.store.compact())?;
        let out = PyDict::new(py);
        out.set_item("files_before", summary.files_before)?;
        out.set_item("files_after", summary.files_after)?;
        out.set_item("stale_temp_files_removed", summary.stale_temp_files_removed)?;
        out.set_item("duplicates_removed", summary.duplicates_removed)?;
        out.set_item("quarantined", paths(&summary.quarantined))?;
        Ok(out)
    }

    /// One dict per dataset: kind, instrument_id, files, rows, first/last `ts_init` as UTC datetimes, `corrupt`
    /// (unreadable data files, skipped by reads) and `quarantined` (files moved to `<root>/quarantine/`).
    fn summary(&self, py: Python<'_>) -> PyResult<Vec<Py<PyDict>>> {
        let datasets = self.run(py, || self.store.summary())?;
        datasets
            .into_iter()
            .map(|d| {
                let out = PyDict::new(py);
                out.set_item("kind", d.kind.name())?;
                out.set_item("instrument_id", d.instrument_id)?;
                out.set_item("files", d.files)?;
                out.set_item("rows", d.rows)?;
                out.set_item(
                    "first",
                    d.first_ts.map(|ns| py_datetime(py, ns)).transpose()?,
                )?;
                out.set_item("last", d.last_ts.map(|ns| py_datetime(py, ns)).transpose()?)?;
                out.set_item("corrupt", paths(&d.corrupt))?;
                out.set_item("quarantined", paths(&d.quarantined))?;
                Ok(out.unbind())
            })
            .collect()
    }

    /// Seconds a write waits for another process's lock, or `None` (no limit).
    #[getter]
    fn lock_timeout(&self) -> Option<f64> {
        self.store.lock_timeout().map(|t| t.as_secs_f64())
    }

    fn __repr__(&self) -> String {
        format!("ParquetStore('{}')", self.store.root().display())
    }
}
