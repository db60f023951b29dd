//! Running Rust futures from Python: sync calls block on the shared tokio runtime with the GIL released (and stay
//! interruptible by Ctrl+C); `_async` calls return asyncio awaitables.

use std::future::Future;
use std::time::Duration;

use arrow_array::RecordBatch;
use pyo3::prelude::*;
use pyo3_arrow::PyTable;

use crate::model::Result;
use crate::python::errors::to_py_err;

/// How often a blocked sync call looks for a pending KeyboardInterrupt.
const SIGNAL_POLL: Duration = Duration::from_millis(100);

pub fn runtime() -> &'static tokio::runtime::Runtime {
    pyo3_async_runtimes::tokio::get_runtime()
}

/// Runs `future` to completion with the GIL released. Python signal handlers run every 100 ms; if one raises
/// (Ctrl+C → KeyboardInterrupt), the future is dropped, which cancels its requests.
pub fn block_on<T: Send>(py: Python<'_>, future: impl Future<Output = T> + Send) -> PyResult<T> {
    py.detach(|| {
        runtime().block_on(async {
            tokio::pin!(future);
            loop {
                tokio::select! {
                    out = &mut future => return Ok(out),
                    _ = tokio::time::sleep(SIGNAL_POLL) => Python::attach(|py| py.check_signals())?,
                }
            }
        })
    })
}

/// Like [`block_on`] for fallible pipeline futures, mapping the error to its Python class.
pub fn block_on_result<T: Send>(
    py: Python<'_>,
    future: impl Future<Output = Result<T>> + Send,
) -> PyResult<T> {
    block_on(py, future)?.map_err(to_py_err)
}

/// An asyncio awaitable running `future` on the shared runtime; its value is converted under the GIL.
pub fn awaitable<'py, T, R>(
    py: Python<'py>,
    future: impl Future<Output = Result<T>> + Send + 'static,
    convert: impl FnOnce(Python<'_>, T) -> PyResult<R> + Send + 'static,
) -> PyResult<Bound<'py, PyAny>>
where
    T: Send + 'static,
    R: for<'a> IntoPyObject<'a> + Send + 'static,
{
    pyo3_async_runtimes::tokio::future_into_py(py, async move {
        let value = future.await.map_err(to_py_err)?;
        Python::attach(|py| convert(py, value))
    })
}

/// Hands record batches to pyarrow through the Arrow C stream interface: buffers are shared, not copied.
pub fn to_pyarrow(py: Python<'_>, batch: RecordBatch) -> PyResult<Py<PyAny>> {
    let schema = batch.schema();
    Ok(PyTable::try_new(vec![batch], schema)?
        .into_pyarrow(py)?
        .unbind())
}
