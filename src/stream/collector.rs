//! The one place rows go through: de-duplication, batching, store writes, and the bounded consumer queue.

use std::collections::{HashMap, HashSet, VecDeque};
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex};

use arrow_array::RecordBatch;
use tokio::sync::{mpsc, Notify};
use tokio::time::Instant;

use super::{Delivery, GapLog, LiquidationSink, StreamOptions, StreamStats};
use crate::model::records::liquidation_batch;
use crate::model::{GapReason, Liquidation, StreamGap};

/// Recognises an event seen before: identity = (instrument, time, side, price, quantity), the store's key.
/// Bounded by age (the options' window) and by count.
///
/// Public for `benches/stream.rs`, which measures the collector's per-event path (parse, this, Arrow batch);
/// streams construct their own.
pub struct Dedup {
    seen: HashSet<u64>,
    order: VecDeque<(Instant, u64)>,
    window: std::time::Duration,
}

impl Dedup {
    const MAX_KEYS: usize = 1_000_000;

    /// An empty memory that forgets an event `window` after it was first seen (and keeps at most a million).
    pub fn new(window: std::time::Duration) -> Self {
        Dedup {
            seen: HashSet::new(),
            order: VecDeque::new(),
            window,
        }
    }

    /// Whether `row` (received at `now`) was not seen within the window; remembers it if so.
    pub fn is_new(&mut self, row: &Liquidation, now: Instant) -> bool {
        while let Some(&(at, key)) = self.order.front() {
            if self.order.len() < Self::MAX_KEYS && now.duration_since(at) < self.window {
                break;
            }
            self.seen.remove(&key);
            self.order.pop_front();
        }
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        (
            &row.instrument_id,
            row.ts_event,
            row.side.as_str(),
            row.price.to_bits(),
            row.quantity.to_bits(),
        )
            .hash(&mut hasher);
        let key = hasher.finish();
        let new = self.seen.insert(key);
        if new {
            self.order.push_back((now, key));
        }
        new
    }
}

pub(crate) struct Collector {
    inbox: mpsc::Receiver<Delivery>,
    options: Arc<StreamOptions>,
    queue: Arc<ConsumerQueue>,
    stats: Arc<StreamStats>,
    gaps: Arc<Mutex<GapLog>>,
    dedup: Dedup,
    pending: Vec<Liquidation>,
    pending_gaps: Vec<StreamGap>,
    /// Where rows wait for the store; `None` without one.
    store: Option<(Arc<StoreBacklog>, tokio::task::JoinHandle<()>)>,
}

impl Collector {
    pub(crate) fn new(
        inbox: mpsc::Receiver<Delivery>,
        options: Arc<StreamOptions>,
        sink: Option<Arc<dyn LiquidationSink>>,
        queue: Arc<ConsumerQueue>,
        stats: Arc<StreamStats>,
        gaps: Arc<Mutex<GapLog>>,
    ) -> Self {
        let dedup = Dedup::new(options.dedup_window);
        let store = sink.map(|sink| {
            let backlog = Arc::new(StoreBacklog::new(
                options.queue_rows.max(1_000_000),
                stats.clone(),
            ));
            let writer = tokio::spawn(backlog.clone().write_until_closed(sink));
            (backlog, writer)
        });
        Collector {
            inbox,
            options,
            queue,
            stats,
            gaps,
            dedup,
            pending: Vec::new(),
            pending_gaps: Vec::new(),
            store,
        }
    }

    /// Runs until every producer is gone (the stream was closed), then flushes and closes the queue.
    pub(crate) async fn run(mut self) {
        let mut deadline: Option<Instant> = None;
        loop {
            let flush_at = deadline;
            tokio::select! {
                delivery = self.inbox.recv() => match delivery {
                    Some(Delivery::Rows(rows)) => {
                        let now = Instant::now();
                        let before = self.pending.len();
                        for row in rows {
                            if self.dedup.is_new(&row, now) {
                                self.pending.push(row);
                            } else {
                                StreamStats::add(&self.stats.duplicates, 1);
                            }
                        }
                        StreamStats::add(&self.stats.events, (self.pending.len() - before) as u64);
                        if self.pending.len() >= self.options.batch_rows {
                            self.flush().await;
                            deadline = None;
                        } else if deadline.is_none() && !self.pending.is_empty() {
                            deadline = Some(now + self.options.batch_interval);
                        }
                    }
                    Some(Delivery::Gaps(gaps)) => {
                        self.record_gaps(gaps);
                        if deadline.is_none() {
                            deadline = Some(Instant::now() + self.options.batch_interval);
                        }
                    }
                    None => break,
                },
                () = async { tokio::time::sleep_until(flush_at.unwrap_or_else(Instant::now)).await }, if flush_at.is_some() => {
                    self.flush().await;
                    deadline = None;
                }
            }
        }
        self.flush().await;
        if let Some((backlog, writer)) = self.store.take() {
            backlog.close();
            if let Err(error) = writer.await {
                tracing::error!(%error, "the stream's store writer failed");
            }
        }
        self.queue.close();
    }

    fn record_gaps(&mut self, gaps: Vec<StreamGap>) {
        StreamStats::add(&self.stats.gaps, gaps.len() as u64);
        let mut log = self.gaps.lock().unwrap_or_else(|p| p.into_inner());
        for gap in &gaps {
            tracing::warn!(
                venue = %gap.venue,
                stream = %gap.stream,
                reason = gap.reason.as_str(),
                seconds = (gap.ts_init - gap.ts_event) as f64 / 1e9,
                "stream gap: events in this interval may be missing"
            );
            log.push(gap.clone());
        }
        drop(log);
        self.pending_gaps.extend(gaps);
    }

    /// Hands the pending rows to the store writer and the consumer queue; never waits for the disk.
    async fn flush(&mut self) {
        let rows = std::mem::take(&mut self.pending);
        let gaps = std::mem::take(&mut self.pending_gaps);
        if let Some((backlog, _)) = &self.store {
            backlog.add(&rows, gaps);
        }
        if !rows.is_empty() {
            self.queue.push(rows);
        }
    }
}

/// Rows and gaps waiting for the store, written by one task so the collector never waits for the disk: what
/// arrives while a write is under way goes into the next, larger write (a slow store gets fewer, bigger writes
/// instead of stalling the sockets). Bounded: past `capacity_rows` the oldest rows are dropped, loudly, and the
/// hole is stored as an `overflow` gap.
pub(crate) struct StoreBacklog {
    state: Mutex<Backlog>,
    ready: Notify,
    capacity_rows: usize,
    stats: Arc<StreamStats>,
}

#[derive(Default)]
struct Backlog {
    rows: Vec<Liquidation>,
    gaps: Vec<StreamGap>,
    closed: bool,
}

impl StoreBacklog {
    fn new(capacity_rows: usize, stats: Arc<StreamStats>) -> Self {
        StoreBacklog {
            state: Mutex::new(Backlog::default()),
            ready: Notify::new(),
            capacity_rows,
            stats,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Backlog> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn add(&self, rows: &[Liquidation], gaps: Vec<StreamGap>) {
        if rows.is_empty() && gaps.is_empty() {
            return;
        }
        let mut state = self.lock();
        state.rows.extend_from_slice(rows);
        state.gaps.extend(gaps);
        let excess = state.rows.len().saturating_sub(self.capacity_rows);
        if excess > 0 {
            let dropped: Vec<Liquidation> = state.rows.drain(..excess).collect();
            tracing::error!(
                rows = excess,
                "the store fell far behind: dropping the oldest unstored liquidations"
            );
            StreamStats::add(&self.stats.dropped, excess as u64);
            state.gaps.extend(overflow_gaps(&dropped, "store backlog"));
        }
        drop(state);
        self.ready.notify_one();
    }

    fn close(&self) {
        self.lock().closed = true;
        self.ready.notify_one();
    }

    /// Writes whatever waits, until closed and empty. A failed write keeps its rows (ahead of newer ones) and is
    /// retried a second later.
    async fn write_until_closed(self: Arc<Self>, sink: Arc<dyn LiquidationSink>) {
        loop {
            let notified = self.ready.notified();
            let (rows, gaps, closed) = {
                let mut state = self.lock();
                (
                    std::mem::take(&mut state.rows),
                    std::mem::take(&mut state.gaps),
                    state.closed,
                )
            };
            if rows.is_empty() && gaps.is_empty() {
                if closed {
                    return;
                }
                notified.await;
                continue;
            }
            let sink = sink.clone();
            let written = tokio::task::spawn_blocking(move || {
                let result = if rows.is_empty() {
                    Ok(())
                } else {
                    sink.write_liquidations(&rows)
                };
                let gap_result = if gaps.is_empty() {
                    Ok(())
                } else {
                    sink.write_gaps(&gaps)
                };
                (rows, gaps, result, gap_result)
            })
            .await;
            let Ok((rows, gaps, result, gap_result)) = written else {
                tracing::error!("the store write task failed");
                continue;
            };
            if result.is_ok() {
                StreamStats::add(&self.stats.stored, rows.len() as u64);
            }
            if result.is_err() || gap_result.is_err() {
                StreamStats::add(&self.stats.store_errors, 1);
                for error in [result.as_ref().err(), gap_result.as_ref().err()]
                    .into_iter()
                    .flatten()
                {
                    tracing::error!(%error, "storing liquidations failed; retrying in 1 s");
                }
                let closed = {
                    let mut state = self.lock();
                    if result.is_err() {
                        let newer = std::mem::replace(&mut state.rows, rows);
                        state.rows.extend(newer);
                    }
                    if gap_result.is_err() {
                        let newer = std::mem::replace(&mut state.gaps, gaps);
                        state.gaps.extend(newer);
                    }
                    state.closed
                };
                if !closed {
                    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                } else {
                    tracing::error!(
                        "the stream closed while the store was failing: unstored rows are lost"
                    );
                    return;
                }
            }
        }
    }
}

/// One `overflow` gap per instrument over the event times of `dropped`.
fn overflow_gaps(dropped: &[Liquidation], stream: &str) -> Vec<StreamGap> {
    let mut spans: HashMap<(crate::model::Venue, String), (String, i64, i64)> = HashMap::new();
    for row in dropped {
        let span = spans
            .entry((row.venue, row.instrument_id.clone()))
            .or_insert_with(|| (row.symbol.clone(), row.ts_event, row.ts_event));
        span.1 = span.1.min(row.ts_event);
        span.2 = span.2.max(row.ts_event);
    }
    spans
        .into_iter()
        .map(|((venue, instrument_id), (symbol, from, to))| StreamGap {
            venue,
            symbol,
            instrument_id,
            ts_event: from,
            ts_init: to.max(from),
            stream: stream.to_string(),
            reason: GapReason::Overflow,
        })
        .collect()
}

/// Batches waiting for the consumer, bounded in rows: when full, the oldest batches are dropped and an
/// `overflow` gap per instrument says which interval the consumer misses.
pub struct ConsumerQueue {
    state: Mutex<QueueState>,
    ready: Notify,
    capacity_rows: usize,
    stats: Arc<StreamStats>,
    gaps: Arc<Mutex<GapLog>>,
}

#[derive(Default)]
struct QueueState {
    batches: VecDeque<Vec<Liquidation>>,
    rows: usize,
    closed: bool,
}

impl ConsumerQueue {
    pub(crate) fn new(
        capacity_rows: usize,
        stats: Arc<StreamStats>,
        gaps: Arc<Mutex<GapLog>>,
    ) -> Self {
        ConsumerQueue {
            state: Mutex::new(QueueState::default()),
            ready: Notify::new(),
            capacity_rows,
            stats,
            gaps,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, QueueState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn push(&self, rows: Vec<Liquidation>) {
        let mut dropped = Vec::new();
        {
            let mut state = self.lock();
            while state.rows + rows.len() > self.capacity_rows {
                let Some(oldest) = state.batches.pop_front() else {
                    break;
                };
                state.rows -= oldest.len();
                dropped.push(oldest);
            }
            state.rows += rows.len();
            state.batches.push_back(rows);
        }
        self.ready.notify_one();
        if !dropped.is_empty() {
            self.record_overflow(dropped);
        }
    }

    fn record_overflow(&self, dropped: Vec<Vec<Liquidation>>) {
        let dropped: Vec<Liquidation> = dropped.into_iter().flatten().collect();
        StreamStats::add(&self.stats.dropped, dropped.len() as u64);
        tracing::warn!(
            rows = dropped.len(),
            "the consumer fell behind: dropped the oldest queued liquidations (the store keeps them)"
        );
        let gaps = overflow_gaps(&dropped, "consumer queue");
        StreamStats::add(&self.stats.gaps, gaps.len() as u64);
        let mut log = self.gaps.lock().unwrap_or_else(|p| p.into_inner());
        for gap in gaps {
            log.push(gap);
        }
    }

    /// No more batches will come; waiting consumers wake up and drain what is left.
    pub(crate) fn close(&self) {
        self.lock().closed = true;
        self.ready.notify_waiters();
        self.ready.notify_one();
    }

    /// The oldest queued batch as Arrow, waiting for one; `None` when closed and empty.
    pub async fn pop(&self) -> Option<RecordBatch> {
        loop {
            let notified = self.ready.notified();
            {
                let mut state = self.lock();
                if let Some(rows) = state.batches.pop_front() {
                    state.rows -= rows.len();
                    let more = !state.batches.is_empty() || state.closed;
                    drop(state);
                    if more {
                        // Another consumer waiting (sync and async iterators may share a stream) gets its turn.
                        self.ready.notify_one();
                    }
                    return Some(liquidation_batch(&rows));
                }
                if state.closed {
                    return None;
                }
            }
            notified.await;
        }
    }

    /// The oldest queued batch if there is one, without waiting.
    pub fn try_pop(&self) -> Option<RecordBatch> {
        let mut state = self.lock();
        let rows = state.batches.pop_front()?;
        state.rows -= rows.len();
        Some(liquidation_batch(&rows))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{InstrumentRef, Side, UnifiedSymbol, Venue};

    fn row(ts: i64, price: f64) -> Liquidation {
        let inst = InstrumentRef::new(Venue::Bybit, &UnifiedSymbol::parse("BTCUSDT-PERP").unwrap());
        inst.liquidation(ts, ts + 5, Side::Sell, price, 1.0)
    }

    #[test]
    fn dedup_ignores_arrival_time_and_forgets_after_its_window() {
        let mut dedup = Dedup {
            seen: HashSet::new(),
            order: VecDeque::new(),
            window: std::time::Duration::from_secs(10),
        };
        let start = Instant::now();
        assert!(dedup.is_new(&row(1, 100.0), start));
        let mut again = row(1, 100.0);
        again.ts_init += 1_000_000;
        assert!(
            !dedup.is_new(&again, start),
            "the same event received later is a duplicate"
        );
        assert!(
            dedup.is_new(&row(1, 100.5), start),
            "another price is another event"
        );
        assert!(
            dedup.is_new(&row(1, 100.0), start + std::time::Duration::from_secs(11)),
            "forgotten after the window"
        );
    }

    #[tokio::test]
    async fn a_full_queue_drops_the_oldest_and_records_an_overflow_gap() {
        let stats = Arc::new(StreamStats::default());
        let gaps = Arc::new(Mutex::new(GapLog::default()));
        let queue = ConsumerQueue::new(4, stats.clone(), gaps.clone());
        queue.push(vec![row(1, 1.0), row(2, 1.0)]);
        queue.push(vec![row(3, 1.0), row(4, 1.0)]);
        queue.push(vec![row(5, 1.0)]);
        assert_eq!(stats.dropped.load(std::sync::atomic::Ordering::Relaxed), 2);
        let gap = gaps.lock().unwrap().gaps[0].clone();
        assert_eq!(
            (gap.reason, gap.ts_event, gap.ts_init),
            (GapReason::Overflow, 1, 2)
        );
        assert_eq!(queue.pop().await.unwrap().num_rows(), 2);
        assert_eq!(queue.try_pop().unwrap().num_rows(), 1);
        queue.close();
        assert!(queue.pop().await.is_none());
    }

    /// A store that fails its first `failures` writes and records every write it accepts.
    struct FlakyStore {
        failures: std::sync::atomic::AtomicU32,
        writes: Mutex<Vec<usize>>,
    }

    impl LiquidationSink for FlakyStore {
        fn write_liquidations(&self, rows: &[Liquidation]) -> crate::model::Result<()> {
            std::thread::sleep(std::time::Duration::from_millis(50));
            if self.failures.load(std::sync::atomic::Ordering::SeqCst) > 0 {
                self.failures
                    .fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
                return Err(crate::model::PipelineError::Store("disk full".into()));
            }
            self.writes.lock().unwrap().push(rows.len());
            Ok(())
        }
        fn write_gaps(&self, _: &[StreamGap]) -> crate::model::Result<()> {
            Ok(())
        }
        fn newest_liquidation_ns(
            &self,
            _: crate::model::Venue,
        ) -> crate::model::Result<Option<i64>> {
            Ok(None)
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_store_writer_coalesces_behind_a_slow_store_and_retries_a_failed_write() {
        let stats = Arc::new(StreamStats::default());
        let store = Arc::new(FlakyStore {
            failures: 1.into(),
            writes: Mutex::new(Vec::new()),
        });
        let backlog = Arc::new(StoreBacklog::new(1_000, stats.clone()));
        let writer = tokio::spawn(backlog.clone().write_until_closed(store.clone()));
        for i in 0..20 {
            backlog.add(&[row(i, 1.0)], Vec::new());
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        backlog.close();
        writer.await.unwrap();
        let writes = store.writes.lock().unwrap().clone();
        assert_eq!(
            writes.iter().sum::<usize>(),
            20,
            "every row stored once, the failed write's rows included"
        );
        assert!(
            writes.len() < 20,
            "rows that arrived during a write went into the next one: {writes:?}"
        );
        assert_eq!(stats.stored.load(std::sync::atomic::Ordering::Relaxed), 20);
        assert_eq!(
            stats
                .store_errors
                .load(std::sync::atomic::Ordering::Relaxed),
            1
        );
    }

    #[test]
    fn a_backlog_past_its_capacity_drops_the_oldest_and_stores_the_hole_as_a_gap() {
        let stats = Arc::new(StreamStats::default());
        let backlog = StoreBacklog::new(3, stats.clone());
        backlog.add(&[row(1, 1.0), row(2, 1.0)], Vec::new());
        backlog.add(&[row(3, 1.0), row(4, 1.0), row(5, 1.0)], Vec::new());
        let state = backlog.lock();
        assert_eq!(
            state.rows.iter().map(|r| r.ts_event).collect::<Vec<_>>(),
            vec![3, 4, 5]
        );
        assert_eq!(state.gaps.len(), 1);
        assert_eq!(
            (
                state.gaps[0].reason,
                state.gaps[0].ts_event,
                state.gaps[0].ts_init
            ),
            (GapReason::Overflow, 1, 2)
        );
        assert_eq!(stats.dropped.load(std::sync::atomic::Ordering::Relaxed), 2);
    }
}
