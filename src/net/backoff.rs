//! Exponential backoff with jitter, shared by HTTP retries and WebSocket reconnects.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// How long to wait before each retry: `initial · 2^(n-1)` capped at `max`, each wait drawn from [50 %, 100 %] of
/// its step so clients that failed together do not come back together.
#[derive(Debug, Clone, PartialEq)]
pub struct BackoffPolicy {
    pub initial: Duration,
    pub max: Duration,
    /// Retry the first failure at once (a dropped WebSocket usually reconnects fine straight away).
    pub immediate_first: bool,
}

/// The retry counter of one connection or request; [`Backoff::reset`] after a healthy period.
#[derive(Debug, Clone)]
pub struct Backoff {
    policy: BackoffPolicy,
    failures: u32,
}

impl Backoff {
    pub fn new(policy: BackoffPolicy) -> Self {
        Backoff {
            policy,
            failures: 0,
        }
    }

    /// The wait before the next attempt, counting one more failure.
    pub fn next_delay(&mut self) -> Duration {
        self.failures = self.failures.saturating_add(1);
        let step_number = if self.policy.immediate_first {
            match self.failures.checked_sub(1) {
                None | Some(0) => return Duration::ZERO,
                Some(n) => n,
            }
        } else {
            self.failures
        };
        let step = self
            .policy
            .initial
            .saturating_mul(1u32 << (step_number - 1).min(20))
            .min(self.policy.max);
        step.mul_f64(0.5 + 0.5 * jitter_unit())
    }

    pub fn reset(&mut self) {
        self.failures = 0;
    }

    pub fn failures(&self) -> u32 {
        self.failures
    }
}

/// A number in [0, 1): splitmix64 over a counter seeded from the clock; good enough to de-synchronise retries.
pub fn jitter_unit() -> f64 {
    static STATE: AtomicU64 = AtomicU64::new(0);
    let clock = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos() as u64 ^ d.as_secs().rotate_left(32))
        .unwrap_or(0);
    let seed = STATE.fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed) ^ clock;
    let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(immediate_first: bool) -> BackoffPolicy {
        BackoffPolicy {
            initial: Duration::from_millis(500),
            max: Duration::from_secs(30),
            immediate_first,
        }
    }

    #[test]
    fn reconnect_policy_is_immediate_then_doubling_with_jitter_up_to_the_cap() {
        let mut backoff = Backoff::new(policy(true));
        assert_eq!(backoff.next_delay(), Duration::ZERO);
        let steps = [500u64, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000];
        for step in steps {
            let delay = backoff.next_delay().as_millis() as u64;
            assert!(
                (step / 2..=step).contains(&delay),
                "step {step} ms gave {delay} ms"
            );
        }
        backoff.reset();
        assert_eq!(
            backoff.next_delay(),
            Duration::ZERO,
            "a reset starts over with an immediate retry"
        );
    }

    #[test]
    fn retry_policy_waits_from_the_first_failure_and_never_overflows() {
        let mut backoff = Backoff::new(policy(false));
        let first = backoff.next_delay();
        assert!(first >= Duration::from_millis(250) && first <= Duration::from_millis(500));
        for _ in 0..10_000 {
            assert!(backoff.next_delay() <= Duration::from_secs(30));
        }
    }

    #[test]
    fn jitter_stays_in_the_unit_interval_and_varies() {
        let draws: Vec<f64> = (0..1000).map(|_| jitter_unit()).collect();
        assert!(draws.iter().all(|x| (0.0..1.0).contains(x)));
        let mean = draws.iter().sum::<f64>() / draws.len() as f64;
        assert!((0.4..0.6).contains(&mean), "mean {mean}");
    }
}
