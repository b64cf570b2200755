//! The watch loop behind `drive`, `list`, `watch` and `demo`.
//!
//! Read top to bottom, [`run`] does this:
//!
//! 1. resolve every target (a spinner on stderr while it does, on a terminal only);
//! 2. start one [`Supervisor`] per target; each keeps its link alive and sends
//!    [`Report`]s — events and status — into one channel;
//! 3. select over that channel, Ctrl-C (SIGINT; SIGTERM too), the `--timeout` deadline
//!    and an optional stop signal (the demo's), writing events through the one
//!    [`Output`] (stdout, flushed per event), handing them to `--exec`, counting them;
//! 4. finish: let queued `--exec` runs complete, and pick the exit status.
//!
//! Exit status (SPEC): 0 for `--count` reached, `--timeout` without `--count`,
//! Ctrl-C, or a stop; 124 (`--timeout` before `--count`); when every target was lost,
//! the error of the last one (3 for sign-in, 4 for access/not found, else 1); when
//! some target was lost while others went on, 1 at the end, whatever ended the watch,
//! because the stream the user asked for was incomplete. A closed stdout ends the
//! watch quietly with 0 (see `main`).

use std::io::IsTerminal as _;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;

use crate::changes::{ChangesOptions, ChangesTask};
use crate::cli::WatchArgs;
use crate::commands::Context;
use crate::error::Error;
use crate::exec::{ExecOptions, ExecRunner};
use crate::output::{Output, Template, Ui};
use crate::state::StateFile;
use crate::supervisor::{Report, Status, Supervisor, SupervisorOptions};
use crate::target::{self, Target, TargetSpec};

/// The stream options of `drive`, `list` and `watch`, checked.
#[derive(Debug, Clone, Default)]
pub struct WatchOptions {
    pub count: Option<u64>,
    /// The duration and how the user wrote it (for messages).
    pub timeout: Option<(Duration, String)>,
    pub exec: Option<String>,
    pub template: Option<Template>,
    /// `--changes` (or `--no-socket`) and its options.
    pub changes: Option<ChangesOptions>,
    /// Reconnect timings (`--backoff`).
    pub supervisor: SupervisorOptions,
}

impl WatchOptions {
    /// Check the options; a bad value is a one-line usage error (exit 2).
    pub fn from_args(args: &WatchArgs) -> Result<WatchOptions, Error> {
        let template = match &args.template {
            Some(text) => Some(Template::parse(text).map_err(|e| {
                Error::usage(format!("{e} in {text:?}")).hint(
                    "write placeholders as {type}, {target}, {data.resource}; {{ and }} for braces",
                )
            })?),
            None => None,
        };
        let timeout = match &args.timeout {
            Some(text) => Some((
                parse_duration(text).map_err(|why| {
                    Error::usage(format!("--timeout {text:?} {why}"))
                        .hint("write a duration such as 30s, 5m, 1h30m or 500ms")
                })?,
                text.trim().to_string(),
            )),
            None => None,
        };
        if args.count == Some(0) {
            return Err(Error::usage("--count 0 would never write anything")
                .hint("give --count 1 or more, or leave it out to watch until stopped"));
        }
        if args.exec.as_deref().is_some_and(|c| c.trim().is_empty()) {
            return Err(Error::usage("--exec is empty").hint("give a command, e.g. --exec 'cat'"));
        }
        let mut supervisor = SupervisorOptions::default();
        if let Some(text) = &args.backoff {
            (supervisor.first_backoff, supervisor.max_backoff) =
                parse_backoff(text).map_err(|why| {
                    Error::usage(format!("--backoff {text:?} {why}"))
                        .hint("write FIRST..MAX, e.g. 1s..60s (also GRAPHWATCH_BACKOFF)")
                })?;
        }
        Ok(WatchOptions {
            count: args.count,
            timeout,
            exec: args.exec.clone(),
            template,
            changes: changes_options(args)?,
            supervisor,
        })
    }
}

/// `FIRST..MAX`: two durations, the first no longer than the second.
fn parse_backoff(text: &str) -> Result<(Duration, Duration), String> {
    let Some((first, max)) = text.split_once("..") else {
        return Err("is not FIRST..MAX".into());
    };
    let first = parse_duration(first).map_err(|why| format!("starts with a wait that {why}"))?;
    let max = parse_duration(max).map_err(|why| format!("ends with a wait that {why}"))?;
    if first > max {
        return Err("starts with a longer wait than it ends".into());
    }
    Ok((first, max))
}

/// How often `--changes` asks delta while the socket cannot be opened: often enough
/// that a change waits half a minute at most, rarely enough not to invite throttling.
const DEFAULT_FALLBACK_POLL: Duration = Duration::from_secs(30);

/// The changes-mode options, checked: `None` without `--changes`/`--no-socket` (and
/// then none of its options may be given).
fn changes_options(args: &WatchArgs) -> Result<Option<ChangesOptions>, Error> {
    if !(args.changes || args.no_socket) {
        let given = [
            ("--state", args.state.is_some()),
            ("--poll", args.poll.is_some()),
            ("--fallback-poll", args.fallback_poll.is_some()),
            ("--path", args.path.is_some()),
            ("--notifications", args.notifications),
            ("--debounce", args.debounce.is_some()),
        ];
        if let Some((flag, _)) = given.iter().find(|(_, given)| *given) {
            return Err(Error::usage(format!("{flag} needs --changes"))
                .hint("add --changes (or --no-socket to poll without a socket)"));
        }
        return Ok(None);
    }
    if args.no_socket && args.notifications {
        return Err(
            Error::usage("--notifications with --no-socket: there are none")
                .hint("leave out one of them"),
        );
    }
    if args.no_socket && args.fallback_poll.is_some() {
        return Err(Error::usage(
            "--fallback-poll with --no-socket: there is no socket to fall back from",
        )
        .hint("use --poll to set how often delta is asked"));
    }
    let duration = |flag: &str, text: &str| {
        parse_duration(text).map_err(|why| {
            Error::usage(format!("{flag} {text:?} {why}"))
                .hint("write a duration such as 30s, 5m, 1h30m or 500ms")
        })
    };
    let mut settings = crate::coalesce::Settings::default();
    settings.poll = Some(match &args.poll {
        Some(text) => duration("--poll", text)?,
        None if args.no_socket => Duration::from_secs(60),
        None => settings.poll.unwrap_or(Duration::from_secs(300)),
    });
    // While the socket is down, poll at least this often (never slower than --poll).
    let fallback_poll = match &args.fallback_poll {
        Some(text) => duration("--fallback-poll", text)?,
        None => DEFAULT_FALLBACK_POLL,
    }
    .min(settings.poll.unwrap_or(Duration::MAX));
    if let Some(text) = &args.debounce {
        settings.debounce = duration("--debounce", text)?;
        settings.max_delay = settings.max_delay.max(settings.debounce);
    }
    if let Some(folder) = &args.path {
        if !folder.starts_with('/') {
            return Err(Error::usage(format!(
                "--path {folder:?} is not a folder path from the drive's root"
            ))
            .hint("start it with /, e.g. --path /Documents/Reports"));
        }
        crate::pathindex::PathIndex::new(folder)?;
    }
    Ok(Some(ChangesOptions {
        socket: !args.no_socket,
        keep_notifications: args.notifications,
        fallback_poll,
        settings,
        path: args.path.clone(),
        state: args.state.clone(),
    }))
}

/// A duration as people write it: a number and a unit (`ms`, `s`, `m`, `h`, `d`), one
/// or more, e.g. `30s`, `5m`, `1h30m`, `1.5h`, `500ms`. A bare number is seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("is empty".into());
    }
    if text.bytes().all(|b| b.is_ascii_digit()) {
        // As long as the clock can add it (`Instant + u64::MAX s` panics).
        return match text.parse::<u64>() {
            Ok(secs) if secs < 1_000_000_000 => Ok(Duration::from_secs(secs)),
            _ => Err("is too long (at most 999999999 seconds)".into()),
        };
    }
    let mut total = 0f64;
    let mut rest = text;
    while !rest.is_empty() {
        let number_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let (number, tail) = rest.split_at(number_end);
        let unit_end = tail
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(tail.len());
        let (unit, tail) = tail.split_at(unit_end);
        let value: f64 = number
            .parse()
            .map_err(|_| "is not a duration".to_string())?;
        let scale = match unit.trim() {
            "ms" => 0.001,
            "s" | "sec" | "secs" => 1.0,
            "m" | "min" | "mins" => 60.0,
            "h" | "hr" | "hrs" => 3600.0,
            "d" | "day" | "days" => 86400.0,
            "" => return Err("needs a unit after each number (ms, s, m, h, d)".into()),
            other => {
                return Err(format!(
                    "has an unknown unit {other:?} (use ms, s, m, h, d)"
                ))
            }
        };
        total += value * scale;
        rest = tail;
    }
    if !(total.is_finite() && total > 0.0 && total < 1e9) {
        return Err("is not a positive duration".into());
    }
    Ok(Duration::from_secs_f64(total))
}

/// `1.5s`, `2s`, `1m`: a short human rendering of a wait.
pub fn human(d: Duration) -> String {
    let secs = d.as_secs_f64();
    if secs < 10.0 && (secs - secs.round()).abs() >= 0.05 {
        format!("{secs:.1}s")
    } else if secs < 120.0 {
        format!("{}s", secs.round() as u64)
    } else {
        format!("{}m", (secs / 60.0).round() as u64)
    }
}

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
    pub progress: Option<watch::Sender<Progress>>,
    /// End the watch as Ctrl-C would (status 0) when this fires.
    pub stop: Option<oneshot::Receiver<()>>,
}

/// Why the loop ended.
enum End {
    Count,
    Interrupted,
    Timeout,
    Stopped,
    /// Every supervisor ended: every target was lost.
    AllLost,
}

/// Watch `specs` until `--count`, `--timeout`, Ctrl-C or a stop; see the module docs.
pub async fn run(
    ctx: &Context,
    specs: &[TargetSpec],
    options: WatchOptions,
    mut hooks: Hooks,
) -> anyhow::Result<()> {
    let mut signals = Signals::listen()?;
    let deadline = options.timeout.as_ref().map(|(d, _)| Instant::now() + *d);
    let mut stop = hooks.stop.take();
    let mut status = StatusLine::new(&ctx.ui, options.changes.is_some());
    let client = ctx.graph_client();
    let changes = options.changes.clone();
    if let Some(changes) = &changes {
        if changes.path.is_some() && specs.iter().any(|s| matches!(s, TargetSpec::List(_))) {
            return Err(Error::usage("--path is for drives; lists have no folders")
                .hint("leave out --path, or watch drives only")
                .into());
        }
    }
    let mut state = match changes.as_ref().and_then(|c| c.state.as_deref()) {
        Some(path) => Some(StateFile::load(path)?),
        None => None,
    };

    // 1. Resolve every target (and fail before connecting anything if one is wrong).
    status.spin("resolving");
    let targets = tokio::select! {
        targets = resolve_all(&client, specs) => targets?,
        _ = signals.next() => return Ok(()),
        _ = until(deadline) => return timed_out(&options, 0),
        _ = stopped(&mut stop) => return Ok(()),
    };
    let labels: Vec<&str> = targets.iter().map(|t| t.label.as_str()).collect();
    status.spin(&format!("connecting to {}", labels.join(", ")));

    // 2. One supervisor (or, with --changes, one changes task owning it) per target,
    //    all reporting into one channel.
    let (reports_tx, mut reports) = mpsc::unbounded_channel();
    for target in &targets {
        match &changes {
            Some(changes) => {
                let cursor = match &state {
                    Some(state) => {
                        let resume = state.resume(target);
                        if let Some(warning) = resume.warning(&target.label, state.path()) {
                            status.error(format!("graphwatch: {warning}"));
                        }
                        resume.cursor()
                    }
                    None => None,
                };
                let task = ChangesTask {
                    target: target.clone(),
                    client: client.clone(),
                    reports: reports_tx.clone(),
                    options: changes.clone(),
                    supervisor: options.supervisor.clone(),
                    cursor,
                };
                tokio::spawn(task.run());
            }
            None => {
                let supervisor = Supervisor::new(
                    target.clone(),
                    client.clone(),
                    reports_tx.clone(),
                    options.supervisor.clone(),
                );
                tokio::spawn(supervisor.run());
            }
        }
    }
    drop(reports_tx);

    // 3. The stream.
    let mut output = Output::stdout(
        ctx.settings.output,
        options.template.clone(),
        ctx.stdout_color,
    );
    let exec = options
        .exec
        .as_ref()
        .map(|command| ExecRunner::new(command.clone(), ExecOptions::default()));
    let mut progress = Progress::default();
    let mut active = targets.len();
    let mut lost: Vec<String> = Vec::new();
    let mut last_error: Option<anyhow::Error> = None;
    let end = 'stream: loop {
        // Lines are flushed per burst: before the loop can wait, i.e. once no report is
        // queued (and after the loop, whatever ended it). A burst of notifications is then
        // one write instead of one per line, and no line waits in the buffer.
        if reports.is_empty() {
            output.flush()?;
        }
        tokio::select! {
            report = reports.recv() => match report {
                // A delta round: every line written and flushed, then (and only then,
                // for at-least-once) its cursor saved. Stopping in the middle
                // (--count) leaves the previous cursor: the round repeats next time.
                Some(Report::Round { target, events, cursor }) => {
                    for event in &events {
                        output.write_buffered(event)?;
                        if let Some(exec) = &exec {
                            exec.submit(event);
                        }
                        progress.written += 1;
                        publish(&hooks, progress);
                        if options.count.is_some_and(|n| progress.written >= n) {
                            break 'stream End::Count;
                        }
                    }
                    // Flushed before the cursor is saved: at-least-once.
                    output.flush()?;
                    if let Some(state) = &mut state {
                        state.commit(&target, &cursor)?;
                    }
                }
                Some(Report::Event(event)) => {
                    output.write_buffered(&event)?;
                    if let Some(exec) = &exec {
                        exec.submit(&event);
                    }
                    progress.written += 1;
                    publish(&hooks, progress);
                    if options.count.is_some_and(|n| progress.written >= n) {
                        break End::Count;
                    }
                }
                Some(Report::Status { label, status: Status::Lost(error) }) => {
                    active -= 1;
                    if active == 0 {
                        // The last one: main reports it, with its exit code.
                        last_error = Some(error);
                    } else {
                        status.error(format!(
                            "graphwatch: {label}: stopped watching: {}",
                            crate::error::report(&error)
                        ));
                        lost.push(label);
                    }
                    status.done_if(progress.joined + lost.len() >= targets.len());
                }
                Some(Report::Status { label, status: s }) => {
                    if matches!(s, Status::Connected { first: true, .. } | Status::Polling { .. }) {
                        progress.joined += 1;
                        publish(&hooks, progress);
                        status.done_if(progress.joined + lost.len() >= targets.len());
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
    status.done_if(true);
    // Whatever ended the loop, no written line stays in the buffer.
    output.flush()?;

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
            targets.len(),
            lost.join(", ")
        ))
        .hint("see the messages above for why")
        .into()),
        End::Timeout => timed_out(&options, progress.written),
        End::Count | End::Interrupted | End::Stopped => Ok(()),
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

fn publish(hooks: &Hooks, progress: Progress) {
    if let Some(tx) = &hooks.progress {
        tx.send_replace(progress);
    }
}

/// Resolve every SPEC, in order; the first failure ends the watch before it starts.
async fn resolve_all(
    client: &crate::graph::GraphClient,
    specs: &[TargetSpec],
) -> anyhow::Result<Vec<Target>> {
    let mut targets: Vec<Target> = Vec::with_capacity(specs.len());
    for spec in specs {
        let target = target::resolve(client, spec).await?;
        tracing::info!(
            "{} is {:?} ({})",
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
                if matches!(target.kind, target::TargetKind::Drive { .. }) {
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
    Ok(targets)
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

/// Ctrl-C (and, on Unix, SIGTERM). The handlers are installed at once, so a signal
/// that comes while targets are being resolved is not lost.
struct Signals {
    rx: mpsc::UnboundedReceiver<()>,
}

impl Signals {
    fn listen() -> anyhow::Result<Signals> {
        let (tx, rx) = mpsc::unbounded_channel();
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            let mut interrupt = signal(SignalKind::interrupt())
                .map_err(|e| anyhow::anyhow!("cannot listen for Ctrl-C: {e}"))?;
            let mut terminate = signal(SignalKind::terminate())
                .map_err(|e| anyhow::anyhow!("cannot listen for SIGTERM: {e}"))?;
            tokio::spawn(async move {
                loop {
                    tokio::select! {
                        Some(()) = interrupt.recv() => {}
                        Some(()) = terminate.recv() => {}
                        else => break,
                    }
                    if tx.send(()).is_err() {
                        break;
                    }
                }
            });
        }
        #[cfg(not(unix))]
        tokio::spawn(async move {
            while tokio::signal::ctrl_c().await.is_ok() {
                if tx.send(()).is_err() {
                    break;
                }
            }
        });
        Ok(Signals { rx })
    }

    async fn next(&mut self) {
        if self.rx.recv().await.is_none() {
            std::future::pending::<()>().await;
        }
    }
}

/// Status on stderr: a spinner while resolving and connecting (terminal only, not with
/// `-q`), then one line per thing worth knowing; connection details at `-v`.
struct StatusLine {
    ui: Ui,
    spinner: Option<indicatif::ProgressBar>,
    /// `--changes`: an outage is covered by delta polling, not lost.
    changes: bool,
}

impl StatusLine {
    fn new(ui: &Ui, changes: bool) -> StatusLine {
        let spinner = (ui.stderr_tty && !ui.quiet && std::io::stderr().is_terminal()).then(|| {
            let bar = indicatif::ProgressBar::with_draw_target(
                None,
                indicatif::ProgressDrawTarget::stderr(),
            );
            bar.set_style(
                indicatif::ProgressStyle::with_template("{spinner} {msg}…")
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
            );
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        });
        StatusLine {
            ui: *ui,
            spinner,
            changes,
        }
    }

    fn spin(&self, message: &str) {
        if let Some(bar) = &self.spinner {
            bar.set_message(message.to_string());
        }
    }

    fn done_if(&mut self, done: bool) {
        if done {
            if let Some(bar) = self.spinner.take() {
                bar.finish_and_clear();
            }
        }
    }

    fn note(&self, line: String) {
        match &self.spinner {
            Some(bar) => bar.suspend(|| self.ui.note(&line)),
            None => self.ui.note(&line),
        }
    }

    fn error(&self, line: String) {
        match &self.spinner {
            Some(bar) => bar.suspend(|| eprintln!("{line}")),
            None => eprintln!("{line}"),
        }
    }

    fn show(&self, label: &str, status: Status) {
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
                    .map(|t| format!(" (valid until {})", crate::output::format_time(t)))
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
            // Handled by the loop.
            Status::Lost(_) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_as_people_write_them() {
        let s = Duration::from_secs;
        assert_eq!(parse_duration("30s"), Ok(s(30)));
        assert_eq!(parse_duration("5m"), Ok(s(300)));
        assert_eq!(parse_duration("1h30m"), Ok(s(5400)));
        assert_eq!(parse_duration("1.5h"), Ok(s(5400)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration(" 2d "), Ok(s(172_800)));
        assert_eq!(parse_duration("45"), Ok(s(45)));
        for bad in [
            "",
            "abc",
            "5x",
            "m",
            "1.2.3s",
            "0s",
            "-5s",
            "5m3",
            "1e400s",
            "18446744073709551615",
            "1000000000",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn bad_options_are_usage_errors() {
        let args = |f: fn(&mut WatchArgs)| {
            let mut a = WatchArgs::default();
            f(&mut a);
            WatchOptions::from_args(&a)
        };
        for result in [
            args(|a| a.timeout = Some("soon".into())),
            args(|a| a.template = Some("{oops".into())),
            args(|a| a.count = Some(0)),
            args(|a| a.exec = Some(" ".into())),
        ] {
            let err = result.unwrap_err();
            assert_eq!(err.code, crate::error::Code::Usage, "{err}");
        }
        for bad in ["1s", "..", "5s..1s", "1s..forever", "x..1m"] {
            let a = WatchArgs {
                backoff: Some(bad.into()),
                ..WatchArgs::default()
            };
            let err = WatchOptions::from_args(&a).unwrap_err();
            assert_eq!(err.code, crate::error::Code::Usage, "{bad}: {err}");
            assert!(err.to_string().contains("--backoff"), "{err}");
        }
        let backoff = args(|a| a.backoff = Some("100ms..2s".into())).unwrap();
        assert_eq!(
            (
                backoff.supervisor.first_backoff,
                backoff.supervisor.max_backoff
            ),
            (Duration::from_millis(100), Duration::from_secs(2))
        );
        let ok = args(|a| {
            a.timeout = Some("2m".into());
            a.count = Some(3);
        })
        .unwrap();
        assert_eq!(ok.timeout.unwrap().0, Duration::from_secs(120));
    }

    #[test]
    fn waits_read_well() {
        assert_eq!(human(Duration::from_secs(2)), "2s");
        assert_eq!(human(Duration::from_millis(1800)), "1.8s");
        assert_eq!(human(Duration::from_secs(61)), "61s");
        assert_eq!(human(Duration::from_secs(600)), "10m");
    }

    #[test]
    fn timeout_is_124_only_with_count() {
        let mut options = WatchOptions {
            timeout: Some((Duration::from_secs(1), "1s".into())),
            ..WatchOptions::default()
        };
        assert!(timed_out(&options, 0).is_ok());
        options.count = Some(2);
        let err = timed_out(&options, 1).unwrap_err();
        assert_eq!(crate::error::exit_code(&err), crate::error::Code::Timeout);
        assert!(err.to_string().contains("after 1 of 2 events"), "{err}");
    }
}
