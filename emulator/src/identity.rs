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
    /// The user id behind the request's `Authorization: Bearer` token, or the 401 that
    /// Graph answers with.
    pub fn authenticate(
        &self,
        headers: &axum::http::HeaderMap,
    ) -> Result<String, crate::error::GraphError> {
        // Interim: the bearer token is the user id (see `control_router`).
        headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::to_string)
            .ok_or_else(|| crate::error::GraphError::unauthenticated("Access token is empty."))
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

/// `POST /_emulator/tokens {"user": UPN-or-id}` mints an access token without sign-in.
pub fn control_router() -> Router<AppState> {
    Router::new().route(
        "/_emulator/tokens",
        axum::routing::post(|axum::Json(body): axum::Json<Value>| async move {
            let user = match body["user"].as_str() {
                Some(crate::seed::MEGAN_UPN) | Some(crate::seed::MEGAN_ID) => crate::seed::MEGAN_ID,
                _ => crate::seed::ADELE_ID,
            };
            axum::Json(serde_json::json!({ "access_token": user }))
        }),
    )
}
