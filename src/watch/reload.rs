//! `SIGHUP` (without a terminal, watch/signals.rs): read config.toml again and apply
//! what can change under a running watch; say in one stderr line what was applied and
//! what needs a restart (docs/service.md, "Reload").
//!
//! What is reloaded: `log_level` and `log_format`, the two keys that change only what
//! goes to stderr. What needs a restart: every other key. `tenant`, `client_id`,
//! `profile`, `login_url`, `access_token_command` are the sign-in the running links hold
//! tokens of, and `graph_url` the service they are connected to: changing them under a
//! live link would mean a second sign-in and new targets, which is a restart with extra
//! steps. `output` and `color` are stdout's format: a consumer reading one format must
//! not get another mid-stream. The watch options (targets, filters, `--template`) are
//! not in config.toml: they come from the command line, which a reload cannot change.
//!
//! A file that cannot be read or parsed changes nothing: the watch goes on as it was,
//! and the line says what is wrong with the file.

use std::path::PathBuf;

use crate::cli::GlobalArgs;
use crate::exit;
use crate::logging::{self, LogConfig, LogLevel};
use crate::settings::{self, ConfigFile, Settings, CONFIG_FILE};

/// What a reload compares with: the file as the watch started with it (or as the last
/// reload read it), and the logging in force.
pub struct Reload {
    config_dir: PathBuf,
    running: ConfigFile,
    log: LogConfig,
    /// Colours on stderr as the terminal allows them, for a reload back to `text`.
    color: bool,
    /// The flag or variable that fixes the level, which the file cannot override.
    level_fixed_by: Option<&'static str>,
    format_fixed_by: Option<&'static str>,
}

impl Reload {
    /// The reload of a watch started with `settings` (and `global`'s flags); the file is
    /// read again for what it said at the start.
    pub fn new(settings: &Settings, global: &GlobalArgs, color: bool) -> Reload {
        Reload {
            config_dir: settings.config_dir.clone(),
            running: settings::load_file(&settings.config_dir).unwrap_or_default(),
            log: settings.log_config(color),
            color,
            level_fixed_by: if LogLevel::of_flags(global.verbose, global.quiet).is_some() {
                Some("-v/-q")
            } else if global.log_level.is_some() {
                Some("--log-level (or GRAPHWATCH_LOG_LEVEL)")
            } else {
                None
            },
            format_fixed_by: global
                .log_format
                .map(|_| "--log-format (or GRAPHWATCH_LOG_FORMAT)"),
        }
    }

    /// Read the file again and apply it; the line for stderr that says what happened.
    pub fn apply(&mut self) -> String {
        let path = self.config_dir.join(CONFIG_FILE);
        let file = match settings::load_file(&self.config_dir) {
            Ok(file) => file,
            Err(e) => {
                return format!(
                    "SIGHUP: config.toml not reloaded: {}; the watch goes on as it was",
                    exit::one_line(&e)
                )
            }
        };
        let mut said: Vec<String> = Vec::new();
        let mut log = self.log;
        match self.level_fixed_by {
            None => log.level = file.log_level.unwrap_or(LogLevel::Warn),
            Some(by) if file.log_level != self.running.log_level => {
                said.push(format!("log_level left as it is ({by} wins over the file)"))
            }
            Some(_) => {}
        }
        match self.format_fixed_by {
            None => {
                log.format = file.log_format.unwrap_or_else(logging::journal_default);
                log.color = self.color && log.format == logging::LogFormat::Text;
            }
            Some(by) if file.log_format != self.running.log_format => said.push(format!(
                "log_format left as it is ({by} wins over the file)"
            )),
            Some(_) => {}
        }
        if log != self.log {
            match logging::reconfigure(log) {
                Ok(()) => {
                    if log.level != self.log.level {
                        said.push(format!("log level now {}", log.level.name()));
                    }
                    if log.format != self.log.format {
                        said.push(format!("log format now {}", log.format.name()));
                    }
                    self.log = log;
                }
                Err(e) => said.push(format!("the log settings could not be changed ({e})")),
            }
        }
        let restart = needs_restart(&self.running, &file);
        if !restart.is_empty() {
            said.push(format!(
                "{} changed: {} effect at the next start (restart graphwatch)",
                restart.join(", "),
                if restart.len() == 1 { "takes" } else { "take" }
            ));
        }
        if said.is_empty() {
            said.push("nothing changed".into());
        }
        // What has been said is not said again at the next reload: the file as read is
        // the new reference, the restart-only keys included.
        self.running = file;
        format!("SIGHUP: reloaded {}: {}", path.display(), said.join("; "))
    }
}

/// Without the file's values: `access_token_command` may carry a secret.
impl std::fmt::Debug for Reload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reload")
            .field("config_dir", &self.config_dir)
            .field("log", &self.log)
            .finish_non_exhaustive()
    }
}

/// The keys that differ between `old` and `new` and apply at the next start only.
fn needs_restart(old: &ConfigFile, new: &ConfigFile) -> Vec<&'static str> {
    // Only the keys' names are said: an access token command may carry a secret.
    let differ = |a: &Option<String>, b: &Option<String>| a != b;
    let mut keys = Vec::new();
    for (key, changed) in [
        ("tenant", differ(&old.tenant, &new.tenant)),
        ("client_id", differ(&old.client_id, &new.client_id)),
        ("profile", differ(&old.profile, &new.profile)),
        ("graph_url", differ(&old.graph_url, &new.graph_url)),
        ("login_url", differ(&old.login_url, &new.login_url)),
        (
            "access_token_command",
            differ(&old.access_token_command, &new.access_token_command),
        ),
        ("output", old.output != new.output),
        ("color", old.color != new.color),
    ] {
        if changed {
            keys.push(key);
        }
    }
    keys
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sign_in_and_stdout_keys_need_a_restart() {
        let old = settings::parse_file("tenant = \"a\"\nlog_level = \"warn\"\n").unwrap();
        let new =
            settings::parse_file("tenant = \"b\"\noutput = \"json\"\nlog_level = \"debug\"\n")
                .unwrap();
        assert_eq!(needs_restart(&old, &new), ["tenant", "output"]);
        assert!(needs_restart(&new, &new).is_empty());
    }
}
