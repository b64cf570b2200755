//! What a delta item means: compared with the item index, each changed item becomes
//! `created`, `modified`, `renamed`, `moved` or `deleted`, with its path, its previous
//! name and path, and (list items) which fields changed — or nothing, when it changed
//! in no way a reader asked about (docs/changes.md, "Change kinds").
//!
//! The rules, per item, between the index before a round (`before`) and after it
//! (`after`):
//!
//! | before | after | kind |
//! |---|---|---|
//! | absent | present | `created` |
//! | present | absent (`deleted` facet, or missing from an enumeration) | `deleted`, with the path it had |
//! | other parent | | `moved` (a rename in the same round too: `previous.name` differs) |
//! | same parent, other name | | `renamed` |
//! | same name and parent, other eTag or cTag | | `modified` |
//! | same name, parent, eTag and cTag | | nothing (delta sent it again) |
//! | absent | absent | nothing (created and deleted between two rounds) |
//!
//! Folders (and the root) are written only when created, deleted, renamed or moved:
//! delta reports every ancestor of a changed file as changed too, which says nothing
//! (`--folders` writes them). With `--path`, an item is written when its path before or
//! after is inside the folder (so a move out is a `moved` whose `path` is outside).
//!
//! Paths are read in the view of their moment: a deleted or previous path in `before`,
//! a current one in `after`, so a folder renamed in the same round as a file inside it
//! gives the file its new path.

use std::collections::HashMap;

use serde_json::{Map, Value};

use crate::changes::delta::Change;
use crate::changes::index::{Node, View};
use crate::event::{raw_json, ChangeDetail, ChangeKind, Event, Previous};

/// What the reader asked to see.
#[derive(Debug, Clone, Default)]
pub struct Rules {
    /// `--folders`: folders whose only change is a descendant's are written too.
    pub folders: bool,
    /// `--path`: only items inside this folder (normalised `/A/B`, compared
    /// case-insensitively, as OneDrive and SharePoint compare names).
    pub scope: Option<String>,
    /// The index was built after the cursor (a state file from before the index): an
    /// item that looks unchanged may still have changed since the cursor, and a
    /// deletion of an item the index never had may be one it should have had. Both are
    /// written (`modified`, `deleted`) rather than lost.
    pub blind: bool,
    /// The first round from a saved cursor: the process before may have written lines of
    /// a round it did not live to save (killed between the two), so an item it wrote as
    /// created can be one the index never had. A deletion of such an item is written
    /// (docs/changes.md, "After a restart"): a `deleted` too many, never one lost.
    pub resumed: bool,
}

/// A round classified: its lines, and what it teaches the index.
pub struct Classified {
    pub events: Vec<Event>,
    pub updates: HashMap<String, Option<Node>>,
}

/// The updates a round makes to the index: each item as it is now, `None` if gone.
fn updates_of(changes: &[Change]) -> HashMap<String, Option<Node>> {
    changes
        .iter()
        .map(|c| (c.id.clone(), (!c.deleted).then(|| c.node.clone())))
        .collect()
}

/// Classify one incremental round against `before` (see the module docs).
pub fn round(label: &str, changes: Vec<Change>, before: &View<'_>, rules: &Rules) -> Classified {
    let updates = updates_of(&changes);
    let after = before.with(&updates);
    let events = changes
        .into_iter()
        .filter_map(|change| {
            let old = before.node(&change.id);
            let new = (!change.deleted).then(|| change.node.clone());
            line(
                label,
                &change.id,
                old,
                new,
                change.item,
                before,
                &after,
                rules,
            )
        })
        .collect();
    drop(after);
    Classified { events, updates }
}

/// The lines of a resync: `present` (items of a fresh enumeration that differ from the
/// index, already staged as `after`) and `gone` (ids the enumeration no longer has),
/// classified like a round's.
pub fn resync(
    label: &str,
    present: Vec<Change>,
    gone: Vec<String>,
    before: &View<'_>,
    after: &View<'_>,
    rules: &Rules,
) -> Vec<Event> {
    let mut events = Vec::new();
    for change in present {
        let old = before.node(&change.id);
        let new = Some(change.node.clone());
        events.extend(line(
            label,
            &change.id,
            old,
            new,
            change.item,
            before,
            after,
            rules,
        ));
    }
    for id in gone {
        let Some(old) = before.node(&id) else {
            continue;
        };
        let item = deleted_item(&id, &old);
        events.extend(line(
            label,
            &id,
            Some(old),
            None,
            item,
            before,
            after,
            rules,
        ));
    }
    events
}

/// Whether an item of an enumeration is what the index already has (so a resync need
/// not write it).
pub fn unchanged(old: &Node, new: &Node) -> bool {
    old.name == new.name
        && old.parent == new.parent
        && old.etag == new.etag
        && old.ctag == new.ctag
        && (old.etag.is_some() || old.ctag.is_some() || old.fields == new.fields)
}

/// `existing` lines (`--initial`) for the items of an enumeration, the root left out.
pub fn existing(label: &str, items: Vec<Change>, view: &View<'_>, rules: &Rules) -> Vec<Event> {
    items
        .into_iter()
        .filter(|c| !c.node.root && !c.deleted)
        .filter_map(|c| {
            let path = view.path(&c.id);
            if !in_scope(rules, [path.as_deref()]) {
                return None;
            }
            let detail = ChangeDetail {
                id: Some(change_id(
                    view.resource(),
                    &c.id,
                    ChangeKind::Existing,
                    &c.node,
                )),
                path,
                ..ChangeDetail::default()
            };
            Some(Event::change(label, ChangeKind::Existing, detail, c.item))
        })
        .collect()
}

/// One item's line, or `None` when it is not to be written.
#[allow(clippy::too_many_arguments)]
fn line(
    label: &str,
    id: &str,
    old: Option<Node>,
    new: Option<Node>,
    item: Box<serde_json::value::RawValue>,
    before: &View<'_>,
    after: &View<'_>,
    rules: &Rules,
) -> Option<Event> {
    let kind = match (&old, &new) {
        (None, None) if rules.blind || rules.resumed => ChangeKind::Deleted,
        (None, None) => return None,
        (Some(_), None) => ChangeKind::Deleted,
        (None, Some(_)) => ChangeKind::Created,
        // The root has no folder and no name of its own to change.
        (Some(o), Some(n)) if o.root || n.root => ChangeKind::Modified,
        (Some(o), Some(n)) if o.parent != n.parent => ChangeKind::Moved,
        (Some(o), Some(n)) if o.name != n.name => ChangeKind::Renamed,
        (Some(o), Some(n)) if unchanged(o, n) && !rules.blind => return None,
        (Some(_), Some(_)) => ChangeKind::Modified,
    };
    // A deletion of an item the index never had (blind or resumed) has no node: what is
    // known of it is its id and delta's tombstone.
    let unknown = Node::default();
    let node = new.as_ref().or(old.as_ref()).unwrap_or(&unknown);
    if (node.folder || node.root) && kind == ChangeKind::Modified && !rules.folders {
        return None;
    }
    let old_path = old.as_ref().and_then(|_| before.path(id));
    let new_path = new.as_ref().and_then(|_| after.path(id));
    if !in_scope(rules, [old_path.as_deref(), new_path.as_deref()]) {
        return None;
    }
    let previous = matches!(kind, ChangeKind::Renamed | ChangeKind::Moved).then(|| Previous {
        name: old.as_ref().and_then(|o| o.name.clone()),
        path: old_path.clone(),
    });
    let fields = match (&kind, &old, &new) {
        (ChangeKind::Modified, Some(o), Some(n)) => field_changes(o, n),
        _ => None,
    };
    let path = if kind == ChangeKind::Deleted {
        old_path
    } else {
        new_path
    };
    // A deletion is of the item's last known version; anything else of the new one.
    let version = if kind == ChangeKind::Deleted {
        old.as_ref()
    } else {
        new.as_ref()
    };
    let id = change_id(
        before.resource(),
        id,
        kind,
        version.unwrap_or(&Node::default()),
    );
    let detail = ChangeDetail {
        id: Some(id),
        path,
        previous,
        fields: fields.map(|f| raw_json(&Value::Object(f))),
    };
    Some(Event::change(label, kind, detail, item))
}

/// The stable id of `kind` happening to item `id` of `resource`, at `version`
/// ([`crate::event::id::change`]: its eTag and cTag, else its name, parent and fields).
fn change_id(resource: &str, id: &str, kind: ChangeKind, version: &Node) -> String {
    crate::event::id::change(
        resource,
        id,
        kind,
        version.etag.as_deref(),
        version.ctag.as_deref(),
        &[
            version.name.as_deref(),
            version.parent.as_deref(),
            version.fields.as_deref(),
        ],
    )
}

/// With `--path`, whether any of the paths is inside the folder (not the folder itself).
fn in_scope<'a>(rules: &Rules, paths: impl IntoIterator<Item = Option<&'a str>>) -> bool {
    let Some(folder) = &rules.scope else {
        return true;
    };
    let prefix = format!("{}/", folder.trim_end_matches('/')).to_lowercase();
    paths
        .into_iter()
        .flatten()
        .any(|p| p.to_lowercase().starts_with(&prefix))
}

/// The `item` of a deletion found by a resync (delta sent nothing for it): the shape
/// delta gives a deleted item, from what the index knew.
fn deleted_item(id: &str, old: &Node) -> Box<serde_json::value::RawValue> {
    let mut item = Map::new();
    item.insert("id".into(), id.into());
    if let Some(name) = &old.name {
        item.insert("name".into(), name.clone().into());
    }
    if let Some(parent) = &old.parent {
        item.insert(
            "parentReference".into(),
            serde_json::json!({ "id": parent }),
        );
    }
    item.insert("deleted".into(), serde_json::json!({"state": "deleted"}));
    raw_json(&Value::Object(item))
}

/// Fields SharePoint changes by itself on every edit, or that only mirror others: not
/// what a person changed (docs/changes.md, "List items").
const SYSTEM_FIELDS: &[&str] = &[
    "id",
    "ID",
    "ContentType",
    "Modified",
    "Created",
    "Author",
    "Editor",
    "AuthorLookupId",
    "EditorLookupId",
    "AppAuthorLookupId",
    "AppEditorLookupId",
    "Attachments",
    "Edit",
    "LinkTitle",
    "LinkTitleNoMenu",
    "ItemChildCount",
    "FolderChildCount",
    "ComplianceAssetId",
    "DocIcon",
    "FileSizeDisplay",
    "Version",
];

/// `{"Field": {"from": old, "to": new}}` for each field a person changed; `None` when
/// the item has no fields or none changed.
fn field_changes(old: &Node, new: &Node) -> Option<Map<String, Value>> {
    let parse = |text: &Option<String>| -> Map<String, Value> {
        text.as_deref()
            .and_then(|t| serde_json::from_str(t).ok())
            .unwrap_or_default()
    };
    let (before, after) = (parse(&old.fields), parse(&new.fields));
    let mut changed = Map::new();
    let mut names: Vec<&String> = before.keys().chain(after.keys()).collect();
    names.sort();
    names.dedup();
    for name in names {
        if name.starts_with('@') || name.starts_with('_') || SYSTEM_FIELDS.contains(&name.as_str())
        {
            continue;
        }
        let (from, to) = (before.get(name), after.get(name));
        if from != to {
            changed.insert(
                name.clone(),
                serde_json::json!({
                    "from": from.cloned().unwrap_or(Value::Null),
                    "to": to.cloned().unwrap_or(Value::Null),
                }),
            );
        }
    }
    (!changed.is_empty()).then_some(changed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::changes::index::Index;
    use serde_json::value::RawValue;

    fn node(name: &str, parent: &str, folder: bool, etag: &str) -> Node {
        Node {
            name: Some(name.into()),
            parent: Some(parent.into()),
            folder,
            etag: Some(etag.into()),
            ..Node::default()
        }
    }

    fn change(id: &str, node: Option<Node>) -> Change {
        let item = RawValue::from_string(format!(r#"{{"id":"{id}"}}"#)).unwrap();
        Change {
            id: id.into(),
            deleted: node.is_none(),
            item,
            node: node.unwrap_or_default(),
        }
    }

    /// An index with `/`, `/Reports/` and `/Reports/a.txt`, committed.
    fn drive() -> Index {
        let mut ix = Index::in_memory("drive:me", "drive:b!x").unwrap();
        let root = Node {
            root: true,
            folder: true,
            name: Some("root".into()),
            ..Node::default()
        };
        ix.apply([
            ("r".into(), Some(root)),
            ("rep".into(), Some(node("Reports", "r", true, "1"))),
            ("arc".into(), Some(node("Archive", "r", true, "1"))),
            ("a".into(), Some(node("a.txt", "rep", false, "1"))),
        ]);
        ix.commit("c0").unwrap();
        ix
    }

    fn summary(c: &Classified) -> Vec<String> {
        c.events
            .iter()
            .map(|e| {
                let line: Value = serde_json::from_str(&e.to_json_line()).unwrap();
                format!(
                    "{} {} {}",
                    line["change"].as_str().unwrap(),
                    line["path"].as_str().unwrap_or("-"),
                    line["previous"]["path"].as_str().unwrap_or("-")
                )
            })
            .collect()
    }

    fn run(ix: &Index, changes: Vec<Change>, rules: &Rules) -> Classified {
        round("drive:me", changes, &ix.before(), rules)
    }

    #[test]
    fn each_kind_with_its_paths_and_no_ancestor_churn() {
        let ix = drive();
        let rules = Rules::default();
        // A new file in a new folder: the folder and the file; the touched ancestors
        // (root, Reports) are not written.
        let got = run(
            &ix,
            vec![
                change("b", Some(node("b.xlsx", "new", false, "1"))),
                change("new", Some(node("New", "rep", true, "1"))),
                change("rep", Some(node("Reports", "r", true, "2"))),
                change(
                    "r",
                    Some(Node {
                        root: true,
                        folder: true,
                        etag: Some("2".into()),
                        ..Node::default()
                    }),
                ),
            ],
            &rules,
        );
        assert_eq!(
            summary(&got),
            vec!["created /Reports/New/b.xlsx -", "created /Reports/New -"]
        );
        assert_eq!(
            summary(&run(
                &ix,
                vec![change("a", Some(node("a.txt", "rep", false, "2")))],
                &rules
            )),
            vec!["modified /Reports/a.txt -"]
        );
        assert!(run(
            &ix,
            vec![change("a", Some(node("a.txt", "rep", false, "1")))],
            &rules
        )
        .events
        .is_empty());
        assert_eq!(
            summary(&run(
                &ix,
                vec![change("a", Some(node("b.txt", "rep", false, "2")))],
                &rules
            )),
            vec!["renamed /Reports/b.txt /Reports/a.txt"]
        );
        assert_eq!(
            summary(&run(
                &ix,
                vec![change("a", Some(node("c.txt", "arc", false, "2")))],
                &rules
            )),
            vec!["moved /Archive/c.txt /Reports/a.txt"]
        );
        assert_eq!(
            summary(&run(&ix, vec![change("a", None)], &rules)),
            vec!["deleted /Reports/a.txt -"]
        );
        // Created and deleted between two rounds: nothing to say.
        assert!(run(&ix, vec![change("zz", None)], &rules).events.is_empty());
        // Unless this is the first round from a saved cursor (or blind): the process
        // before may have written zz's creation and been killed before saving it.
        for after_a_restart in [
            Rules {
                resumed: true,
                ..Rules::default()
            },
            Rules {
                blind: true,
                ..Rules::default()
            },
        ] {
            assert_eq!(
                summary(&run(&ix, vec![change("zz", None)], &after_a_restart)),
                vec!["deleted - -"]
            );
        }
        // --folders: the ancestor is written too.
        let folders = Rules {
            folders: true,
            ..Rules::default()
        };
        assert_eq!(
            summary(&run(
                &ix,
                vec![change("rep", Some(node("Reports", "r", true, "9")))],
                &folders
            )),
            vec!["modified /Reports -"]
        );
    }

    #[test]
    fn a_folder_renamed_in_the_same_round_gives_its_files_their_new_path() {
        let ix = drive();
        let got = run(
            &ix,
            vec![
                change("a", Some(node("a.txt", "rep", false, "2"))),
                change("rep", Some(node("Old Reports", "r", true, "2"))),
            ],
            &Rules::default(),
        );
        assert_eq!(
            summary(&got),
            vec![
                "modified /Old Reports/a.txt -",
                "renamed /Old Reports /Reports"
            ]
        );
    }

    #[test]
    fn path_scope_keeps_moves_in_and_out() {
        let ix = drive();
        let rules = Rules {
            scope: Some("/reports".into()),
            ..Rules::default()
        };
        assert_eq!(
            summary(&run(
                &ix,
                vec![change("a", Some(node("a.txt", "arc", false, "2")))],
                &rules
            )),
            vec!["moved /Archive/a.txt /Reports/a.txt"]
        );
        assert!(run(
            &ix,
            vec![change("n", Some(node("n", "arc", false, "1")))],
            &rules
        )
        .events
        .is_empty());
    }

    #[test]
    fn list_fields_say_what_changed() {
        let old = Node {
            fields: Some(r#"{"Title":"Projector","Status":"Active","Modified":"1","_UIVersionString":"1.0"}"#.into()),
            etag: Some("1".into()),
            parent: Some("list".into()),
            ..Node::default()
        };
        let new = Node {
            fields: Some(r#"{"Title":"Projector","Status":"Resolved","Modified":"2","_UIVersionString":"2.0","Priority":"(1) High"}"#.into()),
            etag: Some("2".into()),
            parent: Some("list".into()),
            ..Node::default()
        };
        let changed = field_changes(&old, &new).unwrap();
        assert_eq!(
            Value::Object(changed),
            serde_json::json!({
                "Priority": {"from": null, "to": "(1) High"},
                "Status": {"from": "Active", "to": "Resolved"},
            })
        );
        let mut ix = Index::in_memory("list:x", "list:s/l").unwrap();
        ix.apply([("10".into(), Some(old))]);
        let got = round(
            "list:x",
            vec![change("10", Some(new))],
            &ix.before(),
            &Rules::default(),
        );
        let line: Value = serde_json::from_str(&got.events[0].to_json_line()).unwrap();
        assert_eq!(line["change"], "modified");
        assert_eq!(line["fields"]["Status"]["to"], "Resolved");
        assert!(line.get("path").is_none(), "list items have no path");
    }
}
