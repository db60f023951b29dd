//! Parser throughput on payloads shaped like the real fixtures, scaled to a venue's full universe where the venue
//! answers with one (Bybit tickers, Hyperliquid contexts, Binance premiumIndex without symbol, exchangeInfo).
//! Results go to BENCHMARKS.md as rows/s and MB/s.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use serde_json::{json, Value};

use ccxt_pipeline_rs::model::{InstrumentRef, UnifiedSymbol, Venue};
use ccxt_pipeline_rs::venue::{binance, bybit, hyperliquid};

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
    group.bench_function(BenchmarkId::new("bytes", body.len()), |b| b.iter(|| parse(std::hint::black_box(body))));
    group.throughput(Throughput::Elements(rows as u64));
    group.bench_function(BenchmarkId::new("rows", rows), |b| b.iter(|| parse(std::hint::black_box(body))));
    group.finish();
}

fn parsers(c: &mut Criterion) {
    let btc_binance = inst(Venue::Binance, "BTCUSDT-PERP");
    let oi = serde_json::to_vec(&fixture("binance/open_interest__nautilus-py.json")).unwrap();
    bench(c, "binance_open_interest", 1, &oi, |b| binance::parse_open_interest(b, &btc_binance, 0).map(|_| 1).unwrap());

    let premium = fixture("binance/premium_index_single__nautilus-py.json");
    let mut all = replicate(&premium, "symbol", 699, |i| format!("C{i}USDT"));
    all.push(premium);
    let all = serde_json::to_vec(&all).unwrap();
    bench(c, "binance_premium_index_all", 700, &all, |b| {
        binance::parse_premium_index(b, &btc_binance, 0, 480).map(|_| 700).unwrap()
    });

    let mut info = fixture("binance/exchange_info_excerpt__nautilus-py.json");
    let symbol = info["symbols"][0].clone();
    info["symbols"] = json!(replicate(&symbol, "symbol", 700, |i| format!("C{i}USDT")));
    let info = serde_json::to_vec(&info).unwrap();
    bench(c, "binance_exchange_info", 700, &info, |b| binance::parse_exchange_info(b).map(|s| s.len()).unwrap());

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
    bench(c, "bybit_tickers_funding", 500, &tickers, |b| bybit::parse_funding_rate(b, &btc_bybit, 0).map(|_| 500).unwrap());

    let ws = fixture("hyperliquid/ws_all_dexs_asset_ctxs_trimmed__nautilus-rs.json");
    let ctx = ws["data"]["ctxs"][0][1][0].clone();
    let mut meta = fixture("hyperliquid/meta__hl-docs.json");
    let asset = meta["universe"][0].clone();
    meta["universe"] = json!(replicate(&asset, "name", 200, |i| if i == 199 { "BTC".into() } else { format!("C{i}") }));
    let ctxs = serde_json::to_vec(&json!([meta, vec![ctx; 200]])).unwrap();
    let btc_hl = inst(Venue::Hyperliquid, "BTC");
    bench(c, "hyperliquid_meta_and_asset_ctxs", 200, &ctxs, |b| {
        hyperliquid::parse_open_interest(b, &btc_hl, 0).map(|_| 200).unwrap()
    });
}

criterion_group!(benches, parsers);
criterion_main!(benches);
