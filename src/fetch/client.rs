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
use crate::venue::{binance, bybit, hyperliquid};

/// Instrument lists change rarely (listings, delistings); an hour keeps validation cheap and still current.
const INSTRUMENTS_TTL: Duration = Duration::from_secs(3600);
/// After a failed refresh, the last good list is served this long before the next try.
const INSTRUMENT_RETRY: Duration = Duration::from_secs(60);
/// Guards against a venue handing back the same cursor forever.
const MAX_INSTRUMENT_PAGES: usize = 100;

/// Binance funding interval overrides: native symbol → minutes.
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
    /// Binance funding interval overrides (minutes) from `fundingInfo`, loaded by the first current-funding fetch
    /// (history does not need them, so resolving a symbol costs one request).
    funding_intervals: Mutex<Option<(FundingIntervals, Instant)>>,
    /// History page size when smaller than the venue's maximum (tests of paging; the maximum is fastest).
    history_page_limit: Option<usize>,
    /// How long an instrument list is fresh.
    instruments_ttl: Duration,
}

impl VenueClient {
    pub fn new(venue: Venue, base_url: Option<&str>, config: &HttpConfig) -> Result<Self> {
        let http = VenueHttp::new(venue, base_url, config)?;
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

    pub(crate) fn page_size(&self, venue_max: usize) -> usize {
        self.history_page_limit
            .map_or(venue_max, |l| l.min(venue_max))
    }

    pub fn venue(&self) -> Venue {
        self.http.venue()
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
            if let Some(unified) = match venue {
                Venue::Hyperliquid => UnifiedSymbol::from_hyperliquid_coin(s),
                _ => UnifiedSymbol::parse(s).ok(),
            } {
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
        let values = match self.venue() {
            Venue::Bybit => bybit::parse_open_interest_values(
                &self.http.send(&bybit::all_tickers_request()).await?,
            )?,
            Venue::Hyperliquid => hyperliquid::parse_open_interest_values(
                &self
                    .http
                    .send(&hyperliquid::meta_and_asset_ctxs_request())
                    .await?,
            )?,
            Venue::Binance => {
                let marks = binance::parse_mark_prices(
                    &self
                        .http
                        .send(&binance::all_premium_index_request())
                        .await?,
                )?;
                let marks: Vec<(String, f64)> = marks
                    .into_iter()
                    .filter(|(s, _)| listed.symbols.contains(s))
                    .collect();
                let amounts =
                    futures_util::future::join_all(marks.iter().map(|(native, _)| async move {
                        let body = self
                            .http
                            .send(&binance::open_interest_request(native))
                            .await?;
                        let inst = InstrumentRef::from_native(Venue::Binance, native);
                        binance::parse_open_interest(&body, &inst, 0).map(|row| row.open_interest)
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
        let symbols = match self.venue() {
            Venue::Binance => binance::parse_exchange_info(
                &self.http.send(&binance::exchange_info_request()).await?,
            )?,
            Venue::Bybit => self.load_bybit_symbols().await?,
            Venue::Hyperliquid => {
                hyperliquid::parse_meta(&self.http.send(&hyperliquid::meta_request()).await?)?
            }
        };
        Ok(Instruments {
            symbols: symbols.into_iter().collect(),
            loaded_at: Instant::now(),
        })
    }

    /// Binance's funding interval overrides, cached like the instrument list (a failed reload keeps the last good
    /// map).
    async fn binance_funding_intervals(&self) -> Result<FundingIntervals> {
        let mut cached = self.funding_intervals.lock().await;
        if let Some((map, loaded_at)) = cached.as_ref() {
            if loaded_at.elapsed() < INSTRUMENTS_TTL {
                return Ok(map.clone());
            }
        }
        let loaded = async {
            binance::parse_funding_info(&self.http.send(&binance::funding_info_request()).await?)
        }
        .await;
        match loaded {
            Ok(map) => {
                let map = Arc::new(map);
                *cached = Some((map.clone(), Instant::now()));
                Ok(map)
            }
            Err(error) => match cached.as_mut() {
                Some((map, loaded_at)) => {
                    tracing::warn!(%error, "Binance fundingInfo refresh failed; keeping the last good intervals");
                    *loaded_at = Instant::now() - INSTRUMENTS_TTL + INSTRUMENT_RETRY;
                    Ok(map.clone())
                }
                None => Err(error),
            },
        }
    }

    /// Walks `instruments-info` pages by their opaque cursor, failing loudly if the venue repeats one.
    async fn load_bybit_symbols(&self) -> Result<Vec<String>> {
        let mut symbols = Vec::new();
        let mut cursor: Option<String> = None;
        for _ in 0..MAX_INSTRUMENT_PAGES {
            let page = bybit::parse_instruments(
                &self
                    .http
                    .send(&bybit::instruments_request(cursor.as_deref()))
                    .await?,
            )?;
            symbols.extend(page.symbols);
            match page.next_cursor {
                None => return Ok(symbols),
                Some(next) if cursor.as_ref() == Some(&next) => {
                    return Err(PipelineError::malformed(
                        Venue::Bybit,
                        "instrument list",
                        format!("cursor '{next}' repeated"),
                    ));
                }
                next => cursor = next,
            }
        }
        Err(PipelineError::malformed(
            Venue::Bybit,
            "instrument list",
            format!("more than {MAX_INSTRUMENT_PAGES} pages; the cursor never ended"),
        ))
    }

    pub async fn fetch_open_interest(&self, symbol: &str) -> Result<OpenInterest> {
        let inst = self.resolve(symbol).await?;
        match self.venue() {
            Venue::Binance => {
                let body = self
                    .http
                    .send(&binance::open_interest_request(&inst.native))
                    .await?;
                binance::parse_open_interest(&body, &inst, now_ns())
            }
            Venue::Bybit => {
                let body = self
                    .http
                    .send(&bybit::tickers_request(&inst.native))
                    .await?;
                bybit::parse_open_interest(&body, &inst, now_ns())
            }
            Venue::Hyperliquid => {
                let body = self
                    .http
                    .send(&hyperliquid::meta_and_asset_ctxs_request())
                    .await?;
                hyperliquid::parse_open_interest(&body, &inst, now_ns())
            }
        }
    }

    pub async fn fetch_funding_rate(&self, symbol: &str) -> Result<FundingRate> {
        let inst = self.resolve(symbol).await?;
        match self.venue() {
            Venue::Binance => {
                let interval = self
                    .binance_funding_intervals()
                    .await?
                    .get(&inst.native)
                    .copied()
                    .unwrap_or(binance::DEFAULT_FUNDING_INTERVAL_MINUTES);
                let body = self
                    .http
                    .send(&binance::premium_index_request(&inst.native))
                    .await?;
                binance::parse_premium_index(&body, &inst, now_ns(), interval)
            }
            Venue::Bybit => {
                let body = self
                    .http
                    .send(&bybit::tickers_request(&inst.native))
                    .await?;
                bybit::parse_funding_rate(&body, &inst, now_ns())
            }
            Venue::Hyperliquid => {
                let body = self
                    .http
                    .send(&hyperliquid::meta_and_asset_ctxs_request())
                    .await?;
                hyperliquid::parse_funding_rate(&body, &inst, now_ns())
            }
        }
    }
}
