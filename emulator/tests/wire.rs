//! The emulator's socket.io side, byte for byte on the wire, against
//! `docs/graph-socketio.md` §1–3, with a raw websocket client that forgives nothing.

use crate::common;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use common::sio::{notification, Client, Frame};
use common::*;
use graphwatch_emulator::{seed, Running};
use serde_json::{json, Value};

const SECOND: Duration = Duration::from_secs(1);

fn adele_key() -> String {
    format!("drive:{}", seed::ADELE_DRIVE)
}

/// An emulator with a short notification delay, and a joined client.
async fn joined(
    tweak: impl FnOnce(&mut graphwatch_emulator::EmulatorArgs),
) -> (Running, Value, Client) {
    let running = start_with(|a| {
        a.settings.notify_delay_ms = 20;
        tweak(a);
    })
    .await;
    let sub = subscribe(&running);
    let (client, answer) = Client::join(&websocket_url(&notification_url(&sub))).await;
    assert!(
        answer.starts_with("40/notifications,{\"sid\":"),
        "join answer: {answer}"
    );
    (running, sub, client)
}

#[tokio::test]
async fn socketio_answer_has_the_live_shape() {
    let running = start().await;
    let before = chrono::Utc::now();
    let sub = subscribe(&running);
    let keys: BTreeSet<&str> = sub
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        BTreeSet::from([
            "@odata.context",
            "id",
            "notificationUrl",
            "expirationDateTime"
        ])
    );
    assert!(sub["id"].as_str().unwrap().starts_with("opaqueId-"));
    let url = url::Url::parse(sub["notificationUrl"].as_str().unwrap()).unwrap();
    assert_eq!(url.path(), "/notifications");
    assert!(sub["notificationUrl"]
        .as_str()
        .unwrap()
        .starts_with(&format!("{}/notifications?token=w1-", running.base_url)));
    let query: Vec<String> = url.query_pairs().map(|(k, _)| k.into_owned()).collect();
    assert_eq!(query, ["token", "applicationId"]);
    let expires =
        chrono::DateTime::parse_from_rfc3339(sub["expirationDateTime"].as_str().unwrap()).unwrap();
    let lifetime = (expires.with_timezone(&chrono::Utc) - before).num_seconds();
    assert!((3598..=3601).contains(&lifetime), "lifetime {lifetime}");
    running.shutdown().await;
}

#[tokio::test]
async fn open_packet_and_namespace_join() {
    let running = start_with(|a| {
        a.ping_interval_ms = 1500;
        a.ping_timeout_ms = 2500;
    })
    .await;
    let sub = subscribe(&running);
    let url = notification_url(&sub);
    let mut client = Client::open(&websocket_url(&url)).await;
    let open = client.open.as_object().unwrap().clone();
    assert!(open["sid"].as_str().is_some_and(|s| !s.is_empty()));
    assert_eq!(open["upgrades"], json!([]));
    assert_eq!(open["pingInterval"], 1500);
    assert_eq!(open["pingTimeout"], 2500);
    assert!(open["maxPayload"].as_u64().is_some_and(|n| n > 0));

    client.send("40").await;
    let root = client.text(5 * SECOND).await;
    let root: Value = serde_json::from_str(root.strip_prefix("40").unwrap()).unwrap();
    assert!(root["sid"].is_string());
    client.send("40/notifications,").await;
    let answer = client.text(5 * SECOND).await;
    let joined: Value =
        serde_json::from_str(answer.strip_prefix("40/notifications,").unwrap()).unwrap();
    assert!(joined["sid"].is_string());

    let stats = stats(&running.base_url).await;
    assert_eq!(stats["liveSockets"], 1);
    assert_eq!(stats["counters"]["sockets.connected"], 1);
    wait_for_log(
        &running.base_url,
        "socket-connected",
        "subscription=",
        2 * SECOND,
    )
    .await;
    let token = token_of(&url);
    let log = serde_json::to_string(&log(&running.base_url).await).unwrap();
    assert!(!log.contains(&token), "the token leaked into the log");
    running.shutdown().await;
}

#[tokio::test]
async fn bad_missing_and_foreign_tokens_are_refused_with_44() {
    let running = start().await;
    let sub = subscribe(&running);
    let good = websocket_url(&notification_url(&sub));
    let bad = good.replace("token=w1-", "token=w1-x");
    let none = format!(
        "{}/socket.io/?EIO=4&transport=websocket",
        running.base_url.replace("http", "ws")
    );
    for url in [bad, none] {
        let (_client, answer) = Client::join(&url).await;
        let body = answer
            .strip_prefix("44/notifications,")
            .unwrap_or_else(|| panic!("expected a refusal, got {answer}"));
        let body: Value = serde_json::from_str(body).unwrap();
        assert!(body["message"].is_string(), "{body}");
    }
    assert_eq!(stats(&running.base_url).await["liveSockets"], 0);
    assert_eq!(
        stats(&running.base_url).await["counters"]["sockets.refused"],
        2
    );
    running.shutdown().await;
}

#[tokio::test]
async fn server_pings_and_client_pongs_keep_the_socket() {
    let (running, _sub, mut client) = joined(|a| {
        a.ping_interval_ms = 200;
        a.ping_timeout_ms = 200;
    })
    .await;
    // Well past interval + timeout: the link survives only because each ping is answered.
    let started = Instant::now();
    let mut pings = 0;
    while started.elapsed() < Duration::from_millis(1200) {
        match client.recv(SECOND).await {
            Frame::Text(t) if t == "2" => {
                pings += 1;
                client.send("3").await;
            }
            other => panic!("expected pings only, got {other:?}"),
        }
    }
    assert!(pings >= 3, "{pings} pings in 1.2 s at a 200 ms interval");
    assert_eq!(stats(&running.base_url).await["liveSockets"], 1);
    running.shutdown().await;
}

#[tokio::test]
async fn notification_frame_is_exact_and_duplicated() {
    let (running, sub, mut client) = joined(|_| {}).await;
    let guid = subscription_guid(&running.base_url, sub["id"].as_str().unwrap()).await;
    let started = Instant::now();
    running.state.push.changed(&running.state, &[adele_key()]);
    assert!(
        started.elapsed() < Duration::from_millis(100),
        "changed() blocked"
    );

    for copy in 0..2 {
        let frame = client.text(5 * SECOND).await;
        assert!(
            frame.starts_with("42/notifications,[\"notification\",\"{\\\"value\\\":[{"),
            "copy {copy}: {frame}"
        );
        let payload = notification(&frame);
        let value = payload["value"].as_array().unwrap();
        assert_eq!(value.len(), 1);
        let element = value[0].as_object().unwrap();
        // Sorted here: serde_json's map order depends on its `preserve_order` feature,
        // which any crate built alongside may switch on. The raw order is checked below.
        let mut keys: Vec<&str> = element.keys().map(String::as_str).collect();
        keys.sort();
        let mut expected = vec![
            "subscriptionId",
            "clientState",
            "expirationDateTime",
            "resource",
            "tenantId",
            "siteUrl",
            "webId",
        ];
        expected.sort();
        assert_eq!(keys, expected);
        assert_eq!(element["subscriptionId"], guid.as_str());
        assert_ne!(element["subscriptionId"], sub["id"]);
        assert!(element["clientState"]
            .as_str()
            .unwrap()
            .starts_with("system-managed:"));
        assert_eq!(element["expirationDateTime"], sub["expirationDateTime"]);
        assert_eq!(element["tenantId"], seed::TENANT_ID);
        assert_eq!(element["resource"], "5d3a8e6b-1c2f-4a7b-9e0d-3f4a5b6c7d8e");
        assert_eq!(
            element["siteUrl"],
            "/personal/adele_contoso_onmicrosoft_com"
        );
        assert_eq!(element["webId"], "be8f18aa-0f3c-4b8e-a1d2-6c7e8f9a0b1c");
        // The live field order, for clients that compare raw text.
        let inner: String =
            serde_json::from_str::<Vec<Value>>(frame.strip_prefix("42/notifications,").unwrap())
                .unwrap()[1]
                .as_str()
                .unwrap()
                .to_string();
        assert!(
            inner.starts_with("{\"value\":[{\"subscriptionId\":"),
            "{inner}"
        );
        assert!(inner.ends_with("\"webId\":\"be8f18aa-0f3c-4b8e-a1d2-6c7e8f9a0b1c\"}]}"));
    }
    assert!(matches!(
        client.next(Duration::from_millis(300)).await,
        Frame::Timeout
    ));

    // Another drive's change is not ours.
    running
        .state
        .push
        .changed(&running.state, &[format!("drive:{}", seed::MEGAN_DRIVE)]);
    assert!(matches!(
        client.next(Duration::from_millis(300)).await,
        Frame::Timeout
    ));
    assert_eq!(
        stats(&running.base_url).await["counters"]["notifications.sent"],
        2
    );
    running.shutdown().await;
}

#[tokio::test]
async fn duplicates_and_delay_follow_the_settings() {
    let (running, _sub, mut client) = joined(|a| {
        a.settings.notify_duplicates = 3;
        a.settings.notify_delay_ms = 400;
    })
    .await;
    let started = Instant::now();
    running.state.push.changed(&running.state, &[adele_key()]);
    for _ in 0..3 {
        notification(&client.text(5 * SECOND).await);
    }
    assert!(started.elapsed() >= Duration::from_millis(400));
    assert!(matches!(
        client.next(Duration::from_millis(300)).await,
        Frame::Timeout
    ));
    running.shutdown().await;
}

#[tokio::test]
async fn polling_transport_is_refused() {
    let running = start().await;
    let sub = subscribe(&running);
    let token = token_of(&notification_url(&sub));
    let response = reqwest::get(format!(
        "{}/socket.io/?EIO=4&transport=polling&token={token}",
        running.base_url
    ))
    .await
    .unwrap();
    assert!(
        response.status().is_client_error(),
        "polling answered {}",
        response.status()
    );
    running.shutdown().await;
}

#[tokio::test]
async fn disconnect_fault_sends_41() {
    let (running, sub, mut client) = joined(|_| {}).await;
    let answer = post(
        &running.base_url,
        "/_emulator/sockets/disconnect",
        json!({}),
    )
    .await;
    assert_eq!(answer["disconnected"], 1);
    assert_eq!(client.text(5 * SECOND).await, "41/notifications,");
    assert_eq!(client.text(5 * SECOND).await, "41");
    wait_for_log(
        &running.base_url,
        "socket-disconnected",
        "ServerNSDisconnect",
        2 * SECOND,
    )
    .await;
    // The subscription is intact: the same URL joins again.
    let (_again, answer) = Client::join(&websocket_url(&notification_url(&sub))).await;
    assert!(answer.starts_with("40/notifications,"), "{answer}");
    running.shutdown().await;
}

#[tokio::test]
async fn kill_fault_ends_the_stream_without_a_close_frame() {
    let (running, _sub, mut client) = joined(|_| {}).await;
    let answer = post(&running.base_url, "/_emulator/sockets/kill", json!({})).await;
    assert_eq!(answer["killed"], 1);
    // socketioxide pings once right after the handshake; that ping may still be in flight.
    loop {
        match client.recv(5 * SECOND).await {
            Frame::Text(t) if t == "2" => continue,
            Frame::End(why) => {
                eprintln!("stream ended: {why}");
                break;
            }
            other => panic!("expected the transport to vanish, got {other:?}"),
        }
    }
    wait_for_log(
        &running.base_url,
        "socket-disconnected",
        "reason=",
        5 * SECOND,
    )
    .await;
    assert_eq!(stats(&running.base_url).await["liveSockets"], 0);
    running.shutdown().await;
}

#[tokio::test]
async fn stall_silences_pings_then_traffic_resumes() {
    let (running, _sub, mut client) = joined(|a| {
        a.ping_interval_ms = 200;
        a.ping_timeout_ms = 1500;
    })
    .await;
    // One ping first, so the stall starts mid-conversation.
    assert_eq!(client.recv(2 * SECOND).await.into_text(), "2");
    client.send("3").await;
    let answer = post(
        &running.base_url,
        "/_emulator/sockets/stall",
        json!({"ms": 800}),
    )
    .await;
    assert_eq!(answer["stalled"], 1);
    let stalled = Instant::now();
    // Several ping intervals of silence. A ping already on its way when the stall began
    // (the control request can take longer than one interval on a loaded machine) may
    // still land; were the link alive, answered pings would keep coming every 200 ms.
    let window_end = Instant::now() + Duration::from_millis(600);
    let mut pings_while_stalled = 0;
    loop {
        let left = window_end.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        match client.recv(left).await {
            Frame::Timeout => break,
            other => {
                assert_eq!(other.into_text(), "2", "only pings can be in flight");
                pings_while_stalled += 1;
                client.send("3").await;
            }
        }
    }
    assert!(
        pings_while_stalled <= 1,
        "expected silence while stalled, got {pings_while_stalled} pings"
    );
    // Then the link comes back: a ping, answered, and a notification.
    assert_eq!(client.recv(3 * SECOND).await.into_text(), "2");
    assert!(stalled.elapsed() >= Duration::from_millis(750));
    client.send("3").await;
    running.state.push.changed(&running.state, &[adele_key()]);
    let frame = client.text(5 * SECOND).await;
    notification(&frame);
    wait_for_log(&running.base_url, "sockets-unstalled", "ms=800", 2 * SECOND).await;
    assert_eq!(stats(&running.base_url).await["liveSockets"], 1);
    running.shutdown().await;
}

#[tokio::test]
async fn long_stall_makes_the_server_drop_the_socket() {
    let (running, _sub, _client) = joined(|a| {
        a.ping_interval_ms = 200;
        a.ping_timeout_ms = 200;
    })
    .await;
    post(
        &running.base_url,
        "/_emulator/sockets/stall",
        json!({"ms": 1500}),
    )
    .await;
    wait_for_log(
        &running.base_url,
        "socket-disconnected",
        "HeartbeatTimeout",
        3 * SECOND,
    )
    .await;
    running.shutdown().await;
}

#[tokio::test]
async fn expiry_disconnects_and_refuses_the_token() {
    let (running, sub, mut client) = joined(|a| {
        a.settings.subscription_lifetime_secs = 1;
    })
    .await;
    assert_eq!(client.text(4 * SECOND).await, "41/notifications,");
    wait_for_log(
        &running.base_url,
        "subscription-expired",
        "reason=expired",
        2 * SECOND,
    )
    .await;
    let (_again, answer) = Client::join(&websocket_url(&notification_url(&sub))).await;
    assert!(
        answer.starts_with("44/notifications,{\"message\":"),
        "{answer}"
    );
    // Expired subscriptions stay silent.
    running.state.push.changed(&running.state, &[adele_key()]);
    assert!(
        !matches!(client.next(Duration::from_millis(200)).await, Frame::Text(t) if t.starts_with("42"))
    );
    running.shutdown().await;
}

#[tokio::test]
async fn expire_route_ends_every_subscription_now() {
    let (running, sub, mut client) = joined(|_| {}).await;
    let answer = post(
        &running.base_url,
        "/_emulator/subscriptions/expire",
        json!({}),
    )
    .await;
    assert_eq!(answer, json!({"expired": 1, "disconnected": 1}));
    assert_eq!(client.text(5 * SECOND).await, "41/notifications,");
    let (_again, answer) = Client::join(&websocket_url(&notification_url(&sub))).await;
    assert!(answer.starts_with("44/notifications,"), "{answer}");
    let list: Value = reqwest::get(format!("{}/_emulator/subscriptions", running.base_url))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["subscriptions"][0]["expired"], true);
    running.shutdown().await;
}

#[tokio::test]
async fn subscriptions_listing_has_no_tokens() {
    let (running, sub, _client) = joined(|_| {}).await;
    let text = reqwest::get(format!("{}/_emulator/subscriptions", running.base_url))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!text.contains(&token_of(&notification_url(&sub))));
    let list: Value = serde_json::from_str(&text).unwrap();
    let entry = &list["subscriptions"][0];
    assert_eq!(entry["endpointId"], sub["id"]);
    assert_eq!(entry["key"], adele_key());
    assert_eq!(entry["sockets"], 1);
    assert_eq!(entry["expired"], false);
    assert_eq!(list["liveSockets"], 1);
    running.shutdown().await;
}

/// Read `count` burst frames; checks order and the two extensions.
async fn read_burst(client: &mut Client, count: u64) {
    for expected in 1..=count {
        let frame = client.text(10 * SECOND).await;
        let payload = notification(&frame);
        let element = &payload["value"][0];
        assert_eq!(element["sequence"], expected, "out of order: {frame}");
        let sent_at = element["sentAt"].as_str().unwrap();
        let fraction = sent_at.split_once('.').unwrap().1;
        assert_eq!(fraction.len(), 7, "microseconds then Z: {sent_at}");
        assert!(element["tenantId"] == seed::TENANT_ID);
    }
}

#[tokio::test]
async fn burst_sends_numbered_notifications_in_order() {
    let (running, _sub, mut client) = joined(|_| {}).await;
    let answer = post(
        &running.base_url,
        "/_emulator/burst",
        json!({"count": 2000}),
    )
    .await;
    assert_eq!(answer, json!({"sent": 2000, "sockets": 1}));
    read_burst(&mut client, 2000).await;
    wait_for_log(&running.base_url, "burst-done", "sent=2000", 2 * SECOND).await;

    // A key that no subscription watches reaches nobody.
    let answer = post(
        &running.base_url,
        "/_emulator/burst",
        json!({"count": 5, "key": "list:nobody"}),
    )
    .await;
    assert_eq!(answer["sockets"], 0);

    // Paced: 20 at 100 per second take about 190 ms.
    let started = Instant::now();
    post(
        &running.base_url,
        "/_emulator/burst",
        json!({"count": 20, "ratePerSec": 100.0, "key": adele_key()}),
    )
    .await;
    read_burst(&mut client, 20).await;
    assert!(started.elapsed() >= Duration::from_millis(180));
    running.shutdown().await;
}

#[tokio::test]
async fn burst_of_100k_is_quick() {
    let (running, _sub, mut client) = joined(|_| {}).await;
    let started = Instant::now();
    post(
        &running.base_url,
        "/_emulator/burst",
        json!({"count": 100_000}),
    )
    .await;
    let mut last = 0;
    while last < 100_000 {
        let frame = client.text(10 * SECOND).await;
        let seq = notification(&frame)["value"][0]["sequence"]
            .as_u64()
            .unwrap();
        assert_eq!(seq, last + 1);
        last = seq;
    }
    let took = started.elapsed();
    eprintln!("100,000 notifications in {took:?}");
    assert!(took < Duration::from_secs(60), "{took:?}");
    running.shutdown().await;
}
