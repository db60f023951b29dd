//! The simulator's WebSocket side: upgrades on the REST port, one task per connection, the per-venue
//! registry the liquidation generator publishes to, and WebSocket fault injection.
//!
//! A venue module (`binance`, `bybit`, `hyperliquid` here) only parses its routes and requests and builds frames,
//! as plain functions over a per-connection [`Protocol`] state; this module does the I/O, counting and faults:
//!
//! - every upgrade request is logged (refused ones too) for [`crate::sim::SimServer::ws_connection_attempts`];
//! - each connection has a bounded queue of outgoing frames; a publisher that finds it full drops the connection
//!   (a client that does not read is cut off, as the venues do) and the frame counts as not delivered;
//! - a frame's liquidations count as delivered to a connection once the frame is written to its socket;
//! - the server sends a WebSocket Ping every `ping_interval` (default 20 s); clients' Pings are answered by
//!   tungstenite;
//! - a stalled connection sends nothing at all and does not read (so not even Pongs go out) until the stall
//!   ends; events emitted meanwhile are not queued for it.

mod binance;
mod bybit;
mod hyperliquid;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{HeaderValue, CONNECTION, SEC_WEBSOCKET_ACCEPT, SEC_WEBSOCKET_KEY, UPGRADE};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::{Instant, MissedTickBehavior};
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::Role;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

use crate::model::Venue;
use crate::sim::http::{stop_requested, Reply};
use crate::sim::liquidations::{EmittedLiquidation, Generator, GroundTruth, Push};
use crate::sim::{lock, wall_clock_ms, Shared};

/// How often the server pings every connection unless told otherwise.
pub(crate) const DEFAULT_PING_INTERVAL: Duration = Duration::from_secs(20);
/// Frames a connection may have waiting before the server gives up on its reader.
pub(crate) const DEFAULT_QUEUE_CAPACITY: usize = 1024;
/// How often the liquidation generators advance.
const GENERATOR_TICK: Duration = Duration::from_millis(20);

/// A WebSocket misbehaviour of one venue, injected with [`crate::sim::SimServer::inject_ws_fault`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WsFault {
    /// Close every open connection now, abruptly: the TCP connection ends without a close frame.
    Drop,
    /// [`WsFault::Drop`] every period from now on (replacing an earlier period), until [`WsFault::StopDropping`].
    DropEvery(Duration),
    /// Ends [`WsFault::DropEvery`].
    StopDropping,
    /// Every connection open now sends nothing at all (no events, acks, pongs or pings) and reads nothing for
    /// the duration; TCP stays open. Liquidations emitted meanwhile are not delivered to it.
    Stall(Duration),
    /// Every connection open now gets one extra text frame of truncated JSON next, before the real frames.
    Malformed,
    /// Upgrade requests are answered HTTP 503 for the duration.
    Refuse(Duration),
    /// This many extra liquidations at once (see `liquidations::Generator::burst` for how each venue spreads
    /// them).
    Burst(u64),
}

/// One outgoing WebSocket message and the liquidations (ground-truth ids) it carries.
struct Frame {
    message: Message,
    events: Vec<u64>,
}

#[derive(Debug, Clone, Copy, Default)]
struct Control {
    killed: bool,
    stalled_until: Option<Instant>,
}

/// What a venue's protocol says to one incoming text frame.
#[derive(Debug, Default)]
pub(crate) struct Answer {
    pub frames: Vec<String>,
    /// Perpetuals (indexes into `PERPETUALS`) the client subscribed to: they join the generation set.
    pub subscribed: Vec<usize>,
}

impl Answer {
    /// One frame back, no subscriptions.
    pub(crate) fn reply(frame: String) -> Answer {
        Answer {
            frames: vec![frame],
            subscribed: Vec::new(),
        }
    }
}

/// One connection's protocol state (its subscriptions).
#[derive(Debug)]
pub(crate) enum Protocol {
    Binance(binance::Session),
    Bybit(bybit::Session),
    Hyperliquid(hyperliquid::Session),
}

impl Protocol {
    /// The session a request for `path` (the venue's own path) opens, or the venue's refusal.
    fn open(
        venue: Venue,
        path: &str,
        query: &[(String, String)],
        number: u64,
    ) -> Result<Protocol, Reply> {
        match venue {
            Venue::Binance => binance::Session::open(path, query).map(Protocol::Binance),
            Venue::Bybit => bybit::Session::open(path, number).map(Protocol::Bybit),
            Venue::Hyperliquid => hyperliquid::Session::open(path).map(Protocol::Hyperliquid),
        }
    }

    /// Whether one more incoming message at `now_ms` is within the venue's limit (Binance: 10 a second).
    fn admit_incoming(&mut self, now_ms: i64) -> bool {
        match self {
            Protocol::Binance(session) => session.admit_incoming(now_ms),
            Protocol::Bybit(_) | Protocol::Hyperliquid(_) => true,
        }
    }

    fn on_text(&mut self, text: &str) -> Answer {
        match self {
            Protocol::Binance(session) => session.on_text(text),
            Protocol::Bybit(session) => session.on_text(text),
            Protocol::Hyperliquid(session) => session.on_text(text),
        }
    }

    /// The frames this connection gets for `push`, sent at `sent_at_ms` (none if it did not subscribe).
    fn frames(&self, push: &Push, sent_at_ms: i64) -> Vec<String> {
        match self {
            Protocol::Binance(session) => session.frames(push, sent_at_ms),
            Protocol::Bybit(session) => session.frames(push, sent_at_ms),
            Protocol::Hyperliquid(_) => Vec::new(),
        }
    }

    /// An invalid frame in the venue's style: the start of a real one, cut off.
    fn malformed(&self, now_ms: i64) -> String {
        let whole = match self {
            Protocol::Binance(_) => format!(
                r#"{{"e":"forceOrder","E":{now_ms},"o":{{"s":"BTCUSDT","S":"SELL","o":"LIMIT","f":"IOC"}}}}"#
            ),
            Protocol::Bybit(_) => format!(
                r#"{{"topic":"allLiquidation.BTCUSDT","type":"snapshot","ts":{now_ms},"data":[]}}"#
            ),
            Protocol::Hyperliquid(_) => r#"{"channel":"pong","data":null}"#.to_owned(),
        };
        whole[..whole.len() / 2].to_owned()
    }
}

/// One open connection as the registry sees it.
struct Connection {
    id: u64,
    outgoing: mpsc::Sender<Frame>,
    control: watch::Sender<Control>,
    protocol: Mutex<Protocol>,
}

impl Connection {
    fn kill(&self) {
        self.control.send_modify(|control| control.killed = true);
    }

    fn is_stalled(&self) -> bool {
        self.control
            .borrow()
            .stalled_until
            .is_some_and(|until| until > Instant::now())
    }
}

/// One venue's WebSocket state.
pub(crate) struct WsVenue {
    venue: Venue,
    next_id: AtomicU64,
    connections: Mutex<BTreeMap<u64, Arc<Connection>>>,
    attempts: Mutex<Vec<(i64, bool)>>,
    refuse_until: Mutex<Option<Instant>>,
    drop_every: Mutex<Option<JoinHandle<()>>>,
    ping_interval: Mutex<Duration>,
    queue_capacity: AtomicUsize,
    generator: Mutex<Generator>,
    truth: Mutex<GroundTruth>,
}

impl WsVenue {
    pub(crate) fn new(venue: Venue, seed: u64) -> WsVenue {
        WsVenue {
            venue,
            next_id: AtomicU64::new(0),
            connections: Mutex::new(BTreeMap::new()),
            attempts: Mutex::new(Vec::new()),
            refuse_until: Mutex::new(None),
            drop_every: Mutex::new(None),
            ping_interval: Mutex::new(DEFAULT_PING_INTERVAL),
            queue_capacity: AtomicUsize::new(DEFAULT_QUEUE_CAPACITY),
            generator: Mutex::new(Generator::new(venue, seed)),
            truth: Mutex::new(GroundTruth::default()),
        }
    }

    pub(crate) fn set_rate(&self, per_second: f64) {
        lock(&self.generator).set_rate(per_second);
    }

    pub(crate) fn rate(&self) -> f64 {
        lock(&self.generator).rate_per_second()
    }

    pub(crate) fn generation_set(&self) -> Vec<String> {
        lock(&self.generator).generation_set()
    }

    pub(crate) fn set_ping_interval(&self, interval: Duration) {
        *lock(&self.ping_interval) = interval.max(Duration::from_millis(1));
    }

    pub(crate) fn set_queue_capacity(&self, frames: usize) {
        self.queue_capacity.store(frames.max(1), Ordering::Relaxed);
    }

    pub(crate) fn emitted(&self) -> Vec<EmittedLiquidation> {
        lock(&self.truth).events(self.venue)
    }

    pub(crate) fn evicted(&self) -> u64 {
        lock(&self.truth).evicted()
    }

    pub(crate) fn attempts(&self) -> Vec<(i64, bool)> {
        lock(&self.attempts).clone()
    }

    pub(crate) fn open_connections(&self) -> usize {
        lock(&self.connections).len()
    }

    fn open(&self) -> Vec<Arc<Connection>> {
        lock(&self.connections).values().cloned().collect()
    }

    fn remove(&self, id: u64) {
        lock(&self.connections).remove(&id);
    }

    /// Ends the connection now: its task stops at once and the socket closes without a close frame.
    fn drop_connection(&self, connection: &Connection) {
        connection.kill();
        self.remove(connection.id);
    }

    pub(crate) fn drop_all(&self) {
        for connection in self.open() {
            self.drop_connection(&connection);
        }
    }

    /// Queues `frame` for `connection`, or drops the connection if its reader is too far behind.
    fn enqueue(&self, connection: &Connection, frame: Frame) -> bool {
        match connection.outgoing.try_send(frame) {
            Ok(()) => true,
            Err(_) => {
                tracing::debug!(venue = %self.venue, id = connection.id, "simulator: slow WebSocket reader dropped");
                self.drop_connection(connection);
                false
            }
        }
    }

    /// Records `push` in the ground truth as sent at `now_ms` and queues its frames for every subscriber.
    fn publish(&self, push: &Push, now_ms: i64) {
        let ids: Vec<u64> = {
            let mut truth = lock(&self.truth);
            push.liquidations
                .iter()
                .map(|liquidation| truth.record(liquidation, now_ms))
                .collect()
        };
        for connection in self.open() {
            if connection.is_stalled() {
                continue;
            }
            let texts = lock(&connection.protocol).frames(push, now_ms);
            for (number, text) in texts.into_iter().enumerate() {
                // A connection subscribed twice (symbol and all-market) gets two frames but counts once.
                let events = if number == 0 { ids.clone() } else { Vec::new() };
                let frame = Frame {
                    message: Message::text(text),
                    events,
                };
                if !self.enqueue(&connection, frame) {
                    break;
                }
            }
        }
    }

    fn stall(&self, duration: Duration) {
        let until = Instant::now() + duration;
        for connection in self.open() {
            connection.control.send_modify(|control| {
                control.stalled_until =
                    Some(control.stalled_until.map_or(until, |old| old.max(until)));
            });
        }
    }

    fn send_malformed(&self) {
        let now_ms = wall_clock_ms();
        for connection in self.open() {
            let text = lock(&connection.protocol).malformed(now_ms);
            self.enqueue(
                &connection,
                Frame {
                    message: Message::text(text),
                    events: Vec::new(),
                },
            );
        }
    }

    fn refuses(&self) -> bool {
        lock(&self.refuse_until).is_some_and(|until| until > Instant::now())
    }

    fn log_attempt(&self, accepted: bool) {
        lock(&self.attempts).push((wall_clock_ms(), accepted));
    }
}

impl Shared {
    pub(crate) fn ws(&self, venue: Venue) -> &WsVenue {
        &self.venue(venue).ws
    }

    pub(crate) fn inject_ws_fault(self: &Arc<Self>, venue: Venue, fault: WsFault) {
        let ws = self.ws(venue);
        match fault {
            WsFault::Drop => ws.drop_all(),
            WsFault::DropEvery(period) => {
                let shared = Arc::clone(self);
                let period = period.max(Duration::from_millis(1));
                let task = self.runtime.spawn(async move {
                    let mut stop = shared.stop.clone();
                    let mut ticks = tokio::time::interval_at(Instant::now() + period, period);
                    loop {
                        tokio::select! {
                            _ = ticks.tick() => shared.ws(venue).drop_all(),
                            () = stop_requested(&mut stop) => break,
                        }
                    }
                });
                if let Some(previous) = lock(&ws.drop_every).replace(task) {
                    previous.abort();
                }
            }
            WsFault::StopDropping => {
                if let Some(previous) = lock(&ws.drop_every).take() {
                    previous.abort();
                }
            }
            WsFault::Stall(duration) => ws.stall(duration),
            WsFault::Malformed => ws.send_malformed(),
            WsFault::Refuse(duration) => {
                *lock(&ws.refuse_until) = Some(Instant::now() + duration);
            }
            WsFault::Burst(count) => lock(&ws.generator).burst(count, wall_clock_ms()),
        }
    }
}

/// Advances `venue`'s liquidation generator every few milliseconds and publishes what it emits, until the server
/// stops.
pub(crate) async fn run_generator(shared: Arc<Shared>, venue: Venue) {
    let mut stop = shared.stop.clone();
    let mut ticks = tokio::time::interval(GENERATOR_TICK);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticks.tick() => {}
            () = stop_requested(&mut stop) => break,
        }
        let ws = shared.ws(venue);
        let now_ms = wall_clock_ms();
        let pushes = lock(&ws.generator).tick(now_ms);
        for push in &pushes {
            ws.publish(push, now_ms);
        }
    }
}

/// Whether `request` asks for a WebSocket upgrade.
pub(crate) fn is_upgrade(request: &Request<Incoming>) -> bool {
    let has_token = |name, token: &str| {
        request.headers().get_all(name).iter().any(|value| {
            value.to_str().is_ok_and(|value| {
                value
                    .split(',')
                    .any(|part| part.trim().eq_ignore_ascii_case(token))
            })
        })
    };
    request.method() == hyper::Method::GET
        && has_token(UPGRADE, "websocket")
        && has_token(CONNECTION, "upgrade")
}

/// Answers an upgrade request for `venue` at `path` (the venue's own path): 101 and a connection task, or a
/// refusal. Every call is logged as a connection attempt.
pub(crate) fn upgrade(
    shared: &Arc<Shared>,
    venue: Venue,
    path: &str,
    query: &[(String, String)],
    request: Request<Incoming>,
) -> Response<Full<Bytes>> {
    let ws = shared.ws(venue);
    if ws.refuses() {
        ws.log_attempt(false);
        return Reply::text(503, "Service Unavailable").into_response();
    }
    let Some(key) = request.headers().get(SEC_WEBSOCKET_KEY) else {
        ws.log_attempt(false);
        return Reply::text(400, "missing Sec-WebSocket-Key").into_response();
    };
    let accept = derive_accept_key(key.as_bytes());
    let number = ws.next_id.fetch_add(1, Ordering::Relaxed);
    let protocol = match Protocol::open(venue, path, query, number) {
        Ok(protocol) => protocol,
        Err(reply) => {
            ws.log_attempt(false);
            return reply.into_response();
        }
    };
    ws.log_attempt(true);
    if let Protocol::Binance(session) = &protocol {
        let mut generator = lock(&ws.generator);
        for index in session.subscribed_symbols() {
            generator.add_symbol(index);
        }
    }
    let (outgoing, queued) = mpsc::channel(ws.queue_capacity.load(Ordering::Relaxed));
    let (control, controlled) = watch::channel(Control::default());
    let connection = Arc::new(Connection {
        id: number,
        outgoing,
        control,
        protocol: Mutex::new(protocol),
    });
    // Registered before the client sees 101, so nothing published after the handshake misses it.
    lock(&ws.connections).insert(number, Arc::clone(&connection));
    let shared = Arc::clone(shared);
    tokio::spawn(async move {
        match hyper::upgrade::on(request).await {
            Ok(upgraded) => {
                let socket =
                    WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Server, None)
                        .await;
                serve(&shared, venue, &connection, socket, queued, controlled).await;
            }
            Err(error) => tracing::debug!(%error, "simulator: WebSocket upgrade failed"),
        }
        shared.ws(venue).remove(connection.id);
    });
    let mut response = Response::new(Full::new(Bytes::new()));
    *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let headers = response.headers_mut();
    headers.insert(UPGRADE, HeaderValue::from_static("websocket"));
    headers.insert(CONNECTION, HeaderValue::from_static("Upgrade"));
    if let Ok(accept) = HeaderValue::from_str(&accept) {
        headers.insert(SEC_WEBSOCKET_ACCEPT, accept);
    }
    response
}

type Socket = WebSocketStream<TokioIo<hyper::upgrade::Upgraded>>;

/// Resolves once the connection is killed (or its control is gone).
async fn killed(control: &mut watch::Receiver<Control>) {
    let _ = control.wait_for(|control| control.killed).await;
}

/// Waits out a stall; false if the connection was killed or the server stopped meanwhile.
async fn unstalled(
    control: &mut watch::Receiver<Control>,
    stop: &mut watch::Receiver<bool>,
) -> bool {
    loop {
        let state = *control.borrow_and_update();
        if state.killed || *stop.borrow() {
            return false;
        }
        match state.stalled_until {
            Some(until) if until > Instant::now() => {
                tokio::select! {
                    () = tokio::time::sleep_until(until) => {}
                    changed = control.changed() => if changed.is_err() { return false },
                    () = stop_requested(stop) => return false,
                }
            }
            _ => return true,
        }
    }
}

/// Sends `message` once no stall is in force; false if the connection ended first.
async fn send(
    socket: &mut Socket,
    message: Message,
    control: &mut watch::Receiver<Control>,
    stop: &mut watch::Receiver<bool>,
) -> bool {
    if !unstalled(control, stop).await {
        return false;
    }
    tokio::select! {
        sent = socket.send(message) => sent.is_ok(),
        () = killed(control) => false,
        () = stop_requested(stop) => false,
    }
}

/// One connection's life: frames out (queued events, replies, pings), requests in, until the client leaves, the
/// connection is dropped or the server stops. Returning drops the socket without a close frame.
async fn serve(
    shared: &Shared,
    venue: Venue,
    connection: &Connection,
    mut socket: Socket,
    mut queued: mpsc::Receiver<Frame>,
    mut control: watch::Receiver<Control>,
) {
    let ws = shared.ws(venue);
    let mut stop = shared.stop.clone();
    let ping_every = *lock(&ws.ping_interval);
    let mut pings = tokio::time::interval_at(Instant::now() + ping_every, ping_every);
    pings.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut ping_number = 0u64;
    loop {
        // A stalled connection reads nothing either: reading would answer Pings.
        if !unstalled(&mut control, &mut stop).await {
            return;
        }
        tokio::select! {
            // Any change (a stall beginning, a kill) is handled at the top of the loop.
            changed = control.changed() => if changed.is_err() { return },
            () = stop_requested(&mut stop) => return,
            frame = queued.recv() => {
                let Some(frame) = frame else { return };
                if !send(&mut socket, frame.message, &mut control, &mut stop).await {
                    return;
                }
                if !frame.events.is_empty() {
                    lock(&ws.truth).mark_delivered(&frame.events);
                }
            }
            incoming = socket.next() => match incoming {
                Some(Ok(Message::Text(text))) => {
                    let answer = {
                        let mut protocol = lock(&connection.protocol);
                        if !protocol.admit_incoming(wall_clock_ms()) {
                            tracing::debug!(%venue, id = connection.id, "simulator: WebSocket message limit exceeded, dropped");
                            return;
                        }
                        protocol.on_text(text.as_str())
                    };
                    if !answer.subscribed.is_empty() {
                        let mut generator = lock(&ws.generator);
                        for index in answer.subscribed {
                            generator.add_symbol(index);
                        }
                    }
                    for reply in answer.frames {
                        if !send(&mut socket, Message::text(reply), &mut control, &mut stop).await {
                            return;
                        }
                    }
                }
                // Pings are answered by tungstenite; a Close is answered too, and the stream then ends.
                Some(Ok(_)) => {}
                Some(Err(_)) | None => return,
            },
            _ = pings.tick() => {
                ping_number += 1;
                let payload = Bytes::from(ping_number.to_string());
                if !send(&mut socket, Message::Ping(payload), &mut control, &mut stop).await {
                    return;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use super::*;
    use crate::sim::catalog::PERPETUALS;
    use crate::sim::liquidations::Liquidation;

    /// The key set and JSON types of `value`, recursively (arrays by their first item).
    fn shape(value: &Value) -> Value {
        match value {
            Value::Object(map) => Value::Object(
                map.iter()
                    .map(|(key, value)| (key.clone(), shape(value)))
                    .collect(),
            ),
            Value::Array(items) => Value::Array(items.iter().take(1).map(shape).collect()),
            Value::String(_) => json!("string"),
            Value::Number(_) => json!("number"),
            Value::Bool(_) => json!("bool"),
            Value::Null => json!("null"),
        }
    }

    fn parse(text: &str) -> Value {
        serde_json::from_str(text).unwrap_or_else(|error| panic!("{error}: {text}"))
    }

    fn push(venue: Venue, coin: usize, count: u64) -> Push {
        Push {
            coin: &PERPETUALS[coin],
            liquidations: (0..count)
                .map(|number| {
                    Liquidation::draw(
                        9,
                        venue,
                        &PERPETUALS[coin],
                        number,
                        1_767_225_600_000 + number as i64,
                    )
                })
                .collect(),
        }
    }

    #[test]
    fn binance_frames_have_the_shape_of_every_fixture() {
        let fixtures = [
            parse(include_str!("../../../tests/data/fixtures/binance/ws_force_order__bbgo-pr-capture.json")),
            parse(include_str!("../../../tests/data/fixtures/binance/ws_force_order__nautilus-rs.json")),
            parse(include_str!(
                "../../../tests/data/fixtures/binance/ws_force_order__binance-forum-capture_messages.json"
            ))[0]
                .clone(),
        ];
        for coin in 0..PERPETUALS.len() {
            let push = push(Venue::Binance, coin, 1);
            let frame = parse(&binance::force_order(
                &push.liquidations[0],
                1_767_225_600_500,
            ));
            for fixture in &fixtures {
                assert_eq!(shape(&frame), shape(fixture), "{frame}");
            }
            let expected = [("o", "LIMIT"), ("f", "IOC"), ("X", "FILLED")];
            for (field, value) in expected {
                assert_eq!(frame["o"][field], value);
            }
            // Decimal strings as Binance prints them: fixed decimals, parse back to the ground truth.
            let liquidation = &push.liquidations[0];
            assert_eq!(frame["o"]["ap"], liquidation.price.fixed());
            assert_eq!(frame["o"]["q"], liquidation.quantity.fixed());
        }
    }

    #[test]
    fn bybit_frames_have_the_shape_of_every_fixture() {
        let fixtures = [
            parse(include_str!(
                "../../../tests/data/fixtures/bybit/ws_all_liquidation__bybit-docs.json"
            )),
            parse(include_str!(
                "../../../tests/data/fixtures/bybit/ws_all_liquidation__nautilus-rs.json"
            )),
        ];
        for coin in 0..PERPETUALS.len() {
            let frame = parse(&bybit::all_liquidation(
                &push(Venue::Bybit, coin, 3),
                1_767_225_600_500,
            ));
            assert_eq!(frame["data"].as_array().map(Vec::len), Some(3));
            for fixture in &fixtures {
                assert_eq!(shape(&frame), shape(fixture), "{frame}");
            }
            assert_eq!(frame["type"], "snapshot");
        }
        // BTC prints its price to the tick (0.1) as the capture does ("96250.5").
        let btc = parse(&bybit::all_liquidation(&push(Venue::Bybit, 0, 1), 0));
        let price = btc["data"][0]["p"].as_str().unwrap_or_default().to_owned();
        assert_eq!(price.split('.').nth(1).map(str::len), Some(1), "{price}");
    }

    #[test]
    fn malformed_frames_are_not_json() {
        for protocol in [
            Protocol::open(Venue::Binance, "/market/ws", &[], 0),
            Protocol::open(Venue::Bybit, "/v5/public/linear", &[], 0),
            Protocol::open(Venue::Hyperliquid, "/ws", &[], 0),
        ] {
            let Ok(protocol) = protocol else {
                panic!("route")
            };
            let text = protocol.malformed(1_767_225_600_000);
            assert!(text.len() > 10);
            assert!(serde_json::from_str::<Value>(&text).is_err(), "{text}");
        }
    }
}
