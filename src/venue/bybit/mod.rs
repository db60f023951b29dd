//! Bybit v5, category `linear` (`https://api.bybit.com`): request builders and parsers.
//!
//! Every answer is the envelope `{"retCode","retMsg","result","retExtInfo","time"}`; errors come as HTTP 200 with
//! `retCode != 0`, so the envelope is checked before the payload. Numbers are strings, `""` means not applicable.

pub mod spec;
pub mod stream;

use serde::Deserialize;

use crate::model::time::venue_ms_to_ns;
use crate::model::{FundingRate, InstrumentRef, OpenInterest, PipelineError, Result, Venue};
use crate::venue::lenient::{LooseF64, LooseI64};
use crate::venue::paging::{BackwardWindowPager, Continuation, NewestFirstPage, WindowRequest};
use crate::venue::{check_symbol, InstrumentPage, Method, OiPeriod, Request};

pub(crate) const VENUE: Venue = Venue::Bybit;
const CATEGORY: &str = "linear";
/// Documented IP limit: 600 requests per 5-second window.
pub const REQUESTS_PER_5S: u32 = 600;
/// `instruments-info` page size maximum.
const INSTRUMENTS_PAGE_LIMIT: &str = "1000";

fn get(path: &'static str, query: Vec<(&'static str, String)>, what: &'static str) -> Request {
    Request {
        venue: VENUE,
        method: Method::Get,
        path,
        query,
        body: None,
        weight: 1,
        what,
        limit_group: None,
    }
}

/// One page of linear instruments; pass the previous page's cursor to get the next.
pub fn instruments_request(cursor: Option<&str>) -> Request {
    let mut query = vec![
        ("category", CATEGORY.to_string()),
        ("limit", INSTRUMENTS_PAGE_LIMIT.to_string()),
    ];
    if let Some(cursor) = cursor {
        query.push(("cursor", cursor.to_string()));
    }
    get("/v5/market/instruments-info", query, "instrument list")
}

/// Every linear ticker in one answer (open interest value of each symbol, for ranking).
pub fn all_tickers_request() -> Request {
    get(
        "/v5/market/tickers",
        vec![("category", CATEGORY.to_string())],
        "tickers",
    )
}

/// `(symbol, open interest in quote units)` of every ticker that states it.
pub fn parse_open_interest_values(body: &[u8]) -> Result<Vec<(String, f64)>> {
    let (result, _) = open::<TickersResult>(body, "tickers")?;
    Ok(result
        .list
        .into_iter()
        .filter_map(|t| Some((t.symbol.to_string(), t.open_interest_value.0?)))
        .collect())
}

pub fn tickers_request(native: &str) -> Request {
    get(
        "/v5/market/tickers",
        vec![
            ("category", CATEGORY.to_string()),
            ("symbol", native.to_string()),
        ],
        "ticker",
    )
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Envelope<T> {
    ret_code: i64,
    #[serde(default)]
    ret_msg: String,
    result: Option<T>,
    #[serde(default)]
    time: LooseI64,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ErrorEnvelope {
    ret_code: i64,
    #[serde(default)]
    ret_msg: String,
}

/// `(retCode, retMsg)` of a Bybit error envelope, if `body` is one.
pub fn error_code_and_message(body: &[u8]) -> Option<(i64, String)> {
    serde_json::from_slice::<ErrorEnvelope>(body)
        .ok()
        .filter(|e| e.ret_code != 0)
        .map(|e| (e.ret_code, e.ret_msg))
}

/// Bybit reports some transient failures inside HTTP 200: 10006 "too many visits" (a rate limit), 10000 server
/// timeout and 10016 server error. These are worth a retry like their HTTP counterparts; other `retCode`s are the
/// caller's problem and go to the parser.
pub fn retryable_error_in_body(body: &[u8]) -> Option<PipelineError> {
    let venue = VENUE;
    if body.starts_with(br#"{"retCode":0,"#) {
        return None;
    }
    match error_code_and_message(body)? {
        (10006, message) => Some(PipelineError::RateLimited {
            venue,
            status: 200,
            retry_after_ms: None,
            message,
        }),
        (code @ (10000 | 10016), message) => Some(PipelineError::Exchange {
            venue,
            status: 200,
            code,
            message,
        }),
        _ => None,
    }
}

/// Opens the envelope: `retCode != 0` is an exchange error carrying Bybit's code and message; a missing `result`
/// or a body that is not an envelope is malformed. Returns the result and the envelope time (ms).
fn open<'a, T: Deserialize<'a>>(body: &'a [u8], what: &'static str) -> Result<(T, Option<i64>)> {
    let envelope: Envelope<T> =
        serde_json::from_slice(body).map_err(|e| match error_code_and_message(body) {
            Some((code, message)) => PipelineError::Exchange {
                venue: VENUE,
                status: 200,
                code,
                message,
            },
            None => PipelineError::malformed(VENUE, what, super::decode_detail(body, &e)),
        })?;
    if envelope.ret_code != 0 {
        return Err(PipelineError::Exchange {
            venue: VENUE,
            status: 200,
            code: envelope.ret_code,
            message: envelope.ret_msg,
        });
    }
    let result = envelope
        .result
        .ok_or_else(|| PipelineError::malformed(VENUE, what, "retCode 0 but no result"))?;
    Ok((result, envelope.time.0))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct InstrumentsResult<'a> {
    #[serde(borrow)]
    list: Vec<InstrumentInfo<'a>>,
    #[serde(default)]
    next_page_cursor: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct InstrumentInfo<'a> {
    symbol: &'a str,
    #[serde(default)]
    contract_type: &'a str,
    #[serde(default)]
    status: &'a str,
}

pub fn parse_instruments(body: &[u8]) -> Result<InstrumentPage> {
    let (result, _) = open::<InstrumentsResult>(body, "instrument list")?;
    Ok(InstrumentPage {
        symbols: result
            .list
            .iter()
            .filter(|i| i.contract_type == "LinearPerpetual" && i.status == "Trading")
            .map(|i| i.symbol.to_string())
            .collect(),
        next_cursor: result.next_page_cursor.filter(|c| !c.is_empty()),
    })
}

#[derive(Deserialize)]
struct TickersResult<'a> {
    #[serde(borrow)]
    list: Vec<Ticker<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Ticker<'a> {
    symbol: &'a str,
    #[serde(default)]
    open_interest: LooseF64,
    #[serde(default)]
    open_interest_value: LooseF64,
    #[serde(default)]
    funding_rate: LooseF64,
    #[serde(default)]
    next_funding_time: LooseI64,
    #[serde(default)]
    mark_price: LooseF64,
    #[serde(default)]
    index_price: LooseF64,
    /// Newer field; older answers omit it.
    #[serde(default)]
    funding_interval_hour: LooseI64,
}

/// The ticker row of `inst` and the envelope time.
fn ticker<'a>(
    body: &'a [u8],
    inst: &InstrumentRef,
    what: &'static str,
) -> Result<(Ticker<'a>, i64)> {
    let (result, time) = open::<TickersResult>(body, what)?;
    let time =
        time.ok_or_else(|| PipelineError::malformed(VENUE, what, "envelope has no 'time'"))?;
    let row = result
        .list
        .into_iter()
        .find(|t| t.symbol == inst.native)
        .ok_or_else(|| {
            PipelineError::malformed(
                VENUE,
                what,
                format!("no ticker for {} in the answer", inst.native),
            )
        })?;
    Ok((row, time))
}

/// Linear `openInterest` is in base coin and `openInterestValue` in quote (USDT/USDC).
pub fn parse_open_interest(
    body: &[u8],
    inst: &InstrumentRef,
    ts_init: i64,
) -> Result<OpenInterest> {
    let what = "open interest";
    let (row, time) = ticker(body, inst, what)?;
    let bad = |e: String| PipelineError::malformed(VENUE, what, e);
    let oi = row.open_interest.required("openInterest").map_err(bad)?;
    Ok(inst.open_interest(
        venue_ms_to_ns(time).map_err(bad)?,
        ts_init,
        oi,
        row.open_interest_value.0,
    ))
}

pub fn parse_funding_rate(body: &[u8], inst: &InstrumentRef, ts_init: i64) -> Result<FundingRate> {
    let what = "funding rate";
    let (row, time) = ticker(body, inst, what)?;
    let bad = |e: String| PipelineError::malformed(VENUE, what, e);
    let interval_minutes = match row.funding_interval_hour.0 {
        None => None,
        Some(h @ 1..=24) => Some((h * 60) as u16),
        Some(h) => {
            return Err(bad(format!(
                "fundingIntervalHour {h} is not an interval in hours"
            )))
        }
    };
    Ok(FundingRate {
        interval_minutes,
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
            venue_ms_to_ns(time).map_err(bad)?,
            ts_init,
            row.funding_rate.required("fundingRate").map_err(bad)?,
        )
    })
}

/// Largest page of both history endpoints.
pub const HISTORY_PAGE: usize = 200;
/// Funding history windows hold one full page at the common 8 h interval; shorter intervals page inside a window.
const FUNDING_WINDOW_INTERVAL_MS: i64 = 8 * 3_600_000;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct OiHistoryResult {
    list: Vec<OiHistoryRow>,
    #[serde(default)]
    next_page_cursor: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct OiHistoryRow {
    open_interest: LooseF64,
    timestamp: LooseI64,
}

/// One `open-interest` page: rows newest first and the opaque cursor to the next one.
pub fn parse_open_interest_history(
    body: &[u8],
    inst: &InstrumentRef,
) -> Result<NewestFirstPage<OpenInterest>> {
    let what = "open interest history";
    let (result, _) = open::<OiHistoryResult>(body, what)?;
    let bad = |e: String| PipelineError::malformed(VENUE, what, e);
    let rows = result
        .list
        .iter()
        .map(|r| {
            let ts =
                venue_ms_to_ns(r.timestamp.required("timestamp").map_err(bad)?).map_err(bad)?;
            Ok(inst.open_interest(
                ts,
                ts,
                r.open_interest.required("openInterest").map_err(bad)?,
                None,
            ))
        })
        .collect::<Result<_>>()?;
    Ok(NewestFirstPage {
        rows,
        next_cursor: result.next_page_cursor,
    })
}

/// Open interest history: windows of one full page, newest-first pages inside by the venue's cursor.
pub fn open_interest_history_pager(
    inst: InstrumentRef,
    period: OiPeriod,
    range: (i64, i64),
    page: usize,
) -> Result<BackwardWindowPager<OpenInterest>> {
    let page = page.clamp(1, HISTORY_PAGE);
    let interval = period
        .bybit_name()
        .ok_or_else(|| PipelineError::Unsupported {
            venue: VENUE,
            what: format!("open interest history at period {}", period.binance_name()),
            reason: "Bybit offers 5m, 15m, 30m, 1h, 4h and 1d".into(),
        })?;
    let native = inst.native.clone();
    Ok(BackwardWindowPager::new(
        VENUE,
        "open interest",
        range,
        page as i64 * period.millis(),
        page,
        Continuation::Cursor,
        move |window: WindowRequest<'_>| {
            let mut query = vec![
                ("category", CATEGORY.to_string()),
                ("symbol", native.clone()),
                ("intervalTime", interval.to_string()),
                ("startTime", window.window_start_ms.to_string()),
                ("endTime", window.page_end_ms.to_string()),
                ("limit", page.to_string()),
            ];
            if let Some(cursor) = window.cursor {
                query.push(("cursor", cursor.to_string()));
            }
            get("/v5/market/open-interest", query, "open interest history")
        },
        move |body| parse_open_interest_history(body, &inst),
    )
    .with_step(period.millis()))
}

#[derive(Deserialize)]
struct FundingHistoryResult<'a> {
    #[serde(borrow)]
    list: Vec<FundingHistoryRow<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct FundingHistoryRow<'a> {
    symbol: &'a str,
    funding_rate: LooseF64,
    funding_rate_timestamp: LooseI64,
}

/// One `funding/history` page, newest first (no cursor: the next page moves `endTime`).
pub fn parse_funding_rate_history(
    body: &[u8],
    inst: &InstrumentRef,
) -> Result<NewestFirstPage<FundingRate>> {
    let what = "funding rate history";
    let (result, _) = open::<FundingHistoryResult>(body, what)?;
    let bad = |e: String| PipelineError::malformed(VENUE, what, e);
    let rows = result
        .list
        .iter()
        .map(|r| {
            check_symbol(inst, r.symbol, what)?;
            let ts = venue_ms_to_ns(
                r.funding_rate_timestamp
                    .required("fundingRateTimestamp")
                    .map_err(bad)?,
            )
            .map_err(bad)?;
            Ok(inst.funding_rate(ts, ts, r.funding_rate.required("fundingRate").map_err(bad)?))
        })
        .collect::<Result<_>>()?;
    Ok(NewestFirstPage {
        rows,
        next_cursor: None,
    })
}

/// Funding history: `startTime` and `endTime` always both (Bybit rejects `startTime` alone), pages moving
/// `endTime` backwards inside each window.
pub fn funding_rate_history_pager(
    inst: InstrumentRef,
    range: (i64, i64),
    page: usize,
) -> BackwardWindowPager<FundingRate> {
    let page = page.clamp(1, HISTORY_PAGE);
    let native = inst.native.clone();
    BackwardWindowPager::new(
        VENUE,
        "funding rate",
        range,
        page as i64 * FUNDING_WINDOW_INTERVAL_MS,
        page,
        Continuation::EndTime,
        move |window: WindowRequest<'_>| {
            get(
                "/v5/market/funding/history",
                vec![
                    ("category", CATEGORY.to_string()),
                    ("symbol", native.clone()),
                    ("startTime", window.window_start_ms.to_string()),
                    ("endTime", window.page_end_ms.to_string()),
                    ("limit", page.to_string()),
                ],
                "funding rate history",
            )
        },
        move |body| parse_funding_rate_history(body, &inst),
    )
    // Bybit funding intervals go down to 1 h.
    .with_step(3_600_000)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::UnifiedSymbol;
    use crate::venue::test_support::fixture;

    fn inst(s: &str) -> InstrumentRef {
        InstrumentRef::new(VENUE, &UnifiedSymbol::parse(s).unwrap())
    }

    #[test]
    fn tickers_fixture_open_interest_and_funding() {
        let body = fixture("bybit/tickers_linear__nautilus-py.json");
        let btc = inst("BTCUSDT-PERP");
        let oi = parse_open_interest(&body, &btc, 5).unwrap();
        assert_eq!(oi.open_interest, 373504107.0);
        assert_eq!(oi.open_interest_value, Some(22505.67));
        assert_eq!(oi.ts_event, 1_672_376_496_682_000_000);
        assert_eq!(oi.instrument_id, "BTCUSDT-LINEAR.BYBIT");
        let f = parse_funding_rate(&body, &btc, 5).unwrap();
        assert_eq!(f.funding_rate, -0.001034);
        assert_eq!(f.next_funding_time, Some(1_672_387_200_000_000_000));
        assert_eq!(
            (f.mark_price, f.index_price),
            (Some(16596.0), Some(16598.54))
        );
        // This older answer has no fundingIntervalHour: unknown, not guessed.
        assert_eq!(f.interval_minutes, None);
    }

    #[test]
    fn newest_ticker_shape_has_interval() {
        let body = fixture("bybit/tickers_inverse__bybit-docs.json");
        let f = parse_funding_rate(&body, &inst("BTCUSD"), 0).unwrap();
        assert_eq!(f.interval_minutes, Some(480));
        assert_eq!(f.funding_rate, 0.0001);
        assert_eq!(f.next_funding_time, Some(1_760_371_200_000_000_000));
    }

    #[test]
    fn ret_code_errors_carry_code_and_message() {
        let body = fixture("bybit/error_10001_symbol_invalid__bybit-java-api-issue60.json");
        match parse_open_interest(&body, &inst("BTCUSDT"), 0).unwrap_err() {
            PipelineError::Exchange {
                code: 10001,
                status: 200,
                message,
                ..
            } => {
                assert_eq!(message, "params error: symbol invalid")
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            error_code_and_message(&body),
            Some((10001, "params error: symbol invalid".into()))
        );
        assert_eq!(
            error_code_and_message(&fixture("bybit/tickers_linear__nautilus-py.json")),
            None
        );
    }

    #[test]
    fn odd_tickers() {
        let btc = inst("BTCUSDT");
        let empty =
            br#"{"retCode":0,"retMsg":"OK","result":{"category":"linear","list":[]},"time":1}"#;
        assert!(parse_open_interest(empty, &btc, 0)
            .unwrap_err()
            .to_string()
            .contains("no ticker for BTCUSDT"));
        let blank = br#"{"retCode":0,"retMsg":"OK","result":{"list":[{"symbol":"BTCUSDT","openInterest":"","fundingRate":"0.0001","markPrice":"","indexPrice":"1","nextFundingTime":"","fundingIntervalHour":""}]},"time":"1748736000002"}"#;
        assert!(parse_open_interest(blank, &btc, 0)
            .unwrap_err()
            .to_string()
            .contains("'openInterest' is null or empty"));
        let f = parse_funding_rate(blank, &btc, 0).unwrap();
        assert_eq!(
            (
                f.mark_price,
                f.index_price,
                f.next_funding_time,
                f.interval_minutes
            ),
            (None, Some(1.0), None, None)
        );
        assert_eq!(f.ts_event, 1_748_736_000_002_000_000);
        let no_result = br#"{"retCode":0,"retMsg":"OK","time":1}"#;
        assert!(parse_open_interest(no_result, &btc, 0)
            .unwrap_err()
            .to_string()
            .contains("no result"));
        assert!(matches!(
            parse_open_interest(b"<html>502</html>", &btc, 0),
            Err(PipelineError::Malformed { .. })
        ));
    }

    #[test]
    fn instruments_pages() {
        let page =
            parse_instruments(&fixture("bybit/instruments_info_linear__bybit-docs.json")).unwrap();
        assert_eq!(
            page,
            InstrumentPage {
                symbols: vec!["BTCUSDT".into()],
                next_cursor: None
            }
        );
        let more = br#"{"retCode":0,"retMsg":"OK","result":{"category":"linear","list":[
            {"symbol":"ETHUSDT","contractType":"LinearPerpetual","status":"Trading"},
            {"symbol":"NEWUSDT","contractType":"LinearPerpetual","status":"PreLaunch"},
            {"symbol":"BTC-26DEC25","contractType":"LinearFutures","status":"Trading"}],
            "nextPageCursor":"first%3D2%26last%3D3"},"retExtInfo":{},"time":1}"#;
        let page = parse_instruments(more).unwrap();
        assert_eq!(page.symbols, vec!["ETHUSDT".to_string()]);
        assert_eq!(page.next_cursor.as_deref(), Some("first%3D2%26last%3D3"));
        let r = instruments_request(page.next_cursor.as_deref());
        assert!(r
            .query
            .contains(&("cursor", "first%3D2%26last%3D3".to_string())));
    }

    #[test]
    fn open_interest_history_fixture_newest_first_with_cursor() {
        let page = parse_open_interest_history(
            &fixture("bybit/open_interest__bybit-docs.json"),
            &inst("BTCUSD"),
        )
        .unwrap();
        assert_eq!(page.rows.len(), 5);
        assert_eq!(page.rows[0].ts_event, 1_780_963_200_000_000_000);
        assert_eq!(page.rows[0].open_interest, 63910691.0);
        assert_eq!(
            page.next_cursor.as_deref(),
            Some("lastid%3D19408935%26lasttime%3D1780617600")
        );
    }

    #[test]
    fn funding_history_fixtures() {
        let eth_perp = InstrumentRef {
            native: "ETHPERP".into(),
            ..inst("ETHUSDT")
        };
        let page = parse_funding_rate_history(
            &fixture("bybit/funding_history__bybit-docs.json"),
            &eth_perp,
        )
        .unwrap();
        assert_eq!(
            (page.rows[0].funding_rate, page.rows[0].ts_event),
            (0.0001, 1_672_041_600_000_000_000)
        );
        let body = fixture("bybit/funding_history__nautilus-rs.json");
        let page = parse_funding_rate_history(&body, &inst("BTCUSDT")).unwrap();
        assert!(!page.rows.is_empty());
        assert!(parse_funding_rate_history(&body, &inst("ETHUSDT"))
            .unwrap_err()
            .to_string()
            .contains("answer is for 'BTCUSDT'"));
        let err = parse_funding_rate_history(
            &fixture("bybit/error_10001_symbol_invalid__bybit-java-api-issue60.json"),
            &inst("BTCUSDT"),
        );
        assert!(matches!(
            err,
            Err(PipelineError::Exchange { code: 10001, .. })
        ));
    }

    #[test]
    fn unsupported_periods_are_named() {
        let err = open_interest_history_pager(inst("BTCUSDT"), OiPeriod::H2, (0, 1), HISTORY_PAGE)
            .err()
            .unwrap();
        assert!(
            err.to_string()
                .contains("Bybit offers 5m, 15m, 30m, 1h, 4h and 1d"),
            "{err}"
        );
    }

    #[test]
    fn open_interest_values_of_every_ticker() {
        let values =
            parse_open_interest_values(&fixture("bybit/tickers_linear__nautilus-py.json")).unwrap();
        assert!(!values.is_empty());
        assert!(
            values
                .iter()
                .all(|(symbol, value)| !symbol.is_empty() && *value > 0.0),
            "{values:?}"
        );
    }
}
