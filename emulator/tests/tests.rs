//! The emulator's integration tests, as one test binary (ripgrep's layout): each file
//! in emulator/tests/ is a module here, so the crate and the dev-dependencies are linked
//! once instead of once per file. `cargo test -p graphwatch-emulator --test integration
//! NAME` runs the tests whose path contains NAME (e.g. `wire::`).
//!
//! The modules share one process: a test that needs process-wide state (environment
//! variables, the current directory, the umask, signal handlers) must set it in a
//! child process, never in this one. See docs/decisions.md, "Integration tests: one
//! binary per crate".

// Helpers: an emulator on a free port, a Graph caller, a raw socket.io client.
mod common;

mod authorize;
mod bulk;
mod control;
mod delta;
mod e2e;
mod fields;
mod graph;
mod identity;
mod peer;
mod process;
mod wire;
