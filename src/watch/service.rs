//! Telling systemd how the watch is (sd_notify(3), through the `sd-notify` crate): what
//! `Type=notify` and `WatchdogSec=` need, and `systemctl status` shows. Without
//! `NOTIFY_SOCKET` (not under systemd) every call does nothing.
//!
//! docs/service.md, "Run under systemd", says what each message means:
//!
//! - `READY=1` once the watch is live: every target connected (or, with `--changes`,
//!   polled), or lost. Not at the first, because a unit that is "active" should be
//!   watching everything it was asked to.
//! - `WATCHDOG=1` at half `WATCHDOG_USEC`, from the watch loop itself, never from a
//!   thread of its own: the loop sends it between two reports, so a loop that is stuck
//!   (the one runtime thread blocked) stops sending it and systemd restarts the service.
//!   A link that is down is not stuck: it reconnects with backoff, which a restart would
//!   not do better. Nor is a reader of stdout that stopped reading: stdout is written by
//!   a thread of its own behind a bounded queue (docs/reliability.md, "Behind a slow
//!   reader"), the loop goes on reading the links, and a restart would meet the same
//!   reader.
//! - `STATUS=` a short state for people: waiting for Graph, connecting, watching N of M
//!   targets and what is down, events written.
//! - `EXTEND_TIMEOUT_USEC=` while start-up waits for Graph, so that a network that is
//!   not up yet does not run into `TimeoutStartSec=` (start-up waits for as long as it
//!   takes under systemd).
//! - `RELOADING=1` … `READY=1` around a `SIGHUP` reload; `STOPPING=1` when the watch ends.
//!
//! A send blocks, as libsystemd's does, until systemd has room for the datagram; systemd
//! reads its socket at once (docs/decisions.md, "Service mode").

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use crate::event::report::Status;

/// The service manager's end of the watch, or nothing.
#[derive(Debug, Default)]
pub struct Service {
    /// `NOTIFY_SOCKET` is set: systemd (or a stand-in) listens.
    on: bool,
    /// `WATCHDOG_USEC`, if it is for this process.
    watchdog: Option<Duration>,
    ready: bool,
    /// The last `STATUS=` sent, so that the same is not sent again.
    said: RefCell<String>,
    /// Each target's link, for `STATUS=`.
    links: BTreeMap<String, Link>,
    /// The targets that connected (or polled) once, or were lost: `READY=1` when all.
    settled: BTreeSet<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Link {
    Up,
    Polling,
    Down,
    Lost,
}

/// Under a service manager that listens (`NOTIFY_SOCKET`): start-up then waits for
/// Graph for as long as it takes (docs/reliability.md, "Start-up").
pub fn under_systemd() -> bool {
    std::env::var_os("NOTIFY_SOCKET").is_some_and(|v| !v.is_empty())
}

impl Service {
    pub fn from_env() -> Service {
        let on = under_systemd();
        Service {
            on,
            watchdog: if on { watchdog_usec() } else { None },
            ..Service::default()
        }
    }

    /// How often the loop must say it is alive: half `WATCHDOG_USEC`, as
    /// sd_watchdog_enabled(3) advises.
    pub fn watchdog_every(&self) -> Option<Duration> {
        self.watchdog.map(|d| (d / 2).max(Duration::from_millis(1)))
    }

    /// The loop is turning: `WATCHDOG=1`, and the status with the count written.
    pub fn alive(&self, written: u64) {
        self.send_status(&self.watching(written));
        self.send(&["WATCHDOG=1"]);
    }

    /// A line for people (`STATUS=`), unless it is the one last sent.
    pub fn status(&self, text: &str) {
        self.send_status(text);
    }

    /// Start-up waits `delay` for Graph: the start must not time out meanwhile. The next
    /// attempt may itself take a while (the Graph client retries; a black-holed network
    /// times out), hence the margin.
    pub fn waiting(&self, text: &str, delay: Duration) {
        const MARGIN: Duration = Duration::from_secs(180);
        let text = one_line(text);
        let usec = (delay + MARGIN).as_micros().min(u32::MAX as u128);
        self.send(&[
            &format!("STATUS={text}"),
            &format!("EXTEND_TIMEOUT_USEC={usec}"),
        ]);
        self.said.replace(text);
    }

    /// A target's link changed; `READY=1` once every target is connected, polled or
    /// lost (of `all`).
    pub fn saw(&mut self, label: &str, status: &Status, all: usize, written: u64) {
        let link = match status {
            Status::Connected { .. } => Link::Up,
            Status::Polling { .. } | Status::Fallback { .. } => Link::Polling,
            Status::Disconnected { .. } | Status::Retrying { .. } => Link::Down,
            Status::Lost(_) => Link::Lost,
            _ => return,
        };
        if matches!(
            status,
            Status::Connected { .. } | Status::Polling { .. } | Status::Lost(_)
        ) {
            self.settled.insert(label.to_string());
        }
        self.links.insert(label.to_string(), link);
        self.check_ready(all, written);
    }

    /// A target lost at start (not there, not readable), before any link.
    pub fn lost(&mut self, label: &str, all: usize, written: u64) {
        self.links.insert(label.to_string(), Link::Lost);
        self.settled.insert(label.to_string());
        self.check_ready(all, written);
    }

    fn check_ready(&mut self, all: usize, written: u64) {
        let status = self.watching(written);
        if !self.ready && self.settled.len() >= all {
            self.ready = true;
            self.said.replace(status.clone());
            self.send(&["READY=1", &format!("STATUS={status}")]);
        } else {
            self.send_status(&status);
        }
    }

    /// `SIGHUP`: reloading, then ready again with what the reload did.
    pub fn reloading(&self) {
        #[cfg(unix)]
        let now = sd_notify::NotifyState::monotonic_usec_now()
            .map(|n| n.to_string())
            .ok();
        #[cfg(not(unix))]
        let now: Option<String> = None;
        let mut states = vec!["RELOADING=1".to_string()];
        states.extend(now);
        let states: Vec<&str> = states.iter().map(String::as_str).collect();
        self.send(&states);
    }

    pub fn reloaded(&self, line: &str) {
        if self.ready {
            self.send(&["READY=1", &format!("STATUS={}", one_line(line))]);
        }
    }

    pub fn stopping(&self) {
        self.send(&["STOPPING=1", "STATUS=stopping"]);
    }

    /// `watching 2 of 3 targets (list:x reconnecting); 15 events written`.
    fn watching(&self, written: u64) -> String {
        let count = |want: Link| self.links.values().filter(|l| **l == want).count();
        let (up, polling, down, lost) = (
            count(Link::Up),
            count(Link::Polling),
            count(Link::Down),
            count(Link::Lost),
        );
        let all = self.links.len();
        if all == 0 {
            return "connecting".into();
        }
        let mut text = format!(
            "watching {} of {all} target{}",
            up + polling,
            if all == 1 { "" } else { "s" }
        );
        let named = |want: Link| -> Vec<&str> {
            self.links
                .iter()
                .filter(|(_, l)| **l == want)
                .map(|(label, _)| label.as_str())
                .collect()
        };
        let mut notes = Vec::new();
        if polling > 0 {
            notes.push(format!(
                "{} by polling delta",
                named(Link::Polling).join(", ")
            ));
        }
        if down > 0 {
            notes.push(format!("{} reconnecting", named(Link::Down).join(", ")));
        }
        if lost > 0 {
            notes.push(format!("{} lost", named(Link::Lost).join(", ")));
        }
        if !notes.is_empty() {
            text.push_str(&format!(" ({})", notes.join("; ")));
        }
        text.push_str(&format!(
            "; {written} event{} written",
            if written == 1 { "" } else { "s" }
        ));
        text
    }

    fn send_status(&self, text: &str) {
        let text = one_line(text);
        if !self.on || *self.said.borrow() == text {
            return;
        }
        self.send(&[&format!("STATUS={text}")]);
        self.said.replace(text);
    }

    #[cfg(unix)]
    fn send(&self, states: &[&str]) {
        if !self.on {
            return;
        }
        let states: Vec<sd_notify::NotifyState<'_>> = states
            .iter()
            .map(|s| sd_notify::NotifyState::Custom(s))
            .collect();
        if let Err(e) = sd_notify::notify(&states) {
            // Nothing to do about it but say so: the watch itself goes on.
            tracing::debug!("cannot tell the service manager ({e})");
        }
    }

    #[cfg(not(unix))]
    fn send(&self, _states: &[&str]) {}
}

#[cfg(unix)]
fn watchdog_usec() -> Option<Duration> {
    sd_notify::watchdog_enabled().filter(|d| !d.is_zero())
}

#[cfg(not(unix))]
fn watchdog_usec() -> Option<Duration> {
    None
}

/// `STATUS=` is one line of the datagram: no newline may end it early.
fn one_line(text: &str) -> String {
    text.replace(['\n', '\r'], " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn watching_says_what_is_down() {
        let mut service = Service::default();
        service.links.insert("drive:me".into(), Link::Up);
        service.links.insert("list:x".into(), Link::Down);
        assert_eq!(
            service.watching(1),
            "watching 1 of 2 targets (list:x reconnecting); 1 event written"
        );
        service.links.insert("list:x".into(), Link::Polling);
        assert_eq!(
            service.watching(3),
            "watching 2 of 2 targets (list:x by polling delta); 3 events written"
        );
    }

    #[test]
    fn ready_once_every_target_joined_or_was_lost() {
        let mut service = Service::default();
        service.lost("drive:gone", 3, 0);
        let down = Status::Retrying {
            error: "503".into(),
            retry_in: Duration::from_secs(1),
            first: true,
        };
        service.saw("list:x", &down, 3, 0);
        assert!(!service.ready, "a link that never came up is not ready");
        service.saw(
            "list:x",
            &Status::Fallback {
                every: Duration::from_secs(30),
            },
            3,
            0,
        );
        assert!(!service.ready, "falling back is not polling yet");
        service.saw(
            "drive:me",
            &Status::Connected {
                first: true,
                display_name: "OneDrive".into(),
            },
            3,
            0,
        );
        assert!(!service.ready);
        service.saw(
            "list:x",
            &Status::Polling {
                display_name: "Issues".into(),
                every: None,
            },
            3,
            0,
        );
        assert!(service.ready);
    }

    #[test]
    fn nothing_is_sent_without_a_socket() {
        // `on` is false: `send` returns before the crate is asked (which would also do
        // nothing without NOTIFY_SOCKET, but the test process's environment is shared).
        let service = Service::default();
        service.status("x");
        assert_eq!(*service.said.borrow(), "");
    }
}
