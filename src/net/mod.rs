//! I/O machinery written once for all venues: HTTP with retries and rate limits.

pub mod http;
pub mod ratelimit;
pub mod redact;

pub use http::{install_crypto_provider, HttpConfig, RetryPolicy, VenueHttp, VenueLimits};
pub use ratelimit::RateLimiter;
