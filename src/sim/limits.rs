//! Rate-limit windows as the venues count them: a weight budget per fixed, clock-aligned window (Binance resets
//! on the minute), optionally escalating to an IP ban when a client keeps sending after being refused.
//!
//! Windows follow the wall clock, not the simulator's settable market clock: a test that freezes market time
//! must not freeze the rate-limit windows too, or a refused client could never recover.

/// A budget of `limit` weight per window of `length_ms`, windows starting at multiples of `length_ms`.
#[derive(Debug, Clone)]
pub(crate) struct FixedWindow {
    length_ms: i64,
    limit: u64,
    start_ms: i64,
    used: u64,
    peak: u64,
}

impl FixedWindow {
    pub(crate) fn new(length_ms: i64, limit: u64) -> FixedWindow {
        FixedWindow {
            length_ms: length_ms.max(1),
            limit,
            start_ms: i64::MIN,
            used: 0,
            peak: 0,
        }
    }

    /// Counts `weight` in the window holding `now_ms`. Refused requests count too (the venues count them), so
    /// `peak` exceeds `limit` exactly when a client overshot.
    fn charge(&mut self, now_ms: i64, weight: u64) -> u64 {
        let start_ms = now_ms - now_ms.rem_euclid(self.length_ms);
        if start_ms != self.start_ms {
            self.start_ms = start_ms;
            self.used = 0;
        }
        self.used = self.used.saturating_add(weight);
        self.peak = self.peak.max(self.used);
        self.used
    }

    fn end_ms(&self) -> i64 {
        self.start_ms.saturating_add(self.length_ms)
    }
}

/// Binance-style escalation: more than `tolerated_refusals` refused requests within one window earn a ban.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BanPolicy {
    pub tolerated_refusals: u32,
    pub ban_ms: i64,
}

/// What the limiter decided for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Admission {
    /// Weight used in the current window, this request included (Binance reports it on every answer).
    pub used: u64,
    /// Why the request must be refused, if it must.
    pub refusal: Option<Refusal>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// Over the budget until the window ends.
    Throttled { retry_after_secs: u64 },
    /// Banned until `until_ms` (wall clock).
    Banned {
        until_ms: i64,
        retry_after_secs: u64,
    },
}

/// One venue's per-IP limiter (the simulator sees a single client IP: every connection shares it).
#[derive(Debug, Clone)]
pub(crate) struct RateLimiter {
    window: FixedWindow,
    ban_policy: Option<BanPolicy>,
    /// Refusals in the window `refusals_window_start_ms`, towards a ban.
    refusals: u32,
    refusals_window_start_ms: i64,
    banned_until_ms: Option<i64>,
    /// When false, weight is still counted (for headers and `peak_weight`) but nothing is refused.
    enforcing: bool,
}

impl RateLimiter {
    pub(crate) fn new(
        window: FixedWindow,
        ban_policy: Option<BanPolicy>,
        enforcing: bool,
    ) -> RateLimiter {
        RateLimiter {
            window,
            ban_policy,
            refusals: 0,
            refusals_window_start_ms: i64::MIN,
            banned_until_ms: None,
            enforcing,
        }
    }

    pub(crate) fn admit(&mut self, now_ms: i64, weight: u64) -> Admission {
        let used = self.window.charge(now_ms, weight);
        let refusal = if self.enforcing {
            self.refusal(now_ms, used)
        } else {
            None
        };
        Admission { used, refusal }
    }

    fn refusal(&mut self, now_ms: i64, used: u64) -> Option<Refusal> {
        if let Some(until_ms) = self.banned_until_ms {
            if now_ms < until_ms {
                return Some(Refusal::Banned {
                    until_ms,
                    retry_after_secs: seconds_until(now_ms, until_ms),
                });
            }
            self.banned_until_ms = None;
            self.refusals = 0;
        }
        if used <= self.window.limit {
            return None;
        }
        if self.refusals_window_start_ms != self.window.start_ms {
            self.refusals_window_start_ms = self.window.start_ms;
            self.refusals = 0;
        }
        self.refusals += 1;
        match self.ban_policy {
            Some(policy) if self.refusals > policy.tolerated_refusals => {
                let until_ms = now_ms.saturating_add(policy.ban_ms);
                self.banned_until_ms = Some(until_ms);
                Some(Refusal::Banned {
                    until_ms,
                    retry_after_secs: seconds_until(now_ms, until_ms),
                })
            }
            _ => Some(Refusal::Throttled {
                retry_after_secs: seconds_until(now_ms, self.window.end_ms()),
            }),
        }
    }

    /// The highest weight used in any one window so far, refused requests included.
    pub(crate) fn peak_weight(&self) -> u64 {
        self.window.peak
    }
}

/// Whole seconds until `until_ms`, rounded up and at least 1: a `Retry-After` a client can honour literally.
fn seconds_until(now_ms: i64, until_ms: i64) -> u64 {
    let wait_ms = until_ms.saturating_sub(now_ms).max(1) as u64;
    wait_ms.div_ceil(1000)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINUTE: i64 = 60_000;
    const T0: i64 = 1_767_225_600_000; // on a minute boundary

    fn binance_like(enforcing: bool) -> RateLimiter {
        RateLimiter::new(
            FixedWindow::new(MINUTE, 100),
            Some(BanPolicy {
                tolerated_refusals: 2,
                ban_ms: 120_000,
            }),
            enforcing,
        )
    }

    fn admitted(used: u64) -> Admission {
        Admission {
            used,
            refusal: None,
        }
    }

    fn is_throttled(admission: Admission) -> bool {
        matches!(admission.refusal, Some(Refusal::Throttled { .. }))
    }

    #[test]
    fn weight_resets_at_the_aligned_window_boundary() {
        let mut limiter = binance_like(true);
        assert_eq!(limiter.admit(T0 + 59_000, 60), admitted(60));
        assert_eq!(limiter.admit(T0 + 59_999, 40), admitted(100));
        assert_eq!(limiter.admit(T0 + MINUTE, 10), admitted(10));
        assert_eq!(limiter.peak_weight(), 100);
    }

    #[test]
    fn over_the_limit_is_throttled_until_the_window_ends() {
        let mut limiter = binance_like(true);
        limiter.admit(T0, 100);
        let refused = limiter.admit(T0 + 20_500, 1);
        assert_eq!(
            refused,
            Admission {
                used: 101,
                refusal: Some(Refusal::Throttled {
                    retry_after_secs: 40
                })
            }
        );
        assert_eq!(limiter.peak_weight(), 101, "refused weight counts");
        assert_eq!(limiter.admit(T0 + MINUTE, 1), admitted(1));
    }

    #[test]
    fn repeated_refusals_escalate_to_a_ban_that_outlives_the_window() {
        let mut limiter = binance_like(true);
        limiter.admit(T0, 100);
        assert!(is_throttled(limiter.admit(T0 + 1, 1)));
        assert!(is_throttled(limiter.admit(T0 + 2, 1)));
        let ban = Some(Refusal::Banned {
            until_ms: T0 + 120_003,
            retry_after_secs: 120,
        });
        assert_eq!(
            limiter.admit(T0 + 3, 1),
            Admission {
                used: 103,
                refusal: ban
            }
        );
        let still_banned = limiter.admit(T0 + MINUTE + 5, 1);
        assert!(
            matches!(still_banned.refusal, Some(Refusal::Banned { until_ms, .. }) if until_ms == T0 + 120_003)
        );
        assert_eq!(limiter.admit(T0 + 120_003, 1), admitted(1));
        // The refusal count restarts after a ban.
        limiter.admit(T0 + 120_004, 99);
        assert!(is_throttled(limiter.admit(T0 + 120_005, 1)));
    }

    #[test]
    fn refusals_in_an_earlier_window_do_not_count_towards_a_ban() {
        let mut limiter = binance_like(true);
        limiter.admit(T0, 100);
        limiter.admit(T0 + 1, 1);
        limiter.admit(T0 + 2, 1);
        limiter.admit(T0 + MINUTE, 100);
        assert!(is_throttled(limiter.admit(T0 + MINUTE + 1, 1)));
    }

    #[test]
    fn a_window_without_ban_policy_only_throttles() {
        let mut limiter = RateLimiter::new(FixedWindow::new(5_000, 3), None, true);
        for _ in 0..3 {
            assert_eq!(limiter.admit(T0, 1).refusal, None);
        }
        for _ in 0..50 {
            let refused = limiter.admit(T0 + 4_000, 1);
            assert_eq!(
                refused.refusal,
                Some(Refusal::Throttled {
                    retry_after_secs: 1
                })
            );
        }
        assert_eq!(limiter.admit(T0 + 5_000, 1), admitted(1));
    }

    #[test]
    fn a_limiter_that_does_not_enforce_still_counts() {
        let mut limiter = binance_like(false);
        for _ in 0..10 {
            assert_eq!(limiter.admit(T0, 50).refusal, None);
        }
        assert_eq!(limiter.peak_weight(), 500);
    }
}
