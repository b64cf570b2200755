//! The one backoff policy: `first`, doubling per failure up to `max`. Used by the Graph
//! client's in-request retries, the supervisor's reconnects, the `--changes` baseline
//! retry and the coalescer's failed rounds, so that `--backoff` and the documented
//! timings (docs/reliability.md) mean the same thing everywhere.

use std::time::Duration;

/// Exponential backoff with jitter: `first`, doubling to `max`, each delay randomised
/// by ±20 % (never above `max`) so that many watchers cut off at once do not all come
/// back in the same second.
#[derive(Debug, Clone)]
pub struct Backoff {
    first: Duration,
    max: Duration,
    next: Duration,
    /// `false`: exact delays, for a pure state machine whose tests pin the clock.
    jitter: bool,
}

impl Backoff {
    pub fn new(first: Duration, max: Duration) -> Backoff {
        Backoff {
            first,
            max,
            next: first,
            jitter: true,
        }
    }

    /// The same doubling without jitter: one process's own retries (a failed delta
    /// round) need no spreading, and their tests pin exact times.
    pub fn steady(first: Duration, max: Duration) -> Backoff {
        Backoff {
            jitter: false,
            ..Backoff::new(first, max)
        }
    }

    /// The wait before the next attempt; the one after it will be twice as long.
    pub fn next_delay(&mut self) -> Duration {
        // 0.5 is the middle of the jitter range: factor 1.
        let unit = if self.jitter {
            rand::random::<f64>()
        } else {
            0.5
        };
        self.next_delay_with(unit)
    }

    /// As [`Backoff::next_delay`], with the random draw (0 ≤ `unit` < 1) given.
    pub fn next_delay_with(&mut self, unit: f64) -> Duration {
        let base = self.next;
        self.next = (base * 2).min(self.max);
        let factor = 0.8 + 0.4 * unit.clamp(0.0, 1.0);
        base.mul_f64(factor).min(self.max)
    }

    /// The wait before attempt `attempt` (1 is the first retry) of a fresh backoff: for
    /// a client library that counts its reconnects itself (the NATS sink's), so that its
    /// waits follow this policy too.
    pub fn delay_for_attempt(&self, attempt: usize) -> Duration {
        let mut fresh = self.clone();
        fresh.reset();
        let mut delay = fresh.next_delay();
        // Past 64 doublings every delay is `max` anyway.
        for _ in 1..attempt.min(64) {
            delay = fresh.next_delay();
        }
        delay
    }

    /// Start again from `first` (after a link that stayed up).
    pub fn reset(&mut self) {
        self.next = self.first;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);

    #[test]
    fn backoff_doubles_from_one_second_to_a_minute() {
        let mut backoff = Backoff::new(S, 60 * S);
        let middle: Vec<u64> = (0..9)
            .map(|_| backoff.next_delay_with(0.5).as_secs())
            .collect();
        assert_eq!(middle, [1, 2, 4, 8, 16, 32, 60, 60, 60]);
    }

    #[test]
    fn backoff_jitter_stays_within_twenty_percent_and_under_the_cap() {
        let mut low = Backoff::new(S, 60 * S);
        let mut high = Backoff::new(S, 60 * S);
        for _ in 0..10 {
            let (lo, hi) = (low.next_delay_with(0.0), high.next_delay_with(0.999));
            assert!(lo < hi || lo == 60 * S, "{lo:?} {hi:?}");
            assert!(hi <= 60 * S);
        }
        assert_eq!(Backoff::new(S, 60 * S).next_delay_with(0.0), S.mul_f64(0.8));
        let random = Backoff::new(S, 60 * S).next_delay();
        assert!(
            random >= S.mul_f64(0.8) && random <= S.mul_f64(1.2),
            "{random:?}"
        );
    }

    #[test]
    fn backoff_reset_starts_again() {
        let mut backoff = Backoff::new(S, 60 * S);
        for _ in 0..5 {
            backoff.next_delay_with(0.5);
        }
        backoff.reset();
        assert_eq!(backoff.next_delay_with(0.5), S);
    }

    #[test]
    fn steady_backoff_doubles_exactly() {
        let mut backoff = Backoff::steady(S, 4 * S);
        let delays: Vec<Duration> = (0..4).map(|_| backoff.next_delay()).collect();
        assert_eq!(delays, [S, 2 * S, 4 * S, 4 * S]);
    }
}
