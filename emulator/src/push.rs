//! socket.io server, subscriptions and notifications (being built).

use std::sync::Arc;

use axum::Router;
use serde_json::Value;

use crate::net::Connections;
use crate::AppState;

pub struct Push {
    connections: Arc<Connections>,
}

impl Default for Push {
    fn default() -> Self {
        Self::new()
    }
}

impl Push {
    pub fn new() -> Self {
        Push {
            connections: Arc::new(Connections::default()),
        }
    }
    pub fn connections(&self) -> Arc<Connections> {
        self.connections.clone()
    }
    pub fn live_sockets(&self) -> usize {
        0
    }
    pub async fn close(&self) {}
    pub fn start_background(&self, _state: &AppState) {}
    pub fn snapshot(&self) -> Value {
        Value::Null
    }
    pub fn restore(&self, _saved: &Value) -> anyhow::Result<()> {
        Ok(())
    }
}

pub fn layer(_state: &AppState) -> tower::layer::util::Identity {
    tower::layer::util::Identity::new()
}

pub fn control_router() -> Router<AppState> {
    Router::new()
}
