//! `graphwatch completions SHELL`: the completion script on stdout.

use clap::CommandFactory as _;
use clap_complete::Shell;

use crate::cli::Cli;

/// The completion script for `shell`, as checked in under `completions/`.
pub fn script(shell: Shell) -> Vec<u8> {
    let mut command = Cli::command();
    let mut out = Vec::new();
    // Rendered into memory: clap_complete panics when its writer fails (`| head -1`).
    clap_complete::generate(shell, &mut command, "graphwatch", &mut out);
    out
}

pub fn run(shell: Shell) -> anyhow::Result<()> {
    use std::io::Write as _;
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(&script(shell))?;
    stdout.flush()?;
    Ok(())
}
