//! Service mode (docs/service.md): what systemd gets on its notify socket, the log
//! formats for the journal and for machines, SIGHUP's reload, and the unit files.
//!
//! The notify socket is a real unix datagram socket bound by the test, given to a real
//! graphwatch child as `NOTIFY_SOCKET`, as systemd gives its own (sd_notify(3)); the
//! Graph is the emulator.

#![cfg(unix)]

use std::os::unix::net::UnixDatagram;
use std::os::unix::process::CommandExt as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::Instant;

use crate::common;
use common::watcher::{upload, Watcher, PATIENCE};
use common::{Env, ADELE};
use serde_json::{json, Value};

/// The service manager's end: every datagram graphwatch sends, as text, read at once
/// by a thread of its own as systemd reads its socket (a socket left unread fills up
/// after 10 datagrams, and the sender's next one blocks).
struct NotifySocket {
    path: std::path::PathBuf,
    messages: Receiver<String>,
    _dir: tempfile::TempDir,
}

impl NotifySocket {
    fn bind() -> NotifySocket {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify");
        let socket = UnixDatagram::bind(&path).unwrap();
        let (tx, messages) = mpsc::channel();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = socket.recv(&mut buf) {
                if tx
                    .send(String::from_utf8_lossy(&buf[..n]).into_owned())
                    .is_err()
                {
                    break;
                }
            }
        });
        NotifySocket {
            path,
            messages,
            _dir: dir,
        }
    }

    /// The next datagram, which must come.
    fn recv(&self, w: &Watcher) -> String {
        self.messages
            .recv_timeout(PATIENCE)
            .unwrap_or_else(|_| panic!("nothing on the notify socket; stderr:\n{}", w.stderr()))
    }

    /// Datagrams until one has `state` (e.g. `READY=1`); all of them, that one last. At
    /// most 1000 (the watchdog's pings would otherwise make this wait for ever).
    fn until(&self, w: &Watcher, state: &str) -> Vec<String> {
        let mut seen = Vec::new();
        loop {
            let message = self.recv(w);
            let done = message.lines().any(|l| l == state);
            seen.push(message);
            if done {
                return seen;
            }
            assert!(
                seen.len() < 1000,
                "no {state}: {:?}; stderr:\n{}",
                &seen[seen.len() - 5..],
                w.stderr()
            );
        }
    }

    /// What came so far, without waiting.
    fn drain(&self) -> Vec<String> {
        self.messages.try_iter().collect()
    }
}

fn has_state(messages: &[String], state: &str) -> bool {
    messages.iter().any(|m| m.lines().any(|l| l == state))
}

/// The `STATUS=` text of a datagram, if it has one.
fn status_of(message: &str) -> Option<&str> {
    message.lines().find_map(|l| l.strip_prefix("STATUS="))
}

/// `kill -SIG PID`.
fn signal(w: &Watcher, sig: &str) {
    let status = Command::new("kill")
        .args([&format!("-{sig}"), &w.pid()])
        .status()
        .unwrap();
    assert!(status.success());
}

/// READY=1 comes when the watch is live, not at start: the first two socketIo
/// requests fail, and nothing says READY while graphwatch retries; once the link is up
/// READY=1 arrives (with the state in STATUS=), then WATCHDOG=1 again and again from
/// the loop, the count of events in STATUS=, and STOPPING=1 at SIGTERM.
#[test]
fn ready_after_the_link_is_up_then_watchdog_pings_then_stopping() {
    let env = Env::start_with(|args| args.settings.notify_delay_ms = 50);
    env.post(
        "/_emulator/faults/fail",
        json!({"route": "socketio", "status": 400, "count": 2}),
    );
    let notify = NotifySocket::bind();
    let mut cmd = env.std_cmd(&["drive", "me", "-o", "json", "--backoff", "300ms..1s"]);
    cmd.env("GRAPHWATCH_ACCESS_TOKEN", env.mint(ADELE))
        .env("NOTIFY_SOCKET", &notify.path)
        // 400 ms: a ping every 200 ms.
        .env("WATCHDOG_USEC", "400000");
    let mut w = Watcher::spawn_cmd(cmd);

    // "connecting" is sent before the first attempt; the test's reader thread may
    // forward it later than stderr says "cannot connect", so it is awaited, not drained.
    let mut before = Vec::new();
    while !before
        .iter()
        .filter_map(|m: &String| status_of(m))
        .any(|s| s.starts_with("connecting to drive:me"))
    {
        before.push(notify.recv(&w));
        assert!(before.len() < 100, "no STATUS=connecting: {before:?}");
    }
    w.wait_stderr("cannot connect");
    // The retry is under way: whatever was sent so far is not READY.
    before.extend(notify.drain());
    assert!(
        !has_state(&before, "READY=1"),
        "READY=1 before the link was up: {before:?}"
    );

    let ready = notify.until(&w, "READY=1");
    w.wait_stderr("watching drive:me");
    let last = ready.last().unwrap();
    assert_eq!(
        status_of(last),
        Some("watching 1 of 1 target; 0 events written"),
        "{last}"
    );

    // Pings, repeatedly; an event shows in STATUS=.
    upload(&env, "Service/one.txt");
    assert_eq!(w.next()["type"], "notification");
    let mut pings = 0;
    let mut counted = false;
    // (The emulator sends each notification twice, as the service does: 2 events.)
    while pings < 4 || !counted {
        let message = notify.recv(&w);
        if message.lines().any(|l| l == "WATCHDOG=1") {
            pings += 1;
        }
        counted |= status_of(&message)
            .is_some_and(|s| s.ends_with(" written") && !s.ends_with("; 0 events written"));
        assert!(pings < 100, "no STATUS= with the events written: {message}");
    }

    signal(&w, "TERM");
    let end = notify.until(&w, "STOPPING=1");
    assert!(w.wait().success(), "{}", w.stderr());
    assert!(!has_state(&end, "READY=1"), "{end:?}");
}

/// Under systemd (NOTIFY_SOCKET set) and without --start-wait, start-up waits for Graph
/// for as long as it takes, says so on stderr and in STATUS=, and keeps the start from
/// timing out (EXTEND_TIMEOUT_USEC); once Graph answers, READY=1.
#[test]
fn under_systemd_start_up_waits_for_graph_for_as_long_as_it_takes() {
    let env = Env::start_with(|args| args.settings.notify_delay_ms = 50);
    // 7 failures outlast the Graph client's own 5 attempts of the first lookup.
    env.post(
        "/_emulator/faults/fail",
        json!({"route": "graph", "status": 503, "count": 7, "retryAfter": 1}),
    );
    let notify = NotifySocket::bind();
    let mut cmd = env.std_cmd(&["drive", "me", "-o", "json"]);
    cmd.env("GRAPHWATCH_ACCESS_TOKEN", env.mint(ADELE))
        .env("NOTIFY_SOCKET", &notify.path);
    let w = Watcher::spawn_cmd(cmd);

    w.wait_stderr("waiting for Graph for as long as it takes (--start-wait)");
    let waiting = notify.until(&w, "READY=1");
    let extended = waiting
        .iter()
        .find(|m| m.contains("EXTEND_TIMEOUT_USEC="))
        .unwrap_or_else(|| panic!("no EXTEND_TIMEOUT_USEC: {waiting:?}"));
    let said = status_of(extended).unwrap_or_default();
    assert!(
        said.starts_with("waiting for Graph (") && said.contains("503"),
        "{said}"
    );
    w.wait_stderr("watching drive:me");
}

/// `--log-format json`: every stderr line is a JSON object with a level and a message,
/// the status lines included; no token in any of them.
#[test]
fn log_format_json_makes_every_stderr_line_json() {
    let env = Env::start();
    let token = env.mint(ADELE);
    let mut cmd = env.std_cmd(&["drive", "me", "-o", "json", "-vv", "--log-format", "json"]);
    cmd.env("GRAPHWATCH_ACCESS_TOKEN", &token);
    let mut w = Watcher::spawn_cmd(cmd);
    w.wait_stderr("watching drive:me");
    upload(&env, "Service/json.txt");
    w.next();
    signal(&w, "INT");
    assert!(w.wait().success());
    let stderr = w.stderr();
    let lines: Vec<Value> = stderr
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert!(lines.len() > 3, "{stderr}");
    for line in &lines {
        assert!(
            line["level"].is_string() && line["message"].is_string(),
            "{line}"
        );
        assert!(line["timestamp"].is_string(), "{line}");
    }
    let watching = lines
        .iter()
        .find(|l| {
            l["message"]
                .as_str()
                .unwrap()
                .starts_with("watching drive:me")
        })
        .expect("the status line, as JSON");
    assert_eq!(watching["level"], "INFO");
    assert_eq!(watching["target"], "graphwatch::status");
    assert!(lines.iter().any(|l| l["level"] == "DEBUG"), "-vv: {stderr}");
    assert!(!stderr.contains(&token), "the token in the log");

    // The last line of a failure too.
    let output = env
        .cmd(&["drive", "b!missing", "--log-format", "json"])
        .env("GRAPHWATCH_ACCESS_TOKEN", &token)
        .timeout(PATIENCE)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(4));
    let stderr = common::stderr(&output);
    let last: Value = serde_json::from_str(stderr.trim_end().lines().last().unwrap()).unwrap();
    assert_eq!(last["level"], "ERROR");
    assert!(
        last["message"]
            .as_str()
            .unwrap()
            .starts_with("graphwatch: "),
        "{last}"
    );
}

/// `<N>` priorities for the journal: asked for with `--log-format journald`, or by
/// itself when stderr is the stream JOURNAL_STREAM names (device:inode); not when
/// JOURNAL_STREAM names another stream (a child whose stderr was redirected).
#[test]
fn journald_priorities_when_asked_or_when_stderr_is_the_journal() {
    use std::os::unix::fs::MetadataExt as _;
    let env = Env::start();
    let token = env.mint(ADELE);
    let run = |journal: Option<&str>, extra: &[&str]| -> String {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("stderr");
        let file = std::fs::File::create(&log).unwrap();
        let meta = file.metadata().unwrap();
        let mut args = vec!["drive", "b!missing"];
        args.extend_from_slice(extra);
        let mut cmd = env.std_cmd(&args);
        cmd.env("GRAPHWATCH_ACCESS_TOKEN", &token)
            .stdout(Stdio::null())
            .stderr(file);
        match journal {
            Some("this") => {
                cmd.env("JOURNAL_STREAM", format!("{}:{}", meta.dev(), meta.ino()));
            }
            Some(other) => {
                cmd.env("JOURNAL_STREAM", other);
            }
            None => {}
        }
        let status = cmd.status().unwrap();
        assert_eq!(status.code(), Some(4));
        std::fs::read_to_string(&log).unwrap()
    };
    for stderr in [
        run(None, &["--log-format", "journald"]),
        run(Some("this"), &[]),
    ] {
        let last = stderr.trim_end().lines().last().unwrap();
        assert!(last.starts_with("<3>graphwatch: "), "{stderr}");
        assert!(stderr.lines().all(|l| l.starts_with('<')), "{stderr}");
    }
    let elsewhere = run(Some("1:2"), &[]);
    assert!(elsewhere.starts_with("graphwatch: "), "{elsewhere}");
    let asked_text = run(Some("this"), &["--log-format", "text"]);
    assert!(asked_text.starts_with("graphwatch: "), "{asked_text}");
}

/// SIGHUP, without a controlling terminal (as under systemd): config.toml is read
/// again, the log level applied at once, and one line says what needs a restart; a
/// broken file changes nothing and the watch goes on.
#[test]
fn sighup_reloads_the_log_level_and_says_what_needs_a_restart() {
    let env = Env::start_with(|args| args.settings.notify_delay_ms = 50);
    let config = env.config_dir().join("config.toml");
    std::fs::write(&config, "log_level = \"warn\"\n").unwrap();
    let notify = NotifySocket::bind();
    let mut cmd = env.std_cmd(&["drive", "me", "-o", "json"]);
    cmd.env("GRAPHWATCH_ACCESS_TOKEN", env.mint(ADELE))
        .env("NOTIFY_SOCKET", &notify.path);
    // SAFETY: setsid is async-signal-safe; no controlling terminal, as a service has.
    unsafe {
        cmd.pre_exec(|| {
            libc::setsid();
            Ok(())
        });
    }
    let w = Watcher::spawn_cmd(cmd);
    w.wait_stderr("watching drive:me");
    notify.until(&w, "READY=1");

    // Before: no info lines. A reconnect logs "connecting to <endpoint>" at info.
    let reconnect = || {
        env.post("/_emulator/sockets/kill", json!({}));
        w.wait_stderr("reconnected");
    };
    reconnect();
    assert!(
        !w.stderr().contains("drive:me: connecting to"),
        "{}",
        w.stderr()
    );

    std::fs::write(&config, "log_level = \"info\"\ntenant = \"contoso.com\"\n").unwrap();
    signal(&w, "HUP");
    w.wait_stderr("SIGHUP: reloaded");
    let line = reload_line(&w, 1);
    assert!(line.contains(&config.display().to_string()), "{line}");
    assert!(line.contains("log level now info"), "{line}");
    assert!(
        line.contains("tenant changed: takes effect at the next start (restart graphwatch)"),
        "{line}"
    );
    let reloaded = notify.until(&w, "READY=1");
    assert!(has_state(&reloaded, "RELOADING=1"), "{reloaded:?}");
    reconnect();
    assert!(
        w.stderr().contains("drive:me: connecting to"),
        "{}",
        w.stderr()
    );

    // A broken file: one line, nothing changed, the watch goes on.
    std::fs::write(&config, "log_level = \"loud\"\n").unwrap();
    signal(&w, "HUP");
    w.wait_stderr("config.toml not reloaded");
    let file = upload(&env, "Service/after-reload.txt");
    let line = w.next();
    assert!(line.to_string().contains(&file) || line["type"] == "notification");
}

/// The one stderr line with `SIGHUP:` number `n` (1-based).
fn reload_line(w: &Watcher, n: usize) -> String {
    w.stderr()
        .lines()
        .filter(|l| l.contains("SIGHUP:"))
        .nth(n - 1)
        .unwrap_or_else(|| panic!("no SIGHUP line {n}: {}", w.stderr()))
        .to_string()
}

const UNITS: [&str; 2] = ["user/graphwatch.service", "system/graphwatch@.service"];

/// The unit files are what systemd accepts (`systemd-analyze verify`, where it is
/// installed) and say what docs/service.md says they say.
#[test]
fn the_systemd_units_verify_and_have_the_service_settings() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("contrib/systemd");
    for unit in UNITS {
        let path = root.join(unit);
        let text =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        for setting in [
            "Type=notify",
            "WatchdogSec=",
            "Restart=on-failure",
            "RestartSec=",
            "RestartPreventExitStatus=2 3",
            "ExecReload=/bin/kill -HUP $MAINPID",
            "NoNewPrivileges=yes",
            "ProtectSystem=strict",
            "PrivateTmp=yes",
        ] {
            assert!(text.contains(setting), "{unit}: no {setting}");
        }
    }
    for unit in UNITS {
        let text = std::fs::read_to_string(root.join(unit)).unwrap();
        assert!(text.contains("StateDirectory=graphwatch"), "{unit}");
        assert!(
            text.contains("--state %S/graphwatch/")
                || text.contains("--state /var/lib/graphwatch/"),
            "{unit}"
        );
    }
    let Ok(analyze) = which("systemd-analyze") else {
        eprintln!("service: systemd-analyze not installed, verify skipped");
        return;
    };
    let started = Instant::now();
    for unit in UNITS {
        // A template is verified as an instance of it.
        let dir = tempfile::tempdir().unwrap();
        let name = Path::new(unit)
            .file_name()
            .unwrap()
            .to_str()
            .unwrap()
            .replace("@.", "@work.");
        let copy = dir.path().join(&name);
        let text = std::fs::read_to_string(root.join(unit)).unwrap().replace(
            "/usr/local/bin/graphwatch",
            assert_cmd::cargo::cargo_bin("graphwatch").to_str().unwrap(),
        );
        std::fs::write(&copy, text).unwrap();
        let output = Command::new(&analyze)
            .args(["verify", "--man=no"])
            .arg(&copy)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        // Only what is about our unit counts: verify also reads the system's units.
        let ours: Vec<&str> = stderr.lines().filter(|l| l.contains(&name)).collect();
        assert!(ours.is_empty(), "{unit}: {stderr}");
    }
    eprintln!(
        "service: units verified in {} ms",
        started.elapsed().as_millis()
    );
}

fn which(name: &str) -> Result<std::path::PathBuf, ()> {
    std::env::var_os("PATH")
        .and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|dir| dir.join(name))
                .find(|p| p.is_file())
        })
        .ok_or(())
}

/// The watchdog is the loop's, and a reader of stdout that stopped reading does not stop
/// the loop (stdout has a thread and a bounded queue of its own): while the stdout
/// thread is blocked on a full pipe, WATCHDOG=1 goes on, and the lines come once the
/// reader reads again.
#[test]
fn watchdog_pings_go_on_while_stdouts_reader_is_stalled() {
    let env = Env::start();
    // --initial writes a line for each: far more than a pipe holds (64 KiB).
    env.post("/_emulator/bulk", json!({"folders": 1, "files": 2000}));
    let notify = NotifySocket::bind();
    let log = tempfile::NamedTempFile::new().unwrap();
    let mut child = env
        .std_cmd(&["drive", "me", "--changes", "--initial", "-o", "json"])
        .env("GRAPHWATCH_ACCESS_TOKEN", env.mint(ADELE))
        .env("NOTIFY_SOCKET", &notify.path)
        .env("WATCHDOG_USEC", "200000")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(log.reopen().unwrap())
        .spawn()
        .unwrap();
    let stderr = || std::fs::read_to_string(log.path()).unwrap_or_default();
    let tasks = format!("/proc/{}/task", child.id());
    // Some thread of the process (the stdout writer) is in `pipe_write` (or
    // `anon_pipe_write` on newer kernels).
    let blocked = || {
        std::fs::read_dir(&tasks).is_ok_and(|dir| {
            dir.flatten().any(|task| {
                std::fs::read_to_string(task.path().join("wchan"))
                    .is_ok_and(|w| w.contains("pipe_write"))
            })
        })
    };
    let deadline = Instant::now() + PATIENCE;
    while !blocked() {
        assert!(
            Instant::now() < deadline,
            "never blocked on stdout: {}",
            stderr()
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    // Blocked: what was sent before is drained; a ping must still come.
    notify.drain();
    let deadline = Instant::now() + PATIENCE;
    loop {
        let message = notify
            .messages
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .unwrap_or_else(|_| panic!("no ping while stdout was blocked: {}", stderr()));
        if message.lines().any(|l| l == "WATCHDOG=1") {
            break;
        }
    }
    assert!(
        blocked(),
        "stdout was read meanwhile: the ping proves nothing"
    );

    // The reader reads again: every item's line arrives (2000 files, 1 folder and the
    // root are listed by --initial; the files are what is counted).
    let out = child.stdout.take().unwrap();
    let (files, counted) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead as _;
        let mut n = 0;
        for line in std::io::BufReader::new(out).lines().map_while(Result::ok) {
            if line.contains("\"existing\"") && line.contains("\"file\"") {
                n += 1;
                let _ = files.send(n);
            }
        }
    });
    let deadline = Instant::now() + PATIENCE;
    let mut seen = 0;
    while seen < 2000 {
        seen = counted
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .unwrap_or_else(|_| panic!("{seen} of 2000 files after the reader read: {}", stderr()));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// With a controlling terminal, SIGHUP means the terminal went away: the watch ends as
/// it does at SIGTERM (exit 0), and nothing is reloaded. `script` (util-linux, in every
/// Debian) gives graphwatch a terminal of its own.
#[test]
fn sighup_with_a_controlling_terminal_ends_the_watch() {
    use std::io::{BufRead as _, BufReader};
    let env = Env::start();
    let inner = env.std_cmd(&["drive", "me", "-o", "json"]);
    let quote = |s: &str| format!("'{}'", s.replace('\'', r"'\''"));
    let line: Vec<String> = std::iter::once(inner.get_program().to_str().unwrap())
        .chain(inner.get_args().map(|a| a.to_str().unwrap()))
        .map(quote)
        .collect();
    let mut cmd = Command::new("script");
    cmd.args(["-qec", &format!("exec {}", line.join(" ")), "/dev/null"]);
    for (key, value) in inner.get_envs() {
        match value {
            Some(value) => cmd.env(key, value),
            None => cmd.env_remove(key),
        };
    }
    let mut script = cmd
        .env("GRAPHWATCH_ACCESS_TOKEN", env.mint(ADELE))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let (tx, seen) = mpsc::channel();
    let out = BufReader::new(script.stdout.take().unwrap());
    std::thread::spawn(move || {
        for line in out.lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut text = String::new();
    while !text.contains("watching drive:me") {
        let line = seen
            .recv_timeout(PATIENCE)
            .unwrap_or_else(|_| panic!("not watching: {text}"));
        text.push_str(&line);
        text.push('\n');
    }
    // `script` runs graphwatch as its child (`exec` in the shell).
    let pid = std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .find(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
                stat.rsplit_once(") ")
                    .and_then(|(_, rest)| rest.split(' ').nth(1)?.parse::<u32>().ok())
                    == Some(script.id())
            })
        })
        .expect("graphwatch under script");
    let status = Command::new("kill")
        .args(["-HUP", &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = Instant::now() + PATIENCE;
    let exit = loop {
        if let Some(exit) = script.try_wait().unwrap() {
            break exit;
        }
        assert!(
            Instant::now() < deadline,
            "SIGHUP did not end the watch: {text}"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    while let Ok(line) = seen.recv_timeout(std::time::Duration::from_secs(1)) {
        text.push_str(&line);
    }
    assert_eq!(exit.code(), Some(0), "{text}");
    assert!(!text.contains("SIGHUP:"), "{text}");
}
