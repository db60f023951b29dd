//! The mapping from [`PipelineError`] to the Python exception hierarchy (docs/architecture.md#errors).
//!
//! The classes are plain Python classes in `ccxt_pipeline_rs.errors` (typed attributes set in `__init__`, picklable,
//! `InvalidArgumentError` also a `ValueError` and a `TypeError`): with abi3 below Python 3.12 a `#[pyclass]` cannot
//! extend `Exception`. This module imports them once and raises instances built with keyword arguments; `_core`
//! re-exports them, so `ccxt_pipeline_rs._core.NetworkError is ccxt_pipeline_rs.NetworkError`.

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyModule, PyType};

use crate::model::PipelineError;

/// The Python module that defines the classes.
const MODULE: &str = "ccxt_pipeline_rs.errors";

/// Every name the module defines, re-exported by `_core`.
const NAMES: [&str; 11] = [
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
];

fn module(py: Python<'_>) -> PyResult<&Bound<'_, PyModule>> {
    static MODULE_REF: PyOnceLock<Py<PyModule>> = PyOnceLock::new();
    MODULE_REF
        .get_or_try_init(py, || py.import(MODULE).map(Bound::unbind))
        .map(|m| m.bind(py))
}

/// The class `name` of `ccxt_pipeline_rs.errors`.
fn class<'py>(py: Python<'py>, name: &str) -> PyResult<Bound<'py, PyType>> {
    Ok(module(py)?.getattr(name)?.cast_into::<PyType>()?)
}

/// The attributes an error carries besides its message; `None` where they do not apply.
#[derive(Default)]
struct Attributes {
    venue: Option<&'static str>,
    code: Option<i64>,
    status: Option<u16>,
    retry_after: Option<f64>,
    suggestions: Vec<String>,
}

/// An instance of class `name` with `message` and `attributes`, as a `PyErr`. If that cannot be built (the module
/// failed to import), the error that prevented it is returned instead, so nothing is swallowed.
fn new_err(name: &str, message: String, attributes: Attributes) -> PyErr {
    Python::attach(|py| {
        let build = || -> PyResult<PyErr> {
            let kwargs = PyDict::new(py);
            kwargs.set_item("venue", attributes.venue)?;
            kwargs.set_item("code", attributes.code)?;
            kwargs.set_item("status", attributes.status)?;
            kwargs.set_item("retry_after", attributes.retry_after)?;
            kwargs.set_item("suggestions", attributes.suggestions)?;
            let value = class(py, name)?.call((message,), Some(&kwargs))?;
            Ok(PyErr::from_value(value))
        };
        build().unwrap_or_else(|e| e)
    })
}

/// An `InternalError` (a panic of ours) without a venue.
pub fn internal_error(message: String) -> PyErr {
    new_err("InternalError", message, Attributes::default())
}

/// Emits each message as an `IncompleteHistoryWarning`.
pub fn warn_incomplete(py: Python<'_>, messages: &[String]) -> PyResult<()> {
    if messages.is_empty() {
        return Ok(());
    }
    let category = class(py, "IncompleteHistoryWarning")?;
    for message in messages {
        let text = std::ffi::CString::new(message.replace('\0', " ")).expect("NULs replaced");
        PyErr::warn(py, &category, &text, 1)?;
    }
    Ok(())
}

/// Builds the Python exception for `error`, with attributes `venue`, `code`, `status`, `retry_after`,
/// `suggestions` set where they apply (and `None` / empty otherwise, so callers can read them without `getattr`).
pub fn to_py_err(error: PipelineError) -> PyErr {
    let message = error.to_string();
    let venue = error.venue().map(|v| v.as_str());
    let plain = Attributes {
        venue,
        ..Attributes::default()
    };
    let (name, attributes) = match error {
        PipelineError::Network { .. } => ("NetworkError", plain),
        PipelineError::RateLimited {
            status,
            retry_after_ms,
            ..
        } => (
            "RateLimitError",
            Attributes {
                status: Some(status).filter(|s| *s != 0),
                retry_after: retry_after_ms.map(|ms| ms as f64 / 1000.0),
                ..plain
            },
        ),
        PipelineError::Exchange { status, code, .. } => (
            "ExchangeError",
            Attributes {
                code: Some(code),
                status: Some(status),
                ..plain
            },
        ),
        PipelineError::Malformed { .. } => ("MalformedResponseError", plain),
        PipelineError::SymbolNotFound { suggestions, .. } => (
            "SymbolNotFoundError",
            Attributes {
                suggestions,
                ..plain
            },
        ),
        PipelineError::Unsupported { .. } => ("UnsupportedError", plain),
        PipelineError::InvalidArgument(_) => ("InvalidArgumentError", plain),
        PipelineError::Store(_) => ("StoreError", plain),
        PipelineError::Internal { .. } => ("InternalError", plain),
    };
    new_err(name, message, attributes)
}

/// Re-exports the classes as attributes of `_core`.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    for name in NAMES {
        m.add(name, class(py, name)?)?;
    }
    Ok(())
}
