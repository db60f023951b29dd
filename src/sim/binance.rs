//! Binance USDⓈ-M futures (`/fapi`): routes, weights, bodies and errors.
//!
//! Errors are HTTP 4xx with `{"code": <negative>, "msg": "..."}`. Every answer carries the weight used in the
//! current minute (`X-MBX-USED-WEIGHT-1M`). Over 2400 weight a minute: 429 with `Retry-After`; more than ten
//! 429s within one minute: 418 and a two-minute IP ban (Binance's shortest). Two groups of endpoints have a
//! request limit of their own on top (see [`REQUEST_LIMITS`]); over one, 429 with `Retry-After` (no ban).
//!
//! Histories (`openInterestHist`, `fundingRate`) page alike: with `startTime`, the earliest `limit` points from
//! it (up to `endTime` if given); without, the latest `limit` points up to `endTime` (default: now). Always
//! ascending, bounds inclusive.

use hyper::Method;
use serde_json::{json, Value};

use crate::model::Venue;
use crate::sim::catalog::{self, Coin, Listing, BINANCE_DATED_FUTURE, PERPETUALS, QUOTE_COIN};
use crate::sim::data::{self, Decimal};
use crate::sim::history::{self, PageLimits, Points, DAY_MS, HOUR_MS, MINUTE_MS};
use crate::sim::http::{Reply, SimRequest};
use crate::sim::limits::{BanPolicy, FixedWindow, RateLimiter, Refusal};
use crate::sim::{limit_group, Market, VenueApi};

const WEIGHT_LIMIT_PER_MINUTE: u64 = 2400;
const TOLERATED_REFUSALS_PER_MINUTE: u32 = 10;
const BAN_MS: i64 = 2 * 60_000;

/// A group of endpoints sharing a limit of `requests` per window, besides their weight.
struct RequestLimit {
    group: &'static str,
    requests: u64,
    window_ms: i64,
    /// The window as Binance's refusal message words it.
    window_words: &'static str,
}

/// `/futures/data/*`: "IP rate limit 1000 requests/5min". `fundingRate`: "share 500/5min/IP rate limit with GET
/// /fapi/v1/fundingInfo".
const REQUEST_LIMITS: [RequestLimit; 2] = [
    RequestLimit {
        group: limit_group::BINANCE_FUTURES_DATA,
        requests: 1000,
        window_ms: 5 * MINUTE_MS,
        window_words: "5 minutes",
    },
    RequestLimit {
        group: limit_group::BINANCE_FUNDING_RATE,
        requests: 500,
        window_ms: 5 * MINUTE_MS,
        window_words: "5 minutes",
    },
];

/// `openInterestHist` periods.
const OPEN_INTEREST_PERIODS: [(&str, i64); 9] = [
    ("5m", 5 * MINUTE_MS),
    ("15m", 15 * MINUTE_MS),
    ("30m", 30 * MINUTE_MS),
    ("1h", HOUR_MS),
    ("2h", 2 * HOUR_MS),
    ("4h", 4 * HOUR_MS),
    ("6h", 6 * HOUR_MS),
    ("12h", 12 * HOUR_MS),
    ("1d", DAY_MS),
];

const OPEN_INTEREST_HISTORY_PAGE: PageLimits = PageLimits {
    default: 30,
    max: 500,
};
const FUNDING_RATE_HISTORY_PAGE: PageLimits = PageLimits {
    default: 100,
    max: 1000,
};

/// Binance prints open-interest statistics with 8 decimals (`"20403.63700000"`).
const STATISTICS_SCALE: u32 = 8;

/// Binance gives perpetuals this delivery date (2100-12-25 08:00 UTC).
const PERPETUAL_DELIVERY_DATE_MS: i64 = 4_133_404_800_000;

pub(crate) struct Binance;

pub(crate) enum Endpoint {
    Ping,
    Time,
    ExchangeInfo,
    /// `symbol` is `None` when missing or empty.
    OpenInterest {
        symbol: Option<String>,
    },
    /// Without a symbol: every perpetual, as an array.
    PremiumIndex {
        symbol: Option<String>,
    },
    FundingInfo,
    /// `/futures/data/openInterestHist`.
    OpenInterestHistory(HistoryQuery),
    /// `/fapi/v1/fundingRate`.
    FundingRateHistory(HistoryQuery),
    Unknown {
        method: Method,
        path: String,
    },
}

/// The parameters of a history request as sent, empty ones as missing (validated when answering, like the venue).
pub(crate) struct HistoryQuery {
    symbol: Option<String>,
    period: Option<String>,
    limit: Option<String>,
    start_time: Option<String>,
    end_time: Option<String>,
}

/// A history request that passed validation.
struct HistoryRange {
    coin: &'static Coin,
    limit: usize,
    start_ms: Option<i64>,
    end_ms: Option<i64>,
}

impl HistoryRange {
    /// Binance's page of `points` (the points in range): the earliest `limit` if the request has a start,
    /// otherwise the latest `limit`.
    fn page(&self, points: Points) -> Points {
        if self.start_ms.is_some() {
            points.first(self.limit)
        } else {
            points.last(self.limit)
        }
    }
}

impl VenueApi for Binance {
    type Endpoint = Endpoint;

    fn rate_limiter(enforcing: bool) -> RateLimiter {
        RateLimiter::new(
            FixedWindow::new(60_000, WEIGHT_LIMIT_PER_MINUTE),
            Some(BanPolicy {
                tolerated_refusals: TOLERATED_REFUSALS_PER_MINUTE,
                ban_ms: BAN_MS,
            }),
            enforcing,
        )
    }

    fn group_rate_limiters(enforcing: bool) -> Vec<(&'static str, RateLimiter)> {
        REQUEST_LIMITS
            .iter()
            .map(|limit| {
                let window = FixedWindow::new(limit.window_ms, limit.requests);
                (limit.group, RateLimiter::new(window, None, enforcing))
            })
            .collect()
    }

    fn route(request: &SimRequest) -> Endpoint {
        let param = |name| {
            request
                .query_param(name)
                .filter(|value| !value.is_empty())
                .map(str::to_owned)
        };
        let symbol = || param("symbol");
        let history_query = || HistoryQuery {
            symbol: symbol(),
            period: param("period"),
            limit: param("limit"),
            start_time: param("startTime"),
            end_time: param("endTime"),
        };
        let unknown = || Endpoint::Unknown {
            method: request.method.clone(),
            path: request.path.clone(),
        };
        if request.method != Method::GET {
            return unknown();
        }
        match request.path.as_str() {
            "/fapi/v1/ping" => Endpoint::Ping,
            "/fapi/v1/time" => Endpoint::Time,
            "/fapi/v1/exchangeInfo" => Endpoint::ExchangeInfo,
            "/fapi/v1/openInterest" => Endpoint::OpenInterest { symbol: symbol() },
            "/fapi/v1/premiumIndex" => Endpoint::PremiumIndex { symbol: symbol() },
            "/fapi/v1/fundingInfo" => Endpoint::FundingInfo,
            "/futures/data/openInterestHist" => Endpoint::OpenInterestHistory(history_query()),
            "/fapi/v1/fundingRate" => Endpoint::FundingRateHistory(history_query()),
            _ => unknown(),
        }
    }

    fn weight(endpoint: &Endpoint, _market: &Market) -> u64 {
        match endpoint {
            Endpoint::PremiumIndex { symbol: None } => 10,
            _ => 1,
        }
    }

    fn limit_group(endpoint: &Endpoint) -> Option<&'static str> {
        match endpoint {
            Endpoint::OpenInterestHistory(_) => Some(limit_group::BINANCE_FUTURES_DATA),
            Endpoint::FundingRateHistory(_) | Endpoint::FundingInfo => {
                Some(limit_group::BINANCE_FUNDING_RATE)
            }
            _ => None,
        }
    }

    fn respond(endpoint: Endpoint, market: &Market) -> Reply {
        match endpoint {
            Endpoint::Ping => Reply::json(200, &json!({})),
            Endpoint::Time => Reply::json(200, &json!({ "serverTime": market.now_ms })),
            Endpoint::ExchangeInfo => Reply::json(200, &exchange_info(market)),
            Endpoint::OpenInterest { symbol: None } => missing_symbol(),
            Endpoint::OpenInterest {
                symbol: Some(symbol),
            } => match catalog::coin_by_usdt_symbol(&symbol) {
                Some(coin) => Reply::json(200, &open_interest(coin, market)),
                None => invalid_symbol(),
            },
            Endpoint::PremiumIndex { symbol: None } => Reply::json(
                200,
                &PERPETUALS
                    .iter()
                    .map(|coin| premium_index(coin, market))
                    .collect::<Value>(),
            ),
            Endpoint::PremiumIndex {
                symbol: Some(symbol),
            } => match catalog::coin_by_usdt_symbol(&symbol) {
                Some(coin) => Reply::json(200, &premium_index(coin, market)),
                None => invalid_symbol(),
            },
            Endpoint::FundingInfo => Reply::json(200, &funding_info()),
            Endpoint::OpenInterestHistory(query) => {
                open_interest_history(&query, market).unwrap_or_else(|rejection| rejection)
            }
            Endpoint::FundingRateHistory(query) => {
                funding_rate_history(&query, market).unwrap_or_else(|rejection| rejection)
            }
            Endpoint::Unknown { method, path } => error(
                404,
                -5000,
                &format!("Path {path}, Method {method} is invalid"),
            ),
        }
    }

    fn refuse(refusal: Refusal, group: &'static str) -> Reply {
        let (limit, window) = REQUEST_LIMITS
            .iter()
            .find(|limit| limit.group == group)
            .map_or((WEIGHT_LIMIT_PER_MINUTE, "minute"), |limit| {
                (limit.requests, limit.window_words)
            });
        match refusal {
            Refusal::Throttled { retry_after_secs } => error(
                429,
                -1003,
                &format!(
                    "Too many requests; current limit of IP is {limit} requests per {window}. \
                     Please use the websocket for live updates to avoid bans."
                ),
            )
            .header("Retry-After", retry_after_secs),
            Refusal::Banned {
                until_ms,
                retry_after_secs,
            } => error(
                418,
                -1003,
                &format!(
                    "Way too many requests; IP banned until {until_ms}. \
                     Please use the websocket for live updates to avoid bans."
                ),
            )
            .header("Retry-After", retry_after_secs),
        }
    }

    fn report_usage(reply: Reply, used_weight: u64) -> Reply {
        reply.header("X-MBX-USED-WEIGHT-1M", used_weight)
    }
}

fn error(status: u16, code: i64, msg: &str) -> Reply {
    Reply::json(status, &json!({ "code": code, "msg": msg }))
}

fn invalid_symbol() -> Reply {
    error(400, -1121, "Invalid symbol.")
}

fn missing_symbol() -> Reply {
    missing_parameter("symbol")
}

fn missing_parameter(name: &str) -> Reply {
    error(
        400,
        -1102,
        &format!("Mandatory parameter '{name}' was not sent, was empty/null, or malformed."),
    )
}

fn invalid_parameter(name: &str) -> Reply {
    error(
        400,
        -1130,
        &format!("Data sent for parameter '{name}' is not valid."),
    )
}

/// A non-negative integer parameter, `None` if not sent; anything but 1–20 digits is -1100, as Binance checks.
fn integer_parameter(name: &str, raw: Option<&str>) -> Result<Option<i64>, Reply> {
    let Some(text) = raw else {
        return Ok(None);
    };
    if text.is_empty() || text.len() > 20 || !text.bytes().all(|byte| byte.is_ascii_digit()) {
        return Err(error(
            400,
            -1100,
            &format!(
                "Illegal characters found in parameter '{name}'; legal range is '^[0-9]{{1,20}}$'."
            ),
        ));
    }
    // Twenty digits can exceed an i64.
    text.parse().map(Some).map_err(|_| invalid_parameter(name))
}

/// Checks a history request's symbol, limit and time bounds.
fn history_range(query: &HistoryQuery, page_limits: &PageLimits) -> Result<HistoryRange, Reply> {
    let symbol = query.symbol.as_deref().ok_or_else(missing_symbol)?;
    let limit = page_limits
        .size(integer_parameter("limit", query.limit.as_deref())?)
        .ok_or_else(|| invalid_parameter("limit"))?;
    let start_ms = integer_parameter("startTime", query.start_time.as_deref())?;
    let end_ms = integer_parameter("endTime", query.end_time.as_deref())?;
    let coin = catalog::coin_by_usdt_symbol(symbol).ok_or_else(invalid_symbol)?;
    Ok(HistoryRange {
        coin,
        limit,
        start_ms,
        end_ms,
    })
}

/// How far back `openInterestHist` serves (and accepts a `startTime`).
const OPEN_INTEREST_WINDOW_MS: i64 = 30 * DAY_MS;

/// Open-interest statistics every `period`, of the last 30 days only; an older `startTime` is refused (-1130).
fn open_interest_history(query: &HistoryQuery, market: &Market) -> Result<Reply, Reply> {
    let period = query
        .period
        .as_deref()
        .ok_or_else(|| missing_parameter("period"))?;
    let period_ms = OPEN_INTEREST_PERIODS
        .iter()
        .find(|(name, _)| *name == period)
        .map(|(_, period_ms)| *period_ms)
        .ok_or_else(|| error(400, -1120, "Invalid interval."))?;
    let range = history_range(query, &OPEN_INTEREST_HISTORY_PAGE)?;
    // Binance refuses a start before its 30-day window (ccxt#23712: "invalid startTime"), by its own clock.
    if range
        .start_ms
        .is_some_and(|start| start < market.now_ms - OPEN_INTEREST_WINDOW_MS)
    {
        return Err(invalid_parameter("startTime"));
    }
    let points = history::open_interest_points(
        Venue::Binance,
        range.coin,
        period_ms,
        range.start_ms.unwrap_or(i64::MIN),
        range.end_ms.unwrap_or(i64::MAX),
        market.now_ms,
    );
    let symbol = range.coin.usdt_symbol();
    let statistics: Vec<Value> = range
        .page(points)
        .times()
        .map(|t_ms| {
            let statistic =
                data::open_interest_statistic(market.seed, Venue::Binance, range.coin, t_ms);
            json!({
                "symbol": symbol,
                "sumOpenInterest": statistic.open_interest.padded(STATISTICS_SCALE).fixed(),
                "sumOpenInterestValue": statistic.value.fixed(),
                // A number, as live answers carry it; the docs example (and the fixture copied from it) shows a
                // string.
                "timestamp": t_ms,
            })
        })
        .collect();
    Ok(Reply::json(200, &Value::Array(statistics)))
}

/// Funding settlements since listing, with the rate settled and the mark price at that time. The symbol is
/// required here (without one Binance answers every symbol's latest settlements, which is not simulated).
fn funding_rate_history(query: &HistoryQuery, market: &Market) -> Result<Reply, Reply> {
    let range = history_range(query, &FUNDING_RATE_HISTORY_PAGE)?;
    let points = history::funding_points(
        market.seed,
        Venue::Binance,
        range.coin,
        range.start_ms.unwrap_or(i64::MIN),
        range.end_ms.unwrap_or(i64::MAX),
        market.now_ms,
    );
    let symbol = range.coin.usdt_symbol();
    let settlements: Vec<Value> = range
        .page(points)
        .times()
        .map(|t_ms| {
            let quote = data::quote(market.seed, Venue::Binance, Listing::Live(range.coin), t_ms);
            json!({
                "symbol": symbol,
                "fundingRate": quote.funding_rate.fixed(),
                "fundingTime": t_ms,
                "markPrice": quote.mark.fixed(),
            })
        })
        .collect();
    Ok(Reply::json(200, &Value::Array(settlements)))
}

fn quote(coin: &'static Coin, market: &Market) -> data::Quote {
    data::quote(
        market.seed,
        Venue::Binance,
        Listing::Live(coin),
        market.now_ms,
    )
}

fn open_interest(coin: &'static Coin, market: &Market) -> Value {
    json!({
        "openInterest": quote(coin, market).open_interest.fixed(),
        "symbol": coin.usdt_symbol(),
        "time": market.now_ms,
    })
}

fn premium_index(coin: &'static Coin, market: &Market) -> Value {
    let quote = quote(coin, market);
    // Binance's interest component is 0.01 % per 8 hours, pro rata for shorter intervals.
    let interest_rate = Decimal::round(0.0001 * f64::from(coin.funding_interval_hours) / 8.0, 8);
    json!({
        "symbol": coin.usdt_symbol(),
        "markPrice": quote.mark.fixed(),
        "indexPrice": quote.index.fixed(),
        "estimatedSettlePrice": quote.index.fixed(),
        "lastFundingRate": quote.funding_rate.fixed(),
        "nextFundingTime": data::next_funding_time_ms(coin.funding_interval_hours, market.now_ms),
        "interestRate": interest_rate.fixed(),
        "time": market.now_ms,
    })
}

/// Like the venue, only symbols whose funding interval or caps were adjusted from the defaults are listed.
fn funding_info() -> Value {
    PERPETUALS
        .iter()
        .filter(|coin| coin.funding_interval_hours != catalog::DEFAULT_FUNDING_INTERVAL_HOURS)
        .map(|coin| {
            json!({
                "symbol": coin.usdt_symbol(),
                "adjustedFundingRateCap": Decimal::round(coin.funding_rate_cap, 8).fixed(),
                "adjustedFundingRateFloor": Decimal::round(-coin.funding_rate_cap, 8).fixed(),
                "fundingIntervalHours": coin.funding_interval_hours,
                "disclaimer": false,
            })
        })
        .collect()
}

fn exchange_info(market: &Market) -> Value {
    let perpetuals = PERPETUALS.iter().map(|coin| {
        let symbol = coin.usdt_symbol();
        let contract = Contract {
            symbol: &symbol,
            contract_type: "PERPETUAL",
            onboard_date_ms: coin.listed_ms.binance,
            delivery_date_ms: PERPETUAL_DELIVERY_DATE_MS,
        };
        symbol_info(&contract, coin)
    });
    let dated = BINANCE_DATED_FUTURE.underlying().map(|coin| {
        let contract = Contract {
            symbol: BINANCE_DATED_FUTURE.symbol,
            contract_type: BINANCE_DATED_FUTURE.contract_type,
            onboard_date_ms: BINANCE_DATED_FUTURE.onboard_time_ms,
            delivery_date_ms: BINANCE_DATED_FUTURE.delivery_time_ms,
        };
        symbol_info(&contract, coin)
    });
    // Multi-assets margin: the quote coin plus the majors, with Binance's auto-exchange thresholds.
    let assets = ["USDT", "BTC", "ETH"].map(|asset| {
        json!({
            "asset": asset,
            "marginAvailable": true,
            "autoAssetExchange": if asset == QUOTE_COIN { "-10000" } else { "0" },
        })
    });
    json!({
        "timezone": "UTC",
        "serverTime": market.now_ms,
        "futuresType": "U_MARGINED",
        "rateLimits": [
            { "rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": WEIGHT_LIMIT_PER_MINUTE },
            { "rateLimitType": "ORDERS", "interval": "MINUTE", "intervalNum": 1, "limit": 1200 },
            { "rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 300 },
        ],
        "exchangeFilters": [],
        "assets": assets,
        "symbols": perpetuals.chain(dated).collect::<Vec<_>>(),
    })
}

/// What distinguishes one contract on a coin from another in `exchangeInfo`.
struct Contract<'a> {
    symbol: &'a str,
    contract_type: &'a str,
    onboard_date_ms: i64,
    delivery_date_ms: i64,
}

fn symbol_info(contract: &Contract<'_>, coin: &Coin) -> Value {
    let price = |value: f64| Decimal::round(value, coin.price_scale).fixed();
    let quantity = |value: f64| Decimal::round(value, coin.quantity_scale).fixed();
    let quantity_step = 10f64.powi(-(coin.quantity_scale as i32));
    // About 50 M USDT per order, as Binance sizes its largest lots.
    let max_quantity = (50_000_000.0 / coin.reference_price).round();
    json!({
        "symbol": contract.symbol,
        "pair": coin.usdt_symbol(),
        "contractType": contract.contract_type,
        "deliveryDate": contract.delivery_date_ms,
        "onboardDate": contract.onboard_date_ms,
        "status": "TRADING",
        "maintMarginPercent": "2.5000",
        "requiredMarginPercent": "5.0000",
        "baseAsset": coin.base,
        "quoteAsset": QUOTE_COIN,
        "marginAsset": QUOTE_COIN,
        "pricePrecision": coin.price_scale,
        "quantityPrecision": coin.quantity_scale,
        "baseAssetPrecision": 8,
        "quotePrecision": 8,
        "underlyingType": "COIN",
        "underlyingSubType": [],
        "settlePlan": 0,
        "triggerProtect": "0.0500",
        "liquidationFee": "0.012500",
        "marketTakeBound": "0.05",
        "filters": [
            {
                "minPrice": price(coin.tick_size),
                "maxPrice": price(coin.reference_price * 50.0),
                "filterType": "PRICE_FILTER",
                "tickSize": price(coin.tick_size),
            },
            { "stepSize": quantity(quantity_step), "filterType": "LOT_SIZE", "maxQty": quantity(max_quantity), "minQty": quantity(quantity_step) },
            { "stepSize": quantity(quantity_step), "filterType": "MARKET_LOT_SIZE", "maxQty": quantity(max_quantity / 10.0), "minQty": quantity(quantity_step) },
            { "limit": 200, "filterType": "MAX_NUM_ORDERS" },
            { "limit": 10, "filterType": "MAX_NUM_ALGO_ORDERS" },
            { "notional": "5", "filterType": "MIN_NOTIONAL" },
            { "multiplierDown": "0.9500", "multiplierUp": "1.0500", "multiplierDecimal": "4", "filterType": "PERCENT_PRICE" },
        ],
        "orderTypes": ["LIMIT", "MARKET", "STOP", "STOP_MARKET", "TAKE_PROFIT", "TAKE_PROFIT_MARKET", "TRAILING_STOP_MARKET"],
        "timeInForce": ["GTC", "IOC", "FOK", "GTX"],
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::data::Draws;
    use bytes::Bytes;

    const MARKET: Market = Market {
        seed: 11,
        now_ms: 1_767_225_601_234,
    };

    fn get(path: &str, query: &[(&str, &str)]) -> SimRequest {
        SimRequest {
            method: Method::GET,
            path: path.to_owned(),
            query: query
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            body: Bytes::new(),
        }
    }

    fn answer(request: SimRequest) -> (u16, Value) {
        let reply = Binance::respond(Binance::route(&request), &MARKET);
        (
            reply.status,
            serde_json::from_slice(&reply.body).unwrap_or(Value::Null),
        )
    }

    #[test]
    fn premium_index_without_symbol_costs_ten_and_lists_every_perpetual() {
        let request = get("/fapi/v1/premiumIndex", &[]);
        assert_eq!(Binance::weight(&Binance::route(&request), &MARKET), 10);
        let (status, body) = answer(request);
        assert_eq!(status, 200);
        assert_eq!(body.as_array().map(Vec::len), Some(PERPETUALS.len()));
        assert_eq!(
            Binance::weight(
                &Binance::route(&get("/fapi/v1/premiumIndex", &[("symbol", "BTCUSDT")])),
                &MARKET
            ),
            1
        );
    }

    #[test]
    fn symbol_errors_use_binance_codes() {
        let (status, body) = answer(get("/fapi/v1/openInterest", &[]));
        assert_eq!((status, body["code"].as_i64()), (400, Some(-1102)));
        let (status, body) = answer(get("/fapi/v1/openInterest", &[("symbol", "")]));
        assert_eq!((status, body["code"].as_i64()), (400, Some(-1102)));
        let (status, body) = answer(get(
            "/fapi/v1/openInterest",
            &[("symbol", "BTCUSDT_261225")],
        ));
        assert_eq!(
            (status, body),
            (400, json!({"code": -1121, "msg": "Invalid symbol."}))
        );
    }

    #[test]
    fn wrong_method_or_path_is_minus_5000() {
        let mut post = get("/fapi/v1/ping", &[]);
        post.method = Method::POST;
        let (status, body) = answer(post);
        assert_eq!(
            (status, body["msg"].as_str()),
            (404, Some("Path /fapi/v1/ping, Method POST is invalid"))
        );
    }

    #[test]
    fn funding_info_lists_only_adjusted_symbols() {
        assert_eq!(
            funding_info(),
            json!([{
                "symbol": "DOGEUSDT",
                "adjustedFundingRateCap": "0.02000000",
                "adjustedFundingRateFloor": "-0.02000000",
                "fundingIntervalHours": 4,
                "disclaimer": false,
            }])
        );
    }

    #[test]
    fn exchange_info_lists_the_dated_future_after_the_perpetuals() {
        let info = exchange_info(&MARKET);
        let symbols = info["symbols"].as_array().cloned().unwrap_or_default();
        assert_eq!(symbols.len(), PERPETUALS.len() + 1);
        assert_eq!(symbols[PERPETUALS.len()]["contractType"], "CURRENT_QUARTER");
        assert_eq!(symbols[0]["filters"][0]["tickSize"], "0.10");
        assert_eq!(symbols[0]["filters"][1]["stepSize"], "0.001");
    }

    fn get_owned(path: &str, query: &[(&str, String)]) -> SimRequest {
        let borrowed: Vec<(&str, &str)> = query
            .iter()
            .map(|(name, value)| (*name, value.as_str()))
            .collect();
        get(path, &borrowed)
    }

    /// Every multiple of `step_ms` in [from_ms, to_ms], counted out one by one.
    fn multiples(step_ms: i64, from_ms: i64, to_ms: i64) -> Vec<i64> {
        (from_ms.div_euclid(step_ms)..=to_ms.div_euclid(step_ms))
            .map(|slot| slot * step_ms)
            .filter(|t_ms| (from_ms..=to_ms).contains(t_ms))
            .collect()
    }

    /// Binance's selection: the earliest `limit` with a start, the latest `limit` without.
    fn select(all: Vec<i64>, has_start: bool, limit: usize) -> Vec<i64> {
        let take = limit.min(all.len());
        if has_start {
            all[..take].to_vec()
        } else {
            all[all.len() - take..].to_vec()
        }
    }

    /// Random bounds around the 30-day window (and a few far outside it), each present or not.
    fn random_bounds(draws: &mut Draws) -> (Option<i64>, Option<i64>) {
        let now = MARKET.now_ms;
        let start = draws
            .coin_flip()
            .then(|| now - draws.between(-DAY_MS, 45 * DAY_MS));
        let end = draws
            .coin_flip()
            .then(|| now - draws.between(-DAY_MS, 40 * DAY_MS));
        (start, end)
    }

    fn with_bounds(
        mut query: Vec<(&'static str, String)>,
        start: Option<i64>,
        end: Option<i64>,
        limit: Option<i64>,
    ) -> Vec<(&'static str, String)> {
        for (name, value) in [("startTime", start), ("endTime", end), ("limit", limit)] {
            if let Some(value) = value {
                query.push((name, value.to_string()));
            }
        }
        query
    }

    fn decimal(value: &Value) -> f64 {
        value
            .as_str()
            .and_then(|text| text.parse().ok())
            .unwrap_or(f64::NAN)
    }

    #[test]
    fn open_interest_statistics_are_the_ground_truth_paged_as_binance_does() {
        let mut draws = Draws::new(21);
        let now = MARKET.now_ms;
        for _case in 0..300 {
            let coin = draws.pick(&PERPETUALS);
            let (period, period_ms) = *draws.pick(&OPEN_INTEREST_PERIODS);
            let (start, end) = random_bounds(&mut draws);
            let limit = draws.coin_flip().then(|| draws.between(1, 500));
            let query = with_bounds(
                vec![
                    ("symbol", coin.usdt_symbol()),
                    ("period", period.to_owned()),
                ],
                start,
                end,
                limit,
            );
            let (status, body) = answer(get_owned("/futures/data/openInterestHist", &query));
            if start.is_some_and(|start| start < now - 30 * DAY_MS) {
                assert_eq!(
                    (status, body["code"].as_i64()),
                    (400, Some(-1130)),
                    "{query:?}"
                );
                assert_eq!(
                    body["msg"],
                    "Data sent for parameter 'startTime' is not valid."
                );
                continue;
            }
            assert_eq!(status, 200, "{query:?}: {body}");
            let from = start.unwrap_or(i64::MIN).max(now - 30 * DAY_MS);
            let to = end.unwrap_or(i64::MAX).min(now);
            let expected = select(
                multiples(period_ms, from, to),
                start.is_some(),
                limit.unwrap_or(30) as usize,
            );
            let rows = body.as_array().cloned().unwrap_or_default();
            let served: Vec<i64> = rows
                .iter()
                .filter_map(|row| row["timestamp"].as_i64())
                .collect();
            assert_eq!(served, expected, "{query:?}");
            for row in &rows {
                let t_ms = row["timestamp"].as_i64().unwrap_or_default();
                let truth = data::open_interest_history(
                    MARKET.seed,
                    Venue::Binance,
                    coin.base,
                    period_ms,
                    t_ms,
                    t_ms,
                    now,
                );
                let served = (
                    t_ms,
                    decimal(&row["sumOpenInterest"]),
                    Some(decimal(&row["sumOpenInterestValue"])),
                );
                assert_eq!(vec![served], truth);
                assert_eq!(row["symbol"], coin.usdt_symbol());
            }
        }
    }

    #[test]
    fn funding_rates_are_the_ground_truth_paged_as_binance_does() {
        let mut draws = Draws::new(22);
        let now = MARKET.now_ms;
        for case in 0..300 {
            let coin = draws.pick(&PERPETUALS);
            let interval_ms = i64::from(coin.funding_interval_hours) * HOUR_MS;
            // Now and then a range reaching back past the listing.
            let (start, end) = if case % 10 == 0 {
                let listed = coin.listed_ms.binance;
                (Some(listed - draws.between(0, 9 * DAY_MS)), None)
            } else {
                random_bounds(&mut draws)
            };
            let limit = draws.coin_flip().then(|| draws.between(1, 1000));
            let query = with_bounds(vec![("symbol", coin.usdt_symbol())], start, end, limit);
            let (status, body) = answer(get_owned("/fapi/v1/fundingRate", &query));
            assert_eq!(status, 200, "{query:?}: {body}");
            let from = start.unwrap_or(i64::MIN).max(coin.listed_ms.binance);
            let to = end.unwrap_or(i64::MAX).min(now);
            let expected = select(
                multiples(interval_ms, from, to),
                start.is_some(),
                limit.unwrap_or(100) as usize,
            );
            let rows = body.as_array().cloned().unwrap_or_default();
            let served: Vec<(i64, f64, Option<f64>)> = rows
                .iter()
                .map(|row| {
                    (
                        row["fundingTime"].as_i64().unwrap_or_default(),
                        decimal(&row["fundingRate"]),
                        Some(decimal(&row["markPrice"])),
                    )
                })
                .collect();
            let times: Vec<i64> = served.iter().map(|(t_ms, _, _)| *t_ms).collect();
            assert_eq!(times, expected, "{query:?}");
            if let (Some(first), Some(last)) = (times.first(), times.last()) {
                let truth = data::funding_history(
                    MARKET.seed,
                    Venue::Binance,
                    coin.base,
                    *first,
                    *last,
                    now,
                );
                assert_eq!(served, truth);
            }
        }
    }

    #[test]
    fn history_parameters_are_checked_with_binance_codes() {
        let hist = |extra: &[(&str, &str)]| {
            let mut query = vec![("symbol", "BTCUSDT"), ("period", "1h")];
            query.extend_from_slice(extra);
            answer(get("/futures/data/openInterestHist", &query))
        };
        assert_eq!(hist(&[]).0, 200);
        assert_eq!(hist(&[("limit", "500")]).0, 200);
        let (status, body) = answer(get(
            "/futures/data/openInterestHist",
            &[("symbol", "BTCUSDT"), ("period", "3m")],
        ));
        assert_eq!(
            (status, body),
            (400, json!({"code": -1120, "msg": "Invalid interval."}))
        );
        for limit in ["501", "0"] {
            assert_eq!(
                hist(&[("limit", limit)]),
                (
                    400,
                    json!({"code": -1130, "msg": "Data sent for parameter 'limit' is not valid."})
                ),
                "{limit}"
            );
        }
        for (name, value) in [
            ("limit", "-1"),
            ("startTime", "yesterday"),
            ("endTime", "1.5"),
        ] {
            let (status, body) = hist(&[(name, value)]);
            assert_eq!(
                (status, body["code"].as_i64()),
                (400, Some(-1100)),
                "{name}={value}"
            );
        }
        let (status, body) = answer(get(
            "/futures/data/openInterestHist",
            &[("symbol", "BTCUSDT")],
        ));
        assert_eq!(
            (status, body["msg"].as_str()),
            (
                400,
                Some("Mandatory parameter 'period' was not sent, was empty/null, or malformed.")
            )
        );
        let (status, body) = answer(get("/futures/data/openInterestHist", &[("period", "1h")]));
        assert_eq!((status, body["code"].as_i64()), (400, Some(-1102)));
        let (status, body) = answer(get(
            "/futures/data/openInterestHist",
            &[("symbol", "BTCUSDT_261225"), ("period", "1h")],
        ));
        assert_eq!((status, body["code"].as_i64()), (400, Some(-1121)));

        let funding = |limit: &str| {
            answer(get(
                "/fapi/v1/fundingRate",
                &[("symbol", "DOGEUSDT"), ("limit", limit)],
            ))
        };
        assert_eq!(funding("1000").1.as_array().map(Vec::len), Some(1000));
        assert_eq!(funding("1001").1["code"], -1130);
        let (status, body) = answer(get("/fapi/v1/fundingRate", &[]));
        assert_eq!((status, body["code"].as_i64()), (400, Some(-1102)));
        // Start after end: nothing in range.
        let (status, body) = answer(get(
            "/fapi/v1/fundingRate",
            &[
                ("symbol", "BTCUSDT"),
                ("startTime", "1700000000000"),
                ("endTime", "1600000000000"),
            ],
        ));
        assert_eq!((status, body), (200, json!([])));
    }

    #[test]
    fn history_endpoints_count_toward_their_request_limits() {
        let group_of = |path: &str| Binance::limit_group(&Binance::route(&get(path, &[])));
        assert_eq!(
            group_of("/futures/data/openInterestHist"),
            Some(limit_group::BINANCE_FUTURES_DATA)
        );
        assert_eq!(
            group_of("/fapi/v1/fundingRate"),
            Some(limit_group::BINANCE_FUNDING_RATE)
        );
        assert_eq!(
            group_of("/fapi/v1/fundingInfo"),
            Some(limit_group::BINANCE_FUNDING_RATE)
        );
        assert_eq!(group_of("/fapi/v1/premiumIndex"), None);
        let groups: Vec<(&str, u64)> = Binance::group_rate_limiters(true)
            .iter()
            .map(|(name, limiter)| (*name, limiter.window().limit()))
            .collect();
        assert_eq!(
            groups,
            [
                (limit_group::BINANCE_FUTURES_DATA, 1000),
                (limit_group::BINANCE_FUNDING_RATE, 500)
            ]
        );
        let throttled = Binance::refuse(
            Refusal::Throttled {
                retry_after_secs: 99,
            },
            limit_group::BINANCE_FUTURES_DATA,
        );
        let body: Value = serde_json::from_slice(&throttled.body).unwrap_or(Value::Null);
        assert_eq!(throttled.status, 429);
        assert!(throttled
            .headers
            .contains(&("Retry-After", "99".to_owned())));
        assert_eq!(body["code"], -1003);
        assert_eq!(body["msg"], "Too many requests; current limit of IP is 1000 requests per 5 minutes. Please use the websocket for live updates to avoid bans.");
    }

    #[test]
    fn refusals_carry_retry_after_and_usage_is_reported() {
        let throttled = Binance::refuse(
            Refusal::Throttled {
                retry_after_secs: 7,
            },
            limit_group::MAIN,
        );
        let body: Value = serde_json::from_slice(&throttled.body).unwrap_or(Value::Null);
        assert_eq!(throttled.status, 429);
        assert!(throttled.headers.contains(&("Retry-After", "7".to_owned())));
        assert_eq!(body["msg"], "Too many requests; current limit of IP is 2400 requests per minute. Please use the websocket for live updates to avoid bans.");
        let banned = Binance::refuse(
            Refusal::Banned {
                until_ms: 1_544_570_770_441,
                retry_after_secs: 120,
            },
            limit_group::MAIN,
        );
        let body: Value = serde_json::from_slice(&banned.body).unwrap_or(Value::Null);
        assert_eq!(banned.status, 418);
        assert_eq!(body["msg"], "Way too many requests; IP banned until 1544570770441. Please use the websocket for live updates to avoid bans.");
        let reported = Binance::report_usage(Reply::json(200, &json!({})), 42);
        assert_eq!(
            reported.headers,
            vec![("X-MBX-USED-WEIGHT-1M", "42".to_owned())]
        );
    }
}
