//! The emulator against an independent peer: the official socket.io client (Node,
//! `tests/node/`), used as Microsoft's docs sample uses a notificationUrl. Our own raw
//! client (`wire.rs`) could share our misreadings of the protocol; this one cannot.
//!
//! Node.js and npm are required: without them these tests fail, they do not skip.

mod common;

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::OnceLock;
use std::time::Duration;

use common::*;
use graphwatch_emulator::{seed, Running};
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::process::{Child, ChildStdout, Command};

fn node_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/node")
}

/// Check for node and npm and install the pinned client once per test binary, so
/// `cargo test` alone is enough on a fresh checkout.
fn prepare() {
    static READY: OnceLock<Result<(), String>> = OnceLock::new();
    let ready = READY.get_or_init(|| {
        for tool in ["node", "npm"] {
            let found = std::process::Command::new(tool)
                .arg("--version")
                .output()
                .map(|o| o.status.success())
                .unwrap_or(false);
            if !found {
                return Err(format!(
                    "`{tool}` is not installed or not on PATH: the socket.io peer tests need \
                     Node.js 18+ and npm (CI installs them; e.g. `apt-get install nodejs npm`)"
                ));
            }
        }
        let dir = node_dir();
        if !dir.join("node_modules/socket.io-client").is_dir() {
            let out = std::process::Command::new("npm")
                .args(["ci", "--no-audit", "--no-fund"])
                .current_dir(&dir)
                .output()
                .map_err(|e| format!("cannot run `npm ci` in {}: {e}", dir.display()))?;
            if !out.status.success() {
                return Err(format!(
                    "`npm ci` in {} failed:\n{}",
                    dir.display(),
                    String::from_utf8_lossy(&out.stderr)
                ));
            }
        }
        Ok(())
    });
    if let Err(why) = ready {
        panic!("{why}");
    }
}

struct Peer {
    child: Child,
    lines: tokio::io::Lines<BufReader<ChildStdout>>,
}

impl Peer {
    fn spawn(url: &str, count: u32, transport: &str) -> Peer {
        prepare();
        let mut child = Command::new("node")
            .arg(node_dir().join("peer.js"))
            .args(["--url", url, "--count", &count.to_string()])
            .args(["--transport", transport, "--timeout", "20000"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("node starts");
        let stdout = child.stdout.take().expect("piped stdout");
        Peer {
            child,
            lines: BufReader::new(stdout).lines(),
        }
    }

    /// The next stdout line as JSON, or `None` at the end of output.
    async fn line(&mut self) -> Option<Value> {
        let line = tokio::time::timeout(Duration::from_secs(25), self.lines.next_line())
            .await
            .expect("the peer wrote nothing for 25 s")
            .expect("peer stdout readable")?;
        Some(serde_json::from_str(&line).unwrap_or_else(|e| panic!("peer line {line:?}: {e}")))
    }

    /// Wait for the peer to exit; returns its exit code and stderr.
    async fn finish(mut self) -> (i32, String) {
        let status = tokio::time::timeout(Duration::from_secs(25), self.child.wait())
            .await
            .expect("the peer exits")
            .expect("peer status");
        let mut stderr = String::new();
        if let Some(mut err) = self.child.stderr.take() {
            let _ = err.read_to_string(&mut stderr).await;
        }
        (status.code().unwrap_or(-1), stderr)
    }
}

async fn emulator() -> Running {
    start_with(|a| a.settings.notify_delay_ms = 50).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_client_receives_each_change_twice() {
    let running = emulator().await;
    let sub = subscribe(&running);
    let guid = subscription_guid(&running.base_url, sub["id"].as_str().unwrap()).await;
    let mut peer = Peer::spawn(&notification_url(&sub), 2, "websocket");
    assert_eq!(peer.line().await, Some(json!({"type": "connected"})));
    assert_eq!(stats(&running.base_url).await["liveSockets"], 1);

    running
        .state
        .push
        .changed(&running.state, &[format!("drive:{}", seed::ADELE_DRIVE)]);
    for _ in 0..2 {
        let line = peer.line().await.expect("a notification line");
        assert_eq!(line["type"], "notification");
        assert_eq!(line["argType"], "string", "the argument is a JSON string");
        let element = &line["payload"]["value"][0];
        assert_eq!(element["subscriptionId"], guid.as_str());
        assert_eq!(element["tenantId"], seed::TENANT_ID);
        assert_eq!(element["expirationDateTime"], sub["expirationDateTime"]);
    }
    let (code, stderr) = peer.finish().await;
    assert_eq!(code, 0, "peer stderr: {stderr}");
    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_client_with_polling_cannot_connect() {
    let running = emulator().await;
    let sub = subscribe(&running);
    let mut peer = Peer::spawn(&notification_url(&sub), 1, "polling");
    assert_eq!(
        peer.line().await,
        None,
        "no event may reach a polling client"
    );
    let (code, stderr) = peer.finish().await;
    assert_eq!(code, 2, "expected a connect error, peer stderr: {stderr}");
    assert!(stderr.contains("connect_error"), "{stderr}");
    assert_eq!(stats(&running.base_url).await["liveSockets"], 0);
    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_client_sees_a_refusal_for_a_bad_token() {
    let running = emulator().await;
    let sub = subscribe(&running);
    let url = notification_url(&sub).replace("token=w1-", "token=w1-x");
    let mut peer = Peer::spawn(&url, 1, "websocket");
    assert_eq!(peer.line().await, None);
    let (code, stderr) = peer.finish().await;
    assert_eq!(code, 2, "peer stderr: {stderr}");
    assert!(stderr.contains("Unauthorized"), "{stderr}");
    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_client_sees_a_server_disconnect_on_expiry() {
    let running = emulator().await;
    let sub = subscribe(&running);
    let mut peer = Peer::spawn(&notification_url(&sub), 1, "websocket");
    assert_eq!(peer.line().await, Some(json!({"type": "connected"})));
    post(
        &running.base_url,
        "/_emulator/subscriptions/expire",
        json!({}),
    )
    .await;
    assert_eq!(peer.line().await, None);
    let (code, stderr) = peer.finish().await;
    assert_eq!(code, 4, "peer stderr: {stderr}");
    assert!(stderr.contains("io server disconnect"), "{stderr}");
    running.shutdown().await;
}
