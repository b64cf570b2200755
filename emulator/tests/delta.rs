//! Delta for drives and lists: enumeration, cursors, paging, latest state, deletes,
//! ancestors, 410 resync, lag and persistence.

use crate::common;

use std::time::{Duration, Instant};

use common::{by_id, start, start_with, Graph};
use graphwatch_emulator::seed;
use reqwest::Method;
use serde_json::{json, Value};

const MY_DELTA: &str = "/me/drive/root/delta";

fn issues_delta() -> String {
    format!(
        "/sites/{}/lists/{}/items/delta",
        seed::SITE_ID,
        seed::ISSUES_LIST_ID
    )
}

async fn adele(running: &graphwatch_emulator::Running) -> Graph {
    Graph::signed_in(&running.base_url, seed::ADELE_UPN).await
}

/// A deltaLink that starts from now.
async fn latest(g: &Graph, path: &str) -> String {
    let reply = g.get(&format!("{path}?token=latest")).await;
    assert_eq!(reply.status, 200, "{}", reply.json);
    assert_eq!(reply.json["value"], json!([]), "token=latest lists nothing");
    reply.json["@odata.deltaLink"]
        .as_str()
        .expect("token=latest gives a deltaLink")
        .to_string()
}

fn names(items: &[Value]) -> Vec<String> {
    items
        .iter()
        .filter_map(|i| i["name"].as_str().map(str::to_string))
        .collect()
}

#[tokio::test]
async fn full_enumeration_lists_every_item_root_first() {
    let running = start().await;
    let g = adele(&running).await;
    let (items, pages, link) = g.delta(MY_DELTA).await;
    assert_eq!(pages, 1);
    assert!(items[0]["root"].is_object(), "the root comes first");
    let mut seen = names(&items);
    seen.sort();
    assert_eq!(
        seen,
        vec![
            "Photos",
            "Projects",
            "budget.xlsx",
            "notes.txt",
            "plan.docx",
            "root"
        ]
    );
    assert!(items.iter().all(|i| i.get("deleted").is_none()));
    assert!(link.starts_with(&format!(
        "{}/v1.0/me/drive/root/delta?token=",
        running.base_url
    )));

    let (again, _, _) = g.delta(&link).await;
    assert!(
        again.is_empty(),
        "nothing changed since the deltaLink: {again:?}"
    );

    let by_drive = g
        .get(&format!("/drives/{}/root/delta", seed::GROUP_DRIVE))
        .await;
    assert_eq!(by_drive.status, 200);
    assert!(names(by_drive.json["value"].as_array().unwrap()).contains(&"roadmap.pptx".to_string()));
    running.shutdown().await;
}

#[tokio::test]
async fn latest_then_changes_include_ancestors() {
    let running = start().await;
    let g = adele(&running).await;
    let before = g.get("/me/drive/root:/Projects").await.json;
    let link = latest(&g, MY_DELTA).await;

    let file = g
        .put("/me/drive/root:/Projects/spec.md:/content", "# spec")
        .await;
    assert_eq!(file.status, 201);
    let (items, _, _) = g.delta(&link).await;
    let file_id = file.json["id"].as_str().unwrap();
    assert_eq!(by_id(&items, file_id).len(), 1, "{items:?}");
    let projects = by_id(&items, before["id"].as_str().unwrap());
    assert_eq!(
        projects.len(),
        1,
        "the parent folder is reported: {items:?}"
    );
    assert_ne!(projects[0]["eTag"], before["eTag"]);
    assert_ne!(projects[0]["cTag"], before["cTag"]);
    assert!(
        items.iter().any(|i| i["root"].is_object()),
        "the root changed too"
    );
    let order: Vec<_> = items.iter().map(|i| i["id"].clone()).collect();
    assert!(
        order.iter().position(|i| i == &before["id"]) < order.iter().position(|i| i == file_id),
        "parents before the child: {order:?}"
    );
    assert!(items
        .iter()
        .all(|i| i["parentReference"].get("path").is_none()));
    assert_eq!(by_id(&items, file_id)[0]["size"], 6);
    running.shutdown().await;
}

#[tokio::test]
async fn paging_follows_next_links() {
    let running = start_with(|a| a.settings.delta_page_size = 2).await;
    let g = adele(&running).await;
    let first = g.get(MY_DELTA).await.json;
    assert_eq!(first["value"].as_array().map(Vec::len), Some(2));
    assert!(first["@odata.nextLink"].is_string());
    assert!(first.get("@odata.deltaLink").is_none());

    // A change while paging lands in the next round, not in this one.
    let late = g.put("/me/drive/root:/late.txt:/content", "late").await;
    let (items, pages, link) = g.delta(MY_DELTA).await;
    assert_eq!(items.len(), 7);
    assert_eq!(pages, 4);

    let (rest, _, _) = g.delta(first["@odata.nextLink"].as_str().unwrap()).await;
    assert_eq!(
        rest.len(),
        4,
        "the first round reads the log as it was: {rest:?}"
    );
    assert!(by_id(&rest, late.json["id"].as_str().unwrap()).is_empty());

    let (next_round, _, _) = g.delta(&link).await;
    assert!(next_round.is_empty());
    running.shutdown().await;
}

#[tokio::test]
async fn an_item_changed_twice_appears_once() {
    let running = start().await;
    let g = adele(&running).await;
    let link = latest(&g, MY_DELTA).await;
    g.put("/me/drive/root:/twice.txt:/content", "one").await;
    let second = g.put("/me/drive/root:/twice.txt:/content", "two!").await;
    assert_eq!(second.status, 200);
    let (items, _, _) = g.delta(&link).await;
    let id = second.json["id"].as_str().unwrap();
    let seen = by_id(&items, id);
    assert_eq!(seen.len(), 1, "{items:?}");
    assert_eq!(seen[0]["size"], 4, "the last state wins");
    assert_eq!(seen[0]["eTag"], second.json["eTag"]);
    let roots = items.iter().filter(|i| i["root"].is_object()).count();
    assert_eq!(roots, 1);
    running.shutdown().await;
}

#[tokio::test]
async fn deleting_a_folder_reports_each_item_deleted_without_name() {
    let running = start().await;
    let g = adele(&running).await;
    let projects = g.get("/me/drive/root:/Projects").await.json;
    let plan = g.get("/me/drive/root:/Projects/plan.docx").await.json;
    let link = latest(&g, MY_DELTA).await;
    let id = projects["id"].as_str().unwrap();
    assert_eq!(g.delete(&format!("/me/drive/items/{id}")).await.status, 204);

    let (items, _, _) = g.delta(&link).await;
    let deleted: Vec<_> = items
        .iter()
        .filter(|i| i.get("deleted").is_some())
        .collect();
    assert_eq!(deleted.len(), 3, "the folder and its two files: {items:?}");
    for item in &deleted {
        assert_eq!(item["deleted"], json!({"state": "deleted"}));
        assert!(
            item.get("name").is_none(),
            "business accounts omit name: {item}"
        );
        assert!(item["parentReference"]["id"].is_string());
    }
    assert_eq!(by_id(&items, id).len(), 1);
    let plan_entry = by_id(&items, plan["id"].as_str().unwrap());
    assert_eq!(plan_entry[0]["parentReference"]["id"], projects["id"]);

    let (full, _, _) = g.delta(MY_DELTA).await;
    assert!(
        by_id(&full, id).is_empty(),
        "a new enumeration omits deleted items"
    );
    running.shutdown().await;
}

#[tokio::test]
async fn renames_and_moves_appear_in_delta() {
    let running = start().await;
    let g = adele(&running).await;
    let notes = g.get("/me/drive/root:/notes.txt").await.json;
    let photos = g.get("/me/drive/root:/Photos").await.json;
    let link = latest(&g, MY_DELTA).await;
    let id = notes["id"].as_str().unwrap();
    g.json(
        Method::PATCH,
        &format!("/me/drive/items/{id}"),
        json!({"name": "memo.txt", "parentReference": {"id": photos["id"]}}),
    )
    .await;
    let (items, _, _) = g.delta(&link).await;
    let entry = by_id(&items, id);
    assert_eq!(entry.len(), 1);
    assert_eq!(entry[0]["name"], "memo.txt");
    assert_eq!(entry[0]["parentReference"]["id"], photos["id"]);
    assert_eq!(by_id(&items, photos["id"].as_str().unwrap()).len(), 1);
    running.shutdown().await;
}

#[tokio::test]
async fn list_item_delta() {
    let running = start().await;
    let g = adele(&running).await;
    let (items, _, _) = g.delta(&issues_delta()).await;
    assert_eq!(items.len(), 3);
    for item in &items {
        let fields = &item["fields"];
        assert!(fields["Title"].is_string() && fields["Status"].is_string());
        assert!(fields["Priority"].is_string() && fields["Modified"].is_string());
        assert_eq!(fields["id"], item["id"]);
        assert!(item["eTag"].is_string() && item["webUrl"].is_string());
        assert!(item["lastModifiedDateTime"].is_string());
    }

    let link = latest(&g, &issues_delta()).await;
    let items_path = format!("/sites/{}/lists/Issues/items", seed::SITE_ID);
    g.json(
        Method::PATCH,
        &format!("{items_path}/1/fields"),
        json!({"Status": "Resolved"}),
    )
    .await;
    g.json(
        Method::PATCH,
        &format!("{items_path}/1/fields"),
        json!({"Status": "Closed"}),
    )
    .await;
    let created = g
        .json(
            Method::POST,
            &items_path,
            json!({"fields": {"Title": "New one"}}),
        )
        .await;
    assert_eq!(g.delete(&format!("{items_path}/3")).await.status, 204);

    let (changes, _, _) = g.delta(&link).await;
    assert_eq!(changes.len(), 3, "{changes:?}");
    let one = by_id(&changes, "1");
    assert_eq!(one.len(), 1);
    assert_eq!(one[0]["fields"]["Status"], "Closed");
    assert_eq!(
        by_id(&changes, created.json["id"].as_str().unwrap()).len(),
        1
    );
    let gone = by_id(&changes, "3");
    assert_eq!(gone[0]["deleted"], json!({"state": "deleted"}));

    let by_list_id = g
        .get(&format!(
            "/sites/{}/lists/issues/items/delta",
            seed::SITE_ID
        ))
        .await;
    assert_eq!(by_list_id.status, 200, "display names work for delta too");
    running.shutdown().await;
}

#[tokio::test]
async fn library_list_delta_follows_its_drive() {
    let running = start().await;
    let g = adele(&running).await;
    let path = format!("/sites/{}/lists/Documents/items/delta", seed::SITE_ID);
    let (items, _, _) = g.delta(&path).await;
    assert_eq!(items.len(), 3, "the root is not a list item: {items:?}");
    let link = latest(&g, &path).await;
    g.put(
        &format!("/drives/{}/root:/Design/new.md:/content", seed::DOCS_DRIVE),
        "x",
    )
    .await;
    let (changes, _, _) = g.delta(&link).await;
    let leafs: Vec<_> = changes
        .iter()
        .map(|i| i["fields"]["FileLeafRef"].clone())
        .collect();
    assert!(leafs.contains(&json!("new.md")), "{changes:?}");
    assert!(leafs.contains(&json!("Design")));
    running.shutdown().await;
}

#[tokio::test]
async fn bad_cursors_are_gone_with_a_fresh_link() {
    let running = start().await;
    let g = adele(&running).await;
    for token in ["garbage", "eyJlIjoieCJ9", ""] {
        let reply = g.get(&format!("{MY_DELTA}?token={token}")).await;
        assert_eq!(reply.status, 410, "token {token:?}");
        assert_eq!(reply.code(), "resyncRequired");
        let location = reply.headers["location"].to_str().unwrap();
        assert_eq!(location, format!("{}/v1.0{MY_DELTA}", running.base_url));
    }

    // A cursor of one feed is refused by another.
    let drive_link = latest(&g, MY_DELTA).await;
    let token = drive_link.split("token=").nth(1).unwrap();
    let foreign = g.get(&format!("{}?token={token}", issues_delta())).await;
    assert_eq!(foreign.status, 410);

    // A cursor from another emulator instance is refused too.
    let other = start().await;
    let g2 = adele(&other).await;
    let other_link = latest(&g2, MY_DELTA).await;
    let rebased = other_link.replace(&other.base_url, &running.base_url);
    let reply = g.get(&rebased).await;
    assert_eq!(reply.status, 410);
    assert!(reply.headers.contains_key("location"));
    assert_eq!(
        g.get(&drive_link).await.status,
        200,
        "its own cursor still works"
    );

    let function_form = g
        .get(&format!("/me/drive/root/delta(token='{token}')"))
        .await;
    assert_eq!(function_form.status, 200, "{}", function_form.json);
    other.shutdown().await;
    running.shutdown().await;
}

#[tokio::test]
async fn lagging_changes_are_not_skipped() {
    let running = start_with(|a| a.settings.delta_lag_ms = 300).await;
    let g = adele(&running).await;
    let link = latest(&g, MY_DELTA).await;
    let file = g.put("/me/drive/root:/slow.txt:/content", "slow").await;
    let id = file.json["id"].as_str().unwrap().to_string();

    let (items, _, mut cursor) = g.delta(&link).await;
    assert!(by_id(&items, &id).is_empty(), "not visible yet: {items:?}");
    let (full, _, _) = g.delta(MY_DELTA).await;
    assert!(by_id(&full, &id).is_empty(), "an enumeration lags too");

    // Keep following deltaLinks the way a client does; the change must surface.
    let deadline = Instant::now() + Duration::from_secs(5);
    let found = loop {
        let (items, _, next) = g.delta(&cursor).await;
        if !by_id(&items, &id).is_empty() {
            break true;
        }
        cursor = next;
        if Instant::now() > deadline {
            break false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(found, "the lagging change appeared within 5 s");
    running.shutdown().await;
}

#[tokio::test]
async fn persisted_store_keeps_cursors_valid() {
    let path = std::env::temp_dir().join(format!("graphwatch-delta-{}.json", uuid::Uuid::new_v4()));
    let persist = path.clone();
    let first = start_with(move |a| a.persist = Some(persist)).await;
    let g = adele(&first).await;
    g.put("/me/drive/root:/before.txt:/content", "1").await;
    let link = latest(&g, MY_DELTA).await;
    let old_base = first.base_url.clone();
    first.shutdown().await;
    assert!(path.exists(), "the store was saved");

    let persist = path.clone();
    let second = start_with(move |a| a.persist = Some(persist)).await;
    let g = adele(&second).await;
    assert_eq!(g.get("/me/drive/root:/before.txt").await.status, 200);
    let after = g.put("/me/drive/root:/after.txt:/content", "2").await;
    let link = link.replace(&old_base, &second.base_url);
    let (items, _, _) = g.delta(&link).await;
    assert_eq!(
        names(&items)
            .into_iter()
            .filter(|n| n.ends_with(".txt"))
            .collect::<Vec<_>>(),
        vec!["after.txt"],
        "{items:?}"
    );
    assert_eq!(by_id(&items, after.json["id"].as_str().unwrap()).len(), 1);
    second.shutdown().await;
    let _ = std::fs::remove_file(&path);
}
