//! The three venues and their fixed facts (names, NautilusTrader venue suffixes).

use std::fmt;
use std::str::FromStr;

use crate::model::error::PipelineError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Venue {
    Binance,
    Bybit,
    Hyperliquid,
}

impl Venue {
    pub const ALL: [Venue; 3] = [Venue::Binance, Venue::Bybit, Venue::Hyperliquid];

    /// The lower-case name used in the `venue` column, the CLI and URL prefixes of the simulator.
    pub const fn as_str(self) -> &'static str {
        match self {
            Venue::Binance => "binance",
            Venue::Bybit => "bybit",
            Venue::Hyperliquid => "hyperliquid",
        }
    }

    /// The venue part of a NautilusTrader instrument id (`BTCUSDT-PERP.BINANCE`).
    pub const fn nautilus_venue(self) -> &'static str {
        match self {
            Venue::Binance => "BINANCE",
            Venue::Bybit => "BYBIT",
            Venue::Hyperliquid => "HYPERLIQUID",
        }
    }

    /// The production REST base URL.
    pub const fn default_base_url(self) -> &'static str {
        match self {
            Venue::Binance => "https://fapi.binance.com",
            Venue::Bybit => "https://api.bybit.com",
            Venue::Hyperliquid => "https://api.hyperliquid.xyz",
        }
    }
}

impl fmt::Display for Venue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Venue {
    type Err = PipelineError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "binance" | "binanceusdm" => Ok(Venue::Binance),
            "bybit" => Ok(Venue::Bybit),
            "hyperliquid" => Ok(Venue::Hyperliquid),
            other => Err(PipelineError::InvalidArgument(format!(
                "unknown venue '{other}': expected one of binance, bybit, hyperliquid"
            ))),
        }
    }
}
