//! graphwatch: watch OneDrive drives, SharePoint libraries and lists for changes through
//! Microsoft Graph's socket.io notifications, from the command line.
//!
//! The binary (`main.rs`) only parses and reports; the work is here, one module per
//! concern, so that every command — and the tests — use the same pieces:
//!
//! - [`cli`]: the command-line syntax (names fixed by the SPEC)
//! - [`config`]: config directory, `config.toml`, option precedence, validation
//! - [`error`]: exit codes and the one-line error report
//! - [`auth`]: device-code sign-in, the token cache, the [`auth::TokenSource`]
//! - [`graph`]: the [`graph::GraphClient`] (retries, throttling, typed errors)
//! - [`target`]: drive/list SPECs and their resolution into a [`target::Target`]
//! - [`commands`]: what each command does
//! - [`output`], [`logging`]: stdout for results, stderr for everything else; the event
//!   model and its JSON/pretty/template lines
//! - [`socket`]: the socket.io link to a notificationUrl
//! - [`exec`]: `--exec`, one command per event
//! - [`supervisor`]: one target's link kept alive (endpoint, connect, back off, renew)
//! - [`watch`]: the watch loop of `drive`, `list`, `watch` and `demo`
//! - [`demo`]: `graphwatch demo`, the emulator watched while it changes
//! - [`delta`], [`coalesce`], [`state`], [`pathindex`]: `--changes`: delta rounds per
//!   target, when to run them, the `--state` cursors, the `--path` filter

pub mod auth;
pub mod changes;
pub mod cli;
pub mod coalesce;
pub mod commands;
pub mod config;
pub mod delta;
pub mod demo;
pub mod error;
pub mod exec;
#[doc(hidden)]
pub mod fuzzing;
pub mod graph;
pub mod logging;
pub mod output;
pub mod pathindex;
pub mod socket;
pub mod state;
pub mod supervisor;
pub mod target;
pub mod watch;
