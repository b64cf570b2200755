//! `--changes` end to end: the `graphwatch` binary against the in-process emulator,
//! real mutations over HTTP making the notifications and the delta changes.
//!
//! Output is awaited line by line with a deadline, never with fixed sleeps; round
//! counts come from the emulator's counters, not from the clock.

use crate::common;

use std::collections::HashMap;
use std::sync::mpsc::RecvTimeoutError;
use std::time::{Duration, Instant};

use common::watcher::{change, delete, graph, has, upload, Watcher, PATIENCE};
use common::{Env, ADELE};
use serde_json::{json, Value};

/// Notifications 50 ms after a change; big delta pages, so one request is one round.
fn env() -> Env {
    Env::start_with(|args| {
        args.settings.notify_delay_ms = 50;
        args.settings.delta_page_size = 1000;
    })
}

/// `created` lines per file id (folders left out, as `jq 'select(.item.file)'` would).
fn file_updates(lines: &[Value]) -> HashMap<String, usize> {
    let mut counts = HashMap::new();
    for line in lines {
        if line["type"] == "change"
            && line["change"] == "created"
            && line["item"]["file"].is_object()
        {
            *counts
                .entry(line["item"]["id"].as_str().unwrap_or_default().to_string())
                .or_default() += 1;
        }
    }
    counts
}

#[test]
fn changes_writes_each_uploaded_file_once_and_deletes() {
    let env = env();
    let w = Watcher::start(&env, &["drive", "me", "--changes", "-o", "json"]);
    w.wait_stderr("watching drive:me");
    let ids: Vec<String> = (0..5)
        .map(|i| upload(&env, &format!("five{i}.txt")))
        .collect();
    let mut lines = w.until(|seen| ids.iter().all(|id| has(seen, id, "created")));
    // Deleting one is the marker: everything written before its line is counted.
    delete(&env, &ids[0]);
    lines.extend(w.until(|seen| has(seen, &ids[0], "deleted")));

    for line in &lines {
        assert_eq!(line["type"], "change", "only change lines: {line}");
        assert_eq!(line["target"], "drive:me", "{line}");
    }
    let updates = file_updates(&lines);
    for id in &ids {
        assert_eq!(updates.get(id), Some(&1), "{id} once: {updates:?}");
    }
    let deleted = lines
        .iter()
        .find(|l| change(l) == Some((ids[0].clone(), "deleted".into())))
        .unwrap();
    assert_eq!(deleted["item"]["deleted"]["state"], "deleted");
}

#[test]
fn notifications_flag_keeps_the_raw_lines_too() {
    let env = env();
    let w = Watcher::start(
        &env,
        &["drive", "me", "--changes", "--notifications", "-o", "json"],
    );
    w.wait_stderr("watching drive:me");
    let id = upload(&env, "both.txt");
    let lines = w.until(|seen| {
        has(seen, &id, "created") && seen.iter().any(|l| l["type"] == "notification")
    });
    assert!(lines.iter().any(|l| l["type"] == "notification"));
}

#[test]
fn list_items_added_and_edited_are_changes_with_fields() {
    let env = env();
    let w = Watcher::start(
        &env,
        &["list", "site-eng/list-issues", "--changes", "-o", "json"],
    );
    w.wait_stderr("watching list:site-eng/list-issues");
    let items = "/sites/site-eng/lists/list-issues/items";
    let created = graph(
        &env,
        reqwest::Method::POST,
        items,
        Some(json!({"fields": {"Title": "Printer on fire"}})),
    );
    let id = created["id"].as_str().unwrap().to_string();
    let lines = w.until(|seen| has(seen, &id, "created"));
    let added = lines.last().unwrap();
    assert_eq!(added["target"], "list:site-eng/list-issues");
    assert_eq!(added["item"]["fields"]["Title"], "Printer on fire");

    graph(
        &env,
        reqwest::Method::PATCH,
        &format!("{items}/{id}/fields"),
        Some(json!({"Status": "Active"})),
    );
    let lines = w.until(|seen| {
        seen.last()
            .is_some_and(|l| l["item"]["id"] == id && l["item"]["fields"]["Status"] == "Active")
    });
    let edited = lines.last().unwrap();
    assert_eq!(edited["change"], "modified");
    assert_eq!(edited["item"]["fields"]["Title"], "Printer on fire");
    // Which field changed, from what to what; none of SharePoint's own bookkeeping.
    assert_eq!(
        edited["fields"],
        json!({"Status": {"from": null, "to": "Active"}}),
        "{edited}"
    );
}

#[test]
fn a_burst_of_20_uploads_is_each_file_once_in_at_most_3_delta_rounds() {
    let env = env();
    let w = Watcher::start(&env, &["drive", "me", "--changes", "-o", "json"]);
    // The baseline is taken before the socket opens: from here on delta requests are rounds.
    w.wait_stderr("watching drive:me");
    let before = env.counter("requests.delta");
    let ids: Vec<String> = (0..20)
        .map(|i| upload(&env, &format!("Burst/file{i:02}.txt")))
        .collect();
    let lines = w.until(|seen| ids.iter().all(|id| has(seen, id, "created")));
    let rounds = env.counter("requests.delta") - before;

    let updates = file_updates(&lines);
    for id in &ids {
        assert_eq!(updates.get(id), Some(&1), "{id} once: {updates:?}");
    }
    assert!(env.counter("notifications.sent") >= 20);
    // A burst is at most 3 rounds. On a loaded machine the 20 uploads themselves may take
    // longer than the 3 s a burst may postpone a round (max_delay): then one more round
    // per 3 s they took is coalescing too (one per notification would be 20 to 40).
    let entries = env.get("/_emulator/log")["entries"].clone();
    let puts: Vec<f64> = entries
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["method"] == "PUT" && e["path"].as_str().unwrap().contains("/Burst/"))
        .map(|e| e["elapsedMs"].as_f64().unwrap())
        .collect();
    let took_ms = puts.last().unwrap() - puts[0];
    let allowed = 3 + (took_ms / 3000.0).floor() as u64;
    assert!(
        (1..=allowed).contains(&rounds),
        "{rounds} delta rounds for uploads that took {took_ms:.0} ms"
    );
    eprintln!(
        "burst of 20 uploads in {took_ms:.0} ms: {rounds} delta round(s) until every file was written"
    );
}

/// Killed after a round's lines were written but before the round was saved (another
/// connection holds the state file's write lock, so the commit cannot happen): the
/// file was written as created, then deleted while graphwatch was down. The restart's
/// catch-up round does not know the file (its index never saved it), and still writes
/// the deletion: the reader saw "created", so it must see "deleted" (classify.rs,
/// `Rules::resumed`). This was a loss under load, when kill -9 landed in that window.
#[test]
fn a_file_written_but_not_saved_before_kill_9_then_deleted_is_written_deleted() {
    let env = env();
    let state = env.config_dir().join("state.db");
    let state_arg = state.to_str().unwrap();
    let args = [
        "drive",
        "me",
        "--changes",
        "--state",
        state_arg,
        "-o",
        "json",
    ];
    let first = Watcher::start(&env, &args);
    first.wait_stderr("watching drive:me");
    let blocker = rusqlite::Connection::open(&state).unwrap();
    blocker.execute_batch("BEGIN IMMEDIATE").unwrap();
    let a = upload(&env, "Unsaved/a.txt");
    first.until(|seen| has(seen, &a, "created"));
    let status = std::process::Command::new("kill")
        .args(["-9", &first.pid()])
        .status()
        .expect("kill");
    assert!(status.success());
    drop(first);
    blocker.execute_batch("ROLLBACK").unwrap();
    drop(blocker);

    delete(&env, &a);
    let second = Watcher::start(&env, &args);
    let seen = second.until(|seen| has(seen, &a, "deleted"));
    assert!(has(&seen, &a, "deleted"));
}

#[test]
fn state_resumes_after_kill_9_with_nothing_lost_and_holds_no_secret() {
    let env = env();
    let state = env.config_dir().join("state.db");
    let state_arg = state.to_str().unwrap();
    let args = [
        "drive",
        "me",
        "--changes",
        "--state",
        state_arg,
        "-o",
        "json",
    ];

    let first = Watcher::start(&env, &args);
    first.wait_stderr("watching drive:me");
    let a = upload(&env, "Kill/a.txt");
    let mut lines = first.until(|seen| has(seen, &a, "created"));
    // A change in flight, then SIGKILL: no chance to flush or save anything more.
    let b = upload(&env, "Kill/b.txt");
    let status = std::process::Command::new("kill")
        .args(["-9", &first.pid()])
        .status()
        .expect("kill");
    assert!(status.success());
    // Whatever it wrote before dying: read to the end of its stdout.
    loop {
        match first.lines.recv_timeout(PATIENCE) {
            Ok(line) => lines.push(serde_json::from_str(&line).unwrap()),
            Err(RecvTimeoutError::Disconnected) => break,
            Err(RecvTimeoutError::Timeout) => panic!("stdout still open after kill -9"),
        }
    }
    drop(first);

    // While it is down: a new file and a delete.
    let c = upload(&env, "Kill/c.txt");
    delete(&env, &a);

    let second = Watcher::start(&env, &args);
    let caught_up = second.until(|seen| has(seen, &c, "created") && has(seen, &a, "deleted"));
    lines.extend(caught_up.iter().cloned());
    assert!(
        has(&lines, &b, "created"),
        "b (in flight at the kill) is not lost"
    );
    // The catch-up round came from the saved cursor: changes made while down.
    assert!(has(&caught_up, &c, "created"));
    assert!(has(&caught_up, &a, "deleted"));

    // The state file: private, and no bearer token in it.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&state).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{mode:o}");
    }
    // The index holds what was written, once its round is committed (just after the
    // lines): c is in it, a (deleted) is not.
    let deadline = Instant::now() + PATIENCE;
    loop {
        let saved = common::saved_state(&state);
        assert!(
            saved["targets"]["drive:me"]["deltaLink"].is_string(),
            "{saved}"
        );
        let ids: Vec<&str> = saved["items"]["drive:me"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|i| i["id"].as_str())
            .collect();
        if ids.contains(&c.as_str()) && !ids.contains(&a.as_str()) {
            break;
        }
        assert!(Instant::now() < deadline, "{ids:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
    let text = common::state_bytes(&state);
    for secret in env.issued_secrets() {
        assert!(!text.contains(&secret), "a token in the state file");
    }
    assert!(!text.to_lowercase().contains("bearer"));
}

#[test]
fn a_410_writes_a_resync_line_and_the_stream_goes_on() {
    let env = env();
    let w = Watcher::start(&env, &["drive", "me", "--changes", "-o", "json"]);
    w.wait_stderr("watching drive:me");
    env.post(
        "/_emulator/faults/fail",
        json!({"route": "delta", "status": 410, "count": 1}),
    );
    upload(&env, "Resync/x.txt");
    let lines = w.until(|seen| seen.iter().any(|l| l["type"] == "resync"));
    let resync = lines.last().unwrap();
    assert_eq!(resync["target"], "drive:me");
    assert_eq!(resync["reason"], "resyncRequired");
    assert!(resync["time"].is_string());
    w.wait_stderr("no longer valid");

    let y = upload(&env, "Resync/y.txt");
    w.until(|seen| has(seen, &y, "created"));
}

/// Notifications sent while the link is down are lost; the reconnect's catch-up round
/// must still write the change made in the gap (the safety-net poll is far away).
#[test]
fn a_change_made_while_disconnected_is_written_after_the_reconnect() {
    let env = env();
    let w = Watcher::start(
        &env,
        &["drive", "me", "--changes", "--poll", "10m", "-o", "json"],
    );
    w.wait_stderr("watching drive:me");
    // Keep it away for a few seconds: the next two socketIo requests fail transiently.
    env.post(
        "/_emulator/faults/fail",
        json!({"route": "socketio", "status": 400, "count": 2}),
    );
    env.post("/_emulator/sockets/kill", json!({}));
    w.wait_stderr("disconnected");
    let id = upload(&env, "Gap/while-down.txt");
    w.wait_stderr("reconnected");
    let lines = w.until(|seen| has(seen, &id, "created"));
    assert!(lines.iter().all(|l| l["type"] == "change"));
}

#[test]
fn no_socket_polls_delta_and_opens_no_socket() {
    let env = env();
    let w = Watcher::start(
        &env,
        &["drive", "me", "--no-socket", "--poll", "1s", "-o", "json"],
    );
    w.wait_stderr("watching drive:me");
    let id = upload(&env, "Polled/p.txt");
    let lines = w.until(|seen| has(seen, &id, "created"));
    assert!(lines.iter().all(|l| l["type"] == "change"));
    assert_eq!(env.counter("sockets.connected"), 0);
    assert!(env.socketio_requests().is_empty(), "no socketIo request");
}

#[test]
fn path_keeps_only_items_under_the_folder() {
    let env = env();
    let w = Watcher::start(
        &env,
        &[
            "drive",
            "me",
            "--changes",
            "--path",
            "/Reports",
            "-o",
            "json",
        ],
    );
    w.wait_stderr("watching drive:me");
    let outside = upload(&env, "Other/x.txt");
    let q1 = upload(&env, "Reports/q1.txt");
    let q2 = upload(&env, "Reports/Sub/q2.txt");
    let lines = w.until(|seen| has(seen, &q1, "created") && has(seen, &q2, "created"));
    let ids: Vec<String> = lines.iter().filter_map(change).map(|(id, _)| id).collect();
    assert!(!ids.contains(&outside), "{ids:?}");
    for line in &lines {
        let name = line["item"]["name"].as_str().unwrap_or_default();
        assert!(
            ["q1.txt", "q2.txt", "Sub"].contains(&name),
            "only items under /Reports: {line}"
        );
    }
}

#[test]
fn count_counts_change_lines() {
    let env = env();
    let mut cmd = env.std_cmd(&["drive", "me", "--changes", "-n", "2", "-o", "json"]);
    cmd.env("GRAPHWATCH_ACCESS_TOKEN", env.mint(ADELE));
    let mut w = Watcher::spawn_cmd(cmd);
    w.wait_stderr("watching drive:me");
    upload(&env, "Counted/one.txt");
    let lines = [w.next(), w.next()];
    assert!(lines.iter().all(|l| l["type"] == "change"), "{lines:?}");
    let deadline = Instant::now() + PATIENCE;
    let status = loop {
        if let Some(status) = w.child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "did not exit after 2 lines");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(status.code(), Some(0), "{}", w.stderr());
}

#[test]
fn changes_options_are_checked_in_one_line() {
    let env = env();
    for (args, needle) in [
        (
            vec!["drive", "me", "--state", "s.json"],
            "--state needs --changes",
        ),
        (
            vec!["drive", "me", "--changes", "--poll", "soon"],
            "--poll \"soon\"",
        ),
        (
            vec!["list", "site-eng/list-issues", "--changes", "--path", "/A"],
            "--path is for drives",
        ),
        (
            vec!["drive", "me", "--no-socket", "--notifications"],
            "--notifications with --no-socket",
        ),
    ] {
        let output = env
            .cmd(&args)
            .env("GRAPHWATCH_ACCESS_TOKEN", "unused")
            .output()
            .unwrap();
        let stderr = common::stderr(&output);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(needle), "{args:?}: {stderr}");
        assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
        assert!(output.stdout.is_empty());
    }
}

/// A saved cursor that belongs to another drive is not used: the stream says so with a
/// `resync` line (reason `targetChanged`) before anything else, as it does for any
/// cursor that is no longer valid, and stderr says why.
#[test]
fn a_cursor_saved_for_another_drive_is_a_resync_line() {
    let env = env();
    let state = env.config_dir().join("elsewhere.json");
    std::fs::write(
        &state,
        serde_json::to_vec(&json!({
            "version": 1,
            "targets": {"drive:me": {
                "resource": "drive:b!SomeoneElsesDrive",
                "deltaLink": format!("{}/v1.0/drives/b!SomeoneElsesDrive/root/delta?token=1", env.base),
                "savedAt": "2026-11-26T10:00:00.000Z"
            }}
        }))
        .unwrap(),
    )
    .unwrap();
    let args = [
        "drive",
        "me",
        "--changes",
        "--state",
        state.to_str().unwrap(),
        "-o",
        "json",
    ];
    let w = Watcher::start(&env, &args);
    let first = w.next();
    assert_eq!(first["type"], "resync", "{first}");
    assert_eq!(first["reason"], "targetChanged");
    w.wait_stderr("enumerating it and writing what differs");
    // The index of the other drive is compared with this one's: every item of this
    // drive is new to it.
    let next = w.next();
    assert_eq!(
        (next["type"].as_str(), next["change"].as_str()),
        (Some("change"), Some("created")),
        "{next}"
    );
}
