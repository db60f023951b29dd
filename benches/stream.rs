//! Events/s through a liquidation stream's per-event path, without sockets: frame bytes → the venue's
//! `LiquidationProtocol::parse` (as the connection calls it, with its arrival time and symbol cache) → the
//! collector's de-duplication (`stream::Dedup`) → a pending batch of `StreamOptions::default().batch_rows` rows →
//! its Arrow `RecordBatch` (`liquidation_batch`, what the consumer queue hands Python) → the rows dropped.
//! Left out: the tokio hops (socket task → collector channel → consumer queue) and the store (measured end to end
//! by `benchmarks/stream_bench.py`).
//!
//! Frames have the venues' wire shapes (`tests/data/fixtures/binance/ws_force_order__*.json`,
//! `tests/data/fixtures/bybit/ws_all_liquidation__*.json`, and the simulator's `force_order`/`all_liquidation`),
//! over ten symbols with varying prices and sizes. A pool of `POOL_EVENTS` distinct events per case is cycled
//! through, so de-duplication sees new events against a memory of up to that many (it is emptied when the pool
//! wraps). Results go to BENCHMARKS.md as events/s.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};

use ccxt_pipeline_rs::model::records::{liquidation_batch, now_ns};
use ccxt_pipeline_rs::model::Venue;
use ccxt_pipeline_rs::stream::{Dedup, StreamOptions};
use ccxt_pipeline_rs::venue::stream::{
    liquidation_protocol, Inbound, LiquidationProtocol, SymbolNames,
};

/// Distinct events per case (the de-duplication memory grows to this many keys).
const POOL_EVENTS: usize = 250_000;
const SYMBOLS: [(&str, f64); 10] = [
    ("BTCUSDT", 96_250.5),
    ("ETHUSDT", 3_412.37),
    ("SOLUSDT", 187.412),
    ("XRPUSDT", 2.4817),
    ("DOGEUSDT", 0.38215),
    ("1000PEPEUSDT", 0.0213),
    ("BNBUSDT", 702.31),
    ("ADAUSDT", 1.0412),
    ("AVAXUSDT", 41.237),
    ("LINKUSDT", 24.118),
];
const START_MS: i64 = 1_739_502_302_929;

/// Deterministic variation (splitmix64).
fn mix(n: u64) -> u64 {
    let mut z = n.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Event `i`: (symbol, trade time ms, is a long liquidated, price, quantity).
fn event(i: usize) -> (&'static str, i64, bool, f64, f64) {
    let (symbol, mark) = SYMBOLS[i % SYMBOLS.len()];
    let r = mix(i as u64);
    let away = 1.0 + ((r % 200) as f64 - 100.0) / 10_000.0;
    let quantity = 1.0 + (r >> 16) as f64 % 5_000.0 / 1_000.0;
    // Strictly increasing per symbol, as the venues' trade times are.
    let time = START_MS + (i / SYMBOLS.len()) as i64;
    (symbol, time, r & 1 == 0, mark * away, quantity)
}

/// One Binance `forceOrder` frame per event (Binance pushes one liquidation per frame), the fixture's fields.
fn binance_frames(events: usize) -> Vec<Vec<u8>> {
    (0..events)
        .map(|i| {
            let (symbol, time, long, price, quantity) = event(i);
            let side = if long { "SELL" } else { "BUY" };
            let order_price = if long { price * 0.99 } else { price * 1.01 };
            format!(
                r#"{{"e":"forceOrder","E":{sent},"o":{{"s":"{symbol}","S":"{side}","o":"LIMIT","f":"IOC","q":"{quantity:.3}","p":"{order_price:.4}","ap":"{price:.4}","X":"FILLED","l":"{quantity:.3}","z":"{quantity:.3}","T":{time}}}}}"#,
                sent = time + 2,
            )
            .into_bytes()
        })
        .collect()
}

/// Bybit `allLiquidation.<SYMBOL>` frames of `per_frame` events of one symbol each (a quiet 500 ms batch holds
/// one or two; a burst holds many).
fn bybit_frames(events: usize, per_frame: usize) -> Vec<Vec<u8>> {
    let symbols = SYMBOLS.len();
    // Frame f carries events f%symbols, f%symbols + symbols, …: one symbol per frame.
    let frames = events / per_frame;
    (0..frames)
        .map(|f| {
            let symbol_index = f % symbols;
            let round = f / symbols;
            let items: Vec<String> = (0..per_frame)
                .map(|k| {
                    let i = (round * per_frame + k) * symbols + symbol_index;
                    let (symbol, time, long, price, quantity) = event(i);
                    // Bybit names the liquidated position's side: a long is "Buy".
                    let side = if long { "Buy" } else { "Sell" };
                    format!(
                        r#"{{"T":{time},"s":"{symbol}","S":"{side}","v":"{quantity:.3}","p":"{price:.4}"}}"#
                    )
                })
                .collect();
            let (symbol, last, ..) = event((round * per_frame + per_frame - 1) * symbols + symbol_index);
            format!(
                r#"{{"topic":"allLiquidation.{symbol}","type":"snapshot","ts":{sent},"data":[{}]}}"#,
                items.join(","),
                sent = last + 275,
            )
            .into_bytes()
        })
        .collect()
}

/// A pool of frames cycled through by the benchmark, as a connection and the collector would meet them.
struct Feed {
    protocol: Box<dyn LiquidationProtocol>,
    frames: Vec<Vec<u8>>,
    next: usize,
    names: SymbolNames,
    dedup: Dedup,
    window: Duration,
}

impl Feed {
    fn new(venue: Venue, frames: Vec<Vec<u8>>) -> Feed {
        let window = StreamOptions::default().dedup_window;
        Feed {
            protocol: liquidation_protocol(venue).expect("a WebSocket venue"),
            frames,
            next: 0,
            names: SymbolNames::new(venue),
            dedup: Dedup::new(window),
            window,
        }
    }

    /// The next frame parsed into its rows, as the connection does (arrival time stamped per frame).
    fn parse_next(&mut self) -> Vec<ccxt_pipeline_rs::model::Liquidation> {
        if self.next == self.frames.len() {
            self.next = 0;
            self.dedup = Dedup::new(self.window);
        }
        let frame = &self.frames[self.next];
        self.next += 1;
        match self
            .protocol
            .parse(black_box(frame), now_ns(), &mut self.names)
        {
            Ok(Inbound::Liquidations { rows, .. }) => rows,
            other => panic!("not a liquidation frame: {other:?}"),
        }
    }
}

fn bench_case(c: &mut Criterion, name: &str, venue: Venue, frames: Vec<Vec<u8>>) {
    let batch_rows = StreamOptions::default().batch_rows;
    let events_per_frame = {
        let mut probe = Feed::new(venue, frames[..1].to_vec());
        probe.parse_next().len()
    };
    let mut group = c.benchmark_group(name);
    group.throughput(Throughput::Elements(batch_rows as u64));

    // Parse alone: frames worth one batch of events, rows dropped.
    let mut feed = Feed::new(venue, frames.clone());
    group.bench_function("parse", |b| {
        b.iter_custom(|iters| {
            let started = Instant::now();
            for _ in 0..iters {
                let mut events = 0;
                while events < batch_rows {
                    events += black_box(feed.parse_next()).len();
                }
            }
            started.elapsed()
        })
    });

    // Parse + de-dup + buffer + Arrow batch: the collector's work per event up to the consumer queue.
    let mut feed = Feed::new(venue, frames);
    let mut pending = Vec::with_capacity(batch_rows + events_per_frame);
    group.bench_function("parse_dedup_batch", |b| {
        b.iter_custom(|iters| {
            let started = Instant::now();
            for _ in 0..iters {
                while pending.len() < batch_rows {
                    let rows = feed.parse_next();
                    let now = tokio::time::Instant::now();
                    for row in rows {
                        if feed.dedup.is_new(&row, now) {
                            pending.push(row);
                        }
                    }
                }
                black_box(liquidation_batch(&pending));
                pending.clear();
            }
            started.elapsed()
        })
    });
    group.finish();
}

fn streams(c: &mut Criterion) {
    bench_case(
        c,
        "binance_force_order",
        Venue::Binance,
        binance_frames(POOL_EVENTS),
    );
    bench_case(
        c,
        "bybit_all_liquidation_1_per_frame",
        Venue::Bybit,
        bybit_frames(POOL_EVENTS, 1),
    );
    bench_case(
        c,
        "bybit_all_liquidation_100_per_frame",
        Venue::Bybit,
        bybit_frames(POOL_EVENTS, 100),
    );
}

criterion_group!(benches, streams);
criterion_main!(benches);
