//! Bybit v5 market endpoints for the `linear` category.
//!
//! Errors are HTTP 200 with `retCode != 0` in the usual envelope. The IP limit is 600 requests per 5-second
//! window; over it Bybit answers HTTP 403 with the plain text `access too frequent`. (The real venue then
//! bans the IP for about 10 minutes; the simulator lifts the refusal when the window ends, so tests of a
//! client's back-off finish in seconds.) Unknown paths get an empty 404.
//!
//! Histories come newest first. Open interest pages by an opaque `nextPageCursor` (empty on the last page);
//! funding history has no cursor: clients page by moving `endTime` back. Messages of errors no capture shows
//! (bad `intervalTime`, `startTime` without `endTime`, a bad time or cursor) follow the captured
//! `params error: symbol invalid` pattern.

use std::borrow::Cow;

use hyper::Method;
use serde_json::{json, Value};

use crate::model::Venue;
use crate::sim::catalog::{Coin, Listing, PERPETUALS, QUOTE_COIN};
use crate::sim::data::{self, Decimal};
use crate::sim::history::{self, PageLimits, DAY_MS, HOUR_MS, MINUTE_MS};
use crate::sim::http::{Reply, SimRequest};
use crate::sim::limits::{FixedWindow, RateLimiter, Refusal};
use crate::sim::{catalog, Market, VenueApi};

const REQUESTS_PER_WINDOW: u64 = 600;
const WINDOW_MS: i64 = 5_000;
const INSTRUMENTS_PAGE: PageLimits = PageLimits {
    default: 500,
    max: 1000,
};
const OPEN_INTEREST_PAGE: PageLimits = PageLimits {
    default: 50,
    max: 200,
};
const FUNDING_HISTORY_PAGE: PageLimits = PageLimits {
    default: 200,
    max: 200,
};

/// `open-interest` intervals.
const OPEN_INTEREST_INTERVALS: [(&str, i64); 6] = [
    ("5min", 5 * MINUTE_MS),
    ("15min", 15 * MINUTE_MS),
    ("30min", 30 * MINUTE_MS),
    ("1h", HOUR_MS),
    ("4h", 4 * HOUR_MS),
    ("1d", DAY_MS),
];

/// Bybit prints historical open interest with 8 decimals (`"461134384.00000000"`).
const OPEN_INTEREST_SCALE: u32 = 8;

/// Not from a capture: Bybit refuses a funding-history `startTime` without `endTime`, in words unknown here.
const START_WITHOUT_END: &str = "params error: endTime is required when startTime is set";

pub(crate) struct Bybit;

pub(crate) enum Endpoint {
    Tickers {
        category: Option<String>,
        symbol: Option<String>,
    },
    InstrumentsInfo(InstrumentsQuery),
    /// `/v5/market/open-interest`.
    OpenInterest(HistoryQuery),
    /// `/v5/market/funding/history` (`intervalTime` and `cursor` play no part).
    FundingHistory(HistoryQuery),
    Unknown,
}

/// The parameters of a history request, as sent (validated when answering, like the venue).
pub(crate) struct HistoryQuery {
    category: Option<String>,
    symbol: Option<String>,
    interval_time: Option<String>,
    start_time: Option<String>,
    end_time: Option<String>,
    limit: Option<String>,
    cursor: Option<String>,
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
        let history_query = || HistoryQuery {
            category: param("category"),
            symbol: param("symbol"),
            interval_time: param("intervalTime"),
            start_time: param("startTime"),
            end_time: param("endTime"),
            limit: param("limit"),
            cursor: param("cursor"),
        };
        if request.method != Method::GET {
            return Endpoint::Unknown;
        }
        match request.path.as_str() {
            "/v5/market/open-interest" => Endpoint::OpenInterest(history_query()),
            "/v5/market/funding/history" => Endpoint::FundingHistory(history_query()),
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
    fn weight(_endpoint: &Endpoint, _market: &Market) -> u64 {
        1
    }

    fn respond(endpoint: Endpoint, market: &Market) -> Reply {
        match endpoint {
            Endpoint::Tickers { category, symbol } => {
                tickers(category.as_deref(), symbol.as_deref(), market)
            }
            Endpoint::InstrumentsInfo(query) => instruments_info(&query, market),
            Endpoint::OpenInterest(query) => {
                open_interest_history(&query, market).unwrap_or_else(|rejection| rejection)
            }
            Endpoint::FundingHistory(query) => {
                funding_history(&query, market).unwrap_or_else(|rejection| rejection)
            }
            Endpoint::Unknown => Reply::empty(404),
        }
    }

    fn refuse(_refusal: Refusal, _group: &'static str) -> Reply {
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
    let limit = match page_size(query.limit.as_deref(), &INSTRUMENTS_PAGE, market) {
        Ok(limit) => limit,
        Err(rejection) => return rejection,
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

/// The page size for a `limit` as sent.
fn page_size(raw: Option<&str>, limits: &PageLimits, market: &Market) -> Result<usize, Reply> {
    let requested = raw.map(str::parse::<i64>).transpose().ok();
    requested
        .and_then(|requested| limits.size(requested))
        .ok_or_else(|| params_error("params error: limit invalid", market))
}

/// A millisecond time parameter, `None` if not sent.
fn time_parameter(name: &str, raw: Option<&str>, market: &Market) -> Result<Option<i64>, Reply> {
    raw.map(str::parse::<i64>)
        .transpose()
        .map_err(|_| params_error(&format!("params error: {name} invalid"), market))
}

/// The perpetual a history request names. Only `linear` contracts are listed, so any other valid category names
/// none.
fn history_coin(query: &HistoryQuery, market: &Market) -> Result<&'static Coin, Reply> {
    match Category::parse(query.category.as_deref()) {
        None => Err(illegal_category(market)),
        Some(Category::Linear) => query
            .symbol
            .as_deref()
            .and_then(catalog::coin_by_usdt_symbol)
            .ok_or_else(|| invalid_symbol(market)),
        Some(Category::Unlisted(_)) => Err(invalid_symbol(market)),
    }
}

/// Open-interest statistics since listing, newest first: a page is the next `limit` points in [startTime,
/// endTime] (defaults: listing, now) older than the cursor's position.
fn open_interest_history(query: &HistoryQuery, market: &Market) -> Result<Reply, Reply> {
    let coin = history_coin(query, market)?;
    let interval = query.interval_time.as_deref().unwrap_or_default();
    let interval_ms = OPEN_INTEREST_INTERVALS
        .iter()
        .find(|(name, _)| *name == interval)
        .map(|(_, interval_ms)| *interval_ms)
        .ok_or_else(|| params_error("params error: intervalTime invalid", market))?;
    let limit = page_size(query.limit.as_deref(), &OPEN_INTEREST_PAGE, market)?;
    let start_ms = time_parameter("startTime", query.start_time.as_deref(), market)?;
    let end_ms = time_parameter("endTime", query.end_time.as_deref(), market)?;
    let symbol = coin.usdt_symbol();
    let continue_before_ms = match query.cursor.as_deref() {
        None => i64::MAX,
        Some(cursor) => cursor_position(cursor, &symbol, interval)
            .ok_or_else(|| params_error("params error: cursor invalid", market))?,
    };
    let points = history::open_interest_points(
        Venue::Bybit,
        coin,
        interval_ms,
        start_ms.unwrap_or(i64::MIN),
        end_ms
            .unwrap_or(i64::MAX)
            .min(continue_before_ms.saturating_sub(1)),
        market.now_ms,
    );
    let page = points.last(limit);
    let list: Vec<Value> = page
        .times()
        .rev()
        .map(|t_ms| {
            let statistic = data::open_interest_statistic(market.seed, Venue::Bybit, coin, t_ms);
            json!({
                "openInterest": statistic.open_interest.padded(OPEN_INTEREST_SCALE).fixed(),
                "timestamp": t_ms.to_string(),
            })
        })
        .collect();
    let oldest_served_ms = page.times().next();
    let next_page_cursor = oldest_served_ms
        .filter(|_| points.len() > page.len())
        .map(|oldest_ms| open_interest_cursor(&symbol, interval, oldest_ms))
        .unwrap_or_default();
    Ok(ok(
        json!({ "symbol": symbol, "category": "linear", "list": list, "nextPageCursor": next_page_cursor }),
        market,
    ))
}

/// Bybit's cursor is opaque; the real one reads `lastid%3D19408935%26lasttime%3D1780617600` (an id and the last
/// time served, in seconds). Here the id is a check number over the series and that time, so only cursors this
/// series served decode.
fn open_interest_cursor(symbol: &str, interval: &str, last_ms: i64) -> String {
    let seconds = last_ms.div_euclid(1000);
    let id = cursor_id(symbol, interval, seconds);
    format!("lastid%3D{id}%26lasttime%3D{seconds}")
}

/// The time (ms) a cursor's page continues before, if the cursor is one this series served: as it was served,
/// or percent-decoded once (by a client that put it in the next query string unencoded).
fn cursor_position(cursor: &str, symbol: &str, interval: &str) -> Option<i64> {
    let decoded = cursor.replace("%3D", "=").replace("%26", "&");
    let fields: Vec<(Cow<'_, str>, Cow<'_, str>)> =
        form_urlencoded::parse(decoded.as_bytes()).collect();
    let [(id_key, id), (time_key, seconds)] = fields.as_slice() else {
        return None;
    };
    if *id_key != "lastid" || *time_key != "lasttime" {
        return None;
    }
    let seconds: i64 = seconds.parse().ok()?;
    let id: u64 = id.parse().ok()?;
    (id == cursor_id(symbol, interval, seconds))
        .then(|| seconds.checked_mul(1000))
        .flatten()
}

/// An eight-digit number that looks like a row id and checks the cursor's other fields.
fn cursor_id(symbol: &str, interval: &str, seconds: i64) -> u64 {
    let check = [
        data::hash_str(symbol),
        data::hash_str(interval),
        seconds as u64,
    ]
    .into_iter()
    .fold(0, |key, part| data::splitmix64(key ^ part));
    10_000_000 + check % 90_000_000
}

/// Funding settlements since listing, newest first, at most `limit`: the newest up to `endTime` (default: now),
/// from `startTime` if also given. `startTime` alone is refused.
fn funding_history(query: &HistoryQuery, market: &Market) -> Result<Reply, Reply> {
    let coin = history_coin(query, market)?;
    let limit = page_size(query.limit.as_deref(), &FUNDING_HISTORY_PAGE, market)?;
    let start_ms = time_parameter("startTime", query.start_time.as_deref(), market)?;
    let end_ms = time_parameter("endTime", query.end_time.as_deref(), market)?;
    if start_ms.is_some() && end_ms.is_none() {
        return Err(params_error(START_WITHOUT_END, market));
    }
    let points = history::funding_points(
        market.seed,
        Venue::Bybit,
        coin,
        start_ms.unwrap_or(i64::MIN),
        end_ms.unwrap_or(i64::MAX),
        market.now_ms,
    );
    let symbol = coin.usdt_symbol();
    let list: Vec<Value> = points
        .last(limit)
        .times()
        .rev()
        .map(|t_ms| {
            let quote = data::quote(market.seed, Venue::Bybit, Listing::Live(coin), t_ms);
            json!({
                "symbol": symbol,
                "fundingRate": quote.funding_rate.trimmed(),
                "fundingRateTimestamp": t_ms.to_string(),
            })
        })
        .collect();
    Ok(ok(json!({ "category": "linear", "list": list }), market))
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
        "launchTime": coin.listed_ms.bybit.to_string(),
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
    use crate::sim::data::Draws;
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
        assert_eq!(
            symbols(&second),
            ["DOGEUSDT", "1000PEPEUSDT", "BNBUSDT", "ADAUSDT"]
        );
        assert_eq!(second["result"]["list"][0]["fundingInterval"], 240);
        assert_eq!(second["result"]["nextPageCursor"], "AVAXUSDT");
        let last = answer(
            "/v5/market/instruments-info",
            &[
                ("category", "linear"),
                ("limit", "4"),
                ("cursor", "AVAXUSDT"),
            ],
        );
        assert_eq!(symbols(&last), ["AVAXUSDT", "LINKUSDT"]);
        assert_eq!(last["result"]["nextPageCursor"], "");
    }

    fn answer_owned(path: &str, query: &[(&str, String)]) -> Value {
        let borrowed: Vec<(&str, &str)> = query
            .iter()
            .map(|(name, value)| (*name, value.as_str()))
            .collect();
        answer(path, &borrowed)
    }

    /// Every multiple of `step_ms` in [from_ms, to_ms], newest first, counted out one by one.
    fn multiples_newest_first(step_ms: i64, from_ms: i64, to_ms: i64) -> Vec<i64> {
        (from_ms.div_euclid(step_ms)..=to_ms.div_euclid(step_ms))
            .rev()
            .map(|slot| slot * step_ms)
            .filter(|t_ms| (from_ms..=to_ms).contains(t_ms))
            .collect()
    }

    fn timestamps(body: &Value, key: &str) -> Vec<i64> {
        body["result"]["list"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|item| item[key].as_str().and_then(|text| text.parse().ok()))
            .collect()
    }

    /// Follows `nextPageCursor` from the first page to the last; the pages' timestamps, concatenated.
    fn walk_open_interest(query: &[(&str, String)]) -> Vec<i64> {
        let mut served = Vec::new();
        let mut cursor = String::new();
        for _page in 0..10_000 {
            let mut page_query = query.to_vec();
            if !cursor.is_empty() {
                page_query.push(("cursor", cursor.clone()));
            }
            let body = answer_owned("/v5/market/open-interest", &page_query);
            assert_eq!(body["retCode"], 0, "{page_query:?}: {body}");
            served.extend(timestamps(&body, "timestamp"));
            cursor = body["result"]["nextPageCursor"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            if cursor.is_empty() {
                return served;
            }
        }
        panic!("no last page for {query:?}");
    }

    #[test]
    fn open_interest_cursor_walks_cover_the_range_newest_first() {
        let mut draws = Draws::new(31);
        let now = MARKET.now_ms;
        for _case in 0..150 {
            let coin = draws.pick(&PERPETUALS);
            let (interval, interval_ms) = *draws.pick(&OPEN_INTEREST_INTERVALS);
            // Daily points since listing are few enough to walk whole; finer ones get a start within days.
            let start = if interval == "1d" && draws.coin_flip() {
                None
            } else {
                Some(now - draws.between(0, 200 * interval_ms))
            };
            let end = draws
                .coin_flip()
                .then(|| now - draws.between(-HOUR_MS, 50 * interval_ms));
            let limit = draws.coin_flip().then(|| draws.between(1, 200));
            let mut query = vec![
                ("category", "linear".to_owned()),
                ("symbol", coin.usdt_symbol()),
                ("intervalTime", interval.to_owned()),
            ];
            for (name, value) in [("startTime", start), ("endTime", end), ("limit", limit)] {
                if let Some(value) = value {
                    query.push((name, value.to_string()));
                }
            }
            let expected = multiples_newest_first(
                interval_ms,
                start.unwrap_or(i64::MIN).max(coin.listed_ms.bybit),
                end.unwrap_or(i64::MAX).min(now),
            );
            assert_eq!(walk_open_interest(&query), expected, "{query:?}");
        }
    }

    #[test]
    fn open_interest_pages_hold_limit_points_and_the_ground_truth() {
        let now = MARKET.now_ms;
        let query = |extra: &[(&str, &str)]| {
            let mut query = vec![
                ("category", "linear"),
                ("symbol", "ETHUSDT"),
                ("intervalTime", "5min"),
            ];
            query.extend_from_slice(extra);
            answer("/v5/market/open-interest", &query)
        };
        let first = query(&[]);
        assert_eq!(first["result"]["list"].as_array().map(Vec::len), Some(50));
        assert_eq!(
            (&first["result"]["symbol"], &first["result"]["category"]),
            (&json!("ETHUSDT"), &json!("linear"))
        );
        let times = timestamps(&first, "timestamp");
        assert_eq!(times[0], now - now % (5 * MINUTE_MS), "the newest first");
        let truth = data::open_interest_history(
            MARKET.seed,
            Venue::Bybit,
            "ETH",
            5 * MINUTE_MS,
            times[49],
            times[0],
            now,
        );
        let served: Vec<(i64, f64, Option<f64>)> = first["result"]["list"]
            .as_array()
            .into_iter()
            .flatten()
            .rev()
            .map(|item| {
                let open_interest = item["openInterest"]
                    .as_str()
                    .and_then(|text| text.parse().ok());
                let timestamp = item["timestamp"]
                    .as_str()
                    .and_then(|text| text.parse().ok());
                (
                    timestamp.unwrap_or_default(),
                    open_interest.unwrap_or(f64::NAN),
                    None,
                )
            })
            .collect();
        assert_eq!(served, truth);

        let cursor = first["result"]["nextPageCursor"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        assert!(
            cursor.starts_with("lastid%3D") && cursor.contains("%26lasttime%3D"),
            "{cursor}"
        );
        let second = query(&[("cursor", &cursor)]);
        let decoded = cursor.replace("%3D", "=").replace("%26", "&");
        assert_eq!(
            query(&[("cursor", &decoded)]),
            second,
            "a percent-decoded cursor works too"
        );
        assert_eq!(
            timestamps(&second, "timestamp")[0],
            times[49] - 5 * MINUTE_MS
        );

        let forged = cursor.replace("lasttime%3D", "lasttime%3D1");
        let other_series = answer(
            "/v5/market/open-interest",
            &[
                ("category", "linear"),
                ("symbol", "ETHUSDT"),
                ("intervalTime", "15min"),
                ("cursor", &cursor),
            ],
        );
        for refused in [
            query(&[("cursor", "garbage")]),
            query(&[("cursor", &forged)]),
            other_series,
        ] {
            assert_eq!(
                (&refused["retCode"], &refused["retMsg"]),
                (&json!(10001), &json!("params error: cursor invalid"))
            );
        }
        for (name, value, message) in [
            ("limit", "0", "params error: limit invalid"),
            ("limit", "201", "params error: limit invalid"),
            ("startTime", "soon", "params error: startTime invalid"),
        ] {
            let refused = query(&[(name, value)]);
            assert_eq!(
                (&refused["retCode"], &refused["retMsg"]),
                (&json!(10001), &json!(message))
            );
        }
        let no_interval = answer(
            "/v5/market/open-interest",
            &[
                ("category", "linear"),
                ("symbol", "ETHUSDT"),
                ("intervalTime", "2h"),
            ],
        );
        assert_eq!(no_interval["retMsg"], "params error: intervalTime invalid");
        let unknown = answer(
            "/v5/market/open-interest",
            &[
                ("category", "linear"),
                ("symbol", "NOPEUSDT"),
                ("intervalTime", "1h"),
            ],
        );
        assert_eq!(unknown["retMsg"], "params error: symbol invalid");
        let inverse = answer(
            "/v5/market/open-interest",
            &[
                ("category", "inverse"),
                ("symbol", "BTCUSD"),
                ("intervalTime", "1h"),
            ],
        );
        assert_eq!(inverse["retMsg"], "params error: symbol invalid");
        // The last page (a range of 3 points, limit 3) ends with an empty cursor.
        let start = (times[2]).to_string();
        let last = query(&[("startTime", &start), ("limit", "3")]);
        assert_eq!(timestamps(&last, "timestamp"), times[..3]);
        assert_eq!(last["result"]["nextPageCursor"], "");
    }

    #[test]
    fn funding_history_pages_by_end_time_newest_first() {
        let mut draws = Draws::new(32);
        let now = MARKET.now_ms;
        for _case in 0..300 {
            let coin = draws.pick(&PERPETUALS);
            let interval_ms = i64::from(coin.funding_interval_hours) * HOUR_MS;
            let end = draws
                .coin_flip()
                .then(|| now - draws.between(-DAY_MS, 400 * DAY_MS));
            let start = end
                .filter(|_| draws.coin_flip())
                .map(|end| end - draws.between(-DAY_MS, 100 * DAY_MS));
            let limit = draws.coin_flip().then(|| draws.between(1, 200));
            let mut query = vec![
                ("category", "linear".to_owned()),
                ("symbol", coin.usdt_symbol()),
            ];
            for (name, value) in [("startTime", start), ("endTime", end), ("limit", limit)] {
                if let Some(value) = value {
                    query.push((name, value.to_string()));
                }
            }
            let body = answer_owned("/v5/market/funding/history", &query);
            assert_eq!(body["retCode"], 0, "{query:?}: {body}");
            let mut expected = multiples_newest_first(
                interval_ms,
                start.unwrap_or(i64::MIN).max(coin.listed_ms.bybit),
                end.unwrap_or(i64::MAX).min(now),
            );
            expected.truncate(limit.unwrap_or(200) as usize);
            let served = timestamps(&body, "fundingRateTimestamp");
            assert_eq!(served, expected, "{query:?}");
            let rates: Vec<f64> = body["result"]["list"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|item| {
                    item["fundingRate"]
                        .as_str()
                        .and_then(|text| text.parse().ok())
                })
                .collect();
            let truth: Vec<f64> = served
                .iter()
                .map(|t_ms| data::funding_rate(MARKET.seed, Venue::Bybit, coin.base, *t_ms))
                .collect();
            assert_eq!(rates, truth);
        }
    }

    #[test]
    fn funding_history_refuses_a_start_without_an_end() {
        let body = answer(
            "/v5/market/funding/history",
            &[
                ("category", "linear"),
                ("symbol", "BTCUSDT"),
                ("startTime", "1700000000000"),
            ],
        );
        assert_eq!(
            (&body["retCode"], &body["retMsg"]),
            (&json!(10001), &json!(START_WITHOUT_END))
        );
        let body = answer(
            "/v5/market/funding/history",
            &[
                ("category", "linear"),
                ("symbol", "BTCUSDT"),
                ("limit", "201"),
            ],
        );
        assert_eq!(body["retMsg"], "params error: limit invalid");
        let body = answer("/v5/market/funding/history", &[("category", "linear")]);
        assert_eq!(body["retMsg"], "params error: symbol invalid");
        let body = answer("/v5/market/funding/history", &[("symbol", "BTCUSDT")]);
        assert_eq!(body["retMsg"], "Illegal category");
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
