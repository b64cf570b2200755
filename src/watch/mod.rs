//! The watch loop behind `drive`, `list`, `watch` and `demo`: the engine. It owns stdout
//! (through one [`Output`]) and the `--state` file, and nothing else writes either.
//!
//! Read top to bottom, [`run`] does this:
//!
//! 1. resolve every target (a spinner on stderr while it does, on a terminal only),
//!    waiting for Graph if it cannot be reached yet ([`resolve_all`]);
//! 2. start one task per target — a [`Supervisor`] keeping the link alive, or with
//!    `--changes` a [`ChangesTask`] owning one — each sending [`Report`]s (events,
//!    delta rounds, status) into one channel;
//! 3. stream: select over that channel, Ctrl-C (SIGINT; SIGTERM too), the `--timeout`
//!    deadline and an optional stop signal (the demo's); every event goes through one
//!    [`Emitter::emit`] (stdout, `--exec`, the count), and a round's cursor is
//!    committed only after its lines were flushed;
//! 4. finish: let queued `--exec` runs complete, and pick the exit status.
//!
//! Exit status (docs/contract.md, "Exit status"): 0 for `--count` reached, `--timeout`
//! without `--count`, Ctrl-C, or a stop; 124 (`--timeout` before `--count`); when every
//! target was lost, the error of the last one (3 for sign-in, 4 for access/not found,
//! else 1); when some target was lost while others went on, 1 at the end, whatever
//! ended the watch, because the stream the user asked for was incomplete. A closed
//! stdout ends the watch quietly with 0 (see `main`).

mod fold;
pub mod options;
mod signals;
mod status_events;
mod status_line;

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
use crate::output::{Output, OutputError, Render, Stdout};
use crate::sink::Sink;
use crate::target::{self, Target, TargetSpec};
use crate::term::Term;
use crate::util::backoff::Backoff;
use crate::util::duration::human;

use fold::Fold;
pub use options::WatchOptions;
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
    let mut signals = Signals::listen()?;
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
        resolved = resolve_all(&client, specs, &options, &status) => resolved?,
        _ = signals.next() => return Ok(()),
        _ = until(deadline) => return timed_out(&options, 0),
        _ = stopped(&mut stop) => return Ok(()),
    };
    let labels: Vec<&str> = targets.iter().map(|t| t.label.as_str()).collect();
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
    status.spin(&format!("connecting to {}", labels.join(", ")));

    // 2. One task per target, all reporting into one channel.
    let mut reports = spawn_all(&targets, &client, &options, state.as_ref())?;

    // 3. The stream.
    let fold = options
        .coalesce
        .window(
            options.exec.is_some(),
            matches!(render, Render::Pretty { .. }),
        )
        .map(Fold::new);
    let mut emitter = Emitter {
        output: Output::stdout(render, term.stdout_is_terminal()),
        exec: options
            .exec
            .as_ref()
            .map(|command| ExecRunner::new(command.clone(), ExecOptions::default())),
        count: options.count,
        filter: options.filter.clone(),
        fold,
        progress: Progress::default(),
        hooks: &hooks,
        sink,
    };
    emitter.output.targets(&labels);
    let changes_mode = options.changes.is_some();
    let mut active = targets.len();
    let mut lost: Vec<String> = lost_at_start.into_iter().map(|(label, _)| label).collect();
    let all = specs.len();
    let mut last_error: Option<anyhow::Error> = None;
    // The sink's acknowledgement of what was written, awaited where stdout is flushed;
    // Ctrl-C, --timeout and a stop still end the watch while the sink is down (what was
    // not acknowledged is not committed: it comes again).
    macro_rules! delivered {
        ($label:lifetime) => {
            tokio::select! {
                done = emitter.deliver() => done?,
                _ = signals.next() => break $label End::Interrupted,
                _ = until(deadline) => break $label End::Timeout,
                _ = stopped(&mut stop) => break $label End::Stopped,
            }
        };
    }
    let end = 'stream: loop {
        // Lines are flushed per burst: before the loop can wait, i.e. once no report is
        // queued (and after the loop, whatever ended it). A burst of notifications is then
        // one write instead of one per line, and no line waits in the buffer.
        if reports.is_empty() {
            emitter.output.flush()?;
            delivered!('stream);
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
                        if emitter.emit(event)? {
                            break 'stream End::Count;
                        }
                    }
                    emitter.output.flush()?;
                    delivered!('stream);
                    let _ = written.send(());
                }
                Some(Report::Event(event)) => {
                    status.clear_spinner_if(true);
                    if emitter.emit(&event)? {
                        break End::Count;
                    }
                }
                Some(Report::Status { label, status: Status::Lost(error) }) => {
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
            _ = signals.next() => break End::Interrupted,
            _ = until(deadline) => break End::Timeout,
            _ = stopped(&mut stop) => break End::Stopped,
        }
    };
    status.clear_spinner_if(true);
    // Whatever ended the loop, no written line stays in the buffer, and what the sink
    // holds is delivered — unless Ctrl-C or --timeout ended it, which do not wait for a
    // sink that is down (a round not acknowledged was not committed: it comes again).
    emitter.output.flush()?;
    if !matches!(end, End::Interrupted | End::Timeout) {
        tokio::select! {
            done = emitter.deliver() => done?,
            _ = signals.next() => {}
        }
    }
    let written = emitter.progress.written;

    // 4. Finish: queued --exec runs complete (a second Ctrl-C does not wait for them).
    if let Some(exec) = emitter.exec.take() {
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

/// Start one task per target: with `--changes` a [`ChangesTask`] with the target's
/// item index (in the `--state` file, or in memory), else a [`Supervisor`]. An index
/// that cannot be opened is a usage error naming the file (exit 2).
fn spawn_all(
    targets: &[Target],
    client: &GraphClient,
    options: &WatchOptions,
    state: Option<&StateFile>,
) -> anyhow::Result<mpsc::UnboundedReceiver<Report>> {
    let (reports_tx, reports) = mpsc::unbounded_channel();
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
    Ok(reports)
}

/// Where every event of the stream goes, in this order: the filters, `--coalesce` folds
/// repeats, stdout (buffered; the loop flushes), `--exec`, the count.
struct Emitter<'h> {
    output: Output<Stdout>,
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
    sink: Option<Sink>,
}

impl Emitter<'_> {
    /// Write one event; `true` once `--count` events were written. An event that `--jq`
    /// drops is neither run by `--exec` nor counted.
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
        if self.output.write_buffered(event)? == 0 {
            return Ok(false);
        }
        if let Some(exec) = &self.exec {
            exec.submit(event);
        }
        self.progress.written += 1;
        self.publish();
        Ok(self.count.is_some_and(|n| self.progress.written >= n))
    }

    /// Wait until the sink acknowledged everything pushed (at once without a sink).
    async fn deliver(&mut self) -> anyhow::Result<()> {
        match &mut self.sink {
            Some(sink) => sink.deliver().await,
            None => Ok(()),
        }
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
) -> anyhow::Result<Resolved> {
    let mut wait = StartWait::new(options);
    let mut targets: Vec<Target> = Vec::with_capacity(specs.len());
    let mut lost: Vec<(String, anyhow::Error)> = Vec::new();
    for spec in specs {
        let resolved = loop {
            let attempt = target::resolve(client, spec);
            let result = match wait.give_up {
                // After a failure, an attempt still in flight at the end of the wait is
                // cut short (a black-holed network takes minutes per attempt).
                Some(at) if wait.last.is_some() => {
                    match tokio::time::timeout_at(at, attempt).await {
                        Ok(result) => result,
                        Err(_) => return Err(wait.gave_up()),
                    }
                }
                _ => attempt.await,
            };
            match result {
                Ok(target) => break Some(target),
                Err(err) => match wait.failed(err, status).await {
                    Ok(()) => {}
                    // One of several targets not there or not readable: the others are
                    // watched (as a target lost later is), and the exit says so.
                    Err(err) if specs.len() > 1 && exit::exit_code(&err) == Code::Target => {
                        let label = match spec {
                            TargetSpec::Drive(drive) => drive.label(),
                            TargetSpec::List(list) => list.label(),
                        };
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
        let Some(target) = resolved else { continue };
        tracing::info!(
            "{} is {} ({})",
            target.label,
            target.kind,
            target.display_name
        );
        // `--drive me --drive b!…` naming the same drive twice would print everything twice.
        if let Some(same) = targets.iter().find(|t| t.kind == target.kind) {
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
        targets.push(target);
    }
    if targets.is_empty() {
        if let Some((_, last)) = lost.pop() {
            return Err(last);
        }
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
/// graphwatch waits for. The first attempt is never cut short, so `--start-wait 0`
/// behaves as before: the first failure ends the watch.
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
        let patience = options.start_wait.unwrap_or(options::DEFAULT_START_WAIT);
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
    async fn failed(&mut self, err: anyhow::Error, status: &StatusLine) -> anyhow::Result<()> {
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
        if self.last.is_none() {
            status.note(format!(
                "graphwatch: {}; waiting up to {} for Graph (--start-wait)",
                what_failed(&err),
                human(self.patience)
            ));
            status.spin("waiting for Graph");
        } else {
            tracing::info!(
                "still no answer from Graph ({}); trying again in {}",
                what_failed(&err),
                human(delay.min(left))
            );
        }
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
