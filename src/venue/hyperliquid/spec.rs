//! Hyperliquid perpetuals as a [`VenueSpec`]: its limits, error classification, requests and pagers in one
//! place. It has no open interest history and no public liquidation feed (its liquidations are polled from
//! `userFillsByTime`, see `fills`).

use std::time::Duration;

use crate::model::{FundingRate, InstrumentRef, OpenInterest, PipelineError, Result, Venue};
use crate::net::{RateLimits, ResponseClassifier, VenueNet};
use crate::venue::hyperliquid::{self as h, VENUE};
use crate::venue::spec::{
    BoxPager, FundingIntervals, OpenInterestRanking, RankingValues, VenueSpec,
};
use crate::venue::{classify_status, InstrumentPage, OiPeriod, Request};

const LIMITS: RateLimits = RateLimits {
    weight: h::WEIGHT_PER_MINUTE,
    window: Duration::from_secs(60),
    groups: &[],
};

#[derive(Debug)]
pub struct HyperliquidSpec;

impl ResponseClassifier for HyperliquidSpec {
    /// Hyperliquid's error bodies are plain text: the status and the text.
    fn error_from_status(
        &self,
        status: u16,
        body: &[u8],
        retry_after_ms: Option<u64>,
    ) -> PipelineError {
        let rate_limited = self.is_rate_limit(status, body);
        classify_status(VENUE, status, body, retry_after_ms, rate_limited, |_| None)
    }

    fn is_rate_limit(&self, status: u16, _body: &[u8]) -> bool {
        status == 429
    }

    fn retryable_error_in_body(&self, _body: &[u8]) -> Option<PipelineError> {
        None
    }
}

impl VenueSpec for HyperliquidSpec {
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
        h::meta_request()
    }

    fn parse_instruments(&self, body: &[u8]) -> Result<InstrumentPage> {
        Ok(InstrumentPage {
            symbols: h::parse_meta(body)?,
            next_cursor: None,
        })
    }

    fn open_interest_request(&self, _inst: &InstrumentRef) -> Request {
        h::meta_and_asset_ctxs_request()
    }

    fn parse_open_interest(
        &self,
        body: &[u8],
        inst: &InstrumentRef,
        ts_init: i64,
    ) -> Result<OpenInterest> {
        h::parse_open_interest(body, inst, ts_init)
    }

    fn funding_rate_request(&self, _inst: &InstrumentRef) -> Request {
        h::meta_and_asset_ctxs_request()
    }

    fn parse_funding_rate(
        &self,
        body: &[u8],
        inst: &InstrumentRef,
        ts_init: i64,
        _intervals: Option<&FundingIntervals>,
    ) -> Result<FundingRate> {
        h::parse_funding_rate(body, inst, ts_init)
    }

    fn open_interest_ranking(&self) -> OpenInterestRanking {
        OpenInterestRanking {
            request: h::meta_and_asset_ctxs_request(),
            parse: h::parse_open_interest_values,
            values: RankingValues::Notional,
        }
    }

    fn check_open_interest_history(&self) -> Result<()> {
        Err(h::open_interest_history_unsupported())
    }

    fn open_interest_history_pager(
        &self,
        _inst: InstrumentRef,
        _period: OiPeriod,
        _range: (i64, i64),
        _page: Option<usize>,
    ) -> Result<BoxPager<OpenInterest>> {
        Err(h::open_interest_history_unsupported())
    }

    /// The venue has no `limit` parameter: pages are always its own size, whatever `page` asks.
    fn funding_rate_history_pager(
        &self,
        inst: InstrumentRef,
        range: (i64, i64),
        _page: Option<usize>,
    ) -> Result<BoxPager<FundingRate>> {
        Ok(Box::new(h::funding_rate_history_pager(
            inst,
            range,
            h::FUNDING_HISTORY_PAGE,
        )))
    }
}
