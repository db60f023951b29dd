//! The daemon against the simulator: snapshots on the wall-clock grid for every venue (Hyperliquid included),
//! history catch-up, liquidation streams, the status file, the data dir lock, and a restart that continues with
//! no duplicates and the downtime recorded as a gap.

use std::collections::BTreeMap;
use std::time::Duration;

use arrow_array::cast::AsArray;
use arrow_array::types::TimestampNanosecondType;
use ccxt_pipeline_rs::daemon::{
    DaemonConfig, DaemonLock, DaemonRunner, DaemonStatus, SymbolSelection,
};
use ccxt_pipeline_rs::model::{GapReason, Venue};
use ccxt_pipeline_rs::sim::{SimConfig, SimServer};
use ccxt_pipeline_rs::store::{Kind, ParquetStore, TimeRange};
use tokio::sync::watch;

fn config(server: &SimServer, data_dir: &std::path::Path) -> DaemonConfig {
    let urls = |ws: bool| -> BTreeMap<Venue, String> {
        Venue::ALL
            .iter()
            .map(|&v| {
                (
                    v,
                    if ws {
                        server.ws_base_url(v)
                    } else {
                        server.base_url(v)
                    },
                )
            })
            .collect()
    };
    DaemonConfig {
        data_dir: data_dir.to_path_buf(),
        symbols: SymbolSelection::Listed(vec!["BTCUSDT-PERP".into(), "ETHUSDT-PERP".into()]),
        open_interest_interval: Some(Duration::from_secs(1)),
        funding_interval: Some(Duration::from_secs(2)),
        history_catch_up: Some(Duration::from_secs(3 * 3600)),
        base_urls: urls(false),
        ws_urls: urls(true),
        flush_interval: Duration::from_millis(200),
        compaction_interval: Some(Duration::from_secs(2)),
        ..DaemonConfig::default()
    }
}

async fn run_for(config: DaemonConfig, seconds: f64) -> DaemonStatus {
    let data_dir = config.data_dir.clone();
    let (stop, stopped) = watch::channel(false);
    let runner = tokio::spawn(async move { DaemonRunner::new(config).run(stopped).await });
    tokio::time::sleep(Duration::from_secs_f64(seconds)).await;
    stop.send_replace(true);
    tokio::time::timeout(Duration::from_secs(20), runner)
        .await
        .expect("stops within its bound")
        .unwrap()
        .unwrap();
    DaemonStatus::read(&data_dir)
        .unwrap()
        .expect("a status file")
}

fn rows_by_instrument(store: &ParquetStore, kind: Kind) -> BTreeMap<String, Vec<i64>> {
    let mut out = BTreeMap::new();
    for dataset in store.summary().unwrap() {
        if dataset.kind != kind {
            continue;
        }
        let (table, _) = store
            .read_table(
                kind,
                std::slice::from_ref(&dataset.instrument_id),
                &TimeRange {
                    start: None,
                    end: None,
                },
            )
            .unwrap();
        let ts = table.column(3).as_primitive::<TimestampNanosecondType>();
        out.insert(dataset.instrument_id.clone(), ts.values().to_vec());
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daemon_collects_every_venue_reports_its_status_and_resumes_after_a_restart() {
    let server = SimServer::start(
        SimConfig {
            seed: 9,
            ..SimConfig::default()
        },
        0,
    )
    .await
    .unwrap();
    for venue in [Venue::Binance, Venue::Bybit] {
        server.set_liquidation_rate(venue, 5.0);
    }
    let dir = tempfile::tempdir().unwrap();
    let status = run_for(config(&server, dir.path()), 5.5).await;

    assert_eq!(status.state, "stopped");
    for venue in Venue::ALL {
        let job = &status.jobs[&format!("open_interest {venue}")];
        assert!(
            job.runs >= 4 && job.last_success_ms.is_some() && job.last_error.is_none(),
            "{venue}: {job:?}"
        );
        assert!(job.rows_written >= 8, "two symbols per tick: {job:?}");
    }
    assert!(
        status.jobs["history binance"].rows_written > 0,
        "{:?}",
        status.jobs["history binance"]
    );
    let streams = status.streams.expect("stream counters");
    assert!(
        streams.events > 0 && streams.stored == streams.events,
        "{streams:?}"
    );

    let store = ParquetStore::open(dir.path()).unwrap();
    let oi = rows_by_instrument(&store, Kind::OpenInterest);
    let hyperliquid = &oi["BTC-USD-PERP.HYPERLIQUID"];
    assert!(
        hyperliquid.len() >= 4,
        "Hyperliquid open interest builds up from snapshots: {hyperliquid:?}"
    );
    let funding = rows_by_instrument(&store, Kind::FundingRate);
    assert!(
        funding.contains_key("ETH-USD-PERP.HYPERLIQUID")
            && funding.contains_key("ETHUSDT-LINEAR.BYBIT")
    );
    let liquidations = rows_by_instrument(&store, Kind::Liquidation);
    assert!(
        liquidations.keys().any(|id| id.ends_with(".BYBIT"))
            && liquidations.keys().any(|id| id.ends_with(".BINANCE"))
    );

    // A restart continues: no duplicates, and the downtime is a gap of every stream.
    let before: usize = oi.values().map(Vec::len).sum();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let second = run_for(config(&server, dir.path()), 3.5).await;
    assert_eq!(second.state, "stopped");
    let oi_after = rows_by_instrument(&store, Kind::OpenInterest);
    for (id, times) in &oi_after {
        let mut unique = times.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), times.len(), "{id}: a snapshot stored twice");
    }
    assert!(oi_after.values().map(Vec::len).sum::<usize>() > before);
    let range = TimeRange {
        start: None,
        end: None,
    };
    let gap_ids: Vec<String> = store
        .summary()
        .unwrap()
        .into_iter()
        .filter(|d| d.kind == Kind::Gaps)
        .map(|d| d.instrument_id)
        .collect();
    let (gaps, _) = store.read_table(Kind::Gaps, &gap_ids, &range).unwrap();
    let reasons: Vec<&str> = (0..gaps.num_rows())
        .map(|i| gaps.column(6).as_string::<i32>().value(i))
        .collect();
    assert!(
        reasons.contains(&GapReason::Shutdown.as_str()),
        "{reasons:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_daemon_on_the_same_data_dir_refuses() {
    let server = SimServer::start(SimConfig::default(), 0).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let _first = DaemonLock::acquire(dir.path()).unwrap();
    let (_stop, stopped) = watch::channel(false);
    let error = DaemonRunner::new(config(&server, dir.path()))
        .run(stopped)
        .await
        .unwrap_err();
    assert!(error.to_string().contains("already running"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn top_n_by_open_interest_collects_each_venues_largest_perpetuals() {
    let server = SimServer::start(
        SimConfig {
            seed: 3,
            ..SimConfig::default()
        },
        0,
    )
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = DaemonConfig {
        symbols: SymbolSelection::TopByOpenInterest(3),
        history_catch_up: None,
        liquidations: false,
        ..config(&server, dir.path())
    };
    let status = run_for(config, 4.0).await;
    for venue in Venue::ALL {
        let job = &status.jobs[&format!("symbols {venue}")];
        assert!(job.last_success_ms.is_some(), "{venue}: {job:?}");
    }
    let store = ParquetStore::open(dir.path()).unwrap();
    let oi = rows_by_instrument(&store, Kind::OpenInterest);
    for venue in Venue::ALL {
        let suffix = format!(".{}", venue.nautilus_venue());
        let ids: Vec<&String> = oi.keys().filter(|id| id.ends_with(&suffix)).collect();
        assert_eq!(ids.len(), 3, "{venue}: {ids:?}");
    }
    // The largest by notional: BTC leads every venue in the simulated market.
    assert!(
        oi.contains_key("BTCUSDT-PERP.BINANCE") && oi.contains_key("BTC-USD-PERP.HYPERLIQUID"),
        "{:?}",
        oi.keys()
    );
}
