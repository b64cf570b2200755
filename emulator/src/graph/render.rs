//! Graph JSON for the store's resources: camelCase, RFC 3339 times, eTags and cTags the
//! way OneDrive for Business and SharePoint write them.

use std::collections::HashMap;

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{json, Map, Value};

use crate::store::{Data, Drive, DriveItem, Group, List, ListItem, Owner, Site, Snapshot, User};

pub fn ts(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// `{base}/v1.0/$metadata#{what}`, the `@odata.context` Graph puts on responses.
pub fn context(base: &str, what: &str) -> String {
    format!("{base}/v1.0/$metadata#{what}")
}

/// Attach `@odata.context` as the first member.
pub fn with_context(base: &str, what: &str, value: Value) -> Value {
    let mut out = Map::new();
    out.insert("@odata.context".into(), context(base, what).into());
    if let Value::Object(fields) = value {
        out.extend(fields);
    }
    Value::Object(out)
}

/// A collection response.
pub fn collection(base: &str, what: &str, items: Vec<Value>) -> Value {
    json!({ "@odata.context": context(base, what), "value": items })
}

/// Percent-encode one URL path segment the way SharePoint writes webUrls.
pub fn encode_segment(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for b in segment.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=@".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The sign-in name SharePoint shows for changes the system itself made.
fn identity(data: &Data, user_id: &str) -> Value {
    match data.user(user_id) {
        Some(u) => json!({"user": {"email": u.upn, "id": u.id, "displayName": u.display_name}}),
        None => json!({"user": {"displayName": "System Account"}}),
    }
}

/// SharePoint's per-site user lookup id (`AuthorLookupId`).
fn lookup_id(data: &Data, user_id: &str) -> String {
    crate::store::lookup_id(&data.users, user_id)
}

pub fn user(u: &User) -> Value {
    json!({
        "businessPhones": [],
        "displayName": u.display_name,
        "givenName": u.given_name,
        "jobTitle": u.job_title,
        "mail": u.upn,
        "mobilePhone": null,
        "officeLocation": null,
        "preferredLanguage": "en-US",
        "surname": u.surname,
        "userPrincipalName": u.upn,
        "id": u.id,
    })
}

pub fn group(g: &Group, tenant_domain: &str) -> Value {
    json!({
        "id": g.id,
        "displayName": g.display_name,
        "description": g.description,
        "groupTypes": ["Unified"],
        "mail": format!("{}@{tenant_domain}", g.mail_nickname),
        "mailEnabled": true,
        "mailNickname": g.mail_nickname,
        "securityEnabled": false,
        "visibility": "Private",
    })
}

pub fn site(s: &Site) -> Value {
    json!({
        "createdDateTime": ts(&s.created),
        "description": s.description,
        "id": s.id,
        "lastModifiedDateTime": ts(&s.created),
        "name": s.name,
        "webUrl": s.web_url(),
        "displayName": s.display_name,
        "siteCollection": {"hostname": s.hostname},
    })
}

pub fn drive(data: &Data, d: &Drive) -> Value {
    let owner = match &d.owner {
        Owner::User(id) => identity(data, id),
        Owner::Group(id) => match data.group(id) {
            Some(g) => json!({"group": {"id": g.id, "displayName": g.display_name}}),
            None => json!({"group": {"id": id}}),
        },
        Owner::Site(_) => json!({"user": {"displayName": "System Account"}}),
    };
    let used: u64 = d.items.values().map(|i| i.size).sum();
    let total: u64 = 1 << 40;
    let modified = d.root().map(|r| r.modified).unwrap_or(d.created);
    json!({
        "createdDateTime": ts(&d.created),
        "description": "",
        "id": d.id,
        "lastModifiedDateTime": ts(&modified),
        "name": d.name,
        "webUrl": d.web_url,
        "driveType": d.drive_type,
        "createdBy": {"user": {"displayName": "System Account"}},
        "owner": owner,
        "quota": {
            "deleted": 0,
            "remaining": total.saturating_sub(used),
            "state": "normal",
            "total": total,
            "used": used,
        },
    })
}

pub fn list(data: &Data, l: &List) -> Value {
    let modified = list_modified(data, l);
    json!({
        "@odata.etag": format!("\"{},{}\"", l.resource_id, 1),
        "createdDateTime": ts(&l.created),
        "description": "",
        "eTag": format!("\"{},{}\"", l.resource_id, 1),
        "id": l.id,
        "lastModifiedDateTime": ts(&modified),
        "name": l.name,
        "webUrl": l.web_url,
        "displayName": l.display_name,
        "createdBy": {"user": {"displayName": "System Account"}},
        "parentReference": {"siteId": l.site_id},
        "list": {"contentTypesEnabled": false, "hidden": l.hidden, "template": l.template},
    })
}

fn list_modified(data: &Data, l: &List) -> DateTime<Utc> {
    let items = l.items.values().map(|i| i.modified);
    let library = l
        .drive_id
        .as_ref()
        .and_then(|d| data.drives.get(d))
        .into_iter()
        .flat_map(|d| d.items.values().map(|i| i.modified));
    items
        .chain(library)
        .max()
        .unwrap_or(l.created)
        .max(l.created)
}

/// A drive's items as of one moment (now, or a point of the change log), with the
/// derived numbers rendering needs: paths, child counts and folder sizes.
pub struct View<'a> {
    pub drive: &'a Drive,
    items: HashMap<&'a str, &'a DriveItem>,
    child_counts: HashMap<&'a str, usize>,
    sizes: HashMap<&'a str, u64>,
}

impl<'a> View<'a> {
    pub fn live(drive: &'a Drive) -> Self {
        Self::new(drive, drive.items.values())
    }

    /// The drive as a replay of its log left it; deleted items are not part of it.
    pub fn replayed(drive: &'a Drive, state: &HashMap<&'a str, (u64, &'a Snapshot)>) -> Self {
        let items = state
            .values()
            .filter(|(_, s)| !s.deleted())
            .filter_map(|(_, s)| s.drive_item());
        Self::new(drive, items)
    }

    fn new(drive: &'a Drive, all: impl Iterator<Item = &'a DriveItem>) -> Self {
        let items: HashMap<&str, &DriveItem> = all.map(|i| (i.id.as_str(), i)).collect();
        let mut view = View {
            drive,
            items,
            child_counts: HashMap::new(),
            sizes: HashMap::new(),
        };
        // Files' sizes are summed per folder first, and only folders walk up the tree:
        // a bulk-seeded drive has thousands of files for each folder.
        let mut direct: HashMap<&'a str, u64> = HashMap::new();
        let ids: Vec<&'a DriveItem> = view.items.values().copied().collect();
        for item in ids {
            if let Some(parent) = item.parent_id.as_deref() {
                if let Some(p) = view.items.get(parent) {
                    *view.child_counts.entry(p.id.as_str()).or_insert(0) += 1;
                    if !item.is_folder() {
                        *direct.entry(p.id.as_str()).or_insert(0) += item.size;
                    }
                }
            }
        }
        for (folder, size) in direct {
            let Some(item) = view.items.get(folder).copied() else {
                continue;
            };
            for ancestor in std::iter::once(folder).chain(view.chain(item)) {
                *view.sizes.entry(ancestor).or_insert(0) += size;
            }
        }
        view
    }

    pub fn get(&self, id: &str) -> Option<&'a DriveItem> {
        self.items.get(id).copied()
    }

    /// Ids of `item`'s ancestors, nearest first (guarded against cycles).
    fn chain(&self, item: &'a DriveItem) -> Vec<&'a str> {
        let mut out: Vec<&'a str> = Vec::new();
        let mut next = item.parent_id.as_deref();
        while let Some(id) = next {
            let Some(parent) = self.items.get(id) else {
                break;
            };
            if out.contains(&parent.id.as_str()) {
                break;
            }
            out.push(parent.id.as_str());
            next = parent.parent_id.as_deref();
        }
        out
    }

    pub fn depth(&self, item: &'a DriveItem) -> usize {
        self.chain(item).len()
    }

    /// Names from the root down to `item`, the root itself excluded.
    fn segments(&self, item: &'a DriveItem) -> Vec<&'a str> {
        let mut names: Vec<&str> = self
            .chain(item)
            .into_iter()
            .filter_map(|id| self.items.get(id))
            .filter(|i| !i.is_root())
            .map(|i| i.name.as_str())
            .collect();
        names.reverse();
        if !item.is_root() {
            names.push(item.name.as_str());
        }
        names
    }

    pub fn web_url(&self, item: &'a DriveItem) -> String {
        let mut url = self.drive.web_url.clone();
        for name in self.segments(item) {
            url.push('/');
            url.push_str(&encode_segment(name));
        }
        url
    }

    /// `/drive/root:` plus the parent's path, as `parentReference.path` has it.
    fn parent_path(&self, item: &'a DriveItem) -> String {
        let mut segments = self.segments(item);
        segments.pop();
        let mut path = "/drive/root:".to_string();
        for s in segments {
            path.push('/');
            path.push_str(s);
        }
        path
    }

    fn parent_reference(&self, item: &'a DriveItem, with_path: bool) -> Value {
        let mut reference = json!({"driveType": self.drive.drive_type, "driveId": self.drive.id});
        if let Some(parent) = &item.parent_id {
            reference["id"] = parent.clone().into();
            if with_path {
                reference["path"] = self.parent_path(item).into();
            }
        }
        if let Some(site) = &self.drive.site_id {
            reference["siteId"] = site.clone().into();
        }
        reference
    }

    /// A driveItem. Delta leaves `parentReference.path` out, as the live service does.
    pub fn drive_item(&self, data: &Data, item: &'a DriveItem, in_delta: bool) -> Value {
        let mut out = json!({
            "createdDateTime": ts(&item.created),
            "eTag": format!("\"{{{}}},{}\"", item.unique_id.to_uppercase(), item.version),
            "id": item.id,
            "lastModifiedDateTime": ts(&item.modified),
            "name": item.name,
            "webUrl": self.web_url(item),
            "cTag": format!("\"c:{{{}}},{}\"", item.unique_id.to_uppercase(), item.content_version),
            "size": if item.is_folder() { self.sizes.get(item.id.as_str()).copied().unwrap_or(0) } else { item.size },
            "createdBy": identity(data, &item.created_by),
            "lastModifiedBy": identity(data, &item.modified_by),
            "parentReference": self.parent_reference(item, !in_delta),
            "fileSystemInfo": {
                "createdDateTime": ts(&item.created),
                "lastModifiedDateTime": ts(&item.modified),
            },
        });
        match &item.mime_type {
            Some(mime) => out["file"] = json!({"mimeType": mime}),
            None => {
                let count = self
                    .child_counts
                    .get(item.id.as_str())
                    .copied()
                    .unwrap_or(0);
                out["folder"] = json!({"childCount": count});
            }
        }
        if item.is_root() {
            out["root"] = json!({});
            out["name"] = "root".into();
        }
        out
    }

    /// A deleted driveItem in delta: id, parent and the deleted facet, but no name, as
    /// business accounts report it.
    pub fn deleted_drive_item(&self, item: &DriveItem) -> Value {
        let mut reference = json!({"driveType": self.drive.drive_type, "driveId": self.drive.id});
        if let Some(parent) = &item.parent_id {
            reference["id"] = parent.clone().into();
        }
        let mut out = json!({
            "id": item.id,
            "lastModifiedDateTime": ts(&item.modified),
            "parentReference": reference,
            "deleted": {"state": "deleted"},
        });
        match &item.mime_type {
            Some(mime) => out["file"] = json!({"mimeType": mime}),
            None => out["folder"] = json!({"childCount": 0}),
        }
        out
    }

    /// A library item seen through its list (`/lists/{id}/items`).
    pub fn library_list_item(&self, data: &Data, list: &List, item: &'a DriveItem) -> Value {
        let etag = format!("\"{},{}\"", item.unique_id, item.version);
        let is_folder = item.is_folder();
        let (ct_id, ct_name) = if is_folder {
            ("0x0120", "Folder")
        } else {
            ("0x0101", "Document")
        };
        let mut fields = json!({
            "@odata.etag": etag,
            "id": item.list_item_id.to_string(),
            "FileLeafRef": item.name,
            "LinkFilename": item.name,
            "ContentType": ct_name,
            "Created": ts(&item.created),
            "Modified": ts(&item.modified),
            "AuthorLookupId": lookup_id(data, &item.created_by),
            "EditorLookupId": lookup_id(data, &item.modified_by),
            "_UIVersionString": format!("{}.0", item.version),
            "ItemChildCount": "0",
            "FolderChildCount": self.child_counts.get(item.id.as_str()).copied().unwrap_or(0).to_string(),
        });
        if !is_folder {
            fields["FileSizeDisplay"] = item.size.to_string().into();
            if let Some((_, ext)) = item.name.rsplit_once('.') {
                fields["DocIcon"] = ext.to_ascii_lowercase().into();
            }
        }
        json!({
            "@odata.etag": etag,
            "createdDateTime": ts(&item.created),
            "eTag": etag,
            "id": item.list_item_id.to_string(),
            "lastModifiedDateTime": ts(&item.modified),
            "webUrl": self.web_url(item),
            "createdBy": identity(data, &item.created_by),
            "lastModifiedBy": identity(data, &item.modified_by),
            "parentReference": {"id": list.resource_id, "siteId": list.site_id},
            "contentType": {"id": ct_id, "name": ct_name},
            "fields": fields,
        })
    }
}

/// A listItem's `fields`: the stored columns plus the ones SharePoint computes.
pub fn fields(data: &Data, item: &ListItem) -> Value {
    let mut out = Map::new();
    out.insert("@odata.etag".into(), list_item_etag(item).into());
    out.insert("id".into(), item.id.to_string().into());
    out.insert("ContentType".into(), "Item".into());
    for (k, v) in &item.fields {
        out.insert(k.clone(), v.clone());
    }
    let title = item.fields.get("Title").cloned().unwrap_or(Value::Null);
    out.insert("LinkTitle".into(), title.clone());
    out.insert("LinkTitleNoMenu".into(), title);
    out.insert("Modified".into(), ts(&item.modified).into());
    out.insert("Created".into(), ts(&item.created).into());
    out.insert(
        "AuthorLookupId".into(),
        lookup_id(data, &item.created_by).into(),
    );
    out.insert(
        "EditorLookupId".into(),
        lookup_id(data, &item.modified_by).into(),
    );
    out.insert(
        "_UIVersionString".into(),
        format!("{}.0", item.version).into(),
    );
    out.insert("Attachments".into(), false.into());
    out.insert("Edit".into(), "".into());
    out.insert("ItemChildCount".into(), "0".into());
    out.insert("FolderChildCount".into(), "0".into());
    Value::Object(out)
}

fn list_item_etag(item: &ListItem) -> String {
    format!("\"{},{}\"", item.unique_id, item.version)
}

pub fn list_item(data: &Data, list: &List, item: &ListItem) -> Value {
    let etag = list_item_etag(item);
    json!({
        "@odata.etag": etag,
        "createdDateTime": ts(&item.created),
        "eTag": etag,
        "id": item.id.to_string(),
        "lastModifiedDateTime": ts(&item.modified),
        "webUrl": format!("{}/{}_.000", list.web_url, item.id),
        "createdBy": identity(data, &item.created_by),
        "lastModifiedBy": identity(data, &item.modified_by),
        "parentReference": {"id": list.resource_id, "siteId": list.site_id},
        "contentType": {"id": "0x0100", "name": "Item"},
        "fields": fields(data, item),
    })
}

/// A deleted listItem in delta: only its id and the deleted facet.
pub fn deleted_list_item(list: &List, id: &str, modified: &DateTime<Utc>) -> Value {
    json!({
        "id": id,
        "lastModifiedDateTime": ts(modified),
        "parentReference": {"id": list.resource_id, "siteId": list.site_id},
        "deleted": {"state": "deleted"},
    })
}
