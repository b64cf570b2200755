//! Issue 17, shared state and bounded rounds: one `--state` file used by several
//! `graphwatch` processes (the binary, against the in-process emulator), and delta
//! servers whose pages loop or never end (`POST /_emulator/faults/pages`).
//!
//! Nothing here waits a fixed time to synchronise: output lines, stderr lines, the
//! state file and the emulator's counters and log are awaited with a deadline.

use crate::common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::watcher::{add_issue, has, upload, Watcher, PATIENCE};
use common::{Env, ADELE};
use graphwatch::testing::{
    http_client, DeltaFeed, GraphClient, LastWins, Outcome, RoundLimits, Secret, Target,
    TargetKind, TokenSource,
};
use graphwatch_emulator::seed;
use serde_json::{json, Value};

const DRIVE: &str = "drive:me";
const LIST: &str = "list:site-eng/list-issues";

/// Notifications 50 ms after a change; big delta pages, so one request is one round.
fn env() -> Env {
    Env::start_with(|args| {
        args.settings.notify_delay_ms = 50;
        args.settings.delta_page_size = 1000;
    })
}

/// The deltaLink saved for `label`, as the file on disk has it now.
fn saved(state: &Path, label: &str) -> Option<String> {
    if !state.exists() {
        return None;
    }
    common::saved_state(state)["targets"][label]["deltaLink"]
        .as_str()
        .map(str::to_string)
}

/// Wait until `label`'s saved cursor is no longer `old` (its process committed a round).
fn wait_saved_change(state: &Path, label: &str, old: &Option<String>) -> String {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let now = saved(state, label);
        if let Some(cursor) = now.filter(|c| Some(c) != old.as_ref()) {
            return cursor;
        }
        assert!(
            Instant::now() < deadline,
            "{label}'s cursor was not saved again: {}",
            common::saved_state(state)
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn id(item: &Value) -> String {
    item["id"].as_str().expect("id").to_string()
}

#[test]
fn two_processes_on_one_state_file_for_two_targets_lose_nothing_and_keep_both_cursors() {
    let env = env();
    let state = env.config_dir().join("state.db");
    let s = state.to_str().unwrap();
    let drive_args = ["drive", "me", "--changes", "--state", s, "-o", "json"];
    let list_args = [
        "list",
        "site-eng/list-issues",
        "--changes",
        "--state",
        s,
        "-o",
        "json",
    ];

    let drive = Watcher::start(&env, &drive_args);
    drive.wait_stderr("watching drive:me");
    let list = Watcher::start(&env, &list_args);
    list.wait_stderr("watching list:site-eng/list-issues");

    // While both run, a change to each: written by its process, its cursor committed.
    // The list first and the drive last: the drive's process loaded the file before
    // the list had an entry, so a commit from a stale copy would drop the list's.
    let before = saved(&state, LIST);
    let issue = id(&add_issue(&env, "Both running"));
    list.until(|seen| has(seen, &issue, "created"));
    let list_cursor = wait_saved_change(&state, LIST, &before);

    let before = saved(&state, DRIVE);
    let file = upload(&env, "Shared/both-running.txt");
    drive.until(|seen| has(seen, &file, "created"));
    wait_saved_change(&state, DRIVE, &before);
    assert_eq!(
        saved(&state, LIST),
        Some(list_cursor),
        "the drive's commit kept the list's entry as the list's process left it"
    );

    // Both killed; a change to each while they are down.
    drop(drive);
    drop(list);
    let file = upload(&env, "Shared/while-down.txt");
    let issue = id(&add_issue(&env, "While down"));

    // Each resumes from its own cursor: the changes made while down are written.
    let drive = Watcher::start(&env, &drive_args);
    let list = Watcher::start(&env, &list_args);
    drive.until(|seen| has(seen, &file, "created"));
    list.until(|seen| has(seen, &issue, "created"));
}

#[test]
fn a_second_process_on_the_same_target_and_state_file_exits_2_saying_why() {
    let env = env();
    let state = env.config_dir().join("state.db");
    let s = state.to_str().unwrap();
    let args = ["drive", "me", "--changes", "--state", s, "-o", "json"];
    let first = Watcher::start(&env, &args);
    first.wait_stderr("watching drive:me");

    let output = env
        .cmd(&args)
        .env("GRAPHWATCH_ACCESS_TOKEN", env.mint(ADELE))
        .timeout(PATIENCE)
        .output()
        .unwrap();
    let stderr = common::stderr(&output);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    for part in [
        "drive:me is already watched",
        s,
        &format!("(process {})", first.pid()),
        "stop that one first, or give this watch its own --state file",
    ] {
        assert!(stderr.contains(part), "{part:?} in {stderr}");
    }
    assert!(output.stdout.is_empty());

    // The first one is not disturbed.
    let file = upload(&env, "Owner/still-watching.txt");
    first.until(|seen| has(seen, &file, "created"));
}

#[test]
fn a_next_link_loop_is_one_warning_per_round_few_requests_and_the_watch_goes_on() {
    let env = env();
    let w = Watcher::start(
        &env,
        &["drive", "me", "--changes", "--poll", "10m", "-o", "json"],
    );
    w.wait_stderr("watching drive:me");
    // Every round from here loops: first page → A → B → A …
    env.post(
        "/_emulator/faults/pages",
        json!({"mode": "loop", "count": 1000}),
    );
    let a = upload(&env, "Loop/a.txt");
    w.wait_stderr("its pages loop");
    env.post("/_emulator/faults/clear", json!({}));
    // The round is asked again with backoff; once the server is sane, nothing is lost.
    w.until(|seen| has(seen, &a, "created"));

    // Each looped round: its first page, A and B; A again is never asked.
    let looped = env.counter("faults.pages");
    assert!(
        looped % 3 == 0 && (3..=9).contains(&looped),
        "{looped} looped pages"
    );
    let rounds = (looped / 3) as usize;
    // One warning per looped round, saying what and when delta is asked again.
    let deadline = Instant::now() + PATIENCE;
    let warnings = loop {
        let warnings: Vec<String> = w
            .stderr()
            .lines()
            .filter(|l| l.contains("its pages loop"))
            .map(str::to_string)
            .collect();
        if warnings.len() >= rounds || Instant::now() > deadline {
            break warnings;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(warnings.len(), rounds, "{warnings:?}");
    for warning in &warnings {
        assert!(
            warning.contains("drive:me")
                && warning.contains("leads back to page 2")
                && warning.contains("the cursor stays where it was")
                && warning.contains("asking delta again in"),
            "{warning}"
        );
    }

    eprintln!(
        "nextLink loop: {rounds} looped round(s), {looped} hostile pages; stderr: {}",
        warnings[0]
    );

    // The watch goes on.
    let b = upload(&env, "Loop/b.txt");
    w.until(|seen| has(seen, &b, "created"));
    assert_eq!(env.counter("faults.pages"), looped, "no hostile page since");
}

/// Adele's drive through the library, for the delta feed's own limits.
fn drive_target() -> Target {
    Target {
        label: DRIVE.into(),
        kind: TargetKind::Drive {
            drive_id: seed::ADELE_DRIVE.into(),
        },
        display_name: "OneDrive".into(),
        web_url: None,
    }
}

fn client(env: &Env) -> GraphClient {
    GraphClient::new(
        http_client().unwrap(),
        url::Url::parse(&format!("{}/v1.0", env.base)).unwrap(),
        TokenSource::fixed(Secret::new(env.mint(ADELE))),
    )
}

/// The emulator's log position now.
fn log_seq(env: &Env) -> u64 {
    env.get("/_emulator/log")["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["seq"].as_u64())
        .max()
        .unwrap_or(0)
}

/// When each delta request after `since` was answered (ms since the emulator started).
fn delta_times(env: &Env, since: u64) -> Vec<f64> {
    env.get(&format!("/_emulator/log?since={since}"))["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["route"] == "delta")
        .map(|e| e["elapsedMs"].as_f64().unwrap())
        .collect()
}

#[test]
fn endless_pages_are_cut_at_the_round_limits_with_paced_requests_and_the_cursor_kept() {
    let env = env();
    let limits = RoundLimits {
        pages: 25,
        items: 2_000,
        bytes: 512 << 20,
        burst: 5,
        per_second: 10.0,
    };
    let mut feed = DeltaFeed::new(client(&env), drive_target(), None).with_limits(limits);
    let start = env
        .rt
        .block_on(feed.enumerate(&mut LastWins::default(), false))
        .unwrap();
    let before = upload(&env, "Endless/before.txt");
    // (transient?, the message) of a failed round.
    let round = |feed: &mut DeltaFeed| {
        env.rt
            .block_on(async {
                tokio::time::timeout(
                    Duration::from_secs(120),
                    feed.round(&mut LastWins::default()),
                )
                .await
            })
            .expect("the round ends")
            .map_err(|e| (e.is_transient(), e.to_string()))
    };

    // New ids on every page: cut past 2,000 items, i.e. at the 21st page of 100.
    env.post(
        "/_emulator/faults/pages",
        json!({"mode": "endless", "itemsPerPage": 100}),
    );
    let since = log_seq(&env);
    let (transient, message) = round(&mut feed).unwrap_err();
    assert!(transient, "{message}");
    assert!(
        message.contains("cut at page 21: more than 2000 items")
            && message.contains("the cursor stays where it was"),
        "{message}"
    );
    assert_eq!(feed.cursor(), Some(start.as_str()), "not advanced");
    let times = delta_times(&env, since);
    assert_eq!(times.len(), 21, "requests of the cut round");
    // Paced: at most the burst of 5 at once, then 10 a second, so the 21st request
    // comes at least 1.6 s after the first (less a margin for when the log notes it).
    let span = times[20] - times[0];
    assert!(span >= 1_400.0, "21 requests in {span:.0} ms");

    // Empty pages that never end: cut at the page limit.
    env.post(
        "/_emulator/faults/pages",
        json!({"mode": "endless", "itemsPerPage": 0}),
    );
    let since = log_seq(&env);
    let (transient, message) = round(&mut feed).unwrap_err();
    assert!(
        transient && message.contains("cut after 25 pages without an end"),
        "{message}"
    );
    assert_eq!(delta_times(&env, since).len(), 25);
    assert_eq!(feed.cursor(), Some(start.as_str()), "not advanced");

    // A sane server again: the kept cursor still has the change made before the cuts.
    env.post("/_emulator/faults/clear", json!({}));
    let Outcome::Changes(round) = round(&mut feed).unwrap() else {
        panic!("a resync instead of the changes");
    };
    assert!(
        round.changes.iter().any(|c| c.id == before),
        "the change made before the cut rounds"
    );
    assert!(round.changes.iter().all(|c| !c.id.starts_with("endless-")));
    eprintln!(
        "endless pages: cut at 21 requests (2,000 items) and at 25 empty pages; 21 paced requests in {span:.0} ms"
    );
}

#[test]
fn endless_pages_in_the_binary_are_paced_to_the_documented_rate_and_the_watch_goes_on() {
    let env = env();
    let w = Watcher::start(
        &env,
        &["drive", "me", "--changes", "--poll", "10m", "-o", "json"],
    );
    w.wait_stderr("watching drive:me");
    // Empty pages for ever: only the pace bounds the requests of this round.
    env.post(
        "/_emulator/faults/pages",
        json!({"mode": "endless", "itemsPerPage": 0}),
    );
    let since = log_seq(&env);
    upload(&env, "Endless/during.txt");
    let deadline = Instant::now() + PATIENCE;
    while env.counter("faults.pages") < 130 {
        assert!(Instant::now() < deadline, "{}", w.stderr());
        std::thread::sleep(Duration::from_millis(50));
    }
    env.post("/_emulator/faults/clear", json!({}));
    let times: Vec<f64> = env.get(&format!("/_emulator/log?since={since}"))["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["route"] == "delta" && e["kind"] == "fault")
        .map(|e| e["elapsedMs"].as_f64().unwrap())
        .collect();
    // 100 at once, then 10 a second: the n-th page at least (n − 100) / 10 s after the
    // first (less a tenth for when the log notes it).
    let n = times.len();
    let span = times[n - 1] - times[0];
    let least = (n as f64 - 100.0) * 100.0 * 0.9;
    assert!(span >= least, "{n} requests in {span:.0} ms");
    eprintln!("endless pages, binary: {n} requests in {span:.0} ms (at least {least:.0} ms)");

    // Cleared, the round's next link is an unknown cursor (410): a resync line, and the
    // stream goes on.
    w.until(|seen| seen.iter().any(|l| l["type"] == "resync"));
    let after = upload(&env, "Endless/after.txt");
    w.until(|seen| has(seen, &after, "created"));
}

/// A full disk when a round's cursor and index are saved (the file-size limit stands in
/// for it, as in transient_tokens.rs): the watch goes on, says so once, keeps writing
/// changes, and saves a later cursor once there is room; the file never holds a cursor
/// past what was written.
#[cfg(target_os = "linux")]
#[test]
fn a_full_disk_when_saving_the_cursor_does_not_end_the_watch() {
    use common::{in_shell, lift_file_size_limit, limit_file_size};
    let env = Env::start_with(|args| {
        args.settings.notify_delay_ms = 50;
        args.settings.delta_page_size = 1000;
    });
    let state = env.config_dir().join("full.db");
    let mut cmd = env.std_cmd(&[
        "drive",
        "me",
        "--changes",
        "--state",
        state.to_str().unwrap(),
        "-o",
        "json",
    ]);
    cmd.env("GRAPHWATCH_ACCESS_TOKEN", env.mint(ADELE));
    let w = Watcher::spawn_cmd(in_shell(cmd, "trap '' XFSZ"));
    w.wait_stderr("watching drive:me");
    let cursor = common::saved_state(&state)["targets"]["drive:me"]["deltaLink"].clone();
    assert!(cursor.is_string(), "the first enumeration was saved");
    // The disk is full from now on: no file may grow past a byte.
    limit_file_size(w.child.id(), 1);
    let during = upload(&env, "Full/during.txt");
    w.until(|seen| has(seen, &during, "created"));
    w.wait_stderr("cannot save its cursor and index");
    assert_eq!(
        common::saved_state(&state)["targets"]["drive:me"]["deltaLink"],
        cursor,
        "nothing could be saved"
    );
    lift_file_size_limit(w.child.id());
    let after = upload(&env, "Full/after.txt");
    w.until(|seen| has(seen, &after, "created"));
    w.wait_stderr("its cursor is saved in");
    let saved = common::saved_state(&state);
    assert!(
        saved["targets"]["drive:me"]["deltaLink"].is_string()
            && saved["targets"]["drive:me"]["deltaLink"] != cursor,
        "{saved}"
    );
    assert_eq!(
        w.stderr()
            .matches("the stream goes on, and a later round")
            .count(),
        1,
        "said once: {}",
        w.stderr()
    );
}
