//! The `graphwatch` binary: parse, run, report. Everything else is in the library.

use std::process::ExitCode;

use graphwatch::{cli, commands, error, output};

fn main() -> ExitCode {
    // Usage errors: one line, exit 2; --help and --version as clap prints them.
    let cli = cli::parse_args();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("graphwatch: cannot start the async runtime: {e}; check the system's limits");
            return ExitCode::from(error::Code::Failure as u8);
        }
    };
    let result = runtime.block_on(commands::run(cli));
    // Do not wait for stray tasks (a pending HTTP read) to finish.
    runtime.shutdown_background();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) if output::is_broken_pipe(&err) => ExitCode::SUCCESS,
        Err(err) => {
            use std::io::Write as _;
            let _ = writeln!(std::io::stderr(), "graphwatch: {}", error::report(&err));
            ExitCode::from(error::exit_code(&err) as u8)
        }
    }
}
