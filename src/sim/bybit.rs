//! Bybit v5 market endpoints for the `linear` category.
//!
//! Errors are HTTP 200 with `retCode != 0` in the usual envelope. The IP limit is 600 requests per 5-second
//! window; over it Bybit answers HTTP 403 with the plain text `access too frequent`. (The real venue then
//! bans the IP for about 10 minutes; the simulator lifts the refusal when the window ends, so tests of a
//! client's back-off finish in seconds.) Unknown paths get an empty 404.

use hyper::Method;
use serde_json::{json, Value};

use crate::model::Venue;
use crate::sim::catalog::{Coin, Listing, PERPETUALS, QUOTE_COIN};
use crate::sim::data::{self, Decimal};
use crate::sim::http::{Reply, SimRequest};
use crate::sim::limits::{FixedWindow, RateLimiter, Refusal};
use crate::sim::{catalog, Market, VenueApi};

const REQUESTS_PER_WINDOW: u64 = 600;
const WINDOW_MS: i64 = 5_000;
const DEFAULT_PAGE_LIMIT: usize = 500;
const MAX_PAGE_LIMIT: usize = 1000;
const HOUR_MS: i64 = 3_600_000;

pub(crate) struct Bybit;

pub(crate) enum Endpoint {
    Tickers {
        category: Option<String>,
        symbol: Option<String>,
    },
    InstrumentsInfo(InstrumentsQuery),
    Unknown,
}

/// The parameters of `instruments-info`, as sent (validated when answering, like the venue).
pub(crate) struct InstrumentsQuery {
    category: Option<String>,
    symbol: Option<String>,
    base_coin: Option<String>,
    status: Option<String>,
    limit: Option<String>,
    cursor: Option<String>,
}

impl VenueApi for Bybit {
    type Endpoint = Endpoint;

    fn rate_limiter(enforcing: bool) -> RateLimiter {
        RateLimiter::new(
            FixedWindow::new(WINDOW_MS, REQUESTS_PER_WINDOW),
            None,
            enforcing,
        )
    }

    fn route(request: &SimRequest) -> Endpoint {
        // Bybit treats an empty parameter like a missing one.
        let param = |name| {
            request
                .query_param(name)
                .filter(|value| !value.is_empty())
                .map(str::to_owned)
        };
        if request.method != Method::GET {
            return Endpoint::Unknown;
        }
        match request.path.as_str() {
            "/v5/market/tickers" => Endpoint::Tickers {
                category: param("category"),
                symbol: param("symbol"),
            },
            "/v5/market/instruments-info" => Endpoint::InstrumentsInfo(InstrumentsQuery {
                category: param("category"),
                symbol: param("symbol"),
                base_coin: param("baseCoin"),
                status: param("status"),
                limit: param("limit"),
                cursor: param("cursor"),
            }),
            _ => Endpoint::Unknown,
        }
    }

    /// The IP limit counts requests, whatever they ask for.
    fn weight(_endpoint: &Endpoint) -> u64 {
        1
    }

    fn respond(endpoint: Endpoint, market: &Market) -> Reply {
        match endpoint {
            Endpoint::Tickers { category, symbol } => {
                tickers(category.as_deref(), symbol.as_deref(), market)
            }
            Endpoint::InstrumentsInfo(query) => instruments_info(&query, market),
            Endpoint::Unknown => Reply::empty(404),
        }
    }

    fn refuse(_refusal: Refusal) -> Reply {
        Reply::text(403, "access too frequent")
    }
}

/// A `category` Bybit accepts. Only `linear` lists anything here; the others are valid but empty.
enum Category<'a> {
    Linear,
    Unlisted(&'a str),
}

impl Category<'_> {
    fn parse(raw: Option<&str>) -> Option<Category<'_>> {
        match raw? {
            "linear" => Some(Category::Linear),
            other @ ("spot" | "inverse" | "option") => Some(Category::Unlisted(other)),
            _ => None,
        }
    }

    fn name(&self) -> &str {
        match self {
            Category::Linear => "linear",
            Category::Unlisted(name) => name,
        }
    }
}

fn envelope(ret_code: i64, ret_msg: &str, result: Value, market: &Market) -> Reply {
    Reply::json(
        200,
        &json!({ "retCode": ret_code, "retMsg": ret_msg, "result": result, "retExtInfo": {}, "time": market.now_ms }),
    )
}

fn ok(result: Value, market: &Market) -> Reply {
    envelope(0, "OK", result, market)
}

fn params_error(ret_msg: &str, market: &Market) -> Reply {
    envelope(10001, ret_msg, json!({}), market)
}

fn illegal_category(market: &Market) -> Reply {
    params_error("Illegal category", market)
}

/// The venue's exact answer to an unknown symbol (captured live, see the fixtures' SOURCES.md).
fn invalid_symbol(market: &Market) -> Reply {
    envelope(
        10001,
        "params error: symbol invalid",
        json!({ "category": "", "list": [] }),
        market,
    )
}

fn tickers(category: Option<&str>, symbol: Option<&str>, market: &Market) -> Reply {
    let Some(category) = Category::parse(category) else {
        return illegal_category(market);
    };
    let coins: Vec<&'static Coin> = match (&category, symbol) {
        (Category::Linear, None) => PERPETUALS.iter().collect(),
        (Category::Linear, Some(symbol)) => match catalog::coin_by_usdt_symbol(symbol) {
            Some(coin) => vec![coin],
            None => return invalid_symbol(market),
        },
        (Category::Unlisted(_), Some(_)) => return invalid_symbol(market),
        (Category::Unlisted(_), None) => Vec::new(),
    };
    let list: Vec<Value> = coins.into_iter().map(|coin| ticker(coin, market)).collect();
    ok(json!({ "category": category.name(), "list": list }), market)
}

fn ticker(coin: &'static Coin, market: &Market) -> Value {
    let now = market.now_ms;
    let quote_at = |t_ms| data::quote(market.seed, Venue::Bybit, Listing::Live(coin), t_ms);
    let quote = quote_at(now);
    // Trades happen on the tick grid; the mark price is not on it.
    let on_tick = |price: f64| {
        Decimal::round(
            (price / coin.tick_size).round() * coin.tick_size,
            coin.price_scale,
        )
    };
    let last = on_tick(quote.mark.value);
    let previous_day = on_tick(quote_at(now - 24 * HOUR_MS).mark.value);
    let previous_hour = on_tick(quote_at(now - HOUR_MS).mark.value);
    // The day's range, sampled every 15 minutes.
    let (low, high) = (1..96)
        .map(|quarter| on_tick(quote_at(now - quarter * HOUR_MS / 4).mark.value).value)
        .chain([last.value, previous_day.value])
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(low, high), price| {
            (low.min(price), high.max(price))
        });
    let volume = data::day_base_volume(market.seed, Venue::Bybit, coin, now);
    let turnover = Decimal::round(volume.value * (previous_day.value + last.value) / 2.0, 4);
    let book_size = |side| {
        let fraction = data::cosmetic_fraction(market.seed, Venue::Bybit, coin, side, now);
        Decimal::round(
            coin.typical_open_interest.bybit * 1e-5 * (0.1 + fraction),
            coin.quantity_scale,
        )
    };
    let interval_hours = coin.funding_interval_hours_on(Venue::Bybit);
    json!({
        "symbol": coin.usdt_symbol(),
        "lastPrice": last.fixed(),
        "indexPrice": quote.index.fixed(),
        "markPrice": quote.mark.fixed(),
        "prevPrice24h": previous_day.fixed(),
        "price24hPcnt": Decimal::round(last.value / previous_day.value - 1.0, 6).fixed(),
        "highPrice24h": Decimal::round(high, coin.price_scale).fixed(),
        "lowPrice24h": Decimal::round(low, coin.price_scale).fixed(),
        "prevPrice1h": previous_hour.fixed(),
        "openInterest": quote.open_interest.fixed(),
        "openInterestValue": Decimal::round(quote.open_interest.value * quote.mark.value, 2).fixed(),
        "turnover24h": turnover.fixed(),
        "volume24h": volume.fixed(),
        "fundingRate": quote.funding_rate.fixed(),
        "nextFundingTime": data::next_funding_time_ms(interval_hours, now).to_string(),
        "predictedDeliveryPrice": "",
        "basisRate": "",
        "deliveryFeeRate": "",
        "deliveryTime": "0",
        "ask1Size": book_size("ask1Size").fixed(),
        "bid1Price": last.fixed(),
        "ask1Price": Decimal::round(last.value + coin.tick_size, coin.price_scale).fixed(),
        "bid1Size": book_size("bid1Size").fixed(),
        "basis": "",
        "preOpenPrice": "",
        "preQty": "",
        "curPreListingPhase": "",
        "fundingIntervalHour": interval_hours.to_string(),
        "basisRateYear": "",
        "fundingCap": Decimal::round(coin.funding_rate_cap, 6).shortest(),
    })
}

fn instruments_info(query: &InstrumentsQuery, market: &Market) -> Reply {
    let Some(category) = Category::parse(query.category.as_deref()) else {
        return illegal_category(market);
    };
    let limit = match query.limit.as_deref().map(str::parse::<usize>) {
        None => DEFAULT_PAGE_LIMIT,
        Some(Ok(limit)) if (1..=MAX_PAGE_LIMIT).contains(&limit) => limit,
        Some(_) => return params_error("params error: limit invalid", market),
    };
    // Without `status` Bybit lists trading symbols; every symbol here trades, so any other status is empty
    // (ccxt asks for `PreLaunch` separately). An unknown symbol is an empty list too, not an error.
    let trading = matches!(query.status.as_deref(), None | Some("Trading"));
    let selected: Vec<(usize, &Coin)> = match category {
        Category::Linear if trading => PERPETUALS
            .iter()
            .enumerate()
            .filter(|(_, coin)| {
                query
                    .symbol
                    .as_deref()
                    .is_none_or(|symbol| symbol == coin.usdt_symbol())
            })
            .filter(|(_, coin)| {
                query
                    .base_coin
                    .as_deref()
                    .is_none_or(|base| base == coin.base)
            })
            .collect(),
        _ => Vec::new(),
    };
    // The cursor is opaque to clients; here it is the symbol the next page starts with.
    let start = match query.cursor.as_deref() {
        None => 0,
        Some(cursor) => match selected
            .iter()
            .position(|(_, coin)| coin.usdt_symbol() == cursor)
        {
            Some(position) => position,
            None => return params_error("params error: cursor invalid", market),
        },
    };
    let end = selected.len().min(start + limit);
    let list: Vec<Value> = selected[start..end]
        .iter()
        .map(|(position, coin)| instrument(*position, coin))
        .collect();
    let next_page_cursor = selected
        .get(end)
        .map(|(_, coin)| coin.usdt_symbol())
        .unwrap_or_default();
    ok(
        json!({ "category": category.name(), "list": list, "nextPageCursor": next_page_cursor }),
        market,
    )
}

fn instrument(position: usize, coin: &Coin) -> Value {
    let price = |value: f64| Decimal::round(value, coin.price_scale).fixed();
    let quantity = |value: f64| Decimal::round(value, coin.quantity_scale).fixed();
    let quantity_step = 10f64.powi(-(coin.quantity_scale as i32));
    // About 20 M USDT per limit order and a quarter of that per market order, as Bybit sizes them.
    let max_order_quantity = (20_000_000.0 / coin.reference_price).round();
    let funding_cap = Decimal::round(coin.funding_rate_cap, 6);
    json!({
        "symbol": coin.usdt_symbol(),
        "symbolId": position + 1,
        "contractType": "LinearPerpetual",
        "status": "Trading",
        "baseCoin": coin.base,
        "quoteCoin": QUOTE_COIN,
        "launchTime": coin.launch_time_ms.to_string(),
        "deliveryTime": "0",
        "deliveryFeeRate": "",
        "priceScale": coin.price_scale.to_string(),
        "leverageFilter": {
            "minLeverage": "1",
            "maxLeverage": format!("{}.00", coin.max_leverage.bybit),
            "leverageStep": "0.01",
        },
        "priceFilter": {
            "minPrice": price(coin.tick_size),
            "maxPrice": price(coin.reference_price * 30.0),
            "tickSize": price(coin.tick_size),
        },
        "lotSizeFilter": {
            "maxOrderQty": quantity(max_order_quantity),
            "minOrderQty": quantity(quantity_step),
            "qtyStep": quantity(quantity_step),
            "postOnlyMaxOrderQty": quantity(max_order_quantity),
            "maxMktOrderQty": quantity((max_order_quantity / 4.0).round()),
            "minNotionalValue": "5",
        },
        "unifiedMarginTrade": true,
        "fundingInterval": coin.funding_interval_hours_on(Venue::Bybit) * 60,
        "settleCoin": QUOTE_COIN,
        "copyTrading": "both",
        "upperFundingRate": funding_cap.shortest(),
        "lowerFundingRate": Decimal::round(-funding_cap.value, funding_cap.scale).shortest(),
        "isPreListing": false,
        "preListingInfo": null,
        "riskParameters": { "priceLimitRatioX": "0.01", "priceLimitRatioY": "0.02" },
        "symbolType": "",
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    const MARKET: Market = Market {
        seed: 3,
        now_ms: 1_767_225_601_234,
    };

    fn answer(path: &str, query: &[(&str, &str)]) -> Value {
        let request = SimRequest {
            method: Method::GET,
            path: path.to_owned(),
            query: query
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            body: Bytes::new(),
        };
        let reply = Bybit::respond(Bybit::route(&request), &MARKET);
        assert_eq!(reply.status, 200, "Bybit answers errors with HTTP 200");
        serde_json::from_slice(&reply.body).unwrap_or(Value::Null)
    }

    fn symbols(body: &Value) -> Vec<String> {
        body["result"]["list"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|item| item["symbol"].as_str().map(str::to_owned))
            .collect()
    }

    #[test]
    fn categories_are_checked() {
        assert_eq!(answer("/v5/market/tickers", &[])["retCode"], 10001);
        assert_eq!(
            answer("/v5/market/tickers", &[("category", "perp")])["retMsg"],
            "Illegal category"
        );
        let inverse = answer("/v5/market/tickers", &[("category", "inverse")]);
        assert_eq!(
            (
                inverse["retCode"].as_i64(),
                inverse["result"]["list"].as_array().map(Vec::len)
            ),
            (Some(0), Some(0))
        );
    }

    #[test]
    fn unknown_ticker_symbol_is_the_captured_error() {
        let body = answer(
            "/v5/market/tickers",
            &[("category", "linear"), ("symbol", "NOPEUSDT")],
        );
        assert_eq!(
            body,
            json!({"retCode": 10001, "retMsg": "params error: symbol invalid", "result": {"category": "", "list": []}, "retExtInfo": {}, "time": MARKET.now_ms})
        );
    }

    #[test]
    fn ticker_prices_are_consistent() {
        let body = answer(
            "/v5/market/tickers",
            &[("category", "linear"), ("symbol", "BTCUSDT")],
        );
        let item = &body["result"]["list"][0];
        let number = |key: &str| {
            item[key]
                .as_str()
                .and_then(|text| text.parse::<f64>().ok())
                .unwrap_or(f64::NAN)
        };
        assert!(
            number("lowPrice24h") <= number("lastPrice")
                && number("lastPrice") <= number("highPrice24h")
        );
        assert!(number("bid1Price") < number("ask1Price"));
        let value = number("openInterest") * number("markPrice");
        assert!((number("openInterestValue") - value).abs() <= 0.005 + value * 1e-12);
        assert_eq!(item["fundingIntervalHour"], "8");
    }

    #[test]
    fn instruments_page_with_a_symbol_cursor() {
        let first = answer(
            "/v5/market/instruments-info",
            &[("category", "linear"), ("limit", "4")],
        );
        assert_eq!(
            symbols(&first),
            ["BTCUSDT", "ETHUSDT", "SOLUSDT", "XRPUSDT"]
        );
        assert_eq!(first["result"]["nextPageCursor"], "DOGEUSDT");
        let second = answer(
            "/v5/market/instruments-info",
            &[
                ("category", "linear"),
                ("limit", "4"),
                ("cursor", "DOGEUSDT"),
            ],
        );
        assert_eq!(symbols(&second), ["DOGEUSDT", "1000PEPEUSDT"]);
        assert_eq!(second["result"]["nextPageCursor"], "");
        assert_eq!(second["result"]["list"][0]["fundingInterval"], 240);
    }

    #[test]
    fn instruments_filters_and_bad_parameters() {
        let query = |extra: (&'static str, &'static str)| {
            answer(
                "/v5/market/instruments-info",
                &[("category", "linear"), extra],
            )
        };
        assert_eq!(
            symbols(&query(("status", "PreLaunch"))),
            Vec::<String>::new()
        );
        assert_eq!(
            symbols(&query(("symbol", "NOPEUSDT"))),
            Vec::<String>::new()
        );
        assert_eq!(symbols(&query(("symbol", "ETHUSDT"))), ["ETHUSDT"]);
        assert_eq!(symbols(&query(("baseCoin", "SOL"))), ["SOLUSDT"]);
        assert_eq!(query(("limit", "0"))["retCode"], 10001);
        assert_eq!(query(("limit", "1001"))["retCode"], 10001);
        assert_eq!(query(("limit", "x"))["retCode"], 10001);
        assert_eq!(query(("cursor", "garbage"))["retCode"], 10001);
    }
}
