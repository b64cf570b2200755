//! Helpers shared by the emulator's integration tests.
#![allow(dead_code)]

use graphwatch_emulator::{EmulatorArgs, Running};
use serde_json::{json, Value};

/// An emulator on a free port with default knobs, or with `tweak` applied.
pub async fn start_with(tweak: impl FnOnce(&mut EmulatorArgs)) -> Running {
    let mut args = EmulatorArgs::default();
    tweak(&mut args);
    graphwatch_emulator::start(args)
        .await
        .expect("emulator starts")
}

pub async fn start() -> Running {
    start_with(|_| {}).await
}

/// An access token for `user` (UPN or id), minted through the control API.
pub async fn token(base: &str, user: &str) -> String {
    let response: Value = reqwest::Client::new()
        .post(format!("{base}/_emulator/tokens"))
        .json(&json!({ "user": user }))
        .send()
        .await
        .expect("mint request")
        .error_for_status()
        .expect("mint succeeds")
        .json()
        .await
        .expect("mint answers JSON");
    response["access_token"]
        .as_str()
        .expect("access_token in mint answer")
        .to_string()
}

pub async fn stats(base: &str) -> Value {
    reqwest::get(format!("{base}/_emulator/stats"))
        .await
        .expect("stats request")
        .json()
        .await
        .expect("stats JSON")
}
