//! What the integration tests (`tests/`) reach inside the crate: the pieces they drive
//! directly — the delta feed, the coalescer, the socket, the state file, the token
//! cache — without the CLI around them. Not an API: nothing here is stable.

pub use crate::changes::coalesce::{self, Coalescer, Reason};
pub use crate::changes::delta::{
    Change, DeltaFeed, LastWins, Outcome, PageSink, Round, RoundLimits,
};
pub use crate::changes::index::{Index, Resume};
pub use crate::changes::state::StateFile;
pub use crate::error::{Code, Error};
pub use crate::event::report::{Report, Status};
pub use crate::event::{ChangeKind, Event, TargetId};
pub use crate::exit::{exit_code, one_line};
pub use crate::graph::{http_client, GraphClient, MAX_BODY_BYTES};
pub use crate::link::payload;
pub use crate::link::socket::{self, connect, DisconnectReason, SocketEvent, SocketOptions};
pub use crate::link::supervisor::{Supervisor, SupervisorOptions, ToLoop};
pub use crate::output::Template;
pub use crate::settings::Secret;
pub use crate::target::{DriveSpec, ListSpec, SiteRef, Target, TargetKind};
pub use crate::tokens::cache::{CachedTokens, TokenStore};
pub use crate::tokens::TokenSource;
pub use crate::util::fs::write_private;
