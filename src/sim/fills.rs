//! Ground truth of Hyperliquid user fills, which `userFillsByTime` serves: Hyperliquid has no public liquidation
//! feed, so liquidations are found by polling the fills of known addresses.
//!
//! Every address has exactly one fill per [`SLOT_MS`] window of time, at a deterministic offset inside it: a
//! function of (seed, address in lower case, window), independent of who asks or when. About 30 % are plain
//! trades, 35 % liquidate the address itself (`liquidation.liquidatedUser` is the address: it sells a long or
//! buys back a short, closing the whole position), 35 % have the address on the liquidator's side (it takes
//! over another address's position; `liquidatedUser` is that other address). The commonly cited HLP liquidator
//! address ([`HLP_LIQUIDATOR`]) is never liquidated itself: its fills are 90 % liquidator fills.
//!
//! As on Hyperliquid, only an address's 10 000 most recent fills (as of the simulator clock) are available, and
//! fills exist only up to the simulator clock. Prices lie near the simulated mark price of the fill's time.

use serde_json::{json, Value};

use crate::model::{Side, Venue};
use crate::sim::catalog::{Coin, PERPETUALS};
use crate::sim::data::{self, hash_str, splitmix64, Decimal};

/// One fill per address per this many milliseconds.
pub const SLOT_MS: i64 = 3_000;
/// Hyperliquid: "only the 10000 most recent fills are available".
pub const MOST_RECENT_AVAILABLE: i64 = 10_000;
/// The liquidator address public trackers cite (unverified), in lower case.
pub const HLP_LIQUIDATOR: &str = "0x2e3d94f0562703b25c83308a05046ddaf9a8dd14";

/// One fill as the ground truth states it; the wire form is [`HyperliquidFill::to_json`].
#[derive(Debug, Clone, PartialEq)]
pub struct HyperliquidFill {
    /// Hyperliquid's coin name (`BTC`, `kPEPE`).
    pub coin: String,
    pub time_ms: i64,
    pub price: f64,
    pub size: f64,
    /// The fill's own side: `B` = `Buy`, `A` = `Sell`.
    pub side: Side,
    pub tid: u64,
    /// Present on liquidation fills.
    pub liquidation: Option<FillLiquidation>,
    wire: Value,
}

/// The `liquidation` object of a fill.
#[derive(Debug, Clone, PartialEq)]
pub struct FillLiquidation {
    /// `liquidatedUser`, lower case.
    pub liquidated_user: String,
    /// `markPx`.
    pub mark_price: f64,
    /// The liquidated position, normalised like every liquidation record: `Sell` = a long was liquidated.
    pub liquidated_side: Side,
}

impl HyperliquidFill {
    /// The fill as `userFillsByTime` serves it.
    pub fn to_json(&self) -> Value {
        self.wire.clone()
    }
}

/// Whether `user` is an address Hyperliquid accepts: `0x` and 40 hex digits.
pub(crate) fn is_address(user: &str) -> bool {
    user.len() == 42
        && user.starts_with("0x")
        && user[2..].bytes().all(|byte| byte.is_ascii_hexdigit())
}

/// The fills of `user` with times in [`start_ms`, `end_ms`] that exist at `now_ms`, oldest first, at most
/// `limit` of them (the first ones).
pub fn user_fills(
    seed: u64,
    user: &str,
    start_ms: i64,
    end_ms: i64,
    now_ms: i64,
    limit: usize,
) -> Vec<HyperliquidFill> {
    let user = user.to_ascii_lowercase();
    let key = splitmix64(seed ^ splitmix64(hash_str(&user)));
    let last_slot = {
        let slot = now_ms.div_euclid(SLOT_MS);
        if fill_time(key, slot) <= now_ms {
            slot
        } else {
            slot - 1
        }
    };
    let first_available = last_slot - (MOST_RECENT_AVAILABLE - 1);
    let end_ms = end_ms.min(now_ms);
    let first_slot = start_ms.div_euclid(SLOT_MS).max(first_available);
    let mut fills = Vec::new();
    let mut slot = first_slot;
    while slot <= last_slot && fills.len() < limit {
        let time_ms = fill_time(key, slot);
        if time_ms > end_ms {
            break;
        }
        if time_ms >= start_ms {
            fills.push(fill(seed, &user, key, slot, time_ms));
        }
        slot += 1;
    }
    fills
}

fn fill_time(key: u64, slot: i64) -> i64 {
    slot * SLOT_MS + (splitmix64(key ^ splitmix64(slot as u64)) % SLOT_MS as u64) as i64
}

/// A uniform number in [0, 1) for `salt` of one fill.
fn uniform(fill_key: u64, salt: u64) -> f64 {
    (splitmix64(fill_key ^ splitmix64(salt)) >> 11) as f64 / (1u64 << 53) as f64
}

enum Kind {
    Plain,
    /// The address's own position was liquidated.
    Liquidated,
    /// The address took over a liquidated position.
    Liquidator,
}

fn fill(seed: u64, user: &str, key: u64, slot: i64, time_ms: i64) -> HyperliquidFill {
    let fill_key = splitmix64(key ^ splitmix64(slot as u64 ^ 0x5EED));
    let coin: &'static Coin =
        &PERPETUALS[(splitmix64(fill_key) % PERPETUALS.len() as u64) as usize];
    let draw = uniform(fill_key, 1);
    let kind = if user == HLP_LIQUIDATOR {
        if draw < 0.1 {
            Kind::Plain
        } else {
            Kind::Liquidator
        }
    } else if draw < 0.30 {
        Kind::Plain
    } else if draw < 0.65 {
        Kind::Liquidated
    } else {
        Kind::Liquidator
    };
    // The position concerned is long or short; for liquidations that is the liquidated one.
    let long = uniform(fill_key, 2) < 0.5;
    let mark = data::quote(
        seed,
        Venue::Hyperliquid,
        crate::sim::catalog::Listing::Live(coin),
        time_ms,
    )
    .mark;
    let price_at =
        |value: f64| Decimal::round(value, data::price_scale(Venue::Hyperliquid, coin, value));
    let away = 0.0005 + 0.002 * uniform(fill_key, 3);
    let (side, dir, price) = match kind {
        Kind::Plain => {
            let buy = uniform(fill_key, 4) < 0.5;
            let opening = uniform(fill_key, 5) < 0.5;
            let dir = match (buy, opening) {
                (true, true) => "Open Long",
                (true, false) => "Close Short",
                (false, true) => "Open Short",
                (false, false) => "Close Long",
            };
            let nudge = (uniform(fill_key, 6) - 0.5) * 0.001;
            (
                if buy { Side::Buy } else { Side::Sell },
                dir,
                price_at(mark.value * (1.0 + nudge)),
            )
        }
        // A long is sold below the mark, a short bought back above it.
        Kind::Liquidated if long => (
            Side::Sell,
            "Close Long",
            price_at(mark.value * (1.0 - away)),
        ),
        Kind::Liquidated => (
            Side::Buy,
            "Close Short",
            price_at(mark.value * (1.0 + away)),
        ),
        Kind::Liquidator if long => (Side::Buy, "Open Long", price_at(mark.value * (1.0 - away))),
        Kind::Liquidator => (
            Side::Sell,
            "Open Short",
            price_at(mark.value * (1.0 + away)),
        ),
    };
    let size_decimals = coin.hyperliquid_size_decimals;
    let step = 10f64.powi(-(size_decimals as i32));
    let notional = (20f64.ln() + uniform(fill_key, 7) * (200_000f64 / 20.0).ln()).exp();
    let size = Decimal::round(
        ((notional / price.value) / step).round().max(1.0) * step,
        size_decimals,
    );
    let start_position = match (&kind, dir) {
        // A liquidation closes the whole position.
        (Kind::Liquidated, _) => {
            let signed = if long { size.value } else { -size.value };
            Decimal::round(signed, size_decimals)
        }
        (_, "Open Long" | "Open Short") => {
            let existing = (uniform(fill_key, 8) * 20.0).floor() * step;
            let signed = if dir == "Open Long" {
                existing
            } else {
                -existing
            };
            Decimal::round(signed, size_decimals)
        }
        // Closing part of a position at least as large as the fill.
        _ => {
            let existing = size.value * (1.0 + (uniform(fill_key, 8) * 3.0).floor());
            let signed = if dir == "Close Long" {
                existing
            } else {
                -existing
            };
            Decimal::round(signed, size_decimals)
        }
    };
    let closed_pnl = if dir.starts_with("Close") {
        let loss = matches!(kind, Kind::Liquidated);
        let magnitude = size.value * price.value * (0.001 + 0.05 * uniform(fill_key, 9));
        Decimal::round(if loss { -magnitude } else { magnitude }, 6)
    } else {
        Decimal::round(0.0, 1)
    };
    let crossed = match kind {
        Kind::Liquidated => true,
        Kind::Liquidator => false,
        Kind::Plain => uniform(fill_key, 10) < 0.6,
    };
    let fee_rate = if crossed { 0.00045 } else { 0.00015 };
    let fee = Decimal::round(size.value * price.value * fee_rate, 6);
    let tid = (slot as u64).wrapping_mul(1 << 20) + (hash_str(user) & 0xF_FFFF);
    let oid = 50_000_000_000 + (splitmix64(fill_key ^ 11) % 10_000_000_000);
    let hash = format!(
        "0x{:016x}{:016x}{:016x}{:016x}",
        splitmix64(fill_key ^ 21),
        splitmix64(fill_key ^ 22),
        splitmix64(fill_key ^ 23),
        splitmix64(fill_key ^ 24)
    );
    let liquidation = match kind {
        Kind::Plain => None,
        Kind::Liquidated => Some(FillLiquidation {
            liquidated_user: user.to_owned(),
            mark_price: mark.value,
            liquidated_side: if long { Side::Sell } else { Side::Buy },
        }),
        Kind::Liquidator => Some(FillLiquidation {
            liquidated_user: format!(
                "0x{:016x}{:016x}{:08x}",
                splitmix64(fill_key ^ 31),
                splitmix64(fill_key ^ 32),
                splitmix64(fill_key ^ 33) as u32
            ),
            mark_price: mark.value,
            liquidated_side: if long { Side::Sell } else { Side::Buy },
        }),
    };
    let mut wire = json!({
        "coin": coin.hyperliquid_name,
        "px": price.shortest(),
        "sz": size.shortest(),
        "side": if side == Side::Buy { "B" } else { "A" },
        "time": time_ms,
        "startPosition": start_position.shortest(),
        "dir": dir,
        "closedPnl": closed_pnl.shortest(),
        "hash": hash,
        "oid": oid,
        "crossed": crossed,
        "fee": fee.shortest(),
        "tid": tid,
        "feeToken": "USDC",
        "twapId": null,
    });
    if let Some(liquidation) = &liquidation {
        wire["liquidation"] = json!({
            "liquidatedUser": liquidation.liquidated_user,
            "markPx": mark.shortest(),
            "method": "market",
        });
    } else if uniform(fill_key, 12) < 0.5 {
        wire["cloid"] = json!(format!(
            "0x{:016x}{:016x}",
            splitmix64(fill_key ^ 41),
            splitmix64(fill_key ^ 42)
        ));
    }
    HyperliquidFill {
        coin: coin.hyperliquid_name.to_owned(),
        time_ms,
        price: price.value,
        size: size.value,
        side,
        tid,
        liquidation,
        wire,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_767_225_601_234;
    const USER: &str = "0x360878d351f05975e25f1807a27895e1e5e004fb";

    /// The key set and JSON types of `value`, recursively.
    fn shape(value: &Value) -> Value {
        match value {
            Value::Object(map) => {
                Value::Object(map.iter().map(|(k, v)| (k.clone(), shape(v))).collect())
            }
            Value::Array(items) => Value::Array(items.iter().take(1).map(shape).collect()),
            Value::String(_) => json!("string"),
            Value::Number(_) => json!("number"),
            Value::Bool(_) => json!("bool"),
            Value::Null => json!("null"),
        }
    }

    #[test]
    fn fills_have_the_fixture_shape() {
        let fixture: Value = serde_json::from_str(include_str!(
            "../../tests/data/fixtures/hyperliquid/ws_user_fill_liquidation__nautilus-rs.json"
        ))
        .unwrap_or(Value::Null);
        let expected = fixture["data"]["fills"][0].clone();
        let fills = user_fills(1, USER, NOW - 600_000, NOW, NOW, 2000);
        assert_eq!(fills.len(), 200);
        let mut kinds = [0; 3];
        for fill in &fills {
            let wire = fill.to_json();
            let mut expected = expected.clone();
            if let Some(map) = expected.as_object_mut() {
                if wire.get("cloid").is_none() {
                    map.remove("cloid");
                }
                if wire.get("liquidation").is_none() {
                    map.remove("liquidation");
                }
            }
            assert_eq!(shape(&wire), shape(&expected), "{wire}");
            let parse = |field: &str| {
                wire[field]
                    .as_str()
                    .and_then(|text| text.parse::<f64>().ok())
            };
            assert_eq!(parse("px"), Some(fill.price));
            assert_eq!(parse("sz"), Some(fill.size));
            assert!(fill.size > 0.0);
            match &fill.liquidation {
                None => kinds[0] += 1,
                Some(liquidation) if liquidation.liquidated_user == USER => {
                    kinds[1] += 1;
                    assert!(wire["dir"]
                        .as_str()
                        .is_some_and(|dir| dir.starts_with("Close")));
                    assert_eq!(
                        wire["startPosition"]
                            .as_str()
                            .and_then(|p| p.parse::<f64>().ok())
                            .map(f64::abs),
                        Some(fill.size)
                    );
                }
                Some(liquidation) => {
                    kinds[2] += 1;
                    assert!(is_address(&liquidation.liquidated_user));
                }
            }
        }
        assert!(kinds.iter().all(|count| *count > 30), "{kinds:?}");
    }

    #[test]
    fn ranges_caps_and_retention() {
        let all = user_fills(1, USER, NOW - 3_600_000, NOW, NOW, usize::MAX);
        assert!((1199..=1201).contains(&all.len()), "{}", all.len());
        assert!(all
            .windows(2)
            .all(|pair| pair[0].time_ms < pair[1].time_ms && pair[0].tid != pair[1].tid));
        assert!(all
            .iter()
            .all(|fill| (NOW - 3_600_000..=NOW).contains(&fill.time_ms)));
        // Case does not matter; the cap keeps the first (oldest) ones.
        let capped = user_fills(
            1,
            &USER.to_ascii_uppercase().replace("0X", "0x"),
            NOW - 3_600_000,
            NOW,
            NOW,
            2000,
        );
        assert_eq!(capped, all);
        let first_500 = user_fills(1, USER, NOW - 3_600_000, NOW, NOW, 500);
        assert_eq!(first_500[..], all[..500]);
        // Fills after the clock do not exist yet.
        let later = user_fills(1, USER, NOW - 3_600_000, NOW + 3_600_000, NOW, usize::MAX);
        assert_eq!(later, all);
        // Only the 10 000 most recent fills are available.
        let old = user_fills(1, USER, 0, NOW, NOW, usize::MAX);
        assert_eq!(old.len(), MOST_RECENT_AVAILABLE as usize);
        assert_eq!(old.last(), all.last());
        // Another address, another seed: other fills.
        assert_ne!(
            user_fills(2, USER, NOW - 60_000, NOW, NOW, 50),
            user_fills(1, USER, NOW - 60_000, NOW, NOW, 50)
        );
        let liquidator = user_fills(1, HLP_LIQUIDATOR, NOW - 600_000, NOW, NOW, 2000);
        assert!(liquidator.iter().all(|fill| fill
            .liquidation
            .as_ref()
            .is_none_or(|liquidation| liquidation.liquidated_user != HLP_LIQUIDATOR)));
    }
}
