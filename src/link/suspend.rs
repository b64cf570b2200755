//! Noticing that the machine slept, so that the link is checked at once on waking.
//!
//! During a suspend the monotonic clock stands still (Linux `CLOCK_MONOTONIC`, macOS
//! `mach_absolute_time`), and with it every Tokio timer: the ping watchdog, a backoff
//! wait, the renewal. On waking, a link the service dropped long ago still looks alive
//! for up to pingInterval + pingTimeout of *awake* time (45 s with Graph's usual
//! values), and a subscription that expired by the service's clock is not renewed
//! until its monotonic instant comes. The wall clock did move. [`SuspendWatch`]
//! compares the two every few seconds: when the wall clock moved [`THRESHOLD`] or more
//! beyond the monotonic one, the process was not running while time passed, and the
//! supervisor reconnects at once (a fresh endpoint, and with `--changes` a catch-up
//! round).
//!
//! What this does not cover: a stopped process (SIGSTOP, a debugger) is not a
//! suspend — both clocks run meanwhile, and the kernel keeps the sockets, so a peer's
//! close is waiting when it continues and the link ends at once by itself. A forward
//! step of the wall clock (NTP correcting a clock that was behind) looks like a suspend
//! and costs one needless reconnect; a backward step is ignored.

use std::time::{Duration, SystemTime};

use tokio::time::Instant;

/// A jump shorter than this is not worth a reconnect: ordinary scheduling and clock
/// slewing stay far below it, and a server keeps a silent socket for longer.
pub const THRESHOLD: Duration = Duration::from_secs(10);

/// Compares the wall clock with the monotonic one at each check.
#[derive(Debug)]
pub struct SuspendWatch {
    wall: fn() -> SystemTime,
    every: Duration,
    /// The samples of the last check (or of the start).
    last: (SystemTime, Instant),
    next: Instant,
}

impl SuspendWatch {
    /// Checks every `every` from `now`, reading the wall clock with `wall`.
    pub fn new(wall: fn() -> SystemTime, every: Duration, now: Instant) -> SuspendWatch {
        SuspendWatch {
            wall,
            every,
            last: (wall(), now),
            next: now + every,
        }
    }

    /// When the next check is due (on the monotonic clock).
    pub fn next_check(&self) -> Instant {
        self.next
    }

    /// Sample both clocks at `now`: how long the process slept since the last check,
    /// if it did. The next check is one interval from `now`.
    pub fn check(&mut self, now: Instant) -> Option<Duration> {
        let sample = ((self.wall)(), now);
        let slept = slept(self.last, sample);
        self.last = sample;
        self.next = now + self.every;
        slept
    }

    /// Measure from `now` on: a jump before a link that has just come up is no reason
    /// to drop it.
    pub fn rebase(&mut self, now: Instant) {
        self.last = ((self.wall)(), now);
        self.next = now + self.every;
    }
}

/// How long the process was not running between two samples of (wall, monotonic): how
/// much further the wall clock moved than the monotonic one, if that is at least
/// [`THRESHOLD`]. A wall clock that went back is no suspend.
pub fn slept(before: (SystemTime, Instant), after: (SystemTime, Instant)) -> Option<Duration> {
    let wall = after.0.duration_since(before.0).ok()?;
    let monotonic = after.1.saturating_duration_since(before.1);
    wall.checked_sub(monotonic).filter(|gap| *gap >= THRESHOLD)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU64, Ordering};

    const S: Duration = Duration::from_secs(1);

    fn at(wall_secs: u64, mono: Instant, mono_secs: u64) -> (SystemTime, Instant) {
        (
            SystemTime::UNIX_EPOCH + Duration::from_secs(wall_secs),
            mono + Duration::from_secs(mono_secs),
        )
    }

    #[test]
    fn a_wall_clock_ahead_of_the_monotonic_one_is_a_suspend() {
        let t = Instant::now();
        // Five seconds each: awake.
        assert_eq!(slept(at(100, t, 0), at(105, t, 5)), None);
        // An hour on the wall, five seconds awake: asleep for the difference.
        assert_eq!(slept(at(100, t, 0), at(3705, t, 5)), Some(3600 * S));
        // Just below and at the threshold.
        assert_eq!(slept(at(100, t, 0), at(114, t, 5)), None);
        assert_eq!(slept(at(100, t, 0), at(115, t, 5)), Some(THRESHOLD));
        // The wall clock set back, or the process stopped (both clocks ran): no suspend.
        assert_eq!(slept(at(100, t, 0), at(40, t, 5)), None);
        assert_eq!(slept(at(100, t, 0), at(160, t, 60)), None);
    }

    static OFFSET_SECS: AtomicU64 = AtomicU64::new(0);

    fn moved_wall() -> SystemTime {
        SystemTime::now() + Duration::from_secs(OFFSET_SECS.load(Ordering::SeqCst))
    }

    #[test]
    fn the_watch_reports_a_jump_once_and_measures_from_each_check() {
        let start = Instant::now();
        let mut watch = SuspendWatch::new(moved_wall, 5 * S, start);
        assert_eq!(watch.next_check(), start + 5 * S);
        assert_eq!(watch.check(Instant::now()), None, "awake");
        OFFSET_SECS.store(7200, Ordering::SeqCst);
        let jump = watch.check(Instant::now()).expect("two hours on the wall");
        assert!(jump >= 7199 * S && jump <= 7201 * S, "{jump:?}");
        assert_eq!(watch.check(Instant::now()), None, "said once");
        OFFSET_SECS.store(10_800, Ordering::SeqCst);
        watch.rebase(Instant::now());
        assert_eq!(watch.check(Instant::now()), None, "a jump before a rebase");
    }
}
