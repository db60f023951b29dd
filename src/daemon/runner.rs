//! The daemon's jobs: open interest and funding snapshots on wall-clock-aligned schedules, history catch-up from
//! the store at start and after a venue recovers, liquidation streams, periodic compaction, and the status file.
//! Jobs are isolated: one venue failing, rate-limited or banned never stops another job.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{watch, Notify};
use tokio::task::JoinSet;

use super::config::{DaemonConfig, SymbolSelection};
use super::status::{dir_size, DaemonStatus, SharedStatus, StreamStatus, PID_FILE};
use crate::fetch::{HistoryRange, HistorySink, Keep, VenueClient};
use crate::model::records::now_ns;
use crate::model::{
    GapReason, InstrumentRef, PipelineError, Result, StreamGap, UnifiedSymbol, Venue,
};
use crate::net::{Backoff, BackoffPolicy, HttpConfig};
use crate::store::ParquetStore;
use crate::stream::{start_for_symbols, LiquidationSink, LiquidationStream, StreamOptions};

/// In-flight work gets this long to finish after a stop request before it is abandoned.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);
const STATUS_EVERY: Duration = Duration::from_secs(2);

/// The data dir's daemon lock: an exclusive lock on `daemon.pid`, which holds the owner's PID. A daemon killed
/// with SIGKILL leaves the file but not the lock, so a stale file never blocks a start.
pub struct DaemonLock {
    _file: File,
}

impl DaemonLock {
    pub fn acquire(data_dir: &Path) -> Result<DaemonLock> {
        std::fs::create_dir_all(data_dir).map_err(|e| {
            PipelineError::Store(format!(
                "cannot create data dir {}: {e}",
                data_dir.display()
            ))
        })?;
        let path = data_dir.join(PID_FILE);
        let mut file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(&path)
            .map_err(|e| PipelineError::Store(format!("cannot open {}: {e}", path.display())))?;
        if file.try_lock().is_err() {
            let mut pid = String::new();
            let _ = file.read_to_string(&mut pid);
            return Err(PipelineError::Store(format!(
                "a daemon is already running on {} (PID {}); stop it first with `ccxt-cli daemon stop`",
                data_dir.display(),
                pid.trim()
            )));
        }
        let written = file
            .set_len(0)
            .and_then(|()| file.rewind())
            .and_then(|()| writeln!(file, "{}", std::process::id()))
            .and_then(|()| file.sync_all());
        written
            .map_err(|e| PipelineError::Store(format!("cannot write {}: {e}", path.display())))?;
        Ok(DaemonLock { _file: file })
    }

    /// The PID of the daemon holding the lock on `data_dir`, if one does.
    pub fn holder(data_dir: &Path) -> Option<u32> {
        let path = data_dir.join(PID_FILE);
        let mut file = OpenOptions::new().read(true).write(true).open(path).ok()?;
        if file.try_lock().is_ok() {
            return None;
        }
        let mut pid = String::new();
        file.read_to_string(&mut pid).ok()?;
        pid.trim().parse().ok()
    }
}

/// The next multiple of `interval` (since the epoch) strictly after `now_ms`: every minute on the minute.
pub fn next_tick_ms(now_ms: i64, interval: Duration) -> i64 {
    let step = i64::try_from(interval.as_millis())
        .unwrap_or(i64::MAX)
        .max(1);
    now_ms
        .div_euclid(step)
        .saturating_add(1)
        .saturating_mul(step)
}

fn now_ms() -> i64 {
    now_ns().div_euclid(1_000_000)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Snapshot {
    OpenInterest,
    Funding,
}

impl Snapshot {
    fn name(self) -> &'static str {
        match self {
            Snapshot::OpenInterest => "open_interest",
            Snapshot::Funding => "funding_rate",
        }
    }
}

/// Everything the jobs share.
struct Context {
    config: DaemonConfig,
    store: ParquetStore,
    status: Arc<SharedStatus>,
    stop: watch::Receiver<bool>,
}

pub struct DaemonRunner {
    config: DaemonConfig,
}

impl DaemonRunner {
    pub fn new(config: DaemonConfig) -> Self {
        DaemonRunner { config }
    }

    /// Runs every job until `stop` turns true (or SIGTERM arrives), then stops scheduling, gives in-flight work
    /// [`SHUTDOWN_GRACE`], flushes and closes the streams and writes the final status.
    pub async fn run(&self, mut stop: watch::Receiver<bool>) -> Result<()> {
        let config = self.config.clone();
        let _lock = DaemonLock::acquire(&config.data_dir)?;
        let previous = DaemonStatus::read(&config.data_dir).ok().flatten();
        let store = ParquetStore::open(&config.data_dir)?;
        let started_ms = now_ms();
        let status = Arc::new(SharedStatus::new(DaemonStatus {
            state: "starting".into(),
            pid: std::process::id(),
            started_ms,
            updated_ms: started_ms,
            config: config.source.as_ref().map(|p| p.display().to_string()),
            data_dir: config.data_dir.display().to_string(),
            ..DaemonStatus::default()
        }));
        status.snapshot().write(&config.data_dir)?;
        tracing::info!(data_dir = %config.data_dir.display(), pid = std::process::id(), "daemon starting");

        let (job_stop, job_stopped) = watch::channel(false);
        if let Some(port) = config.metrics_port {
            super::metrics::serve(port, status.clone(), job_stopped.clone()).await?;
        }
        let context = Arc::new(Context {
            config: config.clone(),
            store,
            status: status.clone(),
            stop: job_stopped,
        });
        let clients: BTreeMap<Venue, Arc<VenueClient>> = config
            .venues
            .iter()
            .map(|&venue| {
                let base = config.base_urls.get(&venue).map(String::as_str);
                VenueClient::new(venue, base, &HttpConfig::default()).map(|c| (venue, Arc::new(c)))
            })
            .collect::<Result<_>>()?;
        let mut jobs = JoinSet::new();
        let stream_slot: StreamSlot = Arc::default();
        let previous_alive_ms = previous.as_ref().map(|p| p.updated_ms);
        for client in clients.values() {
            jobs.spawn(venue_jobs(
                context.clone(),
                client.clone(),
                stream_slot.clone(),
                previous_alive_ms,
            ));
        }
        if let Some(interval) = config.compaction_interval {
            jobs.spawn(compaction_job(context.clone(), interval));
        }
        status.update(|s| s.state = "running".into());

        // Writes the status every few seconds until asked to stop (SIGTERM counts as a stop request).
        let mut terminate =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
        let mut last_size_ms = 0;
        loop {
            publish(&status, &stream_slot, &config.data_dir, &mut last_size_ms);
            tokio::select! {
                () = tokio::time::sleep(STATUS_EVERY) => {}
                _ = stop.wait_for(|stopped| *stopped) => break,
                () = terminated(&mut terminate) => break,
            }
        }
        tracing::info!("daemon stopping: finishing in-flight work");
        status.update(|s| s.state = "stopping".into());
        publish(&status, &stream_slot, &config.data_dir, &mut 0);
        job_stop.send_replace(true);
        let drained = tokio::time::timeout(SHUTDOWN_GRACE, async {
            while let Some(joined) = jobs.join_next().await {
                if let Err(error) = joined {
                    tracing::error!(%error, "a daemon job failed");
                }
            }
        })
        .await;
        if drained.is_err() {
            tracing::warn!(
                seconds = SHUTDOWN_GRACE.as_secs(),
                "abandoning in-flight work that did not finish in time"
            );
            jobs.abort_all();
        }
        status.update(|s| s.state = "stopped".into());
        publish(&status, &stream_slot, &config.data_dir, &mut 0);
        tracing::info!("daemon stopped");
        Ok(())
    }
}

/// Resolves once SIGTERM arrives; never where the handler cannot be installed.
async fn terminated(signal: &mut Option<tokio::signal::unix::Signal>) {
    match signal {
        Some(signal) => {
            signal.recv().await;
        }
        None => std::future::pending().await,
    }
}

fn publish(
    status: &SharedStatus,
    stream: &std::sync::Mutex<Vec<Arc<LiquidationStream>>>,
    data_dir: &Path,
    last_size_ms: &mut i64,
) {
    let now = now_ms();
    let day_ago_ns = (now - 86_400_000) * 1_000_000;
    let streams = stream.lock().unwrap_or_else(|p| p.into_inner()).clone();
    let streams = (!streams.is_empty()).then(|| {
        let load = |c: &std::sync::atomic::AtomicU64| c.load(std::sync::atomic::Ordering::Relaxed);
        let mut total = StreamStatus::default();
        for stream in &streams {
            let stats = stream.stats();
            total.connected += load(&stats.connected);
            total.events += load(&stats.events);
            total.reconnects += load(&stats.reconnects);
            total.gaps += load(&stats.gaps);
            total.gaps_24h += stream
                .gaps()
                .iter()
                .filter(|g| g.ts_init >= day_ago_ns)
                .count() as u64;
            total.stored += load(&stats.stored);
        }
        total
    });
    // Sizing the store walks its folders: once a minute is plenty.
    let size = (now - *last_size_ms >= 60_000).then(|| dir_size(&data_dir.join("data")));
    if size.is_some() {
        *last_size_ms = now;
    }
    let snapshot = status.update(|s| {
        s.updated_ms = now;
        if streams.is_some() {
            s.streams = streams;
        }
        if let Some(size) = size {
            s.store_bytes = size;
        }
        s.clone()
    });
    if let Err(error) = snapshot.write(data_dir) {
        tracing::warn!(%error, "could not write the daemon status");
    }
}

/// The live streams of every venue, for the status.
type StreamSlot = Arc<std::sync::Mutex<Vec<Arc<LiquidationStream>>>>;

/// The symbols `client`'s venue collects: the listed ones, or its top N by open interest (retried every 30 s until
/// the venue answers; `None` if stopped meanwhile).
async fn venue_symbols(context: &Context, client: &VenueClient) -> Option<Vec<String>> {
    let n = match &context.config.symbols {
        SymbolSelection::Listed(symbols) => return Some(symbols.clone()),
        SymbolSelection::TopByOpenInterest(n) => *n,
    };
    let name = format!("symbols {}", client.venue());
    let mut stop = context.stop.clone();
    loop {
        match client.top_by_open_interest(n).await {
            Ok(symbols) => {
                tracing::info!(venue = %client.venue(), ?symbols, "top {n} by open interest");
                context
                    .status
                    .job(&name, |job| job.finished(now_ms(), None));
                return Some(symbols);
            }
            Err(error) => {
                tracing::warn!(venue = %client.venue(), %error, "cannot rank symbols by open interest; retrying in 30 s");
                context
                    .status
                    .job(&name, |job| job.finished(now_ms(), Some(&error)));
            }
        }
        tokio::select! {
            () = tokio::time::sleep(Duration::from_secs(30)) => {}
            () = stopped(&mut stop) => return None,
        }
    }
}

/// Every job of one venue: its symbols first, then snapshots, history catch-up and liquidation streams.
async fn venue_jobs(
    context: Arc<Context>,
    client: Arc<VenueClient>,
    streams: StreamSlot,
    previous_alive_ms: Option<i64>,
) {
    let Some(symbols) = venue_symbols(&context, &client).await else {
        return;
    };
    let symbols = Arc::new(symbols);
    let config = &context.config;
    let recovered = Arc::new(Notify::new());
    let mut jobs = JoinSet::new();
    for (kind, interval) in [
        (Snapshot::OpenInterest, config.open_interest_interval),
        (Snapshot::Funding, config.funding_interval),
    ] {
        if let Some(interval) = interval {
            jobs.spawn(snapshot_job(
                context.clone(),
                client.clone(),
                symbols.clone(),
                kind,
                interval,
                recovered.clone(),
            ));
        }
    }
    if let Some(catch_up) = config.history_catch_up {
        jobs.spawn(catch_up_job(
            context.clone(),
            client.clone(),
            symbols.clone(),
            catch_up,
            recovered,
        ));
    }
    if config.liquidations {
        jobs.spawn(stream_job(
            context.clone(),
            client.clone(),
            symbols,
            streams,
            previous_alive_ms,
        ));
    }
    while let Some(joined) = jobs.join_next().await {
        if let Err(error) = joined {
            tracing::error!(venue = %client.venue(), %error, "a daemon job failed");
        }
    }
}

async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|stopped| *stopped).await;
}

/// Snapshots of every symbol of one venue at each tick. A symbol that fails is retried within the interval;
/// what still failed when the interval ends is a `poll_failure` gap. Missed ticks are skipped, not fired late.
async fn snapshot_job(
    context: Arc<Context>,
    client: Arc<VenueClient>,
    symbols: Arc<Vec<String>>,
    kind: Snapshot,
    interval: Duration,
    recovered: Arc<Notify>,
) {
    let venue = client.venue();
    let name = format!("{} {venue}", kind.name());
    let mut stop = context.stop.clone();
    let interval_ms = i64::try_from(interval.as_millis()).unwrap_or(i64::MAX);
    let mut failing = false;
    loop {
        let tick = next_tick_ms(now_ms(), interval);
        context
            .status
            .job(&name, |job| job.next_run_ms = Some(tick));
        let wait = Duration::from_millis(u64::try_from(tick - now_ms()).unwrap_or(0));
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            () = stopped(&mut stop) => return,
        }
        // Retries end well before the next tick, which must find this one finished.
        let deadline = tokio::time::Instant::now() + interval.mul_f64(0.8);
        let mut pending: Vec<String> = symbols.to_vec();
        let mut rows_oi = Vec::new();
        let mut rows_funding = Vec::new();
        let mut last_error = None;
        let mut unknown_symbol = false;
        let mut backoff = Backoff::new(BackoffPolicy {
            initial: Duration::from_millis(500),
            max: Duration::from_secs(10),
            immediate_first: false,
        });
        loop {
            let attempts = pending.iter().map(|symbol| {
                let client = client.clone();
                async move {
                    match kind {
                        Snapshot::OpenInterest => client
                            .fetch_open_interest(symbol)
                            .await
                            .map(|r| (Some(r), None)),
                        Snapshot::Funding => client
                            .fetch_funding_rate(symbol)
                            .await
                            .map(|r| (None, Some(r))),
                    }
                }
            });
            let results = futures_util::future::join_all(attempts).await;
            let mut failed = Vec::new();
            for (symbol, result) in pending.iter().zip(results) {
                match result {
                    Ok((oi, funding)) => {
                        rows_oi.extend(oi);
                        rows_funding.extend(funding);
                    }
                    // An unknown symbol will not appear by retrying.
                    Err(error @ PipelineError::SymbolNotFound { .. }) => {
                        unknown_symbol = true;
                        last_error = Some(error);
                    }
                    Err(error) => {
                        failed.push(symbol.clone());
                        last_error = Some(error);
                    }
                }
            }
            pending = failed;
            let delay = backoff.next_delay();
            if pending.is_empty()
                || tokio::time::Instant::now() + delay > deadline
                || *stop.borrow()
            {
                break;
            }
            tokio::select! {
                () = tokio::time::sleep(delay) => {}
                () = stopped(&mut stop) => break,
            }
        }
        let store = context.store.clone();
        let gaps: Vec<StreamGap> = pending
            .iter()
            .filter_map(|symbol| {
                let inst = InstrumentRef::new(venue, &UnifiedSymbol::parse(symbol).ok()?);
                Some(StreamGap {
                    venue,
                    symbol: inst.symbol,
                    instrument_id: inst.instrument_id,
                    ts_event: tick * 1_000_000,
                    ts_init: (tick + interval_ms) * 1_000_000 - 1,
                    stream: format!("{} snapshots", kind.name()),
                    reason: GapReason::PollFailure,
                })
            })
            .collect();
        let written = tokio::task::spawn_blocking(move || -> Result<usize> {
            let mut added = 0;
            if !rows_oi.is_empty() {
                added += store.write(&rows_oi)?.rows_added;
            }
            if !rows_funding.is_empty() {
                added += store.write(&rows_funding)?.rows_added;
            }
            if !gaps.is_empty() {
                store.write(&gaps)?;
            }
            Ok(added)
        })
        .await
        .unwrap_or_else(|e| Err(PipelineError::Store(format!("store task failed: {e}"))));
        let now = now_ms();
        let error = match &written {
            Err(error) => Some(error.clone()),
            Ok(_) if !pending.is_empty() || unknown_symbol => last_error,
            Ok(_) => None,
        };
        context.status.job(&name, |job| {
            if let Ok(added) = &written {
                job.rows_written += *added as u64;
            }
            job.finished(now, error.as_ref().map(|e| e as &dyn std::fmt::Display));
        });
        if let Some(error) = &error {
            tracing::warn!(job = %name, %error, "snapshot incomplete; recorded as a gap");
            failing = true;
        } else if failing {
            failing = false;
            tracing::info!(job = %name, "snapshots recovered; catching up history");
            recovered.notify_one();
        }
    }
}

/// History from the store's last rows (at most `catch_up` back) at start, and again whenever the venue's snapshots
/// recover from a failure.
async fn catch_up_job(
    context: Arc<Context>,
    client: Arc<VenueClient>,
    symbols: Arc<Vec<String>>,
    catch_up: Duration,
    recovered: Arc<Notify>,
) {
    let venue = client.venue();
    let name = format!("history {venue}");
    let mut stop = context.stop.clone();
    loop {
        let end_ms = now_ms();
        let start_ms = end_ms
            - i64::try_from(catch_up.as_millis())
                .unwrap_or(i64::MAX)
                .min(end_ms);
        let sink = HistorySink {
            store: Some(Arc::new(context.store.clone())),
            progress: None,
            keep: Keep::Nothing,
            store_batch_rows: None,
        };
        let mut rows = 0u64;
        let mut error = None;
        for symbol in symbols.iter() {
            let Ok(range) = HistoryRange::new(start_ms, end_ms) else {
                break;
            };
            let work = async {
                let oi = if crate::venue::spec(venue)
                    .check_open_interest_history()
                    .is_err()
                {
                    // A venue without open interest history (Hyperliquid): the daemon's own snapshots are its
                    // history.
                    Ok(0)
                } else {
                    client
                        .fetch_open_interest_history(
                            symbol,
                            context.config.history_period,
                            range,
                            &sink,
                        )
                        .await
                        .map(|h| h.rows_stored)
                };
                let funding = client
                    .fetch_funding_rate_history(symbol, range, &sink)
                    .await
                    .map(|h| h.rows_stored);
                (oi, funding)
            };
            let (oi, funding) = tokio::select! {
                done = work => done,
                () = stopped(&mut stop) => return,
            };
            for result in [oi, funding] {
                match result {
                    Ok(stored) => rows += stored as u64,
                    Err(e) => error = Some(e),
                }
            }
        }
        let now = now_ms();
        context.status.job(&name, |job| {
            job.rows_written += rows;
            job.finished(now, error.as_ref().map(|e| e as &dyn std::fmt::Display));
        });
        tracing::info!(job = %name, rows, "history catch-up done");
        tokio::select! {
            () = recovered.notified() => {}
            () = stopped(&mut stop) => return,
        }
    }
}

/// The liquidation streams of every venue; restarted if they cannot start (e.g. a venue down at start). The
/// interval since the previous run's last sign of life is a `shutdown` gap of every stream.
async fn stream_job(
    context: Arc<Context>,
    client: Arc<VenueClient>,
    symbols: Arc<Vec<String>>,
    slot: StreamSlot,
    previous_alive_ms: Option<i64>,
) {
    let config = &context.config;
    let venue = client.venue();
    let name = format!("liquidations {venue}");
    let mut stop = context.stop.clone();
    let clients = [(client.clone(), config.ws_urls.get(&venue).cloned())];
    let options = StreamOptions {
        batch_interval: config.flush_interval,
        ..StreamOptions::default()
    };
    let sink: Arc<dyn LiquidationSink> = Arc::new(context.store.clone());
    let stream = loop {
        let started = start_for_symbols(
            &clients,
            &symbols,
            config.liquidations_all_market,
            &config.hyperliquid_addresses,
            options.clone(),
            Some(sink.clone()),
        );
        let result = tokio::select! {
            result = started => result,
            () = stopped(&mut stop) => return,
        };
        match result {
            Ok((stream, _)) => break Arc::new(stream),
            Err(error) => {
                tracing::error!(%venue, %error, "the liquidation stream could not start; retrying in 30 s");
                context
                    .status
                    .job(&name, |job| job.finished(now_ms(), Some(&error)));
                tokio::select! {
                    () = tokio::time::sleep(Duration::from_secs(30)) => {}
                    () = stopped(&mut stop) => return,
                }
            }
        }
    };
    if let Some(from_ms) = previous_alive_ms {
        record_downtime(&context, venue, &symbols, from_ms).await;
    }
    slot.lock()
        .unwrap_or_else(|p| p.into_inner())
        .push(stream.clone());
    context.status.job(&name, |job| {
        job.runs += 1;
        job.last_success_ms = Some(now_ms());
    });
    // The store gets every row from the collector; the daemon has no consumer, so the queue is drained here
    // (and the job's row count follows the store's).
    let stored = || {
        stream
            .stats()
            .stored
            .load(std::sync::atomic::Ordering::Relaxed)
    };
    loop {
        tokio::select! {
            batch = stream.next_batch() => if batch.is_none() { break },
            () = stopped(&mut stop) => break,
        }
        let rows = stored();
        context.status.job(&name, |job| job.rows_written = rows);
    }
    stream.close().await;
    let rows = stored();
    context.status.job(&name, |job| job.rows_written = rows);
}

/// One `shutdown` gap per stream of `venue` for the time the daemon was not running.
async fn record_downtime(context: &Context, venue: Venue, symbols: &[String], from_ms: i64) {
    let to_ns = now_ns();
    let gaps: Vec<StreamGap> = symbols
        .iter()
        .filter_map(|symbol| {
            let inst = InstrumentRef::new(venue, &UnifiedSymbol::parse(symbol).ok()?);
            Some(StreamGap {
                venue,
                symbol: inst.symbol,
                instrument_id: inst.instrument_id,
                ts_event: from_ms * 1_000_000,
                ts_init: to_ns.max(from_ms * 1_000_000),
                stream: "liquidations".into(),
                reason: GapReason::Shutdown,
            })
        })
        .collect();
    let store = context.store.clone();
    let written = tokio::task::spawn_blocking(move || store.write(&gaps)).await;
    if !matches!(written, Ok(Ok(_))) {
        tracing::warn!(%venue, "could not record the downtime gap");
    }
}

async fn compaction_job(context: Arc<Context>, interval: Duration) {
    let mut stop = context.stop.clone();
    loop {
        let tick = next_tick_ms(now_ms(), interval);
        context
            .status
            .job("compaction", |job| job.next_run_ms = Some(tick));
        tokio::select! {
            () = tokio::time::sleep(Duration::from_millis(u64::try_from(tick - now_ms()).unwrap_or(0))) => {}
            () = stopped(&mut stop) => return,
        }
        let store = context.store.clone();
        let result = tokio::task::spawn_blocking(move || store.compact())
            .await
            .unwrap_or_else(|e| Err(PipelineError::Store(format!("compaction task failed: {e}"))));
        let now = now_ms();
        context.status.job("compaction", |job| {
            job.finished(
                now,
                result.as_ref().err().map(|e| e as &dyn std::fmt::Display),
            )
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_on_the_wall_clock_grid_and_strictly_ahead() {
        let minute = Duration::from_secs(60);
        assert_eq!(next_tick_ms(0, minute), 60_000);
        assert_eq!(next_tick_ms(59_999, minute), 60_000);
        assert_eq!(
            next_tick_ms(60_000, minute),
            120_000,
            "a tick at now already fired"
        );
        assert_eq!(
            next_tick_ms(1_700_000_012_345, Duration::from_secs(300)),
            1_700_000_100_000
        );
        assert_eq!(
            next_tick_ms(i64::MAX - 5, minute),
            i64::MAX,
            "saturates instead of overflowing"
        );
    }

    #[test]
    fn a_second_daemon_on_the_same_dir_is_refused_and_a_stale_pid_file_is_not() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(PID_FILE), "999999\n").unwrap();
        let lock = DaemonLock::acquire(dir.path()).expect("a stale PID file does not block");
        assert_eq!(DaemonLock::holder(dir.path()), Some(std::process::id()));
        match DaemonLock::acquire(dir.path()) {
            Err(PipelineError::Store(message)) => {
                assert!(
                    message.contains("already running")
                        && message.contains(&std::process::id().to_string())
                )
            }
            other => panic!("{:?}", other.err()),
        }
        drop(lock);
        assert_eq!(DaemonLock::holder(dir.path()), None);
    }
}
