//! A minimal Hyperliquid WebSocket (`wss://api.hyperliquid.xyz/ws`) at `/hyperliquid/ws`, so clients such as
//! ccxt.pro can connect: `{"method":"ping"}` → `{"channel":"pong"}`; `{"method":"subscribe"|"unsubscribe",
//! "subscription":{"type":…,…}}` → `{"channel":"subscriptionResponse","data":{"method":…,"subscription":…}}`.
//! No subscription ever delivers data (Hyperliquid has no public liquidation feed; liquidations come from polling
//! `userFillsByTime`). Anything else gets `{"channel":"error","data":"Error parsing JSON into valid websocket
//! request: <text>"}`.

use serde_json::{json, Value};

use crate::sim::http::Reply;
use crate::sim::ws::Answer;

#[derive(Debug, Default)]
pub(crate) struct Session {
    subscriptions: Vec<Value>,
}

impl Session {
    pub(crate) fn open(path: &str) -> Result<Session, Reply> {
        if path == "/ws" {
            Ok(Session::default())
        } else {
            Err(Reply::empty(404))
        }
    }

    pub(crate) fn on_text(&mut self, text: &str) -> Answer {
        let request: Value = serde_json::from_str(text).unwrap_or(Value::Null);
        let method = request.get("method").and_then(Value::as_str);
        let subscription = request
            .get("subscription")
            .filter(|subscription| subscription.get("type").is_some_and(Value::is_string));
        let frame = match (method, subscription) {
            (Some("ping"), _) => json!({"channel": "pong"}),
            (Some(method @ ("subscribe" | "unsubscribe")), Some(subscription)) => {
                if method == "subscribe" {
                    self.subscriptions.push(subscription.clone());
                } else {
                    self.subscriptions.retain(|known| known != subscription);
                }
                json!({
                    "channel": "subscriptionResponse",
                    "data": {"method": method, "subscription": subscription},
                })
            }
            _ => json!({
                "channel": "error",
                "data": format!("Error parsing JSON into valid websocket request: {text}"),
            }),
        };
        Answer {
            frames: vec![frame.to_string()],
            subscribed: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ask(session: &mut Session, text: &str) -> Value {
        let answer = session.on_text(text);
        serde_json::from_str(&answer.frames[0]).unwrap_or(Value::Null)
    }

    #[test]
    fn ping_subscribe_and_errors() {
        let mut session = Session::default();
        assert_eq!(
            ask(&mut session, r#"{"method":"ping"}"#),
            json!({"channel": "pong"})
        );
        let fixture: Value = serde_json::from_str(include_str!(
            "../../../tests/data/fixtures/hyperliquid/ws_trades_subscription_ack__hl-docs.json"
        ))
        .unwrap_or(Value::Null);
        assert_eq!(
            ask(
                &mut session,
                r#"{"method":"subscribe","subscription":{"type":"trades","coin":"SOL"}}"#
            ),
            fixture
        );
        assert_eq!(session.subscriptions.len(), 1);
        let unsubscribed = ask(
            &mut session,
            r#"{"method":"unsubscribe","subscription":{"type":"trades","coin":"SOL"}}"#,
        );
        assert_eq!(unsubscribed["data"]["method"], "unsubscribe");
        assert!(session.subscriptions.is_empty());
        let error = ask(&mut session, r#"{"method":"subscribe"}"#);
        assert_eq!(error["channel"], "error");
        assert!(Session::open("/info").is_err());
    }
}
