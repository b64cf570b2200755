//! When to run a delta round: notifications in, rounds out.
//!
//! A notification only says "something changed", the live service sends them twice and
//! in bursts (one per file of an upload), and delta lags them by seconds (docs/graph-socketio.md
//! §3–4). Running one delta round per notification would multiply requests and invite
//! throttling; running none after an empty round would lose the change the poke was
//! about. The [`Coalescer`] decides, per target:
//!
//! - **Debounce.** A notification schedules a round [`Timings::debounce`] after the
//!   *last* notification of a burst, but never later than [`Timings::max_delay`] after
//!   the *first*, so that a steady trickle cannot postpone rounds for ever.
//! - **One more, exactly.** Notifications that arrive while a round runs schedule
//!   exactly one more round after it (debounced the same way), however many they are:
//!   the running round may have read delta before their changes.
//! - **Lag re-check.** A round after a notification that finds nothing is repeated after
//!   each of [`Timings::rechecks`] (2 s, then 5 s) while it keeps finding nothing, then
//!   the coalescer waits for the next notification. Bounded, so a notification that
//!   was only about our own or an invisible change costs at most three rounds.
//! - **Safety net.** A round every [`Timings::poll`] (5 min) without any other round,
//!   as abraunegg/onedrive keeps one, for notifications that never came. With no
//!   socket at all (`--poll` alone) this is the only source of rounds.
//! - **Failures.** A failed round is retried after a backoff (1 s doubling to
//!   [`Timings::max_backoff`]) or the `Retry-After` Graph sent, whichever is longer;
//!   no round of any kind starts before that.
//!
//! The core is a pure state machine ([`Coalescer::handle`] with an explicit `now`,
//! [`Coalescer::deadline`] for when to call it next), so every rule is tested with
//! made-up instants. The async edge ([`Coalescer::next_round`], [`Coalescer::during`])
//! only reads the clock, sleeps and receives; it is tested with tokio's paused time.

use std::future::Future;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::util::backoff::Backoff;

/// The coalescer's knobs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timings {
    /// Quiet time after the last notification of a burst before its round.
    pub debounce: Duration,
    /// Longest wait after the first notification of a burst.
    pub max_delay: Duration,
    /// Delays of the re-checks after an empty round that followed a notification.
    pub rechecks: Vec<Duration>,
    /// The safety-net (or, without a socket, the polling) interval; `None`: never.
    pub poll: Option<Duration>,
    /// Longest backoff after failed rounds (without a longer `Retry-After`).
    pub max_backoff: Duration,
}

impl Default for Timings {
    fn default() -> Self {
        Timings {
            debounce: Duration::from_millis(500),
            max_delay: Duration::from_secs(3),
            rechecks: vec![Duration::from_secs(2), Duration::from_secs(5)],
            poll: Some(Duration::from_secs(300)),
            max_backoff: Duration::from_secs(60),
        }
    }
}

/// Why a round runs (for logs and tests).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// Asked for by the caller ([`Input::Start`]): e.g. a resumed cursor at start.
    Start,
    /// Notifications arrived.
    Notification,
    /// The n-th (1-based) look again after an empty round, because delta lags.
    Recheck(usize),
    /// The safety net / polling interval.
    Poll,
    /// A failed round, again.
    Retry,
}

/// What the coalescer is told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Input {
    /// A notification for this target arrived.
    Notification,
    /// Run a round as soon as allowed (at start, to catch up from a saved cursor).
    Start,
    /// The round that was started has finished; `empty`: it found no changes.
    RoundFinished { empty: bool },
    /// The round that was started failed; Graph may have asked for a wait.
    RoundFailed { retry_after: Option<Duration> },
    /// Time passed (the edge calls this at [`Coalescer::deadline`]).
    Tick,
}

/// Notifications of one burst.
#[derive(Debug, Clone, Copy)]
struct Window {
    first: Instant,
    last: Instant,
}

impl Window {
    fn new(now: Instant) -> Self {
        Window {
            first: now,
            last: now,
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Pending {
    reason: Reason,
    /// When it is due (for notifications: computed from `window`).
    due: Instant,
    window: Option<Window>,
    /// If this round finds nothing, the index of the next re-check delay; `None`: no
    /// re-check (start, poll).
    recheck: Option<usize>,
}

#[derive(Debug, Clone, Copy)]
struct Running {
    recheck: Option<usize>,
}

/// The round scheduler of one target. See the module docs for the rules.
#[derive(Debug)]
pub struct Coalescer {
    timings: Timings,
    running: Option<Running>,
    pending: Option<Pending>,
    /// Notifications seen while a round runs.
    during_round: Option<Window>,
    poll_at: Option<Instant>,
    /// No round before this (failures).
    not_before: Option<Instant>,
    /// Waits after failed rounds: 1 s doubling to `max_backoff`, no jitter.
    backoff: Backoff,
    /// The edge stops receiving from a closed channel.
    pokes_closed: bool,
}

impl Coalescer {
    /// A coalescer with nothing to do yet; the first safety-net round is due one `poll`
    /// from `now`.
    pub fn new(timings: Timings, now: Instant) -> Self {
        Coalescer {
            poll_at: timings.poll.map(|p| now + p),
            running: None,
            pending: None,
            during_round: None,
            not_before: None,
            backoff: Backoff::steady(Duration::from_secs(1), timings.max_backoff),
            pokes_closed: false,
            timings,
        }
    }

    /// Change the poll interval from `now` on: the next poll round is one new interval
    /// away (`--changes` polls faster while its socket is down, and slows down again
    /// when it is back).
    pub fn set_poll(&mut self, poll: Option<Duration>, now: Instant) {
        self.timings.poll = poll;
        self.poll_at = poll.map(|p| now + p);
    }

    /// A round is running (started and not yet reported finished or failed).
    #[cfg(test)]
    fn is_running(&self) -> bool {
        self.running.is_some()
    }

    /// Feed one input at `now`; returns the reason of a round that starts now, if one
    /// does. After that, the next input must be its `RoundFinished` or `RoundFailed`
    /// (notifications may come in between; they schedule one more round).
    pub fn handle(&mut self, input: Input, now: Instant) -> Option<Reason> {
        self.record(input, now);
        self.start_if_due(now)
    }

    /// Take an input without starting a round (the edge starts rounds only where it
    /// can act on them, in [`Coalescer::next_round`]).
    fn record(&mut self, input: Input, now: Instant) {
        match input {
            Input::Notification => self.notified(now),
            Input::Start => {
                if self.running.is_none() && self.pending.is_none() {
                    self.pending = Some(Pending {
                        reason: Reason::Start,
                        due: now,
                        window: None,
                        recheck: None,
                    });
                }
            }
            Input::RoundFinished { empty } => self.on_finished(empty, now),
            Input::RoundFailed { retry_after } => self.on_failed(retry_after, now),
            Input::Tick => {}
        }
    }

    /// When to [`Input::Tick`] next: a round is due then. `None` while a round runs or
    /// when nothing is scheduled (no poll interval, no notification).
    pub fn deadline(&self) -> Option<Instant> {
        if self.running.is_some() {
            return None;
        }
        let at = match &self.pending {
            Some(p) => Some(p.due),
            None => self.poll_at,
        }?;
        Some(match self.not_before {
            Some(nb) => at.max(nb),
            None => at,
        })
    }

    fn notified(&mut self, now: Instant) {
        if self.running.is_some() {
            let w = self.during_round.get_or_insert(Window::new(now));
            w.last = now;
            return;
        }
        let window = match self.pending {
            Some(Pending {
                window: Some(mut w),
                ..
            }) => {
                w.last = now;
                w
            }
            // A pending start runs now anyway; it now also stands for the notification.
            Some(
                p @ Pending {
                    reason: Reason::Start,
                    ..
                },
            ) => {
                self.pending = Some(Pending {
                    recheck: Some(0),
                    ..p
                });
                return;
            }
            // A pending re-check or retry is replaced by the notification's round.
            _ => Window::new(now),
        };
        self.pending = Some(self.notification_round(window));
    }

    fn notification_round(&self, window: Window) -> Pending {
        let due = (window.first + self.timings.max_delay).min(window.last + self.timings.debounce);
        Pending {
            reason: Reason::Notification,
            due,
            window: Some(window),
            recheck: Some(0),
        }
    }

    fn on_finished(&mut self, empty: bool, now: Instant) {
        let Some(round) = self.running.take() else {
            return;
        };
        self.backoff.reset();
        self.not_before = None;
        self.poll_at = self.timings.poll.map(|p| now + p);
        if let Some(window) = self.during_round.take() {
            self.pending = Some(self.notification_round(window));
            return;
        }
        if let (true, Some(stage)) = (empty, round.recheck) {
            if let Some(delay) = self.timings.rechecks.get(stage) {
                self.pending = Some(Pending {
                    reason: Reason::Recheck(stage + 1),
                    due: now + *delay,
                    window: None,
                    recheck: Some(stage + 1),
                });
            }
        }
    }

    fn on_failed(&mut self, retry_after: Option<Duration>, now: Instant) {
        let Some(round) = self.running.take() else {
            return;
        };
        let wait = retry_after
            .unwrap_or_default()
            .max(self.backoff.next_delay());
        self.not_before = Some(now + wait);
        self.poll_at = self.timings.poll.map(|p| now + p);
        self.pending = Some(match self.during_round.take() {
            Some(window) => self.notification_round(window),
            None => Pending {
                reason: Reason::Retry,
                due: now + wait,
                window: None,
                recheck: round.recheck,
            },
        });
    }

    fn start_if_due(&mut self, now: Instant) -> Option<Reason> {
        if self.running.is_some() {
            return None;
        }
        if self.not_before.is_some_and(|nb| nb > now) {
            return None;
        }
        let (reason, recheck) = match self.pending {
            Some(p) if p.due <= now => (p.reason, p.recheck),
            Some(_) => return None,
            None if self.poll_at.is_some_and(|at| at <= now) => (Reason::Poll, None),
            None => return None,
        };
        self.pending = None;
        self.running = Some(Running { recheck });
        Some(reason)
    }

    // -- the async edge -----------------------------------------------------------------

    /// Wait until a round is due and return why; it counts as started. Notifications
    /// are taken from `pokes` meanwhile (one message per notification; the payload is
    /// not looked at). `None`, or a closed channel: polling only.
    ///
    /// Waits for ever if nothing can ever be due (no poll interval, no notifications):
    /// select it against the shutdown signal.
    pub async fn next_round<T>(&mut self, mut pokes: Option<&mut mpsc::Receiver<T>>) -> Reason {
        loop {
            if let Some(reason) = self.handle(Input::Tick, Instant::now()) {
                return reason;
            }
            let deadline = self.deadline();
            let listen = !self.pokes_closed && pokes.is_some();
            tokio::select! {
                got = recv(&mut pokes), if listen => match got {
                    Some(()) => {
                        if let Some(reason) = self.handle(Input::Notification, Instant::now()) {
                            return reason;
                        }
                    }
                    None => self.pokes_closed = true,
                },
                () = sleep_until(deadline), if deadline.is_some() => {}
                else => std::future::pending::<()>().await,
            }
        }
    }

    /// Run a round (the future) while taking notifications from `pokes`, so that those
    /// arriving meanwhile schedule one more round. Report its result afterwards with
    /// [`Coalescer::finished`] or [`Coalescer::failed`].
    pub async fn during<T, F: Future>(
        &mut self,
        round: F,
        mut pokes: Option<&mut mpsc::Receiver<T>>,
    ) -> F::Output {
        tokio::pin!(round);
        loop {
            let listen = !self.pokes_closed && pokes.is_some();
            tokio::select! {
                biased;
                out = &mut round => return out,
                got = recv(&mut pokes), if listen => match got {
                    Some(()) => self.record(Input::Notification, Instant::now()),
                    None => self.pokes_closed = true,
                },
            }
        }
    }

    /// The started round finished (`empty`: no changes). The next round, even one due
    /// at once, is started by [`Coalescer::next_round`].
    pub fn finished(&mut self, empty: bool) {
        self.record(Input::RoundFinished { empty }, Instant::now());
    }

    /// The started round failed (`retry_after`: what Graph asked for, if anything).
    pub fn failed(&mut self, retry_after: Option<Duration>) {
        self.record(Input::RoundFailed { retry_after }, Instant::now());
    }
}

/// One message from `pokes`, as `()`; `None` when closed (or no channel).
async fn recv<T>(pokes: &mut Option<&mut mpsc::Receiver<T>>) -> Option<()> {
    match pokes {
        Some(rx) => rx.recv().await.map(|_| ()),
        None => None,
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    if let Some(at) = deadline {
        tokio::time::sleep_until(at).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    fn timings() -> Timings {
        Timings::default()
    }

    /// Drive the machine over a timeline: notifications at the given offsets (ms),
    /// rounds taking `round_ms` and finding `found(n)` changes; returns (start ms,
    /// reason) of each round up to `until` ms.
    fn simulate(
        timings: Timings,
        notifications: &[u64],
        round_ms: u64,
        found: impl Fn(usize) -> bool,
        until: u64,
    ) -> Vec<(u64, Reason)> {
        let t0 = Instant::now();
        let at = |ms: u64| t0 + MS * ms as u32;
        let mut c = Coalescer::new(timings, t0);
        let mut rounds = Vec::new();
        let mut notes = notifications.iter().copied().peekable();
        let mut running_until: Option<u64> = None;
        let mut now = 0;
        while now <= until {
            let mut started = None;
            while notes.peek() == Some(&now) {
                notes.next();
                started = started.or(c.handle(Input::Notification, at(now)));
            }
            if running_until == Some(now) {
                running_until = None;
                let empty = !found(rounds.len() - 1);
                started = started.or(c.handle(Input::RoundFinished { empty }, at(now)));
            }
            started = started.or(c.handle(Input::Tick, at(now)));
            if let Some(reason) = started {
                rounds.push((now, reason));
                running_until = Some(now + round_ms);
            }
            now += 1;
        }
        rounds
    }

    #[test]
    fn a_burst_within_the_debounce_window_is_one_round() {
        // 20 notifications, 40 ms apart (a multi-file upload, each sent twice).
        let burst: Vec<u64> = (0..20).map(|i| 100 + i * 40).collect();
        let rounds = simulate(timings(), &burst, 30, |_| true, 10_000);
        assert_eq!(rounds, vec![(100 + 19 * 40 + 500, Reason::Notification)]);
    }

    #[test]
    fn a_steady_trickle_still_gets_rounds_every_max_delay() {
        let trickle: Vec<u64> = (0..100).map(|i| i * 100).collect();
        let rounds = simulate(timings(), &trickle, 10, |_| true, 12_000);
        let starts: Vec<u64> = rounds.iter().map(|r| r.0).collect();
        // First at 3 s (max_delay), then each round's followers keep coming.
        assert_eq!(starts[0], 3_000);
        assert!(rounds.len() >= 3 && rounds.len() <= 6, "{rounds:?}");
        assert!(rounds.iter().all(|r| r.1 == Reason::Notification));
    }

    #[test]
    fn notifications_during_a_round_schedule_exactly_one_more() {
        // Round starts at 500 and takes 2 s; 10 notifications arrive meanwhile.
        let mut notes = vec![0];
        notes.extend((0..10).map(|i| 600 + i * 100));
        let rounds = simulate(timings(), &notes, 2_000, |_| true, 20_000);
        assert_eq!(
            rounds,
            vec![(500, Reason::Notification), (2_500, Reason::Notification)],
            "the follow-up starts when the round ends (its notifications are older than the debounce)"
        );
    }

    #[test]
    fn an_empty_round_after_a_notification_is_rechecked_twice_then_left() {
        let rounds = simulate(timings(), &[0], 10, |_| false, 60_000);
        assert_eq!(
            rounds,
            vec![
                (500, Reason::Notification),
                (2_510, Reason::Recheck(1)),
                (7_520, Reason::Recheck(2)),
            ]
        );
    }

    #[test]
    fn a_recheck_that_finds_the_change_ends_the_rechecks() {
        let rounds = simulate(timings(), &[0], 10, |n| n == 1, 60_000);
        assert_eq!(
            rounds,
            vec![(500, Reason::Notification), (2_510, Reason::Recheck(1))]
        );
    }

    #[test]
    fn a_notification_during_rechecks_restarts_them() {
        let rounds = simulate(timings(), &[0, 3_000], 10, |_| false, 60_000);
        let reasons: Vec<Reason> = rounds.iter().map(|r| r.1).collect();
        assert_eq!(
            reasons,
            vec![
                Reason::Notification,
                Reason::Recheck(1),
                Reason::Notification,
                Reason::Recheck(1),
                Reason::Recheck(2),
            ]
        );
        assert_eq!(rounds[2].0, 3_500);
    }

    #[test]
    fn the_safety_net_polls_without_notifications_and_never_rechecks() {
        let s = Timings {
            poll: Some(Duration::from_secs(10)),
            ..timings()
        };
        let rounds = simulate(s, &[], 10, |_| false, 35_000);
        assert_eq!(
            rounds,
            vec![
                (10_000, Reason::Poll),
                (20_010, Reason::Poll),
                (30_020, Reason::Poll),
            ]
        );
    }

    #[test]
    fn a_shorter_poll_interval_takes_effect_at_once_and_a_longer_one_after_a_round() {
        let t0 = Instant::now();
        let mut co = Coalescer::new(timings(), t0);
        assert_eq!(co.deadline(), Some(t0 + Duration::from_secs(300)));
        // The socket is down: poll every 2 s from now.
        let down = t0 + Duration::from_secs(7);
        co.set_poll(Some(Duration::from_secs(2)), down);
        assert_eq!(co.deadline(), Some(down + Duration::from_secs(2)));
        let due = down + Duration::from_secs(2);
        assert_eq!(co.handle(Input::Tick, due), Some(Reason::Poll));
        co.handle(Input::RoundFinished { empty: true }, due);
        assert_eq!(co.deadline(), Some(due + Duration::from_secs(2)));
        // Back up: the usual safety net again.
        let up = due + Duration::from_secs(1);
        co.set_poll(Some(Duration::from_secs(300)), up);
        assert_eq!(co.deadline(), Some(up + Duration::from_secs(300)));
    }

    #[test]
    fn any_round_resets_the_safety_net() {
        let s = Timings {
            poll: Some(Duration::from_secs(10)),
            ..timings()
        };
        let rounds = simulate(s, &[8_000], 10, |_| true, 19_000);
        // Not at 10 s: the notification's round pushed the next poll to 10 s after it.
        assert_eq!(
            rounds,
            vec![(8_500, Reason::Notification), (18_510, Reason::Poll)]
        );
    }

    #[test]
    fn without_poll_and_notifications_nothing_is_due() {
        let s = Timings {
            poll: None,
            ..timings()
        };
        let c = Coalescer::new(s, Instant::now());
        assert_eq!(c.deadline(), None);
    }

    #[test]
    fn start_runs_at_once_and_a_notification_joins_it() {
        let t0 = Instant::now();
        let mut c = Coalescer::new(timings(), t0);
        assert_eq!(c.handle(Input::Start, t0), Some(Reason::Start));
        assert!(c.is_running());
        assert_eq!(c.deadline(), None);
        assert_eq!(
            c.handle(Input::RoundFinished { empty: true }, t0 + MS),
            None
        );
        // No re-check after an empty start round (nothing was announced).
        assert_eq!(c.deadline(), Some(t0 + MS + Duration::from_secs(300)));
    }

    #[test]
    fn failures_back_off_and_honour_retry_after_even_against_notifications() {
        let t0 = Instant::now();
        let mut c = Coalescer::new(timings(), t0);
        c.handle(Input::Start, t0);
        let retry = Duration::from_secs(30);
        assert_eq!(
            c.handle(
                Input::RoundFailed {
                    retry_after: Some(retry)
                },
                t0
            ),
            None
        );
        // A notification 1 s later does not bring the round forward.
        assert_eq!(
            c.handle(Input::Notification, t0 + Duration::from_secs(1)),
            None
        );
        assert_eq!(c.deadline(), Some(t0 + retry));
        assert_eq!(c.handle(Input::Tick, t0 + retry - MS), None);
        assert_eq!(
            c.handle(Input::Tick, t0 + retry),
            Some(Reason::Notification)
        );
        // Without Retry-After: 1 s, 2 s, 4 s … capped.
        let mut c = Coalescer::new(timings(), t0);
        let mut now = t0;
        c.handle(Input::Start, now);
        let mut waits = Vec::new();
        for _ in 0..8 {
            c.handle(Input::RoundFailed { retry_after: None }, now);
            let due = c.deadline().unwrap();
            waits.push((due - now).as_secs());
            now = due;
            assert_eq!(c.handle(Input::Tick, now), Some(Reason::Retry));
        }
        assert_eq!(waits, vec![1, 2, 4, 8, 16, 32, 60, 60]);
        // Success resets the backoff.
        c.handle(Input::RoundFinished { empty: false }, now);
        c.handle(Input::Notification, now);
        assert_eq!(c.deadline(), Some(now + Duration::from_millis(500)));
    }

    #[test]
    fn a_failed_notification_round_keeps_its_recheck() {
        let t0 = Instant::now();
        let mut c = Coalescer::new(timings(), t0);
        c.handle(Input::Notification, t0);
        let t1 = t0 + Duration::from_millis(500);
        assert_eq!(c.handle(Input::Tick, t1), Some(Reason::Notification));
        c.handle(Input::RoundFailed { retry_after: None }, t1);
        let t2 = t1 + Duration::from_secs(1);
        assert_eq!(c.handle(Input::Tick, t2), Some(Reason::Retry));
        c.handle(Input::RoundFinished { empty: true }, t2);
        assert_eq!(
            c.handle(Input::Tick, t2 + Duration::from_secs(2)),
            Some(Reason::Recheck(1))
        );
    }

    // -- the edge, with tokio's paused clock ----------------------------------------------

    /// Round start times (ms since start) and reasons, driving the edge as the watch
    /// loop will: `next_round`, then `during` a round that takes `round_ms`.
    async fn run_edge(
        timings: Timings,
        pokes: Option<mpsc::Receiver<()>>,
        round_ms: u64,
        found: impl Fn(usize) -> bool,
        rounds: usize,
    ) -> Vec<(u64, Reason)> {
        let t0 = Instant::now();
        let mut c = Coalescer::new(timings, t0);
        let mut pokes = pokes;
        let mut out = Vec::new();
        for n in 0..rounds {
            let reason = c.next_round(pokes.as_mut()).await;
            out.push(((Instant::now() - t0).as_millis() as u64, reason));
            c.during(tokio::time::sleep(MS * round_ms as u32), pokes.as_mut())
                .await;
            c.finished(!found(n));
        }
        out
    }

    fn poker(times_ms: Vec<u64>) -> mpsc::Receiver<()> {
        let (tx, rx) = mpsc::channel(64);
        tokio::spawn(async move {
            let t0 = Instant::now();
            for ms in times_ms {
                tokio::time::sleep_until(t0 + MS * ms as u32).await;
                let _ = tx.try_send(());
            }
            // Keep the channel open: the socket is still there.
            std::future::pending::<()>().await;
        });
        rx
    }

    #[tokio::test(start_paused = true)]
    async fn edge_burst_then_pokes_during_the_round_then_rechecks() {
        // A burst of 40 pokes (20 changes × 2) 25 ms apart, then 3 pokes while the
        // first round (1 s long) runs, then nothing; every round finds nothing.
        let mut times: Vec<u64> = (0..40).map(|i| i * 25).collect();
        times.extend([1_600, 1_700, 1_800]);
        let rounds = run_edge(timings(), Some(poker(times)), 1_000, |_| false, 4).await;
        assert_eq!(
            rounds,
            vec![
                (975 + 500, Reason::Notification),
                (2_475, Reason::Notification),
                (3_475 + 2_000, Reason::Recheck(1)),
                (6_475 + 5_000, Reason::Recheck(2)),
            ]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn edge_pure_poll_mode_without_a_socket() {
        let s = Timings {
            poll: Some(Duration::from_secs(30)),
            ..timings()
        };
        let rounds = run_edge(s, None, 100, |_| false, 3).await;
        assert_eq!(
            rounds,
            vec![
                (30_000, Reason::Poll),
                (60_100, Reason::Poll),
                (90_200, Reason::Poll),
            ]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn edge_a_closed_channel_falls_back_to_polling() {
        let (tx, rx) = mpsc::channel::<()>(4);
        drop(tx);
        let s = Timings {
            poll: Some(Duration::from_secs(10)),
            ..timings()
        };
        let rounds = run_edge(s, Some(rx), 0, |_| true, 2).await;
        assert_eq!(rounds, vec![(10_000, Reason::Poll), (20_000, Reason::Poll)]);
    }
}
