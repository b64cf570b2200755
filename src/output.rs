//! Where text goes. stdout carries command results only (JSON lines, or text for
//! people with `-o pretty`); everything else — prompts, progress, notes — goes to
//! stderr. A closed stdout (`| head -1`) is not an error: see [`is_broken_pipe`].

use std::fmt::Display;
use std::io::{IsTerminal as _, Write as _};

use serde::Serialize;

use crate::cli::OutputFormat;

/// How to talk to the person at the terminal (stderr).
#[derive(Debug, Clone, Copy)]
pub struct Ui {
    /// `-q`: no notes or progress; prompts that sign-in needs are still shown.
    pub quiet: bool,
    /// stderr is a terminal: spinners are allowed.
    pub stderr_tty: bool,
}

impl Ui {
    pub fn new(quiet: bool) -> Self {
        Ui {
            quiet,
            stderr_tty: std::io::stderr().is_terminal(),
        }
    }

    /// Something the user may want to know ("Signed in as …"); hidden by `-q`.
    pub fn note(&self, message: impl Display) {
        if !self.quiet {
            let _ = writeln!(std::io::stderr().lock(), "{message}");
        }
    }

    /// Something the user must see to go on (the device-code instructions).
    pub fn prompt(&self, message: impl Display) {
        let _ = writeln!(std::io::stderr().lock(), "{message}");
    }
}

/// Write one result on stdout: a JSON line, or indented JSON for `-o pretty`.
pub fn print_json<T: Serialize>(value: &T, format: OutputFormat) -> anyhow::Result<()> {
    let text = match format {
        OutputFormat::Json => serde_json::to_string(value)?,
        OutputFormat::Pretty => serde_json::to_string_pretty(value)?,
    };
    print_line(&text)
}

/// Write text and a newline on stdout and flush it.
pub fn print_line(text: &str) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{text}")?;
    out.flush()?;
    Ok(())
}

/// Bold for labels when colours are on.
pub fn bold(text: &str, color: bool) -> String {
    if color {
        format!("\x1b[1m{text}\x1b[0m")
    } else {
        text.to_string()
    }
}

/// stdout was closed by the reader: end quietly with status 0.
pub fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
