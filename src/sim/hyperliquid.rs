//! Hyperliquid's info API: every request is `POST /info` with a JSON body naming its `type`.
//!
//! A body that is not a known request gets HTTP 422 with the plain-text message of Hyperliquid's JSON
//! extractor; other methods get 405, other paths 404 (both empty). The limit is 1200 weight per minute, 20 per
//! info request plus 1 per 20 items a `fundingHistory` answer holds. No capture of Hyperliquid's 429 body exists
//! (see the fixtures' SOURCES.md), so the simulator answers HTTP 429 with the JSON body `null` and no
//! `Retry-After`: clients must back off on the status alone.
//!
//! `fundingHistory` answers the first 500 settlements from `startTime` up to `endTime` (default: now),
//! ascending. Settlement times lie a few hundred milliseconds after the hour, as live ones do, so a client pages
//! on from the last time it got plus one.
//!
//! `userFillsByTime` answers the first 2000 fills of `user` from `startTime` up to `endTime` (default: now),
//! ascending, out of the address's 10 000 most recent ones; `sim::fills` states which fills exist. It weighs 20
//! plus 1 per 20 fills returned. A `user` that is not `0x` and 40 hex digits gets 422.
//!
//! ccxt with its default market types (spot, swap, HIP-3) and currencies also asks for `spotMeta`,
//! `spotMetaAndAssetCtxs` and `perpDexs`: only the first perp dex is simulated and no spot pairs, so these answer
//! an empty spot universe whose one token is USDC (the perps' collateral token 0) and the dex list `[null]`.

use hyper::Method;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::model::Venue;
use crate::sim::catalog::{self, Coin, Listing, HYPERLIQUID_DELISTED, PERPETUALS};
use crate::sim::data::{self, Decimal, Quote};
use crate::sim::fills;
use crate::sim::history::{self, Points, DAY_MS};
use crate::sim::http::{Reply, SimRequest};
use crate::sim::limits::{FixedWindow, RateLimiter, Refusal};
use crate::sim::{Market, VenueApi};

const WEIGHT_LIMIT_PER_MINUTE: u64 = 1200;
/// Hyperliquid: "All other documented info requests have weight 20" (`meta`, `metaAndAssetCtxs` among them).
const INFO_WEIGHT: u64 = 20;
/// `fundingHistory` and a few others "have additional rate limit weight per 20 items returned in the response".
const ITEMS_PER_EXTRA_WEIGHT: usize = 20;
/// The most settlements one `fundingHistory` answer holds.
const FUNDING_HISTORY_MAX_ROWS: usize = 500;
/// Hyperliquid: userFillsByTime "returns at most 2000 fills per response".
const USER_FILLS_MAX_ROWS: usize = 2000;
/// Decimals of the premium: asset contexts print 10 (`"-0.0005927453"`), funding history 8 (`"-0.00091334"`).
const CONTEXT_PREMIUM_SCALE: u32 = 10;
const HISTORY_PREMIUM_SCALE: u32 = 8;
const DESERIALIZE_FAILURE: &str = "Failed to deserialize the JSON body into the target type";

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
    FundingHistory(FundingHistoryRequest),
    UserFillsByTime(UserFillsByTimeRequest),
    SpotMeta,
    SpotMetaAndAssetCtxs,
    PerpDexs,
}

/// `{"type":"fundingHistory","coin":"BTC","startTime":ms,"endTime":ms}`; `startTime` is required.
#[derive(Debug, Deserialize)]
pub(crate) struct FundingHistoryRequest {
    coin: String,
    #[serde(rename = "startTime")]
    start_time: u64,
    #[serde(rename = "endTime", default)]
    end_time: Option<u64>,
}

/// `{"type":"userFillsByTime","user":"0x…","startTime":ms,"endTime":ms,"aggregateByTime":bool}`; `startTime`
/// is required, `endTime` defaults to now. The simulated fills are one per order, so aggregating by time changes
/// nothing.
#[derive(Debug, Deserialize)]
pub(crate) struct UserFillsByTimeRequest {
    user: String,
    #[serde(rename = "startTime")]
    start_time: u64,
    #[serde(rename = "endTime", default)]
    end_time: Option<u64>,
    #[serde(rename = "aggregateByTime", default)]
    #[allow(dead_code)]
    aggregate_by_time: bool,
}

impl UserFillsByTimeRequest {
    fn served(&self, market: &Market) -> Vec<fills::HyperliquidFill> {
        let as_ms = |ms: u64| i64::try_from(ms).unwrap_or(i64::MAX);
        fills::user_fills(
            market.seed,
            &self.user,
            as_ms(self.start_time),
            self.end_time.map_or(i64::MAX, as_ms),
            market.now_ms,
            USER_FILLS_MAX_ROWS,
        )
    }
}

impl FundingHistoryRequest {
    /// The coin asked for and the settlements the answer holds; `None` for a coin Hyperliquid does not list.
    fn served(&self, market: &Market) -> Option<(&'static Coin, Points)> {
        let coin = catalog::coin_by_hyperliquid_name(&self.coin)?;
        let as_ms = |ms: u64| i64::try_from(ms).unwrap_or(i64::MAX);
        let settlements = history::funding_points(
            market.seed,
            Venue::Hyperliquid,
            coin,
            as_ms(self.start_time),
            self.end_time.map_or(i64::MAX, as_ms),
            market.now_ms,
        );
        Some((coin, settlements.first(FUNDING_HISTORY_MAX_ROWS)))
    }
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
        match serde_json::from_slice(&request.body) {
            Ok(InfoRequest::UserFillsByTime(fills)) if !fills::is_address(&fills.user) => {
                Endpoint::Undeserializable
            }
            Ok(info) => Endpoint::Info(info),
            Err(_) => Endpoint::Undeserializable,
        }
    }

    fn weight(endpoint: &Endpoint, market: &Market) -> u64 {
        match endpoint {
            Endpoint::Info(InfoRequest::FundingHistory(request)) => {
                let items = request
                    .served(market)
                    .map_or(0, |(_, settlements)| settlements.len());
                INFO_WEIGHT + (items / ITEMS_PER_EXTRA_WEIGHT) as u64
            }
            Endpoint::Info(InfoRequest::UserFillsByTime(request)) => {
                INFO_WEIGHT + (request.served(market).len() / ITEMS_PER_EXTRA_WEIGHT) as u64
            }
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
            Endpoint::Info(InfoRequest::FundingHistory(request)) => {
                Reply::json(200, &funding_history(&request, market))
            }
            Endpoint::Info(InfoRequest::UserFillsByTime(request)) => {
                let served: Vec<Value> = request
                    .served(market)
                    .iter()
                    .map(fills::HyperliquidFill::to_json)
                    .collect();
                Reply::json(200, &Value::Array(served))
            }
            Endpoint::Info(InfoRequest::SpotMeta) => Reply::json(200, &spot_meta()),
            Endpoint::Info(InfoRequest::SpotMetaAndAssetCtxs) => {
                // One context per spot pair: none.
                Reply::json(200, &json!([spot_meta(), []]))
            }
            // The first perp dex is `null` in the list; builder-deployed (HIP-3) dexs would follow.
            Endpoint::Info(InfoRequest::PerpDexs) => Reply::json(200, &json!([null])),
            // Only the first perp dex is simulated; builder-deployed (HIP-3) dexs are unknown here.
            Endpoint::Info(_) => Reply::json(200, &Value::Null),
            Endpoint::Undeserializable => Reply::text(422, DESERIALIZE_FAILURE),
            Endpoint::WrongMethod => Reply::empty(405),
            Endpoint::NotFound => Reply::empty(404),
        }
    }

    fn refuse(_refusal: Refusal, _group: &'static str) -> Reply {
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

/// No spot pairs; the token list holds USDC alone, as token 0 (the `collateralToken` of `meta`), with the fields
/// of Hyperliquid's `spotMeta` documentation.
fn spot_meta() -> Value {
    json!({
        "universe": [],
        "tokens": [{
            "name": "USDC",
            "szDecimals": 8,
            "weiDecimals": 8,
            "index": 0,
            "tokenId": "0x6d1e7cde53ba9467b783cb7c530ce054",
            "isCanonical": true,
            "evmContract": null,
            "fullName": null,
        }],
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
    let premium = premium(&quote, CONTEXT_PREMIUM_SCALE);
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

/// Mark over oracle price, minus one: the premium Hyperliquid's funding follows.
fn premium(quote: &Quote, scale: u32) -> Decimal {
    Decimal::round(quote.mark.value / quote.index.value - 1.0, scale)
}

/// An unknown coin (or the delisted one, whose past is not simulated) has no settlements: `[]`, as the venue
/// answers.
fn funding_history(request: &FundingHistoryRequest, market: &Market) -> Value {
    let Some((coin, settlements)) = request.served(market) else {
        return json!([]);
    };
    settlements
        .times()
        .map(|t_ms| {
            let quote = data::quote(market.seed, Venue::Hyperliquid, Listing::Live(coin), t_ms);
            json!({
                "coin": coin.hyperliquid_name,
                "fundingRate": quote.funding_rate.shortest(),
                "premium": premium(&quote, HISTORY_PREMIUM_SCALE).shortest(),
                "time": t_ms,
            })
        })
        .collect()
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
    use crate::sim::data::Draws;
    use crate::sim::history::HOUR_MS;
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

    /// A row as the ground truth states it: (time, rate, mark price).
    type Settlement = (i64, f64, Option<f64>);

    /// The answer to a `fundingHistory` body, its rows, and what it weighed.
    fn funding_rows(body: &str) -> (Reply, Vec<Settlement>, u64) {
        let request = SimRequest {
            method: Method::POST,
            path: "/info".into(),
            query: Vec::new(),
            body: Bytes::from(body.to_owned()),
        };
        let endpoint = Hyperliquid::route(&request);
        let weight = Hyperliquid::weight(&endpoint, &MARKET);
        let reply = Hyperliquid::respond(endpoint, &MARKET);
        let rows: Vec<Value> = serde_json::from_slice(&reply.body).unwrap_or_default();
        let parsed = rows
            .iter()
            .map(|row| {
                let rate = row["fundingRate"]
                    .as_str()
                    .and_then(|text| text.parse().ok());
                (
                    row["time"].as_i64().unwrap_or_default(),
                    rate.unwrap_or(f64::NAN),
                    None,
                )
            })
            .collect();
        (reply, parsed, weight)
    }

    #[test]
    fn funding_history_is_the_ground_truth_capped_at_500_from_the_start() {
        let mut draws = Draws::new(41);
        let now = MARKET.now_ms;
        for _case in 0..100 {
            let coin = draws.pick(&PERPETUALS);
            let start = now - draws.between(-HOUR_MS, 40 * DAY_MS);
            let end = draws
                .coin_flip()
                .then(|| start + draws.between(-HOUR_MS, 30 * DAY_MS));
            let body = match end {
                Some(end) => {
                    json!({"type": "fundingHistory", "coin": coin.hyperliquid_name, "startTime": start, "endTime": end})
                }
                None => {
                    json!({"type": "fundingHistory", "coin": coin.hyperliquid_name, "startTime": start})
                }
            };
            let (reply, served, weight) = funding_rows(&body.to_string());
            assert_eq!(reply.status, 200);
            let mut truth = data::funding_history(
                MARKET.seed,
                Venue::Hyperliquid,
                coin.hyperliquid_name,
                start,
                end.unwrap_or(i64::MAX),
                now,
            );
            truth.truncate(FUNDING_HISTORY_MAX_ROWS);
            assert_eq!(served, truth, "{body}");
            assert_eq!(weight, INFO_WEIGHT + served.len() as u64 / 20, "{body}");
        }
    }

    #[test]
    fn funding_history_times_carry_jitter_and_pages_continue_from_the_last_time() {
        let start = MARKET.now_ms - 40 * DAY_MS;
        let (_, first_page, weight) = funding_rows(&format!(
            r#"{{"type":"fundingHistory","coin":"BTC","startTime":{start}}}"#
        ));
        assert_eq!(first_page.len(), 500);
        assert_eq!(weight, 20 + 25);
        let delays: Vec<i64> = first_page
            .iter()
            .map(|(t_ms, _, _)| t_ms % HOUR_MS)
            .collect();
        assert!(delays.iter().all(|delay| (0..1000).contains(delay)));
        assert!(delays.iter().filter(|delay| **delay != 0).count() > 490);
        let next_start = first_page.last().map_or(0, |(t_ms, _, _)| t_ms + 1);
        let (_, second_page, _) = funding_rows(&format!(
            r#"{{"type":"fundingHistory","coin":"BTC","startTime":{next_start}}}"#
        ));
        let mut walked = first_page;
        walked.extend(second_page);
        let truth = data::funding_history(
            MARKET.seed,
            Venue::Hyperliquid,
            "BTC",
            start,
            i64::MAX,
            MARKET.now_ms,
        );
        assert_eq!(walked, truth);
    }

    #[test]
    fn funding_history_of_coins_hyperliquid_does_not_list_is_empty() {
        for coin in ["NOPE", "1000PEPE", "LOOM"] {
            let (reply, rows, weight) = funding_rows(&format!(
                r#"{{"type":"fundingHistory","coin":"{coin}","startTime":0}}"#
            ));
            assert_eq!(
                (reply.status, reply.body.as_ref(), rows.len(), weight),
                (200, b"[]".as_ref(), 0, 20),
                "{coin}"
            );
        }
        let (_, kpepe, _) =
            funding_rows(r#"{"type":"fundingHistory","coin":"kPEPE","startTime":0}"#);
        assert_eq!(kpepe.len(), 500);
        let (_, backwards, _) = funding_rows(
            r#"{"type":"fundingHistory","coin":"BTC","startTime":1700000000000,"endTime":1600000000000}"#,
        );
        assert!(backwards.is_empty());
        for body in [
            r#"{"type":"fundingHistory","coin":"BTC"}"#,
            r#"{"type":"fundingHistory","coin":"BTC","startTime":-1}"#,
            r#"{"type":"fundingHistory","coin":"BTC","startTime":"0"}"#,
            r#"{"type":"fundingHistory","startTime":0}"#,
        ] {
            assert_eq!(post(body).status, 422, "{body}");
        }
    }

    #[test]
    fn user_fills_by_time_pages_within_bounds_up_to_2000() {
        let user = "0x360878d351f05975e25f1807a27895e1e5e004fb";
        let ask = |body: Value| {
            let request = SimRequest {
                method: Method::POST,
                path: "/info".into(),
                query: Vec::new(),
                body: Bytes::from(body.to_string()),
            };
            let endpoint = Hyperliquid::route(&request);
            let weight = Hyperliquid::weight(&endpoint, &MARKET);
            let reply = Hyperliquid::respond(endpoint, &MARKET);
            let rows: Vec<Value> = serde_json::from_slice(&reply.body).unwrap_or_default();
            (reply.status, rows, weight)
        };
        let start = MARKET.now_ms - 2 * HOUR_MS;
        let (status, first, weight) =
            ask(json!({"type": "userFillsByTime", "user": user, "startTime": start}));
        assert_eq!((status, first.len(), weight), (200, 2000, 20 + 100));
        let times: Vec<i64> = first
            .iter()
            .filter_map(|fill| fill["time"].as_i64())
            .collect();
        assert!(times.windows(2).all(|pair| pair[0] < pair[1]));
        assert!(times[0] >= start);
        let next = times[1999] + 1;
        let (_, second, _) = ask(
            json!({"type": "userFillsByTime", "user": user, "startTime": next, "aggregateByTime": false}),
        );
        let mut walked = first.clone();
        walked.extend(second.clone());
        let truth = fills::user_fills(
            MARKET.seed,
            user,
            start,
            i64::MAX,
            MARKET.now_ms,
            usize::MAX,
        );
        let truth: Vec<Value> = truth.iter().map(fills::HyperliquidFill::to_json).collect();
        assert!(
            walked == truth,
            "{} fills walked, {} in the ground truth",
            walked.len(),
            truth.len()
        );
        assert!(second.len() < 2000 && !second.is_empty());
        let end = start + 60_000;
        let (_, bounded, weight) = ask(
            json!({"type": "userFillsByTime", "user": user, "startTime": start, "endTime": end}),
        );
        assert!((19..=21).contains(&bounded.len()));
        assert_eq!(weight, 21);
        assert!(bounded.iter().all(|fill| fill["time"]
            .as_i64()
            .is_some_and(|t| (start..=end).contains(&t))));
        let (_, future, _) =
            ask(json!({"type": "userFillsByTime", "user": user, "startTime": MARKET.now_ms + 1}));
        assert!(future.is_empty());
        for body in [
            json!({"type": "userFillsByTime", "user": "0x12", "startTime": start}),
            json!({"type": "userFillsByTime", "user": user}),
        ] {
            assert_eq!(ask(body.clone()).0, 422, "{body}");
        }
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
