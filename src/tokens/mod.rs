//! Tokens: what the Graph client needs to authenticate, and nothing of Graph itself.
//! [`TokenSource`] hands out a valid access token; [`cache`] keeps the profile's tokens
//! on disk; [`oauth`] speaks the Microsoft identity platform for sign-in and refresh;
//! `command` runs `--access-token-command`.

pub mod cache;
mod command;
pub mod oauth;
mod source;

pub use cache::{CachedTokens, TokenStore};
pub use source::{SignInUnavailable, TokenSource};
