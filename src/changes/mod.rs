//! `--changes`: one task per target that turns notifications into `change` lines.
//!
//! It drives the building blocks — [`DeltaFeed`] (the cursor and its requests),
//! [`Coalescer`] (when to run a round), the item [`Index`] and [`classify`] (what each
//! item's change is) — and owns the target's [`Supervisor`] (the socket), whose
//! [`LinkOwner`] here is [`Pokes`]: one poke per notification element, one on every
//! reconnect, and word of every outage:
//!
//! ```text
//!   socket ──▶ Supervisor ──Pokes──▶ ChangesTask ──Report::Round{events, written}──▶ watch loop
//!                                │ (--notifications)      ◀──────── written ──────── writes, flushes
//!                                └──────Report::Event─────────────────────▶      then: index + cursor
//!                                                                                     committed by the task
//! ```
//!
//! - **Start** (docs/changes.md, "The item index"). No index yet: one full enumeration
//!   builds it (with `--initial` its items are written as `existing`), and its cursor is
//!   where the watch continues. A saved cursor and index: continue from them, and run a
//!   round at once (what changed while graphwatch was down). A saved cursor without an
//!   index (a migrated state file): build the index, then continue from the cursor.
//!   Saved for another drive or list: a resync. The socket is opened only *after* the
//!   start, so that a change the user makes once "watching …" is shown is always after
//!   the cursor.
//! - **At-least-once.** The task sends each round's lines to the watch loop, the only
//!   writer of stdout, and waits until they were written and flushed; only then does it
//!   commit the round's index updates and cursor, in one transaction. A crash, a closed
//!   pipe or `--count` reached in the middle of a round leaves the previous cursor and
//!   index, so the restart repeats the round rather than skipping it.
//! - **Resync.** A cursor refused (410) or unusable: a fresh enumeration is staged,
//!   compared with the index, and the differences are written after the `resync` line.
//! - **Failures.** Transient delta errors (throttling, 5xx, network) are retried by the
//!   coalescer (backoff, or Graph's `Retry-After` if longer). Permanent ones (token
//!   refused, 403, 404) lose the target like a permanent socket error does: the task
//!   reports [`Status::Lost`] once and stops its supervisor. A lost socket loses the
//!   target too. A commit that fails (a full disk) is said once and tried again with the
//!   next round; the stream goes on.
//! - `--no-socket`: no supervisor; the poll interval is the only source of rounds.

pub mod classify;
pub mod coalesce;
pub mod delta;
pub mod index;
pub mod state;

use std::time::Duration;

use serde_json::value::RawValue;
use tokio::sync::mpsc;
use tokio::sync::watch as latest;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::error::Error;
use crate::event::report::{Report, Status};
use crate::event::Event;
use crate::graph::GraphClient;
use crate::link::supervisor::{LinkOwner, Supervisor, SupervisorOptions};
use crate::target::Target;
use crate::util::backoff::Backoff;
use classify::Rules;
use coalesce::{Coalescer, Input};
use delta::{Change, DeltaError, DeltaFeed, LastWins, Outcome, PageSink};
use index::{Index, Resume};

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
    /// `--path` (drives only), `--folders`.
    pub rules: Rules,
    /// `--path` was given (even `/`): lists are refused.
    pub path_given: bool,
    /// `--initial`: write every current item as `existing` first.
    pub initial: bool,
    /// `--state FILE`.
    pub state: Option<std::path::PathBuf>,
}

/// `--path FOLDER`, normalised to `/A/B` (`/` is the whole drive, no scope). A path with
/// `.` or `..` segments is a usage error.
pub fn folder_scope(folder: &str) -> Result<Option<String>, Error> {
    let segments: Vec<&str> = folder.split('/').filter(|s| !s.is_empty()).collect();
    if segments.iter().any(|s| *s == "." || *s == "..") {
        return Err(
            Error::usage(format!("--path {folder}: `.` and `..` are not allowed")).hint(
                "give the folder's path from the drive's root, e.g. --path /Documents/Reports",
            ),
        );
    }
    Ok((!segments.is_empty()).then(|| format!("/{}", segments.join("/"))))
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
    /// The target's item index (in the `--state` file, or in memory).
    pub index: Index,
    /// Where the index says the target stands.
    pub resume: Resume,
    /// The last commit failed (said once, until one succeeds).
    unsaved: bool,
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
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        target: Target,
        client: GraphClient,
        reports: mpsc::UnboundedSender<Report>,
        options: ChangesOptions,
        supervisor: SupervisorOptions,
        index: Index,
        resume: Resume,
    ) -> ChangesTask {
        ChangesTask {
            target,
            client,
            reports,
            options,
            supervisor,
            index,
            resume,
            unsaved: false,
        }
    }

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

    /// The start, the link, then delta rounds until the target is lost.
    async fn rounds(mut self) -> anyhow::Result<()> {
        let label = self.target.label.clone();
        let resume = std::mem::replace(&mut self.resume, Resume::Fresh);
        let (cursor, resumed) = match &resume {
            Resume::Cursor(link) | Resume::CursorWithoutIndex(link) => (Some(link.clone()), true),
            Resume::Fresh | Resume::Elsewhere { .. } => (None, false),
        };
        let mut feed = DeltaFeed::new(self.client.clone(), self.target.clone(), cursor);
        let mut rules = self.options.rules.clone();

        // 1. The start: build the index if there is none (or a resync if it is of
        //    something else), retried while transient.
        let mut backoff = Backoff::new(self.supervisor.first_backoff, self.supervisor.max_backoff);
        loop {
            let started = match &resume {
                Resume::Cursor(_) => {
                    rules.resumed = true;
                    Ok(())
                }
                Resume::Fresh => self.list(&mut feed, self.options.initial, false).await,
                Resume::CursorWithoutIndex(_) => {
                    // The index is newer than the cursor: the first round cannot tell an
                    // unchanged item from one changed since, so it writes both.
                    rules.blind = true;
                    self.list(&mut feed, false, false).await
                }
                Resume::Elsewhere { saved, now } => {
                    tracing::warn!(
                        "{label}: the state file's cursor and index are for {saved}, but {label} is now {now}; enumerating it and writing what differs"
                    );
                    self.resync(&mut feed, "targetChanged", &rules).await
                }
            };
            match started {
                Ok(()) => break,
                Err(Stop::Delta(e)) if e.is_transient() => self.wait_out(&mut backoff, &e).await,
                Err(stop) => return stop.into_result(),
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
        // --initial of a resumed target: the listing follows the catch-up round.
        let mut list_after_round = resumed && self.options.initial;
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
            let mut stager = Stager::new(&mut self.index, Retain::Differing, &self.reports, &label);
            let outcome = tokio::select! {
                outcome = co.during(feed.round(&mut stager), Some(&mut pokes)) => outcome,
                lost = socket_lost(&mut supervisor) => return lost,
            };
            let present = stager.finish();
            let step = match outcome {
                Ok(Outcome::Changes(round)) => {
                    let empty = round.is_empty();
                    let classified =
                        classify::round(&label, round.changes, &self.index.before(), &rules);
                    match self.write(classified.events).await {
                        Ok(()) => {
                            self.index.apply(classified.updates);
                            self.commit(&round.cursor);
                            rules.blind = false;
                            rules.resumed = false;
                            co.finished(empty);
                            Ok(())
                        }
                        Err(stop) => Err(stop),
                    }
                }
                Ok(Outcome::Resync { reason, cursor, .. }) => {
                    let result = self.write_resync(&reason, present, &rules).await;
                    if result.is_ok() {
                        self.commit(&cursor);
                        rules.blind = false;
                        rules.resumed = false;
                    }
                    co.finished(false);
                    result
                }
                Err(e) => Err(Stop::Delta(e)),
            };
            match step {
                Ok(()) => {}
                Err(Stop::Delta(e)) if e.is_transient() => {
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
                Err(stop) => return stop.into_result(),
            }
            if std::mem::take(&mut list_after_round) {
                // A listing is an enumeration: the index becomes it, and the feed goes on
                // from its cursor (what changed meanwhile is in the listing).
                while let Err(stop) = self.list(&mut feed, true, true).await {
                    match stop {
                        Stop::Delta(e) if e.is_transient() => self.wait_out(&mut backoff, &e).await,
                        stop => return stop.into_result(),
                    }
                }
            }
        }
    }

    /// An enumeration that becomes the index, committed with its cursor; with
    /// `existing`, its items are written as `existing` lines first. The first one of a
    /// target (`restart` false: a feed with a saved cursor keeps it), or the listing of
    /// `--initial` for a resumed target (`restart`: the feed goes on from the
    /// enumeration's cursor, and what changed meanwhile is in the listing).
    async fn list(
        &mut self,
        feed: &mut DeltaFeed,
        existing: bool,
        restart: bool,
    ) -> Result<(), Stop> {
        let started = std::time::Instant::now();
        let retain = if existing { Retain::All } else { Retain::None };
        let label = self.target.label.clone();
        let mut stager = Stager::new(&mut self.index, retain, &self.reports, &label);
        let cursor = feed.enumerate(&mut stager, restart).await;
        let items = stager.finish();
        let cursor = cursor.map_err(Stop::Delta)?;
        self.index.adopt_staging();
        self.status(Status::Indexed {
            items: self.index.item_count().unwrap_or_default(),
            took: started.elapsed(),
        });
        let events = classify::existing(&label, items, &self.index.before(), &self.options.rules);
        self.write(events).await?;
        self.commit(&cursor);
        Ok(())
    }

    /// A transient failure outside the coalescer's rounds (the start, a listing): said,
    /// then waited out with `backoff`, or longer if Graph asked.
    async fn wait_out(&self, backoff: &mut Backoff, e: &DeltaError) {
        let retry_in = backoff
            .next_delay()
            .max(e.retry_after().unwrap_or_default());
        self.status(Status::DeltaFailed {
            error: e.to_string(),
            retry_in,
        });
        tokio::time::sleep(retry_in).await;
    }

    /// A resync at start (the index is of something else): enumerate from scratch and
    /// write what differs.
    async fn resync(
        &mut self,
        feed: &mut DeltaFeed,
        reason: &str,
        rules: &Rules,
    ) -> Result<(), Stop> {
        let label = self.target.label.clone();
        let mut stager = Stager::new(&mut self.index, Retain::Differing, &self.reports, &label);
        let cursor = feed.enumerate(&mut stager, true).await;
        let present = stager.finish();
        let cursor = cursor.map_err(Stop::Delta)?;
        self.write_resync(reason, present, rules).await?;
        self.commit(&cursor);
        Ok(())
    }

    /// The `resync` line and the differences between the staged enumeration and the
    /// index; then the enumeration is the index (committed by the caller).
    async fn write_resync(
        &mut self,
        reason: &str,
        present: Vec<Change>,
        rules: &Rules,
    ) -> Result<(), Stop> {
        let label = self.target.label.clone();
        let gone = self.index.missing_from_staging().map_err(Stop::index)?;
        let mut events = vec![Event::resync(&label, reason)];
        events.extend(classify::resync(
            &label,
            present,
            gone,
            &self.index.before(),
            &self.index.staged_view(),
            rules,
        ));
        self.write(events).await?;
        self.index.adopt_staging();
        Ok(())
    }

    /// Hand lines to the watch loop and wait until they were written and flushed; an
    /// error once nobody listens (the loop ended: nothing may be committed).
    async fn write(&self, events: Vec<Event>) -> Result<(), Stop> {
        let (written, done) = tokio::sync::oneshot::channel();
        self.reports
            .send(Report::Round { events, written })
            .map_err(|_| Stop::Ended)?;
        done.await.map_err(|_| Stop::Ended)
    }

    /// Save the index updates and `cursor` (their lines are out). A failure (a full
    /// disk) keeps them for the next commit: said once, and once more when saved again.
    fn commit(&mut self, cursor: &str) {
        match self.index.commit(cursor) {
            Ok(()) => {
                if std::mem::take(&mut self.unsaved) {
                    self.status(Status::Saved);
                }
            }
            Err(e) => {
                if !std::mem::replace(&mut self.unsaved, true) {
                    self.status(Status::Unsaved {
                        error: format!("cannot save its cursor and index ({e})"),
                    });
                }
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

    fn status(&self, status: Status) {
        let _ = self.reports.send(Report::Status {
            label: self.target.label.clone(),
            status,
        });
    }
}

/// Why a step of the task stopped.
enum Stop {
    /// Delta failed (transient or not).
    Delta(DeltaError),
    /// The index could not be read: the target cannot be watched.
    Index(anyhow::Error),
    /// The watch loop ended.
    Ended,
}

impl Stop {
    fn index(e: rusqlite::Error) -> Stop {
        Stop::Index(anyhow::anyhow!("the item index cannot be read: {e}"))
    }

    fn into_result(self) -> anyhow::Result<()> {
        match self {
            Stop::Delta(e) => Err(e.into()),
            Stop::Index(e) => Err(e),
            Stop::Ended => Ok(()),
        }
    }
}

/// Which items of an enumeration are kept in memory (the rest only go to the index).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Retain {
    /// None: the index is being built.
    None,
    /// Those that differ from the index: a resync's differences.
    Differing,
    /// All: `--initial` writes them.
    All,
}

/// The sink of an enumeration: each page staged into the index, the retained items
/// kept, progress told. Unused (and the index untouched) when a round's cursor is fine.
struct Stager<'a> {
    index: &'a mut Index,
    retain: Retain,
    kept: LastWins,
    begun: bool,
    items: u64,
    reports: &'a mpsc::UnboundedSender<Report>,
    label: &'a str,
}

impl<'a> Stager<'a> {
    fn new(
        index: &'a mut Index,
        retain: Retain,
        reports: &'a mpsc::UnboundedSender<Report>,
        label: &'a str,
    ) -> Stager<'a> {
        Stager {
            index,
            retain,
            kept: LastWins::default(),
            begun: false,
            items: 0,
            reports,
            label,
        }
    }

    /// The items kept.
    fn finish(self) -> Vec<Change> {
        self.kept.finish()
    }
}

impl PageSink for Stager<'_> {
    fn page(&mut self, changes: Vec<Change>) -> Result<(), String> {
        if !self.begun {
            self.index
                .stage_begin()
                .map_err(|e| format!("the item index cannot be written: {e}"))?;
            self.begun = true;
            let _ = self.reports.send(Report::Status {
                label: self.label.to_string(),
                status: Status::Enumerating { items: 0 },
            });
        }
        let live: Vec<Change> = changes.into_iter().filter(|c| !c.deleted).collect();
        let nodes: Vec<(&str, &index::Node)> =
            live.iter().map(|c| (c.id.as_str(), &c.node)).collect();
        self.index
            .stage(&nodes)
            .map_err(|e| format!("the item index cannot be written: {e}"))?;
        self.items += live.len() as u64;
        let before = self.index.before();
        for change in live {
            let keep = match self.retain {
                Retain::None => false,
                Retain::All => true,
                Retain::Differing => before
                    .node(&change.id)
                    .is_none_or(|old| !classify::unchanged(&old, &change.node)),
            };
            if keep {
                self.kept.push(change);
            }
        }
        let _ = self.reports.send(Report::Status {
            label: self.label.to_string(),
            status: Status::Enumerating { items: self.items },
        });
        Ok(())
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use coalesce::{Reason, Timings};

    /// Behind a stalled reader a round waits for its lines to be written, outside
    /// [`Coalescer::during`]. Any number of notifications meanwhile is no queue: the
    /// channel keeps at most [`POKES`] of `()` and refuses the rest, and once the round
    /// is written they are one more round, then only its re-checks.
    #[tokio::test(start_paused = true)]
    async fn any_number_of_notifications_while_a_round_is_written_are_one_more_round() {
        let (tx, mut pokes) = mpsc::channel::<()>(POKES);
        let mut co = Coalescer::new(Timings::default(), Instant::now());
        tx.try_send(()).unwrap();
        assert_eq!(co.next_round(Some(&mut pokes)).await, Reason::Notification);
        co.during(std::future::ready(()), Some(&mut pokes)).await;

        // The round's lines wait for stdout: 100,000 notifications arrive meanwhile.
        let refused = (0..100_000).filter(|_| tx.try_send(()).is_err()).count();
        assert_eq!(refused, 100_000 - POKES, "no more than POKES are kept");
        tokio::time::advance(Duration::from_secs(600)).await;
        co.finished(false);

        let mut rounds = Vec::new();
        for _ in 0..3 {
            let reason = co.next_round(Some(&mut pokes)).await;
            rounds.push(reason);
            co.during(std::future::ready(()), Some(&mut pokes)).await;
            co.finished(true);
        }
        assert_eq!(
            rounds,
            [Reason::Notification, Reason::Recheck(1), Reason::Recheck(2)]
        );
        assert!(pokes.is_empty(), "every notification was taken in");
        drop(tx);
    }
}
