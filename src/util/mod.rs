//! Leaves: small policies that several layers share and that import nothing else of
//! the crate, so any module may use them.

pub mod backoff;
pub mod duration;
pub mod fs;
pub mod hash;
pub mod limits;
pub mod redact;
pub mod text;
pub mod url;
