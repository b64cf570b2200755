//! The emulator against an independent peer: the official socket.io client (Node,
//! `tests/node/`), used as Microsoft's docs sample uses a notificationUrl. Our own raw
//! client (`wire.rs`) could share our misreadings of the protocol; this one cannot.
//!
//! Node.js and npm are required: without them these tests fail, they do not skip.

use crate::common;

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

/// The docs-sample client hears about changes made through Graph over HTTP (no direct
/// `changed` call): a library drive's upload and rename, then a list item, each on the
/// subscription that watches it and not on the other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_client_receives_notifications_of_real_graph_changes() {
    let running = emulator().await;
    let base = &running.base_url;
    let g = Graph::signed_in(base, seed::ADELE_UPN).await;
    let drive_sub = g
        .get(&format!(
            "/drives/{}/root/subscriptions/socketIo",
            seed::DOCS_DRIVE
        ))
        .await;
    assert_eq!(drive_sub.status, 200, "{}", drive_sub.json);
    let list_sub = g
        .get(&format!(
            "/lists/{}/subscriptions/socketIo",
            seed::ISSUES_LIST_ID
        ))
        .await;
    assert_eq!(list_sub.status, 200, "{}", list_sub.json);
    let drive_guid = subscription_guid(base, drive_sub.json["id"].as_str().unwrap()).await;
    let list_guid = subscription_guid(base, list_sub.json["id"].as_str().unwrap()).await;

    // Two changes in the library, each sent twice; one list item, twice.
    let mut drive_peer = Peer::spawn(&notification_url(&drive_sub.json), 4, "websocket");
    let mut list_peer = Peer::spawn(&notification_url(&list_sub.json), 2, "websocket");
    assert_eq!(drive_peer.line().await, Some(json!({"type": "connected"})));
    assert_eq!(list_peer.line().await, Some(json!({"type": "connected"})));
    assert_eq!(stats(base).await["liveSockets"], 2);

    let put = g
        .put(
            &format!("/drives/{}/root:/peer.md:/content", seed::DOCS_DRIVE),
            "# peer",
        )
        .await;
    assert_eq!(put.status, 201, "{}", put.json);
    let renamed = g
        .json(
            reqwest::Method::PATCH,
            &format!(
                "/drives/{}/items/{}",
                seed::DOCS_DRIVE,
                put.json["id"].as_str().unwrap()
            ),
            json!({"name": "peer-renamed.md"}),
        )
        .await;
    assert_eq!(renamed.status, 200, "{}", renamed.json);
    for _ in 0..4 {
        let line = drive_peer.line().await.expect("a notification line");
        assert_eq!(line["type"], "notification", "{line}");
        assert_eq!(line["argType"], "string", "the argument is a JSON string");
        let element = &line["payload"]["value"][0];
        assert_eq!(element["subscriptionId"], drive_guid.as_str());
        assert_eq!(element["resource"], seed::DOCS_LIST_RESOURCE);
        assert_eq!(element["siteUrl"], seed::SITE_PATH);
        assert_eq!(element["tenantId"], seed::TENANT_ID);
        assert_eq!(
            element["expirationDateTime"],
            drive_sub.json["expirationDateTime"]
        );
    }
    let (code, stderr) = drive_peer.finish().await;
    assert_eq!(code, 0, "drive peer stderr: {stderr}");

    let created = g
        .json(
            reqwest::Method::POST,
            &format!("/lists/{}/items", seed::ISSUES_LIST_ID),
            json!({"fields": {"Title": "from the peer test"}}),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.json);
    for _ in 0..2 {
        // Had the library's changes reached this socket, they would come first.
        let line = list_peer.line().await.expect("a notification line");
        assert_eq!(line["type"], "notification", "{line}");
        let element = &line["payload"]["value"][0];
        assert_eq!(element["subscriptionId"], list_guid.as_str(), "{line}");
        assert_eq!(element["resource"], seed::ISSUES_LIST_RESOURCE);
    }
    let (code, stderr) = list_peer.finish().await;
    assert_eq!(code, 0, "list peer stderr: {stderr}");
    running.shutdown().await;
}
