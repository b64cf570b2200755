//! Stable event ids (docs/contract.md, "Event ids"): the same change gets the same `id`
//! whichever process writes it and however often; different changes get different ids.
//! Against the in-process emulator, real mutations over HTTP.

use crate::common;

use std::collections::{HashMap, HashSet};
use std::path::Path;

use common::watcher::{delete, graph, has, upload, Watcher};
use common::Env;
use serde_json::{json, Value};

fn env() -> Env {
    Env::start_with(|args| {
        args.settings.notify_delay_ms = 50;
        args.settings.delta_page_size = 1000;
    })
}

/// (item id, change) → the ids written for it.
fn ids_by_change(lines: &[Value]) -> HashMap<(String, String), Vec<String>> {
    let mut ids: HashMap<(String, String), Vec<String>> = HashMap::new();
    for line in lines.iter().filter(|l| l["type"] == "change") {
        let id = line["id"].as_str().expect("every change line has an id");
        assert!(
            id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()),
            "{line}"
        );
        ids.entry((
            line["item"]["id"].as_str().unwrap().to_string(),
            line["change"].as_str().unwrap().to_string(),
        ))
        .or_default()
        .push(id.to_string());
    }
    ids
}

/// Copy an SQLite state file (and its write-ahead log) as a backup would.
fn copy_state(from: &Path, to: &Path) {
    for suffix in ["", "-wal"] {
        let src = format!("{}{suffix}", from.display());
        if Path::new(&src).exists() {
            std::fs::copy(&src, format!("{}{suffix}", to.display())).unwrap();
        }
    }
}

fn rename(env: &Env, id: &str, name: &str) {
    graph(
        env,
        reqwest::Method::PATCH,
        &format!("/me/drive/items/{id}"),
        Some(json!({ "name": name })),
    );
}

#[test]
fn the_same_change_has_the_same_id_in_two_processes_and_after_a_restart() {
    let env = env();
    let dir = env.config_dir();
    let (one, two) = (dir.join("one.db"), dir.join("two.db"));
    // The drive by two names: `me`, and its id. The id is of the drive, not the label.
    let drive_id = graph(&env, reqwest::Method::GET, "/me/drive", None)["id"]
        .as_str()
        .unwrap()
        .to_string();

    // 1. One process indexes the drive and saves its cursor, then dies.
    let first = Watcher::start(
        &env,
        &["drive", "me", "--changes", "--state", one.to_str().unwrap()],
    );
    first.wait_stderr("watching drive:me");
    drop(first);
    copy_state(&one, &two);

    // 2. Changes while nobody watches: both restarts catch them up from the same cursor,
    //    one under another label.
    let a = upload(&env, "Ids/a.txt");
    let b = upload(&env, "Ids/b.txt");
    rename(&env, &a, "a2.txt");
    let p = Watcher::start(
        &env,
        &["drive", "me", "--changes", "--state", one.to_str().unwrap()],
    );
    let q = Watcher::start(
        &env,
        &["drive", "me", "--changes", "--state", two.to_str().unwrap()],
    );
    let done = |seen: &[Value]| has(seen, &a, "created") && has(seen, &b, "created");
    let (mut seen_p, mut seen_q) = (p.until(done), q.until(done));

    // 3. Live changes, seen by both at once and by a third process that names the
    //    drive by its id (another label, no state).
    let r = Watcher::start(&env, &["drive", &drive_id, "--changes"]);
    r.wait_stderr(&format!("watching drive:{drive_id}"));
    delete(&env, &b);
    let c = upload(&env, "Ids/c.txt");
    let live = |seen: &[Value]| has(seen, &b, "deleted") && has(seen, &c, "created");
    seen_p.extend(p.until(live));
    seen_q.extend(q.until(live));
    let seen_r = r.until(live);
    assert_ne!(seen_p[0]["target"], seen_r[0]["target"], "two labels");
    let ids_r = ids_by_change(&seen_r);
    for key in [
        (b.clone(), "deleted".to_string()),
        (c.clone(), "created".to_string()),
    ] {
        assert_eq!(ids_by_change(&seen_p).get(&key), ids_r.get(&key), "{key:?}");
    }

    let (ids_p, ids_q) = (ids_by_change(&seen_p), ids_by_change(&seen_q));
    for key in [
        (a.clone(), "created".to_string()),
        (b.clone(), "created".to_string()),
        (b.clone(), "deleted".to_string()),
        (c.clone(), "created".to_string()),
    ] {
        assert_eq!(
            ids_p.get(&key),
            ids_q.get(&key),
            "{key:?}: {ids_p:?} / {ids_q:?}"
        );
        assert!(ids_p.contains_key(&key), "{key:?} written: {ids_p:?}");
    }
    // Different changes, different ids (the rename came in the same round as the
    // upload: one `created` of the renamed file).
    let all: Vec<&String> = ids_p.values().flatten().collect();
    let distinct: HashSet<&&String> = all.iter().collect();
    assert_eq!(all.len(), distinct.len(), "{ids_p:?}");
    assert_ne!(
        ids_p[&(b.clone(), "created".into())],
        ids_p[&(b.clone(), "deleted".into())]
    );
}
