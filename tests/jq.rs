//! `--jq`: the binary against the in-process emulator; the filter projects and drops
//! events before `--count` and `--exec` see them.

use crate::common;

use common::watcher::{delete, upload, Watcher};
use common::{stderr, Env};

fn env() -> Env {
    Env::start_with(|args| {
        args.settings.notify_delay_ms = 50;
        args.settings.delta_page_size = 1000;
    })
}

#[test]
fn select_drops_and_projects_and_count_counts_only_what_is_written() {
    let env = env();
    let exec_log = tempfile::NamedTempFile::new().unwrap();
    let exec = format!("cat >> {}", exec_log.path().display());
    // There before the watch, so that its deletion is one the index can tell (an item
    // created and deleted between two rounds is no change at all).
    let id = upload(&env, "jq-kept-then-deleted.txt");
    let mut w = Watcher::start(
        &env,
        &[
            "drive",
            "me",
            "--changes",
            "--jq",
            r#"select(.change == "deleted") | .item.id"#,
            "-n",
            "1",
            "--exec",
            &exec,
        ],
    );
    w.wait_stderr("watching drive:me");
    // Another upload's change line is dropped by the filter, so --count 1 is not
    // reached by it: the one line is the deletion's.
    upload(&env, "jq-dropped.txt");
    delete(&env, &id);
    assert_eq!(w.line(), id, "the raw string, not a JSON string");
    assert!(w.wait().success(), "{}", w.stderr());
    assert!(w.rest().is_empty(), "one line only");
    let ran = std::fs::read_to_string(exec_log.path()).unwrap();
    let ran: Vec<serde_json::Value> = ran
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        ran.len(),
        1,
        "--exec ran for the written event only: {ran:?}"
    );
    assert_eq!(ran[0]["change"], "deleted", "--exec gets the whole event");
}

#[test]
fn objects_are_compact_json_lines() {
    let env = env();
    let w = Watcher::start(
        &env,
        &[
            "drive",
            "me",
            "--changes",
            "--jq",
            r#"select(.item.name == "jq-object.txt") | {t: .type, name: .item.name}"#,
        ],
    );
    w.wait_stderr("watching drive:me");
    upload(&env, "jq-object.txt");
    assert_eq!(w.line(), r#"{"t":"change","name":"jq-object.txt"}"#);
}

#[test]
fn a_bad_expression_is_a_usage_error_naming_the_character() {
    let env = env();
    let out = env
        .cmd(&["drive", "me", "--jq", ".item |"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("invalid --jq at character 8"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    let both = env
        .cmd(&["drive", "me", "--jq", ".", "--template", "{type}"])
        .output()
        .unwrap();
    assert_eq!(both.status.code(), Some(2));
    assert!(
        stderr(&both).contains("--template and --jq"),
        "{}",
        stderr(&both)
    );
}
