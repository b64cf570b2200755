//! `--sink https://…` against a real HTTPS receiver started here: hyper over rustls,
//! with a self-signed certificate made by rcgen for this test and trusted through
//! `--sink-ca`. The receiver answers what each case scripts (500, 429 with
//! Retry-After, 200) and records every request it got.

use crate::common;

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::watcher::{has, upload, Watcher, PATIENCE};
use common::Env;
use hmac::{Hmac, Mac};
use http_body_util::{BodyExt as _, Full};
use hyper::body::Bytes;
use serde_json::Value;
use sha2::Sha256;

const SECRET: &str = "it's a secret to everybody";

fn env() -> Env {
    Env::start_with(|args| {
        args.settings.notify_delay_ms = 50;
        args.settings.delta_page_size = 1000;
    })
}

/// One request as the receiver got it.
#[derive(Debug, Clone)]
struct Got {
    at: Instant,
    status: u16,
    signature: Option<String>,
    event_id: Option<String>,
    body: String,
    /// Whether the state file had committed the body's item when the request came.
    committed_then: bool,
}

struct Receiver {
    addr: SocketAddr,
    ca: PathBuf,
    got: Arc<Mutex<Vec<Got>>>,
    /// Once the script is played: 503 while this is set, 200 otherwise.
    down: Arc<AtomicBool>,
    _rt: tokio::runtime::Runtime,
}

impl Receiver {
    /// An HTTPS receiver on loopback answering `script` in order, then 200 for ever.
    /// `(status, retry_after)`.
    fn start(
        dir: &std::path::Path,
        script: Vec<(u16, Option<&'static str>)>,
        state: Option<PathBuf>,
    ) -> Receiver {
        let certified =
            rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()])
                .unwrap();
        let ca = dir.join("receiver-ca.pem");
        std::fs::write(&ca, certified.cert.pem()).unwrap();
        let key =
            rustls::pki_types::PrivateKeyDer::Pkcs8(certified.signing_key.serialize_der().into());
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![certified.cert.der().clone()], key)
        .unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let rt = tokio::runtime::Runtime::new().unwrap();
        let listener = rt
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let addr = listener.local_addr().unwrap();
        let got: Arc<Mutex<Vec<Got>>> = Arc::default();
        let script = Arc::new(Mutex::new(VecDeque::from(script)));
        let (got2, state) = (got.clone(), Arc::new(state));
        let down = Arc::new(AtomicBool::new(false));
        let down2 = down.clone();
        rt.spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    continue;
                };
                let (acceptor, got, script, state, down) = (
                    acceptor.clone(),
                    got2.clone(),
                    script.clone(),
                    state.clone(),
                    down2.clone(),
                );
                tokio::spawn(async move {
                    let Ok(tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let service = hyper::service::service_fn(
                        move |request: hyper::Request<hyper::body::Incoming>| {
                            let (got, script, state, down) =
                                (got.clone(), script.clone(), state.clone(), down.clone());
                            async move {
                                let header = |name: &str| {
                                    request
                                        .headers()
                                        .get(name)
                                        .and_then(|v| v.to_str().ok())
                                        .map(str::to_string)
                                };
                                let (signature, event_id) = (
                                    header("x-graphwatch-signature-256"),
                                    header("x-graphwatch-event-id"),
                                );
                                let body = String::from_utf8_lossy(
                                    &request.into_body().collect().await?.to_bytes(),
                                )
                                .into_owned();
                                let committed_then = state.as_ref().as_ref().is_some_and(|path| {
                                    let item = serde_json::from_str::<Value>(&body)
                                        .ok()
                                        .and_then(|v| v["item"]["id"].as_str().map(str::to_string));
                                    item.is_some_and(|id| {
                                        common::saved_state(path)["items"]["drive:me"]
                                            .as_array()
                                            .is_some_and(|items| {
                                                items.iter().any(|i| i["id"] == id)
                                            })
                                    })
                                });
                                let after_script = if down.load(Ordering::SeqCst) {
                                    (503, None)
                                } else {
                                    (200, None)
                                };
                                let (status, retry_after) =
                                    script.lock().unwrap().pop_front().unwrap_or(after_script);
                                got.lock().unwrap().push(Got {
                                    at: Instant::now(),
                                    status,
                                    signature,
                                    event_id,
                                    body,
                                    committed_then,
                                });
                                let mut answer = hyper::Response::builder().status(status);
                                if let Some(after) = retry_after {
                                    answer = answer.header("retry-after", after);
                                }
                                Ok::<_, hyper::Error>(answer.body(Full::new(Bytes::new())).unwrap())
                            }
                        },
                    );
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(hyper_util::rt::TokioIo::new(tls), service)
                        .await;
                });
            }
        });
        Receiver {
            addr,
            ca,
            got,
            down,
            _rt: rt,
        }
    }

    fn url(&self) -> String {
        format!("https://127.0.0.1:{}/hooks/graph", self.addr.port())
    }

    /// Wait (polling, with a deadline) until `done` holds for what it got.
    fn until(&self, done: impl Fn(&[Got]) -> bool) -> Vec<Got> {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let got = self.got.lock().unwrap().clone();
            if done(&got) {
                return got;
            }
            assert!(
                Instant::now() < deadline,
                "the receiver never got there: {got:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

fn signed(body: &[u8]) -> String {
    let mut mac = <Hmac<Sha256>>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(body);
    let hex: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("sha256={hex}")
}

fn watcher(env: &Env, receiver: &Receiver, extra: &[&str]) -> Watcher {
    let url = receiver.url();
    let mut args = vec![
        "drive",
        "me",
        "--changes",
        "--sink",
        &url,
        "--sink-ca",
        receiver.ca.to_str().unwrap(),
        "--backoff",
        "200ms..2s",
    ];
    args.extend_from_slice(extra);
    let mut cmd = env.std_cmd(&args);
    cmd.env("GRAPHWATCH_SINK_SECRET", SECRET);
    cmd.env("GRAPHWATCH_ACCESS_TOKEN", env.mint(common::ADELE));
    Watcher::spawn_cmd(cmd)
}

#[test]
fn a_500_then_a_429_are_retried_signed_and_the_cursor_waits_for_the_200() {
    let env = env();
    let state = env.config_dir().join("state.db");
    let receiver = Receiver::start(
        &env.config_dir(),
        vec![(500, None), (429, Some("1"))],
        Some(state.clone()),
    );
    let w = watcher(&env, &receiver, &["--state", state.to_str().unwrap()]);
    w.wait_stderr("watching drive:me");
    let id = upload(&env, "Hook/one.txt");
    let lines = w.until(|seen| has(seen, &id, "created"));
    let line = lines.iter().find(|l| l["change"] == "created").unwrap();
    // The file's requests (its folder's line is delivered too, after it).
    let mine = |got: &[Got]| -> Vec<Got> {
        got.iter()
            .filter(|g| g.event_id.as_deref() == line["id"].as_str())
            .cloned()
            .collect()
    };
    let got = mine(&receiver.until(|got| mine(got).iter().any(|g| g.status == 200)));

    // Three attempts of the same event: 500, 429, 200.
    let statuses: Vec<u16> = got.iter().map(|g| g.status).collect();
    assert_eq!(statuses, [500, 429, 200], "{got:?}");
    for g in &got {
        assert_eq!(g.body, got[0].body, "the same body each time");
        // The signature is GitHub's model: HMAC-SHA256 of the body under the secret.
        assert_eq!(
            g.signature.as_deref(),
            Some(signed(g.body.as_bytes()).as_str())
        );
        assert_eq!(g.event_id.as_deref(), line["id"].as_str());
        // Nothing was committed before the receiver took it.
        assert!(!g.committed_then, "committed before the 200: {g:?}");
    }
    let body: Value = serde_json::from_str(&got[0].body).unwrap();
    assert_eq!(&body, line, "the body is the stdout line");
    // Retry-After: 1 was waited out (the backoff alone would be 200–400 ms).
    assert!(
        got[2].at - got[1].at >= Duration::from_millis(950),
        "{got:?}"
    );
    assert_eq!(
        w.stderr().matches("holding").count(),
        1,
        "said once: {}",
        w.stderr()
    );
    // …and after the 200 the cursor moves.
    let deadline = Instant::now() + PATIENCE;
    while !common::saved_state(&state)["items"]["drive:me"]
        .as_array()
        .is_some_and(|items| items.iter().any(|i| i["id"] == id.as_str()))
    {
        assert!(Instant::now() < deadline, "never committed");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn sink_batch_posts_each_round_as_one_signed_array() {
    let env = env();
    let receiver = Receiver::start(&env.config_dir(), vec![], None);
    let w = watcher(&env, &receiver, &["--sink-batch"]);
    w.wait_stderr("watching drive:me");
    let ids: Vec<String> = (0..4)
        .map(|i| upload(&env, &format!("Batch/b{i}.txt")))
        .collect();
    w.until(|seen| ids.iter().all(|id| has(seen, id, "created")));
    let items = |got: &[Got]| -> Vec<Value> {
        got.iter()
            .flat_map(|g| {
                serde_json::from_str::<Vec<Value>>(&g.body).expect("a JSON array of lines")
            })
            .collect()
    };
    let got = receiver.until(|got| {
        let all = items(got);
        ids.iter()
            .all(|id| all.iter().any(|l| l["item"]["id"] == id.as_str()))
    });
    for g in &got {
        assert_eq!(
            g.signature.as_deref(),
            Some(signed(g.body.as_bytes()).as_str())
        );
        assert_eq!(g.event_id, None, "a batch has no single event id");
    }
    for id in &ids {
        let n = items(&got)
            .iter()
            .filter(|l| l["change"] == "created" && l["item"]["id"] == id.as_str())
            .count();
        assert_eq!(n, 1, "{id} once");
    }
}

/// Without `--changes`, a sink that is down for a whole burst does not stop the watch:
/// stdout gets every notification while it is down (the loop does not wait for the
/// sink), at most `MAX_WAITING` (4,096) wait for it, and once it is back it gets those
/// and a `gap` event with the count of the rest; stderr says so once.
#[test]
fn a_sink_down_through_a_burst_keeps_stdout_going_and_bounds_what_waits_for_it() {
    const BURST: usize = 6000;
    const MAX_WAITING: usize = 4096;
    let env = env();
    let receiver = Receiver::start(&env.config_dir(), vec![], None);
    receiver.down.store(true, Ordering::SeqCst);
    let url = receiver.url();
    let mut cmd = env.std_cmd(&[
        "drive",
        "me",
        "--sink",
        &url,
        "--sink-ca",
        receiver.ca.to_str().unwrap(),
        "--sink-batch",
        "--backoff",
        "200ms..500ms",
    ]);
    cmd.env("GRAPHWATCH_ACCESS_TOKEN", env.mint(common::ADELE));
    let w = Watcher::spawn_cmd(cmd);
    w.wait_stderr("watching drive:me");

    env.post("/_emulator/burst", serde_json::json!({ "count": BURST }));
    let seen = w.until(|seen| seen.len() >= BURST);
    assert!(seen.iter().all(|l| l["type"] == "notification"));
    // Every line reached stdout while the sink refused everything.
    assert!(
        receiver.got.lock().unwrap().iter().all(|g| g.status == 503),
        "the sink was down throughout"
    );
    w.wait_stderr("holding");

    receiver.down.store(false, Ordering::SeqCst);
    let lines = |got: &[Got]| -> Vec<Value> {
        got.iter()
            .filter(|g| g.status == 200)
            .flat_map(|g| serde_json::from_str::<Vec<Value>>(&g.body).unwrap())
            .collect()
    };
    let got = receiver.until(|got| lines(got).iter().any(|l| l["type"] == "gap"));
    let delivered = lines(&got);
    let notifications = delivered
        .iter()
        .filter(|l| l["type"] == "notification")
        .count();
    let gap = delivered.iter().find(|l| l["type"] == "gap").unwrap();
    assert_eq!(notifications, MAX_WAITING, "what could wait was delivered");
    assert_eq!(
        gap["dropped"].as_u64(),
        Some((BURST - MAX_WAITING) as u64),
        "the rest counted: {gap}"
    );
    assert_eq!(gap["target"], "drive:me");
    // Each notification is delivered once, those that waited in the order they came.
    let mut ids: Vec<&str> = delivered.iter().filter_map(|l| l["id"].as_str()).collect();
    ids.dedup();
    assert_eq!(ids.len(), MAX_WAITING);
    w.wait_stderr("did not take notifications fast enough");
    assert_eq!(
        w.stderr()
            .matches("did not take notifications fast enough")
            .count(),
        1,
        "{}",
        w.stderr()
    );
}
