//! Issue 6's fault suite: `graphwatch drive me --changes` against the in-process
//! emulator, one fault per test. For each: every change made during and after the fault
//! is a change line; afterwards exactly one live socket (emulator stats); bounded
//! request counts (no busy loop). Timing bounds come from the emulator's event log
//! (`elapsedMs`), never from the test's clock.
//!
//! Pings are short (300 ms + 300 ms) so a dead link is noticed quickly; `--poll 10m`
//! keeps the safety-net poll out of the way, so a change only appears if the stream (or
//! the catch-up round after a reconnect) brings it.

use crate::common;

use std::time::{Duration, Instant};

use common::watcher::{add_issue, has, upload, Watcher, PATIENCE};
use common::{elapsed, log, EmulatorProcess, Env};
use serde_json::{json, Value};

const PING_INTERVAL_MS: u64 = 300;
const PING_TIMEOUT_MS: u64 = 300;
/// Slack on top of pingInterval + pingTimeout for detection and the reconnect itself.
const MARGIN_MS: u64 = 3000;
/// No busy loop: a fault case makes a handful of socketIo requests and delta rounds.
const MAX_SOCKETIO_REQUESTS: u64 = 8;
const MAX_DELTA_REQUESTS: u64 = 12;

const ARGS: &[&str] = &["drive", "me", "--changes", "--poll", "10m", "-o", "json"];

fn env() -> Env {
    Env::start_with(|args| {
        args.ping_interval_ms = PING_INTERVAL_MS;
        args.ping_timeout_ms = PING_TIMEOUT_MS;
        args.settings.notify_delay_ms = 50;
        args.settings.delta_page_size = 1000;
    })
}

/// A watcher with a minted token, once it is watching.
fn watch(env: &Env) -> Watcher {
    let w = Watcher::start(env, ARGS);
    w.wait_stderr("watching drive:me");
    w
}

/// A watcher using the signed-in profile's token cache, once it is watching.
fn watch_signed_in(env: &Env) -> Watcher {
    let w = Watcher::spawn_cmd(env.std_cmd(ARGS));
    w.wait_stderr("watching drive:me");
    w
}

fn count(entries: &[Value], kind: &str) -> usize {
    entries.iter().filter(|e| e["kind"] == kind).count()
}

fn socketio_gets(entries: &[Value]) -> usize {
    entries
        .iter()
        .filter(|e| e["route"] == "socketio" && e["kind"] == "request")
        .count()
}

/// The first entry that matches `kind` (and `path`, if given).
fn find<'a>(entries: &'a [Value], kind: &str, path: Option<&str>) -> &'a Value {
    entries
        .iter()
        .find(|e| e["kind"] == kind && path.is_none_or(|p| e["path"].as_str() == Some(p)))
        .unwrap_or_else(|| panic!("no {kind} {path:?} entry in the log"))
}

/// The first entry after `from` that matches `ok`.
fn next_after<'a>(entries: &'a [Value], from: &Value, ok: impl Fn(&Value) -> bool) -> &'a Value {
    entries
        .iter()
        .find(|e| e["seq"].as_u64() > from["seq"].as_u64() && ok(e))
        .unwrap_or_else(|| panic!("no matching entry after {from}"))
}

/// Poll the emulator (not the clock) until `ok`, within PATIENCE.
fn eventually(what: &str, mut ok: impl FnMut() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !ok() {
        assert!(Instant::now() < deadline, "never: {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// After the fault: one live socket, and request counts that stay small.
fn settled(env: &Env) {
    eventually("exactly one live socket", || {
        env.get("/_emulator/stats")["liveSockets"] == 1
    });
    let socketio = env.counter("requests.socketio");
    let delta = env.counter("requests.delta");
    assert!(
        socketio <= MAX_SOCKETIO_REQUESTS,
        "{socketio} socketIo requests: a busy loop?"
    );
    assert!(
        delta <= MAX_DELTA_REQUESTS,
        "{delta} delta requests: a busy loop?"
    );
    eprintln!("settled: 1 live socket, {socketio} socketIo requests, {delta} delta requests");
}

/// After the fault: the link comes back, and both the change made during the fault
/// (`during`, an item id) and one made after it in `folder` are written.
fn both_written_after_reconnect(env: &Env, w: &Watcher, during: &str, folder: &str) {
    w.wait_stderr("reconnected");
    let after = upload(env, &format!("{folder}/after.txt"));
    w.until(|seen| has(seen, during, "created") && has(seen, &after, "created"));
}

/// Ping silence: the watchdog declares the link dead, a fresh link comes up, and the
/// time from `sockets-stalled` to the next `socket-connected` in the emulator's log is
/// within pingInterval + pingTimeout + margin.
#[test]
fn ping_silence_is_detected_within_the_bound_and_nothing_is_lost() {
    let env = env();
    let w = watch(&env);
    env.post("/_emulator/sockets/stall", json!({"ms": 5000}));
    let during = upload(&env, "Stall/during.txt");
    w.wait_stderr("disconnected");
    both_written_after_reconnect(&env, &w, &during, "Stall");

    let entries = log(&env);
    let stalled = find(&entries, "sockets-stalled", None);
    let reconnected = next_after(&entries, stalled, |e| e["kind"] == "socket-connected");
    let detection = elapsed(reconnected) - elapsed(stalled);
    let bound = (PING_INTERVAL_MS + PING_TIMEOUT_MS + MARGIN_MS) as f64;
    eprintln!("ping silence: stall to new socket {detection:.0} ms (bound {bound} ms)");
    assert!(detection <= bound, "{detection} ms > {bound} ms");
    settled(&env);
}

/// Subscription expiry: the emulator ends the sockets (`41`); the client asks for a
/// fresh endpoint (a new socketIo GET) and connects to it.
#[test]
fn subscription_expiry_reconnects_with_a_fresh_endpoint() {
    let env = env();
    let w = watch(&env);
    let before = log(&env);
    let gets_before = socketio_gets(&before);
    let connects_before = count(&before, "socket-connected");
    env.post("/_emulator/subscriptions/expire", json!({}));
    let during = upload(&env, "Expiry/during.txt");
    w.wait_stderr("disconnected");
    both_written_after_reconnect(&env, &w, &during, "Expiry");

    let entries = log(&env);
    let expired = find(&entries, "subscription-expired", None);
    let fresh = next_after(&entries, expired, |e| {
        e["route"] == "socketio" && e["kind"] == "request"
    });
    assert!(socketio_gets(&entries) > gets_before);
    assert!(count(&entries, "socket-connected") > connects_before);
    eprintln!(
        "subscription expiry: expiry to fresh socketIo GET {:.0} ms",
        elapsed(fresh) - elapsed(expired)
    );
    settled(&env);
}

/// The socketIo request fails twice (429 or 503, Retry-After 1 s) as the client tries
/// to come back after a transport kill; it keeps trying and the change is written.
fn socketio_failing_then_kill(status: u16) {
    let env = env();
    let w = watch(&env);
    env.post(
        "/_emulator/faults/fail",
        json!({"route": "socketio", "status": status, "count": 2, "retryAfter": 1}),
    );
    env.post("/_emulator/sockets/kill", json!({}));
    w.wait_stderr("disconnected");
    let during = upload(&env, &format!("Fail{status}/during.txt"));
    both_written_after_reconnect(&env, &w, &during, &format!("Fail{status}"));
    assert_eq!(
        env.counter("faults.socketio"),
        2,
        "both failures were served"
    );
    let entries = log(&env);
    let killed = find(&entries, "fault-kill", None);
    let connected = next_after(&entries, killed, |e| e["kind"] == "socket-connected");
    let gets: Vec<String> = entries
        .iter()
        .filter(|e| e["route"] == "socketio" && e["seq"].as_u64() > killed["seq"].as_u64())
        .map(|e| format!("{:.0} {}", elapsed(e) - elapsed(killed), e["status"]))
        .collect();
    eprintln!(
        "socketIo {status} x2 + kill: kill to new socket {:.0} ms; socketIo GETs at +{} ms",
        elapsed(connected) - elapsed(killed),
        gets.join(", +")
    );
    settled(&env);
}

#[test]
fn socketio_429_twice_after_a_kill_still_reconnects() {
    socketio_failing_then_kill(429);
}

#[test]
fn socketio_503_twice_after_a_kill_still_reconnects() {
    socketio_failing_then_kill(503);
}

/// The delta round after a change fails once (503 or 429, Retry-After 1 s); the change
/// is still written.
fn delta_failing_once(status: u16) {
    let env = env();
    let w = watch(&env);
    env.post(
        "/_emulator/faults/fail",
        json!({"route": "delta", "status": status, "count": 1, "retryAfter": 1}),
    );
    let id = upload(&env, &format!("Delta{status}/x.txt"));
    w.until(|seen| has(seen, &id, "created"));
    assert_eq!(env.counter("faults.delta"), 1, "the failure was served");
    let entries = log(&env);
    let upload_seq = entries
        .iter()
        .find(|e| e["route"] == "graph" && e["method"] == "PUT")
        .and_then(|e| e["seq"].as_u64())
        .expect("the upload in the log");
    let faulted = entries
        .iter()
        .find(|e| e["route"] == "delta" && e["kind"] == "fault")
        .expect("the failed delta request in the log");
    assert!(
        faulted["seq"].as_u64() > Some(upload_seq),
        "the failure hit the round after the change"
    );
    let retried = next_after(&entries, faulted, |e| {
        e["route"] == "delta" && e["kind"] == "request"
    });
    eprintln!(
        "delta {status} once: failed round retried after {:.0} ms",
        elapsed(retried) - elapsed(faulted)
    );
    let later = upload(&env, &format!("Delta{status}/y.txt"));
    w.until(|seen| has(seen, &later, "created"));
    settled(&env);
}

#[test]
fn delta_503_once_and_the_change_is_still_written() {
    delta_failing_once(503);
}

#[test]
fn delta_429_once_and_the_change_is_still_written() {
    delta_failing_once(429);
}

/// Signed in with `graphwatch login`; every access token expires, then the transport
/// is killed: the reconnect refreshes the token and changes keep coming.
#[test]
fn access_token_expiry_mid_stream_refreshes_and_goes_on() {
    let env = env();
    env.login(&[]);
    let w = watch_signed_in(&env);
    let first = upload(&env, "Token/first.txt");
    w.until(|seen| has(seen, &first, "created"));
    let refreshes = env.counter("grants.refresh_token");
    env.post("/_emulator/identity/expire-access-tokens", json!({}));
    env.post("/_emulator/sockets/kill", json!({}));
    w.wait_stderr("disconnected");
    let during = upload(&env, "Token/during.txt");
    both_written_after_reconnect(&env, &w, &during, "Token");
    assert!(
        env.counter("grants.refresh_token") > refreshes,
        "the access token was refreshed"
    );
    let entries = log(&env);
    let killed = find(&entries, "fault-kill", None);
    let connected = next_after(&entries, killed, |e| e["kind"] == "socket-connected");
    eprintln!(
        "access-token expiry + kill: {} refresh grant(s), kill to new socket {:.0} ms",
        env.counter("grants.refresh_token") - refreshes,
        elapsed(connected) - elapsed(killed)
    );
    settled(&env);
}

/// The sign-in is revoked, then the transport is killed: the reconnect cannot get a
/// token, and the run ends with exit 3 and a sentence saying to sign in again.
#[test]
fn revoked_refresh_token_exits_3_saying_to_sign_in_again() {
    let env = env();
    env.login(&[]);
    let mut w = watch_signed_in(&env);
    env.post("/_emulator/identity/revoke", json!({}));
    env.post("/_emulator/sockets/kill", json!({}));
    let deadline = Instant::now() + PATIENCE;
    let status = loop {
        if let Some(status) = w.child.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "still running after the revoke; stderr:\n{}",
            w.stderr()
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let stderr = w.stderr();
    assert_eq!(status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("`graphwatch login`"), "{stderr}");
    assert!(
        stderr.contains("expired or was revoked"),
        "a sentence saying why: {stderr}"
    );
}

/// Fast retries and fallback polls, so an outage case takes seconds.
const FALLBACK: &[&str] = &["--fallback-poll", "1s", "--backoff", "500ms..1s"];

/// `drive me --changes …` with [`FALLBACK`].
fn fallback_args() -> Vec<&'static str> {
    [ARGS, FALLBACK].concat()
}

/// No busy loop while socketIo fails: between its first and last failure the request
/// was made at most once per backoff step (≥ 400 ms with `--backoff 500ms..1s` and
/// ±20 % jitter), and delta at most once per fallback poll (1 s) plus a few rounds.
fn bounded_while_socketio_failed(env: &Env) {
    let entries = log(env);
    let failed: Vec<f64> = entries
        .iter()
        .filter(|e| e["route"] == "socketio" && e["kind"] == "fault")
        .map(elapsed)
        .collect();
    let (first, last) = (failed[0], *failed.last().unwrap());
    let span = last - first;
    let deltas = entries
        .iter()
        .filter(|e| e["route"] == "delta" && (first..=last).contains(&elapsed(e)))
        .count();
    eprintln!(
        "socketIo failing for {span:.0} ms: {} socketIo requests, {deltas} delta requests",
        failed.len()
    );
    assert!(
        failed.len() as f64 <= span / 400.0 + 2.0,
        "{} socketIo requests in {span:.0} ms: a busy loop?",
        failed.len()
    );
    assert!(
        deltas as f64 <= span / 800.0 + 4.0,
        "{deltas} delta requests in {span:.0} ms: a busy loop?"
    );
}

/// socketIo answers 400 `notSupported` for as long as it lasts (docs/graph-socketio.md §1): changes
/// keep coming by polling delta every `--fallback-poll`, the socket is retried all
/// along, never given up, and is live again once the request works.
#[test]
fn socketio_400_not_supported_falls_back_to_delta_polling_until_it_works() {
    let env = env();
    env.post(
        "/_emulator/faults/fail",
        json!({"route": "socketio", "status": 400, "count": 1_000_000}),
    );
    let w = Watcher::start(&env, &fallback_args());
    w.wait_stderr("drive:me: no socket for now; asking delta every 1s until it is back");
    let during = upload(&env, "Fallback/during.txt");
    w.until(|seen| has(seen, &during, "created"));
    assert_eq!(
        env.get("/_emulator/stats")["liveSockets"],
        0,
        "the change came by polling"
    );
    let failures_before = env.counter("faults.socketio");
    eventually("socketIo is still being retried", || {
        env.counter("faults.socketio") > failures_before
    });

    env.post("/_emulator/faults/clear", json!({}));
    w.wait_stderr("watching drive:me (");
    bounded_while_socketio_failed(&env);
    let entries = log(&env);
    let put = entries
        .iter()
        .find(|e| e["method"] == "PUT" && e["path"].as_str().unwrap().contains("during.txt"))
        .expect("the upload in the log");
    let polled = next_after(&entries, put, |e| e["route"] == "delta");
    let cleared = find(&entries, "request", Some("/_emulator/faults/clear"));
    let connected = next_after(&entries, cleared, |e| e["kind"] == "socket-connected");
    eprintln!(
        "400 fallback: upload to the next delta request {:.0} ms; faults cleared to a live socket {:.0} ms",
        elapsed(polled) - elapsed(put),
        elapsed(connected) - elapsed(cleared)
    );
    // Back on the socket: with `--poll 10m` only a notification can bring this one.
    let after = upload(&env, "Fallback/after.txt");
    w.until(|seen| has(seen, &after, "created"));
    settled(&env);
}

/// Without `--changes` nothing can fill the gap: stderr says so, once per outage, and
/// notifications flow again once the socketIo request works.
#[test]
fn notification_mode_says_once_that_notifications_stop_while_socketio_fails() {
    let env = env();
    env.post(
        "/_emulator/faults/fail",
        json!({"route": "socketio", "status": 400, "count": 2}),
    );
    let w = Watcher::start(
        &env,
        &["drive", "me", "-o", "json", "--backoff", "200ms..1s"],
    );
    w.wait_stderr("watching drive:me (");
    let stderr = w.stderr();
    assert_eq!(stderr.matches("cannot connect").count(), 2, "{stderr}");
    assert_eq!(
        stderr
            .matches("drive:me: no notifications until the socket is back")
            .count(),
        1,
        "said once per outage: {stderr}"
    );
    assert!(stderr.contains("--changes would ask delta"), "{stderr}");
    upload(&env, "after-the-outage.txt");
    assert_eq!(w.next()["type"], "notification");
}

/// Two targets, independent supervisors: socketIo fails for the list only, so the list
/// falls back to polling while the drive stays live; once it works both are live, and a
/// kill of every socket loses nothing on either.
#[test]
fn two_targets_a_fault_on_one_leaves_the_other_live_and_a_kill_loses_nothing() {
    let env = env();
    env.post(
        "/_emulator/faults/fail",
        json!({"route": "socketio", "status": 400, "count": 1_000_000,
               "pathContains": "list-issues"}),
    );
    let mut args = vec!["watch", "--drive", "me", "--list", "site-eng/list-issues"];
    args.extend_from_slice(&ARGS[2..]);
    args.extend(FALLBACK);
    let w = Watcher::start(&env, &args);
    w.wait_stderr_all(&[
        "watching drive:me (",
        "list:site-eng/list-issues: no socket for now",
    ]);
    let file = upload(&env, "Two/live.txt");
    let issue = add_issue(&env, "found by polling")["id"]
        .as_str()
        .unwrap()
        .to_string();
    w.until(|seen| has(seen, &file, "created") && has(seen, &issue, "created"));
    assert_eq!(env.get("/_emulator/stats")["liveSockets"], 1, "the drive's");

    env.post("/_emulator/faults/clear", json!({}));
    w.wait_stderr("watching list:site-eng/list-issues (");
    bounded_while_socketio_failed(&env);
    eventually("both sockets live", || {
        env.get("/_emulator/stats")["liveSockets"] == 2
    });

    env.post("/_emulator/sockets/kill", json!({}));
    let file = upload(&env, "Two/during-kill.txt");
    let issue = add_issue(&env, "during the kill")["id"]
        .as_str()
        .unwrap()
        .to_string();
    w.wait_stderr_all(&[
        "drive:me: reconnected",
        "list:site-eng/list-issues: reconnected",
    ]);
    let file_after = upload(&env, "Two/after-kill.txt");
    let issue_after = add_issue(&env, "after the kill")["id"]
        .as_str()
        .unwrap()
        .to_string();
    let lines = w.until(|seen| {
        [&file, &issue, &file_after, &issue_after]
            .iter()
            .all(|id| has(seen, id, "created"))
    });
    for line in lines.iter().filter(|l| l["type"] == "change") {
        let on_list = line["target"] == "list:site-eng/list-issues";
        assert!(on_list || line["target"] == "drive:me", "{line}");
    }
    eventually("exactly two live sockets", || {
        env.get("/_emulator/stats")["liveSockets"] == 2
    });
}

/// The emulator process itself is killed (SIGKILL) and started again on the same port
/// with its `--persist` file, as a service restart would look: the watcher rides out
/// the refused connections, reconnects, and writes the changes made meanwhile.
#[test]
fn the_emulator_process_killed_and_restarted_on_the_same_port_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let persist = dir.path().join("emulator.json");
    let mut emulator = EmulatorProcess::spawn(&[
        "--persist",
        persist.to_str().unwrap(),
        "--ping-interval-ms",
        &PING_INTERVAL_MS.to_string(),
        "--ping-timeout-ms",
        &PING_TIMEOUT_MS.to_string(),
        "--notify-delay-ms",
        "50",
    ]);
    let env = Env::external(&emulator.base);
    let w = Watcher::start(&env, &fallback_args());
    w.wait_stderr("watching drive:me (");
    let before = upload(&env, "Restart/before.txt");
    w.until(|seen| has(seen, &before, "created"));
    eventually("the emulator saved its state", || {
        std::fs::read_to_string(&persist).is_ok_and(|saved| saved.contains(&before))
    });

    emulator.kill();
    w.wait_stderr("drive:me: disconnected");
    emulator.restart();
    let during = upload(&env, "Restart/during.txt");
    both_written_after_reconnect(&env, &w, &during, "Restart");
    // The restarted emulator's clock starts at the restart.
    let connected = find(&log(&env), "socket-connected", None).clone();
    eprintln!(
        "process restart: restart to a live socket {:.0} ms",
        elapsed(&connected)
    );
    settled(&env);
}

/// A renewal that fails keeps the current link (docs/graph-socketio.md §1: clients keep using the
/// old URL while renewal fails): notifications still arrive on it, with no reconnect;
/// when that subscription finally expires, a fresh endpoint takes over.
#[test]
fn a_failed_renewal_keeps_the_old_link_until_it_expires() {
    let env = Env::start_with(|args| {
        args.ping_interval_ms = PING_INTERVAL_MS;
        args.ping_timeout_ms = PING_TIMEOUT_MS;
        args.settings.notify_delay_ms = 50;
        // Renewal is due halfway, after 4 s.
        args.settings.subscription_lifetime_secs = 8;
    });
    let w = Watcher::start(&env, &["drive", "me", "-o", "json"]);
    w.wait_stderr("watching drive:me (");
    env.post(
        "/_emulator/faults/fail",
        json!({"route": "socketio", "status": 400, "count": 1}),
    );
    w.wait_stderr("drive:me: cannot renew the endpoint");
    assert_eq!(env.counter("faults.socketio"), 1);
    upload(&env, "after-the-failed-renewal.txt");
    assert_eq!(w.next()["type"], "notification", "the old link still works");
    assert_eq!(env.counter("sockets.connected"), 1, "no reconnect");

    // The old subscription expires (renewal is not due again for a minute): a fresh one.
    w.wait_stderr("drive:me: disconnected");
    w.wait_stderr("drive:me: reconnected");
    assert_eq!(env.counter("subscriptions.created"), 2, "{}", w.stderr());
}

/// `--status-events`: a drop is a `disconnected` then `connected` status line and, in
/// `--changes` mode, a `gap` before the change made meanwhile; the stream says when it
/// was incomplete without anyone reading stderr.
#[test]
fn status_events_say_a_drop_and_its_gap_in_the_stream() {
    let env = env();
    let w = Watcher::start(&env, &[ARGS, &["--status-events"]].concat());
    let joined = w.next();
    assert_eq!(
        (joined["type"].as_str(), joined["state"].as_str()),
        (Some("status"), Some("connected")),
        "{joined}"
    );
    env.post("/_emulator/sockets/kill", json!({}));
    let during = upload(&env, "Status/during.txt");
    let lines = w.until(|seen| has(seen, &during, "created"));
    let position = |ok: &dyn Fn(&Value) -> bool| lines.iter().position(ok);
    let down = position(&|l| l["type"] == "status" && l["state"] == "disconnected")
        .expect("a disconnected line");
    let gap = position(&|l| l["type"] == "gap").expect("a gap line");
    let back = position(&|l| l["type"] == "status" && l["state"] == "connected")
        .expect("a connected line again");
    let change = position(&|l| l["type"] == "change" && l["item"]["id"] == during.as_str())
        .expect("the change");
    assert!(down < gap && gap < change, "{lines:?}");
    assert!(down < back, "{lines:?}");
}

/// A socketIo that keeps failing: `fallback` status and a `gap` line, then `connected`
/// when it works again.
#[test]
fn status_events_say_a_fallback() {
    let env = env();
    env.post(
        "/_emulator/faults/fail",
        json!({"route": "socketio", "status": 400, "count": 1_000_000}),
    );
    let w = Watcher::start(&env, &[&fallback_args()[..], &["--status-events"]].concat());
    let lines = w.until(|seen| seen.iter().any(|l| l["type"] == "gap"));
    assert!(
        lines
            .iter()
            .any(|l| l["type"] == "status" && l["state"] == "fallback"),
        "{lines:?}"
    );
    env.post("/_emulator/faults/clear", json!({}));
    w.until(|seen| {
        seen.iter()
            .any(|l| l["type"] == "status" && l["state"] == "connected")
    });
}

/// A 410 on the cursor and then on the new baseline too (the service refusing the
/// enumeration it pointed at): the round fails, transiently, and is tried again; the
/// target goes on, and a change made meanwhile is written.
#[test]
fn a_410_on_the_resyncs_own_baseline_does_not_lose_the_target() {
    let env = env();
    let w = watch(&env);
    env.post(
        "/_emulator/faults/fail",
        json!({"route": "delta", "status": 410, "count": 2}),
    );
    let id = upload(&env, "Gone/twice.txt");
    w.until(|seen| has(seen, &id, "created"));
    assert_eq!(env.counter("faults.delta"), 2, "both 410s were served");
    assert!(!w.stderr().contains("stopped watching"), "{}", w.stderr());
    let later = upload(&env, "Gone/after.txt");
    w.until(|seen| has(seen, &later, "created"));
}
