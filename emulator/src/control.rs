//! The emulator's own side door under `/_emulator/`: injected failures per route class,
//! counters, the request/event log (secrets redacted) and run-time settings.
//!
//! Tests read these instead of timing the wall clock: "how many delta rounds did the
//! client make", "when did the emulator stop pinging and when did the client come back".

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
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
use crate::store::{Owner, Stamp};
use crate::{seed, AppState};

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

/// A hostile delta server, armed with `POST /_emulator/faults/pages` (cleared with
/// `faults/clear`): the next `count` delta rounds get pages that never reach an
/// `@odata.deltaLink`. A round starts with any delta request whose token is not one of
/// these pages' own (a cursor, `latest`, none); the links of a hostile round are
/// answered until the fault is cleared (after that they are unknown cursors: 410).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PageFault {
    pub mode: PageMode,
    /// Rounds to start hostile.
    #[serde(default = "one")]
    pub count: u32,
    /// `endless`: new items on each page (ids never seen before).
    #[serde(default = "default_items_per_page")]
    pub items_per_page: usize,
    /// `endless`: this many more bytes in each item (a `description` of `x`), to make
    /// items the size of the live service's (about 1.5 KB) or larger.
    #[serde(default)]
    pub padding: usize,
    /// Only delta requests whose path contains this (one target's id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path_contains: Option<String>,
}

fn default_items_per_page() -> usize {
    200
}

/// The most `itemsPerPage` an endless fault may ask for.
const MAX_ITEMS_PER_PAGE: usize = 10_000;
/// The most `padding` an endless fault may ask for (pages stay under 1 GiB).
const MAX_PADDING: usize = 64 << 10;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PageMode {
    /// The round's first page links to A, A to B, B back to A: `@odata.nextLink` loops.
    Loop,
    /// Every page links to a new one and carries `itemsPerPage` new items, for ever.
    Endless,
}

/// The cursor of a hostile page: what the `token` of its link says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum HostileToken {
    LoopA,
    LoopB,
    Endless { round: u64, page: u64 },
}

impl HostileToken {
    fn parse(token: &str) -> Option<HostileToken> {
        match token {
            "loop-a" => Some(HostileToken::LoopA),
            "loop-b" => Some(HostileToken::LoopB),
            _ => {
                let rest = token.strip_prefix("endless-")?;
                let (round, page) = rest.split_once('-')?;
                Some(HostileToken::Endless {
                    round: round.parse().ok()?,
                    page: page.parse().ok()?,
                })
            }
        }
    }

    fn encode(self) -> String {
        match self {
            HostileToken::LoopA => "loop-a".into(),
            HostileToken::LoopB => "loop-b".into(),
            HostileToken::Endless { round, page } => format!("endless-{round}-{page}"),
        }
    }
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
    /// The armed hostile delta server, and how many endless rounds it has started.
    pages: Mutex<(Option<PageFault>, u64)>,
    counters: Mutex<BTreeMap<String, u64>>,
    log: Mutex<(u64, VecDeque<LogEntry>)>,
    /// Graph, socketIo and delta requests being answered now
    /// (`requests.{class}.peakInFlight` keeps the most of each).
    in_flight: [AtomicU64; 3],
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
            pages: Mutex::new((None, 0)),
            counters: Mutex::new(BTreeMap::new()),
            log: Mutex::new((0, VecDeque::new())),
            in_flight: Default::default(),
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

    fn in_flight(&self, route: RouteClass) -> &AtomicU64 {
        &self.in_flight[match route {
            RouteClass::Socketio => 1,
            RouteClass::Delta => 2,
            _ => 0,
        }]
    }

    /// Keep `key` at the highest `value` seen (a peak rather than a count).
    pub fn peak(&self, key: &str, value: u64) {
        let mut counters = self.counters.lock().unwrap();
        let peak = counters.entry(key.to_string()).or_insert(0);
        *peak = (*peak).max(value);
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
        self.pages.lock().unwrap().0 = None;
    }

    pub fn arm_pages(&self, fault: PageFault) {
        self.event(
            "fault-armed",
            format!(
                "delta pages x{} -> {}{}",
                fault.count,
                match fault.mode {
                    PageMode::Loop => "loop".to_string(),
                    PageMode::Endless => format!("endless ({} items a page)", fault.items_per_page),
                },
                fault
                    .path_contains
                    .as_deref()
                    .map(|p| format!(" (paths containing {p:?})"))
                    .unwrap_or_default()
            ),
        );
        self.pages.lock().unwrap().0 = Some(fault);
    }

    /// The hostile answer to a delta request (`base`: the emulator's URL; `path` and
    /// `query` as requested), when the armed page fault applies to it.
    /// The log's detail names the next page (`next loop-a`; these tokens are no secret).
    fn hostile_page(&self, base: &str, path: &str, query: Option<&str>) -> Option<(Value, String)> {
        let mut pages = self.pages.lock().unwrap();
        let (Some(fault), rounds) = &mut *pages else {
            return None;
        };
        if fault
            .path_contains
            .as_deref()
            .is_some_and(|part| !path.contains(part))
        {
            return None;
        }
        let token = query.and_then(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .find(|(k, _)| k == "token")
                .map(|(_, v)| v.into_owned())
        });
        let (this, next) = match token.as_deref().and_then(HostileToken::parse) {
            Some(HostileToken::LoopA) => (None, HostileToken::LoopB),
            Some(HostileToken::LoopB) => (None, HostileToken::LoopA),
            Some(HostileToken::Endless { round, page }) => (
                Some((round, page)),
                HostileToken::Endless {
                    round,
                    page: page + 1,
                },
            ),
            // A real cursor (or none): a new hostile round, while any are left.
            None => {
                if fault.count == 0 {
                    return None;
                }
                fault.count -= 1;
                match fault.mode {
                    PageMode::Loop => (None, HostileToken::LoopA),
                    PageMode::Endless => {
                        *rounds += 1;
                        (
                            Some((*rounds, 0)),
                            HostileToken::Endless {
                                round: *rounds,
                                page: 1,
                            },
                        )
                    }
                }
            }
        };
        let padding = "x".repeat(fault.padding);
        let items: Vec<Value> = match this {
            Some((round, page)) => (0..fault.items_per_page)
                .map(|i| {
                    let id = format!("endless-{round}-{page}-{i}");
                    let mut item = json!({
                        "id": id,
                        "name": format!("{id}.txt"),
                        "file": {"mimeType": "text/plain"},
                        "size": 0,
                        "parentReference": {"driveId": "hostile", "id": "hostile-root"},
                    });
                    if !padding.is_empty() {
                        item["description"] = padding.clone().into();
                    }
                    item
                })
                .collect(),
            None => Vec::new(),
        };
        // The link of the same delta route, in the `?token=` form.
        let route = match path.to_ascii_lowercase().find("/delta(") {
            Some(at) => &path[..at + "/delta".len()],
            None => path,
        };
        let page = json!({
            "@odata.context": format!("{base}/v1.0/$metadata#Collection(driveItem)"),
            "value": items,
            "@odata.nextLink": format!("{base}{route}?token={}", next.encode()),
        });
        Some((page, format!("hostile page, next {}", next.encode())))
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
    let hostile = match (&faulted, route) {
        (None, RouteClass::Delta) if method == Method::GET => {
            state
                .control
                .hostile_page(&state.base_url, request.uri().path(), request.uri().query())
        }
        _ => None,
    };
    let was_faulted = faulted.is_some() || hostile.is_some();
    let detail = hostile.as_ref().map(|(_, detail)| detail.clone());
    let mut response = match (faulted, hostile) {
        (None, Some((page, _))) => {
            state.control.incr("faults.pages");
            Json(page).into_response()
        }
        (Some(fault), _) => {
            state.control.incr(&format!("faults.{}", route.name()));
            match route {
                RouteClass::Token | RouteClass::Devicecode => {
                    OAuthError::injected(fault.status, fault.retry_after).into_response()
                }
                _ => GraphError::injected(fault.status, fault.retry_after).into_response(),
            }
        }
        (None, None) => {
            let graph = matches!(
                route,
                RouteClass::Graph | RouteClass::Socketio | RouteClass::Delta
            );
            if graph {
                // How many requests of the class are answered at once: what a client's
                // concurrency (or its pace) comes to.
                let now = state
                    .control
                    .in_flight(route)
                    .fetch_add(1, Ordering::SeqCst)
                    + 1;
                state
                    .control
                    .peak(&format!("requests.{}.peakInFlight", route.name()), now);
                let latency = state.settings().graph_latency_ms;
                if latency > 0 {
                    tokio::time::sleep(std::time::Duration::from_millis(latency)).await;
                }
            }
            let response = next.run(request).await;
            if graph {
                state
                    .control
                    .in_flight(route)
                    .fetch_sub(1, Ordering::SeqCst);
            }
            response
        }
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
        detail,
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
        .route("/_emulator/faults/pages", post(arm_pages))
        .route("/_emulator/faults/clear", post(clear_faults))
        .route("/_emulator/stats", get(stats))
        .route("/_emulator/log", get(log))
        .route(
            "/_emulator/settings",
            get(get_settings).patch(patch_settings),
        )
        .route("/_emulator/bulk", post(bulk))
        .route("/_emulator/sites", post(bulk_sites))
        .route("/_emulator/libraries", post(add_library))
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

/// A hostile delta server: see [`PageFault`].
async fn arm_pages(State(state): State<AppState>, body: Bytes) -> Response {
    let fault: PageFault = match serde_json::from_slice(&body) {
        Ok(fault) => fault,
        Err(e) => {
            return bad_request(format!(
                "expected {{\"mode\": \"loop\" | \"endless\", \"count\"?: N, \"itemsPerPage\"?: N, \"padding\"?: BYTES, \"pathContains\"?: TEXT}}: {e}"
            ))
        }
    };
    if fault.count == 0 {
        return bad_request("count must be at least 1");
    }
    if fault.items_per_page > MAX_ITEMS_PER_PAGE {
        return bad_request(format!("itemsPerPage must be at most {MAX_ITEMS_PER_PAGE}"));
    }
    if fault.padding > MAX_PADDING {
        return bad_request(format!("padding must be at most {MAX_PADDING}"));
    }
    state.control.arm_pages(fault.clone());
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

/// The most files one `POST /_emulator/bulk` may make (about 1 GiB of store and log).
const MAX_BULK_FILES: usize = 1_000_000;
/// The most folders one `POST /_emulator/bulk` may make.
const MAX_BULK_FOLDERS: usize = 100_000;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct BulkBody {
    /// A drive id; Adele's OneDrive when absent.
    #[serde(default)]
    drive: Option<String>,
    /// The top folder's name; `bulk` when absent.
    #[serde(default)]
    under: Option<String>,
    folders: usize,
    files: usize,
}

/// `POST /_emulator/bulk {"drive"?, "under"?, "folders": F, "files": N}` — make `bulk/`
/// (or `under/`) with F
/// folders and N small files under a drive's root in one go, for benchmarks (see
/// [`crate::store::Drive::bulk`]). Logged as ordinary creations, so delta returns them;
/// the drive's subscriptions get one notification for the lot, as for one upload.
/// Answers `{"created": N, "folders": F}`.
async fn bulk(State(state): State<AppState>, body: Bytes) -> Response {
    let body: BulkBody = match serde_json::from_slice(&body) {
        Ok(body) => body,
        Err(e) => {
            return bad_request(format!(
                "expected {{\"drive\"?: ID, \"folders\": F, \"files\": N}}: {e}"
            ))
        }
    };
    if body.folders == 0 || body.folders > MAX_BULK_FOLDERS {
        return bad_request(format!("folders must be 1 to {MAX_BULK_FOLDERS}"));
    }
    if body.files > MAX_BULK_FILES {
        return bad_request(format!("files must be at most {MAX_BULK_FILES}"));
    }
    let drive_id = body
        .drive
        .clone()
        .unwrap_or_else(|| seed::ADELE_DRIVE.to_string());
    let lag = state.settings().delta_lag_ms;
    let started = std::time::Instant::now();
    // One write lock for the lot, off the async workers: on a small machine the runtime
    // has few of them, and socket.io pings must keep going while the tree is built.
    let store_state = state.clone();
    let (folders, files) = (body.folders, body.files);
    let top = body
        .under
        .clone()
        .unwrap_or_else(|| crate::store::bulk::BULK_FOLDER.to_string());
    let made = tokio::task::spawn_blocking(move || {
        store_state.store.write(|d| {
            // The drive's owner makes the changes; in a library, the signed-in user.
            let user = match d.drives.get(&drive_id).map(|dr| &dr.owner) {
                Some(Owner::User(u)) => u.clone(),
                _ => seed::ADELE_ID.to_string(),
            };
            let at = Stamp::new(&user, lag);
            d.mutate_drive(&drive_id, |drive, log| {
                drive.bulk(log, &at, &top, folders, files)
            })
        })
    })
    .await;
    let keys = match made {
        Ok(Ok(((), keys))) => keys,
        Ok(Err(e)) => {
            return (e.status, Json(json!({ "error": e.message }))).into_response();
        }
        Err(e) => {
            return (
                StatusCode::INTERNAL_SERVER_ERROR,
                Json(json!({ "error": format!("bulk seeding failed: {e}") })),
            )
                .into_response()
        }
    };
    state.push.changed(&state, &keys);
    state.mark_dirty();
    state.control.event(
        "bulk",
        format!(
            "{} folders={folders} files={files} ms={}",
            keys.first().map(String::as_str).unwrap_or(""),
            started.elapsed().as_millis()
        ),
    );
    Json(json!({ "created": files, "folders": folders })).into_response()
}

/// The most sites one `POST /_emulator/sites` may make.
const MAX_BULK_SITES: usize = 20_000;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct SitesBody {
    count: usize,
    /// Ids start `site-{prefix}-`; `bulk` when absent.
    #[serde(default)]
    prefix: Option<String>,
    /// Document libraries per site (at least 1, the default one).
    #[serde(default)]
    libraries: Option<usize>,
    /// Generic lists per site (besides the hidden one every site has).
    #[serde(default)]
    lists: usize,
    /// Adele follows them (`GET /me/followedSites`); true when absent.
    #[serde(default)]
    follow: Option<bool>,
}

/// `POST /_emulator/sites {"count": N, "prefix"?, "libraries"?, "lists"?, "follow"?}` —
/// make N sites at once, each with its libraries, lists and one hidden list, followed by
/// Adele unless `"follow": false` (see [`crate::store::Data::bulk_sites`]). Answers
/// `{"sites": [ID, …]}`.
async fn bulk_sites(State(state): State<AppState>, body: Bytes) -> Response {
    let body: SitesBody = match serde_json::from_slice(&body) {
        Ok(body) => body,
        Err(e) => {
            return bad_request(format!(
                "expected {{\"count\": N, \"prefix\"?: P, \"libraries\"?: L, \"lists\"?: K, \"follow\"?: B}}: {e}"
            ))
        }
    };
    let libraries = body.libraries.unwrap_or(1);
    if body.count == 0 || body.count > MAX_BULK_SITES || libraries > 100 || body.lists > 100 {
        return bad_request(format!(
            "count must be 1 to {MAX_BULK_SITES}, libraries and lists at most 100"
        ));
    }
    let lag = state.settings().delta_lag_ms;
    let prefix = body.prefix.unwrap_or_else(|| "bulk".to_string());
    let follower = body.follow.unwrap_or(true).then_some(seed::ADELE_ID);
    let made = state.store.write(|d| {
        let at = Stamp::new(seed::ADELE_ID, lag);
        d.bulk_sites(&at, &prefix, body.count, libraries, body.lists, follower)
    });
    match made {
        Ok(ids) => {
            state.mark_dirty();
            state
                .control
                .event("sites", format!("prefix={prefix} count={}", ids.len()));
            Json(json!({ "sites": ids })).into_response()
        }
        Err(e) => (e.status, Json(json!({ "error": e.message }))).into_response(),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LibraryBody {
    site: String,
    name: String,
}

/// `POST /_emulator/libraries {"site": ID, "name": NAME}` — add a document library to a
/// site, as a site owner does in SharePoint; Graph tells nobody (there is no
/// notification for "library added"), so clients find it by listing the site's drives
/// again. Answers `{"drive": DRIVE-ID}`.
async fn add_library(State(state): State<AppState>, body: Bytes) -> Response {
    let body: LibraryBody = match serde_json::from_slice(&body) {
        Ok(body) => body,
        Err(e) => return bad_request(format!("expected {{\"site\": ID, \"name\": NAME}}: {e}")),
    };
    let lag = state.settings().delta_lag_ms;
    let made = state.store.write(|d| {
        let at = Stamp::new(seed::ADELE_ID, lag);
        d.add_library(&at, &body.site, &body.name)
    });
    match made {
        Ok(drive) => {
            state.mark_dirty();
            state
                .control
                .event("library", format!("site={} drive={drive}", body.site));
            Json(json!({ "drive": drive })).into_response()
        }
        Err(e) => (e.status, Json(json!({ "error": e.message }))).into_response(),
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

    #[test]
    fn hostile_pages_loop_or_never_end_and_stop_when_cleared() {
        let control = Control::new();
        let path = "/v1.0/drives/b!x/root/delta";
        let page = |query: &str| {
            control
                .hostile_page("http://e", path, Some(query))
                .map(|(page, _)| page)
        };
        let next = |page: &Value| page["@odata.nextLink"].as_str().unwrap().to_string();
        assert!(page("token=real").is_none(), "not armed");

        control.arm_pages(PageFault {
            mode: PageMode::Loop,
            count: 1,
            items_per_page: 200,
            padding: 0,
            path_contains: None,
        });
        let first = page("token=real").unwrap();
        assert_eq!(
            next(&first),
            "http://e/v1.0/drives/b!x/root/delta?token=loop-a"
        );
        assert!(first.get("@odata.deltaLink").is_none());
        assert!(next(&page("token=loop-a").unwrap()).ends_with("token=loop-b"));
        assert!(next(&page("token=loop-b").unwrap()).ends_with("token=loop-a"));
        assert!(page("token=real").is_none(), "one round only");

        control.arm_pages(PageFault {
            mode: PageMode::Endless,
            count: 2,
            items_per_page: 3,
            padding: 10,
            path_contains: Some("b!x".into()),
        });
        assert!(control
            .hostile_page(
                "http://e",
                "/v1.0/drives/b!y/root/delta",
                Some("token=real")
            )
            .is_none());
        let first = page("token=real").unwrap();
        let second = page(next(&first).split_once('?').unwrap().1).unwrap();
        let third = page("token=other").unwrap();
        let ids: std::collections::HashSet<String> = [&first, &second, &third]
            .iter()
            .flat_map(|p| p["value"].as_array().unwrap().clone())
            .map(|item| item["id"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(ids.len(), 9, "every item new: {ids:?}");
        assert_eq!(first["value"][0]["description"], "x".repeat(10));
        control.clear_faults();
        assert!(page(next(&second).split_once('?').unwrap().1).is_none());
    }
}
