//! The watch's status on stderr: a spinner while targets resolve and connect (on a
//! terminal, not with `-q`), then one line per thing worth knowing about each link;
//! connection details at `-v`. Renders [`Status`]; decides nothing.

use crate::event::format_time;
use crate::event::report::Status;
use crate::term::Term;
use crate::util::duration::human;

/// Status on stderr, for the watch loop.
pub struct StatusLine {
    term: Term,
    spinner: Option<indicatif::ProgressBar>,
    /// `--changes`: an outage is covered by delta polling, not lost.
    changes: bool,
}

impl StatusLine {
    pub fn new(term: &Term, changes: bool) -> StatusLine {
        StatusLine {
            term: *term,
            spinner: term.spinner("{spinner} {msg}…"),
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

    /// A line that `-q` hides.
    pub fn note(&self, line: String) {
        match &self.spinner {
            Some(bar) => bar.suspend(|| self.term.note(&line)),
            None => self.term.note(&line),
        }
    }

    /// A line that `-q` does not hide (a target lost, a cursor not resumed).
    pub fn error(&self, line: String) {
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
                self.note(format!(
                    "{label}: cannot connect ({error}); retrying in {}",
                    human(retry_in)
                ));
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
