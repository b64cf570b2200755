//! The independent socket.io 4 peer (tests/node-server/, Node `socket.io`), for tests
//! that check the stream against a server that is not ours.

use std::io::{BufRead as _, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;

fn node_server_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/node-server")
}

/// `npm ci` once per test binary if the peer's dependencies are missing.
fn npm_ready() {
    static READY: OnceLock<Result<(), String>> = OnceLock::new();
    let ready = READY.get_or_init(|| {
        let dir = node_server_dir();
        if dir.join("node_modules/socket.io/package.json").exists() {
            return Ok(());
        }
        let npm = if cfg!(windows) { "npm.cmd" } else { "npm" };
        let status = Command::new(npm)
            .args(["ci", "--no-audit", "--no-fund"])
            .current_dir(&dir)
            .stdout(Stdio::null())
            .status()
            .map_err(|e| format!("the peer test needs Node.js and npm on PATH: {e}"))?;
        if status.success() {
            Ok(())
        } else {
            Err(format!("`npm ci` in {} failed ({status})", dir.display()))
        }
    });
    if let Err(why) = ready {
        panic!("{why}");
    }
}

/// A running `node server.js`; killed on drop.
pub struct Peer {
    child: Child,
    pub port: u16,
}

impl Peer {
    pub fn start(env: &[(&str, &str)]) -> Peer {
        npm_ready();
        let mut child = Command::new("node")
            .arg("server.js")
            .current_dir(node_server_dir())
            .envs(env.iter().copied())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("the peer test needs Node.js (`node`) on PATH: {e}"));
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("piped stdout"))
            .read_line(&mut line)
            .expect("the peer prints its port");
        let port = line
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("the peer's first line is its port, not {line:?}"));
        Peer { child, port }
    }

    /// The notificationUrl a Graph answer would carry for this peer.
    pub fn url(&self, token: &str) -> String {
        format!(
            "http://127.0.0.1:{}/notifications?token={token}&applicationId=peer-app",
            self.port
        )
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
