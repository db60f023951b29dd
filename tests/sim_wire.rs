//! The simulator over real HTTP: bodies have the fixtures' shapes (key sets and JSON types, recursively),
//! errors are the venues' own, rate limits, latency and faults behave as documented, and served values equal
//! the ground truth in `sim::data`.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use ccxt_pipeline_rs::model::Venue;
use ccxt_pipeline_rs::sim::{data, Fault, SimConfig, SimServer};
use reqwest::header::HeaderMap;
use serde_json::{json, Value};

const SEED: u64 = 42;
/// 2026-03-14T15:09:26.535Z: a frozen clock that is not on any funding or minute boundary.
const FROZEN_MS: i64 = 1_773_500_966_535;
const PERPETUAL_SYMBOLS: [&str; 6] = [
    "BTCUSDT",
    "ETHUSDT",
    "SOLUSDT",
    "XRPUSDT",
    "DOGEUSDT",
    "1000PEPEUSDT",
];

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
    assert_eq!(names, ["BTC", "ETH", "SOL", "XRP", "DOGE", "kPEPE", "LOOM"]);
    assert_eq!(meta["universe"][6]["isDelisted"], true);

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
        both[1][6]["openInterest"], "0.0",
        "the delisted market has no open interest"
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
    let coins = ["BTC", "ETH", "SOL", "XRP", "DOGE", "1000PEPE"];

    for coin in coins {
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
        .zip(coins)
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
    assert_eq!(universe.len(), 7);
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
