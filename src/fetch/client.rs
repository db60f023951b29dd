//! One venue's client: resolves symbols against the venue's instrument list (cached) and runs the requests each
//! fetch needs, parsing with the sans-IO venue layer.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Mutex;
use tokio::time::Instant;

use crate::model::records::now_ns;
use crate::model::symbol::close_matches;
use crate::model::{
    FundingRate, InstrumentRef, OpenInterest, PipelineError, Result, UnifiedSymbol, Venue,
};
use crate::net::{HttpConfig, VenueHttp};
use crate::venue::{spec, RankingValues, VenueSpec};

/// Instrument lists change rarely (listings, delistings); an hour keeps validation cheap and still current.
const INSTRUMENTS_TTL: Duration = Duration::from_secs(3600);
/// After a failed refresh, the last good list is served this long before the next try.
const INSTRUMENT_RETRY: Duration = Duration::from_secs(60);
/// Guards against a venue handing back the same cursor forever.
const MAX_INSTRUMENT_PAGES: usize = 100;

/// Funding interval overrides of a venue that states them apart (Binance `fundingInfo`): native symbol → minutes.
type FundingIntervals = Arc<HashMap<String, u16>>;

#[derive(Debug, Clone)]
struct Instruments {
    symbols: HashSet<String>,
    loaded_at: Instant,
}

#[derive(Debug)]
pub struct VenueClient {
    http: VenueHttp,
    instruments: Mutex<Option<Arc<Instruments>>>,
    /// A caller is reloading a stale list; the others keep using it meanwhile.
    refreshing: std::sync::atomic::AtomicBool,
    /// Funding interval overrides (minutes) of a venue that has them (Binance `fundingInfo`), loaded by the first
    /// current-funding fetch (history does not need them, so resolving a symbol costs one request).
    funding_intervals: Mutex<Option<(FundingIntervals, Instant)>>,
    /// History page size when smaller than the venue's maximum (tests of paging; the maximum is fastest).
    history_page_limit: Option<usize>,
    /// How long an instrument list is fresh.
    instruments_ttl: Duration,
}

impl VenueClient {
    pub fn new(venue: Venue, base_url: Option<&str>, config: &HttpConfig) -> Result<Self> {
        let http = VenueHttp::new(spec(venue).net(), base_url, config)?;
        Ok(VenueClient {
            http,
            instruments: Mutex::new(None),
            refreshing: std::sync::atomic::AtomicBool::new(false),
            funding_intervals: Mutex::new(None),
            history_page_limit: None,
            instruments_ttl: INSTRUMENTS_TTL,
        })
    }

    /// Asks for history pages of at most `limit` rows (capped at each venue's maximum).
    pub fn with_history_page_limit(self, limit: usize) -> Self {
        VenueClient {
            history_page_limit: Some(limit),
            ..self
        }
    }

    /// Keeps instrument lists fresh for `ttl` instead of an hour (tests of the refresh).
    pub fn with_instruments_ttl(self, ttl: Duration) -> Self {
        VenueClient {
            instruments_ttl: ttl,
            ..self
        }
    }

    /// The history page size asked for, when smaller pages than the venue's largest are wanted.
    pub(crate) fn history_page_limit(&self) -> Option<usize> {
        self.history_page_limit
    }

    pub fn venue(&self) -> Venue {
        self.http.venue()
    }

    /// The venue's rules.
    pub fn spec(&self) -> &'static dyn VenueSpec {
        spec(self.venue())
    }

    pub fn base_url(&self) -> &str {
        self.http.base_url()
    }

    pub(crate) fn http(&self) -> &VenueHttp {
        &self.http
    }

    /// Maps a user symbol to this venue and checks the venue lists it.
    pub async fn resolve(&self, symbol: &str) -> Result<InstrumentRef> {
        let venue = self.venue();
        let inst = InstrumentRef::new(venue, &UnifiedSymbol::parse(symbol)?);
        let instruments = self.instruments().await?;
        if instruments.symbols.contains(&inst.native) {
            return Ok(inst);
        }
        let mut suggestions = close_matches(
            &inst.native,
            instruments.symbols.iter().map(String::as_str),
            3,
        );
        // Suggest in the form the user typed: unified symbols, since the same list is shown for every venue.
        for s in &mut suggestions {
            if let Some(unified) = UnifiedSymbol::from_native(venue, s) {
                *s = unified.to_string();
            }
        }
        Err(PipelineError::SymbolNotFound {
            venue,
            symbol: symbol.trim().to_string(),
            suggestions,
        })
    }

    /// The venue's instrument list. The first call loads it (concurrent first calls share that load); later,
    /// a stale list is still served while one caller refreshes it, and a refresh that fails keeps the last good
    /// list (retried after a minute), so an hourly reload never stalls or fails the fetches of a running daemon.
    async fn instruments(&self) -> Result<Arc<Instruments>> {
        let current = self.instruments.lock().await.clone();
        let Some(current) = current else {
            let mut cached = self.instruments.lock().await;
            if let Some(loaded) = cached.clone() {
                return Ok(loaded);
            }
            let loaded = Arc::new(self.load_instruments().await?);
            tracing::debug!(venue = %self.venue(), count = loaded.symbols.len(), "instrument list loaded");
            *cached = Some(loaded.clone());
            return Ok(loaded);
        };
        if current.loaded_at.elapsed() < self.instruments_ttl
            || self
                .refreshing
                .swap(true, std::sync::atomic::Ordering::AcqRel)
        {
            return Ok(current);
        }
        let refreshed = self.load_instruments().await;
        let mut cached = self.instruments.lock().await;
        let result = match refreshed {
            Ok(loaded) => {
                let loaded = Arc::new(loaded);
                *cached = Some(loaded.clone());
                loaded
            }
            Err(error) => {
                tracing::warn!(venue = %self.venue(), %error, "instrument list refresh failed; keeping the last good list");
                // Served as is, and tried again a minute from now rather than on every call.
                let retry_at = (Instant::now() + INSTRUMENT_RETRY)
                    .checked_sub(self.instruments_ttl)
                    .unwrap_or_else(Instant::now);
                let kept = Arc::new(Instruments {
                    loaded_at: retry_at,
                    ..(*current).clone()
                });
                *cached = Some(kept.clone());
                kept
            }
        };
        self.refreshing
            .store(false, std::sync::atomic::Ordering::Release);
        Ok(result)
    }

    /// The unified symbols of the venue's `n` perpetuals with the largest open interest in quote units.
    /// Binance states no notional in bulk: its open interest is fetched per symbol (weight 1 each, paced by the
    /// limiter) and valued at the mark price.
    pub async fn top_by_open_interest(&self, n: usize) -> Result<Vec<String>> {
        let listed = self.instruments().await?;
        let ranking = self.spec().open_interest_ranking();
        let values = (ranking.parse)(&self.http.send(&ranking.request).await?)?;
        let values = match ranking.values {
            RankingValues::Notional => values,
            RankingValues::MarkPrice => {
                let marks: Vec<(String, f64)> = values
                    .into_iter()
                    .filter(|(s, _)| listed.symbols.contains(s))
                    .collect();
                let amounts =
                    futures_util::future::join_all(marks.iter().map(|(native, _)| async move {
                        let inst = InstrumentRef::from_native(self.venue(), native);
                        let body = self
                            .http
                            .send(&self.spec().open_interest_request(&inst))
                            .await?;
                        self.spec()
                            .parse_open_interest(&body, &inst, 0)
                            .map(|row| row.open_interest)
                    }))
                    .await;
                marks
                    .iter()
                    .zip(amounts)
                    .map(|((native, mark), amount)| Ok((native.clone(), amount? * mark)))
                    .collect::<Result<Vec<_>>>()?
            }
        };
        let values = values
            .into_iter()
            .filter(|(native, _)| listed.symbols.contains(native))
            .collect();
        Ok(crate::venue::top_by_value(values, n)
            .into_iter()
            .map(|native| InstrumentRef::from_native(self.venue(), &native).symbol)
            .collect())
    }

    async fn load_instruments(&self) -> Result<Instruments> {
        Ok(Instruments {
            symbols: self.load_symbols().await?.into_iter().collect(),
            loaded_at: Instant::now(),
        })
    }

    /// The venue's funding interval overrides (`None` for a venue without them), cached like the instrument list
    /// (a failed reload keeps the last good map).
    async fn funding_intervals(&self) -> Result<Option<FundingIntervals>> {
        let Some(request) = self.spec().funding_intervals_request() else {
            return Ok(None);
        };
        let mut cached = self.funding_intervals.lock().await;
        if let Some((map, loaded_at)) = cached.as_ref() {
            if loaded_at.elapsed() < INSTRUMENTS_TTL {
                return Ok(Some(map.clone()));
            }
        }
        let loaded = async {
            self.spec()
                .parse_funding_intervals(&self.http.send(&request).await?)
        }
        .await;
        match loaded {
            Ok(map) => {
                let map = Arc::new(map);
                *cached = Some((map.clone(), Instant::now()));
                Ok(Some(map))
            }
            Err(error) => match cached.as_mut() {
                Some((map, loaded_at)) => {
                    tracing::warn!(venue = %self.venue(), %error, "funding interval refresh failed; keeping the last good intervals");
                    *loaded_at = Instant::now() - INSTRUMENTS_TTL + INSTRUMENT_RETRY;
                    Ok(Some(map.clone()))
                }
                None => Err(error),
            },
        }
    }

    /// Walks the instrument list's pages by their opaque cursor (Bybit; other venues answer in one page), failing
    /// loudly if the venue repeats one.
    async fn load_symbols(&self) -> Result<Vec<String>> {
        let spec = self.spec();
        let mut symbols = Vec::new();
        let mut cursor: Option<String> = None;
        for _ in 0..MAX_INSTRUMENT_PAGES {
            let page = spec.parse_instruments(
                &self
                    .http
                    .send(&spec.instruments_request(cursor.as_deref()))
                    .await?,
            )?;
            symbols.extend(page.symbols);
            match page.next_cursor {
                None => return Ok(symbols),
                Some(next) if cursor.as_ref() == Some(&next) => {
                    return Err(PipelineError::malformed(
                        self.venue(),
                        "instrument list",
                        format!("cursor '{next}' repeated"),
                    ));
                }
                next => cursor = next,
            }
        }
        Err(PipelineError::malformed(
            self.venue(),
            "instrument list",
            format!("more than {MAX_INSTRUMENT_PAGES} pages; the cursor never ended"),
        ))
    }

    pub async fn fetch_open_interest(&self, symbol: &str) -> Result<OpenInterest> {
        let inst = self.resolve(symbol).await?;
        let spec = self.spec();
        let body = self.http.send(&spec.open_interest_request(&inst)).await?;
        spec.parse_open_interest(&body, &inst, now_ns())
    }

    pub async fn fetch_funding_rate(&self, symbol: &str) -> Result<FundingRate> {
        let inst = self.resolve(symbol).await?;
        let spec = self.spec();
        let intervals = self.funding_intervals().await?;
        let body = self.http.send(&spec.funding_rate_request(&inst)).await?;
        spec.parse_funding_rate(&body, &inst, now_ns(), intervals.as_deref())
    }
}
