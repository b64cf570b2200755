//! SPECs resolved through Graph into a [`Target`] that addresses the drive or list by
//! id, and the errors of a lookup turned into what they mean (exit 4 for "not there"
//! or "not yours"), or kept as the Graph failure they are when trying again may help
//! ([`transient_cause`]).

use serde_json::Value;

use super::spec::{site_path, DriveSpec, ListSpec, SharePointUrl, TargetSpec};
use super::{Target, TargetKind};
use crate::error::Error;
use crate::graph::{GraphClient, GraphError};
use crate::util::text::one_line;
use crate::util::url::segment;

/// How many subsite levels below `/sites/NAME` a URL may go.
const MAX_SUBSITE_DEPTH: usize = 3;
/// Pages of `drives`/`lists` followed at most (a site has a handful).
const MAX_PAGES: usize = 50;

/// Turn a failed lookup into an exit-4 error when it means "not there" or "not
/// yours"; anything else (throttling, network, sign-in) keeps its own meaning.
pub(super) fn lookup_failed(err: GraphError, what: &str) -> anyhow::Error {
    // "Not signed in" says it all; "cannot look up X: not signed in" only adds noise.
    // A token failure that may pass (if `is_transient` says so) stays a Graph error in
    // the chain, so that start-up finds it with [`transient_cause`] and retries it.
    if !err.is_transient() {
        if let GraphError::Token(inner) = err {
            return inner;
        }
    }
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

/// The Graph failure behind a failed lookup, if trying again may help: Graph
/// unreachable, slow, throttled or failing (the rule of [`GraphError::is_transient`]).
/// `None` when the failure has a meaning that no retry changes — not found or denied
/// (exit 4), not signed in or the token refused (exit 3), a bad SPEC (exit 2), an
/// answer without an id — because this module then put an [`Error`] in front of it.
pub fn transient_cause(err: &anyhow::Error) -> Option<&GraphError> {
    for cause in err.chain() {
        if cause.is::<Error>() {
            return None;
        }
        if let Some(graph) = cause.downcast_ref::<GraphError>() {
            return graph.is_transient().then_some(graph);
        }
    }
    None
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
        // Shown on stderr ("watching … (NAME)"): a server's text, made safe.
        display_name: one_line(&str_field(drive, "name").unwrap_or_else(|| what.to_string())),
        web_url: str_field(drive, "webUrl"),
    })
}

/// Resolve a parsed SPEC.
pub async fn resolve(client: &GraphClient, spec: &TargetSpec) -> anyhow::Result<Target> {
    match spec {
        TargetSpec::Drive(d) => resolve_drive(client, d).await,
        TargetSpec::List(l) => resolve_list(client, l).await,
        TargetSpec::Site(_) | TargetSpec::FollowedSites => Err(Error::usage(format!(
            "{} stands for many targets; this takes one",
            spec.label()
        ))
        .hint("name one library or list")
        .into()),
    }
}

/// Every target a SPEC names: one for a drive or list, those found for `SITE/*` and
/// `--followed-sites` ([`super::expand`]).
pub async fn targets(client: &GraphClient, spec: &TargetSpec) -> anyhow::Result<Vec<Target>> {
    match spec {
        TargetSpec::Site(site) => super::expand::site(client, site).await,
        TargetSpec::FollowedSites => super::expand::followed_sites(client).await,
        _ => Ok(vec![resolve(client, spec).await?]),
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
        DriveSpec::Url(url) => return resolve_url(client, url, Wanted::Library).await,
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
pub(super) async fn collection(
    client: &GraphClient,
    path: &str,
    what: &str,
) -> anyhow::Result<Vec<Value>> {
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

fn list_target(label: String, site_id: String, list: &Value, what: &str) -> anyhow::Result<Target> {
    Ok(Target {
        label,
        kind: TargetKind::List {
            site_id,
            list_id: id_of(list, what)?,
        },
        display_name: one_line(
            &str_field(list, "displayName")
                .or_else(|| str_field(list, "name"))
                .unwrap_or_else(|| what.to_string()),
        ),
        web_url: str_field(list, "webUrl"),
    })
}

pub async fn resolve_list(client: &GraphClient, spec: &ListSpec) -> anyhow::Result<Target> {
    match spec {
        ListSpec::Url(url) => resolve_url(client, url, Wanted::List).await,
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

/// What a SharePoint URL is expected to name: a document library (`--drive`) or a list
/// (`--list`). The walk down the site and its subsites is the same for both
/// ([`resolve_url`]); this says what differs at each step.
#[derive(Clone, Copy)]
enum Wanted {
    Library,
    List,
}

impl Wanted {
    /// The site's collection to look in: `/sites/{id}/drives` or `…/lists`.
    fn collection(self) -> &'static str {
        match self {
            Wanted::Library => "drives",
            Wanted::List => "lists",
        }
    }

    fn plural(self) -> &'static str {
        match self {
            Wanted::Library => "document libraries",
            Wanted::List => "lists",
        }
    }

    /// The URL ends at a site: its default library, or a usage error for a list.
    async fn at_site(
        self,
        client: &GraphClient,
        site_id: &str,
        site_label: &str,
    ) -> anyhow::Result<Target> {
        match self {
            Wanted::Library => {
                let what = format!("the default document library of https://{site_label}");
                let drive: Value = client
                    .get_json(&format!("/sites/{}/drive", segment(site_id)))
                    .await
                    .map_err(|e| lookup_failed(e, &what))?;
                drive_target(format!("drive:{site_label}"), &drive, &what)
            }
            Wanted::List => Err(Error::usage(format!(
                "https://{site_label} is a site, not a list"
            ))
            .hint("give the list's address, e.g. https://HOST/sites/NAME/Lists/LIST, or watch the site's library with --drive")
            .into()),
        }
    }

    /// The library or list the URL names, found in the site's collection.
    fn target(self, url: &SharePointUrl, site_id: String, found: &Value) -> anyhow::Result<Target> {
        let web_url = str_field(found, "webUrl").and_then(|w| SharePointUrl::parse(&w).ok());
        match self {
            Wanted::Library => {
                let label = web_url
                    .map(|w| format!("drive:{}", w.display(usize::MAX)))
                    .unwrap_or_else(|| DriveSpec::Url(url.clone()).label());
                drive_target(label, found, "the document library")
            }
            Wanted::List => {
                let label = web_url
                    .map(|w| format!("list:{}", w.display(usize::MAX)))
                    .unwrap_or_else(|| ListSpec::Url(url.clone()).label());
                list_target(label, site_id, found, "the list")
            }
        }
    }

    /// Nothing in the site, and no subsite, matches the rest of the URL.
    fn not_found(
        self,
        url: &SharePointUrl,
        used: usize,
        site_label: &str,
        items: &[Value],
    ) -> anyhow::Error {
        match self {
            Wanted::Library if url.segments[used].eq_ignore_ascii_case("lists") => Error::usage(format!(
                "https://{} is a SharePoint list, not a document library",
                url.display(usize::MAX)
            ))
            .hint("watch it with --list (or `graphwatch list`)")
            .into(),
            Wanted::Library => Error::target(format!(
                "no document library of https://{site_label} is at https://{} (its libraries: {})",
                url.display(usize::MAX),
                names(items, "name")
            ))
            .hint("use the library's address as the browser shows it, or the site's for its default library")
            .into(),
            Wanted::List => Error::target(format!(
                "no list of https://{site_label} is at https://{} (its lists: {})",
                url.display(usize::MAX),
                names(items, "displayName")
            ))
            .hint("use the list's address as the browser shows it")
            .into(),
        }
    }
}

/// A library or list by its URL: find the deepest site the URL names (up to
/// [`MAX_SUBSITE_DEPTH`] subsites below `/sites/NAME`), then the library or list in it
/// whose `webUrl` matches the rest.
async fn resolve_url(
    client: &GraphClient,
    url: &SharePointUrl,
    wanted: Wanted,
) -> anyhow::Result<Target> {
    let (mut site, mut used) = url_site(client, url).await?;
    for _ in 0..=MAX_SUBSITE_DEPTH {
        let site_id = id_of(&site, "the site")?;
        let site_label = url.display(used);
        if used == url.segments.len() {
            return wanted.at_site(client, &site_id, &site_label).await;
        }
        let what = format!("the {} of https://{site_label}", wanted.plural());
        let path = format!("/sites/{}/{}", segment(&site_id), wanted.collection());
        let items = collection(client, &path, &what).await?;
        if let Some(found) = best_match(&items, url, used) {
            return wanted.target(url, site_id, found);
        }
        match subsite(client, url, used).await? {
            Some(sub) => {
                site = sub;
                used += 1;
            }
            None => return Err(wanted.not_found(url, used, &site_label, &items)),
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
    use crate::target::spec::tests::url;

    fn status(status: u16, code: &str) -> GraphError {
        GraphError::Status {
            request: "GET /me/drive".into(),
            status,
            code: code.into(),
            message: "m".into(),
            retry_after: None,
            location: None,
        }
    }

    #[test]
    fn only_failures_that_may_pass_are_worth_another_lookup() {
        let transient = |e: anyhow::Error| transient_cause(&e).is_some();
        for (code, name) in [
            (503, "serviceUnavailable"),
            (429, "tooMany"),
            (500, "x"),
            (408, "x"),
        ] {
            assert!(transient(lookup_failed(status(code, name), "it")), "{code}");
        }
        let decode = serde_json::from_str::<Value>("<html>").unwrap_err();
        let decode = GraphError::Decode {
            request: "GET /me/drive".into(),
            source: decode,
        };
        assert!(transient(lookup_failed(decode, "it")));
        // What the lookup gave a meaning: not found, denied, sign-in, anything else 4xx.
        for (code, name) in [
            (404, "itemNotFound"),
            (403, "accessDenied"),
            (400, "invalidRequest"),
            (405, "x"),
        ] {
            assert!(
                !transient(lookup_failed(status(code, name), "it")),
                "{code}"
            );
        }
        let token = GraphError::Token(Error::auth("not signed in").into());
        assert!(!transient(lookup_failed(token, "it")));
        assert!(!transient(
            Error::failure("Graph's answer has no id").into()
        ));
        assert!(!transient(anyhow::anyhow!("anything else")));
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
