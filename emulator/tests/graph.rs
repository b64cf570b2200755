//! Graph v1.0 reads, errors, socketIo endpoints and mutations of the emulator.

use crate::common;

use common::{by_id, start, Graph};
use graphwatch_emulator::seed;
use reqwest::Method;
use serde_json::json;

async fn adele() -> (graphwatch_emulator::Running, Graph) {
    let running = start().await;
    let graph = Graph::signed_in(&running.base_url, seed::ADELE_UPN).await;
    (running, graph)
}

#[tokio::test]
async fn users_and_groups() {
    let (running, g) = adele().await;
    let me = g.get("/me").await;
    assert_eq!(me.status, 200);
    assert_eq!(me.json["id"], seed::ADELE_ID);
    assert_eq!(me.json["userPrincipalName"], seed::ADELE_UPN);
    assert!(me.json["@odata.context"]
        .as_str()
        .unwrap()
        .ends_with("$metadata#users/$entity"));

    let megan = g.get(&format!("/users/{}", seed::MEGAN_UPN)).await;
    assert_eq!(megan.json["id"], seed::MEGAN_ID);
    let by_id = g.get(&format!("/users/{}", seed::MEGAN_ID)).await;
    assert_eq!(by_id.json["displayName"], seed::MEGAN_NAME);

    let group = g.get(&format!("/groups/{}", seed::GROUP_ID)).await;
    assert_eq!(group.status, 200);
    assert_eq!(group.json["displayName"], seed::GROUP_NAME);
    running.shutdown().await;
}

#[tokio::test]
async fn drives_by_every_address() {
    let (running, g) = adele().await;
    let mine = g.get("/me/drive").await;
    assert_eq!(mine.status, 200);
    assert_eq!(mine.json["id"], seed::ADELE_DRIVE);
    assert_eq!(mine.json["driveType"], "business");
    assert_eq!(mine.json["owner"]["user"]["id"], seed::ADELE_ID);

    for (path, id) in [
        (format!("/drives/{}", seed::ADELE_DRIVE), seed::ADELE_DRIVE),
        (
            format!("/users/{}/drive", seed::ADELE_UPN),
            seed::ADELE_DRIVE,
        ),
        (
            format!("/groups/{}/drive", seed::GROUP_ID),
            seed::GROUP_DRIVE,
        ),
        (format!("/sites/{}/drive", seed::SITE_ID), seed::DOCS_DRIVE),
        (
            format!(
                "/sites/{}/lists/{}/drive",
                seed::SITE_ID,
                seed::SPECS_LIST_ID
            ),
            seed::SPECS_DRIVE,
        ),
        (
            format!("/sites/{}/drives/{}", seed::SITE_ID, seed::SPECS_DRIVE),
            seed::SPECS_DRIVE,
        ),
    ] {
        let reply = g.get(&path).await;
        assert_eq!(reply.status, 200, "{path}: {}", reply.json);
        assert_eq!(reply.json["id"], id, "{path}");
    }
    let docs = g.get(&format!("/drives/{}", seed::DOCS_DRIVE)).await;
    assert_eq!(docs.json["driveType"], "documentLibrary");
    assert_eq!(
        docs.json["webUrl"],
        "https://contoso.sharepoint.com/sites/eng/Shared%20Documents"
    );

    let drives = g.get(&format!("/sites/{}/drives", seed::SITE_ID)).await;
    let ids: Vec<_> = drives.json["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].clone())
        .collect();
    assert_eq!(ids, vec![json!(seed::DOCS_DRIVE), json!(seed::SPECS_DRIVE)]);
    running.shutdown().await;
}

#[tokio::test]
async fn sites_by_id_and_by_hostname_path() {
    let (running, g) = adele().await;
    let by_id = g.get(&format!("/sites/{}", seed::SITE_ID)).await;
    assert_eq!(by_id.status, 200);
    assert_eq!(
        by_id.json["webUrl"],
        "https://contoso.sharepoint.com/sites/eng"
    );
    assert_eq!(
        by_id.json["siteCollection"]["hostname"],
        seed::SHAREPOINT_HOST
    );

    let by_path = g.get("/sites/contoso.sharepoint.com:/sites/eng").await;
    assert_eq!(by_path.status, 200, "{}", by_path.json);
    assert_eq!(by_path.json["id"], seed::SITE_ID);
    let lists = g
        .get("/sites/contoso.sharepoint.com:/sites/eng:/lists")
        .await;
    assert_eq!(lists.json["value"].as_array().map(Vec::len), Some(3));
    let issues = g
        .get("/sites/contoso.sharepoint.com:/sites/eng:/lists/Issues")
        .await;
    assert_eq!(issues.json["id"], seed::ISSUES_LIST_ID);

    let missing = g.get("/sites/contoso.sharepoint.com:/sites/nope").await;
    assert_eq!(missing.status, 404);
    assert_eq!(missing.code(), "itemNotFound");
    running.shutdown().await;
}

#[tokio::test]
async fn lists_by_id_and_display_name() {
    let (running, g) = adele().await;
    let site = format!("/sites/{}", seed::SITE_ID);
    let by_id = g
        .get(&format!("{site}/lists/{}", seed::ISSUES_LIST_ID))
        .await;
    assert_eq!(by_id.status, 200);
    assert_eq!(by_id.json["list"]["template"], "genericList");
    assert_eq!(
        by_id.json["webUrl"],
        "https://contoso.sharepoint.com/sites/eng/Lists/Issues"
    );
    let by_name = g.get(&format!("{site}/lists/issues")).await;
    assert_eq!(by_name.json["id"], seed::ISSUES_LIST_ID);
    let library = g.get(&format!("{site}/lists/documents")).await;
    assert_eq!(library.json["id"], seed::DOCS_LIST_ID);
    assert_eq!(library.json["list"]["template"], "documentLibrary");

    let items = g.get(&format!("{site}/lists/Issues/items")).await;
    let items = items.json["value"].as_array().cloned().unwrap();
    assert_eq!(items.len(), 3);
    assert_eq!(items[0]["fields"]["Status"], "Active");
    assert!(items[0]["fields"]["Priority"].is_string());

    let one = g
        .get(&format!(
            "{site}/lists/{}/items/2?expand=fields",
            seed::ISSUES_LIST_ID
        ))
        .await;
    assert_eq!(one.status, 200);
    assert_eq!(one.json["id"], "2");
    assert_eq!(one.json["fields"]["Title"], "Add a dark theme");
    assert!(one.json["eTag"].is_string());

    let library_items = g.get(&format!("{site}/lists/Documents/items")).await;
    let names: Vec<_> = library_items.json["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["fields"]["FileLeafRef"].clone())
        .collect();
    assert!(names.contains(&json!("Welcome.docx")), "{names:?}");

    let missing = g.get(&format!("{site}/lists/Nope")).await;
    assert_eq!(missing.status, 404);
    let missing_item = g.get(&format!("{site}/lists/Issues/items/99")).await;
    assert_eq!(missing_item.code(), "itemNotFound");
    running.shutdown().await;
}

#[tokio::test]
async fn items_by_id_path_and_children() {
    let (running, g) = adele().await;
    let drive = format!("/drives/{}", seed::ADELE_DRIVE);
    let root = g.get(&format!("{drive}/root")).await;
    assert_eq!(root.status, 200);
    assert!(root.json["root"].is_object());
    assert_eq!(root.json["folder"]["childCount"], 3);

    let children = g.get(&format!("{drive}/root/children")).await;
    let names: Vec<_> = children.json["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names, vec!["notes.txt", "Photos", "Projects"]);

    let plan = g.get("/me/drive/root:/Projects/plan.docx").await;
    assert_eq!(plan.status, 200, "{}", plan.json);
    assert_eq!(plan.json["name"], "plan.docx");
    assert_eq!(
        plan.json["parentReference"]["path"],
        "/drive/root:/Projects"
    );
    assert!(plan.json["file"]["mimeType"].is_string());
    let id = plan.json["id"].as_str().unwrap();
    let again = g.get(&format!("{drive}/items/{id}")).await;
    assert_eq!(again.json["eTag"], plan.json["eTag"]);

    let projects = g.get(&format!("{drive}/root:/Projects:")).await;
    let projects_id = projects.json["id"].as_str().unwrap();
    let inside = g
        .get(&format!("{drive}/items/{projects_id}/children"))
        .await;
    assert_eq!(inside.json["value"].as_array().map(Vec::len), Some(2));
    let by_path_children = g.get("/me/drive/root:/Projects:/children").await;
    assert_eq!(by_path_children.json["value"], inside.json["value"]);
    let relative = g
        .get(&format!("{drive}/items/{projects_id}:/budget.xlsx"))
        .await;
    assert_eq!(relative.json["name"], "budget.xlsx");

    assert_eq!(g.get(&format!("{drive}/items/nope")).await.status, 404);
    let missing = g.get("/me/drive/root:/Projects/nope.txt").await;
    assert_eq!(missing.status, 404);
    assert_eq!(missing.code(), "itemNotFound");
    running.shutdown().await;
}

#[tokio::test]
async fn authentication_and_authorization_errors() {
    let (running, g) = adele().await;
    let anonymous = Graph::anonymous(&running.base_url);
    for path in ["/me", "/me/drive", "/me/drive/root/subscriptions/socketIo"] {
        let reply = anonymous.get(path).await;
        assert_eq!(reply.status, 401, "{path}");
        assert_eq!(reply.code(), "InvalidAuthenticationToken");
    }

    for path in [
        format!("/drives/{}", seed::MEGAN_DRIVE),
        format!("/users/{}/drive", seed::MEGAN_UPN),
        format!("/drives/{}/root/children", seed::MEGAN_DRIVE),
        format!("/drives/{}/root/delta", seed::MEGAN_DRIVE),
    ] {
        let reply = g.get(&path).await;
        assert_eq!(reply.status, 403, "{path}");
        assert_eq!(reply.code(), "accessDenied");
    }
    let write = g
        .put(
            &format!("/drives/{}/root:/x.txt:/content", seed::MEGAN_DRIVE),
            "x",
        )
        .await;
    assert_eq!(write.status, 403);

    let megan = Graph::signed_in(&running.base_url, seed::MEGAN_UPN).await;
    assert_eq!(megan.get("/me/drive").await.json["id"], seed::MEGAN_DRIVE);
    assert_eq!(
        megan
            .get(&format!("/drives/{}", seed::ADELE_DRIVE))
            .await
            .status,
        403
    );
    assert_eq!(
        megan
            .get(&format!("/groups/{}/drive", seed::GROUP_ID))
            .await
            .status,
        403,
        "Megan is not a member of the group"
    );

    for path in [
        "/drives/b!nope",
        "/users/nobody@contoso.com",
        "/sites/nope",
        "/groups/nope/drive",
    ] {
        let reply = g.get(path).await;
        assert_eq!(reply.status, 404, "{path}");
        assert_eq!(reply.code(), "itemNotFound");
    }
    let unknown = g.get("/me/frobnicate").await;
    assert_eq!(unknown.status, 400);
    running.shutdown().await;
}

#[tokio::test]
async fn every_socketio_form_answers() {
    let (running, g) = adele().await;
    let site = seed::SITE_ID;
    for path in [
        "/me/drive/root/subscriptions/socketIo".to_string(),
        format!("/drives/{}/root/subscriptions/socketIo", seed::ADELE_DRIVE),
        format!(
            "/groups/{}/drive/root/subscriptions/socketIo",
            seed::GROUP_ID
        ),
        format!(
            "/sites/{site}/lists/{}/drive/root/subscriptions/socketIo",
            seed::DOCS_LIST_ID
        ),
        format!(
            "/sites/{site}/lists/{}/subscriptions/socketIo",
            seed::ISSUES_LIST_ID
        ),
        format!("/lists/{}/subscriptions/socketIo", seed::ISSUES_LIST_ID),
        format!(
            "/users/{}/drive/root/subscriptions/socketIo",
            seed::ADELE_UPN
        ),
        "/sites/contoso.sharepoint.com:/sites/eng:/lists/Issues/subscriptions/socketio".to_string(),
    ] {
        let reply = g.get(&path).await;
        assert_eq!(reply.status, 200, "{path}: {}", reply.json);
        assert!(reply.json["id"].is_string(), "{path}: {}", reply.json);
    }
    let forbidden = g
        .get(&format!(
            "/drives/{}/root/subscriptions/socketIo",
            seed::MEGAN_DRIVE
        ))
        .await;
    assert_eq!(forbidden.status, 403);
    let missing = g.get("/lists/nope/subscriptions/socketIo").await;
    assert_eq!(missing.status, 404);
    running.shutdown().await;
}

#[tokio::test]
async fn upload_creates_then_replaces() {
    let (running, g) = adele().await;
    let created = g
        .put("/me/drive/root:/Reports/2026/q1.txt:/content", "hello")
        .await;
    assert_eq!(created.status, 201, "{}", created.json);
    assert_eq!(created.json["name"], "q1.txt");
    assert_eq!(created.json["size"], 5);
    assert_eq!(created.json["file"]["mimeType"], "text/plain");
    assert_eq!(
        created.json["parentReference"]["path"],
        "/drive/root:/Reports/2026"
    );
    let etag = created.json["eTag"].as_str().unwrap().to_string();
    let ctag = created.json["cTag"].as_str().unwrap().to_string();

    let folder = g.get("/me/drive/root:/Reports/2026").await;
    assert_eq!(folder.status, 200, "missing parents were created");
    assert_eq!(folder.json["folder"]["childCount"], 1);

    let replaced = g
        .put(
            &format!(
                "/drives/{}/root:/reports/2026/Q1.txt:/content",
                seed::ADELE_DRIVE
            ),
            "hello again",
        )
        .await;
    assert_eq!(replaced.status, 200);
    assert_eq!(
        replaced.json["id"], created.json["id"],
        "names are case-insensitive"
    );
    assert_eq!(replaced.json["size"], 11);
    assert_ne!(replaced.json["eTag"], etag);
    assert_ne!(replaced.json["cTag"], ctag);

    let folder_id = folder.json["id"].as_str().unwrap();
    let under = g
        .put(
            &format!(
                "/drives/{}/items/{folder_id}:/q2.csv:/content",
                seed::ADELE_DRIVE
            ),
            "a,b",
        )
        .await;
    assert_eq!(under.status, 201);
    assert_eq!(under.json["parentReference"]["id"], folder_id);
    assert_eq!(under.json["file"]["mimeType"], "text/csv");

    let fail = g
        .put(
            "/me/drive/root:/Reports/2026/q2.csv:/content?@microsoft.graph.conflictBehavior=fail",
            "x",
        )
        .await;
    assert_eq!(fail.status, 409);
    assert_eq!(fail.code(), "nameAlreadyExists");
    let renamed = g
        .put(
            "/me/drive/root:/Reports/2026/q2.csv:/content?@microsoft.graph.conflictBehavior=rename",
            "x",
        )
        .await;
    assert_eq!(renamed.status, 201);
    assert_eq!(renamed.json["name"], "q2 1.csv");

    let through_file = g
        .put("/me/drive/root:/notes.txt/inner.txt:/content", "x")
        .await;
    assert_eq!(through_file.status, 409);
    let bad_name = g.put("/me/drive/root:/a|b.txt:/content", "x").await;
    assert_eq!(bad_name.status, 400);
    assert_eq!(bad_name.code(), "invalidRequest");

    let library = g
        .put(
            &format!(
                "/sites/{}/drive/root:/Design/new.md:/content",
                seed::SITE_ID
            ),
            "# new",
        )
        .await;
    assert_eq!(library.status, 201);
    assert_eq!(
        library.json["webUrl"],
        "https://contoso.sharepoint.com/sites/eng/Shared%20Documents/Design/new.md"
    );
    running.shutdown().await;
}

#[tokio::test]
async fn rename_move_and_delete() {
    let (running, g) = adele().await;
    let drive = format!("/drives/{}", seed::ADELE_DRIVE);
    let notes = g.get("/me/drive/root:/notes.txt").await;
    let notes_id = notes.json["id"].as_str().unwrap().to_string();
    let photos = g.get("/me/drive/root:/Photos").await;
    let photos_id = photos.json["id"].as_str().unwrap().to_string();

    let renamed = g
        .json(
            Method::PATCH,
            &format!("{drive}/items/{notes_id}"),
            json!({"name": "todo.txt"}),
        )
        .await;
    assert_eq!(renamed.status, 200, "{}", renamed.json);
    assert_eq!(renamed.json["name"], "todo.txt");
    assert_eq!(g.get("/me/drive/root:/notes.txt").await.status, 404);

    let moved = g
        .json(
            Method::PATCH,
            &format!("/me/drive/items/{notes_id}"),
            json!({"parentReference": {"id": photos_id}}),
        )
        .await;
    assert_eq!(moved.status, 200);
    assert_eq!(moved.json["parentReference"]["path"], "/drive/root:/Photos");
    assert_eq!(g.get("/me/drive/root:/Photos/todo.txt").await.status, 200);

    let plan = g.get("/me/drive/root:/Projects/plan.docx").await;
    let plan_id = plan.json["id"].as_str().unwrap();
    let clash = g
        .json(
            Method::PATCH,
            &format!("{drive}/items/{plan_id}"),
            json!({"name": "BUDGET.xlsx"}),
        )
        .await;
    assert_eq!(clash.status, 409);
    assert_eq!(clash.code(), "nameAlreadyExists");
    let garbage = g
        .send(
            Method::PATCH,
            &format!("{drive}/items/{plan_id}"),
            Some("{not json".into()),
        )
        .await;
    assert_eq!(garbage.status, 400);
    assert_eq!(garbage.code(), "invalidRequest");
    let nowhere = g
        .json(
            Method::PATCH,
            &format!("{drive}/items/{plan_id}"),
            json!({"parentReference": {"id": "nope"}}),
        )
        .await;
    assert_eq!(nowhere.status, 404);

    let projects = g.get("/me/drive/root:/Projects").await;
    let projects_id = projects.json["id"].as_str().unwrap();
    let deleted = g.delete(&format!("{drive}/items/{projects_id}")).await;
    assert_eq!(deleted.status, 204);
    assert_eq!(g.get(&format!("{drive}/items/{plan_id}")).await.status, 404);
    assert_eq!(
        g.get(&format!("{drive}/items/{projects_id}")).await.status,
        404
    );
    assert_eq!(
        g.delete(&format!("{drive}/items/{projects_id}"))
            .await
            .status,
        404
    );
    let root = g.get(&format!("{drive}/root")).await;
    assert_eq!(root.json["folder"]["childCount"], 1);
    running.shutdown().await;
}

#[tokio::test]
async fn list_items_create_update_delete() {
    let (running, g) = adele().await;
    let items = format!(
        "/sites/{}/lists/{}/items",
        seed::SITE_ID,
        seed::ISSUES_LIST_ID
    );
    let created = g
        .json(
            Method::POST,
            &items,
            json!({"fields": {"Title": "Crash on start", "Status": "New", "Priority": "(1) High"}}),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.json);
    assert_eq!(created.json["id"], "4");
    assert_eq!(created.json["fields"]["Title"], "Crash on start");
    assert_eq!(
        created.json["webUrl"],
        "https://contoso.sharepoint.com/sites/eng/Lists/Issues/4_.000"
    );

    let patched = g
        .json(
            Method::PATCH,
            &format!("{items}/4/fields"),
            json!({"Status": "Active"}),
        )
        .await;
    assert_eq!(patched.status, 200);
    assert_eq!(patched.json["Status"], "Active");
    assert_eq!(patched.json["Title"], "Crash on start");
    assert!(patched.json["@odata.context"]
        .as_str()
        .unwrap()
        .contains("fields"));
    let fields = g.get(&format!("{items}/4/fields")).await;
    assert_eq!(fields.json["Status"], "Active");

    let unknown = g
        .json(
            Method::PATCH,
            &format!("{items}/4/fields"),
            json!({"Colour": "red"}),
        )
        .await;
    assert_eq!(unknown.status, 400);
    assert_eq!(unknown.code(), "invalidRequest");
    let missing = g
        .json(
            Method::PATCH,
            &format!("{items}/99/fields"),
            json!({"Status": "x"}),
        )
        .await;
    assert_eq!(missing.status, 404);
    let library = g
        .json(
            Method::POST,
            &format!("/sites/{}/lists/Documents/items", seed::SITE_ID),
            json!({"fields": {"Title": "x"}}),
        )
        .await;
    assert_eq!(library.status, 400);

    assert_eq!(g.delete(&format!("{items}/4")).await.status, 204);
    assert_eq!(g.get(&format!("{items}/4")).await.status, 404);
    let all = g.get(&items).await;
    assert!(by_id(all.json["value"].as_array().unwrap(), "4").is_empty());
    running.shutdown().await;
}

#[tokio::test]
async fn deep_trees_and_long_paths() {
    let (running, g) = adele().await;
    let deep = "d/".repeat(150);
    let created = g
        .put(&format!("/me/drive/root:/{deep}leaf.txt:/content"), "x")
        .await;
    assert_eq!(created.status, 201, "{}", created.json);
    let top = g.get("/me/drive/root:/d").await;
    let top_id = top.json["id"].as_str().unwrap();
    assert_eq!(
        g.delete(&format!("/me/drive/items/{top_id}")).await.status,
        204
    );
    assert_eq!(g.get("/me/drive/root:/d").await.status, 404);

    let too_long = "x/".repeat(250);
    let refused = g
        .put(&format!("/me/drive/root:/{too_long}f.txt:/content"), "x")
        .await;
    assert_eq!(refused.status, 400);
    assert_eq!(refused.code(), "invalidRequest");
    running.shutdown().await;
}

#[tokio::test]
async fn sites_by_composite_id() {
    let (running, g) = adele().await;
    let composite = format!(
        "{},{},{}",
        seed::SHAREPOINT_HOST,
        seed::SITE_COLLECTION_ID,
        seed::SITE_WEB_ID
    );
    let site = g.get(&format!("/sites/{composite}")).await;
    assert_eq!(site.status, 200);
    assert_eq!(site.json["id"], seed::SITE_ID);
    running.shutdown().await;
}
