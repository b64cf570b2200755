//! Sign-in, the token cache and its refresh, end to end against the emulator.

use crate::common;

use common::{stderr, stdout, Env, ADELE};
use serde_json::{json, Value};

#[test]
fn login_then_whoami_in_text_and_json() {
    let env = Env::start();
    let output = env.login(&[]);
    let err = stderr(&output);
    assert!(stdout(&output).is_empty(), "login writes nothing on stdout");
    assert!(
        err.contains("Signed in as Adele Vance <adele@contoso.onmicrosoft.com>"),
        "{err}"
    );
    assert!(
        err.contains("tenant 6e0c8a1f-3b2d-4c5e-9f7a-1d2b3c4e5f60"),
        "{err}"
    );

    let cache = env.cache("default");
    assert_eq!(cache["account"], ADELE);
    assert_eq!(cache["tenant_id"], "6e0c8a1f-3b2d-4c5e-9f7a-1d2b3c4e5f60");
    assert!(cache["refresh_token"]
        .as_str()
        .is_some_and(|t| !t.is_empty()));

    let json_out = env.cmd(&["whoami", "-o", "json"]).output().unwrap();
    assert!(json_out.status.success(), "{}", stderr(&json_out));
    let text = stdout(&json_out);
    assert_eq!(text.lines().count(), 1, "one JSON line: {text}");
    let who: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(who["account"], ADELE);
    assert_eq!(who["name"], "Adele Vance");
    assert_eq!(who["profile"], "default");
    assert_eq!(who["source"], "cache");
    assert_eq!(who["refreshable"], true);
    assert_eq!(who["accessTokenValid"], true);
    let scopes: Vec<&str> = who["scopes"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(scopes.contains(&"Files.Read"), "{scopes:?}");
    assert!(scopes.contains(&"Sites.Read.All"), "{scopes:?}");
    assert!(who["cachePath"].as_str().unwrap().ends_with("default.json"));
    assert!(!text.contains(cache["access_token"].as_str().unwrap()));
    assert!(!text.contains(cache["refresh_token"].as_str().unwrap()));

    let pretty = env.cmd(&["whoami", "-o", "pretty"]).output().unwrap();
    assert!(pretty.status.success());
    let text = stdout(&pretty);
    assert!(text.contains("account"), "{text}");
    assert!(
        text.contains("Adele Vance <adele@contoso.onmicrosoft.com>"),
        "{text}"
    );
    assert!(text.contains("renewed automatically"), "{text}");
    assert!(
        !text.contains('\x1b'),
        "no colour when stdout is not a terminal"
    );
}

#[test]
fn profiles_are_separate() {
    let env = Env::start();
    env.login(&["--profile", "work"]);
    assert!(env.cache_path("work").exists());
    let out = env.cmd(&["whoami"]).output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(3),
        "the default profile is not signed in"
    );
    let out = env
        .cmd(&["whoami", "-o", "json"])
        .env("GRAPHWATCH_PROFILE", "work")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let bad = env.cmd(&["whoami", "--profile", "../x"]).output().unwrap();
    assert_eq!(bad.status.code(), Some(2));
}

#[test]
fn declined_sign_in_exits_3() {
    let env = Env::start_with(|a| a.settings.approve_after_polls = 0);
    let pending = env.login_waiting(&[]);
    env.post(
        "/_emulator/identity/approve",
        json!({"userCode": pending.user_code, "decline": true}),
    );
    let (status, err) = pending.finish();
    assert_eq!(status.code(), Some(3), "{err}");
    assert!(
        err.contains("graphwatch: the sign-in was declined; "),
        "{err}"
    );
    assert!(!env.cache_path("default").exists());
}

#[test]
fn approval_by_hand_signs_in_the_approving_user() {
    let env = Env::start_with(|a| a.settings.approve_after_polls = 0);
    let pending = env.login_waiting(&[]);
    assert!(pending.user_code.len() >= 6);
    env.post(
        "/_emulator/identity/approve",
        json!({"userCode": pending.user_code, "user": "megan@contoso.onmicrosoft.com"}),
    );
    let user_code = pending.user_code.clone();
    let (status, err) = pending.finish();
    assert!(status.success(), "{err}");
    assert!(err.contains(&user_code), "the prompt names the code: {err}");
    assert_eq!(
        env.cache("default")["account"],
        "megan@contoso.onmicrosoft.com"
    );
}

#[test]
fn expired_device_code_exits_3() {
    let env = Env::start_with(|a| {
        a.settings.approve_after_polls = 0;
        a.settings.device_code_lifetime_secs = 1;
    });
    let out = env.cmd(&["login"]).output().unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(err.contains("expired"), "{err}");
    assert_eq!(
        err.lines().filter(|l| l.starts_with("graphwatch:")).count(),
        1
    );
}

/// Make the cached access token look expired, as if time had passed.
fn age_cached_token(env: &Env) {
    let path = env.cache_path("default");
    let mut cache = env.cache("default");
    cache["access_token_expires_at"] = json!("2000-01-01T00:00:00Z");
    std::fs::write(&path, serde_json::to_vec(&cache).unwrap()).unwrap();
}

#[test]
fn rotated_refresh_token_is_saved_and_used() {
    let env = Env::start();
    env.login(&[]);
    let first = env.cache("default");

    age_cached_token(&env);
    let out = env.cmd(&["endpoint", "--drive", "me"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let second = env.cache("default");
    assert_ne!(first["refresh_token"], second["refresh_token"], "rotated");
    assert_ne!(first["access_token"], second["access_token"]);
    assert!(second["refreshed_at"].is_string());
    assert_eq!(
        env.counter("grants.refresh_token"),
        1,
        "one refresh per expiry"
    );

    // The first refresh token is spent: this works only with the saved rotated one.
    age_cached_token(&env);
    let out = env.cmd(&["endpoint", "--drive", "me"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let third = env.cache("default");
    assert_ne!(second["refresh_token"], third["refresh_token"]);
    assert_eq!(env.counter("grants.refresh_token"), 2);
    // The refreshes happened before use: Graph never saw an expired token.
    let refused = env.get("/_emulator/log")["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["status"] == 401)
        .count();
    assert_eq!(refused, 0);
}

#[test]
fn short_lived_tokens_are_refreshed_once_not_before_every_request() {
    // A 60 s token is inside the 2-minute margin from the start; it must still be used
    // for the rest of the command instead of being refreshed before every request.
    let env = Env::start_with(|a| a.settings.token_lifetime_secs = 60);
    env.login(&[]);
    let out = env
        .cmd(&[
            "endpoint",
            "--drive",
            "https://contoso.sharepoint.com/sites/eng/Specs",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(env.counter("grants.refresh_token"), 0);
}

#[test]
fn a_refused_access_token_is_refreshed_once_and_the_rotation_kept() {
    let env = Env::start();
    env.login(&[]);
    let before = env.cache("default");
    for round in 1..=2 {
        env.post("/_emulator/identity/expire-access-tokens", json!({}));
        let out = env
            .cmd(&["endpoint", "--drive", "me", "-v"])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        assert!(stderr(&out).contains("401"), "the retry is visible at -v");
        assert_eq!(env.counter("grants.refresh_token"), round);
    }
    assert_ne!(before["access_token"], env.cache("default")["access_token"]);
}

#[test]
fn revoked_sign_in_exits_3_and_says_so() {
    let env = Env::start();
    env.login(&[]);
    env.post("/_emulator/identity/revoke", json!({}));
    let out = env.cmd(&["endpoint", "--drive", "me"]).output().unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(
        err.contains("the sign-in for profile default has expired or was revoked; run `graphwatch login` again"),
        "{err}"
    );
}

#[cfg(unix)]
#[test]
fn cache_file_is_private_and_replaced_atomically() {
    use std::os::unix::fs::PermissionsExt as _;
    let env = Env::start();
    env.login(&[]);
    let path = env.cache_path("default");
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&path), 0o600);
    assert_eq!(mode(path.parent().unwrap()), 0o700);

    // Loosen the mode and remember the inode: a refresh must write a new file (rename),
    // not rewrite this one in place, and the new one is 0600 again.
    age_cached_token(&env);
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let inode = std::os::unix::fs::MetadataExt::ino(&std::fs::metadata(&path).unwrap());
    let out = env.cmd(&["endpoint", "--drive", "me"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let meta = std::fs::metadata(&path).unwrap();
    assert_ne!(std::os::unix::fs::MetadataExt::ino(&meta), inode);
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    let leftovers: Vec<_> = std::fs::read_dir(path.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn logout_forgets_the_profile() {
    let env = Env::start();
    env.login(&[]);
    let out = env.cmd(&["logout"]).output().unwrap();
    assert!(out.status.success());
    assert!(stderr(&out).contains("removed"), "{}", stderr(&out));
    assert!(!env.cache_path("default").exists());

    let out = env.cmd(&["whoami"]).output().unwrap();
    assert_eq!(out.status.code(), Some(3));

    let out = env.cmd(&["logout"]).output().unwrap();
    assert!(out.status.success());
    assert!(
        stderr(&out).contains("nothing to remove"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn commands_without_sign_in_exit_3() {
    let env = Env::start();
    let out = env.cmd(&["endpoint", "--drive", "me"]).output().unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(
        stderr(&out).trim(),
        "graphwatch: not signed in to profile default; run `graphwatch login`"
    );
    let out = env.cmd(&["whoami", "--profile", "work"]).output().unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert!(stderr(&out).contains("`graphwatch login --profile work`"));
}

#[test]
fn secrets_never_reach_the_output_even_at_debug_level() {
    let env = Env::start();
    let mut seen = String::new();
    let out = env.cmd(&["login", "-vv"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    seen.push_str(&stdout(&out));
    seen.push_str(&stderr(&out));
    // A refresh before use and a refresh after a 401, at -vv.
    age_cached_token(&env);
    for _ in 0..2 {
        let out = env
            .cmd(&["endpoint", "--drive", "me", "-vv"])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        seen.push_str(&stderr(&out));
        let subscription: Value = serde_json::from_str(&stdout(&out)).unwrap();
        let url = subscription["notificationUrl"].as_str().unwrap();
        let token = url
            .split("token=")
            .nth(1)
            .unwrap()
            .split('&')
            .next()
            .unwrap();
        assert!(
            !stderr(&out).contains(token),
            "notification token on stderr"
        );
        env.post("/_emulator/identity/expire-access-tokens", json!({}));
    }
    let out = env.cmd(&["whoami", "-vv", "-o", "json"]).output().unwrap();
    seen.push_str(&stdout(&out));
    seen.push_str(&stderr(&out));
    assert!(seen.contains("DEBUG"), "debug logging was on: {seen}");

    let secrets = env.issued_secrets();
    assert!(secrets.len() >= 4, "device code, tokens: {}", secrets.len());
    let cache = env.cache("default");
    for secret in secrets.iter().map(String::as_str).chain([
        cache["access_token"].as_str().unwrap(),
        cache["refresh_token"].as_str().unwrap(),
    ]) {
        assert!(!seen.contains(secret), "a secret leaked into the output");
    }
}

#[test]
fn access_token_option_uses_no_cache() {
    let env = Env::start();
    let token = env.mint(ADELE);
    let out = env
        .cmd(&["whoami", "-o", "json"])
        .env("GRAPHWATCH_ACCESS_TOKEN", &token)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let who: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(who["source"], "access-token");
    assert_eq!(who["account"], ADELE);
    assert!(!stdout(&out).contains(&token));
    assert!(
        !env.config_dir().join("tokens").exists(),
        "no cache touched"
    );

    let out = env
        .cmd(&["endpoint", "--drive", "me", "--access-token", "not-a-token"])
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(
        err.contains("--access-token was refused")
            || err.contains("refused the access token given with --access-token"),
        "{err}"
    );
    assert!(
        !err.contains("not-a-token"),
        "the token is never echoed: {err}"
    );
}

/// `graphwatch login ARGS…` with `$BROWSER` set to `browser`; two minutes at most.
#[cfg(unix)]
fn login_with_browser(env: &Env, browser: &std::path::Path, args: &[&str]) -> std::process::Output {
    let mut all = vec!["login"];
    all.extend_from_slice(args);
    env.cmd(&all)
        .env("BROWSER", browser)
        .timeout(std::time::Duration::from_secs(120))
        .output()
        .expect("run login")
}

#[cfg(unix)]
#[test]
fn browser_sign_in_end_to_end_as_the_user_chosen_on_the_consent_page() {
    use common::browser::{Browser, Person};
    use std::os::unix::fs::PermissionsExt as _;
    let env = Env::start();
    let browser = Browser::new(
        env.dir.path(),
        Person::Approve("megan@contoso.onmicrosoft.com"),
    );
    let out = login_with_browser(&env, &browser.script, &["--browser"]);
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    browser.wait();
    assert!(stdout(&out).is_empty(), "login writes nothing on stdout");
    // The address is on stderr too, in case no browser opens; it is the one the browser got.
    let address = browser.saw("address");
    assert!(
        address.starts_with(&format!("{}/common/oauth2/v2.0/authorize?", env.base)),
        "{address}"
    );
    assert!(err.contains(address.trim()), "{err}");
    assert!(address.contains("code_challenge_method=S256"), "{address}");
    assert!(
        address.contains("redirect_uri=http%3A%2F%2Flocalhost%3A"),
        "{address}"
    );
    assert!(
        err.contains("Signed in as Megan Bowen <megan@contoso.onmicrosoft.com>"),
        "{err}"
    );
    // The browser was told, and the port was closed behind it: the same redirect again
    // cannot connect (curl's 7), so the code could not be delivered twice.
    let page = browser.saw("page");
    assert!(
        page.contains("Signed in") && page.contains("close this tab"),
        "{page}"
    );
    assert_eq!(browser.saw("page-status").trim(), "0");
    assert_eq!(browser.saw("again-status").trim(), "7");
    assert_eq!(env.counter("grants.authorization_code"), 1);
    assert_eq!(env.counter("requests.devicecode"), 0, "no device code");

    let cache = env.cache("default");
    assert_eq!(cache["account"], "megan@contoso.onmicrosoft.com");
    assert!(cache["refresh_token"]
        .as_str()
        .is_some_and(|t| !t.is_empty()));
    let mode = std::fs::metadata(env.cache_path("default"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    // The sign-in works for Graph, and its refresh token for a refresh.
    let out = env.cmd(&["endpoint", "--drive", "me"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
}

#[cfg(unix)]
#[test]
fn browser_sign_in_failures_exit_3_with_one_clear_line_and_no_tokens() {
    use common::browser::{Browser, Person};
    let env = Env::start();
    for (person, says) in [
        (
            Person::Decline,
            "the sign-in was declined (access_denied: AADSTS65004",
        ),
        (
            Person::ForgeState,
            "not for this sign-in (its state does not match); nothing was exchanged",
        ),
        (
            Person::SwapChallenge,
            "refused the sign-in's code (invalid_grant: AADSTS501481",
        ),
        (
            Person::StealCode,
            "refused the sign-in's code (invalid_grant: AADSTS54005",
        ),
    ] {
        let grants = env.counter("requests.token");
        let case = tempfile::tempdir().unwrap();
        let browser = Browser::new(case.path(), person);
        let out = login_with_browser(&env, &browser.script, &["--browser"]);
        let err = stderr(&out);
        browser.wait();
        assert_eq!(out.status.code(), Some(3), "{person:?}: {err}");
        let lines: Vec<&str> = err
            .lines()
            .filter(|l| l.starts_with("graphwatch:"))
            .collect();
        assert_eq!(lines.len(), 1, "{person:?}: {err}");
        assert!(lines[0].contains(says), "{person:?}: {err}");
        assert!(
            lines[0].contains("`graphwatch login --browser` again"),
            "{err}"
        );
        assert!(
            !env.cache_path("default").exists(),
            "{person:?}: no tokens saved"
        );
        // The browser was told too.
        let page = browser.saw("page");
        assert!(page.contains("Not signed in"), "{person:?}: {page}");
        assert_eq!(
            browser.saw("again-status").trim(),
            "7",
            "{person:?}: port closed"
        );
        let exchanged = env.counter("requests.token") - grants;
        match person {
            // Nothing to exchange: graphwatch never went to the token endpoint.
            Person::Decline | Person::ForgeState => assert_eq!(exchanged, 0, "{person:?}"),
            // The thief's attempt, then graphwatch's one.
            Person::StealCode => {
                assert_eq!(exchanged, 2);
                assert!(browser.saw("thief").contains("invalid_grant"));
            }
            _ => assert_eq!(exchanged, 1, "{person:?}: the code exchanged once"),
        }
    }
    assert_eq!(env.counter("grants.authorization_code"), 0);
}

#[test]
fn headless_sign_in_takes_the_address_pasted_on_stdin() {
    use std::io::{BufRead as _, BufReader, Write as _};
    use std::process::Stdio;
    let env = Env::start_with(|a| a.settings.authorize_auto_approve = true);
    let mut child = env
        .std_cmd(&["login", "--browser", "--no-open"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut reader = BufReader::new(child.stderr.take().unwrap());
    const SHOWN: &str = "open this page in a web browser: ";
    let address = loop {
        let mut line = String::new();
        assert!(reader.read_line(&mut line).unwrap() > 0, "no address shown");
        if let Some(at) = line.find(SHOWN) {
            break line[at + SHOWN.len()..].trim().to_string();
        }
    };
    // A person on another machine: the browser ends on an address that does not load
    // there; they copy it from the address bar.
    let location = env.rt.block_on(async {
        let response = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap()
            .get(&address)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 302);
        response.headers()["location"].to_str().unwrap().to_string()
    });
    assert!(location.starts_with("http://localhost:"), "{location}");
    let mut stdin = child.stdin.take().unwrap();
    writeln!(stdin, "not the address").unwrap();
    writeln!(stdin, "  {location}  ").unwrap();
    drop(stdin);
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut reader, &mut rest).unwrap();
    let status = child.wait().unwrap();
    assert!(status.success(), "{rest}");
    assert!(
        rest.contains("That is not the address the browser ended on"),
        "{rest}"
    );
    assert!(rest.contains("Signed in as Adele Vance"), "{rest}");
    let code = location
        .split("code=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap();
    assert!(!rest.contains(code), "the code is never echoed");
    assert_eq!(env.cache("default")["account"], ADELE);
    assert_eq!(env.counter("grants.authorization_code"), 1);
}

#[cfg(unix)]
#[test]
fn login_chooses_the_browser_when_one_can_be_opened_and_the_device_code_otherwise() {
    let env = Env::start_with(|a| a.settings.authorize_auto_approve = true);
    let follower = common::browser::follower(env.dir.path());
    // $BROWSER set: the browser flow, and the follower saw graphwatch's answer page.
    let out = login_with_browser(&env, &follower, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(env.counter("grants.authorization_code"), 1);
    assert_eq!(env.counter("requests.devicecode"), 0);
    // No browser at hand (no BROWSER, no DISPLAY): the device code.
    env.login(&[]);
    assert_eq!(env.counter("grants.device_code"), 1);
    assert_eq!(env.counter("grants.authorization_code"), 1);
    // --device-code wins over a browser at hand.
    let out = login_with_browser(&env, &follower, &["--device-code"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(env.counter("grants.device_code"), 2);
    assert_eq!(env.counter("grants.authorization_code"), 1);
    // Both at once is a usage error.
    let out = env
        .cmd(&["login", "--browser", "--device-code"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn a_tenant_that_blocks_the_device_code_gets_told_to_use_the_browser() {
    let env = Env::start_with(|a| a.settings.device_code_blocked = true);
    for args in [
        &["login"][..],
        &["login", "--device-code", "--profile", "work"],
    ] {
        let out = env.cmd(args).output().unwrap();
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(3), "{err}");
        assert_eq!(err.lines().count(), 1, "one line: {err}");
        assert!(
            err.contains("a policy of the tenant blocks it (AADSTS53003)"),
            "{err}"
        );
        let browser = if args.len() > 1 {
            "`graphwatch login --browser --profile work`"
        } else {
            "`graphwatch login --browser`"
        };
        assert!(err.contains(browser), "{err}");
    }
}

#[test]
fn whoami_asks_the_service_and_exits_3_once_the_sign_in_is_revoked() {
    let env = Env::start();
    env.login(&[]);
    let before = env.cache("default");
    let out = env.cmd(&["whoami", "-o", "json"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let who: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(who["checkedWithService"], true);
    assert_eq!(
        env.counter("grants.refresh_token"),
        1,
        "one refresh: the check"
    );
    assert_ne!(
        before["refresh_token"],
        env.cache("default")["refresh_token"],
        "the rotated refresh token is saved"
    );

    env.post("/_emulator/identity/revoke", json!({}));
    // The cache still looks fine to the clock...
    let out = env
        .cmd(&["whoami", "--offline", "-o", "json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let who: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(who["accessTokenValid"], true);
    assert_eq!(who["checkedWithService"], false);
    let out = env
        .cmd(&["whoami", "--offline", "-o", "pretty"])
        .output()
        .unwrap();
    assert!(stdout(&out).contains("--offline"), "{}", stdout(&out));
    // ...but the service says no.
    for args in [&["whoami"][..], &["whoami", "-o", "json"]] {
        let out = env.cmd(args).output().unwrap();
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(3), "{err}");
        assert!(stdout(&out).is_empty(), "nothing shown as if signed in");
        assert_eq!(
            err.trim(),
            "graphwatch: the sign-in for profile default has expired or was revoked; run `graphwatch login` again"
        );
    }
}

#[test]
fn whoami_exits_1_when_the_sign_in_service_cannot_be_asked() {
    let env = Env::start();
    env.login(&[]);
    env.post(
        "/_emulator/faults/fail",
        json!({"route": "token", "status": 503, "count": 1}),
    );
    let out = env.cmd(&["whoami"]).output().unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("cannot renew the sign-in of profile default"),
        "{err}"
    );
    assert!(env.cmd(&["whoami"]).output().unwrap().status.success());
}

#[test]
fn a_busy_sign_in_service_is_tried_again_and_then_blamed_with_exit_1() {
    let env = Env::start();
    // Busy once at the start and once at a poll: the sign-in goes through.
    env.post(
        "/_emulator/faults/fail",
        json!({"route": "devicecode", "status": 503, "count": 1, "retryAfter": 0}),
    );
    env.post(
        "/_emulator/faults/fail",
        json!({"route": "token", "status": 500, "count": 1}),
    );
    let out = env.cmd(&["login", "-v"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("trying again"), "{}", stderr(&out));
    // Busy every time: exit 1, the service to blame, not --tenant or --client-id.
    env.post(
        "/_emulator/faults/fail",
        json!({"route": "devicecode", "status": 503, "count": 3, "retryAfter": 0}),
    );
    let out = env.cmd(&["login", "--profile", "busy"]).output().unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("is unavailable for now (temporarily_unavailable"),
        "{err}"
    );
    assert!(err.contains("try again in a while"), "{err}");
    assert!(!err.contains("--client-id"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
}

#[test]
fn login_checks_that_it_can_keep_the_tokens_before_it_shows_a_code() {
    let env = Env::start();
    // A file where the tokens directory would be (root passes every mode check).
    std::fs::write(env.config_dir().join("tokens"), "not a directory").unwrap();
    let out = env.cmd(&["login"]).output().unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("cannot write the token cache in"), "{err}");
    assert!(!err.contains("To sign in"), "no code shown: {err}");
    assert_eq!(env.counter("requests.devicecode"), 0);
}

#[cfg(unix)]
#[test]
fn ctrl_c_during_login_ends_it_at_once_and_saves_nothing() {
    use std::os::unix::process::ExitStatusExt as _;
    let env = Env::start_with(|a| a.settings.approve_after_polls = 0);
    let pending = env.login_waiting(&[]);
    let pid = libc::pid_t::try_from(pending.child.id()).unwrap();
    // SAFETY: a signal to the child this test started.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGINT) }, 0);
    let (status, err) = pending.finish();
    assert_eq!(status.signal(), Some(libc::SIGINT), "{err}");
    assert!(!env.cache_path("default").exists());
}
