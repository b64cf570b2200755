//! What a failed Graph request was, sorted so that callers can tell 403 from 404 from
//! 410, and transient from permanent, without parsing text.

use std::time::Duration;

use serde_json::Value;

use crate::tokens::SignInUnavailable;
use crate::util::text::shown_text;

/// A failed Graph request.
#[derive(Debug, thiserror::Error)]
pub enum GraphError {
    /// Graph answered with an error status.
    #[error("{request} → {status} {code}: {message}")]
    Status {
        /// `GET /path?name=…`, safe to show.
        request: String,
        status: u16,
        /// Graph's `error.code` (e.g. `itemNotFound`), or the HTTP reason phrase.
        code: String,
        message: String,
        retry_after: Option<Duration>,
        /// `Location` header (a 410 on delta may carry a fresh link). A secret.
        location: Option<String>,
    },
    /// No answer: DNS, connection, TLS or timeout.
    #[error("{request} failed: {source}")]
    Transport {
        request: String,
        #[source]
        source: reqwest::Error,
    },
    /// An answer that is not the JSON the caller expects.
    #[error("{request}: unexpected answer from Graph ({source})")]
    Decode {
        request: String,
        #[source]
        source: serde_json::Error,
    },
    /// No usable access token (not signed in, sign-in expired, token refused).
    #[error(transparent)]
    Token(anyhow::Error),
    /// A link that does not point at the Graph host (or a path that escapes the base).
    #[error("refusing to request {0}: it is not on the Graph host")]
    ForeignLink(String),
}

impl GraphError {
    /// The HTTP status, when Graph answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            GraphError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// 410 Gone: a delta cursor that is no longer valid.
    pub fn is_gone(&self) -> bool {
        self.status() == Some(410)
    }

    /// Graph's error code, e.g. `itemNotFound`, `resyncRequired`, `notSupported`.
    pub fn code(&self) -> Option<&str> {
        match self {
            GraphError::Status { code, .. } => Some(code),
            _ => None,
        }
    }

    /// The `Retry-After` of the error answer (429/503): how long Graph asked us to wait
    /// before the next request. Set when the client did not wait it out itself (longer
    /// than its cap, or the last attempt).
    /// For a token that cannot be renewed for now ([`SignInUnavailable`]): how long
    /// until the sign-in service is asked again.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            GraphError::Status { retry_after, .. } => *retry_after,
            GraphError::Token(inner) => SignInUnavailable::of(inner).map(|u| u.retry_after()),
            _ => None,
        }
    }

    /// The `Location` header of the error answer (410 on delta).
    pub fn location(&self) -> Option<&str> {
        match self {
            GraphError::Status { location, .. } => location.as_deref(),
            _ => None,
        }
    }

    /// `GET /path → 404 itemNotFound`: what was tried, without Graph's long message.
    pub fn summary(&self) -> String {
        match self {
            GraphError::Status {
                request,
                status,
                code,
                ..
            } => format!("{request} → {status} {code}"),
            other => other.to_string(),
        }
    }

    /// Worth trying again later, as opposed to a refused token or a target that is
    /// gone or forbidden, which no retry will fix. The one rule for every caller (the
    /// supervisor's socketIo request, delta rounds and baselines):
    ///
    /// - transient: no answer (network, TLS, timeout), an answer that is not the JSON
    ///   expected, 408, 409, 429, every 5xx, and `400 notSupported` (some business
    ///   accounts get it from the socketIo endpoint, sometimes only for a while:
    ///   docs/graph-socketio.md §1),
    ///   and a token that cannot be renewed for now because the sign-in service is
    ///   unreachable or failing ([`SignInUnavailable`]);
    /// - permanent: no usable token otherwise (not signed in, the sign-in expired or was
    ///   revoked: exit 3), a link off the Graph host, and every other 4xx (403 and 404
    ///   become exit 4 where a target is resolved).
    pub fn is_transient(&self) -> bool {
        match self {
            GraphError::Transport { .. } | GraphError::Decode { .. } => true,
            GraphError::Token(inner) => SignInUnavailable::of(inner).is_some(),
            GraphError::ForeignLink(_) => false,
            GraphError::Status { status, code, .. } => match *status {
                400 => code == "notSupported",
                408 | 409 | 429 => true,
                401..=499 => false,
                _ => true,
            },
        }
    }
}

/// Graph's `{"error":{"code":"…","message":"…"}}`.
pub fn parse_error_body(body: &[u8]) -> Option<(String, String)> {
    let value: Value = serde_json::from_slice(body).ok()?;
    let error = value.get("error")?;
    // Both are shown on one line of stderr, maybe on a terminal: no control characters
    // (a line break would split the line, an escape sequence would drive the terminal).
    let code = shown_text(error.get("code")?.as_str()?, 100);
    let message = shown_text(
        error.get("message").and_then(Value::as_str).unwrap_or(""),
        300,
    );
    Some((code, message))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{Code, Error};

    #[test]
    fn a_sign_in_that_cannot_be_renewed_for_now_is_transient_and_exit_1_with_its_hint() {
        let unavailable = SignInUnavailable::new(
            Error::failure("cannot renew the sign-in of profile default: 503").hint("try later"),
            Duration::from_secs(3),
        );
        let err = GraphError::Token(anyhow::Error::new(unavailable));
        assert!(err.is_transient());
        assert_eq!(err.retry_after(), Some(Duration::from_secs(3)));
        let err = anyhow::Error::new(err);
        assert_eq!(crate::exit::exit_code(&err), Code::Failure);
        assert_eq!(
            crate::exit::one_line(&err),
            "cannot renew the sign-in of profile default: 503; try later"
        );

        let over = GraphError::Token(
            Error::auth("the sign-in for profile default has expired or was revoked").into(),
        );
        assert!(!over.is_transient());
        assert_eq!(over.retry_after(), None);
        assert_eq!(crate::exit::exit_code(&over.into()), Code::Auth);
    }
}
