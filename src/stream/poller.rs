//! Hyperliquid liquidations by polling `userFillsByTime` for one address (Hyperliquid has no public liquidation
//! feed; see `venue::hyperliquid::fills`). Each poll continues from the newest fill seen, inclusive, and trade
//! ids recognise the fills of that millisecond seen before, so nothing is skipped and nothing delivered twice. A
//! failed poll loses nothing: the next one asks for the same interval again.

use std::collections::HashSet;
use std::sync::Arc;

use tokio::sync::{mpsc, watch};
use tokio::time::{sleep_until, Instant};

use super::{Delivery, StreamOptions, StreamStats};
use crate::fetch::VenueClient;
use crate::model::records::now_ns;
use crate::model::Venue;
use crate::venue::hyperliquid::fills::{
    parse_user_fills, user_fills_request, MAX_FILLS_PER_ANSWER,
};
use crate::venue::stream::SymbolNames;

pub(crate) struct FillsPoller {
    client: Arc<VenueClient>,
    address: String,
    /// Instrument ids to keep (`None`: every coin).
    only: Option<HashSet<String>>,
    /// The next poll asks for fills from this time on (ms, inclusive).
    from_ms: i64,
    /// Trade ids of the fills at `from_ms`, which the next poll returns again.
    seen_at_from: HashSet<u64>,
    options: Arc<StreamOptions>,
    stats: Arc<StreamStats>,
    out: mpsc::Sender<Delivery>,
    names: SymbolNames,
}

impl FillsPoller {
    /// Starts after `resume_from_ns` (the newest liquidation already stored) or, without one, now.
    pub(crate) fn new(
        client: Arc<VenueClient>,
        address: String,
        only: Option<HashSet<String>>,
        resume_from_ns: Option<i64>,
        options: Arc<StreamOptions>,
        stats: Arc<StreamStats>,
        out: mpsc::Sender<Delivery>,
    ) -> Self {
        let from_ms = match resume_from_ns {
            Some(ns) => ns.div_euclid(1_000_000) + 1,
            None => now_ns().div_euclid(1_000_000),
        };
        FillsPoller {
            client,
            address,
            only,
            from_ms,
            seen_at_from: HashSet::new(),
            options,
            stats,
            out,
            names: SymbolNames::new(Venue::Hyperliquid),
        }
    }

    pub(crate) async fn run(mut self, mut stop: watch::Receiver<bool>) {
        tracing::info!(address = %self.address, "polling Hyperliquid fills for liquidations (partial coverage: only this address's)");
        StreamStats::add(&self.stats.connected, 1);
        let mut next_poll = Instant::now();
        loop {
            tokio::select! {
                () = sleep_until(next_poll) => {}
                _ = stop.wait_for(|stopped| *stopped) => break,
            }
            next_poll = Instant::now() + self.options.poll_interval;
            // A full answer means more fills wait at or after its newest time: ask again at once.
            loop {
                let full = tokio::select! {
                    polled = self.poll() => polled,
                    _ = stop.wait_for(|stopped| *stopped) => false,
                };
                if !full || *stop.borrow() {
                    break;
                }
            }
        }
        self.stats
            .connected
            .fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
    }

    /// One request; returns whether the answer was full.
    async fn poll(&mut self) -> bool {
        let request = user_fills_request(&self.address, self.from_ms);
        let body = match self.client.http().send(&request).await {
            Ok(body) => body,
            Err(error) => {
                tracing::warn!(address = %self.address, %error, "Hyperliquid fills poll failed; the next poll covers the same interval");
                return false;
            }
        };
        let page = match parse_user_fills(&body, &self.address, now_ns(), &mut self.names) {
            Ok(page) => page,
            Err(error) => {
                StreamStats::add(&self.stats.malformed, 1);
                tracing::warn!(address = %self.address, %error, "skipping a malformed Hyperliquid fills answer");
                return false;
            }
        };
        let rows: Vec<_> = page
            .liquidations
            .into_iter()
            .filter(|(tid, row)| {
                row.ts_event.div_euclid(1_000_000) > self.from_ms
                    || !self.seen_at_from.contains(tid)
            })
            .collect();
        let mut advanced = false;
        if let Some(newest) = page.newest_ms.filter(|newest| *newest >= self.from_ms) {
            if newest > self.from_ms {
                advanced = true;
                self.seen_at_from.clear();
                self.from_ms = newest;
            }
            self.seen_at_from.extend(
                rows.iter()
                    .filter(|(_, row)| row.ts_event.div_euclid(1_000_000) == newest)
                    .map(|(tid, _)| *tid),
            );
        }
        let rows: Vec<_> = rows
            .into_iter()
            .map(|(_, row)| row)
            .filter(|row| {
                self.only
                    .as_ref()
                    .is_none_or(|only| only.contains(&row.instrument_id))
            })
            .collect();
        if !rows.is_empty() {
            let _ = self.out.send(Delivery::Rows(rows)).await;
        }
        // A full answer that does not move forward would be asked again forever: wait for the next period.
        page.fills >= MAX_FILLS_PER_ANSWER && advanced
    }
}
