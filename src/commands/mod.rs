//! What each command does, one file per command. [`App`] is the common start of every
//! command that talks to Graph: resolved settings, the terminal, logging and an HTTP
//! client; each command builds what it needs from it and calls down.

mod account;
pub mod completions;
mod demo;
mod emulator;
mod endpoint;
mod schema;
mod stream;

use crate::cli::{Cli, Command, GlobalArgs, GraphArgs, OutputFormat};
use crate::error::Error;
use crate::graph::{self, GraphClient};
use crate::logging;
use crate::output::{LineFormat, Render};
use crate::settings::{self, Settings};
use crate::term::Term;
use crate::tokens::TokenSource;
use crate::util::limits;
use crate::util::url::base_str;

/// Run one parsed command line.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let global = &cli.global;
    match &cli.command {
        Command::Login(args) => {
            no_output_flag("login", &args.graph)?;
            account::login(&App::new(global, &args.graph)?, args).await
        }
        Command::Logout(args) => {
            no_output_flag("logout", &args.graph)?;
            account::logout(&App::new(global, &args.graph)?)
        }
        Command::Whoami(args) => {
            account::whoami(&App::new(global, &args.graph)?, args.offline).await
        }
        Command::Endpoint(args) => {
            endpoint::run(&App::new(global, &args.graph)?, &args.target).await
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
            let specs = stream::specs(&args.drives, &args.lists, args.followed_sites)?;
            stream::run(global, &args.graph, &args.watch, specs).await
        }
        Command::Demo(args) => demo::run(global, args).await,
        Command::Completions(args) => completions::run(args.shell),
        Command::Schema(args) => schema::run(args.kind),
        Command::Emulator(args) => {
            let term = Term::new(global.quiet, settings::color_choice(global.color, None));
            // Inherited across exec: the emulator serves many clients at once.
            limits::raise_open_files_limit();
            emulator::replace_self(&term, args, global.verbose, global.quiet)
        }
    }
}

/// `-o` on a command that writes nothing on stdout would be silently ignored: refuse
/// it. (`GRAPHWATCH_OUTPUT` in the environment is meant for the commands that do, and
/// is let be.)
fn no_output_flag(command: &str, args: &GraphArgs) -> Result<(), Error> {
    let from_env = std::env::var_os("GRAPHWATCH_OUTPUT").is_some_and(|v| !v.is_empty());
    match args.output {
        Some(_) if !from_env => Err(Error::usage(format!(
            "{command} writes nothing on stdout: -o does not apply"
        ))
        .hint("leave out -o (whoami -o json shows the sign-in as JSON)")),
        _ => Ok(()),
    }
}

/// Everything a Graph command starts from.
pub(crate) struct App {
    pub settings: Settings,
    pub term: Term,
    pub http: reqwest::Client,
}

impl App {
    /// Resolve the options (flag > env > config.toml > default) and start logging.
    fn new(global: &GlobalArgs, args: &GraphArgs) -> anyhow::Result<App> {
        App::from_settings(global, settings::resolve(global, args)?)
    }

    /// An app for settings made by the program itself (the demo's), not resolved from
    /// the user's flags, environment and config file.
    fn from_settings(global: &GlobalArgs, settings: Settings) -> anyhow::Result<App> {
        // `--log-level error` is `-q`: errors only, no notes.
        let quiet = global.quiet || settings.log_level == logging::LogLevel::Error;
        let term = Term::new(quiet, settings.color);
        logging::init(settings.log_config(term.stderr_color()));
        limits::raise_open_files_limit();
        tracing::debug!(
            "graph {}, login {}, tenant {}, profile {}, config {}",
            base_str(&settings.graph_url),
            base_str(&settings.login_url),
            settings.tenant,
            settings.profile,
            settings.config_dir.display()
        );
        Ok(App {
            term,
            http: graph::http_client()?,
            settings,
        })
    }

    /// A Graph client with `--access-token` or the profile's cached tokens.
    fn graph_client(&self) -> GraphClient {
        GraphClient::new(
            self.http.clone(),
            self.settings.graph_url.clone(),
            TokenSource::from_settings(&self.settings, self.http.clone()),
        )
    }

    /// `-o`, the file's `output`, or pretty on a terminal and JSON otherwise.
    fn output_format(&self) -> OutputFormat {
        self.term.output_format(self.settings.output)
    }

    /// How the watch renders events: `--template` or `--jq` win over the format.
    fn render(&self, line: Option<LineFormat>) -> Render {
        Render::choose(self.output_format(), line, self.term.stdout_color())
    }
}
