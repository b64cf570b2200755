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
    pub fn ping_interval(&self) -> Duration {
        Duration::from_millis(self.ping_interval_ms)
    }
    pub fn ping_timeout(&self) -> Duration {
        Duration::from_millis(self.ping_timeout_ms)
    }
}
