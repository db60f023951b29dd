//! `DaemonRunner` for Python: runs the daemon on the shared runtime until `stop()`, SIGTERM or Ctrl+C, each of
//! which stops it gracefully (in-flight work finishes or is abandoned within its bound, buffers are flushed).

use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use pyo3::prelude::*;
use tokio::sync::watch;

use crate::daemon::{DaemonConfig, DaemonLock, DaemonRunner};
use crate::python::config::PyPipelineConfig;
use crate::python::errors::to_py_err;
use crate::python::runtime::runtime;

#[pyclass(name = "DaemonRunner", module = "ccxt_pipeline_rs", frozen)]
pub struct PyDaemonRunner {
    config: DaemonConfig,
    stop: Mutex<Option<watch::Sender<bool>>>,
}

impl PyDaemonRunner {
    fn stop_channel(&self) -> watch::Receiver<bool> {
        let (stop, stopped) = watch::channel(false);
        *self.stop.lock().unwrap_or_else(|p| p.into_inner()) = Some(stop);
        stopped
    }
}

#[pymethods]
impl PyDaemonRunner {
    #[new]
    fn new(config: PyRef<'_, PyPipelineConfig>) -> Self {
        PyDaemonRunner {
            config: config.config.clone(),
            stop: Mutex::new(None),
        }
    }

    /// Runs until `stop()`, SIGTERM or Ctrl+C; returns once everything is flushed. Raises if the daemon cannot
    /// start (another daemon holds the data dir, the store cannot be opened).
    fn run(&self, py: Python<'_>) -> PyResult<()> {
        let stopped = self.stop_channel();
        let runner = DaemonRunner::new(self.config.clone());
        let mut task = runtime().spawn(async move { runner.run(stopped).await });
        loop {
            let finished = py.detach(|| {
                runtime().block_on(async {
                    tokio::select! {
                        joined = &mut task => Some(joined),
                        () = tokio::time::sleep(Duration::from_millis(100)) => None,
                    }
                })
            });
            if let Some(joined) = finished {
                return joined
                    .map_err(|e| {
                        pyo3::exceptions::PyRuntimeError::new_err(format!(
                            "the daemon task failed: {e}"
                        ))
                    })?
                    .map_err(to_py_err);
            }
            if let Err(interrupt) = py.check_signals() {
                // Ctrl+C is a stop request: finish gracefully, then let the interrupt go on if it was not one.
                self.stop();
                let joined = py.detach(|| runtime().block_on(&mut task));
                joined
                    .map_err(|e| {
                        pyo3::exceptions::PyRuntimeError::new_err(format!(
                            "the daemon task failed: {e}"
                        ))
                    })?
                    .map_err(to_py_err)?;
                return if interrupt.is_instance_of::<pyo3::exceptions::PyKeyboardInterrupt>(py) {
                    Ok(())
                } else {
                    Err(interrupt)
                };
            }
        }
    }

    /// The same as an awaitable; `stop()` (or cancelling the await) ends it.
    fn run_async<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let stopped = self.stop_channel();
        let runner = DaemonRunner::new(self.config.clone());
        pyo3_async_runtimes::tokio::future_into_py(py, async move {
            runner.run(stopped).await.map_err(to_py_err)
        })
    }

    /// Asks a running daemon to stop (from another thread or task).
    fn stop(&self) {
        if let Some(stop) = self.stop.lock().unwrap_or_else(|p| p.into_inner()).as_ref() {
            stop.send_replace(true);
        }
    }

    #[getter]
    fn data_dir(&self) -> PathBuf {
        self.config.data_dir.clone()
    }
}

/// The PID of the daemon running on `data_dir`, or `None` (a PID file left by a killed daemon is not one).
#[pyfunction]
pub fn daemon_pid(data_dir: PathBuf) -> Option<u32> {
    DaemonLock::holder(&data_dir)
}
