//! Bad command-line input, table-driven: every option with a bad value and every kind
//! of bad SPEC exits 2 with exactly one line on stderr that names the problem and the
//! accepted forms, and nothing on stdout. No sign-in is needed to be told.

use crate::common;

use common::{stderr, stdout, Env};

/// (arguments, what the line must name: the culprit, then the accepted forms).
#[rustfmt::skip]
const CASES: &[(&[&str], &str, &str)] = &[
    // Options with a fixed set of values.
    (&["whoami", "-o", "yaml"], "'yaml' for '--output", "possible values: json, pretty"),
    (&["drive", "me", "--color", "sometimes"], "'sometimes' for '--color", "possible values: auto, always, never"),
    (&["demo", "-o", "xml"], "'xml' for '--output", "possible values: json, pretty"),
    (&["completions", "tcsh"], "'tcsh'", "possible values: bash, elvish, fish, powershell, zsh"),
    // Numbers.
    (&["drive", "me", "--count", "0"], "--count 0", "--count 1 or more"),
    (&["drive", "me", "--count", "-1"], "'-1' for '--count", "whole number"),
    (&["drive", "me", "--count", "ten"], "'ten' for '--count", "whole number"),
    (&["emulator", "--port", "http"], "'http' for '--port", "whole number"),
    (&["emulator", "--port", "70000"], "'70000' for '--port", "0..=65535"),
    // Durations.
    (&["drive", "me", "--timeout", "soon"], "--timeout \"soon\"", "30s, 5m, 1h30m or 500ms"),
    (&["drive", "me", "--timeout", "18446744073709551615"], "too long", "30s, 5m, 1h30m or 500ms"),
    (&["drive", "me", "--timeout", "1e400s"], "--timeout", "30s, 5m, 1h30m or 500ms"),
    (&["drive", "me", "--changes", "--poll", "never"], "--poll \"never\"", "30s, 5m"),
    (&["drive", "me", "--changes", "--debounce", "-5s"], "--debounce \"-5s\"", "30s, 5m"),
    (&["drive", "me", "--changes", "--fallback-poll", "-1s"], "--fallback-poll \"-1s\"", "30s, 5m"),
    (&["drive", "me", "--timeout", "0"], "--timeout \"0\" is not a positive duration", "30s, 5m"),
    (&["drive", "me", "--backoff", "5s..1s"], "starts with a longer wait", "1s..60s"),
    (&["drive", "me", "--backoff", "-1s..5s"], "--backoff \"-1s..5s\"", "1s..60s"),
    (&["drive", "me", "--backoff", "soon"], "is not FIRST..MAX", "1s..60s"),
    (&["drive", "me", "--no-socket", "--fallback-poll", "5s"], "no socket to fall back from", "--poll"),
    (&["drive", "me", "--fallback-poll", "5s"], "--fallback-poll needs --changes", "--changes"),
    // Templates.
    (&["drive", "me", "--template", "{data"], "character 1: unclosed `{`", "{data.resource}"),
    (&["drive", "me", "--template", "a }"], "character 3: `}`", "{{ and }}"),
    (&["drive", "me", "--template", "{a..\r\u{1b}[2Jb}"], "empty segment in `{a..\\r\\u{1b}[2Jb}`", "{data.resource}"),
    (&["drive", "me", "--jq", ".item |"], "invalid --jq at character 8", "--jq '.item.name'"),
    (&["drive", "me", "--jq", ".", "--template", "{type}"], "--template and --jq", "give one of them"),
    // Flags that a command would ignore.
    (&["login", "-o", "json"], "-o does not apply", "leave out -o"),
    (&["logout", "-o", "pretty"], "-o does not apply", "leave out -o"),
    // URLs: http only for loopback, absolute, http(s), Graph's with its version.
    (&["whoami", "--graph-url", "https://graph.microsoft.com"], "has no version in its path", "add /v1.0"),
    (&["whoami", "--graph-url", "http://graph.microsoft.com/v1.0"], "not loopback", "https://"),
    (&["whoami", "--graph-url", "ftp://graph.example/v1.0"], "not an http(s) URL", "https://"),
    (&["whoami", "--graph-url", "graph.microsoft.com"], "not a URL", "https://"),
    (&["whoami", "--login-url", "http://10.0.0.1"], "not loopback", "https://"),
    (&["whoami", "--login-url", "https://"], "--login-url", "https://"),
    // Words.
    (&["whoami", "--tenant", "a/b"], "--tenant \"a/b\"", "letters, digits"),
    (&["whoami", "--client-id", "x y"], "--client-id \"x y\"", "letters, digits"),
    (&["whoami", "--profile", "../x"], "profile name \"../x\"", "letters, digits"),
    (&["drive", "me", "--exec", ""], "--exec is empty", "--exec 'cat'"),
    // Changes-mode combinations.
    (&["drive", "me", "--state", "s.json"], "--state needs --changes", "add --changes"),
    (&[ "drive", "me", "--changes", "--state", "/proc/graphwatch-none/s.json", ], "cannot make the directory /proc/graphwatch-none", "a directory that exists or can be made"),
    (&["drive", "me", "--changes", "--path", "rel/x"], "--path \"rel/x\"", "start it with /"),
    (&["list", "site-eng/Issues", "--changes", "--path", "/x"], "--path is for drives", "leave out --path"),
    (&["drive", "me", "--notifications", "--no-socket"], "--notifications with --no-socket", "leave out one"),
    // Unknown and missing arguments.
    (&["drive", "me", "--colour", "never"], "unexpected argument '--colour'", "usage: graphwatch drive"),
    (&["drive"], "not provided: <SPEC>", "usage: graphwatch drive"),
    (&["watch"], "not provided", "--drive <SPEC>|--list <SPEC>"),
    (&["endpoint", "--drive", "me", "--list", "a/b"], "cannot be used with", "usage: graphwatch endpoint"),
    // Drive SPECs.
    (&["drive", ""], "drive SPEC \"\"", "me, a drive id, user:UPN-or-ID"),
    (&["drive", "user:"], "after the prefix is empty", "user:UPN-or-ID"),
    (&["drive", "group: x"], "contains ' '", "group:GROUP-ID"),
    (&["drive", "unknown:x"], "unknown prefix \"unknown:\"", "site:SITE-ID"),
    (&["drive", "a b"], "contains ' '", "me, a drive id"),
    (&["drive", "b!x%41"], "no '%'", "me, a drive id"),
    (&["drive", ".."], "is not an id", "me, a drive id"),
    (&["drive", "b!x\u{1b}[2J"], "drive SPEC \"b!x\\u{1b}[2J\"", "me, a drive id"),
    (&["drive", "https://contoso.sharepoint.com/:f:/s/eng/x"], "sharing links are not supported", "https://HOST/sites/NAME"),
    (&["drive", "https://contoso.sharepoint.com:99999/sites/eng"], "not a URL", "https://HOST/sites/NAME"),
    (&["drive", "ftp://contoso.sharepoint.com/sites/eng"], "drive SPEC", "https://HOST/sites/NAME"),
    (&["watch", "--drive", "me", "--drive", "user:"], "drive SPEC \"user:\"", "user:UPN-or-ID"),
    (&["endpoint", "--drive", "a?b"], "contains '?'", "me, a drive id"),
    // List SPECs.
    (&["list", ""], "list SPEC \"\"", "SITE-ID/LIST"),
    (&["list", "noslash"], "no '/' between the site and the list", "SITE-ID/LIST"),
    (&["list", "a/"], "expected SITE/LIST", "HOST:/sites/NAME/LIST"),
    (&["list", "a/b/c"], "expected SITE/LIST", "HOST:/sites/NAME/LIST"),
    (&["list", "contoso.sharepoint.com:/"], "list name is missing", "HOST:/sites/NAME/LIST"),
    (&["list", "site/%FF"], "not valid UTF-8", "SITE-ID/LIST"),
    (&["list", "site-eng/Bad%0AName"], "decodes to a control character", "SITE-ID/LIST"),
    (&["list", "contoso.sharepoint.com:/sites/e%1Bng/Issues"], "decodes to a control character", "HOST:/sites/NAME/LIST"),
    (&["list", "https://contoso.sharepoint.com/:l:/s/eng/x"], "sharing links", "https://HOST/sites/NAME/Lists/LIST"),
    (&["watch", "--list", "bad"], "list SPEC \"bad\"", "SITE-ID/LIST"),
    (&["endpoint", "--list", "a b/c"], "list SPEC", "SITE-ID/LIST"),
];

#[test]
fn every_bad_value_and_spec_is_exit_2_and_one_line_naming_it_and_the_accepted_forms() {
    let env = Env::start();
    let mut failures = Vec::new();
    for (args, culprit, forms) in CASES {
        let out = env.bare_cmd(args).output().expect("run graphwatch");
        let err = stderr(&out);
        let problems: Vec<&str> = [
            (out.status.code() != Some(2)).then_some("exit status is not 2"),
            (err.lines().count() != 1).then_some("not exactly one line on stderr"),
            (!err.starts_with("graphwatch: ")).then_some("no `graphwatch: ` prefix"),
            (!err.contains(culprit)).then_some("the problem is not named"),
            (!err.contains(forms)).then_some("the accepted forms are not named"),
            (!stdout(&out).is_empty()).then_some("something on stdout"),
            err.contains("panicked").then_some("a panic"),
        ]
        .into_iter()
        .flatten()
        .collect();
        if !problems.is_empty() {
            failures.push(format!(
                "{args:?} ({}): {} — stderr: {err}",
                out.status,
                problems.join(", ")
            ));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn help_and_version_are_not_usage_errors() {
    let env = Env::start();
    for args in [&["--help"][..], &["drive", "--help"], &["--version"]] {
        let out = env.bare_cmd(args).output().unwrap();
        assert!(out.status.success(), "{args:?}");
        assert!(stdout(&out).lines().count() >= 1, "{args:?}");
        assert!(stderr(&out).is_empty(), "{args:?}");
    }
    // No command at all: clap's help on stderr, exit 2, as before.
    let out = env.bare_cmd(&[]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("Usage:"));
}

#[test]
fn a_huge_spec_is_one_short_line() {
    let env = Env::start();
    let huge = format!(
        "https://contoso.sharepoint.com/sites/{}",
        "a".repeat(100_000)
    );
    let out = env.bare_cmd(&["drive", &huge]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("bytes long (at most 2048)"),
        "{}",
        &err[..err.len().min(300)]
    );
    assert!(err.len() < 1000, "a {} byte line", err.len());
}

#[test]
fn errors_name_the_place_a_bad_value_came_from() {
    let env = Env::start();
    let out = env
        .bare_cmd(&["whoami"])
        .env("GRAPHWATCH_TENANT", "a/b")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("GRAPHWATCH_TENANT \"a/b\""),
        "{}",
        stderr(&out)
    );

    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("config.toml"),
        "graph_url = \"http://graph.example/v1.0\"\n",
    )
    .unwrap();
    let out = env
        .bare_cmd(&["whoami"])
        .env("GRAPHWATCH_CONFIG_DIR", dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("graph_url in "), "{err}");
    assert!(err.contains("config.toml"), "{err}");
}

#[test]
fn an_unreadable_config_file_is_bad_usage() {
    let env = Env::start();
    let not_text = tempfile::tempdir().unwrap();
    std::fs::write(
        not_text.path().join("config.toml"),
        b"tenant = \"\xff\xfe\"\n",
    )
    .unwrap();
    let a_directory = tempfile::tempdir().unwrap();
    std::fs::create_dir(a_directory.path().join("config.toml")).unwrap();
    for dir in [not_text.path(), a_directory.path()] {
        let out = env
            .bare_cmd(&["whoami"])
            .env("GRAPHWATCH_CONFIG_DIR", dir)
            .output()
            .unwrap();
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.contains("config.toml"), "{err}");
    }
}

#[test]
fn list_help_has_no_drive_only_options() {
    let env = Env::start();
    let out = env.bare_cmd(&["list", "--help"]).output().unwrap();
    let help = stdout(&out);
    assert!(!help.contains("--path"), "{help}");
    assert!(!help.contains("drive:me"), "{help}");
    let drive = stdout(&env.bare_cmd(&["drive", "--help"]).output().unwrap());
    assert!(drive.contains("--path"));
}

/// Graph options may stand before the subcommand, as the global ones do.
#[test]
fn graph_options_before_the_subcommand_are_taken() {
    let env = Env::start();
    let graph = format!("{}/v1.0", env.base);
    let output = env
        .bare_cmd(&["--graph-url", &graph, "-o", "json", "-v", "whoami"])
        .env("GRAPHWATCH_ACCESS_TOKEN", env.mint(common::ADELE))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let who: serde_json::Value = serde_json::from_str(stdout(&output).trim())
        .unwrap_or_else(|e| panic!("{e}: not JSON: {}", stdout(&output)));
    assert!(who.is_object(), "{who}");
}
