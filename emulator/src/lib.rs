//! A local stand-in for the parts of Microsoft Graph and the Microsoft identity platform
//! that graphwatch uses: the v2.0 device-code and authorization-code (PKCE) sign-ins, users, drives, sites, lists and
//! groups with seed data, the `subscriptions/socketIo` endpoints, a socket.io server that
//! pushes notifications in the live wire format, delta, mutations, and fault injection.
//!
//! It follows `docs/graph-socketio.md` (how the live service behaves), not what is
//! convenient for a client. See `docs/emulator.md` for routes, knobs and the fault API.

pub mod config;
pub mod control;
pub mod error;
pub mod graph;
pub mod identity;
pub mod net;
pub mod push;
pub mod seed;
pub mod store;

use std::net::SocketAddr;
use std::ops::Deref;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};

use anyhow::Context as _;
use axum::Router;
use serde_json::{json, Value};
use tokio::sync::{oneshot, Notify};

pub use config::{EmulatorArgs, Settings};

/// Shared state of one running emulator; each concern owns its part.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

pub struct Inner {
    /// `http://127.0.0.1:PORT`, for links the emulator hands out.
    pub base_url: String,
    pub args: EmulatorArgs,
    settings: RwLock<Settings>,
    pub control: control::Control,
    pub identity: identity::Identity,
    pub store: store::Store,
    pub push: push::Push,
    /// Woken whenever persisted state changed; the saver task writes the file.
    dirty: Notify,
}

impl Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl AppState {
    pub fn settings(&self) -> Settings {
        self.settings.read().unwrap().clone()
    }

    pub fn set_settings(&self, settings: Settings) {
        *self.settings.write().unwrap() = settings;
        // The clock may have moved: expiries are due at other instants now.
        self.push.settings_changed();
    }

    /// The service's clock: the machine's, moved by `clockSkewSecs` (a century at most
    /// either way). Date headers, expirationDateTime and the expiry of subscriptions
    /// follow it, as they follow the live service's own clock; the control log keeps
    /// the machine's.
    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        const CENTURY: i64 = 100 * 365 * 86_400;
        let skew = self.settings().clock_skew_secs.clamp(-CENTURY, CENTURY);
        chrono::Utc::now() + chrono::Duration::seconds(skew)
    }

    /// Say that data, tokens or subscriptions changed, so `--persist` saves them.
    pub fn mark_dirty(&self) {
        if self.args.persist.is_some() {
            self.dirty.notify_one();
        }
    }

    fn snapshot(&self) -> Value {
        json!({
            "store": self.store.snapshot(),
            "identity": self.identity.snapshot(),
            "push": self.push.snapshot(),
        })
    }

    fn restore(&self, saved: &Value) -> anyhow::Result<()> {
        self.store.restore(&saved["store"])?;
        self.identity.restore(&saved["identity"])?;
        self.push.restore(&saved["push"])?;
        Ok(())
    }
}

/// A running emulator. Dropping it does not stop it; call [`Running::shutdown`].
pub struct Running {
    pub base_url: String,
    pub addr: SocketAddr,
    pub state: AppState,
    shutdown: Option<oneshot::Sender<()>>,
    server: tokio::task::JoinHandle<()>,
}

impl Running {
    /// Close every socket and stop serving.
    pub async fn shutdown(mut self) {
        self.state.push.close().await;
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        let _ = self.server.await;
        if self.state.args.persist.is_some() {
            let _ = save(&self.state);
        }
    }

    /// Wait until the server ends (it ends only on shutdown).
    pub async fn wait(self) {
        let _ = self.server.await;
    }
}

/// Bind 127.0.0.1:`args.port`, seed the data and serve in the background.
pub async fn start(args: EmulatorArgs) -> anyhow::Result<Running> {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", args.port))
        .await
        .with_context(|| format!("cannot listen on 127.0.0.1:{}", args.port))?;
    let addr = listener.local_addr()?;
    let base_url = format!("http://{addr}");

    let state = AppState(Arc::new(Inner {
        base_url: base_url.clone(),
        settings: RwLock::new(args.settings.clone()),
        control: control::Control::new(),
        identity: identity::Identity::new(),
        store: store::Store::seeded(),
        push: push::Push::new(),
        dirty: Notify::new(),
        args,
    }));
    if let Some(path) = &state.args.persist {
        if path.exists() {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            let saved: Value = serde_json::from_str(&text)
                .with_context(|| format!("{} is not an emulator state file", path.display()))?;
            state.restore(&saved)?;
        }
        spawn_saver(state.clone(), path.clone());
    }

    let socketio = push::layer(&state);
    let app = Router::new()
        .merge(identity::router())
        .merge(graph::router())
        .merge(control::router())
        .merge(identity::control_router())
        .merge(push::control_router())
        .layer(socketio)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            control::observe,
        ))
        .with_state(state.clone());

    let (tx, rx) = oneshot::channel::<()>();
    let listener = net::TrackedListener::new(listener, state.push.connections());
    let server = tokio::spawn(async move {
        let serve = axum::serve(listener, app).with_graceful_shutdown(async {
            let _ = rx.await;
        });
        if let Err(e) = serve.await {
            tracing::error!("emulator server ended: {e}");
        }
    });
    state.push.start_background(&state);
    Ok(Running {
        base_url,
        addr,
        state,
        shutdown: Some(tx),
        server,
    })
}

fn spawn_saver(state: AppState, path: PathBuf) {
    tokio::spawn(async move {
        loop {
            state.dirty.notified().await;
            if let Err(e) = save(&state) {
                tracing::warn!("cannot save emulator state to {}: {e:#}", path.display());
            }
        }
    });
}

/// Write the persisted state atomically: a temporary file, then a rename.
fn save(state: &AppState) -> anyhow::Result<()> {
    let Some(path) = &state.args.persist else {
        return Ok(());
    };
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, serde_json::to_vec(&state.snapshot())?)?;
    std::fs::rename(&tmp, path)?;
    Ok(())
}

/// Serve until Ctrl-C: the first stdout line is the base URL, logs go to stderr.
pub async fn run(args: EmulatorArgs) -> anyhow::Result<()> {
    let running = start(args).await?;
    // Listen for Ctrl-C before announcing the URL: a harness may send SIGINT as soon as it
    // has read the first line, and `tokio::signal::ctrl_c` only installs its handler when
    // first polled.
    #[cfg(unix)]
    let mut interrupt = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())
        .context("cannot listen for Ctrl-C")?;
    // A service manager or `timeout(1)` stops it with SIGTERM: end as cleanly as on Ctrl-C.
    #[cfg(unix)]
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("cannot listen for SIGTERM")?;
    println!("{}", running.base_url);
    eprintln!(
        "graphwatch emulator on {0}: point --graph-url at {0}/v1.0 and --login-url at {0}; Ctrl-C stops it",
        running.base_url
    );
    #[cfg(unix)]
    tokio::select! {
        _ = interrupt.recv() => {}
        _ = terminate.recv() => {}
    }
    #[cfg(not(unix))]
    tokio::signal::ctrl_c()
        .await
        .context("cannot listen for Ctrl-C")?;
    eprintln!("stopping the emulator");
    running.shutdown().await;
    Ok(())
}
