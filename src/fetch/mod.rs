//! Runs venue plans over `net`: symbol resolution against cached instrument lists, current OI and funding per
//! venue, and the fan-out of one request to several venues at once.

mod client;
mod history;
mod sink;

pub use client::VenueClient;
pub use history::{
    History, HistoryProgress, HistoryRange, HistorySink, Keep, ProgressFn, STORE_BATCH_AGE,
    STORE_BATCH_ROWS,
};
pub use sink::HistoryStore;

use std::collections::HashMap;
use std::sync::Arc;

use tokio::task::JoinSet;

use crate::model::{FundingRate, OpenInterest, PipelineError, Result, UnifiedSymbol, Venue};
use crate::net::HttpConfig;
use crate::venue::OiPeriod;

/// Rows from the venues that answered and the errors of those that did not; one failing venue never costs the
/// others' rows.
#[derive(Debug)]
pub struct MultiVenue<T> {
    pub rows: Vec<T>,
    pub failures: Vec<PipelineError>,
}

/// One client per venue, fanned out concurrently.
#[derive(Debug, Clone)]
pub struct Orchestrator {
    clients: Vec<Arc<VenueClient>>,
}

impl Orchestrator {
    pub fn new(clients: Vec<Arc<VenueClient>>) -> Self {
        Orchestrator { clients }
    }

    /// Clients for `venues`, each at its base URL from `base_url(venue)` (None = production).
    pub fn for_venues(
        venues: &[Venue],
        base_url: impl Fn(Venue) -> Option<String>,
        config: &HttpConfig,
    ) -> Result<Self> {
        let clients = venues
            .iter()
            .map(|&v| VenueClient::new(v, base_url(v).as_deref(), config).map(Arc::new))
            .collect::<Result<_>>()?;
        Ok(Orchestrator { clients })
    }

    pub fn clients(&self) -> &[Arc<VenueClient>] {
        &self.clients
    }

    /// An unreadable symbol is one `InvalidArgument` up front, not the same failure once per venue.
    pub async fn fetch_open_interest(&self, symbol: &str) -> Result<MultiVenue<OpenInterest>> {
        self.fan_out(&[symbol.to_string()], |client, symbol| async move {
            client.fetch_open_interest(&symbol).await
        })
        .await
    }

    pub async fn fetch_funding_rate(&self, symbol: &str) -> Result<MultiVenue<FundingRate>> {
        self.fan_out(&[symbol.to_string()], |client, symbol| async move {
            client.fetch_funding_rate(&symbol).await
        })
        .await
    }

    /// History of every symbol on every venue at once; each venue's limiter is shared by all its tasks.
    pub async fn fetch_open_interest_history(
        &self,
        symbols: &[String],
        period: OiPeriod,
        range: HistoryRange,
        sink: &HistorySink,
    ) -> Result<MultiVenue<History<OpenInterest>>> {
        self.fan_out(symbols, |client, symbol| {
            let sink = sink.clone();
            async move {
                client
                    .fetch_open_interest_history(&symbol, period, range, &sink)
                    .await
            }
        })
        .await
    }

    pub async fn fetch_funding_rate_history(
        &self,
        symbols: &[String],
        range: HistoryRange,
        sink: &HistorySink,
    ) -> Result<MultiVenue<History<FundingRate>>> {
        self.fan_out(symbols, |client, symbol| {
            let sink = sink.clone();
            async move {
                client
                    .fetch_funding_rate_history(&symbol, range, &sink)
                    .await
            }
        })
        .await
    }

    /// Runs `call` for every (venue, symbol) concurrently; results come back in venue then symbol order, whatever
    /// finished first. Unreadable symbols fail the whole call before any request.
    async fn fan_out<T, F, Fut>(&self, symbols: &[String], call: F) -> Result<MultiVenue<T>>
    where
        T: Send + 'static,
        F: Fn(Arc<VenueClient>, String) -> Fut,
        Fut: std::future::Future<Output = Result<T>> + Send + 'static,
    {
        for symbol in symbols {
            UnifiedSymbol::parse(symbol)?;
        }
        let mut tasks = JoinSet::new();
        let mut jobs = HashMap::new();
        for (position, (client, symbol)) in self
            .clients
            .iter()
            .flat_map(|c| symbols.iter().map(move |s| (c, s)))
            .enumerate()
        {
            let venue = client.venue();
            let call = call(client.clone(), symbol.clone());
            let handle = tasks.spawn(async move { (position, venue, call.await) });
            jobs.insert(handle.id(), (position, venue, symbol.clone()));
        }
        let mut results = Vec::with_capacity(tasks.len());
        while let Some(joined) = tasks.join_next().await {
            match joined {
                Ok(result) => results.push(result),
                // A panic in a venue task is a bug; it must not take the other venues' rows with it, nor vanish.
                Err(e) => {
                    let (position, venue, symbol) =
                        jobs.remove(&e.id()).expect("every task was registered");
                    let message = format!("the task fetching {symbol} failed: {e}");
                    results.push((
                        position,
                        venue,
                        Err(PipelineError::Internal { venue, message }),
                    ));
                }
            }
        }
        results.sort_by_key(|(position, _, _)| *position);
        let mut out = MultiVenue {
            rows: Vec::new(),
            failures: Vec::new(),
        };
        for (_, venue, result) in results {
            match result {
                Ok(row) => out.rows.push(row),
                Err(error) => {
                    tracing::warn!(%venue, "{error}");
                    out.failures.push(error);
                }
            }
        }
        Ok(out)
    }
}
