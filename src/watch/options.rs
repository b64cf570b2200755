//! The watch options, checked: from what clap parsed ([`WatchArgs`]) to what the loop
//! runs with ([`WatchOptions`]), ripgrep's LowArgs → HiArgs step. Every bad value is a
//! one-line usage error (exit 2) here, before anyone signs in or anything connects.

use std::sync::Arc;
use std::time::Duration;

use crate::changes::classify::Rules;
use crate::changes::coalesce;
use crate::changes::{folder_scope, ChangesOptions};
use crate::cli::{ChangeKindArg, WatchArgs};
use crate::error::Error;
use crate::event::filter::Filter;
use crate::event::ChangeKind;
use crate::link::supervisor::SupervisorOptions;
use crate::output::{JqFilter, LineFormat, Template};
use crate::sink::{SinkOptions, SinkSpec};
use crate::target::Shard;
use crate::util::duration::parse_duration;
use regex::Regex;

/// How long a notification's duplicates are folded into it by default: the live
/// service's second copy comes within a second or so of the first.
const DEFAULT_COALESCE: Duration = Duration::from_secs(2);

/// `--coalesce`, before the output is known.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Coalesce {
    /// On for `--exec` and for people (pretty lines), where a duplicate is a second
    /// desktop notification or a line that says nothing new; off for JSON, templates
    /// and `--jq`, which scripts read and may want whole.
    #[default]
    Auto,
    Off,
    Within(Duration),
}

impl Coalesce {
    /// The window, now that it is known whether `--exec` runs and lines are pretty.
    pub fn window(self, exec: bool, pretty: bool) -> Option<Duration> {
        match self {
            Coalesce::Auto if exec || pretty => Some(DEFAULT_COALESCE),
            Coalesce::Auto | Coalesce::Off => None,
            Coalesce::Within(window) => Some(window),
        }
    }
}

/// A `--jq` expression, compiled; a bad one is a usage error naming the character.
fn jq(code: &str) -> Result<JqFilter, Error> {
    JqFilter::parse(code).map_err(|e| {
        Error::usage(format!("{e} in {code:?}"))
            .hint("write a jq filter over the event's JSON line, e.g. --jq '.item.name' or --jq 'select(.change == \"deleted\")'")
    })
}

/// A `--template`, parsed; a bad one is a usage error that says how to write one. (The
/// demo takes `--template` too.)
pub fn template(text: &str) -> Result<Template, Error> {
    Template::parse(text).map_err(|e| {
        Error::usage(format!("{e} in {text:?}"))
            .hint("write placeholders as {type}, {target}, {data.resource}; {{ and }} for braces")
    })
}

/// The stream options of `drive`, `list` and `watch`, checked.
#[derive(Debug, Clone, Default)]
pub struct WatchOptions {
    pub count: Option<u64>,
    /// The duration and how the user wrote it (for messages).
    pub timeout: Option<(Duration, String)>,
    pub exec: Option<String>,
    /// `--coalesce`: identical notifications within a window fold into the first.
    pub coalesce: Coalesce,
    /// `--status-events`: `status` and `gap` lines in the stream.
    pub status_events: bool,
    /// `--template` or `--jq`: the line format that wins over `-o`.
    pub line: Option<LineFormat>,
    /// `--changes` (or `--no-socket`) and its options.
    pub changes: Option<ChangesOptions>,
    /// `--files-only`, `--name`, `--change`, `--include`, `--exclude`.
    pub filter: Filter,
    /// Reconnect timings (`--backoff`).
    pub supervisor: SupervisorOptions,
    /// `--start-wait`: how long start-up waits for Graph to answer; `None` for
    /// [`DEFAULT_START_WAIT`].
    pub start_wait: Option<Duration>,
    /// `--shard I/N`: only the targets of this shard.
    pub shard: Option<Shard>,
    /// `--rescan`: how often `SITE/*` and `--followed-sites` are expanded again; `None`
    /// for [`DEFAULT_RESCAN`].
    pub rescan: Option<Duration>,
    /// `--sink` and its companions.
    pub sink: Option<SinkOptions>,
}

/// How often expanded SPECs are read again by default. Graph tells nobody that a library
/// was added, so this is how late a new one is found; each rescan costs a site 3
/// requests (1 per followed site, plus 1), which at 15 minutes is far below any
/// throttling limit even for hundreds of sites (docs/scale.md).
pub const DEFAULT_RESCAN: Duration = Duration::from_secs(15 * 60);

/// How long start-up waits for Graph by default: long enough for a laptop's Wi-Fi or a
/// VPN to come up after a wake or a boot, short enough that a wrong `--graph-url` or a
/// network that is really down gets its one-line error while someone still watches.
pub const DEFAULT_START_WAIT: Duration = Duration::from_secs(120);

/// `--start-wait forever` (or `inf`), and the default under systemd: never give up.
pub const FOREVER: Duration = Duration::MAX;

impl WatchOptions {
    /// Check the options; a bad value is a one-line usage error (exit 2).
    pub fn from_args(args: &WatchArgs) -> Result<WatchOptions, Error> {
        let line = match (&args.template, &args.jq) {
            (Some(_), Some(_)) => return Err(Error::usage(
                "--template and --jq both say how to write a line",
            )
            .hint("give one of them (--jq can build the text: --jq '\"\\(.time) \\(.target)\"')")),
            (Some(text), None) => Some(LineFormat::Template(template(text)?)),
            (None, Some(code)) => Some(LineFormat::Jq(Arc::new(jq(code)?))),
            (None, None) => None,
        };
        let timeout = match &args.timeout {
            Some(text) => Some((
                parse_duration(text).map_err(|why| {
                    Error::usage(format!("--timeout {text:?} {why}"))
                        .hint("write a duration such as 30s, 5m, 1h30m or 500ms")
                })?,
                text.trim().to_string(),
            )),
            None => None,
        };
        if args.count == Some(0) {
            return Err(Error::usage("--count 0 would never write anything")
                .hint("give --count 1 or more, or leave it out to watch until stopped"));
        }
        if args.exec.as_deref().is_some_and(|c| c.trim().is_empty()) {
            return Err(Error::usage("--exec is empty").hint("give a command, e.g. --exec 'cat'"));
        }
        let mut supervisor = SupervisorOptions::default();
        if let Some(text) = &args.backoff {
            (supervisor.first_backoff, supervisor.max_backoff) =
                parse_backoff(text).map_err(|why| {
                    Error::usage(format!("--backoff {text:?} {why}"))
                        .hint("write FIRST..MAX, e.g. 1s..60s (also GRAPHWATCH_BACKOFF)")
                })?;
        }
        let start_wait = match &args.start_wait {
            // `0`: do not wait at start (a duration elsewhere is never zero).
            Some(text) if matches!(text.trim(), "0" | "0s") => Some(Duration::ZERO),
            Some(text) if matches!(text.trim(), "forever" | "inf" | "infinity") => Some(FOREVER),
            Some(text) => Some(parse_duration(text).map_err(|why| {
                Error::usage(format!("--start-wait {text:?} {why}")).hint(
                    "write a duration such as 2m, 30s, 0 or forever (also GRAPHWATCH_START_WAIT)",
                )
            })?),
            None => None,
        };
        let filter = filter(args)?;
        if !(filter.is_empty() || args.changes || args.no_socket) {
            let flag = [
                ("--files-only", args.files_only),
                ("--name", !args.names.is_empty()),
                ("--change", !args.change_kinds.is_empty()),
                ("--include", !args.include.is_empty()),
                ("--exclude", !args.exclude.is_empty()),
            ]
            .into_iter()
            .find(|(_, given)| *given)
            .map_or("a filter", |(flag, _)| flag);
            return Err(
                Error::usage(format!("{flag} filters changed items: it needs --changes"))
                    .hint("add --changes (notifications carry no item to filter)"),
            );
        }
        let sink = sink_options(args, &supervisor)?;
        Ok(WatchOptions {
            sink,
            filter,
            count: args.count,
            timeout,
            exec: args.exec.clone(),
            line,
            status_events: args.status_events,
            coalesce: match args.coalesce.as_deref().map(str::trim) {
                None => Coalesce::Auto,
                Some("off") => Coalesce::Off,
                Some(text) => Coalesce::Within(parse_duration(text).map_err(|why| {
                    Error::usage(format!("--coalesce {text:?} {why}"))
                        .hint("write a duration such as 2s or 500ms, or off")
                })?),
            },
            changes: changes_options(args)?,
            supervisor,
            start_wait,
            shard: args.shard.as_deref().map(Shard::parse).transpose()?,
            rescan: match &args.rescan {
                Some(text) => Some(parse_duration(text).map_err(|why| {
                    Error::usage(format!("--rescan {text:?} {why}"))
                        .hint("write a duration such as 15m or 1h")
                })?),
                None => None,
            },
        })
    }
}

/// `--sink` checked: its URL, and companions that need it (or the webhook) given
/// only with it. The webhook's secret is read from the environment only.
fn sink_options(
    args: &WatchArgs,
    supervisor: &SupervisorOptions,
) -> Result<Option<SinkOptions>, Error> {
    let Some(text) = &args.sink else {
        let flag = [
            ("--sink-creds", args.sink_creds.is_some()),
            ("--sink-ca", args.sink_ca.is_some()),
            ("--sink-batch", args.sink_batch),
        ]
        .into_iter()
        .find(|(_, given)| *given);
        return match flag {
            Some((flag, _)) => Err(Error::usage(format!("{flag} is for --sink"))
                .hint("add --sink URL, or leave it out")),
            None => Ok(None),
        };
    };
    let spec = SinkSpec::parse(text)?;
    match &spec {
        SinkSpec::Webhook { .. } if args.sink_creds.is_some() => {
            return Err(Error::usage(
                "--sink-creds is a NATS credentials file; the sink is a webhook",
            )
            .hint("a webhook is signed with GRAPHWATCH_SINK_SECRET instead"))
        }
        SinkSpec::Nats { .. } if args.sink_batch => {
            return Err(Error::usage(
                "--sink-batch is for webhooks: NATS gets one message per event",
            )
            .hint("leave out --sink-batch"))
        }
        _ => {}
    }
    let secret = std::env::var("GRAPHWATCH_SINK_SECRET")
        .ok()
        .filter(|s| !s.is_empty());
    Ok(Some(SinkOptions {
        spec,
        creds: args.sink_creds.clone(),
        ca: args.sink_ca.clone(),
        batch: args.sink_batch,
        secret,
        first_backoff: supervisor.first_backoff,
        max_backoff: supervisor.max_backoff,
    }))
}

/// The filters, checked: a bad glob or regex is a usage error naming it.
fn filter(args: &WatchArgs) -> Result<Filter, Error> {
    let regexes = |flag: &str, texts: &[String]| -> Result<Vec<Regex>, Error> {
        texts
            .iter()
            .map(|text| {
                Regex::new(text).map_err(|e| {
                    let why = e.to_string();
                    let why = why.lines().last().unwrap_or_default().trim().to_string();
                    Error::usage(format!(
                        "{flag} {text:?} is not a regular expression ({why})"
                    ))
                    .hint("write a regex such as '^/Reports/' or '\\.xlsx$' (quoted for the shell)")
                })
            })
            .collect()
    };
    Ok(Filter {
        files_only: args.files_only,
        names: Filter::globs(&args.names).map_err(|why| {
            Error::usage(why).hint("write a glob such as '*.xlsx' or 'report-?.docx'")
        })?,
        kinds: args
            .change_kinds
            .iter()
            .map(|k| match k {
                ChangeKindArg::Created => ChangeKind::Created,
                ChangeKindArg::Modified => ChangeKind::Modified,
                ChangeKindArg::Renamed => ChangeKind::Renamed,
                ChangeKindArg::Moved => ChangeKind::Moved,
                ChangeKindArg::Deleted => ChangeKind::Deleted,
                ChangeKindArg::Existing => ChangeKind::Existing,
            })
            .collect(),
        include: regexes("--include", &args.include)?,
        exclude: regexes("--exclude", &args.exclude)?,
    })
}

/// `FIRST..MAX`: two durations, the first no longer than the second.
fn parse_backoff(text: &str) -> Result<(Duration, Duration), String> {
    let Some((first, max)) = text.split_once("..") else {
        return Err("is not FIRST..MAX".into());
    };
    let first = parse_duration(first).map_err(|why| format!("starts with a wait that {why}"))?;
    let max = parse_duration(max).map_err(|why| format!("ends with a wait that {why}"))?;
    if first > max {
        return Err("starts with a longer wait than it ends".into());
    }
    Ok((first, max))
}

/// How often `--changes` asks delta while the socket cannot be opened: often enough
/// that a change waits half a minute at most, rarely enough not to invite throttling.
const DEFAULT_FALLBACK_POLL: Duration = Duration::from_secs(30);

/// The changes-mode options, checked: `None` without `--changes`/`--no-socket` (and
/// then none of its options may be given).
fn changes_options(args: &WatchArgs) -> Result<Option<ChangesOptions>, Error> {
    if !(args.changes || args.no_socket) {
        let given = [
            ("--state", args.state.is_some()),
            ("--poll", args.poll.is_some()),
            ("--fallback-poll", args.fallback_poll.is_some()),
            ("--path", args.path.is_some()),
            ("--notifications", args.notifications),
            ("--initial", args.initial),
            ("--folders", args.folders),
            ("--debounce", args.debounce.is_some()),
        ];
        if let Some((flag, _)) = given.iter().find(|(_, given)| *given) {
            return Err(Error::usage(format!("{flag} needs --changes"))
                .hint("add --changes (or --no-socket to poll without a socket)"));
        }
        return Ok(None);
    }
    if args.no_socket && args.notifications {
        return Err(
            Error::usage("--notifications with --no-socket: there are none")
                .hint("leave out one of them"),
        );
    }
    if args.no_socket && args.fallback_poll.is_some() {
        return Err(Error::usage(
            "--fallback-poll with --no-socket: there is no socket to fall back from",
        )
        .hint("use --poll to set how often delta is asked"));
    }
    let duration = |flag: &str, text: &str| {
        parse_duration(text).map_err(|why| {
            Error::usage(format!("{flag} {text:?} {why}"))
                .hint("write a duration such as 30s, 5m, 1h30m or 500ms")
        })
    };
    let mut timings = coalesce::Timings::default();
    timings.poll = Some(match &args.poll {
        Some(text) => duration("--poll", text)?,
        None if args.no_socket => Duration::from_secs(60),
        None => timings.poll.unwrap_or(Duration::from_secs(300)),
    });
    // While the socket is down, poll at least this often (never slower than --poll).
    let fallback_poll = match &args.fallback_poll {
        Some(text) => duration("--fallback-poll", text)?,
        None => DEFAULT_FALLBACK_POLL,
    }
    .min(timings.poll.unwrap_or(Duration::MAX));
    if let Some(text) = &args.debounce {
        timings.debounce = duration("--debounce", text)?;
        timings.max_delay = timings.max_delay.max(timings.debounce);
    }
    let scope = match &args.path {
        Some(folder) if !folder.starts_with('/') => {
            return Err(Error::usage(format!(
                "--path {folder:?} is not a folder path from the drive's root"
            ))
            .hint("start it with /, e.g. --path /Documents/Reports"));
        }
        Some(folder) => folder_scope(folder)?,
        None => None,
    };
    Ok(Some(ChangesOptions {
        socket: !args.no_socket,
        keep_notifications: args.notifications,
        fallback_poll,
        timings,
        rules: Rules {
            folders: args.folders,
            scope,
            blind: false,
            resumed: false,
        },
        path_given: args.path.is_some(),
        initial: args.initial,
        state: args.state.clone(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_options_are_usage_errors() {
        let args = |f: fn(&mut WatchArgs)| {
            let mut a = WatchArgs::default();
            f(&mut a);
            WatchOptions::from_args(&a)
        };
        for result in [
            args(|a| a.timeout = Some("soon".into())),
            args(|a| a.template = Some("{oops".into())),
            args(|a| a.count = Some(0)),
            args(|a| a.exec = Some(" ".into())),
            args(|a| a.start_wait = Some("until it works".into())),
        ] {
            let err = result.unwrap_err();
            assert_eq!(err.code, crate::error::Code::Usage, "{err}");
        }
        for bad in ["1s", "..", "5s..1s", "1s..forever", "x..1m"] {
            let a = WatchArgs {
                backoff: Some(bad.into()),
                ..WatchArgs::default()
            };
            let err = WatchOptions::from_args(&a).unwrap_err();
            assert_eq!(err.code, crate::error::Code::Usage, "{bad}: {err}");
            assert!(err.to_string().contains("--backoff"), "{err}");
        }
        let backoff = args(|a| a.backoff = Some("100ms..2s".into())).unwrap();
        assert_eq!(
            (
                backoff.supervisor.first_backoff,
                backoff.supervisor.max_backoff
            ),
            (Duration::from_millis(100), Duration::from_secs(2))
        );
        let ok = args(|a| {
            a.timeout = Some("2m".into());
            a.count = Some(3);
        })
        .unwrap();
        assert_eq!(ok.timeout.unwrap().0, Duration::from_secs(120));
        assert_eq!(ok.start_wait, None, "the default: DEFAULT_START_WAIT");
        let none = args(|a| a.start_wait = Some("0".into())).unwrap();
        assert_eq!(none.start_wait, Some(Duration::ZERO));
        for forever in ["forever", "inf", " infinity "] {
            let a = WatchArgs {
                start_wait: Some(forever.into()),
                ..WatchArgs::default()
            };
            let wait = WatchOptions::from_args(&a).unwrap();
            assert_eq!(wait.start_wait, Some(FOREVER), "{forever}");
        }
    }
}
