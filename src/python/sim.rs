//! The exchange simulator for Python tests and `ccxt-cli sim serve`; `ccxt_pipeline_rs.sim.ExchangeSimulator` is
//! the context-manager face of this class.

use std::time::Duration;

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::model::Venue;
use crate::python::errors::to_py_err;
use crate::python::runtime::{block_on, runtime};
use crate::sim::{Fault, SimConfig, SimServer, WsFault};

fn venue(name: &str) -> PyResult<Venue> {
    name.parse().map_err(to_py_err)
}

/// A duration given in seconds by Python: finite and not negative.
fn seconds(what: &str, value: f64) -> PyResult<Duration> {
    Duration::try_from_secs_f64(value)
        .map_err(|_| PyValueError::new_err(format!("{what} must be >= 0 seconds, got {value}")))
}

/// `inject_ws_fault`'s `kind` and its argument as a [`WsFault`].
fn ws_fault(kind: &str, seconds_arg: Option<f64>, count: Option<u64>) -> PyResult<WsFault> {
    let duration = |name: &str| -> PyResult<Duration> {
        let value = seconds_arg
            .ok_or_else(|| PyValueError::new_err(format!("ws fault {name:?} needs seconds")))?;
        seconds("seconds", value)
    };
    Ok(match kind {
        "drop" => WsFault::Drop,
        "drop_every" => match seconds_arg {
            // `drop_every` with 0 (or no) seconds ends periodic drops.
            None | Some(0.0) => WsFault::StopDropping,
            Some(_) => WsFault::DropEvery(duration(kind)?),
        },
        "stop_dropping" => WsFault::StopDropping,
        "stall" => WsFault::Stall(duration(kind)?),
        "malformed" => WsFault::Malformed,
        "refuse" => WsFault::Refuse(duration(kind)?),
        "burst" => WsFault::Burst(
            count.ok_or_else(|| PyValueError::new_err("ws fault \"burst\" needs count"))?,
        ),
        other => {
            return Err(PyValueError::new_err(format!(
                "unknown ws fault {other:?}; expected drop, drop_every, stop_dropping, stall, malformed, refuse or burst"
            )))
        }
    })
}

#[pyclass(name = "SimServer", module = "ccxt_pipeline_rs", frozen)]
pub struct PySimServer {
    server: SimServer,
}

#[pymethods]
impl PySimServer {
    /// Starts serving on 127.0.0.1:`port` (0 = any free port) in the background.
    #[new]
    #[pyo3(signature = (seed=0, port=0, enforce_rate_limits=true, liquidation_rate=None))]
    fn new(
        py: Python<'_>,
        seed: u64,
        port: u16,
        enforce_rate_limits: bool,
        liquidation_rate: Option<f64>,
    ) -> PyResult<Self> {
        if let Some(rate) = liquidation_rate {
            check_rate(rate)?;
        }
        let config = SimConfig {
            seed,
            enforce_rate_limits,
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
        if let Some(rate) = liquidation_rate {
            for venue in Venue::ALL {
                server.set_liquidation_rate(venue, rate);
            }
        }
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
        let latency = self::seconds("latency", seconds)?;
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

    /// `ws://127.0.0.1:PORT/<venue>`.
    fn ws_base_url(&self, venue_name: &str) -> PyResult<String> {
        Ok(self.server.ws_base_url(venue(venue_name)?))
    }

    /// Liquidations per second per symbol `venue_name` generates (0 stops them; Hyperliquid ignores it).
    fn set_liquidation_rate(&self, venue_name: &str, per_second: f64) -> PyResult<()> {
        check_rate(per_second)?;
        self.server
            .set_liquidation_rate(venue(venue_name)?, per_second);
        Ok(())
    }

    /// The native symbols `venue_name` generates liquidations for.
    fn liquidation_symbols(&self, venue_name: &str) -> PyResult<Vec<String>> {
        Ok(self.server.liquidation_symbols(venue(venue_name)?))
    }

    /// Every liquidation `venue_name` emitted, oldest first, as dicts with `venue`, `symbol`, `time_ms`, `side`
    /// (`"SELL"` = a long was liquidated), `price`, `quantity`, `order_price` (Binance `p`, else None),
    /// `sent_at_ms` and `delivered` (connections the frame was written to).
    fn liquidations_emitted<'py>(
        &self,
        py: Python<'py>,
        venue_name: &str,
    ) -> PyResult<Vec<Bound<'py, PyDict>>> {
        self.server
            .liquidations_emitted(venue(venue_name)?)
            .into_iter()
            .map(|event| {
                let out = PyDict::new(py);
                out.set_item("venue", event.venue.as_str())?;
                out.set_item("symbol", event.symbol)?;
                out.set_item("time_ms", event.time_ms)?;
                out.set_item("side", event.side.as_str())?;
                out.set_item("price", event.price)?;
                out.set_item("quantity", event.quantity)?;
                out.set_item("order_price", event.order_price)?;
                out.set_item("sent_at_ms", event.sent_at_ms)?;
                out.set_item("delivered", event.delivered)?;
                Ok(out)
            })
            .collect()
    }

    /// Emitted liquidations evicted from the ground truth (it keeps the last million per venue).
    fn liquidations_evicted(&self, venue_name: &str) -> PyResult<u64> {
        Ok(self.server.liquidations_evicted(venue(venue_name)?))
    }

    /// Every WebSocket upgrade request so far: (wall-clock ms, accepted).
    fn ws_connection_attempts(&self, venue_name: &str) -> PyResult<Vec<(i64, bool)>> {
        Ok(self.server.ws_connection_attempts(venue(venue_name)?))
    }

    fn ws_open_connections(&self, venue_name: &str) -> PyResult<usize> {
        Ok(self.server.ws_open_connections(venue(venue_name)?))
    }

    /// `kind`: `drop`, `drop_every` (`seconds`; 0 or None stops), `stop_dropping`, `stall` (`seconds`),
    /// `malformed`, `refuse` (`seconds`), `burst` (`count`).
    #[pyo3(signature = (venue_name, kind, seconds=None, count=None))]
    fn inject_ws_fault(
        &self,
        venue_name: &str,
        kind: &str,
        seconds: Option<f64>,
        count: Option<u64>,
    ) -> PyResult<()> {
        let venue = venue(venue_name)?;
        let fault = ws_fault(kind, seconds, count)?;
        self.server.inject_ws_fault(venue, fault);
        Ok(())
    }

    /// Seconds between the server's WebSocket Pings on connections opened from now on (default 20).
    fn set_ws_ping_interval(&self, seconds_between: f64) -> PyResult<()> {
        let interval = seconds("ping interval", seconds_between)?;
        if interval.is_zero() {
            return Err(PyValueError::new_err("ping interval must be > 0 seconds"));
        }
        self.server.set_ws_ping_interval(interval);
        Ok(())
    }

    /// Frames a slow reader may have queued before its connection is dropped (default 1024).
    fn set_ws_queue_capacity(&self, frames: usize) {
        self.server.set_ws_queue_capacity(frames);
    }

    /// The ground truth of `userFillsByTime` for `user` as a JSON array text (the wire form of every fill in
    /// [`start_ms`, `end_ms`], oldest first, uncapped); `end_ms` None = the simulator clock.
    #[pyo3(signature = (user, start_ms, end_ms=None))]
    fn hyperliquid_user_fills_json(
        &self,
        user: &str,
        start_ms: i64,
        end_ms: Option<i64>,
    ) -> String {
        let fills = self
            .server
            .hyperliquid_user_fills(user, start_ms, end_ms.unwrap_or(i64::MAX));
        serde_json::Value::Array(fills.iter().map(|fill| fill.to_json()).collect()).to_string()
    }

    fn shutdown(&self) {
        self.server.shutdown();
    }
}

fn check_rate(per_second: f64) -> PyResult<()> {
    if per_second.is_finite() && per_second >= 0.0 {
        Ok(())
    } else {
        Err(PyValueError::new_err(format!(
            "liquidation rate must be a number >= 0 per second, got {per_second}"
        )))
    }
}
