//! Rate-limit windows as the venues count them: a weight budget per fixed, clock-aligned window (Binance resets
//! on the minute), optionally escalating to an IP ban when a client keeps sending after being refused.
//!
//! Windows follow the wall clock, not the simulator's settable market clock: a test that freezes market time
//! must not freeze the rate-limit windows too, or a refused client could never recover.
//!
//! A venue has one main limit every request counts toward, and may have named groups that only some endpoints
//! count toward as well (Binance: `/futures/data` requests, funding-rate requests); see [`Limits`].

use crate::sim::limit_group;

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

    pub(crate) fn length_ms(&self) -> i64 {
        self.length_ms
    }

    pub(crate) fn limit(&self) -> u64 {
        self.limit
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

    pub(crate) fn window(&self) -> &FixedWindow {
        &self.window
    }
}

/// A venue's per-IP limits: the main one, which every request counts its weight toward, and named groups, which
/// only their endpoints count toward, one per request.
#[derive(Debug, Clone)]
pub(crate) struct Limits {
    main: RateLimiter,
    groups: Vec<(&'static str, RateLimiter)>,
}

/// What the limits decided for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct LimitsAdmission {
    /// Weight used in the main limit's current window, this request included.
    pub used: u64,
    /// The limit that refuses the request (its group name) and why, if one does.
    pub refusal: Option<(&'static str, Refusal)>,
}

impl Limits {
    pub(crate) fn new(main: RateLimiter, groups: Vec<(&'static str, RateLimiter)>) -> Limits {
        Limits { main, groups }
    }

    /// Charges `weight` to the main limit and one request to `group` (if any). Both count even when one refuses,
    /// as the venues count refused requests; the main limit's refusal (a ban above all) is the one reported.
    pub(crate) fn admit(
        &mut self,
        now_ms: i64,
        weight: u64,
        group: Option<&str>,
    ) -> LimitsAdmission {
        let main = self.main.admit(now_ms, weight);
        let group_refusal = self
            .groups
            .iter_mut()
            .filter(|(name, _)| Some(*name) == group)
            .find_map(|(name, limiter)| {
                limiter
                    .admit(now_ms, 1)
                    .refusal
                    .map(|refusal| (*name, refusal))
            });
        LimitsAdmission {
            used: main.used,
            refusal: main
                .refusal
                .map(|refusal| (limit_group::MAIN, refusal))
                .or(group_refusal),
        }
    }

    /// The limit named `group` ([`limit_group::MAIN`] for the main one).
    pub(crate) fn get(&self, group: &str) -> Option<&RateLimiter> {
        if group == limit_group::MAIN {
            return Some(&self.main);
        }
        self.groups
            .iter()
            .find(|(name, _)| *name == group)
            .map(|(_, limiter)| limiter)
    }

    /// Every limit with its group name, the main one first.
    pub(crate) fn all(&self) -> impl Iterator<Item = (&'static str, &RateLimiter)> {
        std::iter::once((limit_group::MAIN, &self.main))
            .chain(self.groups.iter().map(|(name, limiter)| (*name, limiter)))
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
    fn a_group_counts_only_its_requests_and_the_main_refusal_wins() {
        const GROUP: &str = "group";
        let mut limits = Limits::new(
            binance_like(true),
            vec![(
                GROUP,
                RateLimiter::new(FixedWindow::new(5 * MINUTE, 2), None, true),
            )],
        );
        assert_eq!(limits.admit(T0, 10, Some(GROUP)).refusal, None);
        assert_eq!(limits.admit(T0, 10, None).refusal, None);
        assert_eq!(limits.admit(T0, 10, Some("unknown")).refusal, None);
        assert_eq!(limits.admit(T0, 10, Some(GROUP)).refusal, None);
        let over_group = limits.admit(T0 + 1_000, 10, Some(GROUP));
        assert_eq!(over_group.used, 50);
        assert_eq!(
            over_group.refusal,
            Some((
                GROUP,
                Refusal::Throttled {
                    retry_after_secs: 299
                }
            ))
        );
        assert_eq!(
            limits.admit(T0 + 1_000, 10, None).refusal,
            None,
            "other endpoints pass"
        );
        let over_both = limits.admit(T0 + 2_000, 50, Some(GROUP));
        assert!(matches!(
            over_both.refusal,
            Some((limit_group::MAIN, Refusal::Throttled { .. }))
        ));
        assert_eq!(limits.get(GROUP).map(RateLimiter::peak_weight), Some(4));
        assert_eq!(
            limits.get(limit_group::MAIN).map(RateLimiter::peak_weight),
            Some(110)
        );
        assert!(limits.get("unknown").is_none());
        let names: Vec<&str> = limits.all().map(|(name, _)| name).collect();
        assert_eq!(names, [limit_group::MAIN, GROUP]);
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
