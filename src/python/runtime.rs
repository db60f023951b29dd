//! Running Rust futures from Python: sync calls block on the shared tokio runtime with the GIL released (and stay
//! interruptible by Ctrl+C); `_async` calls return asyncio awaitables.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::time::Duration;

use futures_util::FutureExt;

use arrow_array::RecordBatch;
use pyo3::prelude::*;
use pyo3_arrow::PyTable;

use crate::model::Result;
use crate::python::errors::{internal_error, to_py_err};

/// How often a blocked sync call looks for a pending KeyboardInterrupt.
const SIGNAL_POLL: Duration = Duration::from_millis(100);

pub fn runtime() -> &'static tokio::runtime::Runtime {
    pyo3_async_runtimes::tokio::get_runtime()
}

/// A panic (a bug of ours) as the `InternalError` Python code can catch, instead of `PanicException`, which
/// `except Exception` does not.
pub fn panic_to_py_err(payload: Box<dyn std::any::Any + Send>) -> PyErr {
    let detail = payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into());
    internal_error(format!("internal error, please report it: {detail}"))
}

/// Runs blocking work (disk, CPU) with the GIL released; a panic in it (a bug of ours) is an `InternalError`, never
/// a `PanicException` that `except Exception` would miss.
pub fn detach_guarded<T: Send>(py: Python<'_>, work: impl FnOnce() -> T + Send) -> PyResult<T> {
    py.detach(|| std::panic::catch_unwind(AssertUnwindSafe(work)))
        .map_err(panic_to_py_err)
}

/// Runs `future` to completion with the GIL released. Python signal handlers run every 100 ms; if one raises
/// (Ctrl+C → KeyboardInterrupt), the future is dropped, which cancels its requests. A panic inside the future
/// becomes an `InternalError`.
pub fn block_on<T: Send>(py: Python<'_>, future: impl Future<Output = T> + Send) -> PyResult<T> {
    py.detach(|| {
        runtime().block_on(async {
            let future = AssertUnwindSafe(future).catch_unwind();
            tokio::pin!(future);
            loop {
                tokio::select! {
                    out = &mut future => return out.map_err(panic_to_py_err),
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
        let value = AssertUnwindSafe(future)
            .catch_unwind()
            .await
            .map_err(panic_to_py_err)?
            .map_err(to_py_err)?;
        Python::attach(|py| {
            std::panic::catch_unwind(AssertUnwindSafe(|| convert(py, value)))
                .map_err(panic_to_py_err)?
        })
    })
}

/// Hands record batches to pyarrow through the Arrow C stream interface: buffers are shared, not copied.
pub fn to_pyarrow(py: Python<'_>, batch: RecordBatch) -> PyResult<Py<PyAny>> {
    let schema = batch.schema();
    batches_to_pyarrow(py, vec![batch], schema)
}

/// Batches of one schema as one pyarrow.Table of as many chunks, without copying the data.
pub fn batches_to_pyarrow(
    py: Python<'_>,
    batches: Vec<RecordBatch>,
    schema: arrow_schema::SchemaRef,
) -> PyResult<Py<PyAny>> {
    Ok(PyTable::try_new(batches, schema)?
        .into_pyarrow(py)?
        .unbind())
}

/// Panics inside a sync call and inside an awaitable, so tests can prove that neither reaches Python as a
/// `PanicException`. Not part of the API.
#[pyfunction]
#[pyo3(signature = (asynchronous=false, blocking=false))]
pub fn _panic_for_tests(py: Python<'_>, asynchronous: bool, blocking: bool) -> PyResult<Py<PyAny>> {
    async fn boom() -> Result<()> {
        let len = std::hint::black_box(0usize);
        let v: Vec<u8> = Vec::with_capacity(len);
        // An out-of-bounds index: the kind of bug the catch is for.
        let _ = v[std::hint::black_box(3)];
        Ok(())
    }
    if blocking {
        // Disk and CPU work outside any future (store reads and writes) goes through `detach_guarded`.
        detach_guarded(py, || runtime().block_on(boom()))?.map_err(to_py_err)?;
        Ok(py.None())
    } else if asynchronous {
        Ok(awaitable(py, boom(), |py, ()| Ok(py.None()))?.unbind())
    } else {
        block_on_result(py, boom())?;
        Ok(py.None())
    }
}
