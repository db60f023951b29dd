//! The instrument universe the simulator lists, identical on the three venues, and the per-coin facts the
//! response builders and the ground truth share (tick sizes, typical open interest, leverage, listing dates).

use crate::model::Venue;

/// One value per venue, for facts that differ between venues (open interest sizes, leverage caps).
#[derive(Debug, Clone, Copy)]
pub(crate) struct PerVenue<T> {
    pub binance: T,
    pub bybit: T,
    pub hyperliquid: T,
}

impl<T: Copy> PerVenue<T> {
    pub(crate) const fn get(&self, venue: Venue) -> T {
        match venue {
            Venue::Binance => self.binance,
            Venue::Bybit => self.bybit,
            Venue::Hyperliquid => self.hyperliquid,
        }
    }
}

/// A coin with a USDT-margined perpetual on every venue.
#[derive(Debug)]
pub(crate) struct Coin {
    /// Base coin as Binance and Bybit spell it in symbols (`1000PEPE` in `1000PEPEUSDT`).
    pub base: &'static str,
    /// Hyperliquid's name for the same contract: it scales PEPE by 1000 as `kPEPE`, so prices agree.
    pub hyperliquid_name: &'static str,
    /// The USDT price the simulated market wanders around.
    pub reference_price: f64,
    /// Decimals of Binance's and Bybit's tick size (Binance `pricePrecision`, Bybit `priceScale`).
    pub price_scale: u32,
    /// Tick size, a multiple of `10^-price_scale`.
    pub tick_size: f64,
    /// Decimals of the order-quantity step on Binance and Bybit; open interest is printed with them.
    pub quantity_scale: u32,
    /// Hyperliquid `szDecimals`.
    pub hyperliquid_size_decimals: u32,
    /// Open interest (base units) the simulated value wanders around, per venue.
    pub typical_open_interest: PerVenue<f64>,
    pub max_leverage: PerVenue<u32>,
    /// Funding interval on Binance and Bybit; Hyperliquid funds every hour for every coin.
    pub funding_interval_hours: u32,
    /// Absolute cap of one funding payment on Binance and Bybit.
    pub funding_rate_cap: f64,
    /// When the perpetual was listed, per venue (Binance `onboardDate`, Bybit `launchTime`; Hyperliquid does not
    /// publish it), ms since the epoch. Histories begin here.
    pub listed_ms: PerVenue<i64>,
}

/// Binance's and Bybit's funding interval unless a coin's was adjusted (Binance lists only adjusted ones in
/// `fundingInfo`).
pub(crate) const DEFAULT_FUNDING_INTERVAL_HOURS: u32 = 8;
pub(crate) const HYPERLIQUID_FUNDING_INTERVAL_HOURS: u32 = 1;

/// The quote and settlement coin of every Binance and Bybit contract here.
pub(crate) const QUOTE_COIN: &str = "USDT";

pub(crate) const PERPETUALS: [Coin; 10] = [
    Coin {
        base: "BTC",
        hyperliquid_name: "BTC",
        reference_price: 60_000.0,
        price_scale: 2,
        tick_size: 0.1,
        quantity_scale: 3,
        hyperliquid_size_decimals: 5,
        typical_open_interest: PerVenue {
            binance: 80_000.0,
            bybit: 55_000.0,
            hyperliquid: 28_000.0,
        },
        max_leverage: PerVenue {
            binance: 125,
            bybit: 100,
            hyperliquid: 40,
        },
        funding_interval_hours: DEFAULT_FUNDING_INTERVAL_HOURS,
        funding_rate_cap: 0.005,
        // 2019-09-10 08:00, 2020-03-25 10:00, 2023-06-01 00:00 UTC
        listed_ms: PerVenue {
            binance: 1_568_102_400_000,
            bybit: 1_585_130_400_000,
            hyperliquid: 1_685_577_600_000,
        },
    },
    Coin {
        base: "ETH",
        hyperliquid_name: "ETH",
        reference_price: 3_000.0,
        price_scale: 2,
        tick_size: 0.01,
        quantity_scale: 2,
        hyperliquid_size_decimals: 4,
        typical_open_interest: PerVenue {
            binance: 2_000_000.0,
            bybit: 1_300_000.0,
            hyperliquid: 600_000.0,
        },
        max_leverage: PerVenue {
            binance: 100,
            bybit: 100,
            hyperliquid: 25,
        },
        funding_interval_hours: DEFAULT_FUNDING_INTERVAL_HOURS,
        funding_rate_cap: 0.005,
        // 2019-09-10 08:00, 2020-03-25 10:00, 2023-06-01 00:00 UTC
        listed_ms: PerVenue {
            binance: 1_568_102_400_000,
            bybit: 1_585_130_400_000,
            hyperliquid: 1_685_577_600_000,
        },
    },
    Coin {
        base: "SOL",
        hyperliquid_name: "SOL",
        reference_price: 150.0,
        price_scale: 3,
        tick_size: 0.01,
        quantity_scale: 1,
        hyperliquid_size_decimals: 2,
        typical_open_interest: PerVenue {
            binance: 9_000_000.0,
            bybit: 6_000_000.0,
            hyperliquid: 2_500_000.0,
        },
        max_leverage: PerVenue {
            binance: 75,
            bybit: 75,
            hyperliquid: 20,
        },
        funding_interval_hours: DEFAULT_FUNDING_INTERVAL_HOURS,
        funding_rate_cap: 0.01,
        // 2020-09-15 00:00, 2021-10-14 08:00, 2023-06-13 00:00 UTC
        listed_ms: PerVenue {
            binance: 1_600_128_000_000,
            bybit: 1_634_198_400_000,
            hyperliquid: 1_686_614_400_000,
        },
    },
    Coin {
        base: "XRP",
        hyperliquid_name: "XRP",
        reference_price: 0.6,
        price_scale: 4,
        tick_size: 0.0001,
        quantity_scale: 0,
        hyperliquid_size_decimals: 0,
        typical_open_interest: PerVenue {
            binance: 400_000_000.0,
            bybit: 250_000_000.0,
            hyperliquid: 60_000_000.0,
        },
        max_leverage: PerVenue {
            binance: 75,
            bybit: 75,
            hyperliquid: 20,
        },
        funding_interval_hours: DEFAULT_FUNDING_INTERVAL_HOURS,
        funding_rate_cap: 0.01,
        // 2020-01-09 00:00, 2021-05-13 08:00, 2023-07-04 00:00 UTC
        listed_ms: PerVenue {
            binance: 1_578_528_000_000,
            bybit: 1_620_892_800_000,
            hyperliquid: 1_688_428_800_000,
        },
    },
    Coin {
        base: "DOGE",
        hyperliquid_name: "DOGE",
        reference_price: 0.15,
        price_scale: 5,
        tick_size: 0.00001,
        quantity_scale: 0,
        hyperliquid_size_decimals: 0,
        typical_open_interest: PerVenue {
            binance: 6_000_000_000.0,
            bybit: 3_500_000_000.0,
            hyperliquid: 900_000_000.0,
        },
        max_leverage: PerVenue {
            binance: 75,
            bybit: 75,
            hyperliquid: 10,
        },
        funding_interval_hours: 4,
        funding_rate_cap: 0.02,
        // 2020-07-03 08:00, 2021-06-22 08:00, 2023-06-20 00:00 UTC
        listed_ms: PerVenue {
            binance: 1_593_763_200_000,
            bybit: 1_624_348_800_000,
            hyperliquid: 1_687_219_200_000,
        },
    },
    Coin {
        base: "1000PEPE",
        hyperliquid_name: "kPEPE",
        reference_price: 0.012,
        price_scale: 7,
        tick_size: 0.0000001,
        quantity_scale: 0,
        hyperliquid_size_decimals: 0,
        typical_open_interest: PerVenue {
            binance: 4_000_000_000.0,
            bybit: 2_500_000_000.0,
            hyperliquid: 7_000_000_000.0,
        },
        max_leverage: PerVenue {
            binance: 50,
            bybit: 50,
            hyperliquid: 10,
        },
        funding_interval_hours: DEFAULT_FUNDING_INTERVAL_HOURS,
        funding_rate_cap: 0.01,
        // 2023-05-03 08:00, 2023-05-05 08:00, 2023-07-25 00:00 UTC
        listed_ms: PerVenue {
            binance: 1_683_100_800_000,
            bybit: 1_683_273_600_000,
            hyperliquid: 1_690_243_200_000,
        },
    },
    Coin {
        base: "BNB",
        hyperliquid_name: "BNB",
        reference_price: 600.0,
        price_scale: 2,
        tick_size: 0.01,
        quantity_scale: 2,
        hyperliquid_size_decimals: 3,
        typical_open_interest: PerVenue {
            binance: 800_000.0,
            bybit: 300_000.0,
            hyperliquid: 60_000.0,
        },
        max_leverage: PerVenue {
            binance: 75,
            bybit: 50,
            hyperliquid: 10,
        },
        funding_interval_hours: DEFAULT_FUNDING_INTERVAL_HOURS,
        funding_rate_cap: 0.01,
        // 2020-02-10 08:00, 2021-11-17 08:00, 2023-08-10 00:00 UTC
        listed_ms: PerVenue {
            binance: 1_581_321_600_000,
            bybit: 1_637_136_000_000,
            hyperliquid: 1_691_625_600_000,
        },
    },
    Coin {
        base: "ADA",
        hyperliquid_name: "ADA",
        reference_price: 0.45,
        price_scale: 4,
        tick_size: 0.0001,
        quantity_scale: 0,
        hyperliquid_size_decimals: 0,
        typical_open_interest: PerVenue {
            binance: 700_000_000.0,
            bybit: 300_000_000.0,
            hyperliquid: 60_000_000.0,
        },
        max_leverage: PerVenue {
            binance: 75,
            bybit: 75,
            hyperliquid: 10,
        },
        funding_interval_hours: DEFAULT_FUNDING_INTERVAL_HOURS,
        funding_rate_cap: 0.01,
        // 2020-01-31 08:00, 2021-06-30 08:00, 2023-08-22 00:00 UTC
        listed_ms: PerVenue {
            binance: 1_580_457_600_000,
            bybit: 1_625_040_000_000,
            hyperliquid: 1_692_662_400_000,
        },
    },
    Coin {
        base: "AVAX",
        hyperliquid_name: "AVAX",
        reference_price: 30.0,
        price_scale: 3,
        tick_size: 0.001,
        quantity_scale: 0,
        hyperliquid_size_decimals: 2,
        typical_open_interest: PerVenue {
            binance: 12_000_000.0,
            bybit: 6_000_000.0,
            hyperliquid: 1_500_000.0,
        },
        max_leverage: PerVenue {
            binance: 50,
            bybit: 50,
            hyperliquid: 10,
        },
        funding_interval_hours: DEFAULT_FUNDING_INTERVAL_HOURS,
        funding_rate_cap: 0.01,
        // 2020-09-23 08:00, 2021-09-29 08:00, 2023-06-27 00:00 UTC
        listed_ms: PerVenue {
            binance: 1_600_848_000_000,
            bybit: 1_632_902_400_000,
            hyperliquid: 1_687_824_000_000,
        },
    },
    Coin {
        base: "LINK",
        hyperliquid_name: "LINK",
        reference_price: 15.0,
        price_scale: 3,
        tick_size: 0.001,
        quantity_scale: 2,
        hyperliquid_size_decimals: 1,
        typical_open_interest: PerVenue {
            binance: 20_000_000.0,
            bybit: 8_000_000.0,
            hyperliquid: 2_000_000.0,
        },
        max_leverage: PerVenue {
            binance: 75,
            bybit: 50,
            hyperliquid: 10,
        },
        funding_interval_hours: DEFAULT_FUNDING_INTERVAL_HOURS,
        funding_rate_cap: 0.01,
        // 2020-01-17 08:00, 2021-03-04 08:00, 2023-07-11 00:00 UTC
        listed_ms: PerVenue {
            binance: 1_579_248_000_000,
            bybit: 1_614_844_800_000,
            hyperliquid: 1_689_033_600_000,
        },
    },
];

/// A Hyperliquid market that is still listed in `meta` with `isDelisted: true`; its context is frozen at the
/// last values (no open interest, no funding, no book).
#[derive(Debug)]
pub(crate) struct DelistedCoin {
    pub name: &'static str,
    pub size_decimals: u32,
    pub max_leverage: u32,
    pub final_mark_price: f64,
    pub final_oracle_price: f64,
}

pub(crate) const HYPERLIQUID_DELISTED: DelistedCoin = DelistedCoin {
    name: "LOOM",
    size_decimals: 1,
    max_leverage: 3,
    final_mark_price: 0.05123,
    final_oracle_price: 0.0512,
};

/// Binance's dated BTC future. It is listed in `exchangeInfo` only, so clients learn to skip non-perpetuals;
/// the market-data endpoints here serve perpetuals.
pub(crate) struct DatedFuture {
    pub symbol: &'static str,
    pub base: &'static str,
    pub contract_type: &'static str,
    pub onboard_time_ms: i64,
    pub delivery_time_ms: i64,
}

pub(crate) const BINANCE_DATED_FUTURE: DatedFuture = DatedFuture {
    symbol: "BTCUSDT_261225",
    base: "BTC",
    contract_type: "CURRENT_QUARTER",
    // 2026-06-26 08:00 UTC and 2026-12-25 08:00 UTC: Binance quarterlies list and deliver at 08:00 UTC.
    onboard_time_ms: 1_782_460_800_000,
    delivery_time_ms: 1_798_185_600_000,
};

impl DatedFuture {
    /// The perpetual's coin this future is on.
    pub(crate) fn underlying(&self) -> Option<&'static Coin> {
        PERPETUALS.iter().find(|coin| coin.base == self.base)
    }
}

/// A market the ground truth knows: a live perpetual, or Hyperliquid's delisted one.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Listing {
    Live(&'static Coin),
    Delisted(&'static DelistedCoin),
}

impl Coin {
    /// The Binance/Bybit symbol, `BTCUSDT`.
    pub(crate) fn usdt_symbol(&self) -> String {
        format!("{}{QUOTE_COIN}", self.base)
    }

    /// The funding interval of this coin's perpetual on `venue`.
    pub(crate) const fn funding_interval_hours_on(&self, venue: Venue) -> u32 {
        match venue {
            Venue::Binance | Venue::Bybit => self.funding_interval_hours,
            Venue::Hyperliquid => HYPERLIQUID_FUNDING_INTERVAL_HOURS,
        }
    }
}

/// The perpetual behind a Binance/Bybit symbol (`BTCUSDT`); `None` for anything else, dated futures included.
pub(crate) fn coin_by_usdt_symbol(symbol: &str) -> Option<&'static Coin> {
    let base = symbol.strip_suffix(QUOTE_COIN)?;
    PERPETUALS.iter().find(|coin| coin.base == base)
}

/// The live perpetual Hyperliquid's info API calls `name` (`kPEPE`; `1000PEPE` is not a Hyperliquid coin).
pub(crate) fn coin_by_hyperliquid_name(name: &str) -> Option<&'static Coin> {
    PERPETUALS.iter().find(|coin| coin.hyperliquid_name == name)
}

/// The market `coin` names on `venue`. Base coins (`BTC`, `1000PEPE`) work everywhere; Hyperliquid also
/// accepts its own names (`kPEPE`) and its delisted `LOOM`.
pub(crate) fn listing(venue: Venue, coin: &str) -> Option<Listing> {
    let on_hyperliquid = venue == Venue::Hyperliquid;
    if let Some(live) = PERPETUALS
        .iter()
        .find(|c| c.base == coin || (on_hyperliquid && c.hyperliquid_name == coin))
    {
        return Some(Listing::Live(live));
    }
    (on_hyperliquid && coin == HYPERLIQUID_DELISTED.name)
        .then_some(Listing::Delisted(&HYPERLIQUID_DELISTED))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symbols_resolve_to_their_coin_and_nothing_else() {
        assert_eq!(
            coin_by_usdt_symbol("1000PEPEUSDT").map(|c| c.base),
            Some("1000PEPE")
        );
        assert!(coin_by_usdt_symbol(BINANCE_DATED_FUTURE.symbol).is_none());
        assert!(coin_by_usdt_symbol("BTCUSD").is_none());
        assert!(coin_by_usdt_symbol("USDT").is_none());
    }

    #[test]
    fn hyperliquid_names_are_only_known_on_hyperliquid() {
        assert!(
            matches!(listing(Venue::Hyperliquid, "kPEPE"), Some(Listing::Live(c)) if c.base == "1000PEPE")
        );
        assert!(matches!(
            listing(Venue::Hyperliquid, "1000PEPE"),
            Some(Listing::Live(_))
        ));
        assert!(matches!(
            listing(Venue::Hyperliquid, "LOOM"),
            Some(Listing::Delisted(_))
        ));
        assert_eq!(
            coin_by_hyperliquid_name("kPEPE").map(|c| c.base),
            Some("1000PEPE")
        );
        assert!(coin_by_hyperliquid_name("1000PEPE").is_none());
        assert!(coin_by_hyperliquid_name("LOOM").is_none());
        assert!(listing(Venue::Binance, "kPEPE").is_none());
        assert!(listing(Venue::Bybit, "LOOM").is_none());
        assert!(listing(Venue::Binance, "NOPE").is_none());
    }

    #[test]
    fn ten_coins_listed_on_binance_first_then_bybit_then_hyperliquid() {
        assert!(
            PERPETUALS.len() >= 10,
            "benchmarks need 10 symbols per venue"
        );
        for coin in &PERPETUALS {
            let listed = coin.listed_ms;
            assert!(
                0 < listed.binance
                    && listed.binance < listed.bybit
                    && listed.bybit < listed.hyperliquid,
                "{}",
                coin.base
            );
        }
    }

    #[test]
    fn tick_sizes_fit_their_scale() {
        for coin in &PERPETUALS {
            let ticks = coin.tick_size * 10f64.powi(coin.price_scale as i32);
            assert!(
                (ticks - ticks.round()).abs() < 1e-9,
                "{} tick {}",
                coin.base,
                coin.tick_size
            );
        }
    }
}
