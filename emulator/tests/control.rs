//! The control API under `/_emulator/` over HTTP: injected failures per route class,
//! run-time settings (delta lag, unknown settings), stats counters, the request log
//! (`since`, no secrets) and keyed bursts.
//!
//! Identity control routes (revoke, expire-access-tokens) are covered in `identity.rs`,
//! socket faults (disconnect, kill, stall, expire) in `wire.rs`.

use crate::common;

use std::time::{Duration, Instant};

use common::sio::{notification, Client};
use common::*;
use graphwatch_emulator::{seed, Running};
use serde_json::{json, Value};

const SECOND: Duration = Duration::from_secs(1);
const CLASSES: [&str; 5] = ["devicecode", "token", "socketio", "delta", "graph"];
const STATUSES: [u16; 6] = [400, 401, 403, 410, 429, 503];

/// A client that can make one request of each route class, and says how it went.
struct Caller {
    base: String,
    graph: Graph,
    /// The current refresh token (rotated on every successful refresh).
    refresh_token: String,
}

/// One answer: status, `Retry-After`, body.
struct Outcome {
    status: u16,
    retry_after: Option<String>,
    body: Value,
}

impl Caller {
    async fn new(running: &Running) -> Caller {
        let base = running.base_url.clone();
        let tokens = device_sign_in(&base).await;
        Caller {
            graph: Graph::with_token(&base, tokens["access_token"].as_str().unwrap()),
            refresh_token: tokens["refresh_token"].as_str().unwrap().to_string(),
            base,
        }
    }

    async fn call(&mut self, class: &str) -> Outcome {
        let (status, headers, body) = match class {
            "devicecode" => {
                post_form(
                    &format!("{}/common/oauth2/v2.0/devicecode", self.base),
                    &[("client_id", CLIENT_ID), ("scope", SCOPE)],
                )
                .await
            }
            "token" => {
                let answer = post_form(
                    &format!("{}/common/oauth2/v2.0/token", self.base),
                    &[
                        ("grant_type", "refresh_token"),
                        ("client_id", CLIENT_ID),
                        ("refresh_token", &self.refresh_token),
                    ],
                )
                .await;
                if answer.0 == 200 {
                    self.refresh_token = answer.2["refresh_token"].as_str().unwrap().to_string();
                }
                answer
            }
            "socketio" => {
                let r = self
                    .graph
                    .get("/me/drive/root/subscriptions/socketIo")
                    .await;
                (r.status, r.headers, r.json)
            }
            "delta" => {
                let r = self.graph.get("/me/drive/root/delta?token=latest").await;
                (r.status, r.headers, r.json)
            }
            "graph" => {
                let r = self.graph.get("/me").await;
                (r.status, r.headers, r.json)
            }
            other => panic!("no class {other}"),
        };
        Outcome {
            status,
            retry_after: headers
                .get("retry-after")
                .map(|v| v.to_str().unwrap().to_string()),
            body,
        }
    }

    /// The request succeeds as it would without faults.
    async fn ok(&mut self, class: &str, why: &str) {
        let outcome = self.call(class).await;
        assert_eq!(outcome.status, 200, "{class} {why}: {}", outcome.body);
        assert!(outcome.retry_after.is_none());
    }
}

/// The Graph error a failed `class` request must carry for `status`.
fn check_graph_error(class: &str, status: u16, body: &Value) {
    let error = body["error"]
        .as_object()
        .unwrap_or_else(|| panic!("{class} {status}: not a Graph error: {body}"));
    let code = error["code"].as_str().unwrap_or_default();
    let message = error["message"].as_str().unwrap_or_default();
    assert!(
        !code.is_empty() && !message.is_empty(),
        "{class} {status}: {body}"
    );
    // Graph's errors carry only code, message and innerError.
    assert!(
        error
            .keys()
            .all(|k| ["code", "message", "innerError"].contains(&k.as_str())),
        "{class} {status}: {body}"
    );
    let expected = match status {
        400 => "notSupported",
        401 => "InvalidAuthenticationToken",
        403 => "accessDenied",
        410 => "resyncRequired",
        _ => code,
    };
    assert_eq!(code, expected, "{class} {status}: {body}");
    if status == 400 {
        // Reference §1, word for word.
        assert_eq!(message, "Operation not supported", "{class}: {body}");
    }
}

/// The identity platform's error shape for a failed token or device-code request.
fn check_oauth_error(class: &str, status: u16, body: &Value) {
    let error = body["error"].as_str().unwrap_or_else(|| {
        panic!("{class} {status}: not an OAuth error: {body}");
    });
    assert!(!error.is_empty());
    let description = body["error_description"].as_str().unwrap_or_default();
    assert!(
        description.starts_with("AADSTS"),
        "{class} {status}: {body}"
    );
    assert!(
        body["error_codes"]
            .as_array()
            .is_some_and(|c| c.len() == 1 && c[0].is_u64()),
        "{class} {status}: {body}"
    );
    for key in ["timestamp", "trace_id", "correlation_id"] {
        assert!(body[key].is_string(), "{class} {status}: {key} in {body}");
    }
}

#[tokio::test]
async fn faults_fail_the_next_n_requests_of_one_class_only() {
    let running = start_with(|a| a.settings.device_code_interval_secs = 0).await;
    let base = running.base_url.clone();
    let mut caller = Caller::new(&running).await;
    let mut injected = 0;
    for class in CLASSES {
        for status in STATUSES {
            let throttling = matches!(status, 429 | 503);
            let mut fault = json!({"route": class, "status": status, "count": 2});
            if throttling {
                fault["retryAfter"] = json!(7);
            }
            let armed = post(&base, "/_emulator/faults/fail", fault).await;
            assert_eq!(armed["armed"]["route"], class, "{armed}");

            // Every other class is untouched while this one is armed.
            for other in CLASSES.iter().filter(|c| **c != class) {
                caller
                    .ok(other, &format!("while {class} {status} is armed"))
                    .await;
            }
            for n in 1..=2 {
                let outcome = caller.call(class).await;
                assert_eq!(
                    outcome.status, status,
                    "{class} request {n} of 2: {}",
                    outcome.body
                );
                if matches!(class, "devicecode" | "token") {
                    check_oauth_error(class, status, &outcome.body);
                } else {
                    check_graph_error(class, status, &outcome.body);
                }
                if throttling {
                    assert_eq!(
                        outcome.retry_after.as_deref(),
                        Some("7"),
                        "{class} {status}"
                    );
                } else {
                    assert_eq!(outcome.retry_after, None, "{class} {status}");
                }
                injected += 1;
            }
            caller
                .ok(class, &format!("after {class} {status} x2"))
                .await;
        }
        assert_eq!(
            counter(&stats(&base).await, &format!("faults.{class}")),
            2 * STATUSES.len() as u64
        );
    }
    let (_, entries) = log_since(&base, 0).await;
    assert_eq!(
        entries.iter().filter(|e| e["kind"] == "fault").count(),
        injected
    );
    running.shutdown().await;
}

/// The socketIo 400 is the body some business accounts get (docs/graph-socketio.md §1), exactly.
#[tokio::test]
async fn socketio_not_supported_is_the_documented_body() {
    let running = start().await;
    let g = Graph::signed_in(&running.base_url, seed::ADELE_UPN).await;
    post(
        &running.base_url,
        "/_emulator/faults/fail",
        json!({"route": "socketio", "status": 400}),
    )
    .await;
    let reply = g.get("/me/drive/root/subscriptions/socketIo").await;
    assert_eq!(reply.status, 400);
    let mut body = reply.json.clone();
    body["error"]
        .as_object_mut()
        .unwrap()
        .remove("innerError")
        .expect("Graph's innerError (date, request-id)");
    assert_eq!(
        body,
        json!({"error": {"code": "notSupported", "message": "Operation not supported"}})
    );
    assert_eq!(
        reply.headers["content-type"], "application/json",
        "{:?}",
        reply.headers
    );
    // count defaults to 1
    assert_eq!(
        g.get("/me/drive/root/subscriptions/socketIo").await.status,
        200
    );
    running.shutdown().await;
}

#[tokio::test]
async fn clear_disarms_every_fault() {
    let running = start().await;
    let base = &running.base_url;
    let g = Graph::signed_in(base, seed::ADELE_UPN).await;
    for (route, status) in [("graph", 503), ("delta", 410), ("socketio", 429)] {
        post(
            base,
            "/_emulator/faults/fail",
            json!({"route": route, "status": status, "count": 100, "retryAfter": 1}),
        )
        .await;
    }
    assert_eq!(g.get("/me").await.status, 503);
    let answer = post(base, "/_emulator/faults/clear", json!({})).await;
    assert_eq!(answer, json!({"cleared": true}));
    assert_eq!(g.get("/me").await.status, 200);
    assert_eq!(g.get("/me/drive/root/delta?token=latest").await.status, 200);
    assert_eq!(
        g.get("/me/drive/root/subscriptions/socketIo").await.status,
        200
    );
    running.shutdown().await;
}

#[tokio::test]
async fn invalid_fault_bodies_are_refused_with_400() {
    let running = start().await;
    let base = &running.base_url;
    let g = Graph::signed_in(base, seed::ADELE_UPN).await;
    for body in [
        r#"{"route": "graph", "status": 418}"#,
        r#"{"route": "graph", "status": 200}"#,
        r#"{"route": "other", "status": 503}"#,
        r#"{"route": "bogus", "status": 503}"#,
        r#"{"status": 503}"#,
        r#"{"route": "graph"}"#,
        r#"{"route": "graph", "status": "503"}"#,
        r#"{"route": "graph", "status": 503, "count": 0}"#,
        r#"{"route": "graph", "status": 503, "count": -1}"#,
        r#"{"route": "graph", "status": 503, "retryAfter": "soon"}"#,
        r#"{"route": "graph", "status": 503, "retryAfter": -5}"#,
        r#"{"route": "graph", "status": 503, "retry_after": 5}"#,
        r#"[{"route": "graph", "status": 503}]"#,
        r#"route=graph&status=503"#,
        "",
    ] {
        let (status, answer) = post_raw(base, "/_emulator/faults/fail", body).await;
        assert_eq!(status, 400, "{body:?} answered {status}: {answer}");
        assert!(answer["error"].is_string(), "{body:?}: {answer}");
        assert_eq!(g.get("/me").await.status, 200, "{body:?} armed a fault");
    }
    assert_eq!(counter(&stats(base).await, "faults.graph"), 0);
    running.shutdown().await;
}

#[tokio::test]
async fn delta_lag_set_at_run_time() {
    let running = start().await;
    let base = &running.base_url;
    let g = Graph::signed_in(base, seed::ADELE_UPN).await;
    let (status, answer) = patch_settings(base, r#"{"deltaLagMs": 600}"#).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["deltaLagMs"], 600);

    let link = g.get("/me/drive/root/delta?token=latest").await.json["@odata.deltaLink"]
        .as_str()
        .unwrap()
        .to_string();
    let changed_at = Instant::now();
    let put = g.put("/me/drive/root:/lagging.txt:/content", "l").await;
    assert_eq!(put.status, 201);
    let id = put.json["id"].as_str().unwrap().to_string();

    let (items, _, mut cursor) = g.delta(&link).await;
    assert!(by_id(&items, &id).is_empty(), "visible at once: {items:?}");
    let deadline = Instant::now() + 5 * SECOND;
    loop {
        let (items, _, next) = g.delta(&cursor).await;
        if !by_id(&items, &id).is_empty() {
            break;
        }
        cursor = next;
        assert!(Instant::now() < deadline, "the change never reached delta");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(
        changed_at.elapsed() >= Duration::from_millis(600),
        "visible after {:?}",
        changed_at.elapsed()
    );

    // Back to no lag: the next change is visible at once.
    assert_eq!(patch_settings(base, r#"{"deltaLagMs": 0}"#).await.0, 200);
    let put = g.put("/me/drive/root:/prompt.txt:/content", "p").await;
    let (items, _, _) = g.delta(&cursor).await;
    assert_eq!(
        by_id(&items, put.json["id"].as_str().unwrap()).len(),
        1,
        "{items:?}"
    );
    running.shutdown().await;
}

#[tokio::test]
async fn settings_refuse_unknown_or_ill_typed_values() {
    let running = start().await;
    let base = &running.base_url;
    let before = settings(base).await;
    assert_eq!(before["notifyDuplicates"], 2);
    for body in [
        r#"{"noSuchKnob": 1}"#,
        r#"{"notifyDelayMs": 5, "noSuchKnob": 1}"#,
        r#"{"notify_delay_ms": 5}"#,
        r#"{"notifyDelayMs": "fast"}"#,
        r#"{"notifyDelayMs": -1}"#,
        r#"[1, 2]"#,
        r#"not json"#,
    ] {
        let (status, answer) = patch_settings(base, body).await;
        assert_eq!(status, 400, "{body:?}: {answer}");
        assert!(answer["error"].is_string(), "{body:?}: {answer}");
        assert_eq!(settings(base).await, before, "{body:?} changed something");
    }
    let (status, answer) = patch_settings(base, r#"{"notifyDuplicates": 3}"#).await;
    assert_eq!(status, 200, "{answer}");
    let mut expected = before.clone();
    expected["notifyDuplicates"] = json!(3);
    assert_eq!(settings(base).await, expected);
    running.shutdown().await;
}

#[tokio::test]
async fn stats_counters_follow_the_traffic() {
    let running = start_with(|a| {
        a.settings.device_code_interval_secs = 0;
        a.settings.notify_delay_ms = 0;
    })
    .await;
    let base = running.base_url.clone();
    let zero = stats(&base).await;
    assert_eq!(zero["liveSockets"], 0);
    for key in [
        "requests.delta",
        "grants.device_code",
        "grants.refresh_token",
        "notifications.sent",
    ] {
        assert_eq!(counter(&zero, key), 0, "{key}");
    }

    let tokens = device_sign_in(&base).await;
    let s = stats(&base).await;
    assert_eq!(counter(&s, "devicecodes.issued"), 1);
    assert_eq!(counter(&s, "grants.pending"), 1, "approval after one poll");
    assert_eq!(counter(&s, "grants.device_code"), 1);
    assert_eq!(counter(&s, "requests.devicecode"), 1);
    assert_eq!(counter(&s, "requests.token"), 2);
    let (status, refreshed) = refresh(&base, tokens["refresh_token"].as_str().unwrap()).await;
    assert_eq!(status, 200, "{refreshed}");
    assert_eq!(counter(&stats(&base).await, "grants.refresh_token"), 1);

    let g = Graph::with_token(&base, refreshed["access_token"].as_str().unwrap());
    for n in 1..=3 {
        g.get("/me/drive/root/delta?token=latest").await;
        assert_eq!(counter(&stats(&base).await, "requests.delta"), n);
    }
    let graph_before = counter(&stats(&base).await, "requests.graph");
    g.get("/me").await;
    assert_eq!(
        counter(&stats(&base).await, "requests.graph"),
        graph_before + 1
    );

    let sub = g.get("/me/drive/root/subscriptions/socketIo").await.json;
    assert_eq!(counter(&stats(&base).await, "requests.socketio"), 1);
    let (mut client, joined) = Client::join(&websocket_url(&notification_url(&sub))).await;
    assert!(joined.starts_with("40/notifications,"), "{joined}");
    assert_eq!(stats(&base).await["liveSockets"], 1);

    g.put("/me/drive/root:/counted.txt:/content", "c").await;
    for _ in 0..2 {
        notification(&client.text(5 * SECOND).await);
    }
    wait_for_counter(&base, "notifications.sent", 2, 5 * SECOND).await;

    // The client goes away: the count follows.
    client.ws.close(None).await.expect("close");
    let deadline = Instant::now() + 5 * SECOND;
    while stats(&base).await["liveSockets"] != 0 {
        assert!(Instant::now() < deadline, "liveSockets stayed up");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(counter(&stats(&base).await, "sockets.disconnected"), 1);
    running.shutdown().await;
}

#[tokio::test]
async fn log_since_gives_only_newer_entries() {
    let running = start().await;
    let base = &running.base_url;
    let g = Graph::signed_in(base, seed::ADELE_UPN).await;
    g.get("/me").await;
    let (_, all) = log_since(base, 0).await;
    assert!(!all.is_empty());
    let seqs: Vec<u64> = all.iter().map(|e| e["seq"].as_u64().unwrap()).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "in order: {seqs:?}");
    let last = *seqs.last().unwrap();

    g.get("/me/drive").await;
    g.get("/me/drive/root/children").await;
    let (_, newer) = log_since(base, last).await;
    assert!(newer.iter().all(|e| e["seq"].as_u64().unwrap() > last));
    let paths: Vec<&str> = newer
        .iter()
        .filter(|e| e["kind"] == "request")
        .filter_map(|e| e["path"].as_str())
        .collect();
    // The log request that read `all` was logged after it answered, so it is newer too.
    assert_eq!(
        paths,
        [
            "/_emulator/log?since=0",
            "/v1.0/me/drive",
            "/v1.0/me/drive/root/children"
        ]
    );
    assert!(!paths.contains(&"/v1.0/me"), "{paths:?}");
    for e in &newer {
        assert!(e["time"].is_string() && e["elapsedMs"].is_number(), "{e}");
    }
    let newest = newer
        .iter()
        .map(|e| e["seq"].as_u64().unwrap())
        .max()
        .unwrap();
    let (_, none) = log_since(base, newest + 1_000).await;
    assert!(none.is_empty(), "{none:?}");
    running.shutdown().await;
}

/// Every secret used against the emulator stays out of the log: access and refresh
/// tokens, device and user codes, the notificationUrl token, delta cursors.
#[tokio::test]
async fn the_log_never_holds_a_secret() {
    let running = start_with(|a| {
        a.settings.device_code_interval_secs = 0;
        a.settings.notify_delay_ms = 0;
    })
    .await;
    let base = running.base_url.clone();
    let (code, tokens) = device_flow(&base).await;
    let (_, refreshed) = refresh(&base, tokens["refresh_token"].as_str().unwrap()).await;
    // A refused reuse of the rotated refresh token is logged too.
    let (status, _) = refresh(&base, tokens["refresh_token"].as_str().unwrap()).await;
    assert_eq!(status, 400);
    let minted = token(&base, seed::MEGAN_UPN).await;
    let g = Graph::with_token(&base, refreshed["access_token"].as_str().unwrap());

    let sub = g.get("/me/drive/root/subscriptions/socketIo").await.json;
    let url = notification_url(&sub);
    let (mut client, _) = Client::join(&websocket_url(&url)).await;
    // A refused join with a near-miss token.
    let bad = websocket_url(&url).replace("token=w1-", "token=w1-x");
    let (_refused, answer) = Client::join(&bad).await;
    assert!(answer.starts_with("44/notifications,"), "{answer}");

    let link = g.get("/me/drive/root/delta?token=latest").await.json["@odata.deltaLink"]
        .as_str()
        .unwrap()
        .to_string();
    g.put("/me/drive/root:/secret.txt:/content", "s").await;
    notification(&client.text(5 * SECOND).await);
    let (_, _, next) = g.delta(&link).await;
    let cursor = |link: &str| {
        url::Url::parse(link)
            .unwrap()
            .query_pairs()
            .find(|(k, _)| k == "token")
            .unwrap()
            .1
            .into_owned()
    };
    // The function form carries the cursor in the path.
    let function_form = format!("/me/drive/root/delta(token='{}')", cursor(&next));
    assert_eq!(g.get(&function_form).await.status, 200);
    // A Graph request with a token in the query, as some clients send it.
    let query_token = format!("/me?access_token={}", minted.as_str());
    g.get(&query_token).await;

    let (text, entries) = log_since(&base, 0).await;
    assert!(entries.iter().any(|e| e["kind"] == "socket-connected"));
    assert!(
        text.contains("REDACTED"),
        "secrets are replaced, not dropped"
    );
    let secrets = [
        (
            "device code",
            code["device_code"].as_str().unwrap().to_string(),
        ),
        ("user code", code["user_code"].as_str().unwrap().to_string()),
        (
            "access token",
            tokens["access_token"].as_str().unwrap().to_string(),
        ),
        (
            "refresh token",
            tokens["refresh_token"].as_str().unwrap().to_string(),
        ),
        ("id token", tokens["id_token"].as_str().unwrap().to_string()),
        (
            "refreshed access token",
            refreshed["access_token"].as_str().unwrap().to_string(),
        ),
        (
            "rotated refresh token",
            refreshed["refresh_token"].as_str().unwrap().to_string(),
        ),
        ("minted access token", minted.clone()),
        ("notificationUrl token", token_of(&url)),
        (
            "subscription endpoint id",
            sub["id"].as_str().unwrap().to_string(),
        ),
        ("delta cursor", cursor(&link)),
        ("next delta cursor", cursor(&next)),
    ];
    for (what, secret) in secrets {
        assert!(secret.len() >= 8, "{what}: {secret}");
        assert!(!text.contains(&secret), "the {what} is in the log");
    }
    running.shutdown().await;
}

/// `burst` with a `key` reaches only the sockets whose subscription watches that key.
#[tokio::test]
async fn keyed_burst_reaches_only_that_key() {
    let running = start().await;
    let base = &running.base_url;
    let g = Graph::signed_in(base, seed::ADELE_UPN).await;
    let drive = g.get("/me/drive/root/subscriptions/socketIo").await.json;
    let list = g
        .get(&format!(
            "/lists/{}/subscriptions/socketIo",
            seed::ISSUES_LIST_ID
        ))
        .await
        .json;
    let (mut drive_client, _) = Client::join(&websocket_url(&notification_url(&drive))).await;
    let (mut list_client, _) = Client::join(&websocket_url(&notification_url(&list))).await;
    let list_guid = subscription_guid(base, list["id"].as_str().unwrap()).await;
    let drive_guid = subscription_guid(base, drive["id"].as_str().unwrap()).await;

    let answer = post(
        base,
        "/_emulator/burst",
        json!({"count": 3, "key": format!("list:{}", seed::ISSUES_LIST_ID)}),
    )
    .await;
    assert_eq!(answer, json!({"sent": 3, "sockets": 1}));
    for seq in 1..=3 {
        let e = notification(&list_client.text(5 * SECOND).await)["value"][0].clone();
        assert_eq!(e["sequence"], seq);
        assert_eq!(e["subscriptionId"], list_guid.as_str());
        assert_eq!(e["resource"], seed::ISSUES_LIST_RESOURCE);
    }
    wait_for_log(base, "burst-done", &list_guid, 5 * SECOND).await;

    // Now a longer burst for the drive alone: its socket's frames must start at 1 and run
    // 1..5; had the list burst reached it, 1, 2, 3 would come first.
    let answer = post(
        base,
        "/_emulator/burst",
        json!({"count": 5, "key": format!("drive:{}", seed::ADELE_DRIVE)}),
    )
    .await;
    assert_eq!(answer, json!({"sent": 5, "sockets": 1}));
    for seq in 1..=5 {
        let e = notification(&drive_client.text(5 * SECOND).await)["value"][0].clone();
        assert_eq!(e["sequence"], seq, "{e}");
        assert_eq!(e["subscriptionId"], drive_guid.as_str());
    }
    wait_for_log(base, "burst-done", &drive_guid, 5 * SECOND).await;
    let (_, entries) = log_since(base, 0).await;
    let mut done: Vec<String> = entries
        .iter()
        .filter(|e| e["kind"] == "burst-done")
        .map(|e| {
            let detail = e["detail"].as_str().unwrap();
            let sub = detail.split_once("subscription=").unwrap().1;
            sub.split_whitespace().next().unwrap().to_string()
        })
        .collect();
    done.sort();
    let mut expected = vec![list_guid.clone(), drive_guid.clone()];
    expected.sort();
    assert_eq!(done, expected, "one socket per keyed burst");

    // And the list socket got nothing of the drive's burst: an unkeyed burst is next.
    let answer = post(base, "/_emulator/burst", json!({"count": 2})).await;
    assert_eq!(answer["sockets"], 2);
    for seq in 1..=2 {
        let e = notification(&list_client.text(5 * SECOND).await)["value"][0].clone();
        assert_eq!(e["sequence"], seq, "{e}");
        assert_eq!(e["subscriptionId"], list_guid.as_str());
    }
    running.shutdown().await;
}
