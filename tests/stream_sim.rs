//! Liquidation streams against the simulator's WebSockets, with faults on: every event the simulator emitted is
//! delivered exactly once or was sent inside a recorded gap of its stream; reconnect delays follow the policy; a
//! stalled socket is caught by the idle timeout; planned replacements lose nothing; Hyperliquid polling equals
//! the simulator's fills.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, TimestampNanosecondType};
use arrow_array::RecordBatch;
use ccxt_pipeline_rs::fetch::VenueClient;
use ccxt_pipeline_rs::model::records::now_ns;
use ccxt_pipeline_rs::model::{GapReason, InstrumentRef, Side, StreamGap, UnifiedSymbol, Venue};
use ccxt_pipeline_rs::net::{BackoffPolicy, HttpConfig};
use ccxt_pipeline_rs::sim::{fills, EmittedLiquidation, SimConfig, SimServer, WsFault};
use ccxt_pipeline_rs::store::ParquetStore;
use ccxt_pipeline_rs::stream::{
    start_for_symbols, LiquidationSink, LiquidationStream, StreamOptions,
};

async fn simulator(rate: f64) -> SimServer {
    let server = SimServer::start(
        SimConfig {
            seed: 5,
            ..SimConfig::default()
        },
        0,
    )
    .await
    .unwrap();
    for venue in Venue::ALL {
        server.set_liquidation_rate(venue, rate);
    }
    server
}

fn fast_options() -> StreamOptions {
    StreamOptions {
        batch_rows: 50,
        batch_interval: Duration::from_millis(100),
        idle_timeout: Duration::from_millis(1200),
        connect_timeout: Duration::from_secs(3),
        backoff: BackoffPolicy {
            initial: Duration::from_millis(100),
            max: Duration::from_secs(1),
            immediate_first: true,
        },
        poll_interval: Duration::from_millis(200),
        ..StreamOptions::default()
    }
}

fn client(server: &SimServer, venue: Venue) -> (Arc<VenueClient>, Option<String>) {
    let client =
        VenueClient::new(venue, Some(&server.base_url(venue)), &HttpConfig::default()).unwrap();
    (Arc::new(client), Some(server.ws_base_url(venue)))
}

async fn start(
    server: &SimServer,
    venues: &[Venue],
    symbols: &[&str],
    options: StreamOptions,
    sink: Option<Arc<dyn LiquidationSink>>,
) -> LiquidationStream {
    let clients: Vec<_> = venues.iter().map(|&v| client(server, v)).collect();
    let symbols: Vec<String> = symbols.iter().map(|s| s.to_string()).collect();
    let (stream, failures) = start_for_symbols(&clients, &symbols, false, &[], options, sink)
        .await
        .unwrap();
    assert!(failures.is_empty(), "{failures:?}");
    stream
}

/// Waits until `n` connections deliver (every subscription acknowledged).
async fn connected(stream: &LiquidationStream, n: u64) {
    for _ in 0..100 {
        if stream
            .stats()
            .connected
            .load(std::sync::atomic::Ordering::Relaxed)
            >= n
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the stream did not connect");
}

#[derive(Debug, Clone, PartialEq)]
struct Received {
    venue: String,
    instrument_id: String,
    ts_event_ms: i64,
    side: String,
    price: f64,
    quantity: f64,
}

fn rows(batch: &RecordBatch) -> Vec<Received> {
    let text = |i: usize| batch.column(i).as_string::<i32>();
    let ts = batch.column(3).as_primitive::<TimestampNanosecondType>();
    let price = batch.column(6).as_primitive::<Float64Type>();
    let quantity = batch.column(7).as_primitive::<Float64Type>();
    (0..batch.num_rows())
        .map(|i| Received {
            venue: text(0).value(i).to_string(),
            instrument_id: text(2).value(i).to_string(),
            ts_event_ms: ts.value(i) / 1_000_000,
            side: text(5).value(i).to_string(),
            price: price.value(i),
            quantity: quantity.value(i),
        })
        .collect()
}

/// Closes the stream and returns everything it delivered.
async fn drain(stream: &LiquidationStream) -> Vec<Received> {
    stream.close().await;
    let mut out = Vec::new();
    while let Some(batch) = stream.next_batch().await {
        out.extend(rows(&batch));
    }
    out
}

fn key(
    venue: &str,
    instrument_id: &str,
    ts_ms: i64,
    side: &str,
    price: f64,
    quantity: f64,
) -> String {
    format!("{venue}|{instrument_id}|{ts_ms}|{side}|{price}|{quantity}")
}

fn emitted_key(e: &EmittedLiquidation) -> String {
    let inst = InstrumentRef::from_native(e.venue, &e.symbol);
    key(
        e.venue.as_str(),
        &inst.instrument_id,
        e.time_ms,
        e.side.as_str(),
        e.price,
        e.quantity,
    )
}

fn received_key(r: &Received) -> String {
    key(
        &r.venue,
        &r.instrument_id,
        r.ts_event_ms,
        &r.side,
        r.price,
        r.quantity,
    )
}

/// The delivery contract over `window_ms` (events sent after the stream was up and before it was closed):
/// nothing twice, nothing invented, and every emitted event either received or sent inside a gap of its stream.
fn assert_exactly_once_or_in_a_gap(
    server: &SimServer,
    venues: &[Venue],
    natives: &[&str],
    received: &[Received],
    gaps: &[StreamGap],
    window_ms: (i64, i64),
) -> usize {
    let keys: Vec<String> = received.iter().map(received_key).collect();
    let unique: HashSet<&String> = keys.iter().collect();
    assert_eq!(unique.len(), keys.len(), "an event was delivered twice");
    let mut emitted: HashMap<String, EmittedLiquidation> = HashMap::new();
    for &venue in venues {
        for e in server.liquidations_emitted(venue) {
            emitted.insert(emitted_key(&e), e);
        }
    }
    for k in &keys {
        assert!(
            emitted.contains_key(k),
            "received an event the simulator never emitted: {k}"
        );
    }
    let mut checked = 0;
    for (k, e) in &emitted {
        if !natives.contains(&e.symbol.as_str())
            || e.sent_at_ms < window_ms.0
            || e.sent_at_ms > window_ms.1
        {
            continue;
        }
        checked += 1;
        if unique.contains(k) {
            continue;
        }
        let inst = InstrumentRef::from_native(e.venue, &e.symbol);
        let sent_ns = e.sent_at_ms * 1_000_000;
        let covered = gaps.iter().any(|g| {
            g.venue == e.venue
                && g.instrument_id == inst.instrument_id
                && g.ts_event <= sent_ns + 999_999
                && sent_ns <= g.ts_init
        });
        assert!(
            covered,
            "event {k} (sent {}, delivered to {}) is missing and in no gap: {gaps:#?}",
            e.sent_at_ms, e.delivered
        );
    }
    checked
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_drops_stalls_refusals_and_garbage_every_event_arrives_once_or_lies_in_a_gap() {
    let server = simulator(8.0).await;
    let venues = [Venue::Binance, Venue::Bybit];
    let stream = start(
        &server,
        &venues,
        &["BTCUSDT-PERP", "ETHUSDT-PERP"],
        fast_options(),
        None,
    )
    .await;
    connected(&stream, 2).await;
    let from_ms = now_ns() / 1_000_000;
    for venue in venues {
        server.inject_ws_fault(venue, WsFault::DropEvery(Duration::from_millis(1700)));
    }
    tokio::time::sleep(Duration::from_millis(800)).await;
    for venue in venues {
        server.inject_ws_fault(venue, WsFault::Malformed);
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    server.inject_ws_fault(Venue::Bybit, WsFault::Refuse(Duration::from_millis(900)));
    tokio::time::sleep(Duration::from_millis(2000)).await;
    for venue in venues {
        server.inject_ws_fault(venue, WsFault::StopDropping);
        server.inject_ws_fault(venue, WsFault::Stall(Duration::from_secs(3)));
    }
    tokio::time::sleep(Duration::from_millis(3500)).await;
    server.inject_ws_fault(Venue::Bybit, WsFault::Burst(40));
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let to_ms = now_ns() / 1_000_000 - 300;
    let received = drain(&stream).await;
    let gaps = stream.gaps();
    let checked = assert_exactly_once_or_in_a_gap(
        &server,
        &venues,
        &["BTCUSDT", "ETHUSDT"],
        &received,
        &gaps,
        (from_ms, to_ms),
    );
    assert!(
        checked > 100,
        "only {checked} events were emitted in the window"
    );
    assert!(
        received.len() > checked / 3,
        "most events arrive: {} of {checked}",
        received.len()
    );
    let reasons: HashSet<GapReason> = gaps.iter().map(|g| g.reason).collect();
    assert!(reasons.contains(&GapReason::ServerClose), "{reasons:?}");
    assert!(
        reasons.contains(&GapReason::IdleTimeout),
        "the stall is caught by the idle timeout: {reasons:?}"
    );
    let stats = stream.stats();
    assert!(
        stats.malformed.load(std::sync::atomic::Ordering::Relaxed) >= 2,
        "both venues' garbage was counted"
    );
    assert!(stats.reconnects.load(std::sync::atomic::Ordering::Relaxed) >= 4);
    for gap in &gaps {
        assert!(gap.ts_event <= gap.ts_init, "{gap:?}");
        assert!(
            gap.ts_init - gap.ts_event < 5_000_000_000,
            "gaps end when the subscription is back: {gap:?}"
        );
    }
    // Sides follow the table's convention: Binance S and Bybit's inverted position side both arrive normalised.
    let emitted: HashMap<String, Side> = venues
        .iter()
        .flat_map(|&v| server.liquidations_emitted(v))
        .map(|e| (emitted_key(&e), e.side))
        .collect();
    for r in &received {
        assert_eq!(emitted[&received_key(r)].as_str(), r.side);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn planned_replacement_overlaps_and_loses_nothing() {
    let server = simulator(10.0).await;
    let options = StreamOptions {
        max_connection_age: Some(Duration::from_millis(1200)),
        ..fast_options()
    };
    let stream = start(
        &server,
        &[Venue::Binance, Venue::Bybit],
        &["BTCUSDT-PERP"],
        options,
        None,
    )
    .await;
    connected(&stream, 2).await;
    let from_ms = now_ns() / 1_000_000;
    tokio::time::sleep(Duration::from_millis(5000)).await;
    let to_ms = now_ns() / 1_000_000 - 300;
    let received = drain(&stream).await;
    let gaps = stream.gaps();
    assert!(
        gaps.is_empty(),
        "a planned replacement leaves no gap: {gaps:?}"
    );
    let planned = stream
        .stats()
        .planned_reconnects
        .load(std::sync::atomic::Ordering::Relaxed);
    assert!(
        planned >= 4,
        "each venue replaced its connection about every 1.2 s: {planned}"
    );
    let checked = assert_exactly_once_or_in_a_gap(
        &server,
        &[Venue::Binance, Venue::Bybit],
        &["BTCUSDT"],
        &received,
        &gaps,
        (from_ms, to_ms),
    );
    assert!(checked > 40, "{checked}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconnect_delays_are_immediate_then_doubling_with_jitter() {
    let server = simulator(1.0).await;
    let stream = start(
        &server,
        &[Venue::Bybit],
        &["BTCUSDT-PERP"],
        fast_options(),
        None,
    )
    .await;
    connected(&stream, 1).await;
    server.inject_ws_fault(Venue::Bybit, WsFault::Refuse(Duration::from_millis(2500)));
    let dropped_ms = now_ns() / 1_000_000;
    server.inject_ws_fault(Venue::Bybit, WsFault::Drop);
    tokio::time::sleep(Duration::from_millis(3500)).await;
    let attempts: Vec<(i64, bool)> = server
        .ws_connection_attempts(Venue::Bybit)
        .into_iter()
        .filter(|(t, _)| *t >= dropped_ms)
        .collect();
    drop(stream);
    let refused: Vec<i64> = attempts
        .iter()
        .filter(|(_, ok)| !ok)
        .map(|(t, _)| *t)
        .collect();
    assert!(refused.len() >= 4, "{attempts:?}");
    assert!(
        refused[0] - dropped_ms < 150,
        "the first retry is immediate: {attempts:?}"
    );
    // Then 100, 200, 400, 800 ms steps (capped at 1 s), each drawn from [50 %, 100 %] of its step.
    for (i, pair) in refused.windows(2).enumerate().take(4) {
        let step = (100i64 << i).min(1000);
        let delay = pair[1] - pair[0];
        assert!(
            delay >= step / 2 - 5 && delay <= step + 150,
            "retry {i}: {delay} ms for a {step} ms step: {attempts:?}"
        );
    }
    assert!(
        attempts.last().unwrap().1,
        "it connects again once refusals end: {attempts:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stall_is_detected_within_the_idle_timeout() {
    let server = simulator(5.0).await;
    let stream = start(
        &server,
        &[Venue::Binance],
        &["BTCUSDT-PERP"],
        fast_options(),
        None,
    )
    .await;
    connected(&stream, 1).await;
    let stalled_ms = now_ns() / 1_000_000;
    server.inject_ws_fault(Venue::Binance, WsFault::Stall(Duration::from_secs(10)));
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let reconnect_ms = server
        .ws_connection_attempts(Venue::Binance)
        .into_iter()
        .map(|(t, _)| t)
        .find(|t| *t > stalled_ms)
        .expect("the stalled connection was replaced");
    assert!(
        reconnect_ms - stalled_ms <= 1200 + 300,
        "idle timeout 1.2 s, replaced after {} ms",
        reconnect_ms - stalled_ms
    );
    let gaps = stream.gaps();
    assert!(
        gaps.iter().any(|g| g.reason == GapReason::IdleTimeout),
        "{gaps:?}"
    );
    drop(stream);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_legacy_binance_route_connects_but_stays_silent() {
    let server = simulator(10.0).await;
    let venue_client = client(&server, Venue::Binance).0;
    let legacy = Some(format!("{}/ws", server.ws_base_url(Venue::Binance)));
    let (stream, _) = start_for_symbols(
        &[(venue_client, legacy)],
        &["BTCUSDT-PERP".into()],
        false,
        &[],
        fast_options(),
        None,
    )
    .await
    .unwrap();
    connected(&stream, 1).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let received = drain(&stream).await;
    assert!(received.is_empty(), "{received:?}");
    assert!(server
        .liquidations_emitted(Venue::Binance)
        .iter()
        .any(|e| e.symbol == "BTCUSDT"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_whole_binance_market_arrives_on_one_stream() {
    let server = simulator(4.0).await;
    let (venue_client, ws) = client(&server, Venue::Binance);
    let (stream, _) =
        start_for_symbols(&[(venue_client, ws)], &[], true, &[], fast_options(), None)
            .await
            .unwrap();
    connected(&stream, 1).await;
    server.inject_ws_fault(Venue::Binance, WsFault::Burst(30));
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let received = drain(&stream).await;
    let instruments: HashSet<&str> = received.iter().map(|r| r.instrument_id.as_str()).collect();
    assert!(
        instruments.len() >= 10,
        "a burst over many symbols: {instruments:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hyperliquid_polling_resumes_from_the_store_and_equals_the_simulators_fills() {
    let server = simulator(0.0).await;
    let dir = tempfile::tempdir().unwrap();
    let store = ParquetStore::open(dir.path()).unwrap();
    // The newest stored Hyperliquid liquidation, two hours ago: polling resumes right after it, over two pages.
    let resume_ms = now_ns() / 1_000_000 - 2 * 3600 * 1000;
    let eth = InstrumentRef::new(Venue::Hyperliquid, &UnifiedSymbol::parse("ETH").unwrap());
    store
        .write(&[eth.liquidation(
            resume_ms * 1_000_000,
            resume_ms * 1_000_000,
            Side::Buy,
            1.0,
            1.0,
        )])
        .unwrap();
    let address = "0x00000000000000000000000000000000000000aa";
    let (venue_client, _) = client(&server, Venue::Hyperliquid);
    let (stream, failures) = start_for_symbols(
        &[(venue_client, None)],
        &[],
        true,
        &[address.to_uppercase().replace("0X", "0x")],
        fast_options(),
        Some(Arc::new(store.clone())),
    )
    .await
    .unwrap();
    assert!(failures.is_empty());
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let until_ms = now_ns() / 1_000_000 - 1000;
    let received = drain(&stream).await;
    let expected: Vec<fills::HyperliquidFill> =
        fills::user_fills(5, address, resume_ms + 1, until_ms, until_ms, usize::MAX)
            .into_iter()
            .filter(|f| f.liquidation.is_some())
            .collect();
    assert!(
        expected.len() > 1000,
        "two hours of fills span more than one 2000-fill page: {}",
        expected.len()
    );
    let got: HashSet<String> = received.iter().map(received_key).collect();
    assert_eq!(got.len(), received.len(), "no fill twice");
    for fill in &expected {
        let inst = InstrumentRef::from_native(Venue::Hyperliquid, &fill.coin);
        let side = fill.liquidation.as_ref().unwrap().liquidated_side;
        let k = key(
            "hyperliquid",
            &inst.instrument_id,
            fill.time_ms,
            side.as_str(),
            fill.price,
            fill.size,
        );
        assert!(got.contains(&k), "missing {k}");
    }
    // What the stream stored is what it delivered (plus the row stored before).
    let mut ids: Vec<String> = received.iter().map(|r| r.instrument_id.clone()).collect();
    ids.push(eth.instrument_id.clone());
    ids.sort();
    ids.dedup();
    let range = ccxt_pipeline_rs::store::TimeRange {
        start: None,
        end: None,
    };
    let (stored, _) = store
        .read_table(ccxt_pipeline_rs::store::Kind::Liquidation, &ids, &range)
        .unwrap();
    assert_eq!(stored.num_rows(), received.len() + 1);
}
