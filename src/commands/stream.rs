//! `drive`, `list` and `watch`: check the SPECs and options, then run the watch loop.

use crate::cli::{GlobalArgs, GraphArgs, WatchArgs};
use crate::target::{DriveSpec, ListSpec, TargetSpec};
use crate::watch::{self, Hooks, Reload, WatchOptions};

use super::App;

pub(super) fn drive_spec(text: &str) -> anyhow::Result<TargetSpec> {
    Ok(TargetSpec::Drive(DriveSpec::parse(text)?))
}

pub(super) fn list_spec(text: &str) -> anyhow::Result<TargetSpec> {
    Ok(TargetSpec::List(ListSpec::parse(text)?))
}

/// `--drive …` then `--list …`, in that order.
pub(super) fn specs(drives: &[String], lists: &[String]) -> anyhow::Result<Vec<TargetSpec>> {
    let drives = drives.iter().map(|d| drive_spec(d));
    let lists = lists.iter().map(|l| list_spec(l));
    drives.chain(lists).collect()
}

/// Bad SPECs and options are reported before anything else (no sign-in needed to be
/// told that a flag is wrong); then the options are resolved and the watch runs.
pub(super) async fn run(
    global: &GlobalArgs,
    graph: &GraphArgs,
    args: &WatchArgs,
    specs: Vec<TargetSpec>,
) -> anyhow::Result<()> {
    let options = WatchOptions::from_args(args)?;
    let app = App::new(global, graph)?;
    let render = app.render(options.line.clone());
    let hooks = Hooks {
        reload: Some(Reload::new(&app.settings, global, app.term.stderr_color())),
        ..Hooks::default()
    };
    watch::run(
        app.graph_client(),
        &app.term,
        render,
        &specs,
        options,
        hooks,
    )
    .await
}
