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
//! - **Shared by processes, one owner per target** (docs/decisions.md, "`--state`
//!   shared by several processes"). Each entry belongs to the one process that
//!   [`StateFile::claim`]ed its label: an exclusive lock on a lock file of that label
//!   beside the state file (`.NAME.LABEL-HASH.lock`), held for the life of the watch,
//!   so a second process on the same target and file stops at start with exit 2. A
//!   commit changes only its own entry: under a short exclusive lock on `.NAME.lock` it
//!   reads the file again, replaces that one entry and writes the file atomically, so
//!   entries of other targets — other processes' or not watched at all — are kept as
//!   they are on disk, never as they were when this process started.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{Read as _, Seek as _, Write as _};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::event::TargetId;
use crate::util::backoff::Backoff;
use crate::util::fs::{open_lock_file, private_dir, write_private};

/// Bumped when the file's shape changes incompatibly.
const FORMAT_VERSION: u32 = 1;

/// How long a commit waits for another process's commit to finish. A commit holds the
/// lock for a read and an atomic write (milliseconds); only a process stopped in the
/// middle of one (SIGSTOP) holds it longer. Past this the commit is put off to the
/// next round (see [`StateFile::commit`]), so that the watch never hangs on another
/// process and Ctrl-C still works.
const COMMIT_LOCK_PATIENCE: Duration = Duration::from_secs(5);

/// What the file holds.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct StateData {
    version: u32,
    #[serde(default)]
    targets: BTreeMap<String, Entry>,
}

impl StateData {
    fn empty() -> StateData {
        StateData {
            version: FORMAT_VERSION,
            targets: BTreeMap::new(),
        }
    }
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

/// The `--state` file, loaded. Owned by the watch loop; the targets it watches are
/// [`StateFile::claim`]ed for as long as it lives.
#[derive(Debug)]
pub struct StateFile {
    path: PathBuf,
    data: StateData,
    /// The labels this process owns, each with its lock file open and locked.
    claimed: Vec<(String, File)>,
    /// [`COMMIT_LOCK_PATIENCE`] (shorter in tests).
    patience: Duration,
}

impl StateFile {
    /// Read `path`; a missing file is an empty state. A missing directory is made, 0700
    /// (the README's `~/.local/state/graphwatch/me.json` may not exist yet), so that the
    /// first commit will not fail later. Unreadable, damaged or from another version, or
    /// a directory that cannot be made → a usage error (exit 2) that names the file.
    pub fn load(path: &Path) -> anyhow::Result<StateFile> {
        let data = match read_data(path)? {
            Some(data) => data,
            None => {
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
                StateData::empty()
            }
        };
        Ok(StateFile {
            path: path.to_path_buf(),
            data,
            claimed: Vec::new(),
            patience: COMMIT_LOCK_PATIENCE,
        })
    }

    /// The state file `path` from its bytes (the decoding half of [`StateFile::load`]).
    pub fn parse(path: &Path, bytes: &[u8]) -> anyhow::Result<StateFile> {
        Ok(StateFile {
            path: path.to_path_buf(),
            data: parse_data(path, bytes)?,
            claimed: Vec::new(),
            patience: COMMIT_LOCK_PATIENCE,
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

    /// Own the entries of `labels` for as long as this `StateFile` lives (the watch): an
    /// exclusive lock on each label's lock file beside the state file, created 0600.
    /// When another process holds one (it watches that target with this file), a usage
    /// error (exit 2) that names the target, the file and what to do. Then the file is
    /// read again, so that [`StateFile::resume`] gives each cursor as its last owner
    /// left it, even one that stopped after [`StateFile::load`].
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
        self.data = read_data(&self.path)?.unwrap_or_else(StateData::empty);
        Ok(())
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

    /// Save `cursor` as `target`'s. Call it only after the lines of the round that
    /// produced `cursor` were written and flushed. Writing the same cursor again is a
    /// no-op.
    ///
    /// Only `target`'s entry changes: under the file's commit lock the file is read
    /// again, this one entry replaced and the file written atomically, so what other
    /// processes committed for their targets is kept. A commit lock held longer than
    /// [`COMMIT_LOCK_PATIENCE`] by another process (stopped in the middle of its commit)
    /// puts this commit off with a warning: the file keeps the previous cursor (the
    /// round would be repeated after a crash, never skipped) and the next round's
    /// commit saves the newer one.
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
        let Some(_locked) = self.lock_for_commit()? else {
            tracing::warn!(
                "{}: the state file {} has been locked by another process for {} s; its cursor is saved with the next round",
                target.label,
                self.path.display(),
                self.patience.as_secs_f64()
            );
            return Ok(());
        };
        let mut data = read_data(&self.path)?.unwrap_or_else(StateData::empty);
        data.targets.insert(
            target.label.clone(),
            Entry {
                resource,
                delta_link: cursor.to_string(),
                saved_at: Utc::now(),
            },
        );
        // A failed write leaves memory as it was: it still agrees with the disk.
        write(&self.path, &data)?;
        self.data = data;
        Ok(())
        // `_locked` is closed here: the commit lock is released.
    }

    /// The commit lock, taken; `None` when another process held it all through
    /// [`COMMIT_LOCK_PATIENCE`].
    fn lock_for_commit(&self) -> anyhow::Result<Option<File>> {
        let path = self.beside("lock");
        let file = open_lock_file(&path)
            .with_context(|| format!("cannot open the lock file {}", path.display()))?;
        let since = Instant::now();
        let mut backoff = Backoff::steady(Duration::from_millis(5), Duration::from_millis(200));
        loop {
            match fs4::fs_std::FileExt::try_lock_exclusive(&file) {
                Ok(true) => return Ok(Some(file)),
                Ok(false) if since.elapsed() < self.patience => {
                    std::thread::sleep(backoff.next_delay());
                }
                Ok(false) => return Ok(None),
                Err(e) => {
                    return Err(anyhow::Error::new(e)
                        .context(format!("cannot lock the lock file {}", path.display())))
                }
            }
        }
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
        self.beside(&format!("{slug}-{:016x}.lock", fnv1a(label.as_bytes())))
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

/// The file's contents; `None` when there is no file.
fn read_data(path: &Path) -> anyhow::Result<Option<StateData>> {
    match std::fs::read(path) {
        Ok(bytes) => parse_data(path, &bytes).map(Some),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::usage(format!(
            "cannot read the state file {} ({e})",
            path.display()
        ))
        .into()),
    }
}

fn parse_data(path: &Path, bytes: &[u8]) -> anyhow::Result<StateData> {
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
        Some(v) => {
            return Err(Error::usage(format!(
                "the state file {} has version {v}, this graphwatch reads version {FORMAT_VERSION}",
                path.display()
            ))
            .hint("use another --state file, or delete this one (graphwatch then starts from now)")
            .into())
        }
        None => return Err(damaged("no version".into())),
    }
    serde_json::from_value(value).map_err(|e| damaged(e.to_string()))
}

fn write(path: &Path, data: &StateData) -> anyhow::Result<()> {
    let mut json = serde_json::to_vec_pretty(data).context("cannot encode the state file")?;
    json.push(b'\n');
    write_private(path, |file| file.write_all(&json))
        .with_context(|| format!("cannot write the state file {}", path.display()))
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

/// FNV-1a, 64 bits: a hash that is the same in every build and process, for lock-file
/// names that several graphwatch processes must agree on.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &b| {
        (hash ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
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
    fn a_missing_directory_is_made_private() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state/graphwatch/me.json");
        StateFile::load(&path).unwrap();
        let made = path.parent().unwrap();
        assert!(made.is_dir());
        assert_eq!(made.metadata().unwrap().permissions().mode() & 0o777, 0o700);
    }

    #[test]
    fn round_trip_keeps_each_label_and_other_labels() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.json");
        let me = drive("drive:me", "b!x");
        let list = issues();
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
        // A directory that cannot be made fails at load, not at the first commit.
        std::fs::write(dir.path().join("a-file"), b"").unwrap();
        let err = StateFile::load(&dir.path().join("a-file/nope/s.json")).unwrap_err();
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
        // The file and its commit lock (0600 too), no temporary file.
        let mut names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        assert_eq!(
            names,
            vec![".s.json.lock".to_string(), "s.json".to_string()]
        );
        let lock = std::fs::metadata(dir.path().join(".s.json.lock")).unwrap();
        assert_eq!(lock.permissions().mode() & 0o777, 0o600);
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
        assert_eq!(temporary_files(dir.path()), 0, "temp removed");
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

    fn temporary_files(dir: &Path) -> usize {
        std::fs::read_dir(dir)
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .ends_with(".tmp")
            })
            .count()
    }

    fn issues() -> TargetId {
        Target {
            label: "list:site-eng/list-issues".into(),
            kind: TargetKind::List {
                site_id: "site-eng".into(),
                list_id: "list-issues".into(),
            },
            display_name: "Issues".into(),
            web_url: None,
        }
        .id()
    }

    /// Two processes (two `StateFile`s on one path) with different targets: each
    /// commit keeps the other's entry as it is on disk, not as it was at load.
    #[test]
    fn commits_of_two_owners_keep_each_others_entries() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.json");
        let (me, list) = (drive("drive:me", "b!x"), issues());
        let mut first = StateFile::load(&path).unwrap();
        first.claim(&[&me.label]).unwrap();
        first.commit(&me, "https://g/me/1").unwrap();
        let mut second = StateFile::load(&path).unwrap();
        second.claim(&[&list.label]).unwrap();
        second.commit(&list, "https://g/list/1").unwrap();
        first.commit(&me, "https://g/me/2").unwrap();
        second.commit(&list, "https://g/list/2").unwrap();
        let disk = StateFile::load(&path).unwrap();
        assert_eq!(disk.resume(&me), Resume::Cursor("https://g/me/2".into()));
        assert_eq!(
            disk.resume(&list),
            Resume::Cursor("https://g/list/2".into())
        );
    }

    #[test]
    fn a_claimed_target_is_refused_to_a_second_owner_in_one_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.json");
        let me = drive("drive:me", "b!x");
        let mut first = StateFile::load(&path).unwrap();
        first.claim(&["drive:me", "drive:me"]).unwrap();
        let mut second = StateFile::load(&path).unwrap();
        let err = second
            .claim(&["list:site-eng/list-issues", "drive:me"])
            .unwrap_err();
        assert_eq!(exit_code(&err), Code::Usage);
        let report = crate::exit::one_line(&err);
        assert!(!report.contains('\n'), "{report}");
        for part in [
            "drive:me is already watched",
            &path.display().to_string(),
            &format!("(process {})", std::process::id()),
            "give this watch its own --state file",
        ] {
            assert!(report.contains(part), "{part:?} in {report}");
        }
        // Once the first owner is gone, the target can be claimed, with its cursor.
        first.commit(&me, "https://g/me/1").unwrap();
        drop(first);
        second.claim(&["drive:me"]).unwrap();
        assert_eq!(second.resume(&me), Resume::Cursor("https://g/me/1".into()));
    }

    #[cfg(unix)]
    #[test]
    fn lock_files_are_0600_and_named_for_their_label() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.json");
        let mut state = StateFile::load(&path).unwrap();
        let long = format!("list:{}", "x/".repeat(300));
        state
            .claim(&["drive:me", "list:site-eng/list-issues", &long])
            .unwrap();
        let mut locks: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        locks.sort();
        assert_eq!(locks.len(), 3, "{locks:?}");
        assert!(locks.iter().any(|n| n.starts_with(".s.json.drive-me-")));
        assert!(locks
            .iter()
            .any(|n| n.starts_with(".s.json.list-site-eng-list-issues-")));
        for name in &locks {
            assert!(name.ends_with(".lock") && name.len() < 80, "{name}");
            let mode = std::fs::metadata(dir.path().join(name))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600, "{name}");
        }
    }

    #[test]
    fn a_commit_lock_held_too_long_puts_the_commit_off_to_the_next_round() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.json");
        let me = drive("drive:me", "b!x");
        let mut state = StateFile::load(&path).unwrap();
        state.patience = Duration::from_millis(50);
        state.commit(&me, "https://g/old").unwrap();
        // Another process stopped in the middle of its commit.
        let other = open_lock_file(&dir.path().join(".s.json.lock")).unwrap();
        assert!(fs4::fs_std::FileExt::try_lock_exclusive(&other).unwrap());
        state.commit(&me, "https://g/new").unwrap();
        assert_eq!(
            StateFile::load(&path).unwrap().resume(&me),
            Resume::Cursor("https://g/old".into())
        );
        drop(other);
        state.commit(&me, "https://g/newer").unwrap();
        assert_eq!(
            StateFile::load(&path).unwrap().resume(&me),
            Resume::Cursor("https://g/newer".into())
        );
    }
}
