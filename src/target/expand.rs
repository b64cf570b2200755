//! SPECs that stand for many targets, found through Graph: `SITE/*` (every document
//! library and list of a site) and `--followed-sites` (every document library of the
//! sites the signed-in user follows). Graph says nothing when a library is added, so the
//! watch loop expands them again every `--rescan` and starts what is new
//! (docs/scale.md, "Whole sites").
//!
//! Each target found is labelled as its own URL SPEC would be (`drive:HOST/sites/NAME/LIB`,
//! `list:HOST/sites/NAME/Lists/LIST`, from its `webUrl`), so a label is the same whether
//! the target was named or found, from run to run, and keys the `--state` file the same.
//!
//! Which lists of a site are targets: `GET /sites/{id}/lists` returns every list,
//! SharePoint's hidden ones (`list.hidden`, e.g. `TaxonomyHiddenList`) and those behind
//! document libraries (`list.template` `documentLibrary`, or the `webUrl` of one of the
//! site's drives) too. Hidden and system lists (a `system` facet) are left out: nobody
//! edits them. Library-backed lists are left out because their drive is a target
//! already, and the same change would come twice.

use futures_util::StreamExt;
use serde_json::Value;

use super::resolve::{collection, lookup_failed};
use super::spec::{SharePointUrl, SiteRef};
use super::{Target, TargetKind};
use crate::error::Error;
use crate::graph::GraphClient;
use crate::util::text::one_line;
use crate::util::url::segment;

/// Followed sites whose libraries are asked for at once.
const SITES_AT_ONCE: usize = 8;

/// Every target of an expanded SPEC, libraries first, each in Graph's order.
pub async fn site(client: &GraphClient, site: &SiteRef) -> anyhow::Result<Vec<Target>> {
    let what = format!("site {site}");
    let value: Value = client
        .get_json(&site.graph_path())
        .await
        .map_err(|e| lookup_failed(e, &what))?;
    let site_id = str_field(&value, "id").ok_or_else(|| no_id(&what))?;
    let mut targets = libraries(client, &site_id, &what).await?;
    let lists = collection(
        client,
        &format!("/sites/{}/lists", segment(&site_id)),
        &format!("the lists of {what}"),
    )
    .await?;
    let drive_urls: Vec<String> = targets
        .iter()
        .filter_map(|t| t.web_url.as_deref().map(str::to_ascii_lowercase))
        .collect();
    for list in &lists {
        if !is_user_list(list, &drive_urls) {
            continue;
        }
        let Some(list_id) = str_field(list, "id") else {
            continue;
        };
        let web_url = str_field(list, "webUrl");
        let label = match web_url
            .as_deref()
            .and_then(|w| SharePointUrl::parse(w).ok())
        {
            Some(url) => format!("list:{}", url.display(usize::MAX)),
            None => format!("list:{site_id}/{list_id}"),
        };
        targets.push(Target {
            label,
            kind: TargetKind::List {
                site_id: site_id.clone(),
                list_id,
            },
            display_name: one_line(
                &str_field(list, "displayName")
                    .or_else(|| str_field(list, "name"))
                    .unwrap_or_default(),
            ),
            web_url,
        });
    }
    Ok(targets)
}

/// Every document library of every site the signed-in user follows
/// (`GET /me/followedSites`: delegated sign-ins only, as socket.io is).
pub async fn followed_sites(client: &GraphClient) -> anyhow::Result<Vec<Target>> {
    let what = "the sites you follow";
    let sites = collection(client, "/me/followedSites", what).await?;
    // Several sites at a time, in order: the client paces them (graph::MAX_IN_FLIGHT),
    // and 500 sites one after the other would take minutes of round trips.
    // (The futures are made first: a stream over a borrowing closure is not `Send` for
    // the spawned task that rescans.)
    let lookups: Vec<_> = sites
        .iter()
        .filter_map(|site| {
            let site_id = str_field(site, "id")?;
            let name = str_field(site, "webUrl").unwrap_or_else(|| site_id.clone());
            let client = client.clone();
            Some(async move { libraries(&client, &site_id, &format!("site {name}")).await })
        })
        .collect();
    let per_site = futures_util::stream::iter(lookups).buffered(SITES_AT_ONCE);
    let found: Vec<anyhow::Result<Vec<Target>>> = per_site.collect().await;
    let mut targets = Vec::new();
    for libraries in found {
        targets.extend(libraries?);
    }
    Ok(targets)
}

/// `GET /sites/{id}/drives`: the site's document libraries.
async fn libraries(client: &GraphClient, site_id: &str, what: &str) -> anyhow::Result<Vec<Target>> {
    let drives = collection(
        client,
        &format!("/sites/{}/drives", segment(site_id)),
        &format!("the document libraries of {what}"),
    )
    .await?;
    Ok(drives
        .iter()
        .filter_map(|drive| {
            let drive_id = str_field(drive, "id")?;
            let web_url = str_field(drive, "webUrl");
            let label = match web_url
                .as_deref()
                .and_then(|w| SharePointUrl::parse(w).ok())
            {
                Some(url) => format!("drive:{}", url.display(usize::MAX)),
                None => format!("drive:{drive_id}"),
            };
            Some(Target {
                label,
                kind: TargetKind::Drive { drive_id },
                display_name: one_line(&str_field(drive, "name").unwrap_or_default()),
                web_url,
            })
        })
        .collect())
}

/// A list people edit, whose changes no drive target already brings (module docs).
fn is_user_list(list: &Value, drive_urls: &[String]) -> bool {
    let facet = list.get("list");
    let hidden = facet
        .and_then(|f| f.get("hidden"))
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let library = facet
        .and_then(|f| f.get("template"))
        .and_then(Value::as_str)
        .is_some_and(|t| t.eq_ignore_ascii_case("documentLibrary"));
    let system = list.get("system").is_some();
    let behind_a_drive =
        str_field(list, "webUrl").is_some_and(|w| drive_urls.contains(&w.to_ascii_lowercase()));
    !(hidden || library || system || behind_a_drive)
}

fn str_field(value: &Value, key: &str) -> Option<String> {
    value.get(key).and_then(Value::as_str).map(str::to_string)
}

fn no_id(what: &str) -> anyhow::Error {
    Error::failure(format!("Graph's answer for {what} has no id"))
        .hint("check --graph-url")
        .into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn hidden_system_and_library_lists_are_not_targets() {
        let drives = vec!["https://h/sites/a/shared%20documents".to_string()];
        let list = |facet: Value, extra: Value| {
            let mut l =
                json!({"id": "l", "webUrl": "https://h/sites/a/Lists/Issues", "list": facet});
            if let (Value::Object(l), Value::Object(extra)) = (&mut l, extra) {
                l.extend(extra);
            }
            l
        };
        assert!(is_user_list(
            &list(
                json!({"template": "genericList", "hidden": false}),
                json!({})
            ),
            &drives
        ));
        assert!(!is_user_list(
            &list(
                json!({"template": "genericList", "hidden": true}),
                json!({})
            ),
            &drives
        ));
        assert!(!is_user_list(
            &list(json!({"template": "documentLibrary"}), json!({})),
            &drives
        ));
        assert!(!is_user_list(
            &list(json!({}), json!({"system": {}})),
            &drives
        ));
        assert!(!is_user_list(
            &list(
                json!({"template": "webPageLibrary"}),
                json!({"webUrl": "https://h/sites/a/Shared%20Documents"})
            ),
            &drives
        ));
    }
}
