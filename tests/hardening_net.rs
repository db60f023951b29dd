//! The HTTP path under hostile answers: absurd `Retry-After` values, garbled headers. Every case ends in a
//! `PipelineError` (never a panic), against the simulator's fault injection or a raw test server that sends
//! exactly the bytes a test gives it.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use ccxt_pipeline_rs::fetch::VenueClient;
use ccxt_pipeline_rs::model::{PipelineError, Venue};
use ccxt_pipeline_rs::net::http::MAX_RETRY_AFTER;
use ccxt_pipeline_rs::net::{HttpConfig, RetryPolicy};
use ccxt_pipeline_rs::sim::{Fault, SimConfig, SimServer};

fn fast_retries() -> HttpConfig {
    HttpConfig {
        retry: RetryPolicy {
            max_attempts: 3,
            base_delay: Duration::from_millis(5),
            max_delay: Duration::from_millis(20),
            rate_limit_wait: Some(Duration::from_millis(10)),
            ..RetryPolicy::default()
        },
        ..HttpConfig::default()
    }
}

/// A server that answers every request with `respond(request_head)` and closes the connection. Returns its base
/// URL and a counter of requests.
pub async fn raw_server(
    respond: impl Fn(&str) -> Vec<u8> + Send + Sync + 'static,
) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let count = Arc::new(AtomicUsize::new(0));
    let respond = Arc::new(respond);
    let counter = count.clone();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let respond = respond.clone();
            let counter = counter.clone();
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buf = [0u8; 4096];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                counter.fetch_add(1, Ordering::SeqCst);
                let answer = respond(&String::from_utf8_lossy(&head));
                let _ = stream.write_all(&answer).await;
                let _ = stream.shutdown().await;
            });
        }
    });
    (format!("http://127.0.0.1:{port}"), count)
}

/// An HTTP/1.1 answer with the given status line, extra header lines and body.
pub fn http_answer(status: &str, headers: &[&str], body: &str) -> Vec<u8> {
    let mut text = format!(
        "HTTP/1.1 {status}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for h in headers {
        text.push_str(h);
        text.push_str("\r\n");
    }
    text.push_str("\r\n");
    text.push_str(body);
    text.into_bytes()
}

#[tokio::test(flavor = "multi_thread")]
async fn absurd_retry_after_values_end_in_a_rate_limit_error_not_a_panic() {
    // Each member once per venue, with that venue's rate-limit status.
    let cases = [
        (Venue::Binance, 429, u64::MAX),
        (Venue::Binance, 418, 1 << 63),
        (Venue::Bybit, 403, u64::MAX),
        (Venue::Hyperliquid, 429, 10_000_000_000_000),
        (Venue::Hyperliquid, 429, 3_601),
    ];
    for (venue, status, seconds) in cases {
        // A fresh simulator (a fresh host) each time: a ban is shared by every client of a host.
        let server = SimServer::start(SimConfig::default(), 0).await.unwrap();
        server.inject_faults(
            venue,
            vec![Fault::Status {
                status,
                body: r#"{"code":-1003,"msg":"Way too many requests"}"#.into(),
                retry_after_secs: Some(seconds),
            }],
        );
        let client =
            VenueClient::new(venue, Some(&server.base_url(venue)), &fast_retries()).unwrap();
        let started = std::time::Instant::now();
        let err = client
            .fetch_open_interest("BTCUSDT-PERP")
            .await
            .unwrap_err();
        let expected_ms = Duration::from_secs(seconds)
            .min(MAX_RETRY_AFTER)
            .as_millis() as u64;
        match &err {
            PipelineError::RateLimited {
                venue: v,
                status: s,
                retry_after_ms: Some(ms),
                ..
            } => {
                assert_eq!((*v, *s), (venue, status));
                assert_eq!(*ms, expected_ms, "{venue} Retry-After {seconds}");
            }
            other => panic!("{venue} Retry-After {seconds}: {other:?}"),
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "a long ban is not waited out"
        );
        // The ban holds every later call of that host, which fails at once without a request.
        let before = server.request_count(venue);
        let again = client
            .fetch_open_interest("BTCUSDT-PERP")
            .await
            .unwrap_err();
        assert!(
            matches!(again, PipelineError::RateLimited { status: 0, .. }),
            "{again:?}"
        );
        assert_eq!(server.request_count(venue), before);
        let message = again.to_string();
        assert!(message.contains("retry after"), "{message}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn garbled_retry_after_headers_fall_back_to_the_backoff() {
    for header in [
        "Retry-After: -1",
        "Retry-After: 1e99",
        "Retry-After: Wed, 21 Oct 2015 07:28:00 GMT",
        "Retry-After: 99999999999999999999999999999999",
        "Retry-After: \t",
        "Retry-After: 5, 6",
    ] {
        let (base, count) = raw_server(move |_| {
            http_answer(
                "429 Too Many Requests",
                &[header],
                r#"{"code":-1003,"msg":"slow down"}"#,
            )
        })
        .await;
        let client = VenueClient::new(Venue::Binance, Some(&base), &fast_retries()).unwrap();
        let err = client
            .fetch_open_interest("BTCUSDT-PERP")
            .await
            .unwrap_err();
        match err {
            PipelineError::RateLimited { status: 429, .. } => {}
            // The overflowing number is still "seconds", clamped: a ban far longer than we wait.
            other => panic!("{header}: {other:?}"),
        }
        let sent = count.load(Ordering::SeqCst);
        assert!((1..=3).contains(&sent), "{header}: {sent} requests");
    }
}

#[test]
fn a_rate_limit_without_retry_after_waits_out_the_venues_window() {
    let rate_limit_window = |venue| ccxt_pipeline_rs::venue::spec(venue).net().limits.window;
    assert_eq!(
        rate_limit_window(Venue::Hyperliquid),
        Duration::from_secs(60)
    );
    assert_eq!(rate_limit_window(Venue::Binance), Duration::from_secs(60));
    assert_eq!(rate_limit_window(Venue::Bybit), Duration::from_secs(5));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_429_without_retry_after_is_retried_after_the_window_not_a_short_backoff() {
    // Three 429s without Retry-After, then normal answers. The window is shortened for the test (the default is
    // the venue's documented one, above); the backoff alone would retry after at most 20 ms.
    for venue in [Venue::Hyperliquid, Venue::Bybit, Venue::Binance] {
        let server = SimServer::start(SimConfig::default(), 0).await.unwrap();
        let config = HttpConfig {
            retry: RetryPolicy {
                max_attempts: 5,
                base_delay: Duration::from_millis(5),
                max_delay: Duration::from_millis(20),
                rate_limit_wait: Some(Duration::from_millis(300)),
                ..RetryPolicy::default()
            },
            ..HttpConfig::default()
        };
        let client = VenueClient::new(venue, Some(&server.base_url(venue)), &config).unwrap();
        client.resolve("BTCUSDT-PERP").await.unwrap();
        let status = if venue == Venue::Bybit { 403 } else { 429 };
        server.inject_faults(
            venue,
            vec![
                Fault::Status {
                    status,
                    body: "slow down".into(),
                    retry_after_secs: None,
                };
                3
            ],
        );
        let started = std::time::Instant::now();
        client.fetch_open_interest("BTCUSDT-PERP").await.unwrap();
        let waited = started.elapsed();
        assert!(
            waited >= Duration::from_millis(900),
            "{venue}: three windows of 300 ms, waited {waited:?}"
        );
        assert!(
            waited < Duration::from_secs(5),
            "{venue}: bounded, waited {waited:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn request_timeouts_are_configurable() {
    let server = SimServer::start(SimConfig::default(), 0).await.unwrap();
    let venue = Venue::Bybit;
    let config = HttpConfig {
        timeout: Duration::from_millis(300),
        ..fast_retries()
    };
    let client = VenueClient::new(venue, Some(&server.base_url(venue)), &config).unwrap();
    client.resolve("BTCUSDT-PERP").await.unwrap();
    server.inject_faults(venue, vec![Fault::Stall(Duration::from_secs(3)); 3]);
    let started = std::time::Instant::now();
    let err = client
        .fetch_open_interest("BTCUSDT-PERP")
        .await
        .unwrap_err();
    assert!(
        matches!(&err, PipelineError::Network { message, .. } if message.contains("timed out")),
        "{err:?}"
    );
    // Three attempts of 300 ms and short backoffs, far less than one stall.
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn bodies_larger_than_the_cap_are_errors() {
    // Announced (Content-Length), streamed without a length (chunked), and the default cap against a huge claim.
    let chunk = "x".repeat(1000);
    let chunked = {
        let chunk = chunk.clone();
        move |_: &str| {
            let mut text =
                "HTTP/1.1 200 OK\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n"
                    .to_string();
            for _ in 0..50 {
                text.push_str(&format!("{:x}\r\n{chunk}\r\n", chunk.len()));
            }
            text.push_str("0\r\n\r\n");
            text.into_bytes()
        }
    };
    let (chunked_base, _) = raw_server(chunked).await;
    let (announced_base, _) =
        raw_server(move |_| http_answer("200 OK", &[], &"y".repeat(20_000))).await;
    let (huge_base, _) = raw_server(|_| {
        b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 1200000000\r\n\r\n[".to_vec()
    })
    .await;
    for (base, cap) in [
        (chunked_base, 10_000),
        (announced_base, 10_000),
        (
            huge_base,
            ccxt_pipeline_rs::net::http::DEFAULT_MAX_BODY_BYTES,
        ),
    ] {
        let config = HttpConfig {
            max_body_bytes: cap,
            ..fast_retries()
        };
        let client = VenueClient::new(Venue::Binance, Some(&base), &config).unwrap();
        let err = client
            .fetch_open_interest("BTCUSDT-PERP")
            .await
            .unwrap_err();
        assert!(
            matches!(&err, PipelineError::Malformed { detail, .. } if detail.contains("larger than")),
            "{base}: {err:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn redirects_to_another_host_are_refused_and_nothing_is_sent_there() {
    let (foreign, foreign_hits) = raw_server(|_| http_answer("200 OK", &[], "[]")).await;
    for status in [
        "301 Moved Permanently",
        "302 Found",
        "307 Temporary Redirect",
        "308 Permanent Redirect",
    ] {
        let location = format!("Location: {foreign}/info");
        let (base, _) = raw_server(move |_| http_answer(status, &[&location], "")).await;
        for venue in [Venue::Hyperliquid, Venue::Binance] {
            let client = VenueClient::new(venue, Some(&base), &fast_retries()).unwrap();
            let err = client
                .fetch_open_interest("BTCUSDT-PERP")
                .await
                .unwrap_err();
            let message = err.to_string();
            assert!(
                message.contains("another host") && message.contains("not followed"),
                "{message}"
            );
        }
    }
    assert_eq!(
        foreign_hits.load(Ordering::SeqCst),
        0,
        "no request reached the other host"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn credentials_and_query_strings_never_appear_in_errors_or_logs() {
    // Nothing listens on the port: a network error that quotes the URL.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    for base in [
        format!("http://alice:hunter2secret@127.0.0.1:{port}/binance"),
        format!("http://127.0.0.1:{port}/binance?apiKey=tokensecret"),
        format!("http://bob:pw-secret@127.0.0.1:{port}/x?sig=querysecret"),
    ] {
        let client = VenueClient::new(Venue::Binance, Some(&base), &fast_retries()).unwrap();
        let err = client
            .fetch_open_interest("BTCUSDT-PERP")
            .await
            .unwrap_err();
        let message = format!("{err} {err:?}");
        for secret in [
            "hunter2secret",
            "tokensecret",
            "pw-secret",
            "querysecret",
            "alice",
            "bob:",
        ] {
            assert!(!message.contains(secret), "{secret} in {message}");
        }
        assert!(message.contains("127.0.0.1"), "{message}");
    }
    // A base URL refused up front is masked too.
    let err = VenueClient::new(
        Venue::Bybit,
        Some("ftp://carol:pw-secret@host"),
        &fast_retries(),
    )
    .unwrap_err();
    assert!(!err.to_string().contains("pw-secret"), "{err}");
}

#[test]
fn unparseable_base_urls_fail_at_once() {
    for bad in [
        "http://",
        "http://exa mple.com",
        "http://host:99999",
        "https://[::1",
        "http://:80/x",
    ] {
        let err = VenueClient::new(Venue::Binance, Some(bad), &HttpConfig::default()).unwrap_err();
        assert!(
            matches!(err, PipelineError::InvalidArgument(_)),
            "{bad}: {err:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn one_venues_impossible_timestamp_never_costs_the_others_rows() {
    use ccxt_pipeline_rs::fetch::Orchestrator;
    let server = SimServer::start(SimConfig::default(), 0).await.unwrap();
    let orchestrator =
        Orchestrator::for_venues(&Venue::ALL, |v| Some(server.base_url(v)), &fast_retries())
            .unwrap();
    for client in orchestrator.clients() {
        client.resolve("BTCUSDT-PERP").await.unwrap();
    }
    // Negative, seconds-looking, microseconds, past 2262, i64::MAX: each is Binance's (or Bybit's) malformed
    // answer; the other venues' rows come back.
    for time in [
        -5,
        1_748_736_000,
        1_748_736_000_000_000,
        9_300_000_000_000,
        i64::MAX,
    ] {
        server.inject_faults(
            Venue::Binance,
            vec![Fault::Status {
                status: 200,
                body: format!(r#"{{"symbol":"BTCUSDT","openInterest":"10659.509","time":{time}}}"#),
                retry_after_secs: None,
            }],
        );
        server.inject_faults(
            Venue::Bybit,
            vec![Fault::Status {
                status: 200,
                body: format!(
                    r#"{{"retCode":0,"retMsg":"OK","result":{{"category":"linear","list":[{{"symbol":"BTCUSDT","openInterest":"5","openInterestValue":"1","fundingRate":"0.0001","nextFundingTime":"0","markPrice":"1","indexPrice":"1"}}]}},"retExtInfo":{{}},"time":{time}}}"#
                ),
                retry_after_secs: None,
            }],
        );
        let result = orchestrator
            .fetch_open_interest("BTCUSDT-PERP")
            .await
            .unwrap();
        assert_eq!(
            result.rows.iter().map(|r| r.venue).collect::<Vec<_>>(),
            vec![Venue::Hyperliquid],
            "time {time}"
        );
        assert_eq!(result.failures.len(), 2, "time {time}");
        for failure in &result.failures {
            match failure {
                PipelineError::Malformed { detail, .. } => {
                    assert!(detail.contains("timestamp"), "time {time}: {detail}")
                }
                other => panic!("time {time}: {other:?}"),
            }
        }
    }
}
