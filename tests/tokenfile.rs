//! The token cache (and the `--state` file) are replaced atomically: a process killed in
//! the middle of writing one leaves the old file whole, and what it had written so far
//! was never readable by other users.
//!
//! The writer is this test binary run again (`writer_child`), stopped with SIGKILL
//! while it is inside `write_private`'s fill step — the same function
//! `TokenStore::save` and `StateFile::commit` write through.

#![cfg(unix)]

use std::io::{BufRead as _, BufReader, Write as _};
use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::process::{Command, Stdio};

use chrono::Utc;
use graphwatch::testing::{write_private, CachedTokens, TokenStore};

const CHILD_PATH: &str = "GRAPHWATCH_TEST_HALF_WRITE_PATH";
const HALF: &[u8] = b"{\"version\":1,\"access_token\":\"NEW-ACCESS-TOKEN-half";
const READY: &str = "half-written, waiting to be killed";

fn tokens(access: &str) -> CachedTokens {
    CachedTokens {
        version: CachedTokens::new_version(),
        account: Some("adele@contoso.onmicrosoft.com".into()),
        name: None,
        tenant_id: None,
        scopes: vec!["Files.Read".into()],
        requested_scopes: Vec::new(),
        login_url: "http://127.0.0.1:1".into(),
        tenant: "common".into(),
        client_id: "14d82eec-204b-4c2f-b7e8-296a70dab67e".into(),
        access_token: access.into(),
        access_token_expires_at: Utc::now(),
        refresh_token: Some("OLD-REFRESH-TOKEN".into()),
        signed_in_at: Utc::now(),
        refreshed_at: None,
    }
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// The child half of the test below: write half a token file, say so, and wait to be
/// killed. Run only by that test (it sets the path); alone it is skipped.
#[test]
#[ignore = "run by a_writer_killed_mid_write_leaves_the_old_file_whole"]
fn writer_child() {
    let path = std::env::var_os(CHILD_PATH).expect("run by the parent test");
    write_private(Path::new(&path), |file| {
        file.write_all(HALF)?;
        file.sync_all()?;
        let mut out = std::io::stdout().lock();
        writeln!(out, "{READY}")?;
        out.flush()?;
        loop {
            std::thread::park();
        }
    })
    .expect("never returns");
}

#[test]
fn a_writer_killed_mid_write_leaves_the_old_file_whole() {
    let dir = tempfile::tempdir().unwrap();
    let store = TokenStore::new(dir.path(), "default");
    store.save(&tokens("OLD-ACCESS-TOKEN")).unwrap();
    let path = store.path();
    let before = std::fs::read(&path).unwrap();
    assert_eq!(mode(&path), 0o600);

    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "tokenfile::writer_child",
            "--exact",
            "--ignored",
            "--nocapture",
        ])
        .args(["--test-threads", "1"])
        .env(CHILD_PATH, &path)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    loop {
        let line = lines
            .next()
            .expect("the writer says when it is half-way")
            .unwrap();
        if line.contains(READY) {
            break;
        }
    }

    // Half-way: the half is in a temporary file beside the cache, private from the
    // start; the cache itself is untouched.
    let temporary: Vec<_> = std::fs::read_dir(path.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(".tmp"))
        .collect();
    assert_eq!(temporary.len(), 1, "{temporary:?}");
    assert_eq!(std::fs::read(&temporary[0]).unwrap(), HALF);
    assert_eq!(mode(&temporary[0]), 0o600);
    assert_eq!(std::fs::read(&path).unwrap(), before);

    child.kill().unwrap();
    let status = child.wait().unwrap();
    assert!(!status.success(), "killed: {status}");

    assert_eq!(
        std::fs::read(&path).unwrap(),
        before,
        "the old file is whole"
    );
    let loaded = store.load().unwrap().expect("the old tokens");
    assert_eq!(loaded.access_token, "OLD-ACCESS-TOKEN");
    assert_eq!(mode(&path), 0o600);
    // A killed process cannot remove its temporary file; it stays private.
    assert_eq!(mode(&temporary[0]), 0o600);

    // The next save replaces the file whole, still 0600.
    store.save(&tokens("NEW-ACCESS-TOKEN")).unwrap();
    assert_eq!(
        store.load().unwrap().unwrap().access_token,
        "NEW-ACCESS-TOKEN"
    );
    assert_eq!(mode(&path), 0o600);
}
