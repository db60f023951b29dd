//! Venue protocols, sans-IO: each venue module builds [`Request`]s and parses response bytes into records. Nothing
//! here touches a socket, so every parser is tested on the fixtures alone; `net` sends, `fetch` sequences.

pub mod binance;
pub mod bybit;
pub mod hyperliquid;
pub mod lenient;

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
}

/// Turns a non-2xx answer into the error class it stands for, with the venue's own code and message when the body
/// carries them. Rate-limit statuses are classified here so retry logic in `net` stays venue-agnostic.
pub fn error_from_status(venue: Venue, status: u16, body: &[u8], retry_after_ms: Option<u64>) -> PipelineError {
    let text = String::from_utf8_lossy(body).trim().chars().take(300).collect::<String>();
    if is_rate_limit_status(venue, status) {
        return PipelineError::RateLimited { venue, status, retry_after_ms, message: text };
    }
    let (code, message) = match venue {
        Venue::Binance => binance::error_code_and_message(body),
        Venue::Bybit => bybit::error_code_and_message(body),
        Venue::Hyperliquid => None,
    }
    .unwrap_or((i64::from(status), if text.is_empty() { "empty body".to_string() } else { text }));
    PipelineError::Exchange { venue, status, code, message }
}

/// Statuses that mean "slow down": 429 everywhere, Binance's 418 IP ban, Bybit's 403 IP limit.
pub fn is_rate_limit_status(venue: Venue, status: u16) -> bool {
    status == 429 || (venue == Venue::Binance && status == 418) || (venue == Venue::Bybit && status == 403)
}

/// Next multiple of `interval_ms` strictly after `t_ms` (funding settles on UTC-aligned boundaries).
pub fn next_boundary_ms(t_ms: i64, interval_ms: i64) -> i64 {
    (t_ms.div_euclid(interval_ms) + 1) * interval_ms
}

#[cfg(test)]
pub(crate) mod test_support {
    /// Reads a fixture copied from `../shared/fixtures` (see tests/data/fixtures/SOURCES.md).
    pub fn fixture(path: &str) -> Vec<u8> {
        let full = format!("{}/tests/data/fixtures/{path}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read(&full).unwrap_or_else(|e| panic!("fixture {full}: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_classes() {
        let banned = br#"{"code":-1003,"msg":"Way too many requests; IP banned until 1544570770441."}"#;
        match error_from_status(Venue::Binance, 418, banned, Some(5_000)) {
            PipelineError::RateLimited { status: 418, retry_after_ms: Some(5_000), message, .. } => {
                assert!(message.contains("IP banned"))
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            error_from_status(Venue::Bybit, 403, b"access too frequent", None),
            PipelineError::RateLimited { status: 403, .. }
        ));
        // 403 is not a rate limit on Binance (WAF refusal): an exchange error.
        assert!(matches!(error_from_status(Venue::Binance, 403, b"", None), PipelineError::Exchange { code: 403, .. }));
        match error_from_status(Venue::Binance, 400, br#"{"code":-1121,"msg":"Invalid symbol."}"#, None) {
            PipelineError::Exchange { code: -1121, status: 400, message, .. } => assert_eq!(message, "Invalid symbol."),
            other => panic!("{other:?}"),
        }
        match error_from_status(Venue::Hyperliquid, 422, b"Failed to deserialize the JSON body", None) {
            PipelineError::Exchange { code: 422, message, .. } => assert!(message.starts_with("Failed to deserialize")),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn funding_boundaries() {
        let hour = 3_600_000;
        assert_eq!(next_boundary_ms(1_597_370_495_002, 8 * hour), 1_597_392_000_000);
        assert_eq!(next_boundary_ms(10 * hour, hour), 11 * hour);
    }
}
