//! `--path /Folder/Sub` for drives: only items under that folder.
//!
//! Delta on business accounts carries no paths (`parentReference.path` is absent), only
//! each item's `id`, `name` and `parentReference.id`. So the watcher keeps its own
//! index, id → (name, parent id), built from the delta feed itself: a full enumeration
//! at start ([`crate::changes::delta::DeltaFeed::enumerate`]) loads it, and every round updates
//! it (renames, moves, deletes) before deciding what is in scope. An item is in scope
//! when its chain of parents reaches the folder; the folder itself is not "under" it
//! and is left out.
//!
//! What a round's item becomes, seen from the folder ([`PathIndex::filter`]):
//!
//! | before the round | after the round | line |
//! |---|---|---|
//! | under the folder or not | under the folder | `updated` (created, changed, moved in) |
//! | under the folder | elsewhere | `deleted` (moved out: gone from the folder) |
//! | under the folder, or unknown with a parent under it | deleted | `deleted` |
//! | not under the folder | not under it | nothing |
//!
//! A move out is reported as `deleted` because a script following the folder must drop
//! the item, and an `updated` line for an item it does not contain would be wrong; the
//! item is still written exactly as delta returned it (so it has no `deleted` facet,
//! and its `parentReference` shows where it went). The rules apply per item as delta
//! reports it: moving a folder reports the folder alone (its contents move with it in
//! the index, but get no lines of their own, as delta sends none). The folder is found
//! by path at every round, so if it is renamed or moved away nothing is in scope any
//! more until a folder of that path exists again (and if it is created, its contents
//! come into scope).
//!
//! Names compare case-insensitively, as OneDrive and SharePoint treat them.

use std::collections::{HashMap, HashSet};

use crate::changes::delta::Change;
use crate::error::Error;
use crate::event::ChangeKind;

#[derive(Debug, Clone)]
struct Node {
    name: Option<String>,
    parent: Option<String>,
}

/// The id → (name, parent) index of one drive and the folder to keep to.
#[derive(Debug, Clone)]
pub struct PathIndex {
    /// The folder as given (for messages), normalised to `/A/B`.
    folder: String,
    /// Its segments, lowercased for comparison.
    segments: Vec<String>,
    nodes: HashMap<String, Node>,
    children: HashMap<String, HashSet<String>>,
    root: Option<String>,
}

impl PathIndex {
    /// An empty index for `folder` (`/Folder/Sub`; `/` is the whole drive). A path with
    /// `.` or `..` segments is a usage error.
    pub fn new(folder: &str) -> Result<PathIndex, Error> {
        let segments: Vec<&str> = folder.split('/').filter(|s| !s.is_empty()).collect();
        if segments.iter().any(|s| *s == "." || *s == "..") {
            return Err(
                Error::usage(format!("--path {folder}: `.` and `..` are not allowed")).hint(
                    "give the folder's path from the drive's root, e.g. --path /Documents/Reports",
                ),
            );
        }
        Ok(PathIndex {
            folder: format!("/{}", segments.join("/")),
            segments: segments.iter().map(|s| s.to_lowercase()).collect(),
            nodes: HashMap::new(),
            children: HashMap::new(),
            root: None,
        })
    }

    /// The folder, normalised (`/Folder/Sub`).
    pub fn folder(&self) -> &str {
        &self.folder
    }

    /// Items known.
    pub fn item_count(&self) -> usize {
        self.nodes.len()
    }

    /// The folder's id, if a folder of that path exists now.
    pub fn folder_id(&self) -> Option<&str> {
        let mut at = self.root.as_deref()?;
        for want in &self.segments {
            at = self
                .children
                .get(at)?
                .iter()
                .find(|child| {
                    self.nodes
                        .get(child.as_str())
                        .and_then(|n| n.name.as_deref())
                        .is_some_and(|name| name.to_lowercase() == *want)
                })?
                .as_str();
        }
        Some(at)
    }

    /// Load items without deciding anything: a baseline enumeration.
    pub fn load(&mut self, items: &[Change]) {
        for item in items {
            self.apply(item);
        }
        for item in items {
            if item.kind == ChangeKind::Deleted {
                self.remove(&item.id);
            }
        }
    }

    /// Apply one round to the index and keep the changes in scope, in order, with their
    /// kind as seen from the folder (see the module docs).
    pub fn filter(&mut self, changes: Vec<Change>) -> Vec<Change> {
        let folder_before = self.folder_id().map(str::to_string);
        let was: Vec<bool> = changes
            .iter()
            .map(|c| self.is_under(&c.id, folder_before.as_deref()))
            .collect();
        let gone: Vec<String> = changes
            .iter()
            .filter(|c| c.kind == ChangeKind::Deleted)
            .map(|c| c.id.clone())
            .collect();
        for change in &changes {
            self.apply(change);
        }
        let folder_after = self.folder_id().map(str::to_string);
        let mut kept = Vec::new();
        for (mut change, was) in changes.into_iter().zip(was) {
            let now = match change.kind {
                // Its parent, as the item says or as the index knew it.
                ChangeKind::Deleted => change
                    .parent_id
                    .as_deref()
                    .is_some_and(|p| self.is_at_or_under(p, folder_after.as_deref())),
                ChangeKind::Updated => self.is_under(&change.id, folder_after.as_deref()),
            };
            match (change.kind, was, now) {
                (ChangeKind::Deleted, true, _) | (ChangeKind::Deleted, _, true) => {
                    kept.push(change)
                }
                (ChangeKind::Updated, _, true) => kept.push(change),
                (ChangeKind::Updated, true, false) => {
                    change.kind = ChangeKind::Deleted;
                    kept.push(change);
                }
                _ => {}
            }
        }
        for id in gone {
            self.remove(&id);
        }
        kept
    }

    /// Record an item's name and parent (or nothing for a deletion: it is removed once
    /// the round was judged, so that its place before the round still counts).
    fn apply(&mut self, change: &Change) {
        if change.is_root {
            self.root = Some(change.id.clone());
        }
        if change.kind == ChangeKind::Deleted {
            return;
        }
        let old_parent = self.nodes.get(&change.id).and_then(|n| n.parent.clone());
        let node = self.nodes.entry(change.id.clone()).or_insert(Node {
            name: None,
            parent: None,
        });
        if change.name.is_some() {
            node.name = change.name.clone();
        }
        node.parent = if change.is_root {
            None
        } else {
            change.parent_id.clone().or(old_parent.clone())
        };
        let new_parent = node.parent.clone();
        if old_parent != new_parent {
            if let Some(old) = old_parent {
                if let Some(set) = self.children.get_mut(&old) {
                    set.remove(&change.id);
                }
            }
        }
        if let Some(new) = new_parent {
            self.children
                .entry(new)
                .or_default()
                .insert(change.id.clone());
        }
    }

    fn remove(&mut self, id: &str) {
        if let Some(node) = self.nodes.remove(id) {
            if let Some(parent) = node.parent {
                if let Some(set) = self.children.get_mut(&parent) {
                    set.remove(id);
                }
            }
        }
        if self.root.as_deref() == Some(id) {
            self.root = None;
        }
    }

    /// `id` is strictly under `folder`.
    fn is_under(&self, id: &str, folder: Option<&str>) -> bool {
        let Some(folder) = folder else { return false };
        match self.nodes.get(id).and_then(|n| n.parent.as_deref()) {
            Some(parent) => self.chain_reaches(parent, folder),
            None => false,
        }
    }

    /// `id` is the folder or under it.
    fn is_at_or_under(&self, id: &str, folder: Option<&str>) -> bool {
        folder.is_some_and(|f| self.chain_reaches(id, f))
    }

    /// Walking up from `from` (inclusive) reaches `folder`. Bounded, in case the feed
    /// ever described a cycle.
    fn chain_reaches(&self, from: &str, folder: &str) -> bool {
        let mut at = from;
        for _ in 0..=self.nodes.len() {
            if at == folder {
                return true;
            }
            match self.nodes.get(at).and_then(|n| n.parent.as_deref()) {
                Some(parent) => at = parent,
                None => return false,
            }
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::value::RawValue;

    fn item(id: &str, name: &str, parent: &str) -> Change {
        let text = serde_json::json!({"id": id, "name": name, "parentReference": {"id": parent}});
        Change {
            id: id.into(),
            kind: ChangeKind::Updated,
            item: RawValue::from_string(text.to_string()).unwrap(),
            name: Some(name.into()),
            parent_id: Some(parent.into()),
            is_root: false,
        }
    }

    fn root() -> Change {
        Change {
            id: "root".into(),
            kind: ChangeKind::Updated,
            item: RawValue::from_string(r#"{"id":"root","name":"root","root":{}}"#.into()).unwrap(),
            name: Some("root".into()),
            parent_id: None,
            is_root: true,
        }
    }

    fn deleted(id: &str, parent: Option<&str>) -> Change {
        let mut text = serde_json::json!({"id": id, "deleted": {"state": "deleted"}});
        if let Some(p) = parent {
            text["parentReference"] = serde_json::json!({"id": p});
        }
        Change {
            id: id.into(),
            kind: ChangeKind::Deleted,
            item: RawValue::from_string(text.to_string()).unwrap(),
            name: None,
            parent_id: parent.map(str::to_string),
            is_root: false,
        }
    }

    /// root / Reports (r) / Q4 (q) / sheet.xlsx (s); root / Other (o) / x.txt (x)
    fn sample() -> PathIndex {
        let mut index = PathIndex::new("/reports/Q4/").unwrap();
        index.load(&[
            root(),
            item("r", "Reports", "root"),
            item("o", "Other", "root"),
            item("q", "Q4", "r"),
            item("s", "sheet.xlsx", "q"),
            item("x", "x.txt", "o"),
        ]);
        index
    }

    fn summary(changes: &[Change]) -> Vec<(String, &'static str)> {
        changes
            .iter()
            .map(|c| (c.id.clone(), c.kind.as_str()))
            .collect()
    }

    #[test]
    fn the_folder_is_found_by_path_case_insensitively() {
        let index = sample();
        assert_eq!(index.folder(), "/reports/Q4");
        assert_eq!(index.folder_id(), Some("q"));
        assert_eq!(index.item_count(), 6);
        assert!(PathIndex::new("/a/../b").is_err());
        let whole = {
            let mut i = PathIndex::new("/").unwrap();
            i.load(&[root()]);
            i
        };
        assert_eq!(whole.folder_id(), Some("root"));
    }

    #[test]
    fn only_items_under_the_folder_pass_and_not_the_folder_or_ancestors() {
        let mut index = sample();
        // A change to sheet.xlsx as delta reports it: the file and its ancestors.
        let got = index.filter(vec![
            root(),
            item("r", "Reports", "root"),
            item("q", "Q4", "r"),
            item("s", "sheet.xlsx", "q"),
            item("x", "x.txt", "o"),
        ]);
        assert_eq!(summary(&got), vec![("s".into(), "updated")]);
    }

    #[test]
    fn new_items_deep_under_the_folder_pass_even_if_the_parent_comes_later() {
        let mut index = sample();
        let got = index.filter(vec![item("n", "new.txt", "sub"), item("sub", "Sub", "q")]);
        assert_eq!(
            summary(&got),
            vec![("n".into(), "updated"), ("sub".into(), "updated")]
        );
    }

    #[test]
    fn moves_in_are_updates_and_moves_out_are_deletes() {
        let mut index = sample();
        let got = index.filter(vec![item("x", "x.txt", "q"), item("s", "sheet.xlsx", "o")]);
        assert_eq!(
            summary(&got),
            vec![("x".into(), "updated"), ("s".into(), "deleted")]
        );
        // The moved-out item is written as delta returned it (no fabricated facet).
        assert!(!got[1].item.get().contains("deleted"));
        // And the index follows: x is now under the folder, s is not.
        let got = index.filter(vec![item("x", "x.txt", "q"), item("s", "sheet.xlsx", "o")]);
        assert_eq!(summary(&got), vec![("x".into(), "updated")]);
    }

    #[test]
    fn a_folder_moved_in_brings_its_contents_into_scope() {
        let mut index = sample();
        // Other moves under Q4: delta reports the folder only.
        let got = index.filter(vec![item("o", "Other", "q")]);
        assert_eq!(summary(&got), vec![("o".into(), "updated")]);
        // A later change to x (under Other, now under Q4) is in scope.
        let got = index.filter(vec![item("x", "x.txt", "o")]);
        assert_eq!(summary(&got), vec![("x".into(), "updated")]);
    }

    #[test]
    fn deletes_in_scope_pass_even_without_a_parent_reference() {
        let mut index = sample();
        let got = index.filter(vec![deleted("s", None), deleted("x", Some("o"))]);
        assert_eq!(summary(&got), vec![("s".into(), "deleted")]);
        assert_eq!(index.item_count(), 4, "s and x left the index");
        // An item created and deleted between rounds, never seen: its parent decides.
        let got = index.filter(vec![deleted("ghost", Some("q"))]);
        assert_eq!(summary(&got), vec![("ghost".into(), "deleted")]);
    }

    #[test]
    fn renaming_the_folder_away_leaves_nothing_in_scope() {
        let mut index = sample();
        let got = index.filter(vec![item("q", "Q4-old", "r")]);
        assert!(got.is_empty());
        assert_eq!(index.folder_id(), None);
        assert!(index.filter(vec![item("s", "sheet.xlsx", "q")]).is_empty());
        // A new folder of that name takes over.
        let got = index.filter(vec![item("q2", "q4", "r"), item("t", "t.txt", "q2")]);
        assert_eq!(summary(&got), vec![("t".into(), "updated")]);
    }

    #[test]
    fn a_cycle_in_the_feed_does_not_hang() {
        let mut index = sample();
        let got = index.filter(vec![item("a", "A", "b"), item("b", "B", "a")]);
        assert!(got.is_empty());
    }
}
