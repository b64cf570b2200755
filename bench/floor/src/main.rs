//! The floor reader: a bare socket.io notification client, the yardstick bench/run holds
//! graphwatch against (docs/performance.md, "The floor"). It does what any client must
//! do per event and nothing else: read the websocket, parse the Engine.IO / socket.io
//! header, unescape the event's string argument, split `{"value":[…]}` into its elements
//! (borrowed, not re-encoded) and write each as one line into one output buffer, which
//! is written to stdout whenever no further frame is already buffered or it holds 64 KiB.
//!
//!     graphwatch-floor NOTIFICATION_URL [COUNT]
//!
//! NOTIFICATION_URL is the `notificationUrl` of a `subscriptions/socketIo` answer
//! (loopback `http://` only: no TLS). Says `joined` on stderr once the namespace is
//! joined; exits 0 after COUNT notifications, 1 on any error (one line on stderr). No
//! reconnect, no ping watchdog: a measuring tool.

use std::io::Write;

use futures_util::{FutureExt, SinkExt, StreamExt};
use serde::Deserialize;
use serde_json::value::RawValue;
use tokio_tungstenite::tungstenite::Message;

/// The output buffer is written out when it holds this much (a Linux pipe's capacity).
const OUT_BYTES: usize = 64 * 1024;

#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(borrow)]
    value: Vec<&'a RawValue>,
}

fn fail(what: impl std::fmt::Display) -> ! {
    eprintln!("graphwatch-floor: {what}");
    std::process::exit(1);
}

/// `http://host:port/namespace?query` → (`ws://host:port/socket.io/?EIO=4&transport=websocket&query`, `/namespace`).
fn endpoint(url: &str) -> (String, String) {
    let rest = url
        .strip_prefix("http://")
        .unwrap_or_else(|| fail("the notification URL must be a loopback http:// one"));
    let (before_query, query) = rest.split_once('?').unwrap_or((rest, ""));
    let (host, path) = before_query.split_once('/').unwrap_or((before_query, ""));
    let namespace = format!("/{}", path.trim_end_matches('/'));
    let mut ws = format!("ws://{host}/socket.io/?EIO=4&transport=websocket");
    if !query.is_empty() {
        ws.push('&');
        ws.push_str(query);
    }
    (ws, namespace)
}

fn main() {
    let mut args = std::env::args().skip(1);
    let url = args
        .next()
        .unwrap_or_else(|| fail("usage: graphwatch-floor NOTIFICATION_URL [COUNT]"));
    let limit: u64 = match args.next() {
        Some(n) => n.parse().unwrap_or_else(|_| fail("COUNT must be a number")),
        None => u64::MAX,
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .unwrap_or_else(|e| fail(e));
    runtime.block_on(run(&url, limit));
}

async fn run(url: &str, limit: u64) {
    let (ws_url, namespace) = endpoint(url);
    let (mut ws, _) = tokio_tungstenite::connect_async(ws_url.as_str())
        .await
        .unwrap_or_else(|e| fail(format!("websocket: {e}")));
    let event_head = format!("42{namespace},");
    let joined_head = format!("40{namespace},");
    let mut out: Vec<u8> = Vec::with_capacity(OUT_BYTES + 4096);
    let mut stdout = std::io::stdout().lock();
    let mut written: u64 = 0;
    loop {
        // Write what is buffered when the next frame is not already here, or when it
        // fills a pipe's worth (64 KiB).
        if out.len() >= OUT_BYTES {
            stdout.write_all(&out).unwrap_or_else(|e| fail(e));
            stdout.flush().unwrap_or_else(|e| fail(e));
            out.clear();
        }
        let message = match ws.next().now_or_never() {
            Some(message) => message,
            None => {
                if !out.is_empty() {
                    stdout.write_all(&out).unwrap_or_else(|e| fail(e));
                    stdout.flush().unwrap_or_else(|e| fail(e));
                    out.clear();
                }
                ws.next().await
            }
        };
        let text = match message {
            Some(Ok(Message::Text(text))) => text,
            Some(Ok(Message::Close(_))) | None => fail("the server closed the link"),
            Some(Ok(_)) => continue,
            Some(Err(e)) => fail(format!("websocket: {e}")),
        };
        let text = text.as_str();
        if let Some(data) = text.strip_prefix(event_head.as_str()) {
            let (name, argument): (&str, String) =
                serde_json::from_str(data).unwrap_or_else(|e| fail(format!("event: {e}")));
            if name != "notification" {
                continue;
            }
            let envelope: Envelope =
                serde_json::from_str(&argument).unwrap_or_else(|e| fail(format!("payload: {e}")));
            for element in envelope.value {
                out.extend_from_slice(element.get().as_bytes());
                out.push(b'\n');
            }
            written += 1;
            if written >= limit {
                stdout.write_all(&out).unwrap_or_else(|e| fail(e));
                stdout.flush().unwrap_or_else(|e| fail(e));
                let _ = ws.close(None).await;
                return;
            }
        } else if text.starts_with('0') {
            // The open packet: join the namespace.
            ws.send(Message::text(format!("40{namespace},")))
                .await
                .unwrap_or_else(|e| fail(format!("websocket: {e}")));
        } else if text.starts_with(joined_head.as_str()) {
            eprintln!("joined");
        } else if let Some(data) = text.strip_prefix('2') {
            ws.send(Message::text(format!("3{data}")))
                .await
                .unwrap_or_else(|e| fail(format!("websocket: {e}")));
        } else if text.starts_with("44") || text.starts_with("41") || text == "1" {
            fail(format!("the server ended the session: {text}"));
        }
    }
}
