//! Start-up under transient conditions (issue 17): a Graph that cannot be reached yet
//! is waited for, for `--start-wait`, while what no retry fixes still fails at once;
//! the soft limit on open files is raised; and no terminal escape from a server reaches
//! stdout in the pretty view. Evidence for docs/reliability.md, "Transient conditions".
//!
//! Nothing here waits a fixed time to synchronise: each step waits for a stderr line,
//! a stdout line, the process's end or a file's content, each with a deadline.

use crate::common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::peer::Peer;
use common::watcher::{upload, Watcher, PATIENCE};
use common::{EmulatorProcess, Env, ADELE};
use serde_json::json;
use wiremock::matchers::{method, path, query_param, query_param_is_missing};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// The note start-up writes once when it begins to wait for Graph.
const WAITING: &str = "waiting up to";

fn eventually(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !done() {
        assert!(Instant::now() < deadline, "{what}: not in time");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A port on 127.0.0.1 that nothing listens on (it was free a moment ago).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

fn stderr_lines_with(w: &Watcher, needle: &str) -> usize {
    w.stderr().lines().filter(|l| l.contains(needle)).count()
}

// ---------------------------------------------------------------------------------------
// Graph not reachable yet.

/// The network is not up when graphwatch starts: nothing listens on Graph's port (the
/// emulator process is down) until graphwatch has said it waits; then the emulator comes
/// back on the same port, and the watch resolves, connects and writes a change.
#[test]
fn graph_unreachable_at_start_is_waited_for_then_the_watch_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let persist = dir.path().join("emulator.json");
    let mut emulator = EmulatorProcess::spawn(&[
        "--persist",
        persist.to_str().unwrap(),
        "--notify-delay-ms",
        "50",
    ]);
    let env = Env::external(&emulator.base);
    // A token the restarted emulator still knows (--persist), minted while it is up.
    let token = env.mint(ADELE);
    eventually("the emulator saved the token", || {
        std::fs::read_to_string(&persist).is_ok_and(|saved| saved.contains(&token))
    });
    emulator.kill();

    let mut cmd = env.std_cmd(&["drive", "me", "-o", "json", "-n", "1"]);
    cmd.env("GRAPHWATCH_ACCESS_TOKEN", &token);
    let started = Instant::now();
    let mut w = Watcher::spawn_cmd(cmd);
    w.wait_stderr(WAITING);
    let unreachable = started.elapsed();
    assert!(
        w.child.try_wait().unwrap().is_none(),
        "graphwatch gave up: {}",
        w.stderr()
    );
    let err = w.stderr();
    assert!(err.contains("Connection refused"), "{err}");
    assert!(err.contains("(--start-wait)"), "{err}");

    let restarted = Instant::now();
    emulator.restart();
    w.wait_stderr("watching drive:me");
    let back = restarted.elapsed();
    upload(&env, "Startup/after-the-network.txt");
    assert_eq!(w.next()["type"], "notification");
    assert!(w.wait().success(), "{}", w.stderr());
    assert_eq!(
        stderr_lines_with(&w, WAITING),
        1,
        "said once: {}",
        w.stderr()
    );
    eprintln!(
        "start-up: Graph unreachable for {:.1} s, emulator back → watching in {} ms",
        unreachable.as_secs_f64(),
        back.as_millis()
    );
}

/// Graph answers, but 503 (with Retry-After) on the first lookups, more of them than
/// the Graph client retries inside one request: start-up waits it out.
#[test]
fn graph_failing_on_the_first_lookups_is_waited_out() {
    let env = Env::start_with(|args| args.settings.notify_delay_ms = 50);
    // The client makes 5 attempts per request: 7 failures outlast the first lookup.
    env.post(
        "/_emulator/faults/fail",
        json!({"route": "graph", "status": 503, "count": 7, "retryAfter": 1}),
    );
    let mut w = Watcher::start(&env, &["drive", "me", "-o", "json", "-n", "1"]);
    w.wait_stderr(WAITING);
    w.wait_stderr("watching drive:me");
    assert_eq!(env.counter("faults.graph"), 7);
    upload(&env, "Startup/after-the-503s.txt");
    assert_eq!(w.next()["type"], "notification");
    assert!(w.wait().success(), "{}", w.stderr());
    let err = w.stderr();
    assert_eq!(stderr_lines_with(&w, WAITING), 1, "said once: {err}");
    assert!(err.contains("503"), "{err}");
    // From the emulator's log: the first lookup's five 503s, start-up's own wait, then
    // the second lookup.
    let log = env.get("/_emulator/log")["entries"]
        .as_array()
        .unwrap()
        .clone();
    let lookups: Vec<f64> = log
        .iter()
        .filter(|e| e["route"] == "graph" && e["path"] == "/v1.0/me/drive")
        .filter_map(|e| e["elapsedMs"].as_f64())
        .collect();
    assert!(lookups.len() >= 8, "{lookups:?}");
    eprintln!(
        "start-up: 7 × 503 waited out; the second lookup began {:.0} ms after the first one's last 503",
        lookups[5] - lookups[4]
    );
}

/// Graph stays unreachable for longer than `--start-wait`: exit 1 with one line that
/// says what was waited for and what to do, after at most one note.
#[test]
fn graph_unreachable_for_longer_than_the_start_wait_exits_1_with_one_line() {
    let env = Env::external(&format!("http://127.0.0.1:{}", free_port()));
    let mut cmd = env.std_cmd(&["drive", "me", "-o", "json", "--start-wait", "10s"]);
    cmd.env("GRAPHWATCH_ACCESS_TOKEN", "a-token");
    let started = Instant::now();
    let mut w = Watcher::spawn_cmd(cmd);
    let status = w.wait();
    let took = started.elapsed();
    // Its reader may still be on the way: the last line is the error.
    w.wait_stderr("Graph did not answer within");
    let err = w.stderr();
    assert_eq!(status.code(), Some(1), "{err}");
    assert!(w.rest().is_empty(), "nothing on stdout");
    let lines: Vec<&str> = err.lines().collect();
    let last = lines.last().copied().unwrap_or_default();
    assert!(
        last.starts_with("graphwatch: Graph did not answer within 10s of the start: "),
        "{err}"
    );
    assert!(last.contains("Connection refused"), "{err}");
    assert!(
        last.ends_with("--start-wait gives Graph longer at start"),
        "{err}"
    );
    assert!(!last.chars().any(char::is_control), "{err:?}");
    // The note (unless the first attempt alone outlasted the wait) and the error.
    assert!(lines.len() <= 2, "{err}");
    assert!(stderr_lines_with(&w, WAITING) <= 1, "{err}");
    eprintln!(
        "start-up: gave up after {:.1} s (--start-wait 10s)",
        took.as_secs_f64()
    );
}

/// Ctrl-C (SIGINT) and `--timeout` end the wait at once, as they end a watch: 0, and
/// 124 with `--count` not reached.
#[cfg(unix)]
#[test]
fn ctrl_c_and_timeout_end_the_wait() {
    let env = Env::external(&format!("http://127.0.0.1:{}", free_port()));
    let start = |extra: &[&str]| {
        let mut args = vec!["drive", "me", "-o", "json"];
        args.extend_from_slice(extra);
        let mut cmd = env.std_cmd(&args);
        cmd.env("GRAPHWATCH_ACCESS_TOKEN", "a-token");
        Watcher::spawn_cmd(cmd)
    };
    let mut interrupted = start(&[]);
    // Longer than the first lookup takes to fail (about 7.5 s of the client's retries):
    // without the wait, graphwatch would have exited 1 before.
    let mut timed = start(&["--timeout", "15s", "-n", "1"]);
    interrupted.wait_stderr(WAITING);
    let signalled = Instant::now();
    let kill = Command::new("kill")
        .args(["-INT", &interrupted.pid()])
        .status()
        .unwrap();
    assert!(kill.success());
    let status = interrupted.wait();
    let took = signalled.elapsed();
    assert_eq!(status.code(), Some(0), "{}", interrupted.stderr());
    timed.wait_stderr(WAITING);
    let status = timed.wait();
    timed.wait_stderr("--timeout 15s reached");
    assert_eq!(status.code(), Some(124), "{}", timed.stderr());
    eprintln!(
        "start-up: SIGINT during the wait → exit in {} ms",
        took.as_millis()
    );
}

/// What no retry fixes still ends the watch at once, with its own exit code, even with
/// a long `--start-wait`: a missing drive (4), a refused token (3), a bad SPEC (2).
#[test]
fn what_no_retry_fixes_fails_at_once_with_its_exit_code() {
    let env = Env::start();
    let token = env.mint(ADELE);
    let cases: [(&[&str], &str, i32); 3] = [
        (&["drive", "b!NoSuchDrive"], token.as_str(), 4),
        (&["drive", "me"], "refused-token", 3),
        (&["drive", "user:"], token.as_str(), 2),
    ];
    for (args, token, code) in cases {
        let before = env.counter("requests.graph");
        let mut cmd = env.std_cmd(args);
        cmd.args(["-o", "json", "--start-wait", "10m"])
            .env("GRAPHWATCH_ACCESS_TOKEN", token);
        let mut w = Watcher::spawn_cmd(cmd);
        let status = w.wait();
        w.wait_stderr("graphwatch: ");
        let err = w.stderr();
        assert_eq!(status.code(), Some(code), "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(!err.contains(WAITING), "{args:?}: {err}");
        // One lookup, not retried (the 401 of a fixed token is not refreshed either).
        let requests = env.counter("requests.graph") - before;
        let expected = if code == 2 { 0 } else { 1 };
        assert_eq!(requests, expected, "{args:?}: {err}");
    }
}

// ---------------------------------------------------------------------------------------
// Open files.

/// Started with a soft limit of 256 open files, graphwatch runs with the hard limit
/// (read from /proc of the running process) and says so at -vv.
#[cfg(target_os = "linux")]
#[test]
fn the_soft_limit_on_open_files_is_raised_to_the_hard_limit() {
    let env = Env::start();
    let inner = env.std_cmd(&["drive", "me", "-o", "json", "-vv"]);
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(r#"ulimit -S -n 256 && exec "$0" "$@""#)
        .arg(inner.get_program())
        .args(inner.get_args());
    for (key, value) in inner.get_envs() {
        match value {
            Some(value) => cmd.env(key, value),
            None => cmd.env_remove(key),
        };
    }
    cmd.env("GRAPHWATCH_ACCESS_TOKEN", env.mint(ADELE));
    let w = Watcher::spawn_cmd(cmd);
    w.wait_stderr("watching drive:me");
    let limits = std::fs::read_to_string(format!("/proc/{}/limits", w.pid())).unwrap();
    let row: Vec<&str> = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .expect("a Max open files row")
        .split_whitespace()
        .collect();
    let (soft, hard) = (row[3], row[4]);
    assert!(
        hard == "unlimited" || hard.parse::<u64>().unwrap() > 256,
        "the hard limit ({hard}) leaves nothing to raise"
    );
    assert_eq!(soft, hard, "{limits}");
    let err = w.stderr();
    assert!(
        err.contains(&format!("open files: soft limit raised from 256 to {hard}")),
        "{err}"
    );
}

// ---------------------------------------------------------------------------------------
// Terminal escapes from a server, in the pretty view.

/// Ids with ESC sequences (CSI, OSC with BEL) and C1 CSI (U+009B), as a compromised
/// notification host or Graph could send them: in notification ids (whose short form
/// once bypassed the sanitiser), delta item ids, names, paths and the drive's name.
const ESCAPES: &str = "\u{1b}[2J\u{1b}]0;pwned\u{7}";

fn hostile_graph(rt: &tokio::runtime::Runtime, server: &MockServer, peer: &Peer) {
    let base = format!("{}/v1.0", server.uri());
    let delta = "/v1.0/drives/evil/root/delta";
    let link = |token: &str| format!("{base}/drives/evil/root/delta?token={token}");
    let answers = [
        (
            "/v1.0/drives/evil",
            None,
            json!({"id": "evil", "name": format!("Evil{ESCAPES}")}),
        ),
        (
            "/v1.0/drives/evil/root/subscriptions/socketIo",
            None,
            json!({
                "id": "s",
                "notificationUrl": peer.url("peer-token"),
                "expirationDateTime": (chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339(),
            }),
        ),
        (
            delta,
            None,
            json!({"value": [{"id": "\u{9b}6n\u{9b}2Jxyz", "name": "doomed.txt"}], "@odata.deltaLink": link("c1")}),
        ),
        (
            delta,
            Some("c1"),
            json!({
                "value": [
                    {"id": format!("{ESCAPES}01"), "name": format!("a{ESCAPES}b.txt"),
                     "parentReference": {"path": "/drive/root:/\u{9b}2J"}},
                    {"id": "\u{9b}6n\u{9b}2Jxyz", "deleted": {"state": "deleted"}},
                ],
                "@odata.deltaLink": link("c2"),
            }),
        ),
        (
            delta,
            Some("c2"),
            json!({"value": [], "@odata.deltaLink": link("c2")}),
        ),
    ];
    for (at, token, body) in answers {
        let mock = Mock::given(method("GET")).and(path(at));
        let mock = match token {
            Some(token) => mock.and(query_param("token", token)),
            // The drive's info and endpoint take no token; delta without one is the
            // enumeration.
            None => mock.and(query_param_is_missing("token")),
        };
        rt.block_on(
            mock.respond_with(ResponseTemplate::new(200).set_body_json(body))
                .mount(server),
        );
    }
}

#[test]
fn no_terminal_escape_from_a_server_reaches_stdout_in_pretty_lines() {
    let env = Env::start();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let server = rt.block_on(MockServer::start());
    for color in ["never", "always"] {
        let script = json!([{ "notification": ESCAPES }]);
        let peer = Peer::start(&[("PEER_SCRIPT", &script.to_string()), ("PEER_COUNT", "0")]);
        rt.block_on(server.reset());
        hostile_graph(&rt, &server, &peer);
        let mut cmd = env.bare_cmd(&[
            "drive",
            "evil",
            "--changes",
            "--notifications",
            "-o",
            "pretty",
            "--color",
            color,
            "-n",
            "3",
        ]);
        cmd.env("GRAPHWATCH_ACCESS_TOKEN", "stub-token")
            .args(["--graph-url", &format!("{}/v1.0", server.uri())]);
        let mut w = Watcher::spawn_cmd(cmd);
        let lines: Vec<String> = (0..3).map(|_| w.line()).collect();
        assert!(w.wait().success(), "{color}: {}", w.stderr());
        let mut texts = Vec::new();
        for line in &lines {
            // With colour on, only graphwatch's own styles; with it off, none at all.
            let text = graphwatch::fuzzing::without_our_styles(line)
                .unwrap_or_else(|e| panic!("--color {color}: {e}"));
            assert_eq!(line.contains('\u{1b}'), color == "always", "{line:?}");
            texts.push(text);
        }
        let all = texts.join("\n");
        // The escapes are shown as the harmless text they become.
        assert!(all.contains("notification sub  [2J ]0; "), "{color}: {all}");
        assert!(
            all.contains("created   2J/a [2J ]0;pwned b.txt"),
            "{color}: {all}"
        );
        assert!(all.contains("deleted   6n 2Jx"), "{color}: {all}");
        assert!(all.contains("a [2J ]0;pwned b.txt"), "{color}: {all}");
        w.wait_stderr("watching drive:evil (Evil [2J ]0;pwned )");
        let err = w.stderr();
        assert!(!err.chars().any(|c| c.is_control() && c != '\n'), "{err:?}");
    }
}
