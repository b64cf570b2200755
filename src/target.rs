//! What to watch: drive and list SPECs, parsed (pure) and resolved through Graph into
//! a [`Target`] that addresses the drive or list by id.
//!
//! Drives are always addressed as `/drives/{id}`, never `/me/drive`: one client saw no
//! notifications for a SharePoint library subscribed through `/me/drive` (reference §1).
//!
//! Labels name a target in output lines; they must be stable from run to run and
//! short. A label is `drive:` or `list:` followed by what the user typed, normalised:
//! `drive:me`, `drive:b!…`, `drive:user:megan@contoso.com`, `drive:group:ID`,
//! `drive:site:ID`, `list:site-eng/list-issues`, `list:HOST:/sites/eng/Issues`; for a
//! URL, the scheme is dropped and the path is the one of the site, library or list
//! that it resolved to (so `…/Shared%20Documents/Forms/AllItems.aspx` is labelled
//! `drive:contoso.sharepoint.com/sites/eng/Shared%20Documents`).

use percent_encoding::percent_decode_str;
use serde_json::Value;
use url::Url;

#[cfg(test)]
use crate::error::Code;
use crate::error::Error;
use crate::graph::{segment, GraphClient, GraphError};

const DRIVE_FORMS: &str = "use me, a drive id, user:UPN-or-ID, group:GROUP-ID, site:SITE-ID, \
     https://HOST/sites/NAME or https://HOST/sites/NAME/LIBRARY";
const LIST_FORMS: &str = "use https://HOST/sites/NAME/Lists/LIST, SITE-ID/LIST or \
     HOST:/sites/NAME/LIST (LIST: a list id or display name)";

/// How many subsite levels below `/sites/NAME` a URL may go.
const MAX_SUBSITE_DEPTH: usize = 3;
/// Pages of `drives`/`lists` followed at most (a site has a handful).
const MAX_PAGES: usize = 50;

/// A SharePoint URL, split: host (lower case) and decoded path segments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SharePointUrl {
    pub host: String,
    pub segments: Vec<String>,
}

impl SharePointUrl {
    fn parse(spec: &str) -> Result<Self, String> {
        let url = Url::parse(spec).map_err(|e| format!("it is not a URL ({e})"))?;
        if !matches!(url.scheme(), "https" | "http") {
            return Err("only https:// URLs are SharePoint addresses".into());
        }
        let host = url
            .host_str()
            .filter(|h| !h.is_empty())
            .ok_or("the URL has no host")?
            .to_ascii_lowercase();
        let segments = decoded_segments(url.path())?;
        if segments.first().is_some_and(|s| s.starts_with(':')) {
            return Err(
                "sharing links are not supported; use the address of the library or list as the browser shows it"
                    .into(),
            );
        }
        Ok(SharePointUrl { host, segments })
    }

    /// `host/seg/seg` re-encoded, for messages and labels.
    fn display(&self, upto: usize) -> String {
        let mut text = self.host.clone();
        for s in &self.segments[..upto.min(self.segments.len())] {
            text.push('/');
            text.push_str(&segment(s));
        }
        text
    }
}

fn decoded_segments(path: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    for raw in path.split('/').filter(|s| !s.is_empty()) {
        let s = percent_decode_str(raw)
            .decode_utf8()
            .map_err(|_| "the path is not valid UTF-8 once decoded".to_string())?
            .into_owned();
        if s == "." || s == ".." || s.contains('/') {
            return Err(format!("the path segment {raw:?} is not allowed"));
        }
        // `%0A` and friends: a name with a line break would split every line it is in.
        if s.chars().any(char::is_control) {
            return Err(format!(
                "the path segment {raw:?} decodes to a control character"
            ));
        }
        out.push(s);
    }
    Ok(out)
}

/// A drive SPEC, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DriveSpec {
    /// `me`: the signed-in user's OneDrive.
    Me,
    /// A drive id (`b!…` for business drives, hex for personal ones).
    Id(String),
    /// `user:UPN-or-ID`
    User(String),
    /// `group:GROUP-ID`
    Group(String),
    /// `site:SITE-ID` (the site's default library)
    Site(String),
    /// A site URL (its default library) or a library URL (that library).
    Url(SharePointUrl),
}

/// Where a list's site is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SiteRef {
    /// A Graph site id (`site-eng`, `contoso.sharepoint.com,GUID,GUID`, a hostname).
    Id(String),
    /// `HOST:/server/relative/path` (decoded segments; empty = the root site).
    Path { host: String, segments: Vec<String> },
}

impl SiteRef {
    fn graph_path(&self) -> String {
        match self {
            SiteRef::Id(id) => format!("/sites/{}", segment(id)),
            SiteRef::Path { host, segments } => site_path(host, segments),
        }
    }
}

impl std::fmt::Display for SiteRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SiteRef::Id(id) => f.write_str(id),
            SiteRef::Path { host, segments } => {
                write!(f, "{host}:")?;
                if segments.is_empty() {
                    f.write_str("/")?;
                }
                for s in segments {
                    write!(f, "/{s}")?;
                }
                Ok(())
            }
        }
    }
}

/// A list SPEC, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListSpec {
    /// `https://HOST/sites/NAME/Lists/LIST[/AllItems.aspx]`
    Url(SharePointUrl),
    /// `SITE/LIST`
    InSite { site: SiteRef, list: String },
}

/// A SPEC of either kind, as `watch --drive … --list …` collects them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TargetSpec {
    Drive(DriveSpec),
    List(ListSpec),
}

fn bad_drive(spec: &str, why: &str) -> Error {
    Error::usage(format!("drive SPEC {spec:?} is not valid: {why}")).hint(DRIVE_FORMS)
}

fn bad_list(spec: &str, why: &str) -> Error {
    Error::usage(format!("list SPEC {spec:?} is not valid: {why}")).hint(LIST_FORMS)
}

fn is_url(spec: &str) -> bool {
    let lower = spec.get(..8).unwrap_or(spec).to_ascii_lowercase();
    lower.starts_with("https://") || lower.starts_with("http://")
}

/// An id-like word: no separators, no whitespace, not `.`/`..`.
fn check_word(value: &str, allow_slash: bool) -> Result<(), String> {
    if value.is_empty() {
        return Err("the value after the prefix is empty".into());
    }
    if value == "." || value == ".." {
        return Err(format!("{value:?} is not an id"));
    }
    if let Some(c) = value.chars().find(|c| {
        c.is_whitespace()
            || c.is_control()
            || matches!(c, '?' | '#' | '\\')
            || (!allow_slash && *c == '/')
    }) {
        return Err(format!("it contains {c:?}"));
    }
    Ok(())
}

impl DriveSpec {
    pub fn parse(spec: &str) -> Result<DriveSpec, Error> {
        let spec = spec.trim();
        if spec.is_empty() {
            return Err(bad_drive(spec, "it is empty"));
        }
        if spec.eq_ignore_ascii_case("me") {
            return Ok(DriveSpec::Me);
        }
        if is_url(spec) {
            return SharePointUrl::parse(spec)
                .map(DriveSpec::Url)
                .map_err(|why| bad_drive(spec, &why));
        }
        if let Some((prefix, value)) = spec.split_once(':') {
            let make: fn(String) -> DriveSpec = match prefix.to_ascii_lowercase().as_str() {
                "user" => DriveSpec::User,
                "group" => DriveSpec::Group,
                "site" => DriveSpec::Site,
                _ => {
                    return Err(bad_drive(
                        spec,
                        &format!("unknown prefix {:?}", format!("{prefix}:")),
                    ))
                }
            };
            check_word(value, false).map_err(|why| bad_drive(spec, &why))?;
            return Ok(make(value.to_string()));
        }
        check_word(spec, false).map_err(|why| bad_drive(spec, &why))?;
        if spec.contains('%') {
            return Err(bad_drive(spec, "a drive id has no '%'"));
        }
        Ok(DriveSpec::Id(spec.to_string()))
    }

    /// The label before resolution (URLs get theirs from what they resolve to).
    pub fn label(&self) -> String {
        match self {
            DriveSpec::Me => "drive:me".into(),
            DriveSpec::Id(id) => format!("drive:{id}"),
            DriveSpec::User(u) => format!("drive:user:{}", u.to_lowercase()),
            DriveSpec::Group(g) => format!("drive:group:{}", g.to_lowercase()),
            DriveSpec::Site(s) => format!("drive:site:{s}"),
            DriveSpec::Url(u) => format!("drive:{}", u.display(usize::MAX)),
        }
    }
}

impl ListSpec {
    pub fn parse(spec: &str) -> Result<ListSpec, Error> {
        let spec = spec.trim();
        if spec.is_empty() {
            return Err(bad_list(spec, "it is empty"));
        }
        if is_url(spec) {
            return SharePointUrl::parse(spec)
                .map(ListSpec::Url)
                .map_err(|why| bad_list(spec, &why));
        }
        let decode = |s: &str| -> Result<String, Error> {
            let decoded = percent_decode_str(s)
                .decode_utf8()
                .map(|c| c.into_owned())
                .map_err(|_| bad_list(spec, "it is not valid UTF-8 once decoded"))?;
            if decoded.chars().any(char::is_control) {
                return Err(bad_list(spec, "it decodes to a control character"));
            }
            Ok(decoded)
        };
        if let Some((host, path)) = spec.split_once(":/") {
            // HOST:/server/relative/path/LIST — the last segment is the list.
            check_word(host, false).map_err(|why| bad_list(spec, &why))?;
            let mut segments = decoded_segments(path).map_err(|why| bad_list(spec, &why))?;
            let list = segments
                .pop()
                .ok_or_else(|| bad_list(spec, "the list name is missing after the site path"))?;
            // Accept the path as the browser shows it: `/sites/eng/Lists/Issues`.
            if segments.len() > 2
                && segments
                    .last()
                    .is_some_and(|s| s.eq_ignore_ascii_case("lists"))
            {
                segments.pop();
            }
            return Ok(ListSpec::InSite {
                site: SiteRef::Path {
                    host: host.to_ascii_lowercase(),
                    segments,
                },
                list,
            });
        }
        let Some((site, list)) = spec.split_once('/') else {
            return Err(bad_list(
                spec,
                "it has no '/' between the site and the list",
            ));
        };
        check_word(site, false).map_err(|why| bad_list(spec, &why))?;
        check_word(list, false).map_err(|_| {
            bad_list(
                spec,
                "expected SITE/LIST with one '/' (for a site path use HOST:/sites/NAME/LIST)",
            )
        })?;
        Ok(ListSpec::InSite {
            site: SiteRef::Id(decode(site)?),
            list: decode(list)?,
        })
    }

    pub fn label(&self) -> String {
        match self {
            ListSpec::Url(u) => format!("list:{}", u.display(usize::MAX)),
            ListSpec::InSite { site, list } => format!("list:{site}/{list}"),
        }
    }
}

/// What a SPEC resolved to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TargetKind {
    Drive { drive_id: String },
    List { site_id: String, list_id: String },
}

/// A resolved target: everything the watch loop needs to subscribe and run delta.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// Stable name for output lines (see the module docs).
    pub label: String,
    pub kind: TargetKind,
    /// The drive's or list's name, for people.
    pub display_name: String,
    pub web_url: Option<String>,
}

impl Target {
    /// `GET` this path (relative to the Graph base) for the socket.io endpoint.
    pub fn socketio_path(&self) -> String {
        match &self.kind {
            TargetKind::Drive { drive_id } => {
                format!("/drives/{}/root/subscriptions/socketIo", segment(drive_id))
            }
            TargetKind::List { site_id, list_id } => format!(
                "/sites/{}/lists/{}/subscriptions/socketIo",
                segment(site_id),
                segment(list_id)
            ),
        }
    }

    /// The first delta request (add `?token=latest` to start from now).
    pub fn delta_path(&self) -> String {
        match &self.kind {
            TargetKind::Drive { drive_id } => format!("/drives/{}/root/delta", segment(drive_id)),
            TargetKind::List { site_id, list_id } => format!(
                "/sites/{}/lists/{}/items/delta",
                segment(site_id),
                segment(list_id)
            ),
        }
    }
}

/// `/sites/HOST:/a/b` (or `/sites/HOST` for the root site).
fn site_path(host: &str, segments: &[String]) -> String {
    if segments.is_empty() {
        return format!("/sites/{}", segment(host));
    }
    let mut path = format!("/sites/{}:", segment(host));
    for s in segments {
        path.push('/');
        path.push_str(&segment(s));
    }
    path
}

/// Turn a failed lookup into an exit-4 error when it means "not there" or "not
/// yours"; anything else (throttling, network, sign-in) keeps its own meaning.
fn lookup_failed(err: GraphError, what: &str) -> anyhow::Error {
    // "Not signed in" says it all; "cannot look up X: not signed in" only adds noise.
    let err = match err {
        GraphError::Token(inner) => return inner,
        other => other,
    };
    match err.status() {
        Some(403) => Error::target(format!("access to {what} was denied ({})", err.summary()))
            .hint("sign in as an account that can read it (see --profile), or check the scopes of the sign-in")
            .into(),
        Some(400) | Some(404) => Error::target(format!("{what} was not found ({})", err.summary()))
            .hint("check the SPEC (see `graphwatch endpoint --help` for the forms)")
            .into(),
        _ => anyhow::Error::new(err).context(format!("cannot look up {what}")),
    }
}

/// The socketIo request failed after the target was found.
pub fn socketio_failed(err: GraphError, target: &Target) -> anyhow::Error {
    let err = match err {
        GraphError::Token(inner) => return inner,
        other => other,
    };
    match (err.status(), err.code()) {
        (Some(400), Some("notSupported")) => Error::failure(format!(
            "Graph does not offer socket.io notifications for {} right now ({})",
            target.label,
            err.summary()
        ))
        .hint("some business accounts get this, sometimes only for a while; try again later")
        .into(),
        (Some(403), _) => Error::target(format!(
            "access to the notifications of {} was denied ({})",
            target.label,
            err.summary()
        ))
        .hint("the sign-in needs Files.Read (drives) or Sites.Read.All (lists) and access to the target")
        .into(),
        (Some(404), _) => Error::target(format!(
            "{} has no socket.io endpoint ({})",
            target.label,
            err.summary()
        ))
        .into(),
        _ => anyhow::Error::new(err).context(format!(
            "cannot get the socket.io endpoint of {}",
            target.label
        )),
    }
}

fn str_field(value: &Value, key: &str) -> Option<String> {
    value.get(key).and_then(Value::as_str).map(str::to_string)
}

fn id_of(value: &Value, what: &str) -> anyhow::Result<String> {
    str_field(value, "id").ok_or_else(|| {
        Error::failure(format!("Graph's answer for {what} has no id"))
            .hint("check --graph-url")
            .into()
    })
}

fn drive_target(label: String, drive: &Value, what: &str) -> anyhow::Result<Target> {
    Ok(Target {
        label,
        kind: TargetKind::Drive {
            drive_id: id_of(drive, what)?,
        },
        display_name: str_field(drive, "name").unwrap_or_else(|| what.to_string()),
        web_url: str_field(drive, "webUrl"),
    })
}

/// Resolve a parsed SPEC.
pub async fn resolve(client: &GraphClient, spec: &TargetSpec) -> anyhow::Result<Target> {
    match spec {
        TargetSpec::Drive(d) => resolve_drive(client, d).await,
        TargetSpec::List(l) => resolve_list(client, l).await,
    }
}

pub async fn resolve_drive(client: &GraphClient, spec: &DriveSpec) -> anyhow::Result<Target> {
    let (path, what) = match spec {
        DriveSpec::Me => ("/me/drive".to_string(), "your OneDrive".to_string()),
        DriveSpec::Id(id) => (format!("/drives/{}", segment(id)), format!("drive {id}")),
        DriveSpec::User(u) => (
            format!("/users/{}/drive", segment(u)),
            format!("the OneDrive of user {u}"),
        ),
        DriveSpec::Group(g) => (
            format!("/groups/{}/drive", segment(g)),
            format!("the drive of group {g}"),
        ),
        DriveSpec::Site(s) => (
            format!("/sites/{}/drive", segment(s)),
            format!("the default document library of site {s}"),
        ),
        DriveSpec::Url(url) => return resolve_library_url(client, url).await,
    };
    let drive: Value = client
        .get_json(&path)
        .await
        .map_err(|e| lookup_failed(e, &what))?;
    drive_target(spec.label(), &drive, &what)
}

/// The site that a URL's path starts in: `/sites/NAME`, `/teams/NAME` or
/// `/personal/NAME` (or the root site), and how many segments that took.
async fn url_site(client: &GraphClient, url: &SharePointUrl) -> anyhow::Result<(Value, usize)> {
    let managed = url.segments.len() >= 2
        && ["sites", "teams", "personal"]
            .iter()
            .any(|m| url.segments[0].eq_ignore_ascii_case(m));
    let used = if managed { 2 } else { 0 };
    let site: Value = client
        .get_json(&site_path(&url.host, &url.segments[..used]))
        .await
        .map_err(|e| {
            lookup_failed(
                e,
                &format!("the SharePoint site https://{}", url.display(used)),
            )
        })?;
    Ok((site, used))
}

/// One level deeper, if that is a subsite.
async fn subsite(
    client: &GraphClient,
    url: &SharePointUrl,
    used: usize,
) -> anyhow::Result<Option<Value>> {
    let next = &url.segments[used];
    if ["lists", "forms", "_layouts", "sitepages", "pages"]
        .iter()
        .any(|s| next.eq_ignore_ascii_case(s))
    {
        return Ok(None);
    }
    match client
        .get_json::<Value>(&site_path(&url.host, &url.segments[..=used]))
        .await
    {
        Ok(site) => Ok(Some(site)),
        Err(e) if matches!(e.status(), Some(400 | 403 | 404)) => Ok(None),
        Err(e) => Err(anyhow::Error::new(e).context("cannot look up a subsite")),
    }
}

/// Every element of a collection, following `@odata.nextLink`.
async fn collection(client: &GraphClient, path: &str, what: &str) -> anyhow::Result<Vec<Value>> {
    let mut page: Value = client
        .get_json(path)
        .await
        .map_err(|e| lookup_failed(e, what))?;
    let mut items = Vec::new();
    for _ in 0..MAX_PAGES {
        if let Some(Value::Array(values)) = page.get_mut("value").map(Value::take) {
            items.extend(values);
        }
        let Some(next) = str_field(&page, "@odata.nextLink") else {
            return Ok(items);
        };
        page = client
            .get_json_url(&next)
            .await
            .map_err(|e| lookup_failed(e, what))?;
    }
    Ok(items)
}

/// How many leading segments of `url` a webUrl covers (case-insensitive, decoded),
/// or `None` if it is not a prefix of it.
fn web_url_prefix(web_url: &str, url: &SharePointUrl) -> Option<usize> {
    let web = SharePointUrl::parse(web_url).ok()?;
    if web.host != url.host || web.segments.len() > url.segments.len() {
        return None;
    }
    web.segments
        .iter()
        .zip(&url.segments)
        .all(|(a, b)| a.to_lowercase() == b.to_lowercase())
        .then_some(web.segments.len())
}

/// The element whose webUrl is the longest prefix of `url`.
fn best_match<'a>(items: &'a [Value], url: &SharePointUrl, at_least: usize) -> Option<&'a Value> {
    items
        .iter()
        .filter_map(|item| {
            let web = item.get("webUrl")?.as_str()?;
            web_url_prefix(web, url)
                .filter(|n| *n > at_least)
                .map(|n| (n, item))
        })
        .max_by_key(|(n, _)| *n)
        .map(|(_, item)| item)
}

fn names(items: &[Value], key: &str) -> String {
    let names: Vec<String> = items.iter().filter_map(|i| str_field(i, key)).collect();
    if names.is_empty() {
        "none".into()
    } else {
        names.join(", ")
    }
}

async fn resolve_library_url(client: &GraphClient, url: &SharePointUrl) -> anyhow::Result<Target> {
    let (mut site, mut used) = url_site(client, url).await?;
    for _ in 0..=MAX_SUBSITE_DEPTH {
        let site_id = id_of(&site, "the site")?;
        let site_label = url.display(used);
        if used == url.segments.len() {
            let what = format!("the default document library of https://{site_label}");
            let drive: Value = client
                .get_json(&format!("/sites/{}/drive", segment(&site_id)))
                .await
                .map_err(|e| lookup_failed(e, &what))?;
            return drive_target(format!("drive:{site_label}"), &drive, &what);
        }
        let what = format!("the document libraries of https://{site_label}");
        let drives = collection(
            client,
            &format!("/sites/{}/drives", segment(&site_id)),
            &what,
        )
        .await?;
        if let Some(drive) = best_match(&drives, url, used) {
            let label = str_field(drive, "webUrl")
                .and_then(|w| SharePointUrl::parse(&w).ok())
                .map(|w| format!("drive:{}", w.display(usize::MAX)))
                .unwrap_or_else(|| DriveSpec::Url(url.clone()).label());
            return drive_target(label, drive, "the document library");
        }
        match subsite(client, url, used).await? {
            Some(sub) => {
                site = sub;
                used += 1;
            }
            None => {
                if url.segments[used].eq_ignore_ascii_case("lists") {
                    return Err(Error::usage(format!(
                        "https://{} is a SharePoint list, not a document library",
                        url.display(usize::MAX)
                    ))
                    .hint("watch it with --list (or `graphwatch list`)")
                    .into());
                }
                return Err(Error::target(format!(
                    "no document library of https://{site_label} is at https://{} (its libraries: {})",
                    url.display(usize::MAX),
                    names(&drives, "name")
                ))
                .hint("use the library's address as the browser shows it, or the site's for its default library")
                .into());
            }
        }
    }
    Err(Error::target(format!(
        "https://{} is nested too deep in subsites",
        url.display(usize::MAX)
    ))
    .into())
}

fn list_target(label: String, site_id: String, list: &Value, what: &str) -> anyhow::Result<Target> {
    Ok(Target {
        label,
        kind: TargetKind::List {
            site_id,
            list_id: id_of(list, what)?,
        },
        display_name: str_field(list, "displayName")
            .or_else(|| str_field(list, "name"))
            .unwrap_or_else(|| what.to_string()),
        web_url: str_field(list, "webUrl"),
    })
}

pub async fn resolve_list(client: &GraphClient, spec: &ListSpec) -> anyhow::Result<Target> {
    match spec {
        ListSpec::Url(url) => resolve_list_url(client, url).await,
        ListSpec::InSite { site, list } => {
            let site_value: Value = client
                .get_json(&site.graph_path())
                .await
                .map_err(|e| lookup_failed(e, &format!("site {site}")))?;
            let site_id = id_of(&site_value, "the site")?;
            let path = format!("/sites/{}/lists/{}", segment(&site_id), segment(list));
            let list_value: Value = client.get_json(&path).await.map_err(|e| match e.status() {
                Some(400 | 404) => Error::target(format!(
                    "list '{list}' not found in site {site} ({})",
                    e.summary()
                ))
                .hint("check the list's id or display name")
                .into(),
                _ => lookup_failed(e, &format!("list '{list}' in site {site}")),
            })?;
            list_target(
                spec.label(),
                site_id,
                &list_value,
                &format!("list '{list}'"),
            )
        }
    }
}

async fn resolve_list_url(client: &GraphClient, url: &SharePointUrl) -> anyhow::Result<Target> {
    let (mut site, mut used) = url_site(client, url).await?;
    for _ in 0..=MAX_SUBSITE_DEPTH {
        let site_id = id_of(&site, "the site")?;
        let site_label = url.display(used);
        if used == url.segments.len() {
            return Err(Error::usage(format!(
                "https://{site_label} is a site, not a list"
            ))
            .hint("give the list's address, e.g. https://HOST/sites/NAME/Lists/LIST, or watch the site's library with --drive")
            .into());
        }
        let what = format!("the lists of https://{site_label}");
        let lists = collection(
            client,
            &format!("/sites/{}/lists", segment(&site_id)),
            &what,
        )
        .await?;
        if let Some(list) = best_match(&lists, url, used) {
            let label = str_field(list, "webUrl")
                .and_then(|w| SharePointUrl::parse(&w).ok())
                .map(|w| format!("list:{}", w.display(usize::MAX)))
                .unwrap_or_else(|| ListSpec::Url(url.clone()).label());
            return list_target(label, site_id, list, "the list");
        }
        match subsite(client, url, used).await? {
            Some(sub) => {
                site = sub;
                used += 1;
            }
            None => {
                return Err(Error::target(format!(
                    "no list of https://{site_label} is at https://{} (its lists: {})",
                    url.display(usize::MAX),
                    names(&lists, "displayName")
                ))
                .hint("use the list's address as the browser shows it")
                .into());
            }
        }
    }
    Err(Error::target(format!(
        "https://{} is nested too deep in subsites",
        url.display(usize::MAX)
    ))
    .into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(host: &str, segs: &[&str]) -> SharePointUrl {
        SharePointUrl {
            host: host.into(),
            segments: segs.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn drive_specs() {
        assert_eq!(DriveSpec::parse("me").unwrap(), DriveSpec::Me);
        assert_eq!(DriveSpec::parse(" ME ").unwrap(), DriveSpec::Me);
        assert_eq!(
            DriveSpec::parse("b!AdeleVanceOneDrive").unwrap(),
            DriveSpec::Id("b!AdeleVanceOneDrive".into())
        );
        assert_eq!(
            DriveSpec::parse("user:megan@contoso.onmicrosoft.com").unwrap(),
            DriveSpec::User("megan@contoso.onmicrosoft.com".into())
        );
        assert_eq!(
            DriveSpec::parse("GROUP:02bd9fd6-8f93-4758-87c3-1fb73740a315").unwrap(),
            DriveSpec::Group("02bd9fd6-8f93-4758-87c3-1fb73740a315".into())
        );
        assert_eq!(
            DriveSpec::parse("site:contoso.sharepoint.com,1,2").unwrap(),
            DriveSpec::Site("contoso.sharepoint.com,1,2".into())
        );
        assert_eq!(
            DriveSpec::parse("https://Contoso.SharePoint.com/sites/eng/Shared%20Documents/Forms/AllItems.aspx?viewid=1")
                .unwrap(),
            DriveSpec::Url(url(
                "contoso.sharepoint.com",
                &["sites", "eng", "Shared Documents", "Forms", "AllItems.aspx"]
            ))
        );
        assert_eq!(
            DriveSpec::parse("https://contoso.sharepoint.com/sites/eng/").unwrap(),
            DriveSpec::Url(url("contoso.sharepoint.com", &["sites", "eng"]))
        );
    }

    #[test]
    fn bad_drive_specs_are_usage_errors_that_list_the_forms() {
        for bad in [
            "",
            "foo:bar",
            "user:",
            "user:a/b",
            "a b",
            "..",
            "drives/x",
            "https://contoso.sharepoint.com/:f:/s/eng/abc",
            "https://",
            "ftp://x/y",
            "abc%2F",
        ] {
            let err = DriveSpec::parse(bad).unwrap_err();
            assert_eq!(err.code, Code::Usage, "{bad}");
            assert!(err.to_string().starts_with("drive SPEC"), "{err}");
            let report = crate::error::report(&err.into());
            assert!(report.contains("user:UPN-or-ID"), "{report}");
            assert!(!report.contains('\n'));
        }
    }

    #[test]
    fn list_specs() {
        assert_eq!(
            ListSpec::parse("site-eng/list-issues").unwrap(),
            ListSpec::InSite {
                site: SiteRef::Id("site-eng".into()),
                list: "list-issues".into()
            }
        );
        assert_eq!(
            ListSpec::parse("site-eng/My%20Issues").unwrap(),
            ListSpec::InSite {
                site: SiteRef::Id("site-eng".into()),
                list: "My Issues".into()
            }
        );
        let path_form = ListSpec::InSite {
            site: SiteRef::Path {
                host: "contoso.sharepoint.com".into(),
                segments: vec!["sites".into(), "eng".into()],
            },
            list: "Issues".into(),
        };
        assert_eq!(
            ListSpec::parse("contoso.sharepoint.com:/sites/eng/Issues").unwrap(),
            path_form
        );
        assert_eq!(
            ListSpec::parse("contoso.sharepoint.com:/sites/eng/Lists/Issues").unwrap(),
            path_form
        );
        assert_eq!(
            ListSpec::parse("contoso.sharepoint.com:/Issues").unwrap(),
            ListSpec::InSite {
                site: SiteRef::Path {
                    host: "contoso.sharepoint.com".into(),
                    segments: vec![]
                },
                list: "Issues".into()
            }
        );
        assert_eq!(
            ListSpec::parse("https://contoso.sharepoint.com/sites/eng/Lists/Issues/AllItems.aspx")
                .unwrap(),
            ListSpec::Url(url(
                "contoso.sharepoint.com",
                &["sites", "eng", "Lists", "Issues", "AllItems.aspx"]
            ))
        );
        for bad in ["", "issues", "a/b/c", "/x", "x/", "host:/", "a b/c"] {
            let err = ListSpec::parse(bad).unwrap_err();
            assert_eq!(err.code, Code::Usage, "{bad}");
            assert!(err.to_string().starts_with("list SPEC"), "{err}");
        }
    }

    #[test]
    fn labels_are_short_and_stable() {
        assert_eq!(DriveSpec::Me.label(), "drive:me");
        assert_eq!(
            DriveSpec::parse("user:Megan@Contoso.com").unwrap().label(),
            "drive:user:megan@contoso.com"
        );
        assert_eq!(
            ListSpec::parse("site-eng/list-issues").unwrap().label(),
            "list:site-eng/list-issues"
        );
        assert_eq!(
            ListSpec::parse("contoso.sharepoint.com:/sites/eng/Issues")
                .unwrap()
                .label(),
            "list:contoso.sharepoint.com:/sites/eng/Issues"
        );
    }

    #[test]
    fn graph_paths_address_by_id() {
        let drive = Target {
            label: "drive:me".into(),
            kind: TargetKind::Drive {
                drive_id: "b!Adele".into(),
            },
            display_name: "OneDrive".into(),
            web_url: None,
        };
        assert_eq!(
            drive.socketio_path(),
            "/drives/b!Adele/root/subscriptions/socketIo"
        );
        assert_eq!(drive.delta_path(), "/drives/b!Adele/root/delta");
        let list = Target {
            kind: TargetKind::List {
                site_id: "contoso.sharepoint.com,a,b".into(),
                list_id: "list issues".into(),
            },
            ..drive
        };
        assert_eq!(
            list.socketio_path(),
            "/sites/contoso.sharepoint.com,a,b/lists/list%20issues/subscriptions/socketIo"
        );
        assert_eq!(
            list.delta_path(),
            "/sites/contoso.sharepoint.com,a,b/lists/list%20issues/items/delta"
        );
    }

    #[test]
    fn site_paths_use_graph_path_addressing() {
        assert_eq!(
            site_path(
                "contoso.sharepoint.com",
                &["sites".into(), "eng team".into()]
            ),
            "/sites/contoso.sharepoint.com:/sites/eng%20team"
        );
        assert_eq!(
            site_path("contoso.sharepoint.com", &[]),
            "/sites/contoso.sharepoint.com"
        );
    }

    #[test]
    fn web_urls_match_case_insensitively_and_decoded() {
        let typed = url(
            "contoso.sharepoint.com",
            &["sites", "eng", "shared documents", "Forms", "AllItems.aspx"],
        );
        assert_eq!(
            web_url_prefix(
                "https://contoso.sharepoint.com/sites/eng/Shared%20Documents",
                &typed
            ),
            Some(3)
        );
        assert_eq!(
            web_url_prefix("https://contoso.sharepoint.com/sites/eng/Specs", &typed),
            None
        );
        assert_eq!(
            web_url_prefix(
                "https://other.sharepoint.com/sites/eng/Shared%20Documents",
                &typed
            ),
            None
        );
        let items = vec![
            serde_json::json!({"name": "Site", "webUrl": "https://contoso.sharepoint.com/sites/eng"}),
            serde_json::json!({"name": "Documents", "webUrl": "https://contoso.sharepoint.com/sites/eng/Shared%20Documents"}),
        ];
        assert_eq!(best_match(&items, &typed, 2).unwrap()["name"], "Documents");
        assert!(best_match(&items[..1], &typed, 2).is_none());
    }
}
