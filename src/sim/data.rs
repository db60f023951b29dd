//! Ground truth: the market the simulator serves, as deterministic functions of (seed, venue, coin, time).
//!
//! Tests compare what a client parsed with these functions, so every value here is already rounded to the
//! decimals the venue prints: formatting the returned number and parsing it back gives the same `f64`.
//! Time is quantised to whole seconds, so two requests within one second see one snapshot. Values wander
//! smoothly: each series is a sum of value-noise octaves (hashed knots, smoothstep between them), so a
//! one-second step moves prices by basis points, not percent.
//!
//! `coin` is the base coin (`BTC`, `1000PEPE`); on Hyperliquid its own names (`kPEPE`, the delisted `LOOM`) work
//! too. A coin the simulator does not list has no ground truth: the value functions return NaN for it, the
//! history functions nothing.
//!
//! The histories hold the same values the snapshots show at the history's timestamps; which timestamps exist
//! (periods, funding intervals, listing dates, Binance's 30-day retention, Hyperliquid's settlement jitter) is
//! decided in `history`.

use crate::model::Venue;
use crate::sim::catalog::{self, Coin, DelistedCoin, Listing};
use crate::sim::history;

/// Open interest in base units (contracts of 1 coin; `1000PEPE`/`kPEPE` count thousands of PEPE).
pub fn open_interest(seed: u64, venue: Venue, coin: &str, t_ms: i64) -> f64 {
    quote_value(seed, venue, coin, t_ms, |quote| quote.open_interest)
}

/// Mark price in USDT (Hyperliquid: USDC).
pub fn mark_price(seed: u64, venue: Venue, coin: &str, t_ms: i64) -> f64 {
    quote_value(seed, venue, coin, t_ms, |quote| quote.mark)
}

/// Index price (Hyperliquid: the oracle price `oraclePx`).
pub fn index_price(seed: u64, venue: Venue, coin: &str, t_ms: i64) -> f64 {
    quote_value(seed, venue, coin, t_ms, |quote| quote.index)
}

/// The funding rate of one funding interval (not annualised, not per hour) in force at `t_ms`: the
/// venues' current estimate (`lastFundingRate`, `fundingRate`, `funding`), and at a funding time the rate
/// that is settled.
pub fn funding_rate(seed: u64, venue: Venue, coin: &str, t_ms: i64) -> f64 {
    quote_value(seed, venue, coin, t_ms, |quote| quote.funding_rate)
}

/// Hours between funding payments of `coin` on `venue` (an unknown coin gets the venue's default).
pub fn funding_interval_hours(venue: Venue, coin: &str) -> u32 {
    match catalog::listing(venue, coin) {
        Some(Listing::Live(live)) => live.funding_interval_hours_on(venue),
        _ if venue == Venue::Hyperliquid => catalog::HYPERLIQUID_FUNDING_INTERVAL_HOURS,
        _ => catalog::DEFAULT_FUNDING_INTERVAL_HOURS,
    }
}

/// When `coin`'s perpetual was listed on `venue`, ms since the epoch: its histories begin there. `None` for a
/// market the simulator does not list live (unknown coins, and Hyperliquid's delisted `LOOM`, whose past is not
/// simulated).
pub fn listing_time_ms(venue: Venue, coin: &str) -> Option<i64> {
    live_coin(venue, coin).map(|live| live.listed_ms.get(venue))
}

/// Exactly the open-interest statistics `venue`'s history serves for [start_ms, end_ms] (inclusive) at `now_ms`,
/// paging aside, ascending: (timestamp ms, open interest in base units, its value in quote units where the venue
/// states one: Binance `sumOpenInterestValue`, Bybit none). Timestamps are the UTC-aligned multiples of
/// `period_ms` from the listing to `now_ms`; Binance keeps only those from `now_ms` − 30 days on. Hyperliquid
/// has no open-interest history: always empty.
pub fn open_interest_history(
    seed: u64,
    venue: Venue,
    coin: &str,
    period_ms: i64,
    start_ms: i64,
    end_ms: i64,
    now_ms: i64,
) -> Vec<(i64, f64, Option<f64>)> {
    let Some(live) = live_coin(venue, coin) else {
        return Vec::new();
    };
    history::open_interest_points(venue, live, period_ms, start_ms, end_ms, now_ms)
        .times()
        .map(|t_ms| {
            let statistic = open_interest_statistic(seed, venue, live, t_ms);
            let stated_value = (venue == Venue::Binance).then_some(statistic.value.value);
            (t_ms, statistic.open_interest.value, stated_value)
        })
        .collect()
}

/// The funding settlements of `coin` on `venue` in [start_ms, end_ms] (inclusive) up to `now_ms`, paging aside,
/// ascending: (funding time ms, the rate settled, the mark price then where the venue states it: Binance yes).
/// Settlements happen from the listing on at the boundaries of the coin's funding interval; on Hyperliquid every
/// hour, each a deterministic 0–999 ms after the hour.
pub fn funding_history(
    seed: u64,
    venue: Venue,
    coin: &str,
    start_ms: i64,
    end_ms: i64,
    now_ms: i64,
) -> Vec<(i64, f64, Option<f64>)> {
    let Some(live) = live_coin(venue, coin) else {
        return Vec::new();
    };
    history::funding_points(seed, venue, live, start_ms, end_ms, now_ms)
        .times()
        .map(|t_ms| {
            let quote = live_quote(seed, venue, live, t_ms);
            let stated_mark = (venue == Venue::Binance).then_some(quote.mark.value);
            (t_ms, quote.funding_rate.value, stated_mark)
        })
        .collect()
}

fn live_coin(venue: Venue, coin: &str) -> Option<&'static Coin> {
    match catalog::listing(venue, coin)? {
        Listing::Live(live) => Some(live),
        Listing::Delisted(_) => None,
    }
}

/// One point of an open-interest history: the open interest then, and its value in quote units (only Binance
/// states it).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct OpenInterestStatistic {
    pub open_interest: Decimal,
    pub value: Decimal,
}

pub(crate) fn open_interest_statistic(
    seed: u64,
    venue: Venue,
    coin: &Coin,
    t_ms: i64,
) -> OpenInterestStatistic {
    let quote = live_quote(seed, venue, coin, t_ms);
    OpenInterestStatistic {
        open_interest: quote.open_interest,
        // At the mark price, to 8 decimals, as Binance's `sumOpenInterestValue`.
        value: Decimal::round(quote.open_interest.value * quote.mark.value, 8),
    }
}

fn quote_value(
    seed: u64,
    venue: Venue,
    coin: &str,
    t_ms: i64,
    field: fn(&Quote) -> Decimal,
) -> f64 {
    catalog::listing(venue, coin).map_or(f64::NAN, |listing| {
        field(&quote(seed, venue, listing, t_ms)).value
    })
}

/// A number rounded to `scale` decimals, which is how the venue prints it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Decimal {
    pub value: f64,
    pub scale: u32,
}

impl Decimal {
    pub(crate) fn round(value: f64, scale: u32) -> Decimal {
        let factor = 10f64.powi(scale as i32);
        // Dividing the rounded integer by an exact power of ten gives the f64 nearest to that decimal, which is
        // what a client's parser produces from the printed digits. `+ 0.0` turns -0.0 into 0.0.
        Decimal {
            value: (value * factor).round() / factor + 0.0,
            scale,
        }
    }

    /// Fixed decimals, as Binance and Bybit print (`"0.00010000"`, `"60123.40"`).
    pub(crate) fn fixed(&self) -> String {
        format!("{:.*}", self.scale as usize, self.value)
    }

    /// Shortest digits with at least one decimal, as Hyperliquid prints (`"0.0000125"`, `"77562.0"`).
    pub(crate) fn shortest(&self) -> String {
        let digits = self.trimmed();
        if digits.contains('.') {
            digits
        } else {
            digits + ".0"
        }
    }

    /// Shortest digits, no forced decimal point, as Bybit prints funding history rates (`"0.0001"`, `"0"`).
    /// (Rust never prints an `f64` with an exponent.)
    pub(crate) fn trimmed(&self) -> String {
        self.value.to_string()
    }

    /// The same number printed with at least `scale` decimals, zero-padded (`20403.637` as
    /// `"20403.63700000"`): the value stays what it is.
    pub(crate) fn padded(self, scale: u32) -> Decimal {
        Decimal {
            value: self.value,
            scale: self.scale.max(scale),
        }
    }
}

/// The values of one market at one instant, rounded as `venue` prints them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Quote {
    pub mark: Decimal,
    pub index: Decimal,
    pub funding_rate: Decimal,
    pub open_interest: Decimal,
}

pub(crate) fn quote(seed: u64, venue: Venue, listing: Listing, t_ms: i64) -> Quote {
    match listing {
        Listing::Live(coin) => live_quote(seed, venue, coin, t_ms),
        Listing::Delisted(coin) => delisted_quote(coin),
    }
}

fn live_quote(seed: u64, venue: Venue, coin: &Coin, t_ms: i64) -> Quote {
    let second = t_ms.div_euclid(1000);
    let fair = coin.reference_price
        * wander(
            series(seed, "fair", None, coin),
            second,
            &FAIR_PRICE_OCTAVES,
        )
        .exp();
    let index = fair
        * (1.0
            + wander(
                series(seed, "index", Some(venue), coin),
                second,
                &INDEX_OCTAVES,
            ));
    let mark = index
        * (1.0
            + wander(
                series(seed, "basis", Some(venue), coin),
                second,
                &BASIS_OCTAVES,
            ));
    let rate_per_8h = FUNDING_BASELINE_PER_8H
        + wander(
            series(seed, "funding", Some(venue), coin),
            second,
            &FUNDING_OCTAVES,
        );
    let interval_share = f64::from(coin.funding_interval_hours_on(venue)) / 8.0;
    let open_interest = coin.typical_open_interest.get(venue)
        * wander(
            series(seed, "open-interest", Some(venue), coin),
            second,
            &OPEN_INTEREST_OCTAVES,
        )
        .exp();
    Quote {
        mark: Decimal::round(mark, price_scale(venue, coin, mark)),
        index: Decimal::round(index, price_scale(venue, coin, index)),
        funding_rate: Decimal::round(rate_per_8h * interval_share, funding_scale(venue)),
        open_interest: Decimal::round(open_interest, quantity_scale(venue, coin)),
    }
}

fn delisted_quote(coin: &DelistedCoin) -> Quote {
    let price = |value| Decimal::round(value, hyperliquid_price_scale(coin.size_decimals, value));
    Quote {
        mark: price(coin.final_mark_price),
        index: price(coin.final_oracle_price),
        funding_rate: Decimal::round(0.0, funding_scale(Venue::Hyperliquid)),
        open_interest: Decimal::round(0.0, coin.size_decimals),
    }
}

/// Base units traded over the 24 hours before `t_ms` (Bybit `volume24h`, Hyperliquid `dayBaseVlm`).
pub(crate) fn day_base_volume(seed: u64, venue: Venue, coin: &Coin, t_ms: i64) -> Decimal {
    let turnover_ratio = 1.5
        * wander(
            series(seed, "volume", Some(venue), coin),
            t_ms.div_euclid(1000),
            &VOLUME_OCTAVES,
        )
        .exp();
    Decimal::round(
        coin.typical_open_interest.get(venue) * turnover_ratio,
        quantity_scale(venue, coin),
    )
}

/// A number in [0, 1) that stays fixed for one second, for cosmetic fields (book sizes) that have no
/// ground truth of their own.
pub(crate) fn cosmetic_fraction(
    seed: u64,
    venue: Venue,
    coin: &Coin,
    field: &str,
    t_ms: i64,
) -> f64 {
    let key = series(seed, field, Some(venue), coin);
    unit_interval(splitmix64(key ^ splitmix64(t_ms.div_euclid(1000) as u64)))
}

/// The first funding time after `now_ms`: funding happens at UTC-aligned multiples of the interval.
pub(crate) fn next_funding_time_ms(interval_hours: u32, now_ms: i64) -> i64 {
    let interval_ms = i64::from(interval_hours.max(1)) * 3_600_000;
    (now_ms.div_euclid(interval_ms) + 1) * interval_ms
}

/// Decimals of a price: Binance prints 8; Bybit its `priceScale`; Hyperliquid 5 significant figures and at most
/// `6 - szDecimals` decimals (its perp price rule).
pub(crate) fn price_scale(venue: Venue, coin: &Coin, price: f64) -> u32 {
    match venue {
        Venue::Binance => 8,
        Venue::Bybit => coin.price_scale,
        Venue::Hyperliquid => hyperliquid_price_scale(coin.hyperliquid_size_decimals, price),
    }
}

fn hyperliquid_price_scale(size_decimals: u32, price: f64) -> u32 {
    const SIGNIFICANT_FIGURES: i32 = 5;
    const MAX_PERP_DECIMALS: u32 = 6;
    let magnitude = if price > 0.0 {
        price.log10().floor() as i32
    } else {
        0
    };
    let for_significant_figures = (SIGNIFICANT_FIGURES - 1 - magnitude).max(0) as u32;
    for_significant_figures.min(MAX_PERP_DECIMALS.saturating_sub(size_decimals))
}

/// Decimals of open interest and volumes: the venue's order-size step.
pub(crate) fn quantity_scale(venue: Venue, coin: &Coin) -> u32 {
    match venue {
        Venue::Binance | Venue::Bybit => coin.quantity_scale,
        Venue::Hyperliquid => coin.hyperliquid_size_decimals,
    }
}

/// Decimals of funding rates: Binance and Bybit print 8; Hyperliquid up to 10 (`"-0.0000015186"`).
pub(crate) const fn funding_scale(venue: Venue) -> u32 {
    match venue {
        Venue::Binance | Venue::Bybit => 8,
        Venue::Hyperliquid => 10,
    }
}

/// 0.01 % per 8 hours: the venues' usual funding when premium is flat (their interest-rate component).
const FUNDING_BASELINE_PER_8H: f64 = 0.0001;

/// One octave of value noise: knots every `period_s` seconds, each a random level in [-amplitude, amplitude].
struct Octave {
    period_s: i64,
    amplitude: f64,
}

/// Log-price moves shared by all venues: ±10 % over days down to ±0.08 % within a minute.
const FAIR_PRICE_OCTAVES: [Octave; 4] = [
    Octave {
        period_s: 3 * 86_400,
        amplitude: 0.10,
    },
    Octave {
        period_s: 4 * 3_600,
        amplitude: 0.03,
    },
    Octave {
        period_s: 600,
        amplitude: 0.006,
    },
    Octave {
        period_s: 20,
        amplitude: 0.0008,
    },
];
/// Each venue's index uses its own constituents, so it strays a few basis points from the others.
const INDEX_OCTAVES: [Octave; 2] = [
    Octave {
        period_s: 900,
        amplitude: 0.0004,
    },
    Octave {
        period_s: 30,
        amplitude: 0.00005,
    },
];
/// Mark minus index, relative: the perpetual's premium.
const BASIS_OCTAVES: [Octave; 2] = [
    Octave {
        period_s: 3_600,
        amplitude: 0.0006,
    },
    Octave {
        period_s: 60,
        amplitude: 0.0001,
    },
];
/// Added to the baseline, per 8 hours: rates from -0.02 % to +0.04 %, so some are negative.
const FUNDING_OCTAVES: [Octave; 2] = [
    Octave {
        period_s: 8 * 3_600,
        amplitude: 0.00025,
    },
    Octave {
        period_s: 3_600,
        amplitude: 0.00005,
    },
];
/// Log open-interest moves: ±20 % over days, ±0.5 % within minutes.
const OPEN_INTEREST_OCTAVES: [Octave; 3] = [
    Octave {
        period_s: 2 * 86_400,
        amplitude: 0.2,
    },
    Octave {
        period_s: 3 * 3_600,
        amplitude: 0.05,
    },
    Octave {
        period_s: 300,
        amplitude: 0.005,
    },
];
const VOLUME_OCTAVES: [Octave; 1] = [Octave {
    period_s: 6 * 3_600,
    amplitude: 0.3,
}];

/// The sum of `octaves` of smooth noise of one series at `second`.
fn wander(series_key: u64, second: i64, octaves: &[Octave]) -> f64 {
    octaves
        .iter()
        .zip(0u64..)
        .map(|(octave, number)| {
            octave.amplitude * value_noise(splitmix64(series_key ^ number), second, octave.period_s)
        })
        .sum()
}

/// Smooth noise in [-1, 1]: random levels at multiples of `period_s`, eased between with smoothstep so the
/// path has no kinks.
fn value_noise(key: u64, second: i64, period_s: i64) -> f64 {
    let knot = second.div_euclid(period_s);
    let progress = second.rem_euclid(period_s) as f64 / period_s as f64;
    let eased = progress * progress * (3.0 - 2.0 * progress);
    let level = |knot: i64| 2.0 * unit_interval(splitmix64(key ^ splitmix64(knot as u64))) - 1.0;
    let (from, to) = (level(knot), level(knot + 1));
    from + (to - from) * eased
}

/// The key of one random series: what it is, for which market (venue `None`: shared by all venues).
pub(crate) fn series(seed: u64, name: &str, venue: Option<Venue>, coin: &Coin) -> u64 {
    let venue_tag = venue.map_or(0, |v| 1 + v as u64);
    [hash_str(name), venue_tag, hash_str(coin.base)]
        .into_iter()
        .fold(splitmix64(seed), |key, part| splitmix64(key ^ part))
}

/// SplitMix64's output function: a cheap bijective mixer whose outputs look independent for nearby inputs.
pub(crate) fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// FNV-1a, to turn names into hash inputs.
pub(crate) fn hash_str(text: &str) -> u64 {
    text.bytes().fold(0xCBF2_9CE4_8422_2325, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01B3)
    })
}

/// Pseudo-random numbers for randomised tests: the simulator's own mixer over a counter.
#[cfg(test)]
pub(crate) struct Draws(u64);

#[cfg(test)]
impl Draws {
    pub(crate) fn new(seed: u64) -> Draws {
        Draws(splitmix64(seed))
    }

    /// A number in [0, bound) (0 if `bound` is 0).
    pub(crate) fn below(&mut self, bound: u64) -> u64 {
        self.0 = self.0.wrapping_add(1);
        splitmix64(self.0) % bound.max(1)
    }

    /// A number in [low, high].
    pub(crate) fn between(&mut self, low: i64, high: i64) -> i64 {
        low + self.below(high.abs_diff(low) + 1) as i64
    }

    pub(crate) fn coin_flip(&mut self) -> bool {
        self.below(2) == 0
    }

    pub(crate) fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

/// The top 53 bits of a hash as a float in [0, 1).
fn unit_interval(hash: u64) -> f64 {
    (hash >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::catalog::PERPETUALS;

    const T0: i64 = 1_767_225_600_000; // 2026-01-01T00:00:00Z

    fn all_coins_on(venue: Venue) -> Vec<&'static str> {
        let mut coins: Vec<&str> = PERPETUALS.iter().map(|coin| coin.base).collect();
        if venue == Venue::Hyperliquid {
            coins.extend(["kPEPE", "LOOM"]);
        }
        coins
    }

    fn all_values(seed: u64, venue: Venue, coin: &str, t_ms: i64) -> [f64; 4] {
        [
            open_interest(seed, venue, coin, t_ms),
            mark_price(seed, venue, coin, t_ms),
            index_price(seed, venue, coin, t_ms),
            funding_rate(seed, venue, coin, t_ms),
        ]
    }

    #[test]
    fn same_inputs_give_same_values_and_one_second_is_one_snapshot() {
        for venue in Venue::ALL {
            for coin in all_coins_on(venue) {
                let first = all_values(7, venue, coin, T0 + 1_000);
                assert_eq!(first, all_values(7, venue, coin, T0 + 1_000));
                assert_eq!(
                    first,
                    all_values(7, venue, coin, T0 + 1_999),
                    "{venue} {coin}"
                );
            }
        }
    }

    #[test]
    fn the_seed_changes_the_market() {
        for venue in Venue::ALL {
            for coin in PERPETUALS.iter().map(|coin| coin.base) {
                let (a, b) = (
                    all_values(1, venue, coin, T0),
                    all_values(2, venue, coin, T0),
                );
                for (x, y) in a.iter().zip(&b) {
                    assert_ne!(x, y, "{venue} {coin}");
                }
            }
        }
    }

    #[test]
    fn printed_values_parse_back_to_the_ground_truth() {
        for seed in [0, 1, 99] {
            for venue in Venue::ALL {
                for listing in all_coins_on(venue)
                    .into_iter()
                    .filter_map(|coin| catalog::listing(venue, coin))
                {
                    for step in 0..200 {
                        let quote = quote(seed, venue, listing, T0 + step * 7_919_000);
                        for decimal in [
                            quote.mark,
                            quote.index,
                            quote.funding_rate,
                            quote.open_interest,
                        ] {
                            for printed in [
                                decimal.fixed(),
                                decimal.shortest(),
                                decimal.trimmed(),
                                decimal.padded(8).fixed(),
                            ] {
                                assert_eq!(
                                    printed.parse::<f64>().ok(),
                                    Some(decimal.value),
                                    "{printed}"
                                );
                                assert!(
                                    !printed.contains('e'),
                                    "no exponents on the wire: {printed}"
                                );
                                assert_eq!(
                                    printed.starts_with('-'),
                                    decimal.value < 0.0,
                                    "no negative zero: {printed}"
                                );
                            }
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn fixed_and_shortest_print_like_the_venues() {
        assert_eq!(Decimal::round(0.0001, 8).fixed(), "0.00010000");
        assert_eq!(Decimal::round(60_123.456, 2).fixed(), "60123.46");
        assert_eq!(Decimal::round(77_562.0, 0).shortest(), "77562.0");
        assert_eq!(Decimal::round(0.0000125, 10).shortest(), "0.0000125");
        assert_eq!(Decimal::round(-0.000_000_000_01, 8).fixed(), "0.00000000");
    }

    #[test]
    fn magnitudes_are_plausible() {
        let expected_marks = [
            ("BTC", 60_000.0),
            ("ETH", 3_000.0),
            ("SOL", 150.0),
            ("XRP", 0.6),
            ("DOGE", 0.15),
            ("1000PEPE", 0.012),
            ("BNB", 600.0),
            ("ADA", 0.45),
            ("AVAX", 30.0),
            ("LINK", 15.0),
        ];
        assert_eq!(expected_marks.len(), PERPETUALS.len());
        for venue in Venue::ALL {
            for (coin, reference) in expected_marks {
                for day in 0..30 {
                    let t = T0 + day * 86_400_000;
                    let mark = mark_price(3, venue, coin, t);
                    assert!(
                        mark > reference * 0.6 && mark < reference * 1.6,
                        "{venue} {coin} mark {mark}"
                    );
                    let basis = mark / index_price(3, venue, coin, t) - 1.0;
                    assert!(basis.abs() < 0.005, "{venue} {coin} basis {basis}");
                    assert!(open_interest(3, venue, coin, t) > 0.0);
                    let per_8h = funding_rate(3, venue, coin, t) * 8.0
                        / f64::from(funding_interval_hours(venue, coin));
                    assert!(per_8h.abs() < 0.001, "{venue} {coin} funding {per_8h}");
                }
            }
        }
    }

    #[test]
    fn funding_has_both_signs() {
        let rates: Vec<f64> = (0..500)
            .map(|hour| funding_rate(0, Venue::Binance, "BTC", T0 + hour * 3_600_000))
            .collect();
        assert!(rates.iter().any(|rate| *rate < 0.0));
        assert!(rates.iter().any(|rate| *rate > 0.0001));
    }

    #[test]
    fn prices_move_smoothly_between_seconds() {
        for venue in Venue::ALL {
            let mut previous = mark_price(5, venue, "ETH", T0);
            for second in 1..3_600 {
                let mark = mark_price(5, venue, "ETH", T0 + second * 1_000);
                assert!(
                    (mark / previous - 1.0).abs() < 0.001,
                    "{venue} jump at {second}s: {previous} -> {mark}"
                );
                previous = mark;
            }
        }
    }

    #[test]
    fn funding_intervals_and_unknown_coins() {
        assert_eq!(funding_interval_hours(Venue::Binance, "DOGE"), 4);
        assert_eq!(funding_interval_hours(Venue::Bybit, "BTC"), 8);
        assert_eq!(funding_interval_hours(Venue::Hyperliquid, "DOGE"), 1);
        assert_eq!(funding_interval_hours(Venue::Binance, "NOPE"), 8);
        assert!(mark_price(0, Venue::Binance, "NOPE", T0).is_nan());
        assert!(open_interest(0, Venue::Binance, "kPEPE", T0).is_nan());
    }

    #[test]
    fn hyperliquid_names_share_the_coin_and_delisted_markets_are_frozen() {
        assert_eq!(
            mark_price(4, Venue::Hyperliquid, "kPEPE", T0),
            mark_price(4, Venue::Hyperliquid, "1000PEPE", T0)
        );
        assert_eq!(open_interest(4, Venue::Hyperliquid, "LOOM", T0), 0.0);
        assert_eq!(funding_rate(4, Venue::Hyperliquid, "LOOM", T0), 0.0);
        assert_eq!(
            mark_price(4, Venue::Hyperliquid, "LOOM", T0),
            mark_price(5, Venue::Hyperliquid, "LOOM", T0 + 9_999_999)
        );
    }

    #[test]
    fn hyperliquid_prices_keep_five_significant_figures() {
        let btc = &PERPETUALS[0];
        assert_eq!(price_scale(Venue::Hyperliquid, btc, 77_562.3), 0);
        assert_eq!(price_scale(Venue::Hyperliquid, btc, 2_124.6), 1);
        let pepe = &PERPETUALS[5];
        assert_eq!(price_scale(Venue::Hyperliquid, pepe, 0.012345), 6);
    }

    #[test]
    fn histories_hold_the_snapshot_values_at_their_timestamps() {
        // A second past a boundary: each range holds whole days, Hyperliquid's jittered settlements included.
        let now = T0 + 7 * 3_600_000 + 1_000;
        for venue in [Venue::Binance, Venue::Bybit] {
            for coin in PERPETUALS.iter().map(|coin| coin.base) {
                let statistics =
                    open_interest_history(9, venue, coin, 3_600_000, now - 86_400_000, now, now);
                assert_eq!(statistics.len(), 24, "{venue} {coin}");
                for (t_ms, open_interest_now, value) in statistics {
                    assert_eq!(open_interest_now, open_interest(9, venue, coin, t_ms));
                    let mark = mark_price(9, venue, coin, t_ms);
                    match value {
                        Some(value) => {
                            assert_eq!(venue, Venue::Binance);
                            assert!((value / (open_interest_now * mark) - 1.0).abs() < 1e-12);
                        }
                        None => assert_eq!(venue, Venue::Bybit),
                    }
                }
            }
        }
        for venue in Venue::ALL {
            for coin in PERPETUALS.iter().map(|coin| coin.base) {
                let settlements = funding_history(9, venue, coin, now - 86_400_000, now, now);
                let per_day = 24 / funding_interval_hours(venue, coin) as usize;
                assert_eq!(settlements.len(), per_day, "{venue} {coin}");
                for (t_ms, rate, mark) in settlements {
                    assert_eq!(rate, funding_rate(9, venue, coin, t_ms));
                    let expected_mark =
                        (venue == Venue::Binance).then(|| mark_price(9, venue, coin, t_ms));
                    assert_eq!(mark, expected_mark);
                }
            }
        }
    }

    #[test]
    fn history_values_print_and_parse_back() {
        let now = T0 + 30 * 86_400_000;
        for venue in [Venue::Binance, Venue::Bybit] {
            for coin in &PERPETUALS {
                for t_ms in (0..200).map(|step| now - step * 3 * 3_600_000) {
                    let statistic = open_interest_statistic(2, venue, coin, t_ms);
                    for decimal in [statistic.open_interest.padded(8), statistic.value] {
                        assert_eq!(decimal.fixed().parse::<f64>().ok(), Some(decimal.value));
                    }
                }
            }
        }
    }

    #[test]
    fn listing_times_and_markets_without_history() {
        assert_eq!(
            listing_time_ms(Venue::Hyperliquid, "kPEPE"),
            listing_time_ms(Venue::Hyperliquid, "1000PEPE")
        );
        assert!(listing_time_ms(Venue::Binance, "BTC") < listing_time_ms(Venue::Bybit, "BTC"));
        assert_eq!(listing_time_ms(Venue::Hyperliquid, "LOOM"), None);
        assert_eq!(listing_time_ms(Venue::Binance, "NOPE"), None);
        assert!(funding_history(0, Venue::Hyperliquid, "LOOM", 0, T0, T0).is_empty());
        assert!(
            open_interest_history(0, Venue::Hyperliquid, "BTC", 3_600_000, 0, T0, T0).is_empty()
        );
        assert!(open_interest_history(0, Venue::Bybit, "NOPE", 3_600_000, 0, T0, T0).is_empty());
        assert!(open_interest_history(0, Venue::Bybit, "BTC", 0, T0 - 1, T0, T0).is_empty());
    }

    #[test]
    fn next_funding_time_is_the_next_aligned_boundary() {
        assert_eq!(next_funding_time_ms(8, T0), T0 + 8 * 3_600_000);
        assert_eq!(next_funding_time_ms(8, T0 + 1), T0 + 8 * 3_600_000);
        assert_eq!(
            next_funding_time_ms(4, T0 + 5 * 3_600_000),
            T0 + 8 * 3_600_000
        );
        assert_eq!(next_funding_time_ms(1, T0 - 1), T0);
    }
}
