//! Shared setup of the CLI's end-to-end tests: an emulator in-process on a free port,
//! a temporary config directory, and the `graphwatch` binary pointed at both.

use std::io::{BufRead as _, BufReader};
use std::path::PathBuf;
use std::process::{Child, Stdio};

use graphwatch_emulator::{EmulatorArgs, Running};

#[cfg(unix)]
pub mod browser;
pub mod nats;
pub mod peer;
pub mod schema;
pub mod watcher;
use serde_json::{json, Value};

pub const ADELE: &str = "adele@contoso.onmicrosoft.com";
pub const GROUP_ID: &str = "02bd9fd6-8f93-4758-87c3-1fb73740a315";

pub struct Env {
    pub rt: tokio::runtime::Runtime,
    pub emulator: Option<Running>,
    pub base: String,
    pub dir: tempfile::TempDir,
}

impl Env {
    pub fn start() -> Env {
        Env::start_with(|_| {})
    }

    pub fn start_with(tweak: impl FnOnce(&mut EmulatorArgs)) -> Env {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let mut args = EmulatorArgs::default();
        tweak(&mut args);
        let running = rt
            .block_on(graphwatch_emulator::start(args))
            .expect("emulator starts");
        Env {
            base: running.base_url.clone(),
            emulator: Some(running),
            rt,
            dir: tempfile::tempdir().expect("tempdir"),
        }
    }

    /// An `Env` for an emulator that runs elsewhere (an [`EmulatorProcess`]): the
    /// same helpers, pointed at `base`.
    pub fn external(base: &str) -> Env {
        Env {
            rt: tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()
                .expect("runtime"),
            emulator: None,
            base: base.to_string(),
            dir: tempfile::tempdir().expect("tempdir"),
        }
    }

    pub fn config_dir(&self) -> PathBuf {
        self.dir.path().to_path_buf()
    }

    /// `graphwatch ARGS… --login-url BASE --graph-url BASE/v1.0` with a clean
    /// environment (no GRAPHWATCH_* from the developer's shell) and the temp config dir.
    pub fn std_cmd(&self, args: &[&str]) -> std::process::Command {
        let mut cmd = self.bare_cmd(args);
        if args.first().is_some_and(|c| {
            [
                "login", "logout", "whoami", "endpoint", "drive", "list", "watch",
            ]
            .contains(c)
        }) {
            cmd.args(["--login-url", &self.base]);
            cmd.args(["--graph-url", &format!("{}/v1.0", self.base)]);
        }
        cmd
    }

    /// `graphwatch ARGS…` with the clean environment but no URL options.
    pub fn bare_cmd(&self, args: &[&str]) -> std::process::Command {
        let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("graphwatch"));
        for (key, _) in std::env::vars() {
            if key.starts_with("GRAPHWATCH_") || key == "NO_COLOR" || key == "RUST_LOG" {
                cmd.env_remove(key);
            }
        }
        // Not under systemd unless a test says so (tests/service.rs): a test run from a
        // unit would otherwise get `<N>` prefixes and a start-up that never gives up.
        for key in [
            "NOTIFY_SOCKET",
            "WATCHDOG_USEC",
            "WATCHDOG_PID",
            "JOURNAL_STREAM",
        ] {
            cmd.env_remove(key);
        }
        // No browser at hand unless a test gives one: `login` chooses the device code.
        for key in ["BROWSER", "DISPLAY", "WAYLAND_DISPLAY"] {
            cmd.env_remove(key);
        }
        cmd.env("GRAPHWATCH_CONFIG_DIR", self.config_dir());
        cmd.args(args);
        cmd
    }

    pub fn cmd(&self, args: &[&str]) -> assert_cmd::Command {
        assert_cmd::Command::from_std(self.std_cmd(args))
    }

    pub fn post(&self, path: &str, body: Value) -> Value {
        let url = format!("{}{path}", self.base);
        self.rt.block_on(async move {
            let response = reqwest::Client::new()
                .post(url)
                .json(&body)
                .send()
                .await
                .expect("control request");
            assert!(
                response.status().is_success(),
                "{path}: {}",
                response.status()
            );
            response.json().await.unwrap_or(Value::Null)
        })
    }

    pub fn get(&self, path: &str) -> Value {
        let url = format!("{}{path}", self.base);
        self.rt.block_on(async move {
            reqwest::get(url)
                .await
                .expect("control request")
                .json()
                .await
                .expect("JSON")
        })
    }

    /// An access token for `user` without a sign-in.
    pub fn mint(&self, user: &str) -> String {
        self.post("/_emulator/tokens", json!({ "user": user }))["access_token"]
            .as_str()
            .expect("access_token")
            .to_string()
    }

    pub fn cache_path(&self, profile: &str) -> PathBuf {
        self.config_dir()
            .join("tokens")
            .join(format!("{profile}.json"))
    }

    pub fn cache(&self, profile: &str) -> Value {
        let text = std::fs::read_to_string(self.cache_path(profile)).expect("cache file");
        serde_json::from_str(&text).expect("cache JSON")
    }

    /// Paths of the socketIo requests the emulator saw, in order.
    pub fn socketio_requests(&self) -> Vec<String> {
        self.get("/_emulator/log")["entries"]
            .as_array()
            .expect("entries")
            .iter()
            .filter(|e| e["route"] == "socketio" && e["kind"] == "request")
            .filter_map(|e| e["path"].as_str().map(str::to_string))
            .collect()
    }

    pub fn counter(&self, name: &str) -> u64 {
        self.get("/_emulator/stats")["counters"][name]
            .as_u64()
            .unwrap_or(0)
    }

    /// Every secret the emulator's identity side has handed out: device codes,
    /// authorization codes (and the consent pages' flow values), access tokens and
    /// refresh tokens.
    pub fn issued_secrets(&self) -> Vec<String> {
        let snapshot = self
            .emulator
            .as_ref()
            .expect("running")
            .state
            .identity
            .snapshot();
        let mut secrets = Vec::new();
        for key in [
            "deviceCodes",
            "authCodes",
            "authRequests",
            "accessTokens",
            "refreshTokens",
        ] {
            if let Some(map) = snapshot[key].as_object() {
                secrets.extend(map.keys().cloned());
            }
        }
        secrets
    }

    /// The PKCE challenges of the authorization codes the emulator issued: what a
    /// leaked verifier would hash to.
    pub fn pkce_challenges(&self) -> Vec<String> {
        let snapshot = self
            .emulator
            .as_ref()
            .expect("running")
            .state
            .identity
            .snapshot();
        snapshot["authCodes"]
            .as_object()
            .map(|codes| {
                codes
                    .values()
                    .filter_map(|c| c["request"]["codeChallenge"].as_str())
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Sign in with automatic approval (the emulator's default) and check it worked.
    pub fn login(&self, extra: &[&str]) -> std::process::Output {
        let mut args = vec!["login"];
        args.extend_from_slice(extra);
        let output = self.cmd(&args).output().expect("run login");
        assert!(
            output.status.success(),
            "login failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        output
    }

    /// Start `graphwatch login` in the background and return once it has shown the
    /// code (it is then polling), with the user code the emulator holds for it.
    pub fn login_waiting(&self, extra: &[&str]) -> PendingLogin {
        let mut args = vec!["login"];
        args.extend_from_slice(extra);
        let mut child = self
            .std_cmd(&args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn login");
        let mut reader = BufReader::new(child.stderr.take().expect("stderr"));
        let mut head = String::new();
        loop {
            let mut line = String::new();
            let n = reader.read_line(&mut line).expect("read stderr");
            assert!(n > 0, "login ended before showing a code: {head}");
            head.push_str(&line);
            if line.contains("The code expires at") {
                break;
            }
        }
        // Keep draining stderr so the child never blocks on a full pipe.
        let rest = std::thread::spawn(move || {
            let mut text = String::new();
            let _ = std::io::Read::read_to_string(&mut reader, &mut text);
            text
        });
        let pending = self.get("/_emulator/identity/pending");
        let user_code = pending["value"][0]["userCode"]
            .as_str()
            .expect("a pending device code")
            .to_string();
        PendingLogin {
            child,
            user_code,
            head,
            rest,
        }
    }
}

pub struct PendingLogin {
    pub child: Child,
    pub user_code: String,
    head: String,
    rest: std::thread::JoinHandle<String>,
}

impl PendingLogin {
    /// Wait for the login to end: its exit status and all of its stderr.
    pub fn finish(mut self) -> (std::process::ExitStatus, String) {
        let status = self.child.wait().expect("wait for login");
        let rest = self.rest.join().unwrap_or_default();
        (status, format!("{}{rest}", self.head))
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        if let Some(running) = self.emulator.take() {
            self.rt.block_on(running.shutdown());
        }
    }
}

/// A stand-alone emulator process (`graphwatch emulator ARGS… --port P`), for the one
/// fault the in-process emulator cannot make: the process killed and started again.
pub struct EmulatorProcess {
    child: Child,
    args: Vec<String>,
    pub base: String,
}

impl EmulatorProcess {
    /// Start it on a port the system picks and wait for its first line, the base URL.
    pub fn spawn(args: &[&str]) -> EmulatorProcess {
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        let (child, base) = EmulatorProcess::start(&args, 0);
        EmulatorProcess { child, args, base }
    }

    fn start(args: &[String], port: u16) -> (Child, String) {
        let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("graphwatch"))
            .arg("emulator")
            .args(args)
            .args(["--port", &port.to_string()])
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn graphwatch emulator");
        let mut first = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut first)
            .expect("read the emulator's first line");
        let base = first.trim().to_string();
        assert!(
            base.starts_with("http://127.0.0.1:"),
            "first line: {first:?}"
        );
        (child, base)
    }

    pub fn port(&self) -> u16 {
        self.base
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .expect("a port in the base URL")
    }

    /// SIGKILL: no chance to save or close anything on the way out.
    pub fn kill(&mut self) {
        self.child.kill().expect("kill the emulator");
        self.child.wait().expect("reap the emulator");
    }

    /// Start it again with the same arguments on the same port.
    pub fn restart(&mut self) {
        let (child, base) = EmulatorProcess::start(&self.args, self.port());
        assert_eq!(base, self.base, "the same port");
        self.child = child;
    }
}

impl Drop for EmulatorProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn stdout(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn stderr(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// `cmd` run by `sh -c 'PRELUDE; exec graphwatch …'`, with the same environment.
pub fn in_shell(cmd: std::process::Command, prelude: &str) -> std::process::Command {
    let mut sh = std::process::Command::new("sh");
    sh.arg("-c")
        .arg(format!("{prelude}; exec \"$0\" \"$@\""))
        .arg(cmd.get_program())
        .args(cmd.get_args());
    for (key, value) in cmd.get_envs() {
        match value {
            Some(value) => sh.env(key, value),
            None => sh.env_remove(key),
        };
    }
    sh
}

/// Limit the size of files a running process may write to `bytes`: a full disk from
/// now on (with SIGXFSZ ignored, writes past it fail with EFBIG).
#[cfg(target_os = "linux")]
pub fn limit_file_size(pid: u32, bytes: u64) {
    let pid = libc::pid_t::try_from(pid).unwrap();
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: prlimit reads and writes only the two rlimit structs given.
    unsafe {
        assert_eq!(
            libc::prlimit(pid, libc::RLIMIT_FSIZE, std::ptr::null(), &mut limit),
            0
        );
        limit.rlim_cur = bytes as libc::rlim_t;
        assert_eq!(
            libc::prlimit(pid, libc::RLIMIT_FSIZE, &limit, std::ptr::null_mut()),
            0
        );
    }
}

/// Lift the file-size limit of a running process: the disk has room again.
#[cfg(target_os = "linux")]
pub fn lift_file_size_limit(pid: u32) {
    let pid = libc::pid_t::try_from(pid).unwrap();
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: prlimit reads and writes only the two rlimit structs given.
    unsafe {
        assert_eq!(
            libc::prlimit(pid, libc::RLIMIT_FSIZE, std::ptr::null(), &mut limit),
            0
        );
        limit.rlim_cur = limit.rlim_max;
        assert_eq!(
            libc::prlimit(pid, libc::RLIMIT_FSIZE, &limit, std::ptr::null_mut()),
            0
        );
    }
}

/// The emulator's event log (`GET /_emulator/log`), oldest first.
pub fn log(env: &Env) -> Vec<Value> {
    env.get("/_emulator/log")["entries"]
        .as_array()
        .expect("entries")
        .clone()
}

/// A log entry's time on the emulator's clock, in ms.
pub fn elapsed(entry: &Value) -> f64 {
    entry["elapsedMs"].as_f64().expect("elapsedMs")
}

/// What a `--state` database holds, as JSON for assertions: `{"targets": {LABEL:
/// {"resource", "deltaLink", "indexed"}}, "items": {LABEL: [{"id", "name", "parent",
/// "folder"}, …]}}`. Opened read-only, as another process would.
pub fn saved_state(path: &std::path::Path) -> Value {
    let conn =
        rusqlite::Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .expect("the state file is an SQLite database");
    let mut targets = serde_json::Map::new();
    let mut items = serde_json::Map::new();
    let mut q = conn
        .prepare("SELECT key, label, resource, delta_link, indexed FROM targets")
        .unwrap();
    let rows: Vec<(i64, String, String, Option<String>, bool)> = q
        .query_map([], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })
        .unwrap()
        .map(Result::unwrap)
        .collect();
    for (key, label, resource, link, indexed) in rows {
        targets.insert(
            label.clone(),
            serde_json::json!({"resource": resource, "deltaLink": link, "indexed": indexed}),
        );
        let mut q = conn
            .prepare("SELECT id, name, parent, folder FROM items WHERE target = ?1 ORDER BY id")
            .unwrap();
        let list: Vec<Value> = q
            .query_map([key], |r| {
                Ok(serde_json::json!({
                    "id": r.get::<_, String>(0)?,
                    "name": r.get::<_, Option<String>>(1)?,
                    "parent": r.get::<_, Option<String>>(2)?,
                    "folder": r.get::<_, bool>(3)?,
                }))
            })
            .unwrap()
            .map(Result::unwrap)
            .collect();
        items.insert(label, Value::Array(list));
    }
    serde_json::json!({"targets": targets, "items": items})
}

/// Every byte of a `--state` database and its WAL, as text, to look for secrets.
pub fn state_bytes(path: &std::path::Path) -> String {
    let mut text = String::new();
    for suffix in ["", "-wal"] {
        let file = std::path::PathBuf::from(format!("{}{suffix}", path.display()));
        if let Ok(bytes) = std::fs::read(file) {
            text.push_str(&String::from_utf8_lossy(&bytes));
        }
    }
    text
}
