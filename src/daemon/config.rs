//! What the daemon runs, as the runner consumes it. Read from a TOML file, overridden by `CCXT_PIPELINE_*`
//! environment variables, overridden by CLI flags; every source is validated into this one struct.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use crate::model::Venue;
use crate::venue::OiPeriod;

/// Which perpetuals a venue collects.
#[derive(Debug, Clone, PartialEq)]
pub enum SymbolSelection {
    /// These unified symbols (`BTCUSDT-PERP`) on every configured venue that lists them.
    Listed(Vec<String>),
    /// The `n` perpetuals with the largest open interest (in quote units) per venue, chosen at start.
    TopByOpenInterest(usize),
}

#[derive(Debug, Clone, PartialEq)]
pub struct DaemonConfig {
    /// The file it was read from, if any (named in error messages and the status).
    pub source: Option<PathBuf>,
    pub venues: Vec<Venue>,
    pub symbols: SymbolSelection,
    /// Root of the Parquet store; the PID file, lock and status file live in it too.
    pub data_dir: PathBuf,
    /// Open interest snapshots every this long, on the wall-clock grid (`1m`: on the minute); `None` = off.
    pub open_interest_interval: Option<Duration>,
    /// Funding snapshots, likewise.
    pub funding_interval: Option<Duration>,
    /// At start (and after an outage), fetch history this far back, from the store's last timestamps; `None` = off.
    pub history_catch_up: Option<Duration>,
    /// Granularity of open interest history catch-up.
    pub history_period: OiPeriod,
    pub liquidations: bool,
    /// Binance whole-market liquidation stream instead of per-symbol streams.
    pub liquidations_all_market: bool,
    /// Hyperliquid addresses whose fills are polled for liquidations (empty: the default liquidator address).
    pub hyperliquid_addresses: Vec<String>,
    /// REST base URL overrides per venue.
    pub base_urls: BTreeMap<Venue, String>,
    /// WebSocket base URL overrides per venue.
    pub ws_urls: BTreeMap<Venue, String>,
    /// Liquidations are written at least this often.
    pub flush_interval: Duration,
    /// Store compaction every this long; `None` = off.
    pub compaction_interval: Option<Duration>,
    /// `error`, `warn`, `info`, `debug` or `trace`.
    pub log_level: String,
    /// Log to this file (rotated) instead of stderr.
    pub log_file: Option<PathBuf>,
    /// Serve Prometheus text metrics on 127.0.0.1:port.
    pub metrics_port: Option<u16>,
}

impl Default for DaemonConfig {
    fn default() -> Self {
        DaemonConfig {
            source: None,
            venues: Venue::ALL.to_vec(),
            symbols: SymbolSelection::Listed(vec!["BTCUSDT-PERP".into(), "ETHUSDT-PERP".into()]),
            data_dir: PathBuf::from("./data"),
            open_interest_interval: Some(Duration::from_secs(60)),
            funding_interval: Some(Duration::from_secs(60)),
            history_catch_up: Some(Duration::from_secs(86_400)),
            history_period: OiPeriod::M5,
            liquidations: true,
            liquidations_all_market: false,
            hyperliquid_addresses: Vec::new(),
            base_urls: BTreeMap::new(),
            ws_urls: BTreeMap::new(),
            flush_interval: Duration::from_secs(5),
            compaction_interval: Some(Duration::from_secs(3600)),
            log_level: "info".into(),
            log_file: None,
            metrics_port: None,
        }
    }
}
