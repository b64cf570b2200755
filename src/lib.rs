//! graphwatch: watch OneDrive drives, SharePoint libraries and lists for changes through
//! Microsoft Graph's socket.io notifications, from the command line.
//!
//! The binary (`main.rs`) only parses, runs and reports; the work is here. The layers,
//! top to bottom (each may import only those below it; docs/architecture.md draws
//! them):
//!
//! - [`commands`]: what each command does (the demo included)
//! - `watch`: the engine of `drive`, `list`, `watch` and `demo` (options, the loop)
//! - `changes`: `--changes` (delta, the coalescer, `--path`, `--state`)
//! - `link`: one target's socket.io link, kept alive
//! - `target`: drive and list SPECs, and their resolution
//! - `signin`: device-code sign-in
//! - `graph`: the Graph client; `tokens`: where its bearer token comes from
//! - `settings`: option precedence and validation
//! - `sink`: `--sink`, events delivered to NATS JetStream or a webhook, acknowledged
//! - `output`: the only writer of stdout (JSON, pretty, template, `--exec`)
//! - `event`: the stream's vocabulary, shared by everyone
//! - leaves: [`cli`], [`error`], [`exit`], `term`, `util`, `logging`
//!
//! Modules are private so that the compiler sees dead code; what the integration
//! tests and the fuzz targets reach is re-exported, and only that, in [`testing`] and
//! [`fuzzing`].

mod changes;
pub mod cli;
pub mod commands;
mod error;
mod event;
pub mod exit;
#[doc(hidden)]
pub mod fuzzing;
mod graph;
mod link;
mod logging;
mod output;
mod settings;
mod signin;
mod sink;
mod target;
mod term;
#[doc(hidden)]
pub mod testing;
mod tokens;
mod util;
mod watch;

pub use output::is_broken_pipe;
