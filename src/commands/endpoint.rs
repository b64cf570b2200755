//! `graphwatch endpoint`: resolve one target, make the socketIo request once, print
//! the subscription object. The one place a notificationUrl is printed, because the
//! user asked for exactly that (e.g. to try another socket.io client).

use serde_json::Value;

use super::App;
use crate::cli::OneTarget;
use crate::error::Error;
use crate::output;
use crate::target::{self, socketio_failed, DriveSpec, ListSpec, TargetKind, TargetSpec};

pub(super) async fn run(app: &App, which: &OneTarget) -> anyhow::Result<()> {
    // A bad SPEC is a usage error even when nobody is signed in: parse first.
    let spec = match (&which.drive, &which.list) {
        (Some(drive), _) => TargetSpec::Drive(DriveSpec::parse(drive)?),
        (None, Some(list)) => TargetSpec::List(ListSpec::parse(list)?),
        (None, None) => return Err(Error::usage("give --drive SPEC or --list SPEC").into()),
    };
    let client = app.graph_client();
    let target = target::resolve(&client, &spec).await?;
    match &target.kind {
        TargetKind::Drive { drive_id } => tracing::info!(
            "{} is drive {drive_id} ({:?})",
            target.label,
            target.display_name
        ),
        TargetKind::List { site_id, list_id } => tracing::info!(
            "{} is list {list_id} of site {site_id} ({:?})",
            target.label,
            target.display_name
        ),
    }
    let subscription: Value = client
        .get_json(&target.socketio_path())
        .await
        .map_err(|e| socketio_failed(e, &target))?;
    output::print_json(&subscription, app.output_format())
}
