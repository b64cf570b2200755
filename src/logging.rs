//! Diagnostics on stderr through `tracing`.
//!
//! One stderr format for people (`text`, the default): without `-v`, the warnings that
//! reach stderr look like the watch's status lines (`16:33:11 drive:me: …`: the local
//! time, the message; no level column, no module path). `-v` and up add the level (and
//! at `-vvv` the module), for diagnosis.
//!
//! Two formats for machines (docs/service.md, "Logs"): `json`, one JSON object a line
//! (tracing-subscriber's formatter: `timestamp`, `level`, `message`, `target`), and
//! `journald`, the text line without the time (the journal stamps each line) behind a
//! `<N>` syslog priority, as sd-daemon(3) describes, so that `journalctl -p warning`
//! works. `journald` is chosen by itself when stderr is the journal (`JOURNAL_STREAM`
//! names it), unless a format was asked for. With either, the watch's status lines go
//! through here too ([`for_people`]), so that stderr is one format.
//!
//! Only graphwatch's own crates get more verbose with `-v`; every other crate stays at
//! `warn`, because HTTP and TLS libraries log full URLs at debug level, and Graph URLs
//! carry secrets (delta tokens, notification tokens). Messages are redacted where they
//! are made (`util::redact`): no format adds fields of its own but the level, the time
//! and the module.
//!
//! The level and the format can change while the watch runs (`SIGHUP`,
//! `watch::reload`): both are `reload` layers.

use std::fmt;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::OnceLock;

use serde::Deserialize;
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::layer::{Layered, SubscriberExt as _};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt as _;
use tracing_subscriber::{reload, EnvFilter, Layer, Registry};

/// `--log-format`, `GRAPHWATCH_LOG_FORMAT`, `log_format` in config.toml.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// For people: `HH:MM:SS message`
    Text,
    /// One JSON object a line
    Json,
    /// For the journal: `<N>message`, N the syslog priority
    Journald,
}

impl LogFormat {
    pub fn name(self) -> &'static str {
        match self {
            LogFormat::Text => "text",
            LogFormat::Json => "json",
            LogFormat::Journald => "journald",
        }
    }
}

/// `--log-level`, `GRAPHWATCH_LOG_LEVEL`, `log_level` in config.toml (`-v` and `-q` are
/// short for some of them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, clap::ValueEnum, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogLevel {
    Error,
    Warn,
    Info,
    Debug,
    Trace,
}

impl LogLevel {
    /// `-q` errors only; default warnings; `-v` info, `-vv` debug, `-vvv` trace.
    pub fn of_flags(verbose: u8, quiet: bool) -> Option<LogLevel> {
        match (quiet, verbose) {
            (true, _) => Some(LogLevel::Error),
            (false, 0) => None,
            (false, 1) => Some(LogLevel::Info),
            (false, 2) => Some(LogLevel::Debug),
            (false, _) => Some(LogLevel::Trace),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            LogLevel::Error => "error",
            LogLevel::Warn => "warn",
            LogLevel::Info => "info",
            LogLevel::Debug => "debug",
            LogLevel::Trace => "trace",
        }
    }
}

/// How stderr is logged, resolved (flag > environment > config.toml > default).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogConfig {
    pub level: LogLevel,
    pub format: LogFormat,
    /// Colours on stderr (text only).
    pub color: bool,
}

impl LogConfig {
    /// The config of the commands that resolve no options (the emulator): the flags only.
    pub fn of_flags(verbose: u8, quiet: bool, color: bool) -> LogConfig {
        LogConfig {
            level: LogLevel::of_flags(verbose, quiet).unwrap_or(LogLevel::Warn),
            format: journal_default(),
            color,
        }
    }
}

/// `journald` when stderr is the journal's stream (systemd sets `JOURNAL_STREAM` to
/// its `DEVICE:INODE`, sd-daemon(3): a child whose stderr was redirected inherits the
/// variable but not the stream), else `text`.
pub fn journal_default() -> LogFormat {
    if stderr_is_journal() {
        LogFormat::Journald
    } else {
        LogFormat::Text
    }
}

#[cfg(unix)]
fn stderr_is_journal() -> bool {
    use std::os::fd::AsFd as _;
    use std::os::unix::fs::MetadataExt as _;
    let Some(stream) = std::env::var_os("JOURNAL_STREAM") else {
        return false;
    };
    let Some((dev, ino)) = stream.to_str().and_then(|s| s.split_once(':')) else {
        return false;
    };
    let Ok(fd) = std::io::stderr().as_fd().try_clone_to_owned() else {
        return false;
    };
    match std::fs::File::from(fd).metadata() {
        Ok(meta) => dev.parse() == Ok(meta.dev()) && ino.parse() == Ok(meta.ino()),
        Err(_) => false,
    }
}

#[cfg(not(unix))]
fn stderr_is_journal() -> bool {
    false
}

/// The format layer, boxed so that `SIGHUP` can swap one format for another.
type Filtered = Layered<reload::Layer<EnvFilter, Registry>, Registry>;
type FormatLayer = Box<dyn Layer<Filtered> + Send + Sync>;

struct Handles {
    filter: reload::Handle<EnvFilter, Registry>,
    format: reload::Handle<FormatLayer, Filtered>,
}

static HANDLES: OnceLock<Handles> = OnceLock::new();
/// The running format, for [`for_people`] (0 text, 1 json, 2 journald).
static FORMAT: AtomicU8 = AtomicU8::new(0);

/// Start logging to stderr. A second init (tests calling into the library twice) is
/// harmless: the first stays.
pub fn init(config: LogConfig) {
    let (filter, filter_handle) = reload::Layer::new(filter(config.level));
    let (format, format_handle) = reload::Layer::new(format_layer(config));
    let installed = tracing_subscriber::registry()
        .with(filter)
        .with(format)
        .try_init()
        .is_ok();
    if installed {
        FORMAT.store(config.format as u8, Ordering::Relaxed);
        let _ = HANDLES.set(Handles {
            filter: filter_handle,
            format: format_handle,
        });
    }
}

/// Switch to `config` while running (`SIGHUP`); an error if logging was never set up.
pub fn reconfigure(config: LogConfig) -> Result<(), String> {
    let handles = HANDLES.get().ok_or("logging is not set up")?;
    handles
        .filter
        .reload(filter(config.level))
        .map_err(|e| e.to_string())?;
    handles
        .format
        .reload(format_layer(config))
        .map_err(|e| e.to_string())?;
    FORMAT.store(config.format as u8, Ordering::Relaxed);
    Ok(())
}

/// Whether stderr is for people (`text`): the watch's status lines are then written as
/// they are; with `json` or `journald` they go through `tracing` too.
pub fn for_people() -> bool {
    FORMAT.load(Ordering::Relaxed) == LogFormat::Text as u8
}

/// Where the watch's status lines go when stderr is not for people: `info` for what
/// `-q` hides, kept at `info` whatever the level (they are the watch's own account of
/// itself, shown without `-v` in text too).
pub const STATUS_TARGET: &str = "graphwatch::status";

/// The filter, as `RUST_LOG` directives: also what the emulator program is started with
/// (src/commands/emulator.rs), so that its other crates stay at `warn` too.
pub fn directives(verbose: u8, quiet: bool) -> String {
    level_directives(LogLevel::of_flags(verbose, quiet).unwrap_or(LogLevel::Warn))
}

fn filter(level: LogLevel) -> EnvFilter {
    EnvFilter::new(level_directives(level))
}

fn level_directives(level: LogLevel) -> String {
    let ours = level.name();
    let others = if level == LogLevel::Error {
        "error"
    } else {
        "warn"
    };
    // Status lines are shown at the default level too; `-q` hides them.
    let status = match level {
        LogLevel::Error => "error",
        LogLevel::Warn | LogLevel::Info => "info",
        LogLevel::Debug | LogLevel::Trace => ours,
    };
    // The NATS client logs each failed connection at `error`; graphwatch says the same
    // in one line of its own (sink/mod.rs), so the client is heard from only at -vv.
    let nats = match level {
        LogLevel::Debug | LogLevel::Trace => ours,
        _ => "off",
    };
    format!(
        "{others},graphwatch={ours},graphwatch_emulator={ours},async_nats={nats},{STATUS_TARGET}={status}"
    )
}

fn format_layer(config: LogConfig) -> FormatLayer {
    let verbose = config.level > LogLevel::Warn;
    let trace = config.level == LogLevel::Trace;
    let base = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    match config.format {
        LogFormat::Text => Box::new(
            base.with_ansi(config.color)
                .with_timer(LocalTime)
                .with_level(verbose)
                .with_target(trace),
        ),
        LogFormat::Json => Box::new(
            base.json()
                .flatten_event(true)
                .with_current_span(false)
                .with_span_list(false)
                .with_ansi(false),
        ),
        LogFormat::Journald => Box::new(
            base.with_ansi(false).event_format(Priority(
                tracing_subscriber::fmt::format()
                    .without_time()
                    .with_ansi(false)
                    .with_level(verbose)
                    .with_target(trace),
            )),
        ),
    }
}

/// The sd-daemon(3) priority of a level: `<3>` error, `<4>` warning, `<6>` info, `<7>`
/// debug (trace too: syslog has nothing finer).
pub fn priority(level: &Level) -> u8 {
    match *level {
        Level::ERROR => 3,
        Level::WARN => 4,
        Level::INFO => 6,
        _ => 7,
    }
}

/// A line format behind its `<N>` priority.
struct Priority<F>(F);

impl<S, N, F> FormatEvent<S, N> for Priority<F>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
    F: FormatEvent<S, N>,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        write!(writer, "<{}>", priority(event.metadata().level()))?;
        self.0.format_event(ctx, writer, event)
    }
}

/// `HH:MM:SS`, local time: as on the status lines and the pretty view.
struct LocalTime;

impl tracing_subscriber::fmt::time::FormatTime for LocalTime {
    fn format_time(&self, w: &mut Writer<'_>) -> fmt::Result {
        write!(w, "{}", chrono::Local::now().format("%H:%M:%S"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_map_to_levels() {
        assert_eq!(LogLevel::of_flags(0, false), None);
        assert_eq!(LogLevel::of_flags(0, true), Some(LogLevel::Error));
        assert_eq!(LogLevel::of_flags(1, false), Some(LogLevel::Info));
        assert_eq!(LogLevel::of_flags(5, false), Some(LogLevel::Trace));
    }

    #[test]
    fn priorities_are_sd_daemons() {
        assert_eq!(priority(&Level::ERROR), 3);
        assert_eq!(priority(&Level::WARN), 4);
        assert_eq!(priority(&Level::INFO), 6);
        assert_eq!(priority(&Level::TRACE), 7);
    }

    #[test]
    fn status_lines_stay_at_info_but_quiet_hides_them() {
        let text = |level| filter(level).to_string();
        assert!(text(LogLevel::Warn).contains("graphwatch::status=info"));
        assert!(text(LogLevel::Error).contains("graphwatch::status=error"));
        assert!(text(LogLevel::Debug).contains("graphwatch::status=debug"));
    }
}
