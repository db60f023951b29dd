//! Local simulator of the three venues' REST and WebSocket APIs (docs/architecture.md#sim).
//!
//! One port serves all venues, each under its prefix: `http://127.0.0.1:N/binance/fapi/v1/openInterest`,
//! `…/bybit/v5/market/tickers`, `…/hyperliquid/info`. Bodies follow the wire formats of `tests/data/fixtures`
//! (field names, strings vs numbers, envelopes, error bodies); values come from [`data`], a deterministic
//! function of the seed, venue, coin and the simulator clock, so tests can compare what a client parsed with
//! what was served.
//!
//! Besides snapshots, each venue serves its history endpoints with the venue's own paging: Binance
//! `/futures/data/openInterestHist` and `/fapi/v1/fundingRate`, Bybit `/v5/market/open-interest` (cursor pages,
//! newest first) and `/v5/market/funding/history`, Hyperliquid `fundingHistory` and `userFillsByTime` (whose
//! fills, liquidations among them, [`fills`] states). [`data`] states exactly which points each history holds.
//!
//! Every request passes, in order: the request counter, the venue's latency, the next injected [`Fault`], the
//! venue's rate limits, and finally the venue's handler.
//!
//! WebSocket upgrades on the same port (`ws://127.0.0.1:N/<venue>/…`) serve liquidation streams: Binance
//! `forceOrder` on `/binance/market/ws[/<stream>]` and `/binance/market/stream?streams=…`, Bybit
//! `allLiquidation.<SYMBOL>` on `/bybit/v5/public/linear`, and a data-less `/hyperliquid/ws`. Liquidations are
//! generated on the wall clock at [`SimServer::set_liquidation_rate`] whether or not anyone listens;
//! [`SimServer::liquidations_emitted`] is the ground truth of what each venue pushed, with how many connections
//! each frame was written to. [`WsFault`]s drop, stall, refuse, corrupt or flood the connections.

mod binance;
mod bybit;
mod catalog;
pub mod data;
pub mod fills;
mod history;
mod http;
mod hyperliquid;
mod limits;
mod liquidations;
mod ws;

use std::collections::VecDeque;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::model::Venue;
use http::{Reply, SimRequest};
use limits::{Limits, RateLimiter, Refusal};
pub use liquidations::EmittedLiquidation;
pub use ws::WsFault;

/// Names of the venues' rate limits, for [`SimServer::max_weight_in_window_of`] and [`SimServer::rate_limits`].
pub mod limit_group {
    /// Every venue's main per-IP limit, the one [`super::SimServer::max_weight_in_window`] reports: Binance 2400
    /// weight per minute, Bybit 600 requests per 5 seconds, Hyperliquid 1200 weight per minute.
    pub const MAIN: &str = "main";
    /// Binance `/futures/data/*` (open-interest statistics): 1000 requests per 5 minutes per IP, besides their
    /// weight on the main limit.
    pub const BINANCE_FUTURES_DATA: &str = "futures_data";
    /// Binance `/fapi/v1/fundingRate` and `/fapi/v1/fundingInfo` together: 500 requests per 5 minutes per IP,
    /// besides their weight on the main limit.
    pub const BINANCE_FUNDING_RATE: &str = "funding_rate";
}

/// One rate limit of a venue and the most it was used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateLimitUsage {
    /// A [`limit_group`] name.
    pub group: &'static str,
    /// Weight (Bybit, and the Binance groups: requests) allowed per window.
    pub limit: u64,
    /// Windows are this long and start at multiples of it (wall clock).
    pub window: Duration,
    /// The highest weight used in any one window so far, refused requests included: above `limit` exactly when a
    /// client overshot.
    pub peak: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimConfig {
    /// Selects the simulated market; the same seed serves the same values at the same simulator time.
    pub seed: u64,
    /// Refuse requests over the venues' rate limits as the venues do (weight is counted either way).
    pub enforce_rate_limits: bool,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            seed: 0,
            enforce_rate_limits: true,
        }
    }
}

/// A misbehaviour served instead of (or on top of) the normal answer to one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Answer with this status and body (JSON content type if the body is JSON, text otherwise), plus a
    /// `Retry-After` header if given. The rate limiter is not consulted. A status HTTP cannot carry (outside
    /// 100–999) is sent as 500.
    Status {
        status: u16,
        body: String,
        retry_after_secs: Option<u64>,
    },
    /// Sleep this long, then answer normally.
    Stall(Duration),
    /// Answer normally, but send only the first half of the body (HTTP framing stays valid, the JSON does not).
    Truncated,
    /// Answer as if the request lacked this parameter (a query parameter, or a key of Hyperliquid's JSON body),
    /// e.g. `startTime`: a venue that ignores a paging parameter.
    IgnoreParam(String),
    /// Answer with the venue's previous answer again, whatever was asked (a stuck cache or proxy). With no
    /// previous answer, answer normally.
    ReplayPage,
    /// Answer a page that overlaps the previous one by `by_ms`: `startTime` moved back by it where pages go
    /// forward (Binance, Hyperliquid), `endTime` moved forward by it where they go newest first (Bybit).
    OverlapPages { by_ms: i64 },
    /// Answer normally with the rows of the page in another order (reversed, then rotated by one).
    ShuffleRows,
}

/// A running simulator. Dropping it stops the server, like [`SimServer::shutdown`].
pub struct SimServer {
    shared: Arc<Shared>,
    port: u16,
    stop: watch::Sender<bool>,
}

impl SimServer {
    /// Binds 127.0.0.1:`port` (0 = any free port) and serves on the current tokio runtime.
    pub async fn start(config: SimConfig, port: u16) -> std::io::Result<SimServer> {
        let listener = TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, port))).await?;
        let port = listener.local_addr()?.port();
        let (stop, stopped) = watch::channel(false);
        let shared = Arc::new(Shared::new(&config, stopped.clone()));
        tokio::spawn(http::accept_loop(listener, Arc::clone(&shared), stopped));
        for venue in [Venue::Binance, Venue::Bybit] {
            tokio::spawn(ws::run_generator(Arc::clone(&shared), venue));
        }
        tracing::info!(port, seed = config.seed, "simulator listening");
        Ok(SimServer { shared, port, stop })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The base URL to give a client of `venue`, e.g. `http://127.0.0.1:PORT/binance`.
    pub fn base_url(&self, venue: Venue) -> String {
        format!("http://127.0.0.1:{}/{}", self.port, venue.as_str())
    }

    /// Delay before every answer of `venue` (errors and faults included).
    pub fn set_latency(&self, venue: Venue, latency: Duration) {
        *lock(&self.shared.venue(venue).latency) = latency;
    }

    /// `Some(ms)` freezes the simulator's market clock at `ms`; `None` follows the wall clock again. Rate-limit
    /// windows always follow the wall clock.
    pub fn set_clock_ms(&self, now_ms: Option<i64>) {
        *lock(&self.shared.frozen_clock_ms) = now_ms;
    }

    /// The simulator's market clock: the time the served values and timestamps are taken at.
    pub fn now_ms(&self) -> i64 {
        self.shared.now_ms()
    }

    /// Queues `faults` for the next requests of `venue`, one per request, in order (after any still queued).
    pub fn inject_faults(&self, venue: Venue, faults: Vec<Fault>) {
        lock(&self.shared.venue(venue).faults).extend(faults);
    }

    /// Requests received for `venue`, refused and faulted ones included.
    pub fn request_count(&self, venue: Venue) -> u64 {
        self.shared.venue(venue).requests.load(Ordering::Relaxed)
    }

    /// The highest weight (Bybit: request count) used in any one window of `venue`'s main rate limit so far,
    /// refused requests included: above the venue's limit exactly when a client overshot it.
    pub fn max_weight_in_window(&self, venue: Venue) -> u64 {
        self.max_weight_in_window_of(venue, limit_group::MAIN)
    }

    /// Like [`SimServer::max_weight_in_window`], for the limit named `group` (see [`limit_group`]). A group the
    /// venue does not have was never used: 0.
    pub fn max_weight_in_window_of(&self, venue: Venue, group: &str) -> u64 {
        lock(&self.shared.venue(venue).limits)
            .get(group)
            .map_or(0, RateLimiter::peak_weight)
    }

    /// Every rate limit of `venue` with its peak use so far, the main one first: a test asserts that no `peak`
    /// exceeds its `limit`.
    pub fn rate_limits(&self, venue: Venue) -> Vec<RateLimitUsage> {
        lock(&self.shared.venue(venue).limits)
            .all()
            .map(|(group, limiter)| RateLimitUsage {
                group,
                limit: limiter.window().limit(),
                window: Duration::from_millis(limiter.window().length_ms().unsigned_abs()),
                peak: limiter.peak_weight(),
            })
            .collect()
    }

    /// The WebSocket base URL of `venue`, e.g. `ws://127.0.0.1:PORT/binance`; the venue's own paths follow
    /// (`/binance/market/ws`, `/bybit/v5/public/linear`, `/hyperliquid/ws`).
    pub fn ws_base_url(&self, venue: Venue) -> String {
        format!("ws://127.0.0.1:{}/{}", self.port, venue.as_str())
    }

    /// Liquidations per second per symbol that `venue` generates from now on (default 2; 0 stops them). Binance
    /// and Bybit only: Hyperliquid's liquidations are the fills `userFillsByTime` serves, which do not depend on
    /// it.
    pub fn set_liquidation_rate(&self, venue: Venue, per_second: f64) {
        self.shared.ws(venue).set_rate(per_second);
    }

    /// The rate last set with [`SimServer::set_liquidation_rate`].
    pub fn liquidation_rate(&self, venue: Venue) -> f64 {
        self.shared.ws(venue).rate()
    }

    /// The native symbols `venue` generates liquidations for: BTC, ETH and SOL's perpetuals plus every symbol a
    /// client subscribed to (Hyperliquid: none). Liquidation prices follow the mark price at their wall-clock
    /// trade time, whatever [`SimServer::set_clock_ms`] says.
    pub fn liquidation_symbols(&self, venue: Venue) -> Vec<String> {
        if venue == Venue::Hyperliquid {
            // No liquidation stream: its liquidations are the fills `userFillsByTime` serves for any address.
            return Vec::new();
        }
        self.shared.ws(venue).generation_set()
    }

    /// Every liquidation `venue` emitted (pushed in a frame, whether or not anyone was connected), oldest first;
    /// the last million only, see [`SimServer::liquidations_evicted`].
    pub fn liquidations_emitted(&self, venue: Venue) -> Vec<EmittedLiquidation> {
        self.shared.ws(venue).emitted()
    }

    /// How many emitted liquidations were evicted from the ground truth to bound its memory.
    pub fn liquidations_evicted(&self, venue: Venue) -> u64 {
        self.shared.ws(venue).evicted()
    }

    /// Every WebSocket upgrade request to `venue` so far: (wall-clock ms, accepted). Refused ones (fault
    /// [`WsFault::Refuse`], unknown routes or streams) are `false`.
    pub fn ws_connection_attempts(&self, venue: Venue) -> Vec<(i64, bool)> {
        self.shared.ws(venue).attempts()
    }

    /// WebSocket connections of `venue` open now.
    pub fn ws_open_connections(&self, venue: Venue) -> usize {
        self.shared.ws(venue).open_connections()
    }

    /// Injects a WebSocket fault into `venue` (see [`WsFault`]).
    pub fn inject_ws_fault(&self, venue: Venue, fault: WsFault) {
        self.shared.inject_ws_fault(venue, fault);
    }

    /// How often the server sends a WebSocket Ping on connections opened from now on (default 20 s).
    pub fn set_ws_ping_interval(&self, interval: Duration) {
        for venue in Venue::ALL {
            self.shared.ws(venue).set_ping_interval(interval);
        }
    }

    /// How many frames may wait for a slow reader on connections opened from now on before the server drops the
    /// connection (default 1024).
    pub fn set_ws_queue_capacity(&self, frames: usize) {
        for venue in Venue::ALL {
            self.shared.ws(venue).set_queue_capacity(frames);
        }
    }

    /// The fills `userFillsByTime` knows for `user` in [`start_ms`, `end_ms`] at the simulator clock, oldest
    /// first, without the 2000-per-answer cap (see [`fills`]): the ground truth for Hyperliquid liquidations.
    pub fn hyperliquid_user_fills(
        &self,
        user: &str,
        start_ms: i64,
        end_ms: i64,
    ) -> Vec<fills::HyperliquidFill> {
        fills::user_fills(
            self.shared.seed,
            user,
            start_ms,
            end_ms,
            self.now_ms(),
            usize::MAX,
        )
    }

    /// Stops accepting and closes every connection, in-flight requests included. Idempotent.
    pub fn shutdown(&self) {
        self.stop.send_replace(true);
    }
}

impl Drop for SimServer {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// The seeded market at the instant one request is answered.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Market {
    pub seed: u64,
    pub now_ms: i64,
}

/// How one venue's REST API answers. The shared dispatcher wraps it with counting, latency, faults and the
/// rate limiter, so a venue module only routes, weighs and builds bodies.
pub(crate) trait VenueApi {
    /// A request understood as one of the venue's endpoints (or as a request the venue rejects).
    type Endpoint;

    /// The venue's main per-IP limiter.
    fn rate_limiter(enforcing: bool) -> RateLimiter;
    /// Further per-IP limits, by [`limit_group`] name, that only some endpoints count toward.
    fn group_rate_limiters(_enforcing: bool) -> Vec<(&'static str, RateLimiter)> {
        Vec::new()
    }
    fn route(request: &SimRequest) -> Self::Endpoint;
    /// What the request costs against the main rate limit (Hyperliquid: depends on how many items it returns).
    fn weight(endpoint: &Self::Endpoint, market: &Market) -> u64;
    /// The group limit the request also counts toward, one request's worth, if any.
    fn limit_group(_endpoint: &Self::Endpoint) -> Option<&'static str> {
        None
    }
    fn respond(endpoint: Self::Endpoint, market: &Market) -> Reply;
    /// The venue's answer to a request over the rate limit named `group`.
    fn refuse(refusal: Refusal, group: &'static str) -> Reply;
    /// Adds what the venue reports about rate-limit usage to every answer (Binance: a header).
    fn report_usage(reply: Reply, _used_weight: u64) -> Reply {
        reply
    }
}

/// State shared by the handle and every connection.
pub(crate) struct Shared {
    seed: u64,
    /// Turns true when the server stops; tasks watch it.
    stop: watch::Receiver<bool>,
    /// The runtime the server was started on, for tasks started from other threads (fault injection).
    runtime: tokio::runtime::Handle,
    frozen_clock_ms: Mutex<Option<i64>>,
    binance: VenueState,
    bybit: VenueState,
    hyperliquid: VenueState,
}

/// Per-venue controls and counters.
struct VenueState {
    requests: AtomicU64,
    latency: Mutex<Duration>,
    faults: Mutex<VecDeque<Fault>>,
    limits: Mutex<Limits>,
    ws: ws::WsVenue,
    /// The last answer built by the venue's handler, for [`Fault::ReplayPage`].
    last_reply: Mutex<Option<Reply>>,
}

impl VenueState {
    fn new<Api: VenueApi>(venue: Venue, seed: u64, enforce_rate_limits: bool) -> VenueState {
        VenueState {
            requests: AtomicU64::new(0),
            latency: Mutex::new(Duration::ZERO),
            faults: Mutex::new(VecDeque::new()),
            limits: Mutex::new(Limits::new(
                Api::rate_limiter(enforce_rate_limits),
                Api::group_rate_limiters(enforce_rate_limits),
            )),
            ws: ws::WsVenue::new(venue, seed),
            last_reply: Mutex::new(None),
        }
    }
}

impl Shared {
    /// Must run on a tokio runtime.
    fn new(config: &SimConfig, stop: watch::Receiver<bool>) -> Shared {
        let enforce = config.enforce_rate_limits;
        let seed = config.seed;
        Shared {
            seed,
            stop,
            runtime: tokio::runtime::Handle::current(),
            frozen_clock_ms: Mutex::new(None),
            binance: VenueState::new::<binance::Binance>(Venue::Binance, seed, enforce),
            bybit: VenueState::new::<bybit::Bybit>(Venue::Bybit, seed, enforce),
            hyperliquid: VenueState::new::<hyperliquid::Hyperliquid>(
                Venue::Hyperliquid,
                seed,
                enforce,
            ),
        }
    }

    fn venue(&self, venue: Venue) -> &VenueState {
        match venue {
            Venue::Binance => &self.binance,
            Venue::Bybit => &self.bybit,
            Venue::Hyperliquid => &self.hyperliquid,
        }
    }

    fn now_ms(&self) -> i64 {
        lock(&self.frozen_clock_ms).unwrap_or_else(wall_clock_ms)
    }

    pub(crate) async fn answer(&self, venue: Venue, request: SimRequest) -> Reply {
        match venue {
            Venue::Binance => self.answer_as::<binance::Binance>(venue, request).await,
            Venue::Bybit => self.answer_as::<bybit::Bybit>(venue, request).await,
            Venue::Hyperliquid => {
                self.answer_as::<hyperliquid::Hyperliquid>(venue, request)
                    .await
            }
        }
    }

    async fn answer_as<Api: VenueApi>(&self, venue: Venue, mut request: SimRequest) -> Reply {
        let state = self.venue(venue);
        state.requests.fetch_add(1, Ordering::Relaxed);
        let latency = *lock(&state.latency);
        if !latency.is_zero() {
            tokio::time::sleep(latency).await;
        }
        // Taken out in its own statement so the lock is released before any await.
        let fault = lock(&state.faults).pop_front();
        let mut shuffle = false;
        let truncate = match fault {
            Some(Fault::Status {
                status,
                body,
                retry_after_secs,
            }) => {
                let reply = Reply::raw(status, body);
                return match retry_after_secs {
                    Some(seconds) => reply.header("Retry-After", seconds),
                    None => reply,
                };
            }
            Some(Fault::Stall(duration)) => {
                tokio::time::sleep(duration).await;
                false
            }
            Some(Fault::Truncated) => true,
            Some(Fault::IgnoreParam(name)) => {
                paging_faults::edit_param(&mut request, &name, |_| None);
                false
            }
            Some(Fault::OverlapPages { by_ms }) => {
                let (name, by) = match venue {
                    Venue::Bybit => ("endTime", by_ms),
                    _ => ("startTime", -by_ms),
                };
                paging_faults::edit_param(&mut request, name, |ms| Some(ms.saturating_add(by)));
                false
            }
            Some(Fault::ReplayPage) => {
                if let Some(previous) = lock(&state.last_reply).clone() {
                    return previous;
                }
                false
            }
            Some(Fault::ShuffleRows) => {
                shuffle = true;
                false
            }
            None => false,
        };
        let endpoint = Api::route(&request);
        let market = Market {
            seed: self.seed,
            now_ms: self.now_ms(),
        };
        // Weighed before locking: the limits stay locked only for the bookkeeping.
        let weight = Api::weight(&endpoint, &market);
        let admission =
            lock(&state.limits).admit(wall_clock_ms(), weight, Api::limit_group(&endpoint));
        let reply = match admission.refusal {
            Some((group, refusal)) => Api::refuse(refusal, group),
            None => Api::respond(endpoint, &market),
        };
        let reply = Api::report_usage(reply, admission.used);
        *lock(&state.last_reply) = Some(reply.clone());
        let reply = if shuffle {
            paging_faults::shuffle_rows(reply)
        } else {
            reply
        };
        if truncate {
            reply.truncated()
        } else {
            reply
        }
    }
}

/// The request and answer edits of the paging faults.
mod paging_faults {
    use super::http::{Reply, SimRequest};
    use serde_json::Value;

    /// Replaces the numeric parameter `name` (query, or key of a JSON body) by `edit(value)`; `None` removes it.
    pub(super) fn edit_param(
        request: &mut SimRequest,
        name: &str,
        edit: impl Fn(i64) -> Option<i64>,
    ) {
        request.query = std::mem::take(&mut request.query)
            .into_iter()
            .filter_map(|(key, value)| {
                if key != name {
                    return Some((key, value));
                }
                let edited = value.parse::<i64>().ok().and_then(&edit)?;
                Some((key, edited.to_string()))
            })
            .collect();
        if let Ok(Value::Object(mut body)) = serde_json::from_slice::<Value>(&request.body) {
            if let Some(value) = body.remove(name) {
                if let Some(edited) = value.as_i64().and_then(&edit) {
                    body.insert(name.to_string(), edited.into());
                }
                request.body = Value::Object(body).to_string().into();
            }
        }
    }

    /// The rows of a page (a top-level array, or Bybit's `result.list`) reversed and rotated by one.
    pub(super) fn shuffle_rows(mut reply: Reply) -> Reply {
        let Ok(mut value) = serde_json::from_slice::<Value>(&reply.body) else {
            return reply;
        };
        let rows = match &mut value {
            Value::Array(rows) => Some(rows),
            Value::Object(map) => map
                .get_mut("result")
                .and_then(|r| r.get_mut("list"))
                .and_then(Value::as_array_mut),
            _ => None,
        };
        if let Some(rows) = rows {
            rows.reverse();
            if !rows.is_empty() {
                rows.rotate_left(1);
            }
            reply.body = value.to_string().into();
        }
        reply
    }
}

fn wall_clock_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since_epoch| {
            i64::try_from(since_epoch.as_millis()).unwrap_or(i64::MAX)
        })
}

/// Locks `mutex`, ignoring poisoning: every critical section here leaves its data consistent even if a holder
/// panicked, and a simulator that stops answering would hide the original failure.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
