//! Hyperliquid liquidations by polling `userFillsByTime`: Hyperliquid has no public liquidation feed, so the
//! pipeline polls the fills of configured addresses and keeps those that carry a `liquidation` object. Coverage is
//! partial by construction: only liquidations in which a polled address took part are seen.
//!
//! The side follows the liquidated position: if the polled address is the liquidated user, its own fill closed
//! the position (`A`, a sell, closed a long → `SELL`); if it is the counterparty (a liquidator such as HLP), its
//! fill is the opposite side (a liquidator buying, `B`, took over a long → `SELL`).

use serde::Deserialize;

use crate::model::{Liquidation, PipelineError, Result, Side, Venue};
use crate::venue::lenient::{LooseF64, LooseI64};
use crate::venue::stream::{event_time_ns, positive, SymbolNames};
use crate::venue::{Method, Request};

const VENUE: Venue = Venue::Hyperliquid;
const WHAT: &str = "userFillsByTime";
/// Hyperliquid answers at most this many fills per request (the oldest of the range first).
pub const MAX_FILLS_PER_ANSWER: usize = 2000;
/// The HLP liquidator address public trackers cite; unverified, and reportedly not the only liquidating address.
pub const DEFAULT_LIQUIDATOR_ADDRESS: &str = "0x2e3d94f0562703b25c83308a05046ddaf9a8dd14";

/// An address as Hyperliquid spells it: `0x` and 40 hex digits, compared in lower case.
pub fn normalize_address(address: &str) -> Result<String> {
    let trimmed = address.trim();
    let hex = trimmed
        .strip_prefix("0x")
        .or_else(|| trimmed.strip_prefix("0X"))
        .unwrap_or("");
    if hex.len() == 40 && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(format!("0x{}", hex.to_ascii_lowercase()))
    } else {
        Err(PipelineError::InvalidArgument(format!(
            "'{address}' is not a Hyperliquid address: expected 0x followed by 40 hexadecimal digits"
        )))
    }
}

/// Fills of `user` from `start_ms` (inclusive) on, oldest first.
pub fn user_fills_request(user: &str, start_ms: i64) -> Request {
    Request {
        venue: VENUE,
        method: Method::Post,
        path: "/info",
        query: vec![],
        body: Some(
            serde_json::json!({"type": "userFillsByTime", "user": user, "startTime": start_ms, "aggregateByTime": false})
                .to_string(),
        ),
        // 20, plus 1 per 20 fills returned (documented); charged up front at the worst case of a full answer.
        weight: 20 + (MAX_FILLS_PER_ANSWER / 20) as u32,
        what: WHAT,
        limit_group: None,
    }
}

/// One answer of `userFillsByTime`, reduced to what the poller needs.
#[derive(Debug, Clone, PartialEq)]
pub struct FillsPage {
    /// Liquidation fills with their trade id (`tid`), which both sides of a trade share.
    pub liquidations: Vec<(u64, Liquidation)>,
    /// Every fill's count (liquidations or not): a full page means more may follow at the same or later times.
    pub fills: usize,
    /// The time of the newest fill, where the next poll starts (inclusive: fills sharing that millisecond are
    /// fetched again and recognised by trade id).
    pub newest_ms: Option<i64>,
}

#[derive(Deserialize)]
struct Fill<'a> {
    coin: &'a str,
    px: LooseF64,
    sz: LooseF64,
    side: &'a str,
    time: LooseI64,
    tid: u64,
    #[serde(default)]
    liquidation: Option<LiquidationInfo<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct LiquidationInfo<'a> {
    liquidated_user: &'a str,
}

pub fn parse_user_fills(
    body: &[u8],
    user: &str,
    ts_init: i64,
    names: &mut SymbolNames,
) -> Result<FillsPage> {
    let fills: Vec<Fill> = serde_json::from_slice(body).map_err(|e| malformed(e.to_string()))?;
    let mut page = FillsPage {
        liquidations: Vec::new(),
        fills: fills.len(),
        newest_ms: None,
    };
    for fill in fills {
        let time_ms = fill.time.required("time").map_err(malformed)?;
        page.newest_ms = Some(page.newest_ms.map_or(time_ms, |t| t.max(time_ms)));
        let Some(info) = fill.liquidation else {
            continue;
        };
        let own_fill_sold = match fill.side {
            "A" => true,
            "B" => false,
            other => return Err(malformed(format!("fill side '{other}', expected A or B"))),
        };
        let liquidated_is_user = info.liquidated_user.eq_ignore_ascii_case(user);
        let side = if own_fill_sold == liquidated_is_user {
            Side::Sell
        } else {
            Side::Buy
        };
        // Spot (`@107`) and builder-deployed (`xyz:TSLA`) coins are not the perps this pipeline covers.
        let Some(inst) = names.get(fill.coin) else {
            continue;
        };
        let row = inst.liquidation(
            event_time_ns(VENUE, time_ms, WHAT)?,
            ts_init,
            side,
            positive(
                VENUE,
                fill.px.required("px").map_err(malformed)?,
                "px",
                WHAT,
            )?,
            positive(
                VENUE,
                fill.sz.required("sz").map_err(malformed)?,
                "sz",
                WHAT,
            )?,
        );
        page.liquidations.push((fill.tid, row));
    }
    Ok(page)
}

fn malformed(detail: String) -> PipelineError {
    PipelineError::malformed(VENUE, WHAT, detail)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::venue::test_support::fixture;

    const LIQUIDATED: &str = "0x360878d351f05975e25f1807a27895e1e5e004fb";

    fn fixture_fills() -> String {
        let message: serde_json::Value = serde_json::from_slice(&fixture(
            "hyperliquid/ws_user_fill_liquidation__nautilus-rs.json",
        ))
        .unwrap();
        message["data"]["fills"].to_string()
    }

    fn parse(body: &str, user: &str) -> FillsPage {
        parse_user_fills(body.as_bytes(), user, 3, &mut SymbolNames::new(VENUE)).unwrap()
    }

    #[test]
    fn the_liquidated_users_own_sell_is_a_liquidated_long() {
        let page = parse(&fixture_fills(), LIQUIDATED);
        let (tid, row) = &page.liquidations[0];
        assert_eq!(*tid, 745_210_434_703_679);
        // The fixture's fill is side A (a sell) by the liquidated user: its long was closed.
        assert_eq!(
            (row.side, row.price, row.quantity),
            (Side::Sell, 66653.0, 0.001)
        );
        assert_eq!(
            (row.symbol.as_str(), row.instrument_id.as_str()),
            ("BTCUSD-PERP", "BTC-USD-PERP.HYPERLIQUID")
        );
        assert_eq!(
            (row.ts_event, row.ts_init, page.newest_ms),
            (1_781_528_065_899_000_000, 3, Some(1_781_528_065_899))
        );
    }

    #[test]
    fn the_liquidators_sell_is_a_liquidated_short() {
        let page = parse(&fixture_fills(), DEFAULT_LIQUIDATOR_ADDRESS);
        assert_eq!(page.liquidations[0].1.side, Side::Buy);
        let bought = fixture_fills().replace(r#""side":"A""#, r#""side":"B""#);
        assert_eq!(
            parse(&bought, DEFAULT_LIQUIDATOR_ADDRESS).liquidations[0]
                .1
                .side,
            Side::Sell
        );
        assert_eq!(
            parse(
                &bought,
                &LIQUIDATED.to_ascii_uppercase().replace("0X", "0x")
            )
            .liquidations[0]
                .1
                .side,
            Side::Buy
        );
    }

    #[test]
    fn plain_fills_count_but_are_not_liquidations() {
        let plain = fixture_fills().replace(r#""liquidation":{"liquidatedUser":"0x360878d351f05975e25f1807a27895e1e5e004fb","markPx":"66607.0","method":"market"},"#, "");
        let page = parse(&plain, LIQUIDATED);
        assert_eq!((page.fills, page.liquidations.len()), (1, 0));
        assert_eq!(
            parse("[]", LIQUIDATED),
            FillsPage {
                liquidations: vec![],
                fills: 0,
                newest_ms: None
            }
        );
    }

    #[test]
    fn odd_answers_are_typed_errors() {
        let fills = fixture_fills();
        for bad in [
            fills.replace(r#""side":"A""#, r#""side":"X""#),
            fills.replace("1781528065899", "-5"),
            fills.replace(r#""px":"66653.0""#, r#""px":null"#),
            fills[..fills.len() / 2].to_string(),
            r#"{"error":"user not found"}"#.to_string(),
        ] {
            let error =
                parse_user_fills(bad.as_bytes(), LIQUIDATED, 0, &mut SymbolNames::new(VENUE))
                    .unwrap_err();
            assert!(
                matches!(error, PipelineError::Malformed { .. }),
                "{error:?}"
            );
        }
    }

    #[test]
    fn addresses_and_requests() {
        assert_eq!(
            normalize_address(" 0x2E3D94F0562703B25C83308A05046DDAF9A8DD14 ").unwrap(),
            DEFAULT_LIQUIDATOR_ADDRESS
        );
        for bad in [
            "",
            "0x12",
            "2e3d94f0562703b25c83308a05046ddaf9a8dd14",
            "0xzz3d94f0562703b25c83308a05046ddaf9a8dd14",
        ] {
            assert!(
                matches!(
                    normalize_address(bad),
                    Err(PipelineError::InvalidArgument(_))
                ),
                "{bad}"
            );
        }
        let request = user_fills_request(DEFAULT_LIQUIDATOR_ADDRESS, 1_700_000_000_000);
        let body: serde_json::Value =
            serde_json::from_str(request.body.as_deref().unwrap()).unwrap();
        assert_eq!(body["type"], "userFillsByTime");
        assert_eq!(body["startTime"], 1_700_000_000_000i64);
        assert_eq!((request.path, request.method), ("/info", Method::Post));
    }
}
