//! The Python exception hierarchy (docs/architecture.md#errors) and the mapping from [`PipelineError`]. Exceptions
//! carry the venue and, where there is one, the venue's code and message as attributes.

use pyo3::create_exception;
use pyo3::exceptions::PyException;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyTuple, PyType};

use crate::model::PipelineError;

create_exception!(
    _core,
    PipelineErrorPy,
    PyException,
    "Base class of every ccxt_pipeline_rs error."
);
create_exception!(
    _core,
    NetworkError,
    PipelineErrorPy,
    "Connection failed or timed out; may succeed later."
);
create_exception!(
    _core,
    RateLimitError,
    PipelineErrorPy,
    "The venue throttled us and retries did not get through."
);
create_exception!(
    _core,
    ExchangeError,
    PipelineErrorPy,
    "The venue answered with an error of its own (`code`, `message`)."
);
create_exception!(
    _core,
    MalformedResponseError,
    ExchangeError,
    "The venue's answer did not have the documented shape."
);
create_exception!(
    _core,
    SymbolNotFoundError,
    PipelineErrorPy,
    "The venue does not list the symbol (`suggestions`)."
);
create_exception!(
    _core,
    UnsupportedError,
    PipelineErrorPy,
    "The venue does not offer what was asked."
);
create_exception!(
    _core,
    StoreError,
    PipelineErrorPy,
    "The Parquet store could not be read or written."
);
create_exception!(
    _core,
    InternalError,
    PipelineErrorPy,
    "A bug in ccxt_pipeline_rs (e.g. a panic in the Rust core); please report it."
);
create_exception!(
    _core,
    IncompleteHistoryWarning,
    pyo3::exceptions::PyUserWarning,
    "The venue served less history than was asked (e.g. Binance keeps 30 days of open interest)."
);

/// `InvalidArgumentError(PipelineError, ValueError, TypeError)`: bad input is a pipeline error and also what
/// ordinary Python handlers expect (`except ValueError`, `except TypeError`). Built once with `type()`, since
/// `create_exception!` takes a single base.
pub fn invalid_argument_type(py: Python<'_>) -> &Bound<'_, PyType> {
    static TYPE: PyOnceLock<Py<PyType>> = PyOnceLock::new();
    TYPE.get_or_init(py, || {
        let make = || -> PyResult<Py<PyType>> {
            let builtins = py.import("builtins")?;
            let bases = PyTuple::new(
                py,
                [
                    py.get_type::<PipelineErrorPy>().into_any(),
                    builtins.getattr("ValueError")?,
                    builtins.getattr("TypeError")?,
                ],
            )?;
            let namespace = PyDict::new(py);
            namespace.set_item("__module__", "ccxt_pipeline_rs._core")?;
            namespace.set_item(
                "__doc__",
                "An argument was not understood (also a ValueError and a TypeError).",
            )?;
            Ok(builtins
                .getattr("type")?
                .call1(("InvalidArgumentError", bases, namespace))?
                .cast_into::<PyType>()?
                .unbind())
        };
        make().expect("a subclass of three exception classes can always be created")
    })
    .bind(py)
}

/// Emits each message as an `IncompleteHistoryWarning`.
pub fn warn_incomplete(py: Python<'_>, messages: &[String]) -> PyResult<()> {
    let category = py.get_type::<IncompleteHistoryWarning>();
    for message in messages {
        let text = std::ffi::CString::new(message.replace('\0', " ")).expect("NULs replaced");
        PyErr::warn(py, &category, &text, 1)?;
    }
    Ok(())
}

/// Builds the Python exception for `error`, with attributes `venue`, `code`, `status`, `retry_after`,
/// `suggestions` set where they apply (and `None` otherwise, so callers can read them without `getattr`).
pub fn to_py_err(error: PipelineError) -> PyErr {
    let message = error.to_string();
    let venue = error.venue().map(|v| v.as_str());
    let (err, code, status, retry_after, suggestions) = match &error {
        PipelineError::Network { .. } => (NetworkError::new_err(message), None, None, None, None),
        PipelineError::RateLimited {
            status,
            retry_after_ms,
            ..
        } => (
            RateLimitError::new_err(message),
            None,
            Some(*status).filter(|s| *s != 0),
            retry_after_ms.map(|ms| ms as f64 / 1000.0),
            None,
        ),
        PipelineError::Exchange { status, code, .. } => (
            ExchangeError::new_err(message),
            Some(*code),
            Some(*status),
            None,
            None,
        ),
        PipelineError::Malformed { .. } => (
            MalformedResponseError::new_err(message),
            None,
            None,
            None,
            None,
        ),
        PipelineError::SymbolNotFound { suggestions, .. } => (
            SymbolNotFoundError::new_err(message),
            None,
            None,
            None,
            Some(suggestions.clone()),
        ),
        PipelineError::Unsupported { .. } => {
            (UnsupportedError::new_err(message), None, None, None, None)
        }
        PipelineError::InvalidArgument(_) => (
            Python::attach(|py| PyErr::from_type(invalid_argument_type(py).clone(), message)),
            None,
            None,
            None,
            None,
        ),
        PipelineError::Store(_) => (StoreError::new_err(message), None, None, None, None),
        PipelineError::Internal { .. } => (InternalError::new_err(message), None, None, None, None),
    };
    Python::attach(|py| {
        let value = err.value(py);
        // Setting attributes on a fresh exception instance cannot fail short of memory exhaustion; if it does,
        // the exception still carries its message.
        let _ = value.setattr("venue", venue);
        let _ = value.setattr("code", code);
        let _ = value.setattr("status", status);
        let _ = value.setattr("retry_after", retry_after);
        let _ = value.setattr("suggestions", suggestions.unwrap_or_default());
    });
    err
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("PipelineError", py.get_type::<PipelineErrorPy>())?;
    m.add("NetworkError", py.get_type::<NetworkError>())?;
    m.add("RateLimitError", py.get_type::<RateLimitError>())?;
    m.add("ExchangeError", py.get_type::<ExchangeError>())?;
    m.add(
        "MalformedResponseError",
        py.get_type::<MalformedResponseError>(),
    )?;
    m.add("SymbolNotFoundError", py.get_type::<SymbolNotFoundError>())?;
    m.add("UnsupportedError", py.get_type::<UnsupportedError>())?;
    m.add("InvalidArgumentError", invalid_argument_type(py))?;
    m.add("StoreError", py.get_type::<StoreError>())?;
    m.add("InternalError", py.get_type::<InternalError>())?;
    m.add(
        "IncompleteHistoryWarning",
        py.get_type::<IncompleteHistoryWarning>(),
    )?;
    Ok(())
}
