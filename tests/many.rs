//! Many targets: `SITE/*`, `--followed-sites`, a library found by a rescan, `--shard`,
//! and 500 targets in one process with bounded threads (docs/scale.md).

use std::collections::BTreeSet;

use crate::common;

use common::watcher::{graph, Watcher};
use common::Env;
use serde_json::{json, Value};

const ENG: &str = "contoso.sharepoint.com/sites/eng";

/// The label of bulk site `n`'s default library (`POST /_emulator/sites`).
fn bulk_library(prefix: &str, n: usize) -> String {
    format!("drive:contoso.sharepoint.com/sites/{prefix}-{n:04}/Shared%20Documents")
}

/// The targets that joined (their `connected … joined` status line), until `done`.
fn joined_until(w: &Watcher, mut done: impl FnMut(&BTreeSet<String>) -> bool) -> BTreeSet<String> {
    let mut joined = BTreeSet::new();
    while !done(&joined) {
        let line = w.next();
        if line["type"] == "status" && line["state"] == "connected" && line["reason"] == "joined" {
            joined.insert(line["target"].as_str().unwrap().to_string());
        }
    }
    joined
}

/// Upload a file into drive `drive_id`.
fn upload_to(env: &Env, drive_id: &str, name: &str) {
    graph(
        env,
        reqwest::Method::PUT,
        &format!("/drives/{drive_id}/root:/{name}:/content"),
        Some(Value::String(format!("content of {name}"))),
    );
}

/// Wait for a notification of `label`; the lines before it are skipped.
fn wait_notification(w: &Watcher, label: &str) {
    w.until(|seen| {
        seen.last()
            .is_some_and(|l| l["type"] == "notification" && l["target"] == label)
    });
}

/// `SITE/*` is the site's libraries and its lists, not the hidden ones nor those behind
/// a library (their drive is watched); a library added later is found by the rescan,
/// said on stderr, joins, and its changes are written.
#[test]
fn a_whole_site_is_its_libraries_and_lists_and_grows_with_it() {
    let env = Env::start();
    // A hidden list in the seed site: `GET /sites/{id}/lists` returns it, SITE/* skips it.
    env.post(
        "/_emulator/sites",
        json!({"count": 1, "prefix": "solo", "lists": 1, "follow": false}),
    );
    let w = Watcher::start(
        &env,
        &[
            "watch",
            "--drive",
            &format!("https://{ENG}/*"),
            "--list",
            "site:site-solo-0000/*",
            "--status-events",
            "--rescan",
            "1s",
            "-o",
            "json",
        ],
    );
    let expected: BTreeSet<String> = [
        format!("drive:{ENG}/Shared%20Documents"),
        format!("drive:{ENG}/Specs"),
        format!("list:{ENG}/Lists/Issues"),
        bulk_library("solo", 0),
        "list:contoso.sharepoint.com/sites/solo-0000/Lists/List00".to_string(),
    ]
    .into();
    let joined = joined_until(&w, |j| j.len() == expected.len());
    assert_eq!(joined, expected);

    let added = env.post(
        "/_emulator/libraries",
        json!({"site": "site-eng", "name": "Contracts"}),
    );
    let drive = added["drive"].as_str().unwrap();
    let label = format!("drive:{ENG}/Contracts");
    w.wait_stderr(&format!("{label}: new since the start"));
    let joined = joined_until(&w, |j| j.contains(&label));
    assert_eq!(joined.len(), 1, "only the new library joins: {joined:?}");
    upload_to(&env, drive, "contract.docx");
    wait_notification(&w, &label);
}

/// 500 targets (`--followed-sites` over 500 sites, and the seed site's two libraries)
/// in one process: every one joins, a change in the 500th is written, and the process
/// has as many threads with 500 targets as with 2 — one task per link, not a thread.
#[test]
fn five_hundred_targets_in_one_process() {
    let env = Env::start();
    let watch = |env: &Env| {
        Watcher::start(
            env,
            &["watch", "--followed-sites", "--status-events", "-o", "json"],
        )
    };
    // The baseline: Adele follows the seed site, two libraries.
    let small = watch(&env);
    joined_until(&small, |j| j.len() == 2);
    let small_threads = threads(&small);
    drop(small);

    let made = env.post("/_emulator/sites", json!({"count": 500, "prefix": "many"}));
    assert_eq!(made["sites"].as_array().unwrap().len(), 500);
    let w = watch(&env);
    let joined = joined_until(&w, |j| j.len() == 502);
    assert!(joined.contains(&bulk_library("many", 499)), "{joined:?}");
    let drive = graph(
        &env,
        reqwest::Method::GET,
        "/sites/site-many-0499/drive",
        None,
    );
    upload_to(&env, drive["id"].as_str().unwrap(), "last.txt");
    wait_notification(&w, &bulk_library("many", 499));

    let many_threads = threads(&w);
    assert!(
        many_threads <= small_threads + 2,
        "threads: {small_threads} with 2 targets, {many_threads} with 502"
    );
}

/// Threads of a running graphwatch (`/proc/PID/task`); on other systems a constant.
fn threads(w: &Watcher) -> usize {
    std::fs::read_dir(format!("/proc/{}/task", w.pid()))
        .map(|d| d.count())
        .unwrap_or(1)
}

/// `--shard 1/3`, `2/3`, `3/3` given the same SPECs watch every target once between
/// them, each the targets whose label's FNV-1a 64 is its I-1 modulo 3, as docs/scale.md
/// documents (computed here independently of graphwatch's own code).
#[test]
fn shards_partition_the_targets_by_the_documented_hash() {
    let fnv1a = |bytes: &[u8]| {
        bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |hash, &b| {
            (hash ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
        })
    };
    let env = Env::start();
    env.post("/_emulator/sites", json!({"count": 30, "prefix": "shard"}));
    let all: BTreeSet<String> = (0..30)
        .map(|n| bulk_library("shard", n))
        .chain([
            format!("drive:{ENG}/Shared%20Documents"),
            format!("drive:{ENG}/Specs"),
        ])
        .collect();
    let mut seen = BTreeSet::new();
    for i in 1..=3u64 {
        let expected: BTreeSet<String> = all
            .iter()
            .filter(|label| fnv1a(label.as_bytes()) % 3 == i - 1)
            .cloned()
            .collect();
        assert!(!expected.is_empty(), "shard {i} of 3 would be empty");
        let shard = format!("{i}/3");
        let w = Watcher::start(
            &env,
            &[
                "watch",
                "--followed-sites",
                "--shard",
                &shard,
                "--status-events",
                "-o",
                "json",
            ],
        );
        let joined = joined_until(&w, |j| j.len() >= expected.len());
        assert_eq!(joined, expected, "shard {shard}");
        assert!(seen.is_disjoint(&joined), "shard {shard} overlaps");
        seen.extend(joined);
    }
    assert_eq!(seen, all);
}

/// Explicit SPECs are looked up at once, not one after another: 40 library URLs with
/// Graph answering 50 ms late have many lookups in flight together (sequential, one),
/// and every target joins.
#[test]
fn explicit_specs_are_looked_up_at_once() {
    let env = Env::start_with(|args| args.settings.graph_latency_ms = 50);
    env.post(
        "/_emulator/sites",
        json!({"count": 40, "prefix": "named", "follow": false}),
    );
    let specs: Vec<String> = (0..40)
        .map(|n| format!("https://contoso.sharepoint.com/sites/named-{n:04}/Shared%20Documents"))
        .collect();
    let mut args: Vec<&str> = vec!["watch", "--status-events", "-o", "json"];
    for spec in &specs {
        args.extend(["--drive", spec.as_str()]);
    }
    let w = Watcher::start(&env, &args);
    joined_until(&w, |j| j.len() == 40);
    let peak = env.counter("requests.graph.peakInFlight");
    assert!(peak >= 8, "lookups in flight at once: {peak}");
}
