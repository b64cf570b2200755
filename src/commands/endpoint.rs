//! `graphwatch endpoint`: resolve one target, make the socketIo request once, print
//! the subscription object. The one place a notificationUrl is printed, because the
//! user asked for exactly that (e.g. to try another socket.io client).

use serde_json::Value;

use super::Context;
use crate::cli::OneTarget;
use crate::error::Error;
use crate::graph::GraphError;
use crate::output;
use crate::target::{self, DriveSpec, ListSpec, Target, TargetKind, TargetSpec};

pub async fn run(ctx: &Context, which: &OneTarget) -> anyhow::Result<()> {
    // A bad SPEC is a usage error even when nobody is signed in: parse first.
    let spec = match (&which.drive, &which.list) {
        (Some(drive), _) => TargetSpec::Drive(DriveSpec::parse(drive)?),
        (None, Some(list)) => TargetSpec::List(ListSpec::parse(list)?),
        (None, None) => return Err(Error::usage("give --drive SPEC or --list SPEC").into()),
    };
    let client = ctx.graph_client();
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
    output::print_json(&subscription, ctx.settings.output)
}

/// The socketIo request failed after the target was found.
pub fn socketio_failed(err: GraphError, target: &Target) -> anyhow::Error {
    let err = match err {
        GraphError::Token(inner) => return inner,
        other => other,
    };
    match (err.status(), err.code()) {
        (Some(400), Some("notSupported")) => Error::failure(format!(
            "Graph does not offer socket.io notifications for {} right now ({})",
            target.label,
            err.summary()
        ))
        .hint("some business accounts get this, sometimes only for a while; try again later")
        .into(),
        (Some(403), _) => Error::target(format!(
            "access to the notifications of {} was denied ({})",
            target.label,
            err.summary()
        ))
        .hint("the sign-in needs Files.Read (drives) or Sites.Read.All (lists) and access to the target")
        .into(),
        (Some(404), _) => Error::target(format!(
            "{} has no socket.io endpoint ({})",
            target.label,
            err.summary()
        ))
        .into(),
        _ => anyhow::Error::new(err).context(format!(
            "cannot get the socket.io endpoint of {}",
            target.label
        )),
    }
}
