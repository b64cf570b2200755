//! The live stream end to end: the `graphwatch` binary against the in-process emulator
//! (real mutations over HTTP make the notifications), and against an independent Node
//! socket.io 4 peer behind a wiremock Graph stub.
//!
//! Output is awaited line by line with a deadline (a reader thread per stream), never
//! with fixed sleeps; nothing asserts on wall-clock durations.

use crate::common;

use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::watcher::{add_issue, graph, Watcher, PATIENCE};
use common::{peer::Peer, Env, ADELE};
use serde_json::{json, Value};

/// The emulator as these tests want it: notifications 50 ms after a change.
fn env() -> Env {
    Env::start_with(|args| args.settings.notify_delay_ms = 50)
}

fn upload(env: &Env, name: &str) -> Value {
    graph(
        env,
        reqwest::Method::PUT,
        &format!("/me/drive/root:/{name}:/content"),
        Some(Value::String(format!("content of {name}"))),
    )
}

fn assert_notification(line: &Value, target: &str) {
    assert_eq!(line["type"], "notification", "{line}");
    assert_eq!(line["target"], target, "{line}");
    let time = line["time"].as_str().expect("time");
    assert!(
        time.ends_with('Z') && time.len() == "2026-11-26T10:00:00.123Z".len(),
        "{time}"
    );
    assert!(line["subscriptionId"].is_string(), "{line}");
    assert_eq!(
        line["subscriptionId"], line["data"]["subscriptionId"],
        "{line}"
    );
    for field in [
        "clientState",
        "expirationDateTime",
        "resource",
        "tenantId",
        "siteUrl",
        "webId",
    ] {
        assert!(line["data"][field].is_string(), "{field} in {line}");
    }
    assert!(
        line["id"].as_str().is_some_and(|id| id.len() == 32),
        "a stable id: {line}"
    );
    let keys: Vec<&String> = line.as_object().unwrap().keys().collect();
    assert_eq!(keys.len(), 6, "{line}");
}

fn live_sockets(env: &Env) -> u64 {
    env.get("/_emulator/stats")["liveSockets"]
        .as_u64()
        .expect("liveSockets")
}

/// Wait until the emulator counts `n` live sockets.
fn wait_live_sockets(env: &Env, n: u64) {
    let deadline = Instant::now() + PATIENCE;
    while live_sockets(env) != n {
        assert!(
            Instant::now() < deadline,
            "liveSockets stayed at {} (want {n})",
            live_sockets(env)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

// ---------------------------------------------------------------------------------------

#[test]
fn n_changes_give_two_n_notification_lines_then_count_ends_it() {
    let env = env();
    let mut w = Watcher::start(&env, &["drive", "me", "-o", "json", "--count", "6"]);
    w.wait_stderr("watching drive:me");
    for i in 0..3 {
        upload(&env, &format!("n/file-{i}.txt"));
    }
    let lines = w.json_lines(6);
    for line in &lines {
        assert_notification(line, "drive:me");
        assert_eq!(
            line["data"]["siteUrl"],
            "/personal/adele_contoso_onmicrosoft_com"
        );
    }
    assert!(w.wait().success(), "{}", w.stderr());
    assert!(w.rest().is_empty(), "--count 6 writes 6 lines");
}

#[test]
fn count_stops_after_n_even_when_more_arrive() {
    let env = env();
    let mut w = Watcher::start(&env, &["drive", "me", "-n", "1"]);
    w.wait_stderr("watching drive:me");
    upload(&env, "count.txt");
    let first: Value = serde_json::from_str(&w.line()).unwrap();
    assert_notification(&first, "drive:me");
    assert!(w.wait().success(), "{}", w.stderr());
    assert!(w.rest().is_empty(), "the duplicate is not written");
}

#[test]
fn a_list_target() {
    let env = env();
    let mut w = Watcher::start(&env, &["list", "site-eng/Issues", "-n", "2"]);
    w.wait_stderr("watching list:site-eng/Issues (Issues)");
    add_issue(&env, "Printer on fire");
    for line in w.json_lines(2) {
        assert_notification(&line, "list:site-eng/Issues");
        assert_eq!(line["data"]["siteUrl"], "/sites/eng");
    }
    assert!(w.wait().success());
}

#[test]
fn several_targets_in_one_stream_each_line_names_its_target() {
    let env = env();
    let mut w = Watcher::start(
        &env,
        &[
            "watch",
            "--drive",
            "me",
            "--list",
            "https://contoso.sharepoint.com/sites/eng/Lists/Issues",
            "-n",
            "4",
        ],
    );
    w.wait_stderr("watching");
    w.wait_stderr("watching");
    upload(&env, "both.txt");
    add_issue(&env, "Both");
    let lines = w.json_lines(4);
    let mut targets: Vec<String> = lines
        .iter()
        .map(|l| l["target"].as_str().unwrap().to_string())
        .collect();
    targets.sort();
    assert_eq!(
        targets,
        [
            "drive:me",
            "drive:me",
            "list:contoso.sharepoint.com/sites/eng/Lists/Issues",
            "list:contoso.sharepoint.com/sites/eng/Lists/Issues"
        ]
    );
    assert!(w.wait().success(), "{}", w.stderr());
}

#[test]
fn pretty_output_without_colour() {
    let env = env();
    let mut w = Watcher::start(
        &env,
        // Both copies of the notification, as the snapshot has them.
        &[
            "drive",
            "me",
            "-o",
            "pretty",
            "--color",
            "never",
            "-n",
            "2",
            "--coalesce",
            "off",
        ],
    );
    w.wait_stderr("watching drive:me");
    upload(&env, "pretty.txt");
    let lines = [w.line(), w.line()];
    assert!(w.wait().success());
    // Redact what changes from run to run: the local time and the subscription id.
    let redacted: Vec<String> = lines
        .iter()
        .map(|line| {
            assert!(!line.contains('\u{1b}'), "no colour: {line:?}");
            let (time, rest) = line.split_at(8);
            assert!(time.chars().filter(|c| *c == ':').count() == 2, "{line}");
            let words: Vec<&str> = rest.split(' ').collect();
            let sub = words.iter().position(|w| *w == "sub").expect("a sub field");
            let mut words: Vec<String> = words.iter().map(|w| w.to_string()).collect();
            words[sub + 1] = "[sub]".into();
            format!("[time]{}", words.join(" "))
        })
        .collect();
    insta::assert_snapshot!(redacted.join("\n"));
}

#[test]
fn template_lines() {
    let env = env();
    let mut w = Watcher::start(
        &env,
        &[
            "drive",
            "me",
            "--template",
            "{type}|{target}|{data.siteUrl}|{nothing}|{{x}}",
            "-n",
            "2",
        ],
    );
    w.wait_stderr("watching drive:me");
    upload(&env, "template.txt");
    for _ in 0..2 {
        assert_eq!(
            w.line(),
            "notification|drive:me|/personal/adele_contoso_onmicrosoft_com||{x}"
        );
    }
    assert!(w.wait().success());
}

#[test]
fn timeout_without_count_exits_0_and_with_count_unreached_124() {
    let env = env();
    let token = env.mint(ADELE);
    let output = env
        .cmd(&["drive", "me", "--timeout", "300ms"])
        .env("GRAPHWATCH_ACCESS_TOKEN", &token)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", common::stderr(&output));
    assert!(output.stdout.is_empty());

    let output = env
        .cmd(&["drive", "me", "--timeout", "300ms", "--count", "1"])
        .env("GRAPHWATCH_ACCESS_TOKEN", &token)
        .output()
        .unwrap();
    assert_eq!(
        output.status.code(),
        Some(124),
        "{}",
        common::stderr(&output)
    );
    let stderr = common::stderr(&output);
    assert!(
        stderr.contains("--timeout 300ms reached after 0 of 1 events"),
        "{stderr}"
    );
}

#[test]
fn bad_options_are_one_line_usage_errors() {
    let env = env();
    for args in [
        &["drive", "me", "--timeout", "soon"][..],
        &["drive", "me", "--template", "{oops"],
        &["drive", "me", "--count", "0"],
        &["drive", "not a drive spec"],
        &["list", "just-a-site"],
    ] {
        let output = env.cmd(args).output().unwrap();
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        let stderr = common::stderr(&output);
        assert_eq!(stderr.trim_end().lines().count(), 1, "{args:?}: {stderr}");
        assert!(stderr.starts_with("graphwatch: "), "{stderr}");
        assert!(output.stdout.is_empty());
    }
}

#[test]
fn a_target_that_is_not_there_or_not_yours_exits_4() {
    let env = env();
    let token = env.mint(ADELE);
    for spec in ["b!NoSuchDrive", "b!MeganBowenOneDrive"] {
        let output = env
            .cmd(&["drive", spec, "--timeout", "10s"])
            .env("GRAPHWATCH_ACCESS_TOKEN", &token)
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(4), "{}", common::stderr(&output));
    }
    // Not signed in at all: 3.
    let output = env
        .cmd(&["drive", "me", "--timeout", "10s"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(3), "{}", common::stderr(&output));
}

#[cfg(unix)]
#[test]
fn exec_gets_the_json_on_stdin_and_the_variables_and_failures_do_not_stop_the_watch() {
    let env = env();
    let dir = tempfile::tempdir().unwrap();
    let script = format!(
        "cat >> '{0}/stdin.jsonl'; echo \"$GRAPHWATCH_EVENT_TYPE $GRAPHWATCH_TARGET $GRAPHWATCH_SUBSCRIPTION_ID $GRAPHWATCH_TIME\" >> '{0}/env.txt'; exit 3",
        dir.path().display()
    );
    let mut w = Watcher::start(
        &env,
        // Each duplicate notification too: this test counts runs per line.
        &[
            "drive",
            "me",
            "-o",
            "json",
            "--exec",
            &script,
            "-n",
            "4",
            "--coalesce",
            "off",
        ],
    );
    w.wait_stderr("watching drive:me");
    upload(&env, "exec-1.txt");
    upload(&env, "exec-2.txt");
    let lines: Vec<String> = (0..4).map(|_| w.line()).collect();
    assert!(w.wait().success(), "{}", w.stderr());
    // Every queued run finished before the exit.
    let stdin = std::fs::read_to_string(dir.path().join("stdin.jsonl")).unwrap();
    assert_eq!(stdin.lines().collect::<Vec<_>>(), lines);
    let vars = std::fs::read_to_string(dir.path().join("env.txt")).unwrap();
    assert_eq!(vars.lines().count(), 4, "{vars}");
    for (vars, line) in vars.lines().zip(&lines) {
        let line: Value = serde_json::from_str(line).unwrap();
        assert_eq!(
            vars,
            format!(
                "notification drive:me {} {}",
                line["subscriptionId"].as_str().unwrap(),
                line["time"].as_str().unwrap()
            )
        );
    }
    let stderr = w.stderr();
    assert_eq!(
        stderr
            .matches("--exec command exited with status 3")
            .count(),
        4,
        "{stderr}"
    );
}

#[test]
fn a_closed_stdout_ends_quietly_with_0() {
    let env = env();
    let mut w = Watcher::start(&env, &["drive", "me", "-o", "json"]);
    w.wait_stderr("watching drive:me");
    upload(&env, "pipe-1.txt");
    let first = w.line();
    assert!(first.starts_with(r#"{"type":"notification""#));
    // `| head -1`: the reader goes away after one line.
    drop(std::mem::replace(&mut w.lines, mpsc::channel().1));
    // The reader thread ends when its next send fails; close our end of the pipe by
    // making the process write until it notices. More changes give it more to write.
    let deadline = Instant::now() + PATIENCE;
    let status = loop {
        if let Some(status) = w.child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "still running: {}", w.stderr());
        upload(&env, "pipe-more.txt");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(status.code(), Some(0), "{}", w.stderr());
    let stderr = w.stderr();
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(!stderr.contains("graphwatch:"), "no error report: {stderr}");
}

#[cfg(unix)]
#[test]
fn sigint_exits_0() {
    let env = env();
    let mut w = Watcher::start(&env, &["drive", "me"]);
    w.wait_stderr("watching drive:me");
    let status = std::process::Command::new("kill")
        .args(["-INT", &w.child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    assert_eq!(w.wait().code(), Some(0), "{}", w.stderr());
}

fn reconnects_after(fault: &str) {
    let env = env();
    let mut w = Watcher::start(&env, &["drive", "me", "-o", "json", "-n", "2"]);
    w.wait_stderr("watching drive:me");
    env.post(&format!("/_emulator/sockets/{fault}"), json!({}));
    w.wait_stderr("drive:me: disconnected");
    w.wait_stderr("drive:me: reconnected");
    wait_live_sockets(&env, 1);
    upload(&env, &format!("after-{fault}.txt"));
    for line in w.json_lines(2) {
        assert_notification(&line, "drive:me");
    }
    assert!(w.wait().success(), "{}", w.stderr());
    // A fresh endpoint was requested for the reconnection.
    assert_eq!(env.socketio_requests().len(), 2);
}

#[test]
fn reconnects_after_a_server_disconnect() {
    reconnects_after("disconnect");
}

#[test]
fn reconnects_after_a_tcp_reset() {
    reconnects_after("kill");
}

#[test]
fn a_transient_socketio_failure_is_retried() {
    let env = env();
    env.post(
        "/_emulator/faults/fail",
        json!({"route": "socketio", "status": 400, "count": 1}),
    );
    let mut w = Watcher::start(&env, &["drive", "me", "-o", "json", "-n", "2"]);
    w.wait_stderr("notSupported");
    w.wait_stderr("watching drive:me");
    upload(&env, "after-400.txt");
    assert_eq!(w.json_lines(2).len(), 2);
    assert!(w.wait().success(), "{}", w.stderr());
}

#[test]
fn renews_the_endpoint_before_it_expires() {
    let env = Env::start_with(|args| {
        args.settings.notify_delay_ms = 50;
        args.settings.subscription_lifetime_secs = 4;
    });
    let mut w = Watcher::start(&env, &["drive", "me", "-o", "json", "-n", "2", "-v"]);
    w.wait_stderr("watching drive:me");
    w.wait_stderr("switched to a fresh endpoint");
    wait_live_sockets(&env, 1);
    upload(&env, "renewed.txt");
    for line in w.json_lines(2) {
        assert_notification(&line, "drive:me");
    }
    assert!(w.wait().success(), "{}", w.stderr());
    let stderr = w.stderr();
    assert!(!stderr.contains("disconnected"), "{stderr}");
    // Secrets never reach stderr, even at -v.
    for secret in env.issued_secrets() {
        assert!(!stderr.contains(&secret), "a token on stderr: {stderr}");
    }
    for (i, _) in stderr.match_indices("token=") {
        assert!(stderr[i + 6..].starts_with('…'), "{stderr}");
    }
}

#[test]
fn one_lost_target_is_reported_the_others_go_on_and_the_exit_is_1() {
    let env = env();
    // The first socketIo request (whichever target's it is) is refused for good.
    env.post(
        "/_emulator/faults/fail",
        json!({"route": "socketio", "status": 403, "count": 1}),
    );
    let mut w = Watcher::start(
        &env,
        &[
            "watch",
            "--drive",
            "me",
            "--list",
            "site-eng/list-issues",
            "-n",
            "2",
        ],
    );
    w.wait_stderr("stopped watching");
    w.wait_stderr("watching");
    let stderr = w.stderr();
    let survivor = if stderr.contains("graphwatch: drive:me: stopped watching") {
        add_issue(&env, "still here");
        "list:site-eng/list-issues"
    } else {
        upload(&env, "still-here.txt");
        "drive:me"
    };
    for line in w.json_lines(2) {
        assert_notification(&line, survivor);
    }
    assert_eq!(w.wait().code(), Some(1), "{}", w.stderr());
    assert!(w.stderr().contains("lost 1 of 2 targets"), "{}", w.stderr());
}

#[test]
fn demo_exits_0_and_prints_the_changes() {
    let env = env();
    let output = env.bare_cmd(&["demo", "-o", "json"]).output().unwrap();
    let stderr = common::stderr(&output);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    let lines: Vec<Value> = common::stdout(&output)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    for line in &lines {
        assert_eq!(line["type"], "change", "{line}");
        common::schema::check(line);
    }
    let said: Vec<(&str, &str, &str)> = lines
        .iter()
        .map(|l| {
            (
                l["target"].as_str().unwrap(),
                l["change"].as_str().unwrap(),
                l["path"].as_str().unwrap_or("-"),
            )
        })
        .collect();
    assert_eq!(
        said,
        [
            ("drive:me", "created", "/Reports"),
            ("drive:me", "created", "/Reports/q4.csv"),
            ("drive:me", "modified", "/Reports/q4.csv"),
            ("drive:me", "renamed", "/Reports/q4-final.csv"),
            ("drive:me", "moved", "/q4-final.csv"),
            ("drive:me", "deleted", "/q4-final.csv"),
            ("list:site-eng/Issues", "created", "-"),
            ("list:site-eng/Issues", "modified", "-"),
            ("list:site-eng/Issues", "deleted", "-"),
        ]
    );
    assert_eq!(
        lines[7]["fields"]["Status"],
        json!({"from": "New", "to": "Resolved"})
    );
    for narration in [
        "To sign in",
        "→ uploading",
        "→ moving",
        "→ deleting",
        "Demo done",
    ] {
        assert!(stderr.contains(narration), "{narration}: {stderr}");
    }
    // The user's config directory (here: the test's) got no token cache.
    assert!(!env.config_dir().join("tokens").exists());
}

/// A graphwatch without the emulator program beside it, not run by Cargo: `demo` and
/// `emulator` say in one line what is missing and how to build it (exit 1), and write
/// nothing on stdout.
#[test]
fn demo_and_emulator_without_the_emulator_program_say_how_to_build_it() {
    let env = env();
    let alone = tempfile::tempdir().unwrap();
    let exe = alone.path().join("graphwatch");
    std::fs::copy(assert_cmd::cargo::cargo_bin("graphwatch"), &exe).unwrap();
    for args in [&["demo"][..], &["emulator", "--port", "0"]] {
        // The test's clean environment, on the lone copy, and no Cargo around it.
        let template = env.bare_cmd(args);
        let mut cmd = std::process::Command::new(&exe);
        cmd.args(template.get_args());
        for (key, value) in template.get_envs() {
            match value {
                Some(value) => cmd.env(key, value),
                None => cmd.env_remove(key),
            };
        }
        let out = cmd
            .env_remove("CARGO")
            .env_remove("CARGO_MANIFEST_DIR")
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        let stderr = common::stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
        assert!(out.stdout.is_empty(), "{args:?}: stdout {:?}", out.stdout);
        assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
        assert!(
            stderr.contains("graphwatch-emulator")
                && stderr.contains("cargo build --release -p graphwatch-emulator"),
            "{args:?}: {stderr}"
        );
    }
}

#[test]
fn completions_prints_a_script() {
    let env = env();
    let output = env.bare_cmd(&["completions", "fish"]).output().unwrap();
    assert!(output.status.success());
    assert!(common::stdout(&output).contains("complete -c graphwatch"));
    let output = env.bare_cmd(&["completions", "tcsh"]).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
}

/// The independent peer: a Node socket.io 4 server serving the live frame format, found
/// through a wiremock Graph stub, as Graph would hand it out.
#[test]
fn the_stream_works_against_a_node_socket_io_peer() {
    let peer = Peer::start(&[("PEER_COUNT", "3")]);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let graph = rt.block_on(async {
        use wiremock::matchers::{header, method, path};
        use wiremock::{Mock, MockServer, ResponseTemplate};
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .and(path("/v1.0/me/drive"))
            .and(header("authorization", "Bearer stub-token"))
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_json(json!({"id": "peerdrive", "name": "Peer drive"})),
            )
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path("/v1.0/drives/peerdrive/root/subscriptions/socketIo"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                "id": "peer-sub",
                "notificationUrl": peer.url("peer-token"),
                "expirationDateTime": (chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339(),
            })))
            .mount(&server)
            .await;
        server
    });
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("graphwatch"));
    for (key, _) in std::env::vars() {
        if key.starts_with("GRAPHWATCH_") || key == "NO_COLOR" {
            cmd.env_remove(key);
        }
    }
    cmd.env("GRAPHWATCH_CONFIG_DIR", dir.path())
        .env("GRAPHWATCH_ACCESS_TOKEN", "stub-token")
        .args(["drive", "me", "-o", "json", "-n", "3"])
        .args(["--graph-url", &format!("{}/v1.0", graph.uri())]);
    let mut w = Watcher::spawn_cmd(cmd);
    let lines = w.json_lines(3);
    let ids: Vec<&str> = lines
        .iter()
        .map(|l| l["subscriptionId"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [
            "peer-subscription-0",
            "peer-subscription-1",
            "peer-subscription-2"
        ]
    );
    for line in &lines {
        assert_notification(line, "drive:me");
        assert_eq!(line["data"]["siteUrl"], "/personal/peer");
    }
    assert!(w.wait().success(), "{}", w.stderr());
    drop(graph);
}

/// `--status-events`: a target lost for good is a `lost` status line in the stream,
/// naming why, while the other target goes on.
#[test]
fn status_events_say_a_lost_target() {
    let env = env();
    env.post(
        "/_emulator/faults/fail",
        json!({"route": "socketio", "status": 403, "count": 1}),
    );
    let w = Watcher::start(
        &env,
        &[
            "watch",
            "--drive",
            "me",
            "--list",
            "site-eng/list-issues",
            "--status-events",
            "-o",
            "json",
        ],
    );
    let lines = w.until(|seen| {
        seen.iter().any(|l| l["state"] == "lost") && seen.iter().any(|l| l["state"] == "connected")
    });
    let lost = lines.iter().find(|l| l["state"] == "lost").unwrap();
    assert_eq!(lost["type"], "status");
    assert!(lost["reason"].as_str().unwrap().contains("403"), "{lost}");
    let connected = lines.iter().find(|l| l["state"] == "connected").unwrap();
    assert_ne!(lost["target"], connected["target"], "{lines:?}");
}

/// `--exec` folds a notification's duplicates by default (the emulator sends each
/// notification twice, as the live service often does): with `--changes
/// --notifications` the line after the first notification is the change delta found,
/// not the notification's copy; `--coalesce off` keeps the copy.
#[test]
fn exec_folds_duplicate_notifications_unless_coalescing_is_off() {
    for (coalesce, second_type) in [(None, "change"), (Some("off"), "notification")] {
        let env = env();
        let dir = tempfile::tempdir().unwrap();
        let script = format!("cat >> '{}/runs.jsonl'", dir.path().display());
        let mut args = vec![
            "drive",
            "me",
            "--changes",
            "--notifications",
            "--exec",
            &script,
            "-n",
            "2",
        ];
        if let Some(value) = coalesce {
            args.extend(["--coalesce", value]);
        }
        let mut w = Watcher::start(&env, &args);
        w.wait_stderr("watching drive:me");
        upload(&env, "fold.txt");
        let lines = w.json_lines(2);
        assert!(w.wait().success(), "{}", w.stderr());
        assert_eq!(lines[0]["type"], "notification", "{coalesce:?}: {lines:?}");
        assert_eq!(lines[1]["type"], second_type, "{coalesce:?}: {lines:?}");
        let runs = std::fs::read_to_string(dir.path().join("runs.jsonl")).unwrap();
        assert_eq!(
            runs.lines().count(),
            2,
            "{coalesce:?}: one run per written line"
        );
    }
}

/// Of several targets, one that is not readable at start is reported and lost, as a
/// target lost later is: the others are watched, and the exit is 1 ("lost 1 of 2"),
/// as `watch --help` says. Alone, it is still exit 4.
#[test]
fn a_forbidden_target_at_start_is_lost_and_the_others_are_watched() {
    let env = env();
    let forbidden = "user:megan@contoso.onmicrosoft.com";
    let mut w = Watcher::start(
        &env,
        &[
            "watch", "--drive", "me", "--drive", forbidden, "-n", "1", "-o", "json",
        ],
    );
    w.wait_stderr("stopped watching");
    w.wait_stderr("watching drive:me");
    upload(&env, "still-watched.txt");
    assert_notification(&w.next(), "drive:me");
    assert_eq!(w.wait().code(), Some(1), "{}", w.stderr());
    assert!(w.stderr().contains("lost 1 of 2 targets"), "{}", w.stderr());
    let alone = env
        .cmd(&["drive", forbidden])
        .env("GRAPHWATCH_ACCESS_TOKEN", env.mint(ADELE))
        .output()
        .unwrap();
    assert_eq!(alone.status.code(), Some(4));
}
