//! What `net` is asked to send and how it is told a venue's rules: the [`Request`] a venue's request builder
//! makes, the [`RateLimits`] a venue documents and the [`ResponseClassifier`] that reads its error answers. The
//! venue layer fills these in (each venue's spec); `net` knows no venue.

use std::fmt;
use std::time::Duration;

use crate::model::{PipelineError, Venue};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
}

/// One HTTP request, relative to the venue's base URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub venue: Venue,
    pub method: Method,
    pub path: &'static str,
    pub query: Vec<(&'static str, String)>,
    /// JSON body (Hyperliquid's `POST /info`).
    pub body: Option<String>,
    /// Cost against the venue's rate limit, in the venue's own unit (Binance and Hyperliquid weight, Bybit
    /// requests).
    pub weight: u32,
    /// What this request is for, used in error messages (`open interest`, `instrument list`).
    pub what: &'static str,
    /// A second, endpoint-specific limit this request also counts against.
    pub limit_group: Option<LimitGroup>,
}

/// An endpoint group with an IP limit of its own, on top of the venue-wide weight (Binance's `/futures/data/*`).
/// Requests naming the same group (by `name`) draw from one budget of `requests` per `window`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LimitGroup {
    pub name: &'static str,
    pub requests: u32,
    pub window: Duration,
}

/// A venue's documented REST limits: `weight` units per `window` for the whole venue (per IP), and the endpoint
/// groups limited on top of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimits {
    pub weight: u32,
    /// Also how long a throttled client waits when the venue does not say (see `RetryPolicy::rate_limit_wait`).
    pub window: Duration,
    pub groups: &'static [LimitGroup],
}

/// Reads a venue's answers: which statuses mean "slow down", what error a non-2xx answer is, and which 2xx
/// answers carry a transient error worth a retry.
pub trait ResponseClassifier: Send + Sync + fmt::Debug {
    /// Turns a non-2xx answer into the error class it stands for, with the venue's own code and message when the
    /// body carries them.
    fn error_from_status(
        &self,
        status: u16,
        body: &[u8],
        retry_after_ms: Option<u64>,
    ) -> PipelineError;
    /// Whether a non-2xx answer is a rate limit (retried after the venue's window).
    fn is_rate_limit(&self, status: u16, body: &[u8]) -> bool;
    /// A transient failure reported inside a 2xx answer, retried like its HTTP counterpart; `None` for data.
    fn retryable_error_in_body(&self, body: &[u8]) -> Option<PipelineError>;
}

/// Everything `net` needs to know of one venue, handed to `VenueHttp::new` by the caller.
#[derive(Debug, Clone, Copy)]
pub struct VenueNet {
    pub venue: Venue,
    pub limits: RateLimits,
    pub classifier: &'static dyn ResponseClassifier,
}
