//! socket.io server, subscriptions and notifications (being built).

use std::sync::Arc;

use axum::Router;
use serde_json::Value;

use crate::net::Connections;
use crate::AppState;

/// What a subscription watches and what a change touches, with the fields that the
/// notification payload carries for it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Watched {
    /// `drive:{driveId}` or `list:{listId}`; a library's drive and its list are two keys.
    pub key: String,
    /// The payload's `resource` (the underlying list id, as the live service sends).
    pub resource_id: String,
    /// The payload's `siteUrl` (server-relative, e.g. `/personal/adele_contoso_onmicrosoft_com`).
    pub site_url: String,
    /// The payload's `webId`.
    pub web_id: String,
}

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
    /// Create a subscription for `user_id` on `watched`; returns the
    /// `microsoft.graph.subscription` object (id, notificationUrl, expirationDateTime).
    pub fn subscribe(&self, _state: &AppState, _user_id: &str, watched: Watched) -> Value {
        serde_json::json!({ "id": watched.key })
    }
    /// A change touched these keys: notify every socket whose subscription watches one.
    pub fn changed(&self, _state: &AppState, _keys: &[String]) {}
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
