//! Error bodies in the two shapes clients see: Graph's `{"error":{"code","message"}}`
//! and the identity platform's `{"error":"…","error_description":"AADSTS…"}`.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// A Graph error response.
#[derive(Debug, Clone)]
pub struct GraphError {
    pub status: StatusCode,
    pub code: String,
    pub message: String,
    /// Seconds for `Retry-After` (429/503).
    pub retry_after: Option<u64>,
    /// `Location` header (410 on delta may carry a fresh link).
    pub location: Option<String>,
}

impl GraphError {
    pub fn new(status: StatusCode, code: &str, message: impl Into<String>) -> Self {
        GraphError {
            status,
            code: code.to_string(),
            message: message.into(),
            retry_after: None,
            location: None,
        }
    }
    pub fn unauthenticated(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "InvalidAuthenticationToken",
            message,
        )
    }
    pub fn forbidden() -> Self {
        Self::new(StatusCode::FORBIDDEN, "accessDenied", "Access denied")
    }
    pub fn not_found(what: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "itemNotFound",
            format!("The resource could not be found: {what}"),
        )
    }
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalidRequest", message)
    }
    pub fn resync_required(location: Option<String>) -> Self {
        GraphError {
            location,
            ..Self::new(
                StatusCode::GONE,
                "resyncRequired",
                "Resync required. Replace any local items with the server's version (including deletes) if you're sure that the service was up to date with your local changes when you last sync'd. Upload any local changes that the server doesn't know about.",
            )
        }
    }
    /// The error for an injected failure of the given status, as the live service words it.
    pub fn injected(status: u16, retry_after: Option<u64>) -> Self {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
        let (code, message) = match status.as_u16() {
            400 => ("notSupported", "Operation not supported"),
            401 => (
                "InvalidAuthenticationToken",
                "Access token has expired or is not yet valid.",
            ),
            403 => ("accessDenied", "Access denied"),
            404 => ("itemNotFound", "The resource could not be found."),
            410 => ("resyncRequired", "Resync required."),
            429 => ("activityLimitReached", "The request has been throttled"),
            503 => (
                "serviceNotAvailable",
                "The service is temporarily unavailable.",
            ),
            _ => ("generalException", "An error occurred."),
        };
        GraphError {
            retry_after,
            ..Self::new(status, code, message)
        }
    }
}

impl IntoResponse for GraphError {
    fn into_response(self) -> Response {
        let body = json!({
            "error": {
                "code": self.code,
                "message": self.message,
                "innerError": {
                    "date": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                    "request-id": uuid::Uuid::new_v4().to_string(),
                }
            }
        });
        let mut response = (self.status, axum::Json(body)).into_response();
        if let Some(secs) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if let Some(location) = self.location.and_then(|l| HeaderValue::from_str(&l).ok()) {
            response.headers_mut().insert(header::LOCATION, location);
        }
        response
    }
}

/// An OAuth 2.0 error from the v2.0 endpoints.
#[derive(Debug, Clone)]
pub struct OAuthError {
    pub status: StatusCode,
    pub error: &'static str,
    pub aadsts: u32,
    pub description: String,
    pub retry_after: Option<u64>,
}

impl OAuthError {
    pub fn new(error: &'static str, aadsts: u32, description: impl Into<String>) -> Self {
        OAuthError {
            status: StatusCode::BAD_REQUEST,
            error,
            aadsts,
            description: description.into(),
            retry_after: None,
        }
    }
    /// The error for an injected failure of the token or device-code route.
    pub fn injected(status: u16, retry_after: Option<u64>) -> Self {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
        let (error, aadsts, description) = match status.as_u16() {
            400 => ("invalid_request", 900144, "The request is not supported."),
            401 => ("invalid_client", 7000215, "Invalid client secret provided."),
            403 => (
                "unauthorized_client",
                700016,
                "The client is not allowed here.",
            ),
            429 => ("temporarily_unavailable", 50196, "Too many requests."),
            _ => (
                "temporarily_unavailable",
                90033,
                "The service is temporarily unavailable.",
            ),
        };
        OAuthError {
            status,
            retry_after,
            ..Self::new(error, aadsts, description)
        }
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let now = chrono::Utc::now();
        let body = json!({
            "error": self.error,
            "error_description": format!(
                "AADSTS{}: {}\r\nTrace ID: {}\r\nCorrelation ID: {}\r\nTimestamp: {}",
                self.aadsts,
                self.description,
                uuid::Uuid::new_v4(),
                uuid::Uuid::new_v4(),
                now.format("%Y-%m-%d %H:%M:%SZ")
            ),
            "error_codes": [self.aadsts],
            "timestamp": now.format("%Y-%m-%d %H:%M:%SZ").to_string(),
            "trace_id": uuid::Uuid::new_v4().to_string(),
            "correlation_id": uuid::Uuid::new_v4().to_string(),
        });
        let mut response = (self.status, axum::Json(body)).into_response();
        if let Some(secs) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}
