//! Bybit v5 linear as a [`VenueSpec`]: its limits, error classification, requests and pagers in one place.

use std::time::Duration;

use crate::model::{FundingRate, InstrumentRef, OpenInterest, PipelineError, Result, Venue};
use crate::net::{RateLimits, ResponseClassifier, VenueNet};
use crate::venue::bybit::{self as b, VENUE};
use crate::venue::spec::{
    BoxPager, FundingIntervals, OpenInterestRanking, RankingValues, VenueSpec,
};
use crate::venue::stream::LiquidationProtocol;
use crate::venue::{cdn_refusal, classify_status, InstrumentPage, OiPeriod, Request};

const LIMITS: RateLimits = RateLimits {
    weight: b::REQUESTS_PER_5S,
    window: Duration::from_secs(5),
    groups: &[],
};

#[derive(Debug)]
pub struct BybitSpec;

impl ResponseClassifier for BybitSpec {
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

    /// 429, and 403: Bybit's IP limit — but not a 403 page from its CDN refusing the country.
    fn is_rate_limit(&self, status: u16, body: &[u8]) -> bool {
        status == 429 || (status == 403 && !cdn_refusal(body))
    }

    fn retryable_error_in_body(&self, body: &[u8]) -> Option<PipelineError> {
        b::retryable_error_in_body(body)
    }
}

impl VenueSpec for BybitSpec {
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

    /// `instruments-info` pages by an opaque cursor.
    fn instruments_request(&self, cursor: Option<&str>) -> Request {
        b::instruments_request(cursor)
    }

    fn parse_instruments(&self, body: &[u8]) -> Result<InstrumentPage> {
        b::parse_instruments(body)
    }

    fn open_interest_request(&self, inst: &InstrumentRef) -> Request {
        b::tickers_request(&inst.native)
    }

    fn parse_open_interest(
        &self,
        body: &[u8],
        inst: &InstrumentRef,
        ts_init: i64,
    ) -> Result<OpenInterest> {
        b::parse_open_interest(body, inst, ts_init)
    }

    fn funding_rate_request(&self, inst: &InstrumentRef) -> Request {
        b::tickers_request(&inst.native)
    }

    fn parse_funding_rate(
        &self,
        body: &[u8],
        inst: &InstrumentRef,
        ts_init: i64,
        _intervals: Option<&FundingIntervals>,
    ) -> Result<FundingRate> {
        b::parse_funding_rate(body, inst, ts_init)
    }

    fn open_interest_ranking(&self) -> OpenInterestRanking {
        OpenInterestRanking {
            request: b::all_tickers_request(),
            parse: b::parse_open_interest_values,
            values: RankingValues::Notional,
        }
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
            page.unwrap_or(b::HISTORY_PAGE),
        )?))
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
            page.unwrap_or(b::HISTORY_PAGE),
        )))
    }

    fn liquidation_protocol(&self) -> Option<Box<dyn LiquidationProtocol>> {
        Some(Box::new(b::stream::BybitLiquidations))
    }
}
