//! Issue 15, item 1: the filters (`--files-only`, `--name`, `--change`, `--include`,
//! `--exclude`) before `--count` and `--exec`, against the emulator.

use crate::common;

use common::watcher::{change, graph, has, Watcher, PATIENCE};
use common::{Env, ADELE};
use reqwest::Method;
use serde_json::Value;

fn env() -> Env {
    Env::start_with(|args| {
        args.settings.notify_delay_ms = 50;
        args.settings.delta_page_size = 1000;
    })
}

fn put(env: &Env, path: &str) -> String {
    graph(
        env,
        Method::PUT,
        &format!("/me/drive/root:/{path}:/content"),
        Some(Value::String("x".into())),
    )["id"]
        .as_str()
        .unwrap()
        .to_string()
}

/// `-n 1 --name '*.xlsx'` is the next matching file, and `--exec` runs for it only.
#[test]
fn count_and_exec_see_only_what_the_filters_keep() {
    let env = env();
    let log = tempfile::NamedTempFile::new().unwrap();
    let exec = format!("cat >> {}", log.path().display());
    let mut w = Watcher::start(
        &env,
        &[
            "drive",
            "me",
            "--changes",
            "-o",
            "json",
            "--name",
            "*.XLSX",
            "--files-only",
            "-n",
            "1",
            "--exec",
            &exec,
        ],
    );
    w.wait_stderr("watching drive:me");
    // A new folder and a text file first: both filtered out, neither counted.
    put(&env, "Filtered/notes.txt");
    let xlsx = put(&env, "Filtered/budget.xlsx");
    let line = w.next();
    assert_eq!(change(&line), Some((xlsx, "created".into())), "{line}");
    assert!(w.wait().success(), "{}", w.stderr());
    assert!(w.rest().is_empty());
    let ran = std::fs::read_to_string(log.path()).unwrap();
    assert_eq!(ran.lines().count(), 1, "--exec ran once: {ran}");
    assert!(ran.contains("budget.xlsx"));
}

#[test]
fn change_include_and_exclude_narrow_by_kind_and_path() {
    let env = env();
    let keep = put(&env, "Keep/a.txt");
    let skip = put(&env, "Keep/skip.tmp");
    let other = put(&env, "Other/b.txt");
    let w = Watcher::start(
        &env,
        &[
            "drive",
            "me",
            "--changes",
            "-o",
            "json",
            "--change",
            "deleted",
            "--include",
            "^/Keep/",
            "--exclude",
            r"\.tmp$",
        ],
    );
    w.wait_stderr("watching drive:me");
    for id in [&skip, &other, &keep] {
        graph(&env, Method::DELETE, &format!("/me/drive/items/{id}"), None);
    }
    let lines = w.until(|seen| has(seen, &keep, "deleted"));
    assert_eq!(lines.len(), 1, "only the kept deletion: {lines:#?}");
    assert_eq!(lines[0]["path"], "/Keep/a.txt");
}

#[test]
fn filters_without_changes_or_with_a_bad_pattern_are_usage_errors() {
    let env = env();
    for (args, needle) in [
        (
            vec!["drive", "me", "--name", "*.xlsx"],
            "--name filters changed items: it needs --changes",
        ),
        (
            vec!["drive", "me", "--changes", "--include", "(unclosed"],
            "--include \"(unclosed\" is not a regular expression",
        ),
        (
            vec!["drive", "me", "--changes", "--name", "[oops"],
            "--name \"[oops\"",
        ),
        (
            vec!["drive", "me", "--changes", "--change", "updated"],
            "updated",
        ),
    ] {
        let output = env
            .cmd(&args)
            .env("GRAPHWATCH_ACCESS_TOKEN", env.mint(ADELE))
            .timeout(PATIENCE)
            .output()
            .unwrap();
        let stderr = common::stderr(&output);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(needle), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"));
    }
}
