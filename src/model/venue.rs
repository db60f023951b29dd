//! The three venues and their fixed facts: names and aliases, NautilusTrader venue suffixes, production URLs and
//! the environment variables that override them. This is the list every layer (and, through `_core.VENUES`, the
//! Python side) takes the venues from; see docs/architecture.md#the-venue-registry.

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

    /// Other names [`Venue::from_str`] accepts: ccxt's `binanceusdm` for Binance USDⓈ-M.
    pub const fn aliases(self) -> &'static [&'static str] {
        match self {
            Venue::Binance => &["binanceusdm"],
            Venue::Bybit | Venue::Hyperliquid => &[],
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

    /// The production WebSocket base URL (each venue's stream protocol appends its route).
    pub const fn default_ws_url(self) -> &'static str {
        match self {
            Venue::Binance => "wss://fstream.binance.com",
            Venue::Bybit => "wss://stream.bybit.com",
            Venue::Hyperliquid => "wss://api.hyperliquid.xyz",
        }
    }

    /// The environment variable overriding the REST base URL: `CCXT_PIPELINE_BINANCE_URL`.
    pub fn base_url_env_var(self) -> String {
        format!("CCXT_PIPELINE_{}_URL", self.as_str().to_ascii_uppercase())
    }

    /// The environment variable overriding the WebSocket base URL: `CCXT_PIPELINE_BINANCE_WS_URL`.
    pub fn ws_url_env_var(self) -> String {
        format!(
            "CCXT_PIPELINE_{}_WS_URL",
            self.as_str().to_ascii_uppercase()
        )
    }

    /// The REST base URL to use: `CCXT_PIPELINE_<VENUE>_URL` from the process environment if set and not blank,
    /// else production.
    pub fn base_url_from_env(self) -> String {
        self.base_url_from(|variable| std::env::var(variable).ok())
    }

    /// The WebSocket base URL to use: `CCXT_PIPELINE_<VENUE>_WS_URL` if set and not blank, else production.
    pub fn ws_url_from_env(self) -> String {
        self.ws_url_from(|variable| std::env::var(variable).ok())
    }

    /// [`Self::base_url_from_env`] with the environment given as a lookup function.
    pub fn base_url_from(self, env: impl Fn(&str) -> Option<String>) -> String {
        url_or(env(&self.base_url_env_var()), self.default_base_url())
    }

    /// [`Self::ws_url_from_env`] with the environment given as a lookup function.
    pub fn ws_url_from(self, env: impl Fn(&str) -> Option<String>) -> String {
        url_or(env(&self.ws_url_env_var()), self.default_ws_url())
    }
}

/// An override if it is not blank (an empty variable counts as unset), else the default.
fn url_or(value: Option<String>, default: &str) -> String {
    value
        .map(|url| url.trim().to_string())
        .filter(|url| !url.is_empty())
        .unwrap_or_else(|| default.to_string())
}

impl fmt::Display for Venue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Venue {
    type Err = PipelineError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let name = s.trim().to_ascii_lowercase();
        Venue::ALL
            .into_iter()
            .find(|v| v.as_str() == name || v.aliases().contains(&name.as_str()))
            .ok_or_else(|| {
                PipelineError::InvalidArgument(format!(
                    "unknown venue '{name}': expected one of {}",
                    Venue::ALL.map(Venue::as_str).join(", ")
                ))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_aliases_parse() {
        for venue in Venue::ALL {
            assert_eq!(venue.as_str().parse::<Venue>().unwrap(), venue);
            assert_eq!(
                venue.as_str().to_uppercase().parse::<Venue>().unwrap(),
                venue
            );
            for alias in venue.aliases() {
                assert_eq!(alias.parse::<Venue>().unwrap(), venue);
            }
        }
        assert_eq!(" BinanceUSDM ".parse::<Venue>().unwrap(), Venue::Binance);
        let error = "kraken".parse::<Venue>().unwrap_err().to_string();
        assert!(
            error.contains("unknown venue 'kraken': expected one of binance, bybit, hyperliquid"),
            "{error}"
        );
    }

    #[test]
    fn environment_variable_names() {
        assert_eq!(
            Venue::Binance.base_url_env_var(),
            "CCXT_PIPELINE_BINANCE_URL"
        );
        assert_eq!(
            Venue::Hyperliquid.ws_url_env_var(),
            "CCXT_PIPELINE_HYPERLIQUID_WS_URL"
        );
        // The daemon configuration's `urls.*` keys name the same variables.
        for venue in Venue::ALL {
            assert_eq!(
                crate::daemon::config::env_var(&format!("urls.{venue}")),
                venue.base_url_env_var()
            );
            assert_eq!(
                crate::daemon::config::env_var(&format!("urls.{venue}_ws")),
                venue.ws_url_env_var()
            );
        }
    }

    #[test]
    fn urls_from_the_environment() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |variable: &str| {
                pairs
                    .iter()
                    .find(|(name, _)| *name == variable)
                    .map(|(_, value)| value.to_string())
            }
        };
        let unset = env(&[("CCXT_PIPELINE_BYBIT_WS_URL", "   ")]);
        assert_eq!(Venue::Bybit.base_url_from(unset), "https://api.bybit.com");
        assert_eq!(Venue::Bybit.ws_url_from(unset), "wss://stream.bybit.com");
        let set = env(&[
            ("CCXT_PIPELINE_BYBIT_URL", " http://127.0.0.1:1/bybit "),
            ("CCXT_PIPELINE_BYBIT_WS_URL", "ws://127.0.0.1:1/bybit"),
        ]);
        assert_eq!(Venue::Bybit.base_url_from(set), "http://127.0.0.1:1/bybit");
        assert_eq!(Venue::Bybit.ws_url_from(set), "ws://127.0.0.1:1/bybit");
        assert_eq!(Venue::Binance.ws_url_from(set), "wss://fstream.binance.com");
    }
}
