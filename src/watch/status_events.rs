//! `--status-events`: what a link's status means for a script reading stdout, as
//! `status` and `gap` lines (kubectl's `--output-watch-events`). The stderr sentences
//! for people are [`super::status_line`]; these are the same facts as data.

use crate::event::report::Status;
use crate::event::{Event, LinkState};
use crate::util::duration::human;

/// The lines `status` of target `label` becomes; `changes`: in `--changes` mode, where
/// a link that is down means changes arrive late (a `gap`), not never. A lost target
/// is turned into its line by the loop, which knows the error's report.
pub fn lines(label: &str, status: &Status, changes: bool) -> Vec<Event> {
    let mut lines = Vec::new();
    match status {
        Status::Connected { first, .. } => lines.push(Event::status(
            label,
            LinkState::Connected,
            if *first { "joined" } else { "reconnected" },
        )),
        Status::Disconnected { reason, retry_in } => {
            lines.push(Event::status(
                label,
                LinkState::Disconnected,
                format!("{reason}; reconnecting in {}", human(*retry_in)),
            ));
            if changes {
                lines.push(Event::gap(
                    label,
                    "the link dropped: notifications meanwhile are lost; a delta round catches up once it is back",
                ));
            }
        }
        // Once per outage, not once per attempt.
        Status::Retrying {
            error, first: true, ..
        } => lines.push(Event::status(label, LinkState::Disconnected, error.clone())),
        Status::Fallback { every } => {
            lines.push(Event::status(
                label,
                LinkState::Fallback,
                format!("no socket for now; asking delta every {}", human(*every)),
            ));
            lines.push(Event::gap(
                label,
                format!(
                    "no socket: changes arrive by polling, up to {} late",
                    human(*every)
                ),
            ));
        }
        Status::Polling { every, .. } => lines.push(Event::status(
            label,
            LinkState::Fallback,
            match every {
                Some(every) => format!("--no-socket: asking delta every {}", human(*every)),
                None => "--no-socket: asking delta".to_string(),
            },
        )),
        Status::Woke { slept } => {
            lines.push(Event::status(
                label,
                LinkState::Disconnected,
                format!(
                    "the clock jumped {} ahead (asleep?); reconnecting now",
                    human(*slept)
                ),
            ));
            if changes {
                lines.push(Event::gap(
                    label,
                    "the machine slept: notifications meanwhile are lost; a delta round catches up",
                ));
            }
        }
        Status::ClockSkew { .. }
        | Status::Retrying { first: false, .. }
        | Status::Connecting { .. }
        | Status::Renewed { .. }
        | Status::RenewalFailed { .. }
        | Status::DeltaFailed { .. }
        | Status::Enumerating { .. }
        | Status::Indexed { .. }
        | Status::Unsaved { .. }
        | Status::Saved
        | Status::Lost(_) => {}
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn kinds(lines: &[Event]) -> Vec<String> {
        lines
            .iter()
            .map(|e| match e {
                Event::Status { state, .. } => format!("status:{}", state.as_str()),
                other => other.kind().to_string(),
            })
            .collect()
    }

    #[test]
    fn a_drop_is_a_gap_only_in_changes_mode() {
        let drop = Status::Disconnected {
            reason: "no ping".into(),
            retry_in: Duration::from_secs(2),
        };
        assert_eq!(
            kinds(&lines("drive:me", &drop, false)),
            ["status:disconnected"]
        );
        assert_eq!(
            kinds(&lines("drive:me", &drop, true)),
            ["status:disconnected", "gap"]
        );
    }

    #[test]
    fn an_outage_is_said_once_and_a_fallback_is_a_gap() {
        let retry = |first| Status::Retrying {
            error: "503".into(),
            retry_in: Duration::from_secs(1),
            first,
        };
        assert_eq!(
            kinds(&lines("l", &retry(true), true)),
            ["status:disconnected"]
        );
        assert!(lines("l", &retry(false), true).is_empty());
        let fallback = Status::Fallback {
            every: Duration::from_secs(30),
        };
        assert_eq!(
            kinds(&lines("l", &fallback, true)),
            ["status:fallback", "gap"]
        );
        let joined = Status::Connected {
            first: true,
            display_name: "OneDrive".into(),
        };
        assert_eq!(kinds(&lines("l", &joined, true)), ["status:connected"]);
    }
}
