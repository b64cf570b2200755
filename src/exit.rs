//! From a failure to what the user sees: the exit code and the one-line report
//! (`<what went wrong>; <what to do>`). The only place that looks inside the error chain
//! for [`GraphError`]s, so that [`crate::error`] stays a leaf that every layer may use
//! (xh's `error_reporting.rs` beside its main).
//!
//! The codes are the contract's (docs/contract.md, "Exit status"): 1 error, 2 usage,
//! 3 sign-in, 4 target, 124 timeout.

pub use crate::error::Code;
use crate::error::Error;
use crate::graph::GraphError;

/// The exit code for a failure: the first [`Error`] in the chain decides; a Graph
/// 401 that survived the token refresh means "token refused"; anything else is 1.
pub fn exit_code(err: &anyhow::Error) -> Code {
    for cause in err.chain() {
        if let Some(e) = cause.downcast_ref::<Error>() {
            return e.code;
        }
        if let Some(e) = cause.downcast_ref::<GraphError>() {
            if let Some(code) = graph_exit_code(e) {
                return code;
            }
        }
    }
    Code::Failure
}

/// Write the one-line report on stderr as the last line of a failed command: as it is
/// for people, or in the log format in force (`json`, `journald`, src/logging.rs), so
/// that a service's stderr is one format to the end.
pub fn report(err: &anyhow::Error) {
    let line = format!("graphwatch: {}", one_line(err));
    if crate::logging::for_people() {
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), "{line}");
    } else {
        tracing::error!(target: "graphwatch::exit", "{line}");
    }
}

/// The one-line report: `<what went wrong>; <what to do>`, the context chain joined
/// with `: ` and no backtrace. Newlines inside messages are folded so that the report
/// stays one line even when a server sent a multi-line message.
pub fn one_line(err: &anyhow::Error) -> String {
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
                .find_map(|c| c.downcast_ref::<GraphError>().and_then(graph_hint))
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

/// A Graph error's own code: a refused token is a sign-in problem wherever it surfaced.
fn graph_exit_code(err: &GraphError) -> Option<Code> {
    match err {
        GraphError::Token(inner) => Some(exit_code(inner)),
        GraphError::Status { status: 401, .. } => Some(Code::Auth),
        _ => None,
    }
}

/// What to do about a Graph error, when the error itself says.
fn graph_hint(err: &GraphError) -> Option<String> {
    match err {
        GraphError::Token(inner) => Some(
            one_line(inner)
                .rsplit_once("; ")
                .map(|(_, hint)| hint.to_string())
                .unwrap_or_default(),
        ),
        GraphError::Status { status, .. } => match status {
            401 => Some("run `graphwatch login` again".into()),
            403 => Some(
                "check that the account can read it and that the sign-in has the scope for it"
                    .into(),
            ),
            429 | 503 => Some("Graph is throttling or busy; try again in a while".into()),
            _ => None,
        },
        GraphError::Transport { .. } => {
            Some("check the network and --graph-url, then try again".into())
        }
        _ => None,
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
            one_line(&err),
            "cannot get an access token: not signed in to profile work; run `graphwatch login`"
        );
    }

    #[test]
    fn plain_errors_exit_1_with_a_default_hint() {
        let err = anyhow::anyhow!("disk full\nreally");
        assert_eq!(exit_code(&err), Code::Failure);
        assert_eq!(
            one_line(&err),
            "disk full really; run again with -v for details"
        );
    }
}
