//! History against the simulator: for random ranges and page sizes the fetched rows equal the simulator's ground
//! truth exactly (no gap, no duplicate at page boundaries), incremental runs resume where the store ends, and
//! concurrent backfills stay inside every venue limit.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ccxt_pipeline_rs::fetch::{HistoryRange, HistorySink, Orchestrator, VenueClient};
use ccxt_pipeline_rs::model::{PipelineError, Venue};
use ccxt_pipeline_rs::net::HttpConfig;
use ccxt_pipeline_rs::sim::{data, SimConfig, SimServer};
use ccxt_pipeline_rs::store::{ParquetStore, TimeRange};
use ccxt_pipeline_rs::venue::OiPeriod;

const SEED: u64 = 3;
/// 2025-06-01T00:00:00Z, frozen: "now" for the venues' windows.
const NOW_MS: i64 = 1_748_736_000_000;
const DAY_MS: i64 = 86_400_000;

async fn sim() -> SimServer {
    let server = SimServer::start(
        SimConfig {
            seed: SEED,
            ..SimConfig::default()
        },
        0,
    )
    .await
    .unwrap();
    server.set_clock_ms(Some(NOW_MS));
    server
}

fn client(server: &SimServer, venue: Venue, page: usize) -> VenueClient {
    VenueClient::new(venue, Some(&server.base_url(venue)), &HttpConfig::default())
        .unwrap()
        .with_history_page_limit(page)
}

/// A small deterministic generator for the random cases (no external crate).
struct Cases(u64);

impl Cases {
    fn next(&mut self, below: i64) -> i64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((self.0 >> 33) % below as u64) as i64
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn open_interest_history_equals_ground_truth_for_random_ranges_and_pages() {
    let server = sim().await;
    let mut cases = Cases(1);
    for case in 0..12 {
        let venue = [Venue::Binance, Venue::Bybit][case % 2];
        let period = [OiPeriod::M5, OiPeriod::H1, OiPeriod::M15][case % 3];
        let page = [7, 50, 500][case % 3];
        let end = NOW_MS - cases.next(10 * DAY_MS);
        let start = end - cases.next(20 * DAY_MS) - 1;
        let history = client(&server, venue, page)
            .fetch_open_interest_history(
                "ETHUSDT-PERP",
                period,
                HistoryRange::new(start, end).unwrap(),
                &HistorySink::default(),
            )
            .await
            .unwrap();
        let truth =
            data::open_interest_history(SEED, venue, "ETH", period.millis(), start, end, NOW_MS);
        let got: Vec<(i64, f64, Option<f64>)> = history
            .rows
            .iter()
            .map(|r| {
                (
                    r.ts_event / 1_000_000,
                    r.open_interest,
                    r.open_interest_value,
                )
            })
            .collect();
        assert_eq!(
            got, truth,
            "case {case}: {venue} {period:?} page {page} [{start}, {end}]"
        );
        assert!(history.warnings.is_empty(), "{:?}", history.warnings);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn funding_history_equals_ground_truth_for_random_ranges_and_pages() {
    let server = sim().await;
    let mut cases = Cases(2);
    for case in 0..12 {
        let venue = Venue::ALL[case % 3];
        let coin = ["BTC", "DOGE"][case % 2];
        let page = [3, 20, 1000][case % 3];
        let end = NOW_MS - cases.next(30 * DAY_MS);
        let start = end - cases.next(90 * DAY_MS) - 1;
        let history = client(&server, venue, page)
            .fetch_funding_rate_history(
                &format!("{coin}USDT-PERP"),
                HistoryRange::new(start, end).unwrap(),
                &HistorySink::default(),
            )
            .await
            .unwrap();
        let truth = data::funding_history(SEED, venue, coin, start, end, NOW_MS);
        let got: Vec<(i64, f64, Option<f64>)> = history
            .rows
            .iter()
            .map(|r| (r.ts_event / 1_000_000, r.funding_rate, r.mark_price))
            .collect();
        assert_eq!(
            got, truth,
            "case {case}: {venue} {coin} page {page} [{start}, {end}]"
        );
        let hours = i64::from(data::funding_interval_hours(venue, coin));
        assert!(
            history
                .rows
                .iter()
                .skip(1)
                .all(|r| r.interval_minutes == Some(hours as u16 * 60)),
            "{venue} {coin}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn binance_open_interest_beyond_30_days_says_so() {
    let server = sim().await;
    let start = NOW_MS - 40 * DAY_MS;
    let history = client(&server, Venue::Binance, 500)
        .fetch_open_interest_history(
            "BTCUSDT-PERP",
            OiPeriod::H1,
            HistoryRange::new(start, NOW_MS).unwrap(),
            &HistorySink::default(),
        )
        .await
        .unwrap();
    // The client starts a margin inside the window (which moves on while the request travels).
    let window_start =
        NOW_MS - 30 * DAY_MS + ccxt_pipeline_rs::venue::binance::OI_HISTORY_EDGE_MARGIN_MS;
    let truth = data::open_interest_history(
        SEED,
        Venue::Binance,
        "BTC",
        OiPeriod::H1.millis(),
        window_start,
        NOW_MS,
        NOW_MS,
    );
    assert_eq!(history.rows.len(), truth.len());
    assert!(history.rows.len() >= 30 * 24 && history.rows.len() <= 30 * 24 + 1);
    assert_eq!(history.warnings.len(), 1);
    assert!(
        history.warnings[0].contains("last 30 days only"),
        "{}",
        history.warnings[0]
    );
    // Entirely older than 30 days: nothing, and a warning, not silence.
    let old = client(&server, Venue::Binance, 500)
        .fetch_open_interest_history(
            "BTCUSDT-PERP",
            OiPeriod::H1,
            HistoryRange::new(start, start + DAY_MS).unwrap(),
            &HistorySink::default(),
        )
        .await
        .unwrap();
    assert!(old.rows.is_empty());
    assert!(
        old.warnings[0].contains("not available")
            && old.warnings[0].contains("nothing of the range"),
        "{:?}",
        old.warnings
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn hyperliquid_has_no_open_interest_history() {
    let server = sim().await;
    let err = client(&server, Venue::Hyperliquid, 500)
        .fetch_open_interest_history(
            "BTCUSDT-PERP",
            OiPeriod::H1,
            HistoryRange::new(0, NOW_MS).unwrap(),
            &HistorySink::default(),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            PipelineError::Unsupported {
                venue: Venue::Hyperliquid,
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(
        server.request_count(Venue::Hyperliquid),
        0,
        "no request for what the venue does not offer"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn incremental_runs_resume_after_the_store_and_a_killed_backfill_completes_exactly() {
    let server = sim().await;
    let range = HistoryRange::new(NOW_MS - 25 * DAY_MS, NOW_MS).unwrap();
    for venue in [Venue::Binance, Venue::Bybit] {
        let reference = tempfile::tempdir().unwrap();
        let sink = |dir: &std::path::Path| HistorySink {
            store: Some(Arc::new(ParquetStore::open(dir).unwrap())),
            progress: None,
            ..Default::default()
        };
        let full = client(&server, venue, 50)
            .fetch_open_interest_history(
                "SOLUSDT-PERP",
                OiPeriod::M15,
                range,
                &sink(reference.path()),
            )
            .await
            .unwrap();
        assert_eq!(full.rows_stored, full.rows.len());

        // Kill the backfill after a few pages: the future is dropped mid-flight, as on Ctrl+C.
        let interrupted = tempfile::tempdir().unwrap();
        let pages = Arc::new(AtomicUsize::new(0));
        let counter = pages.clone();
        // Stored in batches of 100 rows (two pages): killed once the first batch is stored and more pages came.
        let interrupted_store = ParquetStore::open(interrupted.path()).unwrap();
        let killing = HistorySink {
            store: Some(Arc::new(interrupted_store.clone())),
            progress: Some(Arc::new(move |_| {
                counter.fetch_add(1, Ordering::SeqCst);
            })),
            store_batch_rows: Some(100),
            ..Default::default()
        };
        let c = client(&server, venue, 50);
        let watcher = pages.clone();
        tokio::select! {
            _ = c.fetch_open_interest_history("SOLUSDT-PERP", OiPeriod::M15, range, &killing) => panic!("{venue}: the backfill should have been killed"),
            _ = async {
                while interrupted_store.rows_added() == 0 || watcher.load(Ordering::SeqCst) < 5 {
                    tokio::time::sleep(Duration::from_millis(1)).await
                }
            } => {}
        }
        let resumed = client(&server, venue, 50)
            .fetch_open_interest_history(
                "SOLUSDT-PERP",
                OiPeriod::M15,
                range,
                &sink(interrupted.path()),
            )
            .await
            .unwrap();
        assert!(resumed.resumed_after_ms.is_some(), "{venue}");
        let read = |dir: &std::path::Path| {
            ParquetStore::open(dir)
                .unwrap()
                .read::<ccxt_pipeline_rs::model::OpenInterest>(None, &TimeRange::default())
                .unwrap()
                .0
        };
        assert_eq!(
            read(interrupted.path()),
            read(reference.path()),
            "{venue}: resumed store differs from an uninterrupted run"
        );

        // A re-run finds nothing new.
        let again = client(&server, venue, 50)
            .fetch_open_interest_history(
                "SOLUSDT-PERP",
                OiPeriod::M15,
                range,
                &sink(reference.path()),
            )
            .await
            .unwrap();
        assert_eq!((again.rows.len(), again.rows_stored), (0, 0), "{venue}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_backfills_stay_inside_every_limit() {
    let server = sim().await;
    let symbols: Vec<String> = [
        "BTC", "ETH", "SOL", "XRP", "DOGE", "1000PEPE", "BNB", "ADA", "AVAX", "LINK",
    ]
    .iter()
    .map(|c| format!("{c}USDT-PERP"))
    .collect();
    let orchestrator = Orchestrator::for_venues(
        &Venue::ALL,
        |v| Some(server.base_url(v)),
        &HttpConfig::default(),
    )
    .unwrap();
    let range = HistoryRange::new(NOW_MS - 30 * DAY_MS, NOW_MS).unwrap();
    let started = Instant::now();
    let funding = orchestrator
        .fetch_funding_rate_history(&symbols, range, &HistorySink::default())
        .await
        .unwrap();
    assert!(funding.failures.is_empty(), "{:?}", funding.failures);
    assert_eq!(funding.rows.len(), 30);
    let oi = orchestrator
        .fetch_open_interest_history(&symbols, OiPeriod::M5, range, &HistorySink::default())
        .await
        .unwrap();
    assert_eq!(oi.rows.len(), 20);
    assert_eq!(
        oi.failures.len(),
        10,
        "hyperliquid: unsupported, once per symbol"
    );
    let rows: usize = oi.rows.iter().map(|h| h.rows.len()).sum::<usize>()
        + funding.rows.iter().map(|h| h.rows.len()).sum::<usize>();
    eprintln!("backfill of {rows} rows in {:?}", started.elapsed());
    assert!(server.max_weight_in_window(Venue::Binance) <= 2400);
    assert!(server.max_weight_in_window(Venue::Bybit) <= 600);
    assert!(server.max_weight_in_window(Venue::Hyperliquid) <= 1200);
    use ccxt_pipeline_rs::sim::limit_group;
    assert!(
        server.max_weight_in_window_of(Venue::Binance, limit_group::BINANCE_FUTURES_DATA) <= 1000
    );
    assert!(
        server.max_weight_in_window_of(Venue::Binance, limit_group::BINANCE_FUNDING_RATE) <= 500
    );
    assert!(
        server.max_weight_in_window_of(Venue::Binance, limit_group::BINANCE_FUTURES_DATA) > 0,
        "the group was used"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_hole_or_a_later_snapshot_does_not_stop_the_backfill() {
    use ccxt_pipeline_rs::model::OpenInterest;
    let server = sim().await;
    let range = HistoryRange::new(NOW_MS - 10 * DAY_MS, NOW_MS - DAY_MS).unwrap();
    let full = client(&server, Venue::Bybit, 200)
        .fetch_open_interest_history(
            "ETHUSDT-PERP",
            OiPeriod::M15,
            range,
            &HistorySink::default(),
        )
        .await
        .unwrap()
        .rows;
    // The store has the range minus days 3–6, plus a live snapshot taken after it.
    let dir = tempfile::tempdir().unwrap();
    let store = ParquetStore::open(dir.path()).unwrap();
    let hole = (range.start_ms + 3 * DAY_MS) * 1_000_000..(range.start_ms + 6 * DAY_MS) * 1_000_000;
    let kept: Vec<OpenInterest> = full
        .iter()
        .filter(|r| !hole.contains(&r.ts_event))
        .cloned()
        .collect();
    let snapshot = OpenInterest {
        ts_event: NOW_MS * 1_000_000,
        ts_init: NOW_MS * 1_000_000,
        ..full[0].clone()
    };
    store.write(&kept).unwrap();
    store.write(std::slice::from_ref(&snapshot)).unwrap();
    let sink = HistorySink {
        store: Some(Arc::new(store.clone())),
        progress: None,
        ..Default::default()
    };
    let history = client(&server, Venue::Bybit, 200)
        .fetch_open_interest_history("ETHUSDT-PERP", OiPeriod::M15, range, &sink)
        .await
        .unwrap();
    assert_eq!(
        history.resumed_after_ms,
        Some(range.start_ms + 3 * DAY_MS - OiPeriod::M15.millis()),
        "resumes at the hole"
    );
    assert_eq!(
        history.rows_stored,
        full.len() - kept.len(),
        "exactly the hole is filled"
    );
    let (stored, _) = store
        .read::<OpenInterest>(None, &TimeRange::default())
        .unwrap();
    let mut expected = full.clone();
    expected.push(snapshot);
    assert_eq!(stored, expected);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_panicking_task_is_a_failure_of_its_venue_not_a_silent_loss() {
    let server = sim().await;
    let orchestrator = Orchestrator::for_venues(
        &Venue::ALL,
        |v| Some(server.base_url(v)),
        &HttpConfig::default(),
    )
    .unwrap();
    // A progress callback is caller code: if it panics inside the Bybit task, only Bybit's result is lost.
    let sink = HistorySink {
        store: None,
        progress: Some(Arc::new(|p| {
            assert_ne!(p.venue, Venue::Bybit, "callback bug")
        })),
        ..Default::default()
    };
    let range = HistoryRange::new(NOW_MS - DAY_MS, NOW_MS).unwrap();
    let result = orchestrator
        .fetch_funding_rate_history(&["BTCUSDT-PERP".to_string()], range, &sink)
        .await
        .unwrap();
    assert_eq!(
        result.rows.iter().map(|h| h.venue).collect::<Vec<_>>(),
        vec![Venue::Binance, Venue::Hyperliquid]
    );
    match result.failures.as_slice() {
        [PipelineError::Internal {
            venue: Venue::Bybit,
            message,
        }] => assert!(message.contains("BTCUSDT-PERP"), "{message}"),
        other => panic!("{other:?}"),
    }
}

/// Item 16: what a finished fetch covered is recorded in the store, so re-running it costs at most the symbol
/// resolution (one request per venue and symbol) and adds nothing.
#[tokio::test(flavor = "multi_thread")]
async fn a_second_run_of_a_finished_range_costs_at_most_one_request_per_venue_and_symbol() {
    let server = sim().await;
    let dir = tempfile::tempdir().unwrap();
    let sink = || HistorySink {
        store: Some(Arc::new(ParquetStore::open(dir.path()).unwrap())),
        progress: None,
        ..Default::default()
    };
    let range = HistoryRange::new(NOW_MS - 20 * DAY_MS, NOW_MS - DAY_MS).unwrap();
    let symbols = ["BTCUSDT-PERP", "DOGEUSDT-PERP"];
    for pass in 0..3 {
        for venue in Venue::ALL {
            let before = server.request_count(venue);
            let mut rows = (0, 0);
            // A new client each pass: its instrument list is not cached, as in a new process.
            let client = client(&server, venue, 20);
            for symbol in symbols {
                let funding = client
                    .fetch_funding_rate_history(symbol, range, &sink())
                    .await
                    .unwrap();
                rows.0 += funding.rows.len();
                rows.1 += funding.rows_stored;
                if venue != Venue::Hyperliquid {
                    let oi = client
                        .fetch_open_interest_history(symbol, OiPeriod::H1, range, &sink())
                        .await
                        .unwrap();
                    rows.0 += oi.rows.len();
                    rows.1 += oi.rows_stored;
                }
            }
            let requests = server.request_count(venue) - before;
            if pass == 0 {
                assert!(rows.1 > 0 && rows.0 == rows.1, "{venue}: {rows:?}");
                // Resolution and pages (Hyperliquid ignores the page size: one page of 500 per symbol).
                assert!(
                    requests > symbols.len() as u64,
                    "{venue}: {requests} requests for the first run"
                );
            } else {
                assert_eq!(rows, (0, 0), "{venue} pass {pass}");
                assert!(
                    requests <= symbols.len() as u64,
                    "{venue} pass {pass}: {requests} requests to re-run a finished range"
                );
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_range_extended_at_the_end_fetches_only_the_new_part() {
    let server = sim().await;
    for venue in Venue::ALL {
        let dir = tempfile::tempdir().unwrap();
        let sink = HistorySink {
            store: Some(Arc::new(ParquetStore::open(dir.path()).unwrap())),
            progress: None,
            ..Default::default()
        };
        let start = NOW_MS - 60 * DAY_MS;
        let first_end = NOW_MS - 10 * DAY_MS;
        client(&server, venue, 20)
            .fetch_funding_rate_history(
                "ETHUSDT-PERP",
                HistoryRange::new(start, first_end).unwrap(),
                &sink,
            )
            .await
            .unwrap();
        let before = server.request_count(venue);
        let extended = client(&server, venue, 20)
            .fetch_funding_rate_history(
                "ETHUSDT-PERP",
                HistoryRange::new(start, NOW_MS).unwrap(),
                &sink,
            )
            .await
            .unwrap();
        let requests = server.request_count(venue) - before;
        let truth = data::funding_history(SEED, venue, "ETH", first_end + 1, NOW_MS, NOW_MS);
        let got: Vec<i64> = extended
            .rows
            .iter()
            .map(|r| r.ts_event / 1_000_000)
            .collect();
        assert_eq!(
            got,
            truth.iter().map(|t| t.0).collect::<Vec<_>>(),
            "{venue}: only the new part"
        );
        assert_eq!(extended.rows_stored, truth.len(), "{venue}");
        // Resolution + the pages of 10 days (page 20; Hyperliquid pages 500 rows).
        let pages = truth
            .len()
            .div_ceil(if venue == Venue::Hyperliquid { 500 } else { 20 });
        assert!(
            requests as usize <= 1 + pages + 1,
            "{venue}: {requests} requests for {} new rows",
            truth.len()
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_range_starting_before_listing_is_remembered_and_survives_a_restart() {
    let server = sim().await;
    // Hyperliquid listed BTC on 2023-06-01; ask from 2023-03-01 (a run that used to be repeated every time).
    let listed = 1_685_577_600_000;
    let start = listed - 92 * DAY_MS;
    let end = listed + 40 * DAY_MS;
    let dir = tempfile::tempdir().unwrap();
    let open = || HistorySink {
        store: Some(Arc::new(ParquetStore::open(dir.path()).unwrap())),
        progress: None,
        ..Default::default()
    };
    let first = client(&server, Venue::Hyperliquid, 500)
        .fetch_funding_rate_history("BTC", HistoryRange::new(start, end).unwrap(), &open())
        .await
        .unwrap();
    // Hyperliquid settles a few hundred ms after the hour.
    let first_row = first.rows.first().map(|r| r.ts_event / 1_000_000).unwrap();
    assert!(
        (listed..listed + 60_000).contains(&first_row),
        "{first_row}"
    );
    let store = ParquetStore::open(dir.path()).unwrap();
    let id = first.instrument_id.clone();
    let coverage = store.read_coverage("funding_rate", &id);
    assert_eq!(coverage.first_available_ms, Some(first_row));
    assert_eq!(coverage.ranges, vec![(start, end)]);
    // The sidecar is a hidden folder: the store's datasets do not see it.
    assert!(dir
        .path()
        .join(".ccxt_pipeline/coverage/funding_rate")
        .join(format!("{id}.json"))
        .is_file());
    assert_eq!(store.summary().unwrap().len(), 1);

    // Restarted (new store and client objects): the same range, an even earlier start, and the other symbol
    // spellings cost at most the resolution request.
    for (symbol, from) in [
        ("BTC", start),
        ("BTCUSDT-PERP", start - 365 * DAY_MS),
        (id.as_str(), 1_640_995_200_000),
    ] {
        let before = server.request_count(Venue::Hyperliquid);
        let again = client(&server, Venue::Hyperliquid, 500)
            .fetch_funding_rate_history(symbol, HistoryRange::new(from, end).unwrap(), &open())
            .await
            .unwrap();
        assert_eq!((again.rows.len(), again.rows_stored), (0, 0), "{symbol}");
        assert!(
            server.request_count(Venue::Hyperliquid) - before <= 1,
            "{symbol}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_corrupt_coverage_file_is_ignored_and_rewritten() {
    let server = sim().await;
    let range = HistoryRange::new(NOW_MS - 30 * DAY_MS, NOW_MS - DAY_MS).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = ParquetStore::open(dir.path()).unwrap();
    let sink = HistorySink {
        store: Some(Arc::new(store.clone())),
        progress: None,
        ..Default::default()
    };
    let first = client(&server, Venue::Bybit, 50)
        .fetch_funding_rate_history("SOLUSDT-PERP", range, &sink)
        .await
        .unwrap();
    let path = store
        .coverage_path("funding_rate", &first.instrument_id)
        .unwrap();
    let mut previous_requests = None;
    for junk in [
        &b""[..],
        b"{\"version\": 1, \"ranges\": [[5, 1]]",
        b"not json at all",
        b"{\"version\": 99}",
    ] {
        std::fs::write(&path, junk).unwrap();
        let before = server.request_count(Venue::Bybit);
        let again = client(&server, Venue::Bybit, 50)
            .fetch_funding_rate_history("SOLUSDT-PERP", range, &sink)
            .await
            .expect("a corrupt coverage file never blocks a fetch");
        let requests = server.request_count(Venue::Bybit) - before;
        assert_eq!(again.rows_stored, 0);
        if let Some(previous) = previous_requests {
            assert_eq!(requests, previous);
        }
        previous_requests = Some(requests);
        assert_eq!(
            store
                .read_coverage("funding_rate", &first.instrument_id)
                .ranges,
            vec![(range.start_ms, range.end_ms)],
            "rewritten"
        );
    }
}

/// What a history keeps: records, Arrow batches built page by page, or nothing (the store has the rows); the
/// counts and the stored rows are the same whichever is kept.
#[tokio::test(flavor = "multi_thread")]
async fn a_history_keeps_rows_batches_or_nothing_and_stores_the_same() {
    use ccxt_pipeline_rs::fetch::Keep;
    use ccxt_pipeline_rs::model::OpenInterest;
    use ccxt_pipeline_rs::store::StoredRow;
    let server = sim().await;
    let range = HistoryRange::new(NOW_MS - 20 * DAY_MS, NOW_MS).unwrap();
    let mut stored = Vec::new();
    let mut reference: Option<Vec<OpenInterest>> = None;
    for keep in [Keep::Rows, Keep::Batches, Keep::Nothing] {
        let dir = tempfile::tempdir().unwrap();
        let store = ParquetStore::open(dir.path()).unwrap();
        let sink = HistorySink {
            store: Some(Arc::new(store.clone())),
            keep,
            // Several store writes per history (20 days at 15 minutes is 1 920 rows).
            store_batch_rows: Some(500),
            ..Default::default()
        };
        let history = client(&server, Venue::Bybit, 200)
            .fetch_open_interest_history("ETHUSDT-PERP", OiPeriod::M15, range, &sink)
            .await
            .unwrap();
        let (back, _) = store
            .read::<OpenInterest>(None, &TimeRange::default())
            .unwrap();
        assert_eq!(history.rows_fetched, back.len(), "{keep:?}");
        assert_eq!(history.rows_stored, back.len(), "{keep:?}");
        assert_eq!(history.first_event_ns, back.first().map(|r| r.ts_event));
        assert_eq!(history.last_event_ns, back.last().map(|r| r.ts_event));
        match keep {
            Keep::Rows => {
                assert!(history.batches.is_empty());
                reference = Some(history.rows.clone());
            }
            Keep::Batches => {
                assert!(history.rows.is_empty());
                let rows: Vec<OpenInterest> = history
                    .batches
                    .iter()
                    .flat_map(|b| OpenInterest::from_table(b).unwrap())
                    .collect();
                assert_eq!(
                    Some(rows),
                    reference,
                    "batches hold the same rows as records"
                );
            }
            Keep::Nothing => assert!(history.rows.is_empty() && history.batches.is_empty()),
        }
        stored.push(back);
    }
    assert!(stored.windows(2).all(|w| w[0] == w[1]));
    assert!(stored[0].len() > 1_500);
}
