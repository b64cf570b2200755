//! The item index of one target: id → name, parent, kind, eTag, cTag, size, last
//! modifier and (list items) fields, with the target's delta cursor beside it, in one
//! SQLite database (docs/changes.md, "The item index").
//!
//! Delta says only "this item is now like this". Whether that is a creation, an edit,
//! a rename or a move, and which path the item had, is known only by comparing with
//! what the item was: this index. It is built by one full enumeration when a target is
//! first watched and kept current from every round.
//!
//! - **Where.** With `--state FILE` the database is that file (WAL), shared by every
//!   target and process using it, each target under its own key; a restart needs no new
//!   enumeration. Without `--state` it is an SQLite database in memory, one per target.
//! - **At-least-once.** Nothing a round teaches the index is written until the round's
//!   lines were written and flushed: a round's updates wait in [`Index::pending`] (and a
//!   fresh enumeration in the connection's TEMP `staging` table), and
//!   [`Index::commit`] applies them *and* moves the cursor in one transaction. A commit
//!   that fails (a full disk) keeps them pending; the next commit saves them with the
//!   newer cursor. Killed at any moment, the file holds an index and a cursor that agree,
//!   so the restart repeats rounds, never skips one.
//! - **Views.** A round is classified against two views: the index as the lines written
//!   so far left it ([`Index::before`]: committed items, a staged enumeration if not
//!   yet committed, pending updates) and the same with the round applied
//!   ([`View::with`]). Paths are walked up the parents in a view, so a renamed folder
//!   renames the paths of everything under it without touching those rows.

use std::cell::RefCell;
use std::collections::HashMap;
use std::path::Path;

use rusqlite::{params, Connection, OptionalExtension as _};

/// What the index knows of one item.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Node {
    pub name: Option<String>,
    /// `parentReference.id`: the folder (driveItems) or the list (listItems).
    pub parent: Option<String>,
    pub folder: bool,
    /// The drive's root folder.
    pub root: bool,
    pub etag: Option<String>,
    pub ctag: Option<String>,
    pub size: Option<i64>,
    /// `lastModifiedBy.user.displayName`.
    pub modified_by: Option<String>,
    /// List items: `fields`, as compact JSON text.
    pub fields: Option<String>,
}

/// The index's schema. `user_version` 2: version 1 was the JSON state file
/// ([`crate::changes::state`] migrates it).
pub(crate) const SCHEMA_VERSION: i64 = 2;

pub(crate) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS targets(
    key INTEGER PRIMARY KEY,
    label TEXT NOT NULL UNIQUE,
    resource TEXT NOT NULL,
    delta_link TEXT,
    indexed INTEGER NOT NULL DEFAULT 0,
    saved_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS items(
    target INTEGER NOT NULL,
    id TEXT NOT NULL,
    name TEXT,
    parent TEXT,
    folder INTEGER NOT NULL,
    root INTEGER NOT NULL,
    etag TEXT,
    ctag TEXT,
    size INTEGER,
    modified_by TEXT,
    fields TEXT,
    PRIMARY KEY(target, id)
) WITHOUT ROWID;
";

const STAGING: &str = "
CREATE TEMP TABLE IF NOT EXISTS staging(
    id TEXT PRIMARY KEY,
    name TEXT, parent TEXT, folder INTEGER NOT NULL, root INTEGER NOT NULL,
    etag TEXT, ctag TEXT, size INTEGER, modified_by TEXT, fields TEXT
) WITHOUT ROWID;
";

const COLUMNS: &str = "name, parent, folder, root, etag, ctag, size, modified_by, fields";

/// Where a target stands in the index when it is opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resume {
    /// A cursor and the index it belongs to: continue from it.
    Cursor(String),
    /// A cursor without an index (a state file from before the index): enumerate to
    /// build one, then continue from the cursor.
    CursorWithoutIndex(String),
    /// Nothing saved: enumerate, and continue from that enumeration.
    Fresh,
    /// Saved for another drive or list (`saved`; the label now resolves to `now`): the
    /// index and cursor are of something else. A resync: compare a fresh enumeration
    /// with that index and write the differences.
    Elsewhere { saved: String, now: String },
}

/// One target's index: an SQLite connection of its own and the target's key in it.
pub struct Index {
    /// In a mutex only so that a task holding an index can be sent between threads
    /// (a connection is `Send`, not `Sync`); one task uses it, so it is never contended.
    conn: std::sync::Mutex<Connection>,
    key: i64,
    label: String,
    resource: String,
    /// Updates of rounds whose lines were written but that are not committed yet: id →
    /// the item now, or `None` when it is gone.
    pending: HashMap<String, Option<Node>>,
    /// A full enumeration is in `staging` and replaces the committed items at the next
    /// commit.
    staged: bool,
}

impl Index {
    /// The index of `label` (resolved to `resource`) in the database `conn`, and where
    /// the target stands in it. The connection must hold [`SCHEMA`].
    pub(crate) fn open(
        conn: Connection,
        label: &str,
        resource: &str,
    ) -> rusqlite::Result<(Index, Resume)> {
        conn.execute_batch(STAGING)?;
        let saved: Option<(i64, String, Option<String>, bool)> = conn
            .query_row(
                "SELECT key, resource, delta_link, indexed FROM targets WHERE label = ?1",
                [label],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .optional()?;
        let (key, resume) = match saved {
            Some((key, saved, link, indexed)) => {
                let resume = match link {
                    _ if saved != resource => Resume::Elsewhere {
                        saved,
                        now: resource.to_string(),
                    },
                    Some(link) if indexed => Resume::Cursor(link),
                    Some(link) => Resume::CursorWithoutIndex(link),
                    None => Resume::Fresh,
                };
                (key, resume)
            }
            None => {
                conn.execute(
                    "INSERT INTO targets(label, resource, saved_at) VALUES (?1, ?2, ?3)",
                    params![label, resource, now()],
                )?;
                (conn.last_insert_rowid(), Resume::Fresh)
            }
        };
        Ok((
            Index {
                conn: std::sync::Mutex::new(conn),
                key,
                label: label.to_string(),
                resource: resource.to_string(),
                pending: HashMap::new(),
                staged: false,
            },
            resume,
        ))
    }

    /// An index in memory (no `--state`): built at start, gone at exit.
    pub(crate) fn in_memory(label: &str, resource: &str) -> rusqlite::Result<Index> {
        let conn = Connection::open_in_memory()?;
        conn.execute_batch(SCHEMA)?;
        Ok(Index::open(conn, label, resource)?.0)
    }

    fn db(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.conn
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// How long a commit waits for another process's write lock (tests shorten it).
    #[cfg(test)]
    pub(crate) fn set_busy_timeout(&self, wait: std::time::Duration) {
        let _ = self.db().busy_timeout(wait);
    }

    /// The index as the lines written so far left it.
    pub fn before(&self) -> View<'_> {
        View {
            index: self,
            layers: vec![Layer::Map(&self.pending)],
            memo: RefCell::default(),
        }
    }

    /// Items in the committed index (or the staged enumeration), for messages.
    pub fn item_count(&self) -> rusqlite::Result<u64> {
        if self.staged {
            self.db()
                .query_row("SELECT count(*) FROM temp.staging", [], |r| r.get(0))
        } else {
            self.db().query_row(
                "SELECT count(*) FROM items WHERE target = ?1",
                [self.key],
                |r| r.get(0),
            )
        }
    }

    /// Start staging a full enumeration (it replaces the index at the next commit).
    pub fn stage_begin(&mut self) -> rusqlite::Result<()> {
        if self.staged {
            // An earlier enumeration is adopted but could not be committed yet (a full
            // disk): it is what the lines written so far describe, so it becomes
            // pending updates over the committed items before `staging` is reused.
            let mut overlay: HashMap<String, Option<Node>> = HashMap::new();
            for id in self.ids_not_staged()? {
                overlay.insert(id, None);
            }
            {
                let db = self.db();
                let mut q = db.prepare(&format!("SELECT id, {COLUMNS} FROM temp.staging"))?;
                let rows = q.query_map([], |r| Ok((r.get::<_, String>(0)?, node_at(r, 1)?)))?;
                for row in rows {
                    let (id, node) = row?;
                    overlay.insert(id, Some(node));
                }
            }
            overlay.extend(std::mem::take(&mut self.pending));
            self.pending = overlay;
            self.staged = false;
        }
        self.db().execute("DELETE FROM temp.staging", [])?;
        Ok(())
    }

    fn ids_not_staged(&self) -> rusqlite::Result<Vec<String>> {
        let db = self.db();
        let mut q = db.prepare(
            "SELECT id FROM items WHERE target = ?1 AND id NOT IN (SELECT id FROM temp.staging)",
        )?;
        let rows = q.query_map([self.key], |r| r.get::<_, String>(0))?;
        rows.collect()
    }

    /// Stage one page of an enumeration (later pages win, as in a round).
    pub fn stage(&self, nodes: &[(&str, &Node)]) -> rusqlite::Result<()> {
        let db = self.db();
        let tx = db.unchecked_transaction()?;
        {
            let mut insert = tx.prepare_cached(&format!(
                "INSERT OR REPLACE INTO temp.staging(id, {COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"
            ))?;
            for (id, n) in nodes {
                insert.execute(params![
                    id,
                    n.name,
                    n.parent,
                    n.folder,
                    n.root,
                    n.etag,
                    n.ctag,
                    n.size,
                    n.modified_by,
                    n.fields
                ])?;
            }
        }
        tx.commit()
    }

    /// The staged enumeration as a view (what the target is now).
    pub fn staged_view(&self) -> View<'_> {
        View {
            index: self,
            layers: vec![Layer::Staging],
            memo: RefCell::default(),
        }
    }

    /// Ids the index has (as [`Index::before`] sees it) that the staged enumeration
    /// has not: the items gone since.
    pub fn missing_from_staging(&self) -> rusqlite::Result<Vec<String>> {
        let mut gone = Vec::new();
        if !self.staged {
            for id in self.ids_not_staged()? {
                if !matches!(self.pending.get(&id), Some(None)) {
                    gone.push(id);
                }
            }
        }
        let db = self.db();
        let mut in_staging = db.prepare_cached("SELECT 1 FROM temp.staging WHERE id = ?1")?;
        let mut in_items =
            db.prepare_cached("SELECT 1 FROM items WHERE target = ?1 AND id = ?2")?;
        for (id, node) in &self.pending {
            if node.is_some()
                && !in_staging.exists([id])?
                && (self.staged || !in_items.exists(params![self.key, id])?)
            {
                gone.push(id.clone());
            }
        }
        Ok(gone)
    }

    /// The staged enumeration is the index from now on (committed with the next
    /// [`Index::commit`]); what was pending is superseded by it.
    pub fn adopt_staging(&mut self) {
        self.staged = true;
        self.pending.clear();
    }

    /// A round's updates, after its lines were written (committed with the next
    /// [`Index::commit`]).
    pub fn apply(&mut self, updates: impl IntoIterator<Item = (String, Option<Node>)>) {
        self.pending.extend(updates);
    }

    /// Save what is pending and `cursor`, in one transaction. Call it only after the
    /// lines of the rounds that produced them were written and flushed. On failure
    /// nothing is saved and everything stays pending for the next commit.
    pub fn commit(&mut self, cursor: &str) -> rusqlite::Result<()> {
        let mut db = self
            .conn
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let tx = db.transaction()?;
        if self.staged {
            tx.execute("DELETE FROM items WHERE target = ?1", [self.key])?;
            tx.execute(
                &format!("INSERT INTO items(target, id, {COLUMNS}) SELECT ?1, id, {COLUMNS} FROM temp.staging"),
                [self.key],
            )?;
        }
        {
            let mut upsert = tx.prepare_cached(&format!(
                "INSERT OR REPLACE INTO items(target, id, {COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"
            ))?;
            let mut delete =
                tx.prepare_cached("DELETE FROM items WHERE target = ?1 AND id = ?2")?;
            for (id, node) in &self.pending {
                match node {
                    Some(n) => upsert.execute(params![
                        self.key,
                        id,
                        n.name,
                        n.parent,
                        n.folder,
                        n.root,
                        n.etag,
                        n.ctag,
                        n.size,
                        n.modified_by,
                        n.fields
                    ])?,
                    None => delete.execute(params![self.key, id])?,
                };
            }
        }
        tx.execute(
            "UPDATE targets SET resource = ?2, delta_link = ?3, indexed = 1, saved_at = ?4 WHERE key = ?1",
            params![self.key, self.resource, cursor, now()],
        )?;
        tx.commit()?;
        if self.staged {
            db.execute("DELETE FROM temp.staging", [])?;
            // A whole enumeration went through the WAL: fold it into the database and
            // truncate it now rather than keep a WAL as large as the index beside it.
            // Best effort: another process reading at this moment makes it a no-op.
            let _ = db.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()));
        }
        drop(db);
        self.staged = false;
        self.pending.clear();
        Ok(())
    }

    fn lookup(&self, table: Table, id: &str) -> Option<Node> {
        let row = |r: &rusqlite::Row<'_>| node_at(r, 0);
        let db = self.db();
        let found = match table {
            Table::Items => db
                .prepare_cached(&format!(
                    "SELECT {COLUMNS} FROM items WHERE target = ?1 AND id = ?2"
                ))
                .and_then(|mut q| q.query_row(params![self.key, id], row).optional()),
            Table::Staging => db
                .prepare_cached(&format!("SELECT {COLUMNS} FROM temp.staging WHERE id = ?1"))
                .and_then(|mut q| q.query_row([id], row).optional()),
        };
        match found {
            Ok(node) => node,
            Err(e) => {
                tracing::warn!("{}: the item index cannot be read: {e}", self.label);
                None
            }
        }
    }

    /// Every item of the index as [`Index::before`] sees it, in no order (`--initial`
    /// of a resumed target lists from a fresh enumeration instead; this is for tests).
    #[cfg(test)]
    fn ids(&self) -> Vec<String> {
        let table = if self.staged { "temp.staging" } else { "items" };
        let sql = if self.staged {
            format!("SELECT id FROM {table}")
        } else {
            format!("SELECT id FROM {table} WHERE target = {}", self.key)
        };
        let db = self.db();
        let mut q = db.prepare(&sql).unwrap();
        let mut ids: Vec<String> = q
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        for (id, node) in &self.pending {
            ids.retain(|i| i != id);
            if node.is_some() {
                ids.push(id.clone());
            }
        }
        ids.sort();
        ids
    }
}

#[derive(Clone, Copy)]
enum Table {
    Items,
    Staging,
}

#[derive(Clone, Copy)]
enum Layer<'a> {
    Map(&'a HashMap<String, Option<Node>>),
    Staging,
}

/// The index at one moment: maps of updates over a table (committed items, or the
/// staged enumeration when there is one). Lookups ask the layers newest first.
pub struct View<'a> {
    index: &'a Index,
    layers: Vec<Layer<'a>>,
    /// Paths found so far (a round asks for the same folders many times).
    memo: RefCell<HashMap<String, Option<String>>>,
}

/// How deep a path may go: deeper chains are a cycle or a broken index.
const MAX_DEPTH: usize = 1024;

impl<'a> View<'a> {
    /// What the target resolved to (`drive:{id}`, `list:{site}/{list}`): the part of an
    /// event id that is the same for every label naming the resource.
    pub fn resource(&self) -> &str {
        &self.index.resource
    }

    /// This view with `updates` over it.
    pub fn with(&self, updates: &'a HashMap<String, Option<Node>>) -> View<'a> {
        let mut layers = vec![Layer::Map(updates)];
        layers.extend(self.layers.iter().copied());
        View {
            index: self.index,
            layers,
            memo: RefCell::default(),
        }
    }

    /// The item, if it exists in this view.
    pub fn node(&self, id: &str) -> Option<Node> {
        for layer in &self.layers {
            match layer {
                Layer::Map(map) => {
                    if let Some(found) = map.get(id) {
                        return found.clone();
                    }
                }
                Layer::Staging => return self.index.lookup(Table::Staging, id),
            }
        }
        let table = if self.index.staged {
            Table::Staging
        } else {
            Table::Items
        };
        self.index.lookup(table, id)
    }

    /// `/Folder/name` from the drive's root (the root itself is `/`); `None` when the
    /// chain of parents does not reach a root (list items; an item not in the view).
    pub fn path(&self, id: &str) -> Option<String> {
        if let Some(known) = self.memo.borrow().get(id) {
            return known.clone();
        }
        let found = self.walk(id);
        self.memo.borrow_mut().insert(id.to_string(), found.clone());
        found
    }

    fn walk(&self, id: &str) -> Option<String> {
        let mut names = Vec::new();
        let mut at = id.to_string();
        for _ in 0..MAX_DEPTH {
            if let Some(Some(known)) = self.memo.borrow().get(&at) {
                return Some(join(known, &names));
            }
            let node = self.node(&at)?;
            if node.root {
                return Some(join("/", &names));
            }
            names.push(node.name?);
            at = node.parent?;
        }
        None
    }
}

/// `base` (a folder's path) and the names below it, innermost first.
fn join(base: &str, names: &[String]) -> String {
    let mut out = base.trim_end_matches('/').to_string();
    for name in names.iter().rev() {
        out.push('/');
        out.push_str(name);
    }
    if out.is_empty() {
        out.push('/');
    }
    out
}

/// A [`Node`] from the [`COLUMNS`] of a row, starting at column `at`.
fn node_at(r: &rusqlite::Row<'_>, at: usize) -> rusqlite::Result<Node> {
    Ok(Node {
        name: r.get(at)?,
        parent: r.get(at + 1)?,
        folder: r.get(at + 2)?,
        root: r.get(at + 3)?,
        etag: r.get(at + 4)?,
        ctag: r.get(at + 5)?,
        size: r.get(at + 6)?,
        modified_by: r.get(at + 7)?,
        fields: r.get(at + 8)?,
    })
}

fn now() -> String {
    crate::event::format_time(chrono::Utc::now())
}

/// Open (or create) an SQLite database for the index, with the pragmas it is used
/// with: WAL (readers never wait for the writer; a crash keeps the last commit), a
/// busy timeout for other processes' commits, foreign keys off (none are declared).
pub(crate) fn connect(path: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    Ok(conn)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(name: &str, parent: Option<&str>, folder: bool) -> Node {
        Node {
            name: Some(name.into()),
            parent: parent.map(str::to_string),
            folder,
            ..Node::default()
        }
    }

    fn root() -> Node {
        Node {
            root: true,
            folder: true,
            name: Some("root".into()),
            ..Node::default()
        }
    }

    #[test]
    fn paths_walk_the_parents_and_see_pending_and_round_updates() {
        let mut ix = Index::in_memory("drive:me", "drive:b!x").unwrap();
        ix.stage_begin().unwrap();
        let (r, a, f) = (
            root(),
            node("A", Some("r"), true),
            node("f.txt", Some("a"), false),
        );
        ix.stage(&[("r", &r), ("a", &a), ("f", &f)]).unwrap();
        ix.adopt_staging();
        assert_eq!(ix.before().path("f").as_deref(), Some("/A/f.txt"));
        assert_eq!(ix.before().path("r").as_deref(), Some("/"));
        ix.commit("c1").unwrap();
        assert_eq!(ix.item_count().unwrap(), 3);
        // A rename of the folder renames the path of what is in it.
        let round = HashMap::from([("a".to_string(), Some(node("B", Some("r"), true)))]);
        let before = ix.before();
        let after = before.with(&round);
        assert_eq!(before.path("f").as_deref(), Some("/A/f.txt"));
        assert_eq!(after.path("f").as_deref(), Some("/B/f.txt"));
        drop(after);
        drop(before);
        ix.apply(round);
        assert_eq!(ix.before().path("f").as_deref(), Some("/B/f.txt"));
        ix.apply([("f".to_string(), None)]);
        assert_eq!(ix.before().path("f"), None);
        assert_eq!(ix.ids(), vec!["a", "r"]);
        ix.commit("c2").unwrap();
        assert_eq!(ix.ids(), vec!["a", "r"]);
    }

    #[test]
    fn a_cycle_or_a_broken_chain_has_no_path() {
        let mut ix = Index::in_memory("drive:me", "drive:b!x").unwrap();
        ix.apply([
            ("a".to_string(), Some(node("a", Some("b"), true))),
            ("b".to_string(), Some(node("b", Some("a"), true))),
            ("c".to_string(), Some(node("c", Some("nowhere"), false))),
        ]);
        assert_eq!(ix.before().path("a"), None);
        assert_eq!(ix.before().path("c"), None);
    }

    #[test]
    fn what_is_missing_from_an_enumeration_is_gone() {
        let mut ix = Index::in_memory("drive:me", "drive:b!x").unwrap();
        ix.apply([
            ("r".to_string(), Some(root())),
            ("a".to_string(), Some(node("a", Some("r"), false))),
            ("b".to_string(), Some(node("b", Some("r"), false))),
        ]);
        ix.commit("c1").unwrap();
        ix.apply([("c".to_string(), Some(node("c", Some("r"), false)))]);
        ix.stage_begin().unwrap();
        let r = root();
        let b = node("b", Some("r"), false);
        ix.stage(&[("r", &r), ("b", &b)]).unwrap();
        let mut gone = ix.missing_from_staging().unwrap();
        gone.sort();
        assert_eq!(gone, vec!["a", "c"]);
    }
}
