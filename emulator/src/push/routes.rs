//! The socket.io side of the control API under `/_emulator/`: socket faults, forced
//! expiry, the burst generator and a view of the subscriptions. Every route answers JSON
//! saying how many sockets or subscriptions it affected, so a test can tell a fault that
//! hit nothing from one that worked.

use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{SecondsFormat, Utc};
use serde::Deserialize;
use serde_json::{json, Value};
use socketioxide::extract::SocketRef;
use socketioxide::{SendError, SocketError};

use super::{graph_time, Target, EVENT};
use crate::AppState;

/// Bursts larger than this are refused: they would only fill memory.
const MAX_BURST: u64 = 10_000_000;

/// Slower bursts are refused: their schedule would run past any test.
const MIN_RATE: f64 = 0.001;

/// Longer stalls are refused: a day of silence tests nothing a shorter one does not.
const MAX_STALL_MS: u64 = 86_400_000;

pub fn control_router() -> Router<AppState> {
    Router::new()
        .route("/_emulator/sockets/disconnect", post(disconnect))
        .route("/_emulator/sockets/kill", post(kill))
        .route("/_emulator/sockets/stall", post(stall))
        .route("/_emulator/sockets/flap", post(flap))
        .route("/_emulator/sockets/hold", post(hold).get(held))
        .route("/_emulator/sockets/release", post(release))
        .route("/_emulator/subscriptions/expire", post(expire))
        .route("/_emulator/subscriptions", get(list))
        .route("/_emulator/burst", post(burst))
}

fn bad_request(message: impl Into<String>) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({ "error": message.into() })),
    )
        .into_response()
}

/// `POST /_emulator/sockets/disconnect` — a clean server-side socket.io disconnect: every
/// socket gets `41` for its namespace(s) (`41/notifications,` then `41`), the transport
/// stays up and the client decides what to do, as after "io server disconnect".
/// Subscriptions stay valid, so the same notificationUrl can join again.
/// Answers `{"disconnected": <sockets on /notifications>}`.
async fn disconnect(State(state): State<AppState>) -> Json<Value> {
    let n = state.push.disconnect_all();
    state
        .control
        .event("fault-disconnect", format!("sockets={n}"));
    Json(json!({ "disconnected": n }))
}

/// `POST /_emulator/sockets/kill` — the transport vanishes: every socket.io TCP connection
/// is closed with `SO_LINGER` 0 (a TCP reset), with no websocket close frame and no
/// socket.io `41`. The server side notices as a transport error. Models a dropped NAT
/// mapping or a crashed front end. Answers `{"killed": <TCP connections>}`.
async fn kill(State(state): State<AppState>) -> Json<Value> {
    let n = state.push.connections.kill_socketio();
    state
        .control
        .event("fault-kill", format!("connections={n}"));
    Json(json!({ "killed": n }))
}

#[derive(Deserialize)]
struct StallBody {
    ms: u64,
}

/// `POST /_emulator/sockets/stall {"ms": N}` — every socket.io TCP connection goes silent
/// both ways for N ms: no pings reach the client, its pongs and messages do not reach the
/// server, notifications wait. Models a black-holed network or a server that stopped
/// pinging. If N exceeds pingInterval + pingTimeout, the server gives up on the socket on
/// its own (heartbeat timeout) and a good client has reconnected by then; shorter stalls
/// end with the queued traffic flowing again. Connections opened during the stall are not
/// affected. Logs `sockets-stalled` and `sockets-unstalled`.
/// Answers `{"stalled": <TCP connections>, "ms": N}`.
async fn stall(State(state): State<AppState>, body: Option<Json<StallBody>>) -> Response {
    let Some(Json(StallBody { ms })) = body else {
        return bad_request("expected {\"ms\": N}");
    };
    if ms > MAX_STALL_MS {
        return bad_request(format!("ms must be at most {MAX_STALL_MS}"));
    }
    let n = state
        .push
        .connections
        .stall_socketio(Duration::from_millis(ms));
    state
        .control
        .event("sockets-stalled", format!("connections={n} ms={ms}"));
    let weak = std::sync::Arc::downgrade(&state.0);
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(ms)).await;
        if let Some(state) = super::upgrade(&weak) {
            state
                .control
                .event("sockets-unstalled", format!("connections={n} ms={ms}"));
        }
    });
    Json(json!({ "stalled": n, "ms": ms })).into_response()
}

/// `POST /_emulator/sockets/hold` — for benchmarks: from now on, what the server writes
/// on every socket.io TCP connection is kept in the emulator's memory instead of being
/// sent, until `sockets/release`; the server goes on reading (pongs, packets). With a
/// burst sent meanwhile the whole burst is queued before the client reads any of it, so
/// the client then reads full socket buffers and its own cost is measured without the
/// server's pacing (bench/run's "queued" regime). Pings are held too: a hold longer than
/// pingTimeout ends with the server dropping the socket. Connections opened during the
/// hold are not affected. Logs `sockets-held`. Answers `{"held": <TCP connections>}`.
async fn hold(State(state): State<AppState>) -> Json<Value> {
    let n = state.push.connections.hold_socketio();
    state
        .control
        .event("sockets-held", format!("connections={n}"));
    Json(json!({ "held": n }))
}

/// `GET /_emulator/sockets/hold` — `{"held": <connections held or still sending what
/// they held>, "bytes": <bytes not sent yet>}`.
async fn held(State(state): State<AppState>) -> Json<Value> {
    let (n, bytes) = state.push.connections.held();
    Json(json!({ "held": n, "bytes": bytes }))
}

/// `POST /_emulator/sockets/release` — end every hold: what was held is sent first, as
/// fast as the client reads it, then everything written since. Logs `sockets-released`.
/// Answers `{"released": <TCP connections>, "bytes": <bytes held>}`.
async fn release(State(state): State<AppState>) -> Json<Value> {
    let (n, bytes) = state.push.connections.release_held();
    state
        .control
        .event("sockets-released", format!("connections={n} bytes={bytes}"));
    Json(json!({ "released": n, "bytes": bytes }))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct FlapBody {
    #[serde(default)]
    min_ms: Option<u64>,
    #[serde(default)]
    max_ms: Option<u64>,
    #[serde(default)]
    stop: bool,
}

/// Flaps faster than this are refused: they would test a busy loop, not a network.
const MIN_FLAP_MS: u64 = 100;

/// `POST /_emulator/sockets/flap {"minMs": A, "maxMs": B}` — links that keep dropping:
/// from now on, every A to B ms (uniformly at random) every socket.io link is dropped,
/// alternately by a transport kill (as `sockets/kill`) and a socket.io disconnect (as
/// `sockets/disconnect`); subscriptions stay valid, so a client can come straight back.
/// Models a flaky Wi-Fi or a load balancer that recycles connections. Each drop logs
/// `fault-flap` (`how=kill|disconnect dropped=N`). A new call replaces the schedule;
/// `{"stop": true}` ends it. Answers `{"flapping": bool, "minMs"?, "maxMs"?}`.
async fn flap(State(state): State<AppState>, body: Option<Json<FlapBody>>) -> Response {
    let usage = "expected {\"minMs\": A, \"maxMs\": B} or {\"stop\": true}";
    let Some(Json(body)) = body else {
        return bad_request(usage);
    };
    let previous = state.push.flapper.lock().unwrap().take();
    if let Some(task) = previous {
        task.abort();
    }
    if body.stop {
        state.control.event("flap-stopped", String::new());
        return Json(json!({ "flapping": false })).into_response();
    }
    let (Some(min), Some(max)) = (body.min_ms, body.max_ms) else {
        return bad_request(usage);
    };
    if !(MIN_FLAP_MS..=MAX_STALL_MS).contains(&min) || !(min..=MAX_STALL_MS).contains(&max) {
        return bad_request(format!(
            "need {MIN_FLAP_MS} <= minMs <= maxMs <= {MAX_STALL_MS}"
        ));
    }
    state
        .control
        .event("flap-started", format!("minMs={min} maxMs={max}"));
    let weak = std::sync::Arc::downgrade(&state.0);
    let task = tokio::spawn(async move {
        for round in 0u64.. {
            let wait = rand::random_range(min..=max);
            tokio::time::sleep(Duration::from_millis(wait)).await;
            let Some(state) = super::upgrade(&weak) else {
                return;
            };
            let (how, dropped) = if round % 2 == 0 {
                ("kill", state.push.connections.kill_socketio())
            } else {
                ("disconnect", state.push.disconnect_all())
            };
            state
                .control
                .event("fault-flap", format!("how={how} dropped={dropped}"));
        }
    });
    *state.push.flapper.lock().unwrap() = Some(task);
    Json(json!({ "flapping": true, "minMs": min, "maxMs": max })).into_response()
}

/// `POST /_emulator/subscriptions/expire` — every live subscription expires now, as at its
/// expirationDateTime: its sockets get `41` and a join with its token is refused (`44`).
/// A client must fetch a fresh endpoint. Answers `{"expired": <subscriptions>, "disconnected": <sockets>}`.
async fn expire(State(state): State<AppState>) -> Json<Value> {
    let (subs, sockets) = state.push.expire_all(&state);
    Json(json!({ "expired": subs, "disconnected": sockets }))
}

/// `GET /_emulator/subscriptions` — every subscription the emulator knows, without tokens:
/// `id` (the GUID notifications carry as `subscriptionId`), `endpointId` (the socketIo
/// answer's `id`), `user`, `key`, `resource`, `expirationDateTime`, `expired`, and
/// `sockets` (sockets joined with it now). Also `liveSockets` in all.
async fn list(State(state): State<AppState>) -> Json<Value> {
    let now = state.now();
    let mut subs: Vec<Value> = {
        let subs = state.push.subscriptions.lock().unwrap();
        subs.values()
            .map(|s| {
                json!({
                    "id": s.id,
                    "endpointId": s.endpoint_id,
                    "user": s.user_id,
                    "key": s.watched.key,
                    "resource": s.watched.resource_id,
                    "expirationDateTime": graph_time(s.expires_at),
                    "expired": !s.live(now),
                })
            })
            .collect()
    };
    for sub in &mut subs {
        let id = sub["id"].as_str().unwrap_or_default().to_string();
        sub["sockets"] = json!(state.push.sockets_of(&id).len());
    }
    subs.sort_by(|a, b| {
        a["expirationDateTime"]
            .as_str()
            .cmp(&b["expirationDateTime"].as_str())
    });
    Json(json!({
        "subscriptions": subs,
        "liveSockets": state.push.live_sockets(),
    }))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct BurstBody {
    count: u64,
    #[serde(default)]
    rate_per_sec: Option<f64>,
    #[serde(default)]
    key: Option<String>,
}

/// `POST /_emulator/burst {"count": N, "ratePerSec"?: R, "key"?: "drive:…"}` — for load and
/// latency tests: N `notification` events to every joined socket (or only those whose
/// subscription watches `key`), at R per second per socket or as fast as the socket
/// drains. Each payload element is the usual seven fields plus two emulator extensions:
/// `sequence` (1..N, in order on each socket) and `sentAt` (RFC 3339 with microseconds,
/// when the frame was queued). No delay and no duplicates apply. Answers at once, with
/// `{"sent": N, "sockets": <sockets>}`; `burst-done` in the log (and `notifications.sent`)
/// tells when each socket's share went out.
async fn burst(State(state): State<AppState>, body: Option<Json<BurstBody>>) -> Response {
    let Some(Json(body)) = body else {
        return bad_request("expected {\"count\": N, \"ratePerSec\"?: R, \"key\"?: K}");
    };
    if body.count > MAX_BURST {
        return bad_request(format!("count must be at most {MAX_BURST}"));
    }
    if let Some(rate) = body.rate_per_sec {
        if !(rate.is_finite() && rate >= MIN_RATE) {
            return bad_request(format!(
                "ratePerSec must be a number of at least {MIN_RATE}"
            ));
        }
    }
    let keys = body.key.clone().map(|k| vec![k]);
    let targets = state.push.targets(state.now(), keys.as_deref());
    let mut plan: Vec<(Target, SocketRef)> = Vec::new();
    for target in targets {
        for (_, socket) in state.push.sockets_of(&target.id) {
            plan.push((target.clone(), socket));
        }
    }
    let sockets = plan.len();
    state.control.event(
        "burst-started",
        format!(
            "count={} sockets={sockets} ratePerSec={}",
            body.count,
            body.rate_per_sec
                .map_or("max".to_string(), |r| r.to_string())
        ),
    );
    if body.count > 0 {
        for (target, socket) in plan {
            let state = state.clone();
            tokio::spawn(async move {
                let sent = send_burst(&target, &socket, body.count, body.rate_per_sec).await;
                state.control.add("notifications.sent", sent);
                state.control.event(
                    "burst-done",
                    format!(
                        "sid={} subscription={} sent={sent} of {}",
                        socket.id, target.id, body.count
                    ),
                );
            });
        }
    }
    Json(json!({ "sent": body.count, "sockets": sockets })).into_response()
}

/// Emit `count` numbered notifications on one socket; returns how many went out (fewer
/// only if the socket closed). When the socket's queue is full it waits for the writer to
/// drain it rather than dropping frames: a burst tests the client, not the queue.
async fn send_burst(target: &Target, socket: &SocketRef, count: u64, rate: Option<f64>) -> u64 {
    let start = Instant::now();
    for seq in 1..=count {
        if let Some(rate) = rate {
            let offset =
                Duration::try_from_secs_f64((seq - 1) as f64 / rate).unwrap_or(Duration::MAX);
            if let Some(due) = start.checked_add(offset) {
                if due > Instant::now() {
                    tokio::time::sleep_until(due.into()).await;
                }
            }
        } else if seq % 1024 == 0 {
            // Let the writer task and the rest of the server run on a busy runtime.
            tokio::task::yield_now().await;
        }
        loop {
            let sent_at = Utc::now().to_rfc3339_opts(SecondsFormat::Micros, true);
            let payload = target.payload(Some(seq), Some(sent_at));
            match socket.emit(EVENT, &payload) {
                Ok(()) => break,
                Err(SendError::Socket(SocketError::InternalChannelFull)) => {
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
                Err(_) => return seq - 1,
            }
        }
    }
    count
}
