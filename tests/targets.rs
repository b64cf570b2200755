//! Every SPEC form resolves to the right socketIo request; failures have the right
//! exit codes. Sign-in is not the point here: these use `--access-token`.

use crate::common;

use common::{stderr, stdout, Env, ADELE, GROUP_ID};
use serde_json::Value;

const ADELE_DRIVE: &str = "/v1.0/drives/b!AdeleVanceOneDrive/root/subscriptions/socketIo";
const GROUP_DRIVE: &str = "/v1.0/drives/b!EngineeringGroupDrive/root/subscriptions/socketIo";
const DOCS_DRIVE: &str = "/v1.0/drives/b!EngSharedDocuments/root/subscriptions/socketIo";
const SPECS_DRIVE: &str = "/v1.0/drives/b!EngSpecs/root/subscriptions/socketIo";
const ISSUES_LIST: &str = "/v1.0/sites/site-eng/lists/list-issues/subscriptions/socketIo";

/// Run `endpoint`, check it printed one subscription, and return the socketIo path
/// the emulator saw.
fn endpoint(env: &Env, token: &str, kind: &str, spec: &str) -> String {
    let before = env.socketio_requests().len();
    let out = env
        .cmd(&["endpoint", kind, spec])
        .env("GRAPHWATCH_ACCESS_TOKEN", token)
        .output()
        .unwrap();
    assert!(out.status.success(), "{kind} {spec}: {}", stderr(&out));
    let text = stdout(&out);
    assert_eq!(text.lines().count(), 1, "one JSON line: {text}");
    let subscription: Value = serde_json::from_str(&text).unwrap();
    assert!(subscription["notificationUrl"].is_string(), "{text}");
    assert!(subscription["id"].is_string(), "{text}");
    let requests = env.socketio_requests();
    assert_eq!(requests.len(), before + 1, "exactly one socketIo request");
    requests.last().unwrap().clone()
}

#[test]
fn every_drive_spec_form_resolves() {
    let env = Env::start();
    let token = env.mint(ADELE);
    let cases = [
        ("me", ADELE_DRIVE),
        ("b!AdeleVanceOneDrive", ADELE_DRIVE),
        ("user:adele@contoso.onmicrosoft.com", ADELE_DRIVE),
        (&format!("group:{GROUP_ID}") as &str, GROUP_DRIVE),
        ("site:site-eng", DOCS_DRIVE),
        ("https://contoso.sharepoint.com/sites/eng", DOCS_DRIVE),
        ("https://contoso.sharepoint.com/sites/eng/", DOCS_DRIVE),
        (
            "https://contoso.sharepoint.com/sites/eng/Shared%20Documents",
            DOCS_DRIVE,
        ),
        (
            "https://contoso.sharepoint.com/sites/eng/Shared%20Documents/Forms/AllItems.aspx",
            DOCS_DRIVE,
        ),
        (
            "https://CONTOSO.sharepoint.com/sites/ENG/shared documents",
            DOCS_DRIVE,
        ),
        (
            "https://contoso.sharepoint.com/sites/eng/Specs",
            SPECS_DRIVE,
        ),
        (
            "https://contoso.sharepoint.com/sites/eng/Specs/Drafts/2026",
            SPECS_DRIVE,
        ),
    ];
    for (spec, expected) in cases {
        assert_eq!(endpoint(&env, &token, "--drive", spec), expected, "{spec}");
    }
}

#[test]
fn every_list_spec_form_resolves() {
    let env = Env::start();
    let token = env.mint(ADELE);
    for spec in [
        "https://contoso.sharepoint.com/sites/eng/Lists/Issues",
        "https://contoso.sharepoint.com/sites/eng/Lists/Issues/AllItems.aspx",
        "site-eng/list-issues",
        "site-eng/Issues",
        "contoso.sharepoint.com:/sites/eng/Issues",
        "contoso.sharepoint.com:/sites/eng/Lists/Issues",
    ] {
        assert_eq!(
            endpoint(&env, &token, "--list", spec),
            ISSUES_LIST,
            "{spec}"
        );
    }
}

#[test]
fn pretty_output_is_indented_json() {
    let env = Env::start();
    let token = env.mint(ADELE);
    let out = env
        .cmd(&["endpoint", "--drive", "me", "-o", "pretty"])
        .env("GRAPHWATCH_ACCESS_TOKEN", &token)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.lines().count() > 1, "{text}");
    let subscription: Value = serde_json::from_str(&text).unwrap();
    assert!(subscription["notificationUrl"].is_string());
}

fn failing(env: &Env, token: &str, args: &[&str]) -> (i32, String) {
    let out = env
        .cmd(args)
        .env("GRAPHWATCH_ACCESS_TOKEN", token)
        .output()
        .unwrap();
    assert!(stdout(&out).is_empty(), "nothing on stdout on failure");
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    assert!(err.starts_with("graphwatch: "), "{err}");
    (out.status.code().unwrap_or(-1), err)
}

#[test]
fn missing_targets_exit_4_and_say_what_was_tried() {
    let env = Env::start();
    let token = env.mint(ADELE);
    let (code, err) = failing(
        &env,
        &token,
        &[
            "endpoint",
            "--list",
            "contoso.sharepoint.com:/sites/eng/Bugs",
        ],
    );
    assert_eq!(code, 4, "{err}");
    assert!(
        err.contains("list 'Bugs' not found in site contoso.sharepoint.com:/sites/eng (GET /sites/site-eng/lists/Bugs → 404"),
        "{err}"
    );

    for args in [
        ["endpoint", "--drive", "b!NoSuchDrive"],
        ["endpoint", "--drive", "user:nobody@contoso.onmicrosoft.com"],
        [
            "endpoint",
            "--drive",
            "https://contoso.sharepoint.com/sites/nosuchsite",
        ],
        [
            "endpoint",
            "--drive",
            "https://contoso.sharepoint.com/sites/eng/NoSuchLibrary",
        ],
        ["endpoint", "--list", "site-eng/NoSuchList"],
        ["endpoint", "--list", "no-such-site/list-issues"],
        [
            "endpoint",
            "--list",
            "https://contoso.sharepoint.com/sites/eng/Lists/Nope",
        ],
    ] {
        let (code, err) = failing(&env, &token, &args);
        assert_eq!(code, 4, "{args:?}: {err}");
        assert!(
            err.contains("404") || err.contains("no "),
            "{args:?}: {err}"
        );
    }
}

#[test]
fn forbidden_drive_exits_4() {
    let env = Env::start();
    let token = env.mint(ADELE);
    let (code, err) = failing(
        &env,
        &token,
        &["endpoint", "--drive", "user:megan@contoso.onmicrosoft.com"],
    );
    assert_eq!(code, 4, "{err}");
    assert!(err.contains("denied"), "{err}");
    assert!(err.contains("403"), "{err}");
}

#[test]
fn bad_specs_exit_2_before_any_request() {
    let env = Env::start();
    for args in [
        ["endpoint", "--drive", "folder:x"],
        ["endpoint", "--drive", "user:"],
        ["endpoint", "--drive", "two words"],
        ["endpoint", "--list", "justalist"],
        ["endpoint", "--list", "a/b/c"],
        [
            "endpoint",
            "--list",
            "https://contoso.sharepoint.com/:l:/s/eng/abc",
        ],
    ] {
        // Not signed in: a usage error must come first.
        let (code, err) = failing(&env, "unused", &args);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(err.contains("SPEC"), "{err}");
        assert!(err.contains("use "), "the accepted forms are listed: {err}");
    }
    assert!(env.socketio_requests().is_empty());
}

#[test]
fn a_list_url_given_as_a_drive_is_a_usage_error() {
    let env = Env::start();
    let token = env.mint(ADELE);
    let (code, err) = failing(
        &env,
        &token,
        &[
            "endpoint",
            "--drive",
            "https://contoso.sharepoint.com/sites/eng/Lists/Issues",
        ],
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--list"), "{err}");
}

#[test]
fn throttling_is_retried_after_the_servers_delay() {
    let env = Env::start();
    let token = env.mint(ADELE);
    env.post(
        "/_emulator/faults/fail",
        serde_json::json!({"route": "socketio", "status": 429, "count": 2, "retryAfter": 1}),
    );
    let out = env
        .cmd(&["endpoint", "--drive", "me", "-v"])
        .env("GRAPHWATCH_ACCESS_TOKEN", &token)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let err = stderr(&out);
    assert_eq!(err.matches("429").count(), 2, "{err}");
    assert!(err.contains("retrying in 1s"), "{err}");
    assert_eq!(env.counter("faults.socketio"), 2);
}

#[test]
fn not_supported_is_explained() {
    let env = Env::start();
    let token = env.mint(ADELE);
    env.post(
        "/_emulator/faults/fail",
        serde_json::json!({"route": "socketio", "status": 400, "count": 1}),
    );
    let (code, err) = failing(&env, &token, &["endpoint", "--drive", "me"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("notSupported"), "{err}");
    assert!(err.contains("try again later"), "{err}");
}
