//! The HTTP/1.1 side of the simulator: accept loop, keep-alive connections, and the conversion between hyper's
//! types and the simulator's own request/reply values (which the venue modules build without touching hyper).

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{HeaderName, HeaderValue, CONTENT_TYPE};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use crate::model::Venue;
use crate::sim::{ws, Shared};

pub(crate) const JSON: &str = "application/json";
pub(crate) const TEXT: &str = "text/plain; charset=utf-8";

/// Request bodies are tiny (`{"type":"meta"}`); anything larger is refused rather than buffered.
const MAX_BODY_BYTES: usize = 64 * 1024;

/// One request, addressed to a venue, with the venue prefix already removed from `path`.
#[derive(Debug, Clone)]
pub(crate) struct SimRequest {
    pub method: Method,
    /// The venue's own path, e.g. `/fapi/v1/openInterest`.
    pub path: String,
    /// Decoded query parameters in order.
    pub query: Vec<(String, String)>,
    pub body: Bytes,
}

impl SimRequest {
    /// The first value of query parameter `name`.
    pub(crate) fn query_param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }
}

/// An answer, independent of hyper so the venue modules stay plain functions.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Reply {
    pub status: u16,
    pub content_type: Option<&'static str>,
    pub headers: Vec<(&'static str, String)>,
    pub body: Bytes,
}

impl Reply {
    pub(crate) fn json(status: u16, body: &serde_json::Value) -> Reply {
        Reply::with_body(status, Some(JSON), body.to_string())
    }

    pub(crate) fn text(status: u16, body: &str) -> Reply {
        Reply::with_body(status, Some(TEXT), body.to_owned())
    }

    pub(crate) fn empty(status: u16) -> Reply {
        Reply::with_body(status, None, String::new())
    }

    /// A body given by a test (fault injection): JSON if it parses as JSON, text otherwise.
    pub(crate) fn raw(status: u16, body: String) -> Reply {
        let content_type = if serde_json::from_str::<serde_json::Value>(&body).is_ok() {
            JSON
        } else {
            TEXT
        };
        Reply::with_body(status, Some(content_type), body)
    }

    fn with_body(status: u16, content_type: Option<&'static str>, body: String) -> Reply {
        Reply {
            status,
            content_type,
            headers: Vec::new(),
            body: Bytes::from(body),
        }
    }

    pub(crate) fn header(mut self, name: &'static str, value: impl ToString) -> Reply {
        self.headers.push((name, value.to_string()));
        self
    }

    /// The same answer with only the first half of its body: well-formed HTTP carrying broken JSON.
    pub(crate) fn truncated(mut self) -> Reply {
        self.body = self.body.slice(..self.body.len() / 2);
        self
    }

    pub(crate) fn into_response(self) -> Response<Full<Bytes>> {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = Response::new(Full::new(self.body));
        *response.status_mut() = status;
        let headers = response.headers_mut();
        if let Some(content_type) = self.content_type {
            headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
        }
        for (name, value) in self.headers {
            // Values come from numbers or test-given text; a header HTTP cannot carry is left out, not sent broken.
            if let (Ok(name), Ok(value)) = (
                HeaderName::from_bytes(name.as_bytes()),
                HeaderValue::from_str(&value),
            ) {
                headers.append(name, value);
            }
        }
        response
    }
}

/// Accepts connections until `stop` turns true (or its sender is dropped).
pub(crate) async fn accept_loop(
    listener: TcpListener,
    shared: Arc<Shared>,
    mut stop: watch::Receiver<bool>,
) {
    // `stop` is borrowed by the select below; connections get clones of this one.
    let stop_for_connections = stop.clone();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    tokio::spawn(serve_connection(stream, Arc::clone(&shared), stop_for_connections.clone()));
                }
                Err(error) => {
                    // Typically out of file descriptors: pausing beats spinning on the same error.
                    tracing::warn!(%error, "simulator: accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            () = stop_requested(&mut stop) => break,
        }
    }
}

/// Resolves once `stop` turns true or its sender is gone (the server handle was dropped).
pub(crate) async fn stop_requested(stop: &mut watch::Receiver<bool>) {
    // The guard `wait_for` returns is not `Send`; drop it here rather than hold it in the caller's select.
    let _ = stop.wait_for(|stopped| *stopped).await;
}

async fn serve_connection(stream: TcpStream, shared: Arc<Shared>, mut stop: watch::Receiver<bool>) {
    // Answers are single small writes; without NODELAY, Nagle plus delayed ACKs can add 40 ms per request.
    if let Err(error) = stream.set_nodelay(true) {
        tracing::debug!(%error, "simulator: could not set TCP_NODELAY");
    }
    let service = service_fn(move |request| {
        let shared = Arc::clone(&shared);
        async move { Ok::<_, Infallible>(handle(&shared, request).await) }
    });
    // With upgrades: a WebSocket handshake hands the socket to its own task (`sim::ws`), which watches `stop`
    // itself.
    let connection = http1::Builder::new()
        .keep_alive(true)
        .serve_connection(TokioIo::new(stream), service)
        .with_upgrades();
    tokio::select! {
        result = connection => {
            if let Err(error) = result {
                tracing::debug!(%error, "simulator: connection ended with an error");
            }
        }
        // Dropping the connection closes the socket, in-flight (stalled) requests included.
        () = stop_requested(&mut stop) => {}
    }
}

async fn handle(shared: &Arc<Shared>, request: Request<Incoming>) -> Response<Full<Bytes>> {
    let Some((venue, venue_path)) = split_venue(request.uri().path()) else {
        let known = Venue::ALL.map(|venue| format!("/{venue}")).join(", ");
        return Reply::text(
            404,
            &format!("unknown venue prefix; expected one of {known}"),
        )
        .into_response();
    };
    let venue_path = venue_path.to_owned();
    let query: Vec<(String, String)> = request
        .uri()
        .query()
        .map(|query| {
            form_urlencoded::parse(query.as_bytes())
                .into_owned()
                .collect()
        })
        .unwrap_or_default();
    if ws::is_upgrade(&request) {
        return ws::upgrade(shared, venue, &venue_path, &query, request);
    }
    let method = request.method().clone();
    let body = match Limited::new(request.into_body(), MAX_BODY_BYTES)
        .collect()
        .await
    {
        Ok(collected) => collected.to_bytes(),
        Err(error) => {
            tracing::debug!(%error, "simulator: request body refused");
            return Reply::text(413, "request body too large or unreadable").into_response();
        }
    };
    let request = SimRequest {
        method,
        path: venue_path,
        query,
        body,
    };
    shared.answer(venue, request).await.into_response()
}

/// `/binance/fapi/v1/ping` → (Binance, `/fapi/v1/ping`); `/bybit` → (Bybit, `/`).
fn split_venue(path: &str) -> Option<(Venue, &str)> {
    let rest = path.strip_prefix('/')?;
    let (prefix, venue_path) = match rest.find('/') {
        Some(slash) => (&rest[..slash], &rest[slash..]),
        None => (rest, "/"),
    };
    Venue::ALL
        .into_iter()
        .find(|venue| venue.as_str() == prefix)
        .map(|venue| (venue, venue_path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn venue_prefixes_split_off_the_path() {
        assert_eq!(
            split_venue("/binance/fapi/v1/ping"),
            Some((Venue::Binance, "/fapi/v1/ping"))
        );
        assert_eq!(
            split_venue("/hyperliquid/info"),
            Some((Venue::Hyperliquid, "/info"))
        );
        assert_eq!(split_venue("/bybit"), Some((Venue::Bybit, "/")));
        assert_eq!(split_venue("/binanceus/x"), None);
        assert_eq!(split_venue("/"), None);
    }

    #[test]
    fn truncation_halves_the_body_and_keeps_the_rest() {
        let reply = Reply::json(200, &serde_json::json!({"a": "bcdefgh"}))
            .header("X-Test", 1)
            .truncated();
        assert_eq!(reply.body.as_ref(), b"{\"a\":\"b");
        assert_eq!(reply.status, 200);
        assert_eq!(reply.headers, vec![("X-Test", "1".to_owned())]);
    }

    #[test]
    fn raw_bodies_get_a_fitting_content_type() {
        assert_eq!(
            Reply::raw(500, "{\"code\":-1000}".into()).content_type,
            Some(JSON)
        );
        assert_eq!(
            Reply::raw(502, "Bad Gateway".into()).content_type,
            Some(TEXT)
        );
    }
}
