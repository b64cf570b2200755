//! The error that knows its exit code: a leaf every layer may use.
//!
//! Failures travel as `anyhow::Error` so every layer can add context; the layer that
//! knows what the failure *means* for the user (not signed in, target not found, bad
//! usage) puts an [`Error`] at the root of the chain. [`crate::exit`] then reports the
//! whole chain on one line and finds the code in it. Scripts rely on the codes
//! (docs/contract.md: 1 error, 2 usage, 3 sign-in, 4 target, 124 timeout), people rely
//! on the "what to do" hint.

use std::fmt;

/// Process exit codes fixed by the contract (docs/contract.md, "Exit status").
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
    pub(crate) hint: Option<String>,
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
