//! Bybit v5 linear liquidation stream: topic `allLiquidation.<SYMBOL>` on `/v5/public/linear`, pushed about every
//! 500 ms with `data` an array of `{T, s, S, v, p}`. The deprecated `liquidation.<SYMBOL>` topic (one object per
//! push) is still understood.
//!
//! Bybit's `S` is the side of the liquidated POSITION: `Buy` means a long was liquidated, which is `SELL` in our
//! table (the order that closed it sold).

use std::time::Duration;

use serde::Deserialize;

use crate::model::{InstrumentRef, PipelineError, Result, Side, Venue};
use crate::venue::lenient::{LooseF64, LooseI64};
use crate::venue::stream::{
    event_time_ns, positive, Inbound, KeepAlive, LiquidationProtocol, StreamSpec, SymbolNames,
};

const VENUE: Venue = Venue::Bybit;
const WHAT: &str = "allLiquidation stream";
pub const DEFAULT_WS_URL: &str = Venue::Bybit.default_ws_url();
const PATH: &str = "/v5/public/linear";
/// Bybit asks for at most 10 topics per subscribe request.
const TOPICS_PER_REQUEST: usize = 10;

#[derive(Debug, Default)]
pub struct BybitLiquidations;

#[derive(Deserialize)]
struct Frame<'a> {
    #[serde(default)]
    topic: Option<&'a str>,
    #[serde(default)]
    ts: LooseI64,
    #[serde(default)]
    data: Option<Data<'a>>,
    /// Request answers: `{"success": true, "ret_msg": "", "req_id": "7", "op": "subscribe"}`.
    #[serde(default)]
    op: Option<&'a str>,
    #[serde(default)]
    success: Option<bool>,
    #[serde(default)]
    ret_msg: Option<String>,
    #[serde(default)]
    req_id: Option<&'a str>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Data<'a> {
    #[serde(borrow)]
    Events(Vec<Event<'a>>),
    #[serde(borrow)]
    Legacy(LegacyEvent<'a>),
    /// Another topic's data, or a liquidation push that fits neither shape.
    Other(serde::de::IgnoredAny),
}

#[derive(Deserialize)]
struct Event<'a> {
    #[serde(rename = "T")]
    time: LooseI64,
    s: &'a str,
    #[serde(rename = "S")]
    position_side: &'a str,
    v: LooseF64,
    p: LooseF64,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct LegacyEvent<'a> {
    updated_time: LooseI64,
    symbol: &'a str,
    side: &'a str,
    size: LooseF64,
    price: LooseF64,
}

impl LiquidationProtocol for BybitLiquidations {
    fn venue(&self) -> Venue {
        VENUE
    }

    fn connect_url(&self, ws_base: &str) -> String {
        let base = ws_base.trim_end_matches('/');
        if base.ends_with(PATH) {
            base.to_string()
        } else {
            format!("{base}{PATH}")
        }
    }

    fn max_streams_per_connection(&self) -> usize {
        // Bybit caps the total length of a connection's topics (about 21,000 characters): 200 topics stay well
        // inside it.
        200
    }

    fn stream(&self, instrument: Option<&InstrumentRef>) -> Option<StreamSpec> {
        let inst = instrument?;
        Some(StreamSpec {
            name: format!("allLiquidation.{}", inst.native),
            instrument: Some(inst.clone()),
        })
    }

    fn subscribe_frames(&self, streams: &[StreamSpec], first_id: u64) -> Vec<(u64, String)> {
        streams
            .chunks(TOPICS_PER_REQUEST)
            .zip(first_id..)
            .map(|(chunk, id)| {
                let args: Vec<&str> = chunk.iter().map(|s| s.name.as_str()).collect();
                (
                    id,
                    serde_json::json!({"op": "subscribe", "args": args, "req_id": id.to_string()})
                        .to_string(),
                )
            })
            .collect()
    }

    fn keep_alive(&self) -> KeepAlive {
        KeepAlive::Text {
            frame: r#"{"op":"ping"}"#.into(),
            every: Duration::from_secs(20),
        }
    }

    fn max_connection_age(&self) -> Option<Duration> {
        None
    }

    fn parse(&self, frame: &[u8], ts_init: i64, names: &mut SymbolNames) -> Result<Inbound> {
        let parsed: Frame = serde_json::from_slice(frame).map_err(|e| malformed(e.to_string()))?;
        if let Some(op) = parsed.op {
            let message = parsed.ret_msg.unwrap_or_default();
            if op == "pong" || (op == "ping" && message == "pong") {
                return Ok(Inbound::Pong);
            }
            let id = parsed.req_id.and_then(|id| id.parse().ok());
            return Ok(match (op, parsed.success) {
                ("subscribe", Some(true)) => id.map_or(Inbound::Other, Inbound::Ack),
                (_, Some(false)) => Inbound::Refused { id, message },
                _ => Inbound::Other,
            });
        }
        let Some(topic) = parsed.topic else {
            return Ok(Inbound::Other);
        };
        if !(topic.starts_with("allLiquidation.") || topic.starts_with("liquidation.")) {
            return Ok(Inbound::Other);
        }
        let events = match parsed.data {
            Some(Data::Events(events)) => events,
            Some(Data::Legacy(e)) => vec![Event {
                time: e.updated_time,
                s: e.symbol,
                position_side: e.side,
                v: e.size,
                p: e.price,
            }],
            Some(Data::Other(_)) => {
                return Err(malformed(format!(
                    "push of '{topic}' with 'data' of another shape"
                )))
            }
            None => return Err(malformed(format!("push of '{topic}' without 'data'"))),
        };
        let rows = events
            .into_iter()
            .map(|event| row(event, ts_init, names))
            .collect::<Result<Vec<_>>>()?;
        Ok(Inbound::Liquidations {
            rows,
            sent_ms: parsed.ts.0,
        })
    }
}

fn row(event: Event, ts_init: i64, names: &mut SymbolNames) -> Result<crate::model::Liquidation> {
    let side = match event.position_side {
        "Buy" => Side::Sell,
        "Sell" => Side::Buy,
        other => {
            return Err(malformed(format!(
                "position side 'S' is '{other}', expected Buy or Sell"
            )))
        }
    };
    let inst = names
        .get(event.s)
        .ok_or_else(|| malformed(format!("symbol '{}' is not a venue symbol", event.s)))?;
    Ok(inst.liquidation(
        event_time_ns(VENUE, event.time.required("T").map_err(malformed)?, WHAT)?,
        ts_init,
        side,
        positive(VENUE, event.p.required("p").map_err(malformed)?, "p", WHAT)?,
        positive(VENUE, event.v.required("v").map_err(malformed)?, "v", WHAT)?,
    ))
}

fn malformed(detail: String) -> PipelineError {
    PipelineError::malformed(VENUE, WHAT, detail)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::UnifiedSymbol;
    use crate::venue::test_support::fixture;

    fn parse(frame: &[u8]) -> Result<Inbound> {
        BybitLiquidations.parse(frame, 5, &mut SymbolNames::new(VENUE))
    }

    fn rows(frame: &[u8]) -> (Vec<crate::model::Liquidation>, Option<i64>) {
        match parse(frame).unwrap() {
            Inbound::Liquidations { rows, sent_ms } => (rows, sent_ms),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn position_side_buy_is_a_liquidated_long_so_sell() {
        let (rows, sent) = rows(&fixture("bybit/ws_all_liquidation__nautilus-rs.json"));
        assert_eq!(sent, Some(1_739_502_303_204));
        assert_eq!(rows.len(), 2);
        assert_eq!(
            (rows[0].side, rows[0].price, rows[0].quantity),
            (Side::Sell, 96250.5, 0.015)
        );
        assert_eq!(
            (rows[1].side, rows[1].price, rows[1].quantity),
            (Side::Buy, 97410.0, 1.25)
        );
        assert_eq!(rows[0].instrument_id, "BTCUSDT-LINEAR.BYBIT");
        assert_eq!(
            (rows[0].ts_event, rows[0].ts_init),
            (1_739_502_302_929_000_000, 5)
        );
    }

    #[test]
    fn docs_fixture_and_legacy_topic() {
        let (rows, _) = rows(&fixture("bybit/ws_all_liquidation__bybit-docs.json"));
        assert_eq!(
            (rows[0].symbol.as_str(), rows[0].side, rows[0].quantity),
            ("ROSEUSDT-PERP", Side::Buy, 20000.0)
        );
        let (legacy, _) = self::rows(&fixture(
            "bybit/ws_liquidation_legacy_topic__nautilus-py.json",
        ));
        assert_eq!(
            (legacy[0].symbol.as_str(), legacy[0].side, legacy[0].price),
            ("GALAUSDT-PERP", Side::Sell, 0.03803)
        );
    }

    #[test]
    fn answers_to_requests() {
        assert_eq!(
            parse(
                br#"{"success":true,"ret_msg":"","conn_id":"c1","req_id":"12","op":"subscribe"}"#
            )
            .unwrap(),
            Inbound::Ack(12)
        );
        match parse(br#"{"success":false,"ret_msg":"error:handler not found,topic:allLiquidation.NOPE","conn_id":"c","req_id":"3","op":"subscribe"}"#).unwrap() {
            Inbound::Refused { id: Some(3), message } => assert!(message.contains("handler not found")),
            other => panic!("{other:?}"),
        }
        assert_eq!(
            parse(br#"{"success":true,"ret_msg":"pong","conn_id":"c","req_id":"","op":"ping"}"#)
                .unwrap(),
            Inbound::Pong
        );
        assert_eq!(
            parse(br#"{"topic":"tickers.BTCUSDT","ts":1,"data":{}}"#).unwrap(),
            Inbound::Other
        );
    }

    #[test]
    fn odd_frames_are_typed_errors() {
        let cases: [&[u8]; 6] = [
            br#"{"topic":"allLiquidation.BTCUSDT","ts":1,"data":[{"T":1739502302929,"s":"BTCUSDT","S":"Buy","v":"0.1""#,
            br#"{"topic":"allLiquidation.BTCUSDT","ts":1}"#,
            br#"{"topic":"allLiquidation.BTCUSDT","ts":1,"data":[{"T":1739502302929,"s":"BTCUSDT","S":"Long","v":"1","p":"1"}]}"#,
            br#"{"topic":"allLiquidation.BTCUSDT","ts":1,"data":[{"T":-5,"s":"BTCUSDT","S":"Buy","v":"1","p":"1"}]}"#,
            br#"{"topic":"allLiquidation.BTCUSDT","ts":1,"data":[{"T":1739502302929,"s":"BTCUSDT","S":"Buy","v":"","p":"1"}]}"#,
            br#"{"topic":"allLiquidation.BTCUSDT","ts":1,"data":[{"T":1739502302929,"s":"BTCUSDT","S":"Buy","v":"1","p":"NaN"}]}"#,
        ];
        for case in cases {
            let error = parse(case).unwrap_err();
            assert!(
                matches!(error, PipelineError::Malformed { .. }),
                "{error:?}"
            );
        }
    }

    #[test]
    fn urls_topics_and_subscription_chunks() {
        let p = BybitLiquidations;
        assert_eq!(
            p.connect_url("wss://stream.bybit.com"),
            "wss://stream.bybit.com/v5/public/linear"
        );
        assert_eq!(
            p.connect_url("ws://h/bybit/v5/public/linear"),
            "ws://h/bybit/v5/public/linear"
        );
        assert!(
            p.stream(None).is_none(),
            "Bybit has no whole-market liquidation topic"
        );
        let streams: Vec<StreamSpec> = (0..23)
            .map(|i| {
                let inst = InstrumentRef::new(
                    VENUE,
                    &UnifiedSymbol::parse(&format!("C{i}USDT-PERP")).unwrap(),
                );
                p.stream(Some(&inst)).unwrap()
            })
            .collect();
        let frames = p.subscribe_frames(&streams, 4);
        assert_eq!(
            frames.iter().map(|(id, _)| *id).collect::<Vec<_>>(),
            vec![4, 5, 6]
        );
        let last: serde_json::Value = serde_json::from_str(&frames[2].1).unwrap();
        assert_eq!(
            last["args"],
            serde_json::json!([
                "allLiquidation.C20USDT",
                "allLiquidation.C21USDT",
                "allLiquidation.C22USDT"
            ])
        );
        assert_eq!(last["req_id"], "6");
    }
}
