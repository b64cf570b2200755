//! `--changes`: one task per target that turns notifications into `change` lines.
//!
//! It drives the building blocks — [`DeltaFeed`] (the cursor and its requests),
//! [`Coalescer`] (when to run a round), [`PathIndex`] (`--path`) — and owns the target's
//! [`Supervisor`] (the socket), whose [`LinkOwner`] here is [`Pokes`]: one poke per
//! notification element, one on every reconnect, and word of every outage:
//!
//! ```text
//!   socket ──▶ Supervisor ──Pokes──▶ ChangesTask ──Report::Round{events, cursor}──▶ watch loop
//!                                │ (--notifications)                       write, flush, then
//!                                └──────Report::Event─────────────────────▶ commit the cursor
//! ```
//!
//! - **Start.** A cursor saved in `--state` for this target: continue from it, and run a
//!   round at once (what changed while graphwatch was down). Otherwise a baseline
//!   "from now" (`token=latest`; with `--path` a full enumeration that loads the index),
//!   whose cursor is committed at once. The socket is opened only *after* the baseline,
//!   so that a change the user makes once "watching …" is shown is always after the
//!   cursor (the other order loses changes made between connecting and the baseline).
//! - **At-least-once.** The task never writes the state file. It sends each round's
//!   events *with* the round's cursor to the watch loop, the only writer of stdout,
//!   which writes and flushes every line and only then commits the cursor. A crash, a
//!   closed pipe or `--count` reached in the middle of a round leaves the previous
//!   cursor on disk, so the restart repeats the round rather than skipping it.
//! - **Failures.** Transient delta errors (throttling, 5xx, network) are retried by the
//!   coalescer (backoff, or Graph's `Retry-After` if longer). Permanent ones (token
//!   refused, 403, 404) lose the target like a permanent socket error does: the task
//!   reports [`Status::Lost`] once and stops its supervisor. A lost socket loses the
//!   target too.
//! - `--no-socket`: no supervisor; the poll interval is the only source of rounds.

pub mod coalesce;
pub mod delta;
pub mod pathindex;
pub mod state;

use std::time::Duration;

use serde_json::value::RawValue;
use tokio::sync::mpsc;
use tokio::sync::watch as latest;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::event::report::{Report, Status};
use crate::event::Event;
use crate::graph::GraphClient;
use crate::link::supervisor::{LinkOwner, Supervisor, SupervisorOptions};
use crate::target::Target;
use crate::util::backoff::Backoff;
use coalesce::{Coalescer, Input};
use delta::{DeltaError, DeltaFeed, Outcome};
use pathindex::PathIndex;

/// The options of changes mode, checked.
#[derive(Debug, Clone)]
pub struct ChangesOptions {
    /// Open the socket (`false`: `--no-socket`, pure polling).
    pub socket: bool,
    /// `--notifications`: keep the raw notification lines too.
    pub keep_notifications: bool,
    /// `--fallback-poll`: the poll interval while the socket cannot be opened.
    pub fallback_poll: Duration,
    /// Debounce, rechecks, and the poll interval.
    pub timings: coalesce::Timings,
    /// `--path` (drives only).
    pub path: Option<String>,
    /// `--state FILE`.
    pub state: Option<std::path::PathBuf>,
}

/// How many pokes may wait; more are dropped (a full channel already means "a round
/// is due", and the coalescer makes one round of any number).
const POKES: usize = 1024;

/// One target's changes task. See the module docs.
pub struct ChangesTask {
    pub target: Target,
    pub client: GraphClient,
    pub reports: mpsc::UnboundedSender<Report>,
    pub options: ChangesOptions,
    /// The socket's reconnect timings.
    pub supervisor: SupervisorOptions,
    /// The saved cursor from `--state`, if any.
    pub cursor: Option<String>,
}

/// The task's side of its supervisor: each notification element pokes a round (never
/// blocking: a full channel already means "a round is due"), and is written as a
/// `notification` line too with `--notifications`; a reconnect pokes a catch-up round
/// (what was sent while the link was down is gone); an outage switches delta to
/// `--fallback-poll` (see [`ChangesTask::follow_link`]).
struct Pokes {
    reports: mpsc::UnboundedSender<Report>,
    pokes: mpsc::Sender<()>,
    keep_notifications: bool,
    /// `false` during an outage.
    link_up: latest::Sender<bool>,
}

impl LinkOwner for Pokes {
    fn reports(&self) -> &mpsc::UnboundedSender<Report> {
        &self.reports
    }

    fn notification(&self, target: &str, data: Box<RawValue>) -> bool {
        let _ = self.pokes.try_send(());
        !self.keep_notifications
            || self
                .reports
                .send(Report::Event(Event::notification(target, data)))
                .is_ok()
    }

    fn reconnected(&self) {
        let _ = self.pokes.try_send(());
    }

    fn outage(&self, began: bool) {
        self.link_up.send_replace(!began);
    }
}

/// Aborts the supervisor when the task ends, however it ends.
struct AbortOnDrop(JoinHandle<Option<anyhow::Error>>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl ChangesTask {
    /// Run until the target is lost (reported once as [`Status::Lost`]) or the watch
    /// loop stops listening.
    pub async fn run(self) {
        let reports = self.reports.clone();
        let label = self.target.label.clone();
        let lost = tokio::select! {
            result = self.rounds() => result.err(),
            _ = reports.closed() => None,
        };
        if let Some(error) = lost {
            let _ = reports.send(Report::lost(label, error));
        }
    }

    /// The baseline, the link, then delta rounds until the target is lost.
    async fn rounds(self) -> anyhow::Result<()> {
        let label = self.target.label.clone();
        let resumed = self.cursor.is_some();
        let mut index = match &self.options.path {
            Some(folder) => Some(PathIndex::new(folder)?),
            None => None,
        };
        let mut feed = DeltaFeed::new(
            self.client.clone(),
            self.target.clone(),
            self.cursor.clone(),
        )
        .enumerate_baselines(index.is_some());

        // 1. The baseline (or, resumed with --path, the index), retried while transient.
        let mut backoff = Backoff::new(self.supervisor.first_backoff, self.supervisor.max_backoff);
        loop {
            match start(&mut feed, index.as_mut()).await {
                Ok(()) => break,
                Err(e) if e.is_transient() => {
                    let retry_in = backoff
                        .next_delay()
                        .max(e.retry_after().unwrap_or_default());
                    self.status(Status::DeltaFailed {
                        error: e.to_string(),
                        retry_in,
                    });
                    tokio::time::sleep(retry_in).await;
                }
                Err(e) => return Err(e.into()),
            }
        }
        if !resumed {
            if let Some(cursor) = feed.cursor() {
                self.round(Vec::new(), cursor.to_string())?;
            }
        }

        // 2. The socket, poking this task; or none.
        let (poke_tx, mut pokes) = mpsc::channel::<()>(POKES);
        // The socket says when an outage begins and ends (`follow_link`).
        let (mut supervisor, mut link_up) = if self.options.socket {
            let (link_tx, link_up) = latest::channel(true);
            let owner = Pokes {
                reports: self.reports.clone(),
                pokes: poke_tx,
                keep_notifications: self.options.keep_notifications,
                link_up: link_tx,
            };
            // A wait after a drop longer than a fallback poll is an outage too: delta is
            // asked meanwhile rather than waiting for the link.
            let options = SupervisorOptions {
                outage_after: Some(self.options.fallback_poll),
                ..self.supervisor.clone()
            };
            let supervisor =
                Supervisor::new(self.target.clone(), self.client.clone(), owner, options);
            (
                Some(AbortOnDrop(tokio::spawn(supervisor.run()))),
                Some(link_up),
            )
        } else {
            drop(poke_tx);
            self.status(Status::Polling {
                display_name: self.target.display_name.clone(),
                every: self.options.timings.poll,
            });
            (None, None)
        };

        // 3. Rounds.
        let mut co = Coalescer::new(self.options.timings.clone(), Instant::now());
        // Resumed: catch up at once with what changed while graphwatch was down. (`handle`
        // starts that round itself; every later one is started by `next_round`.)
        let mut round_started = resumed && co.handle(Input::Start, Instant::now()).is_some();
        loop {
            if !std::mem::take(&mut round_started) {
                tokio::select! {
                    _ = co.next_round(Some(&mut pokes)) => {}
                    up = link_changed(&mut link_up) => {
                        self.follow_link(&mut co, up);
                        continue;
                    }
                    lost = socket_lost(&mut supervisor) => return lost,
                }
            }
            let outcome = tokio::select! {
                outcome = co.during(feed.round(), Some(&mut pokes)) => outcome,
                lost = socket_lost(&mut supervisor) => return lost,
            };
            match outcome {
                Ok(Outcome::Changes(round)) => {
                    let empty = round.is_empty();
                    let changes = match &mut index {
                        Some(ix) => ix.filter(round.changes),
                        None => round.changes,
                    };
                    let events = changes
                        .into_iter()
                        .map(|c| c.into_event(label.clone()))
                        .collect();
                    self.round(events, round.cursor)?;
                    co.finished(empty);
                }
                Ok(Outcome::Resync {
                    reason, baseline, ..
                }) => {
                    if let Some(ix) = &mut index {
                        ix.load(&baseline.changes);
                    }
                    self.round(vec![Event::resync(label.clone(), reason)], baseline.cursor)?;
                    co.finished(false);
                }
                Err(e) if e.is_transient() => {
                    co.failed(e.retry_after());
                    let retry_in = co
                        .deadline()
                        .map(|at| at.saturating_duration_since(Instant::now()))
                        .unwrap_or_default();
                    self.status(Status::DeltaFailed {
                        error: e.to_string(),
                        retry_in,
                    });
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// An outage of the socket began (`up == false`) or ended: poll delta every
    /// `--fallback-poll` meanwhile, so changes keep coming; the usual safety net after.
    /// (The supervisor pokes a catch-up round itself when the link is back.)
    fn follow_link(&self, co: &mut Coalescer, up: bool) {
        let normal = self.options.timings.poll;
        if up {
            co.set_poll(normal, Instant::now());
        } else {
            let every = self.options.fallback_poll;
            co.set_poll(Some(every), Instant::now());
            self.status(Status::Fallback { every });
        }
    }

    /// Hand a round to the watch loop; an error once nobody listens (the loop ended).
    fn round(&self, events: Vec<Event>, cursor: String) -> anyhow::Result<()> {
        self.reports
            .send(Report::Round {
                target: self.target.id(),
                events,
                cursor,
            })
            .map_err(|_| anyhow::anyhow!("the watch ended"))
    }

    fn status(&self, status: Status) {
        let _ = self.reports.send(Report::Status {
            label: self.target.label.clone(),
            status,
        });
    }
}

/// Take the starting point: with a path index, enumerate the drive to load it (a feed
/// without a cursor continues from the enumeration); else, without a cursor, a
/// baseline from now. A resumed feed without an index needs nothing.
async fn start(feed: &mut DeltaFeed, index: Option<&mut PathIndex>) -> Result<(), DeltaError> {
    match index {
        Some(ix) => {
            let everything = feed.enumerate().await?;
            ix.load(&everything.changes);
            tracing::info!(
                "--path {}: {} items of the drive indexed",
                ix.folder(),
                ix.item_count()
            );
        }
        None if feed.cursor().is_none() => {
            feed.start_from_now().await?;
        }
        None => {}
    }
    Ok(())
}

/// The link's new state when it changes; never resolves without a socket, or once the
/// supervisor is gone.
async fn link_changed(link_up: &mut Option<latest::Receiver<bool>>) -> bool {
    if let Some(rx) = link_up {
        if rx.changed().await.is_ok() {
            return *rx.borrow_and_update();
        }
        *link_up = None;
    }
    std::future::pending().await
}

/// Resolves when the supervisor ended: `Err` with its error when it lost the target,
/// `Ok` when it stopped because the loop is gone. Never resolves without a supervisor.
async fn socket_lost(supervisor: &mut Option<AbortOnDrop>) -> anyhow::Result<()> {
    match supervisor {
        Some(owned) => {
            let ended = (&mut owned.0).await;
            *supervisor = None;
            match ended {
                Ok(Some(error)) => Err(error),
                Ok(None) => Ok(()),
                Err(e) => Err(anyhow::anyhow!("the socket task failed: {e}")),
            }
        }
        None => std::future::pending().await,
    }
}
