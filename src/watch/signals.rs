//! Ctrl-C and SIGTERM as an awaitable stream, installed before anything else starts.

use tokio::sync::mpsc;

/// Ctrl-C (and, on Unix, SIGTERM). The handlers are installed at once, so a signal
/// that comes while targets are being resolved is not lost.
pub struct Signals {
    rx: mpsc::UnboundedReceiver<()>,
}

impl Signals {
    pub fn listen() -> anyhow::Result<Signals> {
        let (tx, rx) = mpsc::unbounded_channel();
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            let mut interrupt = signal(SignalKind::interrupt())
                .map_err(|e| anyhow::anyhow!("cannot listen for Ctrl-C: {e}"))?;
            let mut terminate = signal(SignalKind::terminate())
                .map_err(|e| anyhow::anyhow!("cannot listen for SIGTERM: {e}"))?;
            tokio::spawn(async move {
                loop {
                    tokio::select! {
                        Some(()) = interrupt.recv() => {}
                        Some(()) = terminate.recv() => {}
                        else => break,
                    }
                    if tx.send(()).is_err() {
                        break;
                    }
                }
            });
        }
        #[cfg(not(unix))]
        tokio::spawn(async move {
            while tokio::signal::ctrl_c().await.is_ok() {
                if tx.send(()).is_err() {
                    break;
                }
            }
        });
        Ok(Signals { rx })
    }

    pub async fn next(&mut self) {
        if self.rx.recv().await.is_none() {
            std::future::pending::<()>().await;
        }
    }
}
