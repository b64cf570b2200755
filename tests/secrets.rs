//! No secret leaves graphwatch except where asked for: every command runs at `-vvv`
//! against the emulator, through faults (throttled socketIo, an expired delta cursor,
//! rejected access tokens and refreshes, a reset socket, a failed sign-in poll), and no
//! access token, refresh token, device code, authorization code, PKCE verifier or
//! notificationUrl token may appear in stdout, stderr or the `--state` file. The one exception, by design, is the
//! `endpoint` command's stdout (the user asked for the notificationUrl).

use crate::common;

use common::watcher::{change, upload, Watcher};
use common::{stderr, stdout, Env};
use serde_json::{json, Value};

/// Make the cached access token look expired, as if time had passed: the next command
/// refreshes it before use.
fn age_cached_token(env: &Env) {
    let path = env.cache_path("default");
    let mut cache = env.cache("default");
    cache["access_token_expires_at"] = json!("2000-01-01T00:00:00Z");
    std::fs::write(&path, serde_json::to_vec(&cache).unwrap()).unwrap();
}

/// Every notificationUrl token the emulator handed out.
fn notification_tokens(env: &Env) -> Vec<String> {
    let snapshot = env
        .emulator
        .as_ref()
        .expect("running")
        .state
        .push
        .snapshot();
    snapshot["subscriptions"]
        .as_array()
        .expect("subscriptions")
        .iter()
        .filter_map(|s| s["token"].as_str().map(str::to_string))
        .collect()
}

/// Values of `token=` parameters that are not redacted (`…`, `REDACTED`).
fn bare_token_params(text: &str) -> Vec<String> {
    text.match_indices("token=")
        .map(|(at, key)| {
            text[at + key.len()..]
                .split(|c: char| c == '&' || c == '"' || c == '\'' || c.is_whitespace())
                .next()
                .unwrap_or_default()
                .to_string()
        })
        .filter(|value| !value.is_empty() && value != "…" && value != "REDACTED")
        .collect()
}

/// Run a command to its end; its stdout and stderr go to `seen`.
fn run(env: &Env, args: &[&str], seen: &mut String) -> std::process::Output {
    let out = env.cmd(args).output().expect("run graphwatch");
    seen.push_str(&format!("\n$ graphwatch {}\n", args.join(" ")));
    seen.push_str(&stdout(&out));
    seen.push_str(&stderr(&out));
    out
}

#[test]
fn no_secret_reaches_stdout_stderr_or_the_state_file_at_trace_level() {
    let env = Env::start_with(|args| {
        args.settings.notify_delay_ms = 50;
    });
    let mut seen = String::new();

    // A sign-in whose poll fails for good (the device code was issued), then a good one.
    env.post(
        "/_emulator/faults/fail",
        json!({"route": "token", "status": 400, "count": 1}),
    );
    let out = run(&env, &["login", "-vvv"], &mut seen);
    assert!(!out.status.success(), "the failed poll ends the sign-in");
    let out = run(&env, &["login", "-vvv"], &mut seen);
    assert!(out.status.success(), "{}", stderr(&out));

    // Account commands; a refresh before use; a 401 and a refresh after it.
    for args in [&["whoami", "-vvv"][..], &["whoami", "-vvv", "-o", "json"]] {
        assert!(run(&env, args, &mut seen).status.success());
    }
    age_cached_token(&env);
    let mut endpoint_stdout = String::new();
    for args in [
        &["endpoint", "--drive", "me", "-vvv"][..],
        &[
            "endpoint",
            "--list",
            "site-eng/Issues",
            "-vvv",
            "-o",
            "pretty",
        ],
    ] {
        env.post("/_emulator/identity/expire-access-tokens", json!({}));
        let out = env.cmd(args).output().unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        // The endpoint's stdout is the notificationUrl, by design: kept apart.
        endpoint_stdout.push_str(&stdout(&out));
        seen.push_str(&stderr(&out));
    }
    assert!(endpoint_stdout.contains("notificationUrl"));

    // The stream, in changes mode with a state file, through faults.
    let state = env.dir.path().join("state.db");
    env.post(
        "/_emulator/faults/fail",
        json!({"route": "socketio", "status": 503, "count": 1, "retryAfter": 0}),
    );
    let watcher = Watcher::spawn_cmd(env.std_cmd(&[
        "drive",
        "me",
        "--changes",
        "--notifications",
        "--state",
        state.to_str().unwrap(),
        "-vvv",
        "-o",
        "json",
    ]));
    watcher.wait_stderr("watching drive:me");
    let mut lines: Vec<Value> = Vec::new();
    let mut wait_for = |watcher: &Watcher, done: &dyn Fn(&Value) -> bool| loop {
        let line = watcher.next();
        let hit = done(&line);
        lines.push(line);
        if hit {
            break;
        }
    };
    // An expired cursor: resync.
    env.post(
        "/_emulator/faults/fail",
        json!({"route": "delta", "status": 410, "count": 1}),
    );
    upload(&env, "Secrets/a.txt");
    wait_for(&watcher, &|l| l["type"] == "resync");
    // A rejected access token: refresh, and the rotated refresh token is saved.
    env.post("/_emulator/identity/expire-access-tokens", json!({}));
    let b = upload(&env, "Secrets/b.txt");
    wait_for(&watcher, &|l| change(l).is_some_and(|(id, _)| id == b));
    // A reset socket: a fresh endpoint (throttled once first), a new socket.
    env.post(
        "/_emulator/faults/fail",
        json!({"route": "socketio", "status": 429, "count": 1, "retryAfter": 0}),
    );
    env.post("/_emulator/sockets/kill", json!({}));
    watcher.wait_stderr("drive:me: reconnected");
    let c = upload(&env, "Secrets/c.txt");
    wait_for(&watcher, &|l| change(l).is_some_and(|(id, _)| id == c));
    for line in &lines {
        seen.push_str(&line.to_string());
        seen.push('\n');
    }
    seen.push_str(&watcher.stderr());
    drop(watcher);
    let state_text = common::state_bytes(&state);
    assert!(
        common::saved_state(&state)["targets"]["drive:me"]["deltaLink"].is_string(),
        "the state file was written"
    );

    // A list, several targets, the demo, logout.
    let list = Watcher::spawn_cmd(env.std_cmd(&[
        "list",
        "site-eng/Issues",
        "-vvv",
        "-n",
        "1",
        "-o",
        "json",
    ]));
    list.wait_stderr("watching list:site-eng/Issues");
    common::watcher::graph(
        &env,
        reqwest::Method::POST,
        "/sites/site-eng/lists/list-issues/items",
        Some(json!({"fields": {"Title": "a secret-free item"}})),
    );
    let mut list = list;
    assert!(list.wait().success(), "{}", list.stderr());
    seen.push_str(&list.rest().join("\n"));
    seen.push_str(&list.stderr());
    let out = run(
        &env,
        &[
            "watch",
            "--drive",
            "me",
            "--list",
            "site-eng/Issues",
            "-vvv",
            "--timeout",
            "1s",
        ],
        &mut seen,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let out = run(&env, &["demo", "-vvv", "-o", "json"], &mut seen);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = run(&env, &["logout", "-vvv"], &mut seen);
    assert!(out.status.success(), "{}", stderr(&out));

    // The faults and paths above did happen, at trace level.
    assert!(seen.contains("TRACE") || seen.contains("DEBUG"), "{seen}");
    assert!(
        env.counter("grants.refresh_token") >= 2,
        "refreshes happened"
    );
    assert!(lines.iter().any(|l| l["type"] == "resync"));

    let mut secrets = env.issued_secrets();
    let tokens = notification_tokens(&env);
    assert!(tokens.len() >= 4, "notification tokens: {}", tokens.len());
    secrets.extend(tokens);
    assert!(secrets.len() >= 10, "secrets: {}", secrets.len());
    for secret in &secrets {
        assert!(
            !seen.contains(secret.as_str()),
            "a secret leaked into the output"
        );
        assert!(
            !state_text.contains(secret.as_str()),
            "a secret in the state file"
        );
    }
    let bare = bare_token_params(&seen);
    assert!(bare.is_empty(), "unredacted token parameters: {bare:?}");
    // The endpoint's stdout did hold a notification token: the check can see them.
    assert!(secrets.iter().any(|s| endpoint_stdout.contains(s.as_str())));
    assert!(!bare_token_params(&endpoint_stdout).is_empty());
}

/// The browser sign-in (through `$BROWSER`, and pasted), a failed one, `whoami` and a
/// token command, all at `-vvv`: no authorization code, PKCE verifier, consent flow
/// value, access or refresh token in stdout or stderr. The verifier never reaches the
/// emulator's store, so every word of the output that could be one is hashed and
/// compared with the challenges the emulator saw.
#[cfg(unix)]
#[test]
fn no_code_verifier_or_token_in_the_browser_sign_in_at_trace_level() {
    use std::io::{BufRead as _, BufReader, Write as _};
    use std::process::Stdio;

    let env = Env::start_with(|a| a.settings.authorize_auto_approve = true);
    let mut seen = String::new();
    let follower = common::browser::follower(env.dir.path());
    let out = env
        .cmd(&["login", "--browser", "-vvv"])
        .env("BROWSER", &follower)
        .timeout(std::time::Duration::from_secs(120))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    seen.push_str(&stdout(&out));
    seen.push_str(&stderr(&out));

    // The paste flow at -vvv.
    let mut child = env
        .std_cmd(&["login", "--no-open", "-vvv"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut reader = BufReader::new(child.stderr.take().unwrap());
    const SHOWN: &str = "open this page in a web browser: ";
    let address = loop {
        let mut line = String::new();
        assert!(
            reader.read_line(&mut line).unwrap() > 0,
            "no address: {seen}"
        );
        seen.push_str(&line);
        if let Some(at) = line.find(SHOWN) {
            break line[at + SHOWN.len()..].trim().to_string();
        }
    };
    let location = env.rt.block_on(async {
        reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap()
            .get(&address)
            .send()
            .await
            .unwrap()
            .headers()["location"]
            .to_str()
            .unwrap()
            .to_string()
    });
    writeln!(child.stdin.take().unwrap(), "{location}").unwrap();
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut reader, &mut rest).unwrap();
    assert!(child.wait().unwrap().success(), "{rest}");
    seen.push_str(&rest);

    // Another sign-in's answer (the pasted address once more: its state is not this
    // sign-in's), whoami, a token command whose command line holds a token.
    let mut child = env
        .std_cmd(&["login", "--no-open", "-vvv"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    writeln!(child.stdin.take().unwrap(), "{location}").unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(3),
        "another sign-in's answer is refused"
    );
    seen.push_str(&stderr(&out));
    for args in [&["whoami", "-vvv"][..], &["whoami", "-vvv", "--offline"]] {
        let out = env.cmd(args).output().unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        seen.push_str(&stdout(&out));
        seen.push_str(&stderr(&out));
    }
    let token = env.mint(common::ADELE);
    let out = env
        .cmd(&[
            "whoami",
            "-vvv",
            "--access-token-command",
            &format!("echo {token}"),
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    seen.push_str(&stdout(&out));
    seen.push_str(&stderr(&out));
    assert!(seen.contains("TRACE") || seen.contains("DEBUG"), "{seen}");

    let secrets = env.issued_secrets();
    assert!(secrets.len() >= 6, "codes and tokens: {}", secrets.len());
    let cache = env.cache("default");
    for secret in secrets.iter().map(String::as_str).chain([
        cache["access_token"].as_str().unwrap(),
        cache["refresh_token"].as_str().unwrap(),
        token.as_str(),
    ]) {
        assert!(!seen.contains(secret), "a secret leaked into the output");
    }
    let code = location
        .split("code=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap();
    assert!(!seen.contains(code), "the pasted code was echoed");
    let challenges = env.pkce_challenges();
    assert_eq!(challenges.len(), 2, "two codes were issued");
    let words = regex::Regex::new(r"[A-Za-z0-9._~-]{43,128}").unwrap();
    // The check can see a verifier (RFC 7636's example) in a line of text.
    let example = "verifier=dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk;";
    assert!(words.find_iter(example).any(|w| {
        graphwatch_emulator::identity::pkce_matches(
            w.as_str(),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
        )
    }));
    for word in words.find_iter(&seen) {
        for challenge in &challenges {
            assert!(
                !graphwatch_emulator::identity::pkce_matches(word.as_str(), challenge),
                "a PKCE verifier leaked into the output"
            );
        }
    }
}
