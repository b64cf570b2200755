//! Issue 17, sign-in and the files beside it: a sign-in service that is down for a
//! while (503, 429 with `Retry-After`, connections refused) when a refresh is due
//! loses nothing; only the service's word on the grant (`invalid_grant`) ends the
//! watch (exit 3). A token cache that cannot be saved (full disk, read-only directory)
//! keeps the renewed sign-in in memory and saves it once it can. The config directory
//! and the lock file are private whatever the umask, stale temporary files are
//! removed, and the process is not dumpable.
//!
//! The refresh is made due the way an hour of running makes it: the cache says the
//! sign-in is an hour old and its access token (the emulator's lifetime: 90 s) is
//! inside the 2-minute refresh margin, while Graph still accepts it. Later in each case
//! `expire-access-tokens` makes Graph refuse it, so the watch needs the sign-in
//! service back before its next delta round.
//!
//! Directory modes do not stop root: when the tests run as root, the graphwatch that
//! must be kept out of a directory runs as `nobody` (65534) over a config directory it
//! owns; a full disk is a file-size limit on the process (`ulimit -f 0`, `SIGXFSZ`
//! ignored by the shell that starts it, so a write fails with `EFBIG` as it would with
//! `ENOSPC`), which the test lifts from outside with `prlimit(2)` to free the space.
//! Neither needs a mount or a privilege the tests may not have.

#![cfg(unix)]

use crate::common;

use std::net::SocketAddr;
use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
use std::os::unix::process::CommandExt as _;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant, SystemTime};

use chrono::Utc;
use common::watcher::{has, upload, Watcher};
use common::{elapsed, in_shell, lift_file_size_limit, log, stderr, Env};
use serde_json::{json, Value};

const ARGS: &[&str] = &[
    "drive",
    "me",
    "--changes",
    "--poll",
    "10m",
    "-o",
    "json",
    "--backoff",
    "200ms..1s",
];

/// The emulator's access-token lifetime: inside the refresh margin from the start.
const TOKEN_LIFETIME_SECS: u64 = 90;

const GOING_ON: &str = "going on with the current access token";
const WAITING: &str = "requests to Graph wait until the sign-in service is back";
const BACK: &str = "the sign-in service is back";
const KEPT: &str = "keeping the renewed sign-in in memory";
const SAVED: &str = "saved the renewed sign-in of profile default at last";

/// For the refreshes made due by [`refresh_due`]: short-lived access tokens.
fn env() -> Env {
    Env::start_with(|args| {
        args.settings.notify_delay_ms = 50;
        args.settings.token_lifetime_secs = TOKEN_LIFETIME_SECS;
    })
}

/// For the refreshes made by `expire-access-tokens` only: tokens of an hour, as usual.
fn hour_env() -> Env {
    Env::start_with(|args| args.settings.notify_delay_ms = 50)
}

/// As if the sign-in were an hour old and its access token about to expire: a
/// refresh is due at once, and Graph still accepts the token.
fn refresh_due(env: &Env) {
    let path = env.cache_path("default");
    let mut cache = env.cache("default");
    cache["signed_in_at"] = json!((Utc::now() - chrono::Duration::hours(1)).to_rfc3339());
    cache["refreshed_at"] = Value::Null;
    std::fs::write(&path, serde_json::to_vec(&cache).unwrap()).unwrap();
}

fn occurrences(text: &str, needle: &str) -> usize {
    text.lines().filter(|l| l.contains(needle)).count()
}

/// Whether the emulator would still take `refresh_token`.
fn active(env: &Env, refresh_token: &Value) -> bool {
    let snapshot = env
        .emulator
        .as_ref()
        .expect("running")
        .state
        .identity
        .snapshot();
    let key = refresh_token.as_str().expect("a refresh token");
    snapshot["refreshTokens"][key]["state"] == "active"
}

/// Poll until `ok`, within `patience`.
fn eventually(what: &str, patience: Duration, mut ok: impl FnMut() -> bool) {
    let deadline = Instant::now() + patience;
    while !ok() {
        assert!(Instant::now() < deadline, "never: {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The next run can still use the sign-in: with Graph refusing the cached access
/// token, a command must refresh with the refresh token in the file.
fn next_run_is_signed_in(env: &Env, mut cmd: Command) {
    env.post("/_emulator/identity/expire-access-tokens", json!({}));
    let out = cmd.output().expect("run graphwatch");
    assert!(
        out.status.success(),
        "the sign-in did not survive: {}",
        stderr(&out)
    );
}

/// Who runs graphwatch where a directory's mode must keep it out: the test's own user,
/// or, when that is root (which modes do not stop), `nobody` over a config directory
/// it owns.
struct RunAs(Option<u32>);

const NOBODY: u32 = 65534;

impl RunAs {
    fn for_config_dir(env: &Env) -> RunAs {
        let dir = env.config_dir();
        if std::fs::metadata(&dir).unwrap().uid() == 0 {
            std::os::unix::fs::chown(&dir, Some(NOBODY), Some(NOBODY)).unwrap();
            RunAs(Some(NOBODY))
        } else {
            RunAs(None)
        }
    }

    fn apply(&self, mut cmd: Command) -> Command {
        if let Some(uid) = self.0 {
            cmd.uid(uid).gid(uid);
        }
        cmd
    }
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

fn chmod(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// The sign-in service fails (`fail`) from the start of a stream whose refresh is due,
/// and comes back (`mend`) only after Graph stopped taking the old access token (and
/// once `lasted` says the outage has lasted long enough):
/// the stream goes on with the token it has, a change made while the service is down
/// is written with it, a change made after the token stopped working is written once
/// the service is back, the socket is never dropped, each state is said once, and the
/// renewed sign-in is saved for the next run. Returns the emulator's log.
fn outage_loses_nothing(
    what: &str,
    env: &Env,
    watch: Command,
    fail: impl FnOnce(),
    lasted: impl Fn() -> bool,
    mend: impl FnOnce(),
) -> Vec<Value> {
    let before = env.cache("default");
    fail();
    let w = Watcher::spawn_cmd(watch);
    w.wait_stderr_all(&[GOING_ON, "watching drive:me"]);
    let during = upload(env, "Blip/during.txt");
    w.until(|seen| has(seen, &during, "created"));
    assert_eq!(
        env.counter("grants.refresh_token"),
        0,
        "the service was down"
    );

    // The old token stops working before the service is back: requests wait.
    env.post("/_emulator/identity/expire-access-tokens", json!({}));
    let waited = upload(env, "Blip/waited.txt");
    w.wait_stderr(WAITING);
    eventually("the outage lasted", Duration::from_secs(60), lasted);
    mend();
    // A mark in the emulator's log: the service is back from here.
    env.get("/_emulator/stats");
    let mended = log(env)
        .iter()
        .rev()
        .find(|e| e["path"] == "/_emulator/stats")
        .expect("the mark")
        .clone();
    w.until(|seen| has(seen, &waited, "created"));
    w.wait_stderr(BACK);
    let after = upload(env, "Blip/after.txt");
    w.until(|seen| has(seen, &after, "created"));

    let text = w.stderr();
    assert_eq!(occurrences(&text, GOING_ON), 1, "said once: {text}");
    assert_eq!(occurrences(&text, WAITING), 1, "said once: {text}");
    assert_eq!(env.counter("grants.refresh_token"), 1, "{text}");
    assert_eq!(
        env.counter("sockets.connected"),
        1,
        "the socket was never dropped"
    );
    assert_eq!(env.get("/_emulator/stats")["liveSockets"], 1);
    let cache = env.cache("default");
    assert_ne!(
        cache["refresh_token"], before["refresh_token"],
        "rotated and saved"
    );
    assert!(active(env, &cache["refresh_token"]));

    let entries = log(env);
    let granted = entries
        .iter()
        .find(|e| {
            e["seq"].as_u64() > mended["seq"].as_u64()
                && e["route"] == "token"
                && e["kind"] == "request"
                && e["status"] == 200
        })
        .expect("a refresh after the service was back");
    eprintln!(
        "{what}: sign-in service back → refresh grant {:.0} ms",
        elapsed(granted) - elapsed(&mended)
    );
    entries
}

/// Token requests that failed, their times on the emulator's clock.
fn failed_token_requests(entries: &[Value]) -> Vec<f64> {
    entries
        .iter()
        .filter(|e| e["route"] == "token" && e["kind"] == "fault")
        .map(elapsed)
        .collect()
}

#[test]
fn a_503_from_the_token_endpoint_at_refresh_time_loses_nothing() {
    let env = env();
    env.login(&[]);
    refresh_due(&env);
    let entries = outage_loses_nothing(
        "token endpoint 503",
        &env,
        env.std_cmd(ARGS),
        || {
            env.post(
                "/_emulator/faults/fail",
                json!({"route": "token", "status": 503, "count": 1_000_000}),
            );
        },
        || env.counter("faults.token") >= 4,
        || {
            env.post("/_emulator/faults/clear", json!({}));
        },
    );
    // No busy loop: one attempt per backoff step (1 s doubling, ±20 %), whatever the
    // number of requests that needed a token meanwhile.
    let failed = failed_token_requests(&entries);
    let span = failed.last().unwrap() - failed[0];
    eprintln!(
        "token endpoint 503: {} attempts in {span:.0} ms",
        failed.len()
    );
    assert!(
        failed.len() as f64 <= span / 800.0 + 2.0,
        "{} attempts in {span:.0} ms: a busy loop?",
        failed.len()
    );
    next_run_is_signed_in(&env, env.std_cmd(&["endpoint", "--drive", "me"]));
}

#[test]
fn a_429_from_the_token_endpoint_is_waited_out_for_its_retry_after() {
    let env = env();
    env.login(&[]);
    refresh_due(&env);
    let entries = outage_loses_nothing(
        "token endpoint 429",
        &env,
        env.std_cmd(ARGS),
        || {
            env.post(
                "/_emulator/faults/fail",
                json!({"route": "token", "status": 429, "count": 1_000_000, "retryAfter": 3}),
            );
        },
        || env.counter("faults.token") >= 3,
        || {
            env.post("/_emulator/faults/clear", json!({}));
        },
    );
    // Retry-After: 3 is a floor for every next attempt (the backoff alone would
    // try again after 1 s and 2 s).
    let failed = failed_token_requests(&entries);
    let gaps: Vec<f64> = failed.windows(2).map(|w| w[1] - w[0]).collect();
    eprintln!("token endpoint 429 (Retry-After 3): gaps between attempts {gaps:.0?} ms");
    assert!(!gaps.is_empty(), "attempted more than once");
    assert!(
        gaps.iter().all(|&gap| gap >= 2990.0),
        "an attempt before Retry-After: {gaps:?}"
    );
}

/// The sign-in service on a port of its own (login.microsoftonline.com is another host
/// than graph.microsoft.com): a TCP relay to the emulator that can refuse connections
/// for a while. While refusing, its port is held by a socket that is bound but not
/// listening, so a connect gets `ECONNREFUSED` and nothing else can take the port.
struct LoginHost {
    url: String,
    addr: SocketAddr,
    upstream: SocketAddr,
    relay: Option<tokio::task::JoinHandle<()>>,
    held: Option<tokio::net::TcpSocket>,
}

impl LoginHost {
    fn start(env: &Env) -> LoginHost {
        let upstream = env.emulator.as_ref().expect("running").addr;
        let socket = LoginHost::socket("127.0.0.1:0".parse().unwrap());
        let addr = socket.local_addr().unwrap();
        let mut host = LoginHost {
            url: format!("http://{addr}"),
            addr,
            upstream,
            relay: None,
            held: Some(socket),
        };
        host.listen(env);
        host
    }

    fn socket(addr: SocketAddr) -> tokio::net::TcpSocket {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.set_reuseaddr(true).unwrap();
        socket.set_reuseport(true).unwrap();
        socket.bind(addr).unwrap();
        socket
    }

    fn listen(&mut self, env: &Env) {
        let socket = self.held.take().expect("not listening");
        let listener = env
            .rt
            .block_on(async move { socket.listen(64) })
            .expect("listen");
        let upstream = self.upstream;
        self.relay = Some(env.rt.spawn(async move {
            let mut connections = tokio::task::JoinSet::new();
            loop {
                let Ok((mut inbound, _)) = listener.accept().await else {
                    continue;
                };
                connections.spawn(async move {
                    if let Ok(mut outbound) = tokio::net::TcpStream::connect(upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
                while connections.try_join_next().is_some() {}
            }
        }));
    }

    /// Refuse connections until [`LoginHost::listen`]; the relayed ones are cut too.
    fn refuse(&mut self, env: &Env) {
        let addr = self.addr;
        let held = env.rt.block_on(async move { LoginHost::socket(addr) });
        if let Some(relay) = self.relay.take() {
            relay.abort();
            let _ = env.rt.block_on(relay);
        }
        self.held = Some(held);
    }

    /// `graphwatch ARGS…` signing in here, with Graph at the emulator.
    fn cmd(&self, env: &Env, args: &[&str]) -> Command {
        let mut cmd = env.bare_cmd(args);
        cmd.args(["--login-url", &self.url]);
        cmd.args(["--graph-url", &format!("{}/v1.0", env.base)]);
        cmd
    }
}

#[test]
fn a_refused_connection_to_the_sign_in_service_at_refresh_time_loses_nothing() {
    let env = env();
    let mut host = LoginHost::start(&env);
    let out = host.cmd(&env, &["login"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    refresh_due(&env);
    let watch = host.cmd(&env, ARGS);
    let host = std::cell::RefCell::new(&mut host);
    // Refused connections leave no trace in the emulator: the outage lasts as long as
    // the stream takes to say that requests wait.
    outage_loses_nothing(
        "sign-in host refusing connections",
        &env,
        watch,
        || host.borrow_mut().refuse(&env),
        || true,
        || host.borrow_mut().listen(&env),
    );
    let cmd = host.borrow().cmd(&env, &["endpoint", "--drive", "me"]);
    next_run_is_signed_in(&env, cmd);
}

/// The service's word that the grant is no good is final, even while the access token
/// still works: the refresh token was spent (another refresh rotated it), and the run
/// exits 3 saying to sign in again.
#[test]
fn an_invalid_grant_at_refresh_time_exits_3_with_the_login_hint() {
    let env = env();
    env.login(&[]);
    let spent = std::fs::read(env.cache_path("default")).unwrap();
    refresh_due(&env);
    let out = env.cmd(&["endpoint", "--drive", "me"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(env.counter("grants.refresh_token"), 1);
    // Back to the spent refresh token, with an access token Graph still takes.
    std::fs::write(env.cache_path("default"), spent).unwrap();
    refresh_due(&env);
    let mut w = Watcher::spawn_cmd(env.std_cmd(ARGS));
    let status = w.wait();
    let text = w.stderr();
    assert_eq!(status.code(), Some(3), "{text}");
    assert!(
        text.contains("the sign-in for profile default has expired or was revoked; run `graphwatch login` again"),
        "{text}"
    );
    assert!(!text.contains(GOING_ON), "{text}");
}

/// A renewed sign-in that cannot be saved is used from memory (its refresh token has
/// rotated: the one in the file is spent), said once, and saved once possible.
fn renewed_twice_while_unsaved(env: &Env, w: &Watcher) {
    for name in ["first", "second"] {
        env.post("/_emulator/identity/expire-access-tokens", json!({}));
        let id = upload(env, &format!("Unsaved/{name}.txt"));
        w.until(|seen| has(seen, &id, "created"));
    }
    w.wait_stderr(KEPT);
    let text = w.stderr();
    assert_eq!(occurrences(&text, KEPT), 1, "said once: {text}");
    assert_eq!(env.counter("grants.refresh_token"), 2, "{text}");
    let tokens = env.cache_path("default");
    let leftovers: Vec<String> = std::fs::read_dir(tokens.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    assert!(
        !active(env, &env.cache("default")["refresh_token"]),
        "the file still holds the spent refresh token"
    );
}

#[cfg(target_os = "linux")]
#[test]
fn a_full_disk_at_refresh_time_keeps_the_sign_in_and_saves_it_once_there_is_room() {
    let env = hour_env();
    env.login(&[]);
    // No byte can be written to a file: the state of a full disk for the cache's
    // writer (a write fails; the shell ignores SIGXFSZ, graphwatch inherits that).
    let mut w = Watcher::spawn_cmd(in_shell(env.std_cmd(ARGS), "trap '' XFSZ; ulimit -S -f 0"));
    w.wait_stderr("watching drive:me");
    renewed_twice_while_unsaved(&env, &w);
    assert!(w.child.try_wait().unwrap().is_none(), "still running");

    lift_file_size_limit(w.child.id());
    let lifted = Instant::now();
    // The save is tried again with backoff (1 s doubling to a minute): no request
    // needs to come for it.
    eventually("the renewed sign-in saved", Duration::from_secs(90), || {
        active(&env, &env.cache("default")["refresh_token"])
    });
    eprintln!(
        "full disk: room again → renewed sign-in saved after {} ms",
        lifted.elapsed().as_millis()
    );
    w.wait_stderr(SAVED);
    let _ = w.child.kill();
    let _ = w.wait();
    next_run_is_signed_in(&env, env.std_cmd(&["endpoint", "--drive", "me"]));
}

#[test]
fn a_read_only_config_directory_at_refresh_time_keeps_the_sign_in_and_saves_it_once_writable() {
    let env = hour_env();
    let who = RunAs::for_config_dir(&env);
    let out = who.apply(env.std_cmd(&["login"])).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let config = env.config_dir();
    let tokens = config.join("tokens");
    let w = Watcher::spawn_cmd(who.apply(env.std_cmd(ARGS)));
    w.wait_stderr("watching drive:me");
    chmod(&tokens, 0o500);
    chmod(&config, 0o500);
    renewed_twice_while_unsaved(&env, &w);
    assert_eq!(mode(&tokens), 0o500, "graphwatch left the mode as it was");

    // Writable again: the next refresh saves what it has.
    chmod(&config, 0o700);
    chmod(&tokens, 0o700);
    env.post("/_emulator/identity/expire-access-tokens", json!({}));
    let id = upload(&env, "Unsaved/third.txt");
    w.until(|seen| has(seen, &id, "created"));
    assert!(active(&env, &env.cache("default")["refresh_token"]));
    drop(w);
    next_run_is_signed_in(&env, who.apply(env.std_cmd(&["endpoint", "--drive", "me"])));
}

#[test]
fn umask_000_still_makes_a_private_config_directory_and_lock_file() {
    let env = Env::start();
    let parent = env.dir.path().join("xdg");
    let config = parent.join("graphwatch");
    let umask_000 = |args: &[&str]| {
        let mut cmd = env.std_cmd(args);
        cmd.env("GRAPHWATCH_CONFIG_DIR", &config);
        in_shell(cmd, "umask 000")
    };
    let out = umask_000(&["login"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    // A refresh takes the lock file.
    env.post("/_emulator/identity/expire-access-tokens", json!({}));
    let out = umask_000(&["endpoint", "--drive", "me"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(env.counter("grants.refresh_token"), 1);

    let tokens = config.join("tokens");
    for (path, expected) in [
        (parent.as_path(), 0o700),
        (config.as_path(), 0o700),
        (tokens.as_path(), 0o700),
        (tokens.join("default.json").as_path(), 0o600),
        (tokens.join("default.lock").as_path(), 0o600),
    ] {
        assert_eq!(mode(path), expected, "{}", path.display());
    }
}

#[test]
fn stale_temporary_files_of_the_cache_are_removed_at_start() {
    let env = Env::start();
    env.login(&[]);
    let dir = env.cache_path("default").parent().unwrap().to_path_buf();
    let make = |name: &str, age: Duration| {
        let path = dir.join(name);
        let file = std::fs::File::create(&path).unwrap();
        std::io::Write::write_all(&mut &file, b"{\"version\":1,\"access_token\":\"half").unwrap();
        file.set_modified(SystemTime::now() - age).unwrap();
        path
    };
    // Left by a write killed an hour ago; one being written right now; not ours.
    let stale = make(".default.json.k1LLed.tmp", Duration::from_secs(3600));
    let current = make(".default.json.wr1t1n.tmp", Duration::ZERO);
    let other = make(".notes.tmp", Duration::from_secs(3600));
    let out = env.cmd(&["endpoint", "--drive", "me"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!stale.exists(), "the stale temporary file is removed");
    assert!(current.exists(), "another writer's file is left alone");
    assert!(other.exists(), "a file of another name is left alone");
}

/// Not dumpable: no core dump, no same-user debugger. Visible from outside as
/// `/proc/PID/*` owned by root while the process runs as someone else. Checked on a
/// watch, the process that holds the refresh token for hours. (`graphwatch emulator`
/// is the emulator program in graphwatch's place, and an exec makes a process
/// dumpable again: not the process to look at.)
#[cfg(target_os = "linux")]
#[test]
fn graphwatch_is_not_dumpable() {
    let env = Env::start();
    let who = RunAs::for_config_dir(&env);
    let out = who.apply(env.std_cmd(&["login"])).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let w = Watcher::spawn_cmd(who.apply(env.std_cmd(&["drive", "me"])));
    w.wait_stderr("watching drive:me");
    let proc = Path::new("/proc").join(w.child.id().to_string());
    let status = std::fs::read_to_string(proc.join("status")).unwrap();
    let uid: u32 = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|u| u.parse().ok())
        .expect("a Uid line");
    let owner = std::fs::metadata(proc.join("environ")).unwrap().uid();
    drop(w);
    assert_ne!(uid, 0, "the child runs as someone other than root");
    assert_eq!(
        owner, 0,
        "/proc/PID/environ of a non-dumpable process is root's"
    );
}
