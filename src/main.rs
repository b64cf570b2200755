//! The `graphwatch` binary: parse, run, report. Everything else is in the library.

use std::process::ExitCode;

use graphwatch::cli;
use graphwatch::{commands, exit, is_broken_pipe};

fn main() -> ExitCode {
    not_dumpable();
    // Usage errors: one line, exit 2; --help and --version as clap prints them.
    let cli = cli::parse_args();
    // The watch commands run on one thread: each socket.io connection is a task on it
    // (src/link/socket.rs), as are the supervisors, delta rounds and the loop that
    // writes stdout — a little work per event for each. Worker threads
    // would only add a cross-thread wake-up per event (latency), their stacks and malloc
    // arenas (idle RSS), and their start-up. The emulator, which serves many clients on
    // a multi-threaded runtime, is a program of its own (src/commands/emulator.rs).
    // Measured in docs/performance.md.
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("graphwatch: cannot start the async runtime: {e}; check the system's limits");
            return ExitCode::from(exit::Code::Failure as u8);
        }
    };
    let result = runtime.block_on(commands::run(cli));
    // Do not wait for stray tasks (a pending HTTP read) to finish.
    runtime.shutdown_background();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) if is_broken_pipe(&err) => ExitCode::SUCCESS,
        Err(err) => {
            exit::report(&err);
            ExitCode::from(exit::exit_code(&err) as u8)
        }
    }
}

/// No core dump and no debugger of the same user can read this process's memory, which
/// holds the refresh token (docs/decisions.md, "Process hardening"). Also makes
/// `/proc/PID/*` root's: a tool of the same user cannot list its descriptors.
#[cfg(target_os = "linux")]
fn not_dumpable() {
    // SAFETY: PR_SET_DUMPABLE takes plain integers and touches no memory of ours. It
    // cannot fail for the value 0 (and there would be nothing to do about it but go on).
    unsafe {
        libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0);
    }
}

#[cfg(not(target_os = "linux"))]
fn not_dumpable() {}
