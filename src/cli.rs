//! Command-line syntax: every command, flag and environment variable (the names are
//! fixed by the contract, docs/contract.md). Parsing only: values that can also come
//! from `config.toml` are `Option`s here and are resolved in [`crate::settings`],
//! because clap alone cannot put a file between the environment and the built-in
//! default; the watch options are checked in `watch::options`.

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::event::schema::LineType;
use crate::logging::{LogFormat, LogLevel};

const ABOUT: &str =
    "Watch OneDrive drives, SharePoint libraries and lists for changes, live, from the command line";

const AFTER_HELP: &str = "\
Examples:
  graphwatch login                                   sign in (in a browser, or with a device code)
  graphwatch whoami -o json                          who is signed in, as JSON
  graphwatch endpoint --drive me                     request the socket.io endpoint of your OneDrive
  graphwatch endpoint --list site-eng/list-issues    ... of a SharePoint list
  graphwatch drive me                                watch your OneDrive
  graphwatch watch --drive me --list site-eng/Issues one stream, two targets
  graphwatch demo                                    see it work, no account needed
  graphwatch emulator                                serve a local Graph stand-in

Graph options (-o, --graph-url, --login-url, --tenant, --client-id, --access-token,
--access-token-command, --profile) follow the command: `graphwatch whoami --profile
work`. See `graphwatch help COMMAND`.

The Graph options output, graph_url, login_url, tenant, client_id, profile and
access_token_command, and color, log_format and log_level, can also be set in
config.toml (in the config directory, or in GRAPHWATCH_CONFIG_DIR); --access-token and
--backoff cannot. SIGHUP to a watch without a terminal reloads the log settings of
config.toml (docs/service.md). Precedence, highest
first: command-line flag, environment variable, config.toml, built-in default.

Exit status: 0 ok, 1 error, 2 bad usage, 3 not signed in / sign-in failed,
4 target not found or access denied, 124 --timeout before --count events.";

#[derive(Debug, Parser)]
#[command(
    name = "graphwatch",
    version,
    about = ABOUT,
    after_help = AFTER_HELP,
    propagate_version = true,
    max_term_width = 100
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,

    #[command(subcommand)]
    pub command: Command,
}

/// Options every command understands: they only change what goes to stderr.
#[derive(Debug, Args)]
#[command(next_help_heading = "Global options")]
pub struct GlobalArgs {
    /// More diagnostics on stderr (-v info, -vv debug, -vvv trace)
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,

    /// Only errors on stderr (prompts that sign-in needs are still shown)
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,

    /// When to use colours on the terminal [default: auto; NO_COLOR=1 means never]
    #[arg(long, value_enum, value_name = "WHEN", global = true)]
    pub color: Option<ColorChoice>,

    /// How stderr is written: text for people, json (a JSON object a line) or journald
    /// (<N> syslog priorities) [default: journald when stderr is the journal, else text]
    #[arg(
        long,
        value_enum,
        value_name = "FORMAT",
        global = true,
        env = "GRAPHWATCH_LOG_FORMAT",
        hide_short_help = true
    )]
    pub log_format: Option<LogFormat>,

    /// How much is logged on stderr [default: warn]; -v, -vv, -vvv and -q win over it
    #[arg(
        long,
        value_enum,
        value_name = "LEVEL",
        global = true,
        env = "GRAPHWATCH_LOG_LEVEL",
        hide_short_help = true
    )]
    pub log_level: Option<LogLevel>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Sign in (in a browser, or with a device code) and keep the tokens for the profile
    #[command(after_help = "\
Without --browser or --device-code, login signs in in a browser when one can be opened
(BROWSER is set, or a graphical session: DISPLAY or WAYLAND_DISPLAY on Linux; always on
macOS and Windows), and with a device code otherwise. Tenants whose policy blocks the
device-code flow (AADSTS53003) need --browser; over SSH, --browser --no-open.

Examples:
  graphwatch login
  graphwatch login --browser --no-open                 (SSH: paste the address the browser ends on)
  graphwatch login --device-code                       (a code to type in at a web address)
  graphwatch login --tenant contoso.onmicrosoft.com --profile work
  graphwatch login --tenant consumers                  (a personal Microsoft account)

Scopes asked for: offline_access openid profile Files.Read, plus Sites.Read.All unless
the tenant is `consumers`; --scope adds more.")]
    #[command(mut_arg("output", |a| a.hide(true)))]
    Login(LoginArgs),

    /// Forget the profile's tokens
    #[command(mut_arg("output", |a| a.hide(true)))]
    Logout(GraphOnlyArgs),

    /// Check the sign-in with the service; show the account, tenant, scopes and token expiry (never a token)
    #[command(after_help = "\
whoami renews the sign-in once (a refresh) to learn whether it still holds: exit status 3
when it was revoked or has expired. --offline shows what the token cache says and asks
no one.

Examples:
  graphwatch whoami
  graphwatch whoami --offline
  graphwatch whoami -o json | jq -r .account")]
    Whoami(WhoamiArgs),

    /// Request the socket.io endpoint of a drive or list once and print it as JSON
    #[command(after_help = "\
The answer holds the notificationUrl, which is a credential: anyone who has it can
listen to the target's notifications until it expires. This command prints it because
you asked for it; keep it out of logs.

Drive SPEC: me | DRIVE-ID | user:UPN-or-ID | group:GROUP-ID | site:SITE-ID
            | https://HOST/sites/NAME | https://HOST/sites/NAME/LIBRARY[/…]
List SPEC:  https://HOST/sites/NAME/Lists/LIST[/…] | SITE/LIST
            (SITE: a site id or HOST:/sites/NAME; LIST: a list id or display name)

Examples:
  graphwatch endpoint --drive me
  graphwatch endpoint --drive https://contoso.sharepoint.com/sites/eng/Shared%20Documents
  graphwatch endpoint --list contoso.sharepoint.com:/sites/eng/Issues")]
    Endpoint(EndpointArgs),

    /// Watch one drive or document library and write each notification as it arrives
    #[command(before_help = DRIVE_EXAMPLES, after_help = WATCH_FOOTER, help_template = WATCH_TEMPLATE)]
    Drive(DriveArgs),

    /// Watch one SharePoint list and write each notification as it arrives
    #[command(
        before_help = LIST_EXAMPLES,
        after_help = WATCH_FOOTER,
        help_template = WATCH_TEMPLATE,
        mut_arg("path", |a| a.hide(true))
    )]
    List(ListArgs),

    /// Watch several drives and lists at once, as one merged stream
    #[command(before_help = WATCH_EXAMPLES, after_help = WATCH_FOOTER, help_template = WATCH_TEMPLATE)]
    Watch(WatchManyArgs),

    /// Serve the local Graph emulator until stopped (the graphwatch-emulator program)
    Emulator(graphwatch_emulator::EmulatorArgs),

    /// See it work with no account: watch the local emulator while it makes changes
    #[command(after_help = "\
Starts the emulator (the graphwatch-emulator program beside graphwatch) on a free port,
signs in to it through the real device-code sign-in (approved automatically; nothing is
written to your token cache), watches its OneDrive and its Issues list, uploads,
updates, renames and deletes a file, adds and edits a list item, prints the
notifications as they arrive, and exits 0.

Examples:
  graphwatch demo
  graphwatch demo -o json | jq -c .data")]
    Demo(DemoArgs),

    /// Print a shell completion script
    #[command(after_help = "\
Examples:
  graphwatch completions bash > ~/.local/share/bash-completion/completions/graphwatch
  graphwatch completions zsh > ~/.zfunc/_graphwatch      (with fpath+=~/.zfunc)
  graphwatch completions fish > ~/.config/fish/completions/graphwatch.fish
  graphwatch completions powershell >> $PROFILE")]
    Completions(CompletionsArgs),

    /// Print the JSON Schema of a line type of the stream (all of them without TYPE)
    #[command(after_help = "\
The schemas are the contract of the JSON lines (docs/contract.md): within a major
version fields may be added to a line, never removed or renamed; a reader must
ignore fields it does not know.

Examples:
  graphwatch schema change
  graphwatch schema | jq 'keys'")]
    Schema(SchemaArgs),
}

/// The part of the help that `drive`, `list` and `watch` share (a macro: `concat!`
/// takes literals only).
macro_rules! watch_footer {
    () => {
        "\
Output: one line per event on stdout, flushed at once; JSON lines when stdout is not a
terminal (or -o json), a short line for people on a terminal (or -o pretty):
  {\"type\":\"notification\",\"time\":\"…\",\"target\":\"…\",\"subscriptionId\":\"…\",\"data\":{…}}
Status and reconnects go to stderr. Graph sends a notification (often twice) when
something in the target changed; it does not say what.

--template: {type} {time} {target} {subscriptionId} {data.resource} … (JSON paths
into the event; {{ and }} for braces). --exec: CMD runs through the shell once per
event, in order, with the event's JSON line on stdin and GRAPHWATCH_EVENT_TYPE,
GRAPHWATCH_TARGET, GRAPHWATCH_TIME, GRAPHWATCH_SUBSCRIPTION_ID in its environment.

Exit status: 0 after --count events, at --timeout without --count, or on Ctrl-C;
124 at --timeout before --count events; 1 if a target was lost for good (another
error, or a target that ended while others went on); 2 bad usage; 3 not signed in or
token refused; 4 target not found or access denied."
    };
}

const DRIVE_EXAMPLES: &str = "\
Drive SPEC: me | DRIVE-ID | user:UPN-or-ID | group:GROUP-ID | site:SITE-ID
            | https://HOST/sites/NAME | https://HOST/sites/NAME/LIBRARY[/…]

Examples:
  graphwatch drive me
  graphwatch drive me -o json | jq -r .data.resource
  graphwatch drive https://contoso.sharepoint.com/sites/eng/Shared%20Documents -n 1
  graphwatch drive me --exec 'notify-send \"OneDrive changed\"'
  graphwatch drive me --changes --state me.db | jq -r .path   (what changed; resumes)
  graphwatch drive me --changes --initial --path /Documents/Reports
  graphwatch drive me --changes --name '*.xlsx' --change created -n 1   (the next new workbook)
  graphwatch drive me --no-socket --poll 1m                         (websockets blocked)
  graphwatch drive me --changes --jq 'select(.change == \"deleted\") | .path'";

const LIST_EXAMPLES: &str = "\
List SPEC:  https://HOST/sites/NAME/Lists/LIST[/…] | SITE/LIST
            (SITE: a site id or HOST:/sites/NAME; LIST: a list id or display name)

Examples:
  graphwatch list https://contoso.sharepoint.com/sites/eng/Lists/Issues
  graphwatch list contoso.sharepoint.com:/sites/eng/Issues --timeout 10m -n 1
  graphwatch list site-eng/Issues --changes --jq .fields          (what changed, from what to what)";

const WATCH_EXAMPLES: &str = "\
Each --drive and --list takes a SPEC as `graphwatch drive` and `graphwatch list` do;
each output line names its target (\"target\":\"drive:me\"). A target that fails for
good (access denied, not found) is reported and the others go on.

A whole site is SITE/* (site:SITE-ID/*, https://HOST/sites/NAME/*, in --drive or --list):
every document library and list of it; --followed-sites: every library of the sites you
follow. Both are read again every --rescan and new libraries are watched too.
--shard I/N splits the targets over N processes (docs/scale.md).

Examples:
  graphwatch watch --drive me --list site-eng/Issues
  graphwatch watch --drive me --drive group:02bd9fd6-8f93-4758-87c3-1fb73740a315 -o json
  graphwatch watch --drive me --list site-eng/Issues --changes --status-events
  graphwatch watch --drive 'https://contoso.sharepoint.com/sites/eng/*' --changes --state eng.db
  graphwatch watch --followed-sites --shard 1/2 --changes --state shard1.db";

/// The help of `drive`, `list` and `watch`: the examples right after the usage, so
/// that they are on the first screen; `-h` lists the common options, `--help` all.
const WATCH_TEMPLATE: &str = "\
{about-with-newline}
{usage-heading} {usage}

{before-help}(-h lists the common options; --help lists them all, the Graph options included)

{all-args}{after-help}";

const WATCH_FOOTER: &str = watch_footer!();

/// `graphwatch drive SPEC`.
#[derive(Debug, Args)]
pub struct DriveArgs {
    /// The drive or document library: me, a drive id, user:UPN, group:ID, site:ID or a SharePoint URL
    #[arg(value_name = "SPEC")]
    pub spec: String,

    #[command(flatten)]
    pub watch: WatchArgs,

    #[command(flatten)]
    pub graph: GraphArgs,
}

/// `graphwatch list SPEC`.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// The SharePoint list: a list URL, or SITE/LIST
    #[arg(value_name = "SPEC")]
    pub spec: String,

    #[command(flatten)]
    pub watch: WatchArgs,

    #[command(flatten)]
    pub graph: GraphArgs,
}

/// `graphwatch watch --drive … --list …`: at least one target.
#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("targets").required(true).multiple(true).args(["drives", "lists", "followed_sites"])))]
pub struct WatchManyArgs {
    /// A drive or document library to watch (repeatable)
    #[arg(long = "drive", value_name = "SPEC")]
    pub drives: Vec<String>,

    /// A SharePoint list to watch (repeatable)
    #[arg(long = "list", value_name = "SPEC")]
    pub lists: Vec<String>,

    /// Every document library of the sites you follow (read again every --rescan)
    #[arg(long)]
    pub followed_sites: bool,

    #[command(flatten)]
    pub watch: WatchArgs,

    #[command(flatten)]
    pub graph: GraphArgs,
}

/// What to do with the stream: shared by `drive`, `list` and `watch`.
///
/// `--timeout` and `--template` are kept as text here and checked in
/// [`crate::watch::WatchOptions::from_args`], so that a bad value is a one-line usage
/// error (exit 2) like every other bad input, not clap's multi-line one.
///
/// The changes-mode options (`--state`, `--poll`, `--fallback-poll`, `--path`,
/// `--notifications`, `--debounce`) need `--changes` (or `--no-socket`, which implies it); that too is
/// checked in `from_args`, as a one-line usage error.
#[derive(Debug, Clone, Default, Args)]
#[command(next_help_heading = "Watch options")]
pub struct WatchArgs {
    /// One line per event from {field.path} placeholders, e.g. '{time} {target} {data.resource}'
    #[arg(long, value_name = "TPL")]
    pub template: Option<String>,

    /// A jq filter over each event's JSON line: strings are written raw, other values as
    /// JSON, one line each; `empty` drops the event (not written, not counted, not run by
    /// --exec), e.g. --jq 'select(.change == "deleted") | .path'
    #[arg(long, value_name = "EXPR")]
    pub jq: Option<String>,

    /// Fold identical notifications of a target within DURATION into the first, or `off`
    /// [default: 2s with --exec or pretty output, off otherwise]
    #[arg(hide_short_help = true, long, value_name = "DURATION|off")]
    pub coalesce: Option<String>,

    /// Also write `status` lines (connected, disconnected, fallback, lost) and `gap`
    /// lines: with --changes when changes may have been missed or come late, and with
    /// `dropped` when stdout was read too slowly to keep every notification
    #[arg(long)]
    pub status_events: bool,

    /// Only files: leave out the lines of folders (--changes)
    #[arg(long, help_heading = "Filters")]
    pub files_only: bool,

    /// Only items whose name matches GLOB, case-insensitive; repeatable (--changes)
    #[arg(long = "name", value_name = "GLOB", help_heading = "Filters")]
    pub names: Vec<String>,

    /// Only changes of KIND; repeatable (--changes)
    #[arg(
        long = "change",
        value_name = "KIND",
        value_enum,
        help_heading = "Filters"
    )]
    pub change_kinds: Vec<ChangeKindArg>,

    /// Only items whose path (or previous path) matches REGEX; repeatable (--changes)
    #[arg(
        hide_short_help = true,
        long,
        value_name = "REGEX",
        help_heading = "Filters"
    )]
    pub include: Vec<String>,

    /// Leave out items whose path matches REGEX; repeatable (--changes)
    #[arg(
        hide_short_help = true,
        long,
        value_name = "REGEX",
        help_heading = "Filters"
    )]
    pub exclude: Vec<String>,

    /// Exit 0 after N events were written
    #[arg(short = 'n', long, value_name = "N", allow_negative_numbers = true)]
    pub count: Option<u64>,

    /// Stop after DURATION (30s, 5m, 1h30m); exit 124 if --count was given and not reached
    #[arg(long, value_name = "DURATION", allow_hyphen_values = true)]
    pub timeout: Option<String>,

    /// Run CMD through the shell once per event: the event's JSON line on its stdin,
    /// GRAPHWATCH_* variables in its environment
    #[arg(long, value_name = "CMD")]
    pub exec: Option<String>,

    /// Deliver every event (as its JSON line, acknowledged before a --changes cursor
    /// moves): nats://HOST:PORT/SUBJECT or tls://… (JetStream, Nats-Msg-Id = the event's
    /// id), or https://… (a webhook; http:// on loopback only). stdout still gets the lines
    #[arg(
        long,
        value_name = "URL",
        env = "GRAPHWATCH_SINK",
        help_heading = "Sink"
    )]
    pub sink: Option<String>,

    /// NATS credentials file (JWT and seed) for --sink nats://… ; the secret stays in the file
    #[arg(
        long,
        value_name = "FILE",
        env = "GRAPHWATCH_SINK_CREDS",
        help_heading = "Sink"
    )]
    pub sink_creds: Option<std::path::PathBuf>,

    /// PEM certificates to trust for the sink's TLS besides the system's (a private CA)
    #[arg(
        long,
        value_name = "FILE",
        env = "GRAPHWATCH_SINK_CA",
        help_heading = "Sink"
    )]
    pub sink_ca: Option<std::path::PathBuf>,

    /// Webhook: POST each delivery (a round, a burst) as one JSON array instead of one
    /// POST per event. The HMAC key of X-Graphwatch-Signature-256 comes from
    /// GRAPHWATCH_SINK_SECRET (environment only)
    #[arg(long, help_heading = "Sink")]
    pub sink_batch: bool,

    /// Wait FIRST after a lost link, doubling up to MAX, e.g. 1s..60s [default: 1s..60s]
    #[arg(
        hide_short_help = true,
        long,
        env = "GRAPHWATCH_BACKOFF",
        value_name = "FIRST..MAX",
        allow_hyphen_values = true
    )]
    pub backoff: Option<String>,

    /// At start, wait up to DURATION for Graph to answer (a network not up yet, Graph
    /// busy) before giving up with exit 1; 0 gives up at once, forever never does
    /// [default: 2m; forever under systemd]
    #[arg(
        hide_short_help = true,
        long,
        env = "GRAPHWATCH_START_WAIT",
        value_name = "DURATION|forever",
        allow_hyphen_values = true
    )]
    pub start_wait: Option<String>,

    /// Watch only shard I of N of the targets (by a stable hash of each label): N
    /// processes given the same SPECs and --shard 1/N … N/N watch each target once
    #[arg(
        hide_short_help = true,
        long,
        value_name = "I/N",
        help_heading = "Many targets"
    )]
    pub shard: Option<String>,

    /// Read SITE/* and --followed-sites again every DURATION and watch the libraries and
    /// lists added since [default: 15m]
    #[arg(
        hide_short_help = true,
        long,
        value_name = "DURATION",
        help_heading = "Many targets"
    )]
    pub rescan: Option<String>,

    /// On notifications, ask delta what changed and write one `change` line per changed item
    #[arg(long, help_heading = "Changes mode")]
    pub changes: bool,

    /// Keep each target's delta cursor in FILE: a restart writes what changed while it was down
    #[arg(long, value_name = "FILE", help_heading = "Changes mode")]
    pub state: Option<std::path::PathBuf>,

    /// Also run a delta round when INTERVAL passed without one [default: 5m; 1m with --no-socket]
    #[arg(
        hide_short_help = true,
        long,
        value_name = "INTERVAL",
        help_heading = "Changes mode",
        allow_hyphen_values = true
    )]
    pub poll: Option<String>,

    /// Open no socket: find changes by polling delta every --poll INTERVAL (implies --changes)
    #[arg(hide_short_help = true, long, help_heading = "Changes mode")]
    pub no_socket: bool,

    /// While the socket cannot be opened, run a delta round every INTERVAL [default: 30s]
    #[arg(
        hide_short_help = true,
        long,
        value_name = "INTERVAL",
        help_heading = "Changes mode",
        allow_hyphen_values = true
    )]
    pub fallback_poll: Option<String>,

    /// Drives only: write changes of items under this folder only, e.g. /Documents/Reports
    #[arg(
        hide_short_help = true,
        long,
        value_name = "FOLDER",
        help_heading = "Changes mode"
    )]
    pub path: Option<String>,

    /// First write every current item once as an `existing` line, then watch
    #[arg(long, help_heading = "Changes mode")]
    pub initial: bool,

    /// Also write folders whose only change is in something inside them
    #[arg(hide_short_help = true, long, help_heading = "Changes mode")]
    pub folders: bool,

    /// Keep the raw `notification` lines in the stream too
    #[arg(hide_short_help = true, long, help_heading = "Changes mode")]
    pub notifications: bool,

    /// Quiet time after the last notification of a burst before a delta round [default: 500ms]
    #[arg(
        hide_short_help = true,
        long,
        value_name = "DURATION",
        help_heading = "Changes mode",
        allow_hyphen_values = true
    )]
    pub debounce: Option<String>,
}

/// `graphwatch demo`: output choices only; everything else is the emulator's.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Output format [default: pretty on a terminal, json otherwise]
    #[arg(short, long, value_enum, value_name = "FORMAT")]
    pub output: Option<OutputFormat>,

    /// One line per event from {field.path} placeholders, as for `graphwatch drive`
    #[arg(long, value_name = "TPL")]
    pub template: Option<String>,
}

/// `graphwatch completions SHELL`.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete for
    #[arg(value_enum, value_name = "SHELL")]
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Args)]
pub struct SchemaArgs {
    /// The line type
    #[arg(value_enum, value_name = "TYPE")]
    pub kind: Option<LineType>,
}

/// Options shared by every command that talks to Graph or to the sign-in service.
/// Later commands (`drive`, `list`, `watch`) flatten this same struct.
#[derive(Debug, Clone, Default, Args)]
#[command(next_help_heading = "Graph options")]
pub struct GraphArgs {
    /// Output format [default: pretty on a terminal, json otherwise]
    #[arg(
        short,
        long,
        value_enum,
        env = "GRAPHWATCH_OUTPUT",
        value_name = "FORMAT"
    )]
    pub output: Option<OutputFormat>,

    /// Graph base URL [default: https://graph.microsoft.com/v1.0]
    #[arg(
        hide_short_help = true,
        long,
        env = "GRAPHWATCH_GRAPH_URL",
        value_name = "URL"
    )]
    pub graph_url: Option<String>,

    /// Sign-in service base URL [default: https://login.microsoftonline.com]
    #[arg(
        hide_short_help = true,
        long,
        env = "GRAPHWATCH_LOGIN_URL",
        value_name = "URL"
    )]
    pub login_url: Option<String>,

    /// Tenant: common, organizations, consumers, a tenant id or domain [default: common]
    #[arg(
        hide_short_help = true,
        long,
        env = "GRAPHWATCH_TENANT",
        value_name = "TENANT"
    )]
    pub tenant: Option<String>,

    /// Public client (application) id [default: 14d82eec-204b-4c2f-b7e8-296a70dab67e,
    /// Microsoft Graph Command Line Tools]
    #[arg(
        hide_short_help = true,
        long,
        env = "GRAPHWATCH_CLIENT_ID",
        value_name = "ID"
    )]
    pub client_id: Option<String>,

    /// Use this bearer token as is: no token cache, no sign-in (prefer the env variable:
    /// arguments are visible to other users of the machine)
    #[arg(
        hide_short_help = true,
        long,
        env = "GRAPHWATCH_ACCESS_TOKEN",
        value_name = "TOKEN",
        hide_env_values = true
    )]
    pub access_token: Option<String>,

    /// Run CMD (through the shell) for a bearer token, and again when Graph refuses it or
    /// it expires: no token cache, no sign-in (e.g. `az account get-access-token
    /// --resource-type ms-graph --query accessToken -o tsv`)
    #[arg(
        hide_short_help = true,
        long,
        env = "GRAPHWATCH_ACCESS_TOKEN_COMMAND",
        value_name = "CMD",
        hide_env_values = true
    )]
    pub access_token_command: Option<String>,

    /// Token cache to use, for several accounts: letters, digits, - and _ [default: default]
    #[arg(
        hide_short_help = true,
        long,
        env = "GRAPHWATCH_PROFILE",
        value_name = "NAME"
    )]
    pub profile: Option<String>,
}

#[derive(Debug, Args)]
pub struct GraphOnlyArgs {
    #[command(flatten)]
    pub graph: GraphArgs,
}

#[derive(Debug, Args)]
pub struct WhoamiArgs {
    /// Show what the token cache says, without asking the sign-in service
    #[arg(long)]
    pub offline: bool,

    #[command(flatten)]
    pub graph: GraphArgs,
}

#[derive(Debug, Args)]
pub struct LoginArgs {
    /// Sign in in a web browser (authorization code + PKCE, redirect to http://localhost)
    #[arg(long, conflicts_with = "device_code")]
    pub browser: bool,

    /// With the browser flow: do not open a browser; print the address and take the
    /// address the browser ends on, pasted on stdin (SSH, containers)
    #[arg(long, conflicts_with = "device_code")]
    pub no_open: bool,

    /// Sign in with a device code (a code to enter at a web address, on any device)
    #[arg(long)]
    pub device_code: bool,

    /// Ask for this scope too (repeatable), e.g. --scope Files.Read.All
    #[arg(long = "scope", value_name = "SCOPE")]
    pub scopes: Vec<String>,

    #[command(flatten)]
    pub graph: GraphArgs,
}

#[derive(Debug, Args)]
pub struct EndpointArgs {
    #[command(flatten)]
    pub target: OneTarget,

    #[command(flatten)]
    pub graph: GraphArgs,
}

/// Exactly one of `--drive SPEC` or `--list SPEC`.
#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
pub struct OneTarget {
    /// The drive or document library: me, a drive id, user:UPN, group:ID, site:ID or a SharePoint URL
    #[arg(long, value_name = "SPEC")]
    pub drive: Option<String>,

    /// The SharePoint list: a list URL, or SITE/LIST
    #[arg(long, value_name = "SPEC")]
    pub list: Option<String>,
}

/// A change kind, for `--change`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ChangeKindArg {
    Created,
    Modified,
    Renamed,
    Moved,
    Deleted,
    Existing,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OutputFormat {
    /// One JSON object per line
    Json,
    /// For people
    Pretty,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

/// The command line, parsed; on a usage error, one line on stderr and exit 2 (help and
/// `--version` are printed as clap prints them).
pub fn parse_args() -> Cli {
    use clap::error::ErrorKind;
    match Cli::try_parse_from(hoisted(std::env::args_os().collect())) {
        Ok(cli) => cli,
        Err(e)
            if matches!(
                e.kind(),
                ErrorKind::DisplayHelp
                    | ErrorKind::DisplayVersion
                    | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
            ) =>
        {
            e.exit()
        }
        Err(e) => {
            use std::io::Write as _;
            let _ = writeln!(std::io::stderr(), "graphwatch: {}", usage_line(&e));
            std::process::exit(crate::error::Code::Usage as i32)
        }
    }
}

/// The command line with the Graph options given before the subcommand moved after it
/// (`graphwatch -o json whoami` is `graphwatch whoami -o json`), as `-v` and the other
/// global options already may stand on either side. The Graph options are flattened into
/// each command that talks to Graph (clap cannot make them global: `demo` has an `-o` of
/// its own, and `completions` or `schema` take none), so they are read off `whoami`,
/// whose options are exactly them; a command that takes none refuses them as usual.
pub fn hoisted(args: Vec<std::ffi::OsString>) -> Vec<std::ffi::OsString> {
    use clap::CommandFactory as _;
    let cli = Cli::command();
    let is_command = |word: &str| {
        cli.get_subcommands()
            .any(|c| c.get_name() == word || c.get_all_aliases().any(|a| a == word))
    };
    let Some(graph) = cli.find_subcommand("whoami") else {
        return args;
    };
    // (short, long, takes a value) of each Graph option.
    let options: Vec<(Option<char>, Option<&str>, bool)> = graph
        .get_arguments()
        .filter(|a| !matches!(a.get_id().as_str(), "help" | "version"))
        .map(|a| (a.get_short(), a.get_long(), a.get_action().takes_values()))
        .collect();
    let graph_option = |word: &str| -> Option<bool> {
        if let Some(long) = word.strip_prefix("--") {
            let (name, attached) = match long.split_once('=') {
                Some((name, _)) => (name, true),
                None => (long, false),
            };
            return options
                .iter()
                .find(|(_, l, _)| *l == Some(name))
                .map(|(_, _, value)| *value && !attached);
        }
        let mut chars = word.strip_prefix('-')?.chars();
        let short = chars.next()?;
        let rest = chars.as_str();
        options
            .iter()
            .find(|(s, _, _)| *s == Some(short))
            .map(|(_, _, value)| *value && rest.is_empty())
    };
    let mut before = Vec::new();
    let mut moved = Vec::new();
    let mut words = args.into_iter();
    if let Some(program) = words.next() {
        before.push(program);
    }
    while let Some(word) = words.next() {
        let text = word.to_str().unwrap_or_default().to_string();
        if text == "--" || is_command(&text) {
            before.push(word);
            before.extend(moved);
            before.extend(words);
            return before;
        }
        match graph_option(&text) {
            Some(takes_next) => {
                moved.push(word);
                if takes_next {
                    moved.extend(words.next());
                }
            }
            None => before.push(word),
        }
    }
    // No subcommand: leave it all to clap, which says what is missing.
    before.extend(moved);
    before
}

/// A clap error as one line: the problem, then what is accepted (clap's possible
/// values, tip and usage line), `; `-separated.
pub fn usage_line(e: &clap::Error) -> String {
    let rendered = e.render().to_string();
    let mut parts: Vec<String> = Vec::new();
    let mut pending_list: Vec<&str> = Vec::new();
    let flush = |parts: &mut Vec<String>, list: &mut Vec<&str>| {
        if !list.is_empty() {
            if let Some(last) = parts.last_mut() {
                last.push(' ');
                last.push_str(&list.join(", "));
            }
            list.clear();
        }
    };
    for line in rendered.lines() {
        let indented = line.starts_with("  ");
        let line = line.trim();
        if line.is_empty() || line.starts_with("For more information") {
            continue;
        }
        if indented && !line.starts_with("tip:") && !line.starts_with('[') {
            // The items of "the following required arguments were not provided:".
            pending_list.push(line);
            continue;
        }
        flush(&mut parts, &mut pending_list);
        let line = line.strip_prefix("error: ").unwrap_or(line);
        let line = match line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            Some(inner) => inner.to_string(),
            None => line.to_string(),
        };
        let line = match line.strip_prefix("Usage: ") {
            Some(usage) => format!("usage: {usage}"),
            None => line,
        };
        parts.push(line);
    }
    flush(&mut parts, &mut pending_list);
    // A number that does not parse: say what is accepted (clap only says why not, in
    // the words of std's ParseIntError; clap does not expose the error's type).
    let not_a_number = [
        "invalid digit found in string",
        "cannot parse integer from empty string",
        "number too large to fit in target type",
        "number too small to fit in target type",
    ]
    .iter()
    .any(|why| rendered.contains(why));
    if not_a_number {
        parts.push("give a whole number (digits only)".into());
    }
    parts.join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str) -> Vec<std::ffi::OsString> {
        text.split(' ').map(Into::into).collect()
    }

    #[test]
    fn graph_options_before_the_subcommand_are_moved_after_it() {
        let moved = |text: &str| {
            hoisted(words(text))
                .into_iter()
                .map(|w| w.into_string().unwrap())
                .collect::<Vec<_>>()
                .join(" ")
        };
        assert_eq!(
            moved("graphwatch -o json whoami"),
            "graphwatch whoami -o json"
        );
        assert_eq!(
            moved("graphwatch -v --profile=work -ojson drive me -n 1"),
            "graphwatch -v drive --profile=work -ojson me -n 1"
        );
        assert_eq!(
            moved("graphwatch --tenant contoso.com --color never login"),
            "graphwatch --color never login --tenant contoso.com"
        );
        // Nothing to move, or no subcommand at all: as given.
        assert_eq!(
            moved("graphwatch drive me -o json"),
            "graphwatch drive me -o json"
        );
        assert_eq!(moved("graphwatch -o json"), "graphwatch -o json");
        let cli = Cli::try_parse_from(hoisted(words("graphwatch -o json whoami"))).unwrap();
        let Command::Whoami(args) = cli.command else {
            panic!("whoami")
        };
        assert_eq!(args.graph.output, Some(OutputFormat::Json));
        // A command without Graph options still refuses them.
        assert!(Cli::try_parse_from(hoisted(words("graphwatch -o json schema"))).is_err());
    }
    use clap::CommandFactory;

    #[test]
    fn clap_errors_become_one_line_with_the_accepted_forms() {
        let line = |args: &[&str]| usage_line(&Cli::try_parse_from(args).unwrap_err());
        assert_eq!(
            line(&["graphwatch", "whoami", "-o", "yaml"]),
            "invalid value 'yaml' for '--output <FORMAT>'; possible values: json, pretty"
        );
        let missing = line(&["graphwatch", "drive"]);
        assert!(
            missing.starts_with("the following required arguments were not provided: <SPEC>; usage: graphwatch drive"),
            "{missing}"
        );
        let unknown = line(&["graphwatch", "drive", "me", "--colour", "never"]);
        assert!(
            unknown.starts_with("unexpected argument '--colour' found; tip:"),
            "{unknown}"
        );
        assert_eq!(
            line(&["graphwatch", "drive", "me", "--count", "-1"]),
            "invalid value '-1' for '--count <N>': invalid digit found in string; give a whole number (digits only)"
        );
        for text in [missing, unknown] {
            assert!(!text.contains('\n'), "{text}");
        }
    }

    #[test]
    fn clap_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn endpoint_needs_exactly_one_target() {
        assert!(Cli::try_parse_from(["graphwatch", "endpoint"]).is_err());
        assert!(
            Cli::try_parse_from(["graphwatch", "endpoint", "--drive", "me", "--list", "a/b"])
                .is_err()
        );
        let cli = Cli::try_parse_from(["graphwatch", "endpoint", "--drive", "me"]).unwrap();
        assert!(matches!(cli.command, Command::Endpoint(_)));
    }

    #[test]
    fn verbosity_counts_and_is_global() {
        let cli = Cli::try_parse_from(["graphwatch", "whoami", "-vv"]).unwrap();
        assert_eq!(cli.global.verbose, 2);
        assert!(Cli::try_parse_from(["graphwatch", "-q", "-v", "whoami"]).is_err());
    }
}
