//! I/O machinery written once for all venues: HTTP with retries and rate limits.

pub mod backoff;
pub mod http;
pub mod ratelimit;
pub mod redact;

pub use backoff::{Backoff, BackoffPolicy};
pub use http::{install_crypto_provider, HttpConfig, RetryPolicy, VenueHttp, VenueLimits};
pub use ratelimit::RateLimiter;
