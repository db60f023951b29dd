//! Binance open interest history older than 30 days (issue 9, item 3): the simulator refuses such a start as
//! Binance does, and the client clamps the start by the venue's clock (not the local one), warning in ISO time.

use ccxt_pipeline_rs::fetch::{HistoryRange, HistorySink, VenueClient};
use ccxt_pipeline_rs::model::{PipelineError, Venue};
use ccxt_pipeline_rs::net::HttpConfig;
use ccxt_pipeline_rs::sim::{data, SimConfig, SimServer};
use ccxt_pipeline_rs::venue::OiPeriod;

/// 2025-06-01T00:00:00Z: the simulator's (frozen) clock, far from this machine's, so a client that used its own
/// clock would clamp to the wrong window.
const NOW_MS: i64 = 1_748_736_000_000;
const DAY_MS: i64 = 86_400_000;

#[tokio::test(flavor = "multi_thread")]
async fn simulator_refuses_a_start_older_than_thirty_days_as_binance_does() {
    let server = SimServer::start(SimConfig::default(), 0).await.unwrap();
    server.set_clock_ms(Some(NOW_MS));
    let url = format!(
        "{}/futures/data/openInterestHist?symbol=BTCUSDT&period=1h&startTime={}",
        server.base_url(Venue::Binance),
        NOW_MS - 31 * DAY_MS
    );
    // A raw request, as any client sends it.
    let answer = reqwest_get(&url).await;
    assert_eq!(
        answer,
        (
            400,
            r#"{"code":-1130,"msg":"Data sent for parameter 'startTime' is not valid."}"#
                .to_string()
        )
    );
    let inside = format!(
        "{}/futures/data/openInterestHist?symbol=BTCUSDT&period=1h&startTime={}",
        server.base_url(Venue::Binance),
        NOW_MS - 29 * DAY_MS
    );
    assert_eq!(reqwest_get(&inside).await.0, 200);
}

async fn reqwest_get(url: &str) -> (u16, String) {
    ccxt_pipeline_rs::net::install_crypto_provider();
    let response = reqwest::get(url).await.unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

#[tokio::test(flavor = "multi_thread")]
async fn older_starts_are_clamped_by_the_venue_clock_with_an_iso_warning() {
    let server = SimServer::start(SimConfig::default(), 0).await.unwrap();
    server.set_clock_ms(Some(NOW_MS));
    let client = VenueClient::new(
        Venue::Binance,
        Some(&server.base_url(Venue::Binance)),
        &HttpConfig::default(),
    )
    .unwrap();
    // Several members: a little, a lot and entirely before the window; one inside it (no warning).
    let cases = [
        (NOW_MS - 31 * DAY_MS, NOW_MS - DAY_MS, true),
        (NOW_MS - 400 * DAY_MS, NOW_MS, true),
        (NOW_MS - 90 * DAY_MS, NOW_MS - 60 * DAY_MS, true),
        (NOW_MS - 10 * DAY_MS, NOW_MS - 9 * DAY_MS, false),
    ];
    for (start, end, clamped) in cases {
        let history = client
            .fetch_open_interest_history(
                "BTCUSDT-PERP",
                OiPeriod::H1,
                HistoryRange::new(start, end).unwrap(),
                &HistorySink::default(),
            )
            .await
            .unwrap_or_else(|e: PipelineError| panic!("[{start}, {end}]: {e}"));
        let earliest = NOW_MS - 30 * DAY_MS + 10_000;
        let served_from = start.max(earliest);
        let truth = if served_from <= end {
            data::open_interest_history(
                0,
                Venue::Binance,
                "BTC",
                3_600_000,
                served_from,
                end,
                NOW_MS,
            )
        } else {
            Vec::new()
        };
        let got: Vec<i64> = history
            .rows
            .iter()
            .map(|r| r.ts_event / 1_000_000)
            .collect();
        assert_eq!(
            got,
            truth.iter().map(|t| t.0).collect::<Vec<_>>(),
            "[{start}, {end}]"
        );
        if clamped {
            assert_eq!(history.warnings.len(), 1, "{:?}", history.warnings);
            let warning = &history.warnings[0];
            // ISO timestamps: the asked start, the venue's clock and where its window begins.
            for needle in [
                "binance: open interest history from",
                "last 30 days",
                "2025-06-01T00:00:00.000Z",
                "2025-05-02T00:00:10.000Z",
            ] {
                assert!(warning.contains(needle), "{needle} not in {warning}");
            }
            assert!(
                !warning.contains(&start.to_string()),
                "raw epoch ms in {warning}"
            );
        } else {
            assert!(history.warnings.is_empty(), "{:?}", history.warnings);
        }
    }
}
