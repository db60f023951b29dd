//! The fetch layer against the simulator: parsed values equal the simulator's ground truth, venues run
//! concurrently, failures stay per venue, retries honour the venue's answers, and limits hold.

use std::sync::Arc;
use std::time::{Duration, Instant};

use ccxt_pipeline_rs::fetch::{Orchestrator, VenueClient};
use ccxt_pipeline_rs::model::records::ms_to_ns;
use ccxt_pipeline_rs::model::{PipelineError, Venue};
use ccxt_pipeline_rs::net::{HttpConfig, RetryPolicy};
use ccxt_pipeline_rs::sim::{data, Fault, SimConfig, SimServer};

const SEED: u64 = 11;
/// A frozen simulator clock makes every served value and timestamp predictable.
const NOW_MS: i64 = 1_764_072_000_123;

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

fn client(server: &SimServer, venue: Venue) -> VenueClient {
    VenueClient::new(venue, Some(&server.base_url(venue)), &fast_retries()).unwrap()
}

fn fast_retries() -> HttpConfig {
    HttpConfig {
        retry: RetryPolicy {
            base_delay: Duration::from_millis(10),
            max_delay: Duration::from_millis(50),
            rate_limit_wait: Some(Duration::from_millis(10)),
            ..RetryPolicy::default()
        },
        ..HttpConfig::default()
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn open_interest_equals_ground_truth_on_every_venue() {
    let server = sim().await;
    for (venue, coin) in [
        (Venue::Binance, "BTC"),
        (Venue::Bybit, "BTC"),
        (Venue::Hyperliquid, "BTC"),
    ] {
        let oi = client(&server, venue)
            .fetch_open_interest("BTCUSDT-PERP")
            .await
            .unwrap();
        assert_eq!(
            oi.open_interest,
            data::open_interest(SEED, venue, coin, NOW_MS),
            "{venue}"
        );
        if venue != Venue::Hyperliquid {
            // Hyperliquid sends no timestamp: its ts_event is the arrival time.
            assert_eq!(oi.ts_event, ms_to_ns(NOW_MS), "{venue}");
        }
    }
    let pepe = client(&server, Venue::Hyperliquid)
        .fetch_open_interest("1000PEPEUSDT-PERP")
        .await
        .unwrap();
    assert_eq!(
        pepe.open_interest,
        data::open_interest(SEED, Venue::Hyperliquid, "1000PEPE", NOW_MS)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn funding_equals_ground_truth_with_intervals() {
    let server = sim().await;
    for venue in Venue::ALL {
        for coin in ["ETH", "DOGE"] {
            let f = client(&server, venue)
                .fetch_funding_rate(&format!("{coin}USDT-PERP"))
                .await
                .unwrap();
            assert_eq!(
                f.funding_rate,
                data::funding_rate(SEED, venue, coin, NOW_MS),
                "{venue} {coin}"
            );
            assert_eq!(
                f.mark_price,
                Some(data::mark_price(SEED, venue, coin, NOW_MS)),
                "{venue} {coin}"
            );
            assert_eq!(
                f.index_price,
                Some(data::index_price(SEED, venue, coin, NOW_MS)),
                "{venue} {coin}"
            );
            let hours = data::funding_interval_hours(venue, coin);
            assert_eq!(
                f.interval_minutes,
                Some(hours as u16 * 60),
                "{venue} {coin}"
            );
            if venue != Venue::Hyperliquid {
                let interval_ms = i64::from(hours) * 3_600_000;
                assert_eq!(
                    f.next_funding_time,
                    Some(ms_to_ns((NOW_MS / interval_ms + 1) * interval_ms)),
                    "{venue} {coin}"
                );
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_symbols_name_the_venue_and_suggest() {
    let server = sim().await;
    for venue in [Venue::Binance, Venue::Bybit] {
        match client(&server, venue)
            .fetch_open_interest("ETHUSDC-PERP")
            .await
        {
            Err(PipelineError::SymbolNotFound {
                venue: v,
                symbol,
                suggestions,
            }) => {
                assert_eq!((v, symbol.as_str()), (venue, "ETHUSDC-PERP"));
                assert_eq!(suggestions, vec!["ETHUSDT-PERP".to_string()], "{venue}");
            }
            other => panic!("{venue}: {other:?}"),
        }
    }
    // Hyperliquid: every quote maps to the coin (ETHUSDC is its ETH), so only an unknown coin can be missing.
    match client(&server, Venue::Hyperliquid)
        .fetch_open_interest("BTCC-PERP")
        .await
    {
        Err(PipelineError::SymbolNotFound { suggestions, .. }) => {
            assert!(suggestions.contains(&"BTCUSD-PERP".to_string()))
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn fan_out_takes_the_slowest_venue_not_the_sum() {
    let server = sim().await;
    let orchestrator =
        Orchestrator::for_venues(&Venue::ALL, |v| Some(server.base_url(v)), &fast_retries())
            .unwrap();
    orchestrator
        .fetch_open_interest("BTCUSDT-PERP")
        .await
        .unwrap(); // instrument lists cached
    let latencies = [
        (Venue::Binance, 300),
        (Venue::Bybit, 600),
        (Venue::Hyperliquid, 900),
    ];
    for (venue, ms) in latencies {
        server.set_latency(venue, Duration::from_millis(ms));
    }
    let started = Instant::now();
    let result = orchestrator
        .fetch_open_interest("BTCUSDT-PERP")
        .await
        .unwrap();
    let elapsed = started.elapsed();
    assert_eq!(
        result.rows.iter().map(|r| r.venue).collect::<Vec<_>>(),
        Venue::ALL.to_vec()
    );
    assert!(result.failures.is_empty());
    // Sequential: 1.8 s. Concurrent: the slowest venue, 0.9 s, plus loopback overhead.
    assert!(
        elapsed >= Duration::from_millis(900) && elapsed < Duration::from_millis(1500),
        "{elapsed:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn one_venue_failing_keeps_the_others() {
    let server = sim().await;
    let clients = vec![
        Arc::new(client(&server, Venue::Binance)),
        // Nothing listens on port 9 (discard) on loopback here: connection refused.
        Arc::new(
            VenueClient::new(Venue::Bybit, Some("http://127.0.0.1:9"), &fast_retries()).unwrap(),
        ),
        Arc::new(client(&server, Venue::Hyperliquid)),
    ];
    let result = Orchestrator::new(clients)
        .fetch_funding_rate("BTCUSDT-PERP")
        .await
        .unwrap();
    assert_eq!(
        result.rows.iter().map(|r| r.venue).collect::<Vec<_>>(),
        vec![Venue::Binance, Venue::Hyperliquid]
    );
    assert!(
        matches!(
            result.failures.as_slice(),
            [PipelineError::Network {
                venue: Venue::Bybit,
                ..
            }]
        ),
        "{:?}",
        result.failures
    );
    let invalid = Orchestrator::new(vec![])
        .fetch_open_interest("BTC$USDT")
        .await;
    assert!(matches!(invalid, Err(PipelineError::InvalidArgument(_))));
}

#[tokio::test(flavor = "multi_thread")]
async fn transient_failures_are_retried_and_permanent_ones_are_not() {
    let server = sim().await;
    let binance = client(&server, Venue::Binance);
    binance.fetch_open_interest("BTCUSDT-PERP").await.unwrap();
    let before = server.request_count(Venue::Binance);
    server.inject_faults(
        Venue::Binance,
        vec![
            Fault::Status {
                status: 503,
                body: "Service Unavailable".into(),
                retry_after_secs: None,
            },
            Fault::Status {
                status: 429,
                body: r#"{"code":-1003,"msg":"Too many requests"}"#.into(),
                retry_after_secs: Some(1),
            },
            Fault::Stall(Duration::from_millis(50)),
        ],
    );
    let started = Instant::now();
    let oi = binance.fetch_open_interest("BTCUSDT-PERP").await.unwrap();
    assert_eq!(
        oi.open_interest,
        data::open_interest(SEED, Venue::Binance, "BTC", NOW_MS)
    );
    assert_eq!(server.request_count(Venue::Binance) - before, 3);
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "Retry-After: 1 was not honoured"
    );

    server.inject_faults(
        Venue::Binance,
        vec![Fault::Status {
            status: 400,
            body: r#"{"code":-1100,"msg":"Illegal characters"}"#.into(),
            retry_after_secs: None,
        }],
    );
    let before = server.request_count(Venue::Binance);
    match binance.fetch_open_interest("BTCUSDT-PERP").await {
        Err(PipelineError::Exchange {
            code: -1100,
            status: 400,
            message,
            ..
        }) => assert_eq!(message, "Illegal characters"),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        server.request_count(Venue::Binance) - before,
        1,
        "a 400 must not be retried"
    );

    server.inject_faults(Venue::Binance, vec![Fault::Truncated]);
    assert!(matches!(
        binance.fetch_open_interest("BTCUSDT-PERP").await,
        Err(PipelineError::Malformed { .. })
    ));
}

#[tokio::test(flavor = "multi_thread")]
async fn retries_give_up_after_the_policy_with_the_last_error() {
    let server = sim().await;
    let bybit = client(&server, Venue::Bybit);
    bybit.fetch_open_interest("BTCUSDT-PERP").await.unwrap();
    let storm = Fault::Status {
        status: 403,
        body: "access too frequent".into(),
        retry_after_secs: None,
    };
    server.inject_faults(Venue::Bybit, vec![storm; 10]);
    let before = server.request_count(Venue::Bybit);
    match bybit.fetch_open_interest("BTCUSDT-PERP").await {
        Err(PipelineError::RateLimited {
            venue: Venue::Bybit,
            status: 403,
            message,
            ..
        }) => assert_eq!(message, "access too frequent"),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        server.request_count(Venue::Bybit) - before,
        u64::from(RetryPolicy::default().max_attempts)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn bybit_error_envelopes_are_retried_when_transient_and_raised_otherwise() {
    let server = sim().await;
    let bybit = client(&server, Venue::Bybit);
    bybit.fetch_open_interest("BTCUSDT-PERP").await.unwrap();
    let envelope = |code: i64, msg: &str| Fault::Status {
        status: 200,
        body: format!(
            r#"{{"retCode":{code},"retMsg":"{msg}","result":{{}},"retExtInfo":{{}},"time":1764072000123}}"#
        ),
        retry_after_secs: None,
    };
    let before = server.request_count(Venue::Bybit);
    server.inject_faults(
        Venue::Bybit,
        vec![
            envelope(10016, "Server error."),
            envelope(10006, "Too many visits!"),
        ],
    );
    let f = bybit.fetch_funding_rate("BTCUSDT-PERP").await.unwrap();
    assert_eq!(
        f.funding_rate,
        data::funding_rate(SEED, Venue::Bybit, "BTC", NOW_MS)
    );
    assert_eq!(server.request_count(Venue::Bybit) - before, 3);
    server.inject_faults(
        Venue::Bybit,
        vec![envelope(
            10002,
            "invalid request, please check your server timestamp",
        )],
    );
    match bybit.fetch_funding_rate("BTCUSDT-PERP").await {
        Err(PipelineError::Exchange {
            code: 10002,
            status: 200,
            message,
            ..
        }) => assert!(message.starts_with("invalid request")),
        other => panic!("{other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_load_never_exceeds_a_venue_limit() {
    let server = sim().await;
    // 700 Bybit requests from 50 tasks sharing one client: more than one 600-per-5 s window's worth.
    let bybit = Arc::new(client(&server, Venue::Bybit));
    bybit.fetch_open_interest("BTCUSDT-PERP").await.unwrap();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..50 {
        let bybit = bybit.clone();
        tasks.spawn(async move {
            for _ in 0..14 {
                bybit.fetch_open_interest("BTCUSDT-PERP").await.unwrap();
            }
        });
    }
    while let Some(joined) = tasks.join_next().await {
        joined.unwrap();
    }
    assert!(
        server.max_weight_in_window(Venue::Bybit) <= 600,
        "peak {}",
        server.max_weight_in_window(Venue::Bybit)
    );
    assert!(server.request_count(Venue::Bybit) >= 702);
}

#[tokio::test]
async fn a_failed_instrument_refresh_keeps_serving_the_last_good_list() {
    let server = sim().await;
    let venue = Venue::Bybit;
    let client = client(&server, venue).with_instruments_ttl(Duration::from_millis(200));
    client.resolve("BTCUSDT-PERP").await.expect("first load");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let outage = Fault::Status {
        status: 503,
        body: "down".into(),
        retry_after_secs: None,
    };
    server.inject_faults(venue, vec![outage; 20]);
    let before = server.request_count(venue);
    // The list is stale and the venue is down: the refresh fails, the last good list still answers.
    let inst = client
        .resolve("ETHUSDT-PERP")
        .await
        .expect("served from the last good list");
    assert_eq!(inst.native, "ETHUSDT");
    assert!(
        server.request_count(venue) > before,
        "a refresh was attempted"
    );
    // And it is not retried on every call: the next calls cost no request.
    let after_refresh = server.request_count(venue);
    for _ in 0..5 {
        client.resolve("BTCUSDT-PERP").await.unwrap();
    }
    assert_eq!(server.request_count(venue), after_refresh);
    assert!(matches!(
        client.resolve("NOPEUSDT-PERP").await,
        Err(PipelineError::SymbolNotFound { .. })
    ));
}
