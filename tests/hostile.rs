//! Hostile peers: what a compromised notification host, Graph (or a proxy in front of
//! it) or sign-in service can send, and what graphwatch does with it — never a crash,
//! never a secret in the error, never a terminal escape from the server on stderr,
//! never an unbounded buffer. Evidence for docs/security.md and docs/decisions.md
//! ("Frame and payload sizes").

use crate::common;

use std::time::{Duration, Instant};

use graphwatch::testing::{connect, payload, socket, DisconnectReason, SocketEvent, SocketOptions};
use serde_json::{json, Value};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use common::peer::Peer;
use common::watcher::Watcher;
use common::{stderr, stdout, Env};

const PATIENCE: Duration = Duration::from_secs(20);

// ---------------------------------------------------------------------------------------
// The notification host (the independent Node socket.io peer, scripted).

fn options() -> SocketOptions {
    SocketOptions {
        connect_timeout: Duration::from_secs(5),
    }
}

/// Connect to a peer running `script`; the connection, past its `Connected`.
async fn scripted(script: Value) -> (Peer, socket::Connection) {
    let peer = Peer::start(&[("PEER_SCRIPT", &script.to_string())]);
    let mut connection = connect(&peer.url("peer-token"), &options())
        .await
        .expect("connects");
    assert_eq!(next(&mut connection).await, SocketEvent::Connected);
    (peer, connection)
}

async fn next(connection: &mut socket::Connection) -> SocketEvent {
    tokio::time::timeout(PATIENCE, connection.next())
        .await
        .expect("an event in time")
        .expect("an event before the end")
}

/// The subscriptionId of each notification in an event's argument.
fn ids(payload: Value) -> Vec<String> {
    payload::decode_notifications(payload)
        .into_iter()
        .map(|raw| {
            let value: Value = serde_json::from_str(raw.get()).unwrap();
            value["subscriptionId"].as_str().unwrap_or("?").to_string()
        })
        .collect()
}

/// The next `n` notification ids; panics on anything else.
async fn notifications(connection: &mut socket::Connection, n: usize) -> Vec<String> {
    let mut seen = Vec::new();
    while seen.len() < n {
        match next(connection).await {
            SocketEvent::Notification(payload) => seen.extend(ids(payload)),
            other => panic!("expected a notification after {seen:?}, got {other:?}"),
        }
    }
    seen
}

/// Frames rust_socketio 0.6 parses but that are not a notification for us: skipped,
/// the link stays up (measured; docs/decisions.md, "Malformed frames").
#[tokio::test(flavor = "multi_thread")]
async fn frames_that_parse_but_are_not_ours_are_skipped_and_the_stream_goes_on() {
    let (_peer, mut connection) = scripted(json!([
        {"notification": "n0"},
        {"raw": "42/notifications,{}"},
        {"raw": "42/notifications,[1]"},
        {"raw": "42/notifications,[\"other\",1]"},
        {"raw": "42/elsewhere,[\"notification\",\"x\"]"},
        {"raw": "43/notifications,5[]"},
        {"raw": "40/notifications,"},
        {"raw": "2"},
        {"raw": "6"},
        {"notification": "n1"},
        {"notification": "n2"},
    ]))
    .await;
    assert_eq!(notifications(&mut connection, 3).await, ["n0", "n1", "n2"]);
    assert_eq!(
        connection.close().await,
        [SocketEvent::Disconnected {
            reason: DisconnectReason::Local
        }]
    );
}

/// Frames rust_socketio 0.6 cannot parse end its connection (it has no "skip this
/// frame"): one `Disconnected` with the parse error, which the supervisor reports and
/// answers with a reconnect (see the CLI test below).
#[tokio::test(flavor = "multi_thread")]
async fn frames_that_do_not_parse_end_the_link_with_the_reason() {
    for (raw, reason) in [
        (
            "42/notifications,[\"notification\",\"{\\\"value\\\":[",
            "string is not json serializable",
        ),
        (
            "42/notifications,[\"notification\"",
            "string is not json serializable",
        ),
        ("47/notifications,", "Invalid packet id: 7"),
        ("garbage", "EngineIO Error"),
        ("", "EngineIO Error"),
    ] {
        let (_peer, mut connection) = scripted(json!([
            {"notification": "n0"},
            {"raw": raw},
            {"notification": "never"},
        ]))
        .await;
        assert_eq!(notifications(&mut connection, 1).await, ["n0"]);
        match next(&mut connection).await {
            SocketEvent::Disconnected {
                reason: DisconnectReason::Transport(text),
            } => assert!(text.contains(reason), "{raw:?}: {text}"),
            other => panic!("{raw:?}: expected the link to end, got {other:?}"),
        }
        assert_eq!(connection.next().await, None);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_notification_over_the_payload_limit_is_skipped_and_the_stream_goes_on() {
    let pad = payload::MAX_PAYLOAD_BYTES + 1;
    let (_peer, mut connection) = scripted(json!([
        {"notification": "before"},
        {"notification": "huge", "pad": pad},
        {"notification": "just-under", "pad": payload::MAX_PAYLOAD_BYTES - 400},
        {"notification": "after"},
    ]))
    .await;
    assert_eq!(
        notifications(&mut connection, 3).await,
        ["before", "just-under", "after"]
    );
    connection.close().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_frame_over_16_mib_ends_the_link_before_it_is_read() {
    let (_peer, mut connection) = scripted(json!([
        {"notification": "before"},
        {"rawBytes": 17 << 20},
        {"notification": "never"},
    ]))
    .await;
    assert_eq!(notifications(&mut connection, 1).await, ["before"]);
    // tungstenite refuses the frame from its header (16 MiB limit) and the link ends:
    // the supervisor then reconnects with a fresh endpoint, as after any transport error.
    let started = Instant::now();
    match next(&mut connection).await {
        SocketEvent::Disconnected {
            reason: DisconnectReason::Transport(_),
        } => {}
        other => panic!("expected the link to end, got {other:?}"),
    }
    assert!(started.elapsed() < PATIENCE);
    assert_eq!(connection.next().await, None);
}

// ---------------------------------------------------------------------------------------
// Graph, or a proxy in front of it (wiremock stubs), and the emulator's fault API.

fn stub() -> (tokio::runtime::Runtime, MockServer) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let server = rt.block_on(MockServer::start());
    (rt, server)
}

fn mount(
    rt: &tokio::runtime::Runtime,
    server: &MockServer,
    verb: &str,
    at: &str,
    answer: ResponseTemplate,
) {
    rt.block_on(
        Mock::given(method(verb))
            .and(path(at))
            .respond_with(answer)
            .mount(server),
    );
}

/// `graphwatch ARGS… --graph-url STUB/v1.0` with a fixed bearer token.
fn against(env: &Env, server: &MockServer, args: &[&str]) -> std::process::Command {
    let mut cmd = env.bare_cmd(args);
    cmd.env("GRAPHWATCH_ACCESS_TOKEN", "stub-token")
        .args(["--graph-url", &format!("{}/v1.0", server.uri())]);
    cmd
}

fn one_clean_line(err: &str) {
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.starts_with("graphwatch: "), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(
        !err.trim_end().chars().any(char::is_control),
        "control characters on stderr: {err:?}"
    );
}

#[test]
fn unusable_notification_urls_are_refused_with_one_clear_line_without_the_token() {
    let env = Env::start();
    let (rt, server) = stub();
    let urls = [
        (
            "http://push.example.com/notifications?token=SECRET-TOKEN-0001",
            "plain http is accepted only for loopback",
        ),
        (
            "ws://10.1.2.3/notifications?token=SECRET-TOKEN-0002",
            "plain ws is accepted only for loopback",
        ),
        (
            "ftp://push.example.com/notifications?token=SECRET-TOKEN-0003",
            "scheme \"ftp\"",
        ),
        (
            "javascript:alert(1)//?token=SECRET-TOKEN-0004",
            "scheme \"javascript\"",
        ),
        (
            "not a url?token=SECRET-TOKEN-0005",
            "unusable notificationUrl",
        ),
        (
            "https://:443/notifications?token=SECRET-TOKEN-0006",
            "unusable notificationUrl",
        ),
    ];
    for (i, (url, why)) in urls.iter().enumerate() {
        let drive = format!("hostile{i}");
        mount(
            &rt,
            &server,
            "GET",
            &format!("/v1.0/drives/{drive}"),
            ResponseTemplate::new(200).set_body_json(json!({"id": drive, "name": "Hostile"})),
        );
        mount(
            &rt,
            &server,
            "GET",
            &format!("/v1.0/drives/{drive}/root/subscriptions/socketIo"),
            ResponseTemplate::new(200).set_body_json(json!({"id": "s", "notificationUrl": url})),
        );
        let out = against(&env, &server, &["drive", &drive, "-o", "json"])
            .output()
            .unwrap();
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{url}: {err}");
        one_clean_line(&err);
        assert!(err.contains(why), "{url}: {err}");
        assert!(!err.contains("SECRET-TOKEN"), "{err}");
        assert!(stdout(&out).is_empty());
    }
}

#[test]
fn graph_error_text_cannot_split_the_line_or_drive_the_terminal() {
    let env = Env::start();
    let (rt, server) = stub();
    mount(
        &rt,
        &server,
        "GET",
        "/v1.0/drives/evil",
        ResponseTemplate::new(404).set_body_json(json!({"error": {
            "code": "itemNotFound\n\u{1b}[2J\u{1b}]0;pwned\u{7}",
            "message": "gone\r\ngraphwatch: fake line\u{1b}[31m",
        }})),
    );
    let out = against(&env, &server, &["drive", "evil"]).output().unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(4), "{err}");
    one_clean_line(&err);
    assert!(err.contains("404 itemNotFound [2J ]0;pwned"), "{err}");
}

#[test]
fn an_answer_over_the_body_limit_is_refused_as_it_arrives() {
    let env = Env::start();
    let (rt, server) = stub();
    let huge = format!(
        r#"{{"id":"big","name":"{}"}}"#,
        "x".repeat(graphwatch::testing::MAX_BODY_BYTES)
    );
    mount(
        &rt,
        &server,
        "GET",
        "/v1.0/drives/big",
        ResponseTemplate::new(200).set_body_string(huge),
    );
    let out = against(&env, &server, &["endpoint", "--drive", "big"])
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    one_clean_line(&err);
    assert!(err.contains("the answer is larger than 16 MiB"), "{err}");
}

#[test]
fn a_retry_after_beyond_the_clock_does_not_crash_the_delta_feed() {
    let env = Env::start();
    // Graph (or a proxy) asks for a wait the clock cannot add: u64::MAX seconds.
    env.post(
        "/_emulator/faults/fail",
        json!({"route": "delta", "status": 503, "count": 1, "retryAfter": u64::MAX}),
    );
    let mut watcher = Watcher::start(&env, &["drive", "me", "--changes", "-o", "json"]);
    // The baseline failed with the wait; it is reported and waited out (cut to a day).
    watcher.wait_stderr("503");
    assert!(
        watcher.child.try_wait().unwrap().is_none(),
        "graphwatch ended: {}",
        watcher.stderr()
    );
    assert!(
        !watcher.stderr().contains("panicked"),
        "{}",
        watcher.stderr()
    );
    assert!(watcher.stderr().contains("1440m"), "{}", watcher.stderr());
}

#[test]
fn a_hostile_sign_in_service_cannot_crash_login_or_write_to_the_terminal() {
    let env = Env::start();
    let (rt, server) = stub();
    mount(
        &rt,
        &server,
        "POST",
        "/common/oauth2/v2.0/devicecode",
        ResponseTemplate::new(200).set_body_json(json!({
            "device_code": "DEVICE-CODE-SECRET-0001",
            "user_code": "ABCD-EFGH",
            "verification_uri": "https://login.example/devicelogin",
            "expires_in": u64::MAX,
            "interval": u64::MAX,
            "message": "Open the page\u{1b}[2J and type ABCD-EFGH.\n\u{1b}]0;pwned\u{7}",
        })),
    );
    mount(
        &rt,
        &server,
        "POST",
        "/common/oauth2/v2.0/token",
        ResponseTemplate::new(400).set_body_json(json!({
            "error": "authorization_declined",
            "error_description": "declined\u{1b}[31m\r\ngraphwatch: a fake line",
        })),
    );
    let out = env
        .bare_cmd(&["login", "--login-url", &server.uri()])
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(!err.contains('\u{1b}') && !err.contains('\u{7}'), "{err:?}");
    assert!(
        err.contains("Open the page [2J and type ABCD-EFGH. ]0;pwned"),
        "{err}"
    );
    assert!(!err.contains("DEVICE-CODE-SECRET"), "{err}");
    let last = err.lines().last().unwrap();
    assert_eq!(
        last,
        "graphwatch: the sign-in was declined; run `graphwatch login` again and approve it"
    );
}

#[test]
fn after_a_malformed_frame_the_watch_reports_it_reconnects_and_goes_on() {
    let env = Env::start();
    let peer = Peer::start(&[
        (
            "PEER_SCRIPT",
            &json!([{"notification": "n0"}, {"raw": "42/notifications,[\"notification\""}])
                .to_string(),
        ),
        ("PEER_COUNT", "2"),
    ]);
    let (rt, server) = stub();
    mount(
        &rt,
        &server,
        "GET",
        "/v1.0/drives/peerdrive",
        ResponseTemplate::new(200).set_body_json(json!({"id": "peerdrive", "name": "Peer"})),
    );
    mount(
        &rt,
        &server,
        "GET",
        "/v1.0/drives/peerdrive/root/subscriptions/socketIo",
        ResponseTemplate::new(200).set_body_json(json!({
            "id": "s",
            "notificationUrl": peer.url("peer-token"),
            "expirationDateTime": (chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339(),
        })),
    );
    let mut watcher = Watcher::spawn_cmd(against(
        &env,
        &server,
        &["drive", "peerdrive", "-o", "json", "-n", "3", "-v"],
    ));
    let ids: Vec<String> = watcher
        .json_lines(3)
        .iter()
        .map(|l| l["subscriptionId"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(ids, ["n0", "peer-subscription-0", "peer-subscription-1"]);
    assert!(watcher.wait().success(), "{}", watcher.stderr());
    let err = watcher.stderr();
    assert!(
        err.contains("socket.io client error: string is not json serializable"),
        "{err}"
    );
    assert!(err.contains("reconnected"), "{err}");
    assert!(!err.contains("peer-token"), "{err}");
}
