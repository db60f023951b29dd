//! Binance USDⓈ-M market streams (`wss://fstream.binance.com`), as routed since 2026: `forceOrder` lives on the
//! `/market` tier.
//!
//! Routes (after the `/binance` prefix):
//! - `/market/ws` (subscribe by message), `/market/ws/<stream>` (one stream fixed at connect, raw frames) and
//!   `/market/stream?streams=<a>/<b>` (combined: every frame wrapped as `{"stream":…,"data":…}`);
//! - the legacy unrouted `/ws…`, `/stream…` and the `/public/…` tier connect and answer requests but never
//!   deliver `forceOrder` (Binance's 2026 route change left them silent for `/market` streams).
//!
//! Streams: `<symbol>@forceOrder` (symbol in lower case, e.g. `btcusdt@forceOrder`) and `!forceOrder@arr` (every
//! symbol). Requests: `SUBSCRIBE`/`UNSUBSCRIBE` (`params`: stream names) → `{"result":null,"id":…}`,
//! `LIST_SUBSCRIPTIONS` → `{"result":[…],"id":…}`, `SET_PROPERTY ["combined",bool]`, `GET_PROPERTY ["combined"]`.
//! Errors follow Binance's documented codes: 3 `Invalid JSON: …` for text that is not JSON, 2 `Invalid request: …`
//! for JSON that is not a request, an unknown stream, or more than 200 streams on the connection (Binance's cap;
//! its exact wording for these two is not documented, so it is the simulator's).
//! More than 10 incoming messages in one second drop the connection, as Binance does.
//! A name in the URL that is not a served stream is ignored (ccxt connects to `/market/ws/0` and subscribes by
//! message); other paths get HTTP 404.

use serde::Deserialize;
use serde_json::{json, Value};

use crate::model::Side;
use crate::sim::http::Reply;
use crate::sim::liquidations::{perpetual_index, Liquidation, Push};
use crate::sim::ws::Answer;

/// Binance: "A single connection can listen to a maximum of 200 streams."
pub(crate) const MAX_STREAMS: usize = 200;
/// Binance: "WebSocket connections have a limit of 10 incoming messages per second. A connection that goes beyond
/// the limit will be disconnected." Counted per wall-clock second, text frames only.
pub(crate) const MAX_INCOMING_PER_SECOND: u32 = 10;
const ALL_MARKET: &str = "!forceOrder@arr";
const SYMBOL_SUFFIX: &str = "@forceOrder";

#[derive(Debug)]
pub(crate) struct Session {
    /// Frames wrapped as `{"stream":…,"data":…}` (the `/stream` routes, or `SET_PROPERTY combined true`).
    combined: bool,
    /// A legacy or wrong-tier route: requests are answered, events never sent.
    silent: bool,
    /// Subscribed streams in subscription order.
    streams: Vec<String>,
    /// (wall-clock second, messages received in it).
    incoming: (i64, u32),
}

/// A stream this simulator serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stream {
    /// `<symbol>@forceOrder`: the perpetual at this index of `PERPETUALS`.
    Symbol(usize),
    All,
}

fn parse_stream(name: &str) -> Option<Stream> {
    if name == ALL_MARKET {
        return Some(Stream::All);
    }
    let symbol = name.strip_suffix(SYMBOL_SUFFIX)?;
    if symbol != symbol.to_ascii_lowercase() {
        return None;
    }
    perpetual_index(&symbol.to_ascii_uppercase()).map(Stream::Symbol)
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
enum Method {
    Subscribe,
    Unsubscribe,
    ListSubscriptions,
    SetProperty,
    GetProperty,
}

#[derive(Debug, Deserialize)]
struct Request {
    method: Method,
    #[serde(default)]
    params: Vec<Value>,
}

fn error(code: i64, msg: &str, id: &Value) -> String {
    json!({"error": {"code": code, "msg": msg}, "id": id}).to_string()
}

fn result(result: Value, id: &Value) -> String {
    json!({"result": result, "id": id}).to_string()
}

impl Session {
    /// The session a request for `path` opens, or HTTP 404 for a route Binance does not have.
    pub(crate) fn open(path: &str, query: &[(String, String)]) -> Result<Session, Reply> {
        let (tier, rest) = match path.strip_prefix("/market") {
            Some(rest) => (true, rest),
            None => (false, path.strip_prefix("/public").unwrap_or(path)),
        };
        let silent = !tier;
        let (combined, streams) = if rest == "/ws" || rest == "/ws/" {
            (false, Vec::new())
        } else if let Some(stream) = rest.strip_prefix("/ws/") {
            (false, vec![stream.to_owned()])
        } else if rest == "/stream" {
            let streams = query
                .iter()
                .filter(|(key, _)| key == "streams")
                .flat_map(|(_, value)| value.split('/'))
                .filter(|name| !name.is_empty())
                .map(str::to_owned)
                .collect();
            (true, streams)
        } else {
            return Err(Reply::empty(404));
        };
        // Names that are not streams (ccxt connects to `/ws/0`, `/ws/1`, … and subscribes by message) are ignored,
        // as Binance ignores them.
        let streams: Vec<String> = streams
            .into_iter()
            .filter(|name| parse_stream(name).is_some())
            .take(MAX_STREAMS)
            .collect();
        let mut session = Session {
            combined,
            silent,
            streams: Vec::new(),
            incoming: (i64::MIN, 0),
        };
        for stream in streams {
            if !session.streams.contains(&stream) {
                session.streams.push(stream);
            }
        }
        Ok(session)
    }

    /// Perpetuals the URL subscribed to (they join the generation set when the connection opens).
    pub(crate) fn subscribed_symbols(&self) -> Vec<usize> {
        self.streams
            .iter()
            .filter_map(|name| match parse_stream(name) {
                Some(Stream::Symbol(index)) => Some(index),
                _ => None,
            })
            .collect()
    }

    /// Counts one incoming message at `now_ms`; false once the connection exceeds Binance's 10 per second (the
    /// caller then drops it).
    pub(crate) fn admit_incoming(&mut self, now_ms: i64) -> bool {
        let second = now_ms.div_euclid(1000);
        if self.incoming.0 != second {
            self.incoming = (second, 0);
        }
        self.incoming.1 += 1;
        self.incoming.1 <= MAX_INCOMING_PER_SECOND
    }

    pub(crate) fn on_text(&mut self, text: &str) -> Answer {
        let value: Value = match serde_json::from_str(text) {
            Ok(value) => value,
            Err(err) => {
                return Answer::reply(error(3, &format!("Invalid JSON: {err}"), &Value::Null))
            }
        };
        let id = value.get("id").cloned().unwrap_or(Value::Null);
        if !(id.is_null() || id.is_u64() || id.is_string()) {
            return Answer::reply(error(
                2,
                "Invalid request: request ID must be an unsigned integer",
                &Value::Null,
            ));
        }
        let request: Request = match serde_json::from_value(value) {
            Ok(request) => request,
            Err(err) => return Answer::reply(error(2, &format!("Invalid request: {err}"), &id)),
        };
        match request.method {
            Method::Subscribe | Method::Unsubscribe => {
                let subscribe = matches!(request.method, Method::Subscribe);
                let mut names = Vec::with_capacity(request.params.len());
                for param in &request.params {
                    let Some(name) = param.as_str() else {
                        return Answer::reply(error(
                            2,
                            "Invalid request: stream names must be strings",
                            &id,
                        ));
                    };
                    if parse_stream(name).is_none() {
                        return Answer::reply(error(
                            2,
                            &format!("Invalid request: unknown stream name {name}"),
                            &id,
                        ));
                    }
                    names.push(name.to_owned());
                }
                if !subscribe {
                    self.streams.retain(|stream| !names.contains(stream));
                    return Answer::reply(result(Value::Null, &id));
                }
                let mut after = self.streams.clone();
                for name in names {
                    if !after.contains(&name) {
                        after.push(name);
                    }
                }
                if after.len() > MAX_STREAMS {
                    return Answer::reply(error(
                        2,
                        &format!(
                            "Invalid request: too many streams; a connection listens to at most {MAX_STREAMS}"
                        ),
                        &id,
                    ));
                }
                self.streams = after;
                Answer {
                    frames: vec![result(Value::Null, &id)],
                    subscribed: self.subscribed_symbols(),
                }
            }
            Method::ListSubscriptions => Answer::reply(result(json!(self.streams), &id)),
            Method::SetProperty => match request.params.as_slice() {
                [name, Value::Bool(on)] if name == "combined" => {
                    self.combined = *on;
                    Answer::reply(result(Value::Null, &id))
                }
                [name, _] if name == "combined" => {
                    Answer::reply(error(1, "Invalid value type: expected Boolean", &id))
                }
                _ => Answer::reply(error(0, "Unknown property", &id)),
            },
            Method::GetProperty => match request.params.as_slice() {
                [name] if name == "combined" => Answer::reply(result(json!(self.combined), &id)),
                _ => Answer::reply(error(0, "Unknown property", &id)),
            },
        }
    }

    /// One frame per subscribed stream that carries `push`'s liquidation (Binance pushes one at a time).
    pub(crate) fn frames(&self, push: &Push, sent_at_ms: i64) -> Vec<String> {
        if self.silent {
            return Vec::new();
        }
        let Some(index) = perpetual_index(&push.coin.usdt_symbol()) else {
            return Vec::new();
        };
        let mut frames = Vec::new();
        for name in &self.streams {
            let matches = match parse_stream(name) {
                Some(Stream::All) => true,
                Some(Stream::Symbol(subscribed)) => subscribed == index,
                None => false,
            };
            if !matches {
                continue;
            }
            for liquidation in &push.liquidations {
                let event = force_order(liquidation, sent_at_ms);
                frames.push(if self.combined {
                    format!(r#"{{"stream":"{name}","data":{event}}}"#)
                } else {
                    event
                });
            }
        }
        frames
    }
}

/// A `forceOrder` event in Binance's field order: the liquidation filled at once as an IOC limit order, so
/// `q` = `l` = `z`, `ap` the fill price and `p` the order's limit price.
pub(crate) fn force_order(liquidation: &Liquidation, sent_at_ms: i64) -> String {
    let side = match liquidation.side {
        Side::Sell => "SELL",
        Side::Buy => "BUY",
    };
    let quantity = liquidation.quantity.fixed();
    let average = liquidation.price.fixed();
    let order_price = liquidation.order_price.unwrap_or(liquidation.price).fixed();
    format!(
        r#"{{"e":"forceOrder","E":{sent_at_ms},"o":{{"s":"{symbol}","S":"{side}","o":"LIMIT","f":"IOC","q":"{quantity}","p":"{order_price}","ap":"{average}","X":"FILLED","l":"{quantity}","z":"{quantity}","T":{time}}}}}"#,
        symbol = liquidation.symbol(),
        time = liquidation.time_ms,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Venue;
    use crate::sim::catalog::PERPETUALS;

    fn session(path: &str, query: &[(&str, &str)]) -> Result<Session, u16> {
        let query: Vec<(String, String)> = query
            .iter()
            .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
            .collect();
        Session::open(path, &query).map_err(|reply| reply.status)
    }

    fn ask(session: &mut Session, text: &str) -> Value {
        let answer = session.on_text(text);
        assert_eq!(answer.frames.len(), 1, "{text}");
        serde_json::from_str(&answer.frames[0]).unwrap_or(Value::Null)
    }

    #[test]
    fn routes() {
        assert!(session("/market/ws", &[]).is_ok_and(|s| !s.silent && !s.combined));
        assert!(session("/market/ws/btcusdt@forceOrder", &[])
            .is_ok_and(|s| s.streams == ["btcusdt@forceOrder"] && !s.combined));
        assert!(session(
            "/market/stream",
            &[("streams", "btcusdt@forceOrder/!forceOrder@arr")]
        )
        .is_ok_and(|s| s.combined && s.streams.len() == 2));
        assert!(session("/ws", &[]).is_ok_and(|s| s.silent));
        assert!(session("/public/ws", &[]).is_ok_and(|s| s.silent));
        assert!(session("/ws/btcusdt@forceOrder", &[]).is_ok_and(|s| s.silent));
        assert!(session("/market/ws/BTCUSDT@forceOrder", &[]).is_ok_and(|s| s.streams.is_empty()));
        assert!(session("/market/ws/0", &[]).is_ok_and(|s| s.streams.is_empty() && !s.silent));
        assert!(session(
            "/market/stream",
            &[("streams", "btcusdt@depth/ethusdt@forceOrder")]
        )
        .is_ok_and(|s| s.streams == ["ethusdt@forceOrder"]));
        assert_eq!(session("/fapi/v1/ping", &[]).err(), Some(404));
    }

    #[test]
    fn requests_and_errors() {
        let Ok(mut session) = session("/market/ws", &[]) else {
            panic!("route")
        };
        let answer = session.on_text(
            r#"{"method":"SUBSCRIBE","params":["btcusdt@forceOrder","!forceOrder@arr"],"id":1}"#,
        );
        assert_eq!(answer.frames, [r#"{"id":1,"result":null}"#]);
        assert_eq!(answer.subscribed, [0]);
        assert_eq!(
            ask(&mut session, r#"{"method":"LIST_SUBSCRIPTIONS","id":2}"#),
            json!({"result": ["btcusdt@forceOrder", "!forceOrder@arr"], "id": 2})
        );
        assert_eq!(
            ask(
                &mut session,
                r#"{"method":"UNSUBSCRIBE","params":["!forceOrder@arr"],"id":"x"}"#
            ),
            json!({"result": null, "id": "x"})
        );
        assert_eq!(
            ask(&mut session, r#"{"method":"LIST_SUBSCRIPTIONS","id":3}"#)["result"],
            json!(["btcusdt@forceOrder"])
        );
        let unknown = ask(
            &mut session,
            r#"{"method":"SUBSCRIBE","params":["foousdt@forceOrder"],"id":4}"#,
        );
        assert_eq!(unknown["error"]["code"], 2);
        assert_eq!(unknown["id"], 4);
        assert!(unknown["error"]["msg"]
            .as_str()
            .is_some_and(|msg| msg.starts_with("Invalid request: ")));
        let not_json = ask(&mut session, "{nope");
        assert_eq!(not_json["error"]["code"], 3);
        assert_eq!(
            ask(&mut session, r#"{"method":"FOO","id":5}"#)["error"]["code"],
            2
        );
        assert_eq!(
            ask(&mut session, r#"{"params":[],"id":6}"#)["error"]["code"],
            2
        );
        assert_eq!(
            ask(
                &mut session,
                r#"{"method":"GET_PROPERTY","params":["combined"],"id":7}"#
            ),
            json!({"result": false, "id": 7})
        );
        let names: Vec<String> = (0..MAX_STREAMS).map(|n| format!("s{n}")).collect();
        assert_eq!(names.len(), 200);
    }

    #[test]
    fn more_than_10_messages_a_second_are_refused() {
        let Ok(mut session) = session("/market/ws", &[]) else {
            panic!("route")
        };
        let t0 = 1_767_225_600_000;
        assert!((0..10).all(|n| session.admit_incoming(t0 + n * 99)));
        assert!(!session.admit_incoming(t0 + 999));
        assert!(session.admit_incoming(t0 + 1000));
    }

    #[test]
    fn over_200_streams_is_an_error() {
        let Ok(mut session) = session("/market/ws", &[]) else {
            panic!("route")
        };
        // Only the listed perpetuals are known streams, so fill the session directly up to the cap.
        session.streams = (0..MAX_STREAMS - 1).map(|n| format!("x{n}")).collect();
        let ok = ask(
            &mut session,
            r#"{"method":"SUBSCRIBE","params":["btcusdt@forceOrder"],"id":1}"#,
        );
        assert_eq!(ok, json!({"result": null, "id": 1}));
        let over = ask(
            &mut session,
            r#"{"method":"SUBSCRIBE","params":["ethusdt@forceOrder"],"id":2}"#,
        );
        assert_eq!(over["error"]["code"], 2);
        assert_eq!(session.streams.len(), MAX_STREAMS);
    }

    #[test]
    fn event_frames_have_the_fixture_shape_and_wrap_on_combined_streams() {
        let liquidation =
            Liquidation::draw(1, Venue::Binance, &PERPETUALS[0], 0, 1_767_225_600_123);
        let push = Push {
            coin: &PERPETUALS[0],
            liquidations: vec![liquidation.clone()],
        };
        let Ok(combined) = session(
            "/market/stream",
            &[(
                "streams",
                "btcusdt@forceOrder/!forceOrder@arr/ethusdt@forceOrder",
            )],
        ) else {
            panic!("route")
        };
        let frames = combined.frames(&push, 1_767_225_600_200);
        assert_eq!(frames.len(), 2);
        let wrapped: Value = serde_json::from_str(&frames[1]).unwrap_or(Value::Null);
        assert_eq!(wrapped["stream"], "!forceOrder@arr");
        let event = &wrapped["data"];
        assert_eq!(event["E"], 1_767_225_600_200_i64);
        assert_eq!(event["o"]["T"], 1_767_225_600_123_i64);
        assert_eq!(event["o"]["s"], "BTCUSDT");
        let parse = |field: &str| {
            event["o"][field]
                .as_str()
                .and_then(|text| text.parse::<f64>().ok())
        };
        assert_eq!(parse("ap"), Some(liquidation.price.value));
        assert_eq!(parse("q"), Some(liquidation.quantity.value));
        assert_eq!(parse("p"), liquidation.order_price.map(|price| price.value));
        let Ok(legacy) = session("/ws/btcusdt@forceOrder", &[]) else {
            panic!("route")
        };
        assert!(legacy.frames(&push, 0).is_empty());
        let Ok(raw) = session("/market/ws/ethusdt@forceOrder", &[]) else {
            panic!("route")
        };
        assert!(raw.frames(&push, 0).is_empty());
    }
}
