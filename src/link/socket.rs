//! The socket.io link to a Graph `notificationUrl`: connect, surface notifications, and
//! say exactly once when the link is gone.
//!
//! Graph's `subscriptions/socketIo` answers with a `notificationUrl` such as
//! `https://host/notifications?token=…`. The path is the socket.io namespace; the query
//! (the token) is the only credential, so the URL is a secret: it only ever leaves this
//! module through [`redact_url`], and error text is scrubbed of it. The Engine.IO
//! endpoint is `{origin}/socket.io/` with the original query kept
//! (`docs/graph-socketio.md` §2). Reconnection is not done here: the supervisor above
//! owns it, because it must fetch a *fresh* endpoint each time (the old URL may have
//! expired).
//!
//! ## Why a client of our own
//!
//! This was an adapter over `rust_socketio` 0.6 on a thread and runtime of its own. That
//! crate parsed each frame twice and copied it about four times before we saw it (the
//! socket thread was 61 % of graphwatch's CPU in a burst), reported an abrupt end by
//! saying nothing (upstream #448: we had to notice its task dropping our callbacks),
//! flattened every failure into "EngineIO Error", hid the pings, and hard-wired
//! native-tls, which linked OpenSSL into a binary that otherwise uses rustls. Its last
//! release was in 2024. What Graph needs of Engine.IO and socket.io is small — the open
//! packet, a namespace join, ping → pong, one event — so we speak it ourselves
//! ([`super::engineio`]) over `tokio-tungstenite` (docs/decisions.md, "socket.io
//! client", has the measurements).
//!
//! How it is put together, and why:
//!
//! * **One task on the caller's runtime**, not a thread: the connection is read by a
//!   task of its own so that pings are answered while the supervisor is busy (renewing,
//!   say), and everything it learns goes to the [`Connection`] over one channel. The
//!   task's last act is the one `Disconnected`; whatever ends the link — a `41`, a close
//!   frame, a reset, silence, [`Connection::close`], or the `Connection` being dropped —
//!   goes through that one exit, so the supervisor hears exactly once, with the reason.
//! * **The watchdog is ours**: one timer per link, moved forward once per ping, fires
//!   after pingInterval + pingTimeout of silence (values from the open packet).
//! * **rustls, HTTP/1.1 only**: the TLS set-up offers only `http/1.1` by ALPN, because
//!   the live host answers an HTTP/2 upgrade with "Bad request"; the roots are webpki's,
//!   as for reqwest.
//! * **Frames are parsed once**, borrowing from the websocket message, and only an event
//!   named `notification` on our namespace has its JSON decoded ([`super::engineio`]).

use std::fmt;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::Duration;

use futures_util::{SinkExt as _, StreamExt as _};
use serde_json::Value;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;
use tokio_rustls::rustls;
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
use tokio_tungstenite::tungstenite::error::ProtocolError;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{self, Message, Utf8Bytes};
use tokio_tungstenite::WebSocketStream;
use url::{Host, Url};

use super::engineio::{self, Frame, Open, PacketKind};
use super::payload::accept_payload;
use crate::util::redact::{redact_url, scrub};
use crate::util::text::shown_text;
use crate::util::url::is_loopback;

/// The socket.io event name under which Graph sends notifications.
pub const NOTIFICATION_EVENT: &str = "notification";

/// The largest websocket frame and message read. A frame's length is checked from its
/// header, before it is read; a message over [`super::payload::MAX_PAYLOAD_BYTES`] is
/// read and then skipped, one over this ends the link (docs/decisions.md, "Hostile
/// input").
pub const MAX_FRAME_BYTES: usize = 16 << 20;

/// The websocket's read buffer, allocated whole for every link: tungstenite's default
/// of 128 KiB was 85 % of what a target cost (bench/many: 149 KiB per target, 300 MiB
/// for 2,000). A read fills it with as many frames as have arrived, so a burst still
/// takes few reads; larger frames are assembled beside it (docs/scale.md).
const READ_BUFFER_BYTES: usize = 16 << 10;

/// How long a closing link may take to say goodbye (`41`, a close frame) to a server
/// that does not read.
const GOODBYE: Duration = Duration::from_secs(1);

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
    /// `{scheme}://{host}[:port]/socket.io/?{original query}`, as shown (redacted) in
    /// messages. The upgrade itself goes to its `ws`/`wss` form with `EIO=4` and
    /// `transport=websocket` added (`Endpoint::websocket_url`); any that the
    /// notificationUrl carried are dropped, so they are not sent twice.
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
    /// The server left the namespace (socket.io `41`) or closed the Engine.IO session
    /// (`1`).
    ServerDisconnect,
    /// The link failed: a read or write error (a TCP reset), a frame that breaks the
    /// protocol, a frame over [`MAX_FRAME_BYTES`], or no ping within pingInterval +
    /// pingTimeout. The text says which.
    Transport(String),
    /// The link ended without a close packet (a websocket close frame, or a TCP FIN,
    /// with no Engine.IO `1`/socket.io `41` before it).
    Closed,
    /// [`Connection::close`] was called.
    Local,
}

impl fmt::Display for DisconnectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DisconnectReason::ServerDisconnect => f.write_str("the server disconnected"),
            // The detail is already words: "no ping for 45s (…)", "connection reset …".
            DisconnectReason::Transport(detail) => f.write_str(detail),
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
    /// The client could not be started: no socket for want of file descriptors
    /// (`EMFILE`, `ENFILE`), or no TLS set-up.
    Runtime(String),
}

impl SocketError {
    /// Whether trying again later can work: everything but an unusable URL. A handshake
    /// that failed or timed out may work next time, and a resource shortage (a socket
    /// that could not be opened: too many open files) passes as descriptors are
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
    // it), minus Engine.IO's own parameters, which the upgrade adds.
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
        address.push('?');
    }
    Ok(Endpoint { address, namespace })
}

impl Endpoint {
    /// The URL of the websocket upgrade: `ws`/`wss`, `EIO=4&transport=websocket` first,
    /// then the notificationUrl's query as it was. A secret, like the notificationUrl.
    fn websocket_url(&self) -> String {
        let (base, query) = self
            .address
            .split_once('?')
            .unwrap_or((self.address.as_str(), ""));
        let base = match (base.strip_prefix("https://"), base.strip_prefix("http://")) {
            (Some(rest), _) => format!("wss://{rest}"),
            (None, Some(rest)) => format!("ws://{rest}"),
            (None, None) => base.to_string(),
        };
        let mut url = format!("{base}?EIO=4&transport=websocket");
        if !query.is_empty() {
            url.push('&');
            url.push_str(query);
        }
        url
    }
}

/// A live connection. Read it with [`Connection::next`]; end it with
/// [`Connection::close`] (dropping it also closes the link, without waiting).
pub struct Connection {
    events: mpsc::UnboundedReceiver<SocketEvent>,
    close: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
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
            // The link's task is gone without a word (its runtime is shutting down): a
            // dead link must still end with one Disconnected.
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
        if let Some(task) = self.task.take() {
            // It ends right after its goodbye to the server, which is bounded.
            let _ = task.await;
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
        task: None,
        finished: false,
        endpoint: derive_endpoint("http://127.0.0.1:9/notifications").expect("an endpoint"),
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        // The task says goodbye to the server and ends; nobody waits for it.
        if let Some(close) = self.close.take() {
            let _ = close.send(());
        }
    }
}

/// Connect to a Graph `notificationUrl` and join its namespace.
///
/// Returns once the namespace is joined (the first event is then `Connected`), or fails
/// within `opts.connect_timeout`. Must be called from within a Tokio runtime: the link
/// is then read by a task on it (see the module docs).
pub async fn connect(
    notification_url: &str,
    opts: &SocketOptions,
) -> Result<Connection, SocketError> {
    let endpoint = derive_endpoint(notification_url)?;
    let link = match tokio::time::timeout(opts.connect_timeout, handshake(&endpoint)).await {
        Ok(link) => link.map_err(|e| e.scrubbed(notification_url))?,
        Err(_) => return Err(SocketError::Timeout(opts.connect_timeout)),
    };
    let (events_tx, events) = mpsc::unbounded_channel();
    let (close_tx, close_rx) = oneshot::channel();
    let _ = events_tx.send(SocketEvent::Connected);
    let task = tokio::spawn(run(link, endpoint.namespace.clone(), events_tx, close_rx));
    Ok(Connection {
        events,
        close: Some(close_tx),
        task: Some(task),
        finished: false,
        endpoint,
    })
}

impl SocketError {
    /// The same error with the notificationUrl and its query values taken out of its
    /// text, and no control characters in it.
    fn scrubbed(self, secret: &str) -> SocketError {
        let clean = |text: String| shown_text(&scrub(&text, secret), 300);
        match self {
            SocketError::InvalidUrl(text) => SocketError::InvalidUrl(clean(text)),
            SocketError::Refused(text) => SocketError::Refused(clean(text)),
            SocketError::Connect(text) => SocketError::Connect(clean(text)),
            SocketError::Runtime(text) => SocketError::Runtime(clean(text)),
            timeout @ SocketError::Timeout(_) => timeout,
        }
    }
}

type Ws = WebSocketStream<Wire>;

/// A joined link, ready to be read.
struct Link {
    ws: Ws,
    open: Open,
    /// When the watchdog was last moved: the open packet, or a ping during the join.
    pinged: Instant,
}

/// TCP, the websocket upgrade, the Engine.IO open packet and the namespace join.
async fn handshake(endpoint: &Endpoint) -> Result<Link, SocketError> {
    let url = Url::parse(&endpoint.address)
        .map_err(|e| SocketError::InvalidUrl(format!("{e} ({})", endpoint)))?;
    let (Some(host), Some(port)) = (url.host(), url.port_or_known_default()) else {
        return Err(SocketError::InvalidUrl(format!("no host ({endpoint})")));
    };
    let tcp = match &host {
        Host::Domain(name) => TcpStream::connect((*name, port)).await,
        Host::Ipv4(ip) => TcpStream::connect((*ip, port)).await,
        Host::Ipv6(ip) => TcpStream::connect((*ip, port)).await,
    }
    .map_err(socket_error)?;
    // A pong must not wait for more to send.
    let _ = tcp.set_nodelay(true);
    let wire = if matches!(url.scheme(), "https" | "wss") {
        let name = server_name(host)?;
        let tls = tokio_rustls::TlsConnector::from(tls_config()?)
            .connect(name, tcp)
            .await
            .map_err(|e| SocketError::Connect(format!("TLS: {e}")))?;
        Wire::Tls(Box::new(tls))
    } else {
        Wire::Plain(tcp)
    };
    let request = endpoint
        .websocket_url()
        .into_client_request()
        .map_err(|e| SocketError::Connect(e.to_string()))?;
    let (mut ws, _response) =
        tokio_tungstenite::client_async_with_config(request, wire, Some(websocket_config()))
            .await
            .map_err(|e| SocketError::Connect(upgrade_error(e)))?;

    let (open, mut pinged) = loop {
        let Some(text) = handshake_text(&mut ws).await? else {
            continue;
        };
        match engineio::parse_frame(&text) {
            Ok(Frame::Open(open)) => break (open, Instant::now()),
            Ok(Frame::Noop) => {}
            Ok(_) => {
                return Err(SocketError::Connect(
                    "the server did not open an Engine.IO session".into(),
                ))
            }
            Err(e) => return Err(SocketError::Connect(e.to_string())),
        }
    };
    tracing::debug!(
        ping_interval_ms = open.ping_interval.as_millis() as u64,
        ping_timeout_ms = open.ping_timeout.as_millis() as u64,
        max_payload = open.max_payload,
        "Engine.IO session open"
    );

    // Working clients join the default namespace first (docs/graph-socketio.md §2).
    let namespace = endpoint.namespace.as_str();
    let joins = if namespace == "/" {
        vec![engineio::connect_packet("/")]
    } else {
        vec![
            engineio::connect_packet("/"),
            engineio::connect_packet(namespace),
        ]
    };
    for join in joins {
        ws.feed(Message::text(join))
            .await
            .map_err(|e| SocketError::Connect(e.to_string()))?;
    }
    ws.flush()
        .await
        .map_err(|e| SocketError::Connect(e.to_string()))?;

    loop {
        let Some(text) = handshake_text(&mut ws).await? else {
            continue;
        };
        match engineio::parse_frame(&text) {
            Ok(Frame::Ping(data)) => {
                pinged = Instant::now();
                ws.send(Message::text(engineio::pong_packet(data)))
                    .await
                    .map_err(|e| SocketError::Connect(e.to_string()))?;
            }
            Ok(Frame::Message(packet)) if packet.namespace == namespace => match packet.kind {
                PacketKind::Connect => break,
                PacketKind::ConnectError => {
                    return Err(SocketError::Refused(engineio::connect_error_message(
                        packet.data,
                    )))
                }
                PacketKind::Disconnect => {
                    return Err(SocketError::Refused(
                        "disconnected before the namespace was joined".into(),
                    ))
                }
                // Nothing is sent before the join.
                _ => {}
            },
            Ok(Frame::Message(packet)) if packet.kind == PacketKind::ConnectError => {
                // The default namespace may be refused; ours is what counts.
                tracing::debug!(namespace = ?packet.namespace, "the server refused a namespace we do not need");
            }
            Ok(Frame::Close) => {
                return Err(SocketError::Connect(
                    "the server closed the session during the handshake".into(),
                ))
            }
            Ok(_) => {}
            Err(e) => return Err(SocketError::Connect(e.to_string())),
        }
    }
    Ok(Link { ws, open, pinged })
}

/// The next text message during the handshake (`None`: a message to skip); the link
/// ending is an error.
async fn handshake_text(ws: &mut Ws) -> Result<Option<Utf8Bytes>, SocketError> {
    match ws.next().await {
        Some(Ok(Message::Text(text))) => Ok(Some(text)),
        Some(Ok(Message::Close(_))) | None => Err(SocketError::Connect(
            "the link ended during the handshake".into(),
        )),
        Some(Ok(_)) => Ok(None),
        Some(Err(e)) => Err(SocketError::Connect(format!(
            "the link ended during the handshake ({e})"
        ))),
    }
}

/// A socket that could not be opened: for want of descriptors (it passes, and is
/// reported as such), or anything else.
fn socket_error(e: std::io::Error) -> SocketError {
    match e.raw_os_error() {
        Some(libc::EMFILE | libc::ENFILE) => SocketError::Runtime(e.to_string()),
        _ => SocketError::Connect(e.to_string()),
    }
}

/// A refused upgrade by its status (the body may be anything); other failures as they are.
fn upgrade_error(e: tungstenite::Error) -> String {
    match e {
        tungstenite::Error::Http(response) => format!(
            "the server refused the websocket upgrade: HTTP {}",
            response.status()
        ),
        other => other.to_string(),
    }
}

fn server_name(host: Host<&str>) -> Result<rustls::pki_types::ServerName<'static>, SocketError> {
    use rustls::pki_types::ServerName;
    match host {
        Host::Domain(name) => ServerName::try_from(name.to_string())
            .map_err(|e| SocketError::InvalidUrl(format!("{e}: {name:?}"))),
        Host::Ipv4(ip) => Ok(ServerName::IpAddress(IpAddr::V4(ip).into())),
        Host::Ipv6(ip) => Ok(ServerName::IpAddress(IpAddr::V6(ip).into())),
    }
}

/// rustls with webpki's roots (as reqwest has them), offering only HTTP/1.1: the live
/// host refuses an upgrade over HTTP/2. Built once.
fn tls_config() -> Result<Arc<rustls::ClientConfig>, SocketError> {
    static CONFIG: OnceLock<Result<Arc<rustls::ClientConfig>, String>> = OnceLock::new();
    CONFIG
        .get_or_init(|| {
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            let roots = rustls::RootCertStore {
                roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
            };
            let mut config = rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .map_err(|e| format!("TLS: {e}"))?
                .with_root_certificates(roots)
                .with_no_client_auth();
            config.alpn_protocols = vec![b"http/1.1".to_vec()];
            Ok(Arc::new(config))
        })
        .clone()
        .map_err(SocketError::Runtime)
}

fn websocket_config() -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(READ_BUFFER_BYTES)
        .max_frame_size(Some(MAX_FRAME_BYTES))
        .max_message_size(Some(MAX_FRAME_BYTES))
}

/// What one frame asks of the link.
enum Next {
    Read,
    /// A ping: move the watchdog and send this pong.
    Pong(String),
    /// Send this (an ack).
    Send(String),
    End(DisconnectReason),
}

/// The link's task: read until the link ends or we are told to close, answer pings,
/// hand notifications on; then the one `Disconnected`, and a goodbye to the server.
async fn run(
    link: Link,
    namespace: String,
    events: mpsc::UnboundedSender<SocketEvent>,
    mut close: oneshot::Receiver<()>,
) {
    let Link {
        mut ws,
        open,
        pinged,
    } = link;
    let silence = open.watchdog();
    let watchdog = tokio::time::sleep_until(pinged + silence);
    tokio::pin!(watchdog);
    let reason = loop {
        tokio::select! {
            biased;
            // Sent by close(), or dropped with the Connection.
            _ = &mut close => break DisconnectReason::Local,
            message = ws.next() => {
                let text = match message {
                    Some(Ok(Message::Text(text))) => text,
                    Some(Ok(Message::Close(_))) | None => break DisconnectReason::Closed,
                    Some(Ok(Message::Binary(_))) => {
                        // Binary attachments: Graph sends none, and we take no binary event.
                        tracing::debug!("ignoring a binary websocket message");
                        continue;
                    }
                    // Websocket pings (tungstenite answers them) and pongs.
                    Some(Ok(_)) => continue,
                    Some(Err(e)) => break ended_by(e),
                };
                // Only reads from the socket count against the runtime's budget, not
                // frames already in tungstenite's 128 KiB buffer: without this, one turn
                // could queue 128 such reads (some 24,000 notifications) before the
                // writer ran. One unit per frame hands over every 128 frames.
                tokio::task::consume_budget().await;
                let reply = match on_frame(&text, &namespace, &events) {
                    Ok(Next::Read) => continue,
                    Ok(Next::End(reason)) => break reason,
                    Ok(Next::Pong(pong)) => {
                        watchdog.as_mut().reset(Instant::now() + silence);
                        pong
                    }
                    Ok(Next::Send(packet)) => packet,
                    Err(e) => {
                        // A frame we cannot read: the link ends with what was wrong, and
                        // the supervisor reconnects (docs/decisions.md, "Malformed frames").
                        let text = e.to_string();
                        tracing::info!("socket.io client error: {text}");
                        break DisconnectReason::Transport(text);
                    }
                };
                if let Err(e) = ws.send(Message::text(reply)).await {
                    break ended_by(e);
                }
            }
            () = &mut watchdog => {
                break DisconnectReason::Transport(format!(
                    "no ping for {} (the server's pingInterval + pingTimeout)",
                    crate::util::duration::human(silence)
                ));
            }
        }
    };
    let local = reason == DisconnectReason::Local;
    let _ = events.send(SocketEvent::Disconnected { reason });
    goodbye(&mut ws, &namespace, local).await;
}

/// One text frame of a joined link.
fn on_frame(
    text: &str,
    namespace: &str,
    events: &mpsc::UnboundedSender<SocketEvent>,
) -> Result<Next, engineio::FrameError> {
    let packet = match engineio::parse_frame(text)? {
        Frame::Message(packet) if packet.namespace == namespace => packet,
        Frame::Ping(data) => return Ok(Next::Pong(engineio::pong_packet(data))),
        Frame::Close => return Ok(Next::End(DisconnectReason::ServerDisconnect)),
        // Another namespace's packets (the default one's), a repeated open, pongs,
        // upgrades, noops: nothing for us.
        _ => return Ok(Next::Read),
    };
    match packet.kind {
        PacketKind::Event => {
            match engineio::notification_argument(packet.data)? {
                Some(argument) => {
                    if let Some(argument) = accept_payload(argument) {
                        let _ = events.send(SocketEvent::Notification(argument));
                    }
                }
                None => tracing::debug!("ignoring a socket.io event that is not a notification"),
            }
            Ok(match packet.ack {
                Some(id) => Next::Send(engineio::ack_packet(namespace, id)),
                None => Next::Read,
            })
        }
        PacketKind::Disconnect => Ok(Next::End(DisconnectReason::ServerDisconnect)),
        // A repeated join, acks, a late refusal, binary packets: nothing to act on.
        _ => Ok(Next::Read),
    }
}

/// Why a read or write failed, as a reason.
fn ended_by(e: tungstenite::Error) -> DisconnectReason {
    match e {
        tungstenite::Error::ConnectionClosed
        | tungstenite::Error::AlreadyClosed
        | tungstenite::Error::Protocol(ProtocolError::ResetWithoutClosingHandshake) => {
            DisconnectReason::Closed
        }
        other => DisconnectReason::Transport(shown_text(&other.to_string(), 300)),
    }
}

/// Leave politely, within [`GOODBYE`]: `41` for the namespace when it is we who close,
/// then a websocket close frame (not waiting for the server's).
async fn goodbye(ws: &mut Ws, namespace: &str, local: bool) {
    let polite = async {
        if local {
            let _ = ws
                .feed(Message::text(engineio::disconnect_packet(namespace)))
                .await;
        }
        let _ = ws.close(None).await;
    };
    let _ = tokio::time::timeout(GOODBYE, polite).await;
}

/// The byte stream under the websocket: TCP, or TLS over TCP.
enum Wire {
    Plain(TcpStream),
    Tls(Box<tokio_rustls::client::TlsStream<TcpStream>>),
}

impl AsyncRead for Wire {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Wire::Plain(tcp) => Pin::new(tcp).poll_read(cx, buf),
            Wire::Tls(tls) => Pin::new(tls.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Wire {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        match self.get_mut() {
            Wire::Plain(tcp) => Pin::new(tcp).poll_write(cx, buf),
            Wire::Tls(tls) => Pin::new(tls.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Wire::Plain(tcp) => Pin::new(tcp).poll_flush(cx),
            Wire::Tls(tls) => Pin::new(tls.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Wire::Plain(tcp) => Pin::new(tcp).poll_shutdown(cx),
            Wire::Tls(tls) => Pin::new(tls.as_mut()).poll_shutdown(cx),
        }
    }
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

    // -----------------------------------------------------------------------------------
    // The link against scripted servers on loopback: what the peer and emulator tests
    // (tests/socket.rs) cannot show — what we send.

    use tokio::net::TcpListener;

    const SECRET: &str = "unit-secret-token";

    type ServerWs = WebSocketStream<TcpStream>;

    /// A websocket server that runs `script` on its first connection; the notificationUrl
    /// to reach it.
    async fn server<F, Fut>(script: F) -> (String, tokio::task::JoinHandle<()>)
    where
        F: FnOnce(ServerWs) -> Fut + Send + 'static,
        Fut: std::future::Future<Output = ()> + Send,
    {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let task = tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            script(tokio_tungstenite::accept_async(tcp).await.unwrap()).await;
        });
        (
            format!("http://127.0.0.1:{port}/notifications?token={SECRET}&applicationId=a"),
            task,
        )
    }

    async fn said(ws: &mut ServerWs) -> String {
        match ws.next().await {
            Some(Ok(Message::Text(text))) => text.to_string(),
            other => panic!("expected a text message, got {other:?}"),
        }
    }

    async fn say(ws: &mut ServerWs, text: &str) {
        ws.send(Message::text(text.to_string())).await.unwrap();
    }

    /// The open packet and the join, as a socket.io 4 server answers them.
    async fn open_and_join(ws: &mut ServerWs, ping_interval: u64, ping_timeout: u64) {
        say(
            ws,
            &format!(
                r#"0{{"sid":"s","upgrades":[],"pingInterval":{ping_interval},"pingTimeout":{ping_timeout},"maxPayload":1000000}}"#
            ),
        )
        .await;
        assert_eq!(said(ws).await, "40", "the default namespace first");
        assert_eq!(said(ws).await, "40/notifications,");
        say(ws, r#"40{"sid":"d"}"#).await;
        say(ws, r#"40/notifications,{"sid":"n"}"#).await;
    }

    fn quick() -> SocketOptions {
        SocketOptions {
            connect_timeout: Duration::from_secs(5),
        }
    }

    async fn next_event(connection: &mut Connection) -> SocketEvent {
        tokio::time::timeout(Duration::from_secs(10), connection.next())
            .await
            .expect("an event in time")
            .expect("an event before the end")
    }

    #[tokio::test]
    async fn pings_are_answered_and_each_moves_the_watchdog() {
        // Watchdog 200 ms; the server pings five times 100 ms apart (500 ms in all), then
        // sends a notification that asks for an ack, then falls silent.
        let (url, server) = server(|mut ws| async move {
            open_and_join(&mut ws, 100, 100).await;
            for _ in 0..5 {
                tokio::time::sleep(Duration::from_millis(100)).await;
                say(&mut ws, "2").await;
                assert_eq!(said(&mut ws).await, "3");
            }
            say(
                &mut ws,
                r#"42/notifications,7["notification","{\"value\":[{\"n\":1}]}"]"#,
            )
            .await;
            assert_eq!(said(&mut ws).await, "43/notifications,7[]");
            // Silence: the client gives up and closes the websocket, without a 41.
            match ws.next().await {
                Some(Ok(Message::Close(_))) | None => {}
                other => panic!("expected the close, got {other:?}"),
            }
        })
        .await;
        let mut connection = connect(&url, &quick()).await.unwrap();
        assert_eq!(next_event(&mut connection).await, SocketEvent::Connected);
        let started = Instant::now();
        assert_eq!(
            next_event(&mut connection).await,
            SocketEvent::Notification(Value::String(r#"{"value":[{"n":1}]}"#.into())),
            "the link outlived its watchdog because every ping moved it"
        );
        assert!(started.elapsed() >= Duration::from_millis(400));
        match next_event(&mut connection).await {
            SocketEvent::Disconnected {
                reason: DisconnectReason::Transport(text),
            } => assert!(text.contains("no ping for 0.2s"), "{text}"),
            other => panic!("expected the watchdog, got {other:?}"),
        }
        assert_eq!(connection.next().await, None);
        server.await.unwrap();
    }

    #[tokio::test]
    async fn closing_leaves_the_namespace_and_closes_the_websocket() {
        let (url, server) = server(|mut ws| async move {
            open_and_join(&mut ws, 25_000, 20_000).await;
            assert_eq!(said(&mut ws).await, "41/notifications,");
            assert!(matches!(ws.next().await, Some(Ok(Message::Close(_)))));
        })
        .await;
        let mut connection = connect(&url, &quick()).await.unwrap();
        assert_eq!(next_event(&mut connection).await, SocketEvent::Connected);
        assert_eq!(
            connection.close().await,
            [SocketEvent::Disconnected {
                reason: DisconnectReason::Local
            }]
        );
        server.await.unwrap();
    }

    #[tokio::test]
    async fn a_refused_default_namespace_does_not_stop_ours_and_an_engine_close_ends_the_link() {
        let (url, server) = server(|mut ws| async move {
            say(
                &mut ws,
                r#"0{"sid":"s","pingInterval":25000,"pingTimeout":20000}"#,
            )
            .await;
            assert_eq!(said(&mut ws).await, "40");
            assert_eq!(said(&mut ws).await, "40/notifications,");
            say(&mut ws, r#"44{"message":"not here"}"#).await;
            say(&mut ws, "2").await;
            assert_eq!(
                said(&mut ws).await,
                "3",
                "pings are answered during the join"
            );
            say(&mut ws, r#"40/notifications,{"sid":"n"}"#).await;
            say(&mut ws, r#"42/notifications,["notification",{"value":[]}]"#).await;
            say(&mut ws, "1").await;
            let _ = ws.next().await;
        })
        .await;
        let mut connection = connect(&url, &quick()).await.unwrap();
        assert_eq!(next_event(&mut connection).await, SocketEvent::Connected);
        assert_eq!(
            next_event(&mut connection).await,
            SocketEvent::Notification(serde_json::json!({"value": []}))
        );
        assert_eq!(
            next_event(&mut connection).await,
            SocketEvent::Disconnected {
                reason: DisconnectReason::ServerDisconnect
            }
        );
        server.await.unwrap();
    }

    #[tokio::test]
    async fn a_server_that_does_not_open_a_session_is_refused_without_the_token() {
        let (url, server) = server(|mut ws| async move {
            say(&mut ws, r#"42/notifications,["notification","x"]"#).await;
            let _ = ws.next().await;
        })
        .await;
        let err = connect(&url, &quick()).await.unwrap_err();
        assert_eq!(
            err,
            SocketError::Connect("the server did not open an Engine.IO session".into())
        );
        server.await.unwrap();
    }

    /// The upgrade is one HTTP/1.1 GET of `/socket.io/` with `EIO=4&transport=websocket`
    /// and the notificationUrl's query as it was; a refusal is reported by its status,
    /// without the token.
    #[tokio::test]
    async fn the_upgrade_request_is_http_1_1_with_the_query_kept() {
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = tokio::spawn(async move {
            let (mut tcp, _) = listener.accept().await.unwrap();
            let mut request = Vec::new();
            let mut buf = [0u8; 1024];
            while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                let n = tcp.read(&mut buf).await.unwrap();
                assert!(n > 0, "the request ended early");
                request.extend_from_slice(&buf[..n]);
            }
            tcp.write_all(b"HTTP/1.1 403 Forbidden\r\ncontent-length: 0\r\n\r\n")
                .await
                .unwrap();
            String::from_utf8(request).unwrap()
        });
        let url =
            format!("http://127.0.0.1:{port}/notifications?token={SECRET}&applicationId=a%2Bb");
        let err = connect(&url, &quick()).await.unwrap_err();
        let request = server.await.unwrap();
        let first = request.lines().next().unwrap();
        assert_eq!(
            first,
            format!(
                "GET /socket.io/?EIO=4&transport=websocket&token={SECRET}&applicationId=a%2Bb HTTP/1.1"
            )
        );
        let lower = request.to_ascii_lowercase();
        assert!(lower.contains("\r\nupgrade: websocket\r\n"), "{request}");
        assert!(!lower.contains("authorization"), "{request}");
        assert_eq!(
            err,
            SocketError::Connect(
                "the server refused the websocket upgrade: HTTP 403 Forbidden".into()
            )
        );
    }

    /// TLS offers HTTP/1.1 only (the live host refuses HTTP/2) and names the host; a
    /// failed TLS handshake is an error without the token.
    #[tokio::test]
    async fn tls_offers_only_http_1_1() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            let acceptor =
                tokio_rustls::LazyConfigAcceptor::new(rustls::server::Acceptor::default(), tcp);
            let start = acceptor.await.unwrap();
            let hello = start.client_hello();
            let alpn: Vec<Vec<u8>> = hello
                .alpn()
                .map(|offered| offered.map(<[u8]>::to_vec).collect())
                .unwrap_or_default();
            (alpn, hello.server_name().map(str::to_string))
            // Dropped here: the handshake goes no further.
        });
        let url = format!("https://localhost:{port}/notifications?token={SECRET}");
        let err = connect(&url, &quick()).await.unwrap_err();
        let (alpn, name) = server.await.unwrap();
        assert_eq!(alpn, [b"http/1.1".to_vec()]);
        assert_eq!(name.as_deref(), Some("localhost"));
        assert!(matches!(err, SocketError::Connect(_)), "{err:?}");
        assert!(
            err.to_string()
                .starts_with("cannot connect to socket.io: TLS: "),
            "{err}"
        );
        assert!(!format!("{err}{err:?}").contains(SECRET));
    }
}
