//! What a history needs of a store: the seam that keeps `fetch` independent of `store` (which implements it for
//! `ParquetStore` in `src/store/sink.rs`, as it implements the stream's `LiquidationSink`).

use crate::model::{HistoryKind, HistoryRows, Result};

/// A store a history resumes from and writes to. The history calls these on blocking threads, never on a runtime
/// worker.
pub trait HistoryStore: Send + Sync + 'static {
    /// The part of `range` (inclusive, ms) that the recorded coverage of `dataset` (`open_interest_5m`,
    /// `funding_rate`, …) and `instrument_id` does not hold yet; `None` when all of it is covered. A coverage that
    /// cannot be read counts as empty.
    fn uncovered(
        &self,
        dataset: &str,
        instrument_id: &str,
        range: (i64, i64),
    ) -> Option<(i64, i64)>;

    /// When the first stored row of `kind` and `instrument_id` in `window` (inclusive, ns) lies within `step` (ns)
    /// of its start, the last `ts_event` of the run of rows that follows it with no two consecutive rows more than
    /// `step` apart; `None` when nothing is stored near the start.
    fn gap_free_run(
        &self,
        kind: HistoryKind,
        instrument_id: &str,
        window: (i64, i64),
        step: i64,
    ) -> Result<Option<i64>>;

    /// Records `range` (inclusive, ms) as fetched completely, and `first_available_ms` as the time before which the
    /// venue has nothing, when learnt.
    fn record_coverage(
        &self,
        dataset: &str,
        instrument_id: &str,
        range: Option<(i64, i64)>,
        first_available_ms: Option<i64>,
    ) -> Result<()>;

    /// Writes the rows; returns how many were new.
    fn write_history(&self, rows: HistoryRows) -> Result<usize>;

    /// Marks a write as under way until the guard is dropped; taken before a write is handed to a blocking thread,
    /// so that a write still queued when its caller was cancelled is waited for too.
    fn pending_write(&self) -> Box<dyn Send>;
}
