//! Binance USDⓈ-M liquidation stream: `<symbol>@forceOrder` per symbol, `!forceOrder@arr` for the whole market.
//!
//! Since Binance's 2026 routing change these streams live on the `/market` route (`wss://fstream.binance.com/
//! market/ws`); the legacy `/ws` route still accepts the subscription but delivers nothing. A base URL whose path
//! already names a route (ends in `/ws`) is used as given, so a user can pick another route.
//! Binance pushes at most one liquidation per symbol per second (the latest): counts are lower bounds.

use std::time::Duration;

use serde::Deserialize;

use crate::model::{InstrumentRef, Result, Side, Venue};
use crate::venue::lenient::{LooseF64, LooseI64};
use crate::venue::stream::{
    event_time_ns, positive, Inbound, KeepAlive, LiquidationProtocol, StreamSpec, SymbolNames,
};

const VENUE: Venue = Venue::Binance;
const WHAT: &str = "forceOrder stream";
pub const DEFAULT_WS_URL: &str = Venue::Binance.default_ws_url();
/// The route that carries `forceOrder` (and `markPrice`, `aggTrade`).
pub const LIQUIDATION_ROUTE: &str = "/market/ws";

#[derive(Debug, Default)]
pub struct BinanceLiquidations;

#[derive(Deserialize)]
struct Frame<'a> {
    /// Event type: `forceOrder` for liquidations.
    #[serde(default)]
    e: Option<&'a str>,
    /// Event time (ms), stamped by Binance when it sent the frame.
    #[serde(rename = "E", default)]
    event_time: LooseI64,
    #[serde(borrow, default)]
    o: Option<Order<'a>>,
    /// Combined-stream wrapper `{"stream": …, "data": {…}}`.
    #[serde(borrow, default)]
    data: Option<Box<Frame<'a>>>,
    /// Request answers: `{"result": null, "id": 1}` or `{"error": {"code", "msg"}, "id": 1}`.
    #[serde(default)]
    id: Option<u64>,
    #[serde(default)]
    result: Option<serde_json::Value>,
    #[serde(default)]
    error: Option<ErrorBody>,
    /// A bare error body `{"code": …, "msg": …}`.
    #[serde(default)]
    code: Option<i64>,
    #[serde(default)]
    msg: Option<String>,
}

#[derive(Deserialize)]
struct ErrorBody {
    #[serde(default)]
    code: i64,
    #[serde(default)]
    msg: String,
}

#[derive(Deserialize)]
struct Order<'a> {
    s: &'a str,
    /// The liquidation order's side: `SELL` closes a long.
    #[serde(rename = "S")]
    side: &'a str,
    p: LooseF64,
    q: LooseF64,
    #[serde(default)]
    ap: LooseF64,
    #[serde(default)]
    z: LooseF64,
    #[serde(rename = "T")]
    trade_time: LooseI64,
}

impl LiquidationProtocol for BinanceLiquidations {
    fn venue(&self) -> Venue {
        VENUE
    }

    fn connect_url(&self, ws_base: &str) -> String {
        let base = ws_base.trim_end_matches('/');
        if base.ends_with("/ws") {
            base.to_string()
        } else {
            format!("{base}{LIQUIDATION_ROUTE}")
        }
    }

    fn max_streams_per_connection(&self) -> usize {
        200
    }

    fn stream(&self, instrument: Option<&InstrumentRef>) -> Option<StreamSpec> {
        Some(match instrument {
            Some(inst) => StreamSpec {
                name: format!("{}@forceOrder", inst.native.to_ascii_lowercase()),
                instrument: Some(inst.clone()),
            },
            None => StreamSpec {
                name: "!forceOrder@arr".into(),
                instrument: None,
            },
        })
    }

    fn subscribe_frames(&self, streams: &[StreamSpec], first_id: u64) -> Vec<(u64, String)> {
        let params: Vec<&str> = streams.iter().map(|s| s.name.as_str()).collect();
        let frame = serde_json::json!({"method": "SUBSCRIBE", "params": params, "id": first_id});
        vec![(first_id, frame.to_string())]
    }

    fn keep_alive(&self) -> KeepAlive {
        // Binance pings every 3 minutes and answers our pings; a quiet symbol may send nothing for longer.
        KeepAlive::WsPing(Duration::from_secs(20))
    }

    fn max_connection_age(&self) -> Option<Duration> {
        Some(Duration::from_secs(24 * 3600))
    }

    fn parse(&self, frame: &[u8], ts_init: i64, names: &mut SymbolNames) -> Result<Inbound> {
        let parsed: Frame = serde_json::from_slice(frame).map_err(|e| malformed(e.to_string()))?;
        let parsed = match parsed.data {
            Some(inner) => *inner,
            None => parsed,
        };
        if let Some(error) = parsed.error {
            return Ok(Inbound::Refused {
                id: parsed.id,
                message: format!("{} (code {})", error.msg, error.code),
            });
        }
        if let (Some(code), Some(msg)) = (parsed.code, parsed.msg) {
            return Ok(Inbound::Refused {
                id: parsed.id,
                message: format!("{msg} (code {code})"),
            });
        }
        if let Some(id) = parsed.id {
            // SUBSCRIBE answers `"result": null`; LIST_SUBSCRIPTIONS answers a list: both mean "accepted".
            return Ok(
                if parsed.result.is_none()
                    || parsed
                        .result
                        .as_ref()
                        .is_some_and(|r| r.is_null() || r.is_array())
                {
                    Inbound::Ack(id)
                } else {
                    Inbound::Other
                },
            );
        }
        if parsed.e != Some("forceOrder") {
            return Ok(Inbound::Other);
        }
        let order = parsed
            .o
            .ok_or_else(|| malformed("forceOrder event without its order 'o'".into()))?;
        let side = match order.side {
            "SELL" => Side::Sell,
            "BUY" => Side::Buy,
            other => {
                return Err(malformed(format!(
                    "order side 'S' is '{other}', expected BUY or SELL"
                )))
            }
        };
        let inst = names
            .get(order.s)
            .ok_or_else(|| malformed(format!("symbol '{}' is not a venue symbol", order.s)))?;
        // The average fill price and filled quantity are what was liquidated; `p`/`q` (the order's limit price
        // and size) stand in when a venue omits them or reports zero.
        let price = order
            .ap
            .0
            .filter(|p| *p > 0.0)
            .or(order.p.0)
            .ok_or_else(|| malformed("no price".into()))?;
        let quantity = order
            .z
            .0
            .filter(|q| *q > 0.0)
            .or(order.q.0)
            .ok_or_else(|| malformed("no quantity".into()))?;
        let trade_ms = order.trade_time.required("T").map_err(malformed)?;
        let row = inst.liquidation(
            event_time_ns(VENUE, trade_ms, WHAT)?,
            ts_init,
            side,
            positive(VENUE, price, "ap", WHAT)?,
            positive(VENUE, quantity, "z", WHAT)?,
        );
        Ok(Inbound::Liquidations {
            rows: vec![row],
            sent_ms: parsed.event_time.0,
        })
    }
}

fn malformed(detail: String) -> crate::model::PipelineError {
    crate::model::PipelineError::malformed(VENUE, WHAT, detail)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::UnifiedSymbol;
    use crate::venue::test_support::fixture;

    fn parse(frame: &[u8]) -> Result<Inbound> {
        BinanceLiquidations.parse(frame, 7, &mut SymbolNames::new(VENUE))
    }

    fn rows(frame: &[u8]) -> (Vec<crate::model::Liquidation>, Option<i64>) {
        match parse(frame).unwrap() {
            Inbound::Liquidations { rows, sent_ms } => (rows, sent_ms),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn force_order_fixture_keeps_sell_as_a_liquidated_long() {
        let (rows, sent) = rows(&fixture("binance/ws_force_order__bbgo-pr-capture.json"));
        assert_eq!(sent, Some(1_695_714_031_883));
        let row = &rows[0];
        assert_eq!(
            (row.symbol.as_str(), row.instrument_id.as_str()),
            ("BTCUSDT-PERP", "BTCUSDT-PERP.BINANCE")
        );
        assert_eq!(
            row.side,
            Side::Sell,
            "Binance S=SELL is the order that closed a long"
        );
        assert_eq!((row.price, row.quantity), (26245.10, 0.115));
        assert_eq!((row.ts_event, row.ts_init), (1_695_714_031_881_000_000, 7));
    }

    #[test]
    fn every_captured_message_parses_and_buy_is_a_liquidated_short() {
        let messages: Vec<serde_json::Value> = serde_json::from_slice(&fixture(
            "binance/ws_force_order__binance-forum-capture_messages.json",
        ))
        .unwrap();
        for message in &messages {
            let (rows, _) = rows(message.to_string().as_bytes());
            assert_eq!(rows[0].side, Side::Sell);
        }
        let buy = br#"{"e":"forceOrder","E":1,"o":{"s":"ETHUSDT","S":"BUY","o":"LIMIT","f":"IOC","q":"2","p":"3000","ap":"0","X":"NEW","l":"0","z":"0","T":1700000000000}}"#;
        let buy = String::from_utf8_lossy(buy).replace("\"E\":1", "\"E\":1700000000001");
        let (rows, _) = rows(buy.as_bytes());
        assert_eq!(
            (rows[0].side, rows[0].price, rows[0].quantity),
            (Side::Buy, 3000.0, 2.0),
            "limit price and size stand in for zero fills"
        );
    }

    #[test]
    fn nautilus_fixture_and_combined_stream_wrapper() {
        let (rows, _) = rows(&fixture("binance/ws_force_order__nautilus-rs.json"));
        assert_eq!(rows.len(), 1);
        let wrapped = format!(
            r#"{{"stream":"btcusdt@forceOrder","data":{}}}"#,
            String::from_utf8(fixture("binance/ws_force_order__bbgo-pr-capture.json"))
                .unwrap()
                .trim()
        );
        let (wrapped_rows, sent) = self::rows(wrapped.as_bytes());
        assert_eq!(sent, Some(1_695_714_031_883));
        assert_eq!(wrapped_rows[0].price, 26245.10);
    }

    #[test]
    fn answers_to_requests() {
        assert_eq!(
            parse(br#"{"result":null,"id":3}"#).unwrap(),
            Inbound::Ack(3)
        );
        assert_eq!(
            parse(br#"{"result":["btcusdt@forceOrder"],"id":4}"#).unwrap(),
            Inbound::Ack(4)
        );
        match parse(br#"{"error":{"code":2,"msg":"Invalid request: unknown stream"},"id":5}"#)
            .unwrap()
        {
            Inbound::Refused {
                id: Some(5),
                message,
            } => assert!(message.contains("unknown stream")),
            other => panic!("{other:?}"),
        }
        assert_eq!(
            parse(br#"{"e":"markPriceUpdate","E":1,"s":"BTCUSDT"}"#).unwrap(),
            Inbound::Other
        );
    }

    #[test]
    fn odd_frames_are_typed_errors() {
        let cases: [&[u8]; 7] = [
            br#"{"e":"forceOrder","E":17"#,
            br#"{"e":"forceOrder","E":1}"#,
            br#"{"e":"forceOrder","E":1,"o":{"s":"BTCUSDT","S":"HOLD","p":"1","q":"1","T":1700000000000}}"#,
            br#"{"e":"forceOrder","E":1,"o":{"s":"BTCUSDT","S":"SELL","p":"1","q":"1","T":1700000000000000}}"#,
            br#"{"e":"forceOrder","E":1,"o":{"s":"BTCUSDT","S":"SELL","p":"-1","q":"1","T":1700000000000}}"#,
            br#"{"e":"forceOrder","E":1,"o":{"s":"BTCUSDT","S":"SELL","p":null,"q":"1","T":1700000000000}}"#,
            br#"{"e":"forceOrder","E":1,"o":{"s":"BTC/USDT","S":"SELL","p":"1","q":"1","T":1700000000000}}"#,
        ];
        for case in cases {
            let error = parse(case).unwrap_err();
            assert!(
                matches!(error, crate::model::PipelineError::Malformed { .. }),
                "{error:?}"
            );
        }
    }

    #[test]
    fn urls_streams_and_subscriptions() {
        let p = BinanceLiquidations;
        assert_eq!(
            p.connect_url("wss://fstream.binance.com"),
            "wss://fstream.binance.com/market/ws"
        );
        assert_eq!(
            p.connect_url("ws://127.0.0.1:9/binance/"),
            "ws://127.0.0.1:9/binance/market/ws"
        );
        assert_eq!(
            p.connect_url("wss://fstream.binance.com/ws"),
            "wss://fstream.binance.com/ws",
            "a chosen route is kept"
        );
        let btc = InstrumentRef::new(VENUE, &UnifiedSymbol::parse("BTCUSDT-PERP").unwrap());
        let streams = [p.stream(Some(&btc)).unwrap(), p.stream(None).unwrap()];
        assert_eq!(streams[0].name, "btcusdt@forceOrder");
        assert_eq!(streams[1].name, "!forceOrder@arr");
        let frames = p.subscribe_frames(&streams, 9);
        assert_eq!(frames, vec![(9, r#"{"id":9,"method":"SUBSCRIBE","params":["btcusdt@forceOrder","!forceOrder@arr"]}"#.to_string())]);
    }
}
