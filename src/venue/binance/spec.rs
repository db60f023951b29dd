//! Binance USDⓈ-M as a [`VenueSpec`]: its limits, error classification, requests and pagers in one place.

use std::time::Duration;

use crate::model::{FundingRate, InstrumentRef, OpenInterest, PipelineError, Result, Venue};
use crate::net::{LimitGroup, RateLimits, ResponseClassifier, VenueNet};
use crate::venue::binance::{self as b, VENUE};
use crate::venue::spec::{
    BoxPager, FundingIntervals, OpenInterestRanking, RankingValues, ServedRange, VenueSpec,
};
use crate::venue::stream::LiquidationProtocol;
use crate::venue::{classify_status, InstrumentPage, OiPeriod, Request};

/// `/futures/data/*` (open interest history): 1000 requests per 5 minutes.
pub const FUTURES_DATA: LimitGroup = LimitGroup {
    name: "binance /futures/data",
    requests: 1000,
    window: Duration::from_secs(300),
};

/// `/fapi/v1/fundingRate` shares 500 requests per 5 minutes with `/fapi/v1/fundingInfo`.
pub const FUNDING_RATE: LimitGroup = LimitGroup {
    name: "binance /fapi/v1/fundingRate",
    requests: 500,
    window: Duration::from_secs(300),
};

const LIMITS: RateLimits = RateLimits {
    weight: b::WEIGHT_PER_MINUTE,
    window: Duration::from_secs(60),
    groups: &[FUTURES_DATA, FUNDING_RATE],
};

#[derive(Debug)]
pub struct BinanceSpec;

impl ResponseClassifier for BinanceSpec {
    fn error_from_status(
        &self,
        status: u16,
        body: &[u8],
        retry_after_ms: Option<u64>,
    ) -> PipelineError {
        let rate_limited = self.is_rate_limit(status, body);
        classify_status(
            VENUE,
            status,
            body,
            retry_after_ms,
            rate_limited,
            b::error_code_and_message,
        )
    }

    /// 429, and 418: the IP ban that follows ignored 429s. A 403 is a WAF refusal, not a limit.
    fn is_rate_limit(&self, status: u16, _body: &[u8]) -> bool {
        status == 429 || status == 418
    }

    fn retryable_error_in_body(&self, _body: &[u8]) -> Option<PipelineError> {
        None
    }
}

impl VenueSpec for BinanceSpec {
    fn venue(&self) -> Venue {
        VENUE
    }

    fn net(&'static self) -> VenueNet {
        VenueNet {
            venue: VENUE,
            limits: LIMITS,
            classifier: self,
        }
    }

    fn instruments_request(&self, _cursor: Option<&str>) -> Request {
        b::exchange_info_request()
    }

    fn parse_instruments(&self, body: &[u8]) -> Result<InstrumentPage> {
        Ok(InstrumentPage {
            symbols: b::parse_exchange_info(body)?,
            next_cursor: None,
        })
    }

    fn open_interest_request(&self, inst: &InstrumentRef) -> Request {
        b::open_interest_request(&inst.native)
    }

    fn parse_open_interest(
        &self,
        body: &[u8],
        inst: &InstrumentRef,
        ts_init: i64,
    ) -> Result<OpenInterest> {
        b::parse_open_interest(body, inst, ts_init)
    }

    fn funding_intervals_request(&self) -> Option<Request> {
        Some(b::funding_info_request())
    }

    fn parse_funding_intervals(&self, body: &[u8]) -> Result<FundingIntervals> {
        b::parse_funding_info(body)
    }

    fn funding_rate_request(&self, inst: &InstrumentRef) -> Request {
        b::premium_index_request(&inst.native)
    }

    fn parse_funding_rate(
        &self,
        body: &[u8],
        inst: &InstrumentRef,
        ts_init: i64,
        intervals: Option<&FundingIntervals>,
    ) -> Result<FundingRate> {
        let interval = intervals
            .and_then(|map| map.get(&inst.native))
            .copied()
            .unwrap_or(b::DEFAULT_FUNDING_INTERVAL_MINUTES);
        b::parse_premium_index(body, inst, ts_init, interval)
    }

    fn open_interest_ranking(&self) -> OpenInterestRanking {
        OpenInterestRanking {
            request: b::all_premium_index_request(),
            parse: b::parse_mark_prices,
            values: RankingValues::MarkPrice,
        }
    }

    fn open_interest_history_clock_request(&self) -> Option<Request> {
        Some(b::server_time_request())
    }

    /// Binance refuses a start before its 30-day window, by its own clock.
    fn open_interest_history_window(
        &self,
        range: (i64, i64),
        clock: Option<&[u8]>,
    ) -> Result<ServedRange> {
        let clock = clock.ok_or_else(|| PipelineError::Internal {
            venue: VENUE,
            message: "open interest history window asked without the server time".into(),
        })?;
        Ok(b::clamp_open_interest_range(
            range,
            b::parse_server_time(clock)?,
        ))
    }

    fn open_interest_history_pager(
        &self,
        inst: InstrumentRef,
        period: OiPeriod,
        range: (i64, i64),
        page: Option<usize>,
    ) -> Result<BoxPager<OpenInterest>> {
        Ok(Box::new(b::open_interest_history_pager(
            inst,
            period,
            range,
            page.unwrap_or(b::OI_HISTORY_PAGE),
        )))
    }

    fn funding_rate_history_pager(
        &self,
        inst: InstrumentRef,
        range: (i64, i64),
        page: Option<usize>,
    ) -> Result<BoxPager<FundingRate>> {
        Ok(Box::new(b::funding_rate_history_pager(
            inst,
            range,
            page.unwrap_or(b::FUNDING_HISTORY_PAGE),
        )))
    }

    fn liquidation_protocol(&self) -> Option<Box<dyn LiquidationProtocol>> {
        Some(Box::new(b::stream::BinanceLiquidations))
    }
}
