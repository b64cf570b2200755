//! Ctrl-C, SIGTERM and SIGHUP as awaitable streams, installed before anything else starts.
//!
//! SIGHUP means two things on Unix: "the terminal went away" to a program started from
//! one, "reload your configuration" to a daemon. graphwatch tells them apart as daemons
//! do, by the controlling terminal (`Term::has_controlling_terminal`): without one (a
//! systemd service, `setsid`, a container) SIGHUP reloads config.toml
//! (docs/service.md, "Reload"); with one it ends the watch as SIGTERM does, flushed,
//! where before it killed the process unflushed.

use tokio::sync::mpsc;

/// Ctrl-C (and, on Unix, SIGTERM, and SIGHUP as said above). The handlers are
/// installed at once, so a signal that comes while targets are being resolved is not
/// lost.
pub struct Signals {
    rx: mpsc::UnboundedReceiver<()>,
}

/// SIGHUP without a terminal: a reload is asked for.
pub struct Hangups {
    rx: mpsc::UnboundedReceiver<()>,
}

impl Signals {
    /// `reload`: SIGHUP asks for a reload ([`Hangups`]) instead of a stop.
    pub fn listen(reload: bool) -> anyhow::Result<(Signals, Hangups)> {
        let (tx, rx) = mpsc::unbounded_channel();
        let (hangup_tx, hangups) = mpsc::unbounded_channel();
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            let mut interrupt = signal(SignalKind::interrupt())
                .map_err(|e| anyhow::anyhow!("cannot listen for Ctrl-C: {e}"))?;
            let mut terminate = signal(SignalKind::terminate())
                .map_err(|e| anyhow::anyhow!("cannot listen for SIGTERM: {e}"))?;
            let mut hangup = signal(SignalKind::hangup())
                .map_err(|e| anyhow::anyhow!("cannot listen for SIGHUP: {e}"))?;
            tokio::spawn(async move {
                loop {
                    let stop = tokio::select! {
                        Some(()) = interrupt.recv() => true,
                        Some(()) = terminate.recv() => true,
                        Some(()) = hangup.recv() => !reload,
                        else => break,
                    };
                    let sent = if stop {
                        tx.send(())
                    } else {
                        hangup_tx.send(())
                    };
                    if sent.is_err() {
                        break;
                    }
                }
            });
        }
        #[cfg(not(unix))]
        {
            let _ = (reload, hangup_tx);
            tokio::spawn(async move {
                while tokio::signal::ctrl_c().await.is_ok() {
                    if tx.send(()).is_err() {
                        break;
                    }
                }
            });
        }
        Ok((Signals { rx }, Hangups { rx: hangups }))
    }

    /// Ctrl-C, SIGTERM (or SIGHUP with a terminal).
    pub async fn next(&mut self) {
        if self.rx.recv().await.is_none() {
            std::future::pending::<()>().await;
        }
    }
}

impl Hangups {
    /// The next SIGHUP.
    pub async fn next(&mut self) {
        if self.rx.recv().await.is_none() {
            std::future::pending::<()>().await;
        }
    }
}
