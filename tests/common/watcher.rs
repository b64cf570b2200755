//! A running `graphwatch` whose stdout and stderr lines are awaited with deadlines,
//! and the Graph mutations (upload, delete) that make its changes.

use std::io::{BufRead as _, BufReader};
use std::process::{Child, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::{Env, ADELE};

/// How long any one expected line may take.
pub const PATIENCE: Duration = Duration::from_secs(30);

pub struct Watcher {
    pub child: Child,
    pub lines: Receiver<String>,
    stderr: Arc<Mutex<String>>,
    stderr_lines: Receiver<String>,
    /// Says when the stderr reader reached the end: after the exit, `stderr()` is whole.
    stderr_done: Receiver<()>,
}

impl Watcher {
    pub fn start(env: &Env, args: &[&str]) -> Watcher {
        let mut cmd = env.std_cmd(args);
        cmd.env("GRAPHWATCH_ACCESS_TOKEN", env.mint(ADELE));
        Watcher::spawn_cmd(cmd)
    }

    pub fn spawn_cmd(cmd: std::process::Command) -> Watcher {
        let (open, gate) = mpsc::channel();
        let _ = open.send(());
        Watcher::spawn_gated(cmd, gate)
    }

    /// A watcher whose stdout nobody reads until [`Reader::resume`]: a stalled reader
    /// (`graphwatch … | (sleep 1000)`). stderr is read as usual.
    pub fn start_stalled(env: &Env, args: &[&str]) -> (Watcher, Reader) {
        let mut cmd = env.std_cmd(args);
        cmd.env("GRAPHWATCH_ACCESS_TOKEN", env.mint(ADELE));
        let (open, gate) = mpsc::channel();
        (Watcher::spawn_gated(cmd, gate), Reader(open))
    }

    fn spawn_gated(mut cmd: std::process::Command, gate: Receiver<()>) -> Watcher {
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn graphwatch");
        let (tx, lines) = mpsc::channel();
        let out = BufReader::new(child.stdout.take().unwrap());
        std::thread::spawn(move || {
            if gate.recv().is_err() {
                return;
            }
            for line in out.lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let stderr = Arc::new(Mutex::new(String::new()));
        let (etx, stderr_lines) = mpsc::channel();
        let err = BufReader::new(child.stderr.take().unwrap());
        let sink = stderr.clone();
        let (done_tx, stderr_done) = mpsc::channel();
        std::thread::spawn(move || {
            for line in err.lines() {
                let Ok(line) = line else { break };
                sink.lock().unwrap().push_str(&format!("{line}\n"));
                let _ = etx.send(line);
            }
            let _ = done_tx.send(());
        });
        Watcher {
            child,
            lines,
            stderr,
            stderr_lines,
            stderr_done,
        }
    }

    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Wait for a stderr line (after those already waited for) that contains `needle`.
    pub fn wait_stderr(&self, needle: &str) {
        self.wait_stderr_all(&[needle]);
    }

    /// Wait until every needle was in a stderr line (after those already waited for),
    /// in any order: several targets report independently.
    pub fn wait_stderr_all(&self, needles: &[&str]) {
        let deadline = Instant::now() + PATIENCE;
        let mut missing: Vec<&str> = needles.to_vec();
        while !missing.is_empty() {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.stderr_lines.recv_timeout(left) {
                Ok(line) => missing.retain(|needle| !line.contains(needle)),
                Err(_) => panic!("no {missing:?} on stderr; stderr:\n{}", self.stderr()),
            }
        }
    }

    /// The next stdout line.
    pub fn line(&self) -> String {
        match self.lines.recv_timeout(PATIENCE) {
            Ok(line) => line,
            Err(RecvTimeoutError::Timeout) => {
                panic!("no line on stdout in time; stderr:\n{}", self.stderr())
            }
            Err(RecvTimeoutError::Disconnected) => {
                panic!("stdout ended; stderr:\n{}", self.stderr())
            }
        }
    }

    /// The next stdout line, as JSON, checked against its schema.
    pub fn next(&self) -> Value {
        let line = self.line();
        let value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}"));
        super::schema::check(&value);
        value
    }

    /// The next `n` stdout lines, as JSON.
    pub fn json_lines(&self, n: usize) -> Vec<Value> {
        (0..n).map(|_| self.next()).collect()
    }

    /// Wait for the process to end, and for its stderr to be read to the end; its status.
    pub fn wait(&mut self) -> ExitStatus {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                // Its last stderr lines may still be in the pipe: read to the end, so
                // that `stderr()` is whole (a child of --exec may hold the pipe open,
                // hence the bound).
                let _ = self.stderr_done.recv_timeout(PATIENCE);
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "graphwatch did not exit; stderr:\n{}",
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Lines still on stdout after the process ended.
    pub fn rest(&self) -> Vec<String> {
        let mut rest = Vec::new();
        while let Ok(line) = self.lines.recv_timeout(Duration::from_secs(5)) {
            rest.push(line);
        }
        rest
    }

    /// Lines until `done` says the collection is complete; every line read is kept.
    pub fn until(&self, mut done: impl FnMut(&[Value]) -> bool) -> Vec<Value> {
        let mut seen = Vec::new();
        while !done(&seen) {
            seen.push(self.next());
        }
        seen
    }

    pub fn pid(&self) -> String {
        self.child.id().to_string()
    }
}

/// The reader of a stalled watcher's stdout, not reading yet.
pub struct Reader(mpsc::Sender<()>);

impl Reader {
    /// Start reading stdout.
    pub fn resume(self) {
        let _ = self.0.send(());
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn graph(env: &Env, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
    let token = env.mint(ADELE);
    let url = format!("{}/v1.0{path}", env.base);
    env.rt.block_on(async move {
        let mut request = reqwest::Client::new()
            .request(method, url)
            .bearer_auth(token);
        request = match body {
            Some(Value::String(content)) => request.body(content),
            Some(json) => request.json(&json),
            None => request,
        };
        let response = request.send().await.expect("Graph request");
        assert!(
            response.status().is_success(),
            "{path}: {}",
            response.status()
        );
        response.json().await.unwrap_or(Value::Null)
    })
}

/// Upload a file; its id.
pub fn upload(env: &Env, path: &str) -> String {
    let item = graph(
        env,
        reqwest::Method::PUT,
        &format!("/me/drive/root:/{path}:/content"),
        Some(Value::String(format!("content of {path}"))),
    );
    item["id"].as_str().expect("id").to_string()
}

/// Add an item to the Issues list; the new item.
pub fn add_issue(env: &Env, title: &str) -> Value {
    graph(
        env,
        reqwest::Method::POST,
        "/sites/site-eng/lists/list-issues/items",
        Some(serde_json::json!({"fields": {"Title": title}})),
    )
}

pub fn delete(env: &Env, id: &str) {
    graph(
        env,
        reqwest::Method::DELETE,
        &format!("/me/drive/items/{id}"),
        None,
    );
}

/// (item id, change) of a `change` line; `None` for other lines.
pub fn change(line: &Value) -> Option<(String, String)> {
    (line["type"] == "change").then(|| {
        (
            line["item"]["id"].as_str().unwrap_or_default().to_string(),
            line["change"].as_str().unwrap_or_default().to_string(),
        )
    })
}

pub fn has(lines: &[Value], id: &str, kind: &str) -> bool {
    lines
        .iter()
        .filter_map(change)
        .any(|(i, k)| i == id && k == kind)
}
