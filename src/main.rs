use clap::Parser;

// The live stream's building blocks (issue 4); the drive/list/watch commands wire them.
#[allow(dead_code)]
mod exec;
#[allow(dead_code)]
mod output;
#[allow(dead_code)]
mod socket;

#[derive(Parser)]
#[command(name = "graphwatch", version, about)]
enum Cli {
    /// Serve the local Graph emulator until stopped
    Emulator(graphwatch_emulator::EmulatorArgs),
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    match Cli::parse() {
        Cli::Emulator(args) => graphwatch_emulator::run(args).await,
    }
}
