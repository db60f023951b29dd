//! Venue protocols, sans-IO: each venue module builds [`Request`]s and parses response bytes into records. Nothing
//! here touches a socket, so every parser is tested on the fixtures alone; `net` sends, `fetch` sequences. Each
//! venue's rules are gathered in one [`VenueSpec`] (`src/venue/<venue>/spec.rs`), found through [`spec`], the one
//! place that matches on [`Venue`].

pub mod binance;
pub mod bybit;
pub mod hyperliquid;
pub mod lenient;
pub mod paging;
pub mod spec;
pub mod stream;

use crate::model::{InstrumentRef, PipelineError, Venue};
use crate::net;

pub use crate::net::request::{LimitGroup, Method, Request};
pub use spec::{spec, BoxPager, OpenInterestRanking, RankingValues, VenueSpec};

/// One page of a venue's instrument list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstrumentPage {
    /// Native symbols of the trading perpetuals on this page.
    pub symbols: Vec<String>,
    /// Cursor of the next page; `None` on the last one (and for venues that answer in one page).
    pub next_cursor: Option<String>,
}

/// Turns a non-2xx answer into the error class it stands for, with the venue's own code and message when the body
/// carries them. Rate-limit statuses are classified here so retry logic in `net` stays venue-agnostic.
pub fn error_from_status(
    venue: Venue,
    status: u16,
    body: &[u8],
    retry_after_ms: Option<u64>,
) -> PipelineError {
    net::ResponseClassifier::error_from_status(spec(venue), status, body, retry_after_ms)
}

/// What every venue's classifier does with a non-2xx answer: a rate limit if `rate_limited`, else an exchange
/// error with the code and message `code_and_message` reads from the body (the status and the body's text if
/// it reads none).
pub(crate) fn classify_status(
    venue: Venue,
    status: u16,
    body: &[u8],
    retry_after_ms: Option<u64>,
    rate_limited: bool,
    code_and_message: impl FnOnce(&[u8]) -> Option<(i64, String)>,
) -> PipelineError {
    let text = html_answer(body, Some(status)).unwrap_or_else(|| {
        String::from_utf8_lossy(body)
            .trim()
            .chars()
            .take(300)
            .collect::<String>()
    });
    if rate_limited {
        return PipelineError::RateLimited {
            venue,
            status,
            retry_after_ms,
            message: text,
        };
    }
    let (code, message) = code_and_message(body).unwrap_or((
        i64::from(status),
        if text.is_empty() {
            "empty body".to_string()
        } else {
            text
        },
    ));
    PipelineError::Exchange {
        venue,
        status,
        code,
        message,
    }
}

/// `answered HTML (HTTP 403), not JSON: <title>` when `body` is an HTML page (a CDN's block page, a proxy's error
/// page, a captive portal) rather than the venue's JSON; `None` otherwise.
pub fn html_answer(body: &[u8], status: Option<u16>) -> Option<String> {
    let head = String::from_utf8_lossy(&body[..body.len().min(2048)]).to_ascii_lowercase();
    let start = head.trim_start();
    let is_html = start.starts_with("<!doctype html")
        || start.starts_with("<html")
        || (start.starts_with('<')
            && (head.contains("<html") || head.contains("<body") || head.contains("<title")));
    if !is_html {
        return None;
    }
    let status = status.map(|s| format!(" (HTTP {s})")).unwrap_or_default();
    let text = String::from_utf8_lossy(body);
    let lower = text.to_ascii_lowercase();
    let title = lower
        .find("<title")
        .and_then(|at| lower[at..].find('>').map(|gt| at + gt + 1))
        .and_then(|from| {
            lower[from..]
                .find("</title")
                .map(|len| &text[from..from + len])
        })
        .map(|t| t.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|t| !t.is_empty())
        .map(|t| format!(": \"{}\"", t.chars().take(120).collect::<String>()))
        .unwrap_or_default();
    Some(format!("answered HTML{status}, not JSON{title}"))
}

/// The detail of a body that could not be decoded: what kind of answer it was when it is not JSON at all,
/// otherwise the decoder's message (made readable by the error's display).
pub(crate) fn decode_detail(body: &[u8], error: &serde_json::Error) -> String {
    if let Some(html) = html_answer(body, None) {
        return html;
    }
    if body.iter().all(u8::is_ascii_whitespace) {
        return "empty body, not JSON".to_string();
    }
    error.to_string()
}

/// An answer for another symbol than asked is malformed, not data to store under the wrong instrument.
pub(crate) fn check_symbol(
    inst: &InstrumentRef,
    got: &str,
    what: &'static str,
) -> crate::model::Result<()> {
    if got == inst.native {
        Ok(())
    } else {
        Err(PipelineError::malformed(
            inst.venue,
            what,
            format!("asked for {} but the answer is for '{got}'", inst.native),
        ))
    }
}

/// A transient failure inside a 2xx answer (Bybit's `retCode`s 10006, 10000, 10016), worth a retry.
pub fn retryable_error_in_body(venue: Venue, body: &[u8]) -> Option<PipelineError> {
    net::ResponseClassifier::retryable_error_in_body(spec(venue), body)
}

/// Answers that mean "slow down": 429 everywhere, Binance's 418 IP ban, Bybit's 403 IP limit — but not a 403 page
/// from Bybit's CDN refusing the country, which no amount of waiting fixes.
pub fn is_rate_limit(venue: Venue, status: u16, body: &[u8]) -> bool {
    net::ResponseClassifier::is_rate_limit(spec(venue), status, body)
}

/// A CDN's page refusing the country (Bybit's CloudFront): no amount of waiting fixes it.
pub(crate) fn cdn_refusal(body: &[u8]) -> bool {
    let text = String::from_utf8_lossy(&body[..body.len().min(4096)]).to_ascii_lowercase();
    text.contains("cloudfront") || text.contains("from your country")
}

/// Open interest history granularity; the names are Binance's (`5m` … `1d`), as users type them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OiPeriod {
    M5,
    M15,
    M30,
    H1,
    H2,
    H4,
    H6,
    H12,
    D1,
}

impl OiPeriod {
    const ALL: [OiPeriod; 9] = [
        OiPeriod::M5,
        OiPeriod::M15,
        OiPeriod::M30,
        OiPeriod::H1,
        OiPeriod::H2,
        OiPeriod::H4,
        OiPeriod::H6,
        OiPeriod::H12,
        OiPeriod::D1,
    ];

    pub fn parse(text: &str) -> crate::model::Result<Self> {
        OiPeriod::ALL
            .into_iter()
            .find(|p| p.binance_name() == text.trim())
            .ok_or_else(|| {
                PipelineError::InvalidArgument(format!(
                    "unknown period '{text}': expected one of {}",
                    OiPeriod::ALL.map(|p| p.binance_name()).join(", ")
                ))
            })
    }

    pub const fn binance_name(self) -> &'static str {
        match self {
            OiPeriod::M5 => "5m",
            OiPeriod::M15 => "15m",
            OiPeriod::M30 => "30m",
            OiPeriod::H1 => "1h",
            OiPeriod::H2 => "2h",
            OiPeriod::H4 => "4h",
            OiPeriod::H6 => "6h",
            OiPeriod::H12 => "12h",
            OiPeriod::D1 => "1d",
        }
    }

    /// Bybit's `intervalTime`; Bybit has no 2h, 6h or 12h.
    pub const fn bybit_name(self) -> Option<&'static str> {
        match self {
            OiPeriod::M5 => Some("5min"),
            OiPeriod::M15 => Some("15min"),
            OiPeriod::M30 => Some("30min"),
            OiPeriod::H1 => Some("1h"),
            OiPeriod::H4 => Some("4h"),
            OiPeriod::D1 => Some("1d"),
            OiPeriod::H2 | OiPeriod::H6 | OiPeriod::H12 => None,
        }
    }

    pub const fn millis(self) -> i64 {
        const MINUTE: i64 = 60_000;
        match self {
            OiPeriod::M5 => 5 * MINUTE,
            OiPeriod::M15 => 15 * MINUTE,
            OiPeriod::M30 => 30 * MINUTE,
            OiPeriod::H1 => 60 * MINUTE,
            OiPeriod::H2 => 120 * MINUTE,
            OiPeriod::H4 => 240 * MINUTE,
            OiPeriod::H6 => 360 * MINUTE,
            OiPeriod::H12 => 720 * MINUTE,
            OiPeriod::D1 => 1440 * MINUTE,
        }
    }
}

/// Fills `interval_minutes` of settled funding rows from the spacing of consecutive settlements (history
/// endpoints do not state it). Only the venues' real intervals (1, 2, 4, 8 h) are accepted; a gap in the data is
/// left unknown rather than reported as a 16 h interval. `previous_ms` carries the last settlement across pages.
pub fn fill_funding_intervals(
    rows: &mut [crate::model::FundingRate],
    previous_ms: &mut Option<i64>,
) {
    const KNOWN_MINUTES: [i64; 4] = [60, 120, 240, 480];
    let times: Vec<i64> = rows
        .iter()
        .map(|r| r.ts_event.div_euclid(1_000_000))
        .collect();
    for (i, row) in rows.iter_mut().enumerate() {
        if row.interval_minutes.is_some() {
            continue;
        }
        // The first row of a range has no predecessor: use the spacing to its successor.
        let spacing = match (
            i.checked_sub(1).map(|p| times[p]).or(*previous_ms),
            times.get(i + 1),
        ) {
            (Some(before), _) => times[i] - before,
            (None, Some(after)) => after - times[i],
            (None, None) => continue,
        };
        let minutes = (spacing + 30_000).div_euclid(60_000);
        row.interval_minutes = KNOWN_MINUTES.contains(&minutes).then_some(minutes as u16);
    }
    if let Some(last) = times.last() {
        *previous_ms = Some(*last);
    }
}

/// The `n` names with the largest values (ties by name, so the choice is stable); values that are not finite
/// rank last.
pub fn top_by_value(mut values: Vec<(String, f64)>, n: usize) -> Vec<String> {
    values.retain(|(_, value)| value.is_finite());
    values.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    values.into_iter().take(n).map(|(name, _)| name).collect()
}

/// Next multiple of `interval_ms` strictly after `t_ms` (funding settles on UTC-aligned boundaries).
pub fn next_boundary_ms(t_ms: i64, interval_ms: i64) -> i64 {
    (t_ms.div_euclid(interval_ms) + 1) * interval_ms
}

#[cfg(test)]
pub(crate) mod test_support {
    /// Reads a recorded venue response from `tests/data/fixtures` (provenance in its SOURCES.md).
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
        let banned =
            br#"{"code":-1003,"msg":"Way too many requests; IP banned until 1544570770441."}"#;
        match error_from_status(Venue::Binance, 418, banned, Some(5_000)) {
            PipelineError::RateLimited {
                status: 418,
                retry_after_ms: Some(5_000),
                message,
                ..
            } => {
                assert!(message.contains("IP banned"))
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            error_from_status(Venue::Bybit, 403, b"access too frequent", None),
            PipelineError::RateLimited { status: 403, .. }
        ));
        let geo_block = b"<HTML><HEAD><TITLE>ERROR: The request could not be satisfied</TITLE></HEAD><BODY>The Amazon \
            CloudFront distribution is configured to block access from your country.</BODY></HTML>";
        let blocked = error_from_status(Venue::Bybit, 403, geo_block, None);
        assert!(matches!(blocked, PipelineError::Exchange { code: 403, .. }));
        assert_eq!(
            blocked.to_string(),
            "bybit: exchange error 403 (HTTP 403): answered HTML (HTTP 403), not JSON: \"ERROR: The request could \
             not be satisfied\""
        );
        for (page, status) in [
            (
                &b"<!DOCTYPE html><html><head><title>Just a moment...</title></head></html>"[..],
                503,
            ),
            (b"\n  <html><body>502 Bad Gateway</body></html>", 502),
            (b"<HEAD><TITLE>Access Denied</TITLE></HEAD>", 403),
        ] {
            for venue in Venue::ALL {
                let text = error_from_status(venue, status, page, None).to_string();
                assert!(
                    text.contains(&format!("answered HTML (HTTP {status}), not JSON")),
                    "{text}"
                );
                assert!(!text.contains('<'), "{text}");
            }
        }
        assert_eq!(html_answer(b"{\"code\":1}", Some(200)), None);
        assert_eq!(html_answer(b"<5 is not html", Some(200)), None);
        // 403 is not a rate limit on Binance (WAF refusal): an exchange error.
        assert!(matches!(
            error_from_status(Venue::Binance, 403, b"", None),
            PipelineError::Exchange { code: 403, .. }
        ));
        match error_from_status(
            Venue::Binance,
            400,
            br#"{"code":-1121,"msg":"Invalid symbol."}"#,
            None,
        ) {
            PipelineError::Exchange {
                code: -1121,
                status: 400,
                message,
                ..
            } => assert_eq!(message, "Invalid symbol."),
            other => panic!("{other:?}"),
        }
        match error_from_status(
            Venue::Hyperliquid,
            422,
            b"Failed to deserialize the JSON body",
            None,
        ) {
            PipelineError::Exchange {
                code: 422, message, ..
            } => assert!(message.starts_with("Failed to deserialize")),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn bybit_transient_errors_in_200_bodies() {
        let busy = br#"{"retCode":10006,"retMsg":"Too many visits!","result":{},"retExtInfo":{},"time":1}"#;
        assert!(matches!(
            retryable_error_in_body(Venue::Bybit, busy),
            Some(PipelineError::RateLimited { status: 200, .. })
        ));
        let down = br#"{"retCode":10016,"retMsg":"Server error.","result":{},"time":1}"#;
        assert!(matches!(
            retryable_error_in_body(Venue::Bybit, down),
            Some(PipelineError::Exchange { code: 10016, .. })
        ));
        let invalid =
            br#"{"retCode":10001,"retMsg":"params error: symbol invalid","result":{},"time":1}"#;
        assert!(
            retryable_error_in_body(Venue::Bybit, invalid).is_none(),
            "a bad request is not retried"
        );
        assert!(retryable_error_in_body(Venue::Bybit, br#"{"retCode":0,"retMsg":"OK"}"#).is_none());
        assert!(retryable_error_in_body(Venue::Binance, busy).is_none());
    }

    #[test]
    fn top_by_value_ranks_descending_and_drops_nan() {
        let values = vec![
            ("A".into(), 1.0),
            ("B".into(), f64::NAN),
            ("C".into(), 3.0),
            ("D".into(), 3.0),
            ("E".into(), 2.0),
        ];
        assert_eq!(top_by_value(values.clone(), 3), vec!["C", "D", "E"]);
        assert_eq!(top_by_value(values, 10), vec!["C", "D", "E", "A"]);
    }

    #[test]
    fn funding_boundaries() {
        let hour = 3_600_000;
        assert_eq!(
            next_boundary_ms(1_597_370_495_002, 8 * hour),
            1_597_392_000_000
        );
        assert_eq!(next_boundary_ms(10 * hour, hour), 11 * hour);
    }
}
