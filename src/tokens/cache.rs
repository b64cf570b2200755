//! The token cache: one JSON file per profile, `{config_dir}/tokens/{profile}.json`.
//!
//! The file holds a refresh token, which is as good as a password for as long as it
//! lives, so: the directory (and the config directory, when graphwatch creates it) is
//! 0700 whatever the umask, the file 0600 from the moment it exists (it is created as a
//! temporary file with that mode, written, fsynced and renamed over the old one, so a
//! reader never sees half a file and a crash never leaves one; the temporary files of
//! writes killed before the rename are removed at the next start), and `Debug` never
//! prints a token. A lock file (0600) serialises refreshes across processes, because
//! refresh tokens rotate: two processes refreshing with the same old token could leave
//! the cache holding one that the service has already replaced.

use std::fmt;
use std::fs::File;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::util::fs::{open_lock_file, private_dir, remove_stale_temps, write_private};

/// Bumped when the file's shape changes incompatibly.
const FORMAT_VERSION: u32 = 1;

/// What one sign-in left behind.
#[derive(Clone, Serialize, Deserialize)]
pub struct CachedTokens {
    pub version: u32,
    /// The account's sign-in name (`preferred_username`), e.g. `adele@contoso.com`.
    pub account: Option<String>,
    /// Display name.
    pub name: Option<String>,
    /// Directory (tenant) id the account signed in to (`tid`).
    pub tenant_id: Option<String>,
    /// Scopes the service granted.
    pub scopes: Vec<String>,
    /// Scopes asked for at sign-in; asked for again on refresh.
    #[serde(default)]
    pub requested_scopes: Vec<String>,
    /// Where the tokens came from; refreshes go back there, and the tokens are not
    /// used against another sign-in service.
    pub login_url: String,
    pub tenant: String,
    pub client_id: String,
    pub access_token: String,
    pub access_token_expires_at: DateTime<Utc>,
    pub refresh_token: Option<String>,
    pub signed_in_at: DateTime<Utc>,
    pub refreshed_at: Option<DateTime<Utc>>,
}

impl CachedTokens {
    pub fn new_version() -> u32 {
        FORMAT_VERSION
    }
}

impl fmt::Debug for CachedTokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CachedTokens")
            .field("account", &self.account)
            .field("tenant_id", &self.tenant_id)
            .field("scopes", &self.scopes)
            .field("login_url", &self.login_url)
            .field("access_token_expires_at", &self.access_token_expires_at)
            .finish_non_exhaustive()
    }
}

/// The cache file of one profile.
#[derive(Debug, Clone)]
pub struct TokenStore {
    dir: PathBuf,
    profile: String,
}

/// Held while refreshing; dropping it releases the lock.
pub struct RefreshLock {
    _file: File,
}

impl TokenStore {
    /// `profile` must already be validated (it names a file).
    pub fn new(config_dir: &Path, profile: &str) -> Self {
        TokenStore {
            dir: config_dir.join("tokens"),
            profile: profile.to_string(),
        }
    }

    pub fn profile(&self) -> &str {
        &self.profile
    }

    pub fn path(&self) -> PathBuf {
        self.dir.join(format!("{}.json", self.profile))
    }

    fn lock_path(&self) -> PathBuf {
        self.dir.join(format!("{}.lock", self.profile))
    }

    /// The cached tokens, or `None` when the profile has never signed in.
    pub fn load(&self) -> anyhow::Result<Option<CachedTokens>> {
        let path = self.path();
        let bytes = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
        };
        parse_cache(&path, &self.profile, &bytes).map(Some)
    }

    /// Replace the cache file atomically; it is never readable by other users.
    pub fn save(&self, tokens: &CachedTokens) -> anyhow::Result<()> {
        self.ensure_dir()?;
        let path = self.path();
        let json = serde_json::to_vec_pretty(tokens).context("cannot encode the token cache")?;
        write_private(&path, |file| file.write_all(&json))
            .with_context(|| format!("cannot write the token cache {}", path.display()))
    }

    /// Remove what writes of the cache killed before their rename left behind; how many.
    pub fn remove_stale_temps(&self) -> usize {
        remove_stale_temps(&self.path())
    }

    /// Delete the cache; `true` if there was one.
    pub fn remove(&self) -> anyhow::Result<bool> {
        let path = self.path();
        let removed = match std::fs::remove_file(&path) {
            Ok(()) => true,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => false,
            Err(e) => return Err(e).with_context(|| format!("cannot remove {}", path.display())),
        };
        let _ = std::fs::remove_file(self.lock_path());
        Ok(removed)
    }

    /// Take the profile's cross-process refresh lock (waits for another process).
    pub async fn lock(&self) -> anyhow::Result<RefreshLock> {
        self.ensure_dir()?;
        let path = self.lock_path();
        tokio::task::spawn_blocking(move || -> anyhow::Result<RefreshLock> {
            let file = open_lock_file(&path)
                .with_context(|| format!("cannot open the lock file {}", path.display()))?;
            fs4::fs_std::FileExt::lock_exclusive(&file)
                .with_context(|| format!("cannot lock {}", path.display()))?;
            Ok(RefreshLock { _file: file })
        })
        .await
        .context("the lock task failed")?
    }

    /// Whether the cache can be written, tried before a sign-in starts: a sign-in whose
    /// tokens cannot be kept is a wasted sign-in.
    pub fn check_writable(&self) -> anyhow::Result<()> {
        let writable = self.ensure_dir().and_then(|()| {
            tempfile::Builder::new()
                .prefix(".write-check")
                .tempfile_in(&self.dir)
                .map(drop)
                .map_err(anyhow::Error::from)
        });
        writable.map_err(|e| {
            Error::failure(format!(
                "cannot write the token cache in {}: {}",
                self.dir.display(),
                e.root_cause()
            ))
            .hint(format!(
                "make the config directory writable, or set {} to another one",
                crate::settings::CONFIG_DIR_ENV
            ))
            .into()
        })
    }

    fn ensure_dir(&self) -> anyhow::Result<()> {
        private_dir(&self.dir).with_context(|| format!("cannot create {}", self.dir.display()))
    }
}

/// A token cache file from its bytes (the decoding half of [`TokenStore::load`]).
/// Errors never quote the file's contents.
pub fn parse_cache(path: &Path, profile: &str, bytes: &[u8]) -> anyhow::Result<CachedTokens> {
    // Only the kind of damage and where: serde_json's own text can quote a value of
    // the file (`invalid type: string "…"`), and the values here are tokens.
    let tokens: CachedTokens = serde_json::from_slice(bytes).map_err(|e| {
        Error::auth(format!(
            "the token cache {} is damaged ({})",
            path.display(),
            json_damage(&e)
        ))
        .hint(format!(
            "run `graphwatch login --profile {}` to replace it",
            profile
        ))
    })?;
    if tokens.version != FORMAT_VERSION {
        return Err(Error::auth(format!(
            "the token cache {} was written by another version of graphwatch",
            path.display()
        ))
        .hint(format!(
            "run `graphwatch login --profile {}` to replace it",
            profile
        ))
        .into());
    }
    Ok(tokens)
}

/// What is wrong with a JSON text, without any of its contents: the category and the
/// position (`invalid data at line 3 column 17`).
pub fn json_damage(e: &serde_json::Error) -> String {
    let what = match e.classify() {
        serde_json::error::Category::Io => "unreadable",
        serde_json::error::Category::Syntax => "not valid JSON",
        serde_json::error::Category::Data => "unexpected or missing data",
        serde_json::error::Category::Eof => "cut short",
    };
    format!("{what} at line {} column {}", e.line(), e.column())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> CachedTokens {
        CachedTokens {
            version: FORMAT_VERSION,
            account: Some("adele@contoso.com".into()),
            name: Some("Adele".into()),
            tenant_id: Some("tid".into()),
            scopes: vec!["Files.Read".into()],
            requested_scopes: vec!["offline_access".into(), "Files.Read".into()],
            login_url: "https://login.microsoftonline.com".into(),
            tenant: "common".into(),
            client_id: "cid".into(),
            access_token: "AT-secret".into(),
            access_token_expires_at: Utc::now(),
            refresh_token: Some("RT-secret".into()),
            signed_in_at: Utc::now(),
            refreshed_at: None,
        }
    }

    #[test]
    fn save_load_remove_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let store = TokenStore::new(dir.path(), "work");
        assert!(store.load().unwrap().is_none());
        store.save(&sample()).unwrap();
        let loaded = store.load().unwrap().unwrap();
        assert_eq!(loaded.refresh_token.as_deref(), Some("RT-secret"));
        // Only the cache file is left behind: no temporary files.
        let names: Vec<_> = std::fs::read_dir(dir.path().join("tokens"))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(names, vec!["work.json".to_string()]);
        assert!(store.remove().unwrap());
        assert!(!store.remove().unwrap());
    }

    #[cfg(unix)]
    #[test]
    fn file_is_0600_and_dir_0700() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let store = TokenStore::new(dir.path(), "default");
        store.save(&sample()).unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&store.path()), 0o600);
        assert_eq!(mode(&dir.path().join("tokens")), 0o700);
    }

    #[test]
    fn debug_hides_tokens() {
        let text = format!("{:?}", sample());
        assert!(!text.contains("secret"), "{text}");
    }

    #[test]
    fn damaged_cache_is_an_auth_error() {
        let dir = tempfile::tempdir().unwrap();
        let store = TokenStore::new(dir.path(), "default");
        std::fs::create_dir_all(dir.path().join("tokens")).unwrap();
        std::fs::write(store.path(), "{not json").unwrap();
        let err = store.load().unwrap_err();
        assert_eq!(crate::exit::exit_code(&err), crate::error::Code::Auth);
    }

    #[test]
    fn a_damaged_cache_error_quotes_nothing_from_the_file() {
        let mut value = serde_json::to_value(sample()).unwrap();
        // A token where a number or a list is expected: serde_json's own text would
        // show it (`invalid type: string "RT-secret"…`).
        value["version"] = "RT-secret-in-version".into();
        value["scopes"] = "AT-secret-in-scopes".into();
        for bytes in [
            serde_json::to_vec(&value).unwrap(),
            br#"{"access_token": "AT-secret-cut-sho"#.to_vec(),
        ] {
            let err = parse_cache(Path::new("/t/default.json"), "default", &bytes).unwrap_err();
            let report = crate::exit::one_line(&err);
            assert!(!report.contains("secret"), "{report}");
            assert!(report.contains("/t/default.json is damaged"), "{report}");
            assert!(report.contains("line 1 column"), "{report}");
        }
    }
}
