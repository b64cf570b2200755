//! Behind a reader of stdout that stops reading (`graphwatch … | (sleep 1000)`), for
//! longer than the service's pingInterval + pingTimeout: the link is kept (the socket is
//! read and pings answered whatever stdout does), memory stays bounded, and nothing that
//! can be kept is lost (docs/reliability.md, "Behind a slow reader").

use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::common::watcher::{upload, Watcher, PATIENCE};
use crate::common::Env;

/// The emulator with pings every `ping_ms` and a pong awaited `ping_ms`: the link is
/// dropped after `2 × ping_ms` without one (the live service: 25 s + 20 s). These are the
/// emulator's start-up options, as the service announces its own in the open packet
/// (docs/graph-socketio.md §2). Long enough for a debug build to read a burst queued
/// ahead of a ping, and to classify a round of thousands of items, within the timeout.
fn env(ping_ms: u64) -> Env {
    Env::start_with(|args| {
        args.ping_interval_ms = ping_ms;
        args.ping_timeout_ms = ping_ms;
        args.settings.notify_delay_ms = 50;
        args.settings.delta_page_size = 10_000;
    })
}

/// The lines the queue in front of stdout may hold (`MAX_LINES` in `src/watch/queue.rs`,
/// documented in docs/reliability.md).
const QUEUE: usize = 4096;

/// Wait until the emulator's log has `n` entries of `kind`; those entries.
fn wait_log(env: &Env, kind: &str, n: usize) -> Vec<Value> {
    let deadline = Instant::now() + PATIENCE * 2;
    loop {
        let entries: Vec<Value> = crate::common::log(env)
            .into_iter()
            .filter(|e| e["kind"] == kind)
            .collect();
        if entries.len() >= n {
            return entries;
        }
        assert!(
            Instant::now() < deadline,
            "no {n} {kind} in the emulator's log"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A burst into a stalled reader, then a paced one that keeps it stalled for 9 s
/// (more than twice pingInterval + pingTimeout): the link stays, the queue keeps what
/// it can hold, and when the reader comes back a `gap` line says how many notifications
/// were dropped, as does one warning on stderr.
#[test]
fn a_stalled_reader_keeps_the_link_and_is_told_how_many_notifications_were_dropped() {
    let env = env(2000);
    let (w, reader) = Watcher::start_stalled(&env, &["drive", "me", "--status-events"]);
    w.wait_stderr("watching drive:me");

    env.post("/_emulator/burst", json!({ "count": 6000 }));
    wait_log(&env, "burst-done", 1);
    env.post("/_emulator/burst", json!({ "count": 10, "ratePerSec": 1 }));
    let done = wait_log(&env, "burst-done", 2);
    for entry in &done {
        let detail = entry["detail"].as_str().unwrap();
        assert!(
            detail.contains("sent=6000 of 6000") || detail.contains("sent=10 of 10"),
            "every notification went out over the one link: {detail}"
        );
    }
    assert_eq!(
        env.counter("sockets.disconnected"),
        0,
        "the link outlived the stall: {:?}",
        crate::common::log(&env)
            .iter()
            .filter(|e| e["kind"] == "socket-disconnected")
            .collect::<Vec<_>>()
    );

    reader.resume();
    let lines = w.until(|seen| seen.last().is_some_and(|l| l["type"] == "gap"));
    assert_eq!(lines[0]["type"], "status");
    assert_eq!(lines[0]["state"], "connected");
    let sequences: Vec<u64> = lines
        .iter()
        .filter(|l| l["type"] == "notification")
        .map(|l| l["data"]["sequence"].as_u64().expect("sequence"))
        .collect();
    let gap = lines.last().unwrap();
    let dropped = gap["dropped"].as_u64().expect("the gap says how many");
    assert_eq!(gap["target"], "drive:me");
    assert_eq!(
        sequences.len() as u64 + dropped,
        6010,
        "every notification is written or counted"
    );
    // What was written is the start of the first burst, in order, without a hole: the
    // gap line sits where the notifications are missing.
    assert!(sequences.iter().copied().eq(1..=sequences.len() as u64));
    // Bounded: the queue, plus what the pipe and the writer's buffer hold.
    assert!(
        sequences.len() < QUEUE + 1000,
        "{} notifications were kept",
        sequences.len()
    );
    assert_eq!(env.counter("sockets.connected"), 1, "never reconnected");
    let warning = format!("{dropped} notifications were dropped");
    w.wait_stderr(&warning);
    assert_eq!(
        w.stderr().matches("dropped").count(),
        1,
        "one warning, not one per drop:\n{}",
        w.stderr()
    );
}

/// With `--changes`, a stalled reader stalls the round (its cursor waits for its lines),
/// not the link: notifications meanwhile collapse into one more round, and once the
/// reader is back every changed item is written, each once.
#[test]
fn changes_behind_a_stalled_reader_are_all_written_once_the_reader_is_back() {
    let env = env(3000);
    let (w, reader) = Watcher::start_stalled(&env, &["drive", "me", "--changes", "-o", "json"]);
    w.wait_stderr("watching drive:me");
    let before = env.counter("requests.delta");

    // More change lines than the queue, the pipe and the writer's buffer hold: the round
    // waits for room. Then 10,014 notifications while it waits, the last 13 s of them
    // paced (more than twice pingInterval + pingTimeout).
    const FILES: usize = 4500;
    env.post("/_emulator/bulk", json!({ "folders": 10, "files": FILES }));
    env.post("/_emulator/burst", json!({ "count": 10_000 }));
    wait_log(&env, "burst-done", 1);
    env.post("/_emulator/burst", json!({ "count": 14, "ratePerSec": 1 }));
    wait_log(&env, "burst-done", 2);
    assert_eq!(
        env.counter("sockets.disconnected"),
        0,
        "the link outlived the stall"
    );

    reader.resume();
    let mut created: HashMap<String, usize> = HashMap::new();
    let mut files = 0;
    while files < FILES {
        let line = w.next();
        assert_eq!(line["type"], "change", "{line}");
        if line["change"] == "created" && line["item"]["file"].is_object() {
            let id = line["item"]["id"].as_str().unwrap().to_string();
            let seen = created.entry(id).or_default();
            *seen += 1;
            if *seen == 1 {
                files += 1;
            }
        }
    }
    // One upload after: its line comes once the round that the 10,014 notifications
    // asked for has run.
    let after = upload(&env, "after-the-stall.txt");
    let lines = w.until(|seen| {
        seen.last()
            .is_some_and(|l| l["item"]["id"] == after.as_str())
    });
    for line in &lines {
        if let Some(id) = line["item"]["id"].as_str() {
            if line["change"] == "created" && line["item"]["file"].is_object() && id != after {
                *created.entry(id.to_string()).or_default() += 1;
            }
        }
    }
    assert_eq!(created.len(), FILES);
    assert!(
        created.values().all(|&n| n == 1),
        "each file once: {:?}",
        created
            .iter()
            .filter(|(_, n)| **n != 1)
            .take(5)
            .collect::<Vec<_>>()
    );
    assert_eq!(env.counter("sockets.connected"), 1, "never reconnected");
    // Pages of 10,000: a round is one delta request. The bulk's round, the one more that
    // every notification during it asked for, its re-checks, the upload's: not one per
    // notification.
    let rounds = env.counter("requests.delta") - before;
    assert!(
        rounds <= 8,
        "{rounds} delta rounds for 10,015 notifications"
    );
}
