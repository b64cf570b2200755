//! What the tasks of a watch tell the watch loop: events to write, delta rounds to write
//! and then commit, and the life of each target's link for stderr. The loop is the only
//! reader; the supervisors and `--changes` tasks are the writers.

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::Event;

/// What a supervisor (or a `--changes` task) tells the watch loop.
#[derive(Debug)]
pub enum Report {
    /// An event to write.
    Event(Event),
    /// A delta round (`--changes`): write and flush `events`, then say so
    /// on `written`. Only then does the task commit the round's cursor and index
    /// updates, so a cursor is never saved before its lines were out (see
    /// [`crate::changes`]). A loop that stops in the middle drops `written`: nothing is
    /// committed, the round repeats next time.
    Round {
        events: Vec<Event>,
        written: tokio::sync::oneshot::Sender<()>,
    },
    /// Something about the link of target `label`, for stderr.
    Status { label: String, status: Status },
}

impl Report {
    /// `label` is given up: a permanent error. Nothing follows for it.
    pub fn lost(label: String, error: anyhow::Error) -> Report {
        Report::Status {
            label,
            status: Status::Lost(error),
        }
    }
}

/// The life of one target's link, as the user hears of it.
#[derive(Debug)]
pub enum Status {
    /// Asking Graph for the endpoint and connecting (at -v).
    Connecting { endpoint: Option<String> },
    /// Joined the namespace; `first` the first time for this target.
    Connected { first: bool, display_name: String },
    /// A live link ended; the next attempt is in `retry_in`.
    Disconnected { reason: String, retry_in: Duration },
    /// No link could be made; the next attempt is in `retry_in`. `first`: the first
    /// failure since the link was last up (an outage begins: say what it means once).
    Retrying {
        error: String,
        retry_in: Duration,
        first: bool,
    },
    /// Switched to a fresh endpoint before the old one expired.
    Renewed { expires: Option<DateTime<Utc>> },
    /// A renewal failed; the old link stays in use and renewal is tried again.
    RenewalFailed { error: String, retry_in: Duration },
    /// The target is given up: a permanent error. Nothing follows.
    Lost(anyhow::Error),
    /// `--no-socket`: the baseline is taken and delta is asked every `every`.
    Polling {
        display_name: String,
        every: Option<Duration>,
    },
    /// A delta round failed; the next one is in `retry_in`.
    DeltaFailed { error: String, retry_in: Duration },
    /// The wall clock moved `slept` further than the monotonic one: the machine was
    /// asleep. The link is replaced at once (the service has most likely dropped it).
    Woke { slept: Duration },
    /// This machine's clock is `by` ahead of (`ahead`) or behind the service's, going
    /// by its `Date` header. Renewals are timed by the service's clock. Said once.
    ClockSkew { ahead: bool, by: Duration },
    /// `--changes`: a full enumeration is under way (the item index is being built, or
    /// compared after a resync); `items` so far.
    Enumerating { items: u64 },
    /// The enumeration ended: `items` in the index, in `took`.
    Indexed { items: u64, took: Duration },
    /// A round's cursor and index updates could not be saved in the `--state` file
    /// (`error`; a full disk, say). The stream goes on; they are saved with a later
    /// round. Said once per outage.
    Unsaved { error: String },
    /// Saved again after [`Status::Unsaved`].
    Saved,
    /// `--changes` while the socket cannot be opened: delta is asked every `every`
    /// until it is back (docs/graph-socketio.md §1: fall back to polling, never give realtime up).
    Fallback { every: Duration },
}
