//! Hyperliquid's info API: every request is `POST /info` with a JSON body naming its `type`.
//!
//! A body that is not a known request gets HTTP 422 with the plain-text message of Hyperliquid's JSON
//! extractor; other methods get 405, other paths 404 (both empty). The limit is 1200 weight per minute, 20 per
//! info request. No capture of Hyperliquid's 429 body exists (see the fixtures' SOURCES.md), so the simulator
//! answers HTTP 429 with the JSON body `null` and no `Retry-After`: clients must back off on the status alone.

use hyper::Method;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::model::Venue;
use crate::sim::catalog::{Coin, Listing, HYPERLIQUID_DELISTED, PERPETUALS};
use crate::sim::data::{self, Decimal};
use crate::sim::http::{Reply, SimRequest};
use crate::sim::limits::{FixedWindow, RateLimiter, Refusal};
use crate::sim::{Market, VenueApi};

const WEIGHT_LIMIT_PER_MINUTE: u64 = 1200;
/// Hyperliquid: "All other documented info requests have weight 20" (`meta`, `metaAndAssetCtxs` among them).
const INFO_WEIGHT: u64 = 20;
const DESERIALIZE_FAILURE: &str = "Failed to deserialize the JSON body into the target type";
const DAY_MS: i64 = 86_400_000;

pub(crate) struct Hyperliquid;

pub(crate) enum Endpoint {
    Info(InfoRequest),
    /// `POST /info` whose body is not a request the simulator serves.
    Undeserializable,
    WrongMethod,
    NotFound,
}

/// The info requests served, deserialized as Hyperliquid does (tagged by `type`; other fields ignored).
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub(crate) enum InfoRequest {
    Meta {
        #[serde(default)]
        dex: String,
    },
    MetaAndAssetCtxs {
        #[serde(default)]
        dex: String,
    },
}

impl VenueApi for Hyperliquid {
    type Endpoint = Endpoint;

    fn rate_limiter(enforcing: bool) -> RateLimiter {
        RateLimiter::new(
            FixedWindow::new(60_000, WEIGHT_LIMIT_PER_MINUTE),
            None,
            enforcing,
        )
    }

    fn route(request: &SimRequest) -> Endpoint {
        if request.path != "/info" {
            return Endpoint::NotFound;
        }
        if request.method != Method::POST {
            return Endpoint::WrongMethod;
        }
        serde_json::from_slice(&request.body).map_or(Endpoint::Undeserializable, Endpoint::Info)
    }

    fn weight(endpoint: &Endpoint) -> u64 {
        match endpoint {
            Endpoint::Info(_) | Endpoint::Undeserializable => INFO_WEIGHT,
            Endpoint::WrongMethod | Endpoint::NotFound => 1,
        }
    }

    fn respond(endpoint: Endpoint, market: &Market) -> Reply {
        match endpoint {
            Endpoint::Info(InfoRequest::Meta { dex }) if is_first_perp_dex(&dex) => {
                Reply::json(200, &meta())
            }
            Endpoint::Info(InfoRequest::MetaAndAssetCtxs { dex }) if is_first_perp_dex(&dex) => {
                Reply::json(200, &json!([meta(), asset_contexts(market)]))
            }
            // Only the first perp dex is simulated; builder-deployed (HIP-3) dexs are unknown here.
            Endpoint::Info(_) => Reply::json(200, &Value::Null),
            Endpoint::Undeserializable => Reply::text(422, DESERIALIZE_FAILURE),
            Endpoint::WrongMethod => Reply::empty(405),
            Endpoint::NotFound => Reply::empty(404),
        }
    }

    fn refuse(_refusal: Refusal) -> Reply {
        Reply::json(429, &Value::Null)
    }
}

/// `dex` absent or empty names the first (original) perp dex.
fn is_first_perp_dex(dex: &str) -> bool {
    dex.is_empty()
}

fn meta() -> Value {
    let live = PERPETUALS.iter().map(|coin| {
        json!({
            "name": coin.hyperliquid_name,
            "szDecimals": coin.hyperliquid_size_decimals,
            "maxLeverage": coin.max_leverage.hyperliquid,
        })
    });
    let delisted = json!({
        "name": HYPERLIQUID_DELISTED.name,
        "szDecimals": HYPERLIQUID_DELISTED.size_decimals,
        "maxLeverage": HYPERLIQUID_DELISTED.max_leverage,
        "isDelisted": true,
        "marginMode": "strictIsolated",
        "onlyIsolated": true,
    });
    json!({
        "universe": live.chain([delisted]).collect::<Vec<_>>(),
        "marginTables": margin_tables(),
        "collateralToken": 0,
    })
}

/// One single-tier table per leverage cap in use, keyed by that cap, as Hyperliquid numbers its simple tables.
fn margin_tables() -> Value {
    let mut caps: Vec<u32> = PERPETUALS
        .iter()
        .map(|coin| coin.max_leverage.hyperliquid)
        .chain([HYPERLIQUID_DELISTED.max_leverage])
        .collect();
    caps.sort_unstable();
    caps.dedup();
    caps.into_iter()
        .map(|cap| json!([cap, { "description": "", "marginTiers": [{ "lowerBound": "0.0", "maxLeverage": cap }] }]))
        .collect()
}

/// One context per universe entry, in universe order (clients pair them by position).
fn asset_contexts(market: &Market) -> Value {
    let live = PERPETUALS.iter().map(|coin| live_context(coin, market));
    live.chain([delisted_context(market)]).collect()
}

fn live_context(coin: &'static Coin, market: &Market) -> Value {
    let quote_at = |t_ms| data::quote(market.seed, Venue::Hyperliquid, Listing::Live(coin), t_ms);
    let quote = quote_at(market.now_ms);
    let previous_day = quote_at(market.now_ms - DAY_MS).mark;
    let base_volume = data::day_base_volume(market.seed, Venue::Hyperliquid, coin, market.now_ms);
    let notional_volume = Decimal::round(
        base_volume.value * (previous_day.value + quote.mark.value) / 2.0,
        4,
    );
    let premium = Decimal::round(quote.mark.value / quote.index.value - 1.0, 10);
    // Impact prices straddle the mark by a few price steps of the book.
    let step = 10f64.powi(-(quote.mark.scale as i32));
    let impact_distance = |side| {
        let fraction =
            data::cosmetic_fraction(market.seed, Venue::Hyperliquid, coin, side, market.now_ms);
        step * (1.0 + (3.0 * fraction).floor())
    };
    let impact_bid = Decimal::round(
        quote.mark.value - impact_distance("impactBid"),
        quote.mark.scale,
    );
    let impact_ask = Decimal::round(
        quote.mark.value + impact_distance("impactAsk"),
        quote.mark.scale,
    );
    json!({
        "funding": quote.funding_rate.shortest(),
        "openInterest": quote.open_interest.shortest(),
        "prevDayPx": previous_day.shortest(),
        "dayNtlVlm": notional_volume.shortest(),
        "premium": premium.shortest(),
        "oraclePx": quote.index.shortest(),
        "markPx": quote.mark.shortest(),
        "midPx": quote.mark.shortest(),
        "impactPxs": [impact_bid.shortest(), impact_ask.shortest()],
        "dayBaseVlm": base_volume.shortest(),
    })
}

/// A delisted market has no book: premium, mid and impact prices are null, as in the live capture.
fn delisted_context(market: &Market) -> Value {
    let quote = data::quote(
        market.seed,
        Venue::Hyperliquid,
        Listing::Delisted(&HYPERLIQUID_DELISTED),
        market.now_ms,
    );
    json!({
        "funding": quote.funding_rate.shortest(),
        "openInterest": quote.open_interest.shortest(),
        "prevDayPx": quote.mark.shortest(),
        "dayNtlVlm": "0.0",
        "premium": null,
        "oraclePx": quote.index.shortest(),
        "markPx": quote.mark.shortest(),
        "midPx": null,
        "impactPxs": null,
        "dayBaseVlm": "0.0",
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    const MARKET: Market = Market {
        seed: 5,
        now_ms: 1_767_225_601_234,
    };

    fn post(body: &str) -> Reply {
        let request = SimRequest {
            method: Method::POST,
            path: "/info".into(),
            query: Vec::new(),
            body: Bytes::from(body.to_owned()),
        };
        Hyperliquid::respond(Hyperliquid::route(&request), &MARKET)
    }

    #[test]
    fn contexts_pair_with_the_universe_by_position() {
        let reply = post(r#"{"type":"metaAndAssetCtxs"}"#);
        let body: Value = serde_json::from_slice(&reply.body).unwrap_or(Value::Null);
        let universe = body[0]["universe"].as_array().cloned().unwrap_or_default();
        let contexts = body[1].as_array().cloned().unwrap_or_default();
        assert_eq!(universe.len(), PERPETUALS.len() + 1);
        assert_eq!(universe.len(), contexts.len());
        let kpepe = universe
            .iter()
            .position(|asset| asset["name"] == "kPEPE")
            .unwrap_or(usize::MAX);
        let expected = data::mark_price(MARKET.seed, Venue::Hyperliquid, "kPEPE", MARKET.now_ms);
        assert_eq!(
            contexts[kpepe]["markPx"]
                .as_str()
                .and_then(|px| px.parse::<f64>().ok()),
            Some(expected)
        );
        assert_eq!(contexts[universe.len() - 1]["midPx"], Value::Null);
    }

    #[test]
    fn bodies_hyperliquid_cannot_deserialize_get_422() {
        for body in [
            "",
            "{}",
            r#"{"type":"nope"}"#,
            "[1]",
            r#"{"type":"meta","dex":7}"#,
        ] {
            let reply = post(body);
            assert_eq!(
                (reply.status, reply.body.as_ref()),
                (422, DESERIALIZE_FAILURE.as_bytes()),
                "{body:?}"
            );
        }
        assert_eq!(post(r#"{"type":"meta","dex":"","extra":1}"#).status, 200);
    }

    #[test]
    fn other_dexs_are_unknown() {
        let reply = post(r#"{"type":"meta","dex":"xyz"}"#);
        assert_eq!((reply.status, reply.body.as_ref()), (200, b"null".as_ref()));
    }

    #[test]
    fn margin_tables_cover_every_leverage_cap() {
        let tables = margin_tables();
        let ids: Vec<u64> = tables
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|table| table[0].as_u64())
            .collect();
        assert_eq!(ids, [3, 10, 20, 25, 40]);
    }
}
