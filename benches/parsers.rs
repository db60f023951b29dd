//! Parser throughput on payloads shaped like the real fixtures, scaled to a venue's full universe where the venue
//! answers with one (Bybit tickers, Hyperliquid contexts, Binance premiumIndex without symbol, exchangeInfo).
//! History pages (`… history` benchmarks) are taken from the simulator itself, full pages as the venues serve
//! them; `benchmarks/vs_ccxt.py` sends ccxt the same requests, so both parse byte-identical bodies.
//! Results go to BENCHMARKS.md as rows/s and MB/s.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use serde_json::{json, Value};

use ccxt_pipeline_rs::model::{InstrumentRef, UnifiedSymbol, Venue};
use ccxt_pipeline_rs::sim::{SimConfig, SimServer};
use ccxt_pipeline_rs::venue::{binance, bybit, hyperliquid};

/// The simulator state history pages are taken at: seed 0, clock frozen at 2026-11-01T00:00:00Z. Keep in step
/// with `SIM_SEED` and `PARSER_CLOCK_MS` in `benchmarks/vs_ccxt.py`.
const HISTORY_SEED: u64 = 0;
const HISTORY_CLOCK_MS: i64 = 1_793_491_200_000;
const HOUR_MS: i64 = 3_600_000;

fn fixture(path: &str) -> Value {
    let full = format!("{}/tests/data/fixtures/{path}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_slice(&std::fs::read(&full).expect("fixture")).expect("fixture is JSON")
}

/// `n` copies of a fixture element with distinct symbols; the wanted one last, so a lookup scans them all.
fn replicate(element: &Value, key: &str, n: usize, name: impl Fn(usize) -> String) -> Vec<Value> {
    (0..n)
        .map(|i| {
            let mut e = element.clone();
            e[key] = json!(name(i));
            e
        })
        .collect()
}

fn inst(venue: Venue, symbol: &str) -> InstrumentRef {
    InstrumentRef::new(venue, &UnifiedSymbol::parse(symbol).unwrap())
}

fn bench(c: &mut Criterion, name: &str, rows: usize, body: &[u8], parse: impl Fn(&[u8]) -> usize) {
    let mut group = c.benchmark_group(name);
    group.throughput(Throughput::Bytes(body.len() as u64));
    group.bench_function(BenchmarkId::new("bytes", body.len()), |b| {
        b.iter(|| parse(std::hint::black_box(body)))
    });
    group.throughput(Throughput::Elements(rows as u64));
    group.bench_function(BenchmarkId::new("rows", rows), |b| {
        b.iter(|| parse(std::hint::black_box(body)))
    });
    group.finish();
}

fn parsers(c: &mut Criterion) {
    let btc_binance = inst(Venue::Binance, "BTCUSDT-PERP");
    let oi = serde_json::to_vec(&fixture("binance/open_interest__nautilus-py.json")).unwrap();
    bench(c, "binance_open_interest", 1, &oi, |b| {
        binance::parse_open_interest(b, &btc_binance, 0)
            .map(|_| 1)
            .unwrap()
    });

    let premium = fixture("binance/premium_index_single__nautilus-py.json");
    let mut all = replicate(&premium, "symbol", 699, |i| format!("C{i}USDT"));
    all.push(premium);
    let all = serde_json::to_vec(&all).unwrap();
    bench(c, "binance_premium_index_all", 700, &all, |b| {
        binance::parse_premium_index(b, &btc_binance, 0, 480)
            .map(|_| 700)
            .unwrap()
    });

    let mut info = fixture("binance/exchange_info_excerpt__nautilus-py.json");
    let symbol = info["symbols"][0].clone();
    info["symbols"] = json!(replicate(&symbol, "symbol", 700, |i| format!("C{i}USDT")));
    let info = serde_json::to_vec(&info).unwrap();
    bench(c, "binance_exchange_info", 700, &info, |b| {
        binance::parse_exchange_info(b).map(|s| s.len()).unwrap()
    });

    let mut tickers = fixture("bybit/tickers_inverse__bybit-docs.json");
    let ticker = tickers["result"]["list"][0].clone();
    let mut list = replicate(&ticker, "symbol", 499, |i| format!("C{i}USDT"));
    list.push({
        let mut t = ticker;
        t["symbol"] = json!("BTCUSDT");
        t
    });
    tickers["result"]["list"] = json!(list);
    let tickers = serde_json::to_vec(&tickers).unwrap();
    let btc_bybit = inst(Venue::Bybit, "BTCUSDT-PERP");
    bench(c, "bybit_tickers_funding", 500, &tickers, |b| {
        bybit::parse_funding_rate(b, &btc_bybit, 0)
            .map(|_| 500)
            .unwrap()
    });

    let ws = fixture("hyperliquid/ws_all_dexs_asset_ctxs_trimmed__nautilus-rs.json");
    let ctx = ws["data"]["ctxs"][0][1][0].clone();
    let mut meta = fixture("hyperliquid/meta__hl-docs.json");
    let asset = meta["universe"][0].clone();
    meta["universe"] = json!(replicate(&asset, "name", 200, |i| if i == 199 {
        "BTC".into()
    } else {
        format!("C{i}")
    }));
    let ctxs = serde_json::to_vec(&json!([meta, vec![ctx; 200]])).unwrap();
    let btc_hl = inst(Venue::Hyperliquid, "BTC");
    bench(c, "hyperliquid_meta_and_asset_ctxs", 200, &ctxs, |b| {
        hyperliquid::parse_open_interest(b, &btc_hl, 0)
            .map(|_| 200)
            .unwrap()
    });
}

/// One full history page per parser, fetched over HTTP from a simulator started here: (benchmark name, rows the
/// page holds, body). BTC pages up to the frozen clock; Hyperliquid's POST asks for the 500 hours before it.
fn history_pages() -> Vec<(&'static str, usize, Vec<u8>)> {
    let hyperliquid_body = format!(
        r#"{{"type":"fundingHistory","coin":"BTC","startTime":{}}}"#,
        HISTORY_CLOCK_MS - 500 * HOUR_MS
    );
    let requests: [(&str, Venue, &str, usize); 5] = [
        (
            "binance_open_interest_history",
            Venue::Binance,
            "/futures/data/openInterestHist?symbol=BTCUSDT&period=5m&limit=500",
            500,
        ),
        (
            "binance_funding_rate_history",
            Venue::Binance,
            "/fapi/v1/fundingRate?symbol=BTCUSDT&limit=1000",
            1000,
        ),
        (
            "bybit_open_interest_history",
            Venue::Bybit,
            "/v5/market/open-interest?category=linear&symbol=BTCUSDT&intervalTime=5min&limit=200",
            200,
        ),
        (
            "bybit_funding_rate_history",
            Venue::Bybit,
            "/v5/market/funding/history?category=linear&symbol=BTCUSDT&limit=200",
            200,
        ),
        (
            "hyperliquid_funding_rate_history",
            Venue::Hyperliquid,
            "/info",
            500,
        ),
    ];
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    runtime.block_on(async {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let server = SimServer::start(
            SimConfig {
                seed: HISTORY_SEED,
                enforce_rate_limits: false,
            },
            0,
        )
        .await
        .expect("simulator");
        server.set_clock_ms(Some(HISTORY_CLOCK_MS));
        let client = reqwest::Client::builder()
            .no_proxy()
            .build()
            .expect("HTTP client");
        let mut pages = Vec::new();
        for (name, venue, path, rows) in requests {
            let url = format!("{}{path}", server.base_url(venue));
            let request = match venue {
                Venue::Hyperliquid => client
                    .post(url)
                    .header("Content-Type", "application/json")
                    .body(hyperliquid_body.clone()),
                Venue::Binance | Venue::Bybit => client.get(url),
            };
            let response = request.send().await.expect("the simulator answers");
            assert_eq!(response.status().as_u16(), 200, "{name}");
            pages.push((name, rows, response.bytes().await.expect("a body").to_vec()));
        }
        pages
    })
}

/// A parser under test: body in, rows out.
type Parse<'a> = Box<dyn Fn(&[u8]) -> usize + 'a>;

fn history_parsers(c: &mut Criterion) {
    let btc = |venue| inst(venue, "BTCUSDT-PERP");
    let (btc_binance, btc_bybit, btc_hl) = (
        btc(Venue::Binance),
        btc(Venue::Bybit),
        btc(Venue::Hyperliquid),
    );
    for (name, rows, body) in history_pages() {
        let parse: Parse = match name {
            "binance_open_interest_history" => Box::new(|b| {
                binance::parse_open_interest_history(b, &btc_binance)
                    .unwrap()
                    .len()
            }),
            "binance_funding_rate_history" => Box::new(|b| {
                binance::parse_funding_rate_history(b, &btc_binance)
                    .unwrap()
                    .len()
            }),
            "bybit_open_interest_history" => Box::new(|b| {
                bybit::parse_open_interest_history(b, &btc_bybit)
                    .unwrap()
                    .rows
                    .len()
            }),
            "bybit_funding_rate_history" => Box::new(|b| {
                bybit::parse_funding_rate_history(b, &btc_bybit)
                    .unwrap()
                    .rows
                    .len()
            }),
            "hyperliquid_funding_rate_history" => Box::new(|b| {
                hyperliquid::parse_funding_rate_history(b, &btc_hl)
                    .unwrap()
                    .len()
            }),
            other => unreachable!("no parser for {other}"),
        };
        assert_eq!(parse(&body), rows, "{name}: a full page");
        bench(c, name, rows, &body, parse);
    }
}

criterion_group!(benches, parsers, history_parsers);
criterion_main!(benches);
