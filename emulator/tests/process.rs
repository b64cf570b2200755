//! The `graphwatch-emulator` binary as a user or a harness runs it: the base URL as the
//! first stdout line, Ctrl-C (SIGINT) ends it with status 0, knobs from flags and the
//! environment, usage errors exit 2, and `--persist` carries tokens, delta cursors and
//! subscriptions across a crash (SIGKILL) and a restart on the same port.

use crate::common;

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::sio::{notification, Client};
use common::*;
use graphwatch_emulator::seed;
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::process::{Child, Command};

const SECOND: Duration = Duration::from_secs(1);

/// A running emulator process.
struct Emulator {
    child: Child,
    base: String,
    stderr: Arc<Mutex<String>>,
}

/// `graphwatch-emulator ARGS` with `env`, and none of the caller's own
/// `GRAPHWATCH_EMULATOR_*` variables.
fn command(args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_graphwatch-emulator"));
    for (key, _) in std::env::vars() {
        if key.starts_with("GRAPHWATCH_EMULATOR_") {
            command.env_remove(key);
        }
    }
    command
        .args(args)
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    command
}

impl Emulator {
    /// Start the binary and read its first stdout line.
    async fn spawn(args: &[&str], env: &[(&str, &str)]) -> Emulator {
        let mut child = command(args, env)
            .spawn()
            .expect("the emulator binary starts");
        let stderr = Arc::new(Mutex::new(String::new()));
        let mut err = child.stderr.take().unwrap();
        let sink = stderr.clone();
        tokio::spawn(async move {
            let mut buf = [0u8; 4096];
            while let Ok(n) = err.read(&mut buf).await {
                if n == 0 {
                    break;
                }
                sink.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let first = tokio::time::timeout(10 * SECOND, lines.next_line())
            .await
            .unwrap_or_else(|_| {
                panic!(
                    "no stdout line within 10 s; stderr: {}",
                    stderr.lock().unwrap()
                )
            })
            .expect("stdout readable")
            .unwrap_or_else(|| panic!("stdout closed at once; stderr: {}", stderr.lock().unwrap()));
        // Nothing else is written to stdout; keep reading so the pipe never fills.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Emulator {
            child,
            base: first,
            stderr,
        }
    }

    fn port(&self) -> u16 {
        let port = self
            .base
            .strip_prefix("http://127.0.0.1:")
            .unwrap_or_else(|| panic!("first line {:?} is not http://127.0.0.1:PORT", self.base));
        assert!(
            !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()),
            "first line {:?}",
            self.base
        );
        port.parse().expect("a port number")
    }

    fn signal(&self, name: &str) {
        let pid = self.child.id().expect("the emulator is running");
        let status = std::process::Command::new("kill")
            .args([&format!("-{name}"), &pid.to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill -{name} {pid}");
    }

    /// Wait for the process to end; returns its exit code (`None` if a signal ended it).
    async fn exit(mut self) -> (Option<i32>, String) {
        let status = tokio::time::timeout(10 * SECOND, self.child.wait())
            .await
            .unwrap_or_else(|_| {
                panic!(
                    "the emulator did not end within 10 s; stderr: {}",
                    self.stderr.lock().unwrap()
                )
            })
            .expect("wait");
        let stderr = self.stderr.lock().unwrap().clone();
        (status.code(), stderr)
    }

    async fn interrupt(self) {
        self.signal("INT");
        let (code, stderr) = self.exit().await;
        assert_eq!(code, Some(0), "Ctrl-C ends it cleanly; stderr: {stderr}");
    }
}

/// A port that was free a moment ago.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn temp_file(what: &str) -> PathBuf {
    std::env::temp_dir().join(format!("graphwatch-{what}-{}.json", uuid::Uuid::new_v4()))
}

/// Run the binary to completion with `args`; returns exit code and stderr.
async fn run_to_end(args: &[&str]) -> (Option<i32>, String) {
    let output = tokio::time::timeout(10 * SECOND, command(args, &[]).output())
        .await
        .expect("the binary ends")
        .expect("the binary runs");
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[tokio::test]
async fn first_line_is_the_base_url_and_ctrl_c_ends_with_status_0() {
    // Port 0: a real port is chosen and printed.
    let emulator = Emulator::spawn(&["--port", "0"], &[]).await;
    let port = emulator.port();
    assert_ne!(port, 0);
    let me = Graph::signed_in(&emulator.base, seed::ADELE_UPN)
        .await
        .get("/me")
        .await;
    assert_eq!(
        me.json["id"],
        seed::ADELE_ID,
        "it serves on the printed URL"
    );
    // An open socket.io connection does not hold up the shutdown.
    let g = Graph::signed_in(&emulator.base, seed::ADELE_UPN).await;
    let sub = g.get("/me/drive/root/subscriptions/socketIo").await.json;
    let (_client, joined) = Client::join(&websocket_url(&notification_url(&sub))).await;
    assert!(joined.starts_with("40/notifications,"), "{joined}");
    emulator.interrupt().await;

    // The port asked for, by flag and by environment.
    let wanted = free_port();
    let emulator = Emulator::spawn(&["--port", &wanted.to_string()], &[]).await;
    assert_eq!(emulator.base, format!("http://127.0.0.1:{wanted}"));
    emulator.interrupt().await;
    let wanted = free_port();
    let emulator = Emulator::spawn(&[], &[("GRAPHWATCH_EMULATOR_PORT", &wanted.to_string())]).await;
    assert_eq!(emulator.port(), wanted);
    emulator.interrupt().await;
}

/// A harness may press Ctrl-C the moment it has read the URL.
#[tokio::test]
async fn ctrl_c_right_after_the_first_line_is_a_clean_exit() {
    for _ in 0..5 {
        let emulator = Emulator::spawn(&["--port", "0"], &[]).await;
        emulator.interrupt().await;
    }
}

/// A service manager (or `timeout`) stops it with SIGTERM: as clean as Ctrl-C.
#[tokio::test]
async fn sigterm_is_a_clean_exit() {
    let emulator = Emulator::spawn(&["--port", "0"], &[]).await;
    emulator.signal("TERM");
    let (code, _) = emulator.exit().await;
    assert_eq!(code, Some(0), "SIGTERM ends the emulator with status 0");
}

#[tokio::test]
async fn bad_flags_exit_with_status_2() {
    for args in [
        &["--no-such-flag"][..],
        &["--port", "not-a-port"],
        &["--port", "70000"],
        &["--notify-duplicates", "-1"],
        &["--notify-delay-ms"],
        &["stray-argument"],
    ] {
        let (code, stderr) = run_to_end(args).await;
        assert_eq!(code, Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains("error"), "{args:?}: {stderr}");
    }
    let (code, _) = run_to_end(&["--help"]).await;
    assert_eq!(code, Some(0));
}

#[tokio::test]
async fn knobs_come_from_flags_and_environment() {
    let emulator = Emulator::spawn(
        &[
            "--notify-duplicates",
            "1",
            "--delta-page-size",
            "7",
            "--ping-interval-ms",
            "1234",
        ],
        &[
            ("GRAPHWATCH_EMULATOR_NOTIFY_DELAY_MS", "42"),
            // A flag wins over the environment.
            ("GRAPHWATCH_EMULATOR_DELTA_PAGE_SIZE", "99"),
        ],
    )
    .await;
    let knobs = settings(&emulator.base).await;
    assert_eq!(knobs["notifyDuplicates"], 1, "{knobs}");
    assert_eq!(knobs["notifyDelayMs"], 42, "{knobs}");
    assert_eq!(knobs["deltaPageSize"], 7, "{knobs}");
    let g = Graph::signed_in(&emulator.base, seed::ADELE_UPN).await;
    let sub = g.get("/me/drive/root/subscriptions/socketIo").await.json;
    let client = Client::open(&websocket_url(&notification_url(&sub))).await;
    assert_eq!(client.open["pingInterval"], 1234);
    drop(client);
    emulator.interrupt().await;

    let emulator = Emulator::spawn(&[], &[("GRAPHWATCH_EMULATOR_NOTIFY_DUPLICATES", "1")]).await;
    assert_eq!(settings(&emulator.base).await["notifyDuplicates"], 1);
    emulator.interrupt().await;

    let emulator = Emulator::spawn(&[], &[]).await;
    assert_eq!(
        settings(&emulator.base).await["notifyDuplicates"],
        2,
        "the default"
    );
    emulator.interrupt().await;
}

/// The saver writes in the background: wait until the file holds `needle`.
async fn wait_until_saved(path: &PathBuf, needle: &str) {
    let deadline = tokio::time::Instant::now() + 5 * SECOND;
    loop {
        let saved = std::fs::read_to_string(path).unwrap_or_default();
        if saved.contains(needle) && serde_json::from_str::<Value>(&saved).is_ok() {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{} never held {needle:?}",
            path.display()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn persist_survives_a_crash_and_a_restart_on_the_same_port() {
    let path = temp_file("process-persist");
    let file = path.to_str().unwrap().to_string();
    let first = Emulator::spawn(
        &["--port", "0", "--persist", &file, "--notify-delay-ms", "0"],
        &[],
    )
    .await;
    let base = first.base.clone();
    let port = first.port();

    let access = token(&base, seed::ADELE_UPN).await;
    let g = Graph::with_token(&base, &access);
    let sub = g.get("/me/drive/root/subscriptions/socketIo").await;
    assert_eq!(sub.status, 200, "{}", sub.json);
    let sub = sub.json;
    let guid = subscription_guid(&base, sub["id"].as_str().unwrap()).await;
    let cursor = g.get("/me/drive/root/delta?token=latest").await.json["@odata.deltaLink"]
        .as_str()
        .unwrap()
        .to_string();
    let before = g
        .put("/me/drive/root:/before-crash.txt:/content", "1")
        .await;
    assert_eq!(before.status, 201);
    let before_id = before.json["id"].as_str().unwrap().to_string();
    wait_until_saved(&path, &before_id).await;

    // A crash: no chance to save on the way out.
    first.signal("KILL");
    let (code, _) = first.exit().await;
    assert_eq!(code, None, "ended by SIGKILL");

    let second = Emulator::spawn(
        &[
            "--port",
            &port.to_string(),
            "--persist",
            &file,
            "--notify-delay-ms",
            "0",
        ],
        &[],
    )
    .await;
    assert_eq!(second.base, base, "the same port");
    // A new connection pool: the old one's connections died with the process.
    let g = Graph::with_token(&base, &access);
    let me = g.get("/me").await;
    assert_eq!(
        me.status, 200,
        "the old access token still works: {}",
        me.json
    );
    assert_eq!(me.json["id"], seed::ADELE_ID);

    // The subscription made before the crash can be joined and notifies.
    let listed: Value = reqwest::get(format!("{base}/_emulator/subscriptions"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed["subscriptions"][0]["id"], guid.as_str(), "{listed}");
    let (mut client, joined) = Client::join(&websocket_url(&notification_url(&sub))).await;
    assert!(
        joined.starts_with("40/notifications,{\"sid\":"),
        "the old notificationUrl joins: {joined}"
    );
    let after = g
        .put("/me/drive/root:/after-restart.txt:/content", "2")
        .await;
    assert_eq!(after.status, 201);
    let after_id = after.json["id"].as_str().unwrap().to_string();
    for _ in 0..2 {
        let e = notification(&client.text(5 * SECOND).await)["value"][0].clone();
        assert_eq!(e["subscriptionId"], guid.as_str());
        assert_eq!(e["expirationDateTime"], sub["expirationDateTime"]);
    }

    // The old cursor: the change from before the crash and the one after, none lost.
    let (items, _, _) = g.delta(&cursor).await;
    assert_eq!(by_id(&items, &before_id).len(), 1, "{items:?}");
    assert_eq!(by_id(&items, &after_id).len(), 1, "{items:?}");
    let files: Vec<&str> = items
        .iter()
        .filter(|i| i["file"].is_object())
        .filter_map(|i| i["name"].as_str())
        .collect();
    assert_eq!(
        files,
        ["before-crash.txt", "after-restart.txt"],
        "{items:?}"
    );

    drop(client);
    second.interrupt().await;
    // A clean stop saved the last change too.
    let saved = std::fs::read_to_string(&path).unwrap();
    assert!(saved.contains(&after_id));
    let _ = std::fs::remove_file(&path);
}

/// An expired subscription stays expired across a restart: its notificationUrl is refused.
#[tokio::test]
async fn an_expired_subscription_stays_refused_after_a_restart() {
    let path = temp_file("process-expired");
    let file = path.to_str().unwrap().to_string();
    let first = Emulator::spawn(&["--port", "0", "--persist", &file], &[]).await;
    let base = first.base.clone();
    let g = Graph::with_token(&base, &token(&base, seed::ADELE_UPN).await);
    let sub = g.get("/me/drive/root/subscriptions/socketIo").await.json;
    let answer = post(&base, "/_emulator/subscriptions/expire", json!({})).await;
    assert_eq!(answer["expired"], 1);
    wait_until_saved(&path, "\"expired\":true").await;
    first.signal("KILL");
    first.exit().await;

    let port = url::Url::parse(&base).unwrap().port().unwrap();
    let second = Emulator::spawn(&["--port", &port.to_string(), "--persist", &file], &[]).await;
    let (_client, answer) = Client::join(&websocket_url(&notification_url(&sub))).await;
    assert!(
        answer.starts_with("44/notifications,"),
        "an expired subscription is refused: {answer}"
    );
    second.interrupt().await;
    let _ = std::fs::remove_file(&path);
}
