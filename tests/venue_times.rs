//! Venue times that no venue sends: a timestamp in microseconds (a venue changing its unit), one past 2262 (beyond
//! `i64` nanoseconds), a negative one. Every venue parser, REST and stream, must answer each with a typed
//! `Malformed` error naming the field, never a saturated, wrapped or silently shifted row. Runs in release builds
//! too (`cargo test --release --test venue_times`): nothing here relies on debug overflow checks.

use serde_json::Value;

use ccxt_pipeline_rs::model::{InstrumentRef, PipelineError, UnifiedSymbol, Venue};
use ccxt_pipeline_rs::venue::hyperliquid::fills::parse_user_fills;
use ccxt_pipeline_rs::venue::stream::{liquidation_protocol, Inbound, SymbolNames};
use ccxt_pipeline_rs::venue::{binance, bybit, hyperliquid};

/// The keys under which the venues send times (ms since the epoch, as numbers or strings).
const TIME_KEYS: &[&str] = &[
    "time",
    "timestamp",
    "fundingTime",
    "nextFundingTime",
    "fundingRateTimestamp",
    "E",
    "T",
    "ts",
    "updatedTime",
];

const NOW_NS: i64 = 1_764_072_000_000_000_000;

fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/data/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn inst(venue: Venue, symbol: &str) -> InstrumentRef {
    InstrumentRef::new(venue, &UnifiedSymbol::parse(symbol).unwrap())
}

/// `body` with every time field replaced by `bad(original ms)`, keeping numbers as numbers and strings as strings;
/// also how many fields were replaced.
fn with_times(body: &[u8], bad: BadTime) -> (Vec<u8>, usize) {
    fn walk(value: &mut Value, bad: BadTime, replaced: &mut usize) {
        match value {
            Value::Object(map) => {
                for (key, v) in map.iter_mut() {
                    let time = TIME_KEYS.contains(&key.as_str());
                    match v {
                        Value::Number(n) if time && n.as_i64().is_some() => {
                            *v = Value::from(bad(n.as_i64().unwrap_or_default()));
                            *replaced += 1;
                        }
                        Value::String(s) if time && s.parse::<i64>().is_ok() => {
                            *v = Value::from(bad(s.parse().unwrap_or_default()).to_string());
                            *replaced += 1;
                        }
                        _ => walk(v, bad, replaced),
                    }
                }
            }
            Value::Array(items) => items.iter_mut().for_each(|v| walk(v, bad, replaced)),
            _ => {}
        }
    }
    let mut value: Value = serde_json::from_slice(body).unwrap();
    let mut replaced = 0;
    walk(&mut value, bad, &mut replaced);
    (serde_json::to_vec(&value).unwrap(), replaced)
}

type Parser = Box<dyn Fn(&[u8]) -> Result<usize, PipelineError>>;
/// Turns a venue's time (ms) into one no venue sends.
type BadTime = fn(i64) -> i64;

/// (fixture, what, parser returning the number of rows parsed).
fn parsers() -> Vec<(&'static str, &'static str, Parser)> {
    let b = inst(Venue::Binance, "BTCUSDT-PERP");
    let y = inst(Venue::Bybit, "BTCUSDT-PERP");
    let h = inst(Venue::Hyperliquid, "BTCUSDT-PERP");
    let stream = |venue: Venue| -> Parser {
        Box::new(move |body: &[u8]| {
            let protocol = liquidation_protocol(venue).expect("a WebSocket venue");
            match protocol.parse(body, NOW_NS, &mut SymbolNames::new(venue))? {
                Inbound::Liquidations { rows, .. } => Ok(rows.len()),
                _ => Ok(0),
            }
        })
    };
    let (b1, b2, b3, b4) = (b.clone(), b.clone(), b.clone(), b.clone());
    let (y1, y2, y3) = (y.clone(), y.clone(), y.clone());
    vec![
        (
            "binance/open_interest__nautilus-py.json",
            "binance open interest",
            Box::new(move |body| binance::parse_open_interest(body, &b1, NOW_NS).map(|_| 1)),
        ),
        (
            "binance/premium_index_single__nautilus-py.json",
            "binance premium index",
            Box::new(move |body| binance::parse_premium_index(body, &b2, NOW_NS, 480).map(|_| 1)),
        ),
        (
            "binance/open_interest_hist__nautilus-py.json",
            "binance open interest history",
            Box::new(move |body| binance::parse_open_interest_history(body, &b3).map(|r| r.len())),
        ),
        (
            "binance/funding_rate_history__binance-docs.json",
            "binance funding history",
            Box::new(move |body| binance::parse_funding_rate_history(body, &b4).map(|r| r.len())),
        ),
        (
            "bybit/open_interest__bybit-docs.json",
            "bybit open interest history",
            Box::new(move |body| {
                bybit::parse_open_interest_history(body, &y1).map(|p| p.rows.len())
            }),
        ),
        (
            "bybit/funding_history__nautilus-rs.json",
            "bybit funding history",
            Box::new(move |body| {
                bybit::parse_funding_rate_history(body, &y2).map(|p| p.rows.len())
            }),
        ),
        (
            "bybit/tickers_linear__nautilus-py.json",
            "bybit ticker (funding)",
            Box::new(move |body| bybit::parse_funding_rate(body, &y3, NOW_NS).map(|_| 1)),
        ),
        (
            "hyperliquid/funding_history__nautilus-rs.json",
            "hyperliquid funding history",
            Box::new(move |body| {
                hyperliquid::parse_funding_rate_history(body, &h).map(|r| r.len())
            }),
        ),
        (
            "binance/ws_force_order__nautilus-rs.json",
            "binance forceOrder frame",
            stream(Venue::Binance),
        ),
        (
            "bybit/ws_all_liquidation__bybit-docs.json",
            "bybit allLiquidation frame",
            stream(Venue::Bybit),
        ),
        (
            "hyperliquid/ws_user_fill_liquidation__nautilus-rs.json",
            "hyperliquid fills",
            Box::new(|body| {
                // The fixture is the WebSocket message; `userFillsByTime` answers its `data.fills` array.
                let message: Value = serde_json::from_slice(body).unwrap();
                let fills = serde_json::to_vec(&message["data"]["fills"]).unwrap();
                let user = "0x360878d351f05975e25f1807a27895e1e5e004fb";
                parse_user_fills(
                    &fills,
                    user,
                    NOW_NS,
                    &mut SymbolNames::new(Venue::Hyperliquid),
                )
                .map(|p| p.liquidations.len())
            }),
        ),
    ]
}

#[test]
fn impossible_venue_times_are_typed_errors_in_every_parser() {
    let cases: [(&str, BadTime); 3] = [
        ("in microseconds", |ms| ms.saturating_mul(1_000)),
        ("past 2262", |_| 9_300_000_000_000),
        ("negative", |_| -1),
    ];
    for (name, what, parse) in parsers() {
        let body = fixture(name);
        let rows = parse(&body).unwrap_or_else(|e| panic!("{what}: the fixture itself fails: {e}"));
        assert!(rows > 0, "{what}: the fixture parses to no rows");
        for (case, bad) in cases {
            let (edited, replaced) = with_times(&body, bad);
            assert!(replaced > 0, "{what}: no time field found");
            match parse(&edited) {
                Err(PipelineError::Malformed { .. }) => {}
                other => panic!("{what}, a time {case}: expected a Malformed error, got {other:?}"),
            }
        }
    }
}
