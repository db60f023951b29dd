//! One spec per venue: everything the venue-agnostic layers (`net`, `fetch`, `stream`) need to know of a venue,
//! behind the [`VenueSpec`] trait, implemented in `src/venue/<venue>/spec.rs`. [`spec`] is the registry: the only
//! place in the crate that matches on [`Venue`] to choose venue behaviour. Adding a venue means its folder here,
//! its simulator module, a row in `model::venue`'s facts table and one line in [`spec`].
//!
//! Like the rest of the venue layer a spec is sans-IO: it builds [`Request`]s, parses bytes and builds pagers;
//! `fetch` sends the requests and keeps the caches.

use std::collections::HashMap;
use std::fmt;

use crate::model::{FundingRate, InstrumentRef, OpenInterest, Result, Venue};
use crate::net::{ResponseClassifier, VenueNet};
use crate::venue::paging::Pager;
use crate::venue::stream::LiquidationProtocol;
use crate::venue::{InstrumentPage, OiPeriod, Request};

/// A history pager of any venue.
pub type BoxPager<R> = Box<dyn Pager<Row = R> + Send>;

/// What the numbers of an [`OpenInterestRanking`] answer are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RankingValues {
    /// Open interest in quote units: ranked as they are.
    Notional,
    /// Mark prices: each symbol's open interest (the current-open-interest request, one per symbol) times its
    /// mark price is its notional (Binance states no notional in bulk).
    MarkPrice,
}

/// `(native symbol, value)` of every symbol in a bulk answer.
pub type ParseValues = fn(&[u8]) -> Result<Vec<(String, f64)>>;

/// How to rank a venue's perpetuals by open interest: one bulk request and its parser into `(native, value)`.
#[derive(Debug, Clone)]
pub struct OpenInterestRanking {
    pub request: Request,
    pub parse: ParseValues,
    pub values: RankingValues,
}

/// The funding interval overrides of a venue that states them apart from the rate: native symbol → minutes.
pub type FundingIntervals = HashMap<String, u16>;

/// The part of a range a venue serves and, when that is less than asked, a note for the user.
pub type ServedRange = (Option<(i64, i64)>, Option<String>);

/// A venue's rules. Every method is a pure function of its arguments.
pub trait VenueSpec: ResponseClassifier + fmt::Debug + Send + Sync + 'static {
    fn venue(&self) -> Venue;

    /// The venue's documented REST limits and this spec as its error classifier, for `net::VenueHttp`.
    fn net(&'static self) -> VenueNet;

    /// One page of the instrument list; `cursor` is the previous page's [`InstrumentPage::next_cursor`].
    fn instruments_request(&self, cursor: Option<&str>) -> Request;
    fn parse_instruments(&self, body: &[u8]) -> Result<InstrumentPage>;

    /// Current open interest of one instrument.
    fn open_interest_request(&self, inst: &InstrumentRef) -> Request;
    fn parse_open_interest(
        &self,
        body: &[u8],
        inst: &InstrumentRef,
        ts_init: i64,
    ) -> Result<OpenInterest>;

    /// For venues whose funding answer lacks the interval: the request for the table of intervals (cached by the
    /// caller like the instrument list) and its parser. `None`: the funding answer is complete.
    fn funding_intervals_request(&self) -> Option<Request> {
        None
    }
    fn parse_funding_intervals(&self, _body: &[u8]) -> Result<FundingIntervals> {
        Ok(FundingIntervals::new())
    }

    /// Current funding of one instrument; `intervals` is the parsed table when the venue has one.
    fn funding_rate_request(&self, inst: &InstrumentRef) -> Request;
    fn parse_funding_rate(
        &self,
        body: &[u8],
        inst: &InstrumentRef,
        ts_init: i64,
        intervals: Option<&FundingIntervals>,
    ) -> Result<FundingRate>;

    fn open_interest_ranking(&self) -> OpenInterestRanking;

    /// Refuses open interest history up front (before any request) on a venue that has none.
    fn check_open_interest_history(&self) -> Result<()> {
        Ok(())
    }

    /// A request for the venue's clock when its open interest history window follows it (Binance's 30 days).
    fn open_interest_history_clock_request(&self) -> Option<Request> {
        None
    }

    /// The part of `range` the venue serves open interest history for (`None`: nothing of it), and a note for
    /// the user when that is less than asked; `clock` is the answer to
    /// [`Self::open_interest_history_clock_request`].
    fn open_interest_history_window(
        &self,
        range: (i64, i64),
        _clock: Option<&[u8]>,
    ) -> Result<ServedRange> {
        Ok((Some(range), None))
    }

    /// Pages of open interest history over `range` (inclusive, epoch ms). `page` asks for smaller pages than the
    /// venue's largest (tests of paging); `None` is the largest.
    fn open_interest_history_pager(
        &self,
        inst: InstrumentRef,
        period: OiPeriod,
        range: (i64, i64),
        page: Option<usize>,
    ) -> Result<BoxPager<OpenInterest>>;

    /// Pages of settled funding rates over `range`; `page` as for open interest.
    fn funding_rate_history_pager(
        &self,
        inst: InstrumentRef,
        range: (i64, i64),
        page: Option<usize>,
    ) -> Result<BoxPager<FundingRate>>;

    /// The venue's liquidation WebSocket; `None` for a venue without a public feed (Hyperliquid, polled).
    fn liquidation_protocol(&self) -> Option<Box<dyn LiquidationProtocol>> {
        None
    }
}

/// The registry: each venue's spec.
pub fn spec(venue: Venue) -> &'static dyn VenueSpec {
    match venue {
        Venue::Binance => &crate::venue::binance::spec::BinanceSpec,
        Venue::Bybit => &crate::venue::bybit::spec::BybitSpec,
        Venue::Hyperliquid => &crate::venue::hyperliquid::spec::HyperliquidSpec,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_venue_has_its_own_spec() {
        for venue in Venue::ALL {
            let spec = spec(venue);
            assert_eq!(spec.venue(), venue);
            assert_eq!(spec.net().venue, venue);
            let inst = InstrumentRef::from_native(venue, "BTC");
            assert_eq!(spec.open_interest_request(&inst).venue, venue);
            assert_eq!(spec.instruments_request(None).venue, venue);
            if let Some(protocol) = spec.liquidation_protocol() {
                assert_eq!(protocol.venue(), venue);
            }
        }
    }
}
