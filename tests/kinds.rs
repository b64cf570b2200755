//! Issue 13, "what changed, said plainly": change kinds, paths, previous names, no
//! folder churn, nothing lost on resync or a kill, `--initial`, `--path` across a
//! restart, migration and a damaged state file — the binary against the emulator.
//!
//! Output is awaited line by line with a deadline, never with fixed sleeps.

use crate::common;

use std::time::Instant;

use common::watcher::{add_issue, change, delete, graph, has, Watcher, PATIENCE};
use common::{Env, ADELE};
use graphwatch_emulator::seed;
use reqwest::Method;
use serde_json::{json, Value};

/// Notifications 50 ms after a change; big delta pages, so one request is one round.
fn env() -> Env {
    Env::start_with(|args| {
        args.settings.notify_delay_ms = 50;
        args.settings.delta_page_size = 1000;
    })
}

/// Upload `path` (made of folders from the root); the new item.
fn put(env: &Env, path: &str, content: &str) -> Value {
    graph(
        env,
        Method::PUT,
        &format!("/me/drive/root:/{path}:/content"),
        Some(Value::String(content.to_string())),
    )
}

fn id(item: &Value) -> String {
    item["id"].as_str().expect("id").to_string()
}

fn parent(item: &Value) -> String {
    item["parentReference"]["id"]
        .as_str()
        .expect("parent")
        .to_string()
}

fn patch(env: &Env, id: &str, body: Value) -> Value {
    graph(
        env,
        Method::PATCH,
        &format!("/me/drive/items/{id}"),
        Some(body),
    )
}

/// The `change` line of `id` with kind `kind` among `lines`.
fn line_of<'a>(lines: &'a [Value], id: &str, kind: &str) -> &'a Value {
    lines
        .iter()
        .find(|l| change(l) == Some((id.to_string(), kind.to_string())))
        .unwrap_or_else(|| panic!("no {kind} line for {id} in {lines:#?}"))
}

fn watch(env: &Env, extra: &[&str]) -> Watcher {
    let mut args = vec!["drive", "me", "--changes", "-o", "json"];
    args.extend_from_slice(extra);
    let w = Watcher::start(env, &args);
    w.wait_stderr("watching drive:me");
    w
}

#[test]
fn every_kind_on_a_drive_with_its_path_and_previous_name() {
    let env = env();
    // A folder to move into, there before the watch.
    let archive = parent(&put(&env, "Archive/keep.txt", "k"));
    let w = watch(&env, &[]);

    let file = id(&put(&env, "Reports/budget.xlsx", "v1"));
    let lines = w.until(|seen| has(seen, &file, "created"));
    let created = line_of(&lines, &file, "created");
    assert_eq!(created["path"], "/Reports/budget.xlsx");
    // The new folder Reports is written once, as created; the root, touched as an
    // ancestor, is not written at all.
    let folders: Vec<&Value> = lines
        .iter()
        .filter(|l| l["item"]["folder"].is_object())
        .collect();
    assert_eq!(folders.len(), 1, "{folders:#?}");
    assert_eq!(
        (folders[0]["change"].as_str(), folders[0]["path"].as_str()),
        (Some("created"), Some("/Reports"))
    );

    put(&env, "Reports/budget.xlsx", "v2");
    let lines = w.until(|seen| has(seen, &file, "modified"));
    assert_eq!(
        line_of(&lines, &file, "modified")["path"],
        "/Reports/budget.xlsx"
    );
    assert!(
        lines.iter().all(|l| l["item"]["folder"].is_null()),
        "no ancestor folder lines: {lines:#?}"
    );

    patch(&env, &file, json!({"name": "budget-final.xlsx"}));
    let lines = w.until(|seen| has(seen, &file, "renamed"));
    let renamed = line_of(&lines, &file, "renamed");
    assert_eq!(renamed["path"], "/Reports/budget-final.xlsx");
    assert_eq!(
        renamed["previous"],
        json!({"name": "budget.xlsx", "path": "/Reports/budget.xlsx"})
    );

    patch(&env, &file, json!({"parentReference": {"id": archive}}));
    let lines = w.until(|seen| has(seen, &file, "moved"));
    let moved = line_of(&lines, &file, "moved");
    assert_eq!(moved["path"], "/Archive/budget-final.xlsx");
    assert_eq!(moved["previous"]["path"], "/Reports/budget-final.xlsx");

    delete(&env, &file);
    let lines = w.until(|seen| has(seen, &file, "deleted"));
    let deleted = line_of(&lines, &file, "deleted");
    assert_eq!(
        deleted["path"], "/Archive/budget-final.xlsx",
        "a deleted item is written with the path it had"
    );
    assert_eq!(deleted["item"]["deleted"]["state"], "deleted");
}

#[test]
fn a_rename_and_a_move_in_one_round_is_one_moved_line_with_both() {
    let env = env();
    let archive = parent(&put(&env, "Archive/keep.txt", "k"));
    let x = id(&put(&env, "Reports/x.txt", "x"));
    // A long debounce: both edits land in one round.
    let w = watch(&env, &["--debounce", "2s"]);
    patch(
        &env,
        &x,
        json!({"name": "y.txt", "parentReference": {"id": archive}}),
    );
    let lines = w.until(|seen| has(seen, &x, "moved"));
    let moved = line_of(&lines, &x, "moved");
    assert_eq!(moved["path"], "/Archive/y.txt");
    assert_eq!(
        moved["previous"],
        json!({"name": "x.txt", "path": "/Reports/x.txt"})
    );
    assert!(!has(&lines, &x, "renamed"), "{lines:#?}");
}

#[test]
fn one_upload_in_a_nested_folder_is_exactly_one_line_and_folders_adds_the_ancestors() {
    let env = env();
    put(&env, "A/B/C/old.txt", "o");
    let w = watch(&env, &["-n", "1"]);
    let new = id(&put(&env, "A/B/C/new.txt", "n"));
    let line = w.next();
    assert_eq!(
        change(&line),
        Some((new.clone(), "created".into())),
        "{line}"
    );
    assert_eq!(line["path"], "/A/B/C/new.txt");
    let mut w = w;
    assert!(w.wait().success());
    assert!(w.rest().is_empty(), "-n 1 is the file, and nothing else");

    // --folders: the ancestors the upload touched are written too.
    let w = watch(&env, &["--folders"]);
    let other = id(&put(&env, "A/B/C/other.txt", "o"));
    let lines = w.until(|seen| has(seen, &other, "created"));
    let mut w2 = w;
    let mut all = lines;
    // The ancestors may come before or after the file in the round: read the round's
    // remaining lines until the three folders and the root were written.
    while all
        .iter()
        .filter(|l| l["item"]["folder"].is_object() && l["change"] == "modified")
        .count()
        < 4
    {
        all.push(w2.next());
    }
    let paths: Vec<&str> = all
        .iter()
        .filter(|l| l["change"] == "modified")
        .filter_map(|l| l["path"].as_str())
        .collect();
    for folder in ["/", "/A", "/A/B", "/A/B/C"] {
        assert!(paths.contains(&folder), "{folder} in {paths:?}");
    }
    let _ = w2.child.kill();
}

#[test]
fn list_items_created_modified_with_their_fields_and_deleted() {
    let env = env();
    let w = Watcher::start(
        &env,
        &["list", "site-eng/list-issues", "--changes", "-o", "json"],
    );
    w.wait_stderr("watching list:site-eng/list-issues");
    let issue = add_issue(&env, "Projector broken");
    let issue = id(&issue);
    w.until(|seen| has(seen, &issue, "created"));
    let items = "/sites/site-eng/lists/list-issues/items";
    graph(
        &env,
        Method::PATCH,
        &format!("{items}/{issue}/fields"),
        Some(json!({"Status": "Resolved"})),
    );
    let lines = w.until(|seen| has(seen, &issue, "modified"));
    let modified = line_of(&lines, &issue, "modified");
    assert_eq!(modified["fields"]["Status"]["to"], "Resolved", "{modified}");
    assert!(
        modified["fields"]["Modified"].is_null(),
        "bookkeeping left out"
    );
    assert!(modified.get("path").is_none(), "list items have no path");
    graph(&env, Method::DELETE, &format!("{items}/{issue}"), None);
    w.until(|seen| has(seen, &issue, "deleted"));
}

/// The change made just before a 410 is not lost: the fresh enumeration is compared
/// with the index and the difference written after the `resync` line.
#[test]
fn a_change_just_before_a_410_is_written_after_the_resync_line() {
    let env = env();
    let gone = id(&put(&env, "Resync/gone.txt", "g"));
    let edited = id(&put(&env, "Resync/edited.txt", "1"));
    let w = watch(&env, &["--poll", "10m"]);
    env.post(
        "/_emulator/faults/fail",
        json!({"route": "delta", "status": 410, "count": 1}),
    );
    let before = id(&put(&env, "Resync/before.txt", "b"));
    put(&env, "Resync/edited.txt", "2");
    delete(&env, &gone);
    let lines = w.until(|seen| {
        has(seen, &before, "created")
            && has(seen, &edited, "modified")
            && has(seen, &gone, "deleted")
    });
    let resync = lines
        .iter()
        .position(|l| l["type"] == "resync")
        .expect("a resync line");
    assert_eq!(lines[resync]["reason"], "resyncRequired");
    for (id, kind) in [
        (&before, "created"),
        (&edited, "modified"),
        (&gone, "deleted"),
    ] {
        let at = lines
            .iter()
            .position(|l| change(l) == Some((id.to_string(), kind.to_string())))
            .unwrap();
        assert!(at > resync, "{kind} after the resync line");
    }
    assert_eq!(
        line_of(&lines, &gone, "deleted")["path"],
        "/Resync/gone.txt"
    );
    // Nothing unchanged is written again: three differences, no more files.
    let files = lines[resync + 1..]
        .iter()
        .filter(|l| l["item"]["folder"].is_null())
        .count();
    assert_eq!(files, 3, "{lines:#?}");
}

#[test]
fn initial_writes_every_item_once_as_existing_then_watches() {
    let env = env();
    let a = id(&put(&env, "Init/a.txt", "a"));
    let b = id(&put(&env, "Init/Sub/b.txt", "b"));
    let w = watch(&env, &["--initial"]);
    let c = id(&put(&env, "Init/c.txt", "c"));
    let lines = w.until(|seen| has(seen, &c, "created"));
    let existing: Vec<&Value> = lines.iter().filter(|l| l["change"] == "existing").collect();
    assert_eq!(line_of(&lines, &a, "existing")["path"], "/Init/a.txt");
    assert_eq!(line_of(&lines, &b, "existing")["path"], "/Init/Sub/b.txt");
    assert!(
        existing.iter().all(|l| l["item"]["root"].is_null()),
        "the root is not an item of the drive"
    );
    let first_created = lines.iter().position(|l| l["change"] == "created").unwrap();
    assert!(
        lines[..first_created]
            .iter()
            .all(|l| l["change"] == "existing"),
        "the listing comes first"
    );
    let ids: Vec<&str> = existing
        .iter()
        .filter_map(|l| l["item"]["id"].as_str())
        .collect();
    let mut unique = ids.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), ids.len(), "each item once");
}

/// `--path` keeps its index in the state file: an item moved out of the folder while
/// graphwatch was down is a `moved` line on restart.
#[test]
fn path_with_a_move_out_while_stopped_is_a_moved_line() {
    let env = env();
    let state = env.config_dir().join("path.db");
    let args = ["--path", "/Reports", "--state", state.to_str().unwrap()];
    let archive = parent(&put(&env, "Archive/keep.txt", "k"));
    let x = id(&put(&env, "Reports/x.txt", "x"));
    let w = watch(&env, &args);
    let marker = id(&put(&env, "Reports/marker.txt", "m"));
    let outside = id(&put(&env, "Elsewhere/o.txt", "o"));
    let lines = w.until(|seen| has(seen, &marker, "created"));
    assert!(!lines
        .iter()
        .any(|l| change(l).is_some_and(|(i, _)| i == outside)));
    drop(w);

    patch(&env, &x, json!({"parentReference": {"id": archive}}));
    let w = watch(&env, &args);
    let lines = w.until(|seen| has(seen, &x, "moved"));
    let moved = line_of(&lines, &x, "moved");
    assert_eq!(moved["path"], "/Archive/x.txt");
    assert_eq!(moved["previous"]["path"], "/Reports/x.txt");
    assert!(
        !w.stderr().contains("indexing every item"),
        "the index came from the state file: {}",
        w.stderr()
    );
}

#[test]
fn a_json_state_file_is_migrated_with_its_cursor_and_nothing_is_lost() {
    let env = env();
    // A cursor as graphwatch 0.1 saved it: from an enumeration made now.
    let token = env.mint(ADELE);
    let cursor = env.rt.block_on(async {
        let client = reqwest::Client::new();
        let mut link = format!("{}/v1.0/me/drive/root/delta", env.base);
        loop {
            let page: Value = client
                .get(&link)
                .bearer_auth(&token)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            if let Some(delta) = page["@odata.deltaLink"].as_str() {
                return delta.to_string();
            }
            link = page["@odata.nextLink"].as_str().unwrap().to_string();
        }
    });
    let dir = env.config_dir();
    let state = dir.join("old.json");
    let json = json!({"version": 1, "targets": {"drive:me": {
        "resource": format!("drive:{}", seed::ADELE_DRIVE),
        "deltaLink": cursor,
        "savedAt": "2026-11-26T10:00:00.000Z"
    }}});
    std::fs::write(&state, serde_json::to_vec(&json).unwrap()).unwrap();
    // Made after the cursor: the first round after the migration must write it.
    let after = id(&put(&env, "Migrated/after.txt", "a"));

    let w = watch(&env, &["--state", state.to_str().unwrap()]);
    let lines = w.until(|seen| {
        seen.iter()
            .any(|l| change(l).is_some_and(|(i, _)| i == after))
    });
    assert!(!lines.iter().any(|l| l["type"] == "resync"), "{lines:#?}");
    assert!(
        common::saved_state(&state)["targets"]["drive:me"]["indexed"] == true,
        "the index was built"
    );
    let kept = dir.join("old.json.v1.json");
    assert_eq!(
        serde_json::from_slice::<Value>(&std::fs::read(kept).unwrap()).unwrap(),
        json,
        "the old file is kept beside"
    );
}

#[test]
fn a_damaged_state_database_is_exit_2_and_left_as_it_is() {
    let env = env();
    let state = env.config_dir().join("torn.db");
    let mut bytes = b"SQLite format 3\0".to_vec();
    bytes.extend(std::iter::repeat_n(0xA5u8, 4096));
    std::fs::write(&state, &bytes).unwrap();
    let output = env
        .cmd(&[
            "drive",
            "me",
            "--changes",
            "--state",
            state.to_str().unwrap(),
        ])
        .env("GRAPHWATCH_ACCESS_TOKEN", env.mint(ADELE))
        .timeout(PATIENCE)
        .output()
        .unwrap();
    let stderr = common::stderr(&output);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "one line: {stderr}");
    assert!(stderr.contains("torn.db"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(std::fs::read(&state).unwrap(), bytes, "nothing overwritten");
}

/// Killed with SIGKILL at any moment of a burst and restarted, 20 times: every item
/// that changed is written at least once (a repeat is allowed, a gap never).
#[test]
fn kill_9_at_random_points_during_a_burst_loses_no_change() {
    let env = env();
    let state = env.config_dir().join("kill.db");
    let s = state.to_str().unwrap();
    let mut written: Vec<Value> = Vec::new();
    let mut made: Vec<String> = Vec::new();
    let seed_time = Instant::now().elapsed().subsec_nanos() as u64;
    let mut rng = seed_time | 1;
    let mut next = move || {
        // xorshift: random enough for kill points, no dependency.
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    for cycle in 0..20 {
        let w = watch(&env, &["--state", s, "--debounce", "50ms"]);
        // A burst of uploads, and a kill after a random number of lines.
        for i in 0..5 {
            made.push(id(&put(&env, &format!("Kill/c{cycle}-{i}.txt"), "x")));
        }
        let wanted = (next() % 6) as usize;
        for _ in 0..wanted {
            match w.lines.recv_timeout(PATIENCE) {
                Ok(line) => written.push(serde_json::from_str(&line).unwrap()),
                Err(_) => break,
            }
        }
        let status = std::process::Command::new("kill")
            .args(["-9", &w.pid()])
            .status()
            .unwrap();
        assert!(status.success());
        while let Ok(line) = w.lines.recv_timeout(PATIENCE) {
            written.push(serde_json::from_str(&line).unwrap());
        }
    }
    // The last start catches up with everything.
    let w = watch(&env, &["--state", s]);
    let marker = id(&put(&env, "Kill/marker.txt", "m"));
    written.extend(w.until(|seen| has(seen, &marker, "created")));
    for item in &made {
        assert!(
            written
                .iter()
                .any(|l| change(l).is_some_and(|(i, k)| &i == item && k != "deleted")),
            "{item} was never written"
        );
    }
}
