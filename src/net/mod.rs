//! I/O machinery written once for all venues: HTTP with retries and rate limits.

pub mod http;
pub mod ratelimit;

pub use http::{install_crypto_provider, venue_rate_limiter, HttpConfig, RetryPolicy, VenueHttp};
pub use ratelimit::RateLimiter;
