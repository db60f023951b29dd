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
