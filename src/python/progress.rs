//! Progress callbacks of history fetches, called on the caller's side and never on a tokio worker.
//!
//! The paging loop only hands each [`HistoryProgress`] to a [`ProgressChannel`]: a slot per (venue, instrument)
//! holding its newest update, filled under a mutex held for a copy, never waiting for Python. Updates a slow
//! callback had no time for are replaced by newer ones; the last one of every pair is always delivered.
//!
//! - **Sync calls**: the thread blocked on the runtime (the caller's) waits on the channel alongside the future and
//!   takes the GIL only to call the callback ([`block_on_result_progress`]); the rest of the time the GIL is released.
//! - **`…_async` calls**: the callback runs on the caller's asyncio event loop. When updates are waiting, the task
//!   driving the fetch schedules one drain with `loop.call_soon_threadsafe` (at most one is queued at a time); the
//!   drain calls the callback with everything pending. The last drain is queued before the awaitable's result, so
//!   every update has been delivered when `await` returns.
//!
//! A callback that raises is logged (`ccxt_pipeline_rs.python.progress`, warning) and ignored: progress display must
//! not abort a backfill.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use pyo3::prelude::*;

use crate::fetch::{HistoryProgress, ProgressFn};
use crate::model::Result;
use crate::python::errors::to_py_err;
use crate::python::runtime::block_on;

/// The newest update per (venue, instrument) not yet delivered, in the order the pairs first reported.
#[derive(Default)]
struct ProgressChannel {
    pending: Mutex<Vec<HistoryProgress>>,
    ready: tokio::sync::Notify,
}

impl ProgressChannel {
    fn push(&self, update: &HistoryProgress) {
        {
            let mut pending = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
            match pending
                .iter_mut()
                .find(|p| p.venue == update.venue && p.instrument_id == update.instrument_id)
            {
                Some(slot) => slot.clone_from(update),
                None => pending.push(update.clone()),
            }
        }
        // Stores a permit when nobody waits: an update pushed during a drain wakes the next wait at once.
        self.ready.notify_one();
    }

    fn take(&self) -> Vec<HistoryProgress> {
        std::mem::take(&mut *self.pending.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

/// A Python progress callback and the channel that feeds it.
pub struct Progress {
    channel: Arc<ProgressChannel>,
    callback: Py<PyAny>,
}

impl Progress {
    pub fn new(callback: Py<PyAny>) -> Arc<Self> {
        Arc::new(Progress {
            channel: Arc::default(),
            callback,
        })
    }

    /// What the paging loop calls: queues the update, nothing more.
    pub fn progress_fn(&self) -> ProgressFn {
        let channel = self.channel.clone();
        Arc::new(move |update: &HistoryProgress| channel.push(update))
    }

    /// Calls the callback with every pending update, on this thread, with the GIL. An `Exception` the callback
    /// raises is logged and ignored (progress display must not abort a backfill); anything else (Ctrl+C's
    /// `KeyboardInterrupt`, which Python raises in whatever code runs on the main thread, this callback included,
    /// or `SystemExit`) is returned, so it ends the call as it would without a callback.
    fn deliver(&self, py: Python<'_>) -> PyResult<()> {
        for p in self.channel.take() {
            let args = (
                p.venue.as_str(),
                p.instrument_id.as_str(),
                p.rows,
                p.fraction,
            );
            if let Err(e) = self.callback.call1(py, args) {
                if !e.is_instance_of::<pyo3::exceptions::PyException>(py) {
                    return Err(e);
                }
                tracing::warn!("progress callback raised: {e}");
            }
        }
        Ok(())
    }
}

/// Like [`crate::python::runtime::block_on_result`], calling `progress` on this thread while `future` runs: the
/// GIL is released except during the callback. Pending updates are delivered once more after `future` ends.
pub fn block_on_result_progress<T: Send>(
    py: Python<'_>,
    future: impl Future<Output = Result<T>> + Send,
    progress: Option<&Arc<Progress>>,
) -> PyResult<T> {
    let Some(progress) = progress else {
        return block_on(py, future)?.map_err(to_py_err);
    };
    let out = block_on(py, async {
        tokio::pin!(future);
        loop {
            tokio::select! {
                biased;
                _ = progress.channel.ready.notified() => Python::attach(|py| progress.deliver(py))?,
                out = &mut future => break PyResult::Ok(out),
            }
        }
    })??;
    progress.deliver(py)?;
    out.map_err(to_py_err)
}

/// Delivers updates on an asyncio event loop: the Python object the loop calls ([`ProgressDrain`]) and the loop.
pub struct LoopDelivery {
    progress: Arc<Progress>,
    scheduled: Arc<AtomicBool>,
    drain: Py<ProgressDrain>,
    event_loop: Py<PyAny>,
}

impl LoopDelivery {
    /// For the event loop running the calling coroutine (the loop the awaitable resolves on).
    pub fn new(py: Python<'_>, progress: Arc<Progress>) -> PyResult<Self> {
        let event_loop = pyo3_async_runtimes::tokio::get_current_locals(py)?
            .event_loop(py)
            .unbind();
        let scheduled = Arc::new(AtomicBool::new(false));
        let drain = Py::new(
            py,
            ProgressDrain {
                progress: progress.clone(),
                scheduled: scheduled.clone(),
            },
        )?;
        Ok(LoopDelivery {
            progress,
            scheduled,
            drain,
            event_loop,
        })
    }

    /// Queues one drain on the loop unless one is queued already (it will take these updates too).
    fn schedule(&self) {
        if self.scheduled.swap(true, Ordering::AcqRel) {
            return;
        }
        Python::attach(|py| {
            if let Err(e) = self.event_loop.call_method1(
                py,
                "call_soon_threadsafe",
                (self.drain.clone_ref(py),),
            ) {
                // The loop is closed: nobody is waiting for these updates any more.
                tracing::debug!("progress not delivered: {e}");
            }
        });
    }

    /// Runs `future`, scheduling a drain whenever updates wait; the last drain is queued when `future` ends,
    /// before the awaitable's result is, so the loop runs it first.
    pub async fn run<T>(self, future: impl Future<Output = T>) -> T {
        tokio::pin!(future);
        let out = loop {
            tokio::select! {
                biased;
                _ = self.progress.channel.ready.notified() => self.schedule(),
                out = &mut future => break out,
            }
        };
        self.schedule();
        out
    }
}

/// `future`, delivering progress on the event loop if there is a callback.
pub async fn run_delivering<T>(
    delivery: Option<LoopDelivery>,
    future: impl Future<Output = T>,
) -> T {
    match delivery {
        Some(delivery) => delivery.run(future).await,
        None => future.await,
    }
}

/// Called by the event loop: delivers every pending update.
#[pyclass(module = "ccxt_pipeline_rs", frozen)]
pub struct ProgressDrain {
    progress: Arc<Progress>,
    scheduled: Arc<AtomicBool>,
}

#[pymethods]
impl ProgressDrain {
    fn __call__(&self, py: Python<'_>) -> PyResult<()> {
        // Cleared before taking: an update pushed from now on schedules another drain.
        self.scheduled.store(false, Ordering::Release);
        self.progress.deliver(py)
    }
}
