//! Many sites at once (`POST /_emulator/sites`) and a library added to a site later
//! (`POST /_emulator/libraries`): what a client watching a whole site, or every site a
//! user follows, meets at scale, for tests and benchmarks (bench/many).
//!
//! The sites are ordinary ones: each has its default library "Documents"
//! (`Shared Documents`, as SharePoint names it), maybe more libraries, generic lists, and
//! one hidden list (`TaxonomyHiddenList`, as every real site has), because
//! `GET /sites/{id}/lists` returns hidden and library-backed lists too and a client must
//! tell them apart.

use std::collections::BTreeMap;

use super::{seed_item_id, Column, ColumnType, Data, List, Owner, SeedDrive, Site, Stamp};
use crate::error::GraphError;
use crate::seed;

/// The id of bulk site `n` under `prefix` (`site-bulk-0007`).
pub fn site_id(prefix: &str, n: usize) -> String {
    format!("site-{prefix}-{n:04}")
}

/// A name that is safe in ids and URL paths: letters, digits and `-`.
fn check_prefix(prefix: &str) -> Result<(), GraphError> {
    if prefix.is_empty()
        || prefix.len() > 32
        || !prefix
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
    {
        return Err(GraphError::bad_request(
            "prefix must be 1 to 32 letters, digits or '-'",
        ));
    }
    Ok(())
}

impl Data {
    /// Make `count` sites `site-{prefix}-0000`… at `/sites/{prefix}-0000`…, each with
    /// `libraries` document libraries (at least the default one), `lists` generic lists
    /// and one hidden list; followed by `follower` if given. Their ids, in order.
    /// Refused with 409 if a site of that prefix exists.
    pub fn bulk_sites(
        &mut self,
        at: &Stamp,
        prefix: &str,
        count: usize,
        libraries: usize,
        lists: usize,
        follower: Option<&str>,
    ) -> Result<Vec<String>, GraphError> {
        check_prefix(prefix)?;
        if self.site(&site_id(prefix, 0)).is_some() {
            return Err(GraphError::new(
                axum::http::StatusCode::CONFLICT,
                "nameAlreadyExists",
                format!("sites with the prefix {prefix} exist already"),
            ));
        }
        if let Some(user) = follower {
            if self.user(user).is_none() {
                return Err(GraphError::not_found(&format!("user {user}")));
            }
        }
        let mut ids = Vec::with_capacity(count);
        for n in 0..count {
            let id = site_id(prefix, n);
            let name = format!("{prefix}-{n:04}");
            self.sites.push(Site {
                id: id.clone(),
                display_name: format!("Site {name}"),
                description: String::new(),
                hostname: seed::SHAREPOINT_HOST.to_string(),
                path: format!("/sites/{name}"),
                web_id: uuid::Uuid::new_v4().to_string(),
                site_collection_id: uuid::Uuid::new_v4().to_string(),
                default_drive: String::new(),
                drives: Vec::new(),
                lists: Vec::new(),
                name,
                created: at.now,
            });
            for l in 0..libraries.max(1) {
                let (display, url_name) = match l {
                    0 => ("Documents".to_string(), "Shared Documents".to_string()),
                    l => (format!("Library {l:02}"), format!("Library{l:02}")),
                };
                self.add_library_named(at, &id, &display, &url_name)?;
            }
            for l in 0..lists {
                self.add_list(
                    at,
                    &id,
                    &format!("List {l:02}"),
                    &format!("List{l:02}"),
                    false,
                )?;
            }
            self.add_list(at, &id, "TaxonomyHiddenList", "TaxonomyHiddenList", true)?;
            ids.push(id);
        }
        if let Some(user) = follower {
            if let Some(user) = self.users.iter_mut().find(|u| u.id == user) {
                user.followed_sites.extend(ids.iter().cloned());
            }
        }
        Ok(ids)
    }

    /// Add a document library `name` to site `site_id`: its drive (empty but for the
    /// root, logged as created) and its list. The drive's id.
    pub fn add_library(
        &mut self,
        at: &Stamp,
        site_id: &str,
        name: &str,
    ) -> Result<String, GraphError> {
        if name.is_empty() || name.contains(['/', '\\', '#', '%', '?']) || name.len() > 100 {
            return Err(GraphError::bad_request(
                "name must be 1 to 100 characters without / \\ # % ?",
            ));
        }
        let site = self
            .site(site_id)
            .ok_or_else(|| GraphError::not_found("site"))?
            .id
            .clone();
        let url_name: String = name.chars().filter(|c| !c.is_whitespace()).collect();
        self.add_library_named(at, &site, name, &url_name)
    }

    fn add_library_named(
        &mut self,
        at: &Stamp,
        site_id: &str,
        display: &str,
        url_name: &str,
    ) -> Result<String, GraphError> {
        let site = self
            .site(site_id)
            .ok_or_else(|| GraphError::not_found("site"))?;
        let web_url = format!(
            "{}/{}",
            site.web_url(),
            crate::graph::render::encode_segment(url_name)
        );
        if self
            .drives
            .values()
            .any(|d| d.web_url.eq_ignore_ascii_case(&web_url))
        {
            return Err(GraphError::new(
                axum::http::StatusCode::CONFLICT,
                "nameAlreadyExists",
                format!("the site has a library at {url_name} already"),
            ));
        }
        let (path, web_id) = (site.path.clone(), site.web_id.clone());
        let tag = uuid::Uuid::new_v4().simple().to_string();
        let drive_id = format!("b!{}{}", site_id.trim_start_matches("site-"), &tag[..12]);
        let list_id = format!("list-{tag}");
        let resource = uuid::Uuid::new_v4().to_string();
        self.seed_drive(
            at,
            SeedDrive {
                id: &drive_id,
                name: display,
                drive_type: "documentLibrary",
                owner: Owner::Site(site_id.to_string()),
                web_url,
                site_url: &path,
                web_id: &web_id,
                resource_id: &resource,
                site_id: Some(site_id),
                list_id: Some(&list_id),
                entries: &[],
                by: &at.user,
            },
        );
        if let Some(list) = self.lists.get_mut(&list_id) {
            list.name = url_name.to_string();
        }
        let site = self
            .sites
            .iter_mut()
            .find(|s| s.id == site_id)
            .ok_or_else(|| GraphError::not_found("site"))?;
        if site.default_drive.is_empty() {
            site.default_drive = drive_id.clone();
        }
        site.drives.push(drive_id.clone());
        site.lists.push(list_id);
        debug_assert!(self.drives[&drive_id].root_id == seed_item_id(&drive_id, 0));
        Ok(drive_id)
    }

    fn add_list(
        &mut self,
        at: &Stamp,
        site_id: &str,
        display: &str,
        url_name: &str,
        hidden: bool,
    ) -> Result<(), GraphError> {
        let site = self
            .sites
            .iter_mut()
            .find(|s| s.id == site_id)
            .ok_or_else(|| GraphError::not_found("site"))?;
        let id = format!("list-{}", uuid::Uuid::new_v4().simple());
        let web_url = format!(
            "{}/Lists/{}",
            site.web_url(),
            crate::graph::render::encode_segment(url_name)
        );
        site.lists.push(id.clone());
        self.lists.insert(
            id.clone(),
            List {
                id,
                name: url_name.to_string(),
                display_name: display.to_string(),
                template: "genericList".to_string(),
                hidden,
                web_url,
                resource_id: uuid::Uuid::new_v4().to_string(),
                site_id: site_id.to_string(),
                drive_id: None,
                columns: vec![Column::new("Title", ColumnType::Text)],
                created: at.now,
                items: BTreeMap::new(),
                next_id: 0,
            },
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use super::*;

    #[test]
    fn bulk_sites_have_libraries_lists_a_hidden_list_and_a_follower() {
        let mut data = Data::seeded(Utc::now());
        let at = Stamp::new(seed::ADELE_ID, 0);
        let ids = data
            .bulk_sites(&at, "t", 3, 2, 1, Some(seed::ADELE_ID))
            .expect("bulk sites");
        assert_eq!(ids, ["site-t-0000", "site-t-0001", "site-t-0002"]);
        let site = data.site("site-t-0001").expect("site");
        assert_eq!(site.drives.len(), 2);
        assert_eq!(site.default_drive, site.drives[0]);
        // Two library lists, one generic list, one hidden list.
        assert_eq!(site.lists.len(), 4);
        let hidden: Vec<bool> = site.lists.iter().map(|l| data.lists[l].hidden).collect();
        assert_eq!(hidden, [false, false, false, true]);
        assert_eq!(
            data.drives[&site.drives[0]].web_url,
            "https://contoso.sharepoint.com/sites/t-0001/Shared%20Documents"
        );
        let adele = data.user(seed::ADELE_ID).expect("adele");
        assert_eq!(adele.followed_sites.len(), 1 + 3);

        let again = data.bulk_sites(&at, "t", 1, 1, 0, None);
        assert_eq!(again.err().map(|e| e.status.as_u16()), Some(409));

        let drive = data
            .add_library(&at, "site-t-0002", "Contracts")
            .expect("library");
        let site = data.site("site-t-0002").expect("site");
        assert_eq!(site.drives.last(), Some(&drive));
        assert!(data.drives[&drive]
            .web_url
            .ends_with("/sites/t-0002/Contracts"));
        let twice = data.add_library(&at, "site-t-0002", "Contracts");
        assert_eq!(twice.err().map(|e| e.status.as_u16()), Some(409));
    }
}
