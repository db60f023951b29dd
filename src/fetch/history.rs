//! Historical open interest and funding: runs a venue's pager over `net`, resumes after what the store already
//! holds, and stores page by page so an interrupted backfill keeps what arrived (and a re-run completes it
//! exactly, because pagers release rows oldest first).

use std::sync::Arc;

use crate::fetch::VenueClient;
use crate::model::records::ms_to_ns;
use crate::model::{FundingRate, InstrumentRef, OpenInterest, PipelineError, Result, Venue};
use crate::store::{ParquetStore, StoredRow, TimeRange};
use crate::venue::paging::Pager;
use crate::venue::{binance, bybit, fill_funding_intervals, hyperliquid, OiPeriod};

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

/// Where rows go besides the returned result.
#[derive(Clone, Default)]
pub struct HistorySink {
    /// Resume after the last stored row and store each page as it arrives.
    pub store: Option<ParquetStore>,
    pub progress: Option<ProgressFn>,
}

#[derive(Debug, Clone)]
pub struct History<R> {
    pub venue: Venue,
    pub instrument_id: String,
    pub rows: Vec<R>,
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
            warnings: Vec::new(),
            requests: 0,
            rows_stored: 0,
            resumed_after_ms: None,
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
        if self.venue() == Venue::Hyperliquid {
            return Err(hyperliquid::open_interest_history_unsupported());
        }
        let inst = self.resolve(symbol).await?;
        let (range, resumed) = resume::<OpenInterest>(sink, &inst, range, period.millis()).await?;
        let range = (range.start_ms, range.end_ms);
        let mut clamped_note = None;
        let history = match self.venue() {
            Venue::Binance => {
                // Binance refuses a start before its 30-day window, by its own clock: ask it the time.
                let server_ms = binance::parse_server_time(
                    &self.http().send(&binance::server_time_request()).await?,
                )?;
                let (served, note) = binance::clamp_open_interest_range(range, server_ms);
                if let Some(note) = &note {
                    tracing::warn!("{note}");
                }
                clamped_note = note;
                match served {
                    Some(range) => {
                        self.run(
                            binance::open_interest_history_pager(
                                inst.clone(),
                                period,
                                range,
                                self.page_size(binance::OI_HISTORY_PAGE),
                            ),
                            &inst,
                            sink,
                            |_| {},
                        )
                        .await
                    }
                    None => Ok(History::empty(&inst)),
                }
            }
            Venue::Bybit => {
                self.run(
                    bybit::open_interest_history_pager(
                        inst.clone(),
                        period,
                        range,
                        self.page_size(bybit::HISTORY_PAGE),
                    )?,
                    &inst,
                    sink,
                    |_| {},
                )
                .await
            }
            Venue::Hyperliquid => unreachable!("rejected above"),
        }?;
        let mut history = History {
            resumed_after_ms: resumed,
            ..history
        };
        history.warnings.splice(0..0, clamped_note);
        Ok(history)
    }

    pub async fn fetch_funding_rate_history(
        &self,
        symbol: &str,
        range: HistoryRange,
        sink: &HistorySink,
    ) -> Result<History<FundingRate>> {
        let inst = self.resolve(symbol).await?;
        let (range, resumed) = resume::<FundingRate>(sink, &inst, range, FUNDING_STEP_MS).await?;
        let range = (range.start_ms, range.end_ms);
        let mut previous_settlement = None;
        let fill = move |rows: &mut Vec<FundingRate>| {
            fill_funding_intervals(rows, &mut previous_settlement)
        };
        let history = match self.venue() {
            Venue::Binance => {
                self.run(
                    binance::funding_rate_history_pager(
                        inst.clone(),
                        range,
                        self.page_size(binance::FUNDING_HISTORY_PAGE),
                    ),
                    &inst,
                    sink,
                    fill,
                )
                .await
            }
            Venue::Bybit => {
                self.run(
                    bybit::funding_rate_history_pager(
                        inst.clone(),
                        range,
                        self.page_size(bybit::HISTORY_PAGE),
                    ),
                    &inst,
                    sink,
                    fill,
                )
                .await
            }
            Venue::Hyperliquid => {
                self.run(
                    hyperliquid::funding_rate_history_pager(
                        inst.clone(),
                        range,
                        hyperliquid::FUNDING_HISTORY_PAGE,
                    ),
                    &inst,
                    sink,
                    fill,
                )
                .await
            }
        }?;
        Ok(History {
            resumed_after_ms: resumed,
            ..history
        })
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
        P::Row: StoredRow,
    {
        let mut history = History::empty(inst);
        let budget = pager.request_budget();
        while let Some(request) = pager.next_request() {
            if budget > 0 && history.requests >= budget {
                // The backstop behind the pagers' own checks: a venue that pages as documented never needs this
                // many requests for the range.
                return Err(PipelineError::malformed(
                    inst.venue,
                    request.what,
                    format!(
                        "{} needed more than {budget} requests for {} (at most {budget} expected for the range and \
                         page size): the venue is not paging as documented; stopping instead of looping",
                        pager.endpoint(),
                        inst.instrument_id
                    ),
                ));
            }
            let body = self.http().send(&request).await?;
            history.requests += 1;
            let mut rows = pager.on_page(&body)?;
            prepare(&mut rows);
            if let Some(store) = &sink.store {
                history.rows_stored += store_rows(store, &rows).await?;
            }
            history.rows.extend(rows);
            if let Some(progress) = &sink.progress {
                progress(&HistoryProgress {
                    venue: inst.venue,
                    instrument_id: inst.instrument_id.clone(),
                    rows: history.rows.len(),
                    fraction: pager.progress(),
                });
            }
        }
        history.warnings = pager.warnings();
        for warning in &history.warnings {
            tracing::warn!("{warning}");
        }
        tracing::info!(venue = %inst.venue, instrument = %inst.instrument_id, rows = history.rows.len(), requests = history.requests, "history fetched");
        Ok(history)
    }
}

/// With a store: start after the gap-free run of stored rows that begins at the start of the range. A run
/// continues while consecutive rows are at most `step_ms` apart. Anything else (nothing stored near the start, a
/// hole in the middle, live snapshots stored later) is fetched again: de-duplication on write makes that cost
/// requests, never rows, whereas resuming after the last stored row would leave the hole forever.
async fn resume<R: StoredRow>(
    sink: &HistorySink,
    inst: &InstrumentRef,
    range: HistoryRange,
    step_ms: i64,
) -> Result<(HistoryRange, Option<i64>)> {
    let Some(store) = sink.store.clone() else {
        return Ok((range, None));
    };
    let ids = vec![inst.instrument_id.clone()];
    let window = TimeRange {
        start: Some(ms_to_ns(range.start_ms)),
        end: Some(ms_to_ns(range.end_ms)),
    };
    let (stored, _) = tokio::task::spawn_blocking(move || store.read::<R>(Some(&ids), &window))
        .await
        .map_err(|e| PipelineError::Store(format!("store task failed: {e}")))??;
    let mut times = stored.iter().map(|r| r.ts_event().div_euclid(1_000_000));
    let Some(first) = times
        .next()
        .filter(|first| *first <= range.start_ms + step_ms)
    else {
        return Ok((range, None));
    };
    let mut covered_until = first;
    for t in times {
        if t - covered_until > step_ms {
            break;
        }
        covered_until = covered_until.max(t);
    }
    Ok((
        HistoryRange {
            start_ms: covered_until + 1,
            ..range
        },
        Some(covered_until),
    ))
}

/// Longest spacing of consecutive funding settlements on any venue (8 h), plus slack for Hyperliquid's ms jitter.
const FUNDING_STEP_MS: i64 = 8 * 3_600_000 + 60_000;

async fn store_rows<R: StoredRow>(store: &ParquetStore, rows: &[R]) -> Result<usize> {
    if rows.is_empty() {
        return Ok(0);
    }
    let (store, rows) = (store.clone(), rows.to_vec());
    let summary = tokio::task::spawn_blocking(move || store.write(&rows))
        .await
        .map_err(|e| PipelineError::Store(format!("store task failed: {e}")))??;
    Ok(summary.rows_added)
}
