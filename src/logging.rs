//! Diagnostics on stderr through `tracing`.
//!
//! One stderr format for people: without `-v`, the warnings that reach stderr look like
//! the watch's status lines (`16:33:11 drive:me: …`: the local time, the message; no
//! level column, no module path). `-v` and up add the level (and at `-vvv` the module),
//! for diagnosis.
//!
//! Only graphwatch's own crates get more verbose with `-v`; every other crate stays at
//! `warn`, because HTTP and TLS libraries log full URLs at debug level, and Graph URLs
//! carry secrets (delta tokens, notification tokens).

use tracing_subscriber::EnvFilter;

/// The filter, as `RUST_LOG` directives: also what the emulator program is started with
/// (src/commands/emulator.rs), so that its other crates stay at `warn` too.
pub fn directives(verbose: u8, quiet: bool) -> String {
    let ours = match (quiet, verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "info",
        (false, 2) => "debug",
        (false, _) => "trace",
    };
    let others = if quiet { "error" } else { "warn" };
    format!("{others},graphwatch={ours},graphwatch_emulator={ours}")
}

/// `-q` errors only; default warnings; `-v` info, `-vv` debug, `-vvv` trace.
pub fn init(verbose: u8, quiet: bool, color: bool) {
    let filter = EnvFilter::new(directives(verbose, quiet));
    // A second init (tests calling into the library twice) is harmless: keep the first.
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(filter)
        .with_ansi(color)
        .with_timer(LocalTime)
        .with_level(verbose >= 1)
        .with_target(verbose >= 3)
        .try_init();
}

/// `HH:MM:SS`, local time: as on the status lines and the pretty view.
struct LocalTime;

impl tracing_subscriber::fmt::time::FormatTime for LocalTime {
    fn format_time(&self, w: &mut tracing_subscriber::fmt::format::Writer<'_>) -> std::fmt::Result {
        write!(w, "{}", chrono::Local::now().format("%H:%M:%S"))
    }
}
