//! Which points the venues' histories hold: open-interest statistics at UTC-aligned multiples of their period,
//! funding settlements on the boundaries of the coin's funding interval (Hyperliquid: a fraction of a second after
//! each hour), from the coin's listing up to the simulator clock, and within Binance's 30-day retention.
//!
//! A range of points is slot arithmetic, never a list: an endpoint first narrows it to its page (the first or the
//! last `limit` points) and computes values only for what it serves, so a page costs the same whether the range
//! spans a day or six years. The ground truth in `data` maps every point of a range.

use crate::model::Venue;
use crate::sim::catalog::Coin;
use crate::sim::data;

pub(crate) const MINUTE_MS: i64 = 60_000;
pub(crate) const HOUR_MS: i64 = 60 * MINUTE_MS;
pub(crate) const DAY_MS: i64 = 24 * HOUR_MS;

/// Binance serves open-interest statistics of the last 30 days only ("Only the data of the latest 30 days is
/// available").
pub(crate) const BINANCE_OPEN_INTEREST_RETENTION_MS: i64 = 30 * DAY_MS;

/// Hyperliquid records a settlement up to this long after the hour (its live captures show 13 to 731 ms).
const MAX_SETTLEMENT_DELAY_MS: i64 = 999;

/// Page sizes of a paged endpoint: what `limit` is when not sent, and the most it may be.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PageLimits {
    pub default: usize,
    pub max: usize,
}

impl PageLimits {
    /// The page size for the `limit` requested: the default if none; `None` (the venue's error) outside 1..=max.
    pub(crate) fn size(&self, requested: Option<i64>) -> Option<usize> {
        match requested {
            None => Some(self.default),
            Some(limit) => usize::try_from(limit)
                .ok()
                .filter(|limit| (1..=self.max).contains(limit)),
        }
    }
}

/// Where a point lies relative to its slot's boundary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Delay {
    /// On it (Binance, Bybit).
    None,
    /// 0–999 ms after it, a fixed function of the slot and this key (Hyperliquid's settlements), so clients must
    /// page from the last time they saw rather than assume round hours.
    Jitter(u64),
}

/// Consecutive points of one series. Slot `k` (`first_slot <= k < end_slot`) is the boundary `k * step_ms`; its
/// point lies there plus the slot's delay. Delays are shorter than a step, so points keep the slots' order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Points {
    step_ms: i64,
    first_slot: i64,
    end_slot: i64,
    delay: Delay,
}

impl Points {
    pub(crate) const NONE: Points = Points {
        step_ms: 1,
        first_slot: 0,
        end_slot: 0,
        delay: Delay::None,
    };

    /// The points within [from_ms, to_ms]; none if `step_ms` is not positive.
    fn within(step_ms: i64, delay: Delay, from_ms: i64, to_ms: i64) -> Points {
        if step_ms <= 0 || from_ms > to_ms {
            return Points::NONE;
        }
        let mut points = Points {
            step_ms,
            first_slot: 0,
            end_slot: 0,
            delay,
        };
        // A point lies at most one maximal delay after its boundary, so the first slot that can reach `from_ms`
        // starts at most that long before it. Only that slot can still fall short: the next starts a step later.
        let mut first = ceil_div(from_ms.saturating_sub(points.max_delay_ms()), step_ms);
        if points.time_of(first) < from_ms {
            first = first.saturating_add(1);
        }
        let mut last = to_ms.div_euclid(step_ms);
        if points.time_of(last) > to_ms {
            last = last.saturating_sub(1);
        }
        points.first_slot = first;
        points.end_slot = last.saturating_add(1).max(first);
        points
    }

    pub(crate) fn len(&self) -> usize {
        usize::try_from(self.end_slot.saturating_sub(self.first_slot)).unwrap_or(usize::MAX)
    }

    /// The earliest `count` points.
    pub(crate) fn first(self, count: usize) -> Points {
        Points {
            end_slot: self.first_slot.saturating_add(self.clamped(count)),
            ..self
        }
    }

    /// The latest `count` points.
    pub(crate) fn last(self, count: usize) -> Points {
        Points {
            first_slot: self.end_slot.saturating_sub(self.clamped(count)),
            ..self
        }
    }

    /// The points' times, ascending (`.rev()` for newest first).
    pub(crate) fn times(self) -> impl DoubleEndedIterator<Item = i64> {
        (self.first_slot..self.end_slot).map(move |slot| self.time_of(slot))
    }

    /// `count`, but no more than there are points.
    fn clamped(&self, count: usize) -> i64 {
        let available = self.end_slot.saturating_sub(self.first_slot);
        i64::try_from(count).unwrap_or(i64::MAX).min(available)
    }

    fn time_of(&self, slot: i64) -> i64 {
        slot.saturating_mul(self.step_ms)
            .saturating_add(self.delay_of(slot))
    }

    fn delay_of(&self, slot: i64) -> i64 {
        match self.delay {
            Delay::None => 0,
            Delay::Jitter(key) => {
                let spread = self.max_delay_ms() as u64 + 1;
                (data::splitmix64(key ^ data::splitmix64(slot as u64)) % spread) as i64
            }
        }
    }

    fn max_delay_ms(&self) -> i64 {
        match self.delay {
            Delay::None => 0,
            Delay::Jitter(_) => MAX_SETTLEMENT_DELAY_MS.min(self.step_ms - 1),
        }
    }
}

/// The open-interest statistics `venue` keeps for `coin` every `period_ms` within [start_ms, end_ms], as of
/// `now_ms`: from the listing (Binance: from 30 days ago at most) up to now. Hyperliquid keeps none.
pub(crate) fn open_interest_points(
    venue: Venue,
    coin: &Coin,
    period_ms: i64,
    start_ms: i64,
    end_ms: i64,
    now_ms: i64,
) -> Points {
    let kept_since_ms = match venue {
        Venue::Binance => now_ms.saturating_sub(BINANCE_OPEN_INTEREST_RETENTION_MS),
        Venue::Bybit => i64::MIN,
        Venue::Hyperliquid => return Points::NONE,
    };
    let from_ms = start_ms.max(coin.listed_ms.get(venue)).max(kept_since_ms);
    Points::within(period_ms, Delay::None, from_ms, end_ms.min(now_ms))
}

/// The funding settlements of `coin` on `venue` within [start_ms, end_ms], as of `now_ms`, from the listing on:
/// one per funding interval on its UTC-aligned boundary; on Hyperliquid hourly, each 0–999 ms after the hour.
pub(crate) fn funding_points(
    seed: u64,
    venue: Venue,
    coin: &Coin,
    start_ms: i64,
    end_ms: i64,
    now_ms: i64,
) -> Points {
    let interval_ms = i64::from(coin.funding_interval_hours_on(venue)) * HOUR_MS;
    let delay = match venue {
        Venue::Hyperliquid => {
            Delay::Jitter(data::series(seed, "settlement-delay", Some(venue), coin))
        }
        Venue::Binance | Venue::Bybit => Delay::None,
    };
    let from_ms = start_ms.max(coin.listed_ms.get(venue));
    Points::within(interval_ms, delay, from_ms, end_ms.min(now_ms))
}

/// `numerator / denominator` rounded up, for a positive denominator.
fn ceil_div(numerator: i64, denominator: i64) -> i64 {
    numerator.div_euclid(denominator) + i64::from(numerator.rem_euclid(denominator) != 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::catalog::PERPETUALS;
    use crate::sim::data::Draws;

    const T0: i64 = 1_767_225_600_000; // 2026-01-01T00:00:00Z

    /// Every point of the slots around [from_ms, to_ms], filtered by brute force.
    fn brute_force(step_ms: i64, delay: Delay, from_ms: i64, to_ms: i64) -> Vec<i64> {
        let wide = Points {
            step_ms,
            first_slot: from_ms.div_euclid(step_ms) - 2,
            end_slot: to_ms.div_euclid(step_ms) + 3,
            delay,
        };
        wide.times()
            .filter(|time| (from_ms..=to_ms).contains(time))
            .collect()
    }

    #[test]
    fn ranges_hold_exactly_the_points_between_their_bounds() {
        let mut draws = Draws::new(1);
        for case in 0..4_000 {
            let step_ms = *draws.pick(&[1, 7, 5 * MINUTE_MS, HOUR_MS, 4 * HOUR_MS, DAY_MS]);
            let delay = if case % 2 == 0 {
                Delay::None
            } else {
                Delay::Jitter(draws.below(u64::MAX))
            };
            let from_ms = T0 + draws.between(-3 * step_ms, 3 * step_ms);
            let to_ms = from_ms + draws.between(-2 * step_ms, 12 * step_ms);
            let points = Points::within(step_ms, delay, from_ms, to_ms);
            let expected = brute_force(step_ms, delay, from_ms, to_ms);
            assert_eq!(
                points.times().collect::<Vec<_>>(),
                expected,
                "step {step_ms} {delay:?} [{from_ms}, {to_ms}]"
            );
            assert_eq!(points.len(), expected.len());
            let count = draws.below(15) as usize;
            let take = count.min(expected.len());
            assert_eq!(
                points.first(count).times().collect::<Vec<_>>(),
                expected[..take]
            );
            assert_eq!(
                points.last(count).times().collect::<Vec<_>>(),
                expected[expected.len() - take..]
            );
        }
    }

    #[test]
    fn settlement_delays_stay_below_a_second_and_vary() {
        let points = Points::within(HOUR_MS, Delay::Jitter(99), T0, T0 + 1_000 * HOUR_MS);
        let delays: Vec<i64> = points.times().map(|time| time % HOUR_MS).collect();
        assert_eq!(delays.len(), 1_000);
        assert!(delays.iter().all(|delay| (0..=999).contains(delay)));
        assert!(delays.iter().any(|delay| *delay > 900));
        assert!(delays.iter().any(|delay| *delay < 100));
    }

    #[test]
    fn page_sizes_default_and_stay_within_bounds() {
        let limits = PageLimits {
            default: 50,
            max: 200,
        };
        assert_eq!(limits.size(None), Some(50));
        assert_eq!(limits.size(Some(1)), Some(1));
        assert_eq!(limits.size(Some(200)), Some(200));
        for refused in [0, -1, 201, i64::MIN, i64::MAX] {
            assert_eq!(limits.size(Some(refused)), None, "{refused}");
        }
    }

    #[test]
    fn degenerate_ranges_are_empty_not_panics() {
        for (step, from, to) in [
            (0, T0, T0 + 1),
            (-5, T0, T0 + 1),
            (HOUR_MS, T0 + 1, T0),
            (HOUR_MS, T0 + 1, T0 + 2),
        ] {
            assert_eq!(
                Points::within(step, Delay::Jitter(1), from, to).len(),
                0,
                "{step} [{from}, {to}]"
            );
        }
        let everything = Points::within(1, Delay::Jitter(1), i64::MIN, i64::MAX);
        assert!(everything.len() > 1 << 60);
        let newest: Vec<i64> = everything.last(2).times().collect();
        assert_eq!(newest.len(), 2);
        assert_eq!(
            Points::NONE.first(10).len() + Points::NONE.last(10).len(),
            0
        );
    }

    #[test]
    fn binance_keeps_thirty_days_and_bybit_everything_since_listing() {
        let btc = &PERPETUALS[0];
        let now = T0 + 123_456;
        let binance = open_interest_points(Venue::Binance, btc, DAY_MS, 0, i64::MAX, now);
        let times: Vec<i64> = binance.times().collect();
        assert_eq!(times.first(), Some(&(T0 - 29 * DAY_MS)));
        assert_eq!(times.last(), Some(&T0));
        assert_eq!(times.len(), 30);
        let bybit = open_interest_points(Venue::Bybit, btc, DAY_MS, 0, i64::MAX, now);
        let first = bybit.times().next().unwrap_or_default();
        assert!(first >= btc.listed_ms.bybit && first - DAY_MS < btc.listed_ms.bybit);
        let hyperliquid = open_interest_points(Venue::Hyperliquid, btc, DAY_MS, 0, i64::MAX, now);
        assert_eq!(hyperliquid.len(), 0);
    }

    #[test]
    fn funding_follows_the_interval_from_listing_to_now() {
        for coin in &PERPETUALS {
            for venue in Venue::ALL {
                let listed = coin.listed_ms.get(venue);
                let interval = i64::from(coin.funding_interval_hours_on(venue)) * HOUR_MS;
                let now = T0 + 1_000;
                let points = funding_points(3, venue, coin, i64::MIN, i64::MAX, now);
                let first = points.first(1).times().next().unwrap_or_default();
                assert!(
                    first >= listed && first - interval < listed,
                    "{venue} {}",
                    coin.base
                );
                // T0 is a boundary of every interval, and Hyperliquid settles within a second of it.
                let last = points.last(1).times().next().unwrap_or_default();
                assert!((T0..=now).contains(&last), "{venue} {} {last}", coin.base);
                let latest: Vec<i64> = points.last(50).times().collect();
                assert!(latest
                    .windows(2)
                    .all(|pair| (pair[1] - pair[0] - interval).abs() < 1_000));
            }
        }
    }
}
