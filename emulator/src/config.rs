//! Start-up knobs (flags and `GRAPHWATCH_EMULATOR_*` environment) and the subset that
//! tests may change while the emulator runs (`PATCH /_emulator/settings`).

use std::time::Duration;

use clap::Args;
use serde::{Deserialize, Serialize};

/// Everything the emulator can be told at start. Shared by the stand-alone
/// `graphwatch-emulator` binary and `graphwatch emulator`.
#[derive(Debug, Clone, Args)]
pub struct EmulatorArgs {
    /// Port on 127.0.0.1 (0 picks a free one; the first stdout line tells which)
    #[arg(long, env = "GRAPHWATCH_EMULATOR_PORT", default_value_t = 0)]
    pub port: u16,

    /// Engine.IO ping interval in milliseconds
    #[arg(
        long,
        env = "GRAPHWATCH_EMULATOR_PING_INTERVAL_MS",
        default_value_t = 25_000
    )]
    pub ping_interval_ms: u64,

    /// Engine.IO ping timeout in milliseconds
    #[arg(
        long,
        env = "GRAPHWATCH_EMULATOR_PING_TIMEOUT_MS",
        default_value_t = 20_000
    )]
    pub ping_timeout_ms: u64,

    /// Keep data, tokens and subscriptions in this JSON file, so a restarted emulator carries on
    #[arg(long, env = "GRAPHWATCH_EMULATOR_PERSIST", value_name = "FILE")]
    pub persist: Option<std::path::PathBuf>,

    #[command(flatten)]
    pub settings: Settings,
}

/// Knobs that can also be changed at run time with `PATCH /_emulator/settings`.
#[derive(Debug, Clone, Args, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Settings {
    /// Token polls before a device code is approved automatically (0 = only by hand at /devicelogin)
    #[arg(
        long,
        env = "GRAPHWATCH_EMULATOR_APPROVE_AFTER_POLLS",
        default_value_t = 1
    )]
    pub approve_after_polls: u32,

    /// The device-code endpoint answers as in a tenant whose Conditional Access policy blocks
    /// the device-code flow (`AADSTS53003`)
    #[arg(
        long,
        env = "GRAPHWATCH_EMULATOR_DEVICE_CODE_BLOCKED",
        default_value_t = false
    )]
    pub device_code_blocked: bool,

    /// The authorize endpoint approves at once (as the first user, or the `login_hint` one)
    /// and redirects, instead of showing its consent page
    #[arg(
        long,
        env = "GRAPHWATCH_EMULATOR_AUTHORIZE_AUTO_APPROVE",
        default_value_t = false
    )]
    pub authorize_auto_approve: bool,

    /// Lifetime of an authorization code, in seconds (the live service: about 10 minutes)
    #[arg(
        long,
        env = "GRAPHWATCH_EMULATOR_AUTH_CODE_LIFETIME",
        default_value_t = 600
    )]
    pub auth_code_lifetime_secs: u64,

    /// Polling interval, in seconds, that the device-code endpoint asks for
    #[arg(long, env = "GRAPHWATCH_EMULATOR_DEVICE_INTERVAL", default_value_t = 1)]
    pub device_code_interval_secs: u64,

    /// Lifetime of a device code, in seconds
    #[arg(
        long,
        env = "GRAPHWATCH_EMULATOR_DEVICE_CODE_LIFETIME",
        default_value_t = 900
    )]
    pub device_code_lifetime_secs: u64,

    /// Lifetime of an access token, in seconds
    #[arg(
        long,
        env = "GRAPHWATCH_EMULATOR_TOKEN_LIFETIME",
        default_value_t = 3600
    )]
    pub token_lifetime_secs: u64,

    /// Lifetime of a socketIo subscription, in seconds; its sockets are disconnected when it ends
    #[arg(
        long,
        env = "GRAPHWATCH_EMULATOR_SUBSCRIPTION_LIFETIME",
        default_value_t = 3600
    )]
    pub subscription_lifetime_secs: u64,

    /// Delay between a change and its notification, in milliseconds (the live service: 5-36 s)
    #[arg(
        long,
        env = "GRAPHWATCH_EMULATOR_NOTIFY_DELAY_MS",
        default_value_t = 300
    )]
    pub notify_delay_ms: u64,

    /// How many times each notification is sent (the live service often sends two)
    #[arg(
        long,
        env = "GRAPHWATCH_EMULATOR_NOTIFY_DUPLICATES",
        default_value_t = 2
    )]
    pub notify_duplicates: u32,

    /// Items per delta page
    #[arg(
        long,
        env = "GRAPHWATCH_EMULATOR_DELTA_PAGE_SIZE",
        default_value_t = 200
    )]
    pub delta_page_size: usize,

    /// A change becomes visible to delta only this many milliseconds after it is made
    #[arg(long, env = "GRAPHWATCH_EMULATOR_DELTA_LAG_MS", default_value_t = 0)]
    pub delta_lag_ms: u64,

    /// Every Graph request (lookups, socketIo, delta) is answered this many milliseconds
    /// late: the round trip to the live service, tens to hundreds of ms
    #[arg(
        long,
        env = "GRAPHWATCH_EMULATOR_GRAPH_LATENCY_MS",
        default_value_t = 0
    )]
    pub graph_latency_ms: u64,

    /// The emulator's clock runs this many seconds ahead of the machine's (negative:
    /// behind); its Date headers and subscriptions' expirationDateTime follow it
    #[arg(
        long,
        env = "GRAPHWATCH_EMULATOR_CLOCK_SKEW_SECS",
        default_value_t = 0,
        allow_hyphen_values = true
    )]
    pub clock_skew_secs: i64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            approve_after_polls: 1,
            device_code_blocked: false,
            authorize_auto_approve: false,
            auth_code_lifetime_secs: 600,
            device_code_interval_secs: 1,
            device_code_lifetime_secs: 900,
            token_lifetime_secs: 3600,
            subscription_lifetime_secs: 3600,
            notify_delay_ms: 300,
            notify_duplicates: 2,
            delta_page_size: 200,
            delta_lag_ms: 0,
            graph_latency_ms: 0,
            clock_skew_secs: 0,
        }
    }
}

impl Default for EmulatorArgs {
    fn default() -> Self {
        EmulatorArgs {
            port: 0,
            ping_interval_ms: 25_000,
            ping_timeout_ms: 20_000,
            persist: None,
            settings: Settings::default(),
        }
    }
}

impl EmulatorArgs {
    /// The command line that gives the `graphwatch-emulator` program exactly these
    /// arguments: how `graphwatch emulator` and `graphwatch demo` start it (the emulator
    /// is a program of its own, so that the watcher does not carry its code; see
    /// docs/decisions.md, "The emulator: a program of its own"). Every field is written,
    /// so what the caller parsed (flags and environment) is what the program gets.
    pub fn to_args(&self) -> Vec<std::ffi::OsString> {
        // Destructured without `..`: a new field does not compile until it is written here.
        let EmulatorArgs {
            port,
            ping_interval_ms,
            ping_timeout_ms,
            persist,
            settings,
        } = self;
        let Settings {
            approve_after_polls,
            device_code_blocked,
            authorize_auto_approve,
            auth_code_lifetime_secs,
            device_code_interval_secs,
            device_code_lifetime_secs,
            token_lifetime_secs,
            subscription_lifetime_secs,
            notify_delay_ms,
            notify_duplicates,
            delta_page_size,
            delta_lag_ms,
            graph_latency_ms,
            clock_skew_secs,
        } = settings;
        let mut args: Vec<std::ffi::OsString> = Vec::new();
        let mut value = |flag: &str, value: String| {
            args.push(format!("--{flag}={value}").into());
        };
        value("port", port.to_string());
        value("ping-interval-ms", ping_interval_ms.to_string());
        value("ping-timeout-ms", ping_timeout_ms.to_string());
        value("approve-after-polls", approve_after_polls.to_string());
        value(
            "auth-code-lifetime-secs",
            auth_code_lifetime_secs.to_string(),
        );
        value(
            "device-code-interval-secs",
            device_code_interval_secs.to_string(),
        );
        value(
            "device-code-lifetime-secs",
            device_code_lifetime_secs.to_string(),
        );
        value("token-lifetime-secs", token_lifetime_secs.to_string());
        value(
            "subscription-lifetime-secs",
            subscription_lifetime_secs.to_string(),
        );
        value("notify-delay-ms", notify_delay_ms.to_string());
        value("notify-duplicates", notify_duplicates.to_string());
        value("delta-page-size", delta_page_size.to_string());
        value("delta-lag-ms", delta_lag_ms.to_string());
        value("graph-latency-ms", graph_latency_ms.to_string());
        value("clock-skew-secs", clock_skew_secs.to_string());
        for (flag, on) in [
            ("device-code-blocked", device_code_blocked),
            ("authorize-auto-approve", authorize_auto_approve),
        ] {
            if *on {
                args.push(format!("--{flag}").into());
            }
        }
        if let Some(path) = persist {
            let mut arg = std::ffi::OsString::from("--persist=");
            arg.push(path);
            args.push(arg);
        }
        args
    }

    pub fn ping_interval(&self) -> Duration {
        Duration::from_millis(self.ping_interval_ms)
    }
    pub fn ping_timeout(&self) -> Duration {
        Duration::from_millis(self.ping_timeout_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: EmulatorArgs,
    }

    fn parse(args: Vec<std::ffi::OsString>) -> EmulatorArgs {
        let argv = std::iter::once("graphwatch-emulator".into()).chain(args);
        Cli::try_parse_from(argv).expect("to_args parses").args
    }

    /// Every knob away from its default survives the trip through the command line, and
    /// so do the defaults.
    #[test]
    fn to_args_gives_the_program_the_same_arguments() {
        let changed = EmulatorArgs {
            port: 4711,
            ping_interval_ms: 1,
            ping_timeout_ms: 2,
            persist: Some("/tmp/some state.json".into()),
            settings: Settings {
                approve_after_polls: 3,
                device_code_blocked: true,
                authorize_auto_approve: true,
                auth_code_lifetime_secs: 4,
                device_code_interval_secs: 5,
                device_code_lifetime_secs: 6,
                token_lifetime_secs: 7,
                subscription_lifetime_secs: 8,
                notify_delay_ms: 9,
                notify_duplicates: 10,
                delta_page_size: 11,
                delta_lag_ms: 12,
                graph_latency_ms: 14,
                clock_skew_secs: -13,
            },
        };
        for args in [changed, EmulatorArgs::default()] {
            let again = parse(args.to_args());
            assert_eq!(format!("{again:?}"), format!("{args:?}"));
        }
    }
}
