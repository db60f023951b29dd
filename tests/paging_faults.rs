//! Every history pager against the simulator's paging faults (issue 9, item 2): a venue that ignores a paging
//! parameter or replays a page ends in an error naming the venue and the endpoint, after a bounded number of
//! requests; overlapping pages and shuffled rows are harmless and give exactly the honest answer.

use std::time::Duration;

use ccxt_pipeline_rs::fetch::{HistoryRange, HistorySink, VenueClient};
use ccxt_pipeline_rs::model::{PipelineError, Venue};
use ccxt_pipeline_rs::net::HttpConfig;
use ccxt_pipeline_rs::sim::{Fault, SimConfig, SimServer};
use ccxt_pipeline_rs::venue::OiPeriod;

const NOW_MS: i64 = 1_748_736_000_000;
const DAY_MS: i64 = 86_400_000;

#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    OpenInterest,
    Funding,
}

/// (venue, kind, endpoint as named in errors)
const ENDPOINTS: [(Venue, Kind, &str); 5] = [
    (
        Venue::Binance,
        Kind::OpenInterest,
        "GET /futures/data/openInterestHist",
    ),
    (Venue::Binance, Kind::Funding, "GET /fapi/v1/fundingRate"),
    (
        Venue::Bybit,
        Kind::OpenInterest,
        "GET /v5/market/open-interest",
    ),
    (
        Venue::Bybit,
        Kind::Funding,
        "GET /v5/market/funding/history",
    ),
    (
        Venue::Hyperliquid,
        Kind::Funding,
        "POST /info fundingHistory",
    ),
];

/// Rows as (ms, value) and the number of history requests, or the error.
type Outcome = Result<(Vec<(i64, f64)>, u64), PipelineError>;

/// Fetches a multi-page history with `faults` queued for the history requests (after the instrument list).
async fn fetch(venue: Venue, kind: Kind, faults: Vec<Fault>) -> Outcome {
    let server = SimServer::start(SimConfig::default(), 0).await.unwrap();
    server.set_clock_ms(Some(NOW_MS));
    let client = VenueClient::new(venue, Some(&server.base_url(venue)), &HttpConfig::default())
        .unwrap()
        .with_history_page_limit(20);
    client.resolve("BTCUSDT-PERP").await.unwrap();
    if (venue, kind) == (Venue::Binance, Kind::OpenInterest) {
        // The server-time request (for the 30-day window) is answered normally.
        server.inject_faults(venue, vec![Fault::Stall(Duration::ZERO)]);
    }
    server.inject_faults(venue, faults);
    let before = server.request_count(venue);
    // Ends days before "now", so the venue has rows after the range (an ignored end shows).
    let end = NOW_MS - 5 * DAY_MS;
    let rows = match kind {
        Kind::OpenInterest => client
            .fetch_open_interest_history(
                "BTCUSDT-PERP",
                OiPeriod::H1,
                HistoryRange::new(end - 3 * DAY_MS, end).unwrap(),
                &HistorySink::default(),
            )
            .await?
            .rows
            .iter()
            .map(|r| (r.ts_event / 1_000_000, r.open_interest))
            .collect(),
        Kind::Funding => client
            .fetch_funding_rate_history(
                "BTCUSDT-PERP",
                HistoryRange::new(end - 30 * DAY_MS, end).unwrap(),
                &HistorySink::default(),
            )
            .await?
            .rows
            .iter()
            .map(|r| (r.ts_event / 1_000_000, r.funding_rate))
            .collect(),
    };
    Ok((rows, server.request_count(venue) - before))
}

fn many(fault: Fault) -> Vec<Fault> {
    vec![fault; 400]
}

fn assert_refused(outcome: Outcome, venue: Venue, endpoint: &str, case: &str) {
    match outcome {
        Err(e @ PipelineError::Malformed { .. }) => {
            let message = e.to_string();
            assert!(
                message.starts_with(venue.as_str()) && message.contains(endpoint),
                "{case}: {message}"
            );
        }
        // The simulated Bybit itself refuses a startTime without endTime (10001), as the real one does.
        Err(PipelineError::Exchange { venue: v, .. }) if v == venue => {}
        other => panic!("{venue} {endpoint} {case}: expected a refusal, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn ignored_paging_parameters_and_replayed_pages_are_refused_quickly() {
    for (venue, kind, endpoint) in ENDPOINTS {
        let (honest, honest_requests) = fetch(venue, kind, vec![]).await.unwrap();
        assert!(honest_requests >= 2, "{endpoint}: the case must span pages");
        assert!(!honest.is_empty());
        let cases = vec![
            (
                "startTime ignored",
                many(Fault::IgnoreParam("startTime".into())),
            ),
            (
                "endTime ignored",
                many(Fault::IgnoreParam("endTime".into())),
            ),
            // One honest page, then the same answer to every request.
            (
                "page replayed",
                std::iter::once(Fault::Stall(Duration::ZERO))
                    .chain(many(Fault::ReplayPage))
                    .collect(),
            ),
        ];
        for (case, faults) in cases {
            let server_requests = fetch(venue, kind, faults).await;
            assert_refused(server_requests, venue, endpoint, case);
        }
        if venue == Venue::Bybit && kind == Kind::OpenInterest {
            // Windows of one page each rarely need the cursor: ignoring it is either harmless or refused.
            match fetch(venue, kind, many(Fault::IgnoreParam("cursor".into()))).await {
                Ok((rows, _)) => assert_eq!(rows, honest, "cursor ignored"),
                refused => assert_refused(refused, venue, endpoint, "cursor ignored"),
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn shuffled_rows_and_overlapping_pages_give_the_honest_answer_or_a_refusal() {
    for (venue, kind, endpoint) in ENDPOINTS {
        let (honest, _) = fetch(venue, kind, vec![]).await.unwrap();
        let (shuffled, _) = fetch(venue, kind, many(Fault::ShuffleRows)).await.unwrap();
        assert_eq!(shuffled, honest, "{endpoint}: shuffled rows");
        // After an honest first page, every page reaches two hours back into the previous one (Binance,
        // Hyperliquid), or past the window end (Bybit, which pages newest first: rows after the asked end cannot be
        // told from an ignored endTime).
        let overlap = std::iter::once(Fault::Stall(Duration::ZERO))
            .chain(many(Fault::OverlapPages {
                by_ms: 2 * 3_600_000,
            }))
            .collect();
        let overlapped = fetch(venue, kind, overlap).await;
        if venue == Venue::Bybit {
            assert_refused(overlapped, venue, endpoint, "overlap");
        } else {
            assert_eq!(
                overlapped.unwrap().0,
                honest,
                "{endpoint}: overlapping pages"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn request_budget_stops_a_venue_that_pages_forever() {
    // Each page moves on by one row only (an overlap of all but one row), honestly inside the window: the pager's
    // checks pass, the budget derived from range and page size stops the walk.
    let server = SimServer::start(SimConfig::default(), 0).await.unwrap();
    server.set_clock_ms(Some(NOW_MS));
    let venue = Venue::Binance;
    let client = VenueClient::new(venue, Some(&server.base_url(venue)), &HttpConfig::default())
        .unwrap()
        .with_history_page_limit(20);
    client.resolve("BTCUSDT-PERP").await.unwrap();
    // 19 hours back: each 20-row page of hourly rows brings one new row. The server time and the first page are
    // answered normally.
    server.inject_faults(venue, vec![Fault::Stall(Duration::ZERO); 2]);
    server.inject_faults(
        venue,
        many(Fault::OverlapPages {
            by_ms: 19 * 3_600_000,
        }),
    );
    let before = server.request_count(venue);
    let end = NOW_MS - 5 * DAY_MS;
    let err = client
        .fetch_open_interest_history(
            "BTCUSDT-PERP",
            OiPeriod::H1,
            HistoryRange::new(end - 10 * DAY_MS, end).unwrap(),
            &HistorySink::default(),
        )
        .await
        .unwrap_err();
    let message = err.to_string();
    assert!(
        message.contains("binance") && message.contains("GET /futures/data/openInterestHist"),
        "{message}"
    );
    assert!(message.contains("requests"), "{message}");
    // 241 rows, 20 a page: 13 pages; 2 × 13 + 3 = 29, and half again for gap probes; plus the server time.
    assert_eq!(server.request_count(venue) - before, 43 + 1);
}
