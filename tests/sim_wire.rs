//! The simulator over real HTTP: bodies have the fixtures' shapes (key sets and JSON types, recursively),
//! errors are the venues' own, rate limits, latency and faults behave as documented, and served values equal
//! the ground truth in `sim::data`.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use ccxt_pipeline_rs::model::Venue;
use ccxt_pipeline_rs::sim::{data, limit_group, Fault, SimConfig, SimServer};
use reqwest::header::HeaderMap;
use serde_json::{json, Value};

const SEED: u64 = 42;
/// 2026-03-14T15:09:26.535Z: a frozen clock that is not on any funding or minute boundary.
const FROZEN_MS: i64 = 1_773_500_966_535;
const COINS: [&str; 10] = [
    "BTC", "ETH", "SOL", "XRP", "DOGE", "1000PEPE", "BNB", "ADA", "AVAX", "LINK",
];
const PERPETUAL_SYMBOLS: [&str; 10] = [
    "BTCUSDT",
    "ETHUSDT",
    "SOLUSDT",
    "XRPUSDT",
    "DOGEUSDT",
    "1000PEPEUSDT",
    "BNBUSDT",
    "ADAUSDT",
    "AVAXUSDT",
    "LINKUSDT",
];
const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 24 * HOUR_MS;

// ---------------------------------------------------------------------------------------------------------
// Harness

struct Sim {
    server: SimServer,
    client: reqwest::Client,
}

async fn start(config: SimConfig) -> Sim {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let server = SimServer::start(config, 0)
        .await
        .expect("simulator binds a free port");
    // `no_proxy`: a proxy configured in the environment must not intercept loopback traffic.
    let client = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("HTTP client");
    Sim { server, client }
}

async fn start_default() -> Sim {
    start(SimConfig {
        seed: SEED,
        ..SimConfig::default()
    })
    .await
}

struct Answer {
    status: u16,
    headers: HeaderMap,
    body: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|error| panic!("not JSON ({error}): {}", self.body))
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|value| value.to_str().ok())
    }
}

impl Sim {
    fn url(&self, venue: Venue, path: &str) -> String {
        format!("{}{path}", self.server.base_url(venue))
    }

    async fn get(&self, venue: Venue, path: &str) -> Answer {
        read(self.client.get(self.url(venue, path)).send().await).await
    }

    async fn info(&self, body: &str) -> Answer {
        let request = self
            .client
            .post(self.url(Venue::Hyperliquid, "/info"))
            .header("Content-Type", "application/json")
            .body(body.to_owned());
        read(request.send().await).await
    }
}

async fn read(sent: reqwest::Result<reqwest::Response>) -> Answer {
    let response = sent.expect("the simulator answers");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.text().await.expect("a readable body");
    Answer {
        status,
        headers,
        body,
    }
}

fn fixture(path: &str) -> Value {
    let full = format!("{}/tests/data/fixtures/{path}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&full).unwrap_or_else(|error| panic!("{full}: {error}"));
    serde_json::from_str(&text).unwrap_or_else(|error| panic!("{full}: {error}"))
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Where `actual` departs from the shape of the fixture sample `expected`: objects need the same key set, values
/// the same JSON type, recursively. Each element of an array must match one of the fixture array's elements
/// (fixtures mix element shapes, e.g. Binance filters or Hyperliquid's delisted asset with null prices); an
/// empty served array only matches an empty fixture array, so nothing passes unchecked.
fn shape_mismatch(actual: &Value, expected: &Value, path: &str) -> Option<String> {
    match (actual, expected) {
        (Value::Object(served), Value::Object(sample)) => {
            let missing: Vec<&String> = sample
                .keys()
                .filter(|key| !served.contains_key(*key))
                .collect();
            let unexpected: Vec<&String> = served
                .keys()
                .filter(|key| !sample.contains_key(*key))
                .collect();
            if !missing.is_empty() || !unexpected.is_empty() {
                return Some(format!(
                    "{path}: missing keys {missing:?}, unexpected keys {unexpected:?}"
                ));
            }
            served.iter().find_map(|(key, value)| {
                shape_mismatch(value, &sample[key], &format!("{path}.{key}"))
            })
        }
        (Value::Array(served), Value::Array(samples)) => {
            if served.is_empty() != samples.is_empty() {
                return Some(format!(
                    "{path}: {} elements served, {} in the fixture",
                    served.len(),
                    samples.len()
                ));
            }
            served.iter().enumerate().find_map(|(index, element)| {
                let element_path = format!("{path}[{index}]");
                let mismatches: Vec<String> = samples
                    .iter()
                    .filter_map(|sample| shape_mismatch(element, sample, &element_path))
                    .collect();
                (mismatches.len() == samples.len()).then(|| mismatches.join("\n  or "))
            })
        }
        _ if kind(actual) == kind(expected) => None,
        _ => Some(format!(
            "{path}: {} served, {} in the fixture",
            kind(actual),
            kind(expected)
        )),
    }
}

fn assert_same_shape(actual: &Value, expected: &Value, what: &str) {
    if let Some(mismatch) = shape_mismatch(actual, expected, what) {
        panic!("{what} differs from its fixture:\n  {mismatch}\nserved: {actual}");
    }
}

fn number(value: &Value) -> f64 {
    value
        .as_str()
        .and_then(|text| text.parse().ok())
        .unwrap_or_else(|| panic!("not a decimal string: {value}"))
}

fn wall_clock_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_millis() as u64)
}

/// Rate-limit windows are aligned to the wall clock: wait for the next window unless `needed` is left of this one.
async fn ensure_window_time_left(window_ms: u64, needed: Duration) {
    let left_ms = window_ms - wall_clock_ms() % window_ms;
    if left_ms < needed.as_millis() as u64 {
        tokio::time::sleep(Duration::from_millis(left_ms + 20)).await;
    }
}

// ---------------------------------------------------------------------------------------------------------
// Wire formats

#[test]
fn the_shape_check_catches_what_it_should() {
    let sample = json!({"a": "1", "list": [{"x": 1}, {"y": null}]});
    assert_eq!(
        shape_mismatch(
            &json!({"a": "2", "list": [{"y": null}, {"x": 5}]}),
            &sample,
            "$"
        ),
        None
    );
    assert!(
        shape_mismatch(&json!({"a": 1, "list": [{"x": 1}]}), &sample, "$").is_some(),
        "number for string"
    );
    assert!(
        shape_mismatch(&json!({"a": "1", "list": []}), &sample, "$").is_some(),
        "unchecked empty list"
    );
    assert!(
        shape_mismatch(&json!({"a": "1", "list": [{"z": 1}]}), &sample, "$").is_some(),
        "unknown element"
    );
    assert!(
        shape_mismatch(&json!({"a": "1"}), &sample, "$").is_some(),
        "missing key"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn binance_bodies_match_the_fixtures() {
    let sim = start_default().await;

    let ping = sim.get(Venue::Binance, "/fapi/v1/ping").await;
    assert_eq!((ping.status, ping.json()), (200, json!({})));
    let time = sim.get(Venue::Binance, "/fapi/v1/time").await;
    assert!(time.json()["serverTime"].is_i64());

    let info = sim.get(Venue::Binance, "/fapi/v1/exchangeInfo").await;
    assert_eq!(info.status, 200);
    assert_eq!(info.header("content-type"), Some("application/json"));
    assert!(info.header("x-mbx-used-weight-1m").is_some());
    let info = info.json();
    assert_same_shape(
        &info,
        &fixture("binance/exchange_info_excerpt__nautilus-py.json"),
        "exchangeInfo",
    );
    assert_eq!(
        info["rateLimits"][0],
        json!({"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 2400})
    );
    let listed: Vec<(&str, &str)> = info["symbols"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|symbol| {
            (
                symbol["symbol"].as_str().unwrap_or(""),
                symbol["contractType"].as_str().unwrap_or(""),
            )
        })
        .collect();
    let mut expected: Vec<(&str, &str)> = PERPETUAL_SYMBOLS
        .iter()
        .map(|symbol| (*symbol, "PERPETUAL"))
        .collect();
    expected.push(("BTCUSDT_261225", "CURRENT_QUARTER"));
    assert_eq!(listed, expected);

    let open_interest = sim
        .get(Venue::Binance, "/fapi/v1/openInterest?symbol=BTCUSDT")
        .await
        .json();
    assert_same_shape(
        &open_interest,
        &fixture("binance/open_interest__nautilus-py.json"),
        "openInterest",
    );

    let single = sim
        .get(Venue::Binance, "/fapi/v1/premiumIndex?symbol=ETHUSDT")
        .await
        .json();
    assert_same_shape(
        &single,
        &fixture("binance/premium_index_single__nautilus-py.json"),
        "premiumIndex?symbol",
    );
    assert_eq!(single["symbol"], "ETHUSDT");

    let all = sim.get(Venue::Binance, "/fapi/v1/premiumIndex").await;
    let used: u64 = all
        .header("x-mbx-used-weight-1m")
        .and_then(|used| used.parse().ok())
        .unwrap_or(0);
    assert!(used >= 10, "the weight-10 request is counted: {used}");
    let all = all.json();
    assert_same_shape(
        &all,
        &fixture("binance/premium_index_all__binance-docs.json"),
        "premiumIndex",
    );
    let symbols: Vec<&str> = all
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|item| item["symbol"].as_str())
        .collect();
    assert_eq!(symbols, PERPETUAL_SYMBOLS);

    let funding_info = sim.get(Venue::Binance, "/fapi/v1/fundingInfo").await.json();
    assert_eq!(
        funding_info,
        json!([{
            "symbol": "DOGEUSDT",
            "adjustedFundingRateCap": "0.02000000",
            "adjustedFundingRateFloor": "-0.02000000",
            "fundingIntervalHours": 4,
            "disclaimer": false,
        }])
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn bybit_bodies_match_the_fixtures() {
    let sim = start_default().await;

    let tickers = sim
        .get(Venue::Bybit, "/v5/market/tickers?category=linear")
        .await;
    assert_eq!(tickers.header("content-type"), Some("application/json"));
    let tickers = tickers.json();
    assert_same_shape(
        &tickers,
        &fixture("bybit/tickers_inverse__bybit-docs.json"),
        "tickers",
    );
    assert_eq!(tickers["result"]["category"], "linear");
    assert_eq!(
        tickers["result"]["list"].as_array().map(Vec::len),
        Some(PERPETUAL_SYMBOLS.len())
    );
    let doge = &tickers["result"]["list"][4];
    assert_eq!(
        (&doge["symbol"], &doge["fundingIntervalHour"]),
        (&json!("DOGEUSDT"), &json!("4"))
    );

    let one = sim
        .get(
            Venue::Bybit,
            "/v5/market/tickers?category=linear&symbol=SOLUSDT",
        )
        .await
        .json();
    assert_same_shape(
        &one,
        &fixture("bybit/tickers_inverse__bybit-docs.json"),
        "tickers?symbol",
    );
    assert_eq!(one["result"]["list"][0]["symbol"], "SOLUSDT");

    let instruments = sim
        .get(Venue::Bybit, "/v5/market/instruments-info?category=linear")
        .await
        .json();
    assert_same_shape(
        &instruments,
        &fixture("bybit/instruments_info_linear__bybit-docs.json"),
        "instruments-info",
    );
    assert_eq!(instruments["result"]["nextPageCursor"], "");
    assert_eq!(instruments["result"]["list"][0]["fundingInterval"], 480);

    let invalid = sim
        .get(
            Venue::Bybit,
            "/v5/market/tickers?category=linear&symbol=NOPEUSDT",
        )
        .await;
    assert_eq!(invalid.status, 200, "Bybit reports errors in the envelope");
    let mut invalid = invalid.json();
    let mut captured = fixture("bybit/error_10001_symbol_invalid__bybit-java-api-issue60.json");
    assert_same_shape(&invalid, &captured, "unknown symbol");
    // Identical to the live capture except for the timestamp.
    invalid["time"] = Value::Null;
    captured["time"] = Value::Null;
    assert_eq!(invalid, captured);
}

#[tokio::test(flavor = "multi_thread")]
async fn hyperliquid_bodies_match_the_fixtures() {
    let sim = start_default().await;
    // The `metaAndAssetCtxs` docs example shows `collateralToken` in the meta object; the `meta` example omits it.
    let mut expected_meta = fixture("hyperliquid/meta__hl-docs.json");
    expected_meta["collateralToken"] =
        fixture("hyperliquid/meta_and_asset_ctxs__hl-docs.json")[0]["collateralToken"].clone();
    let live_contexts = fixture("hyperliquid/ws_all_dexs_asset_ctxs_trimmed__nautilus-rs.json")
        ["data"]["ctxs"][0][1]
        .clone();

    let meta = sim.info(r#"{"type":"meta"}"#).await;
    assert_eq!(
        (meta.status, meta.header("content-type")),
        (200, Some("application/json"))
    );
    let meta = meta.json();
    assert_same_shape(&meta, &expected_meta, "meta");
    let names: Vec<&str> = meta["universe"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|asset| asset["name"].as_str())
        .collect();
    assert_eq!(
        names,
        ["BTC", "ETH", "SOL", "XRP", "DOGE", "kPEPE", "BNB", "ADA", "AVAX", "LINK", "LOOM"]
    );
    assert_eq!(meta["universe"][10]["isDelisted"], true);

    let both = sim.info(r#"{"type":"metaAndAssetCtxs"}"#).await.json();
    assert_eq!(both.as_array().map(Vec::len), Some(2), "[meta, contexts]");
    assert_eq!(both[0], meta);
    assert_same_shape(&both[1], &live_contexts, "asset contexts");
    assert_eq!(
        both[1].as_array().map(Vec::len),
        Some(names.len()),
        "one context per universe entry"
    );
    assert_eq!(
        both[1][10]["openInterest"], "0.0",
        "the delisted market has no open interest"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn hyperliquid_answers_the_spot_and_dex_lists_ccxt_loads() {
    // ccxt's default market types (spot, swap, HIP-3) and `fetchCurrencies` ask for these besides the perps.
    let sim = start_default().await;
    let spot = sim.info(r#"{"type":"spotMeta"}"#).await;
    assert_eq!(
        (spot.status, spot.header("content-type")),
        (200, Some("application/json"))
    );
    let spot = spot.json();
    let meta = sim.info(r#"{"type":"meta"}"#).await.json();
    assert_eq!(spot["universe"], json!([]), "no spot pairs are simulated");
    assert_eq!(
        spot["tokens"],
        json!([{
            "name": "USDC",
            "szDecimals": 8,
            "weiDecimals": 8,
            "index": meta["collateralToken"],
            "tokenId": "0x6d1e7cde53ba9467b783cb7c530ce054",
            "isCanonical": true,
            "evmContract": null,
            "fullName": null,
        }]),
        "the perps' collateral token"
    );
    let spot_and_contexts = sim.info(r#"{"type":"spotMetaAndAssetCtxs"}"#).await;
    assert_eq!(spot_and_contexts.status, 200);
    assert_eq!(
        spot_and_contexts.json(),
        json!([spot, []]),
        "[spot meta, one context per pair]"
    );
    let dexs = sim.info(r#"{"type":"perpDexs"}"#).await;
    assert_eq!(
        (dexs.status, dexs.json()),
        (200, json!([null])),
        "the first perp dex only"
    );
}

// ---------------------------------------------------------------------------------------------------------
// Errors

#[tokio::test(flavor = "multi_thread")]
async fn bad_requests_get_the_venues_own_errors() {
    let sim = start_default().await;

    let unknown = sim
        .get(Venue::Binance, "/fapi/v1/openInterest?symbol=NOPEUSDT")
        .await;
    assert_eq!(
        (unknown.status, unknown.json()),
        (400, json!({"code": -1121, "msg": "Invalid symbol."}))
    );
    let missing = sim.get(Venue::Binance, "/fapi/v1/openInterest").await;
    assert_eq!(
        (missing.status, missing.json()),
        (
            400,
            json!({"code": -1102, "msg": "Mandatory parameter 'symbol' was not sent, was empty/null, or malformed."})
        )
    );
    let lowercase = sim
        .get(Venue::Binance, "/fapi/v1/premiumIndex?symbol=btcusdt")
        .await;
    assert_eq!(
        (lowercase.status, lowercase.json()["code"].as_i64()),
        (400, Some(-1121)),
        "symbols are case-sensitive"
    );
    let path = sim.get(Venue::Binance, "/fapi/v1/nope").await;
    assert_eq!(
        (path.status, path.json()),
        (
            404,
            json!({"code": -5000, "msg": "Path /fapi/v1/nope, Method GET is invalid"})
        )
    );

    let no_category = sim
        .get(Venue::Bybit, "/v5/market/tickers?symbol=BTCUSDT")
        .await;
    assert_eq!(
        (no_category.status, &no_category.json()["retCode"]),
        (200, &json!(10001))
    );
    let inverse = sim
        .get(Venue::Bybit, "/v5/market/tickers?category=inverse")
        .await
        .json();
    assert_eq!(
        (&inverse["retCode"], &inverse["result"]["list"]),
        (&json!(0), &json!([]))
    );
    let bybit_path = sim.get(Venue::Bybit, "/v5/market/nope").await;
    assert_eq!((bybit_path.status, bybit_path.body.as_str()), (404, ""));

    for body in [r#"{"type":"nope"}"#, "not json", "{}"] {
        let refused = sim.info(body).await;
        assert_eq!(
            (refused.status, refused.body.as_str()),
            (
                422,
                "Failed to deserialize the JSON body into the target type"
            ),
            "{body}"
        );
    }
    let get_info = sim.get(Venue::Hyperliquid, "/info").await;
    assert_eq!(get_info.status, 405);
    let other_path = sim.get(Venue::Hyperliquid, "/exchange").await;
    assert_eq!(other_path.status, 404);

    let no_venue = read(
        sim.client
            .get(format!(
                "http://127.0.0.1:{}/kraken/0/public/Time",
                sim.server.port()
            ))
            .send()
            .await,
    )
    .await;
    assert_eq!(no_venue.status, 404);
    let counted: u64 = Venue::ALL
        .iter()
        .map(|venue| sim.server.request_count(*venue))
        .sum();
    assert_eq!(
        counted, 12,
        "every request to a venue counts, refused ones included; unknown prefixes do not"
    );
}

// ---------------------------------------------------------------------------------------------------------
// Paging

#[tokio::test(flavor = "multi_thread")]
async fn bybit_instruments_page_by_cursor() {
    let sim = start_default().await;
    let mut seen = Vec::new();
    let mut cursor = String::new();
    for _page in 0..10 {
        let mut path = "/v5/market/instruments-info?category=linear&limit=2".to_owned();
        if !cursor.is_empty() {
            path += &format!("&cursor={}", urlencode(&cursor));
        }
        let body = sim.get(Venue::Bybit, &path).await.json();
        assert_eq!(body["retCode"], 0, "{body}");
        let page: Vec<String> = body["result"]["list"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|item| item["symbol"].as_str().map(str::to_owned))
            .collect();
        assert!(page.len() <= 2);
        seen.extend(page);
        cursor = body["result"]["nextPageCursor"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        if cursor.is_empty() {
            break;
        }
    }
    assert_eq!(cursor, "", "the last page ends with an empty cursor");
    assert_eq!(seen, PERPETUAL_SYMBOLS);

    for query in ["status=PreLaunch", "symbol=NOPEUSDT"] {
        let body = sim
            .get(
                Venue::Bybit,
                &format!("/v5/market/instruments-info?category=linear&{query}"),
            )
            .await
            .json();
        assert_eq!(
            (
                &body["retCode"],
                &body["result"]["list"],
                &body["result"]["nextPageCursor"]
            ),
            (&json!(0), &json!([]), &json!("")),
            "{query}"
        );
    }
}

fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (byte as char).to_string()
            }
            _ => format!("%{byte:02X}"),
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------------------
// History: wire formats

/// The elements of a JSON array (none if it is not one).
fn elements(value: &Value) -> Vec<Value> {
    value.as_array().cloned().unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread")]
async fn history_bodies_match_the_fixtures() {
    let sim = start_default().await;

    // The docs example (the fixture) shows `timestamp` as a string; live answers carry a number, as served.
    let mut statistics_sample = fixture("binance/open_interest_hist__nautilus-py.json");
    for item in statistics_sample.as_array_mut().into_iter().flatten() {
        item["timestamp"] = json!(1_583_127_900_000_i64);
    }
    let statistics = sim
        .get(
            Venue::Binance,
            "/futures/data/openInterestHist?symbol=BTCUSDT&period=5m",
        )
        .await;
    assert_eq!(statistics.header("content-type"), Some("application/json"));
    assert!(statistics.header("x-mbx-used-weight-1m").is_some());
    let statistics = statistics.json();
    assert_same_shape(&statistics, &statistics_sample, "openInterestHist");
    assert_eq!(elements(&statistics).len(), 30, "the default limit");

    let funding = sim
        .get(Venue::Binance, "/fapi/v1/fundingRate?symbol=BTCUSDT")
        .await
        .json();
    assert_same_shape(
        &funding,
        &fixture("binance/funding_rate_history__binance-docs.json"),
        "fundingRate",
    );
    assert_eq!(elements(&funding).len(), 100, "the default limit");

    // Bybit's newest docs add `singleOpenInterest` (one side; `openInterest` then counts both); the simulator
    // serves the long-documented item of `openInterest` and `timestamp` only.
    let mut open_interest_sample = fixture("bybit/open_interest__bybit-docs.json");
    for item in open_interest_sample["result"]["list"]
        .as_array_mut()
        .into_iter()
        .flatten()
    {
        item.as_object_mut()
            .map(|fields| fields.remove("singleOpenInterest"));
    }
    let open_interest = sim
        .get(
            Venue::Bybit,
            "/v5/market/open-interest?category=linear&symbol=BTCUSDT&intervalTime=1h",
        )
        .await
        .json();
    assert_same_shape(&open_interest, &open_interest_sample, "open-interest");
    assert_eq!(
        elements(&open_interest["result"]["list"]).len(),
        50,
        "the default limit"
    );
    assert_ne!(open_interest["result"]["nextPageCursor"], "");

    let funding_history = sim
        .get(
            Venue::Bybit,
            "/v5/market/funding/history?category=linear&symbol=BTCUSDT",
        )
        .await
        .json();
    assert_same_shape(
        &funding_history,
        &fixture("bybit/funding_history__bybit-docs.json"),
        "funding/history",
    );
    assert_eq!(
        elements(&funding_history["result"]["list"]).len(),
        200,
        "the default limit"
    );

    let start = sim.server.now_ms() - DAY_MS;
    let settlements = sim
        .info(&format!(
            r#"{{"type":"fundingHistory","coin":"BTC","startTime":{start}}}"#
        ))
        .await;
    assert_eq!(settlements.header("content-type"), Some("application/json"));
    let settlements = settlements.json();
    for sample in [
        "hyperliquid/funding_history__hl-python-sdk-cassette.json",
        "hyperliquid/funding_history__nautilus-rs.json",
    ] {
        assert_same_shape(&settlements, &fixture(sample), sample);
    }
    // One a day per hour; the ends depend on where the clock and the jitter fall.
    assert!((23..=25).contains(&elements(&settlements).len()));
}

// ---------------------------------------------------------------------------------------------------------
// History: paging and ground truth

/// `(timestamp, open interest, value)` rows of a Binance `openInterestHist` answer.
fn binance_statistics(body: &Value) -> Vec<(i64, f64, Option<f64>)> {
    elements(body)
        .iter()
        .map(|item| {
            let timestamp = item["timestamp"]
                .as_i64()
                .unwrap_or_else(|| panic!("a numeric timestamp: {item}"));
            (
                timestamp,
                number(&item["sumOpenInterest"]),
                Some(number(&item["sumOpenInterestValue"])),
            )
        })
        .collect()
}

/// `(time, rate, mark price)` rows of a Binance `fundingRate` answer.
fn binance_settlements(body: &Value) -> Vec<(i64, f64, Option<f64>)> {
    elements(body)
        .iter()
        .map(|item| {
            let time = item["fundingTime"]
                .as_i64()
                .unwrap_or_else(|| panic!("a numeric fundingTime: {item}"));
            (
                time,
                number(&item["fundingRate"]),
                Some(number(&item["markPrice"])),
            )
        })
        .collect()
}

/// The earliest `count` rows.
fn earliest<T: Clone>(rows: &[T], count: usize) -> Vec<T> {
    rows[..count.min(rows.len())].to_vec()
}

/// The latest `count` rows, still ascending.
fn latest<T: Clone>(rows: &[T], count: usize) -> Vec<T> {
    rows[rows.len().saturating_sub(count)..].to_vec()
}

#[tokio::test(flavor = "multi_thread")]
async fn binance_open_interest_history_keeps_30_days_and_pages_from_either_end() {
    let sim = start_default().await;
    sim.server.set_clock_ms(Some(FROZEN_MS));
    let truth = |period_ms: i64, start_ms: i64, end_ms: i64| {
        data::open_interest_history(
            SEED,
            Venue::Binance,
            "ETH",
            period_ms,
            start_ms,
            end_ms,
            FROZEN_MS,
        )
    };
    let hist = |query: String| {
        let sim = &sim;
        async move {
            let answer = sim
                .get(
                    Venue::Binance,
                    &format!("/futures/data/openInterestHist?symbol=ETHUSDT&{query}"),
                )
                .await;
            assert_eq!(answer.status, 200, "{query}: {}", answer.body);
            binance_statistics(&answer.json())
        }
    };
    let window_start = FROZEN_MS - 30 * DAY_MS;

    // A start older than 30 days is refused as Binance refuses it (ccxt#23712, "invalid startTime").
    let refused = sim
        .get(
            Venue::Binance,
            &format!(
                "/futures/data/openInterestHist?symbol=ETHUSDT&period=1d&startTime={}",
                FROZEN_MS - 40 * DAY_MS
            ),
        )
        .await;
    assert_eq!(refused.status, 400);
    assert_eq!(refused.json()["code"], -1130);
    // From the window's start: the daily points of the last 30 days.
    let daily = hist(format!("period=1d&limit=500&startTime={window_start}")).await;
    assert_eq!(daily.len(), 30);
    assert_eq!(daily[0].0, (window_start / DAY_MS + 1) * DAY_MS);
    assert_eq!(daily, truth(DAY_MS, i64::MIN, i64::MAX));
    assert!(truth(DAY_MS, 0, window_start - 1).is_empty());
    assert!(
        hist(format!("period=1h&endTime={}", window_start - 1))
            .await
            .is_empty(),
        "older than 30 days: nothing"
    );

    // With startTime: the first `limit` points from it (and up to endTime).
    let start = FROZEN_MS - 10 * DAY_MS + 1;
    let hourly = truth(HOUR_MS, start, i64::MAX);
    assert_eq!(
        hist(format!("period=1h&limit=10&startTime={start}")).await,
        earliest(&hourly, 10)
    );
    let end = hourly[4].0;
    assert_eq!(
        hist(format!(
            "period=1h&limit=10&startTime={start}&endTime={end}"
        ))
        .await,
        earliest(&hourly, 5),
        "bounds are inclusive"
    );
    assert_eq!(
        hist(format!("period=1h&startTime={start}")).await,
        earliest(&hourly, 30)
    );

    // With only endTime, or neither: the last `limit` points up to it (default: now).
    let before_end = truth(HOUR_MS, i64::MIN, end);
    assert_eq!(
        hist(format!("period=1h&endTime={end}")).await,
        latest(&before_end, 30)
    );
    assert_eq!(
        hist(format!("period=1h&limit=3&endTime={end}")).await,
        latest(&before_end, 3)
    );
    let newest = hist("period=5m".to_owned()).await;
    assert_eq!(newest, latest(&truth(5 * 60_000, i64::MIN, i64::MAX), 30));
    assert_eq!(
        newest.last().map(|row| row.0),
        Some(FROZEN_MS - FROZEN_MS % (5 * 60_000)),
        "nothing after now"
    );
    for period in ["5m", "15m", "30m", "1h", "2h", "4h", "6h", "12h", "1d"] {
        assert_eq!(
            hist(format!("period={period}&limit=1")).await.len(),
            1,
            "{period}"
        );
    }

    let too_many = sim
        .get(
            Venue::Binance,
            "/futures/data/openInterestHist?symbol=ETHUSDT&period=1h&limit=501",
        )
        .await;
    assert_eq!(
        (too_many.status, too_many.json()),
        (
            400,
            json!({"code": -1130, "msg": "Data sent for parameter 'limit' is not valid."})
        )
    );
    for period in ["1m", "3d", "1w", "5min"] {
        let invalid = sim
            .get(
                Venue::Binance,
                &format!("/futures/data/openInterestHist?symbol=ETHUSDT&period={period}"),
            )
            .await;
        assert_eq!(
            (invalid.status, invalid.json()),
            (400, json!({"code": -1120, "msg": "Invalid interval."})),
            "{period}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn binance_funding_rate_history_runs_from_listing_and_pages_from_either_end() {
    let sim = start_default().await;
    sim.server.set_clock_ms(Some(FROZEN_MS));
    let funding = |query: String| {
        let sim = &sim;
        async move {
            let answer = sim
                .get(Venue::Binance, &format!("/fapi/v1/fundingRate?{query}"))
                .await;
            assert_eq!(answer.status, 200, "{query}: {}", answer.body);
            binance_settlements(&answer.json())
        }
    };
    let truth = |coin: &str, start_ms: i64, end_ms: i64| {
        data::funding_history(SEED, Venue::Binance, coin, start_ms, end_ms, FROZEN_MS)
    };

    // From the listing on: a start before it gets the first settlements after it.
    let listed = data::listing_time_ms(Venue::Binance, "BTC").unwrap_or_default();
    let first = funding("symbol=BTCUSDT&startTime=0&limit=1000".to_owned()).await;
    assert_eq!(first.len(), 1000);
    assert!(first[0].0 >= listed && first[0].0 - 8 * HOUR_MS < listed);
    assert_eq!(first, earliest(&truth("BTC", 0, i64::MAX), 1000));

    // DOGE settles every 4 hours; neither bound: the latest 100 up to now.
    let doge = funding("symbol=DOGEUSDT".to_owned()).await;
    assert_eq!(doge.len(), 100);
    assert!(doge
        .windows(2)
        .all(|pair| pair[1].0 - pair[0].0 == 4 * HOUR_MS));
    assert_eq!(
        doge.last().map(|row| row.0),
        Some(FROZEN_MS - FROZEN_MS % (4 * HOUR_MS))
    );
    assert_eq!(doge, latest(&truth("DOGE", i64::MIN, i64::MAX), 100));

    // Only endTime: the latest `limit` up to it, inclusive.
    let end = doge[10].0;
    assert_eq!(
        funding(format!("symbol=DOGEUSDT&endTime={end}&limit=5")).await,
        doge[6..=10]
    );
    // Both bounds: the earliest `limit` within them.
    let start = doge[20].0;
    assert_eq!(
        funding(format!(
            "symbol=DOGEUSDT&startTime={start}&endTime={}&limit=1000",
            doge[30].0
        ))
        .await,
        doge[20..=30]
    );

    let too_many = sim
        .get(
            Venue::Binance,
            "/fapi/v1/fundingRate?symbol=BTCUSDT&limit=1001",
        )
        .await;
    assert_eq!(
        (too_many.status, too_many.json()),
        (
            400,
            json!({"code": -1130, "msg": "Data sent for parameter 'limit' is not valid."})
        )
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn bybit_open_interest_cursor_walk_covers_the_ground_truth_newest_first() {
    let sim = start_default().await;
    sim.server.set_clock_ms(Some(FROZEN_MS));
    let (start, end) = (FROZEN_MS - 3 * DAY_MS + 1, FROZEN_MS - DAY_MS);
    let base = format!(
        "/v5/market/open-interest?category=linear&symbol=SOLUSDT&intervalTime=1h&limit=7&startTime={start}&endTime={end}"
    );
    let mut served: Vec<(i64, f64, Option<f64>)> = Vec::new();
    let mut page_sizes = Vec::new();
    let mut cursor = String::new();
    for _page in 0..100 {
        let path = if cursor.is_empty() {
            base.clone()
        } else {
            format!("{base}&cursor={}", urlencode(&cursor))
        };
        let body = sim.get(Venue::Bybit, &path).await.json();
        assert_eq!(body["retCode"], 0, "{body}");
        let page = elements(&body["result"]["list"]);
        page_sizes.push(page.len());
        served.extend(page.iter().map(|item| {
            let timestamp = item["timestamp"]
                .as_str()
                .and_then(|text| text.parse().ok());
            (
                timestamp.unwrap_or_default(),
                number(&item["openInterest"]),
                None,
            )
        }));
        cursor = body["result"]["nextPageCursor"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        if cursor.is_empty() {
            break;
        }
    }
    assert_eq!(cursor, "", "the last page ends with an empty cursor");
    let mut truth =
        data::open_interest_history(SEED, Venue::Bybit, "SOL", HOUR_MS, start, end, FROZEN_MS);
    assert_eq!(truth.len(), 48);
    truth.reverse();
    assert_eq!(served, truth, "newest first, each point once");
    assert_eq!(page_sizes, [7, 7, 7, 7, 7, 7, 6]);

    for cursor in ["garbage", "lastid%3D1%26lasttime%3D1773500000"] {
        let refused = sim
            .get(
                Venue::Bybit,
                &format!("{base}&cursor={}", urlencode(cursor)),
            )
            .await;
        assert_eq!(refused.status, 200);
        let mut refused = refused.json();
        refused["time"] = Value::Null;
        assert_eq!(
            refused,
            json!({"retCode": 10001, "retMsg": "params error: cursor invalid", "result": {}, "retExtInfo": {}, "time": null}),
            "{cursor}"
        );
    }
    let bad_interval = sim
        .get(
            Venue::Bybit,
            "/v5/market/open-interest?category=linear&symbol=SOLUSDT&intervalTime=5m",
        )
        .await
        .json();
    assert_eq!(
        (&bad_interval["retCode"], &bad_interval["retMsg"]),
        (&json!(10001), &json!("params error: intervalTime invalid"))
    );
    for limit in ["0", "201"] {
        let refused = sim
            .get(
                Venue::Bybit,
                &format!("{base}&limit={limit}").replace("limit=7&", ""),
            )
            .await
            .json();
        assert_eq!(refused["retMsg"], "params error: limit invalid", "{limit}");
    }

    // Without bounds, the history runs from the listing (no 30-day window) to now.
    let listed = data::listing_time_ms(Venue::Bybit, "SOL").unwrap_or_default();
    let mut daily = Vec::new();
    let mut cursor = String::new();
    for _page in 0..100 {
        let mut path =
            "/v5/market/open-interest?category=linear&symbol=SOLUSDT&intervalTime=1d&limit=200"
                .to_owned();
        if !cursor.is_empty() {
            path += &format!("&cursor={}", urlencode(&cursor));
        }
        let body = sim.get(Venue::Bybit, &path).await.json();
        daily.extend(elements(&body["result"]["list"]).iter().filter_map(|item| {
            item["timestamp"]
                .as_str()
                .and_then(|text| text.parse::<i64>().ok())
        }));
        cursor = body["result"]["nextPageCursor"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        if cursor.is_empty() {
            break;
        }
    }
    let every_day: Vec<i64> = data::open_interest_history(
        SEED,
        Venue::Bybit,
        "SOL",
        DAY_MS,
        i64::MIN,
        i64::MAX,
        FROZEN_MS,
    )
    .iter()
    .rev()
    .map(|row| row.0)
    .collect();
    assert_eq!(daily, every_day);
    assert!(daily
        .last()
        .is_some_and(|oldest| *oldest >= listed && oldest - DAY_MS < listed));
}

#[tokio::test(flavor = "multi_thread")]
async fn bybit_funding_history_pages_by_moving_end_time() {
    let sim = start_default().await;
    sim.server.set_clock_ms(Some(FROZEN_MS));
    let funding = |query: String| {
        let sim = &sim;
        async move {
            sim.get(
                Venue::Bybit,
                &format!("/v5/market/funding/history?category=linear&symbol=XRPUSDT{query}"),
            )
            .await
            .json()
        }
    };
    let rows = |body: &Value| -> Vec<(i64, f64, Option<f64>)> {
        assert_eq!(body["retCode"], 0, "{body}");
        elements(&body["result"]["list"])
            .iter()
            .map(|item| {
                let time = item["fundingRateTimestamp"]
                    .as_str()
                    .and_then(|text| text.parse().ok());
                (time.unwrap_or_default(), number(&item["fundingRate"]), None)
            })
            .collect()
    };
    let newest_first = |start_ms: i64, end_ms: i64| {
        let mut truth =
            data::funding_history(SEED, Venue::Bybit, "XRP", start_ms, end_ms, FROZEN_MS);
        truth.reverse();
        truth
    };

    // startTime alone is refused.
    let refused = funding(format!("&startTime={}", FROZEN_MS - DAY_MS)).await;
    assert_eq!(
        (&refused["retCode"], &refused["retMsg"]),
        (
            &json!(10001),
            &json!("params error: endTime is required when startTime is set")
        )
    );
    // Neither: the newest 200 up to now.
    let newest = rows(&funding(String::new()).await);
    assert_eq!(newest, earliest(&newest_first(i64::MIN, i64::MAX), 200));
    assert_eq!(newest[0].0, FROZEN_MS - FROZEN_MS % (8 * HOUR_MS));
    // Only endTime: the newest 200 at or before it.
    let end = newest[50].0;
    let before_end = rows(&funding(format!("&endTime={end}")).await);
    assert_eq!(before_end.len(), 200);
    assert_eq!(before_end, earliest(&newest_first(i64::MIN, end), 200));
    assert_eq!(before_end[0].0, end, "endTime is inclusive");
    // Both: the newest `limit` within them.
    let start = newest[60].0;
    assert_eq!(
        rows(&funding(format!("&startTime={start}&endTime={end}&limit=4")).await),
        newest[50..54]
    );
    assert_eq!(
        rows(&funding(format!("&startTime={start}&endTime={end}")).await),
        newest[50..=60]
    );

    // Moving endTime back to before the oldest row served walks the whole history once.
    let mut walked: Vec<(i64, f64, Option<f64>)> = Vec::new();
    let mut end = FROZEN_MS;
    loop {
        let page = rows(&funding(format!("&endTime={end}&limit=200")).await);
        let Some(oldest) = page.last() else { break };
        end = oldest.0 - 1;
        walked.extend(page);
    }
    assert_eq!(walked, newest_first(i64::MIN, i64::MAX));
    assert!(walked.len() > 1_000, "since the listing: {}", walked.len());
}

#[tokio::test(flavor = "multi_thread")]
async fn hyperliquid_funding_history_caps_at_500_with_jittered_times() {
    let sim = start_default().await;
    sim.server.set_clock_ms(Some(FROZEN_MS));
    let start = FROZEN_MS - 30 * DAY_MS;
    let page = |from_ms: i64| {
        let sim = &sim;
        async move {
            let answer = sim
                .info(&format!(
                    r#"{{"type":"fundingHistory","coin":"kPEPE","startTime":{from_ms}}}"#
                ))
                .await;
            assert_eq!(answer.status, 200, "{}", answer.body);
            elements(&answer.json())
                .iter()
                .map(|item| {
                    assert_eq!(item["coin"], "kPEPE");
                    let time = item["time"]
                        .as_i64()
                        .unwrap_or_else(|| panic!("a numeric time: {item}"));
                    assert!(number(&item["premium"]).is_finite());
                    (time, number(&item["fundingRate"]), None)
                })
                .collect::<Vec<(i64, f64, Option<f64>)>>()
        }
    };
    let first = page(start).await;
    assert_eq!(
        first.len(),
        500,
        "at most 500 rows, the first from startTime"
    );
    assert_eq!(
        sim.server.max_weight_in_window(Venue::Hyperliquid),
        20 + 500 / 20,
        "20, plus 1 per 20 items"
    );
    let delays: Vec<i64> = first.iter().map(|row| row.0 % HOUR_MS).collect();
    assert!(delays.iter().all(|delay| (0..1_000).contains(delay)));
    assert!(
        delays.iter().filter(|delay| **delay > 0).count() > 490,
        "settlements lie a few hundred ms after the hour"
    );
    assert!(
        first.windows(2).all(|pair| pair[1].0 > pair[0].0),
        "ascending"
    );

    // Paging on from the last time + 1 covers everything once.
    let mut walked = first;
    loop {
        let from = walked.last().map_or(start, |row| row.0 + 1);
        let next = page(from).await;
        if next.is_empty() {
            break;
        }
        walked.extend(next);
    }
    let truth = data::funding_history(
        SEED,
        Venue::Hyperliquid,
        "kPEPE",
        start,
        FROZEN_MS,
        FROZEN_MS,
    );
    assert_eq!(truth.len(), 720);
    assert_eq!(walked, truth);

    let bounded = sim
        .info(&format!(
            r#"{{"type":"fundingHistory","coin":"BTC","startTime":{start},"endTime":{}}}"#,
            start + DAY_MS
        ))
        .await
        .json();
    let times: Vec<i64> = elements(&bounded)
        .iter()
        .filter_map(|item| item["time"].as_i64())
        .collect();
    let expected: Vec<i64> = data::funding_history(
        SEED,
        Venue::Hyperliquid,
        "BTC",
        start,
        start + DAY_MS,
        FROZEN_MS,
    )
    .iter()
    .map(|row| row.0)
    .collect();
    assert_eq!(times, expected);

    let unknown = sim
        .info(r#"{"type":"fundingHistory","coin":"NOPE","startTime":0}"#)
        .await;
    assert_eq!((unknown.status, unknown.body.as_str()), (200, "[]"));
    let no_start = sim.info(r#"{"type":"fundingHistory","coin":"BTC"}"#).await;
    assert_eq!(
        (no_start.status, no_start.body.as_str()),
        (
            422,
            "Failed to deserialize the JSON body into the target type"
        )
    );
}

// ---------------------------------------------------------------------------------------------------------
// Rate limits

#[tokio::test(flavor = "multi_thread")]
async fn binance_throttles_with_429_then_bans_with_418() {
    let sim = start_default().await;
    ensure_window_time_left(60_000, Duration::from_secs(20)).await;
    // 240 × weight 10 = the whole 2400 budget of this minute.
    for call in 1..=240u64 {
        let answer = sim.get(Venue::Binance, "/fapi/v1/premiumIndex").await;
        assert_eq!(answer.status, 200, "call {call}");
        assert_eq!(
            answer.header("x-mbx-used-weight-1m"),
            Some((call * 10).to_string().as_str())
        );
    }
    for refusal in 1..=10 {
        let throttled = sim.get(Venue::Binance, "/fapi/v1/ping").await;
        assert_eq!(throttled.status, 429, "refusal {refusal}");
        assert_eq!(throttled.json()["code"], -1003);
        let retry_after: u64 = throttled
            .header("retry-after")
            .and_then(|secs| secs.parse().ok())
            .unwrap_or(0);
        assert!(
            (1..=60).contains(&retry_after),
            "Retry-After {retry_after}: seconds to the end of the minute"
        );
    }
    let banned = sim.get(Venue::Binance, "/fapi/v1/ping").await;
    assert_eq!(banned.status, 418);
    let message = banned.json()["msg"].as_str().unwrap_or_default().to_owned();
    assert!(
        message.starts_with("Way too many requests; IP banned until "),
        "{message}"
    );
    let retry_after: u64 = banned
        .header("retry-after")
        .and_then(|secs| secs.parse().ok())
        .unwrap_or(0);
    assert!(
        retry_after > 60,
        "a ban outlasts the window: Retry-After {retry_after}"
    );
    assert_eq!(
        sim.get(Venue::Binance, "/fapi/v1/time").await.status,
        418,
        "still banned"
    );
    assert!(sim.server.max_weight_in_window(Venue::Binance) > 2400);
    // Other venues have their own limits.
    assert_eq!(sim.info(r#"{"type":"meta"}"#).await.status, 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn binance_history_request_limits_answer_429_with_retry_after() {
    let sim = start_default().await;
    // Both groups count requests per 5 wall-clock minutes.
    ensure_window_time_left(300_000, Duration::from_secs(15)).await;
    let statistics = "/futures/data/openInterestHist?symbol=BTCUSDT&period=5m&limit=1";
    for call in 1..=1000 {
        assert_eq!(
            sim.get(Venue::Binance, statistics).await.status,
            200,
            "call {call}"
        );
    }
    let throttled = sim.get(Venue::Binance, statistics).await;
    let retry_after: u64 = throttled
        .header("retry-after")
        .and_then(|secs| secs.parse().ok())
        .unwrap_or(0);
    assert!(
        (1..=300).contains(&retry_after),
        "Retry-After {retry_after}: seconds to the window's end"
    );
    assert_eq!(
        (throttled.status, throttled.json()),
        (
            429,
            json!({"code": -1003, "msg": "Too many requests; current limit of IP is 1000 requests per 5 minutes. Please use the websocket for live updates to avoid bans."})
        )
    );

    // The funding-rate group is separate, and fundingInfo shares it with fundingRate.
    let funding_rate = "/fapi/v1/fundingRate?symbol=BTCUSDT&limit=1";
    for call in 1..=500 {
        let path = if call % 2 == 0 {
            funding_rate
        } else {
            "/fapi/v1/fundingInfo"
        };
        assert_eq!(
            sim.get(Venue::Binance, path).await.status,
            200,
            "call {call}"
        );
    }
    for path in [funding_rate, "/fapi/v1/fundingInfo"] {
        let throttled = sim.get(Venue::Binance, path).await;
        assert_eq!(
            (throttled.status, throttled.json()["code"].as_i64()),
            (429, Some(-1003)),
            "{path}"
        );
        assert!(throttled.header("retry-after").is_some());
        assert!(throttled.json()["msg"]
            .as_str()
            .is_some_and(|msg| msg.contains("500 requests per 5 minutes")));
    }
    assert_eq!(
        sim.get(Venue::Binance, "/fapi/v1/premiumIndex?symbol=BTCUSDT")
            .await
            .status,
        200,
        "endpoints outside the groups still pass"
    );

    assert_eq!(
        sim.server
            .max_weight_in_window_of(Venue::Binance, limit_group::BINANCE_FUTURES_DATA),
        1001
    );
    assert_eq!(
        sim.server
            .max_weight_in_window_of(Venue::Binance, limit_group::BINANCE_FUNDING_RATE),
        502
    );
    assert_eq!(
        sim.server
            .max_weight_in_window_of(Venue::Binance, limit_group::MAIN),
        sim.server.max_weight_in_window(Venue::Binance)
    );
    assert_eq!(
        sim.server
            .max_weight_in_window_of(Venue::Bybit, limit_group::BINANCE_FUTURES_DATA),
        0,
        "a group the venue does not have"
    );
    let limits: Vec<(&str, u64, Duration)> = sim
        .server
        .rate_limits(Venue::Binance)
        .iter()
        .map(|usage| (usage.group, usage.limit, usage.window))
        .collect();
    assert_eq!(
        limits,
        [
            (limit_group::MAIN, 2400, Duration::from_secs(60)),
            (
                limit_group::BINANCE_FUTURES_DATA,
                1000,
                Duration::from_secs(300)
            ),
            (
                limit_group::BINANCE_FUNDING_RATE,
                500,
                Duration::from_secs(300)
            ),
        ]
    );
    let over: Vec<&str> = sim
        .server
        .rate_limits(Venue::Binance)
        .iter()
        .filter(|usage| usage.peak > usage.limit)
        .map(|usage| usage.group)
        .collect();
    assert_eq!(
        over,
        [
            limit_group::BINANCE_FUTURES_DATA,
            limit_group::BINANCE_FUNDING_RATE
        ]
    );
    for (venue, limit) in [(Venue::Bybit, 600), (Venue::Hyperliquid, 1200)] {
        let groups: Vec<(&str, u64)> = sim
            .server
            .rate_limits(venue)
            .iter()
            .map(|usage| (usage.group, usage.limit))
            .collect();
        assert_eq!(groups, [(limit_group::MAIN, limit)], "{venue}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn bybit_answers_403_after_600_requests_in_5_seconds() {
    let sim = start_default().await;
    // The 601 requests must land in one wall-clock window; if this machine is too slow to fit them in what is
    // left of a window, try again in the next one.
    for _attempt in 0..3 {
        // A fresh window each attempt: a failed attempt may have spilled requests into the current one.
        tokio::time::sleep(Duration::from_millis(5_000 - wall_clock_ms() % 5_000 + 20)).await;
        let window = wall_clock_ms() / 5_000;
        let burst = (0..8).map(|_| {
            let (client, url) = (
                sim.client.clone(),
                sim.url(
                    Venue::Bybit,
                    "/v5/market/tickers?category=linear&symbol=BTCUSDT",
                ),
            );
            tokio::spawn(async move {
                let mut statuses = Vec::new();
                for _ in 0..75 {
                    statuses.push(read(client.get(&url).send().await).await.status);
                }
                statuses
            })
        });
        let mut statuses = Vec::new();
        for task in burst.collect::<Vec<_>>() {
            statuses.extend(task.await.expect("burst task"));
        }
        let over = sim
            .get(Venue::Bybit, "/v5/market/tickers?category=linear")
            .await;
        if wall_clock_ms() / 5_000 != window {
            continue;
        }
        assert_eq!(statuses.len(), 600);
        assert!(
            statuses.iter().all(|status| *status == 200),
            "the first 600 pass"
        );
        assert_eq!(
            (over.status, over.body.as_str()),
            (403, "access too frequent")
        );
        assert_eq!(sim.server.max_weight_in_window(Venue::Bybit), 601);
        return;
    }
    panic!("could not send 601 requests within one 5-second window");
}

#[tokio::test(flavor = "multi_thread")]
async fn hyperliquid_answers_429_over_1200_weight_a_minute() {
    let sim = start_default().await;
    ensure_window_time_left(60_000, Duration::from_secs(15)).await;
    for call in 1..=60 {
        assert_eq!(
            sim.info(r#"{"type":"meta"}"#).await.status,
            200,
            "call {call}: 60 × 20 = 1200 weight"
        );
    }
    let throttled = sim.info(r#"{"type":"meta"}"#).await;
    assert_eq!((throttled.status, throttled.body.as_str()), (429, "null"));
    assert_eq!(sim.server.max_weight_in_window(Venue::Hyperliquid), 1220);
}

#[tokio::test(flavor = "multi_thread")]
async fn without_enforcement_weight_is_counted_but_nothing_refused() {
    let sim = start(SimConfig {
        seed: SEED,
        enforce_rate_limits: false,
    })
    .await;
    ensure_window_time_left(60_000, Duration::from_secs(15)).await;
    for _ in 0..70 {
        assert_eq!(sim.info(r#"{"type":"metaAndAssetCtxs"}"#).await.status, 200);
    }
    assert_eq!(sim.server.max_weight_in_window(Venue::Hyperliquid), 1400);
}

// ---------------------------------------------------------------------------------------------------------
// Latency and faults

#[tokio::test(flavor = "multi_thread")]
async fn latency_delays_only_its_venue() {
    let sim = start_default().await;
    let latency = Duration::from_millis(400);
    sim.server.set_latency(Venue::Bybit, latency);

    let started = Instant::now();
    assert_eq!(
        sim.get(
            Venue::Bybit,
            "/v5/market/tickers?category=linear&symbol=BTCUSDT"
        )
        .await
        .status,
        200
    );
    assert!(started.elapsed() >= latency, "took {:?}", started.elapsed());

    let started = Instant::now();
    assert_eq!(sim.get(Venue::Binance, "/fapi/v1/ping").await.status, 200);
    assert!(
        started.elapsed() < latency,
        "Binance has no latency set: took {:?}",
        started.elapsed()
    );

    sim.server.set_latency(Venue::Bybit, Duration::ZERO);
    let started = Instant::now();
    sim.get(
        Venue::Bybit,
        "/v5/market/tickers?category=linear&symbol=BTCUSDT",
    )
    .await;
    assert!(
        started.elapsed() < latency,
        "latency removed: took {:?}",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn faults_are_served_in_order_then_normal_answers_resume() {
    let sim = start_default().await;
    sim.server.set_clock_ms(Some(FROZEN_MS));
    let stall = Duration::from_millis(250);
    let server_error =
        r#"{"code":-1000,"msg":"An unknown error occurred while processing the request."}"#;
    sim.server.inject_faults(
        Venue::Binance,
        vec![
            Fault::Status {
                status: 503,
                body: "Service Unavailable".into(),
                retry_after_secs: Some(3),
            },
            Fault::Stall(stall),
            Fault::Truncated,
        ],
    );
    sim.server.inject_faults(
        Venue::Binance,
        vec![Fault::Status {
            status: 500,
            body: server_error.into(),
            retry_after_secs: None,
        }],
    );
    let path = "/fapi/v1/openInterest?symbol=BTCUSDT";

    let unavailable = sim.get(Venue::Binance, path).await;
    assert_eq!(
        (unavailable.status, unavailable.body.as_str()),
        (503, "Service Unavailable")
    );
    assert_eq!(unavailable.header("retry-after"), Some("3"));
    assert_eq!(
        unavailable.header("content-type"),
        Some("text/plain; charset=utf-8")
    );

    let started = Instant::now();
    let stalled = sim.get(Venue::Binance, path).await;
    assert!(started.elapsed() >= stall);
    assert_eq!(stalled.status, 200);
    let normal_body = stalled.body.clone();
    assert!(serde_json::from_str::<Value>(&normal_body).is_ok());

    let truncated = sim.get(Venue::Binance, path).await;
    assert_eq!(truncated.status, 200);
    assert!(
        serde_json::from_str::<Value>(&truncated.body).is_err(),
        "cut JSON: {}",
        truncated.body
    );
    assert_eq!(
        truncated.body,
        normal_body[..normal_body.len() / 2],
        "the first half of the normal answer"
    );

    let failed = sim.get(Venue::Binance, path).await;
    assert_eq!((failed.status, failed.body.as_str()), (500, server_error));
    assert_eq!(failed.header("content-type"), Some("application/json"));

    let normal = sim.get(Venue::Binance, path).await;
    assert_eq!((normal.status, normal.body), (200, normal_body));
    assert_eq!(sim.server.request_count(Venue::Binance), 5);
    assert_eq!(
        sim.get(Venue::Bybit, "/v5/market/tickers?category=linear")
            .await
            .status,
        200,
        "other venues unaffected"
    );
}

// ---------------------------------------------------------------------------------------------------------
// Ground truth

#[tokio::test(flavor = "multi_thread")]
async fn served_values_equal_the_ground_truth_at_the_simulator_clock() {
    let sim = start_default().await;
    sim.server.set_clock_ms(Some(FROZEN_MS));
    assert_eq!(sim.server.now_ms(), FROZEN_MS);
    for coin in COINS {
        let symbol = format!("{coin}USDT");
        let open_interest = sim
            .get(
                Venue::Binance,
                &format!("/fapi/v1/openInterest?symbol={symbol}"),
            )
            .await
            .json();
        assert_eq!(
            number(&open_interest["openInterest"]),
            data::open_interest(SEED, Venue::Binance, coin, FROZEN_MS),
            "{coin}"
        );
        assert_eq!(open_interest["time"], FROZEN_MS);

        let premium = sim
            .get(
                Venue::Binance,
                &format!("/fapi/v1/premiumIndex?symbol={symbol}"),
            )
            .await
            .json();
        assert_eq!(
            number(&premium["markPrice"]),
            data::mark_price(SEED, Venue::Binance, coin, FROZEN_MS),
            "{coin}"
        );
        assert_eq!(
            number(&premium["indexPrice"]),
            data::index_price(SEED, Venue::Binance, coin, FROZEN_MS),
            "{coin}"
        );
        assert_eq!(
            number(&premium["lastFundingRate"]),
            data::funding_rate(SEED, Venue::Binance, coin, FROZEN_MS),
            "{coin}"
        );
        let interval_ms = i64::from(data::funding_interval_hours(Venue::Binance, coin)) * 3_600_000;
        assert_eq!(
            premium["nextFundingTime"],
            (FROZEN_MS / interval_ms + 1) * interval_ms,
            "{coin}"
        );
        assert_eq!(premium["time"], FROZEN_MS);
    }

    let tickers = sim
        .get(Venue::Bybit, "/v5/market/tickers?category=linear")
        .await
        .json();
    assert_eq!(tickers["time"], FROZEN_MS);
    for (ticker, coin) in tickers["result"]["list"]
        .as_array()
        .into_iter()
        .flatten()
        .zip(COINS)
    {
        assert_eq!(ticker["symbol"], format!("{coin}USDT"));
        assert_eq!(
            number(&ticker["openInterest"]),
            data::open_interest(SEED, Venue::Bybit, coin, FROZEN_MS),
            "{coin}"
        );
        assert_eq!(
            number(&ticker["markPrice"]),
            data::mark_price(SEED, Venue::Bybit, coin, FROZEN_MS),
            "{coin}"
        );
        assert_eq!(
            number(&ticker["indexPrice"]),
            data::index_price(SEED, Venue::Bybit, coin, FROZEN_MS),
            "{coin}"
        );
        assert_eq!(
            number(&ticker["fundingRate"]),
            data::funding_rate(SEED, Venue::Bybit, coin, FROZEN_MS),
            "{coin}"
        );
    }

    let both = sim.info(r#"{"type":"metaAndAssetCtxs"}"#).await.json();
    let universe = both[0]["universe"].as_array().cloned().unwrap_or_default();
    let contexts = both[1].as_array().cloned().unwrap_or_default();
    assert_eq!(universe.len(), COINS.len() + 1, "and the delisted LOOM");
    for (asset, context) in universe.iter().zip(&contexts) {
        // Hyperliquid's kPEPE is the 1000PEPE contract; the ground truth takes either name.
        let name = asset["name"].as_str().unwrap_or_default();
        let coin = if name == "kPEPE" { "1000PEPE" } else { name };
        let hyperliquid = Venue::Hyperliquid;
        assert_eq!(
            number(&context["openInterest"]),
            data::open_interest(SEED, hyperliquid, coin, FROZEN_MS),
            "{name}"
        );
        assert_eq!(
            number(&context["markPx"]),
            data::mark_price(SEED, hyperliquid, coin, FROZEN_MS),
            "{name}"
        );
        assert_eq!(
            number(&context["oraclePx"]),
            data::index_price(SEED, hyperliquid, coin, FROZEN_MS),
            "{name}"
        );
        assert_eq!(
            number(&context["funding"]),
            data::funding_rate(SEED, hyperliquid, coin, FROZEN_MS),
            "{name}"
        );
    }

    // A later frozen instant serves that instant's values; releasing the clock follows the wall clock again.
    let later = FROZEN_MS + 3_600_000;
    sim.server.set_clock_ms(Some(later));
    let moved = sim
        .get(Venue::Binance, "/fapi/v1/premiumIndex?symbol=BTCUSDT")
        .await
        .json();
    assert_eq!(
        number(&moved["markPrice"]),
        data::mark_price(SEED, Venue::Binance, "BTC", later)
    );
    sim.server.set_clock_ms(None);
    assert!((sim.server.now_ms() - wall_clock_ms() as i64).abs() < 5_000);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_seed_selects_the_market() {
    let (one, other) = (
        start_default().await,
        start(SimConfig {
            seed: SEED + 1,
            ..SimConfig::default()
        })
        .await,
    );
    for sim in [&one, &other] {
        sim.server.set_clock_ms(Some(FROZEN_MS));
    }
    let path = "/fapi/v1/openInterest?symbol=ETHUSDT";
    let (first, second) = (
        one.get(Venue::Binance, path).await.json(),
        other.get(Venue::Binance, path).await.json(),
    );
    assert_ne!(first["openInterest"], second["openInterest"]);
    assert_eq!(
        first,
        one.get(Venue::Binance, path).await.json(),
        "same seed, same instant, same answer"
    );
}

// ---------------------------------------------------------------------------------------------------------
// Lifecycle

#[tokio::test(flavor = "multi_thread")]
async fn shutdown_stops_serving() {
    let sim = start_default().await;
    assert_eq!(
        sim.server.base_url(Venue::Hyperliquid),
        format!("http://127.0.0.1:{}/hyperliquid", sim.server.port())
    );
    assert_eq!(sim.get(Venue::Binance, "/fapi/v1/ping").await.status, 200);
    sim.server.shutdown();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let fresh_client = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("HTTP client");
    assert!(fresh_client
        .get(sim.url(Venue::Binance, "/fapi/v1/ping"))
        .send()
        .await
        .is_err());
}
