//! Typed list columns: the seeded Issues list's text, choice, number, boolean, dateTime
//! and person columns, rendered in `fields` as Graph renders them, and writes of the
//! wrong type refused with Graph's 400.

use crate::common;

use common::{by_id, start, Graph};
use graphwatch_emulator::seed;
use reqwest::Method;
use serde_json::{json, Value};

fn items_path() -> String {
    format!(
        "/sites/{}/lists/{}/items",
        seed::SITE_ID,
        seed::ISSUES_LIST_ID
    )
}

async fn adele() -> (graphwatch_emulator::Running, Graph) {
    let running = start().await;
    let graph = Graph::signed_in(&running.base_url, seed::ADELE_UPN).await;
    (running, graph)
}

/// The seeded item 1, in every place `fields` is shown.
fn assert_seeded_first_issue(fields: &Value) {
    assert_eq!(fields["Title"], "Sign-in fails on Safari", "{fields}");
    assert_eq!(fields["Status"], "Active");
    assert_eq!(fields["Priority"], "(1) High");
    assert_eq!(fields["Description"], "The device-code page never loads.");
    assert_eq!(fields["Estimate"], json!(3), "a number, not a string");
    assert_eq!(fields["Blocked"], json!(false), "a boolean, not a string");
    assert_eq!(fields["Due"], "2026-06-30T17:00:00Z");
    // Megan is the second user of the site: lookup id 7, as a string.
    assert_eq!(fields["AssignedToLookupId"], json!("7"));
    assert!(
        fields.get("AssignedTo").is_none(),
        "a person column shows only its LookupId: {fields}"
    );
}

#[tokio::test]
async fn seeded_issues_have_typed_fields() {
    let (running, g) = adele().await;
    let items = g.get(&items_path()).await;
    assert_eq!(items.status, 200);
    let items = items.json["value"].as_array().cloned().unwrap();
    assert_seeded_first_issue(&by_id(&items, "1")[0]["fields"]);
    let second = &by_id(&items, "2")[0]["fields"];
    assert_eq!(second["Blocked"], json!(true));
    assert_eq!(second["Estimate"], json!(8));
    assert!(second.get("Due").is_none() && second.get("AssignedToLookupId").is_none());
    assert_eq!(by_id(&items, "3")[0]["fields"]["Estimate"], json!(0.5));

    let one = g.get(&format!("{}/1/fields", items_path())).await;
    assert_eq!(one.status, 200);
    assert_seeded_first_issue(&one.json);

    let (delta, _, _) = g.delta(&format!("{}/delta", items_path())).await;
    assert_seeded_first_issue(&by_id(&delta, "1")[0]["fields"]);
    running.shutdown().await;
}

#[tokio::test]
async fn typed_writes_are_kept_as_graph_shows_them() {
    let (running, g) = adele().await;
    let created = g
        .json(
            Method::POST,
            &items_path(),
            json!({"fields": {
                "Title": "Export to CSV", "Status": "New", "Priority": "(2) Normal",
                "Estimate": 2.5, "Blocked": true, "Due": "2026-03-01T09:30:00+01:00",
                "AssignedToLookupId": "6",
            }}),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.json);
    let fields = &created.json["fields"];
    assert_eq!(fields["Estimate"], json!(2.5));
    assert_eq!(fields["Blocked"], json!(true));
    assert_eq!(fields["Due"], "2026-03-01T08:30:00Z", "kept in UTC with Z");
    assert_eq!(fields["AssignedToLookupId"], "6");
    let id = created.json["id"].as_str().unwrap().to_string();

    // A lookup id as a number is taken too, and shown as a string; null clears.
    let patched = g
        .json(
            Method::PATCH,
            &format!("{}/{id}/fields", items_path()),
            json!({"AssignedToLookupId": 7, "Due": null, "Estimate": 13, "Status": "Active"}),
        )
        .await;
    assert_eq!(patched.status, 200, "{}", patched.json);
    assert_eq!(patched.json["AssignedToLookupId"], "7");
    assert!(patched.json.get("Due").is_none(), "{}", patched.json);
    assert_eq!(patched.json["Estimate"], json!(13));
    assert_eq!(patched.json["Status"], "Active");
    assert_eq!(patched.json["Blocked"], json!(true), "untouched");
    running.shutdown().await;
}

#[tokio::test]
async fn wrong_types_are_refused_and_change_nothing() {
    let (running, g) = adele().await;
    let delta = format!("{}/delta", items_path());
    let latest = g.get(&format!("{delta}?token=latest")).await;
    let link = latest.json["@odata.deltaLink"]
        .as_str()
        .unwrap()
        .to_string();
    let before = g.get(&format!("{}/1", items_path())).await.json;

    for bad in [
        json!({"Estimate": "three"}),
        json!({"Estimate": true}),
        json!({"Blocked": "yes"}),
        json!({"Blocked": 1}),
        json!({"Due": "next Tuesday"}),
        json!({"Due": 20260301}),
        json!({"Status": "Open"}),
        json!({"Priority": 1}),
        json!({"Title": 42}),
        json!({"AssignedToLookupId": "999"}),
        json!({"AssignedToLookupId": ["6"]}),
        json!({"AssignedTo": "Adele Vance"}),
        // One bad value spoils the whole write.
        json!({"Title": "fine", "Estimate": "bad"}),
    ] {
        let reply = g
            .json(
                Method::PATCH,
                &format!("{}/1/fields", items_path()),
                bad.clone(),
            )
            .await;
        assert_eq!(reply.status, 400, "{bad}: {}", reply.json);
        assert_eq!(reply.code(), "invalidRequest", "{bad}: {}", reply.json);
        assert!(
            reply.json["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty()),
            "{}",
            reply.json
        );
    }
    let refused = g
        .json(
            Method::POST,
            &items_path(),
            json!({"fields": {"Title": "x", "Blocked": "no"}}),
        )
        .await;
    assert_eq!(refused.status, 400, "{}", refused.json);

    let after = g.get(&format!("{}/1", items_path())).await.json;
    assert_eq!(after["eTag"], before["eTag"]);
    assert_eq!(after["fields"], before["fields"]);
    let (changes, _, _) = g.delta(&link).await;
    assert!(
        changes.is_empty(),
        "refused writes log nothing: {changes:?}"
    );
    running.shutdown().await;
}
