//! `--sink nats://…` against a real `nats-server -js` started here (tests/common/nats.rs),
//! and the in-process emulator making real changes. The stream is read back as a
//! consumer would; nothing waits on a fixed sleep (output and the stream are polled
//! against a deadline).

use crate::common;

use std::collections::{HashMap, HashSet};

use common::nats::NatsServer;
use common::watcher::{has, upload, Watcher};
use common::Env;
use serde_json::Value;

/// The stream graphwatch creates for the subject `graph.changes`.
const STREAM: &str = "GRAPHWATCH_graph_changes";

fn env() -> Env {
    Env::start_with(|args| {
        args.settings.notify_delay_ms = 50;
        args.settings.delta_page_size = 1000;
    })
}

/// `created` messages per item id in what the stream holds.
fn created(stored: &[(Option<String>, Value)]) -> HashMap<String, usize> {
    let mut counts = HashMap::new();
    for (_, body) in stored {
        if body["change"] == "created" {
            *counts
                .entry(body["item"]["id"].as_str().unwrap().to_string())
                .or_default() += 1;
        }
    }
    counts
}

fn all_created(ids: &[String]) -> impl Fn(&[(Option<String>, Value)]) -> bool + '_ {
    move |stored| {
        let counts = created(stored);
        ids.iter().all(|id| counts.contains_key(id))
    }
}

/// Item ids the state file's committed index holds for `drive:me`.
fn committed(state: &std::path::Path) -> HashSet<String> {
    common::saved_state(state)["items"]["drive:me"]
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(|i| i["id"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// A watch into `url` that the sink refuses for good: it ends with exit 1; its stderr.
fn refused(env: &Env, url: &str) -> String {
    let out = env
        .cmd(&[
            "drive",
            "me",
            "--changes",
            "--sink",
            url,
            "--timeout",
            "20s",
        ])
        .env("GRAPHWATCH_ACCESS_TOKEN", env.mint(common::ADELE))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    stderr
}

#[test]
fn every_event_is_published_once_with_its_id_as_nats_msg_id() {
    let env = env();
    let bus = NatsServer::start(&env.config_dir().join("js"));
    let url = bus.url("graph.changes");
    let w = Watcher::start(&env, &["drive", "me", "--changes", "--sink", &url]);
    w.wait_stderr("watching drive:me");
    let ids: Vec<String> = (0..5)
        .map(|i| upload(&env, &format!("Bus/f{i}.txt")))
        .collect();
    // stdout still gets every line.
    let lines = w.until(|seen| ids.iter().all(|id| has(seen, id, "created")));
    let stored = bus.until(STREAM, all_created(&ids));
    for id in &ids {
        assert_eq!(created(&stored).get(id), Some(&1), "{id} once: {stored:?}");
    }
    // Each message is the stdout line, byte for byte as JSON, its id the Nats-Msg-Id.
    for (msg_id, body) in &stored {
        assert_eq!(msg_id.as_deref(), body["id"].as_str(), "{body}");
        assert!(lines.contains(body), "{body} on stdout too");
    }
}

#[test]
fn tls_url_with_sink_ca_publishes_over_tls() {
    let env = env();
    let bus = NatsServer::start_tls(&env.config_dir().join("js"));
    let url = bus.url("graph.changes");
    assert!(url.starts_with("tls://"), "{url}");
    let ca = bus.ca().unwrap().to_str().unwrap();
    // Without the CA the server's certificate is not trusted: one line, exit 1.
    let stderr = refused(&env, &url);
    assert!(stderr.contains("sink tls://127.0.0.1"), "{stderr}");
    // With it: published, over TLS (the server accepts nothing else).
    let w = Watcher::start(
        &env,
        &["drive", "me", "--changes", "--sink", &url, "--sink-ca", ca],
    );
    w.wait_stderr("watching drive:me");
    let id = upload(&env, "Tls/t.txt");
    let stored = bus.until(STREAM, all_created(std::slice::from_ref(&id)));
    assert_eq!(created(&stored).get(&id), Some(&1));
}

/// A bus run with accounts (operator mode, JWTs) takes only a client with the user's
/// credentials file: without one the sign-in is refused, which waiting will not fix
/// (exit 1, one line); with `GRAPHWATCH_SINK_CREDS` events are published, and the
/// file's seed never shows on stderr.
#[test]
fn sink_creds_sign_in_to_a_bus_with_accounts_and_without_them_exit_1() {
    let env = env();
    let bus = NatsServer::start_with_accounts(&env.config_dir().join("js"));
    let url = bus.url("graph.changes");
    let creds = bus.creds().unwrap();
    let stderr = refused(&env, &url);
    assert!(stderr.contains("sink nats://127.0.0.1"), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");

    let mut cmd = env.std_cmd(&["drive", "me", "--changes", "--sink", &url]);
    cmd.env("GRAPHWATCH_ACCESS_TOKEN", env.mint(common::ADELE))
        .env("GRAPHWATCH_SINK_CREDS", creds);
    let w = Watcher::spawn_cmd(cmd);
    w.wait_stderr("watching drive:me");
    let id = upload(&env, "Creds/c.txt");
    let stored = bus.until(STREAM, all_created(std::slice::from_ref(&id)));
    assert_eq!(created(&stored).get(&id), Some(&1));
    let file = std::fs::read_to_string(creds).unwrap();
    let seed = file
        .lines()
        .skip_while(|l| !l.contains("BEGIN USER NKEY SEED"))
        .nth(1)
        .unwrap();
    assert!(seed.starts_with("SU"), "a user seed: {seed}");
    assert!(!w.stderr().contains(seed), "{}", w.stderr());
}

#[test]
fn bus_down_mid_burst_loses_nothing_and_commits_nothing_early() {
    let env = env();
    let state = env.config_dir().join("state.db");
    let mut bus = NatsServer::start(&env.config_dir().join("js"));
    let url = bus.url("graph.changes");
    let args = [
        "drive",
        "me",
        "--changes",
        "--state",
        state.to_str().unwrap(),
        "--sink",
        &url,
        "--backoff",
        "200ms..1s",
    ];
    let w = Watcher::start(&env, &args);
    w.wait_stderr("watching drive:me");
    let before: Vec<String> = (0..3)
        .map(|i| upload(&env, &format!("Down/a{i}.txt")))
        .collect();
    bus.until(STREAM, all_created(&before));

    // The bus dies; a burst comes in meanwhile.
    bus.kill();
    let during: Vec<String> = (0..5)
        .map(|i| upload(&env, &format!("Down/b{i}.txt")))
        .collect();
    // graphwatch writes the lines, cannot get them acknowledged, says so once, and
    // holds the cursor: the state file does not get the burst.
    w.until(|seen| during.iter().all(|id| has(seen, id, "created")));
    w.wait_stderr("holding");
    let saved = committed(&state);
    for id in &during {
        assert!(!saved.contains(id), "{id} committed before the bus had it");
    }
    assert_eq!(
        w.stderr().matches("holding").count(),
        1,
        "said once: {}",
        w.stderr()
    );

    // The bus comes back (same port, same store): everything arrives, once.
    bus.restart();
    w.wait_stderr("delivering again");
    let mut all = before.clone();
    all.extend(during.iter().cloned());
    let stored = bus.until(STREAM, all_created(&all));
    for id in &all {
        assert_eq!(created(&stored).get(id), Some(&1), "{id} once: {stored:?}");
    }
    // …and only then the cursor moves.
    let deadline = std::time::Instant::now() + common::watcher::PATIENCE;
    while !during.iter().all(|id| committed(&state).contains(id)) {
        assert!(std::time::Instant::now() < deadline, "never committed");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

#[test]
fn kill_9_between_publish_and_commit_repeats_the_round_and_the_stream_drops_it() {
    let env = env();
    let state = env.config_dir().join("state.db");
    let bus = NatsServer::start(&env.config_dir().join("js"));
    let url = bus.url("graph.changes");
    let args = [
        "drive",
        "me",
        "--changes",
        "--state",
        state.to_str().unwrap(),
        "--sink",
        &url,
    ];
    let first = Watcher::start(&env, &args);
    first.wait_stderr("watching drive:me");
    // Another process holds the state file's write lock: the round is published and
    // acknowledged, but its commit cannot happen. Then kill -9.
    let blocker = rusqlite::Connection::open(&state).unwrap();
    blocker.execute_batch("BEGIN IMMEDIATE").unwrap();
    let ids: Vec<String> = (0..4)
        .map(|i| upload(&env, &format!("Kill/k{i}.txt")))
        .collect();
    bus.until(STREAM, all_created(&ids));
    let status = std::process::Command::new("kill")
        .args(["-9", &first.pid()])
        .status()
        .unwrap();
    assert!(status.success());
    drop(first);
    blocker.execute_batch("ROLLBACK").unwrap();
    drop(blocker);
    assert!(ids.iter().all(|id| !committed(&state).contains(id)));

    // The restart repeats the round from the old cursor and publishes it again…
    let second = Watcher::start(&env, &args);
    let again = second.until(|seen| ids.iter().all(|id| has(seen, id, "created")));
    let deadline = std::time::Instant::now() + common::watcher::PATIENCE;
    while !ids.iter().all(|id| committed(&state).contains(id)) {
        assert!(std::time::Instant::now() < deadline, "never committed");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    // …and the consumer still sees each change once: the duplicate window dropped the
    // repeats by their Nats-Msg-Id.
    let stored = bus.stored(STREAM);
    for id in &ids {
        assert_eq!(created(&stored).get(id), Some(&1), "{id} once: {stored:?}");
    }
    for line in again.iter().filter(|l| l["change"] == "created") {
        assert!(
            stored
                .iter()
                .any(|(msg_id, _)| msg_id.as_deref() == line["id"].as_str()),
            "the repeat has the first one's id: {line}"
        );
    }
}

#[test]
fn two_processes_into_one_stream_reach_the_consumer_once() {
    let env = env();
    let dir = env.config_dir();
    let bus = NatsServer::start(&dir.join("js"));
    let url = bus.url("graph.changes");
    let (one, two) = (dir.join("one.db"), dir.join("two.db"));
    let start = |state: &std::path::Path| {
        Watcher::start(
            &env,
            &[
                "drive",
                "me",
                "--changes",
                "--state",
                state.to_str().unwrap(),
                "--sink",
                &url,
            ],
        )
    };
    let (a, b) = (start(&one), start(&two));
    a.wait_stderr("watching drive:me");
    b.wait_stderr("watching drive:me");
    let ids: Vec<String> = (0..6)
        .map(|i| upload(&env, &format!("Ha/h{i}.txt")))
        .collect();
    // Both wrote every change (either could stop now and nothing would be missing)…
    let done = |seen: &[Value]| ids.iter().all(|id| has(seen, id, "created"));
    let (seen_a, seen_b) = (a.until(done), b.until(done));
    let id_of = |seen: &[Value], item: &str| {
        seen.iter()
            .find(|l| l["change"] == "created" && l["item"]["id"] == item)
            .map(|l| l["id"].clone())
    };
    for id in &ids {
        assert_eq!(id_of(&seen_a, id), id_of(&seen_b, id), "same id from both");
    }
    // …and the stream holds each once. Both processes' acks are in before their
    // commits, so once both committed, nothing more can come.
    let deadline = std::time::Instant::now() + common::watcher::PATIENCE;
    while !ids
        .iter()
        .all(|id| committed(&one).contains(id) && committed(&two).contains(id))
    {
        assert!(std::time::Instant::now() < deadline, "never committed");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let stored = bus.stored(STREAM);
    for id in &ids {
        assert_eq!(created(&stored).get(id), Some(&1), "{id} once: {stored:?}");
    }
}

#[test]
fn sink_options_are_checked_in_one_line() {
    let env = env();
    for (args, needle) in [
        (
            vec!["--sink", "http://hooks.example/in"],
            "plain http is only for loopback",
        ),
        (vec!["--sink", "nats://127.0.0.1:4222"], "no subject"),
        (
            vec!["--sink", "nats://u:secretpw@127.0.0.1:4222/x"],
            "process list",
        ),
        (vec!["--sink-batch"], "--sink-batch is for --sink"),
        (
            vec!["--sink", "nats://127.0.0.1:4222/x", "--sink-batch"],
            "--sink-batch is for webhooks",
        ),
    ] {
        let mut all = vec!["drive", "me", "--changes"];
        all.extend(args);
        let out = env.cmd(&all).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{all:?}: {stderr}");
        assert!(stderr.contains(needle), "{all:?}: {stderr}");
        assert!(!stderr.contains("secretpw"), "{stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    }
}
