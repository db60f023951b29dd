//! Prometheus text exposition of the daemon's status on 127.0.0.1:`port` (`GET /metrics`).

use std::convert::Infallible;
use std::fmt::Write;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Full;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::watch;

use super::status::{DaemonStatus, SharedStatus};
use crate::model::{PipelineError, Result};

/// The metrics of `status` at `now_ms` in the Prometheus text format (version 0.0.4).
pub fn render(status: &DaemonStatus, now_ms: i64) -> String {
    let mut out = String::new();
    let mut family = |name: &str, kind: &str, help: &str, samples: Vec<(String, f64)>| {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
        for (labels, value) in samples {
            let _ = writeln!(out, "{name}{labels} {value}");
        }
    };
    let job = |name: &str| {
        format!(
            "{{job=\"{}\"}}",
            name.replace('\\', "\\\\").replace('"', "\\\"")
        )
    };
    let jobs: Vec<_> = status.jobs.iter().collect();
    family(
        "ccxt_pipeline_up",
        "gauge",
        "1 while the daemon runs.",
        vec![(
            String::new(),
            f64::from(u8::from(status.state == "running")),
        )],
    );
    family(
        "ccxt_pipeline_uptime_seconds",
        "gauge",
        "Seconds since the daemon started.",
        vec![(
            String::new(),
            (now_ms - status.started_ms).max(0) as f64 / 1000.0,
        )],
    );
    family(
        "ccxt_pipeline_rows_written_total",
        "counter",
        "Rows a job added to the store.",
        jobs.iter()
            .map(|(name, j)| (job(name), j.rows_written as f64))
            .collect(),
    );
    family(
        "ccxt_pipeline_job_failures_total",
        "counter",
        "Runs of a job that ended with an error.",
        jobs.iter()
            .map(|(name, j)| (job(name), j.failures as f64))
            .collect(),
    );
    family(
        "ccxt_pipeline_last_success_age_seconds",
        "gauge",
        "Seconds since a job last succeeded (absent until it has).",
        jobs.iter()
            .filter_map(|(name, j)| {
                j.last_success_ms
                    .map(|ms| (job(name), (now_ms - ms).max(0) as f64 / 1000.0))
            })
            .collect(),
    );
    if let Some(streams) = &status.streams {
        family(
            "ccxt_pipeline_stream_connections",
            "gauge",
            "Liquidation stream connections delivering now.",
            vec![(String::new(), streams.connected as f64)],
        );
        family(
            "ccxt_pipeline_stream_events_total",
            "counter",
            "Distinct liquidations received.",
            vec![(String::new(), streams.events as f64)],
        );
        family(
            "ccxt_pipeline_stream_reconnects_total",
            "counter",
            "Stream connections re-established after a break.",
            vec![(String::new(), streams.reconnects as f64)],
        );
        family(
            "ccxt_pipeline_stream_gaps_total",
            "counter",
            "Intervals in which a stream was not delivering.",
            vec![(String::new(), streams.gaps as f64)],
        );
    }
    family(
        "ccxt_pipeline_store_bytes",
        "gauge",
        "Size of the store's data files.",
        vec![(String::new(), status.store_bytes as f64)],
    );
    out
}

/// Binds 127.0.0.1:`port` now (so a taken port fails the start) and serves until `stop`.
pub async fn serve(
    port: u16,
    status: Arc<SharedStatus>,
    mut stop: watch::Receiver<bool>,
) -> Result<()> {
    let listener = TcpListener::bind(("127.0.0.1", port)).await.map_err(|e| {
        PipelineError::InvalidArgument(format!("metrics port {port}: cannot listen: {e}"))
    })?;
    tracing::info!(port, "serving Prometheus metrics on /metrics");
    tokio::spawn(async move {
        loop {
            let accepted = tokio::select! {
                accepted = listener.accept() => accepted,
                _ = stop.wait_for(|stopped| *stopped) => return,
            };
            let Ok((socket, _)) = accepted else { continue };
            let status = status.clone();
            tokio::spawn(async move {
                let service = service_fn(move |request: hyper::Request<hyper::body::Incoming>| {
                    let body = (request.uri().path() == "/metrics").then(|| {
                        render(
                            &status.snapshot(),
                            crate::model::records::now_ns() / 1_000_000,
                        )
                    });
                    let response = match body {
                        Some(text) => Response::builder()
                            .header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
                            .body(Full::new(Bytes::from(text))),
                        None => Response::builder()
                            .status(StatusCode::NOT_FOUND)
                            .body(Full::new(Bytes::from("see /metrics\n"))),
                    };
                    async move { Ok::<_, Infallible>(response.expect("static headers are valid")) }
                });
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(socket), service)
                    .await;
            });
        }
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::daemon::status::{JobStatus, StreamStatus};

    #[test]
    fn text_format_has_help_type_and_labelled_samples() {
        let mut status = DaemonStatus {
            state: "running".into(),
            started_ms: 1_000,
            ..Default::default()
        };
        status.jobs.insert(
            "open_interest binance".into(),
            JobStatus {
                rows_written: 42,
                failures: 1,
                last_success_ms: Some(9_000),
                ..Default::default()
            },
        );
        status.streams = Some(StreamStatus {
            connected: 2,
            events: 7,
            reconnects: 3,
            gaps: 3,
            ..Default::default()
        });
        let text = render(&status, 11_000);
        assert!(text.contains("# TYPE ccxt_pipeline_rows_written_total counter\n"));
        assert!(
            text.contains("ccxt_pipeline_rows_written_total{job=\"open_interest binance\"} 42\n")
        );
        assert!(text
            .contains("ccxt_pipeline_last_success_age_seconds{job=\"open_interest binance\"} 2\n"));
        assert!(text.contains("ccxt_pipeline_uptime_seconds 10\n"));
        assert!(text.contains("ccxt_pipeline_stream_reconnects_total 3\n"));
        assert!(text.contains("ccxt_pipeline_up 1\n"));
    }
}
