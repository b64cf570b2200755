//! v2.0 device-code sign-in and tokens (being built).

use axum::Router;
use serde_json::Value;

use crate::AppState;

#[derive(Default)]
pub struct Identity {}

impl Identity {
    pub fn new() -> Self {
        Identity {}
    }
    pub fn snapshot(&self) -> Value {
        Value::Null
    }
    pub fn restore(&self, _saved: &Value) -> anyhow::Result<()> {
        Ok(())
    }
}

pub fn router() -> Router<AppState> {
    Router::new()
}

pub fn control_router() -> Router<AppState> {
    Router::new()
}
