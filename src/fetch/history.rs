//! Historical open interest and funding: runs a venue's pager over `net`, resumes after what the store already
//! holds, and stores page by page so an interrupted backfill keeps what arrived (and a re-run completes it
//! exactly, because pagers release rows oldest first).

use std::sync::Arc;

use arrow_array::RecordBatch;

use crate::fetch::HistoryStore;
use crate::fetch::VenueClient;
use crate::model::records::ms_to_ns;
use crate::model::records::Row;
use crate::model::{
    FundingRate, HistoryRow, InstrumentRef, OpenInterest, PipelineError, Result, Venue,
};
use crate::venue::paging::Pager;
use crate::venue::{fill_funding_intervals, OiPeriod};

/// Inclusive range in epoch milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HistoryRange {
    pub start_ms: i64,
    pub end_ms: i64,
}

impl HistoryRange {
    pub fn new(start_ms: i64, end_ms: i64) -> Result<Self> {
        for ms in [start_ms, end_ms] {
            if ms.checked_mul(1_000_000).is_none() {
                return Err(PipelineError::InvalidArgument(format!(
                    "{ms} ms is outside the nanosecond timestamps (1677-09-21 to 2262-04-11)"
                )));
            }
        }
        if start_ms > end_ms {
            return Err(PipelineError::InvalidArgument(format!(
                "start {} is after end {}",
                crate::model::time::iso_ms(start_ms),
                crate::model::time::iso_ms(end_ms)
            )));
        }
        Ok(HistoryRange { start_ms, end_ms })
    }
}

#[derive(Debug, Clone)]
pub struct HistoryProgress {
    pub venue: Venue,
    pub instrument_id: String,
    pub rows: usize,
    /// Share of the range covered, 0 to 1.
    pub fraction: f64,
}

pub type ProgressFn = Arc<dyn Fn(&HistoryProgress) + Send + Sync>;

/// What a history keeps for its caller, besides its counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Keep {
    /// The rows as records (`History::rows`).
    #[default]
    Rows,
    /// The rows as Arrow record batches in table form (`History::batches`), built as pages arrive, so the
    /// records of a long history never exist all at once (the Python API).
    Batches,
    /// Nothing: the rows go to the store only, and memory stays flat whatever the range (backfills, the daemon).
    Nothing,
}

/// Where rows go besides the returned result.
#[derive(Clone, Default)]
pub struct HistorySink {
    /// Resume after what the store holds and store the rows as they arrive, in batches of up to
    /// [`STORE_BATCH_ROWS`] rows or [`STORE_BATCH_AGE`] of pages, whichever comes first: a row counts as stored
    /// (`rows_stored`, and for the next run's resume) once the write holding it returned. A killed backfill loses
    /// at most its last batch, which the next run fetches again.
    pub store: Option<Arc<dyn HistoryStore>>,
    pub progress: Option<ProgressFn>,
    pub keep: Keep,
    /// Rows per store write; `None` = [`STORE_BATCH_ROWS`].
    pub store_batch_rows: Option<usize>,
}

/// Rows per store write of a history. Small enough that ten concurrent backfills hold a few MB each (a batch
/// buffered and one being written), large enough that a write costs little next to its rows.
pub const STORE_BATCH_ROWS: usize = 5_000;
/// Pages are stored at least this often, so a slow (rate-limited) backfill that is interrupted keeps its pages.
pub const STORE_BATCH_AGE: std::time::Duration = std::time::Duration::from_secs(1);
/// Rows per Arrow batch kept for the caller ([`Keep::Batches`]).
const TABLE_BATCH_ROWS: usize = 8_192;

#[derive(Debug, Clone)]
pub struct History<R> {
    pub venue: Venue,
    pub instrument_id: String,
    /// The rows, when kept as records ([`Keep::Rows`]).
    pub rows: Vec<R>,
    /// The rows in table form, when kept as batches ([`Keep::Batches`]).
    pub batches: Vec<RecordBatch>,
    /// Rows the venue served (kept or not).
    pub rows_fetched: usize,
    /// `ts_event` (ns) of the first and last row served.
    pub first_event_ns: Option<i64>,
    pub last_event_ns: Option<i64>,
    pub warnings: Vec<String>,
    pub requests: usize,
    pub rows_stored: usize,
    /// Set when the store already held the start of the range gap-free and the fetch began after it.
    pub resumed_after_ms: Option<i64>,
}

impl<R> History<R> {
    fn empty(inst: &InstrumentRef) -> Self {
        History {
            venue: inst.venue,
            instrument_id: inst.instrument_id.clone(),
            rows: Vec::new(),
            batches: Vec::new(),
            rows_fetched: 0,
            first_event_ns: None,
            last_event_ns: None,
            warnings: Vec::new(),
            requests: 0,
            rows_stored: 0,
            resumed_after_ms: None,
        }
    }
}

impl<R> History<R> {
    /// Nothing to fetch: the store's coverage already holds the whole range.
    fn covered(inst: &InstrumentRef, range: HistoryRange) -> Self {
        History {
            resumed_after_ms: Some(range.end_ms),
            ..History::empty(inst)
        }
    }
}

impl VenueClient {
    pub async fn fetch_open_interest_history(
        &self,
        symbol: &str,
        period: OiPeriod,
        range: HistoryRange,
        sink: &HistorySink,
    ) -> Result<History<OpenInterest>> {
        self.spec().check_open_interest_history()?;
        let inst = self.resolve(symbol).await?;
        let dataset = format!("open_interest_{}", period.binance_name());
        let requested_start = range.start_ms;
        let Some(todo) = plan(sink, &dataset, &inst, range).await else {
            return Ok(History::covered(&inst, range));
        };
        let (range, resumed) = resume::<OpenInterest>(sink, &inst, todo, period.millis()).await?;
        let fetch_start = range.start_ms;
        let range = (range.start_ms, range.end_ms);
        // A venue whose window follows its own clock (Binance's 30 days) is asked the time first.
        let clock = match self.spec().open_interest_history_clock_request() {
            Some(request) => Some(self.http().send(&request).await?),
            None => None,
        };
        let (served, note) = self
            .spec()
            .open_interest_history_window(range, clock.as_deref())?;
        let (served_range, clamped_note) = (served, note);
        if let Some(note) = &clamped_note {
            tracing::warn!("{note}");
        }
        let history = match served {
            Some(range) => {
                self.run(
                    self.spec().open_interest_history_pager(
                        inst.clone(),
                        period,
                        range,
                        self.history_page_limit(),
                    )?,
                    &inst,
                    sink,
                    |_| {},
                )
                .await
            }
            None => Ok(History::empty(&inst)),
        }?;
        let mut history = History {
            resumed_after_ms: resumed,
            ..history
        };
        history.warnings.splice(0..0, clamped_note);
        // Binance's 30-day window: only the part it served is covered (the older part can never be fetched, and
        // asking for it again costs only the server-time request).
        if let Some((served_start, served_end)) = served_range {
            let covered_start = if served_start == fetch_start {
                todo.start_ms
            } else {
                served_start
            };
            record(
                sink,
                &dataset,
                &history,
                (covered_start, served_end),
                served_start,
                resumed.is_none() && todo.start_ms == requested_start,
                period.millis(),
            )
            .await;
        }
        Ok(history)
    }

    pub async fn fetch_funding_rate_history(
        &self,
        symbol: &str,
        range: HistoryRange,
        sink: &HistorySink,
    ) -> Result<History<FundingRate>> {
        let inst = self.resolve(symbol).await?;
        let dataset = "funding_rate";
        let requested_start = range.start_ms;
        let Some(todo) = plan(sink, dataset, &inst, range).await else {
            return Ok(History::covered(&inst, range));
        };
        let (range, resumed) = resume::<FundingRate>(sink, &inst, todo, FUNDING_STEP_MS).await?;
        let fetch_start = range.start_ms;
        let range = (range.start_ms, range.end_ms);
        let mut previous_settlement = None;
        let fill = move |rows: &mut Vec<FundingRate>| {
            fill_funding_intervals(rows, &mut previous_settlement)
        };
        let history = self
            .run(
                self.spec().funding_rate_history_pager(
                    inst.clone(),
                    range,
                    self.history_page_limit(),
                )?,
                &inst,
                sink,
                fill,
            )
            .await?;
        let history = History {
            resumed_after_ms: resumed,
            ..history
        };
        record(
            sink,
            dataset,
            &history,
            (todo.start_ms, todo.end_ms),
            fetch_start,
            resumed.is_none() && todo.start_ms == requested_start,
            FUNDING_STEP_MS,
        )
        .await;
        Ok(history)
    }

    async fn run<P>(
        &self,
        mut pager: P,
        inst: &InstrumentRef,
        sink: &HistorySink,
        mut prepare: impl FnMut(&mut Vec<P::Row>),
    ) -> Result<History<P::Row>>
    where
        P: Pager,
        P::Row: HistoryRow,
    {
        let mut history = History::empty(inst);
        let mut table_rows: Vec<P::Row> = Vec::new();
        let mut store_batch: Vec<P::Row> = Vec::new();
        let mut storing: Option<tokio::task::JoinHandle<Result<usize>>> = None;
        let mut last_store = std::time::Instant::now();
        let fetched = async {
            let budget = pager.request_budget();
            while let Some(request) = pager.next_request() {
                if budget > 0 && history.requests >= budget {
                    // The backstop behind the pagers' own checks: a venue that pages as documented never needs
                    // this many requests for the range and page size.
                    return Err(PipelineError::malformed(
                        inst.venue,
                        request.what,
                        format!(
                            "{} needed more than {budget} requests for {} (at most {budget} expected for the range \
                             and page size): the venue is not paging as documented; stopping instead of looping",
                            pager.endpoint(),
                            inst.instrument_id
                        ),
                    ));
                }
                let body = self.http().send(&request).await?;
                history.requests += 1;
                let mut rows = pager.on_page(&body)?;
                prepare(&mut rows);
                history.rows_fetched += rows.len();
                if let (Some(first), Some(last)) = (rows.first(), rows.last()) {
                    history.first_event_ns.get_or_insert(first.ts_event());
                    history.last_event_ns = Some(last.ts_event());
                }
                match sink.keep {
                    Keep::Nothing => {}
                    Keep::Rows => history.rows.extend_from_slice(&rows),
                    Keep::Batches => {
                        table_rows.extend_from_slice(&rows);
                        if table_rows.len() >= TABLE_BATCH_ROWS {
                            history.batches.push(P::Row::to_table(&table_rows));
                            table_rows.clear();
                        }
                    }
                }
                if let Some(store) = &sink.store {
                    store_batch.extend(rows);
                    if store_batch.len() >= sink.store_batch_rows.unwrap_or(STORE_BATCH_ROWS)
                        || last_store.elapsed() >= STORE_BATCH_AGE
                    {
                        // One write in flight while the next batch is fetched.
                        if let Some(previous) = storing.take() {
                            history.rows_stored += joined(previous).await?;
                        }
                        storing = Some(store_rows(store, std::mem::take(&mut store_batch)));
                        last_store = std::time::Instant::now();
                    }
                }
                if let Some(progress) = &sink.progress {
                    progress(&HistoryProgress {
                        venue: inst.venue,
                        instrument_id: inst.instrument_id.clone(),
                        rows: history.rows_fetched,
                        fraction: pager.progress(),
                    });
                }
            }
            Ok(())
        }
        .await;
        // What arrived is stored even when a later page failed: a re-run resumes after it.
        if let Some(previous) = storing.take() {
            history.rows_stored += joined(previous).await?;
        }
        if let Some(store) = sink.store.as_ref().filter(|_| !store_batch.is_empty()) {
            history.rows_stored += joined(store_rows(store, store_batch)).await?;
        }
        fetched?;
        if !table_rows.is_empty() {
            history.batches.push(P::Row::to_table(&table_rows));
        }
        history.warnings = pager.warnings();
        for warning in &history.warnings {
            tracing::warn!("{warning}");
        }
        tracing::info!(venue = %inst.venue, instrument = %inst.instrument_id, rows = history.rows_fetched, requests = history.requests, "history fetched");
        Ok(history)
    }
}

/// With a store: start after the gap-free run of stored rows that begins at the start of the range. A run
/// continues while consecutive rows are at most `step_ms` apart. Anything else (nothing stored near the start, a
/// hole in the middle, live snapshots stored later) is fetched again: de-duplication on write makes that cost
/// requests, never rows, whereas resuming after the last stored row would leave the hole forever.
async fn resume<R: HistoryRow>(
    sink: &HistorySink,
    inst: &InstrumentRef,
    range: HistoryRange,
    step_ms: i64,
) -> Result<(HistoryRange, Option<i64>)> {
    let Some(store) = sink.store.clone() else {
        return Ok((range, None));
    };
    let id = inst.instrument_id.clone();
    let window = (ms_to_ns(range.start_ms), ms_to_ns(range.end_ms));
    let step = ms_to_ns(step_ms);
    let run = tokio::task::spawn_blocking(move || store.gap_free_run(R::KIND, &id, window, step))
        .await
        .map_err(|e| PipelineError::Store(format!("store task failed: {e}")))??;
    let Some(covered_until) = run.map(|ns| ns.div_euclid(1_000_000)) else {
        return Ok((range, None));
    };
    Ok((
        HistoryRange {
            start_ms: covered_until + 1,
            ..range
        },
        Some(covered_until),
    ))
}

/// How far behind the wall clock the venues may publish a row: coverage ends at least this long before now (or at
/// the last row received), so a row published late is fetched by the next run.
const PUBLISH_LAG_MS: i64 = 3_600_000;

/// With a store: the part of `range` its coverage does not hold yet, `None` when there is nothing to fetch.
async fn plan(
    sink: &HistorySink,
    dataset: &str,
    inst: &InstrumentRef,
    range: HistoryRange,
) -> Option<HistoryRange> {
    let Some(store) = sink.store.clone() else {
        return Some(range);
    };
    let (dataset, id) = (dataset.to_string(), inst.instrument_id.clone());
    let (start_ms, end_ms) = (range.start_ms, range.end_ms);
    let uncovered =
        tokio::task::spawn_blocking(move || store.uncovered(&dataset, &id, (start_ms, end_ms)))
            .await
            .unwrap_or(Some((start_ms, end_ms)));
    match uncovered {
        Some((start_ms, end_ms)) => {
            if (start_ms, end_ms) != (range.start_ms, range.end_ms) {
                tracing::info!(
                    venue = %inst.venue,
                    instrument = %inst.instrument_id,
                    "already covered in the store; fetching {} to {}",
                    crate::model::time::iso_ms(start_ms),
                    crate::model::time::iso_ms(end_ms)
                );
            }
            Some(HistoryRange { start_ms, end_ms })
        }
        None => {
            tracing::info!(venue = %inst.venue, instrument = %inst.instrument_id, "range already covered in the store: nothing to fetch");
            None
        }
    }
}

/// After a complete fetch of `covered` (its rows from `fetch_start` on came from the venue): records the range as
/// covered, up to the last row or an hour before now, whichever is later (never past the range's end). When the
/// fetch started at the requested start with nothing stored or covered there, and its first row came more than a
/// day (and two `step_ms`) after that start, the venue has nothing before that row (a venue's history is
/// continuous from its listing): that is its first available time.
/// A failure to record only costs requests later, so it is a warning.
async fn record<R: HistoryRow>(
    sink: &HistorySink,
    dataset: &str,
    history: &History<R>,
    covered: (i64, i64),
    fetch_start: i64,
    from_nothing_stored: bool,
    step_ms: i64,
) {
    let Some(store) = sink.store.clone() else {
        return;
    };
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
    let first = history.first_event_ns.map(|ns| ns.div_euclid(1_000_000));
    let last = history.last_event_ns.map(|ns| ns.div_euclid(1_000_000));
    let settled = now_ms
        .saturating_sub(PUBLISH_LAG_MS)
        .max(last.unwrap_or(i64::MIN));
    let end = covered.1.min(settled);
    let range = (covered.0 <= end).then_some((covered.0, end));
    let first_available = first.filter(|&t| {
        from_nothing_stored && t.saturating_sub(fetch_start) > (2 * step_ms).max(86_400_000)
    });
    if range.is_none() && first_available.is_none() {
        return;
    }
    let (dataset, id) = (dataset.to_string(), history.instrument_id.clone());
    let result = tokio::task::spawn_blocking(move || {
        store.record_coverage(&dataset, &id, range, first_available)
    })
    .await;
    match result {
        Ok(Ok(())) => {}
        Ok(Err(e)) => {
            tracing::warn!("coverage not recorded (the next run fetches the range again): {e}")
        }
        Err(e) => tracing::warn!("coverage not recorded: {e}"),
    }
}

/// Longest spacing of consecutive funding settlements on any venue (8 h), plus slack for Hyperliquid's ms jitter.
const FUNDING_STEP_MS: i64 = 8 * 3_600_000 + 60_000;

/// Writes `rows` on a blocking thread; the write is counted as pending at once, so a caller cancelled while it
/// runs can still wait for it (`ParquetStore::wait_for_writes`).
fn store_rows<R: HistoryRow>(
    store: &Arc<dyn HistoryStore>,
    rows: Vec<R>,
) -> tokio::task::JoinHandle<Result<usize>> {
    let (store, pending) = (store.clone(), store.pending_write());
    tokio::task::spawn_blocking(move || {
        let _pending = pending;
        store.write_history(R::into_history_rows(rows))
    })
}

async fn joined(write: tokio::task::JoinHandle<Result<usize>>) -> Result<usize> {
    write
        .await
        .map_err(|e| PipelineError::Store(format!("store task failed: {e}")))?
}
