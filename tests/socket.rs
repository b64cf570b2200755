//! The socket.io client (src/socket.rs) against real servers: an independent Node
//! `socket.io` 4 peer (tests/node-server/) and the emulator's socket.io server.
//!
//! These tests are the evidence for docs/decisions.md ("socket.io client"): each fault
//! case must end in exactly one `Disconnected`, within pingInterval + pingTimeout + margin.

use graphwatch::testing::{payload, socket};

use std::time::{Duration, Instant};

use serde_json::Value;
use socket::{connect, DisconnectReason, SocketError, SocketEvent, SocketOptions};

/// How long any single expected event may take before the test fails.
const PATIENCE: Duration = Duration::from_secs(10);

fn options() -> SocketOptions {
    SocketOptions {
        connect_timeout: Duration::from_secs(5),
    }
}

async fn next_event(connection: &mut socket::Connection, within: Duration) -> SocketEvent {
    match tokio::time::timeout(within, connection.next()).await {
        Ok(Some(event)) => event,
        Ok(None) => panic!("the connection ended without a Disconnected"),
        Err(_) => panic!("no event within {within:?}"),
    }
}

/// Read events until `Disconnected`; returns the notifications seen before it, the reason
/// and how long it took. Then checks that nothing follows it.
async fn until_disconnected(
    connection: &mut socket::Connection,
    within: Duration,
) -> (Vec<Value>, DisconnectReason, Duration) {
    until_disconnected_since(connection, within, Instant::now()).await
}

/// As [`until_disconnected`], timing from `started` (e.g. just before a fault was pulled).
async fn until_disconnected_since(
    connection: &mut socket::Connection,
    within: Duration,
    started: Instant,
) -> (Vec<Value>, DisconnectReason, Duration) {
    let mut seen = Vec::new();
    loop {
        let left = within.saturating_sub(started.elapsed());
        match tokio::time::timeout(left, connection.next()).await {
            Ok(Some(SocketEvent::Notification(value))) => seen.push(value),
            Ok(Some(SocketEvent::Connected)) => panic!("a second Connected"),
            Ok(Some(SocketEvent::Disconnected { reason })) => {
                assert_eq!(connection.next().await, None, "events after Disconnected");
                return (seen, reason, started.elapsed());
            }
            Ok(None) => panic!("the connection ended without a Disconnected"),
            Err(_) => panic!(
                "no Disconnected within {within:?} (saw {} notifications)",
                seen.len()
            ),
        }
    }
}

/// The notifications in one event's argument, parsed (the client hands out raw text).
fn decode_notifications(payload: Value) -> Vec<Value> {
    payload::decode_notifications(payload)
        .into_iter()
        .map(|raw| serde_json::from_str(raw.get()).expect("decoded notifications are JSON"))
        .collect()
}

// ---------------------------------------------------------------------------------------
// The Node peer: tests/node-server, shared with the CLI's stream tests.
use crate::common::peer::Peer;

fn subscription_ids(values: &[Value]) -> Vec<String> {
    values
        .iter()
        .cloned()
        .flat_map(decode_notifications)
        .map(|n| n["subscriptionId"].as_str().unwrap_or("<none>").to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn peer_notifications_arrive_as_strings_and_decode() {
    let peer = Peer::start(&[("PEER_COUNT", "3")]);
    let mut connection = connect(&peer.url("peer-token"), &options()).await.unwrap();
    assert_eq!(
        next_event(&mut connection, PATIENCE).await,
        SocketEvent::Connected
    );
    let mut payloads = Vec::new();
    for _ in 0..3 {
        match next_event(&mut connection, PATIENCE).await {
            SocketEvent::Notification(value) => payloads.push(value),
            other => panic!("expected a notification, got {other:?}"),
        }
    }
    // rust_socketio 0.6 hands a string argument over as Payload::Text([Value::String]).
    for payload in &payloads {
        assert!(payload.is_string(), "argument arrived as {payload}");
    }
    assert_eq!(
        subscription_ids(&payloads),
        [
            "peer-subscription-0",
            "peer-subscription-1",
            "peer-subscription-2"
        ]
    );
    let first = decode_notifications(payloads[0].clone()).remove(0);
    assert_eq!(first["resource"], "peer-resource-0");
    assert_eq!(first["siteUrl"], "/personal/peer");

    let rest = connection.close().await;
    assert_eq!(
        rest,
        vec![SocketEvent::Disconnected {
            reason: DisconnectReason::Local
        }]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn peer_burst_arrives_complete_and_in_order() {
    let peer = Peer::start(&[("PEER_COUNT", "300"), ("PEER_THEN", "disconnect")]);
    let mut connection = connect(&peer.url("peer-token"), &options()).await.unwrap();
    assert_eq!(
        next_event(&mut connection, PATIENCE).await,
        SocketEvent::Connected
    );
    let (seen, reason, _) = until_disconnected(&mut connection, PATIENCE).await;
    let expected: Vec<String> = (0..300).map(|i| format!("peer-subscription-{i}")).collect();
    assert_eq!(subscription_ids(&seen), expected);
    assert_eq!(reason, DisconnectReason::ServerDisconnect);
}

#[tokio::test(flavor = "multi_thread")]
async fn peer_refuses_a_wrong_token_and_the_error_does_not_show_it() {
    let peer = Peer::start(&[]);
    let started = Instant::now();
    let err = connect(&peer.url("wrong-secret-token"), &options())
        .await
        .unwrap_err();
    assert!(matches!(err, SocketError::Connect(_)), "{err:?}");
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "took {:?}",
        started.elapsed()
    );
    let text = format!("{err} {err:?}");
    assert!(!text.contains("wrong-secret-token"), "{text}");
}

#[tokio::test(flavor = "multi_thread")]
async fn peer_refuses_an_unknown_namespace_with_44() {
    let peer = Peer::start(&[]);
    let url = format!("http://127.0.0.1:{}/elsewhere?token=peer-token", peer.port);
    let err = connect(&url, &options()).await.unwrap_err();
    assert!(matches!(err, SocketError::Refused(_)), "{err:?}");
    assert!(err.to_string().contains("Invalid namespace"), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn peer_server_disconnect_41_ends_with_one_disconnected() {
    let peer = Peer::start(&[("PEER_COUNT", "1"), ("PEER_THEN", "disconnect")]);
    let mut connection = connect(&peer.url("peer-token"), &options()).await.unwrap();
    assert_eq!(
        next_event(&mut connection, PATIENCE).await,
        SocketEvent::Connected
    );
    let (seen, reason, took) = until_disconnected(&mut connection, PATIENCE).await;
    assert_eq!(seen.len(), 1);
    assert_eq!(reason, DisconnectReason::ServerDisconnect);
    eprintln!("peer 41: Disconnected after {took:?}");
    assert!(connection.close().await.is_empty());
}

/// The case rust_socketio 0.6 does not report (upstream #448): the websocket ends with a
/// close frame but without an Engine.IO `1` or socket.io `41`. No callback fires; our
/// end-of-task guard does.
#[tokio::test(flavor = "multi_thread")]
async fn peer_websocket_close_without_close_packet_ends_with_one_disconnected() {
    let peer = Peer::start(&[("PEER_COUNT", "2"), ("PEER_THEN", "close")]);
    let mut connection = connect(&peer.url("peer-token"), &options()).await.unwrap();
    assert_eq!(
        next_event(&mut connection, PATIENCE).await,
        SocketEvent::Connected
    );
    let (seen, reason, took) = until_disconnected(&mut connection, PATIENCE).await;
    assert_eq!(seen.len(), 2);
    // `Closed` means: neither the close nor the error callback of rust_socketio fired.
    assert_eq!(reason, DisconnectReason::Closed);
    eprintln!("peer websocket close: Disconnected after {took:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn peer_tcp_reset_ends_with_one_disconnected() {
    let peer = Peer::start(&[("PEER_COUNT", "1"), ("PEER_THEN", "reset")]);
    let mut connection = connect(&peer.url("peer-token"), &options()).await.unwrap();
    assert_eq!(
        next_event(&mut connection, PATIENCE).await,
        SocketEvent::Connected
    );
    let (_, reason, took) = until_disconnected(&mut connection, PATIENCE).await;
    assert!(
        matches!(reason, DisconnectReason::Transport(_)),
        "{reason:?}"
    );
    eprintln!("peer TCP reset: {reason:?} after {took:?}");
}

/// Silence: the server stops pinging but keeps the TCP connection open. Only a ping
/// timeout can tell; rust_socketio 0.6 has one (interval + timeout from the handshake).
#[tokio::test(flavor = "multi_thread")]
async fn peer_stall_is_detected_by_the_ping_timeout() {
    let peer = Peer::start(&[
        ("PEER_COUNT", "1"),
        ("PEER_THEN", "stall"),
        ("PEER_PING_INTERVAL", "300"),
        ("PEER_PING_TIMEOUT", "200"),
    ]);
    let mut connection = connect(&peer.url("peer-token"), &options()).await.unwrap();
    assert_eq!(
        next_event(&mut connection, PATIENCE).await,
        SocketEvent::Connected
    );
    let bound = Duration::from_millis(300 + 200 + 1500);
    let (seen, reason, took) = until_disconnected(&mut connection, bound).await;
    assert_eq!(seen.len(), 1);
    assert!(
        matches!(reason, DisconnectReason::Transport(_)),
        "{reason:?}"
    );
    eprintln!("peer stall: {reason:?} after {took:?}");
}

// ---------------------------------------------------------------------------------------
// No server at all, or one that never answers

#[tokio::test(flavor = "multi_thread")]
async fn a_silent_server_hits_our_connect_timeout() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    // Accept and hold connections without ever answering the upgrade.
    let hold = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            held.push(stream);
        }
    });
    let opts = SocketOptions {
        connect_timeout: Duration::from_millis(500),
    };
    let started = Instant::now();
    let err = connect(
        &format!("http://127.0.0.1:{port}/notifications?token=hidden-token-value"),
        &opts,
    )
    .await
    .unwrap_err();
    assert_eq!(err, SocketError::Timeout(Duration::from_millis(500)));
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    hold.abort();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_closed_port_fails_fast_without_the_token() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let err = connect(
        &format!("http://127.0.0.1:{port}/notifications?token=hidden-token-value"),
        &options(),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, SocketError::Connect(_)), "{err:?}");
    assert!(!format!("{err}{err:?}").contains("hidden-token-value"));
}

// ---------------------------------------------------------------------------------------
// The emulator

mod emulator {
    use super::*;
    use graphwatch_emulator::push::Watched;
    use graphwatch_emulator::{seed, EmulatorArgs, Running};
    use serde_json::json;

    const KEY: &str = "drive:b!AdeleVanceOneDrive";

    fn watched() -> Watched {
        Watched {
            key: KEY.into(),
            resource_id: "resource-adele-documents".into(),
            site_url: "/personal/adele_contoso_onmicrosoft_com".into(),
            web_id: "web-adele".into(),
        }
    }

    async fn start(ping_interval_ms: u64, ping_timeout_ms: u64) -> (Running, Value) {
        let args = EmulatorArgs {
            ping_interval_ms,
            ping_timeout_ms,
            ..EmulatorArgs::default()
        };
        let running = graphwatch_emulator::start(args)
            .await
            .expect("emulator starts");
        let subscription = running
            .state
            .push
            .subscribe(&running.state, seed::ADELE_ID, watched());
        (running, subscription)
    }

    fn notification_url(subscription: &Value) -> String {
        subscription["notificationUrl"]
            .as_str()
            .unwrap_or_else(|| panic!("subscribe returns a notificationUrl: {subscription}"))
            .to_string()
    }

    async fn joined(subscription: &Value) -> socket::Connection {
        let mut connection = connect(&notification_url(subscription), &options())
            .await
            .expect("connects to the emulator");
        assert_eq!(
            next_event(&mut connection, PATIENCE).await,
            SocketEvent::Connected
        );
        connection
    }

    async fn post(running: &Running, route: &str, body: Value) {
        reqwest::Client::new()
            .post(format!("{}{route}", running.base_url))
            .json(&body)
            .send()
            .await
            .unwrap_or_else(|e| panic!("POST {route}: {e}"))
            .error_for_status()
            .unwrap_or_else(|e| panic!("POST {route}: {e}"));
    }

    async fn notifications(connection: &mut socket::Connection, n: usize) -> Vec<Value> {
        let mut out = Vec::new();
        while out.len() < n {
            match next_event(connection, PATIENCE).await {
                SocketEvent::Notification(value) => out.extend(decode_notifications(value)),
                other => panic!("expected notifications, got {other:?} after {}", out.len()),
            }
        }
        out
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn changed_sends_notifications_with_the_subscription() {
        let (running, subscription) = start(25_000, 20_000).await;
        let mut connection = joined(&subscription).await;
        running.state.push.changed(&running.state, &[KEY.into()]);
        // Two per change by default (the live service's duplicates).
        let got = notifications(&mut connection, 2).await;
        assert_eq!(got.len(), 2, "{got:?}");
        for n in &got {
            let id = n["subscriptionId"].as_str().expect("subscriptionId");
            assert!(!id.is_empty());
            assert_eq!(n["resource"], "resource-adele-documents", "{n}");
            assert_eq!(
                n["siteUrl"], "/personal/adele_contoso_onmicrosoft_com",
                "{n}"
            );
            assert_eq!(n["webId"], "web-adele", "{n}");
        }
        assert_eq!(got[0]["subscriptionId"], got[1]["subscriptionId"]);
        // The payload's subscriptionId is a GUID of its own, not the socketIo answer's id.
        assert_ne!(got[0]["subscriptionId"], subscription["id"]);
        assert!(got[0]["clientState"]
            .as_str()
            .is_some_and(|s| s.starts_with("system-managed:")));
        connection.close().await;
        running.shutdown().await;
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_burst_arrives_complete_and_in_order() {
        let (running, subscription) = start(25_000, 20_000).await;
        let mut connection = joined(&subscription).await;
        post(&running, "/_emulator/burst", json!({ "count": 100 })).await;
        let got = notifications(&mut connection, 100).await;
        assert_eq!(got.len(), 100);
        // Burst elements carry the emulator's `sequence`, 1..N in order on each socket.
        let sequence: Vec<u64> = got
            .iter()
            .map(|n| {
                n["sequence"]
                    .as_u64()
                    .unwrap_or_else(|| panic!("sequence in {n}"))
            })
            .collect();
        assert_eq!(sequence, (1..=100).collect::<Vec<u64>>());
        connection.close().await;
        running.shutdown().await;
    }

    async fn fault_ends_with_one_disconnected(
        route: &str,
        body: Value,
    ) -> (DisconnectReason, Duration) {
        let (ping_interval, ping_timeout) = (300, 200);
        let (running, subscription) = start(ping_interval, ping_timeout).await;
        let mut connection = joined(&subscription).await;
        let started = Instant::now();
        post(&running, route, body).await;
        let bound = Duration::from_millis(ping_interval + ping_timeout + 1500);
        let (_, reason, took) = until_disconnected_since(&mut connection, bound, started).await;
        eprintln!("emulator {route}: {reason:?} after {took:?}");
        running.shutdown().await;
        (reason, took)
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn fault_disconnect() {
        let (reason, _) =
            fault_ends_with_one_disconnected("/_emulator/sockets/disconnect", json!({})).await;
        assert_eq!(reason, DisconnectReason::ServerDisconnect);
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn fault_kill() {
        let (reason, _) =
            fault_ends_with_one_disconnected("/_emulator/sockets/kill", json!({})).await;
        assert_ne!(reason, DisconnectReason::Local);
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn fault_stall() {
        let (reason, took) =
            fault_ends_with_one_disconnected("/_emulator/sockets/stall", json!({ "ms": 10_000 }))
                .await;
        assert!(
            matches!(reason, DisconnectReason::Transport(_)),
            "{reason:?}"
        );
        assert!(
            took >= Duration::from_millis(200),
            "too early for a ping timeout: {took:?}"
        );
    }
}
