//! Local simulator of the three venues' REST APIs (DESIGN §8).
//!
//! One port serves all venues, each under its prefix: `http://127.0.0.1:N/binance/fapi/v1/openInterest`,
//! `…/bybit/v5/market/tickers`, `…/hyperliquid/info`. Bodies follow the wire formats of `tests/data/fixtures`
//! (field names, strings vs numbers, envelopes, error bodies); values come from [`data`], a deterministic
//! function of the seed, venue, coin and the simulator clock, so tests can compare what a client parsed with
//! what was served.
//!
//! Every request passes, in order: the request counter, the venue's latency, the next injected [`Fault`], the
//! venue's rate limiter, and finally the venue's handler.

mod binance;
mod bybit;
mod catalog;
pub mod data;
mod http;
mod hyperliquid;
mod limits;

use std::collections::VecDeque;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::model::Venue;
use http::{Reply, SimRequest};
use limits::{RateLimiter, Refusal};

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
        let shared = Arc::new(Shared::new(&config));
        let (stop, stopped) = watch::channel(false);
        tokio::spawn(http::accept_loop(listener, Arc::clone(&shared), stopped));
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

    /// The highest weight (Bybit: request count) used in any one rate-limit window of `venue` so far, refused
    /// requests included: above the venue's limit exactly when a client overshot it.
    pub fn max_weight_in_window(&self, venue: Venue) -> u64 {
        lock(&self.shared.venue(venue).limiter).peak_weight()
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

    /// The venue's per-IP limiter.
    fn rate_limiter(enforcing: bool) -> RateLimiter;
    fn route(request: &SimRequest) -> Self::Endpoint;
    /// What the request costs against the rate limit.
    fn weight(endpoint: &Self::Endpoint) -> u64;
    fn respond(endpoint: Self::Endpoint, market: &Market) -> Reply;
    /// The venue's answer to a request over its rate limit.
    fn refuse(refusal: Refusal) -> Reply;
    /// Adds what the venue reports about rate-limit usage to every answer (Binance: a header).
    fn report_usage(reply: Reply, _used_weight: u64) -> Reply {
        reply
    }
}

/// State shared by the handle and every connection.
pub(crate) struct Shared {
    seed: u64,
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
    limiter: Mutex<RateLimiter>,
}

impl VenueState {
    fn new<Api: VenueApi>(enforce_rate_limits: bool) -> VenueState {
        VenueState {
            requests: AtomicU64::new(0),
            latency: Mutex::new(Duration::ZERO),
            faults: Mutex::new(VecDeque::new()),
            limiter: Mutex::new(Api::rate_limiter(enforce_rate_limits)),
        }
    }
}

impl Shared {
    fn new(config: &SimConfig) -> Shared {
        let enforce = config.enforce_rate_limits;
        Shared {
            seed: config.seed,
            frozen_clock_ms: Mutex::new(None),
            binance: VenueState::new::<binance::Binance>(enforce),
            bybit: VenueState::new::<bybit::Bybit>(enforce),
            hyperliquid: VenueState::new::<hyperliquid::Hyperliquid>(enforce),
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

    async fn answer_as<Api: VenueApi>(&self, venue: Venue, request: SimRequest) -> Reply {
        let state = self.venue(venue);
        state.requests.fetch_add(1, Ordering::Relaxed);
        let latency = *lock(&state.latency);
        if !latency.is_zero() {
            tokio::time::sleep(latency).await;
        }
        // Taken out in its own statement so the lock is released before any await.
        let fault = lock(&state.faults).pop_front();
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
            None => false,
        };
        let endpoint = Api::route(&request);
        let admission = lock(&state.limiter).admit(wall_clock_ms(), Api::weight(&endpoint));
        let reply = match admission.refusal {
            Some(refusal) => Api::refuse(refusal),
            None => Api::respond(
                endpoint,
                &Market {
                    seed: self.seed,
                    now_ms: self.now_ms(),
                },
            ),
        };
        let reply = Api::report_usage(reply, admission.used);
        if truncate {
            reply.truncated()
        } else {
            reply
        }
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
