//! Where graphwatch keeps its files, the optional `config.toml`, and the resolution of
//! every Graph option: flag > environment > `config.toml` > built-in default.
//!
//! clap already gives "flag beats environment"; this module adds the file and the
//! defaults, and validates the result once so the rest of the program can trust it
//! (URLs are absolute, `https://` unless loopback, the profile is a safe file name).

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use url::Url;

use crate::cli::{ColorChoice, GlobalArgs, GraphArgs, OutputFormat};
use crate::error::Error;
use crate::logging::{self, LogFormat, LogLevel};
use crate::util::url::is_loopback;

/// The default public client: "Microsoft Graph Command Line Tools", a multi-tenant
/// public client that Microsoft publishes for command-line use. Organisations can
/// block it; register your own app then (see `docs/signin-and-targets.md`).
pub const DEFAULT_CLIENT_ID: &str = "14d82eec-204b-4c2f-b7e8-296a70dab67e";
pub const DEFAULT_GRAPH_URL: &str = "https://graph.microsoft.com/v1.0";
pub const DEFAULT_LOGIN_URL: &str = "https://login.microsoftonline.com";
pub const DEFAULT_TENANT: &str = "common";
pub const DEFAULT_PROFILE: &str = "default";

/// Environment variable that moves the config directory (tokens included).
pub const CONFIG_DIR_ENV: &str = "GRAPHWATCH_CONFIG_DIR";
pub const CONFIG_FILE: &str = "config.toml";

/// The optional `config.toml`: defaults for the options that have an env variable.
/// Unknown keys are an error, so a typo does not silently do nothing.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    pub tenant: Option<String>,
    pub client_id: Option<String>,
    pub profile: Option<String>,
    pub graph_url: Option<String>,
    pub login_url: Option<String>,
    pub output: Option<OutputFormat>,
    pub color: Option<ColorChoice>,
    pub access_token_command: Option<String>,
    /// How stderr is logged; `SIGHUP` applies a change while a watch runs
    /// (docs/service.md, "Reload").
    pub log_format: Option<LogFormat>,
    pub log_level: Option<LogLevel>,
}

/// The keys of config.toml, for messages.
pub const CONFIG_KEYS: &str = "tenant, client_id, profile, graph_url, login_url, output, color, access_token_command, log_format, log_level";

/// A credential that must not end up in logs: `Debug` prints a placeholder.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(…)")
    }
}

/// Every Graph option, resolved and validated.
#[derive(Debug, Clone)]
pub struct Settings {
    pub config_dir: PathBuf,
    /// Graph base, without a trailing slash (e.g. `https://graph.microsoft.com/v1.0`).
    pub graph_url: Url,
    /// Sign-in base, without a trailing slash.
    pub login_url: Url,
    pub tenant: String,
    pub client_id: String,
    pub profile: String,
    /// `-o`, or the file's `output`; `None`: [`crate::term::Term::output_format`] decides.
    pub output: Option<OutputFormat>,
    /// Resolved from `--color`, `NO_COLOR` and the file; `auto` is decided per stream.
    pub color: ColorChoice,
    pub access_token: Option<Secret>,
    /// `--access-token-command` (or the file's `access_token_command`): run for a token.
    /// Kept out of logs like a secret: a command line may carry one.
    pub access_token_command: Option<Secret>,
    /// `-v`/`-q`, `--log-level` (`GRAPHWATCH_LOG_LEVEL`), the file's `log_level`, `warn`.
    pub log_level: LogLevel,
    /// `--log-format` (`GRAPHWATCH_LOG_FORMAT`), the file's `log_format`, else `journald`
    /// when stderr is the journal and `text` otherwise.
    pub log_format: LogFormat,
}

impl Settings {
    /// How stderr is logged, with colours or not (the terminal decides).
    pub fn log_config(&self, color: bool) -> logging::LogConfig {
        logging::LogConfig {
            level: self.log_level,
            format: self.log_format,
            color,
        }
    }
}

/// The config directory: `GRAPHWATCH_CONFIG_DIR`, else the platform's (XDG on Linux:
/// `$XDG_CONFIG_HOME/graphwatch`, usually `~/.config/graphwatch`).
pub fn config_dir() -> anyhow::Result<PathBuf> {
    if let Some(dir) = std::env::var_os(CONFIG_DIR_ENV).filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(dir));
    }
    directories::ProjectDirs::from("", "", "graphwatch")
        .map(|dirs| dirs.config_dir().to_path_buf())
        .ok_or_else(|| {
            Error::failure("cannot find a home directory for the configuration")
                .hint(format!("set {CONFIG_DIR_ENV} to a directory"))
                .into()
        })
}

/// Read `config.toml` from `dir`; a missing file is an empty configuration.
pub fn load_file(dir: &Path) -> anyhow::Result<ConfigFile> {
    let path = dir.join(CONFIG_FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(ConfigFile::default()),
        Err(e) => {
            // Not text, a directory in its place, no permission: the user's file is
            // wrong, not the program (exit 2).
            return Err(Error::usage(format!("cannot read {} ({e})", path.display()))
                .hint(format!(
                    "make it a UTF-8 TOML file, or remove it (set {CONFIG_DIR_ENV} to use another directory)"
                ))
                .into());
        }
    };
    parse_file(&text).map_err(|e| {
        Error::usage(format!("{}:{e}", path.display()))
            .hint(format!("fix or remove the file (keys: {CONFIG_KEYS})"))
            .into()
    })
}

/// Parse the file's text; the error is `LINE:COLUMN: message`, one line.
pub fn parse_file(text: &str) -> Result<ConfigFile, String> {
    toml::from_str(text).map_err(|e| {
        let message = e.message().trim().replace('\n', " ");
        match e.span() {
            Some(span) => {
                let before = &text[..span.start.min(text.len())];
                let line = before.matches('\n').count() + 1;
                let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
                format!("{line}:{column}: {message}")
            }
            None => format!(" {message}"),
        }
    })
}

/// `--color` beats `NO_COLOR` (a non-empty value means never), which beats the file.
pub fn color_choice(flag: Option<ColorChoice>, file: Option<ColorChoice>) -> ColorChoice {
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    match (flag, no_color) {
        (Some(choice), _) => choice,
        (None, true) => ColorChoice::Never,
        (None, false) => file.unwrap_or(ColorChoice::Auto),
    }
}

/// Resolve the Graph options of one command.
pub fn resolve(global: &GlobalArgs, args: &GraphArgs) -> anyhow::Result<Settings> {
    let config_dir = config_dir()?;
    let file = load_file(&config_dir)?;

    let file_path = config_dir.join(CONFIG_FILE);
    let graph = Chosen::of(&GRAPH_URL, &args.graph_url, &file.graph_url, &file_path);
    let graph_url = validate_url(&graph.from, graph.value)?;
    if graph_url.path().trim_matches('/').is_empty() {
        return Err(Error::usage(format!(
            "{} {:?} has no version in its path",
            graph.from, graph.value
        ))
        .hint(format!(
            "Graph's URLs end in the API version: add /v1.0 (e.g. {DEFAULT_GRAPH_URL})"
        ))
        .into());
    }
    let login = Chosen::of(&LOGIN_URL, &args.login_url, &file.login_url, &file_path);
    let login_url = validate_url(&login.from, login.value)?;
    let tenant = Chosen::of(&TENANT, &args.tenant, &file.tenant, &file_path);
    let tenant = validate_word(&tenant.from, tenant.value, ".-_")?;
    let client_id = Chosen::of(&CLIENT_ID, &args.client_id, &file.client_id, &file_path);
    let client_id = validate_word(&client_id.from, client_id.value, ".-_")?;
    let profile = Chosen::of(&PROFILE, &args.profile, &file.profile, &file_path);
    let profile = validate_profile(profile.value).map_err(|e| match profile.from.as_str() {
        "--profile" => e,
        from => {
            Error::usage(format!("{from}: {e}")).hint("use 1 to 64 letters, digits, '-' or '_'")
        }
    })?;
    let output = args.output.or(file.output);
    let access_token = match args.access_token.as_deref().map(str::trim) {
        Some("") => {
            return Err(Error::usage("--access-token is empty")
                .hint("pass a bearer token, or unset GRAPHWATCH_ACCESS_TOKEN")
                .into())
        }
        Some(token) => Some(Secret::new(token.strip_prefix("Bearer ").unwrap_or(token))),
        None => None,
    };
    let access_token_command = match (
        &access_token,
        args.access_token_command.as_deref().map(str::trim),
        file.access_token_command.as_deref().map(str::trim),
    ) {
        (Some(_), Some(_), _) => {
            return Err(Error::usage(
                "--access-token and --access-token-command both give the token: use one",
            )
            .hint("unset GRAPHWATCH_ACCESS_TOKEN or GRAPHWATCH_ACCESS_TOKEN_COMMAND if one comes from the environment")
            .into())
        }
        // A token given on the command line or in the environment beats the file's command.
        (Some(_), None, _) => None,
        (None, Some(""), _) => {
            return Err(Error::usage("--access-token-command is empty")
                .hint("give a command that prints a bearer token, or unset GRAPHWATCH_ACCESS_TOKEN_COMMAND")
                .into())
        }
        (None, Some(command), _) => Some(Secret::new(command)),
        (None, None, Some("")) => {
            return Err(Error::usage(format!(
                "access_token_command in {} is empty",
                file_path.display()
            ))
            .hint("give a command that prints a bearer token, or remove the key")
            .into())
        }
        (None, None, command) => command.map(Secret::new),
    };
    Ok(Settings {
        config_dir,
        graph_url,
        login_url,
        tenant,
        client_id,
        profile,
        output,
        color: color_choice(global.color, file.color),
        access_token,
        access_token_command,
        log_level: log_level(global, file.log_level),
        log_format: log_format(global, file.log_format),
    })
}

/// `-v`/`-q` beat `--log-level` (and `GRAPHWATCH_LOG_LEVEL`), which beats the file.
pub fn log_level(global: &GlobalArgs, file: Option<LogLevel>) -> LogLevel {
    LogLevel::of_flags(global.verbose, global.quiet)
        .or(global.log_level)
        .or(file)
        .unwrap_or(LogLevel::Warn)
}

/// `--log-format` (and `GRAPHWATCH_LOG_FORMAT`) beats the file, which beats the journal.
pub fn log_format(global: &GlobalArgs, file: Option<LogFormat>) -> LogFormat {
    global
        .log_format
        .or(file)
        .unwrap_or_else(logging::journal_default)
}

/// An option that may come from a flag, its environment variable or `config.toml`.
struct Opt {
    flag: &'static str,
    env: &'static str,
    key: &'static str,
    default: &'static str,
}

const GRAPH_URL: Opt = Opt {
    flag: "--graph-url",
    env: "GRAPHWATCH_GRAPH_URL",
    key: "graph_url",
    default: DEFAULT_GRAPH_URL,
};
const LOGIN_URL: Opt = Opt {
    flag: "--login-url",
    env: "GRAPHWATCH_LOGIN_URL",
    key: "login_url",
    default: DEFAULT_LOGIN_URL,
};
const TENANT: Opt = Opt {
    flag: "--tenant",
    env: "GRAPHWATCH_TENANT",
    key: "tenant",
    default: DEFAULT_TENANT,
};
const CLIENT_ID: Opt = Opt {
    flag: "--client-id",
    env: "GRAPHWATCH_CLIENT_ID",
    key: "client_id",
    default: DEFAULT_CLIENT_ID,
};
const PROFILE: Opt = Opt {
    flag: "--profile",
    env: "GRAPHWATCH_PROFILE",
    key: "profile",
    default: DEFAULT_PROFILE,
};

/// An option's value, and where it came from in words, so that an error points the
/// user at the place to fix: the flag, the environment variable, the file's key.
struct Chosen<'a> {
    value: &'a str,
    from: String,
}

impl<'a> Chosen<'a> {
    fn of(
        opt: &Opt,
        given: &'a Option<String>,
        in_file: &'a Option<String>,
        file: &Path,
    ) -> Chosen<'a> {
        match (given.as_deref(), in_file.as_deref()) {
            // clap merges the flag and the variable: the variable it was if it holds
            // exactly this value (a flag with the same value would say the same).
            (Some(value), _) => Chosen {
                value,
                from: if std::env::var(opt.env).is_ok_and(|v| v == value) {
                    opt.env.to_string()
                } else {
                    opt.flag.to_string()
                },
            },
            (None, Some(value)) => Chosen {
                value,
                from: format!("{} in {}", opt.key, file.display()),
            },
            (None, None) => Chosen {
                value: opt.default,
                from: opt.flag.to_string(),
            },
        }
    }
}

/// An absolute base URL: `https://`, or `http://` for loopback hosts only (the
/// emulator); no query, fragment or credentials; trailing slash removed.
pub fn validate_url(option: &str, value: &str) -> Result<Url, Error> {
    let bad = |why: &str| {
        Error::usage(format!("{option} {value:?} {why}"))
            .hint("give an absolute https:// URL (http:// only for 127.0.0.1, ::1 or localhost)")
    };
    let url = Url::parse(value.trim()).map_err(|e| bad(&format!("is not a URL ({e})")))?;
    match url.scheme() {
        "https" => {}
        "http" if is_loopback(&url) => {}
        "http" => return Err(bad("uses http:// for a host that is not loopback")),
        _ => return Err(bad("is not an http(s) URL")),
    }
    if url.host().is_none() {
        return Err(bad("has no host"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(bad("must not have a query or fragment"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(bad("must not carry credentials"));
    }
    let mut url = url;
    let trimmed = url.path().trim_end_matches('/').to_string();
    url.set_path(&trimmed);
    Ok(url)
}

/// Tenants and client ids go into URL paths and form bodies: letters, digits and a
/// few punctuation characters only.
fn validate_word(option: &str, value: &str, punctuation: &str) -> Result<String, Error> {
    let value = value.trim();
    // At least one letter or digit, so `.` and `..` cannot walk up a URL path.
    let ok = value.chars().any(|c| c.is_ascii_alphanumeric())
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || punctuation.contains(c));
    if ok {
        Ok(value.to_string())
    } else {
        Err(Error::usage(format!("{option} {value:?} is not valid"))
            .hint("use letters, digits, '.', '-' and '_' only"))
    }
}

/// A profile names a file, so it is restricted to letters, digits, `-` and `_`.
pub fn validate_profile(value: &str) -> Result<String, Error> {
    let ok = !value.is_empty()
        && value.len() <= 64
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if ok {
        Ok(value.to_string())
    } else {
        Err(Error::usage(format!("profile name {value:?} is not valid"))
            .hint("use 1 to 64 letters, digits, '-' or '_'"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn https_always_http_only_on_loopback() {
        assert!(validate_url("--graph-url", "https://graph.microsoft.com/v1.0").is_ok());
        for ok in [
            "http://127.0.0.1:8080/v1.0",
            "http://127.4.5.6",
            "http://[::1]:99/v1.0",
            "http://localhost:1234",
            "http://LOCALHOST",
        ] {
            assert!(validate_url("--graph-url", ok).is_ok(), "{ok}");
        }
        for bad in [
            "http://graph.microsoft.com/v1.0",
            "http://10.0.0.1",
            "http://localhost.evil.example",
            "ftp://127.0.0.1",
            "graph.microsoft.com",
            "https://graph.microsoft.com/v1.0?x=1",
            "https://user:pw@graph.microsoft.com",
        ] {
            let err = validate_url("--graph-url", bad).unwrap_err();
            assert_eq!(err.code, crate::error::Code::Usage, "{bad}");
            assert!(err.to_string().starts_with("--graph-url"), "{err}");
        }
    }

    #[test]
    fn trailing_slash_is_removed() {
        let url = validate_url("--graph-url", "https://graph.microsoft.com/v1.0/").unwrap();
        assert_eq!(url.as_str(), "https://graph.microsoft.com/v1.0");
    }

    #[test]
    fn profile_names_are_file_safe() {
        assert!(validate_profile("work-2_b").is_ok());
        for bad in ["", "../x", "a b", "a/b", "a.json", &"x".repeat(65)] {
            assert!(validate_profile(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn config_file_errors_name_line_and_column() {
        let err = parse_file("tenant = \"x\"\nclient_id = \n").unwrap_err();
        assert!(err.starts_with("2:"), "{err}");
        let err = parse_file("tennant = \"x\"\n").unwrap_err();
        assert!(err.starts_with("1:1:") && err.contains("tennant"), "{err}");
        let ok = parse_file("output = \"json\"\ncolor = \"never\"\n").unwrap();
        assert_eq!(ok.output, Some(OutputFormat::Json));
    }
}
