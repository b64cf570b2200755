//! `graphwatch-emulator`: the emulator on its own, for tests and for trying things out
//! with curl. `graphwatch emulator` is the same program.

use clap::Parser;
use graphwatch_emulator::EmulatorArgs;

#[derive(Parser)]
#[command(
    name = "graphwatch-emulator",
    version,
    about = "A local Microsoft Graph emulator for graphwatch"
)]
struct Cli {
    #[command(flatten)]
    args: EmulatorArgs,
    /// Log verbosity on stderr (repeat for more)
    #[arg(short, long, action = clap::ArgAction::Count)]
    verbose: u8,
}

#[tokio::main]
async fn main() {
    let cli = Cli::parse();
    let level = match cli.verbose {
        0 => "warn",
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level)),
        )
        .init();
    if let Err(e) = graphwatch_emulator::run(cli.args).await {
        eprintln!("graphwatch-emulator: {e:#}");
        std::process::exit(1);
    }
}
