//! Diagnostics on stderr through `tracing`.
//!
//! Only graphwatch's own crates get more verbose with `-v`; every other crate stays at
//! `warn`, because HTTP and TLS libraries log full URLs at debug level, and Graph URLs
//! carry secrets (delta tokens, notification tokens).

use tracing_subscriber::EnvFilter;

/// `-q` errors only; default warnings; `-v` info, `-vv` debug, `-vvv` trace.
pub fn init(verbose: u8, quiet: bool, color: bool) {
    let ours = match (quiet, verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "info",
        (false, 2) => "debug",
        (false, _) => "trace",
    };
    let others = if quiet { "error" } else { "warn" };
    let filter = EnvFilter::new(format!(
        "{others},graphwatch={ours},graphwatch_emulator={ours}"
    ));
    // A second init (tests calling into the library twice) is harmless: keep the first.
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(filter)
        .with_ansi(color)
        .with_target(verbose >= 3)
        .try_init();
}
