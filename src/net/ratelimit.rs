//! A sliding-window weight limiter, one per venue, shared by every task talking to that venue.
//!
//! Venues count weight in fixed windows (Binance per minute, Bybit per 5 s). A token bucket can spend up to twice
//! its capacity inside one fixed window (a full bucket, then the refill); a sliding window of the same length
//! cannot, whatever the alignment, so this limiter never exceeds the documented limit.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

#[derive(Debug)]
pub struct RateLimiter {
    capacity: u32,
    window: Duration,
    state: Mutex<WindowState>,
}

#[derive(Debug, Default)]
struct WindowState {
    /// Grants inside the current window, oldest first.
    grants: VecDeque<(Instant, u32)>,
    used: u32,
    /// Set when the venue told us to back off (`Retry-After`): nobody sends before it.
    paused_until: Option<Instant>,
    /// The end of the last wait announced, so concurrent callers waiting for the same window announce it once.
    announced_until: Option<Instant>,
}

/// Waits at least this long are announced (see [`RateLimiter::acquire_announcing`]).
pub const ANNOUNCED_WAIT: Duration = Duration::from_secs(1);

impl RateLimiter {
    pub fn new(capacity: u32, window: Duration) -> Self {
        RateLimiter {
            capacity: capacity.max(1),
            window,
            state: Mutex::new(WindowState::default()),
        }
    }

    /// Waits until `weight` fits in the window, then records it.
    pub async fn acquire(&self, weight: u32) {
        self.acquire_announcing(weight, |_| {}).await
    }

    /// [`Self::acquire`], calling `announce(wait)` before a wait of at least [`ANNOUNCED_WAIT`] for a window that
    /// no caller has announced yet: one notice per window, however many tasks wait for it.
    pub async fn acquire_announcing(&self, weight: u32, announce: impl Fn(Duration)) {
        // A request heavier than the whole window could never fit; let it through alone.
        let weight = weight.min(self.capacity);
        loop {
            let wait_until = {
                let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
                let now = Instant::now();
                match state.paused_until {
                    Some(until) if until > now => until,
                    _ => {
                        while let Some(&(at, w)) = state.grants.front() {
                            if now.duration_since(at) < self.window {
                                break;
                            }
                            state.grants.pop_front();
                            state.used -= w;
                        }
                        if state.used + weight <= self.capacity {
                            state.grants.push_back((now, weight));
                            state.used += weight;
                            return;
                        }
                        // Wait until enough of the oldest grants have left the window.
                        let mut freed = self.capacity - state.used;
                        let mut until = now;
                        for &(at, w) in &state.grants {
                            freed += w;
                            until = at + self.window;
                            if freed >= weight {
                                break;
                            }
                        }
                        until
                    }
                }
            };
            let wait = wait_until.saturating_duration_since(Instant::now());
            if wait >= ANNOUNCED_WAIT {
                let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
                if state.announced_until.is_none_or(|until| wait_until > until) {
                    state.announced_until = Some(wait_until);
                    drop(state);
                    announce(wait);
                }
            }
            tokio::time::sleep_until(wait_until).await;
        }
    }

    /// How long callers are held back by a venue's `Retry-After`, if they are.
    pub fn paused_for(&self) -> Option<std::time::Duration> {
        let state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        state
            .paused_until
            .and_then(|until| until.checked_duration_since(Instant::now()))
    }

    /// Holds every caller back until `until` (the venue answered 429/418/403 with a Retry-After).
    pub fn pause_until(&self, until: Instant) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if state.paused_until.is_none_or(|current| current < until) {
            state.paused_until = Some(until);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn never_more_than_capacity_in_any_window() {
        let limiter = std::sync::Arc::new(RateLimiter::new(10, Duration::from_secs(1)));
        let start = Instant::now();
        let mut tasks = Vec::new();
        for _ in 0..35 {
            let limiter = limiter.clone();
            tasks.push(tokio::spawn(async move {
                limiter.acquire(1).await;
                Instant::now()
            }));
        }
        let mut grants = Vec::new();
        for t in tasks {
            grants.push(t.await.unwrap());
        }
        grants.sort();
        for (i, at) in grants.iter().enumerate() {
            let in_window = grants[i..]
                .iter()
                .take_while(|g| g.duration_since(*at) < Duration::from_secs(1))
                .count();
            assert!(
                in_window <= 10,
                "{in_window} grants within one second from grant {i}"
            );
        }
        // 35 requests at 10/s: the last waits three full windows, not more.
        assert_eq!(
            grants.last().unwrap().duration_since(start),
            Duration::from_secs(3)
        );
    }

    #[tokio::test(start_paused = true)]
    async fn weights_and_pauses() {
        let limiter = RateLimiter::new(100, Duration::from_secs(60));
        let start = Instant::now();
        limiter.acquire(60).await;
        limiter.acquire(40).await;
        assert_eq!(Instant::now(), start);
        limiter.acquire(20).await;
        assert_eq!(
            Instant::now().duration_since(start),
            Duration::from_secs(60)
        );
        limiter.pause_until(Instant::now() + Duration::from_secs(5));
        limiter.acquire(1).await;
        assert_eq!(
            Instant::now().duration_since(start),
            Duration::from_secs(65)
        );
        // Heavier than the window: admitted alone rather than never.
        limiter.acquire(500).await;
    }

    #[tokio::test(start_paused = true)]
    async fn long_waits_are_announced_once_per_window() {
        let limiter = std::sync::Arc::new(RateLimiter::new(10, Duration::from_secs(5)));
        let announced = std::sync::Arc::new(Mutex::new(Vec::new()));
        let mut tasks = Vec::new();
        // 25 requests at 10 per 5 s: two windows are waited for (each announced when it starts, 5 s ahead), by 15
        // tasks in all.
        for _ in 0..25 {
            let (limiter, announced) = (limiter.clone(), announced.clone());
            tasks.push(tokio::spawn(async move {
                limiter
                    .acquire_announcing(1, |wait| announced.lock().unwrap().push(wait))
                    .await
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(
            *announced.lock().unwrap(),
            vec![Duration::from_secs(5), Duration::from_secs(5)]
        );
        // A short wait is not announced.
        let short = RateLimiter::new(1, Duration::from_millis(200));
        let calls = std::sync::atomic::AtomicUsize::new(0);
        for _ in 0..3 {
            short
                .acquire_announcing(1, |_| {
                    calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                })
                .await;
        }
        assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 0);
    }
}
