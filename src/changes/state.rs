//! `--state FILE`: the delta cursor of each target, so that a restart carries on where
//! the last run stopped and writes what changed while graphwatch was down.
//!
//! The file is JSON with a `version`, one entry per target label:
//!
//! ```json
//! {
//!   "version": 1,
//!   "targets": {
//!     "drive:me": {
//!       "resource": "drive:b!AdeleVanceOneDrive",
//!       "deltaLink": "https://graph.microsoft.com/v1.0/drives/b!Adele…/root/delta?token=…",
//!       "savedAt": "2026-11-26T10:00:00.123Z"
//!     }
//!   }
//! }
//! ```
//!
//! - **At-least-once.** The watch loop calls [`StateFile::commit`] only after the lines
//!   of a round were written and flushed. A crash between the two repeats that round's
//!   lines on restart; no order of events can skip one.
//! - **Atomic.** Every commit replaces the file through a temporary file and a rename
//!   ([`crate::util::fs::write_private`], the token cache's writer), so a crash or a
//!   full disk leaves the previous cursor, never half a file. Mode 0600 all the same:
//!   the file reveals which drives and lists someone watches.
//! - **No secret.** The `token` in a deltaLink is a cursor — a position in the drive's
//!   change log — not a credential: without a bearer token for an account that may read
//!   the drive it gives nothing, and it expires by itself (410). The whole deltaLink is
//!   kept, as Graph hands it out, because Graph documents the link (not the token) as
//!   the thing to call next and its form differs between services (`?token=`,
//!   `delta(token='…')`). No access or refresh token is ever written here.
//! - **Resolved identity.** Each entry records what its label resolved to (`resource`,
//!   e.g. `drive:b!x`). If the same SPEC now resolves to another drive or list (`me`
//!   under another account, a renamed library), the cursor belongs to something else:
//!   it is ignored with a warning and the target starts from now.
//! - Entries of other labels are kept, so one file can serve runs with different
//!   targets. One graphwatch process per state file: two would overwrite each other's
//!   cursors (each at-least-once on its own, but the last writer wins).

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::event::TargetId;
use crate::util::fs::write_private;

/// Bumped when the file's shape changes incompatibly.
const FORMAT_VERSION: u32 = 1;

/// What the file holds.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct StateData {
    version: u32,
    #[serde(default)]
    targets: BTreeMap<String, Entry>,
}

/// One target's cursor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Entry {
    /// What the label resolved to when the cursor was saved: `drive:{id}` or
    /// `list:{site}/{list}`.
    pub resource: String,
    /// The `@odata.deltaLink` to continue from.
    pub delta_link: String,
    pub saved_at: DateTime<Utc>,
}

/// Where a target starts, according to the state file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resume {
    /// Continue from this deltaLink.
    Cursor(String),
    /// Nothing saved for this label: start from now.
    Fresh,
    /// A cursor is saved under this label for another drive or list (`saved`): it is
    /// ignored, the target starts from now. The caller says so on stderr
    /// ([`Resume::warning`]).
    Elsewhere { saved: String, now: String },
}

impl Resume {
    /// The cursor to hand to [`crate::changes::delta::DeltaFeed::new`].
    pub fn cursor(&self) -> Option<String> {
        match self {
            Resume::Cursor(link) => Some(link.clone()),
            _ => None,
        }
    }

    /// The warning for [`Resume::Elsewhere`].
    pub fn warning(&self, label: &str, file: &Path) -> Option<String> {
        match self {
            Resume::Elsewhere { saved, now } => Some(format!(
                "{label}: the cursor in {} is for {saved}, but {label} is now {now}; ignoring it and starting from now",
                file.display()
            )),
            _ => None,
        }
    }
}

/// The `--state` file, loaded. Shared by the targets of one run (wrap it in a mutex).
#[derive(Debug)]
pub struct StateFile {
    path: PathBuf,
    data: StateData,
}

impl StateFile {
    /// Read `path`; a missing file is an empty state (its directory must exist, so
    /// that the first commit will not fail later). Unreadable, damaged or from another
    /// version → a usage error (exit 2) that names the file.
    pub fn load(path: &Path) -> anyhow::Result<StateFile> {
        let bytes = match std::fs::read(path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let dir = match path.parent() {
                    Some(d) if !d.as_os_str().is_empty() => d,
                    _ => Path::new("."),
                };
                if !dir.is_dir() {
                    return Err(Error::usage(format!(
                        "--state {}: the directory {} does not exist",
                        path.display(),
                        dir.display()
                    ))
                    .hint("give a file in an existing directory (it is created at the first save)")
                    .into());
                }
                return Ok(StateFile {
                    path: path.to_path_buf(),
                    data: StateData {
                        version: FORMAT_VERSION,
                        targets: BTreeMap::new(),
                    },
                });
            }
            Err(e) => {
                return Err(Error::usage(format!(
                    "cannot read the state file {} ({e})",
                    path.display()
                ))
                .into())
            }
        };
        StateFile::parse(path, &bytes)
    }

    /// The state file `path` from its bytes (the decoding half of [`StateFile::load`]).
    pub fn parse(path: &Path, bytes: &[u8]) -> anyhow::Result<StateFile> {
        let damaged = |why: String| -> anyhow::Error {
            Error::usage(format!(
                "the state file {} is damaged ({why})",
                path.display()
            ))
            .hint("fix or delete it (graphwatch then starts from now)")
            .into()
        };
        let value: serde_json::Value =
            serde_json::from_slice(bytes).map_err(|e| damaged(e.to_string()))?;
        match value.get("version").and_then(serde_json::Value::as_u64) {
            Some(v) if v == u64::from(FORMAT_VERSION) => {}
            Some(v) => return Err(Error::usage(format!(
                "the state file {} has version {v}, this graphwatch reads version {FORMAT_VERSION}",
                path.display()
            ))
            .hint("use another --state file, or delete this one (graphwatch then starts from now)")
            .into()),
            None => return Err(damaged("no version".into())),
        }
        let data: StateData = serde_json::from_value(value).map_err(|e| damaged(e.to_string()))?;
        Ok(StateFile {
            path: path.to_path_buf(),
            data,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The saved entry of a label, as it is.
    #[cfg(test)]
    pub fn entry(&self, label: &str) -> Option<&Entry> {
        self.data.targets.get(label)
    }

    /// Where `target` starts: its saved cursor if it was saved for the same drive or
    /// list, else from now.
    pub fn resume(&self, target: &TargetId) -> Resume {
        let now = target.resource.clone();
        match self.data.targets.get(&target.label) {
            None => Resume::Fresh,
            Some(entry) if entry.resource == now => Resume::Cursor(entry.delta_link.clone()),
            Some(entry) => Resume::Elsewhere {
                saved: entry.resource.clone(),
                now,
            },
        }
    }

    /// Save `cursor` as `target`'s and write the file (atomically). Call it only after
    /// the lines of the round that produced `cursor` were written and flushed. Writing
    /// the same cursor again is a no-op.
    pub fn commit(&mut self, target: &TargetId, cursor: &str) -> anyhow::Result<()> {
        let resource = target.resource.clone();
        if self
            .data
            .targets
            .get(&target.label)
            .is_some_and(|e| e.resource == resource && e.delta_link == cursor)
        {
            return Ok(());
        }
        let previous = self.data.targets.insert(
            target.label.clone(),
            Entry {
                resource,
                delta_link: cursor.to_string(),
                saved_at: Utc::now(),
            },
        );
        if let Err(e) = self.write() {
            // Keep memory and disk in agreement: the file still has the old cursor.
            match previous {
                Some(old) => self.data.targets.insert(target.label.clone(), old),
                None => self.data.targets.remove(&target.label),
            };
            return Err(e);
        }
        Ok(())
    }

    fn write(&self) -> anyhow::Result<()> {
        let mut json =
            serde_json::to_vec_pretty(&self.data).context("cannot encode the state file")?;
        json.push(b'\n');
        write_private(&self.path, |file| file.write_all(&json))
            .with_context(|| format!("cannot write the state file {}", self.path.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Code;
    use crate::exit::exit_code;
    use crate::target::{Target, TargetKind};

    fn drive(label: &str, id: &str) -> TargetId {
        Target {
            label: label.into(),
            kind: TargetKind::Drive {
                drive_id: id.into(),
            },
            display_name: "OneDrive".into(),
            web_url: None,
        }
        .id()
    }

    #[test]
    fn round_trip_keeps_each_label_and_other_labels() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.json");
        let me = drive("drive:me", "b!x");
        let list = Target {
            label: "list:site-eng/list-issues".into(),
            kind: TargetKind::List {
                site_id: "site-eng".into(),
                list_id: "list-issues".into(),
            },
            display_name: "Issues".into(),
            web_url: None,
        }
        .id();
        let mut state = StateFile::load(&path).unwrap();
        assert_eq!(state.resume(&me), Resume::Fresh);
        state
            .commit(&me, "https://g/v1.0/drives/b!x/root/delta?token=1")
            .unwrap();
        state
            .commit(&list, "https://g/v1.0/sites/s/lists/l/items/delta?token=2")
            .unwrap();
        let again = StateFile::load(&path).unwrap();
        assert_eq!(
            again.resume(&me),
            Resume::Cursor("https://g/v1.0/drives/b!x/root/delta?token=1".into())
        );
        assert_eq!(
            again.entry(&list.label).unwrap().resource,
            "list:site-eng/list-issues"
        );
        let text = std::fs::read_to_string(&path).unwrap();
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(value["version"], 1);
        assert_eq!(
            value["targets"]["drive:me"]["deltaLink"],
            "https://g/v1.0/drives/b!x/root/delta?token=1"
        );
    }

    #[test]
    fn a_cursor_for_another_resolved_id_is_not_used() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.json");
        let mut state = StateFile::load(&path).unwrap();
        state
            .commit(&drive("drive:me", "b!adele"), "https://g/a")
            .unwrap();
        let state = StateFile::load(&path).unwrap();
        let now = drive("drive:me", "b!megan");
        let resume = state.resume(&now);
        assert_eq!(resume.cursor(), None);
        let warning = resume.warning("drive:me", &path).unwrap();
        assert!(warning.contains("drive:b!adele") && warning.contains("drive:b!megan"));
    }

    #[test]
    fn damaged_unreadable_or_foreign_files_are_usage_errors_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        for (name, text) in [
            ("a.json", "{not json"),
            ("b.json", r#"{"targets":{}}"#),
            ("c.json", r#"{"version":99,"targets":{}}"#),
            ("d.json", r#"{"version":1,"targets":{"x":{"resource":5}}}"#),
            ("e.json", "[]"),
        ] {
            let path = dir.path().join(name);
            std::fs::write(&path, text).unwrap();
            let err = StateFile::load(&path).unwrap_err();
            assert_eq!(exit_code(&err), Code::Usage, "{name}");
            let report = crate::exit::one_line(&err);
            assert!(report.contains(&path.display().to_string()), "{report}");
            assert!(!report.contains('\n'));
        }
        // A directory where the file should be: unreadable.
        let err = StateFile::load(dir.path()).unwrap_err();
        assert_eq!(exit_code(&err), Code::Usage);
        // A missing directory fails at load, not at the first commit.
        let err = StateFile::load(&dir.path().join("nope/s.json")).unwrap_err();
        assert_eq!(exit_code(&err), Code::Usage);
    }

    #[cfg(unix)]
    #[test]
    fn the_file_is_0600_and_no_temporary_file_is_left() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.json");
        let mut state = StateFile::load(&path).unwrap();
        state
            .commit(&drive("drive:me", "b!x"), "https://g/d?token=CURSOR")
            .unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        // Only the file itself is left: no temporary file.
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(names, vec!["s.json".to_string()]);
    }

    #[test]
    fn a_failed_write_leaves_the_old_file_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.json");
        let mut state = StateFile::load(&path).unwrap();
        let me = drive("drive:me", "b!x");
        state.commit(&me, "https://g/old").unwrap();
        let before = std::fs::read(&path).unwrap();
        // The writer fails half-way through the temporary file.
        let err = crate::util::fs::write_private(&path, |f| {
            f.write_all(b"{\"version\":1,\"targ")?;
            Err(std::io::Error::other("disk full"))
        })
        .unwrap_err();
        assert_eq!(err.to_string(), "disk full");
        assert_eq!(std::fs::read(&path).unwrap(), before);
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            1,
            "temp removed"
        );
        assert_eq!(
            StateFile::load(&path).unwrap().resume(&me),
            Resume::Cursor("https://g/old".into())
        );
    }

    #[cfg(unix)]
    #[test]
    fn a_read_only_directory_fails_the_commit_and_keeps_the_old_cursor() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.json");
        let me = drive("drive:me", "b!x");
        let mut state = StateFile::load(&path).unwrap();
        state.commit(&me, "https://g/old").unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o500)).unwrap();
        // root ignores directory permissions; there the writer-failure test above
        // covers the same property.
        let enforced = std::fs::File::create(dir.path().join("probe")).is_err();
        if enforced {
            let err = state.commit(&me, "https://g/new").unwrap_err();
            assert!(crate::exit::one_line(&err).contains("s.json"));
            let again = StateFile::load(&path).unwrap();
            assert_eq!(again.resume(&me), Resume::Cursor("https://g/old".into()));
            // Memory agrees with the disk: the failed cursor is not remembered.
            assert_eq!(state.resume(&me), Resume::Cursor("https://g/old".into()));
        }
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
    }
}
