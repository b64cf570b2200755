//! Private files: the one writer for files that hold secrets or reveal what someone
//! watches (the token cache, the `--state` file), and the one way to make their
//! directories. Atomic (temporary file, fsync, rename, fsync of the directory) and
//! owner-only from the moment the file exists.

use std::fs::File;
use std::path::Path;

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
