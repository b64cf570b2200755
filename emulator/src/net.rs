//! The listener under the emulator: it keeps a handle on every accepted connection so
//! faults can act below socket.io, where socketioxide cannot: a transport that vanishes
//! without a websocket close frame or a socket.io `41` (KILL), and a link that goes
//! silent both ways for a while (STALL). Those are the failures a real client meets on a
//! real network, and the ones a client's ping watchdog and reconnect logic exist for.
//! One more switch is for benchmarks, not faults: HOLD keeps what the server writes in
//! memory until it is released, so a whole burst can be queued before the client reads
//! any of it (bench/run's "queued" regime).

use std::collections::HashMap;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

/// What the first request on a socket.io connection starts with. Engine.IO clients open
/// a fresh connection for the websocket, so the first bytes are enough to tell.
const SOCKETIO_PREFIX: &[u8] = b"GET /socket.io/";

/// Every live connection, for the transport faults.
#[derive(Default)]
pub struct Connections {
    next_id: AtomicU64,
    live: Mutex<HashMap<u64, Arc<Conn>>>,
}

/// One accepted connection as the fault switches see it.
struct Conn {
    state: Mutex<ConnState>,
}

#[derive(Default)]
struct ConnState {
    /// Decided from the first request bytes; `None` until enough bytes were read.
    socketio: Option<bool>,
    killed: bool,
    stalled_until: Option<Instant>,
    /// While set, writes go to `held` instead of the socket.
    holding: bool,
    /// What was written during a hold and is not sent yet (from `held_sent` on); sent
    /// before anything written after the release.
    held: Vec<u8>,
    held_sent: usize,
    /// Reads and writes of an upgraded websocket are polled from different tasks, so
    /// each direction keeps its own waker for the end of a stall or a kill.
    read_waker: Option<Waker>,
    write_waker: Option<Waker>,
}

impl ConnState {
    fn wake(&mut self) {
        if let Some(w) = self.read_waker.take() {
            w.wake();
        }
        if let Some(w) = self.write_waker.take() {
            w.wake();
        }
    }
}

impl Connections {
    fn register(self: &Arc<Self>) -> (u64, Arc<Conn>) {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let conn = Arc::new(Conn {
            state: Mutex::new(ConnState::default()),
        });
        self.live.lock().unwrap().insert(id, conn.clone());
        (id, conn)
    }

    fn socketio_conns(&self) -> Vec<Arc<Conn>> {
        self.live
            .lock()
            .unwrap()
            .values()
            .filter(|c| c.state.lock().unwrap().socketio == Some(true))
            .cloned()
            .collect()
    }

    /// Open connections whose first request was a socket.io one.
    pub fn socketio_count(&self) -> usize {
        self.socketio_conns().len()
    }

    /// End every socket.io connection abruptly: the next poll on each sets `SO_LINGER`
    /// to zero and closes the socket, so the peer gets a TCP reset and no close frame.
    /// Returns how many connections were hit.
    pub fn kill_socketio(&self) -> usize {
        let conns = self.socketio_conns();
        for conn in &conns {
            let mut st = conn.state.lock().unwrap();
            st.killed = true;
            st.wake();
        }
        conns.len()
    }

    /// Make every socket.io connection silent both ways for `duration`: nothing is read
    /// from it or written to it until then, as on a black-holed route. One timer per
    /// call wakes the connections when the stall ends; nothing polls in between.
    /// Returns how many connections were hit.
    pub fn stall_socketio(&self, duration: Duration) -> usize {
        let until = Instant::now() + duration;
        let conns = self.socketio_conns();
        for conn in &conns {
            let mut st = conn.state.lock().unwrap();
            st.stalled_until = Some(st.stalled_until.map_or(until, |u| u.max(until)));
        }
        let weak: Vec<Weak<Conn>> = conns.iter().map(Arc::downgrade).collect();
        tokio::spawn(async move {
            tokio::time::sleep_until(until.into()).await;
            for conn in weak.iter().filter_map(Weak::upgrade) {
                let mut st = conn.state.lock().unwrap();
                // A later, longer stall keeps the connection silent; its own timer ends it.
                if st.stalled_until.is_some_and(|u| u <= Instant::now()) {
                    st.stalled_until = None;
                    st.wake();
                }
            }
        });
        conns.len()
    }

    /// From now on, keep what the server writes on every socket.io connection in memory
    /// instead of sending it; reads go on. Returns how many connections were hit.
    pub fn hold_socketio(&self) -> usize {
        let conns = self.socketio_conns();
        for conn in &conns {
            conn.state.lock().unwrap().holding = true;
        }
        conns.len()
    }

    /// Held connections and the bytes they hold, not yet sent.
    pub fn held(&self) -> (usize, usize) {
        let live = self.live.lock().unwrap();
        let mut conns = 0;
        let mut bytes = 0;
        for conn in live.values() {
            let st = conn.state.lock().unwrap();
            if st.holding || st.held_sent < st.held.len() {
                conns += 1;
                bytes += st.held.len() - st.held_sent;
            }
        }
        (conns, bytes)
    }

    /// End every hold: what was held is sent first, as fast as the peer reads it. Both
    /// directions are woken, because the writer may be idle: the read side, which is
    /// always waiting for the peer, sends the held bytes then. Returns the connections
    /// and the bytes they held.
    pub fn release_held(&self) -> (usize, usize) {
        let (conns, bytes) = self.held();
        for conn in self.live.lock().unwrap().values() {
            let mut st = conn.state.lock().unwrap();
            if st.holding {
                st.holding = false;
                st.wake();
            }
        }
        (conns, bytes)
    }

    /// End every stall now, so a shutdown is not held up by a silent connection.
    pub fn unstall_all(&self) {
        for conn in self.live.lock().unwrap().values() {
            let mut st = conn.state.lock().unwrap();
            if st.stalled_until.take().is_some() {
                st.wake();
            }
        }
    }
}

pub struct TrackedListener {
    inner: TcpListener,
    connections: Arc<Connections>,
}

impl TrackedListener {
    pub fn new(inner: TcpListener, connections: Arc<Connections>) -> Self {
        TrackedListener { inner, connections }
    }
}

impl axum::serve::Listener for TrackedListener {
    type Io = TrackedStream;
    type Addr = std::net::SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        let (stream, addr) = axum::serve::Listener::accept(&mut self.inner).await;
        // Notification frames are small; Nagle's algorithm would add tens of
        // milliseconds to the latency that burst tests measure.
        let _ = stream.set_nodelay(true);
        let (id, conn) = self.connections.register();
        let io = TrackedStream {
            inner: Some(stream),
            id,
            conn,
            connections: Arc::downgrade(&self.connections),
            sniffed: Vec::new(),
        };
        (io, addr)
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.inner.local_addr()
    }
}

/// A TCP stream that obeys the fault switches of its [`Conn`].
pub struct TrackedStream {
    /// `None` once killed: the socket is closed and every further call fails.
    inner: Option<TcpStream>,
    id: u64,
    conn: Arc<Conn>,
    connections: Weak<Connections>,
    /// The first bytes read, kept until the connection is classified.
    sniffed: Vec<u8>,
}

enum Gate {
    Open,
    Pending,
    Dead,
}

#[derive(Clone, Copy)]
enum Dir {
    Read,
    Write,
}

impl ConnState {
    /// Keep the task's waker for `dir`, so a stall's end or a kill can wake it.
    fn remember_waker(&mut self, dir: Dir, cx: &Context<'_>) {
        let slot = match dir {
            Dir::Read => &mut self.read_waker,
            Dir::Write => &mut self.write_waker,
        };
        match slot {
            Some(w) if w.will_wake(cx.waker()) => {}
            _ => *slot = Some(cx.waker().clone()),
        }
    }
}

impl TrackedStream {
    fn gate(&mut self, cx: &Context<'_>, dir: Dir) -> Gate {
        let mut st = self.conn.state.lock().unwrap();
        if st.killed {
            if let Some(stream) = self.inner.take() {
                // Zero linger turns the close into a reset: the peer sees the transport
                // vanish, exactly like a dropped NAT mapping or a crashed front end.
                let _ = stream.set_zero_linger();
                drop(stream);
            }
            return Gate::Dead;
        }
        if self.inner.is_none() {
            return Gate::Dead;
        }
        match st.stalled_until {
            Some(until) if Instant::now() < until => {
                st.remember_waker(dir, cx);
                Gate::Pending
            }
            Some(_) => {
                st.stalled_until = None;
                Gate::Open
            }
            None => {
                // Keep the waker so that a kill reaches a connection that is only waiting.
                st.remember_waker(dir, cx);
                Gate::Open
            }
        }
    }

    /// Send what a hold kept, before anything else. `Ready(Ok(true))` while the hold
    /// lasts (a write is to be kept too), `Ready(Ok(false))` once nothing is held.
    fn drain_held(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<bool>> {
        let conn = self.conn.clone();
        let mut st = conn.state.lock().unwrap();
        if st.holding {
            return Poll::Ready(Ok(true));
        }
        while st.held_sent < st.held.len() {
            let Some(inner) = self.inner.as_mut() else {
                return Poll::Ready(Err(reset()));
            };
            let from = st.held_sent;
            match Pin::new(inner).poll_write(cx, &st.held[from..]) {
                Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Poll::Ready(Ok(n)) => st.held_sent += n,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            }
        }
        if !st.held.is_empty() {
            st.held = Vec::new();
            st.held_sent = 0;
            // The read side may have sent the last of it and taken the socket's one
            // write-readiness slot from a writer that waits: let the writer look again.
            if let Some(w) = st.write_waker.take() {
                w.wake();
            }
        }
        Poll::Ready(Ok(false))
    }

    /// Keep `data` while a hold lasts.
    fn keep(&self, data: &[u8]) {
        self.conn.state.lock().unwrap().held.extend_from_slice(data);
    }

    fn sniff(&mut self, fresh: &[u8]) {
        let want = SOCKETIO_PREFIX.len() - self.sniffed.len();
        self.sniffed
            .extend_from_slice(&fresh[..fresh.len().min(want)]);
        let seen = &self.sniffed[..];
        let verdict = if !SOCKETIO_PREFIX.starts_with(seen) {
            Some(false)
        } else if seen.len() == SOCKETIO_PREFIX.len() {
            Some(true)
        } else if fresh.is_empty() {
            // End of stream before the prefix was complete.
            Some(false)
        } else {
            None
        };
        if let Some(v) = verdict {
            self.conn.state.lock().unwrap().socketio = Some(v);
            self.sniffed = Vec::new();
        }
    }

    fn classified(&self) -> bool {
        self.conn.state.lock().unwrap().socketio.is_some()
    }
}

fn reset() -> io::Error {
    io::Error::new(
        io::ErrorKind::ConnectionReset,
        "connection killed by the emulator",
    )
}

impl AsyncRead for TrackedStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        match this.gate(cx, Dir::Read) {
            Gate::Dead => return Poll::Ready(Err(reset())),
            Gate::Pending => return Poll::Pending,
            Gate::Open => {}
        }
        // After a release the writer may have nothing new to write: the read side, always
        // polled, sends the held bytes (a write error shows up on the next write).
        let _ = this.drain_held(cx);
        let Some(inner) = this.inner.as_mut() else {
            return Poll::Ready(Err(reset()));
        };
        let before = buf.filled().len();
        let result = Pin::new(inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = &result {
            if !this.classified() {
                let fresh = buf.filled()[before..].to_vec();
                this.sniff(&fresh);
            }
        }
        result
    }
}

impl AsyncWrite for TrackedStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        match this.gate(cx, Dir::Write) {
            Gate::Dead => Poll::Ready(Err(reset())),
            Gate::Pending => Poll::Pending,
            Gate::Open => match this.drain_held(cx) {
                Poll::Ready(Ok(true)) => {
                    this.keep(data);
                    Poll::Ready(Ok(data.len()))
                }
                Poll::Ready(Ok(false)) => match this.inner.as_mut() {
                    Some(inner) => Pin::new(inner).poll_write(cx, data),
                    None => Poll::Ready(Err(reset())),
                },
                Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
                Poll::Pending => Poll::Pending,
            },
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        match this.gate(cx, Dir::Write) {
            Gate::Dead => Poll::Ready(Err(reset())),
            Gate::Pending => Poll::Pending,
            Gate::Open => match this.drain_held(cx) {
                Poll::Ready(Ok(true)) => {
                    let mut n = 0;
                    for buf in bufs {
                        this.keep(buf);
                        n += buf.len();
                    }
                    Poll::Ready(Ok(n))
                }
                Poll::Ready(Ok(false)) => match this.inner.as_mut() {
                    Some(inner) => Pin::new(inner).poll_write_vectored(cx, bufs),
                    None => Poll::Ready(Err(reset())),
                },
                Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
                Poll::Pending => Poll::Pending,
            },
        }
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        match this.gate(cx, Dir::Write) {
            Gate::Dead => Poll::Ready(Err(reset())),
            Gate::Pending => Poll::Pending,
            Gate::Open => match this.drain_held(cx) {
                // Nothing of a hold is sent, so there is nothing to flush.
                Poll::Ready(Ok(true)) => Poll::Ready(Ok(())),
                Poll::Ready(Ok(false)) => match this.inner.as_mut() {
                    Some(inner) => Pin::new(inner).poll_flush(cx),
                    None => Poll::Ready(Err(reset())),
                },
                Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
                Poll::Pending => Poll::Pending,
            },
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        match this.gate(cx, Dir::Write) {
            Gate::Dead => Poll::Ready(Ok(())),
            Gate::Pending => Poll::Pending,
            Gate::Open => match this.inner.as_mut() {
                Some(inner) => Pin::new(inner).poll_shutdown(cx),
                None => Poll::Ready(Ok(())),
            },
        }
    }
}

impl Drop for TrackedStream {
    fn drop(&mut self) {
        if let Some(connections) = self.connections.upgrade() {
            connections.live.lock().unwrap().remove(&self.id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::serve::Listener as _;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    async fn pair(listener: &mut TrackedListener) -> (TcpStream, TrackedStream) {
        let addr = listener.local_addr().unwrap();
        let client = TcpStream::connect(addr).await.unwrap();
        let (server, _) = listener.accept().await;
        (client, server)
    }

    #[tokio::test]
    async fn sniffs_socketio_across_reads_and_kills_only_those() {
        let connections = Arc::new(Connections::default());
        let mut listener = TrackedListener::new(
            TcpListener::bind("127.0.0.1:0").await.unwrap(),
            connections.clone(),
        );
        let (mut sio_client, mut sio_server) = pair(&mut listener).await;
        let (mut http_client, mut http_server) = pair(&mut listener).await;
        let mut buf = [0u8; 64];

        sio_client.write_all(b"GET /so").await.unwrap();
        let n = sio_server.read(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"GET /so");
        assert_eq!(connections.socketio_count(), 0);
        sio_client.write_all(b"cket.io/?EIO=4").await.unwrap();
        sio_server.read_exact(&mut buf[..14]).await.unwrap();
        assert_eq!(connections.socketio_count(), 1);

        http_client
            .write_all(b"GET /v1.0/me HTTP/1.1\r\n")
            .await
            .unwrap();
        http_server.read_exact(&mut buf[..23]).await.unwrap();
        assert_eq!(connections.socketio_count(), 1);

        assert_eq!(connections.kill_socketio(), 1);
        let err = sio_server.read(&mut buf).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::ConnectionReset);
        // The peer sees a reset, not an orderly end.
        let seen = sio_client.read(&mut buf).await;
        assert!(
            matches!(&seen, Err(e) if e.kind() == io::ErrorKind::ConnectionReset),
            "{seen:?}"
        );
        http_server.write_all(b"still here").await.unwrap();
        let n = http_client.read(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"still here");

        drop(sio_server);
        assert_eq!(connections.socketio_count(), 0);
    }

    #[tokio::test]
    async fn stall_holds_both_directions_then_releases() {
        let connections = Arc::new(Connections::default());
        let mut listener = TrackedListener::new(
            TcpListener::bind("127.0.0.1:0").await.unwrap(),
            connections.clone(),
        );
        let (mut client, mut server) = pair(&mut listener).await;
        let mut buf = [0u8; 64];
        client.write_all(b"GET /socket.io/?EIO=4").await.unwrap();
        server.read_exact(&mut buf[..21]).await.unwrap();

        assert_eq!(connections.stall_socketio(Duration::from_millis(300)), 1);
        let started = Instant::now();
        client.write_all(b"pong").await.unwrap();
        let n = server.read(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"pong");
        assert!(started.elapsed() >= Duration::from_millis(290));

        connections.stall_socketio(Duration::from_millis(300));
        let started = Instant::now();
        server.write_all(b"ping").await.unwrap();
        assert!(started.elapsed() >= Duration::from_millis(290));
        let n = client.read(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"ping");
    }

    #[tokio::test]
    async fn a_hold_keeps_writes_until_the_release_and_an_idle_writer_still_sends_them() {
        let connections = Arc::new(Connections::default());
        let mut listener = TrackedListener::new(
            TcpListener::bind("127.0.0.1:0").await.unwrap(),
            connections.clone(),
        );
        let (mut client, mut server) = pair(&mut listener).await;
        let mut buf = [0u8; 64];
        client.write_all(b"GET /socket.io/?EIO=4").await.unwrap();
        server.read_exact(&mut buf[..21]).await.unwrap();

        assert_eq!(connections.hold_socketio(), 1);
        server.write_all(b"first ").await.unwrap();
        server.flush().await.unwrap();
        server.write_all(b"second").await.unwrap();
        assert_eq!(connections.held(), (1, 12));
        // On loopback a sent byte is readable once the write returns: none was sent.
        let nothing = client.try_read(&mut buf);
        assert!(
            matches!(&nothing, Err(e) if e.kind() == io::ErrorKind::WouldBlock),
            "{nothing:?}"
        );

        // The writer has nothing more to write; only the read side waits, as a
        // websocket server's does. The release must get the held bytes out anyway.
        let (mut rd, mut wr) = tokio::io::split(server);
        let reader = tokio::spawn(async move {
            let mut b = [0u8; 8];
            let n = rd.read(&mut b).await.unwrap();
            b[..n].to_vec()
        });
        assert_eq!(connections.release_held(), (1, 12));
        let got = tokio::time::timeout(Duration::from_secs(30), client.read_exact(&mut buf[..12]))
            .await
            .expect("the held bytes were never sent");
        got.unwrap();
        assert_eq!(&buf[..12], b"first second");
        assert_eq!(connections.held(), (0, 0));
        // After the release, writes go straight through.
        wr.write_all(b"!").await.unwrap();
        client.read_exact(&mut buf[..1]).await.unwrap();
        assert_eq!(&buf[..1], b"!");
        client.write_all(b"pong").await.unwrap();
        assert_eq!(reader.await.unwrap(), b"pong");
    }
}
