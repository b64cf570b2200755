use clap::Parser;

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
