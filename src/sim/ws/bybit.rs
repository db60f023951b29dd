//! Bybit v5 public linear stream (`wss://stream.bybit.com/v5/public/linear`): the simulator serves it at
//! `/bybit/v5/public/linear`; other paths get HTTP 404.
//!
//! Requests: `{"op":"subscribe"|"unsubscribe","args":[topics],"req_id":"…"}` and `{"op":"ping","req_id":"…"}`,
//! answered `{"success":…,"ret_msg":…,"conn_id":…,"req_id":…,"op":…}` (`req_id` only when the request had
//! one). Topics: `allLiquidation.<SYMBOL>` for listed perpetuals, pushed every 500 ms when there were
//! liquidations (`data` an array, `S` the side of the liquidated *position*: `Buy` = a long); and the deprecated
//! `liquidation.<SYMBOL>`, which is acknowledged but stays silent (Bybit replaced it with `allLiquidation`).
//! A topic the simulator does not serve fails with `error:handler not found,topic:<topic>`; topics already
//! subscribed with `error:already subscribed,topic:<topic>`; the other topics of the request still apply.

use serde_json::{json, Map, Value};

use crate::model::Side;
use crate::sim::data::splitmix64;
use crate::sim::http::Reply;
use crate::sim::liquidations::{perpetual_index, Liquidation, Push};
use crate::sim::ws::Answer;

const TOPIC: &str = "allLiquidation.";
const LEGACY_TOPIC: &str = "liquidation.";

#[derive(Debug)]
pub(crate) struct Session {
    conn_id: String,
    topics: Vec<String>,
}

/// The perpetual (index into `PERPETUALS`) a served topic is about.
fn topic_symbol(topic: &str) -> Option<usize> {
    let symbol = topic
        .strip_prefix(TOPIC)
        .or_else(|| topic.strip_prefix(LEGACY_TOPIC))?;
    perpetual_index(symbol)
}

impl Session {
    pub(crate) fn open(path: &str, number: u64) -> Result<Session, Reply> {
        if path.trim_end_matches('/') != "/v5/public/linear" {
            return Err(Reply::empty(404));
        }
        let mix = splitmix64(number ^ 0xB7B1);
        Ok(Session {
            conn_id: format!(
                "{:020x}-{:05x}",
                u128::from(mix) << 16 | u128::from(number & 0xFFFF),
                number & 0xF_FFFF
            ),
            topics: Vec::new(),
        })
    }

    fn ack(&self, success: bool, ret_msg: &str, req_id: Option<&Value>, op: &str) -> String {
        let mut ack = Map::new();
        ack.insert("success".into(), json!(success));
        ack.insert("ret_msg".into(), json!(ret_msg));
        ack.insert("conn_id".into(), json!(self.conn_id));
        if let Some(req_id) = req_id {
            ack.insert("req_id".into(), req_id.clone());
        }
        ack.insert("op".into(), json!(op));
        Value::Object(ack).to_string()
    }

    pub(crate) fn on_text(&mut self, text: &str) -> Answer {
        let Ok(Value::Object(request)) = serde_json::from_str::<Value>(text) else {
            return Answer::reply(self.ack(
                false,
                "error:invalid request: not a JSON object",
                None,
                "",
            ));
        };
        let req_id = request.get("req_id");
        let op = request
            .get("op")
            .and_then(Value::as_str)
            .unwrap_or_default();
        match op {
            "ping" => Answer::reply(self.ack(true, "pong", req_id, op)),
            "subscribe" | "unsubscribe" => {
                let Some(args) = request.get("args").and_then(Value::as_array) else {
                    return Answer::reply(self.ack(
                        false,
                        "error:args must be an array of topics",
                        req_id,
                        op,
                    ));
                };
                let mut failure: Option<String> = None;
                let mut subscribed = Vec::new();
                for arg in args {
                    let topic = arg.as_str().unwrap_or_default();
                    let Some(index) = topic_symbol(topic) else {
                        failure.get_or_insert(format!("error:handler not found,topic:{topic}"));
                        continue;
                    };
                    let present = self.topics.iter().any(|known| known == topic);
                    if op == "unsubscribe" {
                        self.topics.retain(|known| known != topic);
                    } else if present {
                        failure.get_or_insert(format!("error:already subscribed,topic:{topic}"));
                    } else {
                        self.topics.push(topic.to_owned());
                        subscribed.push(index);
                    }
                }
                let frame = match failure {
                    Some(message) => self.ack(false, &message, req_id, op),
                    None => self.ack(true, "", req_id, op),
                };
                Answer {
                    frames: vec![frame],
                    subscribed,
                }
            }
            _ => Answer::reply(self.ack(false, &format!("error:unsupported op:{op}"), req_id, op)),
        }
    }

    /// The `allLiquidation` frame for `push` if this connection subscribed to its topic.
    pub(crate) fn frames(&self, push: &Push, sent_at_ms: i64) -> Vec<String> {
        let topic = format!("{TOPIC}{}", push.coin.usdt_symbol());
        if self.topics.contains(&topic) {
            vec![all_liquidation(push, sent_at_ms)]
        } else {
            Vec::new()
        }
    }
}

/// One `allLiquidation.<SYMBOL>` push holding every liquidation of the batch, oldest first.
pub(crate) fn all_liquidation(push: &Push, sent_at_ms: i64) -> String {
    let symbol = push.coin.usdt_symbol();
    let data: Vec<String> = push.liquidations.iter().map(item).collect();
    format!(
        r#"{{"topic":"{TOPIC}{symbol}","type":"snapshot","ts":{sent_at_ms},"data":[{}]}}"#,
        data.join(",")
    )
}

fn item(liquidation: &Liquidation) -> String {
    // Bybit names the liquidated position's side: a long (normalised `Sell`) is `Buy`.
    let position_side = match liquidation.side {
        Side::Sell => "Buy",
        Side::Buy => "Sell",
    };
    format!(
        r#"{{"T":{},"s":"{}","S":"{position_side}","v":"{}","p":"{}"}}"#,
        liquidation.time_ms,
        liquidation.symbol(),
        liquidation.quantity.fixed(),
        liquidation.price.fixed(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Venue;
    use crate::sim::catalog::PERPETUALS;

    fn ask(session: &mut Session, text: &str) -> Value {
        let answer = session.on_text(text);
        assert_eq!(answer.frames.len(), 1);
        serde_json::from_str(&answer.frames[0]).unwrap_or(Value::Null)
    }

    #[test]
    fn subscribe_ping_and_errors() {
        let Ok(mut session) = Session::open("/v5/public/linear", 3) else {
            panic!("route")
        };
        assert!(Session::open("/v5/public/spot", 3).is_err());
        let conn_id = session.conn_id.clone();
        let answer =
            session.on_text(r#"{"op":"subscribe","args":["allLiquidation.BTCUSDT"],"req_id":"7"}"#);
        assert_eq!(answer.subscribed, [0]);
        let ack: Value = serde_json::from_str(&answer.frames[0]).unwrap_or(Value::Null);
        assert_eq!(
            ack,
            json!({"success": true, "ret_msg": "", "conn_id": conn_id, "req_id": "7", "op": "subscribe"})
        );
        let again = ask(
            &mut session,
            r#"{"op":"subscribe","args":["allLiquidation.BTCUSDT"],"req_id":"8"}"#,
        );
        assert_eq!(again["success"], false);
        assert_eq!(
            again["ret_msg"],
            "error:already subscribed,topic:allLiquidation.BTCUSDT"
        );
        let unknown = ask(
            &mut session,
            r#"{"op":"subscribe","args":["allLiquidation.FOOUSDT"],"req_id":"9"}"#,
        );
        assert_eq!(
            (
                unknown["success"].clone(),
                unknown["ret_msg"].clone(),
                unknown["req_id"].clone()
            ),
            (
                json!(false),
                json!("error:handler not found,topic:allLiquidation.FOOUSDT"),
                json!("9")
            )
        );
        let pong = ask(&mut session, r#"{"op":"ping","req_id":"p1"}"#);
        assert_eq!(
            pong,
            json!({"success": true, "ret_msg": "pong", "conn_id": conn_id, "req_id": "p1", "op": "ping"})
        );
        let no_req_id = ask(&mut session, r#"{"op":"ping"}"#);
        assert!(no_req_id.get("req_id").is_none());
        let unsubscribe = ask(
            &mut session,
            r#"{"op":"unsubscribe","args":["allLiquidation.BTCUSDT"],"req_id":"u"}"#,
        );
        assert_eq!(unsubscribe["success"], true);
        assert!(session.topics.is_empty());
        assert_eq!(ask(&mut session, "nope")["success"], false);
    }

    #[test]
    fn pushes_reach_allliquidation_subscribers_only() {
        let Ok(mut session) = Session::open("/v5/public/linear", 0) else {
            panic!("route")
        };
        let push = Push {
            coin: &PERPETUALS[0],
            liquidations: vec![
                Liquidation::draw(1, Venue::Bybit, &PERPETUALS[0], 0, 1_767_225_600_001),
                Liquidation::draw(1, Venue::Bybit, &PERPETUALS[0], 1, 1_767_225_600_002),
            ],
        };
        session.on_text(r#"{"op":"subscribe","args":["liquidation.BTCUSDT"]}"#);
        assert!(session.frames(&push, 5).is_empty());
        session.on_text(r#"{"op":"subscribe","args":["allLiquidation.BTCUSDT"]}"#);
        let frames = session.frames(&push, 1_767_225_600_500);
        assert_eq!(frames.len(), 1);
        let frame: Value = serde_json::from_str(&frames[0]).unwrap_or(Value::Null);
        assert_eq!(frame["ts"], 1_767_225_600_500_i64);
        assert_eq!(frame["data"].as_array().map(Vec::len), Some(2));
        for (item, liquidation) in frame["data"]
            .as_array()
            .into_iter()
            .flatten()
            .zip(&push.liquidations)
        {
            assert_eq!(item["T"], liquidation.time_ms);
            let expected_side = if liquidation.side == Side::Sell {
                "Buy"
            } else {
                "Sell"
            };
            assert_eq!(item["S"], expected_side);
            assert_eq!(
                item["p"].as_str().and_then(|p| p.parse().ok()),
                Some(liquidation.price.value)
            );
            assert_eq!(
                item["v"].as_str().and_then(|v| v.parse().ok()),
                Some(liquidation.quantity.value)
            );
        }
        let other = Push {
            coin: &PERPETUALS[1],
            liquidations: Vec::new(),
        };
        assert!(session.frames(&other, 5).is_empty());
    }
}
