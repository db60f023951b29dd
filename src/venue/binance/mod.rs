//! Binance USDⓈ-M futures (`https://fapi.binance.com`): request builders and parsers.
//!
//! Errors are `{"code": <negative int>, "msg": "..."}`, usually with HTTP 4xx but occasionally with 200, so
//! parsers recognise that body before complaining about a shape mismatch.

pub mod spec;
pub mod stream;

use std::collections::HashMap;

use serde::Deserialize;

use crate::model::time::venue_ms_to_ns;
use crate::model::{FundingRate, InstrumentRef, OpenInterest, PipelineError, Result, Venue};
use crate::venue::lenient::{LooseF64, LooseI64};
use crate::venue::paging::ForwardPager;
use crate::venue::{check_symbol, Method, OiPeriod, Request};

pub(crate) const VENUE: Venue = Venue::Binance;
/// Funding interval of every symbol that `fundingInfo` does not list.
pub const DEFAULT_FUNDING_INTERVAL_MINUTES: u16 = 8 * 60;
/// Documented request-weight limit per minute for USDⓈ-M market data (per IP).
pub const WEIGHT_PER_MINUTE: u32 = 2400;

fn get(
    path: &'static str,
    query: Vec<(&'static str, String)>,
    weight: u32,
    what: &'static str,
) -> Request {
    Request {
        venue: VENUE,
        method: Method::Get,
        path,
        query,
        body: None,
        weight,
        what,
        limit_group: None,
    }
}

pub fn exchange_info_request() -> Request {
    get("/fapi/v1/exchangeInfo", vec![], 1, "instrument list")
}

pub fn open_interest_request(native: &str) -> Request {
    get(
        "/fapi/v1/openInterest",
        vec![("symbol", native.to_string())],
        1,
        "open interest",
    )
}

pub fn premium_index_request(native: &str) -> Request {
    get(
        "/fapi/v1/premiumIndex",
        vec![("symbol", native.to_string())],
        1,
        "funding rate",
    )
}

/// Every symbol's premium index (mark price) in one answer.
pub fn all_premium_index_request() -> Request {
    get("/fapi/v1/premiumIndex", vec![], 10, "mark prices")
}

/// `(symbol, mark price)` of every row of a `premiumIndex` answer without `symbol`.
pub fn parse_mark_prices(body: &[u8]) -> Result<Vec<(String, f64)>> {
    let rows: Vec<PremiumIndex> = decode(body, "mark prices")?;
    Ok(rows
        .into_iter()
        .filter_map(|r| Some((r.symbol.to_string(), r.mark_price.0?)))
        .collect())
}

pub fn funding_info_request() -> Request {
    Request {
        limit_group: Some(spec::FUNDING_RATE),
        ..get("/fapi/v1/fundingInfo", vec![], 1, "funding intervals")
    }
}

#[derive(Deserialize)]
struct ErrorBody {
    code: i64,
    msg: String,
}

/// `(code, msg)` of a Binance error body, if `body` is one.
pub fn error_code_and_message(body: &[u8]) -> Option<(i64, String)> {
    serde_json::from_slice::<ErrorBody>(body)
        .ok()
        .map(|e| (e.code, e.msg))
}

/// Deserialises `body` as `T`; a Binance error body that arrived with HTTP 200 becomes an exchange error, anything
/// else that does not fit is a malformed-response error naming what was expected.
fn decode<'a, T: Deserialize<'a>>(body: &'a [u8], what: &'static str) -> Result<T> {
    serde_json::from_slice(body).map_err(|e| match error_code_and_message(body) {
        Some((code, message)) => PipelineError::Exchange {
            venue: VENUE,
            status: 200,
            code,
            message,
        },
        None => PipelineError::malformed(VENUE, what, super::decode_detail(body, &e)),
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ExchangeInfo<'a> {
    #[serde(borrow)]
    symbols: Vec<SymbolInfo<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SymbolInfo<'a> {
    symbol: &'a str,
    #[serde(default)]
    contract_type: &'a str,
    #[serde(default)]
    status: &'a str,
}

/// Native symbols of the perpetuals currently trading (dated futures and settling/delisted symbols are skipped).
pub fn parse_exchange_info(body: &[u8]) -> Result<Vec<String>> {
    let info: ExchangeInfo = decode(body, "instrument list")?;
    Ok(info
        .symbols
        .iter()
        .filter(|s| s.contract_type == "PERPETUAL" && s.status == "TRADING")
        .map(|s| s.symbol.to_string())
        .collect())
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct OpenInterestBody<'a> {
    open_interest: LooseF64,
    symbol: &'a str,
    time: LooseI64,
}

pub fn parse_open_interest(
    body: &[u8],
    inst: &InstrumentRef,
    ts_init: i64,
) -> Result<OpenInterest> {
    let what = "open interest";
    let row: OpenInterestBody = decode(body, what)?;
    check_symbol(inst, row.symbol, what)?;
    let bad = |e: String| PipelineError::malformed(VENUE, what, e);
    let time = row.time.required("time").map_err(bad)?;
    let oi = row.open_interest.required("openInterest").map_err(bad)?;
    // Binance states no notional for current OI; the value column stays null rather than derived.
    Ok(inst.open_interest(venue_ms_to_ns(time).map_err(bad)?, ts_init, oi, None))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PremiumIndex<'a> {
    symbol: &'a str,
    mark_price: LooseF64,
    index_price: LooseF64,
    last_funding_rate: LooseF64,
    next_funding_time: LooseI64,
    time: LooseI64,
}

/// `premiumIndex?symbol=` answers one object; without `symbol` an array. Both are accepted; the row for `inst`
/// is taken. `interval_minutes` comes from `fundingInfo` (see [`parse_funding_info`]).
pub fn parse_premium_index(
    body: &[u8],
    inst: &InstrumentRef,
    ts_init: i64,
    interval_minutes: u16,
) -> Result<FundingRate> {
    let what = "funding rate";
    // Peek rather than use an untagged enum: untagged buffering cannot hand out borrowed strings.
    let rows: Vec<PremiumIndex> = match body.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'[') => decode(body, what)?,
        _ => vec![decode(body, what)?],
    };
    let row = rows
        .into_iter()
        .find(|r| r.symbol == inst.native)
        .ok_or_else(|| {
            PipelineError::malformed(
                VENUE,
                what,
                format!("no premium index row for {}", inst.native),
            )
        })?;
    let bad = |e: String| PipelineError::malformed(VENUE, what, e);
    let ts_event = venue_ms_to_ns(row.time.required("time").map_err(bad)?).map_err(bad)?;
    Ok(FundingRate {
        interval_minutes: Some(interval_minutes),
        // 0 means "no funding scheduled" (delivered or settling symbols).
        next_funding_time: row
            .next_funding_time
            .0
            .filter(|t| *t > 0)
            .map(venue_ms_to_ns)
            .transpose()
            .map_err(bad)?,
        mark_price: row.mark_price.0,
        index_price: row.index_price.0,
        ..inst.funding_rate(
            ts_event,
            ts_init,
            row.last_funding_rate
                .required("lastFundingRate")
                .map_err(bad)?,
        )
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct FundingInfo<'a> {
    symbol: &'a str,
    funding_interval_hours: LooseI64,
}

/// Funding interval in minutes per native symbol. Binance lists only symbols whose interval or caps were adjusted;
/// absent symbols use [`DEFAULT_FUNDING_INTERVAL_MINUTES`].
pub fn parse_funding_info(body: &[u8]) -> Result<HashMap<String, u16>> {
    let what = "funding intervals";
    let rows: Vec<FundingInfo> = decode(body, what)?;
    rows.iter()
        .map(|r| {
            let hours = r.funding_interval_hours.required("fundingIntervalHours");
            match hours {
                Ok(h @ 1..=24) => Ok((r.symbol.to_string(), (h * 60) as u16)),
                Ok(h) => Err(PipelineError::malformed(
                    VENUE,
                    what,
                    format!("{}: {h} h is not an interval", r.symbol),
                )),
                Err(e) => Err(PipelineError::malformed(VENUE, what, e)),
            }
        })
        .collect()
}

/// Binance keeps open interest history for 30 days only.
pub const OI_HISTORY_DAYS: i64 = 30;
/// Kept clear of the window's edge, which moves on while a request travels: a start this much inside the window.
pub const OI_HISTORY_EDGE_MARGIN_MS: i64 = 10_000;

/// `GET /fapi/v1/time`: the venue's clock, which its 30-day window follows.
pub fn server_time_request() -> Request {
    get("/fapi/v1/time", vec![], 1, "server time")
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ServerTime {
    server_time: LooseI64,
}

/// The venue's time in epoch milliseconds.
pub fn parse_server_time(body: &[u8]) -> Result<i64> {
    let what = "server time";
    let time: ServerTime = decode(body, what)?;
    let ms = time
        .server_time
        .required("serverTime")
        .map_err(|e| PipelineError::malformed(VENUE, what, e))?;
    crate::model::time::check_venue_ms(ms).map_err(|e| PipelineError::malformed(VENUE, what, e))
}

/// The range Binance can serve open interest history for, by its clock `server_ms`: the start moved into the
/// 30-day window, or `None` when the whole range is older. The message says what is missing, in ISO time.
pub fn clamp_open_interest_range(
    (start_ms, end_ms): (i64, i64),
    server_ms: i64,
) -> (Option<(i64, i64)>, Option<String>) {
    use crate::model::time::iso_ms;
    let earliest = server_ms - OI_HISTORY_DAYS * 86_400_000 + OI_HISTORY_EDGE_MARGIN_MS;
    if start_ms >= earliest {
        return (Some((start_ms, end_ms)), None);
    }
    let note = |served: &str| {
        format!(
            "binance: open interest history from {} to {} is not available: Binance serves the last \
             {OI_HISTORY_DAYS} days only (its clock: {}, so from {}); {served}",
            iso_ms(start_ms),
            iso_ms(end_ms.min(earliest - 1)),
            iso_ms(server_ms),
            iso_ms(earliest)
        )
    };
    if end_ms < earliest {
        (None, Some(note("nothing of the range was fetched")))
    } else {
        (
            Some((earliest, end_ms)),
            Some(note(&format!("fetched from {}", iso_ms(earliest)))),
        )
    }
}
/// Largest page each history endpoint serves.
pub const OI_HISTORY_PAGE: usize = 500;
pub const FUNDING_HISTORY_PAGE: usize = 1000;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct OiHistoryRow<'a> {
    symbol: &'a str,
    sum_open_interest: LooseF64,
    sum_open_interest_value: LooseF64,
    /// A string in the docs, a number live: both accepted.
    timestamp: LooseI64,
}

/// Parses one `openInterestHist` page (ascending).
pub fn parse_open_interest_history(body: &[u8], inst: &InstrumentRef) -> Result<Vec<OpenInterest>> {
    let what = "open interest history";
    let rows: Vec<OiHistoryRow> = decode(body, what)?;
    let bad = |e: String| PipelineError::malformed(VENUE, what, e);
    rows.iter()
        .map(|r| {
            check_symbol(inst, r.symbol, what)?;
            let ts =
                venue_ms_to_ns(r.timestamp.required("timestamp").map_err(bad)?).map_err(bad)?;
            let oi = r
                .sum_open_interest
                .required("sumOpenInterest")
                .map_err(bad)?;
            Ok(inst.open_interest(ts, ts, oi, r.sum_open_interest_value.0))
        })
        .collect()
}

/// Open interest history, forward from `start_ms`, 500 rows a page. Binance serves the last 30 days only; a
/// range reaching further back gets what exists and a warning saying so.
pub fn open_interest_history_pager(
    inst: InstrumentRef,
    period: OiPeriod,
    range: (i64, i64),
    page: usize,
) -> ForwardPager<OpenInterest> {
    let page = page.clamp(1, OI_HISTORY_PAGE);
    let native = inst.native.clone();
    ForwardPager::new(
        VENUE,
        "open interest",
        range,
        page,
        move |start, end| Request {
            limit_group: Some(spec::FUTURES_DATA),
            ..get(
                "/futures/data/openInterestHist",
                vec![
                    ("symbol", native.clone()),
                    ("period", period.binance_name().to_string()),
                    ("startTime", start.to_string()),
                    ("endTime", end.to_string()),
                    ("limit", page.to_string()),
                ],
                1,
                "open interest history",
            )
        },
        move |body| parse_open_interest_history(body, &inst),
    )
    .with_step(period.millis())
    .with_gap_probe(period.millis())
    .warn_on_leading_gap(
        period.millis(),
        "Binance serves open interest history for the last 30 days only",
    )
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct FundingHistoryRow<'a> {
    symbol: &'a str,
    funding_rate: LooseF64,
    funding_time: LooseI64,
    /// Newer answers only.
    #[serde(default)]
    mark_price: LooseF64,
}

/// Parses one `fundingRate` page (ascending, settled rates; the interval is filled from spacing later).
pub fn parse_funding_rate_history(body: &[u8], inst: &InstrumentRef) -> Result<Vec<FundingRate>> {
    let what = "funding rate history";
    let rows: Vec<FundingHistoryRow> = decode(body, what)?;
    let bad = |e: String| PipelineError::malformed(VENUE, what, e);
    rows.iter()
        .map(|r| {
            check_symbol(inst, r.symbol, what)?;
            let ts = venue_ms_to_ns(r.funding_time.required("fundingTime").map_err(bad)?)
                .map_err(bad)?;
            Ok(FundingRate {
                mark_price: r.mark_price.0,
                ..inst.funding_rate(ts, ts, r.funding_rate.required("fundingRate").map_err(bad)?)
            })
        })
        .collect()
}

/// Funding history, forward from `start_ms` with inclusive bounds, 1000 rows a page.
pub fn funding_rate_history_pager(
    inst: InstrumentRef,
    range: (i64, i64),
    page: usize,
) -> ForwardPager<FundingRate> {
    let page = page.clamp(1, FUNDING_HISTORY_PAGE);
    let native = inst.native.clone();
    ForwardPager::new(
        VENUE,
        "funding rate",
        range,
        page,
        move |start, end| Request {
            limit_group: Some(spec::FUNDING_RATE),
            ..get(
                "/fapi/v1/fundingRate",
                vec![
                    ("symbol", native.clone()),
                    ("startTime", start.to_string()),
                    ("endTime", end.to_string()),
                    ("limit", page.to_string()),
                ],
                1,
                "funding rate history",
            )
        },
        move |body| parse_funding_rate_history(body, &inst),
    )
    // Binance funding intervals are 8 h, 4 h or 1 h.
    .with_step(3_600_000)
    .with_gap_probe(8 * 3_600_000 + 60_000)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::UnifiedSymbol;
    use crate::venue::test_support::fixture;

    fn btc() -> InstrumentRef {
        InstrumentRef::new(VENUE, &UnifiedSymbol::parse("BTCUSDT-PERP").unwrap())
    }

    #[test]
    fn open_interest_fixture() {
        let oi = parse_open_interest(
            &fixture("binance/open_interest__nautilus-py.json"),
            &btc(),
            7,
        )
        .unwrap();
        assert_eq!(oi.open_interest, 10659.509);
        assert_eq!(oi.ts_event, 1_589_437_530_011_000_000);
        assert_eq!(oi.ts_init, 7);
        assert_eq!(oi.instrument_id, "BTCUSDT-PERP.BINANCE");
        assert_eq!(oi.symbol, "BTCUSDT-PERP");
        assert_eq!(oi.open_interest_value, None);
    }

    #[test]
    fn open_interest_numbers_as_numbers_and_odd_values() {
        let oi = parse_open_interest(
            br#"{"openInterest":12.5,"symbol":"BTCUSDT","time":"1589437530011"}"#,
            &btc(),
            0,
        );
        assert_eq!(oi.unwrap().open_interest, 12.5);
        let err = parse_open_interest(
            br#"{"openInterest":"","symbol":"BTCUSDT","time":1}"#,
            &btc(),
            0,
        )
        .unwrap_err();
        assert!(
            err.to_string().contains("'openInterest' is null or empty"),
            "{err}"
        );
        let err = parse_open_interest(
            br#"{"openInterest":"1","symbol":"ETHUSDT","time":1}"#,
            &btc(),
            0,
        )
        .unwrap_err();
        assert!(err.to_string().contains("answer is for 'ETHUSDT'"), "{err}");
        let truncated = &fixture("binance/open_interest__nautilus-py.json")[..40];
        assert!(matches!(
            parse_open_interest(truncated, &btc(), 0),
            Err(PipelineError::Malformed { .. })
        ));
    }

    #[test]
    fn error_body_with_200_is_an_exchange_error() {
        let body = fixture("binance/error_1003_ip_banned__binance-net-issue.json");
        match parse_open_interest(&body, &btc(), 0).unwrap_err() {
            PipelineError::Exchange {
                code: -1003,
                message,
                ..
            } => assert!(message.starts_with("Way too many requests")),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn premium_index_single_and_all() {
        for file in [
            "binance/premium_index_single__nautilus-py.json",
            "binance/premium_index_all__binance-docs.json",
        ] {
            let f = parse_premium_index(&fixture(file), &btc(), 1, 480).unwrap();
            assert_eq!(f.funding_rate, 0.00038246, "{file}");
            assert_eq!(f.mark_price, Some(11793.63104562));
            assert_eq!(f.index_price, Some(11781.80495970));
            assert_eq!(f.next_funding_time, Some(1_597_392_000_000_000_000));
            assert_eq!(f.ts_event, 1_597_370_495_002_000_000);
            assert_eq!(f.interval_minutes, Some(480));
        }
        let eth = InstrumentRef::new(VENUE, &UnifiedSymbol::parse("ETHUSDT-PERP").unwrap());
        let err = parse_premium_index(
            &fixture("binance/premium_index_all__binance-docs.json"),
            &eth,
            1,
            480,
        );
        assert!(err
            .unwrap_err()
            .to_string()
            .contains("no premium index row for ETHUSDT"));
    }

    #[test]
    fn premium_index_with_null_prices_and_no_next_funding() {
        let body = br#"{"symbol":"BTCUSDT","markPrice":null,"indexPrice":"","estimatedSettlePrice":"1",
            "lastFundingRate":"-0.0001","nextFundingTime":0,"interestRate":"0","time":1597370495002}"#;
        let f = parse_premium_index(body, &btc(), 1, 240).unwrap();
        assert_eq!(
            (f.mark_price, f.index_price, f.next_funding_time),
            (None, None, None)
        );
        assert_eq!(f.funding_rate, -0.0001);
    }

    #[test]
    fn exchange_info_keeps_trading_perpetuals() {
        let symbols =
            parse_exchange_info(&fixture("binance/exchange_info_excerpt__nautilus-py.json"))
                .unwrap();
        assert_eq!(symbols, vec!["BTCUSDT".to_string(), "ETHUSDT".to_string()]);
        let odd = br#"{"symbols":[{"symbol":"BTCUSDT_261225","contractType":"CURRENT_QUARTER","status":"TRADING"},
            {"symbol":"LUNAUSDT","contractType":"PERPETUAL","status":"SETTLING"},
            {"symbol":"SOLUSDT","contractType":"PERPETUAL","status":"TRADING"}]}"#;
        assert_eq!(
            parse_exchange_info(odd).unwrap(),
            vec!["SOLUSDT".to_string()]
        );
        assert!(matches!(
            parse_exchange_info(b"{}"),
            Err(PipelineError::Malformed {
                what: "instrument list",
                ..
            })
        ));
    }

    #[test]
    fn funding_info_intervals() {
        let body = br#"[{"symbol":"BLZUSDT","adjustedFundingRateCap":"0.02500000","adjustedFundingRateFloor":"-0.02500000","fundingIntervalHours":4,"disclaimer":false},
                       {"symbol":"XUSDT","fundingIntervalHours":"1"}]"#;
        let map = parse_funding_info(body).unwrap();
        assert_eq!(map["BLZUSDT"], 240);
        assert_eq!(map["XUSDT"], 60);
        assert!(parse_funding_info(br#"[{"symbol":"X","fundingIntervalHours":0}]"#).is_err());
        assert!(parse_funding_info(br#"[{"symbol":"X","fundingIntervalHours":null}]"#).is_err());
    }

    #[test]
    fn requests() {
        let r = open_interest_request("BTCUSDT");
        assert_eq!(
            (r.method, r.path, r.weight),
            (Method::Get, "/fapi/v1/openInterest", 1)
        );
        assert_eq!(r.query, vec![("symbol", "BTCUSDT".to_string())]);
    }

    #[test]
    fn open_interest_history_fixture_with_string_timestamps() {
        let rows = parse_open_interest_history(
            &fixture("binance/open_interest_hist__nautilus-py.json"),
            &btc(),
        )
        .unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(
            (rows[0].ts_event, rows[0].ts_init),
            (1_583_127_900_000_000_000, 1_583_127_900_000_000_000)
        );
        assert_eq!(rows[0].open_interest, 20403.637);
        assert_eq!(rows[1].open_interest_value, Some(149940752.14464448));
        // Live answers carry the timestamp as a number.
        let live = br#"[{"symbol":"BTCUSDT","sumOpenInterest":"1.5","sumOpenInterestValue":"2","timestamp":1583127900000}]"#;
        assert_eq!(
            parse_open_interest_history(live, &btc()).unwrap()[0].ts_event,
            1_583_127_900_000_000_000
        );
    }

    #[test]
    fn funding_history_fixtures_old_and_new() {
        let new = parse_funding_rate_history(
            &fixture("binance/funding_rate_history__binance-docs.json"),
            &btc(),
        )
        .unwrap();
        assert_eq!(new[0].funding_rate, -0.0375);
        assert_eq!(new[0].ts_event, 1_570_608_000_000_000_000);
        assert_eq!(new[1].mark_price, Some(34287.54619963));
        let old = parse_funding_rate_history(
            &fixture("binance/funding_rate_history__nautilus-py.json"),
            &btc(),
        )
        .unwrap();
        assert!(old.iter().all(|r| r.mark_price.is_none()));
    }

    #[test]
    fn history_pagers_send_the_venue_parameters() {
        let pager =
            open_interest_history_pager(btc(), OiPeriod::H1, (1_000, 2_000), OI_HISTORY_PAGE);
        let r = crate::venue::paging::Pager::next_request(&pager).unwrap();
        assert_eq!(r.path, "/futures/data/openInterestHist");
        assert_eq!(r.limit_group, Some(spec::FUTURES_DATA));
        assert!(
            r.query.contains(&("period", "1h".to_string()))
                && r.query.contains(&("limit", "500".to_string()))
        );
        let pager = funding_rate_history_pager(btc(), (1_000, 2_000), FUNDING_HISTORY_PAGE);
        let r = crate::venue::paging::Pager::next_request(&pager).unwrap();
        assert!(
            r.query.contains(&("startTime", "1000".to_string()))
                && r.query.contains(&("limit", "1000".to_string()))
        );
    }

    #[test]
    fn mark_prices_of_every_symbol() {
        let marks =
            parse_mark_prices(&fixture("binance/premium_index_all__binance-docs.json")).unwrap();
        assert!(
            !marks.is_empty() && marks.iter().all(|(_, mark)| *mark > 0.0),
            "{marks:?}"
        );
        assert!(
            parse_mark_prices(br#"{"symbol":"BTCUSDT"}"#).is_err(),
            "one object is not the whole market"
        );
    }
}
