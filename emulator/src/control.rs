//! The emulator's own side door under `/_emulator/`: injected failures per route class,
//! counters, the request/event log (secrets redacted) and run-time settings.
//!
//! Tests read these instead of timing the wall clock: "how many delta rounds did the
//! client make", "when did the emulator stop pinging and when did the client come back".

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Mutex;

use axum::body::Bytes;
use axum::extract::{Query, Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::error::{GraphError, OAuthError};
use crate::AppState;

/// Which family of routes a request belongs to; faults and counters are kept per class.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RouteClass {
    /// `POST /{tenant}/oauth2/v2.0/devicecode`
    Devicecode,
    /// `POST /{tenant}/oauth2/v2.0/token`
    Token,
    /// `GET …/subscriptions/socketIo`
    Socketio,
    /// `GET …/delta`
    Delta,
    /// Any other Graph route under `/v1.0/`
    Graph,
    /// The socket.io transport itself (`/socket.io/`)
    Transport,
    /// `/_emulator/…` and everything else (never faulted)
    Other,
}

impl RouteClass {
    pub fn of(path: &str) -> RouteClass {
        if path.starts_with("/_emulator/") {
            RouteClass::Other
        } else if path.starts_with("/socket.io") {
            RouteClass::Transport
        } else if path.starts_with("/v1.0/") {
            let lower = path.to_ascii_lowercase();
            if lower.ends_with("/subscriptions/socketio") {
                RouteClass::Socketio
            } else if lower.ends_with("/delta") || lower.contains("/delta(") {
                RouteClass::Delta
            } else {
                RouteClass::Graph
            }
        } else if path.ends_with("/oauth2/v2.0/token") {
            RouteClass::Token
        } else if path.ends_with("/oauth2/v2.0/devicecode") {
            RouteClass::Devicecode
        } else {
            RouteClass::Other
        }
    }

    fn name(self) -> &'static str {
        match self {
            RouteClass::Devicecode => "devicecode",
            RouteClass::Token => "token",
            RouteClass::Socketio => "socketio",
            RouteClass::Delta => "delta",
            RouteClass::Graph => "graph",
            RouteClass::Transport => "transport",
            RouteClass::Other => "other",
        }
    }
}

/// A failure armed for the next `remaining` requests of one route class.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Fault {
    pub route: RouteClass,
    pub status: u16,
    #[serde(default = "one")]
    pub count: u32,
    /// Seconds for the `Retry-After` header.
    #[serde(default)]
    pub retry_after: Option<u64>,
    /// Only requests whose path contains this (e.g. one target's list id) fail; the
    /// others of the class pass and do not use up `count`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path_contains: Option<String>,
}

fn one() -> u32 {
    1
}

/// One line of the event log. Paths have secret query values replaced by `REDACTED`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LogEntry {
    pub seq: u64,
    /// RFC 3339 with microseconds.
    pub time: String,
    /// Milliseconds since the emulator started (monotonic; for measuring bounds).
    pub elapsed_ms: f64,
    pub kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub route: Option<RouteClass>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

const LOG_CAPACITY: usize = 100_000;

/// Faults, counters and the log. Cheap to call from every handler.
pub struct Control {
    started: std::time::Instant,
    faults: Mutex<HashMap<RouteClass, Fault>>,
    counters: Mutex<BTreeMap<String, u64>>,
    log: Mutex<(u64, VecDeque<LogEntry>)>,
}

impl Default for Control {
    fn default() -> Self {
        Self::new()
    }
}

impl Control {
    pub fn new() -> Self {
        Control {
            started: std::time::Instant::now(),
            faults: Mutex::new(HashMap::new()),
            counters: Mutex::new(BTreeMap::new()),
            log: Mutex::new((0, VecDeque::new())),
        }
    }

    /// Add one to a named counter (`requests.delta`, `grants.refresh_token`, …).
    pub fn incr(&self, key: &str) {
        self.add(key, 1);
    }

    pub fn add(&self, key: &str, n: u64) {
        let mut counters = self.counters.lock().unwrap();
        *counters.entry(key.to_string()).or_insert(0) += n;
    }

    pub fn counter(&self, key: &str) -> u64 {
        self.counters.lock().unwrap().get(key).copied().unwrap_or(0)
    }

    /// Record an event that is not a request (socket connected, pings stopped, …).
    pub fn event(&self, kind: &str, detail: impl Into<String>) {
        self.push_log(LogEntry {
            kind: kind.to_string(),
            detail: Some(detail.into()),
            ..self.blank_entry()
        });
    }

    fn blank_entry(&self) -> LogEntry {
        LogEntry {
            seq: 0,
            time: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
            elapsed_ms: self.started.elapsed().as_secs_f64() * 1000.0,
            kind: String::new(),
            route: None,
            method: None,
            path: None,
            status: None,
            detail: None,
        }
    }

    fn push_log(&self, mut entry: LogEntry) {
        let mut log = self.log.lock().unwrap();
        log.0 += 1;
        entry.seq = log.0;
        if log.1.len() == LOG_CAPACITY {
            log.1.pop_front();
        }
        log.1.push_back(entry);
    }

    /// Log entries with `seq > since`.
    pub fn log_since(&self, since: u64) -> Vec<LogEntry> {
        let log = self.log.lock().unwrap();
        log.1.iter().filter(|e| e.seq > since).cloned().collect()
    }

    pub fn arm(&self, fault: Fault) {
        self.event(
            "fault-armed",
            format!(
                "{} x{} -> {}{}",
                fault.route.name(),
                fault.count,
                fault.status,
                fault
                    .path_contains
                    .as_deref()
                    .map(|p| format!(" (paths containing {p:?})"))
                    .unwrap_or_default()
            ),
        );
        self.faults.lock().unwrap().insert(fault.route, fault);
    }

    /// Take one use of the fault armed for `route` that applies to `path`, if any.
    fn take(&self, route: RouteClass, path: &str) -> Option<Fault> {
        let mut faults = self.faults.lock().unwrap();
        let fault = faults.get_mut(&route)?;
        if fault
            .path_contains
            .as_deref()
            .is_some_and(|part| !path.contains(part))
        {
            return None;
        }
        let taken = fault.clone();
        fault.count = fault.count.saturating_sub(1);
        if fault.count == 0 {
            faults.remove(&route);
        }
        Some(taken)
    }

    pub fn clear_faults(&self) {
        self.faults.lock().unwrap().clear();
    }

    pub fn counters(&self) -> BTreeMap<String, u64> {
        self.counters.lock().unwrap().clone()
    }
}

/// Query parameters whose values are credentials or cursors of credentials.
const SECRET_PARAMS: &[&str] = &[
    "token",
    "code",
    "device_code",
    "refresh_token",
    "access_token",
];

/// The path and query with secret values replaced, safe for the log. The cursor of the
/// `delta(token='…')` function form is in the path, and is replaced like `?token=`.
pub fn redact(path: &str, query: Option<&str>) -> String {
    let path = redact_function_token(path);
    let Some(query) = query else {
        return path;
    };
    let redacted: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((k, _)) if SECRET_PARAMS.contains(&k.to_ascii_lowercase().as_str()) => {
                format!("{k}=REDACTED")
            }
            _ => pair.to_string(),
        })
        .collect();
    format!("{path}?{}", redacted.join("&"))
}

fn redact_function_token(path: &str) -> String {
    const MARK: &str = "(token=";
    // ASCII lowercasing keeps byte offsets, so they index `path` too.
    let Some(at) = path.to_ascii_lowercase().find(MARK) else {
        return path.to_string();
    };
    let start = at + MARK.len();
    let end = path[start..].find(')').map_or(path.len(), |i| start + i);
    format!("{}REDACTED{}", &path[..start], &path[end..])
}

/// Middleware on every request: count it, log it, and answer with an armed fault instead
/// of the real handler when one is due.
pub async fn observe(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let route = RouteClass::of(request.uri().path());
    let method = request.method().clone();
    let path = redact(request.uri().path(), request.uri().query());
    state.control.incr(&format!("requests.{}", route.name()));
    state.control.incr("requests.total");

    let faulted = if route == RouteClass::Other || method == Method::OPTIONS {
        None
    } else {
        state.control.take(route, request.uri().path())
    };
    let was_faulted = faulted.is_some();
    let mut response = match faulted {
        Some(fault) => {
            state.control.incr(&format!("faults.{}", route.name()));
            match route {
                RouteClass::Token | RouteClass::Devicecode => {
                    OAuthError::injected(fault.status, fault.retry_after).into_response()
                }
                _ => GraphError::injected(fault.status, fault.retry_after).into_response(),
            }
        }
        None => next.run(request).await,
    };
    // The service's clock, as every live answer carries it (RFC 9110 §6.6.1); clients
    // may time subscriptions by it rather than by their own clock.
    if let Ok(date) = HeaderValue::from_str(&http_date(state.now())) {
        response.headers_mut().insert(header::DATE, date);
    }
    state.control.push_log(LogEntry {
        kind: if was_faulted { "fault" } else { "request" }.to_string(),
        route: Some(route),
        method: Some(method.to_string()),
        path: Some(path),
        status: Some(response.status().as_u16()),
        ..state.control.blank_entry()
    });
    response
}

/// An HTTP date (IMF-fixdate): `Sun, 06 Nov 1994 08:49:37 GMT`.
fn http_date(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%a, %d %b %Y %H:%M:%S GMT").to_string()
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/_emulator/faults/fail", post(arm_fault))
        .route("/_emulator/faults/clear", post(clear_faults))
        .route("/_emulator/stats", get(stats))
        .route("/_emulator/log", get(log))
        .route(
            "/_emulator/settings",
            get(get_settings).patch(patch_settings),
        )
}

fn bad_request(message: impl Into<String>) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({ "error": message.into() })),
    )
        .into_response()
}

/// Any body that is not a valid fault is a 400 with a JSON reason (not axum's 415/422),
/// whatever the content type, so `curl -d` works as documented.
async fn arm_fault(State(state): State<AppState>, body: Bytes) -> Response {
    let fault: Fault = match serde_json::from_slice(&body) {
        Ok(fault) => fault,
        Err(e) => {
            return bad_request(format!(
            "expected {{\"route\": R, \"status\": S, \"count\"?: N, \"retryAfter\"?: SECS}}: {e}"
        ))
        }
    };
    if fault.count == 0 {
        return bad_request("count must be at least 1");
    }
    if !matches!(fault.status, 400 | 401 | 403 | 404 | 410 | 429 | 500 | 503) {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": "status must be one of 400, 401, 403, 404, 410, 429, 500, 503"})),
        )
            .into_response();
    }
    if fault.route == RouteClass::Other {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": "route must be one of devicecode, token, socketio, delta, graph, transport"})),
        )
            .into_response();
    }
    state.control.arm(fault.clone());
    Json(json!({"armed": fault})).into_response()
}

async fn clear_faults(State(state): State<AppState>) -> Json<Value> {
    state.control.clear_faults();
    Json(json!({"cleared": true}))
}

async fn stats(State(state): State<AppState>) -> Json<Value> {
    Json(json!({
        "liveSockets": state.push.live_sockets(),
        "counters": state.control.counters(),
    }))
}

#[derive(Deserialize)]
struct LogQuery {
    #[serde(default)]
    since: u64,
}

async fn log(State(state): State<AppState>, Query(q): Query<LogQuery>) -> Json<Value> {
    Json(json!({ "entries": state.control.log_since(q.since) }))
}

async fn get_settings(State(state): State<AppState>) -> Json<Value> {
    Json(serde_json::to_value(state.settings()).unwrap_or(Value::Null))
}

async fn patch_settings(State(state): State<AppState>, body: Bytes) -> Response {
    let Ok(patch) = serde_json::from_slice::<Value>(&body) else {
        return bad_request("expected a JSON object");
    };
    let mut current = serde_json::to_value(state.settings()).unwrap_or(Value::Null);
    let (Some(target), Some(changes)) = (current.as_object_mut(), patch.as_object()) else {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": "expected a JSON object"})),
        )
            .into_response();
    };
    for (k, v) in changes {
        if !target.contains_key(k) {
            return (
                StatusCode::BAD_REQUEST,
                Json(json!({"error": format!("unknown setting {k:?}")})),
            )
                .into_response();
        }
        target.insert(k.clone(), v.clone());
    }
    match serde_json::from_value(current) {
        Ok(settings) => {
            state.set_settings(settings);
            state.control.event("settings", patch.to_string());
            Json(serde_json::to_value(state.settings()).unwrap_or(Value::Null)).into_response()
        }
        Err(e) => (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": e.to_string()})),
        )
            .into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_dates_are_imf_fixdates() {
        let t = chrono::DateTime::from_timestamp(784_111_777, 0).unwrap();
        assert_eq!(http_date(t), "Sun, 06 Nov 1994 08:49:37 GMT");
    }

    #[test]
    fn classifies_routes() {
        assert_eq!(
            RouteClass::of("/common/oauth2/v2.0/token"),
            RouteClass::Token
        );
        assert_eq!(
            RouteClass::of("/common/oauth2/v2.0/devicecode"),
            RouteClass::Devicecode
        );
        assert_eq!(
            RouteClass::of("/v1.0/me/drive/root/subscriptions/socketIo"),
            RouteClass::Socketio
        );
        assert_eq!(
            RouteClass::of("/v1.0/drives/b!x/root/delta"),
            RouteClass::Delta
        );
        assert_eq!(RouteClass::of("/v1.0/me"), RouteClass::Graph);
        assert_eq!(RouteClass::of("/socket.io/"), RouteClass::Transport);
        assert_eq!(RouteClass::of("/_emulator/stats"), RouteClass::Other);
    }

    #[test]
    fn redacts_secret_query_values() {
        assert_eq!(
            redact(
                "/socket.io/",
                Some("EIO=4&transport=websocket&token=w1-abc&applicationId=x")
            ),
            "/socket.io/?EIO=4&transport=websocket&token=REDACTED&applicationId=x"
        );
        assert_eq!(redact("/v1.0/me", None), "/v1.0/me");
        assert_eq!(
            redact("/v1.0/me/drive/root/delta(token='abc')", Some("$select=id")),
            "/v1.0/me/drive/root/delta(token=REDACTED)?$select=id"
        );
        assert_eq!(
            redact("/v1.0/drives/d/root/Delta(Token=abc", None),
            "/v1.0/drives/d/root/Delta(Token=REDACTED"
        );
    }

    #[test]
    fn faults_count_down() {
        let control = Control::new();
        control.arm(Fault {
            route: RouteClass::Delta,
            status: 429,
            count: 2,
            retry_after: Some(3),
            path_contains: None,
        });
        assert_eq!(
            control.take(RouteClass::Delta, "/d").unwrap().retry_after,
            Some(3)
        );
        assert!(control.take(RouteClass::Graph, "/d").is_none());
        assert!(control.take(RouteClass::Delta, "/d").is_some());
        assert!(control.take(RouteClass::Delta, "/d").is_none());
    }

    #[test]
    fn a_fault_for_some_paths_leaves_the_others_alone() {
        let control = Control::new();
        control.arm(Fault {
            route: RouteClass::Socketio,
            status: 400,
            count: 1,
            retry_after: None,
            path_contains: Some("list-issues".into()),
        });
        let drive = "/v1.0/me/drive/root/subscriptions/socketIo";
        let list = "/v1.0/sites/site-eng/lists/list-issues/subscriptions/socketIo";
        assert!(control.take(RouteClass::Socketio, drive).is_none());
        assert!(control.take(RouteClass::Socketio, list).is_some());
        assert!(
            control.take(RouteClass::Socketio, list).is_none(),
            "used up"
        );
    }
}
