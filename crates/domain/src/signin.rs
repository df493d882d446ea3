//! How repeated sign-in failures are answered: first slower, then with a temporary lockout.
//! Counted per account and per client address.

/// The thresholds of slow-down and lockout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LockoutPolicy {
    /// Failures are counted within this many seconds.
    pub window_secs: i64,
    /// From this many failures of an account on, each answer is delayed.
    pub slow_after: i64,
    /// At this many failures the account is locked.
    pub lock_after: i64,
    /// How long a lockout lasts.
    pub lock_secs: i64,
    /// At this many failures from one address, the address is locked.
    pub address_lock_after: i64,
}

impl Default for LockoutPolicy {
    fn default() -> Self {
        LockoutPolicy {
            window_secs: 900,
            slow_after: 3,
            lock_after: 5,
            lock_secs: 300,
            address_lock_after: 20,
        }
    }
}

impl LockoutPolicy {
    /// The delay, in milliseconds, before answering the `failures`-th failure of an account.
    pub fn delay_ms(&self, failures: i64) -> u64 {
        if failures < self.slow_after {
            0
        } else {
            (250 * (failures - self.slow_after + 1)).clamp(0, 2000) as u64
        }
    }

    /// When an account with `failures` failures is locked until, if it is.
    pub fn account_locked_until(&self, failures: i64, now: i64) -> Option<i64> {
        (failures >= self.lock_after).then_some(now + self.lock_secs)
    }

    pub fn address_locked_until(&self, failures: i64, now: i64) -> Option<i64> {
        (failures >= self.address_lock_after).then_some(now + self.lock_secs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_slow_down_then_lock() {
        let p = LockoutPolicy::default();
        assert_eq!(p.delay_ms(1), 0);
        assert_eq!(p.delay_ms(2), 0);
        assert!(p.delay_ms(3) > 0);
        assert!(p.delay_ms(4) > p.delay_ms(3));
        assert!(p.delay_ms(100) <= 2000);
        assert_eq!(p.account_locked_until(4, 1000), None);
        assert_eq!(p.account_locked_until(5, 1000), Some(1300));
        assert_eq!(p.address_locked_until(19, 0), None);
        assert_eq!(p.address_locked_until(20, 0), Some(300));
    }
}
