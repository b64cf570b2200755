//! The watch's status on stderr: a spinner while targets resolve and connect (on a
//! terminal, not with `-q`), then one line per thing worth knowing about each link;
//! connection details at `-v`. Renders [`Status`]; decides nothing.

use crate::event::format_time;
use crate::event::report::Status;
use crate::logging;
use crate::term::Term;
use crate::util::duration::human;

/// `HH:MM:SS line`, local time.
fn stamped(line: String) -> String {
    format!("{} {line}", chrono::Local::now().format("%H:%M:%S"))
}

/// Status on stderr, for the watch loop.
pub struct StatusLine {
    /// The outage of each target whose link is down, for "still down" lines.
    outages: std::cell::RefCell<std::collections::HashMap<String, Outage>>,
    term: Term,
    spinner: Option<indicatif::ProgressBar>,
    /// `--changes`: an outage is covered by delta polling, not lost.
    changes: bool,
}

impl StatusLine {
    pub fn new(term: &Term, changes: bool) -> StatusLine {
        StatusLine {
            outages: std::cell::RefCell::default(),
            term: *term,
            // No spinner between JSON or journald lines, even on a terminal.
            spinner: logging::for_people()
                .then(|| term.spinner("{spinner} {msg}…"))
                .flatten(),
            changes,
        }
    }

    pub fn spin(&self, message: &str) {
        if let Some(bar) = &self.spinner {
            bar.set_message(message.to_string());
        }
    }

    pub fn clear_spinner_if(&mut self, done: bool) {
        if done {
            if let Some(bar) = self.spinner.take() {
                bar.finish_and_clear();
            }
        }
    }

    /// A line that `-q` hides, stamped with the local time (as stdout's pretty lines
    /// are, so the two read together).
    pub fn note(&self, line: String) {
        if !logging::for_people() {
            // json or journald: one format on stderr, the journal stamps the time.
            if !self.term.quiet() {
                tracing::info!(target: logging::STATUS_TARGET, "{line}");
            }
            return;
        }
        let line = stamped(line);
        match &self.spinner {
            Some(bar) => bar.suspend(|| self.term.note(&line)),
            None => self.term.note(&line),
        }
    }

    /// A line that `-q` does not hide (a target lost, a cursor not resumed), stamped.
    pub fn error(&self, line: String) {
        if !logging::for_people() {
            tracing::warn!(target: logging::STATUS_TARGET, "{line}");
            return;
        }
        let line = stamped(line);
        match &self.spinner {
            Some(bar) => bar.suspend(|| self.term.prompt(&line)),
            None => self.term.prompt(&line),
        }
    }

    pub fn show(&self, label: &str, status: Status) {
        match status {
            Status::Connecting { endpoint: None } => {
                tracing::info!("{label}: requesting the socket.io endpoint")
            }
            Status::Connecting {
                endpoint: Some(url),
            } => tracing::info!("{label}: connecting to {url}"),
            Status::Connected {
                first: true,
                display_name,
            } => self.note(format!("watching {label} ({display_name})…")),
            Status::Connected { first: false, .. } => {
                self.outages.borrow_mut().remove(label);
                self.note(format!("{label}: reconnected"));
                // For the soak run (docs/reliability.md): a leak shows as a count that grows.
                tracing::debug!(
                    "{label}: {} tasks alive in the runtime",
                    tokio::runtime::Handle::current().metrics().num_alive_tasks()
                );
            }
            Status::Disconnected { reason, retry_in } => self.note(format!(
                "{label}: disconnected ({reason}); reconnecting in {}",
                human(retry_in)
            )),
            Status::Retrying {
                error,
                retry_in,
                first,
            } => {
                let said = self
                    .outages
                    .borrow_mut()
                    .entry(label.to_string())
                    .or_default()
                    .attempt(first, std::time::Instant::now());
                match said {
                    Say::Attempt => self.note(format!(
                        "{label}: cannot connect ({error}); retrying in {}",
                        human(retry_in)
                    )),
                    Say::StillDown { down, attempt } => self.note(format!(
                        "{label}: still down after {}, attempt {attempt} ({error}); retrying in {}",
                        human(down),
                        human(retry_in)
                    )),
                    Say::Nothing => {}
                }
                if first && !self.changes {
                    self.note(format!(
                        "{label}: no notifications until the socket is back; changes made \
                         meanwhile are not reported (--changes would ask delta meanwhile)"
                    ));
                }
            }
            Status::Fallback { every } => self.note(format!(
                "{label}: no socket for now; asking delta every {} until it is back",
                human(every)
            )),
            Status::Renewed { expires } => tracing::info!(
                "{label}: switched to a fresh endpoint{}",
                expires
                    .map(|t| format!(" (valid until {})", format_time(t)))
                    .unwrap_or_default()
            ),
            Status::RenewalFailed { error, retry_in } => self.note(format!(
                "{label}: cannot renew the endpoint ({error}); keeping the current link, trying again in {}",
                human(retry_in)
            )),
            Status::Polling {
                display_name,
                every,
            } => self.note(format!(
                "watching {label} ({display_name}) by asking delta every {}…",
                every.map(human).unwrap_or_else(|| "while".into())
            )),
            Status::DeltaFailed { error, retry_in } => self.note(format!(
                "{label}: {error}; asking delta again in {}",
                human(retry_in)
            )),
            Status::Woke { slept } => self.note(format!(
                "{label}: the clock jumped {} ahead (the machine was asleep?); reconnecting now",
                human(slept)
            )),
            Status::ClockSkew { ahead, by } => self.error(format!(
                "warning: this machine's clock is {} {} Microsoft Graph's; subscriptions are \
                 timed by Graph's clock, but the times on lines use this one: check the \
                 system clock",
                human(by),
                if ahead { "ahead of" } else { "behind" }
            )),
            Status::Enumerating { items } => match &self.spinner {
                Some(bar) => bar.set_message(format!("{label}: indexing, {items} items so far")),
                None if items == 0 => self.note(format!(
                    "{label}: indexing every item once (one full delta enumeration)…"
                )),
                None => {}
            },
            Status::Indexed { items, took } => self.note(format!(
                "{label}: {items} items indexed in {}",
                human(took)
            )),
            Status::Unsaved { error } => self.error(format!(
                "graphwatch: {label}: {error}; the stream goes on, and a later round's cursor is saved once the file can be written (a restart meanwhile repeats the lines since the last save)"
            )),
            Status::Saved => self.error(format!(
                "graphwatch: {label}: its cursor is saved in the state file again"
            )),
            // Handled by the loop.
            Status::Lost(_) => {}
        }
    }
}

/// How often a long outage is mentioned: each of its first [`Outage::TOLD`] failed
/// attempts, then once every [`Outage::EVERY`] ("still down after 5m, attempt 9"), so
/// that an hour of backoff at its 60 s ceiling is a dozen lines, not sixty.
#[derive(Debug, Default)]
struct Outage {
    began: Option<std::time::Instant>,
    attempts: u32,
    last_said: Option<std::time::Instant>,
}

#[derive(Debug, PartialEq, Eq)]
enum Say {
    Attempt,
    StillDown {
        down: std::time::Duration,
        attempt: u32,
    },
    Nothing,
}

impl Outage {
    const TOLD: u32 = 3;
    const EVERY: std::time::Duration = std::time::Duration::from_secs(300);

    fn attempt(&mut self, first: bool, now: std::time::Instant) -> Say {
        if first || self.began.is_none() {
            *self = Outage {
                began: Some(now),
                ..Outage::default()
            };
        }
        self.attempts += 1;
        if self.attempts <= Self::TOLD {
            self.last_said = Some(now);
            return Say::Attempt;
        }
        let since = self.last_said.map_or(Self::EVERY, |at| now - at);
        if since < Self::EVERY {
            return Say::Nothing;
        }
        self.last_said = Some(now);
        Say::StillDown {
            down: now - self.began.unwrap_or(now),
            attempt: self.attempts,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    #[test]
    fn a_long_outage_is_told_three_times_then_every_five_minutes() {
        let t0 = Instant::now();
        let mut outage = Outage::default();
        let mut said = Vec::new();
        // An attempt a minute (the backoff's ceiling) for 16 minutes.
        for minute in 0..16u64 {
            let now = t0 + Duration::from_secs(60 * minute);
            said.push((minute, outage.attempt(minute == 0, now)));
        }
        let told: Vec<String> = said
            .iter()
            .filter(|(_, s)| *s != Say::Nothing)
            .map(|(m, s)| match s {
                Say::Attempt => format!("{m}: attempt"),
                Say::StillDown { down, attempt } => {
                    format!("{m}: still down {}s, attempt {attempt}", down.as_secs())
                }
                Say::Nothing => unreachable!(),
            })
            .collect();
        assert_eq!(
            told,
            [
                "0: attempt",
                "1: attempt",
                "2: attempt",
                "7: still down 420s, attempt 8",
                "12: still down 720s, attempt 13",
            ]
        );
        // A new outage starts the count again.
        assert_eq!(
            outage.attempt(true, t0 + Duration::from_secs(3600)),
            Say::Attempt
        );
    }
}
