//! The data behind the Graph routes: users, groups, sites, drives, lists, their items,
//! and the change log that delta reads.
//!
//! Every change of an item's state appends a full snapshot of the item to the log, so
//! delta can rebuild the state of a drive or list as of any point in the log. That is
//! what lets it answer "latest state wins" and honour the delta lag without skipping a
//! change that was not visible yet when a cursor was handed out.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::GraphError;
use crate::seed;

pub(crate) mod bulk;
mod columns;
pub(crate) mod sites;

pub use columns::{lookup_id, user_by_lookup_id, Column, ColumnType, SYSTEM_LOOKUP_ID};

/// Everything a Graph route reads or writes, behind one lock.
pub struct Store {
    data: Mutex<Data>,
}

impl Default for Store {
    fn default() -> Self {
        Self::seeded()
    }
}

impl Store {
    pub fn seeded() -> Self {
        Store {
            data: Mutex::new(Data::seeded(Utc::now())),
        }
    }

    /// Run `f` on the data under the lock. Never call push or identity from inside.
    pub fn read<R>(&self, f: impl FnOnce(&Data) -> R) -> R {
        f(&self.lock())
    }

    pub fn write<R>(&self, f: impl FnOnce(&mut Data) -> R) -> R {
        f(&mut self.lock())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Data> {
        // A panic while holding the lock leaves the data consistent enough to keep serving.
        self.data.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The whole store, epoch and change log included, for `--persist`.
    pub fn snapshot(&self) -> Value {
        serde_json::to_value(&*self.lock()).unwrap_or(Value::Null)
    }

    /// Put back a [`Store::snapshot`]; `null` (a state file without a store) keeps the seed.
    pub fn restore(&self, saved: &Value) -> anyhow::Result<()> {
        if saved.is_null() {
            return Ok(());
        }
        let data: Data = serde_json::from_value(saved.clone())
            .map_err(|e| anyhow::anyhow!("the saved store is not readable: {e}"))?;
        *self.lock() = data;
        Ok(())
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct User {
    pub id: String,
    pub upn: String,
    pub display_name: String,
    pub given_name: String,
    pub surname: String,
    pub job_title: String,
    pub drive_id: String,
    /// Sites the user follows (`GET /me/followedSites`), by id, in the order followed.
    #[serde(default)]
    pub followed_sites: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Group {
    pub id: String,
    pub display_name: String,
    pub mail_nickname: String,
    pub description: String,
    pub members: Vec<String>,
    pub drive_id: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Site {
    pub id: String,
    /// The last URL segment (`eng`).
    pub name: String,
    pub display_name: String,
    pub description: String,
    pub hostname: String,
    /// Server-relative, e.g. `/sites/eng`.
    pub path: String,
    pub web_id: String,
    pub site_collection_id: String,
    pub default_drive: String,
    /// Document libraries' drives, in display order.
    pub drives: Vec<String>,
    /// All lists, libraries included, in display order.
    pub lists: Vec<String>,
    pub created: DateTime<Utc>,
}

impl Site {
    pub fn web_url(&self) -> String {
        format!("https://{}{}", self.hostname, self.path)
    }
}

/// Who a drive belongs to; this decides who may use it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", content = "id", rename_all = "camelCase")]
pub enum Owner {
    User(String),
    Group(String),
    Site(String),
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Drive {
    pub id: String,
    pub name: String,
    /// `business` for OneDrive, `documentLibrary` for group and site libraries.
    pub drive_type: String,
    pub owner: Owner,
    pub web_url: String,
    pub site_url: String,
    pub web_id: String,
    pub resource_id: String,
    pub site_id: Option<String>,
    /// The library's list when the drive is a site library we model as a list too.
    pub list_id: Option<String>,
    pub root_id: String,
    pub created: DateTime<Utc>,
    pub items: BTreeMap<String, DriveItem>,
    /// SharePoint list item ids of the library, one per item, never reused.
    pub next_list_item_id: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DriveItem {
    pub id: String,
    /// The SharePoint unique id that eTag and cTag are built from.
    pub unique_id: String,
    pub name: String,
    pub parent_id: Option<String>,
    /// `Some` for files; folders (and the root) have none.
    pub mime_type: Option<String>,
    pub size: u64,
    pub created: DateTime<Utc>,
    pub modified: DateTime<Utc>,
    pub created_by: String,
    pub modified_by: String,
    /// Bumped on any change (eTag).
    pub version: u64,
    /// Bumped on content changes, and on folders when anything beneath changes (cTag).
    pub content_version: u64,
    pub list_item_id: u64,
}

impl DriveItem {
    pub fn is_folder(&self) -> bool {
        self.mime_type.is_none()
    }
    pub fn is_root(&self) -> bool {
        self.parent_id.is_none()
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct List {
    pub id: String,
    /// The URL name (`Shared Documents`, `Issues`).
    pub name: String,
    pub display_name: String,
    /// `genericList` or `documentLibrary`.
    pub template: String,
    /// `list.hidden`: SharePoint's own lists that its UI does not show (e.g.
    /// `TaxonomyHiddenList`); Graph returns them in `/sites/{id}/lists` all the same.
    #[serde(default)]
    pub hidden: bool,
    pub web_url: String,
    pub resource_id: String,
    pub site_id: String,
    /// For a document library: its drive, which holds the items.
    pub drive_id: Option<String>,
    /// Fields a client may write, with their types.
    pub columns: Vec<Column>,
    pub created: DateTime<Utc>,
    pub items: BTreeMap<u64, ListItem>,
    pub next_id: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ListItem {
    pub id: u64,
    pub unique_id: String,
    /// Only the writable columns, keyed and typed as `fields` shows them (see
    /// [`Column::key`]); computed fields are added when rendered.
    pub fields: Map<String, Value>,
    pub created: DateTime<Utc>,
    pub modified: DateTime<Utc>,
    pub created_by: String,
    pub modified_by: String,
    pub version: u64,
}

/// An item's state at one point of the log.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum Snapshot {
    DriveItem { item: DriveItem, deleted: bool },
    ListItem { item: ListItem, deleted: bool },
}

impl Snapshot {
    pub fn deleted(&self) -> bool {
        match self {
            Snapshot::DriveItem { deleted, .. } | Snapshot::ListItem { deleted, .. } => *deleted,
        }
    }
    pub fn drive_item(&self) -> Option<&DriveItem> {
        match self {
            Snapshot::DriveItem { item, .. } => Some(item),
            Snapshot::ListItem { .. } => None,
        }
    }
    pub fn list_item(&self) -> Option<&ListItem> {
        match self {
            Snapshot::ListItem { item, .. } => Some(item),
            Snapshot::DriveItem { .. } => None,
        }
    }
}

/// One entry of the change log.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Change {
    pub seq: u64,
    /// The log a delta reads: `drive:{id}` or `list:{id}` (generic lists only; a
    /// library's list items are read from its drive's log).
    pub container: String,
    pub item_id: String,
    /// Unix milliseconds from which delta may report it.
    pub visible_at_ms: i64,
    pub state: Snapshot,
}

/// The change log. Global sequence numbers; cursors name the container they belong to.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Log {
    /// Random per store creation and kept by `--persist`, so a cursor handed out by
    /// another emulator instance is recognised as foreign.
    pub epoch: String,
    pub seq: u64,
    pub entries: Vec<Change>,
}

impl Log {
    fn append(&mut self, at: &Stamp, container: &str, item_id: &str, state: Snapshot) {
        self.seq += 1;
        self.entries.push(Change {
            seq: self.seq,
            container: container.to_string(),
            item_id: item_id.to_string(),
            visible_at_ms: at.visible_at_ms,
            state,
        });
    }

    /// The last seq that delta may hand out for `container` at `now_ms`: just before the
    /// first entry that is not visible yet, so a cursor never moves past a hidden change.
    pub fn watermark(&self, container: &str, now_ms: i64) -> u64 {
        self.entries
            .iter()
            .find(|c| c.container == container && c.visible_at_ms > now_ms)
            .map(|c| c.seq - 1)
            .unwrap_or(self.seq)
    }

    /// The state of every item of `container` as of `upto`: item id to (seq of its last
    /// entry, that entry's snapshot). Deleted items are kept, marked deleted.
    /// Keys borrow the log's own ids: on a bulk-seeded drive every delta page replays
    /// hundreds of thousands of entries, and copying each id was a good part of its cost.
    pub fn replay(&self, container: &str, upto: u64) -> HashMap<&str, (u64, &Snapshot)> {
        let mut state = HashMap::new();
        for c in self
            .entries
            .iter()
            .take_while(|c| c.seq <= upto)
            .filter(|c| c.container == container)
        {
            state.insert(c.item_id.as_str(), (c.seq, &c.state));
        }
        state
    }
}

/// When a change happens, who makes it, and from when delta may show it.
#[derive(Debug, Clone)]
pub struct Stamp {
    pub now: DateTime<Utc>,
    pub visible_at_ms: i64,
    pub user: String,
}

impl Stamp {
    pub fn new(user: &str, lag_ms: u64) -> Self {
        let now = Utc::now();
        let lag = i64::try_from(lag_ms).unwrap_or(i64::MAX / 2);
        Stamp {
            now,
            visible_at_ms: now.timestamp_millis().saturating_add(lag),
            user: user.to_string(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Data {
    pub tenant_id: String,
    pub users: Vec<User>,
    pub groups: Vec<Group>,
    pub sites: Vec<Site>,
    pub drives: BTreeMap<String, Drive>,
    pub lists: BTreeMap<String, List>,
    pub log: Log,
}

/// How an upload treats an existing item of the same name
/// (`@microsoft.graph.conflictBehavior`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Conflict {
    Replace,
    Fail,
    Rename,
}

/// The log key of a drive.
pub fn drive_key(drive_id: &str) -> String {
    format!("drive:{drive_id}")
}

/// The log key of a list.
pub fn list_key(list_id: &str) -> String {
    format!("list:{list_id}")
}

/// SharePoint refuses decoded paths longer than this; it also bounds how deep trees get.
const MAX_PATH_CHARS: usize = 400;

/// Characters OneDrive for Business refuses in names.
const INVALID_NAME_CHARS: &[char] = &['"', '*', ':', '<', '>', '?', '/', '\\', '|'];

fn validate_name(name: &str) -> Result<(), GraphError> {
    let trimmed = name.trim();
    if trimmed.is_empty() || trimmed == "." || trimmed == ".." {
        return Err(GraphError::bad_request("The name must not be empty."));
    }
    if name.contains(INVALID_NAME_CHARS) || name.chars().any(char::is_control) {
        return Err(GraphError::bad_request(format!(
            "The provided name contains invalid characters: {name:?}"
        )));
    }
    if name.len() > 400 {
        return Err(GraphError::bad_request("The name is too long."));
    }
    Ok(())
}

fn name_conflict(name: &str) -> GraphError {
    GraphError::new(
        axum::http::StatusCode::CONFLICT,
        "nameAlreadyExists",
        format!("The specified item name already exists: {name}"),
    )
}

/// A new driveItem id in the shape OneDrive for Business uses (34 upper-case chars).
fn new_item_id() -> String {
    format!(
        "01{}",
        uuid::Uuid::new_v4().simple().to_string().to_uppercase()
    )
}

/// A file's MIME type from its extension, as OneDrive infers it.
pub fn mime_for(name: &str) -> &'static str {
    let ext = name
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "txt" | "log" => "text/plain",
        "md" => "text/markdown",
        "csv" => "text/csv",
        "json" => "application/json",
        "html" | "htm" => "text/html",
        "xml" => "application/xml",
        "pdf" => "application/pdf",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "zip" => "application/zip",
        "docx" => "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "xlsx" => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "pptx" => "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        _ => "application/octet-stream",
    }
}

impl Drive {
    pub fn item(&self, id: &str) -> Result<&DriveItem, GraphError> {
        self.items
            .get(id)
            .ok_or_else(|| GraphError::not_found(&format!("item {id}")))
    }

    pub fn root(&self) -> Result<&DriveItem, GraphError> {
        self.item(&self.root_id)
    }

    /// OneDrive names are case-insensitive within a folder.
    pub fn child_named(&self, parent: &str, name: &str) -> Option<&DriveItem> {
        self.items
            .values()
            .find(|i| i.parent_id.as_deref() == Some(parent) && i.name.eq_ignore_ascii_case(name))
    }

    pub fn children(&self, parent: &str) -> Vec<&DriveItem> {
        let mut children: Vec<&DriveItem> = self
            .items
            .values()
            .filter(|i| i.parent_id.as_deref() == Some(parent))
            .collect();
        children.sort_by_key(|i| i.name.to_lowercase());
        children
    }

    /// The item at `path` (slash-separated, relative to `from`).
    pub fn by_path(&self, from: &str, path: &str) -> Result<&DriveItem, GraphError> {
        let mut current = self.item(from)?;
        for part in path.split('/').filter(|p| !p.is_empty()) {
            current = self
                .child_named(&current.id, part)
                .ok_or_else(|| GraphError::not_found(&format!("path {path}")))?;
        }
        Ok(current)
    }

    /// Ids from the root down to `id`'s parent.
    fn ancestors(&self, id: &str) -> Vec<String> {
        let mut chain = Vec::new();
        let mut next = self.items.get(id).and_then(|i| i.parent_id.clone());
        while let Some(parent) = next {
            if chain.contains(&parent) {
                break;
            }
            next = self.items.get(&parent).and_then(|i| i.parent_id.clone());
            chain.push(parent);
        }
        chain.reverse();
        chain
    }

    fn is_within(&self, id: &str, ancestor: &str) -> bool {
        id == ancestor || self.ancestors(id).iter().any(|a| a == ancestor)
    }

    /// `id` and everything beneath it, children before their parents. Iterative, so a
    /// deep tree cannot exhaust the stack.
    fn subtree_post_order(&self, id: &str) -> Vec<String> {
        let mut pre_order = Vec::new();
        let mut stack = vec![id.to_string()];
        while let Some(next) = stack.pop() {
            stack.extend(self.children(&next).into_iter().map(|c| c.id.clone()));
            pre_order.push(next);
        }
        pre_order.reverse();
        pre_order
    }

    /// The length of `id`'s path below the root, in characters.
    fn path_len(&self, id: &str) -> usize {
        self.ancestors(id)
            .iter()
            .chain(std::iter::once(&id.to_string()))
            .filter_map(|a| self.items.get(a))
            .filter(|i| !i.is_root())
            .map(|i| i.name.chars().count() + 1)
            .sum()
    }

    fn record(&self, log: &mut Log, at: &Stamp, id: &str) {
        if let Some(item) = self.items.get(id) {
            log.append(
                at,
                &drive_key(&self.id),
                id,
                Snapshot::DriveItem {
                    item: item.clone(),
                    deleted: false,
                },
            );
        }
    }

    /// A change beneath these folders changes them too (eTag, cTag, modified), and
    /// OneDrive reports them in delta; record them top-down so parents come first.
    fn touch_folders(&mut self, log: &mut Log, at: &Stamp, ids: &[String]) {
        for id in ids {
            if let Some(folder) = self.items.get_mut(id) {
                folder.version += 1;
                folder.content_version += 1;
                folder.modified = at.now;
                folder.modified_by = at.user.clone();
            }
            self.record(log, at, id);
        }
    }

    fn new_item(&mut self, at: &Stamp, name: &str, parent: &str, mime: Option<&str>) -> DriveItem {
        self.next_list_item_id += 1;
        DriveItem {
            id: new_item_id(),
            unique_id: uuid::Uuid::new_v4().to_string(),
            name: name.to_string(),
            parent_id: Some(parent.to_string()),
            mime_type: mime.map(str::to_string),
            size: 0,
            created: at.now,
            modified: at.now,
            created_by: at.user.clone(),
            modified_by: at.user.clone(),
            version: 1,
            content_version: 1,
            list_item_id: self.next_list_item_id,
        }
    }

    /// A free name like `report 1.txt` for `rename` conflict behaviour.
    fn unique_name(&self, parent: &str, name: &str) -> String {
        let (stem, ext) = match name.rsplit_once('.') {
            Some((s, e)) if !s.is_empty() => (s.to_string(), format!(".{e}")),
            _ => (name.to_string(), String::new()),
        };
        (1..)
            .map(|n| format!("{stem} {n}{ext}"))
            .find(|candidate| self.child_named(parent, candidate).is_none())
            .unwrap_or_else(|| name.to_string())
    }

    /// Create or replace the file at `path` under `from`, creating missing folders.
    /// Returns the file's id and whether it was created.
    pub fn put_content(
        &mut self,
        log: &mut Log,
        at: &Stamp,
        from: &str,
        path: &str,
        size: u64,
        conflict: Conflict,
    ) -> Result<(String, bool), GraphError> {
        let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
        let Some((file_name, folders)) = parts.split_last() else {
            return Err(GraphError::bad_request("The upload path names no file."));
        };
        for part in &parts {
            validate_name(part)?;
        }
        let start = self.item(from)?;
        if self.path_len(&start.id) + path.chars().count() > MAX_PATH_CHARS {
            return Err(GraphError::bad_request(format!(
                "The path is longer than {MAX_PATH_CHARS} characters."
            )));
        }
        if !start.is_folder() {
            return Err(GraphError::bad_request(
                "The parent of an upload must be a folder.",
            ));
        }

        // Check everything before changing anything, so a refused upload leaves no folders.
        let mut parent = start.id.clone();
        let mut missing: &[&str] = &[];
        for (i, folder) in folders.iter().enumerate() {
            match self.child_named(&parent, folder) {
                Some(existing) if existing.is_folder() => parent = existing.id.clone(),
                Some(_) => return Err(name_conflict(folder)),
                None => {
                    missing = &folders[i..];
                    break;
                }
            }
        }
        let mut name = file_name.to_string();
        let mut replace = None;
        if missing.is_empty() {
            if let Some(existing) = self.child_named(&parent, file_name) {
                match conflict {
                    _ if existing.is_folder() => return Err(name_conflict(file_name)),
                    Conflict::Fail => return Err(name_conflict(file_name)),
                    Conflict::Rename => name = self.unique_name(&parent, file_name),
                    Conflict::Replace => replace = Some(existing.id.clone()),
                }
            }
        }

        let mut created_folders = Vec::new();
        for folder in missing {
            let item = self.new_item(at, folder, &parent, None);
            parent = item.id.clone();
            created_folders.push(item.id.clone());
            self.items.insert(item.id.clone(), item);
        }
        let (id, created) = match replace {
            Some(id) => {
                if let Some(file) = self.items.get_mut(&id) {
                    file.size = size;
                    file.version += 1;
                    file.content_version += 1;
                    file.modified = at.now;
                    file.modified_by = at.user.clone();
                }
                (id, false)
            }
            None => {
                let mut file = self.new_item(at, &name, &parent, Some(mime_for(&name)));
                file.size = size;
                let id = file.id.clone();
                self.items.insert(id.clone(), file);
                (id, true)
            }
        };

        let ancestors = self.ancestors(&id);
        let (new, existing): (Vec<String>, Vec<String>) = ancestors
            .into_iter()
            .partition(|a| created_folders.contains(a));
        self.touch_folders(log, at, &existing);
        for folder in &new {
            self.record(log, at, folder);
        }
        self.record(log, at, &id);
        Ok((id, created))
    }

    /// Rename and/or move an item (PATCH name / parentReference.id).
    pub fn update_item(
        &mut self,
        log: &mut Log,
        at: &Stamp,
        id: &str,
        name: Option<&str>,
        new_parent: Option<&str>,
    ) -> Result<(), GraphError> {
        let item = self.item(id)?.clone();
        if item.is_root() {
            return Err(GraphError::bad_request(
                "The root folder cannot be changed.",
            ));
        }
        if let Some(name) = name {
            validate_name(name)?;
        }
        let old_parent = item.parent_id.clone().unwrap_or_default();
        let target_parent = match new_parent {
            Some(p) => {
                let parent = self.item(p)?;
                if !parent.is_folder() {
                    return Err(GraphError::bad_request("The new parent must be a folder."));
                }
                if self.is_within(p, id) {
                    return Err(GraphError::bad_request(
                        "An item cannot be moved into itself or its own subtree.",
                    ));
                }
                parent.id.clone()
            }
            None => old_parent.clone(),
        };
        let target_name = name.unwrap_or(&item.name).to_string();
        if let Some(other) = self.child_named(&target_parent, &target_name) {
            if other.id != id {
                return Err(name_conflict(&target_name));
            }
        }

        if let Some(item) = self.items.get_mut(id) {
            item.name = target_name;
            item.parent_id = Some(target_parent.clone());
            item.version += 1;
            item.modified = at.now;
            item.modified_by = at.user.clone();
        }
        let mut folders = self.ancestors(id);
        if target_parent != old_parent {
            let mut old_chain = self.ancestors(&old_parent);
            old_chain.push(old_parent);
            for folder in old_chain {
                if !folders.contains(&folder) {
                    folders.push(folder);
                }
            }
        }
        self.touch_folders(log, at, &folders);
        self.record(log, at, id);
        Ok(())
    }

    /// Delete an item and its subtree; each deleted item gets its own log entry.
    pub fn delete_item(&mut self, log: &mut Log, at: &Stamp, id: &str) -> Result<(), GraphError> {
        let item = self.item(id)?;
        if item.is_root() {
            return Err(GraphError::bad_request(
                "The root folder cannot be deleted.",
            ));
        }
        let folders = self.ancestors(id);
        let doomed = self.subtree_post_order(id);
        self.touch_folders(log, at, &folders);
        let key = drive_key(&self.id);
        for gone in doomed {
            if let Some(mut item) = self.items.remove(&gone) {
                item.modified = at.now;
                item.modified_by = at.user.clone();
                log.append(
                    at,
                    &key,
                    &gone,
                    Snapshot::DriveItem {
                        item,
                        deleted: true,
                    },
                );
            }
        }
        Ok(())
    }
}

impl List {
    pub fn item(&self, id: &str) -> Result<&ListItem, GraphError> {
        id.parse::<u64>()
            .ok()
            .and_then(|n| self.items.get(&n))
            .ok_or_else(|| GraphError::not_found(&format!("list item {id}")))
    }

    fn writable(&self) -> Result<(), GraphError> {
        if self.drive_id.is_some() {
            return Err(GraphError::bad_request(
                "Files and folders should only be added to a DocumentLibrary via the OneDrive API",
            ));
        }
        Ok(())
    }

    fn record(&self, log: &mut Log, at: &Stamp, id: u64) {
        if let Some(item) = self.items.get(&id) {
            log.append(
                at,
                &list_key(&self.id),
                &id.to_string(),
                Snapshot::ListItem {
                    item: item.clone(),
                    deleted: false,
                },
            );
        }
    }

    /// `users` are the site's users, whom person columns may name.
    pub fn create_item(
        &mut self,
        log: &mut Log,
        at: &Stamp,
        users: &[User],
        fields: Map<String, Value>,
    ) -> Result<u64, GraphError> {
        self.writable()?;
        let fields = columns::accept_fields(&self.columns, fields, users)?;
        self.next_id += 1;
        let id = self.next_id;
        let fields = fields.into_iter().filter(|(_, v)| !v.is_null()).collect();
        self.items.insert(
            id,
            ListItem {
                id,
                unique_id: uuid::Uuid::new_v4().to_string(),
                fields,
                created: at.now,
                modified: at.now,
                created_by: at.user.clone(),
                modified_by: at.user.clone(),
                version: 1,
            },
        );
        self.record(log, at, id);
        Ok(id)
    }

    /// Merge `fields` into the item; `null` clears a field.
    pub fn update_fields(
        &mut self,
        log: &mut Log,
        at: &Stamp,
        users: &[User],
        id: &str,
        fields: Map<String, Value>,
    ) -> Result<u64, GraphError> {
        self.writable()?;
        let id = self.item(id)?.id;
        let fields = columns::accept_fields(&self.columns, fields, users)?;
        if let Some(item) = self.items.get_mut(&id) {
            for (name, value) in fields {
                if value.is_null() {
                    item.fields.remove(&name);
                } else {
                    item.fields.insert(name, value);
                }
            }
            item.version += 1;
            item.modified = at.now;
            item.modified_by = at.user.clone();
        }
        self.record(log, at, id);
        Ok(id)
    }

    pub fn delete_item(&mut self, log: &mut Log, at: &Stamp, id: &str) -> Result<(), GraphError> {
        self.writable()?;
        let id = self.item(id)?.id;
        if let Some(mut item) = self.items.remove(&id) {
            item.modified = at.now;
            item.modified_by = at.user.clone();
            log.append(
                at,
                &list_key(&self.id),
                &id.to_string(),
                Snapshot::ListItem {
                    item,
                    deleted: true,
                },
            );
        }
        Ok(())
    }
}

impl Data {
    pub fn user(&self, id_or_upn: &str) -> Option<&User> {
        self.users
            .iter()
            .find(|u| u.id.eq_ignore_ascii_case(id_or_upn) || u.upn.eq_ignore_ascii_case(id_or_upn))
    }

    pub fn group(&self, id: &str) -> Option<&Group> {
        self.groups.iter().find(|g| g.id.eq_ignore_ascii_case(id))
    }

    /// A site by its id, or by the `hostname,siteCollectionId,webId` form real Graph uses.
    pub fn site(&self, id: &str) -> Option<&Site> {
        self.sites.iter().find(|s| {
            s.id.eq_ignore_ascii_case(id)
                || format!("{},{},{}", s.hostname, s.site_collection_id, s.web_id)
                    .eq_ignore_ascii_case(id)
        })
    }

    /// The site at `hostname:/server-relative-path` (trailing slash and case ignored).
    pub fn site_by_path(&self, hostname: &str, path: &str) -> Option<&Site> {
        let path = path.trim_end_matches('/');
        self.sites.iter().find(|s| {
            s.hostname.eq_ignore_ascii_case(hostname) && s.path.eq_ignore_ascii_case(path)
        })
    }

    /// A list of `site` by id or, as Graph allows, by display name (case-insensitive).
    pub fn site_list(&self, site: &Site, id_or_name: &str) -> Option<&List> {
        site.lists
            .iter()
            .filter_map(|id| self.lists.get(id))
            .find(|l| l.id == id_or_name)
            .or_else(|| {
                site.lists
                    .iter()
                    .filter_map(|id| self.lists.get(id))
                    .find(|l| {
                        l.display_name.eq_ignore_ascii_case(id_or_name)
                            || l.name.eq_ignore_ascii_case(id_or_name)
                    })
            })
    }

    /// A list by its id or by the id of its underlying SharePoint list.
    pub fn list_anywhere(&self, id: &str) -> Option<&List> {
        self.lists.get(id).or_else(|| {
            self.lists
                .values()
                .find(|l| l.resource_id.eq_ignore_ascii_case(id))
        })
    }

    pub fn may_use_drive(&self, user: &str, drive: &Drive) -> bool {
        match &drive.owner {
            Owner::User(owner) => owner == user,
            Owner::Group(group) => self
                .group(group)
                .is_some_and(|g| g.members.iter().any(|m| m == user)),
            Owner::Site(_) => self.user(user).is_some(),
        }
    }

    /// Where a drive's changes are announced: the drive, and its library's list.
    pub fn drive_keys(&self, drive: &Drive) -> Vec<String> {
        let mut keys = vec![drive_key(&drive.id)];
        if let Some(list) = &drive.list_id {
            keys.push(list_key(list));
        }
        keys
    }

    /// Run a drive mutation with the log at hand; returns what it returned and the keys
    /// the change touched.
    pub fn mutate_drive<R>(
        &mut self,
        drive_id: &str,
        f: impl FnOnce(&mut Drive, &mut Log) -> Result<R, GraphError>,
    ) -> Result<(R, Vec<String>), GraphError> {
        let drive = self
            .drives
            .get_mut(drive_id)
            .ok_or_else(|| GraphError::not_found(&format!("drive {drive_id}")))?;
        let out = f(drive, &mut self.log)?;
        let keys = self
            .drives
            .get(drive_id)
            .map(|d| self.drive_keys(d))
            .unwrap_or_default();
        Ok((out, keys))
    }

    /// Run a list mutation with the log and the users (whom person columns name) at hand.
    pub fn mutate_list<R>(
        &mut self,
        list_id: &str,
        f: impl FnOnce(&mut List, &mut Log, &[User]) -> Result<R, GraphError>,
    ) -> Result<(R, Vec<String>), GraphError> {
        let list = self
            .lists
            .get_mut(list_id)
            .ok_or_else(|| GraphError::not_found(&format!("list {list_id}")))?;
        let out = f(list, &mut self.log, &self.users)?;
        Ok((out, vec![list_key(list_id)]))
    }
}

// ---- seed ----

struct SeedDrive<'a> {
    id: &'a str,
    name: &'a str,
    drive_type: &'a str,
    owner: Owner,
    web_url: String,
    site_url: &'a str,
    web_id: &'a str,
    resource_id: &'a str,
    site_id: Option<&'a str>,
    list_id: Option<&'a str>,
    /// Slash paths; a trailing `/` makes a folder, otherwise `(path, size)` files.
    entries: &'a [(&'a str, u64)],
    by: &'a str,
}

impl Data {
    pub fn seeded(now: DateTime<Utc>) -> Data {
        let seed_at = Stamp {
            now: now - chrono::Duration::days(30),
            visible_at_ms: 0,
            user: seed::ADELE_ID.to_string(),
        };
        let mut data = Data {
            tenant_id: seed::TENANT_ID.to_string(),
            users: seed_users(),
            groups: vec![Group {
                id: seed::GROUP_ID.to_string(),
                display_name: seed::GROUP_NAME.to_string(),
                mail_nickname: "engineering".to_string(),
                description: "Engineering team".to_string(),
                members: vec![seed::ADELE_ID.to_string()],
                drive_id: seed::GROUP_DRIVE.to_string(),
            }],
            sites: vec![Site {
                id: seed::SITE_ID.to_string(),
                name: "eng".to_string(),
                display_name: seed::SITE_NAME.to_string(),
                description: "Engineering team site".to_string(),
                hostname: seed::SHAREPOINT_HOST.to_string(),
                path: seed::SITE_PATH.to_string(),
                web_id: seed::SITE_WEB_ID.to_string(),
                site_collection_id: seed::SITE_COLLECTION_ID.to_string(),
                default_drive: seed::DOCS_DRIVE.to_string(),
                drives: vec![seed::DOCS_DRIVE.to_string(), seed::SPECS_DRIVE.to_string()],
                lists: vec![
                    seed::DOCS_LIST_ID.to_string(),
                    seed::SPECS_LIST_ID.to_string(),
                    seed::ISSUES_LIST_ID.to_string(),
                ],
                created: seed_at.now,
            }],
            drives: BTreeMap::new(),
            lists: BTreeMap::new(),
            log: Log {
                epoch: uuid::Uuid::new_v4().simple().to_string(),
                seq: 0,
                entries: Vec::new(),
            },
        };
        let site_web = format!("https://{}{}", seed::SHAREPOINT_HOST, seed::SITE_PATH);
        let drives = [
            SeedDrive {
                id: seed::ADELE_DRIVE,
                name: "OneDrive",
                drive_type: "business",
                owner: Owner::User(seed::ADELE_ID.to_string()),
                web_url: format!(
                    "https://{}{}/Documents",
                    seed::MY_HOST,
                    seed::ADELE_SITE_URL
                ),
                site_url: seed::ADELE_SITE_URL,
                web_id: seed::ADELE_WEB_ID,
                resource_id: seed::ADELE_DRIVE_RESOURCE,
                site_id: None,
                list_id: None,
                entries: &[
                    ("Projects/", 0),
                    ("Projects/plan.docx", 18_204),
                    ("Projects/budget.xlsx", 9_870),
                    ("Photos/", 0),
                    ("notes.txt", 42),
                ],
                by: seed::ADELE_ID,
            },
            SeedDrive {
                id: seed::MEGAN_DRIVE,
                name: "OneDrive",
                drive_type: "business",
                owner: Owner::User(seed::MEGAN_ID.to_string()),
                web_url: format!(
                    "https://{}{}/Documents",
                    seed::MY_HOST,
                    seed::MEGAN_SITE_URL
                ),
                site_url: seed::MEGAN_SITE_URL,
                web_id: seed::MEGAN_WEB_ID,
                resource_id: seed::MEGAN_DRIVE_RESOURCE,
                site_id: None,
                list_id: None,
                entries: &[("Private/", 0), ("Private/salary.xlsx", 7_412)],
                by: seed::MEGAN_ID,
            },
            SeedDrive {
                id: seed::GROUP_DRIVE,
                name: "Documents",
                drive_type: "documentLibrary",
                owner: Owner::Group(seed::GROUP_ID.to_string()),
                web_url: format!(
                    "https://{}{}/Shared%20Documents",
                    seed::SHAREPOINT_HOST,
                    seed::GROUP_SITE_URL
                ),
                site_url: seed::GROUP_SITE_URL,
                web_id: seed::GROUP_WEB_ID,
                resource_id: seed::GROUP_DRIVE_RESOURCE,
                site_id: None,
                list_id: None,
                entries: &[("General/", 0), ("General/roadmap.pptx", 55_120)],
                by: seed::ADELE_ID,
            },
            SeedDrive {
                id: seed::DOCS_DRIVE,
                name: "Documents",
                drive_type: "documentLibrary",
                owner: Owner::Site(seed::SITE_ID.to_string()),
                web_url: format!("{site_web}/Shared%20Documents"),
                site_url: seed::SITE_PATH,
                web_id: seed::SITE_WEB_ID,
                resource_id: seed::DOCS_LIST_RESOURCE,
                site_id: Some(seed::SITE_ID),
                list_id: Some(seed::DOCS_LIST_ID),
                entries: &[
                    ("Design/", 0),
                    ("Design/architecture.md", 3_310),
                    ("Welcome.docx", 12_001),
                ],
                by: seed::ADELE_ID,
            },
            SeedDrive {
                id: seed::SPECS_DRIVE,
                name: "Specs",
                drive_type: "documentLibrary",
                owner: Owner::Site(seed::SITE_ID.to_string()),
                web_url: format!("{site_web}/Specs"),
                site_url: seed::SITE_PATH,
                web_id: seed::SITE_WEB_ID,
                resource_id: seed::SPECS_LIST_RESOURCE,
                site_id: Some(seed::SITE_ID),
                list_id: Some(seed::SPECS_LIST_ID),
                entries: &[("api-v1.md", 2_048)],
                by: seed::ADELE_ID,
            },
        ];
        for spec in drives {
            data.seed_drive(&seed_at, spec);
        }
        data.seed_lists(&seed_at, &site_web);
        data
    }

    fn seed_drive(&mut self, at: &Stamp, spec: SeedDrive<'_>) {
        let at = Stamp {
            user: spec.by.to_string(),
            ..at.clone()
        };
        let root = DriveItem {
            id: seed_item_id(spec.id, 0),
            unique_id: uuid::Uuid::new_v4().to_string(),
            name: "root".to_string(),
            parent_id: None,
            mime_type: None,
            size: 0,
            created: at.now,
            modified: at.now,
            created_by: at.user.clone(),
            modified_by: at.user.clone(),
            version: 1,
            content_version: 1,
            list_item_id: 0,
        };
        let mut drive = Drive {
            id: spec.id.to_string(),
            name: spec.name.to_string(),
            drive_type: spec.drive_type.to_string(),
            owner: spec.owner,
            web_url: spec.web_url,
            site_url: spec.site_url.to_string(),
            web_id: spec.web_id.to_string(),
            resource_id: spec.resource_id.to_string(),
            site_id: spec.site_id.map(str::to_string),
            list_id: spec.list_id.map(str::to_string),
            root_id: root.id.clone(),
            created: at.now,
            items: BTreeMap::from([(root.id.clone(), root.clone())]),
            next_list_item_id: 0,
        };
        drive.record(&mut self.log, &at, &root.id);
        for (n, (path, size)) in spec.entries.iter().enumerate() {
            let (parent_path, name) = path
                .trim_end_matches('/')
                .rsplit_once('/')
                .unwrap_or(("", path.trim_end_matches('/')));
            let parent = drive
                .by_path(&root.id, parent_path)
                .map(|p| p.id.clone())
                .unwrap_or_else(|_| root.id.clone());
            let mime = (!path.ends_with('/')).then(|| mime_for(name));
            let mut item = drive.new_item(&at, name, &parent, mime);
            item.id = seed_item_id(spec.id, n + 1);
            item.size = *size;
            let id = item.id.clone();
            drive.items.insert(id.clone(), item);
            drive.record(&mut self.log, &at, &id);
        }
        if let Some(list) = spec.list_id {
            self.lists.insert(
                list.to_string(),
                List {
                    id: list.to_string(),
                    name: drive
                        .web_url
                        .rsplit('/')
                        .next()
                        .unwrap_or(spec.name)
                        .replace("%20", " "),
                    display_name: spec.name.to_string(),
                    template: "documentLibrary".to_string(),
                    hidden: false,
                    web_url: drive.web_url.clone(),
                    resource_id: drive.resource_id.clone(),
                    site_id: spec.site_id.unwrap_or_default().to_string(),
                    drive_id: Some(drive.id.clone()),
                    columns: vec![Column::new("Title", ColumnType::Text)],
                    created: at.now,
                    items: BTreeMap::new(),
                    next_id: 0,
                },
            );
        }
        self.drives.insert(drive.id.clone(), drive);
    }

    fn seed_lists(&mut self, at: &Stamp, site_web: &str) {
        let mut issues = List {
            id: seed::ISSUES_LIST_ID.to_string(),
            name: "Issues".to_string(),
            display_name: "Issues".to_string(),
            template: "genericList".to_string(),
            hidden: false,
            web_url: format!("{site_web}/Lists/Issues"),
            resource_id: seed::ISSUES_LIST_RESOURCE.to_string(),
            site_id: seed::SITE_ID.to_string(),
            drive_id: None,
            // One column of each type a client is likely to meet (docs/emulator.md).
            columns: vec![
                Column::new("Title", ColumnType::Text),
                Column::choice("Status", &["New", "Active", "Resolved", "Closed"]),
                Column::choice("Priority", &["(1) High", "(2) Normal", "(3) Low"]),
                Column::new("Description", ColumnType::Text),
                Column::new("Estimate", ColumnType::Number),
                Column::new("Blocked", ColumnType::Boolean),
                Column::new("Due", ColumnType::DateTime),
                Column::new("AssignedTo", ColumnType::Person),
            ],
            created: at.now,
            items: BTreeMap::new(),
            next_id: 0,
        };
        let adele = lookup_id(&self.users, seed::ADELE_ID);
        let megan = lookup_id(&self.users, seed::MEGAN_ID);
        let seeds = [
            serde_json::json!({
                "Title": "Sign-in fails on Safari", "Status": "Active", "Priority": "(1) High",
                "Description": "The device-code page never loads.", "Estimate": 3,
                "Blocked": false, "Due": "2026-06-30T17:00:00Z", "AssignedToLookupId": megan,
            }),
            serde_json::json!({
                "Title": "Add a dark theme", "Status": "New", "Priority": "(2) Normal",
                "Estimate": 8, "Blocked": true,
            }),
            serde_json::json!({
                "Title": "Typo in the footer", "Status": "Resolved", "Priority": "(3) Low",
                "Estimate": 0.5, "Blocked": false, "Due": "2026-05-15T12:00:00Z",
                "AssignedToLookupId": adele,
            }),
        ];
        for fields in seeds {
            let Value::Object(fields) = fields else {
                continue;
            };
            // The seed list is writable and the fields are valid: this cannot fail.
            let _ = issues.create_item(&mut self.log, at, &self.users, fields);
        }
        self.lists.insert(issues.id.clone(), issues);
    }
}

/// Stable ids for seed items, so they survive documentation and test runs.
fn seed_item_id(drive: &str, n: usize) -> String {
    let tag: String = drive
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_uppercase())
        .take(20)
        .collect();
    format!("01{tag:X<20}{n:012}")
}

fn seed_users() -> Vec<User> {
    vec![
        User {
            id: seed::ADELE_ID.to_string(),
            upn: seed::ADELE_UPN.to_string(),
            display_name: seed::ADELE_NAME.to_string(),
            given_name: "Adele".to_string(),
            surname: "Vance".to_string(),
            job_title: "Retail Manager".to_string(),
            drive_id: seed::ADELE_DRIVE.to_string(),
            followed_sites: vec![seed::SITE_ID.to_string()],
        },
        User {
            id: seed::MEGAN_ID.to_string(),
            upn: seed::MEGAN_UPN.to_string(),
            display_name: seed::MEGAN_NAME.to_string(),
            given_name: "Megan".to_string(),
            surname: "Bowen".to_string(),
            job_title: "Marketing Manager".to_string(),
            drive_id: seed::MEGAN_DRIVE.to_string(),
            followed_sites: Vec::new(),
        },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stamp() -> Stamp {
        Stamp::new(seed::ADELE_ID, 0)
    }

    #[test]
    fn seed_is_consistent() {
        let data = Data::seeded(Utc::now());
        for drive in data.drives.values() {
            assert!(drive.root().is_ok(), "{} has a root", drive.id);
            for item in drive.items.values() {
                if let Some(parent) = &item.parent_id {
                    assert!(
                        drive.items.contains_key(parent),
                        "{} has its parent",
                        item.name
                    );
                }
            }
        }
        let adele = &data.drives[seed::ADELE_DRIVE];
        assert!(adele.by_path(&adele.root_id, "Projects/plan.docx").is_ok());
        assert_eq!(data.lists[seed::ISSUES_LIST_ID].items.len(), 3);
    }

    #[test]
    fn upload_creates_folders_and_refuses_file_as_folder() {
        let mut data = Data::seeded(Utc::now());
        let at = stamp();
        let ((id, created), _) = data
            .mutate_drive(seed::ADELE_DRIVE, |d, log| {
                let root = d.root_id.clone();
                d.put_content(log, &at, &root, "a/b/c.txt", 3, Conflict::Replace)
            })
            .expect("upload");
        assert!(created);
        let drive = &data.drives[seed::ADELE_DRIVE];
        assert_eq!(
            drive
                .by_path(&drive.root_id, "A/B/C.TXT")
                .ok()
                .map(|i| i.id.clone()),
            Some(id)
        );
        let seq = data.log.seq;
        let refused = data.mutate_drive(seed::ADELE_DRIVE, |d, log| {
            let root = d.root_id.clone();
            d.put_content(log, &at, &root, "notes.txt/x.txt", 1, Conflict::Replace)
        });
        assert_eq!(refused.err().map(|e| e.status.as_u16()), Some(409));
        assert_eq!(data.log.seq, seq, "a refused upload logs nothing");
    }

    #[test]
    fn watermark_stops_before_hidden_entries() {
        let mut data = Data::seeded(Utc::now());
        let key = list_key(seed::ISSUES_LIST_ID);
        let before = data.log.seq;
        let hidden = Stamp {
            visible_at_ms: i64::MAX,
            ..stamp()
        };
        data.mutate_list(seed::ISSUES_LIST_ID, |l, log, users| {
            l.update_fields(log, &hidden, users, "1", Map::new())
        })
        .expect("update");
        data.mutate_list(seed::ISSUES_LIST_ID, |l, log, users| {
            l.update_fields(log, &stamp(), users, "2", Map::new())
        })
        .expect("update");
        assert_eq!(
            data.log.watermark(&key, Utc::now().timestamp_millis()),
            before
        );
    }

    #[test]
    fn move_into_own_subtree_is_refused() {
        let mut data = Data::seeded(Utc::now());
        let drive = &data.drives[seed::ADELE_DRIVE];
        let projects = drive
            .by_path(&drive.root_id, "Projects")
            .map(|i| i.id.clone())
            .expect("seed");
        let result = data.mutate_drive(seed::ADELE_DRIVE, |d, log| {
            d.update_item(log, &stamp(), &projects, None, Some(&projects))
        });
        assert_eq!(result.err().map(|e| e.status.as_u16()), Some(400));
    }
}
