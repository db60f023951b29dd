//! Unified symbols (`BTCUSDT-PERP`) and their per-venue forms (docs/formats.md#symbols-and-instrument-ids).
//!
//! Users may type the unified symbol, a venue-native one (`BTCUSDT`, Hyperliquid `BTC`) or a NautilusTrader
//! instrument id (`BTCUSDT-LINEAR.BYBIT`); all of them resolve to one [`UnifiedSymbol`].

use std::fmt;

use crate::model::error::{PipelineError, Result};
use crate::model::venue::{SymbolStyle, Venue};

/// Quote currencies we recognise when splitting `BTCUSDT` into base and quote; longest first so `USDT` wins
/// over `USD`.
const QUOTES: [&str; 3] = ["USDT", "USDC", "USD"];
const DEFAULT_QUOTE: &str = "USDT";

/// Low-priced coins are listed scaled by 1000: `1000PEPEUSDT` on pair-style venues (Binance, Bybit), with a prefix
/// of the venue's own on coin-style ones (Hyperliquid `kPEPE`, see [`SymbolStyle::Coin`]). The unified base follows
/// the pair-style venues.
const THOUSAND_PREFIX: &str = "1000";

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct UnifiedSymbol {
    pub base: String,
    pub quote: String,
}

impl UnifiedSymbol {
    /// Parses a unified symbol, venue-native symbol or NautilusTrader instrument id.
    pub fn parse(input: &str) -> Result<Self> {
        let invalid = || {
            PipelineError::InvalidArgument(format!(
                "cannot read symbol '{input}': expected a unified symbol like BTCUSDT-PERP, a venue symbol like \
                 BTCUSDT, or an instrument id like BTCUSDT-PERP.BINANCE"
            ))
        };
        let trimmed = input.trim();
        if trimmed.is_empty() || !trimmed.is_ascii() {
            return Err(invalid());
        }
        // Instrument ids: `BTCUSDT-PERP.BINANCE`, `BTCUSDT-LINEAR.BYBIT`, `BTC-USD-PERP.HYPERLIQUID`.
        let (body, id_venue) = match trimmed.rsplit_once('.') {
            Some((body, venue)) => (body, Some(venue.parse::<Venue>().map_err(|_| invalid())?)),
            None => (trimmed, None),
        };
        if let Some(venue) = id_venue {
            if let SymbolStyle::Coin { thousand_prefix } = venue.facts().symbol_style {
                let coin = body
                    .strip_suffix(venue.facts().instrument_suffix)
                    .ok_or_else(invalid)?;
                return Self::from_coin(coin, thousand_prefix).ok_or_else(invalid);
            }
        }
        let body = body.to_ascii_uppercase();
        let pair = body
            .strip_suffix("-PERP")
            .or_else(|| body.strip_suffix("-LINEAR"))
            .or_else(|| body.strip_suffix(":USDT"))
            .unwrap_or(&body)
            .replace(['/', '-'], "");
        if let Some(quote) = QUOTES.iter().find(|q| pair.ends_with(*q)) {
            let base = &pair[..pair.len() - quote.len()];
            if !base.is_empty() && base.chars().all(|c| c.is_ascii_alphanumeric()) {
                return Ok(UnifiedSymbol {
                    base: base.to_string(),
                    quote: quote.to_string(),
                });
            }
        }
        // `BTC-PERP` names no quote: the USDT perp is what Binance and Bybit list for it (Hyperliquid maps either).
        if let Some(base) = body
            .strip_suffix("-PERP")
            .filter(|b| !b.is_empty() && b.chars().all(|c| c.is_ascii_alphanumeric()))
        {
            return Ok(UnifiedSymbol {
                base: base.to_string(),
                quote: DEFAULT_QUOTE.to_string(),
            });
        }
        // A bare coin (`BTC`, `kPEPE`) is the native form of the coin-style venue (Hyperliquid).
        let coin_prefix = Venue::ALL
            .into_iter()
            .find_map(|v| v.facts().symbol_style.coin_prefix());
        if let Some(thousand_prefix) = coin_prefix {
            if id_venue.is_none() && trimmed.chars().all(|c| c.is_ascii_alphanumeric()) {
                return Self::from_coin(trimmed, thousand_prefix).ok_or_else(invalid);
            }
        }
        Err(invalid())
    }

    /// A venue-native symbol as a unified symbol, `None` if it cannot be one.
    pub fn from_native(venue: Venue, native: &str) -> Option<Self> {
        let style = venue.facts().symbol_style;
        match style {
            SymbolStyle::Pair => UnifiedSymbol::parse(native).ok(),
            SymbolStyle::Coin { thousand_prefix } => Self::from_coin(native, thousand_prefix),
        }
    }

    /// A coin of a coin-style venue (Hyperliquid `BTC`, `kPEPE`) as a unified symbol; such perps settle in USDC
    /// but users think of them as the USD(T) perp, so the quote is USD.
    fn from_coin(coin: &str, thousand_prefix: &str) -> Option<Self> {
        if coin.is_empty() || !coin.chars().all(|c| c.is_ascii_alphanumeric()) {
            return None;
        }
        let base = match coin.strip_prefix(thousand_prefix) {
            Some(rest) if rest.chars().next().is_some_and(|c| c.is_ascii_uppercase()) => {
                format!("{THOUSAND_PREFIX}{rest}")
            }
            _ => coin.to_ascii_uppercase(),
        };
        Some(UnifiedSymbol {
            base,
            quote: "USD".to_string(),
        })
    }

    /// The symbol as the venue spells it in requests.
    pub fn venue_symbol(&self, venue: Venue) -> String {
        let style = venue.facts().symbol_style;
        match style {
            SymbolStyle::Pair => format!("{}{}", self.base, self.quote),
            SymbolStyle::Coin { thousand_prefix } => {
                match self.base.strip_prefix(THOUSAND_PREFIX) {
                    Some(rest)
                        if !rest.is_empty() && !rest.starts_with(|c: char| c.is_ascii_digit()) =>
                    {
                        format!("{thousand_prefix}{rest}")
                    }
                    _ => self.base.clone(),
                }
            }
        }
    }

    /// NautilusTrader instrument id of this symbol on `venue`.
    pub fn instrument_id(&self, venue: Venue) -> String {
        instrument_id(venue, &self.venue_symbol(venue))
    }
}

/// NautilusTrader instrument id for a venue-native symbol.
pub fn instrument_id(venue: Venue, native: &str) -> String {
    format!(
        "{native}{}.{}",
        venue.facts().instrument_suffix,
        venue.nautilus_venue()
    )
}

impl fmt::Display for UnifiedSymbol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}-PERP", self.base, self.quote)
    }
}

/// A symbol resolved for one venue: what goes in the request and what goes in every row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstrumentRef {
    pub venue: Venue,
    /// Unified symbol as the user asked for it, normalised (`BTCUSDT-PERP`).
    pub symbol: String,
    /// The venue's own spelling (`BTCUSDT`, `BTC`).
    pub native: String,
    pub instrument_id: String,
}

impl InstrumentRef {
    pub fn new(venue: Venue, unified: &UnifiedSymbol) -> Self {
        Self::from_native(venue, &unified.venue_symbol(venue))
    }

    /// The `symbol` column is a function of the instrument, so rows fetched under `BTCUSDT-PERP` and rows read
    /// back from the store agree: Hyperliquid's coin is always `<coin>USD-PERP`, whatever quote the user typed.
    pub fn from_native(venue: Venue, native: &str) -> Self {
        let symbol = UnifiedSymbol::from_native(venue, native)
            .map(|u| u.to_string())
            .unwrap_or_else(|| format!("{native}-PERP"));
        InstrumentRef {
            venue,
            symbol,
            native: native.to_string(),
            instrument_id: instrument_id(venue, native),
        }
    }

    /// Reads a NautilusTrader instrument id of one of our venues (`BTCUSDT-LINEAR.BYBIT`).
    pub fn from_instrument_id(id: &str) -> Result<Self> {
        let invalid = || {
            PipelineError::InvalidArgument(format!(
                "'{id}' is not an instrument id of a supported venue: expected e.g. BTCUSDT-PERP.BINANCE, \
                 BTCUSDT-LINEAR.BYBIT or BTC-USD-PERP.HYPERLIQUID"
            ))
        };
        let (body, venue) = id.rsplit_once('.').ok_or_else(invalid)?;
        let venue: Venue = venue.parse().map_err(|_| invalid())?;
        let suffix = venue.facts().instrument_suffix;
        // Letters and digits only (any script: Binance lists non-Latin names): ids become folder names.
        let native = body
            .strip_suffix(suffix)
            .filter(|n| !n.is_empty() && n.chars().all(char::is_alphanumeric))
            .ok_or_else(invalid)?;
        let inst = Self::from_native(venue, native);
        if inst.instrument_id == id {
            Ok(inst)
        } else {
            Err(invalid())
        }
    }
}

/// Up to `limit` names from `candidates` closest to `wanted`, for "did you mean" hints.
pub fn close_matches<'a>(
    wanted: &str,
    candidates: impl IntoIterator<Item = &'a str>,
    limit: usize,
) -> Vec<String> {
    let wanted: Vec<char> = wanted.to_uppercase().chars().collect();
    let mut scored: Vec<(usize, &str)> = candidates
        .into_iter()
        .filter_map(|c| {
            let candidate: Vec<char> = c.to_uppercase().chars().collect();
            // A shared quote suffix (`USDT`) says nothing about similarity: compare what precedes it, and discount
            // a shared prefix, so `BTCDOMUSDT` is a better hint for `BTCUSD` than `ETHUSDT`.
            let suffix = common_len(candidate.iter().rev(), wanted.iter().rev());
            let (wanted_head, head) = (
                &wanted[..wanted.len() - suffix],
                &candidate[..candidate.len() - suffix],
            );
            let score = edit_distance(wanted_head, head)
                .saturating_sub(common_len(head.iter(), wanted_head.iter()));
            (score <= wanted_head.len() / 3).then_some((score, c))
        })
        .collect();
    scored.sort();
    scored
        .into_iter()
        .take(limit)
        .map(|(_, c)| c.to_string())
        .collect()
}

fn common_len<'c>(a: impl Iterator<Item = &'c char>, b: impl Iterator<Item = &'c char>) -> usize {
    a.zip(b).take_while(|(x, y)| x == y).count()
}

fn edit_distance(a: &[char], b: &[char]) -> usize {
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (diagonal + usize::from(ca != cb))
                .min(row[j] + 1)
                .min(above + 1);
            diagonal = above;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> UnifiedSymbol {
        UnifiedSymbol::parse(s).unwrap()
    }

    #[test]
    fn unified_native_and_instrument_ids_agree() {
        let btc = UnifiedSymbol {
            base: "BTC".into(),
            quote: "USDT".into(),
        };
        for input in [
            "BTCUSDT-PERP",
            "btcusdt-perp",
            "BTCUSDT",
            "BTC/USDT:USDT",
            "BTCUSDT-PERP.BINANCE",
            "BTCUSDT-LINEAR.BYBIT",
        ] {
            assert_eq!(parse(input), btc, "{input}");
        }
        assert_eq!(
            parse("BTC-USD-PERP.HYPERLIQUID"),
            UnifiedSymbol {
                base: "BTC".into(),
                quote: "USD".into()
            }
        );
        assert_eq!(parse("BTC").to_string(), "BTCUSD-PERP");
        assert_eq!(parse("btc-perp"), btc);
        assert_eq!(parse("NOPE-PERP").to_string(), "NOPEUSDT-PERP");
    }

    #[test]
    fn venue_forms_and_instrument_ids() {
        let btc = parse("BTCUSDT-PERP");
        assert_eq!(btc.venue_symbol(Venue::Binance), "BTCUSDT");
        assert_eq!(btc.venue_symbol(Venue::Hyperliquid), "BTC");
        assert_eq!(btc.instrument_id(Venue::Binance), "BTCUSDT-PERP.BINANCE");
        assert_eq!(btc.instrument_id(Venue::Bybit), "BTCUSDT-LINEAR.BYBIT");
        assert_eq!(
            btc.instrument_id(Venue::Hyperliquid),
            "BTC-USD-PERP.HYPERLIQUID"
        );
        // Both USDT and USD perps map to the Hyperliquid coin.
        assert_eq!(parse("ETHUSD-PERP").venue_symbol(Venue::Hyperliquid), "ETH");
    }

    #[test]
    fn instrument_refs_round_trip_through_instrument_ids() {
        for (venue, input, symbol) in [
            (Venue::Binance, "BTCUSDT-PERP", "BTCUSDT-PERP"),
            (Venue::Bybit, "1000PEPEUSDT", "1000PEPEUSDT-PERP"),
            (Venue::Hyperliquid, "BTCUSDT-PERP", "BTCUSD-PERP"),
            (Venue::Hyperliquid, "1000PEPEUSDT-PERP", "1000PEPEUSD-PERP"),
        ] {
            let inst = InstrumentRef::new(venue, &parse(input));
            assert_eq!(inst.symbol, symbol);
            assert_eq!(
                InstrumentRef::from_instrument_id(&inst.instrument_id).unwrap(),
                inst
            );
        }
        for bad in [
            "BTCUSDT",
            "BTCUSDT-PERP.BYBIT",
            "-PERP.BINANCE",
            "BTC-USD-PERP.KRAKEN",
            "../x-PERP.BINANCE",
        ] {
            assert!(InstrumentRef::from_instrument_id(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn scaled_coins_map_between_thousand_and_k_prefixes() {
        let pepe = parse("1000PEPEUSDT-PERP");
        assert_eq!(pepe.venue_symbol(Venue::Binance), "1000PEPEUSDT");
        assert_eq!(pepe.venue_symbol(Venue::Hyperliquid), "kPEPE");
        assert_eq!(parse("kPEPE").base, "1000PEPE");
        assert_eq!(
            parse("kPEPE-USD-PERP.HYPERLIQUID").venue_symbol(Venue::Hyperliquid),
            "kPEPE"
        );
        // A coin whose name merely starts with 1000 digits is not scaled.
        assert_eq!(
            parse("1000000MOGUSDT").venue_symbol(Venue::Hyperliquid),
            "1000000MOG"
        );
    }

    #[test]
    fn bad_symbols_are_invalid_arguments_naming_the_input() {
        for input in [
            "",
            "   ",
            "BTC-PERP.NOWHERE",
            "BTC$USDT",
            "ΞTHUSDT",
            "-PERP",
        ] {
            let err = UnifiedSymbol::parse(input).unwrap_err();
            assert!(
                matches!(err, PipelineError::InvalidArgument(ref m) if m.contains("BTCUSDT-PERP")),
                "{input}: {err}"
            );
        }
    }

    #[test]
    fn close_matches_prefer_same_base() {
        let names = ["BTCUSDT", "ETHUSDT", "BTCDOMUSDT", "SOLUSDT"];
        assert_eq!(
            close_matches("BTCUSD", names, 2),
            vec!["BTCUSDT", "BTCDOMUSDT"]
        );
        assert!(close_matches("NOPEUSDT", names, 3).is_empty());
        assert_eq!(close_matches("ETHUSDC", names, 3), vec!["ETHUSDT"]);
        // Venues list non-ASCII symbols; hints must not split characters.
        assert_eq!(
            close_matches("币安人生USDC", ["币安人生USDT", "BTCUSDT"], 3),
            vec!["币安人生USDT"]
        );
    }
}
