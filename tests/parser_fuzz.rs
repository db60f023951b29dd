//! Property tests: whatever bytes a venue (or a proxy in front of it) sends, no header or body parser and no pager
//! panics. Errors are fine; a panic is a bug. Inputs are arbitrary bytes, real fixtures with random edits, and real
//! fixtures whose every number is replaced by an extreme one. Case counts are bounded so the suite stays fast.

use std::time::Duration;

use proptest::prelude::*;
use proptest::test_runner::Config;
use serde_json::Value;

use ccxt_pipeline_rs::model::{InstrumentRef, UnifiedSymbol, Venue};
use ccxt_pipeline_rs::net::http::{parse_retry_after, MAX_RETRY_AFTER};
use ccxt_pipeline_rs::venue::paging::Pager;
use ccxt_pipeline_rs::venue::{self, binance, bybit, hyperliquid, OiPeriod};

const FIXTURES: &[&str] = &[
    "binance/error_1003_ip_banned__binance-net-issue.json",
    "binance/exchange_info_excerpt__nautilus-py.json",
    "binance/funding_rate_history__binance-docs.json",
    "binance/funding_rate_history__nautilus-py.json",
    "binance/open_interest__nautilus-py.json",
    "binance/open_interest_hist__nautilus-py.json",
    "binance/premium_index_all__binance-docs.json",
    "binance/premium_index_single__nautilus-py.json",
    "bybit/error_10001_symbol_invalid__bybit-java-api-issue60.json",
    "bybit/funding_history__bybit-docs.json",
    "bybit/funding_history__nautilus-rs.json",
    "bybit/instruments_info_linear__bybit-docs.json",
    "bybit/open_interest__bybit-docs.json",
    "bybit/tickers_linear__nautilus-py.json",
    "hyperliquid/funding_history__hl-python-sdk-cassette.json",
    "hyperliquid/funding_history__nautilus-rs.json",
    "hyperliquid/meta__hl-docs.json",
    "hyperliquid/meta_and_asset_ctxs__hl-docs.json",
    "hyperliquid/meta_perp_sample__nautilus-rs.json",
];

fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/data/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn config() -> Config {
    Config {
        cases: 160,
        failure_persistence: None,
        ..Config::default()
    }
}

fn inst(venue: Venue, symbol: &str) -> InstrumentRef {
    InstrumentRef::new(venue, &UnifiedSymbol::parse(symbol).unwrap())
}

/// Feeds `body` to every REST parser of every venue and to a pager of every history endpoint (whose arithmetic on
/// the parsed times must not overflow either). Returns nothing: the property is that this returns at all.
fn parse_everything(body: &[u8]) {
    let now = 1_764_072_000_000_000_000;
    for symbol in ["BTCUSDT-PERP", "ETHUSDT-PERP"] {
        let b = inst(Venue::Binance, symbol);
        let y = inst(Venue::Bybit, symbol);
        let h = inst(Venue::Hyperliquid, symbol);
        let _ = binance::error_code_and_message(body);
        let _ = binance::parse_exchange_info(body);
        // Whatever parses carries a plausible venue time (2009..2200), never a saturated or negative one.
        let plausible = |ns: i64| {
            use ccxt_pipeline_rs::model::time::{VENUE_MAX_MS, VENUE_MIN_MS};
            assert!(
                (VENUE_MIN_MS * 1_000_000..VENUE_MAX_MS * 1_000_000).contains(&ns),
                "{ns} from {}",
                String::from_utf8_lossy(body)
            );
        };
        if let Ok(row) = binance::parse_open_interest(body, &b, now) {
            plausible(row.ts_event);
        }
        if let Ok(row) = bybit::parse_open_interest(body, &y, now) {
            plausible(row.ts_event);
        }
        if let Ok(row) = bybit::parse_funding_rate(body, &y, now) {
            plausible(row.ts_event);
            row.next_funding_time.into_iter().for_each(plausible);
        }
        if let Ok(row) = binance::parse_premium_index(body, &b, now, 480) {
            plausible(row.ts_event);
            row.next_funding_time.into_iter().for_each(plausible);
        }
        for rows in [
            binance::parse_open_interest_history(body, &b)
                .map(|r| r.iter().map(|r| r.ts_event).collect()),
            binance::parse_funding_rate_history(body, &b)
                .map(|r| r.iter().map(|r| r.ts_event).collect()),
            hyperliquid::parse_funding_rate_history(body, &h)
                .map(|r| r.iter().map(|r| r.ts_event).collect()),
            bybit::parse_open_interest_history(body, &y)
                .map(|p| p.rows.iter().map(|r| r.ts_event).collect()),
            bybit::parse_funding_rate_history(body, &y)
                .map(|p| p.rows.iter().map(|r| r.ts_event).collect()),
        ] {
            let rows: Vec<i64> = rows.unwrap_or_default();
            rows.into_iter().for_each(plausible);
        }
        let _ = binance::parse_open_interest(body, &b, now);
        let _ = binance::parse_premium_index(body, &b, now, 480);
        let _ = binance::parse_funding_info(body);
        let _ = binance::parse_open_interest_history(body, &b);
        let _ = binance::parse_funding_rate_history(body, &b);
        let _ = bybit::error_code_and_message(body);
        let _ = bybit::parse_instruments(body);
        let _ = bybit::parse_open_interest(body, &y, now);
        let _ = bybit::parse_funding_rate(body, &y, now);
        let _ = bybit::parse_open_interest_history(body, &y);
        let _ = bybit::parse_funding_rate_history(body, &y);
        let _ = hyperliquid::parse_meta(body);
        let _ = hyperliquid::parse_open_interest(body, &h, now);
        let _ = hyperliquid::parse_funding_rate(body, &h, now);
        let _ = hyperliquid::parse_funding_rate_history(body, &h);
        for venue in Venue::ALL {
            for status in [200, 400, 403, 418, 429, 500] {
                let _ = venue::error_from_status(venue, status, body, Some(u64::MAX));
                let _ = venue::is_rate_limit(venue, status, body);
            }
            let _ = venue::retryable_error_in_body(venue, body);
        }
        // Whole ranges, so that times anywhere (negative, far future) land in or around them.
        let range = (i64::MIN / 1_000_000 + 1, i64::MAX / 1_000_000 - 1);
        type Run<'a> = Box<dyn FnOnce(&[u8]) + 'a>;
        let pagers: Vec<Run<'_>> = vec![
            Box::new(|body| {
                drive(
                    binance::open_interest_history_pager(b.clone(), OiPeriod::M5, range, 500),
                    body,
                )
            }),
            Box::new(|body| {
                drive(
                    binance::funding_rate_history_pager(b.clone(), range, 1000),
                    body,
                )
            }),
            Box::new(|body| {
                drive(
                    bybit::open_interest_history_pager(y.clone(), OiPeriod::H1, range, 200)
                        .unwrap(),
                    body,
                )
            }),
            Box::new(|body| {
                drive(
                    bybit::funding_rate_history_pager(y.clone(), range, 200),
                    body,
                )
            }),
            Box::new(|body| {
                drive(
                    hyperliquid::funding_rate_history_pager(h.clone(), range, 500),
                    body,
                )
            }),
        ];
        for pager in pagers {
            pager(body);
        }
    }
}

/// Up to three pages of the same body, then the questions a caller asks at the end.
fn drive<P: Pager>(mut pager: P, body: &[u8]) {
    for _ in 0..3 {
        if pager.next_request().is_none() || pager.on_page(body).is_err() {
            break;
        }
    }
    let _ = pager.progress();
    let _ = pager.warnings();
}

/// Numbers and strings that break naive arithmetic or conversions.
const EXTREMES: &[&str] = &[
    "-5",
    "0",
    "-1",
    "18446744073709551615",
    "9223372036854775807",
    "-9223372036854775808",
    "9223372036854775",
    "1e400",
    "-1e400",
    "1.7976931348623157e308",
    "\"NaN\"",
    "\"inf\"",
    "\"-0\"",
    "\"\"",
    "\"1764072000000000\"",
    "\"99999999999999999999999\"",
    "null",
    "[]",
    "{}",
    "\"é\"",
];

/// The fixture with each scalar replaced by the extreme `picks` chooses (cycling), others kept.
fn with_extremes(value: &Value, picks: &[usize], next: &mut usize) -> String {
    match value {
        Value::Array(items) => format!(
            "[{}]",
            items
                .iter()
                .map(|v| with_extremes(v, picks, next))
                .collect::<Vec<_>>()
                .join(",")
        ),
        Value::Object(map) => format!(
            "{{{}}}",
            map.iter()
                .map(|(k, v)| format!(
                    "{}:{}",
                    Value::String(k.clone()),
                    with_extremes(v, picks, next)
                ))
                .collect::<Vec<_>>()
                .join(",")
        ),
        scalar => {
            let pick = picks[*next % picks.len()];
            *next += 1;
            // Index past the list: keep the original value, so some fields stay valid and parsing goes deeper.
            EXTREMES
                .get(pick)
                .map_or_else(|| scalar.to_string(), |e| e.to_string())
        }
    }
}

#[derive(Debug, Clone)]
enum Edit {
    Truncate(usize),
    Replace(usize, u8),
    Delete(usize, usize),
    Insert(usize, &'static str),
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        any::<usize>().prop_map(Edit::Truncate),
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Edit::Replace(i, b)),
        (any::<usize>(), 1usize..40).prop_map(|(i, n)| Edit::Delete(i, n)),
        (any::<usize>(), proptest::sample::select(EXTREMES)).prop_map(|(i, s)| Edit::Insert(i, s)),
    ]
}

fn apply(mut body: Vec<u8>, edits: &[Edit]) -> Vec<u8> {
    for edit in edits {
        let len = body.len().max(1);
        match *edit {
            Edit::Truncate(i) => body.truncate(i % len),
            Edit::Replace(i, b) => {
                if !body.is_empty() {
                    let i = i % body.len();
                    body[i] = b;
                }
            }
            Edit::Delete(i, n) => {
                let i = i % len;
                let end = (i + n).min(body.len());
                if i < end {
                    body.drain(i..end);
                }
            }
            Edit::Insert(i, s) => {
                let i = i % (body.len() + 1);
                body.splice(i..i, s.bytes());
            }
        }
    }
    body
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn arbitrary_bytes_never_panic_a_parser(body in proptest::collection::vec(any::<u8>(), 0..512)) {
        parse_everything(&body);
    }

    #[test]
    fn edited_fixtures_never_panic_a_parser(
        which in 0..FIXTURES.len(),
        edits in proptest::collection::vec(edit(), 1..6),
    ) {
        parse_everything(&apply(fixture(FIXTURES[which]), &edits));
    }

    #[test]
    fn extreme_values_in_fixtures_never_panic_a_parser(
        which in 0..FIXTURES.len(),
        picks in proptest::collection::vec(0..EXTREMES.len() * 2, 1..12),
    ) {
        let value: Value = serde_json::from_slice(&fixture(FIXTURES[which])).unwrap();
        let body = with_extremes(&value, &picks, &mut 0);
        parse_everything(body.as_bytes());
    }

    #[test]
    fn retry_after_of_any_bytes_is_bounded(value in proptest::collection::vec(any::<u8>(), 0..40)) {
        if let Some(wait) = parse_retry_after(&value) {
            prop_assert!(wait <= MAX_RETRY_AFTER);
        }
    }

    #[test]
    fn retry_after_of_any_number_is_bounded_and_exact_below_the_cap(seconds in any::<u64>()) {
        let wait = parse_retry_after(seconds.to_string().as_bytes()).unwrap();
        prop_assert_eq!(wait, Duration::from_secs(seconds).min(MAX_RETRY_AFTER));
        // The instant after it is representable: no "overflow when adding duration to instant".
        let _ = ccxt_pipeline_rs::net::http::instant_after(wait);
        let _ = ccxt_pipeline_rs::net::http::instant_after(Duration::MAX);
    }
}

#[test]
fn retry_after_forms() {
    for (text, expected) in [
        ("0", Some(Duration::ZERO)),
        (" 7 ", Some(Duration::from_secs(7))),
        ("18446744073709551615", Some(MAX_RETRY_AFTER)),
        ("99999999999999999999999999", Some(MAX_RETRY_AFTER)),
        ("-1", None),
        ("1.5", None),
        ("", None),
        ("Wed, 21 Oct 2015 07:28:00 GMT", None),
        ("1e9", None),
    ] {
        assert_eq!(parse_retry_after(text.as_bytes()), expected, "{text:?}");
    }
    assert_eq!(parse_retry_after(&[0xff, b'1']), None);
}
