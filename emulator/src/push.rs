//! socket.io subscriptions and notifications, as the live service does them
//! (`docs/graph-socketio.md` §1–3): the `subscriptions/socketIo` answer, a socket.io
//! server (Engine.IO 4, websocket only) whose `/notifications` namespace admits a socket
//! only with the token of a live subscription, and the `notification` event whose one
//! argument is a JSON *string*, sent with a delay and in duplicate like the real thing.
//!
//! Transport faults (kill, stall) live in [`crate::net`]; the control routes that pull
//! them, and the burst generator for load tests, are in [`routes`].

mod routes;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::Duration;

use base64::Engine as _;
use chrono::{DateTime, SecondsFormat, Utc};
use rand::RngCore as _;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use socketioxide::extract::SocketRef;
use socketioxide::handler::ConnectHandler as _;
use socketioxide::layer::SocketIoLayer;
use socketioxide::socket::{DisconnectReason, Sid};
use socketioxide::{SocketIo, TransportType};
use tokio::sync::Notify;

use crate::net::Connections;
use crate::{AppState, Inner};

pub use routes::control_router;

/// The socket.io namespace, and the path of every notificationUrl we hand out: the live
/// service uses `/notifications`, and clients must take the namespace from the URL.
pub const NAMESPACE: &str = "/notifications";

/// The event name the live service emits.
pub const EVENT: &str = "notification";

/// Frames queued per socket before an emit must wait. Large enough that duplicates and
/// ordinary bursts never wait; the burst generator waits for room beyond it.
const SOCKET_BUFFER: usize = 4096;

/// A century: longer lifetimes are taken as this one.
const MAX_LIFETIME_SECS: u64 = 100 * 365 * 86_400;

/// What a subscription watches and what a change touches, with the fields that the
/// notification payload carries for it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Watched {
    /// `drive:{driveId}` or `list:{listId}`; a library's drive and its list are two keys.
    pub key: String,
    /// The payload's `resource` (the underlying list id, as the live service sends).
    pub resource_id: String,
    /// The payload's `siteUrl` (server-relative, e.g. `/personal/adele_contoso_onmicrosoft_com`).
    pub site_url: String,
    /// The payload's `webId`.
    pub web_id: String,
}

/// One `subscriptions/socketIo` answer and the socket.io access it grants.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Subscription {
    /// A GUID: the payload's `subscriptionId`. The live payload carries a GUID while the
    /// socketIo answer's `id` is an opaque string, so the two are kept apart here too and
    /// a client cannot come to rely on them being equal.
    id: String,
    /// The socketIo answer's `id` (`opaqueId-…`).
    endpoint_id: String,
    user_id: String,
    watched: Watched,
    /// `system-managed:{GUID}`, as the live payload shows.
    client_state: String,
    /// The GUID in the notificationUrl's `applicationId`.
    application_id: String,
    /// Whole milliseconds, so the string handed out and the instant enforced agree.
    expires_at: DateTime<Utc>,
    /// The credential in the notificationUrl; never logged, never listed.
    token: String,
    #[serde(default)]
    expired: bool,
}

impl Subscription {
    fn live(&self, now: DateTime<Utc>) -> bool {
        !self.expired && now < self.expires_at
    }
}

/// A socket joined to `/notifications` and the subscription it came in with.
struct Joined {
    subscription: String,
    socket: SocketRef,
}

/// Why a join to `/notifications` is refused; the message goes to the client in `44`.
#[derive(Debug)]
enum Refusal {
    NoToken,
    UnknownToken,
    Expired(String),
    Closing,
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Refusal::NoToken => "Unauthorized: no token",
            Refusal::UnknownToken => "Unauthorized: invalid token",
            Refusal::Expired(_) => "Unauthorized: subscription expired",
            Refusal::Closing => "Server is shutting down",
        })
    }
}

pub struct Push {
    connections: Arc<Connections>,
    io: OnceLock<SocketIo>,
    /// By subscription id (the GUID).
    subscriptions: Mutex<HashMap<String, Subscription>>,
    joined: Mutex<HashMap<Sid, Joined>>,
    /// Wakes the expiry task when the earliest expiry may have moved.
    expiry_wake: Arc<Notify>,
    background: Mutex<Vec<tokio::task::JoinHandle<()>>>,
    /// The task of `POST /_emulator/sockets/flap`, while links flap.
    flapper: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl Default for Push {
    fn default() -> Self {
        Self::new()
    }
}

fn guid() -> String {
    uuid::Uuid::new_v4().to_string()
}

fn random_b64(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut buf);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(buf)
}

/// The live service writes instants like `2026-05-11T21:52:27.52Z`: a fraction with
/// trailing zeros dropped. Clients must cope with any fraction length, so we vary it too.
pub(crate) fn graph_time(t: DateTime<Utc>) -> String {
    let s = t.to_rfc3339_opts(SecondsFormat::Millis, true);
    let Some((head, frac)) = s.strip_suffix('Z').and_then(|s| s.split_once('.')) else {
        return s;
    };
    let frac = frac.trim_end_matches('0');
    if frac.is_empty() {
        format!("{head}Z")
    } else {
        format!("{head}.{frac}Z")
    }
}

/// `now` in whole milliseconds.
fn whole_millis(now: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(now.timestamp_millis()).unwrap_or(now)
}

fn token_of(socket: &SocketRef) -> Option<String> {
    let query = socket.req_parts().uri.query()?;
    url::form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == "token")
        .map(|(_, v)| v.into_owned())
}

/// The state behind a weak handle, for handlers that the state itself owns (the socket.io
/// server lives in `Push`, inside the state): a strong handle there would be a cycle.
fn upgrade(weak: &Weak<Inner>) -> Option<AppState> {
    weak.upgrade().map(AppState)
}

/// One element of the payload's `value` array, fields in the live order.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Element<'a> {
    subscription_id: &'a str,
    client_state: &'a str,
    expiration_date_time: String,
    resource: &'a str,
    tenant_id: &'a str,
    site_url: &'a str,
    web_id: &'a str,
    /// Emulator extension, only in bursts: 1..N per socket.
    #[serde(skip_serializing_if = "Option::is_none")]
    sequence: Option<u64>,
    /// Emulator extension, only in bursts: when the frame was queued, RFC 3339 with µs.
    #[serde(skip_serializing_if = "Option::is_none")]
    sent_at: Option<String>,
}

#[derive(Serialize)]
struct Payload<'a> {
    value: [Element<'a>; 1],
}

/// What a notification needs from a subscription, detached from the lock.
#[derive(Clone)]
struct Target {
    id: String,
    client_state: String,
    expiration: String,
    watched: Watched,
}

impl Target {
    fn of(sub: &Subscription) -> Target {
        Target {
            id: sub.id.clone(),
            client_state: sub.client_state.clone(),
            expiration: graph_time(sub.expires_at),
            watched: sub.watched.clone(),
        }
    }

    /// The event argument: `{"value":[…]}` serialised to a string, which socket.io then
    /// serialises again — the double encoding clients must undo.
    fn payload(&self, sequence: Option<u64>, sent_at: Option<String>) -> String {
        let payload = Payload {
            value: [Element {
                subscription_id: &self.id,
                client_state: &self.client_state,
                expiration_date_time: self.expiration.clone(),
                resource: &self.watched.resource_id,
                tenant_id: crate::seed::TENANT_ID,
                site_url: &self.watched.site_url,
                web_id: &self.watched.web_id,
                sequence,
                sent_at,
            }],
        };
        serde_json::to_string(&payload).unwrap_or_default()
    }
}

impl Push {
    pub fn new() -> Self {
        Push {
            connections: Arc::new(Connections::default()),
            io: OnceLock::new(),
            subscriptions: Mutex::new(HashMap::new()),
            joined: Mutex::new(HashMap::new()),
            expiry_wake: Arc::new(Notify::new()),
            background: Mutex::new(Vec::new()),
            flapper: Mutex::new(None),
        }
    }

    pub fn connections(&self) -> Arc<Connections> {
        self.connections.clone()
    }

    /// Create a subscription for `user_id` on `watched`; returns the
    /// `microsoft.graph.subscription` object (id, notificationUrl, expirationDateTime).
    pub fn subscribe(&self, state: &AppState, user_id: &str, watched: Watched) -> Value {
        // Clamped so that a wild setting cannot overflow the date arithmetic.
        let lifetime = state
            .settings()
            .subscription_lifetime_secs
            .min(MAX_LIFETIME_SECS);
        // The service's clock (`clockSkewSecs`), as the live service uses its own.
        let expires_at = whole_millis(state.now()) + chrono::Duration::seconds(lifetime as i64);
        let sub = Subscription {
            id: guid(),
            endpoint_id: format!("opaqueId-{}", random_b64(48)),
            user_id: user_id.to_string(),
            client_state: format!("system-managed:{}", guid().to_uppercase()),
            application_id: guid(),
            expires_at,
            token: format!("w1-{}", random_b64(48)),
            expired: false,
            watched,
        };
        let answer = json!({
            "@odata.context": format!("{}/v1.0/$metadata#microsoft.graph.subscription", state.base_url),
            "id": sub.endpoint_id,
            "notificationUrl": format!(
                "{}{NAMESPACE}?token={}&applicationId={}",
                state.base_url, sub.token, sub.application_id
            ),
            "expirationDateTime": graph_time(sub.expires_at),
        });
        state.control.incr("subscriptions.created");
        state.control.event(
            "subscription-created",
            format!(
                "subscription={} key={} expires={}",
                sub.id,
                sub.watched.key,
                graph_time(sub.expires_at)
            ),
        );
        self.subscriptions
            .lock()
            .unwrap()
            .insert(sub.id.clone(), sub);
        self.expiry_wake.notify_one();
        state.mark_dirty();
        answer
    }

    /// Live subscriptions at `now` (the service's clock), of `keys` if given.
    fn targets(&self, now: DateTime<Utc>, keys: Option<&[String]>) -> Vec<Target> {
        self.subscriptions
            .lock()
            .unwrap()
            .values()
            .filter(|s| s.live(now))
            .filter(|s| keys.is_none_or(|keys| keys.contains(&s.watched.key)))
            .map(Target::of)
            .collect()
    }

    fn target(&self, now: DateTime<Utc>, id: &str) -> Option<Target> {
        self.subscriptions
            .lock()
            .unwrap()
            .get(id)
            .filter(|s| s.live(now))
            .map(Target::of)
    }

    /// Sockets currently joined for subscription `id`.
    fn sockets_of(&self, id: &str) -> Vec<(Sid, SocketRef)> {
        self.joined
            .lock()
            .unwrap()
            .iter()
            .filter(|(_, j)| j.subscription == id && j.socket.connected())
            .map(|(sid, j)| (*sid, j.socket.clone()))
            .collect()
    }

    /// A change touched these keys: notify every socket whose subscription watches one.
    ///
    /// Returns at once; the notification goes out after `notifyDelayMs`, as many times as
    /// `notifyDuplicates` says, because the live service is slow and repeats itself.
    pub fn changed(&self, state: &AppState, keys: &[String]) {
        let ids: Vec<String> = self
            .targets(state.now(), Some(keys))
            .into_iter()
            .map(|t| t.id)
            .collect();
        if ids.is_empty() {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            tracing::warn!("change notification dropped: no async runtime");
            return;
        };
        let settings = state.settings();
        let state = state.clone();
        runtime.spawn(async move {
            tokio::time::sleep(Duration::from_millis(settings.notify_delay_ms)).await;
            for _ in 0..settings.notify_duplicates {
                for id in &ids {
                    // Built at send time: a subscription that expired meanwhile stays silent.
                    let Some(target) = state.push.target(state.now(), id) else {
                        continue;
                    };
                    let payload = target.payload(None, None);
                    for (sid, socket) in state.push.sockets_of(id) {
                        match socket.emit(EVENT, &payload) {
                            Ok(()) => {
                                state.control.incr("notifications.sent");
                                state.control.event(
                                    "notification-sent",
                                    format!("sid={sid} subscription={id}"),
                                );
                            }
                            Err(e) => {
                                state.control.incr("notifications.dropped");
                                state.control.event(
                                    "notification-dropped",
                                    format!("sid={sid} subscription={id} error={e}"),
                                );
                            }
                        }
                    }
                }
            }
        });
    }

    /// Sockets currently joined to `/notifications`.
    pub fn live_sockets(&self) -> usize {
        self.joined
            .lock()
            .unwrap()
            .values()
            .filter(|j| j.socket.connected())
            .count()
    }

    /// Disconnect every socket, stop the expiry task and end whatever transport is left.
    pub async fn close(&self) {
        for task in self.background.lock().unwrap().drain(..) {
            task.abort();
        }
        if let Some(task) = self.flapper.lock().unwrap().take() {
            task.abort();
        }
        // A stalled connection would hold up the graceful close below.
        self.connections.unstall_all();
        self.connections.release_held();
        if let Some(io) = self.io.get() {
            let _ = tokio::time::timeout(Duration::from_secs(2), io.close()).await;
        }
        self.connections.kill_socketio();
        self.joined.lock().unwrap().clear();
    }

    /// The settings changed (the clock may have moved): look at the expiries again.
    pub fn settings_changed(&self) {
        self.expiry_wake.notify_one();
    }

    pub fn start_background(&self, state: &AppState) {
        let weak = Arc::downgrade(&state.0);
        let wake = self.expiry_wake.clone();
        let task = tokio::spawn(async move {
            loop {
                let next = {
                    let Some(state) = upgrade(&weak) else { break };
                    state.push.expire_due(&state)
                };
                let wait = next
                    .and_then(|t| {
                        let now = upgrade(&weak)?.now();
                        (t - now).to_std().ok()
                    })
                    .unwrap_or(Duration::from_secs(3600));
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    _ = wake.notified() => {}
                }
            }
        });
        self.background.lock().unwrap().push(task);
    }

    /// Expire what is due and return the next expiry still ahead.
    fn expire_due(&self, state: &AppState) -> Option<DateTime<Utc>> {
        let now = state.now();
        let due: Vec<String> = self
            .subscriptions
            .lock()
            .unwrap()
            .values()
            .filter(|s| !s.expired && s.expires_at <= now)
            .map(|s| s.id.clone())
            .collect();
        for id in due {
            self.expire(state, &id, "expired");
        }
        self.subscriptions
            .lock()
            .unwrap()
            .values()
            .filter(|s| !s.expired)
            .map(|s| s.expires_at)
            .min()
    }

    /// Mark one subscription expired and disconnect its sockets; returns how many.
    fn expire(&self, state: &AppState, id: &str, why: &str) -> usize {
        {
            let mut subs = self.subscriptions.lock().unwrap();
            let Some(sub) = subs.get_mut(id) else {
                return 0;
            };
            if sub.expired {
                return 0;
            }
            sub.expired = true;
        }
        let sockets = self.sockets_of(id);
        state.control.incr("subscriptions.expired");
        state.control.event(
            "subscription-expired",
            format!("subscription={id} reason={why} sockets={}", sockets.len()),
        );
        for (sid, socket) in &sockets {
            self.disconnect_socket(*sid, socket.clone());
        }
        state.mark_dirty();
        sockets.len()
    }

    /// Expire every live subscription now; returns (subscriptions, sockets) affected.
    fn expire_all(&self, state: &AppState) -> (usize, usize) {
        let ids: Vec<String> = self
            .subscriptions
            .lock()
            .unwrap()
            .values()
            .filter(|s| !s.expired)
            .map(|s| s.id.clone())
            .collect();
        let sockets = ids.iter().map(|id| self.expire(state, id, "forced")).sum();
        self.expiry_wake.notify_one();
        (ids.len(), sockets)
    }

    /// socket.io disconnect (`41`) on `/notifications` and on the same client's `/`, so a
    /// socket.io client sees "io server disconnect" and closes its engine.
    fn disconnect_socket(&self, sid: Sid, socket: SocketRef) {
        let _ = socket.disconnect();
        if let Some(root) = self
            .io
            .get()
            .and_then(|io| io.of("/"))
            .and_then(|op| op.get_socket(sid))
        {
            let _ = root.disconnect();
        }
    }

    /// `41` on every socket of every namespace; returns how many `/notifications` sockets.
    fn disconnect_all(&self) -> usize {
        let joined: Vec<(Sid, SocketRef)> = self
            .joined
            .lock()
            .unwrap()
            .iter()
            .filter(|(_, j)| j.socket.connected())
            .map(|(sid, j)| (*sid, j.socket.clone()))
            .collect();
        for (sid, socket) in &joined {
            self.disconnect_socket(*sid, socket.clone());
        }
        // Clients that joined only `/` (or not yet `/notifications`) are dropped as well.
        if let Some(root) = self.io.get().and_then(|io| io.of("/")) {
            for socket in root.sockets() {
                let _ = socket.disconnect();
            }
        }
        joined.len()
    }

    /// The join check for `/notifications`: the query's token must name a live
    /// subscription. An admitted socket is tied to it here, in socketioxide's connect
    /// middleware, i.e. *before* the `40/notifications,{…}` answer is sent: a client that
    /// acts on the join at once (a control request right after it) then always finds its
    /// socket. socketioxide runs the connect handler only after sending the answer, so
    /// registering there lost a race with a fast client.
    fn admit(&self, state: &AppState, socket: &SocketRef) -> Result<(), Refusal> {
        let verdict = match token_of(socket) {
            None => Err(Refusal::NoToken),
            Some(token) => {
                let now = state.now();
                let subs = self.subscriptions.lock().unwrap();
                match subs.values().find(|s| s.token == token) {
                    None => Err(Refusal::UnknownToken),
                    Some(s) if !s.live(now) => Err(Refusal::Expired(s.id.clone())),
                    Some(s) => Ok(s.id.clone()),
                }
            }
        };
        let verdict = verdict.map(|sub| self.join(state, socket.clone(), sub));
        if let Err(why) = &verdict {
            state.control.incr("sockets.refused");
            let sub = match why {
                Refusal::Expired(id) => format!(" subscription={id}"),
                _ => String::new(),
            };
            state.control.event(
                "socket-refused",
                format!("sid={} reason={why}{sub}", socket.id),
            );
        }
        verdict
    }

    /// A socket passed [`Push::admit`]: tie it to its subscription `sub`.
    fn join(&self, state: &AppState, socket: SocketRef, sub: String) {
        let sid = socket.id;
        let weak = Arc::downgrade(&state.0);
        socket.on_disconnect(move |s: SocketRef, reason: DisconnectReason| async move {
            if let Some(state) = upgrade(&weak) {
                let sub = state
                    .push
                    .joined
                    .lock()
                    .unwrap()
                    .remove(&s.id)
                    .map(|j| j.subscription)
                    .unwrap_or_default();
                state.control.incr("sockets.disconnected");
                state.control.event(
                    "socket-disconnected",
                    format!("sid={} subscription={sub} reason={reason:?}", s.id),
                );
            }
        });
        self.joined.lock().unwrap().insert(
            sid,
            Joined {
                subscription: sub.clone(),
                socket,
            },
        );
        state.control.incr("sockets.connected");
        state
            .control
            .event("socket-connected", format!("sid={sid} subscription={sub}"));
    }

    pub fn snapshot(&self) -> Value {
        let subs: Vec<Subscription> = self
            .subscriptions
            .lock()
            .unwrap()
            .values()
            .cloned()
            .collect();
        json!({ "subscriptions": subs })
    }

    pub fn restore(&self, saved: &Value) -> anyhow::Result<()> {
        if saved.is_null() {
            return Ok(());
        }
        let subs: Vec<Subscription> = serde_json::from_value(
            saved
                .get("subscriptions")
                .cloned()
                .unwrap_or(Value::Array(vec![])),
        )?;
        let mut map = self.subscriptions.lock().unwrap();
        map.clear();
        map.extend(subs.into_iter().map(|s| (s.id.clone(), s)));
        drop(map);
        self.expiry_wake.notify_one();
        Ok(())
    }
}

/// The socket.io server: Engine.IO 4 over websocket only (the live host refuses long
/// polling), ping values from the command line, `/` open to all, `/notifications` gated
/// by the subscription token.
pub fn layer(state: &AppState) -> SocketIoLayer {
    let (layer, io) = SocketIo::builder()
        .ping_interval(state.args.ping_interval())
        .ping_timeout(state.args.ping_timeout())
        .transports([TransportType::Websocket])
        .max_buffer_size(SOCKET_BUFFER)
        .build_layer();

    io.ns("/", async |_: SocketRef| {});

    let admit_weak = Arc::downgrade(&state.0);
    let admit = move |socket: SocketRef| async move {
        match upgrade(&admit_weak) {
            Some(state) => state.push.admit(&state, &socket),
            None => Err(Refusal::Closing),
        }
    };
    // Everything happens in `admit`, before the join is answered (see there).
    let on_join = async |_: SocketRef| {};
    io.ns(NAMESPACE, on_join.with(admit));

    if state.push.io.set(io).is_err() {
        tracing::warn!("socket.io server built twice; the first one stays in charge");
    }
    layer
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn graph_time_drops_trailing_zeros_like_the_live_service() {
        let t = |ms: i64| graph_time(DateTime::from_timestamp_millis(ms).unwrap());
        assert_eq!(t(1_778_536_347_520), "2026-05-11T21:52:27.52Z");
        assert_eq!(t(1_778_536_347_000), "2026-05-11T21:52:27Z");
        assert_eq!(t(1_778_536_347_001), "2026-05-11T21:52:27.001Z");
    }

    #[test]
    fn payload_is_a_string_of_json_with_the_live_field_order() {
        let target = Target {
            id: "s".into(),
            client_state: "system-managed:C".into(),
            expiration: "2026-05-11T21:52:27.52Z".into(),
            watched: Watched {
                key: "drive:d".into(),
                resource_id: "r".into(),
                site_url: "/personal/a".into(),
                web_id: "w".into(),
            },
        };
        assert_eq!(
            target.payload(None, None),
            format!(
                "{{\"value\":[{{\"subscriptionId\":\"s\",\"clientState\":\"system-managed:C\",\
                 \"expirationDateTime\":\"2026-05-11T21:52:27.52Z\",\"resource\":\"r\",\
                 \"tenantId\":\"{}\",\"siteUrl\":\"/personal/a\",\"webId\":\"w\"}}]}}",
                crate::seed::TENANT_ID
            )
        );
    }
}
