//! What to watch: drive and list SPECs, parsed (pure) and resolved through Graph into
//! a [`Target`] that addresses the drive or list by id.
//!
//! Drives are always addressed as `/drives/{id}`, never `/me/drive`: one client saw no
//! notifications for a SharePoint library subscribed through `/me/drive` (docs/graph-socketio.md §1).
//!
//! Labels name a target in output lines; they must be stable from run to run and
//! short. A label is `drive:` or `list:` followed by what the user typed, normalised:
//! `drive:me`, `drive:b!…`, `drive:user:megan@contoso.com`, `drive:group:ID`,
//! `drive:site:ID`, `list:site-eng/list-issues`, `list:HOST:/sites/eng/Issues`; for a
//! URL, the scheme is dropped and the path is the one of the site, library or list
//! that it resolved to (so `…/Shared%20Documents/Forms/AllItems.aspx` is labelled
//! `drive:contoso.sharepoint.com/sites/eng/Shared%20Documents`).

//!
//! [`spec`] parses what the user typed; [`resolve`] asks Graph what it names;
//! [`expand`] finds the many targets of `SITE/*` and `--followed-sites`; [`Shard`] says
//! which of them this process watches (`--shard I/N`).

pub mod expand;
mod resolve;
mod shard;
mod spec;

pub use resolve::{resolve, socketio_failed, targets, transient_cause};
pub use shard::Shard;
pub use spec::{DriveSpec, ListSpec, SiteRef, TargetSpec};

use crate::event::TargetId;
use crate::util::url::segment;

/// What a SPEC resolved to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TargetKind {
    Drive { drive_id: String },
    List { site_id: String, list_id: String },
}

/// For people (`-v`): what a label resolved to, never a Rust `Debug` struct.
impl std::fmt::Display for TargetKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TargetKind::Drive { drive_id } => write!(f, "the drive {drive_id}"),
            TargetKind::List { site_id, list_id } => {
                write!(f, "the list {list_id} of the site {site_id}")
            }
        }
    }
}

/// A resolved target: everything the watch loop needs to subscribe and run delta.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// Stable name for output lines (see the module docs).
    pub label: String,
    pub kind: TargetKind,
    /// The drive's or list's name, for people.
    pub display_name: String,
    pub web_url: Option<String>,
}

impl Target {
    /// What the target resolved to, `drive:{id}` or `list:{site}/{list}`: a saved
    /// cursor belongs to this, not to the label (the same label can name another drive
    /// tomorrow, e.g. `user:` after a rename).
    pub fn resource_key(&self) -> String {
        match &self.kind {
            TargetKind::Drive { drive_id } => format!("drive:{drive_id}"),
            TargetKind::List { site_id, list_id } => format!("list:{site_id}/{list_id}"),
        }
    }

    /// Label and resource: what a committed cursor is filed under.
    pub fn id(&self) -> TargetId {
        TargetId {
            label: self.label.clone(),
            resource: self.resource_key(),
        }
    }

    /// `GET` this path (relative to the Graph base) for the socket.io endpoint.
    pub fn socketio_path(&self) -> String {
        match &self.kind {
            TargetKind::Drive { drive_id } => {
                format!("/drives/{}/root/subscriptions/socketIo", segment(drive_id))
            }
            TargetKind::List { site_id, list_id } => format!(
                "/sites/{}/lists/{}/subscriptions/socketIo",
                segment(site_id),
                segment(list_id)
            ),
        }
    }

    /// The first delta request (add `?token=latest` to start from now).
    pub fn delta_path(&self) -> String {
        match &self.kind {
            TargetKind::Drive { drive_id } => format!("/drives/{}/root/delta", segment(drive_id)),
            TargetKind::List { site_id, list_id } => format!(
                "/sites/{}/lists/{}/items/delta",
                segment(site_id),
                segment(list_id)
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn graph_paths_address_by_id() {
        let drive = Target {
            label: "drive:me".into(),
            kind: TargetKind::Drive {
                drive_id: "b!Adele".into(),
            },
            display_name: "OneDrive".into(),
            web_url: None,
        };
        assert_eq!(
            drive.socketio_path(),
            "/drives/b!Adele/root/subscriptions/socketIo"
        );
        assert_eq!(drive.delta_path(), "/drives/b!Adele/root/delta");
        let list = Target {
            kind: TargetKind::List {
                site_id: "contoso.sharepoint.com,a,b".into(),
                list_id: "list issues".into(),
            },
            ..drive
        };
        assert_eq!(
            list.socketio_path(),
            "/sites/contoso.sharepoint.com,a,b/lists/list%20issues/subscriptions/socketIo"
        );
        assert_eq!(
            list.delta_path(),
            "/sites/contoso.sharepoint.com,a,b/lists/list%20issues/items/delta"
        );
    }
}
