//! The one HTTP path every venue request takes: rate limiter, timeout, retries with exponential backoff and
//! jitter, `Retry-After`, and mapping of failures to the error classes. Venue specifics come in only through the
//! [`VenueNet`] the caller passes (limits and a [`ResponseClassifier`]) and the [`Request`]s it sends.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Once, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use tokio::time::Instant;

use crate::model::{PipelineError, Result, Venue};
use crate::net::ratelimit::RateLimiter;
use crate::net::request::{LimitGroup, Method, RateLimits, Request, ResponseClassifier, VenueNet};

#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Attempts in total, the first included.
    pub max_attempts: u32,
    pub base_delay: Duration,
    pub max_delay: Duration,
    /// A `Retry-After` longer than this (a Binance 418 ban lasts minutes to days) is not waited out: the call fails
    /// with a rate-limit error that carries the wait.
    pub max_retry_after: Duration,
    /// How long to wait after a rate-limit answer without `Retry-After`. `None`: the venue's documented window
    /// (Binance and Hyperliquid a minute, Bybit 5 s), so the retry comes after the window that was exceeded.
    pub rate_limit_wait: Option<Duration>,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 5,
            base_delay: Duration::from_millis(250),
            max_delay: Duration::from_secs(10),
            max_retry_after: Duration::from_secs(60),
            rate_limit_wait: None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// Whole-request timeout (connect, send, read the body).
    pub timeout: Duration,
    pub connect_timeout: Duration,
    pub retry: RetryPolicy,
    /// Hold requests to the venues' documented limits. Off only for benchmarks against a simulator without limits.
    pub rate_limits: bool,
    /// An answer larger than this is an error, not memory: read in chunks and refused once past it.
    pub max_body_bytes: usize,
}

/// 64 MiB: far above any answer of the venues (Binance's full exchangeInfo is about 1 MiB).
pub const DEFAULT_MAX_BODY_BYTES: usize = 64 << 20;

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(5),
            retry: RetryPolicy::default(),
            rate_limits: true,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
        }
    }
}

/// rustls needs a process-wide crypto provider before the first TLS connection, or that connection panics.
pub fn install_crypto_provider() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // Err means another part of the process installed one already, which serves as well.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

/// The limits of one venue: its documented weight per window and its endpoint groups (see [`LimitGroup`]).
#[derive(Debug)]
pub struct VenueLimits {
    pub main: RateLimiter,
    groups: HashMap<LimitGroup, RateLimiter>,
}

impl VenueLimits {
    fn new(limits: &RateLimits) -> Self {
        let main = RateLimiter::new(limits.weight, limits.window);
        let groups = limits
            .groups
            .iter()
            .map(|g| (*g, RateLimiter::new(g.requests, g.window)))
            .collect();
        VenueLimits { main, groups }
    }

    /// The limits of `venue` at `base_url`, one set per process: venues limit per IP, so every client, fetcher
    /// and orchestrator talking to the same host must draw from the same budget. `limits` sets them up on the
    /// first call for that host.
    pub fn shared(venue: Venue, base_url: &str, limits: &RateLimits) -> Arc<VenueLimits> {
        type Registry = Mutex<HashMap<(Venue, String), Arc<VenueLimits>>>;
        static REGISTRY: OnceLock<Registry> = OnceLock::new();
        let mut registry = REGISTRY
            .get_or_init(Default::default)
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        registry
            .entry((venue, base_url.to_string()))
            .or_insert_with(|| Arc::new(VenueLimits::new(limits)))
            .clone()
    }

    fn pause_until(&self, until: Instant) {
        self.main.pause_until(until);
        self.groups.values().for_each(|g| g.pause_until(until));
    }
}

/// Sends one venue's requests. Clones share the connection pool; all clients of a host share its limits.
#[derive(Debug, Clone)]
pub struct VenueHttp {
    venue: Venue,
    base_url: String,
    rate_limit_window: Duration,
    classifier: &'static dyn ResponseClassifier,
    client: reqwest::Client,
    limits: Arc<VenueLimits>,
    retry: RetryPolicy,
    rate_limits: bool,
    max_body_bytes: usize,
}

enum Attempt {
    Done(Bytes),
    /// Worth another try, after at least this long (a `Retry-After`, else the backoff decides).
    Retry(PipelineError, Option<Duration>),
    Fail(PipelineError),
}

impl VenueHttp {
    /// A client for the venue described by `net` (its limits and error classification), at `base_url` (None =
    /// the venue's production URL).
    pub fn new(net: VenueNet, base_url: Option<&str>, config: &HttpConfig) -> Result<Self> {
        install_crypto_provider();
        let venue = net.venue;
        let base_url = base_url
            .unwrap_or(venue.default_base_url())
            .trim_end_matches('/')
            .to_string();
        let shown = crate::net::redact::redact_url(&base_url);
        if !(base_url.starts_with("http://") || base_url.starts_with("https://")) {
            return Err(PipelineError::InvalidArgument(format!(
                "{venue} base URL '{shown}' must start with http:// or https://"
            )));
        }
        // Unparseable (no host, a bad port, spaces): an argument error now, not a network error on every retry.
        match reqwest::Url::parse(&base_url) {
            Ok(url) if url.host_str().is_some_and(|h| !h.is_empty()) => {}
            Ok(_) => {
                return Err(PipelineError::InvalidArgument(format!(
                    "{venue} base URL '{shown}' has no host"
                )))
            }
            Err(e) => {
                return Err(PipelineError::InvalidArgument(format!(
                    "{venue} base URL '{shown}' is not a valid URL: {e}"
                )))
            }
        }
        // Redirects within the same origin are followed (a few); to another host, never: the request (a POST
        // body included) must not go to a host the user did not name, and no Referer tells it where we came from.
        let redirects = reqwest::redirect::Policy::custom(|attempt| {
            let same_origin = attempt.previous().first().is_some_and(|first| {
                first.scheme() == attempt.url().scheme()
                    && first.host_str() == attempt.url().host_str()
                    && first.port_or_known_default() == attempt.url().port_or_known_default()
            });
            if same_origin && attempt.previous().len() < 5 {
                attempt.follow()
            } else {
                attempt.stop()
            }
        });
        let client = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.connect_timeout)
            .redirect(redirects)
            .referer(false)
            .user_agent(concat!("ccxt_pipeline_rs/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| PipelineError::Network {
                venue,
                message: format!("cannot build HTTP client: {e}"),
            })?;
        Ok(VenueHttp {
            venue,
            limits: VenueLimits::shared(venue, &base_url, &net.limits),
            base_url,
            rate_limit_window: net.limits.window,
            classifier: net.classifier,
            client,
            retry: config.retry.clone(),
            rate_limits: config.rate_limits,
            max_body_bytes: config.max_body_bytes,
        })
    }

    pub fn venue(&self) -> Venue {
        self.venue
    }

    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// Sends `request` until it succeeds or retrying stops making sense; returns the 2xx body.
    pub async fn send(&self, request: &Request) -> Result<Bytes> {
        let mut attempt = 1;
        loop {
            if let Some(wait) = self
                .limits
                .main
                .paused_for()
                .filter(|wait| *wait > self.retry.max_retry_after)
            {
                // Still banned: fail now with the remaining wait rather than block a caller for minutes.
                return Err(PipelineError::RateLimited {
                    venue: self.venue,
                    status: 0,
                    retry_after_ms: Some(u64::try_from(wait.as_millis()).unwrap_or(u64::MAX)),
                    message: "the venue's ban from an earlier answer is still running".into(),
                });
            }
            if self.rate_limits {
                // A target of its own (as the venue's throttling below), so that the CLI's progress bars say
                // when a backfill is held back by the venue's documented limit rather than by anything slow.
                let announce = |wait: Duration| {
                    tracing::warn!(
                        target: "ccxt_pipeline_rs::net::rate_limit",
                        venue = %self.venue, path = request.path,
                        "at the venue's request limit; waiting {:.1} s, until {}, for its window to pass",
                        wait.as_secs_f64(),
                        crate::model::time::iso_ms(
                            crate::model::records::now_ns().div_euclid(1_000_000)
                                .saturating_add(i64::try_from(wait.as_millis()).unwrap_or(i64::MAX))
                        )
                    )
                };
                if let Some(group) = request.limit_group.and_then(|g| self.limits.groups.get(&g)) {
                    group.acquire_announcing(1, announce).await;
                }
                self.limits
                    .main
                    .acquire_announcing(request.weight, announce)
                    .await;
            }
            let (error, retry_after) = match self.attempt(request).await {
                Attempt::Done(body) => return Ok(body),
                Attempt::Fail(error) => return Err(error),
                Attempt::Retry(error, retry_after) => (error, retry_after),
            };
            let rate_limited = matches!(error, PipelineError::RateLimited { .. });
            let delay = match retry_after {
                Some(wait) => wait,
                // Throttled without being told for how long: wait out the venue's window (bounded by
                // `max_retry_after`), not a backoff of a few hundred ms that retries inside the same window.
                None if rate_limited => self
                    .retry
                    .rate_limit_wait
                    .unwrap_or(self.rate_limit_window)
                    .min(self.retry.max_retry_after)
                    .max(self.backoff(attempt)),
                None => self.backoff(attempt),
            };
            if rate_limited {
                // The venue throttles per IP: hold back every task of this venue, not only this one, and for a
                // ban longer than we wait out, until it ends, so other tasks do not extend it.
                self.limits.pause_until(instant_after(delay));
            }
            if retry_after.is_some_and(|wait| wait > self.retry.max_retry_after)
                || attempt >= self.retry.max_attempts
            {
                return Err(error);
            }
            if rate_limited {
                // A target of its own, so that the CLI shows these waits even when it shows no other log.
                tracing::warn!(
                    target: "ccxt_pipeline_rs::net::rate_limit",
                    venue = %self.venue, path = request.path, attempt,
                    "rate limited; waiting {:.1} s, until {}, for the venue's window to pass before retrying: {error}",
                    delay.as_secs_f64(),
                    crate::model::time::iso_ms(
                        crate::model::records::now_ns().div_euclid(1_000_000)
                            .saturating_add(i64::try_from(delay.as_millis()).unwrap_or(i64::MAX))
                    )
                );
            } else {
                tracing::warn!(
                    venue = %self.venue, path = request.path, attempt,
                    delay_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
                    "retrying after: {error}"
                );
            }
            tokio::time::sleep(delay).await;
            attempt += 1;
        }
    }

    async fn attempt(&self, request: &Request) -> Attempt {
        let venue = self.venue;
        let url = format!("{}{}", self.base_url, request.path);
        let builder = match request.method {
            Method::Get => self.client.get(&url),
            Method::Post => self
                .client
                .post(&url)
                .header("Content-Type", "application/json"),
        };
        let builder = if request.query.is_empty() {
            builder
        } else {
            builder.query(&request.query)
        };
        let builder = match &request.body {
            Some(body) => builder.body(body.clone()),
            None => builder,
        };
        let network = |e: reqwest::Error| {
            let kind = if e.is_timeout() {
                "timed out"
            } else if e.is_connect() {
                "cannot connect"
            } else {
                "transport"
            };
            // reqwest quotes the URL with its credentials and query: masked here, whatever the error says.
            let detail =
                crate::net::redact::redact_in(&error_chain(&e.without_url()), &self.base_url);
            PipelineError::Network {
                venue,
                message: format!(
                    "{kind}: {} {}: {detail}",
                    request.what,
                    crate::net::redact::redact_url(&url)
                ),
            }
        };
        let response = match builder.send().await {
            Ok(response) => response,
            Err(e) => return Attempt::Retry(network(e), None),
        };
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| parse_retry_after(v.as_bytes()));
        if (300..400).contains(&status) {
            // Only a redirect the policy refused (to another host) gets here.
            let target = response
                .headers()
                .get(reqwest::header::LOCATION)
                .and_then(|v| v.to_str().ok())
                .map(crate::net::redact::redact_url)
                .unwrap_or_else(|| "nowhere".into());
            return Attempt::Fail(PipelineError::Exchange {
                venue,
                status,
                code: i64::from(status),
                message: format!(
                    "{} was redirected to {target}, another host: not followed (nothing was sent there)",
                    request.what
                ),
            });
        }
        let too_large = |size: String| {
            Attempt::Fail(PipelineError::malformed(
                venue,
                request.what,
                format!(
                    "the answer is larger than {} MiB ({size}); refused instead of held in memory",
                    self.max_body_bytes >> 20
                ),
            ))
        };
        if let Some(length) = response.content_length() {
            if length > self.max_body_bytes as u64 {
                return too_large(format!("{length} bytes announced"));
            }
        }
        let mut response = response;
        let mut body = Vec::new();
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    if body.len() + chunk.len() > self.max_body_bytes {
                        return too_large("more arrived".into());
                    }
                    body.extend_from_slice(&chunk);
                }
                Ok(None) => break,
                // The connection died mid-body: as transient as a failed connect.
                Err(e) => return Attempt::Retry(network(e), None),
            }
        }
        let body = Bytes::from(body);
        if (200..300).contains(&status) {
            return match self.classifier.retryable_error_in_body(&body) {
                Some(error) => Attempt::Retry(error, None),
                None => Attempt::Done(body),
            };
        }
        let error = self.classifier.error_from_status(
            status,
            &body,
            retry_after.map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
        );
        if self.classifier.is_rate_limit(status, &body) || status >= 500 {
            Attempt::Retry(error, retry_after)
        } else {
            Attempt::Fail(error)
        }
    }

    /// Exponential backoff with jitter in [50 %, 100 %] of the step, so clients that failed together do not retry
    /// together.
    fn backoff(&self, attempt: u32) -> Duration {
        let step = self
            .retry
            .base_delay
            .saturating_mul(1 << (attempt - 1).min(16))
            .min(self.retry.max_delay);
        // `mul_f64` panics on overflow; through f64 seconds a policy with an absurd `max_delay` cannot.
        Duration::try_from_secs_f64(
            step.as_secs_f64() * (0.5 + 0.5 * super::backoff::jitter_unit()),
        )
        .unwrap_or(step)
    }
}

/// The longest `Retry-After` taken literally: a week. Anything longer (up to `u64::MAX` seconds) means the same to
/// a client, which gives up long before, and keeps every later computation (instants, milliseconds) in range.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(7 * 86_400);

/// A `Retry-After` header value: whole seconds (RFC 9110; clamped to [`MAX_RETRY_AFTER`]). An HTTP date, a
/// negative or fractional number, or bytes that are not text are ignored (`None`), which leaves the wait to the
/// backoff. Never panics, whatever the venue sends.
pub fn parse_retry_after(value: &[u8]) -> Option<Duration> {
    let text = std::str::from_utf8(value).ok()?.trim();
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    // All digits: only overflow can fail the parse, and an overflowing number of seconds is "longer than the cap".
    let seconds = text.parse::<u64>().unwrap_or(u64::MAX);
    Some(Duration::from_secs(seconds).min(MAX_RETRY_AFTER))
}

/// `now + delay` without the overflow panic of `Instant + Duration`: a delay beyond what the clock can represent
/// saturates at [`MAX_RETRY_AFTER`] from now.
pub fn instant_after(delay: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(delay)
        .or_else(|| now.checked_add(MAX_RETRY_AFTER))
        .unwrap_or(now)
}

fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(inner) = source {
        text.push_str(": ");
        text.push_str(&inner.to_string());
        source = inner.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A venue as `net` sees it, without the venue layer: one weight per second, every failure an exchange error.
    #[derive(Debug)]
    struct Plain;

    impl ResponseClassifier for Plain {
        fn error_from_status(&self, status: u16, _: &[u8], _: Option<u64>) -> PipelineError {
            PipelineError::Exchange {
                venue: Venue::Bybit,
                status,
                code: i64::from(status),
                message: String::new(),
            }
        }
        fn is_rate_limit(&self, status: u16, _: &[u8]) -> bool {
            status == 429
        }
        fn retryable_error_in_body(&self, _: &[u8]) -> Option<PipelineError> {
            None
        }
    }

    fn net(venue: Venue) -> VenueNet {
        VenueNet {
            venue,
            limits: RateLimits {
                weight: 1,
                window: Duration::from_secs(1),
                groups: &[],
            },
            classifier: &Plain,
        }
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        let config = HttpConfig::default();
        let http = VenueHttp::new(net(Venue::Bybit), Some("http://127.0.0.1:9"), &config).unwrap();
        for attempt in 1..10 {
            let step = config
                .retry
                .base_delay
                .saturating_mul(1 << (attempt - 1))
                .min(config.retry.max_delay);
            let d = http.backoff(attempt);
            assert!(
                d >= step / 2 && d <= step,
                "attempt {attempt}: {d:?} outside [{:?}, {step:?}]",
                step / 2
            );
        }
    }

    #[test]
    fn base_url_must_be_http() {
        let err = VenueHttp::new(
            net(Venue::Binance),
            Some("fapi.binance.com"),
            &HttpConfig::default(),
        );
        assert!(err
            .unwrap_err()
            .to_string()
            .contains("must start with http:// or https://"));
    }
}
