//! `--access-token-command`: a watch whose tokens come from a command of the user's is
//! renewed by running it again — when Graph refuses the token (401), and, for a JWT,
//! before its `exp` passes — and loses no change on the way. The command here is a
//! small script that mints a token at the emulator and counts its runs.

#![cfg(unix)]

use crate::common;

use std::path::{Path, PathBuf};

use common::watcher::{change, upload, Watcher};
use common::{stderr, stdout, Env, ADELE};
use serde_json::{json, Value};

/// A script that prints a new emulator token for Adele (`format`: opaque or jwt,
/// `lifetime` seconds) and appends a line to `runs` each time.
fn token_script(env: &Env, format: &str, lifetime: u64) -> (PathBuf, PathBuf) {
    let dir = env.dir.path();
    let runs = dir.join("runs");
    let script = dir.join("token.sh");
    let body = json!({"user": ADELE, "format": format, "lifetimeSecs": lifetime}).to_string();
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\necho run >> '{runs}'\ncurl -s -X POST -H 'content-type: application/json' -d '{body}' '{base}/_emulator/tokens' | sed -n 's/.*\"access_token\":\"\\([^\"]*\\)\".*/\\1/p'\n",
            runs = runs.display(),
            base = env.base,
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    (script, runs)
}

fn runs(path: &Path) -> usize {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .count()
}

/// Graph requests (not the control API) the emulator answered with 401.
fn refused(env: &Env) -> usize {
    common::log(env)
        .iter()
        .filter(|e| e["kind"] == "request" && e["status"] == 401)
        .filter(|e| e["path"].as_str().is_some_and(|p| p.starts_with("/v1.0/")))
        .count()
}

fn watch(env: &Env, script: &Path) -> Watcher {
    let watcher = Watcher::spawn_cmd(env.std_cmd(&[
        "drive",
        "me",
        "--changes",
        "-o",
        "json",
        "-vvv",
        "--access-token-command",
        script.to_str().unwrap(),
    ]));
    watcher.wait_stderr("watching drive:me");
    watcher
}

/// Upload `name` and wait for its change line.
fn change_of(env: &Env, watcher: &Watcher, name: &str) {
    let id = upload(env, name);
    loop {
        let line: Value = watcher.next();
        if change(&line).is_some_and(|(i, _)| i == id) {
            return;
        }
    }
}

#[test]
fn an_opaque_token_is_renewed_when_graph_refuses_it_and_no_change_is_lost() {
    let env = Env::start_with(|a| a.settings.notify_delay_ms = 50);
    let (script, runs_file) = token_script(&env, "opaque", 3600);
    let watcher = watch(&env, &script);
    change_of(&env, &watcher, "Command/a.txt");
    assert_eq!(runs(&runs_file), 1, "one token so far");
    assert_eq!(refused(&env), 0);

    // Every access token expires now: the next request is refused, the command runs
    // again, the request is repeated with the new token.
    env.post("/_emulator/identity/expire-access-tokens", json!({}));
    change_of(&env, &watcher, "Command/b.txt");
    change_of(&env, &watcher, "Command/c.txt");
    assert_eq!(runs(&runs_file), 2, "run again once, after the 401");
    assert!(refused(&env) >= 1);
    assert!(watcher
        .stderr()
        .contains("running --access-token-command (Graph refused its token)"));

    // No token, and not the command line, in anything graphwatch wrote at -vvv.
    let err = watcher.stderr();
    drop(watcher);
    for secret in env.issued_secrets() {
        assert!(!err.contains(&secret), "a token leaked into stderr");
    }
    assert!(
        !err.contains("_emulator/tokens"),
        "the command line is not logged"
    );
}

#[test]
fn a_jwt_is_renewed_before_its_expiry_without_a_refusal() {
    // Tokens of 2 s: graphwatch runs the command again once half of that has passed,
    // before Graph would refuse them; the watch goes on until tokens have been renewed
    // a few times over.
    let env = Env::start_with(|a| a.settings.notify_delay_ms = 50);
    let (script, runs_file) = token_script(&env, "jwt", 2);
    let watcher = watch(&env, &script);
    let started = std::time::Instant::now();
    let mut n = 0;
    while runs(&runs_file) < 4 || started.elapsed() < std::time::Duration::from_secs(3) {
        n += 1;
        assert!(n <= 200, "the command was run {} times", runs(&runs_file));
        change_of(&env, &watcher, &format!("Jwt/{n}.txt"));
    }
    assert_eq!(
        refused(&env),
        0,
        "no token was used past its expiry: {}",
        watcher.stderr()
    );
    assert!(watcher
        .stderr()
        .contains("running --access-token-command (its token expires)"));
}

#[test]
fn a_command_that_fails_or_prints_nothing_is_exit_3_and_never_quoted() {
    let env = Env::start();
    for (command, says) in [
        ("exit 7", "it exited with status 7"),
        ("true", "it printed no token"),
        ("echo 'not one token'", "it printed more than a token"),
    ] {
        let out = env
            .cmd(&[
                "endpoint",
                "--drive",
                "me",
                "--access-token-command",
                command,
            ])
            .output()
            .unwrap();
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(3), "{command}: {err}");
        assert!(err.contains(says), "{command}: {err}");
        assert!(
            !err.contains("not one token"),
            "what it printed is not quoted: {err}"
        );
        assert_eq!(err.lines().count(), 1, "{err}");
    }
    // Both ways of giving a token at once: usage.
    let out = env
        .cmd(&[
            "whoami",
            "--access-token",
            "x",
            "--access-token-command",
            "true",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
}

#[test]
fn the_command_can_come_from_config_toml_and_whoami_asks_graph_with_its_token() {
    let env = Env::start();
    let (script, runs_file) = token_script(&env, "opaque", 3600);
    std::fs::write(
        env.config_dir().join("config.toml"),
        format!("access_token_command = \"{}\"\n", script.display()),
    )
    .unwrap();
    let out = env.cmd(&["whoami", "-o", "json"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let who: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(who["source"], "access-token-command");
    assert_eq!(who["account"], ADELE);
    assert_eq!(runs(&runs_file), 1);
    // login would bypass it: refused, with what to do.
    let out = env.cmd(&["login"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("access_token_command"),
        "{}",
        stderr(&out)
    );
}
