//! The whole path a watcher takes, through public HTTP and the wire only: the device-code
//! sign-in, every `subscriptions/socketIo` form, raw socket.io clients on the derived
//! URLs, real Graph mutations, the notifications they cause (and do not cause), and delta
//! from a cursor taken before the changes.

use crate::common;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use common::sio::{notification, Client, Frame};
use common::*;
use graphwatch_emulator::{seed, Running};
use reqwest::Method;
use serde_json::{json, Value};

const SECOND: Duration = Duration::from_secs(1);

/// What a subscription's notifications must carry, by the seed data behind it.
struct Expect {
    key: String,
    resource: &'static str,
    site_url: &'static str,
    web_id: &'static str,
}

/// One subscription made through Graph, and a raw socket.io client joined with it.
struct Watcher {
    name: &'static str,
    answer: Value,
    guid: String,
    expect: Expect,
    namespace: String,
    client: Client,
    /// The clientState of the first notification; every later one must repeat it.
    client_state: Option<String>,
    received: usize,
}

impl Watcher {
    async fn subscribe(g: &Graph, name: &'static str, path: &str, expect: Expect) -> Watcher {
        let reply = g.get(path).await;
        assert_eq!(reply.status, 200, "{path}: {}", reply.json);
        let answer = reply.json;
        let url = notification_url(&answer);
        let namespace = url::Url::parse(&url).unwrap().path().to_string();
        assert_eq!(namespace, "/notifications");
        let ws = websocket_url(&url);
        assert!(ws.contains("/socket.io/?EIO=4&transport=websocket&token="));
        let (client, joined) = Client::join_namespace(&ws, &namespace).await;
        assert!(
            joined.starts_with(&format!("40{namespace},{{\"sid\":")),
            "{name} join: {joined}"
        );
        let endpoint = answer["id"].as_str().unwrap();
        let guid = subscription_guid(&g.base, endpoint).await;
        Watcher {
            name,
            answer,
            guid,
            expect,
            namespace,
            client,
            client_state: None,
            received: 0,
        }
    }

    /// The next frame must be a notification for this subscription; returns its element.
    async fn notification(&mut self) -> Value {
        let frame = self.client.text(5 * SECOND).await;
        let prefix = format!("42{},[\"notification\",\"", self.namespace);
        assert!(
            frame.starts_with(&prefix),
            "{}: not a notification event: {frame}",
            self.name
        );
        let payload = notification(&frame);
        let value = payload["value"].as_array().expect("value array");
        assert_eq!(value.len(), 1, "{}: {payload}", self.name);
        let element = value[0].clone();
        self.check(&element);
        element
    }

    /// The payload fields are those of this subscription.
    fn check(&mut self, e: &Value) {
        let name = self.name;
        assert_eq!(e["subscriptionId"], self.guid.as_str(), "{name}: {e}");
        assert_eq!(
            e["expirationDateTime"], self.answer["expirationDateTime"],
            "{name}: {e}"
        );
        assert_eq!(e["resource"], self.expect.resource, "{name}: {e}");
        assert_eq!(e["tenantId"], seed::TENANT_ID, "{name}: {e}");
        assert_eq!(e["siteUrl"], self.expect.site_url, "{name}: {e}");
        assert_eq!(e["webId"], self.expect.web_id, "{name}: {e}");
        let state = e["clientState"].as_str().expect("clientState");
        assert!(state.starts_with("system-managed:"), "{name}: {e}");
        match &self.client_state {
            None => self.client_state = Some(state.to_string()),
            Some(first) => assert_eq!(first, state, "{name}: clientState changed"),
        }
    }
}

fn adele_drive() -> Expect {
    Expect {
        key: format!("drive:{}", seed::ADELE_DRIVE),
        resource: seed::ADELE_DRIVE_RESOURCE,
        site_url: seed::ADELE_SITE_URL,
        web_id: seed::ADELE_WEB_ID,
    }
}

fn docs_drive() -> Expect {
    Expect {
        key: format!("drive:{}", seed::DOCS_DRIVE),
        resource: seed::DOCS_LIST_RESOURCE,
        site_url: seed::SITE_PATH,
        web_id: seed::SITE_WEB_ID,
    }
}

/// The six documented forms (docs/graph-socketio.md §1), each on the drive or list it names.
async fn subscribe_every_form(g: &Graph) -> Vec<Watcher> {
    let site = seed::SITE_ID;
    vec![
        Watcher::subscribe(
            g,
            "me-drive",
            "/me/drive/root/subscriptions/socketIo",
            adele_drive(),
        )
        .await,
        Watcher::subscribe(
            g,
            "docs-drive-by-id",
            &format!("/drives/{}/root/subscriptions/socketIo", seed::DOCS_DRIVE),
            docs_drive(),
        )
        .await,
        Watcher::subscribe(
            g,
            "group-drive",
            &format!(
                "/groups/{}/drive/root/subscriptions/socketIo",
                seed::GROUP_ID
            ),
            Expect {
                key: format!("drive:{}", seed::GROUP_DRIVE),
                resource: seed::GROUP_DRIVE_RESOURCE,
                site_url: seed::GROUP_SITE_URL,
                web_id: seed::GROUP_WEB_ID,
            },
        )
        .await,
        Watcher::subscribe(
            g,
            "docs-library-drive",
            &format!(
                "/sites/{site}/lists/{}/drive/root/subscriptions/socketIo",
                seed::DOCS_LIST_ID
            ),
            docs_drive(),
        )
        .await,
        Watcher::subscribe(
            g,
            "docs-list",
            &format!(
                "/sites/{site}/lists/{}/subscriptions/socketIo",
                seed::DOCS_LIST_ID
            ),
            Expect {
                key: format!("list:{}", seed::DOCS_LIST_ID),
                resource: seed::DOCS_LIST_RESOURCE,
                site_url: seed::SITE_PATH,
                web_id: seed::SITE_WEB_ID,
            },
        )
        .await,
        Watcher::subscribe(
            g,
            "issues-list",
            &format!("/lists/{}/subscriptions/socketIo", seed::ISSUES_LIST_ID),
            Expect {
                key: format!("list:{}", seed::ISSUES_LIST_ID),
                resource: seed::ISSUES_LIST_RESOURCE,
                site_url: seed::SITE_PATH,
                web_id: seed::SITE_WEB_ID,
            },
        )
        .await,
    ]
}

/// Checks each mutation's notifications, and that nothing else arrives.
struct Notifications<'a> {
    base: &'a str,
    watchers: Vec<Watcher>,
    duplicates: usize,
    /// What `notifications.sent` must be by now.
    sent: u64,
    sentinels: u64,
}

impl Notifications<'_> {
    /// After one mutation: every watcher in `expected` gets `duplicates` notifications for
    /// its own subscription, and no watcher gets anything else. The "nothing else" is
    /// proved without a quiet period: once the emulator has counted every send, a
    /// one-frame burst to all sockets goes out, and it must be the next frame everywhere
    /// (a socket's frames arrive in order, so an unwanted notification would come first).
    async fn after(&mut self, what: &str, expected: &[&str]) {
        for name in expected {
            assert!(
                self.watchers.iter().any(|w| w.name == *name),
                "no watcher {name}"
            );
        }
        for w in self.watchers.iter_mut() {
            if !expected.contains(&w.name) {
                continue;
            }
            for _ in 0..self.duplicates {
                w.notification().await;
                w.received += 1;
            }
        }
        self.sent += (expected.len() * self.duplicates) as u64;
        let now = wait_for_counter(self.base, "notifications.sent", self.sent, 5 * SECOND).await;
        assert_eq!(
            now, self.sent,
            "after {what}: more notifications than expected"
        );

        self.sentinels += 1;
        let answer = post(self.base, "/_emulator/burst", json!({"count": 1})).await;
        assert_eq!(answer["sockets"], self.watchers.len(), "{answer}");
        for w in self.watchers.iter_mut() {
            let frame = match w.client.next(5 * SECOND).await {
                Frame::Text(t) => t,
                other => panic!("{}: after {what}: {other:?}", w.name),
            };
            let e = &notification(&frame)["value"][0];
            assert_eq!(
                e["sequence"], 1,
                "{}: after {what}, an unexpected notification arrived: {frame}",
                w.name
            );
            w.check(e);
        }
        self.sent += self.watchers.len() as u64;
        let now = wait_for_counter(self.base, "notifications.sent", self.sent, 5 * SECOND).await;
        assert_eq!(now, self.sent);
    }
}

/// The deltaLink of `token=latest`: "from now".
async fn latest(g: &Graph, path: &str) -> String {
    let reply = g.get(&format!("{path}?token=latest")).await;
    assert_eq!(reply.status, 200, "{path}: {}", reply.json);
    assert_eq!(reply.json["value"], json!([]));
    reply.json["@odata.deltaLink"]
        .as_str()
        .expect("deltaLink")
        .to_string()
}

fn ids(items: &[Value]) -> BTreeSet<String> {
    items
        .iter()
        .map(|i| i["id"].as_str().expect("item id").to_string())
        .collect()
}

fn set(ids: &[&str]) -> BTreeSet<String> {
    ids.iter().map(|s| s.to_string()).collect()
}

fn id_of(reply: &Reply) -> String {
    reply.json["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no id in {}", reply.json))
        .to_string()
}

/// The single entry for `id` in a delta answer (last state wins: exactly one).
fn one<'a>(items: &'a [Value], id: &str) -> &'a Value {
    let found = by_id(items, id);
    assert_eq!(found.len(), 1, "{id} once in {items:?}");
    found[0]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_subscribe_mutate_notify_and_delta() {
    let running = start_with(|a| a.settings.notify_delay_ms = 20).await;
    let base = running.base_url.clone();
    let tokens = device_sign_in(&base).await;
    let g = Graph::with_token(&base, tokens["access_token"].as_str().unwrap());
    assert_eq!(g.get("/me").await.json["id"], seed::ADELE_ID);
    let counters = stats(&base).await;
    assert_eq!(counter(&counters, "grants.device_code"), 1);
    assert!(
        counter(&counters, "tokens.minted") == 0,
        "no shortcut taken"
    );

    let watchers = subscribe_every_form(&g).await;
    // The emulator agrees on what each form watches.
    let listed: Value = reqwest::get(format!("{base}/_emulator/subscriptions"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for w in &watchers {
        let entry = listed["subscriptions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["id"] == w.guid.as_str())
            .unwrap();
        assert_eq!(entry["key"], w.expect.key.as_str(), "{}", w.name);
        assert_eq!(entry["sockets"], 1, "{}", w.name);
    }
    assert_eq!(stats(&base).await["liveSockets"], watchers.len());

    // Cursors from before any change.
    let my_delta = "/me/drive/root/delta";
    let docs_delta = format!("/drives/{}/root/delta", seed::DOCS_DRIVE);
    let docs_items_delta = format!(
        "/sites/{}/lists/{}/items/delta",
        seed::SITE_ID,
        seed::DOCS_LIST_ID
    );
    let group_delta = format!("/groups/{}/drive/root/delta", seed::GROUP_ID);
    let issues_delta = format!("/lists/{}/items/delta", seed::ISSUES_LIST_ID);
    let my_link = latest(&g, my_delta).await;
    let docs_link = latest(&g, &docs_delta).await;
    let docs_items_link = latest(&g, &docs_items_delta).await;
    let group_link = latest(&g, &group_delta).await;
    let issues_link = latest(&g, &issues_delta).await;

    let mut n = Notifications {
        base: &base,
        watchers,
        duplicates: 2,
        sent: 0,
        sentinels: 0,
    };

    // Adele's OneDrive: create (with a parent folder), update, rename, create, delete.
    let first = g.put("/me/drive/root:/e2e/first.txt:/content", "one").await;
    assert_eq!(first.status, 201, "{}", first.json);
    let first_id = id_of(&first);
    let folder_id = first.json["parentReference"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    n.after("PUT (create) in my drive", &["me-drive"]).await;
    let update = g
        .put("/me/drive/root:/e2e/first.txt:/content", "one more")
        .await;
    assert_eq!(update.status, 200, "{}", update.json);
    n.after("PUT (update) in my drive", &["me-drive"]).await;
    let rename = g
        .json(
            Method::PATCH,
            &format!("/me/drive/items/{first_id}"),
            json!({"name": "renamed.txt"}),
        )
        .await;
    assert_eq!(rename.status, 200, "{}", rename.json);
    n.after("PATCH (rename) in my drive", &["me-drive"]).await;
    let doomed = g.put("/me/drive/root:/e2e/doomed.txt:/content", "x").await;
    let doomed_id = id_of(&doomed);
    n.after("PUT (second file) in my drive", &["me-drive"])
        .await;
    assert_eq!(
        g.delete(&format!("/me/drive/items/{doomed_id}"))
            .await
            .status,
        204
    );
    n.after("DELETE in my drive", &["me-drive"]).await;

    // The Documents library: its drive (by either address) and its list are told.
    let docs_watchers = ["docs-drive-by-id", "docs-library-drive", "docs-list"];
    let kept = g
        .put(
            &format!("/drives/{}/root:/e2e-kept.md:/content", seed::DOCS_DRIVE),
            "# kept",
        )
        .await;
    assert_eq!(kept.status, 201, "{}", kept.json);
    let kept_id = id_of(&kept);
    n.after("PUT in the Documents library", &docs_watchers)
        .await;
    let renamed = g
        .json(
            Method::PATCH,
            &format!(
                "/sites/{}/lists/{}/drive/items/{kept_id}",
                seed::SITE_ID,
                seed::DOCS_LIST_ID
            ),
            json!({"name": "e2e-final.md"}),
        )
        .await;
    assert_eq!(renamed.status, 200, "{}", renamed.json);
    n.after("PATCH in the Documents library", &docs_watchers)
        .await;
    let scratch = g
        .put(
            &format!("/drives/{}/root:/e2e-scratch.md:/content", seed::DOCS_DRIVE),
            "tmp",
        )
        .await;
    let scratch_id = id_of(&scratch);
    n.after("second PUT in the Documents library", &docs_watchers)
        .await;
    assert_eq!(
        g.delete(&format!("/drives/{}/items/{scratch_id}", seed::DOCS_DRIVE))
            .await
            .status,
        204
    );
    n.after("DELETE in the Documents library", &docs_watchers)
        .await;

    // The group's drive.
    let group_file = g
        .put(
            &format!("/groups/{}/drive/root:/e2e.txt:/content", seed::GROUP_ID),
            "group",
        )
        .await;
    assert_eq!(group_file.status, 201, "{}", group_file.json);
    let group_file_id = id_of(&group_file);
    n.after("PUT in the group drive", &["group-drive"]).await;

    // The Issues list: create, update fields, delete a seeded item.
    let issues = format!(
        "/sites/{}/lists/{}/items",
        seed::SITE_ID,
        seed::ISSUES_LIST_ID
    );
    let created = g
        .json(
            Method::POST,
            &issues,
            json!({"fields": {"Title": "E2E issue", "Status": "New"}}),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.json);
    let issue_id = id_of(&created);
    n.after("POST list item", &["issues-list"]).await;
    let patched = g
        .json(
            Method::PATCH,
            &format!("{issues}/{issue_id}/fields"),
            json!({"Status": "Resolved"}),
        )
        .await;
    assert_eq!(patched.status, 200, "{}", patched.json);
    n.after("PATCH list item fields", &["issues-list"]).await;
    assert_eq!(
        g.delete(&format!("/lists/{}/items/2", seed::ISSUES_LIST_ID))
            .await
            .status,
        204
    );
    n.after("DELETE list item", &["issues-list"]).await;

    // What each socket received in all.
    let received: Vec<(&str, usize)> = n.watchers.iter().map(|w| (w.name, w.received)).collect();
    assert_eq!(
        received,
        vec![
            ("me-drive", 10),
            ("docs-drive-by-id", 8),
            ("group-drive", 2),
            ("docs-library-drive", 8),
            ("docs-list", 8),
            ("issues-list", 6),
        ]
    );
    let states: BTreeSet<&str> = n
        .watchers
        .iter()
        .map(|w| w.client_state.as_deref().unwrap())
        .collect();
    assert_eq!(states.len(), 6, "each subscription has its own clientState");

    // Delta from the cursors taken before: exactly what changed, last state wins.
    let my_root = id_of(&g.get("/me/drive/root").await);
    let (items, _, _) = g.delta(&my_link).await;
    assert_eq!(
        ids(&items),
        set(&[&my_root, &folder_id, &first_id, &doomed_id]),
        "{items:?}"
    );
    let entry = one(&items, &first_id);
    assert_eq!(entry["name"], "renamed.txt");
    assert_eq!(entry["size"], "one more".len());
    assert!(entry.get("deleted").is_none());
    assert_eq!(one(&items, &folder_id)["name"], "e2e");
    assert_eq!(
        one(&items, &doomed_id)["deleted"],
        json!({"state": "deleted"})
    );

    let docs_root = id_of(&g.get(&format!("/drives/{}/root", seed::DOCS_DRIVE)).await);
    let (items, _, _) = g.delta(&docs_link).await;
    assert_eq!(
        ids(&items),
        set(&[&docs_root, &kept_id, &scratch_id]),
        "{items:?}"
    );
    assert_eq!(one(&items, &kept_id)["name"], "e2e-final.md");
    assert_eq!(
        one(&items, &scratch_id)["deleted"],
        json!({"state": "deleted"})
    );

    // The library seen as a list: the same two items as listItems (no root).
    let (items, _, _) = g.delta(&docs_items_link).await;
    assert_eq!(items.len(), 2, "{items:?}");
    let live: Vec<&Value> = items
        .iter()
        .filter(|i| i.get("deleted").is_none())
        .collect();
    assert_eq!(live.len(), 1, "{items:?}");
    assert_eq!(live[0]["fields"]["FileLeafRef"], "e2e-final.md");

    let group_root = id_of(
        &g.get(&format!("/groups/{}/drive/root", seed::GROUP_ID))
            .await,
    );
    let (items, _, _) = g.delta(&group_link).await;
    assert_eq!(
        ids(&items),
        set(&[&group_root, &group_file_id]),
        "{items:?}"
    );

    let (items, _, _) = g.delta(&issues_link).await;
    assert_eq!(ids(&items), set(&[&issue_id, "2"]), "{items:?}");
    let issue = one(&items, &issue_id);
    assert_eq!(issue["fields"]["Title"], "E2E issue");
    assert_eq!(issue["fields"]["Status"], "Resolved");
    assert_eq!(one(&items, "2")["deleted"], json!({"state": "deleted"}));

    assert_eq!(n.sentinels, 13);
    running.shutdown().await;
}

/// `notifyDelayMs` changed at run time: no frame arrives before the new delay.
#[tokio::test]
async fn notify_delay_set_at_run_time_holds_frames_back() {
    let running = start_with(|a| {
        a.settings.notify_delay_ms = 0;
        a.settings.notify_duplicates = 1;
    })
    .await;
    let base = running.base_url.clone();
    let g = Graph::signed_in(&base, seed::ADELE_UPN).await;
    let mut w = Watcher::subscribe(
        &g,
        "me-drive",
        "/me/drive/root/subscriptions/socketIo",
        adele_drive(),
    )
    .await;

    let (status, answer) = patch_settings(&base, r#"{"notifyDelayMs": 700}"#).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["notifyDelayMs"], 700);
    assert_eq!(settings(&base).await["notifyDelayMs"], 700);

    let started = Instant::now();
    let put = g.put("/me/drive/root:/delayed.txt:/content", "d").await;
    assert_eq!(put.status, 201);
    w.notification().await;
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(700),
        "the notification came after {waited:?}, before the 700 ms delay"
    );

    assert_eq!(
        counter(&stats(&base).await, "notifications.sent"),
        1,
        "one duplicate as configured"
    );
    running.shutdown().await;
}

/// A subscription is not fooled by a drive it may not read: Megan's changes reach only
/// Megan's subscription, never Adele's.
#[tokio::test]
async fn another_users_changes_reach_only_their_subscription() {
    let running: Running = start_with(|a| {
        a.settings.notify_delay_ms = 0;
        a.settings.notify_duplicates = 1;
    })
    .await;
    let base = running.base_url.clone();
    let adele = Graph::signed_in(&base, seed::ADELE_UPN).await;
    let megan = Graph::signed_in(&base, seed::MEGAN_UPN).await;
    let adele_watcher = Watcher::subscribe(
        &adele,
        "adele",
        "/me/drive/root/subscriptions/socketIo",
        adele_drive(),
    )
    .await;
    let megan_watcher = Watcher::subscribe(
        &megan,
        "megan",
        "/me/drive/root/subscriptions/socketIo",
        Expect {
            key: format!("drive:{}", seed::MEGAN_DRIVE),
            resource: seed::MEGAN_DRIVE_RESOURCE,
            site_url: seed::MEGAN_SITE_URL,
            web_id: seed::MEGAN_WEB_ID,
        },
    )
    .await;
    // Adele may not even subscribe to Megan's drive.
    let refused = adele
        .get(&format!(
            "/drives/{}/root/subscriptions/socketIo",
            seed::MEGAN_DRIVE
        ))
        .await;
    assert_eq!(refused.status, 403);
    assert_eq!(refused.code(), "accessDenied");

    let mut n = Notifications {
        base: &base,
        watchers: vec![adele_watcher, megan_watcher],
        duplicates: 1,
        sent: 0,
        sentinels: 0,
    };
    let put = megan.put("/me/drive/root:/megan.txt:/content", "m").await;
    assert_eq!(put.status, 201);
    n.after("Megan's upload", &["megan"]).await;
    let put = adele.put("/me/drive/root:/adele.txt:/content", "a").await;
    assert_eq!(put.status, 201);
    n.after("Adele's upload", &["adele"]).await;
    running.shutdown().await;
}
