//! The venue and data kind lists, venue name parsing (aliases included) and the `CCXT_PIPELINE_<VENUE>_URL` /
//! `_WS_URL` resolution, exported so that the Python side (the CLI, the simulator wrapper) repeats none of them.

use pyo3::prelude::*;
use pyo3::types::PyTuple;

use crate::model::Venue;
use crate::python::errors::to_py_err;
use crate::store::Kind;

fn venue(name: &str) -> PyResult<Venue> {
    name.parse().map_err(to_py_err)
}

/// The canonical name of a venue (`binanceusdm` → `binance`); `InvalidArgumentError` for an unknown one.
#[pyfunction]
fn venue_from_name(name: &str) -> PyResult<&'static str> {
    venue(name).map(Venue::as_str)
}

/// The REST base URL of `venue`: `CCXT_PIPELINE_<VENUE>_URL` if set and not blank, else production.
#[pyfunction]
fn base_url_from_env(venue: &str) -> PyResult<String> {
    self::venue(venue).map(Venue::base_url_from_env)
}

/// The WebSocket base URL of `venue`: `CCXT_PIPELINE_<VENUE>_WS_URL` if set and not blank, else production.
#[pyfunction]
fn ws_url_from_env(venue: &str) -> PyResult<String> {
    self::venue(venue).map(Venue::ws_url_from_env)
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("VENUES", PyTuple::new(py, Venue::ALL.map(Venue::as_str))?)?;
    m.add("KINDS", PyTuple::new(py, Kind::ALL.map(Kind::name))?)?;
    m.add_function(wrap_pyfunction!(venue_from_name, m)?)?;
    m.add_function(wrap_pyfunction!(base_url_from_env, m)?)?;
    m.add_function(wrap_pyfunction!(ws_url_from_env, m)?)?;
    Ok(())
}
