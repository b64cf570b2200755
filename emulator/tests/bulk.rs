//! `POST /_emulator/bulk`: a tree of many files made in one go, returned by delta like
//! any other creation, announced with one notification.

use crate::common;

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use common::sio::{notification, Client};
use common::*;
use graphwatch_emulator::seed;
use serde_json::{json, Value};

const MY_DELTA: &str = "/me/drive/root/delta";

/// Folder and file names of a delta answer, by id.
fn by_name(items: &[Value]) -> HashMap<String, &Value> {
    items
        .iter()
        .filter_map(|i| Some((i["name"].as_str()?.to_string(), i)))
        .collect()
}

/// A deltaLink from now.
async fn latest(g: &Graph, path: &str) -> String {
    let reply = g.get(&format!("{path}?token=latest")).await;
    assert_eq!(reply.status, 200, "{}", reply.json);
    reply.json["@odata.deltaLink"]
        .as_str()
        .expect("token=latest gives a deltaLink")
        .to_string()
}

#[tokio::test]
async fn bulk_files_come_back_through_delta_page_by_page() {
    const FOLDERS: usize = 4;
    const FILES: usize = 30;
    let running = start_with(|a| a.settings.delta_page_size = 7).await;
    let base = running.base_url.clone();
    let g = Graph::signed_in(&base, seed::ADELE_UPN).await;
    let before = latest(&g, MY_DELTA).await;

    let answer = post(
        &base,
        "/_emulator/bulk",
        json!({"folders": FOLDERS, "files": FILES}),
    )
    .await;
    assert_eq!(answer, json!({"created": FILES, "folders": FOLDERS}));

    // A full enumeration, through every nextLink: the seed's 6 items, bulk/, the folders
    // and the files, each once.
    let (items, pages, link) = g.delta(MY_DELTA).await;
    assert_eq!(items.len(), 6 + 1 + FOLDERS + FILES, "{items:?}");
    assert_eq!(pages, items.len().div_ceil(7));
    let ids: BTreeSet<&str> = items.iter().filter_map(|i| i["id"].as_str()).collect();
    assert_eq!(ids.len(), items.len(), "every item once");
    let named = by_name(&items);
    let bulk = named["bulk"];
    assert!(bulk["folder"].is_object());
    assert_eq!(bulk["folder"]["childCount"], FOLDERS);
    for f in 0..FOLDERS {
        let folder = named[&format!("f{f:04}")];
        assert_eq!(folder["parentReference"]["id"], bulk["id"]);
        // File n is in folder n % FOLDERS.
        assert_eq!(
            folder["folder"]["childCount"],
            (FILES - f).div_ceil(FOLDERS)
        );
    }
    for n in 0..FILES {
        let name = format!("file-{n:06}.txt");
        let file = named
            .get(&name)
            .unwrap_or_else(|| panic!("{name} in the enumeration"));
        assert_eq!(file["file"]["mimeType"], "text/plain");
        assert!(file["size"].as_u64().is_some_and(|s| s > 0));
        let folder = named[&format!("f{:04}", n % FOLDERS)];
        assert_eq!(file["parentReference"]["id"], folder["id"], "{name}");
    }
    // Folder sizes add up what is beneath them, however deep.
    let file_sizes = |pick: &dyn Fn(usize) -> bool| -> u64 {
        (0..FILES)
            .filter(|n| pick(*n))
            .map(|n| format!("bulk file {n}\n").len() as u64)
            .sum()
    };
    assert_eq!(bulk["size"], file_sizes(&|_| true));
    assert_eq!(named["f0001"]["size"], file_sizes(&|n| n % FOLDERS == 1));
    let everything: u64 = items
        .iter()
        .filter(|i| i["file"].is_object())
        .filter_map(|i| i["size"].as_u64())
        .sum();
    assert_eq!(named["root"]["size"], everything);

    // Parents before children, as in any full enumeration.
    let position = |name: &str| items.iter().position(|i| i["name"] == name).unwrap();
    assert!(position("bulk") < position("f0000"));
    assert!(position("f0003") < position("file-000000.txt"));

    // The files are where their names say, for Graph's other routes too.
    let one = g.get("/me/drive/root:/bulk/f0002/file-000006.txt").await;
    assert_eq!(one.status, 200, "{}", one.json);
    assert_eq!(one.json["id"], named["file-000006.txt"]["id"]);

    // Nothing more after the round, nor from `token=latest`.
    let (again, _, _) = g.delta(&link).await;
    assert!(again.is_empty(), "{again:?}");
    let (from_latest, _, _) = g.delta(&latest(&g, MY_DELTA).await).await;
    assert!(from_latest.is_empty(), "{from_latest:?}");

    // A cursor from before sees them as ordinary changes, the root's included.
    let (changes, _, _) = g.delta(&before).await;
    assert_eq!(changes.len(), 1 + 1 + FOLDERS + FILES, "{changes:?}");
    assert!(
        changes[0]["root"].is_object(),
        "the root first: {changes:?}"
    );
    running.shutdown().await;
}

#[tokio::test]
async fn bulk_on_another_drive_and_refusals() {
    let running = start().await;
    let base = running.base_url.clone();
    let g = Graph::signed_in(&base, seed::ADELE_UPN).await;

    let answer = post(
        &base,
        "/_emulator/bulk",
        json!({"drive": seed::DOCS_DRIVE, "folders": 2, "files": 3}),
    )
    .await;
    assert_eq!(answer, json!({"created": 3, "folders": 2}));
    let (items, _, _) = g
        .delta(&format!("/drives/{}/root/delta", seed::DOCS_DRIVE))
        .await;
    assert!(by_name(&items).contains_key("file-000002.txt"));
    // A library's files are its list's items too.
    let (list_items, _, _) = g
        .delta(&format!(
            "/sites/{}/lists/Documents/items/delta",
            seed::SITE_ID
        ))
        .await;
    assert_eq!(list_items.len(), 3 + 1 + 2 + 3, "{list_items:?}");
    let (adele, _, _) = g.delta(MY_DELTA).await;
    assert!(
        !by_name(&adele).contains_key("bulk"),
        "only the drive asked for"
    );

    for (body, status) in [
        (
            json!({"drive": seed::DOCS_DRIVE, "folders": 1, "files": 1}),
            409,
        ),
        (json!({"drive": "b!nope", "folders": 1, "files": 1}), 404),
        (json!({"folders": 0, "files": 1}), 400),
        (json!({"folders": 1, "files": 10_000_000}), 400),
        (json!({"folders": 1}), 400),
        (json!({"folders": 1, "files": 1, "colour": "red"}), 400),
    ] {
        let (got, answer) = post_raw(&base, "/_emulator/bulk", &body.to_string()).await;
        assert_eq!(got, status, "{body}: {answer}");
        assert!(answer["error"].is_string(), "{body}: {answer}");
    }
    running.shutdown().await;
}

/// However many files, the drive's subscriptions get one notification (per duplicate),
/// as for one upload. The "no more" is proved as e2e.rs proves it: once the emulator
/// has counted its sends, a one-frame burst must be the next frame.
#[tokio::test]
async fn bulk_announces_itself_once() {
    let running = start_with(|a| {
        a.settings.notify_delay_ms = 0;
        a.settings.notify_duplicates = 1;
    })
    .await;
    let base = running.base_url.clone();
    let sub = subscribe(&running);
    let (mut client, joined) = Client::join(&websocket_url(&notification_url(&sub))).await;
    assert!(joined.starts_with("40/notifications,"), "{joined}");

    post(
        &base,
        "/_emulator/bulk",
        json!({"folders": 5, "files": 500}),
    )
    .await;
    let frame = client.text(Duration::from_secs(5)).await;
    assert_eq!(
        notification(&frame)["value"].as_array().map(Vec::len),
        Some(1)
    );
    let sent = wait_for_counter(&base, "notifications.sent", 1, Duration::from_secs(5)).await;
    assert_eq!(sent, 1, "one notification for the lot");
    post(&base, "/_emulator/burst", json!({"count": 1})).await;
    let sentinel = notification(&client.text(Duration::from_secs(5)).await);
    assert_eq!(sentinel["value"][0]["sequence"], 1, "{sentinel}");
    running.shutdown().await;
}
