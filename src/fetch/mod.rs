//! Runs venue plans over `net`: symbol resolution against cached instrument lists, current OI and funding per
//! venue, and the fan-out of one request to several venues at once.

mod client;

pub use client::VenueClient;

use std::sync::Arc;

use tokio::task::JoinSet;

use crate::model::{FundingRate, OpenInterest, PipelineError, Result, UnifiedSymbol, Venue};
use crate::net::HttpConfig;

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
        UnifiedSymbol::parse(symbol)?;
        let symbol = symbol.to_string();
        Ok(self
            .fan_out(move |client| {
                let symbol = symbol.clone();
                async move { client.fetch_open_interest(&symbol).await }
            })
            .await)
    }

    pub async fn fetch_funding_rate(&self, symbol: &str) -> Result<MultiVenue<FundingRate>> {
        UnifiedSymbol::parse(symbol)?;
        let symbol = symbol.to_string();
        Ok(self
            .fan_out(move |client| {
                let symbol = symbol.clone();
                async move { client.fetch_funding_rate(&symbol).await }
            })
            .await)
    }

    /// Runs `call` on every client concurrently; results come back in client order, whatever finished first.
    async fn fan_out<T, F, Fut>(&self, call: F) -> MultiVenue<T>
    where
        T: Send + 'static,
        F: Fn(Arc<VenueClient>) -> Fut,
        Fut: std::future::Future<Output = Result<T>> + Send + 'static,
    {
        let mut tasks = JoinSet::new();
        for (position, client) in self.clients.iter().enumerate() {
            let venue = client.venue();
            let call = call(client.clone());
            tasks.spawn(async move { (position, venue, call.await) });
        }
        let mut results = Vec::with_capacity(self.clients.len());
        while let Some(joined) = tasks.join_next().await {
            match joined {
                Ok(result) => results.push(result),
                // A panic in a venue task is a bug, but it must not take the other venues' rows with it.
                Err(e) => tracing::error!("venue task failed: {e}"),
            }
        }
        results.sort_by_key(|(position, _, _)| *position);
        let mut out = MultiVenue { rows: Vec::new(), failures: Vec::new() };
        for (_, venue, result) in results {
            match result {
                Ok(row) => out.rows.push(row),
                Err(error) => {
                    tracing::warn!(%venue, "{error}");
                    out.failures.push(error);
                }
            }
        }
        out
    }
}
