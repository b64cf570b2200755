//! The watch loop behind `drive`, `list`, `watch` and `demo`: the engine. It owns stdout
//! (rendered by one [`Output`], written by the thread behind [`queue`]) and the
//! `--state` file, and nothing else writes either.
//!
//! Read top to bottom, [`run`] does this:
//!
//! 1. resolve every target (a spinner on stderr while it does, on a terminal only),
//!    waiting for Graph if it cannot be reached yet ([`resolve_all`]); `SITE/*` and
//!    `--followed-sites` expand to many, of which `--shard` keeps its own;
//! 2. start one task per target — a [`Supervisor`] keeping the link alive, or with
//!    `--changes` a [`ChangesTask`] owning one — each sending [`Report`]s (events,
//!    delta rounds, status) into one channel;
//! 3. stream: select over that channel, Ctrl-C (SIGINT; SIGTERM too), the `--timeout`
//!    deadline, an optional stop signal (the demo's), systemd's watchdog tick and
//!    SIGHUP's reload (docs/service.md; [`Service`] is told what happens) and, with
//!    `SITE/*` or `--followed-sites`, each `--rescan`'s targets (the new ones start);
//!    every event goes through one [`Emitter::emit`] (the stdout queue, `--exec`, the
//!    count), and a round's cursor is committed only after its lines were written and
//!    flushed. The loop never blocks on stdout, so the links are read whatever the
//!    reader does;
//! 4. finish: write what is queued, let queued `--exec` runs complete, and pick the
//!    exit status.
//!
//! Exit status (docs/contract.md, "Exit status"): 0 for `--count` reached, `--timeout`
//! without `--count`, Ctrl-C, or a stop; 124 (`--timeout` before `--count`); when every
//! target was lost, the error of the last one (3 for sign-in, 4 for access/not found,
//! else 1); when some target was lost while others went on, 1 at the end, whatever
//! ended the watch, because the stream the user asked for was incomplete. A closed
//! stdout ends the watch quietly with 0 (see `main`).

mod fold;
pub mod options;
mod queue;
mod reload;
mod service;
mod signals;
mod status_events;
mod status_line;

use std::collections::VecDeque;
use std::time::Duration;

use tokio::sync::watch as latest;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use crate::changes::index::{Index, Resume};
use crate::changes::state::StateFile;
use crate::changes::ChangesTask;
use crate::error::{Code, Error};
use crate::event::filter::Filter;
use crate::event::report::{Report, Status};
use crate::event::{Event, LinkState};
use crate::exit;
use crate::graph::GraphClient;
use crate::link::supervisor::{Supervisor, ToLoop};
use crate::output::exec::{ExecOptions, ExecRunner};
use crate::output::{Output, OutputError, Render};
use crate::sink::outbox::{Outbox, Receipt};
use crate::sink::Sink;
use crate::target::{self, Target, TargetSpec};
use crate::term::Term;
use crate::util::backoff::Backoff;
use crate::util::duration::human;

use fold::Fold;
pub use options::WatchOptions;
use queue::{Lines, Offer};
pub use reload::Reload;
use service::Service;
use signals::Signals;
use status_line::StatusLine;

/// How far a watch got, for those who drive it (the demo waits on this).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Progress {
    /// Targets that have connected at least once.
    pub joined: usize,
    /// Events written to stdout.
    pub written: u64,
}

/// Ways to drive a watch from inside the program (the demo); none for the CLI commands.
#[derive(Debug, Default)]
pub struct Hooks {
    pub progress: Option<latest::Sender<Progress>>,
    /// End the watch as Ctrl-C would (status 0) when this fires.
    pub stop: Option<oneshot::Receiver<()>>,
    /// What `SIGHUP` reloads (the CLI commands; without it, SIGHUP ends the watch).
    pub reload: Option<Reload>,
}

/// Why the loop ended.
enum End {
    Count,
    Interrupted,
    Timeout,
    Stopped,
    /// Every task ended: every target was lost.
    AllLost,
}

/// Watch `specs` until `--count`, `--timeout`, Ctrl-C or a stop; see the module docs.
pub async fn run(
    client: GraphClient,
    term: &Term,
    render: Render,
    specs: &[TargetSpec],
    options: WatchOptions,
    mut hooks: Hooks,
) -> anyhow::Result<()> {
    let mut reload = hooks.reload.take();
    let (mut signals, mut hangups) =
        Signals::listen(reload.is_some() && !Term::has_controlling_terminal())?;
    let mut service = Service::from_env();
    service.status("looking up the targets");
    let deadline = options.timeout.as_ref().map(|(d, _)| Instant::now() + *d);
    let mut stop = hooks.stop.take();
    let mut status = StatusLine::new(term, options.changes.is_some());
    if let Some(changes) = &options.changes {
        if changes.path_given && specs.iter().any(|s| matches!(s, TargetSpec::List(_))) {
            return Err(Error::usage("--path is for drives; lists have no folders")
                .hint("leave out --path, or watch drives only")
                .into());
        }
    }
    let mut state = match options.changes.as_ref().and_then(|c| c.state.as_deref()) {
        Some(path) => Some(StateFile::load(path)?),
        None => None,
    };

    // 1. Resolve every target (and fail before connecting anything if one is wrong;
    //    of several, one that is not there or not readable is lost, the others watched).
    status.spin("resolving");
    let Resolved {
        targets,
        lost: lost_at_start,
    } = tokio::select! {
        resolved = resolve_all(&client, specs, &options, &status, &service) => resolved?,
        _ = signals.next() => return Ok(()),
        _ = until(deadline) => return timed_out(&options, 0),
        _ = stopped(&mut stop) => return Ok(()),
    };
    let labels: Vec<&str> = targets.iter().map(|t| t.label.as_str()).collect();
    // One socket per target, and with --state a lock file and the database's three
    // (docs/scale.md, "Descriptors"): past the limit, links wait and retry (EMFILE is
    // transient), which is better said at once.
    let per_target = if state.is_some() { 5 } else { 1 };
    let limit = crate::util::limits::open_files_limit();
    if let Some(needed) =
        crate::util::limits::open_files_short(targets.len() as u64, per_target, limit)
    {
        status.note(format!(
            "graphwatch: {} targets need about {needed} open files, more than this process may open ({}); \
             the links beyond it will wait and retry: raise the limit (ulimit -n, LimitNOFILE= in a systemd unit) \
             or split the targets with --shard",
            targets.len(),
            limit.unwrap_or_default()
        ));
    }
    if let Some(state) = &mut state {
        // Each target's entry has one owner: a second process on it stops here (exit 2).
        state.claim(&labels)?;
    }
    // The sink before any task: a watch whose events cannot be delivered has not begun.
    let sink = match &options.sink {
        Some(sink) => {
            status.spin(&format!("connecting to the sink {}", sink.spec.display()));
            tokio::select! {
                sink = Sink::connect(sink) => Some(sink?),
                _ = signals.next() => return Ok(()),
                _ = until(deadline) => return timed_out(&options, 0),
                _ = stopped(&mut stop) => return Ok(()),
            }
        }
        None => None,
    };
    let connecting = match labels.len() {
        0..=3 => format!("connecting to {}", labels.join(", ")),
        n => format!("connecting to {n} targets"),
    };
    status.spin(&connecting);
    service.status(&connecting);

    // 2. One task per target, all reporting into one channel.
    let (reports_tx, mut reports) = mpsc::unbounded_channel();
    spawn_all(&targets, &client, &options, state.as_ref(), &reports_tx)?;
    // With SPECs that may grow, targets start later too: the loop keeps a sender (and
    // counts the tasks itself to know when every one is lost).
    let expanded: Vec<TargetSpec> = specs.iter().filter(|s| s.is_expanded()).cloned().collect();
    let mut rescans = (!expanded.is_empty()).then(|| {
        rescan(
            client.clone(),
            expanded,
            options.rescan.unwrap_or(options::DEFAULT_RESCAN),
        )
    });
    let reports_tx = rescans.is_some().then_some(reports_tx);
    let mut known: Vec<(target::TargetKind, String)> = targets
        .iter()
        .map(|t| (t.kind.clone(), t.label.clone()))
        .collect();

    // 3. The stream.
    let fold = options
        .coalesce
        .window(
            options.exec.is_some(),
            matches!(render, Render::Pretty { .. }),
        )
        .map(Fold::new);
    let lines = Lines::start(crate::output::stdout())
        .map_err(|e| Error::failure(format!("cannot start the stdout writer ({e})")))?;
    let mut emitter = Emitter {
        output: Output::in_memory(render, term.stdout_is_terminal()),
        lines,
        gaps: std::collections::BTreeMap::new(),
        status_events: options.status_events,
        exec: options
            .exec
            .as_ref()
            .map(|command| ExecRunner::new(command.clone(), ExecOptions::default())),
        count: options.count,
        filter: options.filter.clone(),
        fold,
        progress: Progress::default(),
        hooks: &hooks,
        sink: sink.map(Outbox::start),
    };
    emitter.output.targets(&labels);
    let changes_mode = options.changes.is_some();
    let mut active = targets.len();
    let mut lost: Vec<String> = lost_at_start.into_iter().map(|(label, _)| label).collect();
    let mut all = targets.len() + lost.len();
    for label in &lost {
        service.lost(label, all, 0);
    }
    // WATCHDOG=1 from this loop only, so that a loop that is stuck stops it (service.rs).
    let mut watchdog = service.watchdog_every().map(|every| {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tick
    });
    let mut last_error: Option<anyhow::Error> = None;
    // Rounds whose lines are queued, waiting for the sink's receipt before their
    // acknowledgement goes to the writer (sink/outbox.rs); answered in order.
    let mut receipts: VecDeque<(Receipt, oneshot::Sender<()>)> = VecDeque::new();
    let end = 'stream: loop {
        if reports.is_empty() {
            // The loop is about to wait: what it queued goes to the writer (one hand-off
            // per burst, queue.rs "Batches").
            emitter.lines.hand_off();
        }
        tokio::select! {
            report = reports.recv() => match report {
                // A delta round: every line written and flushed, then (and only then,
                // for at-least-once) the task told, which commits its cursor. Stopping
                // in the middle (--count) tells it nothing: the round repeats next time.
                Some(Report::Round { events, written }) => {
                    // A stdout line on the terminal must not land inside the spinner's.
                    status.clear_spinner_if(!events.is_empty());
                    for event in &events {
                        // Behind a slow reader a round waits for room: none of its lines
                        // is dropped, and the links are read meanwhile (queue.rs).
                        while emitter.lines.is_full() {
                            emitter.lines.wait_for_room();
                            tokio::select! {
                                _ = emitter.lines.woken() => {}
                                _ = signals.next() => break 'stream End::Interrupted,
                                _ = until(deadline) => break 'stream End::Timeout,
                                _ = stopped(&mut stop) => break 'stream End::Stopped,
                            }
                            if let Some(e) = emitter.lines.failure() {
                                return Err(e.into());
                            }
                        }
                        if emitter.emit(event)? {
                            break 'stream End::Count;
                        }
                    }
                    // The sink acknowledges the round, then the writer flushes it: only
                    // then is the task told (queue.rs answers `written` after the flush).
                    match &mut emitter.sink {
                        Some(sink) => receipts.push_back((sink.receipt(), written)),
                        None => emitter.lines.ack(written),
                    }
                    // The wake-up for a gap may have been taken by the wait for room.
                    if emitter.lines.gap_can_close() && emitter.close_gap(&status)? {
                        break End::Count;
                    }
                }
                Some(Report::Event(event)) => {
                    status.clear_spinner_if(true);
                    if emitter.emit(&event)? {
                        break End::Count;
                    }
                }
                Some(Report::Status { label, status: Status::Lost(error) }) => {
                    service.lost(&label, all, emitter.progress.written);
                    if options.status_events {
                        let lost = Event::status(&label, LinkState::Lost, exit::one_line(&error));
                        if emitter.emit(&lost)? {
                            break End::Count;
                        }
                    }
                    active -= 1;
                    if active == 0 {
                        // The last one: main reports it, with its exit code.
                        last_error = Some(error);
                        break End::AllLost;
                    } else {
                        status.error(format!(
                            "graphwatch: {label}: stopped watching: {}",
                            exit::one_line(&error)
                        ));
                        lost.push(label);
                    }
                    status.clear_spinner_if(emitter.progress.joined + lost.len() >= all);
                }
                Some(Report::Status { label, status: s }) => {
                    service.saw(&label, &s, all, emitter.progress.written);
                    if matches!(s, Status::Connected { first: true, .. } | Status::Polling { .. }) {
                        emitter.progress.joined += 1;
                        emitter.publish();
                        status.clear_spinner_if(emitter.progress.joined + lost.len() >= all);
                    }
                    if options.status_events {
                        for line in status_events::lines(&label, &s, changes_mode) {
                            if emitter.emit(&line)? {
                                break 'stream End::Count;
                            }
                        }
                    }
                    status.show(&label, s);
                }
                None => break End::AllLost,
            },
            (receipt, written) = next_receipt(&mut receipts) => {
                // Not received: the sink failed for good (the arm below says why) and
                // the round is not committed.
                if receipt.is_ok() {
                    emitter.lines.ack(written);
                }
            }
            // The sink acknowledged a delivery (a gap can close) or stopped for good.
            _ = delivered(&emitter.sink) => {
                if let Some(sink) = &mut emitter.sink {
                    if sink.ended() {
                        sink.finish().await?;
                    }
                    if let Some(line) = sink.close_gap(false) {
                        status.error(line);
                    }
                }
            }
            // The writer made room (a gap can close) or failed.
            _ = emitter.lines.woken() => {
                if let Some(e) = emitter.lines.failure() {
                    return Err(e.into());
                }
                if emitter.lines.gap_can_close() && emitter.close_gap(&status)? {
                    break End::Count;
                }
            }
            Some(found) = next_rescan(&mut rescans) => {
                let Some(tx) = &reports_tx else { continue };
                for target in found {
                    if options.shard.is_some_and(|shard| !shard.owns(&target.label))
                        || known.iter().any(|(kind, _)| *kind == target.kind)
                    {
                        continue;
                    }
                    let target = unique_label(target, &known);
                    let started = match &mut state {
                        Some(state) => state.claim(&[target.label.as_str()]),
                        None => Ok(()),
                    }
                    .and_then(|()| spawn_all(std::slice::from_ref(&target), &client, &options, state.as_ref(), tx));
                    match started {
                        Ok(()) => {
                            status.note(format!(
                                "graphwatch: {}: new since the start ({}); watching it",
                                target.label, target.display_name
                            ));
                            known.push((target.kind.clone(), target.label.clone()));
                            active += 1;
                            all += 1;
                        }
                        Err(error) => status.error(format!(
                            "graphwatch: {}: found by a rescan but not watched: {}",
                            target.label,
                            exit::one_line(&error)
                        )),
                    }
                }
            }
            _ = signals.next() => break End::Interrupted,
            _ = until(deadline) => break End::Timeout,
            _ = stopped(&mut stop) => break End::Stopped,
            _ = tick(&mut watchdog) => service.alive(emitter.progress.written),
            _ = hangups.next() => {
                if let Some(reload) = &mut reload {
                    service.reloading();
                    let line = reload.apply();
                    status.note(format!("graphwatch: {line}"));
                    service.reloaded(&line);
                }
            }
        }
    };
    service.stopping();
    status.clear_spinner_if(true);
    // Notifications dropped at the end are said too; then, whatever ended the loop, every
    // queued line is written (a second Ctrl-C does not wait for a reader that never reads).
    if emitter.lines.dropping() {
        emitter.close_gap(&status)?;
    }
    // What the sink holds is delivered — unless Ctrl-C or --timeout ended the watch, which
    // do not wait for a sink that is down (a round not acknowledged was not committed:
    // it comes again).
    if let Some(sink) = &mut emitter.sink {
        if let Some(line) = sink.close_gap(true) {
            status.error(line);
        }
        if !matches!(end, End::Interrupted | End::Timeout) {
            let delivered = tokio::select! {
                done = sink.finish() => { done?; true }
                _ = signals.next() => false,
            };
            // Rounds the sink took at the end are committed too (their receipts are in).
            while let Some((receipt, written)) = receipts.pop_front() {
                if delivered && receipt.await.is_ok() {
                    emitter.lines.ack(written);
                }
            }
        }
    }
    let written = emitter.progress.written;
    let Emitter { lines, exec, .. } = emitter;
    tokio::select! {
        finished = lines.finish() => finished?,
        _ = signals.next() => {}
    }

    // 4. Finish: queued --exec runs complete (a second Ctrl-C does not wait for them).
    if let Some(exec) = exec {
        tokio::select! {
            _ = exec.finish() => {}
            _ = signals.next() => {}
        }
    }
    match end {
        End::AllLost => {
            Err(last_error.unwrap_or_else(|| Error::failure("every target stopped").into()))
        }
        _ if !lost.is_empty() => Err(Error::failure(format!(
            "lost {} of {} targets ({}); the stream was incomplete",
            lost.len(),
            all,
            lost.join(", ")
        ))
        .hint("see the messages above for why")
        .into()),
        End::Timeout => timed_out(&options, written),
        End::Count | End::Interrupted | End::Stopped => Ok(()),
    }
}

/// Start one task per target, each reporting into `reports_tx`: with `--changes` a
/// [`ChangesTask`] with the target's item index (in the `--state` file, or in memory),
/// else a [`Supervisor`]. An index that cannot be opened is a usage error naming the
/// file (exit 2), before any of the tasks starts.
fn spawn_all(
    targets: &[Target],
    client: &GraphClient,
    options: &WatchOptions,
    state: Option<&StateFile>,
    reports_tx: &mpsc::UnboundedSender<Report>,
) -> anyhow::Result<()> {
    let mut tasks = Vec::new();
    for target in targets {
        match &options.changes {
            Some(changes) => {
                let id = target.id();
                let (index, resume) = match state {
                    Some(state) => state.open_index(&id)?,
                    None => (
                        Index::in_memory(&id.label, &id.resource).map_err(|e| {
                            Error::failure(format!("cannot make an item index in memory ({e})"))
                        })?,
                        Resume::Fresh,
                    ),
                };
                tasks.push(ChangesTask::new(
                    target.clone(),
                    client.clone(),
                    reports_tx.clone(),
                    changes.clone(),
                    options.supervisor.clone(),
                    index,
                    resume,
                ));
            }
            None => {
                let supervisor = Supervisor::new(
                    target.clone(),
                    client.clone(),
                    ToLoop(reports_tx.clone()),
                    options.supervisor.clone(),
                );
                let (label, reports) = (target.label.clone(), reports_tx.clone());
                tokio::spawn(async move {
                    if let Some(error) = supervisor.run().await {
                        let _ = reports.send(Report::lost(label, error));
                    }
                });
            }
        }
    }
    for task in tasks {
        tokio::spawn(task.run());
    }
    Ok(())
}

/// Every `every`, expand `specs` again and send what they name now; a failed rescan is
/// logged and tried at the next one (the targets already found go on regardless).
fn rescan(
    client: GraphClient,
    specs: Vec<TargetSpec>,
    every: Duration,
) -> mpsc::Receiver<Vec<Target>> {
    let (tx, rx) = mpsc::channel(1);
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval_at(Instant::now() + every, every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            let mut found = Vec::new();
            for spec in &specs {
                match target::targets(&client, spec).await {
                    Ok(targets) => found.extend(targets),
                    Err(error) => tracing::warn!(
                        "{}: cannot look for new libraries and lists ({}); trying again in {}",
                        spec.label(),
                        exit::one_line(&error),
                        human(every)
                    ),
                }
            }
            if tx.send(found).await.is_err() {
                return;
            }
        }
    });
    rx
}

async fn next_rescan(rescans: &mut Option<mpsc::Receiver<Vec<Target>>>) -> Option<Vec<Target>> {
    match rescans {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

/// Labels key the `--state` file and name each line's target: two targets must never
/// share one. A label already taken (a library renamed to the URL of one that is gone,
/// and found again) falls back to the resource, which is unique.
fn unique_label(mut target: Target, known: &[(target::TargetKind, String)]) -> Target {
    if known.iter().any(|(_, label)| *label == target.label) {
        target.label = match &target.kind {
            target::TargetKind::Drive { drive_id } => format!("drive:{drive_id}"),
            target::TargetKind::List { site_id, list_id } => format!("list:{site_id}/{list_id}"),
        };
    }
    target
}

/// Where every event of the stream goes, in this order: the filters, `--coalesce` folds
/// repeats, the queue in front of stdout (which folds and, when full, drops
/// notifications: [`queue`]), `--exec`, the count.
struct Emitter<'h> {
    /// Renders each event into memory; [`Lines`] writes it.
    output: Output<Vec<u8>>,
    lines: Lines,
    /// Notifications dropped since the queue was full, per target: the next `gap`.
    gaps: std::collections::BTreeMap<String, u64>,
    /// `--status-events`: a gap is a line as well as a warning.
    status_events: bool,
    exec: Option<ExecRunner>,
    count: Option<u64>,
    /// `--files-only`, `--name`, `--change`, `--include`, `--exclude`: before anything.
    filter: Filter,
    /// `--coalesce`: identical notifications within a window fold into the first.
    fold: Option<Fold>,
    progress: Progress,
    hooks: &'h Hooks,
    /// `--sink`: gets every event the filters keep, as its contract JSON line (`--jq`,
    /// `--template` and `-o` shape stdout only).
    sink: Option<Outbox>,
}

impl Emitter<'_> {
    /// Queue one event; `true` once `--count` events were queued. An event that `--jq`
    /// drops, a notification folded into an identical one that waits, or one dropped
    /// because the queue is full, is neither run by `--exec` nor counted.
    fn emit(&mut self, event: &Event) -> Result<bool, OutputError> {
        if !self.filter.keeps(event) {
            return Ok(false);
        }
        if let Some(fold) = &mut self.fold {
            if fold.repeats(event, std::time::Instant::now()) {
                return Ok(false);
            }
        }
        if let Some(sink) = &mut self.sink {
            sink.push(event);
        }
        // A notification's key: the same target and the same bytes of `data` is the
        // same poke (`--coalesce`'s rule too). Decided before rendering: a dropped
        // notification costs no render.
        let key = match event {
            Event::Notification { target, id, .. } => {
                let key = self.lines.key(target, id);
                match self.lines.offer(key) {
                    Offer::Queued => Some(key),
                    Offer::Coalesced => return Ok(false),
                    Offer::Dropped => {
                        *self.gaps.entry(target.clone()).or_default() += 1;
                        return Ok(false);
                    }
                }
            }
            _ => None,
        };
        if self.output.write_buffered(event)? == 0 {
            return Ok(false);
        }
        self.lines.push(self.output.rendered(), key)?;
        self.output.clear();
        if let Some(exec) = &self.exec {
            exec.submit(event);
        }
        self.progress.written += 1;
        self.publish();
        Ok(self.count.is_some_and(|n| self.progress.written >= n))
    }

    /// The queue has room again after dropping notifications: one `gap` line per target
    /// that lost some (with `--status-events`), and one warning on stderr with the
    /// count. `true` once `--count` lines were queued.
    fn close_gap(&mut self, status: &StatusLine) -> Result<bool, OutputError> {
        let gaps = std::mem::take(&mut self.gaps);
        if gaps.is_empty() {
            return Ok(false);
        }
        let total: u64 = gaps.values().sum();
        let each: Vec<String> = gaps.iter().map(|(t, n)| format!("{n} of {t}")).collect();
        status.error(format!(
            "graphwatch: stdout was not read fast enough: {total} notification{} dropped ({}; {} lines could wait); {}",
            if total == 1 { " was" } else { "s were" },
            each.join(", "),
            queue::MAX_LINES,
            if self.status_events {
                "a gap line marks where"
            } else {
                "--status-events marks where with a gap line"
            }
        ));
        if !self.status_events {
            return Ok(false);
        }
        for (target, dropped) in gaps {
            if self.emit(&Event::dropped(target, dropped))? {
                return Ok(true);
            }
        }
        Ok(false)
    }

    fn publish(&self) {
        if let Some(tx) = &self.hooks.progress {
            tx.send_replace(self.progress);
        }
    }
}

/// `--timeout` ended the watch: fine without `--count`, 124 with it (not reached).
fn timed_out(options: &WatchOptions, written: u64) -> anyhow::Result<()> {
    match (options.count, &options.timeout) {
        (Some(count), Some((_, text))) => Err(Error::timeout(format!(
            "--timeout {text} reached after {written} of {count} events"
        ))
        .into()),
        _ => Ok(()),
    }
}

/// Resolve every SPEC, in order; a failure ends the watch before it starts. A failure
/// that may pass (Graph unreachable, throttled, failing: [`target::transient_cause`])
/// is retried for `--start-wait` from the start (see [`StartWait`]); one that will not
/// (not found, denied, sign-in, a bad SPEC) ends it at once. Ctrl-C and `--timeout`
/// end the wait too: the caller selects over this.
async fn resolve_all(
    client: &GraphClient,
    specs: &[TargetSpec],
    options: &WatchOptions,
    status: &StatusLine,
    service: &Service,
) -> anyhow::Result<Resolved> {
    let mut wait = StartWait::new(options);
    let mut targets: Vec<Target> = Vec::with_capacity(specs.len());
    // Whether each target came from an expanded SPEC (`SITE/*`): a library found there
    // and also named is watched once, not refused as named twice.
    let mut found_by_expansion: Vec<bool> = Vec::with_capacity(specs.len());
    let mut lost: Vec<(String, anyhow::Error)> = Vec::new();
    let mut left_to_other_shards = 0;
    // The SPECs' first lookups at once, as many in flight as the Graph client lets go
    // (graph/mod.rs, MAX_IN_FLIGHT), answers taken in order: one after another, 500
    // drive ids were 500 round trips to Graph before the first link. At the first
    // failure the rest go one at a time again, by the start-up wait's rules, so that an
    // outage is waited out on one SPEC rather than on 500 at once.
    let mut lookups = Some(futures_util::StreamExt::buffered(
        futures_util::stream::iter(specs.iter().map(|spec| target::targets(client, spec))),
        crate::graph::MAX_IN_FLIGHT,
    ));
    for spec in specs {
        let mut first = match &mut lookups {
            Some(lookups) => futures_util::StreamExt::next(lookups).await,
            None => None,
        };
        if first.as_ref().is_some_and(Result::is_err) {
            lookups = None;
        }
        let resolved = loop {
            let result = match first.take() {
                Some(result) => result,
                None => {
                    let attempt = target::targets(client, spec);
                    match wait.give_up {
                        // After a failure, an attempt still in flight at the end of the
                        // wait is cut short (a black-holed network takes minutes per
                        // attempt).
                        Some(at) if wait.last.is_some() => {
                            match tokio::time::timeout_at(at, attempt).await {
                                Ok(result) => result,
                                Err(_) => return Err(wait.gave_up()),
                            }
                        }
                        _ => attempt.await,
                    }
                }
            };
            match result {
                Ok(found) => break Some(found),
                Err(err) => match wait.failed(err, status, service).await {
                    Ok(()) => {}
                    // One of several targets not there or not readable: the others are
                    // watched (as a target lost later is), and the exit says so.
                    Err(err) if specs.len() > 1 && exit::exit_code(&err) == Code::Target => {
                        let label = spec.label();
                        status.error(format!(
                            "graphwatch: {label}: stopped watching: {}",
                            exit::one_line(&err)
                        ));
                        lost.push((label, err));
                        break None;
                    }
                    Err(err) => return Err(err),
                },
            }
        };
        let Some(found) = resolved else { continue };
        for target in found {
            if options
                .shard
                .is_some_and(|shard| !shard.owns(&target.label))
            {
                left_to_other_shards += 1;
                continue;
            }
            tracing::info!(
                "{} is {} ({})",
                target.label,
                target.kind,
                target.display_name
            );
            let expanded = spec.is_expanded();
            // `--drive me --drive b!…` naming the same drive twice would print everything twice.
            let Some(at) = targets.iter().position(|t| t.kind == target.kind) else {
                targets.push(target);
                found_by_expansion.push(expanded);
                continue;
            };
            if expanded || found_by_expansion[at] {
                continue;
            }
            let same = &targets[at];
            return Err(Error::usage(format!(
                "{} and {} are the same {}",
                same.label,
                target.label,
                if matches!(target.kind, crate::target::TargetKind::Drive { .. }) {
                    "drive"
                } else {
                    "list"
                }
            ))
            .hint("name each target once")
            .into());
        }
    }
    if targets.is_empty() {
        if let Some((_, last)) = lost.pop() {
            return Err(last);
        }
        return Err(match options.shard {
            Some(shard) => Error::target(format!(
                "--shard {shard} holds none of the {left_to_other_shards} targets"
            ))
            .hint("give fewer shards than targets"),
            None => {
                Error::target("there is nothing to watch: the sites named have no library or list")
                    .hint("check the SPECs (see `graphwatch watch --help`)")
            }
        }
        .into());
    }
    Ok(Resolved { targets, lost })
}

/// The targets that could be resolved, and those lost at start (not there, or not
/// readable) while others were found.
struct Resolved {
    targets: Vec<Target>,
    lost: Vec<(String, anyhow::Error)>,
}

/// Start-up's patience with Graph: until `give_up` (`--start-wait` after the start),
/// each transient failure is followed by a wait (the `--backoff` range, at least what
/// Graph asked for with `Retry-After`) and another attempt; stderr says once what
/// graphwatch waits for, and `STATUS=` each time under systemd. The first attempt is
/// never cut short, so `--start-wait 0` behaves as before: the first failure ends the
/// watch. `--start-wait forever`, and the default under systemd (`NOTIFY_SOCKET`), never
/// give up: a service started at boot waits for the network as long as it takes
/// (docs/reliability.md, "Start-up").
struct StartWait {
    patience: Duration,
    /// `None` when the end cannot be represented (a patience beyond the clock).
    give_up: Option<Instant>,
    backoff: Backoff,
    /// The last transient failure, reported if the wait runs out.
    last: Option<anyhow::Error>,
}

impl StartWait {
    fn new(options: &WatchOptions) -> StartWait {
        let patience = options.start_wait.unwrap_or(if service::under_systemd() {
            options::FOREVER
        } else {
            options::DEFAULT_START_WAIT
        });
        StartWait {
            patience,
            give_up: Instant::now().checked_add(patience),
            backoff: Backoff::new(
                options.supervisor.first_backoff,
                options.supervisor.max_backoff,
            ),
            last: None,
        }
    }

    /// A lookup failed: the error, if it is final; else wait before the next attempt.
    async fn failed(
        &mut self,
        err: anyhow::Error,
        status: &StatusLine,
        service: &Service,
    ) -> anyhow::Result<()> {
        let Some(cause) = target::transient_cause(&err) else {
            return Err(err);
        };
        if self.patience.is_zero() {
            return Err(err);
        }
        let now = Instant::now();
        let left = self
            .give_up
            .map_or(Duration::MAX, |at| at.saturating_duration_since(now));
        if left.is_zero() {
            self.last = Some(err);
            return Err(self.gave_up());
        }
        let delay = self.backoff.next_delay();
        let delay = cause.retry_after().map_or(delay, |asked| asked.max(delay));
        let forever = self.patience == options::FOREVER;
        if self.last.is_none() {
            status.note(format!(
                "graphwatch: {}; {} (--start-wait)",
                what_failed(&err),
                if forever {
                    "waiting for Graph for as long as it takes".to_string()
                } else {
                    format!("waiting up to {} for Graph", human(self.patience))
                }
            ));
            status.spin("waiting for Graph");
        } else {
            tracing::info!(
                "still no answer from Graph ({}); trying again in {}",
                what_failed(&err),
                human(delay.min(left))
            );
        }
        service.waiting(
            &format!(
                "waiting for Graph ({}); next try in {}",
                what_failed(&err),
                human(delay.min(left))
            ),
            delay.min(left),
        );
        self.last = Some(err);
        tokio::time::sleep(delay.min(left)).await;
        Ok(())
    }

    /// The wait ran out: exit 1, with the last failure and what to do.
    fn gave_up(&mut self) -> anyhow::Error {
        // The report's hint is that of the first `Error` in the chain: this one is the
        // root, with the last failure in its message.
        let last = match self.last.take() {
            Some(last) => format!(": {}", what_failed(&last)),
            None => String::new(),
        };
        Error::failure(format!(
            "Graph did not answer within {} of the start{last}",
            human(self.patience)
        ))
        .hint("check the network and --graph-url; --start-wait gives Graph longer at start")
        .into()
    }
}

/// The one-line report of a failure without its "what to do" (here, waiting is).
fn what_failed(err: &anyhow::Error) -> String {
    let line = exit::one_line(err);
    match line.rsplit_once("; ") {
        Some((what, _hint)) => what.to_string(),
        None => line,
    }
}

/// The watchdog's next tick, or never without a watchdog.
async fn tick(interval: &mut Option<tokio::time::Interval>) {
    match interval {
        Some(interval) => {
            interval.tick().await;
        }
        None => std::future::pending().await,
    }
}

async fn until(deadline: Option<Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

async fn stopped(stop: &mut Option<oneshot::Receiver<()>>) {
    match stop {
        Some(rx) => {
            // A dropped sender means "stop" too: whoever drove the watch is gone.
            let _ = rx.await;
            *stop = None;
        }
        None => std::future::pending().await,
    }
}

/// The front round's receipt from the sink, with the round's acknowledgement to pass
/// on; never, while no round waits. Cancel-safe: the receipt is polled in place.
async fn next_receipt(
    receipts: &mut VecDeque<(Receipt, oneshot::Sender<()>)>,
) -> (Result<(), oneshot::error::RecvError>, oneshot::Sender<()>) {
    let Some((receipt, _)) = receipts.front_mut() else {
        return std::future::pending().await;
    };
    let received = receipt.await;
    let (_, written) = receipts.pop_front().expect("the front was there");
    (received, written)
}

/// The sink acknowledged a delivery or stopped; never without a sink.
async fn delivered(sink: &Option<Outbox>) {
    match sink {
        Some(sink) => sink.delivered().await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn timeout_is_124_only_with_count() {
        let mut options = WatchOptions {
            timeout: Some((Duration::from_secs(1), "1s".into())),
            ..WatchOptions::default()
        };
        assert!(timed_out(&options, 0).is_ok());
        options.count = Some(2);
        let err = timed_out(&options, 1).unwrap_err();
        assert_eq!(crate::exit::exit_code(&err), crate::error::Code::Timeout);
        assert!(err.to_string().contains("after 1 of 2 events"), "{err}");
    }
}
