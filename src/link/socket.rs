//! The socket.io link to a Graph `notificationUrl`: connect, surface notifications, and
//! say exactly once when the link is gone.
//!
//! Graph's `subscriptions/socketIo` answers with a `notificationUrl` such as
//! `https://host/notifications?token=…`. The path is the socket.io namespace; the query
//! (the token) is the only credential, so the URL is a secret: it only ever leaves this
//! module through [`redact_url`]. The Engine.IO endpoint is `{origin}/socket.io/` with the
//! original query kept (`docs/graph-socketio.md` §2).
//!
//! The client is `rust_socketio` 0.6 (async), websocket transport only, with its own
//! reconnection turned off: a supervisor above this module owns reconnection, because it
//! must fetch a *fresh* endpoint each time (the old URL may have expired).
//!
//! ## Why a thread of its own
//!
//! `rust_socketio` 0.6 drives each connection from a task it spawns and detaches. When the
//! websocket ends without an Engine.IO or socket.io close packet, that task just stops:
//! no `close` and no `error` callback fires (upstream issue #448; the fix landed after
//! 0.6.0). The one thing that reliably happens at that point is that the task drops its
//! `Client`, and with the last `Client` the builder and our callbacks go. So:
//!
//! * we keep **no** `Client` once connected; every callback holds an [`EndGuard`], whose
//!   `Drop` tells us that the library's task is gone, whatever the cause;
//! * each connection runs on its own single-threaded Tokio runtime on a thread of ours,
//!   so closing it (or giving up on it) means dropping that runtime, which drops the
//!   detached task and its websocket. Without a `Client` there is nothing else to close
//!   it with.
//!
//! What `rust_socketio` does and does not report in each fault case is measured by
//! `tests/socket.rs` and written down in `docs/decisions.md` ("socket.io client").

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use rust_socketio::asynchronous::{Client, ClientBuilder};
use rust_socketio::{Event, Payload, TransportType};
use serde_json::Value;
use tokio::sync::{mpsc, oneshot};
use url::Url;

use super::payload::{accept_payload, payload_value};
use crate::util::redact::{redact_url, scrub};
use crate::util::url::is_loopback;

/// The socket.io event name under which Graph sends notifications.
pub const NOTIFICATION_EVENT: &str = "notification";

/// How [`connect`] behaves; the supervisor uses the default.
#[derive(Debug, Clone)]
pub struct SocketOptions {
    /// Bound on the whole handshake: websocket upgrade, Engine.IO open and the namespace
    /// join (`40/notifications,`). Past it, [`connect`] fails with [`SocketError::Timeout`].
    pub connect_timeout: Duration,
}

impl Default for SocketOptions {
    fn default() -> Self {
        SocketOptions {
            // Long enough for a slow TLS handshake across the world, short enough that
            // a host that accepts and says nothing is given up within a backoff step.
            connect_timeout: Duration::from_secs(20),
        }
    }
}

/// Where to connect, derived from a `notificationUrl` by [`derive_endpoint`].
///
/// `Debug` and `Display` print the redacted form only.
#[derive(Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// `{scheme}://{host}[:port]/socket.io/?{original query}`. `rust_socketio` appends
    /// `EIO=4` and `transport=websocket` itself, so they are not added here (and any that
    /// the notificationUrl carried are dropped, so they are not sent twice).
    pub address: String,
    /// The socket.io namespace: the notificationUrl's path, e.g. `/notifications`.
    pub namespace: String,
}

impl fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Endpoint")
            .field("address", &redact_url(&self.address))
            .field("namespace", &self.namespace)
            .finish()
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} (namespace {})",
            redact_url(&self.address),
            self.namespace
        )
    }
}

/// What the stream of a [`Connection`] yields, in order: one `Connected`, any number of
/// `Notification`s, then exactly one `Disconnected`, after which it yields nothing more.
#[derive(Debug, Clone, PartialEq)]
pub enum SocketEvent {
    /// The namespace was joined (`40/notifications,{…}` received).
    Connected,
    /// One `notification` event; its argument as received (see [`decode_notifications`]).
    Notification(Value),
    /// The link is gone and this connection is finished.
    Disconnected { reason: DisconnectReason },
}

/// Why a connection ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DisconnectReason {
    /// The server left the namespace (socket.io `41`).
    ServerDisconnect,
    /// The library's connection task ended after reporting this error. `rust_socketio`
    /// 0.6 flattens every Engine.IO failure (ping timeout, websocket reset, read error)
    /// into the text "EngineIO Error", so the kind of fault is not known here.
    Transport(String),
    /// The link ended without any close packet or error (e.g. a websocket close frame, or
    /// a TCP FIN, with no Engine.IO `1`/socket.io `41` before it).
    Closed,
    /// [`Connection::close`] was called.
    Local,
}

impl fmt::Display for DisconnectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DisconnectReason::ServerDisconnect => f.write_str("the server disconnected"),
            DisconnectReason::Transport(detail) => write!(f, "transport error: {detail}"),
            DisconnectReason::Closed => f.write_str("the connection was closed"),
            DisconnectReason::Local => f.write_str("closed by graphwatch"),
        }
    }
}

/// Why [`connect`] failed. Messages never contain the notificationUrl's query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SocketError {
    /// The notificationUrl cannot be used (unparsable, wrong scheme, plain http to a
    /// non-loopback host).
    InvalidUrl(String),
    /// The handshake did not complete within [`SocketOptions::connect_timeout`].
    Timeout(Duration),
    /// The server refused the namespace (`44`).
    Refused(String),
    /// The websocket or Engine.IO handshake failed, or the link ended before the join.
    Connect(String),
    /// The connection's thread or runtime could not be started: out of file descriptors
    /// (`EMFILE`, `ENFILE`) or threads, most likely.
    Runtime(String),
}

impl SocketError {
    /// Whether trying again later can work: everything but an unusable URL. A handshake
    /// that failed or timed out may work next time, and a resource shortage (a runtime
    /// or thread that could not start: too many open files) passes as descriptors are
    /// closed, so it must never cost the target.
    pub fn is_transient(&self) -> bool {
        !matches!(self, SocketError::InvalidUrl(_))
    }
}

impl fmt::Display for SocketError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SocketError::InvalidUrl(why) => write!(f, "unusable notificationUrl: {why}"),
            SocketError::Timeout(after) => write!(
                f,
                "the socket.io handshake did not complete within {} ms",
                after.as_millis()
            ),
            SocketError::Refused(why) => write!(f, "the server refused the namespace: {why}"),
            SocketError::Connect(why) => write!(f, "cannot connect to socket.io: {why}"),
            SocketError::Runtime(why) => write!(f, "cannot start the socket.io client: {why}"),
        }
    }
}

impl std::error::Error for SocketError {}

/// From a `notificationUrl`, the Engine.IO address and the namespace
/// (`docs/graph-socketio.md` §2): keep scheme and host, path → `/socket.io/`, keep the
/// query; the namespace is the original path (without a trailing `/`).
///
/// Plain `http`/`ws` is accepted only for loopback hosts (the emulator): the query is the
/// credential and must not cross a network in clear text.
pub fn derive_endpoint(notification_url: &str) -> Result<Endpoint, SocketError> {
    let url = Url::parse(notification_url)
        .map_err(|e| SocketError::InvalidUrl(format!("{e} ({})", redact_url(notification_url))))?;
    match url.scheme() {
        "https" | "wss" => {}
        "http" | "ws" if is_loopback(&url) => {}
        "http" | "ws" => {
            return Err(SocketError::InvalidUrl(format!(
                "plain {} is accepted only for loopback hosts ({})",
                url.scheme(),
                redact_url(notification_url)
            )))
        }
        other => {
            return Err(SocketError::InvalidUrl(format!(
                "scheme {other:?} is not http(s) or ws(s) ({})",
                redact_url(notification_url)
            )))
        }
    }
    if !url.has_host() || url.host_str() == Some("") {
        return Err(SocketError::InvalidUrl(format!(
            "no host ({})",
            redact_url(notification_url)
        )));
    }

    let namespace = match url.path().trim_end_matches('/') {
        "" => "/".to_string(),
        path => path.to_string(),
    };

    let mut address = url.clone();
    address.set_path("/socket.io/");
    address.set_fragment(None);
    // Keep the original query byte for byte (the token is opaque; re-encoding could alter
    // it), minus Engine.IO's own parameters, which the library appends.
    let kept: Vec<&str> = url
        .query()
        .unwrap_or_default()
        .split('&')
        .filter(|pair| {
            let key = pair.split_once('=').map_or(*pair, |(k, _)| k);
            !pair.is_empty() && !matches!(key, "EIO" | "transport" | "sid")
        })
        .collect();
    if kept.is_empty() {
        address.set_query(None);
    } else {
        address.set_query(Some(&kept.join("&")));
    }
    let mut address = address.to_string();
    if !address.contains('?') {
        // rust_socketio only replaces a path of "/"; ours is already "/socket.io/".
        address.push('?');
    }
    Ok(Endpoint { address, namespace })
}

/// A live connection. Read it with [`Connection::next`]; end it with
/// [`Connection::close`] (dropping it also closes the link, without waiting).
pub struct Connection {
    events: mpsc::UnboundedReceiver<SocketEvent>,
    close: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
    finished: bool,
    endpoint: Endpoint,
}

impl fmt::Debug for Connection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connection")
            .field("endpoint", &self.endpoint)
            .field("finished", &self.finished)
            .finish()
    }
}

impl Connection {
    /// The next event; `None` once `Disconnected` has been returned.
    pub async fn next(&mut self) -> Option<SocketEvent> {
        if self.finished {
            return None;
        }
        let event = match self.events.recv().await {
            Some(event) => event,
            // The connection thread ended without a word (it cannot, but a dead link must
            // still end with one Disconnected).
            None => SocketEvent::Disconnected {
                reason: DisconnectReason::Closed,
            },
        };
        if matches!(event, SocketEvent::Disconnected { .. }) {
            self.finished = true;
        }
        Some(event)
    }

    /// Close the link and wait until it is gone. Returns the events that were still
    /// queued, ending with the one `Disconnected` (reason [`DisconnectReason::Local`],
    /// unless the link had already ended on its own); empty if that was already read.
    pub async fn close(mut self) -> Vec<SocketEvent> {
        if let Some(close) = self.close.take() {
            let _ = close.send(());
        }
        let mut rest = Vec::new();
        while let Some(event) = self.next().await {
            rest.push(event);
        }
        if let Some(thread) = self.thread.take() {
            // The thread ends right after it sent Disconnected; joining does not block
            // for long, but do it off the async worker anyway.
            let _ = tokio::task::spawn_blocking(move || thread.join()).await;
        }
        rest
    }
}

/// A connection with no link behind it that never says anything, for the tests of
/// what holds one.
#[cfg(test)]
pub(crate) fn idle_connection() -> Connection {
    let (_events_tx, events) = mpsc::unbounded_channel();
    Connection {
        events,
        close: None,
        thread: None,
        finished: false,
        endpoint: derive_endpoint("http://127.0.0.1:9/notifications").expect("an endpoint"),
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        if let Some(close) = self.close.take() {
            let _ = close.send(());
        }
    }
}

/// What our callbacks tell the connection thread.
#[derive(Debug)]
enum Callback {
    Joined,
    Notification(Value),
    ServerDisconnect,
    Error(String),
    /// The library's task and all its `Client`s are gone (sent by [`EndGuard`]).
    Ended,
}

/// Held by every callback we give `rust_socketio`. The callbacks live in the client
/// builder, which lives as long as any `Client`; the last `Client` is the one inside the
/// library's detached connection task. So this is dropped exactly when that task ends,
/// including when it ends silently.
struct EndGuard(mpsc::UnboundedSender<Callback>);

impl Drop for EndGuard {
    fn drop(&mut self) {
        let _ = self.0.send(Callback::Ended);
    }
}

type BoxFuture = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

fn builder(endpoint: &Endpoint, signals: &mpsc::UnboundedSender<Callback>) -> ClientBuilder {
    let guard = Arc::new(EndGuard(signals.clone()));
    let on = |make: fn(Payload) -> Option<Callback>| {
        let tx = signals.clone();
        let guard = guard.clone();
        move |payload: Payload, _client: Client| -> BoxFuture {
            let _keep = &guard;
            if let Some(signal) = make(payload) {
                let _ = tx.send(signal);
            }
            Box::pin(async {})
        }
    };
    let any_guard = guard.clone();
    ClientBuilder::new(endpoint.address.clone())
        .namespace(endpoint.namespace.clone())
        .transport_type(TransportType::Websocket)
        .reconnect(false)
        .reconnect_on_disconnect(false)
        .on(Event::Connect, on(|_| Some(Callback::Joined)))
        .on(
            NOTIFICATION_EVENT,
            on(|payload| accept_payload(payload_value(payload)).map(Callback::Notification)),
        )
        .on(Event::Close, on(|_| Some(Callback::ServerDisconnect)))
        .on(
            Event::Error,
            on(|payload| {
                let text = match payload_value(payload) {
                    Value::String(text) => text,
                    other => other.to_string(),
                };
                Some(Callback::Error(text))
            }),
        )
        .on_any(move |event, _payload, _client| -> BoxFuture {
            let _keep = &any_guard;
            if event.as_str() != NOTIFICATION_EVENT {
                tracing::debug!(event = %event, "ignoring socket.io event");
            }
            Box::pin(async {})
        })
}

/// `rust_socketio` reports a `44` (namespace refused) through the error callback, with
/// this prefix; nothing else distinguishes it.
const CONNECT_ERROR_PREFIX: &str = "Received an ConnectError frame";

/// Connect to a Graph `notificationUrl` and join its namespace.
///
/// Returns once the namespace is joined (the first event is then `Connected`), or fails
/// within `opts.connect_timeout`. Must be called from within a Tokio runtime; the link
/// itself runs on a thread of its own (see the module docs).
pub async fn connect(
    notification_url: &str,
    opts: &SocketOptions,
) -> Result<Connection, SocketError> {
    let endpoint = derive_endpoint(notification_url)?;
    let (events_tx, events_rx) = mpsc::unbounded_channel();
    let (ready_tx, ready_rx) = oneshot::channel::<Result<(), SocketError>>();
    let (close_tx, close_rx) = oneshot::channel::<()>();

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| SocketError::Runtime(e.to_string()))?;
    let thread_endpoint = endpoint.clone();
    let secret = notification_url.to_string();
    let timeout = opts.connect_timeout;
    let thread = std::thread::Builder::new()
        .name("graphwatch-socket".into())
        .spawn(move || {
            runtime.block_on(run(
                thread_endpoint,
                secret,
                timeout,
                ready_tx,
                events_tx,
                close_rx,
            ));
            // Dropping the runtime drops the library's detached task and its websocket.
            drop(runtime);
        })
        .map_err(|e| SocketError::Runtime(e.to_string()))?;

    let mut connection = Connection {
        events: events_rx,
        close: Some(close_tx),
        thread: Some(thread),
        finished: false,
        endpoint,
    };
    match ready_rx.await {
        Ok(Ok(())) => Ok(connection),
        Ok(Err(e)) => {
            connection.close.take();
            Err(e)
        }
        Err(_) => Err(SocketError::Runtime(
            "the connection thread ended unexpectedly".into(),
        )),
    }
}

/// The connection thread: handshake under a timeout, then relay signals until the link
/// ends or we are told to close. Sends exactly one `Disconnected` after a successful join.
async fn run(
    endpoint: Endpoint,
    secret: String,
    timeout: Duration,
    ready: oneshot::Sender<Result<(), SocketError>>,
    events: mpsc::UnboundedSender<SocketEvent>,
    mut close: oneshot::Receiver<()>,
) {
    let (signals_tx, mut signals) = mpsc::unbounded_channel::<Callback>();
    let builder = builder(&endpoint, &signals_tx);
    // Only the callbacks' senders may keep the channel open: when they are gone, so is
    // the library's task.
    drop(signals_tx);

    let handshake = async {
        // Keep no Client: see the module docs.
        let client = builder
            .connect()
            .await
            .map_err(|e| SocketError::Connect(scrub(&e.to_string(), &secret)))?;
        drop(client);
        let mut last_error = None;
        loop {
            match signals.recv().await {
                Some(Callback::Joined) => return Ok(()),
                Some(Callback::Error(text)) if text.starts_with(CONNECT_ERROR_PREFIX) => {
                    return Err(SocketError::Refused(scrub(&text, &secret)))
                }
                Some(Callback::Error(text)) => last_error = Some(text),
                Some(Callback::Notification(_)) | Some(Callback::ServerDisconnect) => {
                    // Nothing is sent before the join; a 41 before it is a refusal.
                    return Err(SocketError::Refused(
                        "disconnected before the namespace was joined".into(),
                    ));
                }
                Some(Callback::Ended) | None => {
                    return Err(SocketError::Connect(match last_error {
                        Some(text) => format!(
                            "the link ended during the handshake ({})",
                            scrub(&text, &secret)
                        ),
                        None => "the link ended during the handshake".into(),
                    }))
                }
            }
        }
    };
    let joined = match tokio::time::timeout(timeout, handshake).await {
        Ok(result) => result,
        Err(_) => Err(SocketError::Timeout(timeout)),
    };
    if let Err(e) = joined {
        let _ = ready.send(Err(e));
        return;
    }
    let _ = events.send(SocketEvent::Connected);
    if ready.send(Ok(())).is_err() {
        // The caller gave up (its future was dropped): close.
        return;
    }

    let mut last_error: Option<String> = None;
    let reason = loop {
        tokio::select! {
            biased;
            signal = signals.recv() => match signal {
                Some(Callback::Notification(value)) => {
                    let _ = events.send(SocketEvent::Notification(value));
                }
                Some(Callback::ServerDisconnect) => break DisconnectReason::ServerDisconnect,
                Some(Callback::Error(text)) => {
                    // Fatal errors end the library's task right after this callback; a
                    // malformed packet does not. Decide when the task actually ends.
                    // A malformed frame is reported at -v; the stream goes on.
                    tracing::info!("socket.io client error: {}", scrub(&text, &secret));
                    last_error = Some(scrub(&text, &secret));
                }
                Some(Callback::Joined) => {}
                Some(Callback::Ended) | None => {
                    break match last_error.take() {
                        Some(text) => DisconnectReason::Transport(text),
                        None => DisconnectReason::Closed,
                    }
                }
            },
            _ = &mut close => break DisconnectReason::Local,
        }
    };
    let _ = events.send(SocketEvent::Disconnected { reason });
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIVE: &str = "https://3-westeurope1.pushp.svc.ms/notifications?token=w1-secret-token&applicationId=app-1234";

    #[test]
    fn endpoint_keeps_origin_and_query_and_takes_the_path_as_namespace() {
        let endpoint = derive_endpoint(LIVE).unwrap();
        assert_eq!(
            endpoint.address,
            "https://3-westeurope1.pushp.svc.ms/socket.io/?token=w1-secret-token&applicationId=app-1234"
        );
        assert_eq!(endpoint.namespace, "/notifications");
    }

    #[test]
    fn endpoint_keeps_the_port_and_other_paths() {
        let endpoint =
            derive_endpoint("http://127.0.0.1:4567/callback/?token=a%2Bb%3D&x=1").unwrap();
        assert_eq!(
            endpoint.address,
            "http://127.0.0.1:4567/socket.io/?token=a%2Bb%3D&x=1"
        );
        assert_eq!(endpoint.namespace, "/callback");
    }

    #[test]
    fn endpoint_drops_engine_io_parameters_that_the_library_adds() {
        let endpoint =
            derive_endpoint("wss://h.example/notifications?EIO=3&token=t&transport=polling&sid=s")
                .unwrap();
        assert_eq!(endpoint.address, "wss://h.example/socket.io/?token=t");
    }

    #[test]
    fn endpoint_without_path_or_query() {
        let endpoint = derive_endpoint("https://h.example").unwrap();
        assert_eq!(endpoint.namespace, "/");
        assert_eq!(endpoint.address, "https://h.example/socket.io/?");
    }

    #[test]
    fn endpoint_refuses_cleartext_off_loopback_and_other_schemes() {
        for url in [
            "http://push.example/notifications?token=s3cr3t-value",
            "ws://10.0.0.1/notifications?token=s3cr3t-value",
            "ftp://push.example/notifications?token=s3cr3t-value",
            "not a url?token=s3cr3t-value",
        ] {
            let err = derive_endpoint(url).unwrap_err();
            assert!(matches!(err, SocketError::InvalidUrl(_)), "{url}: {err:?}");
            assert!(!err.to_string().contains("s3cr3t"), "{err}");
        }
        for url in [
            "http://localhost:1/notifications",
            "http://127.0.0.1:1/notifications",
            "ws://[::1]:1/notifications",
        ] {
            derive_endpoint(url).unwrap();
        }
    }

    #[test]
    fn endpoint_debug_and_display_are_redacted() {
        let endpoint = derive_endpoint(LIVE).unwrap();
        for text in [format!("{endpoint:?}"), endpoint.to_string()] {
            assert!(!text.contains("w1-secret-token"), "{text}");
            assert!(!text.contains("app-1234"), "{text}");
            assert!(
                text.contains("/socket.io/?token=…&applicationId=…"),
                "{text}"
            );
        }
    }

    #[test]
    fn connection_can_move_between_tasks() {
        fn send<T: Send + 'static>() {}
        send::<Connection>();
        send::<SocketEvent>();
    }

    #[test]
    fn only_an_unusable_url_is_permanent() {
        assert!(!SocketError::InvalidUrl("x".into()).is_transient());
        for transient in [
            SocketError::Runtime("Too many open files (os error 24)".into()),
            SocketError::Timeout(Duration::from_secs(20)),
            SocketError::Refused("44".into()),
            SocketError::Connect("EngineIO Error".into()),
        ] {
            assert!(transient.is_transient(), "{transient}");
        }
    }

    #[test]
    fn reasons_read_well() {
        assert_eq!(
            DisconnectReason::ServerDisconnect.to_string(),
            "the server disconnected"
        );
        assert_eq!(
            SocketError::Timeout(Duration::from_millis(1500)).to_string(),
            "the socket.io handshake did not complete within 1500 ms"
        );
    }
}
