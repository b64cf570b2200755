//! The listener under the emulator: it keeps a handle on every accepted connection so
//! faults can act below socket.io (kill a transport without a close handshake, stall it).

use std::sync::Arc;

use tokio::net::{TcpListener, TcpStream};

/// Every live connection, for the transport faults.
#[derive(Default)]
pub struct Connections {}

pub struct TrackedListener {
    inner: TcpListener,
    _connections: Arc<Connections>,
}

impl TrackedListener {
    pub fn new(inner: TcpListener, connections: Arc<Connections>) -> Self {
        TrackedListener {
            inner,
            _connections: connections,
        }
    }
}

impl axum::serve::Listener for TrackedListener {
    type Io = TcpStream;
    type Addr = std::net::SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        axum::serve::Listener::accept(&mut self.inner).await
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.inner.local_addr()
    }
}
