//! Filters over `change` lines (`--files-only`, `--name`, `--change`, `--include`,
//! `--exclude`): which changed items the stream keeps. Applied before everything that
//! uses a line — `--count`, `--exec`, templates, `--jq` — so `-n 1 --name '*.xlsx'` is
//! "the next matching file" (docs/usage.md, "Filters").
//!
//! Only `change` lines are filtered: `resync`, `status` and `gap` lines say something
//! about the stream itself and always pass; `notification` lines carry no item (the
//! filters need `--changes`).
//!
//! An item's **name** is its `name`, else the last segment of its `path`, else its
//! previous name, else (list items) its `Title` field. Its **paths** are its `path` and,
//! for `renamed` and `moved`, its previous path; a list item without a path is matched by
//! its name.

use globset::{GlobBuilder, GlobSet, GlobSetBuilder};
use regex::Regex;
use serde_json::Value;

use super::{item_name, parse, ChangeKind, Event};

/// The filters given; an empty `Filter` keeps everything.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub files_only: bool,
    /// `--name`: any of the globs, case-insensitive.
    pub names: Option<GlobSet>,
    /// `--change`: any of the kinds.
    pub kinds: Vec<ChangeKind>,
    /// `--include`: any of them matches a path.
    pub include: Vec<Regex>,
    /// `--exclude`: none of them matches the current path.
    pub exclude: Vec<Regex>,
}

impl Filter {
    /// No filter at all.
    pub fn is_empty(&self) -> bool {
        !self.files_only
            && self.names.is_none()
            && self.kinds.is_empty()
            && self.include.is_empty()
            && self.exclude.is_empty()
    }

    /// `--name` globs: `*`, `?`, `[…]`, `{a,b}`, matched case-insensitively against the
    /// whole name. A bad glob is `Err` with the reason.
    pub fn globs(globs: &[String]) -> Result<Option<GlobSet>, String> {
        if globs.is_empty() {
            return Ok(None);
        }
        let mut set = GlobSetBuilder::new();
        for glob in globs {
            let compiled = GlobBuilder::new(glob)
                .case_insensitive(true)
                .literal_separator(false)
                .build()
                .map_err(|e| format!("--name {glob:?}: {}", e.kind()))?;
            set.add(compiled);
        }
        set.build().map(Some).map_err(|e| e.to_string())
    }

    /// Whether the stream keeps `event`.
    pub fn keeps(&self, event: &Event) -> bool {
        let Event::Change {
            change,
            detail,
            item,
            ..
        } = event
        else {
            return true;
        };
        if self.is_empty() {
            return true;
        }
        if !self.kinds.is_empty() && !self.kinds.contains(change) {
            return false;
        }
        let item = parse(item);
        if self.files_only && is_folder(&item) {
            return false;
        }
        let name = item_name(&item)
            .map(str::to_string)
            .or_else(|| {
                detail
                    .path
                    .as_deref()
                    .and_then(|p| p.rsplit('/').next())
                    .filter(|n| !n.is_empty())
                    .map(str::to_string)
            })
            .or_else(|| detail.previous.as_ref().and_then(|p| p.name.clone()));
        if let Some(globs) = &self.names {
            if !name.as_deref().is_some_and(|n| globs.is_match(n)) {
                return false;
            }
        }
        let current = detail.path.clone().or_else(|| name.clone());
        let previous = detail.previous.as_ref().and_then(|p| p.path.clone());
        if !self.include.is_empty() {
            let paths = [current.as_deref(), previous.as_deref()];
            let any = self
                .include
                .iter()
                .any(|re| paths.iter().flatten().any(|p| re.is_match(p)));
            if !any {
                return false;
            }
        }
        if let Some(path) = current.as_deref() {
            if self.exclude.iter().any(|re| re.is_match(path)) {
                return false;
            }
        }
        true
    }
}

/// A folder or the root (driveItems), or a folder content type (listItems of a library).
fn is_folder(item: &Value) -> bool {
    let facet = |name: &str| item.get(name).is_some_and(|v| !v.is_null());
    facet("folder")
        || facet("root")
        || item
            .get("contentType")
            .and_then(|t| t.get("id"))
            .and_then(Value::as_str)
            .is_some_and(|id| id.starts_with("0x0120"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{raw_json, ChangeDetail, Previous};
    use serde_json::json;

    fn change(kind: ChangeKind, path: &str, previous: Option<&str>, item: Value) -> Event {
        Event::change(
            "drive:me",
            kind,
            ChangeDetail {
                id: None,
                path: Some(path.into()),
                previous: previous.map(|p| Previous {
                    name: p.rsplit('/').next().map(str::to_string),
                    path: Some(p.into()),
                }),
                fields: None,
            },
            raw_json(&item),
        )
    }

    fn file(kind: ChangeKind, path: &str) -> Event {
        let name = path.rsplit('/').next().unwrap();
        change(
            kind,
            path,
            None,
            json!({"id": "1", "name": name, "file": {}}),
        )
    }

    #[test]
    fn each_filter_keeps_what_it_says() {
        let xlsx = file(ChangeKind::Created, "/Reports/Budget.XLSX");
        let txt = file(ChangeKind::Deleted, "/Reports/notes.txt");
        let folder = change(
            ChangeKind::Created,
            "/Reports",
            None,
            json!({"id": "2", "name": "Reports", "folder": {}}),
        );
        let moved_out = change(
            ChangeKind::Moved,
            "/Archive/old.txt",
            Some("/Reports/old.txt"),
            json!({"id": "3", "name": "old.txt", "file": {}}),
        );
        let resync = Event::resync("drive:me", "resyncRequired");
        let keeps = |f: &Filter| {
            [&xlsx, &txt, &folder, &moved_out, &resync]
                .map(|e| f.keeps(e))
                .to_vec()
        };
        assert_eq!(keeps(&Filter::default()), [true; 5]);
        let files = Filter {
            files_only: true,
            ..Filter::default()
        };
        assert_eq!(keeps(&files), [true, true, false, true, true]);
        let names = Filter {
            names: Filter::globs(&["*.xlsx".into(), "Rep*".into()]).unwrap(),
            ..Filter::default()
        };
        assert_eq!(keeps(&names), [true, false, true, false, true]);
        let kinds = Filter {
            kinds: vec![ChangeKind::Deleted, ChangeKind::Moved],
            ..Filter::default()
        };
        assert_eq!(keeps(&kinds), [false, true, false, true, true]);
        let include = Filter {
            include: vec![Regex::new("^/Reports/").unwrap()],
            ..Filter::default()
        };
        // The move out of /Reports is kept: its previous path is inside.
        assert_eq!(keeps(&include), [true, true, false, true, true]);
        let exclude = Filter {
            exclude: vec![Regex::new(r"\.txt$").unwrap()],
            ..Filter::default()
        };
        assert_eq!(keeps(&exclude), [true, false, true, false, true]);
    }

    #[test]
    fn a_bad_glob_says_which() {
        let err = Filter::globs(&["[oops".into()]).unwrap_err();
        assert!(err.contains("--name \"[oops\""), "{err}");
    }

    #[test]
    fn list_items_are_named_by_their_title() {
        let issue = Event::change(
            "list:s/Issues",
            ChangeKind::Modified,
            ChangeDetail::default(),
            raw_json(&json!({"id": "10", "fields": {"Title": "Projector broken"}})),
        );
        let f = Filter {
            names: Filter::globs(&["projector*".into()]).unwrap(),
            include: vec![Regex::new("broken").unwrap()],
            ..Filter::default()
        };
        assert!(f.keeps(&issue));
    }
}
