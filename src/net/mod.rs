//! I/O machinery written once for all venues: HTTP with retries and rate limits. It imports nothing from the venue
//! layer: a venue's limits and error classification come in as a [`VenueNet`] value.

pub mod backoff;
pub mod http;
pub mod ratelimit;
pub mod redact;
pub mod request;

pub use backoff::{Backoff, BackoffPolicy};
pub use http::{install_crypto_provider, HttpConfig, RetryPolicy, VenueHttp, VenueLimits};
pub use ratelimit::RateLimiter;
pub use request::{LimitGroup, Method, RateLimits, Request, ResponseClassifier, VenueNet};
