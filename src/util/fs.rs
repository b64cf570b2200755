//! Private files: the one writer for files that hold secrets or reveal what someone
//! watches (the token cache, the `--state` file), and the one way to make their
//! directories and lock files. Atomic (temporary file, fsync, rename, fsync of the
//! directory) and owner-only from the moment the file exists, whatever the umask (a
//! umask of 000 must not make the config directory 0777 or a lock file 0666).

use std::fs::File;
use std::path::Path;
use std::time::{Duration, SystemTime};

/// Replace `path` atomically with what `fill` writes, readable by its owner only (0600
/// on Unix from the moment the file exists): a temporary file beside it is written,
/// fsynced and renamed over it, then the directory is fsynced. A reader never sees half
/// a file, and when anything fails (or the process dies) the old file is left as it
/// was and the temporary file is removed (or, after a crash, left as a `.NAME.*.tmp`).
/// Used for the token cache and the `--state` file.
pub fn write_private(
    path: &Path,
    fill: impl FnOnce(&mut File) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    // tempfile creates the file with mode 0600 on Unix.
    let mut tmp = tempfile::Builder::new()
        .prefix(&format!(".{name}."))
        .suffix(".tmp")
        .tempfile_in(dir)?;
    restrict(tmp.path(), 0o600)?;
    fill(tmp.as_file_mut())?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    // Make the rename itself durable.
    #[cfg(unix)]
    File::open(dir)?.sync_all()?;
    Ok(())
}

/// Make `dir` (and any missing parent) a directory only its owner can use: what is
/// created is 0700 whatever the umask; an existing `dir` that others could read or enter
/// is made 0700; existing parents are left as they are. One that is already owner-only
/// is not touched: someone who made it read-only (0500) meant it.
pub fn private_dir(dir: &Path) -> std::io::Result<()> {
    match std::fs::metadata(dir) {
        Ok(meta) if meta.is_dir() => return tighten(dir, &meta),
        Ok(_) => {
            return Err(std::io::Error::new(
                std::io::ErrorKind::AlreadyExists,
                "it exists and is not a directory",
            ))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
        if !parent.is_dir() {
            private_dir(parent)?;
        }
    }
    match create_dir_0700(dir) {
        Ok(()) => restrict(dir, 0o700),
        // Made by another process meanwhile.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && dir.is_dir() => {
            tighten(dir, &std::fs::metadata(dir)?)
        }
        Err(e) => Err(e),
    }
}

#[cfg(unix)]
fn create_dir_0700(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt as _;
    std::fs::DirBuilder::new().mode(0o700).create(dir)
}

#[cfg(not(unix))]
fn create_dir_0700(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir(dir)
}

/// 0700 if group or others have any access; otherwise as it is.
#[cfg(unix)]
fn tighten(dir: &Path, meta: &std::fs::Metadata) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    if meta.permissions().mode() & 0o077 != 0 {
        restrict(dir, 0o700)?;
    }
    Ok(())
}

#[cfg(not(unix))]
fn tighten(_dir: &Path, _meta: &std::fs::Metadata) -> std::io::Result<()> {
    Ok(())
}

/// Open (or create) a lock file, 0600 whatever the umask: the token cache's refresh
/// lock and the `--state` file's locks. It holds at most a process id, but what is
/// beside the token cache and the state is the owner's alone. A lock file of another
/// mode is made 0600 when it can be (its owner may be someone else; the lock works
/// either way). Lock files are kept, never deleted: removing one that another process
/// has just opened would let two processes lock two files of one name.
pub fn open_lock_file(path: &Path) -> std::io::Result<File> {
    let mut options = std::fs::OpenOptions::new();
    options.create(true).truncate(false).read(true).write(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
        options.mode(0o600);
        let file = options.open(path)?;
        if file.metadata()?.permissions().mode() & 0o777 != 0o600 {
            let _ = file.set_permissions(std::fs::Permissions::from_mode(0o600));
        }
        Ok(file)
    }
    #[cfg(not(unix))]
    options.open(path)
}

/// A temporary file of [`write_private`]'s older than this was left by a write that was
/// killed (a write takes milliseconds); a younger one may be another process's, in the
/// middle of its write.
pub const STALE_TEMP_AGE: Duration = Duration::from_secs(60);

/// Remove the temporary files that writes of `path` killed before their rename left
/// behind (`.NAME.XXXXXX.tmp` beside it, older than [`STALE_TEMP_AGE`]); how many were
/// removed. Only our own names, only regular files; what cannot be removed stays (a
/// read-only directory is not an error here).
pub fn remove_stale_temps(path: &Path) -> usize {
    let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else {
        return 0;
    };
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    let prefix = format!(".{}.", name.to_string_lossy());
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    let now = SystemTime::now();
    let mut removed = 0;
    for entry in entries.flatten() {
        let file_name = entry.file_name();
        let file_name = file_name.to_string_lossy();
        let ours = file_name.len() > prefix.len() + ".tmp".len()
            && file_name.starts_with(&prefix)
            && file_name.ends_with(".tmp");
        // `DirEntry::metadata` does not follow symbolic links.
        let stale = ours
            && entry.metadata().is_ok_and(|m| {
                m.is_file()
                    && m.modified()
                        .ok()
                        .and_then(|t| now.duration_since(t).ok())
                        .is_some_and(|age| age >= STALE_TEMP_AGE)
            });
        if stale && std::fs::remove_file(entry.path()).is_ok() {
            removed += 1;
        }
    }
    removed
}

#[cfg(unix)]
pub fn restrict(path: &Path, mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
}

#[cfg(not(unix))]
pub fn restrict(_path: &Path, _mode: u32) -> std::io::Result<()> {
    // On Windows the file inherits the ACL of the user's profile directory.
    Ok(())
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt as _;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn private_dirs_are_0700_existing_parents_untouched_read_only_ones_left_alone() {
        let root = tempfile::tempdir().unwrap();
        std::fs::set_permissions(root.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let dir = root.path().join("a").join("b");
        private_dir(&dir).unwrap();
        assert_eq!(mode(root.path()), 0o755);
        assert_eq!(mode(&root.path().join("a")), 0o700);
        assert_eq!(mode(&dir), 0o700);
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        private_dir(&dir).unwrap();
        assert_eq!(mode(&dir), 0o700, "loose: tightened");
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o500)).unwrap();
        private_dir(&dir).unwrap();
        assert_eq!(mode(&dir), 0o500, "owner-only: as the owner left it");
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
        let file = dir.join("f");
        std::fs::write(&file, "").unwrap();
        assert!(private_dir(&file).is_err());
    }

    #[test]
    fn stale_temps_of_our_names_only_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("default.json");
        let old = SystemTime::now() - Duration::from_secs(3600);
        let make = |name: &str, modified: SystemTime| {
            let file = File::create(dir.path().join(name)).unwrap();
            file.set_modified(modified).unwrap();
        };
        make(".default.json.aB3xYz.tmp", old);
        make(".default.json.fresh1.tmp", SystemTime::now());
        make(".work.json.aB3xYz.tmp", old);
        make("default.json", old);
        make(".default.json.tmp", old);
        assert_eq!(remove_stale_temps(&path), 1);
        let mut left: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        left.sort();
        assert_eq!(
            left,
            [
                ".default.json.fresh1.tmp",
                ".default.json.tmp",
                ".work.json.aB3xYz.tmp",
                "default.json"
            ]
        );
    }
}
