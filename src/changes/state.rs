//! `--state FILE`: the delta cursor and the item index of each target, in one SQLite
//! database, so that a restart carries on where the last run stopped, writes what
//! changed while graphwatch was down, and needs no new enumeration
//! (docs/changes.md, "The --state file").
//!
//! - **One transaction per round.** Each target's cursor and index move together, only
//!   after the round's lines were written and flushed ([`crate::changes::index`]): a
//!   crash or a full disk leaves the previous cursor *and* the index that goes with it,
//!   so the restart repeats rounds, never skips one. WAL: a reader never waits for a
//!   writer, a crash never leaves half a commit.
//! - **Private.** The file is created 0600 in a directory made 0700 if missing (SQLite
//!   gives its `-wal` and `-shm` files the database's mode): it reveals which drives and
//!   lists someone watches and what is in them. No access or refresh token is ever
//!   written here. The `token` in a deltaLink is a cursor, not a credential: without a
//!   bearer token for an account that may read the drive it gives nothing, and it
//!   expires by itself (410).
//! - **Resolved identity.** Each target's row records what its label resolved to
//!   (`resource`, e.g. `drive:b!x`). If the label now resolves to another drive or list,
//!   the cursor and index are of something else: a resync (`targetChanged`), whose
//!   differences are written like any resync's.
//! - **Shared by processes, one owner per target** (docs/decisions.md, "`--state`
//!   shared by several processes"): each target belongs to the one process that
//!   [`StateFile::claim`]ed its label, by an exclusive lock on a lock file of that label
//!   beside the database (`.NAME.LABEL-HASH.lock`), held for the life of the watch; a
//!   second process on the same target and file stops at start with exit 2. SQLite's own
//!   locking orders the commits of different targets.
//! - **Older files.** The JSON state file of graphwatch 0.1 (`"version": 1`) is migrated
//!   at the first start: its cursors are kept (each target builds its index by one
//!   enumeration, then continues from its cursor), and the JSON is kept beside as
//!   `FILE.v1.json`. A file that is neither, or a damaged database, is refused (exit 2)
//!   and left as it is.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{Read as _, Seek as _, Write as _};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use rusqlite::Connection;
use serde::Deserialize;

use crate::changes::index::{self, Index, Resume, SCHEMA, SCHEMA_VERSION};
use crate::error::Error;
use crate::event::TargetId;
use crate::util::fs::{open_lock_file, private_dir, restrict};

/// The first bytes of every SQLite database.
const SQLITE_MAGIC: &[u8] = b"SQLite format 3\0";

/// The JSON state file of graphwatch 0.1, as far as migration reads it.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct JsonState {
    version: u32,
    #[serde(default)]
    targets: BTreeMap<String, JsonEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct JsonEntry {
    resource: String,
    delta_link: String,
    saved_at: DateTime<Utc>,
}

/// The `--state` file, checked. Owned by the watch loop; the targets it watches are
/// [`StateFile::claim`]ed for as long as it lives.
#[derive(Debug)]
pub struct StateFile {
    path: PathBuf,
    /// The labels this process owns, each with its lock file open and locked.
    claimed: Vec<(String, File)>,
}

impl StateFile {
    /// Check `path`, creating the database if there is none (its directory made 0700
    /// if missing) and migrating a JSON state file of graphwatch 0.1. Unreadable,
    /// damaged, of another kind or version → a usage error (exit 2) that names the
    /// file; the file is left as it is.
    pub fn load(path: &Path) -> anyhow::Result<StateFile> {
        let mut head = Vec::new();
        match File::open(path) {
            Ok(file) => {
                file.take(64)
                    .read_to_end(&mut head)
                    .map_err(|e| unreadable(path, &e))?;
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let dir = parent(path);
                if !dir.is_dir() {
                    private_dir(dir).map_err(|e| {
                        Error::usage(format!(
                            "--state {}: cannot make the directory {} ({e})",
                            path.display(),
                            dir.display()
                        ))
                        .hint("give a file in a directory that exists or can be made")
                    })?;
                }
            }
            Err(e) => return Err(unreadable(path, &e).into()),
        }
        if head.is_empty() {
            create(path, &BTreeMap::new())?;
        } else if head.starts_with(SQLITE_MAGIC) {
            check(path)?;
        } else if head.trim_ascii_start().starts_with(b"{") {
            migrate(path)?;
        } else {
            return Err(Error::usage(format!(
                "{} is not a graphwatch state file (neither an SQLite database nor the JSON of graphwatch 0.1)",
                path.display()
            ))
            .hint("give another --state file; this one is left as it is")
            .into());
        }
        Ok(StateFile {
            path: path.to_path_buf(),
            claimed: Vec::new(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Own the entries of `labels` for as long as this `StateFile` lives (the watch): an
    /// exclusive lock on each label's lock file beside the state file, created 0600.
    /// When another process holds one (it watches that target with this file), a usage
    /// error (exit 2) that names the target, the file and what to do. Each target's
    /// index is opened after this ([`StateFile::open_index`]), so each target reads its cursor and index as their last owner left them.
    pub fn claim(&mut self, labels: &[&str]) -> anyhow::Result<()> {
        for &label in labels {
            if self.claimed.iter().any(|(owned, _)| owned == label) {
                continue;
            }
            let lock = self.target_lock_path(label);
            let mut file = open_lock_file(&lock).map_err(|e| {
                Error::usage(format!("cannot open the lock file {} ({e})", lock.display()))
                    .hint("graphwatch creates its lock files beside the --state file: make that directory writable")
            })?;
            match fs4::fs_std::FileExt::try_lock_exclusive(&file) {
                Ok(true) => {}
                Ok(false) => {
                    let holder = holder_pid(&mut file)
                        .map(|pid| format!(" (process {pid})"))
                        .unwrap_or_default();
                    return Err(Error::usage(format!(
                        "{label} is already watched with the state file {} by another graphwatch{holder}",
                        self.path.display()
                    ))
                    .hint("stop that one first, or give this watch its own --state file")
                    .into());
                }
                Err(e) => {
                    return Err(Error::usage(format!(
                        "cannot lock the lock file {} ({e})",
                        lock.display()
                    ))
                    .hint("put the --state file on a file system that supports file locks")
                    .into())
                }
            }
            // For the message of a second process; the lock, not this, is what counts.
            let _ = write_pid(&mut file);
            self.claimed.push((label.to_string(), file));
        }
        Ok(())
    }

    /// The index and cursor of `target`, on a connection of its own (each target's
    /// task owns one).
    pub fn open_index(&self, target: &TargetId) -> anyhow::Result<(Index, Resume)> {
        let opened = index::connect(&self.path)
            .and_then(|conn| Index::open(conn, &target.label, &target.resource));
        opened.map_err(|e| damaged(&self.path, &e).into())
    }

    /// The lock file of one label: `.NAME.SLUG-HASH.lock`, the slug for people (`ls -a`
    /// shows whose it is), the hash of the whole label so that two labels never share
    /// one and any label gives a short, valid file name.
    fn target_lock_path(&self, label: &str) -> PathBuf {
        let slug: String = label
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '-'
                }
            })
            .take(40)
            .collect();
        self.beside(&format!(
            "{slug}-{:016x}.lock",
            crate::util::hash::fnv1a(label.as_bytes())
        ))
    }

    /// `.NAME.SUFFIX` in the state file's directory.
    fn beside(&self, suffix: &str) -> PathBuf {
        let name = self
            .path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        parent(&self.path).join(format!(".{name}.{suffix}"))
    }
}

fn parent(path: &Path) -> &Path {
    match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    }
}

fn unreadable(path: &Path, e: &std::io::Error) -> Error {
    Error::usage(format!(
        "cannot read the state file {} ({e})",
        path.display()
    ))
    .hint("give a file graphwatch may read and write")
}

fn damaged(path: &Path, e: &dyn std::fmt::Display) -> Error {
    Error::usage(format!(
        "the state file {} cannot be used ({e})",
        path.display()
    ))
    .hint("move it away and start again (graphwatch then enumerates each target once), or give another --state file")
}

/// A new database at `path` (0600, the file made before SQLite opens it), with the
/// cursors of `targets` (label → (resource, deltaLink, saved at)) and no index.
fn create(path: &Path, targets: &BTreeMap<String, JsonEntry>) -> anyhow::Result<()> {
    let made = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .and_then(|_| restrict(path, 0o600));
    if let Err(e) = made {
        if e.kind() != std::io::ErrorKind::AlreadyExists {
            return Err(Error::usage(format!(
                "cannot create the state file {} ({e})",
                path.display()
            ))
            .hint("give a file in a directory graphwatch may write")
            .into());
        }
    }
    let fill = || -> rusqlite::Result<()> {
        let mut conn = index::connect(path)?;
        let tx = conn.transaction()?;
        tx.execute_batch(SCHEMA)?;
        for (label, entry) in targets {
            tx.execute(
                "INSERT INTO targets(label, resource, delta_link, indexed, saved_at) VALUES (?1, ?2, ?3, 0, ?4)",
                rusqlite::params![
                    label,
                    entry.resource,
                    entry.delta_link,
                    crate::event::format_time(entry.saved_at)
                ],
            )?;
        }
        tx.pragma_update(None, "user_version", SCHEMA_VERSION)?;
        tx.commit()
    };
    fill().map_err(|e| damaged(path, &e).into())
}

/// An existing database: readable, not damaged, of this schema.
fn check(path: &Path) -> anyhow::Result<()> {
    let inspect = || -> rusqlite::Result<(i64, String)> {
        let conn = Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        let version = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        let ok = conn.query_row("PRAGMA quick_check", [], |r| r.get(0))?;
        Ok((version, ok))
    };
    match inspect() {
        Ok((SCHEMA_VERSION, ok)) if ok == "ok" => Ok(()),
        Ok((SCHEMA_VERSION, problem)) => Err(damaged(path, &format!("damaged: {problem}")).into()),
        Ok((version, _)) => Err(Error::usage(format!(
            "the state file {} has version {version}, this graphwatch reads version {SCHEMA_VERSION}",
            path.display()
        ))
        .hint("use another --state file, or the graphwatch that wrote this one")
        .into()),
        Err(e) => Err(damaged(path, &e).into()),
    }
}

/// Replace the JSON state file of graphwatch 0.1 by a database with its cursors; the
/// JSON is kept beside as `FILE.v1.json`. Nothing is replaced unless the new database
/// was written whole.
fn migrate(path: &Path) -> anyhow::Result<()> {
    let bytes = std::fs::read(path).map_err(|e| unreadable(path, &e))?;
    let old: JsonState = serde_json::from_slice(&bytes).map_err(|e| {
        Error::usage(format!(
            "the state file {} is damaged JSON ({e})",
            path.display()
        ))
        .hint("fix it, or move it away (graphwatch then enumerates each target once)")
    })?;
    if old.version != 1 {
        return Err(Error::usage(format!(
            "the state file {} has version {}, this graphwatch migrates version 1",
            path.display(),
            old.version
        ))
        .hint("move it away (graphwatch then enumerates each target once)")
        .into());
    }
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let fresh = parent(path).join(format!(".{name}.migrating"));
    let kept = parent(path).join(format!("{name}.v1.json"));
    let _ = std::fs::remove_file(&fresh);
    create(&fresh, &old.targets)?;
    let moved = std::fs::copy(path, &kept)
        .and_then(|_| restrict(&kept, 0o600))
        .and_then(|()| std::fs::rename(&fresh, path));
    if let Err(e) = moved {
        let _ = std::fs::remove_file(&fresh);
        return Err(Error::usage(format!(
            "cannot migrate the state file {} ({e})",
            path.display()
        ))
        .hint("make its directory writable; the file is left as it was")
        .into());
    }
    tracing::info!(
        "{}: migrated the JSON state file of graphwatch 0.1 ({} cursors kept; the old file is {})",
        path.display(),
        old.targets.len(),
        kept.display()
    );
    Ok(())
}

/// Write this process's id into a lock file it holds.
fn write_pid(file: &mut File) -> std::io::Result<()> {
    file.set_len(0)?;
    file.rewind()?;
    writeln!(file, "{}", std::process::id())?;
    file.flush()
}

/// The process id another process wrote into its lock file, if it can be read.
fn holder_pid(file: &mut File) -> Option<u32> {
    let mut text = String::new();
    file.rewind().ok()?;
    std::io::Read::take(&mut *file, 32)
        .read_to_string(&mut text)
        .ok()?;
    text.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Code;
    use crate::exit::exit_code;

    fn drive(label: &str, id: &str) -> TargetId {
        TargetId {
            label: label.into(),
            resource: format!("drive:{id}"),
        }
    }

    #[test]
    fn a_new_file_is_made_private_in_a_private_directory() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/state.db");
        let state = StateFile::load(&path).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode(&dir.path().join("sub")), 0o700);
            assert_eq!(mode(&path), 0o600);
        }
        let (mut ix, resume) = state.open_index(&drive("drive:me", "b!x")).unwrap();
        assert_eq!(resume, Resume::Fresh);
        ix.commit("https://g/d?token=1").unwrap();
        drop(ix);
        let again = StateFile::load(&path).unwrap();
        let (_, resume) = again.open_index(&drive("drive:me", "b!x")).unwrap();
        assert_eq!(resume, Resume::Cursor("https://g/d?token=1".into()));
        let (_, elsewhere) = again.open_index(&drive("drive:me", "b!y")).unwrap();
        assert_eq!(
            elsewhere,
            Resume::Elsewhere {
                saved: "drive:b!x".into(),
                now: "drive:b!y".into()
            }
        );
    }

    #[test]
    fn a_json_state_file_is_migrated_with_its_cursors_and_kept_beside() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("me.json");
        let json = r#"{"version":1,"targets":{"drive:me":{"resource":"drive:b!x","deltaLink":"https://g/d?token=7","savedAt":"2026-11-26T10:00:00.123Z"}}}"#;
        std::fs::write(&path, json).unwrap();
        let state = StateFile::load(&path).unwrap();
        assert_eq!(
            std::fs::read_to_string(dir.path().join("me.json.v1.json")).unwrap(),
            json
        );
        let (_, resume) = state.open_index(&drive("drive:me", "b!x")).unwrap();
        assert_eq!(
            resume,
            Resume::CursorWithoutIndex("https://g/d?token=7".into())
        );
        // Loaded again: a database now, the same cursor.
        let (_, resume) = StateFile::load(&path)
            .unwrap()
            .open_index(&drive("drive:me", "b!x"))
            .unwrap();
        assert_eq!(
            resume,
            Resume::CursorWithoutIndex("https://g/d?token=7".into())
        );
    }

    #[test]
    fn damaged_or_foreign_files_are_usage_errors_and_left_as_they_are() {
        let dir = tempfile::tempdir().unwrap();
        let cases: [(&str, &[u8]); 4] = [
            ("garbage", b"hello world"),
            ("bad.json", b"{ not json"),
            ("v9.json", br#"{"version":9,"targets":{}}"#),
            (
                "torn.db",
                b"SQLite format 3\0 and then nothing that SQLite can read at all, not a page",
            ),
        ];
        for (name, bytes) in cases {
            let path = dir.path().join(name);
            std::fs::write(&path, bytes).unwrap();
            let err = StateFile::load(&path).unwrap_err();
            assert_eq!(exit_code(&err), Code::Usage, "{name}: {err:#}");
            assert!(format!("{err:#}").contains(name), "{name}: {err:#}");
            assert_eq!(std::fs::read(&path).unwrap(), bytes, "{name} was changed");
        }
    }

    #[test]
    fn a_claimed_target_is_refused_to_a_second_owner_in_one_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.db");
        let mut first = StateFile::load(&path).unwrap();
        first.claim(&["drive:me"]).unwrap();
        let mut second = StateFile::load(&path).unwrap();
        second.claim(&["list:site/Issues"]).unwrap();
        let err = second.claim(&["drive:me"]).unwrap_err();
        assert_eq!(exit_code(&err), Code::Usage);
        let text = crate::exit::one_line(&err);
        assert!(text.contains("drive:me is already watched"), "{text}");
        assert!(!text.contains('\n'));
        drop(first);
        second.claim(&["drive:me"]).unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn lock_files_are_0600_and_named_for_their_label() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        let mut state = StateFile::load(&path).unwrap();
        let long = format!("list:{}", "x/".repeat(300));
        state
            .claim(&["drive:me", "list:site-eng/list-issues", &long])
            .unwrap();
        let mut locks: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| n.ends_with(".lock"))
            .collect();
        locks.sort();
        assert_eq!(locks.len(), 3, "{locks:?}");
        assert!(locks.iter().any(|n| n.starts_with(".s.db.drive-me-")));
        assert!(locks
            .iter()
            .any(|n| n.starts_with(".s.db.list-site-eng-list-issues-")));
        for name in &locks {
            assert!(name.len() < 80, "{name}");
            let mode = std::fs::metadata(dir.path().join(name))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600, "{name}");
        }
    }

    /// Another process holding the write lock (stopped in the middle of its commit):
    /// the commit fails after the busy timeout, keeps its updates pending, and the next
    /// commit saves them.
    #[test]
    fn a_commit_blocked_by_another_writer_keeps_its_updates_for_the_next() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        let state = StateFile::load(&path).unwrap();
        let target = drive("drive:me", "b!x");
        let (mut ix, _) = state.open_index(&target).unwrap();
        ix.set_busy_timeout(std::time::Duration::from_millis(50));
        let other = Connection::open(&path).unwrap();
        other.execute_batch("BEGIN IMMEDIATE").unwrap();
        ix.apply([(
            "a".to_string(),
            Some(crate::changes::index::Node {
                name: Some("a".into()),
                ..Default::default()
            }),
        )]);
        assert!(ix.commit("c1").is_err(), "the other writer holds the lock");
        other.execute_batch("ROLLBACK").unwrap();
        ix.commit("c2").unwrap();
        drop(ix);
        let (ix, resume) = state.open_index(&target).unwrap();
        assert_eq!(resume, Resume::Cursor("c2".into()));
        assert_eq!(ix.item_count().unwrap(), 1, "the pending update was saved");
    }
}
