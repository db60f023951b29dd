//! One reconnecting WebSocket connection carrying a shard of a venue's streams. Venue-agnostic: everything the
//! venue decides (URL, frames, keep-alive, parsing) comes from its [`LiquidationProtocol`].
//!
//! Gaps are measured conservatively: a broken connection's gap starts at its last *proof of delivery*, the
//! venue's own send time of the last data frame, or the moment we sent the request (ping, subscription) whose
//! answer arrived last; anything the venue sent after that may be lost. It ends when the new connection's
//! subscriptions are all acknowledged: anything the venue sends after that reaches us.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, watch};
use tokio::time::{sleep, sleep_until, Instant};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use super::{Delivery, StreamOptions, StreamStats};
use crate::model::records::now_ns;
use crate::model::records::ALL_MARKET_SYMBOL;
use crate::model::{GapReason, StreamGap, Venue};
use crate::net::Backoff;
use crate::venue::stream::{Inbound, KeepAlive, LiquidationProtocol, StreamSpec, SymbolNames};

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;
/// A successor connection being opened and subscribed, and what came of it.
type Replacement =
    Pin<Box<dyn Future<Output = (Connection, Result<Live, (GapReason, String)>)> + Send>>;

/// Frames larger than this are refused by the WebSocket layer: a liquidation push is a few kilobytes.
const MAX_FRAME_BYTES: usize = 4 << 20;
/// How long a replaced connection is still read after its successor was acknowledged.
const DRAIN: Duration = Duration::from_secs(1);
/// A planned replacement starts this long before the venue's own connection limit.
const REPLACE_MARGIN: Duration = Duration::from_secs(600);

pub(crate) struct Connection {
    protocol: Arc<dyn LiquidationProtocol>,
    url: String,
    streams: Vec<StreamSpec>,
    shard: usize,
    options: Arc<StreamOptions>,
    stats: Arc<StreamStats>,
    out: mpsc::Sender<Delivery>,
    names: SymbolNames,
    next_request_id: u64,
}

/// A connection whose subscriptions were all acknowledged.
struct Live {
    socket: Socket,
    /// When the last acknowledgement arrived: the end of any gap before this connection.
    acked_at_ns: i64,
    /// Proof of delivery so far (see the module docs), in ns.
    alive_ns: i64,
    opened: Instant,
}

/// Why a connection ended.
enum End {
    Stopped,
    Broken {
        alive_ns: i64,
        reason: GapReason,
        detail: String,
    },
}

impl Connection {
    pub(crate) fn new(
        protocol: Arc<dyn LiquidationProtocol>,
        url: String,
        streams: Vec<StreamSpec>,
        shard: usize,
        options: Arc<StreamOptions>,
        stats: Arc<StreamStats>,
        out: mpsc::Sender<Delivery>,
    ) -> Self {
        let names = SymbolNames::new(protocol.venue());
        Connection {
            protocol,
            url,
            streams,
            shard,
            options,
            stats,
            out,
            names,
            next_request_id: 1,
        }
    }

    fn venue(&self) -> Venue {
        self.protocol.venue()
    }

    /// Connects, subscribes and serves until `stop`, reconnecting forever with backoff.
    pub(crate) async fn run(mut self, mut stop: watch::Receiver<bool>) {
        crate::net::install_crypto_provider();
        let venue = self.venue();
        let mut backoff = Backoff::new(self.options.backoff.clone());
        // The interval not covered since the last connection broke (or since the start, if it never came up).
        let mut open_gap: Option<(i64, GapReason)> = None;
        let started_ns = now_ns();
        loop {
            if *stop.borrow() {
                break;
            }
            let attempt = tokio::select! {
                attempt = self.connect() => attempt,
                () = stopped(&mut stop) => break,
            };
            match attempt {
                Ok(live) => {
                    if let Some((from, reason)) = open_gap.take() {
                        self.send_gaps(from, live.acked_at_ns, reason).await;
                        StreamStats::add(&self.stats.reconnects, 1);
                    }
                    tracing::info!(%venue, shard = self.shard, streams = self.streams.len(), "liquidation stream connected");
                    StreamStats::add(&self.stats.connected, 1);
                    let opened = live.opened;
                    let end = self.serve(live, &mut stop).await;
                    self.stats
                        .connected
                        .fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
                    if opened.elapsed() >= self.options.healthy_after {
                        backoff.reset();
                    }
                    match end {
                        End::Stopped => break,
                        End::Broken {
                            alive_ns,
                            reason,
                            detail,
                        } => {
                            tracing::warn!(%venue, shard = self.shard, reason = reason.as_str(), %detail, "liquidation stream lost; reconnecting");
                            open_gap = Some((alive_ns, reason));
                        }
                    }
                }
                Err((reason, detail)) => {
                    let reason = open_gap.map_or(reason, |(_, original)| original);
                    open_gap.get_or_insert((started_ns, reason));
                    tracing::warn!(%venue, shard = self.shard, url = %self.url, %detail, failures = backoff.failures() + 1, "liquidation stream could not connect");
                }
            }
            let delay = backoff.next_delay();
            if !delay.is_zero() {
                tracing::info!(%venue, shard = self.shard, seconds = delay.as_secs_f64(), "waiting before reconnecting");
            }
            tokio::select! {
                () = sleep(delay) => {}
                () = stopped(&mut stop) => break,
            }
        }
        // Closed while disconnected: the interval up to now was not covered.
        if let Some((from, reason)) = open_gap {
            self.send_gaps(from, now_ns(), reason).await;
        }
    }

    /// Opens a socket and subscribes every stream of the shard, within the connect timeout. Events that arrive
    /// meanwhile are delivered.
    async fn connect(&mut self) -> Result<Live, (GapReason, String)> {
        let deadline = Instant::now() + self.options.connect_timeout;
        let config = WebSocketConfig::default()
            .max_message_size(Some(MAX_FRAME_BYTES))
            .max_frame_size(Some(MAX_FRAME_BYTES));
        let connecting =
            tokio_tungstenite::connect_async_with_config(self.url.as_str(), Some(config), true);
        let (mut socket, _) = match tokio::time::timeout_at(deadline, connecting).await {
            Ok(Ok(connected)) => connected,
            Ok(Err(error)) => return Err((GapReason::ConnectFailure, error.to_string())),
            Err(_) => return Err((GapReason::ConnectFailure, "connect timed out".into())),
        };
        let frames = self
            .protocol
            .subscribe_frames(&self.streams, self.next_request_id);
        self.next_request_id += frames.len() as u64;
        let subscribed_ns = now_ns();
        let mut pending: Vec<u64> = frames.iter().map(|(id, _)| *id).collect();
        for (_, frame) in frames {
            if let Err(error) = socket.send(Message::text(frame)).await {
                return Err((
                    GapReason::ServerClose,
                    format!("subscribing failed: {error}"),
                ));
            }
        }
        let mut alive_ns = subscribed_ns;
        while !pending.is_empty() {
            let message = match tokio::time::timeout_at(deadline, socket.next()).await {
                Err(_) => {
                    return Err((
                        GapReason::Resubscribe,
                        format!("subscriptions {pending:?} not acknowledged in time"),
                    ))
                }
                Ok(None) => {
                    return Err((GapReason::ServerClose, "closed while subscribing".into()))
                }
                Ok(Some(Err(error))) => return Err((GapReason::ServerClose, error.to_string())),
                Ok(Some(Ok(message))) => message,
            };
            match self.handle(&message, &mut alive_ns).await {
                Some(Inbound::Ack(id)) => pending.retain(|p| *p != id),
                Some(Inbound::Refused { id, message }) => {
                    return Err((
                        GapReason::Resubscribe,
                        format!("subscription {id:?} refused: {message}"),
                    ))
                }
                _ => {}
            }
            if let Message::Close(frame) = message {
                return Err((
                    GapReason::ServerClose,
                    format!("closed while subscribing: {frame:?}"),
                ));
            }
        }
        Ok(Live {
            socket,
            acked_at_ns: now_ns(),
            alive_ns: alive_ns.max(subscribed_ns),
            opened: Instant::now(),
        })
    }

    /// Classifies one message and delivers its events; updates the proof of delivery. Returns what it was.
    async fn handle(&mut self, message: &Message, alive_ns: &mut i64) -> Option<Inbound> {
        let bytes: &[u8] = match message {
            Message::Text(text) => text.as_bytes(),
            Message::Binary(bytes) => bytes,
            _ => return None,
        };
        match self.protocol.parse(bytes, now_ns(), &mut self.names) {
            Ok(Inbound::Liquidations { rows, sent_ms }) => {
                if let Some(sent_ns) = sent_ms.and_then(|ms| ms.checked_mul(1_000_000)) {
                    *alive_ns = (*alive_ns).max(sent_ns);
                }
                if !rows.is_empty() {
                    // A closed collector means the stream is closing; the rows have nowhere left to go.
                    let _ = self.out.send(Delivery::Rows(rows)).await;
                }
                None
            }
            Ok(inbound) => Some(inbound),
            Err(error) => {
                StreamStats::add(&self.stats.malformed, 1);
                let preview: String = String::from_utf8_lossy(bytes).chars().take(200).collect();
                tracing::warn!(venue = %self.venue(), %error, frame = %preview, "skipping a malformed frame");
                None
            }
        }
    }

    /// Reads until the connection breaks, the idle timeout passes, or `stop`. Replaces the connection,
    /// overlapping, before the venue's age limit.
    async fn serve(&mut self, mut live: Live, stop: &mut watch::Receiver<bool>) -> End {
        let (keep_alive_every, text_ping) = match self.protocol.keep_alive() {
            KeepAlive::WsPing(every) => (every, None),
            KeepAlive::Text { frame, every } => (every, Some(frame)),
        };
        // Pings often enough that a healthy, quiet connection answers several times per idle timeout.
        let keep_alive_every = keep_alive_every.min(self.options.idle_timeout / 3);
        let max_age = self.options.max_connection_age.or_else(|| {
            self.protocol
                .max_connection_age()
                .map(|age| age.saturating_sub(REPLACE_MARGIN).max(age / 2))
        });
        let mut replace_at = max_age.map(|age| live.opened + age);
        let mut last_frame = Instant::now();
        let mut next_ping = Instant::now() + keep_alive_every;
        let mut last_ping_sent_ns: Option<i64> = None;
        let mut replacement: Option<Replacement> = None;
        loop {
            let idle_at = last_frame + self.options.idle_timeout;
            tokio::select! {
                message = live.socket.next() => {
                    let message = match message {
                        Some(Ok(message)) => message,
                        Some(Err(error)) => return End::Broken { alive_ns: live.alive_ns, reason: GapReason::ServerClose, detail: error.to_string() },
                        None => return End::Broken { alive_ns: live.alive_ns, reason: GapReason::ServerClose, detail: "connection closed".into() },
                    };
                    last_frame = Instant::now();
                    match &message {
                        Message::Close(frame) => {
                            return End::Broken { alive_ns: live.alive_ns, reason: GapReason::ServerClose, detail: format!("closed by the venue: {frame:?}") };
                        }
                        Message::Pong(_) => {
                            if let Some(sent) = last_ping_sent_ns { live.alive_ns = live.alive_ns.max(sent); }
                        }
                        _ => {}
                    }
                    let mut alive = live.alive_ns;
                    if let Some(Inbound::Pong) = self.handle(&message, &mut alive).await {
                        if let Some(sent) = last_ping_sent_ns { alive = alive.max(sent); }
                    }
                    live.alive_ns = alive;
                }
                () = sleep_until(next_ping) => {
                    let ping = match &text_ping {
                        Some(frame) => Message::text(frame.clone()),
                        None => Message::Ping(Vec::new().into()),
                    };
                    last_ping_sent_ns = Some(now_ns());
                    next_ping = Instant::now() + keep_alive_every;
                    if let Err(error) = live.socket.send(ping).await {
                        return End::Broken { alive_ns: live.alive_ns, reason: GapReason::ServerClose, detail: format!("ping failed: {error}") };
                    }
                }
                () = sleep_until(idle_at) => {
                    return End::Broken {
                        alive_ns: live.alive_ns,
                        reason: GapReason::IdleTimeout,
                        detail: format!("nothing received for {:.1} s", self.options.idle_timeout.as_secs_f64()),
                    };
                }
                () = sleep_until(replace_at.unwrap_or_else(Instant::now)), if replace_at.is_some() && replacement.is_none() => {
                    tracing::info!(venue = %self.venue(), shard = self.shard, "replacing the connection before the venue's age limit");
                    let mut successor = self.successor();
                    replacement = Some(Box::pin(async move {
                        let live = successor.connect().await;
                        (successor, live)
                    }));
                }
                (successor, result) = async { replacement.as_mut().expect("guarded").await }, if replacement.is_some() => {
                    replacement = None;
                    match result {
                        Ok(new_live) => {
                            self.next_request_id = successor.next_request_id;
                            let old = std::mem::replace(&mut live, new_live);
                            tokio::spawn(drain(old.socket, successor));
                            StreamStats::add(&self.stats.planned_reconnects, 1);
                            replace_at = max_age.map(|age| live.opened + age);
                            last_frame = Instant::now();
                        }
                        Err((_, detail)) => {
                            tracing::warn!(venue = %self.venue(), %detail, "the replacement connection failed; keeping the current one and retrying in 30 s");
                            replace_at = Some(Instant::now() + Duration::from_secs(30));
                        }
                    }
                }
                () = stopped(stop) => {
                    let _ = live.socket.close(None).await;
                    return End::Stopped;
                }
            }
        }
    }

    /// A second connection for the same streams (for an overlapping replacement), delivering to the same place.
    fn successor(&self) -> Connection {
        let mut successor = Connection::new(
            self.protocol.clone(),
            self.url.clone(),
            self.streams.clone(),
            self.shard,
            self.options.clone(),
            self.stats.clone(),
            self.out.clone(),
        );
        successor.next_request_id = self.next_request_id + 1_000;
        successor
    }

    /// One gap row per stream of the shard.
    async fn send_gaps(&self, from: i64, to: i64, reason: GapReason) {
        let venue = self.venue();
        let gaps = self
            .streams
            .iter()
            .map(|stream| {
                let (symbol, instrument_id) = match &stream.instrument {
                    Some(inst) => (inst.symbol.clone(), inst.instrument_id.clone()),
                    None => (
                        ALL_MARKET_SYMBOL.to_string(),
                        format!("{ALL_MARKET_SYMBOL}.{}", venue.nautilus_venue()),
                    ),
                };
                StreamGap {
                    venue,
                    symbol,
                    instrument_id,
                    ts_event: from,
                    ts_init: to.max(from),
                    stream: stream.name.clone(),
                    reason,
                }
            })
            .collect();
        let _ = self.out.send(Delivery::Gaps(gaps)).await;
    }
}

/// Reads a replaced connection for a moment more, so nothing in flight on it is lost, then closes it.
async fn drain(mut socket: Socket, mut reader: Connection) {
    let until = Instant::now() + DRAIN;
    let mut alive = 0;
    while let Ok(Some(Ok(message))) = tokio::time::timeout_at(until, socket.next()).await {
        reader.handle(&message, &mut alive).await;
    }
    let _ = socket.close(None).await;
}

async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|stopped| *stopped).await;
}
