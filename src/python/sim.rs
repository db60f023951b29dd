//! The exchange simulator for Python tests and `ccxt-cli sim serve`; `ccxt_pipeline_rs.sim.ExchangeSimulator` is
//! the context-manager face of this class.

use std::time::Duration;

use pyo3::prelude::*;

use crate::model::Venue;
use crate::python::errors::to_py_err;
use crate::python::runtime::{block_on, runtime};
use crate::sim::{Fault, SimConfig, SimServer};

fn venue(name: &str) -> PyResult<Venue> {
    name.parse().map_err(to_py_err)
}

#[pyclass(name = "SimServer", module = "ccxt_pipeline_rs", frozen)]
pub struct PySimServer {
    server: SimServer,
}

#[pymethods]
impl PySimServer {
    /// Starts serving on 127.0.0.1:`port` (0 = any free port) in the background.
    #[new]
    #[pyo3(signature = (seed=0, port=0, enforce_rate_limits=true))]
    // The update keeps this compiling when the simulator's configuration grows.
    #[allow(clippy::needless_update)]
    fn new(py: Python<'_>, seed: u64, port: u16, enforce_rate_limits: bool) -> PyResult<Self> {
        let config = SimConfig {
            seed,
            enforce_rate_limits,
            ..SimConfig::default()
        };
        // Started inside the runtime so the accept loop is spawned there and outlives this call.
        let server = block_on(py, async {
            runtime().spawn(SimServer::start(config, port)).await
        })?
        .map_err(|e| {
            pyo3::exceptions::PyRuntimeError::new_err(format!("simulator task failed: {e}"))
        })?
        .map_err(|e| {
            pyo3::exceptions::PyOSError::new_err(format!(
                "cannot start simulator on port {port}: {e}"
            ))
        })?;
        Ok(PySimServer { server })
    }

    #[getter]
    fn port(&self) -> u16 {
        self.server.port()
    }

    fn base_url(&self, venue_name: &str) -> PyResult<String> {
        Ok(self.server.base_url(venue(venue_name)?))
    }

    /// Delay before every answer of `venue_name`, in seconds.
    fn set_latency(&self, venue_name: &str, seconds: f64) -> PyResult<()> {
        let latency = Duration::try_from_secs_f64(seconds).map_err(|_| {
            pyo3::exceptions::PyValueError::new_err(format!(
                "latency must be >= 0 seconds, got {seconds}"
            ))
        })?;
        self.server.set_latency(venue(venue_name)?, latency);
        Ok(())
    }

    /// Freezes the simulator clock at `now_ms` (epoch ms); `None` returns to the wall clock.
    #[pyo3(signature = (now_ms=None))]
    fn set_clock_ms(&self, now_ms: Option<i64>) {
        self.server.set_clock_ms(now_ms);
    }

    fn now_ms(&self) -> i64 {
        self.server.now_ms()
    }

    /// The next `count` requests of `venue_name` are answered with `status` and `body`.
    #[pyo3(signature = (venue_name, status, body, count=1, retry_after_secs=None))]
    fn inject_status(
        &self,
        venue_name: &str,
        status: u16,
        body: String,
        count: usize,
        retry_after_secs: Option<u64>,
    ) -> PyResult<()> {
        let fault = Fault::Status {
            status,
            body,
            retry_after_secs,
        };
        self.server
            .inject_faults(venue(venue_name)?, vec![fault; count]);
        Ok(())
    }

    fn request_count(&self, venue_name: &str) -> PyResult<u64> {
        Ok(self.server.request_count(venue(venue_name)?))
    }

    fn shutdown(&self) {
        self.server.shutdown();
    }
}
