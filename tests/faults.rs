//! Issue 6's fault suite: `graphwatch drive me --changes` against the in-process
//! emulator, one fault per test. For each: every change made during and after the fault
//! is a change line; afterwards exactly one live socket (emulator stats); bounded
//! request counts (no busy loop). Timing bounds come from the emulator's event log
//! (`elapsedMs`), never from the test's clock.
//!
//! Pings are short (300 ms + 300 ms) so a dead link is noticed quickly; `--poll 10m`
//! keeps the safety-net poll out of the way, so a change only appears if the stream (or
//! the catch-up round after a reconnect) brings it.

mod common;

use std::time::{Duration, Instant};

use common::watcher::{has, upload, Watcher, PATIENCE};
use common::Env;
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

fn log(env: &Env) -> Vec<Value> {
    env.get("/_emulator/log")["entries"]
        .as_array()
        .expect("entries")
        .clone()
}

/// An entry's time on the emulator's clock, in ms.
fn elapsed(entry: &Value) -> f64 {
    entry["elapsedMs"].as_f64().expect("elapsedMs")
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
    w.wait_stderr("reconnected");
    let after = upload(&env, "Stall/after.txt");
    w.until(|seen| has(seen, &during, "updated") && has(seen, &after, "updated"));

    let entries = log(&env);
    let stalled = entries
        .iter()
        .find(|e| e["kind"] == "sockets-stalled")
        .expect("a sockets-stalled entry");
    let reconnected = entries
        .iter()
        .find(|e| e["kind"] == "socket-connected" && e["seq"].as_u64() > stalled["seq"].as_u64())
        .expect("a socket-connected entry after the stall");
    let detection = elapsed(reconnected) - elapsed(stalled);
    let bound = (PING_INTERVAL_MS + PING_TIMEOUT_MS + MARGIN_MS) as f64;
    eprintln!("ping silence: stall to new socket {detection:.0} ms (bound {bound} ms)");
    assert!(detection <= bound, "{detection} ms > {bound} ms");
    settled(&env);
}
