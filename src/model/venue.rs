//! The three venues and their fixed facts (one table row each): names and aliases, NautilusTrader venue suffixes,
//! instrument id and symbol spelling, production URLs and the environment variables that override them. This is the list every layer (and, through `_core.VENUES`, the
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

/// How a venue spells a perpetual in requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SymbolStyle {
    /// Base and quote concatenated (`BTCUSDT`, `1000PEPEUSDT`).
    Pair,
    /// The base coin alone, quoted in USD (`BTC`); coins scaled by 1000 carry `thousand_prefix` instead of the
    /// unified `1000` (`kPEPE` for `1000PEPE`).
    Coin { thousand_prefix: &'static str },
}

impl SymbolStyle {
    /// The scaled-coin prefix of a coin-style venue; `None` for pair style.
    pub const fn coin_prefix(self) -> Option<&'static str> {
        match self {
            SymbolStyle::Coin { thousand_prefix } => Some(thousand_prefix),
            SymbolStyle::Pair => None,
        }
    }
}

/// The fixed facts of one venue that every layer needs, `model` included. Everything else a venue does (requests,
/// parsers, limits, error classification, pagers, streams) is its spec in `crate::venue::<venue>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VenueFacts {
    /// Lower-case name: the `venue` column, the CLI, the simulator's URL prefix.
    pub name: &'static str,
    /// Other names the parser accepts.
    pub aliases: &'static [&'static str],
    /// The venue part of a NautilusTrader instrument id (`BINANCE`).
    pub nautilus_venue: &'static str,
    /// What follows the native symbol in an instrument id, before the venue (`-PERP`, `-LINEAR`).
    pub instrument_suffix: &'static str,
    pub symbol_style: SymbolStyle,
    /// Production REST base URL.
    pub default_base_url: &'static str,
    /// Production WebSocket base URL (the venue's stream protocol appends its route).
    pub default_ws_url: &'static str,
}

/// One row per venue, in the order of the enum (and of [`Venue::ALL`]).
const FACTS: [VenueFacts; 3] = [
    VenueFacts {
        name: "binance",
        aliases: &["binanceusdm"],
        nautilus_venue: "BINANCE",
        instrument_suffix: "-PERP",
        symbol_style: SymbolStyle::Pair,
        default_base_url: "https://fapi.binance.com",
        default_ws_url: "wss://fstream.binance.com",
    },
    VenueFacts {
        name: "bybit",
        aliases: &[],
        nautilus_venue: "BYBIT",
        instrument_suffix: "-LINEAR",
        symbol_style: SymbolStyle::Pair,
        default_base_url: "https://api.bybit.com",
        default_ws_url: "wss://stream.bybit.com",
    },
    VenueFacts {
        name: "hyperliquid",
        aliases: &[],
        nautilus_venue: "HYPERLIQUID",
        instrument_suffix: "-USD-PERP",
        symbol_style: SymbolStyle::Coin {
            thousand_prefix: "k",
        },
        default_base_url: "https://api.hyperliquid.xyz",
        default_ws_url: "wss://api.hyperliquid.xyz",
    },
];

impl Venue {
    pub const ALL: [Venue; 3] = [Venue::Binance, Venue::Bybit, Venue::Hyperliquid];

    /// This venue's row of the facts table.
    pub const fn facts(self) -> &'static VenueFacts {
        &FACTS[self as usize]
    }

    /// The lower-case name used in the `venue` column, the CLI and URL prefixes of the simulator.
    pub const fn as_str(self) -> &'static str {
        self.facts().name
    }

    /// The venue part of a NautilusTrader instrument id (`BTCUSDT-PERP.BINANCE`).
    pub const fn nautilus_venue(self) -> &'static str {
        self.facts().nautilus_venue
    }

    /// Other names [`Venue::from_str`] accepts: ccxt's `binanceusdm` for Binance USDⓈ-M.
    pub const fn aliases(self) -> &'static [&'static str] {
        self.facts().aliases
    }

    /// The production REST base URL.
    pub const fn default_base_url(self) -> &'static str {
        self.facts().default_base_url
    }

    /// The production WebSocket base URL (each venue's stream protocol appends its route).
    pub const fn default_ws_url(self) -> &'static str {
        self.facts().default_ws_url
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
    fn the_facts_table_follows_the_enum() {
        for venue in Venue::ALL {
            assert_eq!(venue.as_str(), format!("{venue:?}").to_ascii_lowercase());
            assert_eq!(venue.nautilus_venue(), venue.as_str().to_ascii_uppercase());
        }
    }

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
