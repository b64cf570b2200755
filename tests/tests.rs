//! The CLI's integration tests, as one test binary (ripgrep's layout): each file in
//! tests/ is a module here, so the crate, the emulator and the dev-dependencies are
//! linked once instead of once per file. `cargo test --test integration NAME` runs
//! the tests whose path contains NAME (e.g. `faults::`, `stream::reconnects`).
//!
//! The modules share one process: a test that needs process-wide state (environment
//! variables, the current directory, the umask, signal handlers) must set it in a
//! child process, never in this one. See docs/decisions.md, "Integration tests: one
//! binary per crate".

// Shared setup: an emulator in-process, a config directory, the binary, the Node peer.
mod common;

mod architecture;
mod changes;
mod delta;
mod faults;
mod filters;
mod fuzz_corpus;
mod generated;
mod hostile;
mod ids;
mod jq;
mod kinds;
mod many;
mod options;
mod properties;
mod schema;
mod secrets;
mod service;
mod signin;
mod sink_nats;
mod sink_webhook;
mod slow_reader;
mod socket;
mod stream;
mod targets;
mod token_command;
mod tokenfile;
mod transient_link;
mod transient_startup;
mod transient_state;
mod transient_tokens;
mod usage;
