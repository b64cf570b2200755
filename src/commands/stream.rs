//! `drive`, `list` and `watch`: check the SPECs and options, then run the watch loop.

use crate::cli::{GlobalArgs, GraphArgs, WatchArgs};
use crate::target::TargetSpec;
use crate::watch::{self, Hooks, Reload, WatchOptions};

use super::App;

/// A drive SPEC, or `SITE/*` (the whole site).
pub(super) fn drive_spec(text: &str) -> anyhow::Result<TargetSpec> {
    Ok(TargetSpec::parse_drive(text)?)
}

/// A list SPEC, or `SITE/*` (the whole site).
pub(super) fn list_spec(text: &str) -> anyhow::Result<TargetSpec> {
    Ok(TargetSpec::parse_list(text)?)
}

/// `--drive …` then `--list …`, in that order, then `--followed-sites`.
pub(super) fn specs(
    drives: &[String],
    lists: &[String],
    followed_sites: bool,
) -> anyhow::Result<Vec<TargetSpec>> {
    let drives = drives.iter().map(|d| drive_spec(d));
    let lists = lists.iter().map(|l| list_spec(l));
    let followed = followed_sites.then_some(Ok(TargetSpec::FollowedSites));
    drives.chain(lists).chain(followed).collect()
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
