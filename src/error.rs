//! Exit codes and the one-line error report.
//!
//! Failures travel as `anyhow::Error` so every layer can add context; the layer that
//! knows what the failure *means* for the user (not signed in, target not found, bad
//! usage) puts an [`Error`] at the root of the chain. `main` then reports the whole
//! chain on one line and exits with the code found in it. Scripts rely on the codes
//! (SPEC: 1 error, 2 usage, 3 auth, 4 target, 124 timeout), people rely on the "what to do" hint.

use std::fmt;

use crate::graph::GraphError;

/// Process exit codes fixed by the SPEC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    /// Unrecoverable error.
    Failure = 1,
    /// Bad usage: flags, config file, SPEC syntax.
    Usage = 2,
    /// Not signed in, sign-in declined or expired, token refused.
    Auth = 3,
    /// Target not found, or access denied.
    Target = 4,
    /// `--timeout` reached before `--count` events (the status `timeout(1)` uses).
    Timeout = 124,
}

/// An error that knows its exit code and, usually, what the user should do about it.
#[derive(Debug)]
pub struct Error {
    pub code: Code,
    message: String,
    hint: Option<String>,
}

impl Error {
    pub fn new(code: Code, message: impl Into<String>) -> Self {
        Error {
            code,
            message: message.into(),
            hint: None,
        }
    }

    pub fn usage(message: impl Into<String>) -> Self {
        Self::new(Code::Usage, message)
    }

    pub fn auth(message: impl Into<String>) -> Self {
        Self::new(Code::Auth, message)
    }

    pub fn target(message: impl Into<String>) -> Self {
        Self::new(Code::Target, message)
    }

    pub fn timeout(message: impl Into<String>) -> Self {
        Self::new(Code::Timeout, message)
    }

    pub fn failure(message: impl Into<String>) -> Self {
        Self::new(Code::Failure, message)
    }

    /// What the user can do about it; printed after the message, separated by `; `.
    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

/// The exit code for a failure: the first [`Error`] in the chain decides; a Graph
/// 401 that survived the token refresh means "token refused"; anything else is 1.
pub fn exit_code(err: &anyhow::Error) -> Code {
    for cause in err.chain() {
        if let Some(e) = cause.downcast_ref::<Error>() {
            return e.code;
        }
        if let Some(e) = cause.downcast_ref::<GraphError>() {
            if let Some(code) = e.exit_code() {
                return code;
            }
        }
    }
    Code::Failure
}

/// The one-line report: `<what went wrong>; <what to do>`, the context chain joined
/// with `: ` and no backtrace. Newlines inside messages are folded so that the report
/// stays one line even when a server sent a multi-line message.
pub fn report(err: &anyhow::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    for cause in err.chain() {
        let text = cause.to_string();
        let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
        // thiserror's `transparent` and wrappers can repeat their source's text.
        if text.is_empty() || parts.last().is_some_and(|p| p.ends_with(&text)) {
            continue;
        }
        parts.push(text);
    }
    let mut line = parts.join(": ");
    let hint = err
        .chain()
        .find_map(|c| c.downcast_ref::<Error>().and_then(|e| e.hint.clone()))
        .or_else(|| {
            err.chain()
                .find_map(|c| c.downcast_ref::<GraphError>().and_then(|e| e.hint()))
        })
        .unwrap_or_else(|| default_hint(exit_code(err)).to_string());
    line.push_str("; ");
    line.push_str(&hint);
    line
}

fn default_hint(code: Code) -> &'static str {
    match code {
        Code::Failure => "run again with -v for details",
        Code::Usage => "see `graphwatch --help`",
        Code::Auth => "run `graphwatch login`",
        Code::Target => "check the SPEC and that the signed-in account can read it",
        Code::Timeout => "give a longer --timeout or a smaller --count",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::Context as _;

    #[test]
    fn code_and_hint_come_from_the_root_error() {
        let err = Err::<(), _>(
            Error::auth("not signed in to profile work").hint("run `graphwatch login`"),
        )
        .context("cannot get an access token")
        .unwrap_err();
        assert_eq!(exit_code(&err), Code::Auth);
        assert_eq!(
            report(&err),
            "cannot get an access token: not signed in to profile work; run `graphwatch login`"
        );
    }

    #[test]
    fn plain_errors_exit_1_with_a_default_hint() {
        let err = anyhow::anyhow!("disk full\nreally");
        assert_eq!(exit_code(&err), Code::Failure);
        assert_eq!(
            report(&err),
            "disk full really; run again with -v for details"
        );
    }
}
