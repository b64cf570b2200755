//! `--exec CMD`: run a command once per event.
//!
//! CMD goes through the shell (`sh -c` on Unix, `cmd /C` on Windows) so users can write
//! pipes and redirections. Each run gets the event's JSON line (the same bytes as `-o
//! json` writes, plus a newline) on its stdin, and `GRAPHWATCH_*` variables describing it.
//!
//! Runs happen one at a time, in event order, from a queue: [`ExecRunner::submit`] never
//! waits, so a slow command does not hold up reading the socket (events queue up instead).
//!
//! The child's stdout goes to **our stderr** by default: graphwatch's stdout carries only
//! events (docs/contract.md), and a command's chatter mixed into it would break `| jq`.
//! Users who want the command's output elsewhere redirect inside CMD. The child's stderr
//! is inherited.
//!
//! A command that fails (non-zero status, killed by a signal, cannot start) is reported on
//! stderr as `graphwatch: --exec command exited with status 3 for event …`; the watch goes
//! on and later events still run.

use std::process::Stdio;
use std::sync::Arc;

use tokio::io::AsyncWriteExt;
use tokio::process::Command;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::event::{format_time, Event};

/// Where a command's stdout goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ChildStdout {
    /// Our stderr (the default: stdout stays events only).
    #[default]
    Stderr,
    /// Discarded (tests that only count runs).
    #[cfg(test)]
    Null,
}

/// Receives failure reports, one line each, without the trailing newline.
pub type Reporter = Arc<dyn Fn(&str) + Send + Sync>;

/// Knobs for [`ExecRunner`].
#[derive(Clone)]
pub struct ExecOptions {
    pub stdout: ChildStdout,
    /// Where failures are reported; `None`: our stderr.
    pub reporter: Option<Reporter>,
}

impl Default for ExecOptions {
    fn default() -> Self {
        ExecOptions {
            stdout: ChildStdout::Stderr,
            reporter: None,
        }
    }
}

impl std::fmt::Debug for ExecOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExecOptions")
            .field("stdout", &self.stdout)
            .field("reporter", &self.reporter.as_ref().map(|_| "…"))
            .finish()
    }
}

/// One queued run: everything is computed at submit time, so the event need not live on.
struct Job {
    line: String,
    env: Vec<(&'static str, String)>,
    /// For failure reports: `change drive:me 2026-…Z`.
    label: String,
}

/// The queue and its one worker task.
pub struct ExecRunner {
    queue: mpsc::UnboundedSender<Job>,
    worker: JoinHandle<()>,
}

impl std::fmt::Debug for ExecRunner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExecRunner").finish_non_exhaustive()
    }
}

/// The `GRAPHWATCH_*` variables for an event.
///
/// Always: `GRAPHWATCH_EVENT_TYPE`, `GRAPHWATCH_TARGET`, `GRAPHWATCH_TIME` (as in the JSON
/// line). Notifications: `GRAPHWATCH_SUBSCRIPTION_ID` (empty if the payload had none).
/// Changes: `GRAPHWATCH_CHANGE`, `GRAPHWATCH_ITEM_ID`, `GRAPHWATCH_ITEM_NAME`,
/// `GRAPHWATCH_ITEM_PATH`, `GRAPHWATCH_PREVIOUS_PATH` (empty when unknown: a deleted item
/// without a name, a list item's path, the previous path of a `modified` line). Resyncs and gaps: `GRAPHWATCH_REASON`.
/// Statuses: `GRAPHWATCH_STATE` and `GRAPHWATCH_REASON`. Changes and notifications:
/// `GRAPHWATCH_EVENT_ID`, the line's stable `id`.
pub fn event_env(event: &Event) -> Vec<(&'static str, String)> {
    let mut env = vec![
        ("GRAPHWATCH_EVENT_TYPE", event.kind().to_string()),
        ("GRAPHWATCH_TARGET", event.target().to_string()),
        ("GRAPHWATCH_TIME", format_time(event.time())),
    ];
    if let Some(id) = event.id() {
        env.push(("GRAPHWATCH_EVENT_ID", id.to_string()));
    }
    match event {
        Event::Notification {
            subscription_id, ..
        } => env.push((
            "GRAPHWATCH_SUBSCRIPTION_ID",
            subscription_id.clone().unwrap_or_default(),
        )),
        Event::Change { change, detail, .. } => {
            env.push(("GRAPHWATCH_CHANGE", change.as_str().to_string()));
            env.push((
                "GRAPHWATCH_ITEM_PATH",
                detail.path.clone().unwrap_or_default(),
            ));
            env.push((
                "GRAPHWATCH_PREVIOUS_PATH",
                detail
                    .previous
                    .as_ref()
                    .and_then(|p| p.path.clone())
                    .unwrap_or_default(),
            ));
            env.push(("GRAPHWATCH_ITEM_ID", event.item_id().unwrap_or_default()));
            env.push((
                "GRAPHWATCH_ITEM_NAME",
                event.item_name().unwrap_or_default(),
            ));
        }
        Event::Resync { reason, .. } | Event::Gap { reason, .. } => {
            env.push(("GRAPHWATCH_REASON", reason.clone()))
        }
        Event::Status { state, reason, .. } => {
            env.push(("GRAPHWATCH_STATE", state.as_str().to_string()));
            env.push(("GRAPHWATCH_REASON", reason.clone()));
        }
    }
    // A NUL cannot be passed in the environment, and Linux refuses to start a program
    // with any one variable over 128 KiB (E2BIG): drop NULs and cut long values rather
    // than fail the run. The whole event is on stdin anyway.
    for (_, value) in &mut env {
        if value.contains('\0') {
            *value = value.replace('\0', "");
        }
        if value.len() > MAX_ENV_VALUE {
            let mut end = MAX_ENV_VALUE;
            while !value.is_char_boundary(end) {
                end -= 1;
            }
            value.truncate(end);
        }
    }
    env
}

/// Longest value given to a `GRAPHWATCH_*` variable, in bytes.
pub const MAX_ENV_VALUE: usize = 32 * 1024;

fn shell(command: &str) -> Command {
    #[cfg(windows)]
    {
        let mut c = Command::new("cmd");
        c.arg("/C").arg(command);
        c
    }
    #[cfg(not(windows))]
    {
        let mut c = Command::new("sh");
        c.arg("-c").arg(command);
        c
    }
}

impl ExecRunner {
    /// Start the worker for `command`. Must be called within a Tokio runtime.
    pub fn new(command: impl Into<String>, options: ExecOptions) -> ExecRunner {
        let command = command.into();
        let (queue, mut jobs) = mpsc::unbounded_channel::<Job>();
        let report: Reporter = options
            .reporter
            .clone()
            .unwrap_or_else(|| Arc::new(|line: &str| eprintln!("{line}")));
        let stdout = options.stdout;
        let worker = tokio::spawn(async move {
            while let Some(job) = jobs.recv().await {
                if let Err(failure) = run_one(&command, stdout, &job).await {
                    report(&format!(
                        "graphwatch: --exec command {failure} for event {}",
                        job.label
                    ));
                }
            }
        });
        ExecRunner { queue, worker }
    }

    /// Queue a run for `event`. Never waits.
    pub fn submit(&self, event: &Event) {
        let mut line = event.to_json_line();
        line.push('\n');
        let job = Job {
            line,
            env: event_env(event),
            label: format!(
                "{} {} {}",
                event.kind(),
                event.target(),
                format_time(event.time())
            ),
        };
        // The worker only stops when the runner is finished; a send cannot fail before.
        let _ = self.queue.send(job);
    }

    /// Stop taking events and wait until every queued run has finished.
    pub async fn finish(self) {
        drop(self.queue);
        let _ = self.worker.await;
    }
}

/// Run one job; `Err` is the failure, worded to follow "--exec command ".
async fn run_one(command: &str, stdout: ChildStdout, job: &Job) -> Result<(), String> {
    let mut cmd = shell(command);
    cmd.envs(job.env.iter().map(|(k, v)| (*k, v.as_str())));
    cmd.stdout(match stdout {
        ChildStdout::Stderr => Stdio::from(std::io::stderr()),
        #[cfg(test)]
        ChildStdout::Null => Stdio::null(),
    });
    run_command(cmd, job.line.as_bytes()).await
}

/// Start `cmd` with `line` on its stdin and wait for it.
async fn run_command(mut cmd: Command, line: &[u8]) -> Result<(), String> {
    cmd.stdin(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true);
    let mut child = cmd.spawn().map_err(|e| format!("could not start ({e})"))?;
    let stdin = child.stdin.take();
    let feed = async move {
        if let Some(mut stdin) = stdin {
            // A command that does not read its stdin may exit first: that is fine.
            let _ = stdin.write_all(line).await;
            let _ = stdin.shutdown().await;
        }
    };
    let (_, status) = tokio::join!(feed, child.wait());
    let status = status.map_err(|e| format!("could not be waited for ({e})"))?;
    if status.success() {
        return Ok(());
    }
    if let Some(code) = status.code() {
        return Err(format!("exited with status {code}"));
    }
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(signal) = status.signal() {
            return Err(format!("was killed by signal {signal}"));
        }
    }
    Err(format!("failed ({status})"))
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use serde_json::json;
    use serde_json::Value;
    use std::sync::Mutex;

    fn change(target: &str, item: Value) -> Event {
        Event::bare_change(target, crate::event::raw_json(&item))
    }

    fn notification(target: &str, data: Value) -> Event {
        Event::notification(target, crate::event::raw_json(&data))
    }

    fn collector() -> (Reporter, Arc<Mutex<Vec<String>>>) {
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = lines.clone();
        let reporter: Reporter =
            Arc::new(move |line: &str| sink.lock().unwrap().push(line.to_string()));
        (reporter, lines)
    }

    fn options(reporter: Reporter) -> ExecOptions {
        ExecOptions {
            stdout: ChildStdout::Null,
            reporter: Some(reporter),
        }
    }

    #[tokio::test]
    async fn stdin_and_env_reach_the_child() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        let (reporter, failures) = collector();
        let command = format!(
            "{{ cat; echo \"type=$GRAPHWATCH_EVENT_TYPE target=$GRAPHWATCH_TARGET sub=$GRAPHWATCH_SUBSCRIPTION_ID time=$GRAPHWATCH_TIME\"; \
               echo \"change=$GRAPHWATCH_CHANGE id=$GRAPHWATCH_ITEM_ID name=$GRAPHWATCH_ITEM_NAME\"; }} >> '{}'",
            out.display()
        );
        let runner = ExecRunner::new(command, options(reporter));
        let notification =
            notification("drive:me", json!({"subscriptionId":"sub-1","resource":"r"}));
        let change = change(
            "list:site/list",
            json!({"id":"42","fields":{"Title":"Printer jam"}}),
        );
        runner.submit(&notification);
        runner.submit(&change);
        runner.finish().await;

        let text = std::fs::read_to_string(&out).unwrap();
        let expected = format!(
            "{}\ntype=notification target=drive:me sub=sub-1 time={}\nchange= id= name=\n{}\ntype=change target=list:site/list sub= time={}\nchange=modified id=42 name=Printer jam\n",
            notification.to_json_line(),
            format_time(notification.time()),
            change.to_json_line(),
            format_time(change.time()),
        );
        assert_eq!(text, expected);
        assert!(failures.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn runs_in_order_one_at_a_time() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        let (reporter, _) = collector();
        // A run that is still going when the next one starts would interleave start/end.
        let command = format!(
            "echo \"start $GRAPHWATCH_ITEM_ID\" >> '{0}'; sleep 0.02; echo \"end $GRAPHWATCH_ITEM_ID\" >> '{0}'",
            out.display()
        );
        let runner = ExecRunner::new(command, options(reporter));
        for i in 0..8 {
            runner.submit(&change("drive:me", json!({"id": i.to_string()})));
        }
        runner.finish().await;
        let expected: String = (0..8).map(|i| format!("start {i}\nend {i}\n")).collect();
        assert_eq!(std::fs::read_to_string(&out).unwrap(), expected);
    }

    #[tokio::test]
    async fn submit_does_not_wait_for_the_command() {
        let (reporter, _) = collector();
        let dir = tempfile::tempdir().unwrap();
        let gate = dir.path().join("gate");
        // Each run waits until the test has submitted everything.
        let command = format!("while [ ! -e '{}' ]; do sleep 0.01; done", gate.display());
        let runner = ExecRunner::new(command, options(reporter));
        let submitted = tokio::time::timeout(std::time::Duration::from_secs(2), async {
            for i in 0..100 {
                runner.submit(&change("drive:me", json!({"id": i.to_string()})));
            }
        })
        .await;
        assert!(submitted.is_ok(), "submit blocked");
        std::fs::write(&gate, "").unwrap();
        runner.finish().await;
    }

    #[tokio::test]
    async fn failures_are_reported_and_later_events_still_run() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        let (reporter, failures) = collector();
        let command = format!(
            "echo \"$GRAPHWATCH_ITEM_ID\" >> '{}'; [ \"$GRAPHWATCH_ITEM_ID\" != bad ] || exit 3",
            out.display()
        );
        let runner = ExecRunner::new(command, options(reporter));
        let bad = change("drive:me", json!({"id":"bad"}));
        runner.submit(&change("drive:me", json!({"id":"1"})));
        runner.submit(&bad);
        runner.submit(&change("drive:me", json!({"id":"2"})));
        runner.finish().await;
        assert_eq!(std::fs::read_to_string(&out).unwrap(), "1\nbad\n2\n");
        let failures = failures.lock().unwrap();
        assert_eq!(
            *failures,
            vec![format!(
                "graphwatch: --exec command exited with status 3 for event change drive:me {}",
                format_time(bad.time())
            )]
        );
    }

    #[tokio::test]
    async fn a_signal_is_reported() {
        let (reporter, failures) = collector();
        let runner = ExecRunner::new("kill -9 $$", options(reporter));
        runner.submit(&Event::resync("drive:me", "resyncRequired"));
        runner.finish().await;
        let failures = failures.lock().unwrap();
        assert_eq!(failures.len(), 1);
        assert!(
            failures[0].contains("was killed by signal 9"),
            "{failures:?}"
        );
    }

    #[tokio::test]
    async fn a_command_that_ignores_stdin_is_fine_and_a_large_event_is_delivered() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        let (reporter, failures) = collector();
        let big = "x".repeat(1 << 20);
        let runner = ExecRunner::new("true", options(reporter.clone()));
        runner.submit(&change("drive:me", json!({"id":"1","name": big})));
        runner.finish().await;
        let runner = ExecRunner::new(format!("wc -c > '{}'", out.display()), options(reporter));
        let event = change("drive:me", json!({"id":"1","name": big}));
        runner.submit(&event);
        runner.finish().await;
        assert_eq!(
            std::fs::read_to_string(&out).unwrap().trim(),
            (event.to_json_line().len() + 1).to_string()
        );
        assert!(
            failures.lock().unwrap().is_empty(),
            "{:?}",
            failures.lock().unwrap()
        );
    }

    #[tokio::test]
    async fn an_unknown_command_is_reported() {
        let (reporter, failures) = collector();
        let runner = ExecRunner::new("definitely-not-a-command-graphwatch", options(reporter));
        runner.submit(&Event::resync("drive:me", "x"));
        runner.finish().await;
        let failures = failures.lock().unwrap();
        assert_eq!(failures.len(), 1);
        assert!(
            failures[0].contains("exited with status 127"),
            "{failures:?}"
        );
    }

    #[tokio::test]
    async fn a_spawn_failure_is_an_error() {
        let err = run_command(Command::new("/nonexistent/graphwatch-shell"), b"{}\n")
            .await
            .unwrap_err();
        assert!(err.starts_with("could not start ("), "{err}");
    }

    #[test]
    fn runner_can_be_shared() {
        fn send_sync<T: Send + Sync>() {}
        send_sync::<ExecRunner>();
    }

    #[test]
    fn env_for_each_kind() {
        let resync = Event::resync("drive:me", "gone");
        let env = event_env(&resync);
        assert!(env.contains(&("GRAPHWATCH_EVENT_TYPE", "resync".into())));
        assert!(env.contains(&("GRAPHWATCH_REASON", "gone".into())));
        let odd = notification("drive:me", json!("x"));
        assert!(event_env(&odd).contains(&("GRAPHWATCH_SUBSCRIPTION_ID", String::new())));
        let nul = change("drive:me", json!({"id":"a\u{0}b","name":"n"}));
        assert!(event_env(&nul).contains(&("GRAPHWATCH_ITEM_ID", "ab".into())));
        let long = change(
            "drive:me",
            json!({"id":"1","name": "é".repeat(MAX_ENV_VALUE)}),
        );
        let name = event_env(&long)
            .into_iter()
            .find(|(k, _)| *k == "GRAPHWATCH_ITEM_NAME")
            .unwrap()
            .1;
        assert_eq!(name.len(), MAX_ENV_VALUE);
        // What the item index found: the kind, the path and the previous path.
        let moved = Event::change(
            "drive:me",
            crate::event::ChangeKind::Moved,
            crate::event::ChangeDetail {
                id: None,
                path: Some("/Archive/x.txt".into()),
                previous: Some(crate::event::Previous {
                    name: Some("x.txt".into()),
                    path: Some("/Reports/x.txt".into()),
                }),
                fields: None,
            },
            crate::event::raw_json(&json!({"id": "7", "name": "x.txt"})),
        );
        let env = event_env(&moved);
        for (key, value) in [
            ("GRAPHWATCH_CHANGE", "moved"),
            ("GRAPHWATCH_ITEM_ID", "7"),
            ("GRAPHWATCH_ITEM_PATH", "/Archive/x.txt"),
            ("GRAPHWATCH_PREVIOUS_PATH", "/Reports/x.txt"),
        ] {
            assert!(env.contains(&(key, value.into())), "{key} in {env:?}");
        }
    }
}
