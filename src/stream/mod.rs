//! Live liquidation streams: one reconnecting WebSocket core for every venue ([`connection`]), the Hyperliquid
//! fills poller ([`poller`]), and one collector ([`collector`]) that de-duplicates, batches, stores and hands
//! batches to a bounded consumer queue.
//!
//! Delivery contract: every event received is delivered once (overlapping connections and re-polls are
//! de-duplicated); every interval in which a subscribed stream was not delivering is a [`StreamGap`] row, from the
//! last sign of life of the broken connection to the acknowledgement of the new subscription. Memory is bounded:
//! the consumer queue drops its oldest batches (recorded as `overflow` gaps; the store still gets every row) and
//! the de-duplication window is bounded in time and size.

mod collector;
mod connection;
mod poller;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use arrow_array::RecordBatch;
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::fetch::VenueClient;
use crate::model::{InstrumentRef, Liquidation, PipelineError, Result, StreamGap, Venue};
use crate::net::BackoffPolicy;
use crate::venue::stream::{liquidation_protocol, StreamSpec};

pub use collector::{ConsumerQueue, Dedup};

/// Where a stream's rows and gaps go besides the consumer (the Parquet store implements it). Called from a
/// blocking thread.
pub trait LiquidationSink: Send + Sync {
    fn write_liquidations(&self, rows: &[Liquidation]) -> Result<()>;
    fn write_gaps(&self, gaps: &[StreamGap]) -> Result<()>;
    /// The newest stored liquidation time of `venue` (ns), where a poller resumes after a restart.
    fn newest_liquidation_ns(&self, venue: Venue) -> Result<Option<i64>>;
}

/// Tuning of a stream; the defaults suit production, tests shorten the clocks.
#[derive(Debug, Clone)]
pub struct StreamOptions {
    /// Rows per batch handed on (to the store and the consumer).
    pub batch_rows: usize,
    /// A batch is handed on at the latest this long after its first row.
    pub batch_interval: Duration,
    /// Rows the consumer queue holds before it drops the oldest batches.
    pub queue_rows: usize,
    /// No frame at all for this long (data, pong, ping): the connection is presumed dead and replaced.
    pub idle_timeout: Duration,
    /// Time for the connection, the TLS and WebSocket handshakes, and for every subscription to be acknowledged.
    pub connect_timeout: Duration,
    pub backoff: BackoffPolicy,
    /// A connection that stayed up this long resets the backoff. Short on purpose: a venue that drops
    /// connections every few seconds (maintenance, load balancers) must not push reconnects out to 30 s, which
    /// would turn short drops into long gaps; one that refuses or drops at once still backs off.
    pub healthy_after: Duration,
    /// Replace connections after this age instead of the venue's own limit (Binance 24 h, minus a margin).
    pub max_connection_age: Option<Duration>,
    /// Hyperliquid `userFillsByTime` polling period.
    pub poll_interval: Duration,
    /// How long an event's identity is remembered to recognise it when it arrives again.
    pub dedup_window: Duration,
}

impl Default for StreamOptions {
    fn default() -> Self {
        StreamOptions {
            batch_rows: 1000,
            batch_interval: Duration::from_secs(1),
            queue_rows: 100_000,
            idle_timeout: Duration::from_secs(60),
            connect_timeout: Duration::from_secs(15),
            backoff: BackoffPolicy {
                initial: Duration::from_millis(500),
                max: Duration::from_secs(30),
                immediate_first: true,
            },
            healthy_after: Duration::from_secs(5),
            max_connection_age: None,
            poll_interval: Duration::from_secs(5),
            dedup_window: Duration::from_secs(600),
        }
    }
}

impl StreamOptions {
    pub fn validate(&self) -> Result<()> {
        let bad = |what: &str| Err(PipelineError::InvalidArgument(what.to_string()));
        if self.batch_rows == 0 {
            return bad("batch_rows must be at least 1");
        }
        if self.queue_rows < self.batch_rows {
            return bad("the queue must hold at least one batch (queue_rows >= batch_rows)");
        }
        if self.batch_interval.is_zero() || self.idle_timeout < Duration::from_millis(100) {
            return bad("batch_seconds must be > 0 and the idle timeout at least 0.1 s");
        }
        Ok(())
    }
}

/// What to stream from one venue.
#[derive(Debug, Clone)]
pub struct VenuePlan {
    pub client: Arc<VenueClient>,
    /// WebSocket base URL (`wss://fstream.binance.com`); `None` = `CCXT_PIPELINE_<VENUE>_WS_URL`, else production.
    pub ws_url: Option<String>,
    pub instruments: Vec<InstrumentRef>,
    /// The venue's whole-market stream (Binance `!forceOrder@arr`) instead of, or besides, per-symbol streams.
    pub all_market: bool,
    /// Hyperliquid: the addresses whose fills are polled.
    pub addresses: Vec<String>,
}

/// Resolves `symbols` on each client's venue and starts one stream over all of them. Unreadable symbols fail the
/// call; a venue that cannot stream them (unknown symbol, no whole-market stream) is a failure of that venue
/// alone, returned beside the stream — unless no venue can start at all.
pub async fn start_for_symbols(
    clients: &[(Arc<VenueClient>, Option<String>)],
    symbols: &[String],
    all_market: bool,
    addresses: &[String],
    options: StreamOptions,
    sink: Option<Arc<dyn LiquidationSink>>,
) -> Result<(LiquidationStream, Vec<PipelineError>)> {
    options.validate()?;
    for symbol in symbols {
        crate::model::UnifiedSymbol::parse(symbol)?;
    }
    if symbols.is_empty() && !all_market {
        return Err(PipelineError::InvalidArgument(
            "no symbols to stream: name at least one symbol or ask for the whole market".into(),
        ));
    }
    let addresses = if addresses.is_empty() {
        vec![crate::venue::hyperliquid::fills::DEFAULT_LIQUIDATOR_ADDRESS.to_string()]
    } else {
        addresses
            .iter()
            .map(|a| crate::venue::hyperliquid::fills::normalize_address(a))
            .collect::<Result<_>>()?
    };
    let mut plans = Vec::new();
    let mut failures = Vec::new();
    for (client, ws_url) in clients {
        let venue = client.venue();
        let has_market_stream =
            liquidation_protocol(venue).is_none_or(|p| p.stream(None).is_some());
        if all_market && !has_market_stream && symbols.is_empty() {
            failures.push(PipelineError::Unsupported {
                venue,
                what: "a whole-market liquidation stream".into(),
                reason: "the venue streams liquidations per symbol only: name the symbols".into(),
            });
            continue;
        }
        let mut instruments = Vec::with_capacity(symbols.len());
        let mut failed = None;
        for symbol in symbols {
            match client.resolve(symbol).await {
                Ok(inst) => instruments.push(inst),
                Err(error) => {
                    failed = Some(error);
                    break;
                }
            }
        }
        match failed {
            Some(error) => failures.push(error),
            None => plans.push(VenuePlan {
                client: client.clone(),
                ws_url: ws_url.clone(),
                instruments,
                all_market: all_market && has_market_stream,
                addresses: if venue == Venue::Hyperliquid {
                    addresses.clone()
                } else {
                    Vec::new()
                },
            }),
        }
    }
    if plans.is_empty() {
        return Err(failures
            .into_iter()
            .next()
            .unwrap_or_else(|| PipelineError::InvalidArgument("no venue to stream from".into())));
    }
    Ok((LiquidationStream::start(plans, options, sink)?, failures))
}

/// Counters of a stream, shared by its tasks.
#[derive(Debug, Default)]
pub struct StreamStats {
    /// Distinct events delivered.
    pub events: AtomicU64,
    /// Events received again (overlapping connections, re-polls) and dropped.
    pub duplicates: AtomicU64,
    /// Connections re-established after a break (planned replacements not included).
    pub reconnects: AtomicU64,
    /// Connections replaced on schedule, overlapping (Binance's 24 h limit).
    pub planned_reconnects: AtomicU64,
    /// Frames that were not the documented shape, logged and skipped.
    pub malformed: AtomicU64,
    /// Rows dropped from the consumer queue because the consumer fell behind.
    pub dropped: AtomicU64,
    pub gaps: AtomicU64,
    /// Connections subscribed and delivering now.
    pub connected: AtomicU64,
    pub stored: AtomicU64,
    pub store_errors: AtomicU64,
}

impl StreamStats {
    pub(crate) fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }
}

/// A running liquidation stream. Dropping it stops the tasks without flushing; [`LiquidationStream::close`]
/// flushes first.
pub struct LiquidationStream {
    queue: Arc<ConsumerQueue>,
    stats: Arc<StreamStats>,
    gaps: Arc<Mutex<GapLog>>,
    stop: watch::Sender<bool>,
    tasks: tokio::sync::Mutex<Option<JoinSet<()>>>,
    collector: tokio::sync::Mutex<Option<tokio::task::JoinHandle<()>>>,
}

/// The gaps recorded so far, the newest [`GapLog::CAPACITY`] of them.
#[derive(Debug, Default)]
pub(crate) struct GapLog {
    pub gaps: std::collections::VecDeque<StreamGap>,
}

impl GapLog {
    const CAPACITY: usize = 10_000;

    pub(crate) fn push(&mut self, gap: StreamGap) {
        if self.gaps.len() == Self::CAPACITY {
            self.gaps.pop_front();
        }
        self.gaps.push_back(gap);
    }
}

impl LiquidationStream {
    /// Starts every venue's connections (sharded by the venue's per-connection cap) and pollers.
    pub fn start(
        plans: Vec<VenuePlan>,
        options: StreamOptions,
        sink: Option<Arc<dyn LiquidationSink>>,
    ) -> Result<LiquidationStream> {
        options.validate()?;
        let options = Arc::new(options);
        let stats = Arc::new(StreamStats::default());
        let gaps = Arc::new(Mutex::new(GapLog::default()));
        let queue = Arc::new(ConsumerQueue::new(
            options.queue_rows,
            stats.clone(),
            gaps.clone(),
        ));
        let (stop, stopped) = watch::channel(false);
        // Small: a full channel makes connections wait (and stop reading) rather than buffer without bound.
        let (deliveries, inbox) = tokio::sync::mpsc::channel(1024);
        let mut tasks = JoinSet::new();
        for plan in plans {
            let venue = plan.client.venue();
            if let Some(protocol) = liquidation_protocol(venue) {
                let protocol: Arc<dyn crate::venue::stream::LiquidationProtocol> =
                    Arc::from(protocol);
                let mut streams: Vec<StreamSpec> = plan
                    .instruments
                    .iter()
                    .filter_map(|inst| protocol.stream(Some(inst)))
                    .collect();
                if plan.all_market {
                    streams.push(protocol.stream(None).ok_or_else(|| {
                        PipelineError::Unsupported {
                            venue,
                            what: "a whole-market liquidation stream".into(),
                            reason: "the venue only streams liquidations per symbol".into(),
                        }
                    })?);
                }
                let url = protocol.connect_url(
                    &plan
                        .ws_url
                        .clone()
                        .unwrap_or_else(|| venue.ws_url_from_env()),
                );
                for (shard, chunk) in streams
                    .chunks(protocol.max_streams_per_connection())
                    .enumerate()
                {
                    let connection = connection::Connection::new(
                        protocol.clone(),
                        url.clone(),
                        chunk.to_vec(),
                        shard,
                        options.clone(),
                        stats.clone(),
                        deliveries.clone(),
                    );
                    tasks.spawn(connection.run(stopped.clone()));
                }
            } else {
                let resume_from = match &sink {
                    Some(sink) => sink.newest_liquidation_ns(venue)?,
                    None => None,
                };
                // Polled fills cover every coin the address traded: keep the asked-for ones unless the whole
                // market was asked for.
                let only: Option<std::collections::HashSet<String>> =
                    (!plan.all_market).then(|| {
                        plan.instruments
                            .iter()
                            .map(|inst| inst.instrument_id.clone())
                            .collect()
                    });
                for address in &plan.addresses {
                    let poller = poller::FillsPoller::new(
                        plan.client.clone(),
                        crate::venue::hyperliquid::fills::normalize_address(address)?,
                        only.clone(),
                        resume_from,
                        options.clone(),
                        stats.clone(),
                        deliveries.clone(),
                    );
                    tasks.spawn(poller.run(stopped.clone()));
                }
            }
        }
        drop(deliveries);
        let collector = collector::Collector::new(
            inbox,
            options,
            sink,
            queue.clone(),
            stats.clone(),
            gaps.clone(),
        );
        let collector = tokio::spawn(collector.run());
        Ok(LiquidationStream {
            queue,
            stats,
            gaps,
            stop,
            tasks: tokio::sync::Mutex::new(Some(tasks)),
            collector: tokio::sync::Mutex::new(Some(collector)),
        })
    }

    /// The next batch, waiting for one; `None` once the stream is closed and everything was handed out.
    pub async fn next_batch(&self) -> Option<RecordBatch> {
        self.queue.pop().await
    }

    /// Stops every connection and poller, records the gaps still open, flushes the last batch to the store and
    /// the queue. Batches already queued stay readable. Idempotent.
    pub async fn close(&self) {
        self.stop.send_replace(true);
        if let Some(mut tasks) = self.tasks.lock().await.take() {
            while let Some(joined) = tasks.join_next().await {
                if let Err(error) = joined {
                    tracing::error!(%error, "a stream task failed");
                }
            }
        }
        if let Some(collector) = self.collector.lock().await.take() {
            if let Err(error) = collector.await {
                tracing::error!(%error, "the stream collector failed");
            }
        }
    }

    pub fn stats(&self) -> &StreamStats {
        &self.stats
    }

    /// Every gap recorded so far (the newest 10,000), oldest first.
    pub fn gaps(&self) -> Vec<StreamGap> {
        self.gaps
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .gaps
            .iter()
            .cloned()
            .collect()
    }
}

impl Drop for LiquidationStream {
    fn drop(&mut self) {
        self.stop.send_replace(true);
    }
}

/// What producers hand the collector.
#[derive(Debug)]
pub(crate) enum Delivery {
    Rows(Vec<Liquidation>),
    Gaps(Vec<StreamGap>),
}
