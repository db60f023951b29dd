//! Binance USDⓈ-M futures (`/fapi`): routes, weights, bodies and errors.
//!
//! Errors are HTTP 4xx with `{"code": <negative>, "msg": "..."}`. Every answer carries the weight used in the
//! current minute (`X-MBX-USED-WEIGHT-1M`). Over 2400 weight a minute: 429 with `Retry-After`; more than ten
//! 429s within one minute: 418 and a two-minute IP ban (Binance's shortest).

use hyper::Method;
use serde_json::{json, Value};

use crate::model::Venue;
use crate::sim::catalog::{self, Coin, Listing, BINANCE_DATED_FUTURE, PERPETUALS, QUOTE_COIN};
use crate::sim::data::{self, Decimal};
use crate::sim::http::{Reply, SimRequest};
use crate::sim::limits::{BanPolicy, FixedWindow, RateLimiter, Refusal};
use crate::sim::{Market, VenueApi};

const WEIGHT_LIMIT_PER_MINUTE: u64 = 2400;
const TOLERATED_REFUSALS_PER_MINUTE: u32 = 10;
const BAN_MS: i64 = 2 * 60_000;
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
    Unknown {
        method: Method,
        path: String,
    },
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

    fn route(request: &SimRequest) -> Endpoint {
        let symbol = || {
            request
                .query_param("symbol")
                .filter(|symbol| !symbol.is_empty())
                .map(str::to_owned)
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
            _ => unknown(),
        }
    }

    fn weight(endpoint: &Endpoint) -> u64 {
        match endpoint {
            Endpoint::PremiumIndex { symbol: None } => 10,
            _ => 1,
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
            Endpoint::Unknown { method, path } => error(
                404,
                -5000,
                &format!("Path {path}, Method {method} is invalid"),
            ),
        }
    }

    fn refuse(refusal: Refusal) -> Reply {
        match refusal {
            Refusal::Throttled { retry_after_secs } => error(
                429,
                -1003,
                &format!(
                    "Too many requests; current limit of IP is {WEIGHT_LIMIT_PER_MINUTE} requests per minute. \
                     Please use the websocket for live updates to avoid bans."
                ),
            )
            .header("Retry-After", retry_after_secs),
            Refusal::Banned { until_ms, retry_after_secs } => error(
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
    error(
        400,
        -1102,
        "Mandatory parameter 'symbol' was not sent, was empty/null, or malformed.",
    )
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
            onboard_date_ms: coin.launch_time_ms,
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
        assert_eq!(Binance::weight(&Binance::route(&request)), 10);
        let (status, body) = answer(request);
        assert_eq!(status, 200);
        assert_eq!(body.as_array().map(Vec::len), Some(PERPETUALS.len()));
        assert_eq!(
            Binance::weight(&Binance::route(&get(
                "/fapi/v1/premiumIndex",
                &[("symbol", "BTCUSDT")]
            ))),
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

    #[test]
    fn refusals_carry_retry_after_and_usage_is_reported() {
        let throttled = Binance::refuse(Refusal::Throttled {
            retry_after_secs: 7,
        });
        assert_eq!(throttled.status, 429);
        assert!(throttled.headers.contains(&("Retry-After", "7".to_owned())));
        let banned = Binance::refuse(Refusal::Banned {
            until_ms: 1_544_570_770_441,
            retry_after_secs: 120,
        });
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
