//! The liquidation generator behind the WebSocket feeds, and the ground truth of what was emitted.
//!
//! Binance and Bybit each have a [`Generator`]: liquidations arrive per symbol at a configurable rate (a Poisson
//! process: exponential gaps, mean `1 / rate` seconds) for a generation set of {BTC, ETH, SOL} plus every symbol
//! a client ever subscribed to. Events happen on the wall clock (streams run in real time) whether or not anyone
//! listens. Each event's side, price and size are drawn from the seed, the venue, the symbol and the event's
//! number; its price lies a little on the losing side of the simulated mark price at its trade time (a long is
//! liquidated by selling below the mark), so it agrees with what the REST side serves.
//!
//! What a venue *emits* differs:
//! - Binance throttles: per symbol at most one push per 1000 ms, carrying the latest liquidation since the last
//!   push; liquidations it superseded were never emitted and are not in the ground truth.
//! - Bybit batches: every 500 ms (wall-clock aligned) one frame per symbol that had liquidations, holding all of
//!   them.
//!
//! A trade time is strictly increasing per symbol, so (symbol, time) identifies an event.

use std::collections::{BTreeSet, VecDeque};

use crate::model::{Side, Venue};
use crate::sim::catalog::{Coin, PERPETUALS};
use crate::sim::data::{self, splitmix64, Decimal};

/// The symbols generated from the start (indexes into `PERPETUALS`): BTC, ETH, SOL.
const DEFAULT_GENERATION_SET: [usize; 3] = [0, 1, 2];
/// Liquidations per second per symbol until told otherwise.
pub(crate) const DEFAULT_RATE_PER_SECOND: f64 = 2.0;
/// Binance pushes at most one `forceOrder` per symbol per this many milliseconds.
pub(crate) const BINANCE_PUSH_INTERVAL_MS: i64 = 1000;
/// Bybit pushes `allLiquidation` batches every this many milliseconds, on wall-clock multiples.
pub(crate) const BYBIT_PUSH_INTERVAL_MS: i64 = 500;
/// How many emitted liquidations the ground truth keeps per venue; older ones are evicted and counted.
pub(crate) const GROUND_TRUTH_CAPACITY: usize = 1_000_000;

/// One liquidation as a venue emitted it, with what became of it.
#[derive(Debug, Clone, PartialEq)]
pub struct EmittedLiquidation {
    pub venue: Venue,
    /// The venue's native symbol, e.g. `BTCUSDT`.
    pub symbol: String,
    /// The trade time the frame states (Binance `o.T`, Bybit `data[].T`), ms since the epoch.
    pub time_ms: i64,
    /// Normalised: `Sell` = a long position was liquidated (Binance `S: "SELL"`, Bybit `S: "Buy"`).
    pub side: Side,
    /// The price the liquidation traded at: Binance `o.ap` (average fill price), Bybit `p`.
    pub price: f64,
    /// Base units: Binance `o.q` (= `o.l` = `o.z`, the order filled at once), Bybit `v`.
    pub quantity: f64,
    /// Binance's order price `o.p` (worse than `ap`); `None` on Bybit, which states one price.
    pub order_price: Option<f64>,
    /// When the frame carrying it was sent: Binance `E`, Bybit `ts`, ms since the epoch.
    pub sent_at_ms: i64,
    /// How many WebSocket connections the frame carrying it was written to (0 = emitted to nobody).
    pub delivered: u32,
}

/// A liquidation drawn by the generator, before it is emitted.
#[derive(Debug, Clone)]
pub(crate) struct Liquidation {
    pub coin: &'static Coin,
    pub time_ms: i64,
    pub side: Side,
    pub price: Decimal,
    pub quantity: Decimal,
    pub order_price: Option<Decimal>,
}

impl Liquidation {
    /// Draws event number `number` of `coin` on `venue` at `time_ms`.
    pub(crate) fn draw(
        seed: u64,
        venue: Venue,
        coin: &'static Coin,
        number: u64,
        time_ms: i64,
    ) -> Liquidation {
        let key = data::series(seed, "liquidation", Some(venue), coin) ^ splitmix64(number);
        let uniform = |salt: u64| unit_interval(splitmix64(key ^ splitmix64(salt)));
        let side = if uniform(1) < 0.5 {
            Side::Sell
        } else {
            Side::Buy
        };
        // A long (Sell) is closed below the mark, a short (Buy) above it: 5 to 25 basis points away.
        let away = 0.0005 + 0.002 * uniform(2);
        let direction = match side {
            Side::Sell => -1.0,
            Side::Buy => 1.0,
        };
        let mark = data::mark_price(seed, venue, coin.base, time_ms);
        let raw_price = mark * (1.0 + direction * away);
        // Notional log-uniform between 20 and 250 000 USDT.
        let notional = (20f64.ln() + uniform(3) * (250_000f64 / 20.0).ln()).exp();
        let step = 10f64.powi(-(coin.quantity_scale as i32));
        let quantity = Decimal::round(
            ((notional / raw_price) / step).round().max(1.0) * step,
            coin.quantity_scale,
        );
        let (price, order_price) = match venue {
            Venue::Binance => {
                // The order's limit price lies beyond the fill: 0.5 % to 1.5 % worse.
                let slack = 0.005 + 0.01 * uniform(4);
                (
                    Decimal::round(raw_price, coin.price_scale),
                    Some(Decimal::round(
                        raw_price * (1.0 + direction * slack),
                        coin.price_scale,
                    )),
                )
            }
            _ => {
                let decimals = tick_decimals(coin.tick_size);
                let on_tick = (raw_price / coin.tick_size).round() * coin.tick_size;
                (Decimal::round(on_tick, decimals), None)
            }
        };
        Liquidation {
            coin,
            time_ms,
            side,
            price,
            quantity,
            order_price,
        }
    }

    pub(crate) fn symbol(&self) -> String {
        self.coin.usdt_symbol()
    }
}

/// The index in `PERPETUALS` of the perpetual Binance and Bybit call `symbol` (`BTCUSDT`).
pub(crate) fn perpetual_index(symbol: &str) -> Option<usize> {
    PERPETUALS
        .iter()
        .position(|coin| coin.usdt_symbol() == symbol)
}

/// Decimals a tick size has (0.1 → 1, 0.0001 → 4, 5 → 0).
pub(crate) fn tick_decimals(tick: f64) -> u32 {
    (0..=12)
        .find(|&decimals| {
            let scaled = tick * 10f64.powi(decimals);
            (scaled - scaled.round()).abs() < 1e-9
        })
        .unwrap_or(12) as u32
}

/// The top 53 bits of a hash as a float in [0, 1).
fn unit_interval(hash: u64) -> f64 {
    (hash >> 11) as f64 / (1u64 << 53) as f64
}

/// What a generator emits at one tick: a frame's worth of liquidations of one symbol.
#[derive(Debug)]
pub(crate) struct Push {
    pub coin: &'static Coin,
    pub liquidations: Vec<Liquidation>,
}

#[derive(Debug, Clone)]
struct SymbolState {
    /// When the next regular liquidation happens (fractional ms); `None` while not generating.
    next_arrival_ms: Option<f64>,
    last_time_ms: i64,
    /// Liquidations drawn so far: the next one's number.
    drawn: u64,
    /// Gaps drawn so far, for the arrival process.
    gaps: u64,
    /// Binance: the latest liquidation since the last push.
    pending: Option<Liquidation>,
    /// Binance: burst liquidations still to push, one per push slot.
    burst_pending: u64,
    last_push_ms: i64,
    /// Bybit: liquidations since the last batch.
    batch: Vec<Liquidation>,
}

impl SymbolState {
    fn new() -> SymbolState {
        SymbolState {
            next_arrival_ms: None,
            last_time_ms: i64::MIN,
            drawn: 0,
            gaps: 0,
            pending: None,
            burst_pending: 0,
            last_push_ms: i64::MIN / 2,
            batch: Vec::new(),
        }
    }
}

/// One venue's liquidation process (Binance or Bybit; Hyperliquid has no public liquidation feed).
#[derive(Debug)]
pub(crate) struct Generator {
    venue: Venue,
    seed: u64,
    rate_per_second: f64,
    /// Indexes into `PERPETUALS` of the symbols generated.
    generating: BTreeSet<usize>,
    symbols: Vec<SymbolState>,
    last_batch_slot: i64,
}

impl Generator {
    pub(crate) fn new(venue: Venue, seed: u64) -> Generator {
        Generator {
            venue,
            seed,
            rate_per_second: DEFAULT_RATE_PER_SECOND,
            generating: DEFAULT_GENERATION_SET.into_iter().collect(),
            symbols: vec![SymbolState::new(); PERPETUALS.len()],
            last_batch_slot: i64::MIN,
        }
    }

    pub(crate) fn rate_per_second(&self) -> f64 {
        self.rate_per_second
    }

    /// Liquidations per second per symbol from the next tick on; 0 (or anything not a positive number) stops
    /// them.
    pub(crate) fn set_rate(&mut self, per_second: f64) {
        self.rate_per_second = if per_second.is_finite() && per_second > 0.0 {
            per_second
        } else {
            0.0
        };
        for state in &mut self.symbols {
            state.next_arrival_ms = None;
        }
    }

    /// Adds the perpetual with index `index` to the generation set (it is never removed); it is generated from
    /// the next tick on.
    pub(crate) fn add_symbol(&mut self, index: usize) {
        if index < PERPETUALS.len() {
            self.generating.insert(index);
        }
    }

    /// The symbols generated, as the venue spells them.
    pub(crate) fn generation_set(&self) -> Vec<String> {
        self.generating
            .iter()
            .map(|&index| PERPETUALS[index].usdt_symbol())
            .collect()
    }

    fn schedule_from(&mut self, index: usize, from_ms: f64) {
        if self.rate_per_second <= 0.0 {
            return;
        }
        let coin = &PERPETUALS[index];
        let state = &mut self.symbols[index];
        let key = data::series(self.seed, "liquidation-gap", Some(self.venue), coin);
        let uniform = unit_interval(splitmix64(key ^ splitmix64(state.gaps)));
        state.gaps += 1;
        let gap_ms = -(1.0 - uniform).ln() * 1000.0 / self.rate_per_second;
        state.next_arrival_ms = Some(from_ms + gap_ms);
    }

    fn draw(&mut self, index: usize, time_ms: i64) -> Liquidation {
        let state = &mut self.symbols[index];
        let time_ms = time_ms.max(state.last_time_ms.saturating_add(1));
        state.last_time_ms = time_ms;
        let number = state.drawn;
        state.drawn += 1;
        Liquidation::draw(self.seed, self.venue, &PERPETUALS[index], number, time_ms)
    }

    /// `count` extra liquidations at `now_ms`. Bybit: spread round-robin over the generation set, all in the next
    /// batch, with trade times in the milliseconds up to `now_ms` (a symbol's share larger than the time since its
    /// last liquidation runs into the following milliseconds, up to `share` ms past `now_ms`). Binance: spread round-robin over every listed perpetual (generation set first), each taking one
    /// push slot of its symbol, so `count` up to the number of perpetuals goes out at once and more take further
    /// seconds.
    pub(crate) fn burst(&mut self, count: u64, now_ms: i64) {
        match self.venue {
            Venue::Binance => {
                let order: Vec<usize> = self
                    .generating
                    .iter()
                    .copied()
                    .chain((0..PERPETUALS.len()).filter(|index| !self.generating.contains(index)))
                    .collect();
                for (&index, share) in order.iter().zip(shares(count, order.len())) {
                    self.symbols[index].burst_pending += share;
                }
            }
            _ => {
                let order: Vec<usize> = self.generating.iter().copied().collect();
                for (&index, share) in order.iter().zip(shares(count, order.len())) {
                    // Trade times are strictly increasing per symbol, one millisecond apart: they end at `now_ms`
                    // where the symbol's last liquidation leaves room, otherwise they run past it.
                    let first_ms =
                        now_ms.saturating_sub(i64::try_from(share).unwrap_or(i64::MAX) - 1);
                    for offset in 0..share {
                        let liquidation = self.draw(index, first_ms.saturating_add(offset as i64));
                        self.symbols[index].batch.push(liquidation);
                    }
                }
            }
        }
    }

    /// Advances to `now_ms`: draws the liquidations that happened since the last tick and returns what the venue
    /// pushes now.
    pub(crate) fn tick(&mut self, now_ms: i64) -> Vec<Push> {
        let generating: Vec<usize> = self.generating.iter().copied().collect();
        for index in generating {
            if self.symbols[index].next_arrival_ms.is_none() {
                self.schedule_from(index, now_ms as f64);
            }
            while let Some(arrival) = self.symbols[index].next_arrival_ms {
                if arrival > now_ms as f64 {
                    break;
                }
                let liquidation = self.draw(index, arrival.floor() as i64);
                let state = &mut self.symbols[index];
                match self.venue {
                    // A pending burst liquidation wins the slot; a regular one supersedes the previous one.
                    Venue::Binance if state.burst_pending == 0 => state.pending = Some(liquidation),
                    Venue::Binance => {}
                    _ => state.batch.push(liquidation),
                }
                self.schedule_from(index, arrival);
            }
        }
        match self.venue {
            Venue::Binance => self.binance_pushes(now_ms),
            _ => self.batches(now_ms),
        }
    }

    fn binance_pushes(&mut self, now_ms: i64) -> Vec<Push> {
        let mut pushes = Vec::new();
        for (index, coin) in PERPETUALS.iter().enumerate() {
            let state = &self.symbols[index];
            let due = state.pending.is_some() || state.burst_pending > 0;
            if !due || now_ms - state.last_push_ms < BINANCE_PUSH_INTERVAL_MS {
                continue;
            }
            let liquidation = if state.burst_pending > 0 {
                self.symbols[index].burst_pending -= 1;
                self.symbols[index].pending = None;
                self.draw(index, now_ms)
            } else {
                match self.symbols[index].pending.take() {
                    Some(liquidation) => liquidation,
                    None => continue,
                }
            };
            self.symbols[index].last_push_ms = now_ms;
            pushes.push(Push {
                coin,
                liquidations: vec![liquidation],
            });
        }
        pushes
    }

    fn batches(&mut self, now_ms: i64) -> Vec<Push> {
        let slot = now_ms.div_euclid(BYBIT_PUSH_INTERVAL_MS);
        if slot == self.last_batch_slot {
            return Vec::new();
        }
        self.last_batch_slot = slot;
        self.symbols
            .iter_mut()
            .zip(PERPETUALS.iter())
            .filter(|(state, _)| !state.batch.is_empty())
            .map(|(state, coin)| Push {
                coin,
                liquidations: std::mem::take(&mut state.batch),
            })
            .collect()
    }
}

/// `total` split into `parts` shares differing by at most one, larger ones first.
fn shares(total: u64, parts: usize) -> impl Iterator<Item = u64> {
    let parts = parts.max(1) as u64;
    (0..parts).map(move |part| total / parts + u64::from(part < total % parts))
}

/// The emitted liquidations of one venue, oldest first, bounded: the last `capacity` are kept (about 64 bytes
/// each), older ones are evicted and counted.
#[derive(Debug)]
pub(crate) struct GroundTruth {
    capacity: usize,
    /// The id of `events[0]`; ids count every liquidation ever recorded.
    first_id: u64,
    events: VecDeque<Recorded>,
}

/// An emitted liquidation as stored: [`EmittedLiquidation`] without its owned strings.
#[derive(Debug, Clone)]
struct Recorded {
    coin: &'static Coin,
    time_ms: i64,
    side: Side,
    price: f64,
    quantity: f64,
    order_price: Option<f64>,
    sent_at_ms: i64,
    delivered: u32,
}

impl Default for GroundTruth {
    fn default() -> Self {
        GroundTruth::with_capacity(GROUND_TRUTH_CAPACITY)
    }
}

impl GroundTruth {
    pub(crate) fn with_capacity(capacity: usize) -> GroundTruth {
        GroundTruth {
            capacity: capacity.max(1),
            first_id: 0,
            events: VecDeque::new(),
        }
    }

    /// Records `liquidation` as sent at `sent_at_ms`, delivered to nobody yet; returns its id.
    pub(crate) fn record(&mut self, liquidation: &Liquidation, sent_at_ms: i64) -> u64 {
        if self.events.len() >= self.capacity {
            self.events.pop_front();
            self.first_id += 1;
        }
        self.events.push_back(Recorded {
            coin: liquidation.coin,
            time_ms: liquidation.time_ms,
            side: liquidation.side,
            price: liquidation.price.value,
            quantity: liquidation.quantity.value,
            order_price: liquidation.order_price.map(|price| price.value),
            sent_at_ms,
            delivered: 0,
        });
        self.first_id + self.events.len() as u64 - 1
    }

    /// One more connection was written a frame carrying each of `ids` (evicted ones are ignored).
    pub(crate) fn mark_delivered(&mut self, ids: &[u64]) {
        for &id in ids {
            if let Some(event) = id
                .checked_sub(self.first_id)
                .and_then(|offset| self.events.get_mut(offset as usize))
            {
                event.delivered += 1;
            }
        }
    }

    pub(crate) fn events(&self, venue: Venue) -> Vec<EmittedLiquidation> {
        self.events
            .iter()
            .map(|event| EmittedLiquidation {
                venue,
                symbol: event.coin.usdt_symbol(),
                time_ms: event.time_ms,
                side: event.side,
                price: event.price,
                quantity: event.quantity,
                order_price: event.order_price,
                sent_at_ms: event.sent_at_ms,
                delivered: event.delivered,
            })
            .collect()
    }

    /// How many were evicted to bound memory.
    pub(crate) fn evicted(&self) -> u64 {
        self.first_id
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: i64 = 1_767_225_600_000;

    #[test]
    fn drawn_liquidations_sit_on_the_losing_side_of_the_mark() {
        for venue in [Venue::Binance, Venue::Bybit] {
            for coin in &PERPETUALS {
                for number in 0..50 {
                    let t_ms = T0 + number as i64 * 777;
                    let liquidation = Liquidation::draw(3, venue, coin, number, t_ms);
                    let mark = data::mark_price(3, venue, coin.base, t_ms);
                    let distance = liquidation.price.value / mark - 1.0;
                    match liquidation.side {
                        Side::Sell => {
                            assert!((-0.0030..=-0.0004).contains(&distance), "{distance}")
                        }
                        Side::Buy => assert!((0.0004..=0.0030).contains(&distance), "{distance}"),
                    }
                    assert!(liquidation.quantity.value > 0.0);
                    assert_eq!(liquidation.order_price.is_some(), venue == Venue::Binance);
                    if let Some(order_price) = liquidation.order_price {
                        // The limit price is worse for the liquidated trader than the fill.
                        match liquidation.side {
                            Side::Sell => assert!(order_price.value < liquidation.price.value),
                            Side::Buy => assert!(order_price.value > liquidation.price.value),
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn tick_decimals_follow_the_tick() {
        assert_eq!(tick_decimals(0.1), 1);
        assert_eq!(tick_decimals(0.01), 2);
        assert_eq!(tick_decimals(0.0000001), 7);
        assert_eq!(tick_decimals(5.0), 0);
        assert_eq!(tick_decimals(0.005), 3);
    }

    #[test]
    fn binance_pushes_at_most_once_per_symbol_per_second_the_latest() {
        let mut generator = Generator::new(Venue::Binance, 1);
        generator.set_rate(20.0);
        generator.tick(T0);
        let mut pushed: Vec<(String, i64, i64)> = Vec::new();
        let mut now = T0;
        while now < T0 + 10_000 {
            for push in generator.tick(now) {
                assert_eq!(push.liquidations.len(), 1);
                let liquidation = &push.liquidations[0];
                assert!(liquidation.time_ms <= now);
                pushed.push((liquidation.symbol(), liquidation.time_ms, now));
            }
            now += 20;
        }
        for symbol in ["BTCUSDT", "ETHUSDT", "SOLUSDT"] {
            let sends: Vec<&(String, i64, i64)> =
                pushed.iter().filter(|(s, _, _)| s == symbol).collect();
            // 20 a second, one pushed a second: about 10 pushes in 10 s.
            assert!((9..=11).contains(&sends.len()), "{symbol}: {}", sends.len());
            for pair in sends.windows(2) {
                assert!(pair[1].2 - pair[0].2 >= BINANCE_PUSH_INTERVAL_MS);
                assert!(pair[1].1 > pair[0].1);
            }
        }
        assert!(pushed
            .iter()
            .all(|(symbol, _, _)| ["BTCUSDT", "ETHUSDT", "SOLUSDT"].contains(&symbol.as_str())));
    }

    #[test]
    fn bybit_batches_every_half_second_and_keeps_everything() {
        let mut generator = Generator::new(Venue::Bybit, 1);
        generator.set_rate(10.0);
        let mut batches = 0;
        let mut total = 0;
        let mut last_time = std::collections::HashMap::new();
        let mut now = T0 + 1;
        while now < T0 + 20_000 {
            let pushes = generator.tick(now);
            for push in &pushes {
                batches += 1;
                total += push.liquidations.len();
                for liquidation in &push.liquidations {
                    let last = last_time.entry(liquidation.symbol()).or_insert(i64::MIN);
                    assert!(liquidation.time_ms > *last);
                    assert!(liquidation.time_ms <= now);
                    *last = liquidation.time_ms;
                }
            }
            if !pushes.is_empty() {
                assert_eq!(now % BYBIT_PUSH_INTERVAL_MS, 1, "{now}");
            }
            now += 10;
        }
        // 3 symbols × 10/s × 20 s ≈ 600 events (Poisson: well within 450..750).
        assert!((450..750).contains(&total), "{total}");
        assert!(batches <= 3 * 40);
    }

    #[test]
    fn rate_zero_stops_and_bursts_spread_over_symbols() {
        let mut generator = Generator::new(Venue::Binance, 2);
        generator.set_rate(0.0);
        assert!(generator.tick(T0 + 5_000).is_empty());
        generator.burst(13, T0 + 5_000);
        let first = generator.tick(T0 + 5_001);
        assert_eq!(first.len(), PERPETUALS.len());
        let mut symbols: Vec<String> = first.iter().map(|push| push.coin.usdt_symbol()).collect();
        symbols.dedup();
        assert_eq!(symbols.len(), PERPETUALS.len());
        assert!(generator.tick(T0 + 5_500).is_empty());
        let second = generator.tick(T0 + 6_001);
        let second_symbols: Vec<&str> = second.iter().map(|push| push.coin.base).collect();
        assert_eq!(second_symbols, ["BTC", "ETH", "SOL"]);
        assert!(generator.tick(T0 + 8_000).is_empty());

        let mut bybit = Generator::new(Venue::Bybit, 2);
        bybit.set_rate(0.0);
        bybit.add_symbol(3);
        bybit.burst(10, T0 + 100);
        let pushes = bybit.tick(T0 + 600);
        let sizes: Vec<(&str, usize)> = pushes
            .iter()
            .map(|push| (push.coin.base, push.liquidations.len()))
            .collect();
        assert_eq!(sizes, [("BTC", 3), ("ETH", 3), ("SOL", 2), ("XRP", 2)]);
        let btc: Vec<i64> = pushes[0].liquidations.iter().map(|l| l.time_ms).collect();
        assert_eq!(btc, [T0 + 98, T0 + 99, T0 + 100]);
    }

    #[test]
    fn ground_truth_counts_deliveries_and_evictions() {
        let mut truth = GroundTruth::with_capacity(3);
        let liquidation = Liquidation::draw(0, Venue::Bybit, &PERPETUALS[0], 0, T0);
        let first = truth.record(&liquidation, T0 + 5);
        let second = truth.record(&liquidation, T0 + 6);
        truth.mark_delivered(&[first, second]);
        truth.mark_delivered(&[second]);
        let delivered: Vec<u32> = truth
            .events(Venue::Bybit)
            .iter()
            .map(|event| event.delivered)
            .collect();
        assert_eq!(delivered, [1, 2]);
        assert_eq!(truth.evicted(), 0);
        let event = &truth.events(Venue::Bybit)[0];
        assert_eq!(
            (
                event.venue,
                event.symbol.as_str(),
                event.price,
                event.sent_at_ms
            ),
            (Venue::Bybit, "BTCUSDT", liquidation.price.value, T0 + 5)
        );
        // Past the capacity the oldest go; their ids no longer count deliveries.
        let third = truth.record(&liquidation, T0 + 7);
        let fourth = truth.record(&liquidation, T0 + 8);
        assert_eq!((third, fourth), (2, 3));
        truth.mark_delivered(&[first, fourth]);
        let kept: Vec<(i64, u32)> = truth
            .events(Venue::Bybit)
            .iter()
            .map(|event| (event.sent_at_ms, event.delivered))
            .collect();
        assert_eq!(kept, [(T0 + 6, 2), (T0 + 7, 0), (T0 + 8, 1)]);
        assert_eq!(truth.evicted(), 1);
    }
}
