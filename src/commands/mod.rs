//! What each command does. [`Context`] is the common start of every command that
//! talks to Graph: resolved options, logging, the stderr [`Ui`] and a [`GraphClient`].

mod account;
pub mod completions;
mod endpoint;
mod stream;

use std::io::IsTerminal as _;

use crate::auth::TokenSource;
use crate::cli::{Cli, Command, GlobalArgs, GraphArgs};
use crate::config::{self, Settings};
use crate::graph::{self, GraphClient};
use crate::logging;
use crate::output::Ui;

/// Run one parsed command line.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let global = &cli.global;
    match &cli.command {
        Command::Login(args) => {
            account::login(&Context::new(global, &args.graph)?, &args.scopes).await
        }
        Command::Logout(args) => account::logout(&Context::new(global, &args.graph)?),
        Command::Whoami(args) => account::whoami(&Context::new(global, &args.graph)?).await,
        Command::Endpoint(args) => {
            endpoint::run(&Context::new(global, &args.graph)?, &args.target).await
        }
        Command::Drive(args) => {
            let spec = stream::drive_spec(&args.spec)?;
            stream::run(global, &args.graph, &args.watch, vec![spec]).await
        }
        Command::List(args) => {
            let spec = stream::list_spec(&args.spec)?;
            stream::run(global, &args.graph, &args.watch, vec![spec]).await
        }
        Command::Watch(args) => {
            let specs = stream::specs(&args.drives, &args.lists)?;
            stream::run(global, &args.graph, &args.watch, specs).await
        }
        Command::Demo(args) => crate::demo::run(global, args).await,
        Command::Completions(args) => completions::run(args.shell),
        Command::Emulator(args) => {
            let color = config::color_choice(global.color, None);
            logging::init(
                global.verbose,
                global.quiet,
                config::color_on(color, std::io::stderr().is_terminal()),
            );
            graphwatch_emulator::run(args.clone()).await
        }
    }
}

/// Everything a Graph command starts from.
pub struct Context {
    pub settings: Settings,
    pub ui: Ui,
    pub http: reqwest::Client,
    /// `--color` etc. resolved for stdout (pretty output).
    pub stdout_color: bool,
}

impl Context {
    /// Resolve the options (flag > env > config.toml > default) and start logging.
    pub fn new(global: &GlobalArgs, args: &GraphArgs) -> anyhow::Result<Context> {
        Context::from_settings(global, config::resolve(global, args)?)
    }

    /// A context for settings made by the program itself (the demo's), not resolved
    /// from the user's flags, environment and config file.
    pub fn from_settings(global: &GlobalArgs, settings: Settings) -> anyhow::Result<Context> {
        logging::init(
            global.verbose,
            global.quiet,
            settings.color_on(std::io::stderr().is_terminal()),
        );
        tracing::debug!(
            "graph {}, login {}, tenant {}, profile {}, config {}",
            graph::base_str(&settings.graph_url),
            graph::base_str(&settings.login_url),
            settings.tenant,
            settings.profile,
            settings.config_dir.display()
        );
        Ok(Context {
            stdout_color: settings.color_on(std::io::stdout().is_terminal()),
            ui: Ui::new(global.quiet),
            http: graph::http_client()?,
            settings,
        })
    }

    /// A Graph client with `--access-token` or the profile's cached tokens.
    pub fn graph_client(&self) -> GraphClient {
        GraphClient::new(
            self.http.clone(),
            self.settings.graph_url.clone(),
            TokenSource::from_settings(&self.settings, self.http.clone()),
        )
    }
}
