//! Graph v1.0 routes: users, groups, sites, drives, lists and their items, delta, the
//! `subscriptions/socketIo` endpoints and the mutations that make changes.
//!
//! Graph addresses items by path with colons inside segments
//! (`/drives/{id}/root:/a/b.txt:/content`, `/sites/host:/sites/eng:/lists`), which a
//! route table cannot express, so one catch-all route parses the path itself.

mod delta;
pub(crate) mod render;

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::{Json, Router};
use serde_json::{Map, Value};

use crate::error::GraphError;
use crate::push::Watched;
use crate::store::{drive_key, list_key, Conflict, Data, Drive, List, Stamp, User};
use crate::{seed, AppState};

pub fn router() -> Router<AppState> {
    Router::new().route("/v1.0/{*rest}", any(dispatch))
}

async fn dispatch(
    State(state): State<AppState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match handle(&state, method, &uri, &headers, &body) {
        Ok(response) => response,
        Err(e) => e.into_response(),
    }
}

/// One authenticated Graph request.
struct Req<'a> {
    state: &'a AppState,
    method: Method,
    user: String,
    query: HashMap<String, String>,
    body: &'a [u8],
    /// The request's absolute URL without query or `(token='…')`, for delta links.
    link: String,
}

fn handle(
    state: &AppState,
    method: Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Response, GraphError> {
    let user = state.identity.authenticate(headers)?;
    if state.store.read(|d| d.user(&user).is_none()) {
        return Err(GraphError::unauthenticated(
            "The access token does not name a user of this tenant.",
        ));
    }
    let raw = uri.path().strip_prefix("/v1.0").unwrap_or(uri.path());
    let decoded = percent_decode(raw)
        .ok_or_else(|| GraphError::bad_request("The request URL is not valid UTF-8."))?;
    let tokens = tokenize(&decoded)?;
    let mut query: HashMap<String, String> = uri
        .query()
        .map(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .into_owned()
                .collect()
        })
        .unwrap_or_default();
    if let Some(token) = function_token(&tokens) {
        query.insert("token".into(), token);
    }
    let link_path = match raw.find("(") {
        Some(i) if raw[..i].to_ascii_lowercase().ends_with("/delta") => &raw[..i],
        _ => raw,
    };
    let req = Req {
        state,
        method,
        user,
        query,
        body,
        link: format!("{}/v1.0{link_path}", state.base_url),
    };
    let words: Vec<&str> = tokens.iter().map(String::as_str).collect();
    route(&req, &words)
}

// ---- path parsing ----

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
            if let Some(b) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8(out).ok()
}

/// Segments Graph matches case-insensitively; ids keep their case.
const KEYWORDS: &[&str] = &[
    "me",
    "users",
    "groups",
    "drive",
    "drives",
    "sites",
    "lists",
    "items",
    "root",
    "children",
    "delta",
    "subscriptions",
    "socketio",
    "fields",
    "content",
];

/// Split a decoded path into segments. A `:/path:` part (item or site by path) becomes
/// one token that starts with `:`, e.g. `root:/a/b.txt:/content` gives
/// `root`, `:/a/b.txt`, `content`.
fn tokenize(path: &str) -> Result<Vec<String>, GraphError> {
    let mut tokens = Vec::new();
    let mut rest = path;
    loop {
        rest = rest.trim_start_matches('/');
        if rest.is_empty() {
            break;
        }
        let end = rest.find(['/', ':']).unwrap_or(rest.len());
        let word = &rest[..end];
        if !word.is_empty() {
            tokens.push(normalize(word));
        }
        rest = &rest[end..];
        if let Some(after) = rest.strip_prefix(':') {
            if after.starts_with('/') {
                let close = after.find(':').unwrap_or(after.len());
                let sub = after[..close].trim_end_matches('/');
                if sub.is_empty() {
                    return Err(GraphError::bad_request("An empty path was given."));
                }
                tokens.push(format!(":{sub}"));
                rest = after.get(close + 1..).unwrap_or("");
            } else {
                rest = after;
            }
        }
    }
    Ok(tokens)
}

fn normalize(word: &str) -> String {
    let lower = word.to_ascii_lowercase();
    if KEYWORDS.contains(&lower.as_str()) {
        lower
    } else if lower.starts_with("delta(") {
        format!("delta({}", &word["delta(".len()..])
    } else {
        word.to_string()
    }
}

/// The token of the `delta(token='…')` function form, if the path uses it.
fn function_token(tokens: &[String]) -> Option<String> {
    let last = tokens.last()?;
    let inner = last.strip_prefix("delta(")?.strip_suffix(')')?;
    let value = inner.strip_prefix("token=")?;
    Some(value.trim_matches('\'').to_string())
}

fn is_delta(word: &str) -> bool {
    word == "delta" || word.starts_with("delta(")
}

fn is_path(word: &str) -> bool {
    word.starts_with(':')
}

fn unknown_segment(words: &[&str]) -> GraphError {
    let segment = words.first().copied().unwrap_or("");
    GraphError::new(
        StatusCode::BAD_REQUEST,
        "BadRequest",
        format!("Resource not found for the segment '{segment}'."),
    )
}

fn method_not_allowed() -> GraphError {
    GraphError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "invalidRequest",
        "The HTTP method is not supported for this resource.",
    )
}

// ---- routing ----

fn route(req: &Req<'_>, words: &[&str]) -> Result<Response, GraphError> {
    match words {
        ["me"] => get_user(req, &req.user),
        ["me", "followedSites"] => followed_sites(req),
        ["me", "drive", tail @ ..] => drive_route(req, &DriveSel::User(req.user.clone()), tail),
        ["users", u] => get_user(req, u),
        ["users", u, "drive", tail @ ..] => drive_route(req, &DriveSel::User(u.to_string()), tail),
        ["drives", id, tail @ ..] => drive_route(req, &DriveSel::Id(id.to_string()), tail),
        ["groups", g] => get_group(req, g),
        ["groups", g, "drive", tail @ ..] => {
            drive_route(req, &DriveSel::Group(g.to_string()), tail)
        }
        ["sites", host, p, tail @ ..] if is_path(p) => {
            let site = find_site(req, |d| d.site_by_path(host, &p[1..]).map(|s| s.id.clone()))?;
            site_route(req, &site, tail)
        }
        ["sites", id, tail @ ..] => {
            let site = find_site(req, |d| d.site(id).map(|s| s.id.clone()))?;
            site_route(req, &site, tail)
        }
        ["lists", l, tail @ ..] => {
            let (site, list) = req
                .state
                .store
                .read(|d| {
                    d.list_anywhere(l)
                        .map(|l| (l.site_id.clone(), l.id.clone()))
                })
                .ok_or_else(|| GraphError::not_found(&format!("list {l}")))?;
            list_route(req, &site, &list, tail)
        }
        _ => Err(unknown_segment(words)),
    }
}

fn find_site(req: &Req<'_>, f: impl FnOnce(&Data) -> Option<String>) -> Result<String, GraphError> {
    req.state
        .store
        .read(f)
        .ok_or_else(|| GraphError::not_found("site"))
}

fn get_only(req: &Req<'_>) -> Result<(), GraphError> {
    if req.method == Method::GET {
        Ok(())
    } else {
        Err(method_not_allowed())
    }
}

fn ok(base: &str, what: &str, value: Value) -> Result<Response, GraphError> {
    Ok(Json(render::with_context(base, what, value)).into_response())
}

fn get_user(req: &Req<'_>, id: &str) -> Result<Response, GraphError> {
    get_only(req)?;
    let user = req
        .state
        .store
        .read(|d| d.user(id).map(render::user))
        .ok_or_else(|| GraphError::not_found(&format!("user {id}")))?;
    ok(&req.state.base_url, "users/$entity", user)
}

/// `GET /me/followedSites`: the sites the signed-in user follows, as Graph lists them
/// (site resources; delegated permissions only — there is no `/users/{id}/followedSites`
/// for an app).
fn followed_sites(req: &Req<'_>) -> Result<Response, GraphError> {
    get_only(req)?;
    let sites = req.state.store.read(|d| {
        d.user(&req.user)
            .map(|u| {
                u.followed_sites
                    .iter()
                    .filter_map(|id| d.site(id))
                    .map(render::site)
                    .collect()
            })
            .unwrap_or_default()
    });
    Ok(Json(render::collection(&req.state.base_url, "sites", sites)).into_response())
}

fn get_group(req: &Req<'_>, id: &str) -> Result<Response, GraphError> {
    get_only(req)?;
    let group = req
        .state
        .store
        .read(|d| d.group(id).map(|g| render::group(g, seed::TENANT_DOMAIN)))
        .ok_or_else(|| GraphError::not_found(&format!("group {id}")))?;
    ok(&req.state.base_url, "groups/$entity", group)
}

fn site_route(req: &Req<'_>, site: &str, tail: &[&str]) -> Result<Response, GraphError> {
    let base = &req.state.base_url;
    match tail {
        [] => {
            get_only(req)?;
            let value = req
                .state
                .store
                .read(|d| d.site(site).map(render::site))
                .ok_or_else(|| GraphError::not_found("site"))?;
            ok(base, "sites/$entity", value)
        }
        ["drive", rest @ ..] => drive_route(req, &DriveSel::SiteDefault(site.to_string()), rest),
        ["drives"] => {
            get_only(req)?;
            let drives = req.state.store.read(|d| {
                d.site(site)
                    .map(|s| {
                        s.drives
                            .iter()
                            .filter_map(|id| d.drives.get(id))
                            .map(|dr| render::drive(d, dr))
                            .collect()
                    })
                    .unwrap_or_default()
            });
            Ok(Json(render::collection(base, "drives", drives)).into_response())
        }
        ["drives", id, rest @ ..] => drive_route(
            req,
            &DriveSel::SiteDrive(site.to_string(), id.to_string()),
            rest,
        ),
        ["lists"] => {
            get_only(req)?;
            let lists = req.state.store.read(|d| {
                d.site(site)
                    .map(|s| {
                        s.lists
                            .iter()
                            .filter_map(|id| d.lists.get(id))
                            .map(|l| render::list(d, l))
                            .collect()
                    })
                    .unwrap_or_default()
            });
            Ok(Json(render::collection(
                base,
                &format!("sites('{site}')/lists"),
                lists,
            ))
            .into_response())
        }
        ["lists", l, rest @ ..] => {
            let list = req
                .state
                .store
                .read(|d| {
                    d.site(site)
                        .and_then(|s| d.site_list(s, l))
                        .map(|l| l.id.clone())
                })
                .ok_or_else(|| GraphError::not_found(&format!("list {l}")))?;
            list_route(req, site, &list, rest)
        }
        _ => Err(unknown_segment(tail)),
    }
}

// ---- drives ----

/// How a request names a drive.
enum DriveSel {
    User(String),
    Id(String),
    Group(String),
    SiteDefault(String),
    SiteDrive(String, String),
    List(String),
}

/// The drive a request names, if it exists and the caller may use it.
fn resolve_drive<'d>(d: &'d Data, user: &str, sel: &DriveSel) -> Result<&'d Drive, GraphError> {
    let id = match sel {
        DriveSel::User(u) => d
            .user(u)
            .map(|u| u.drive_id.clone())
            .ok_or_else(|| GraphError::not_found(&format!("user {u}")))?,
        DriveSel::Id(id) => id.clone(),
        DriveSel::Group(g) => d
            .group(g)
            .map(|g| g.drive_id.clone())
            .ok_or_else(|| GraphError::not_found(&format!("group {g}")))?,
        DriveSel::SiteDefault(s) => d
            .site(s)
            .map(|s| s.default_drive.clone())
            .ok_or_else(|| GraphError::not_found("site"))?,
        DriveSel::SiteDrive(s, id) => d
            .site(s)
            .and_then(|s| s.drives.iter().find(|x| *x == id).cloned())
            .ok_or_else(|| GraphError::not_found(&format!("drive {id}")))?,
        DriveSel::List(l) => d
            .lists
            .get(l)
            .and_then(|l| l.drive_id.clone())
            .ok_or_else(|| GraphError::not_found("drive: the list is not a document library"))?,
    };
    let drive = d
        .drives
        .get(&id)
        .ok_or_else(|| GraphError::not_found(&format!("drive {id}")))?;
    if !d.may_use_drive(user, drive) {
        return Err(GraphError::forbidden());
    }
    Ok(drive)
}

/// An item named from a drive: by id, or by a path relative to the root or an item.
struct ItemSel<'a> {
    base: Option<&'a str>,
    path: Option<&'a str>,
}

impl ItemSel<'_> {
    fn resolve(&self, drive: &Drive) -> Result<String, GraphError> {
        let base = drive.item(self.base.unwrap_or(&drive.root_id))?;
        match self.path {
            Some(p) => drive.by_path(&base.id, p).map(|i| i.id.clone()),
            None => Ok(base.id.clone()),
        }
    }
}

fn drive_route(req: &Req<'_>, sel: &DriveSel, tail: &[&str]) -> Result<Response, GraphError> {
    let drive_id = req
        .state
        .store
        .read(|d| resolve_drive(d, &req.user, sel).map(|dr| dr.id.clone()))?;
    let root = ItemSel {
        base: None,
        path: None,
    };
    match tail {
        [] => {
            get_only(req)?;
            let value = read_drive(req, &drive_id, |d, dr| Ok(render::drive(d, dr)))?;
            ok(&req.state.base_url, "drives/$entity", value)
        }
        ["root"] => item_route(req, &drive_id, &root),
        ["root", "children"] => children(req, &drive_id, &root),
        ["root", d] if is_delta(d) => drive_delta(req, &drive_id),
        ["root", "subscriptions", "socketio"] => subscribe_drive(req, &drive_id),
        ["root", p] if is_path(p) => item_route(
            req,
            &drive_id,
            &ItemSel {
                base: None,
                path: Some(&p[1..]),
            },
        ),
        ["root", p, "children"] if is_path(p) => children(
            req,
            &drive_id,
            &ItemSel {
                base: None,
                path: Some(&p[1..]),
            },
        ),
        ["root", p, "content"] if is_path(p) => upload(req, &drive_id, None, &p[1..]),
        ["items", id] => item_route(
            req,
            &drive_id,
            &ItemSel {
                base: Some(id),
                path: None,
            },
        ),
        ["items", id, "children"] => children(
            req,
            &drive_id,
            &ItemSel {
                base: Some(id),
                path: None,
            },
        ),
        ["items", id, p] if is_path(p) => item_route(
            req,
            &drive_id,
            &ItemSel {
                base: Some(id),
                path: Some(&p[1..]),
            },
        ),
        ["items", id, p, "children"] if is_path(p) => children(
            req,
            &drive_id,
            &ItemSel {
                base: Some(id),
                path: Some(&p[1..]),
            },
        ),
        ["items", id, p, "content"] if is_path(p) => upload(req, &drive_id, Some(id), &p[1..]),
        _ => Err(unknown_segment(tail)),
    }
}

fn read_drive<R>(
    req: &Req<'_>,
    drive_id: &str,
    f: impl FnOnce(&Data, &Drive) -> Result<R, GraphError>,
) -> Result<R, GraphError> {
    req.state.store.read(|d| {
        let drive = d
            .drives
            .get(drive_id)
            .ok_or_else(|| GraphError::not_found(&format!("drive {drive_id}")))?;
        f(d, drive)
    })
}

fn render_item(req: &Req<'_>, drive_id: &str, item_id: &str) -> Result<Value, GraphError> {
    let base = &req.state.base_url;
    read_drive(req, drive_id, |d, drive| {
        let view = render::View::live(drive);
        let item = view
            .get(item_id)
            .ok_or_else(|| GraphError::not_found(&format!("item {item_id}")))?;
        let value = view.drive_item(d, item, false);
        Ok(render::with_context(
            base,
            &format!("drives('{drive_id}')/items/$entity"),
            value,
        ))
    })
}

fn item_route(req: &Req<'_>, drive_id: &str, sel: &ItemSel<'_>) -> Result<Response, GraphError> {
    let item_id = read_drive(req, drive_id, |_, drive| sel.resolve(drive))?;
    match req.method {
        Method::GET => Ok(Json(render_item(req, drive_id, &item_id)?).into_response()),
        Method::PATCH => update_item(req, drive_id, &item_id),
        Method::DELETE => {
            let keys = mutate_drive(req, drive_id, |drive, log, at| {
                drive.delete_item(log, at, &item_id)
            })?
            .1;
            announce(req, &keys);
            Ok(StatusCode::NO_CONTENT.into_response())
        }
        _ => Err(method_not_allowed()),
    }
}

fn children(req: &Req<'_>, drive_id: &str, sel: &ItemSel<'_>) -> Result<Response, GraphError> {
    get_only(req)?;
    let base = &req.state.base_url;
    let value = read_drive(req, drive_id, |d, drive| {
        let parent = sel.resolve(drive)?;
        let view = render::View::live(drive);
        let items = drive
            .children(&parent)
            .into_iter()
            .filter_map(|c| view.get(&c.id))
            .map(|c| view.drive_item(d, c, false))
            .collect();
        Ok(render::collection(
            base,
            &format!("drives('{drive_id}')/items('{parent}')/children"),
            items,
        ))
    })?;
    Ok(Json(value).into_response())
}

fn mutate_drive<R>(
    req: &Req<'_>,
    drive_id: &str,
    f: impl FnOnce(&mut Drive, &mut crate::store::Log, &Stamp) -> Result<R, GraphError>,
) -> Result<(R, Vec<String>), GraphError> {
    let at = Stamp::new(&req.user, req.state.settings().delta_lag_ms);
    req.state
        .store
        .write(|d| d.mutate_drive(drive_id, |drive, log| f(drive, log, &at)))
}

/// After a change: notify the sockets watching it and have `--persist` save.
fn announce(req: &Req<'_>, keys: &[String]) {
    req.state.push.changed(req.state, keys);
    req.state.mark_dirty();
}

fn conflict_behavior(req: &Req<'_>) -> Result<Conflict, GraphError> {
    match req
        .query
        .get("@microsoft.graph.conflictBehavior")
        .map(|s| s.to_ascii_lowercase())
        .as_deref()
    {
        None | Some("replace") => Ok(Conflict::Replace),
        Some("fail") => Ok(Conflict::Fail),
        Some("rename") => Ok(Conflict::Rename),
        Some(other) => Err(GraphError::bad_request(format!(
            "Unknown conflict behavior: {other}"
        ))),
    }
}

fn upload(
    req: &Req<'_>,
    drive_id: &str,
    parent: Option<&str>,
    path: &str,
) -> Result<Response, GraphError> {
    if req.method != Method::PUT {
        return Err(method_not_allowed());
    }
    let conflict = conflict_behavior(req)?;
    let size = req.body.len() as u64;
    let ((id, created), keys) = mutate_drive(req, drive_id, |drive, log, at| {
        let from = parent.unwrap_or(&drive.root_id).to_string();
        drive.put_content(log, at, &from, path, size, conflict)
    })?;
    announce(req, &keys);
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(render_item(req, drive_id, &id)?)).into_response())
}

fn json_body(req: &Req<'_>) -> Result<Map<String, Value>, GraphError> {
    match serde_json::from_slice::<Value>(req.body) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(GraphError::bad_request(
            "The request body must be a JSON object.",
        )),
    }
}

fn optional_str<'v>(value: Option<&'v Value>, what: &str) -> Result<Option<&'v str>, GraphError> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(GraphError::bad_request(format!("{what} must be a string."))),
    }
}

fn update_item(req: &Req<'_>, drive_id: &str, item_id: &str) -> Result<Response, GraphError> {
    let body = json_body(req)?;
    let name = optional_str(body.get("name"), "name")?;
    let parent_ref = body.get("parentReference");
    let new_parent = optional_str(parent_ref.and_then(|p| p.get("id")), "parentReference.id")?;
    let other_drive = optional_str(
        parent_ref.and_then(|p| p.get("driveId")),
        "parentReference.driveId",
    )?;
    if other_drive.is_some_and(|d| d != drive_id) {
        return Err(GraphError::bad_request(
            "Moving items between drives is not supported.",
        ));
    }
    let keys = mutate_drive(req, drive_id, |drive, log, at| {
        drive.update_item(log, at, item_id, name, new_parent)
    })?
    .1;
    announce(req, &keys);
    Ok(Json(render_item(req, drive_id, item_id)?).into_response())
}

fn drive_delta(req: &Req<'_>, drive_id: &str) -> Result<Response, GraphError> {
    get_only(req)?;
    let value = read_drive(req, drive_id, |d, drive| {
        delta::page(d, &delta::Feed::Drive(drive), &delta_request(req))
    })?;
    Ok(Json(value).into_response())
}

fn delta_request<'a>(req: &'a Req<'_>) -> delta::Request<'a> {
    delta::Request {
        token: req.query.get("token").map(String::as_str),
        link: &req.link,
        base: &req.state.base_url,
        page_size: req.state.settings().delta_page_size,
        now_ms: chrono::Utc::now().timestamp_millis(),
    }
}

fn subscribe(req: &Req<'_>, watched: Watched) -> Result<Response, GraphError> {
    get_only(req)?;
    let subscription = req.state.push.subscribe(req.state, &req.user, watched);
    Ok(Json(subscription).into_response())
}

fn subscribe_drive(req: &Req<'_>, drive_id: &str) -> Result<Response, GraphError> {
    let watched = read_drive(req, drive_id, |_, drive| {
        Ok(Watched {
            key: drive_key(&drive.id),
            resource_id: drive.resource_id.clone(),
            site_url: drive.site_url.clone(),
            web_id: drive.web_id.clone(),
        })
    })?;
    subscribe(req, watched)
}

// ---- lists ----

fn read_list<R>(
    req: &Req<'_>,
    list_id: &str,
    f: impl FnOnce(&Data, &List) -> Result<R, GraphError>,
) -> Result<R, GraphError> {
    req.state.store.read(|d| {
        let list = d
            .lists
            .get(list_id)
            .ok_or_else(|| GraphError::not_found(&format!("list {list_id}")))?;
        f(d, list)
    })
}

fn list_route(
    req: &Req<'_>,
    site: &str,
    list_id: &str,
    tail: &[&str],
) -> Result<Response, GraphError> {
    let base = req.state.base_url.clone();
    let items_ctx = format!("sites('{site}')/lists('{list_id}')/items");
    match tail {
        [] => {
            get_only(req)?;
            let value = read_list(req, list_id, |d, l| Ok(render::list(d, l)))?;
            ok(&base, &format!("sites('{site}')/lists/$entity"), value)
        }
        ["drive", rest @ ..] => drive_route(req, &DriveSel::List(list_id.to_string()), rest),
        ["items"] => match req.method {
            Method::GET => {
                let items = read_list(req, list_id, |d, l| Ok(list_items(d, l)))?;
                Ok(Json(render::collection(&base, &items_ctx, items)).into_response())
            }
            Method::POST => create_list_item(req, list_id, &items_ctx),
            _ => Err(method_not_allowed()),
        },
        ["items", d] if is_delta(d) => {
            get_only(req)?;
            let value = req.state.store.read(|d| {
                let list = d
                    .lists
                    .get(list_id)
                    .ok_or_else(|| GraphError::not_found(&format!("list {list_id}")))?;
                let feed = match list.drive_id.as_ref().and_then(|id| d.drives.get(id)) {
                    Some(drive) => delta::Feed::Library(list, drive),
                    None => delta::Feed::List(list),
                };
                delta::page(d, &feed, &delta_request(req))
            })?;
            Ok(Json(value).into_response())
        }
        ["items", id] => match req.method {
            Method::GET => {
                let value = read_list(req, list_id, |d, l| list_item(d, l, id))?;
                ok(&base, &format!("{items_ctx}/$entity"), value)
            }
            Method::DELETE => {
                let keys = mutate_list(req, list_id, |l, log, at, _| l.delete_item(log, at, id))?.1;
                announce(req, &keys);
                Ok(StatusCode::NO_CONTENT.into_response())
            }
            _ => Err(method_not_allowed()),
        },
        ["items", id, "fields"] => {
            let fields_ctx = format!("{items_ctx}('{id}')/fields/$entity");
            match req.method {
                Method::GET => {
                    let value = read_list(req, list_id, |d, l| {
                        list_item(d, l, id).map(|i| i["fields"].clone())
                    })?;
                    ok(&base, &fields_ctx, value)
                }
                Method::PATCH => {
                    let fields = json_body(req)?;
                    let keys = mutate_list(req, list_id, |l, log, at, users| {
                        l.update_fields(log, at, users, id, fields)
                    })?
                    .1;
                    announce(req, &keys);
                    let value = read_list(req, list_id, |d, l| {
                        list_item(d, l, id).map(|i| i["fields"].clone())
                    })?;
                    ok(&base, &fields_ctx, value)
                }
                _ => Err(method_not_allowed()),
            }
        }
        ["subscriptions", "socketio"] => {
            let watched = read_list(req, list_id, |d, l| {
                let web_id = d
                    .site(&l.site_id)
                    .map(|s| s.web_id.clone())
                    .unwrap_or_default();
                let site_url = d
                    .site(&l.site_id)
                    .map(|s| s.path.clone())
                    .unwrap_or_default();
                Ok(Watched {
                    key: list_key(&l.id),
                    resource_id: l.resource_id.clone(),
                    site_url,
                    web_id,
                })
            })?;
            subscribe(req, watched)
        }
        _ => Err(unknown_segment(tail)),
    }
}

/// A list's items; a library's come from its drive (the root folder is not an item).
fn list_items(d: &Data, list: &List) -> Vec<Value> {
    match list.drive_id.as_ref().and_then(|id| d.drives.get(id)) {
        Some(drive) => {
            let view = render::View::live(drive);
            let mut items: Vec<_> = drive.items.values().filter(|i| !i.is_root()).collect();
            items.sort_by_key(|i| i.list_item_id);
            items
                .into_iter()
                .filter_map(|i| view.get(&i.id))
                .map(|i| view.library_list_item(d, list, i))
                .collect()
        }
        None => list
            .items
            .values()
            .map(|i| render::list_item(d, list, i))
            .collect(),
    }
}

fn list_item(d: &Data, list: &List, id: &str) -> Result<Value, GraphError> {
    match list.drive_id.as_ref().and_then(|id| d.drives.get(id)) {
        Some(drive) => {
            let view = render::View::live(drive);
            drive
                .items
                .values()
                .find(|i| !i.is_root() && i.list_item_id.to_string() == id)
                .and_then(|i| view.get(&i.id))
                .map(|i| view.library_list_item(d, list, i))
                .ok_or_else(|| GraphError::not_found(&format!("list item {id}")))
        }
        None => Ok(render::list_item(d, list, list.item(id)?)),
    }
}

fn mutate_list<R>(
    req: &Req<'_>,
    list_id: &str,
    f: impl FnOnce(&mut List, &mut crate::store::Log, &Stamp, &[User]) -> Result<R, GraphError>,
) -> Result<(R, Vec<String>), GraphError> {
    let at = Stamp::new(&req.user, req.state.settings().delta_lag_ms);
    req.state
        .store
        .write(|d| d.mutate_list(list_id, |list, log, users| f(list, log, &at, users)))
}

fn create_list_item(req: &Req<'_>, list_id: &str, items_ctx: &str) -> Result<Response, GraphError> {
    let body = json_body(req)?;
    let fields = match body.get("fields") {
        Some(Value::Object(fields)) => fields.clone(),
        None => Map::new(),
        Some(_) => return Err(GraphError::bad_request("fields must be a JSON object.")),
    };
    let (id, keys) = mutate_list(req, list_id, |l, log, at, users| {
        l.create_item(log, at, users, fields)
    })?;
    announce(req, &keys);
    let value = read_list(req, list_id, |d, l| list_item(d, l, &id.to_string()))?;
    let value = render::with_context(&req.state.base_url, &format!("{items_ctx}/$entity"), value);
    Ok((StatusCode::CREATED, Json(value)).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokenizes_colon_paths() {
        assert_eq!(
            tokenize("/drives/b!x/root:/a b/c.txt:/content").ok(),
            Some(vec![
                "drives".into(),
                "b!x".into(),
                "root".into(),
                ":/a b/c.txt".into(),
                "content".into()
            ])
        );
        assert_eq!(
            tokenize("/sites/contoso.sharepoint.com:/sites/eng:/lists/Issues").ok(),
            Some(vec![
                "sites".into(),
                "contoso.sharepoint.com".into(),
                ":/sites/eng".into(),
                "lists".into(),
                "Issues".into()
            ])
        );
        assert_eq!(
            tokenize("/me/drive/root:/notes.txt").ok(),
            Some(vec![
                "me".into(),
                "drive".into(),
                "root".into(),
                ":/notes.txt".into()
            ])
        );
        assert_eq!(
            tokenize("/Me/Drive/Root/Subscriptions/socketIo").ok(),
            Some(vec![
                "me".into(),
                "drive".into(),
                "root".into(),
                "subscriptions".into(),
                "socketio".into()
            ])
        );
    }

    #[test]
    fn decodes_percent_escapes() {
        assert_eq!(percent_decode("/a%20b/%C3%A9%").as_deref(), Some("/a b/é%"));
        assert_eq!(percent_decode("%FF"), None);
    }

    #[test]
    fn reads_the_function_form_of_delta() {
        let tokens = vec!["root".to_string(), "delta(token='abc')".to_string()];
        assert_eq!(function_token(&tokens).as_deref(), Some("abc"));
    }
}
