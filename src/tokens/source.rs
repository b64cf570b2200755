//! Where the Graph client gets its bearer token: `--access-token` as given, or the
//! profile's cache, refreshed before expiry and after a 401. Knows nothing of Graph:
//! the client tells it what was refused.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use oauth2::basic::{BasicErrorResponse, BasicErrorResponseType};
use oauth2::{HttpClientError, RefreshToken, RequestTokenError, Scope, TokenResponse as _};
use url::Url;

use super::cache::{CachedTokens, TokenStore};
use super::oauth::{
    describe_server_error, expiry, login_command, oauth_client, unreachable_login, unreadable_login,
};
use crate::error::Error;
use crate::settings::{Secret, Settings};
use crate::util::url::base_str;

/// An access token this close to its expiry is refreshed before use, so that it does
/// not expire between the check and Graph's answer (or during a long delta walk).
/// See [`is_fresh`] for tokens that live shorter than twice this.
pub const REFRESH_MARGIN: Duration = Duration::from_secs(120);

/// Usable without a refresh: more than [`REFRESH_MARGIN`] left, or, for tokens that
/// live shorter than twice that, more than half their lifetime left (otherwise a
/// short-lived token would be refreshed again before every single request).
fn is_fresh(tokens: &CachedTokens) -> bool {
    let obtained = tokens.refreshed_at.unwrap_or(tokens.signed_in_at);
    let lifetime = tokens.access_token_expires_at - obtained;
    let margin = chrono::Duration::from_std(REFRESH_MARGIN)
        .unwrap_or_default()
        .min(lifetime / 2);
    tokens.access_token_expires_at - Utc::now() > margin
}

/// Where the Graph client gets its bearer token.
#[derive(Clone)]
pub enum TokenSource {
    /// `--access-token`: used as given, never cached, never refreshed.
    Fixed(Secret),
    /// The profile's token cache, refreshed as needed.
    Cached(Arc<CachedSource>),
}

/// The cache-backed source: one refresh at a time in this process (the mutex) and
/// across processes (the lock file), each re-reading the file first.
pub struct CachedSource {
    store: TokenStore,
    /// The `--login-url` in force; tokens from another sign-in service are not used.
    login_url: String,
    http: reqwest::Client,
    current: tokio::sync::Mutex<Option<CachedTokens>>,
}

impl TokenSource {
    pub fn fixed(token: Secret) -> Self {
        TokenSource::Fixed(token)
    }

    /// `--access-token` if given, else the profile's cache.
    pub fn from_settings(settings: &Settings, http: reqwest::Client) -> Self {
        match &settings.access_token {
            Some(token) => TokenSource::Fixed(token.clone()),
            None => TokenSource::Cached(Arc::new(CachedSource {
                store: TokenStore::new(&settings.config_dir, &settings.profile),
                login_url: base_str(&settings.login_url).to_string(),
                http,
                current: tokio::sync::Mutex::new(None),
            })),
        }
    }

    /// Whether a refused token can be replaced by a refresh.
    pub fn can_refresh(&self) -> bool {
        matches!(self, TokenSource::Cached(_))
    }

    /// A token valid for at least [`REFRESH_MARGIN`] (as far as the cache knows).
    pub async fn access_token(&self) -> anyhow::Result<Secret> {
        match self {
            TokenSource::Fixed(token) => Ok(token.clone()),
            TokenSource::Cached(source) => source.access_token().await,
        }
    }

    /// Graph refused `rejected` with 401: get another one (from the cache if another
    /// process refreshed meanwhile, else by refreshing now).
    pub async fn refresh_after_rejection(&self, rejected: &Secret) -> anyhow::Result<Secret> {
        match self {
            TokenSource::Fixed(_) => Err(Error::auth(
                "Graph refused the access token given with --access-token",
            )
            .hint("get a new token, or unset GRAPHWATCH_ACCESS_TOKEN to use the signed-in profile")
            .into()),
            TokenSource::Cached(source) => source.refresh_after_rejection(rejected).await,
        }
    }

    /// The error for a 401 that a refresh did not cure; `summary` is Graph's answer.
    pub fn refused(&self, summary: &str) -> anyhow::Error {
        match self {
            TokenSource::Fixed(_) => Error::auth(format!(
                "Graph refused the access token given with --access-token ({summary})"
            ))
            .hint("get a new token, or unset GRAPHWATCH_ACCESS_TOKEN to use the signed-in profile")
            .into(),
            TokenSource::Cached(source) => Error::auth(format!(
                "Graph refused the access token of profile {} even after a refresh ({summary})",
                source.store.profile(),
            ))
            .hint(format!(
                "run {} again",
                login_command(source.store.profile())
            ))
            .into(),
        }
    }
}

impl CachedSource {
    async fn access_token(&self) -> anyhow::Result<Secret> {
        let mut current = self.current.lock().await;
        if let Some(tokens) = current.as_ref().filter(|t| is_fresh(t)) {
            return Ok(Secret::new(tokens.access_token.clone()));
        }
        let tokens = self.load()?;
        let tokens = if is_fresh(&tokens) {
            tokens
        } else {
            self.refresh(None).await?
        };
        let token = Secret::new(tokens.access_token.clone());
        *current = Some(tokens);
        Ok(token)
    }

    async fn refresh_after_rejection(&self, rejected: &Secret) -> anyhow::Result<Secret> {
        let mut current = self.current.lock().await;
        let tokens = self.refresh(Some(rejected.expose())).await?;
        let token = Secret::new(tokens.access_token.clone());
        *current = Some(tokens);
        Ok(token)
    }

    /// The cache as on disk; "not signed in" and "signed in elsewhere" are auth errors.
    fn load(&self) -> anyhow::Result<CachedTokens> {
        let profile = self.store.profile();
        let tokens = self.store.load()?.ok_or_else(|| {
            Error::auth(format!("not signed in to profile {profile}"))
                .hint(format!("run {}", login_command(profile)))
        })?;
        if tokens.login_url.trim_end_matches('/') != self.login_url {
            return Err(Error::auth(format!(
                "profile {profile} signed in at {}, not at {}",
                tokens.login_url, self.login_url
            ))
            .hint(format!(
                "run {} to sign in there, or use another --profile",
                login_command(profile)
            ))
            .into());
        }
        Ok(tokens)
    }

    /// Refresh under the cross-process lock. The file is re-read first: if another
    /// process refreshed while we waited, its token is used (unless it is the one
    /// Graph just refused). The rotated refresh token is saved every time.
    async fn refresh(&self, rejected: Option<&str>) -> anyhow::Result<CachedTokens> {
        let profile = self.store.profile().to_string();
        let _lock = self.store.lock().await?;
        let mut tokens = self.load()?;
        if is_fresh(&tokens) && rejected.is_none_or(|r| r != tokens.access_token) {
            tracing::debug!("another process refreshed the tokens of profile {profile}");
            return Ok(tokens);
        }
        let Some(refresh_token) = tokens.refresh_token.clone() else {
            return Err(Error::auth(format!(
                "the sign-in for profile {profile} has expired and cannot be renewed (no refresh token)"
            ))
            .hint(format!("run {} again", login_command(&profile)))
            .into());
        };
        tracing::info!("refreshing the access token of profile {profile}");
        let login_url = Url::parse(&tokens.login_url)
            .map_err(|e| anyhow::anyhow!("the token cache names a bad sign-in URL: {e}"))?;
        let client = oauth_client(&login_url, &tokens.tenant, &tokens.client_id)?;
        let refresh_token = RefreshToken::new(refresh_token);
        let scopes = if tokens.requested_scopes.is_empty() {
            tokens.scopes.clone()
        } else {
            tokens.requested_scopes.clone()
        };
        let response = client
            .exchange_refresh_token(&refresh_token)
            .add_scopes(scopes.into_iter().map(Scope::new))
            .request_async(&self.http)
            .await
            .map_err(|e| refresh_error(e, &profile, &tokens.login_url))?;
        let now = Utc::now();
        tokens.access_token = response.access_token().secret().clone();
        tokens.access_token_expires_at = expiry(now, response.expires_in());
        if let Some(rotated) = response.refresh_token() {
            tokens.refresh_token = Some(rotated.secret().clone());
        }
        if let Some(scopes) = response.scopes().filter(|s| !s.is_empty()) {
            tokens.scopes = scopes.iter().map(|s| s.to_string()).collect();
        }
        tokens.refreshed_at = Some(now);
        self.store.save(&tokens)?;
        tracing::info!(
            "new access token for profile {profile}, valid until {}",
            tokens.access_token_expires_at.to_rfc3339()
        );
        Ok(tokens)
    }
}

fn refresh_error(
    e: RequestTokenError<HttpClientError<reqwest::Error>, BasicErrorResponse>,
    profile: &str,
    login_url: &str,
) -> anyhow::Error {
    let again = format!("run {} again", login_command(profile));
    match e {
        RequestTokenError::ServerResponse(r) => match r.error() {
            BasicErrorResponseType::InvalidGrant => Error::auth(format!(
                "the sign-in for profile {profile} has expired or was revoked"
            ))
            .hint(again)
            .into(),
            _ => Error::auth(format!(
                "the sign-in service refused to renew the sign-in for profile {profile} ({})",
                describe_server_error(r.error().as_ref(), r.error_description())
            ))
            .hint(again)
            .into(),
        },
        RequestTokenError::Request(e) => unreachable_login(login_url, e),
        RequestTokenError::Parse(..) => unreadable_login(login_url),
        RequestTokenError::Other(text) => Error::auth(format!("cannot renew the sign-in: {text}"))
            .hint(again)
            .into(),
    }
}
