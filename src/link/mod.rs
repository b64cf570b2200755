//! One target's socket.io link to Graph, kept alive: the [`supervisor`] (endpoint,
//! connect, back off, renew), the [`socket`] (our Engine.IO / socket.io client), the
//! wire format it speaks ([`engineio`]), the decoding of what a `notification` event
//! carries ([`payload`]) and noticing that the machine slept ([`suspend`]).

pub mod engineio;
pub mod payload;
pub mod socket;
pub mod supervisor;
pub mod suspend;
