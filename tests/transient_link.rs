//! Issue 17, the link's share: conditions that pass must never cost changes or a
//! target. Links that flap every few seconds (the emulator's `sockets/flap`), a long
//! wait after a drop with `--changes`, a local clock two hours ahead of the service's
//! (the emulator's `clockSkewSecs`), running out of file descriptors while links are
//! opened, and the machine waking from a suspend.
//!
//! Latencies come from the emulator's log (when an upload was answered) and the
//! `time` of the change line that reported it; both read the same machine's clock.

use crate::common;

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use chrono::{DateTime, Utc};
use common::watcher::{add_issue, change, has, upload, Watcher, PATIENCE};
use common::{log, Env, ADELE, GROUP_ID};
use graphwatch::testing::{
    http_client, GraphClient, Report, Secret, Status, Supervisor, SupervisorOptions, Target,
    TargetKind, ToLoop, TokenSource,
};
use graphwatch_emulator::seed;
use serde_json::{json, Value};

fn env() -> Env {
    Env::start_with(|args| {
        args.ping_interval_ms = 300;
        args.ping_timeout_ms = 300;
        args.settings.notify_delay_ms = 50;
        args.settings.delta_page_size = 1000;
    })
}

fn time_of(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .unwrap_or_else(|e| panic!("{e}: {text}"))
        .with_timezone(&Utc)
}

/// Poll the emulator (not the clock) until `ok`, within PATIENCE.
fn eventually(what: &str, mut ok: impl FnMut() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !ok() {
        assert!(Instant::now() < deadline, "never: {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Links that drop every 2–5 s (a kill and a socket.io disconnect in turn) while a file
/// is uploaded every 700 ms for 30 s, with the default backoff (1 s doubling to 60 s):
/// every upload is written, and the p99 latency from the upload's answer to its
/// change line is at most 5 s (issue 17's target). With a backoff that resets only
/// after a minute up, the waits climb to 8 and 16 s within that time and so do the
/// latencies.
#[test]
fn flapping_links_lose_nothing_and_keep_change_latency_low() {
    let env = env();
    let w = Watcher::start(
        &env,
        &["drive", "me", "--changes", "--poll", "10m", "-o", "json"],
    );
    w.wait_stderr("watching drive:me");
    env.post(
        "/_emulator/sockets/flap",
        json!({"minMs": 2000, "maxMs": 5000}),
    );
    let started = Instant::now();
    let mut uploads: Vec<(String, String)> = Vec::new();
    let mut n = 0;
    while started.elapsed() < Duration::from_secs(30) {
        n += 1;
        let path = format!("Flap/f-{n}.txt");
        uploads.push((upload(&env, &path), path));
        // Slower than the debounce (500 ms), so that a round follows each notification
        // and the latency measured is the link's, not the coalescer's `max_delay`.
        std::thread::sleep(Duration::from_millis(700));
    }
    env.post("/_emulator/sockets/flap", json!({"stop": true}));

    let lines = w.until(|seen| {
        let ids: HashSet<String> = seen.iter().filter_map(change).map(|(id, _)| id).collect();
        uploads.iter().all(|(id, _)| ids.contains(id))
    });
    // At least once: a change may be written again; its first line is what counts.
    let mut written: HashMap<String, DateTime<Utc>> = HashMap::new();
    for line in &lines {
        if let Some((id, _)) = change(line) {
            written
                .entry(id)
                .or_insert_with(|| time_of(line["time"].as_str().expect("time")));
        }
    }

    let entries = log(&env);
    let drops = entries.iter().filter(|e| e["kind"] == "fault-flap").count();
    let mut latencies: Vec<f64> = uploads
        .iter()
        .map(|(id, path)| {
            let put = entries
                .iter()
                .find(|e| {
                    e["method"] == "PUT"
                        && e["path"]
                            .as_str()
                            .is_some_and(|p| p.contains(&format!("/{path}:")))
                })
                .unwrap_or_else(|| panic!("the upload of {path} in the log"));
            let made = time_of(put["time"].as_str().expect("time"));
            (written[id] - made).num_milliseconds() as f64 / 1000.0
        })
        .collect();
    latencies.sort_by(f64::total_cmp);
    let (p50, p99, max) = (
        percentile(&latencies, 50.0),
        percentile(&latencies, 99.0),
        *latencies.last().unwrap(),
    );
    eprintln!(
        "flapping links: {} uploads, {drops} drops, all written; change latency p50 {p50:.2} s, \
         p99 {p99:.2} s, max {max:.2} s; {} socketIo and {} delta requests",
        uploads.len(),
        env.counter("requests.socketio"),
        env.counter("requests.delta"),
    );
    assert!(drops >= 4, "only {drops} drops: the links did not flap");
    assert!(
        p99 <= 5.0,
        "p99 change latency {p99:.2} s > 5 s: {latencies:?}"
    );
}

/// With `--changes`, a wait after a drop that is longer than `--fallback-poll` is an
/// outage like a failed attempt: delta is asked meanwhile, so a change made during the
/// wait is written before the link is back.
#[test]
fn a_wait_after_a_drop_longer_than_the_fallback_poll_asks_delta_meanwhile() {
    let env = env();
    let w = Watcher::start(
        &env,
        &[
            "drive",
            "me",
            "--changes",
            "--poll",
            "10m",
            "--fallback-poll",
            "1s",
            "--backoff",
            "5s..5s",
            "-o",
            "json",
        ],
    );
    w.wait_stderr("watching drive:me");
    env.post("/_emulator/sockets/kill", json!({}));
    w.wait_stderr("drive:me: disconnected");
    let during = upload(&env, "Wait/during.txt");
    w.until(|seen| has(seen, &during, "created"));

    let entries = log(&env);
    let killed = entries
        .iter()
        .find(|e| e["kind"] == "fault-kill")
        .expect("the kill in the log");
    let put = entries
        .iter()
        .find(|e| e["method"] == "PUT")
        .expect("the upload in the log");
    let after = |from: &Value, ok: &dyn Fn(&Value) -> bool| {
        entries
            .iter()
            .find(|e| e["seq"].as_u64() > from["seq"].as_u64() && ok(e))
            .cloned()
    };
    let polled = after(put, &|e| e["route"] == "delta").expect("a delta request");
    let back = after(killed, &|e| e["kind"] == "socket-connected");
    if let Some(back) = &back {
        assert!(
            polled["seq"].as_u64() < back["seq"].as_u64(),
            "the change waited for the link: delta asked at {} ms, link back at {} ms",
            polled["elapsedMs"],
            back["elapsedMs"]
        );
    }
    eprintln!(
        "long wait after a drop: upload to the next delta request {:.0} ms (link back {})",
        polled["elapsedMs"].as_f64().unwrap() - put["elapsedMs"].as_f64().unwrap(),
        back.map_or("later".to_string(), |b| format!(
            "{:.0} ms after the kill",
            b["elapsedMs"].as_f64().unwrap() - killed["elapsedMs"].as_f64().unwrap()
        )),
    );
    assert!(
        w.stderr()
            .contains("drive:me: no socket for now; asking delta every 1s until it is back"),
        "{}",
        w.stderr()
    );
    w.wait_stderr("drive:me: reconnected");
    let after_link = upload(&env, "Wait/after.txt");
    w.until(|seen| has(seen, &after_link, "created"));
}

/// The local clock two hours ahead of the service's (the emulator's clock set two
/// hours behind): by the local clock the hour-long subscription expired an hour ago,
/// and a client that trusts it renews every second. Timed by the service's `Date`
/// header, it is not due for 58 minutes: one socketIo request in the window, and one
/// warning.
#[test]
fn a_clock_two_hours_ahead_does_not_renew_and_warns_once() {
    let env = Env::start_with(|args| {
        args.settings.notify_delay_ms = 50;
        args.settings.clock_skew_secs = -7200;
    });
    let w = Watcher::start(&env, &["drive", "me", "-o", "json"]);
    w.wait_stderr("watching drive:me");
    // An observation window: nothing may happen in it, so there is no event to await.
    // A client timing renewal by the local clock renews about once a second.
    std::thread::sleep(Duration::from_secs(5));
    upload(&env, "skewed.txt");
    assert_eq!(w.next()["type"], "notification", "the link works");
    let gets = env.socketio_requests().len();
    let stderr = w.stderr();
    eprintln!("clock 2 h ahead: {gets} socketIo request(s) in 5 s");
    assert_eq!(gets, 1, "renewed on a wrong clock: {stderr}");
    assert_eq!(
        stderr
            .matches("this machine's clock is 120m ahead of Microsoft Graph's")
            .count(),
        1,
        "{stderr}"
    );
}

/// Out of file descriptors while the links are opened again: every target retries
/// and comes back once descriptors are free, none is lost. The watcher's soft
/// `RLIMIT_NOFILE` is lowered below what it holds (`prlimit`, after its start, so a
/// raise at start-up cannot undo it), every socket is killed, and the limit is put
/// back once each target has failed to reopen.
#[cfg(target_os = "linux")]
#[test]
fn running_out_of_file_descriptors_loses_no_target() {
    let env = env();
    let group = format!("group:{GROUP_ID}");
    let mut w = Watcher::start(
        &env,
        &[
            "watch",
            "--drive",
            "me",
            "--drive",
            &group,
            "--list",
            "site-eng/list-issues",
            "-o",
            "json",
            "--backoff",
            "200ms..1s",
        ],
    );
    w.wait_stderr_all(&[
        "watching drive:me",
        "watching drive:group:",
        "watching list:site-eng/list-issues",
    ]);
    eventually("three live sockets", || {
        env.get("/_emulator/stats")["liveSockets"] == 3
    });
    let pid = w.pid();
    let soft = prlimit(&pid, None);
    prlimit(&pid, Some("8"));
    env.post("/_emulator/sockets/kill", json!({}));
    let labels = [
        "drive:me".to_string(),
        format!("drive:{group}"),
        "list:site-eng/list-issues".to_string(),
    ];
    let failed: Vec<String> = labels
        .iter()
        .map(|l| {
            format!("{l}: cannot connect (cannot start the socket.io client: Too many open files")
        })
        .collect();
    w.wait_stderr_all(&failed.iter().map(String::as_str).collect::<Vec<_>>());
    prlimit(&pid, Some(&soft));
    let back: Vec<String> = labels.iter().map(|l| format!("{l}: reconnected")).collect();
    w.wait_stderr_all(&back.iter().map(String::as_str).collect::<Vec<_>>());
    eventually("three live sockets again", || {
        env.get("/_emulator/stats")["liveSockets"] == 3
    });
    assert!(w.child.try_wait().unwrap().is_none(), "{}", w.stderr());
    let stderr = w.stderr();
    assert!(!stderr.contains("stopped watching"), "{stderr}");
    upload(&env, "after-emfile.txt");
    add_issue(&env, "after EMFILE");
    let lines = w.json_lines(2);
    assert!(
        lines.iter().all(|l| l["type"] == "notification"),
        "{lines:?}"
    );
    let failures = stderr.matches("Too many open files").count();
    eprintln!("EMFILE: {failures} failed attempts, then 3 of 3 targets live");
}

/// `prlimit --pid PID --nofile`: set the soft limit (keeping the hard one) when `soft`
/// is given; the soft limit as it was, in any case.
#[cfg(target_os = "linux")]
fn prlimit(pid: &str, soft: Option<&str>) -> String {
    let read = std::process::Command::new("prlimit")
        .args(["--pid", pid, "--nofile", "--output", "SOFT", "--noheadings"])
        .output()
        .expect("prlimit (util-linux) is needed for this test");
    assert!(read.status.success(), "{}", common::stderr(&read));
    let before = common::stdout(&read).trim().to_string();
    if let Some(soft) = soft {
        let set = std::process::Command::new("prlimit")
            .args(["--pid", pid, &format!("--nofile={soft}:")])
            .output()
            .expect("prlimit");
        assert!(set.status.success(), "{}", common::stderr(&set));
    }
    before
}

/// How far the test's wall clock is ahead of the real one; only the suspend test moves
/// it, and only its supervisor reads it.
static WALL_AHEAD_SECS: AtomicU64 = AtomicU64::new(0);

fn moved_wall_clock() -> SystemTime {
    SystemTime::now() + Duration::from_secs(WALL_AHEAD_SECS.load(Ordering::SeqCst))
}

/// A suspend, as the process sees it on waking: the wall clock an hour further on, the
/// monotonic one not. A supervisor runs in-process with that wall clock (a real
/// suspend cannot be made in a test, and SIGSTOP is not one: both clocks run while a
/// process is stopped). The emulator pings every 25 s and waits 20 s, as Graph is said
/// to, so nothing but the jump can make the link go: after it the link is replaced at
/// once, while live and while waiting out a minute's backoff.
#[test]
fn waking_from_a_suspend_checks_the_link_at_once() {
    let env = Env::start();
    let client = GraphClient::new(
        http_client().unwrap(),
        url::Url::parse(&format!("{}/v1.0", env.base)).unwrap(),
        TokenSource::fixed(Secret::new(env.mint(ADELE))),
    );
    let target = Target {
        label: "drive:me".into(),
        kind: TargetKind::Drive {
            drive_id: seed::ADELE_DRIVE.into(),
        },
        display_name: "OneDrive".into(),
        web_url: None,
    };
    let options = SupervisorOptions {
        first_backoff: Duration::from_secs(60),
        max_backoff: Duration::from_secs(60),
        wall_clock: moved_wall_clock,
        ..SupervisorOptions::default()
    };
    let (tx, mut reports) = tokio::sync::mpsc::unbounded_channel();
    let supervisor = Supervisor::new(target, client, ToLoop(tx), options);
    let task = env.rt.spawn(supervisor.run());
    // Statuses as they come, until one matches `ok`, within PATIENCE.
    let mut until_status = |what: &str, ok: &dyn Fn(&Status) -> bool| {
        let deadline = Instant::now() + PATIENCE;
        loop {
            match reports.try_recv() {
                Ok(Report::Status { status, .. }) if ok(&status) => return status,
                Ok(_) => {}
                Err(_) => {
                    assert!(Instant::now() < deadline, "no status: {what}");
                    std::thread::sleep(Duration::from_millis(20));
                }
            }
        }
    };
    let connected = || env.counter("sockets.connected");
    until_status("connected", &|s| matches!(s, Status::Connected { .. }));
    assert_eq!(connected(), 1);

    // Asleep for an hour while live. The first request after the jump marks its time
    // on the emulator's clock.
    let last_seq = log(&env)
        .last()
        .and_then(|e| e["seq"].as_u64())
        .unwrap_or(0);
    WALL_AHEAD_SECS.fetch_add(3600, Ordering::SeqCst);
    match until_status("woke", &|s| matches!(s, Status::Woke { .. })) {
        Status::Woke { slept } => assert!(slept >= Duration::from_secs(3590), "{slept:?}"),
        _ => unreachable!(),
    }
    until_status("reconnected", &|s| {
        matches!(s, Status::Connected { first: false, .. })
    });
    let entries = log(&env);
    let after_jump = |ok: &dyn Fn(&Value) -> bool| {
        entries
            .iter()
            .find(|e| e["seq"].as_u64() > Some(last_seq) && ok(e))
            .cloned()
            .expect("an entry after the jump")
    };
    let marker = after_jump(&|e| e["kind"] == "request");
    let back = after_jump(&|e| e["kind"] == "socket-connected");
    eprintln!(
        "suspend while live: jump to a new socket within {:.0} ms (the ping watchdog: 45000 ms)",
        back["elapsedMs"].as_f64().unwrap() - marker["elapsedMs"].as_f64().unwrap()
    );
    assert_eq!(connected(), 2);

    // Asleep for an hour during a minute's backoff after a drop.
    env.post("/_emulator/sockets/kill", json!({}));
    match until_status("disconnected", &|s| {
        matches!(s, Status::Disconnected { .. })
    }) {
        Status::Disconnected { retry_in, .. } => {
            assert!(retry_in >= Duration::from_secs(45), "{retry_in:?}")
        }
        _ => unreachable!(),
    }
    WALL_AHEAD_SECS.fetch_add(3600, Ordering::SeqCst);
    until_status("woke while waiting", &|s| matches!(s, Status::Woke { .. }));
    until_status("reconnected before the minute is out", &|s| {
        matches!(s, Status::Connected { first: false, .. })
    });
    eventually("one live socket", || {
        env.get("/_emulator/stats")["liveSockets"] == 1
    });
    assert_eq!(connected(), 3);
    task.abort();
}
