//! The sans-IO side of liquidation streams: what each venue's WebSocket expects and sends. A
//! [`LiquidationProtocol`] builds the URL and frames and classifies every frame received; the reconnecting core in
//! `crate::stream` owns the sockets and the clock and knows no venue.

use std::collections::HashMap;
use std::time::Duration;

use crate::model::records::Liquidation;
use crate::model::{InstrumentRef, Result, Venue};

/// What a received text frame means.
#[derive(Debug, Clone, PartialEq)]
pub enum Inbound {
    /// Liquidation events, with the venue's own send time of the frame (Binance `E`, Bybit `ts`) when it states
    /// one: everything sent after it on a connection that then broke belongs to the gap.
    Liquidations {
        rows: Vec<Liquidation>,
        sent_ms: Option<i64>,
    },
    /// The subscription request with this id was accepted.
    Ack(u64),
    /// A request (subscription, usually) was refused, with the venue's words.
    Refused { id: Option<u64>, message: String },
    /// The answer to an application-level ping.
    Pong,
    /// Anything else the venue sends that needs no action (other channels, informational messages).
    Other,
}

/// How a venue keeps an idle connection alive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeepAlive {
    /// WebSocket ping control frames (answered by any compliant server with a pong frame).
    WsPing(Duration),
    /// A text frame the venue answers with [`Inbound::Pong`].
    Text { frame: String, every: Duration },
}

/// One subscribed stream: the venue's name for it and the instrument it carries (`None`: the whole market).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamSpec {
    pub name: String,
    pub instrument: Option<InstrumentRef>,
}

/// A venue's liquidation WebSocket, as pure functions of its inputs.
pub trait LiquidationProtocol: Send + Sync + std::fmt::Debug + 'static {
    fn venue(&self) -> Venue;
    /// The URL to connect to for the configured base (`wss://fstream.binance.com` → `…/market/ws`).
    fn connect_url(&self, ws_base: &str) -> String;
    /// Streams one connection may carry; more are sharded over several connections.
    fn max_streams_per_connection(&self) -> usize;
    /// The stream carrying `instrument`'s liquidations, or the whole market's for `None` (if the venue has one).
    fn stream(&self, instrument: Option<&InstrumentRef>) -> Option<StreamSpec>;
    /// Subscription frames for `streams` (several if the venue caps a request's size), numbered from `first_id`;
    /// each is answered by an [`Inbound::Ack`] with its id.
    fn subscribe_frames(&self, streams: &[StreamSpec], first_id: u64) -> Vec<(u64, String)>;
    fn keep_alive(&self) -> KeepAlive;
    /// The venue closes connections older than this; the core replaces them shortly before, overlapping.
    fn max_connection_age(&self) -> Option<Duration>;
    /// Classifies one text frame; `ts_init` is its arrival time. A frame that is not the documented shape is a
    /// `Malformed` error, which the core logs and skips.
    fn parse(&self, frame: &[u8], ts_init: i64, names: &mut SymbolNames) -> Result<Inbound>;
}

/// Unified names of the venue symbols seen on a stream, computed once per symbol (whole-market streams carry
/// symbols nobody subscribed to by name).
#[derive(Debug)]
pub struct SymbolNames {
    venue: Venue,
    known: HashMap<String, InstrumentRef>,
}

impl SymbolNames {
    pub fn new(venue: Venue) -> Self {
        SymbolNames {
            venue,
            known: HashMap::new(),
        }
    }

    /// The instrument of `native`, or `None` if it cannot be a symbol of this venue (empty, not alphanumeric).
    pub fn get(&mut self, native: &str) -> Option<&InstrumentRef> {
        if !self.known.contains_key(native) {
            if native.is_empty()
                || native.len() > 40
                || !native.chars().all(|c| c.is_ascii_alphanumeric())
            {
                return None;
            }
            let names = InstrumentRef::from_native(self.venue, native);
            // Bounded: a venue lists a few hundred perpetuals; a flood of invented names is not remembered.
            if self.known.len() >= 10_000 {
                self.known.clear();
            }
            self.known.insert(native.to_string(), names);
        }
        self.known.get(native)
    }
}

/// Venue milliseconds to nanoseconds, refusing what cannot be a liquidation time (microseconds, negative
/// numbers, dates past 2200): such a frame is malformed, not a row to store at a wrong time.
pub(crate) fn event_time_ns(venue: Venue, ms: i64, what: &'static str) -> Result<i64> {
    // 2009-01-01 and 2200-01-01 in epoch milliseconds.
    const SANE_MS: std::ops::RangeInclusive<i64> = 1_230_768_000_000..=7_258_118_400_000;
    if SANE_MS.contains(&ms) {
        Ok(ms * 1_000_000)
    } else {
        Err(crate::model::PipelineError::malformed(
            venue,
            what,
            format!("time {ms} is not epoch milliseconds between 2009 and 2200"),
        ))
    }
}

/// A price or quantity that can be a liquidation's: finite and positive.
pub(crate) fn positive(venue: Venue, value: f64, field: &str, what: &'static str) -> Result<f64> {
    if value.is_finite() && value > 0.0 {
        Ok(value)
    } else {
        Err(crate::model::PipelineError::malformed(
            venue,
            what,
            format!("'{field}' is {value}, expected a positive number"),
        ))
    }
}

/// The venues that stream liquidations over a WebSocket (from each venue's spec); `None` for a venue without a public feed
/// (Hyperliquid, which is polled).
pub fn liquidation_protocol(venue: Venue) -> Option<Box<dyn LiquidationProtocol>> {
    crate::venue::spec(venue).liquidation_protocol()
}
