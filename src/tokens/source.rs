//! Where the Graph client gets its bearer token: `--access-token` as given,
//! `--access-token-command`'s output (run again at expiry and after a 401: see
//! `super::command`), or the profile's cache, refreshed before expiry and after a 401.
//! Knows nothing of Graph: the client tells it what was refused.
//!
//! A sign-in is given up only when the sign-in service says the grant is no good
//! (`invalid_grant`: expired or revoked; `interaction_required`; a refused client or
//! scope): exit 3. Anything else — no answer, 5xx, 429 (its `Retry-After` is a floor),
//! `temporarily_unavailable` — is [`SignInUnavailable`], which
//! `GraphError::is_transient` counts as transient:
//!
//! - while the access token is still valid, requests go on with it, and each one that
//!   finds a refresh due tries again once the backoff allows ("going on with the current
//!   access token", said once);
//! - once it has expired (or Graph refused it), requests fail at once with
//!   [`SignInUnavailable`], whose `retry_after` is when the next attempt is allowed, and
//!   their callers (the supervisor, the `--changes` task) wait with their own backoff
//!   ("requests to Graph wait", said once). A live socket does not need the token.
//!
//! Tokens received are never dropped: if the cache cannot be saved after a refresh
//! (full disk, read-only directory) they are kept in memory and used from there (the
//! refresh token has rotated: the one in the file may be spent), a task tries the save
//! again with backoff, and stderr says so once.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use oauth2::basic::{BasicErrorResponse, BasicErrorResponseType};
use oauth2::{
    AsyncHttpClient, HttpClientError, HttpRequest, HttpResponse, RefreshToken, RequestTokenError,
    Scope, TokenResponse as _,
};
use tokio::time::Instant;
use url::Url;

use super::cache::{CachedTokens, TokenStore};
use super::command::CommandSource;
use super::oauth::{
    describe_server_error, expiry, login_command, oauth_client, refusal_is_final, unreadable_login,
    MsTokenResponse,
};
use crate::error::Error;
use crate::settings::{Secret, Settings};
use crate::util::backoff::Backoff;
use crate::util::duration::{human, parse_retry_after};
use crate::util::text::error_text;
use crate::util::url::base_str;

/// An access token this close to its expiry is refreshed before use, so that it does
/// not expire between the check and Graph's answer (or during a long delta walk).
/// See [`is_fresh`] for tokens that live shorter than twice this.
pub const REFRESH_MARGIN: Duration = Duration::from_secs(120);

/// A token with less left than this is not handed out even while the sign-in service
/// is unavailable: it could expire before Graph reads it.
const STILL_VALID: Duration = Duration::from_secs(10);

/// Waits between attempts to reach the sign-in service after a transient failure, and
/// between attempts to save the cache after a failed save: the one backoff policy
/// ([`Backoff`]), 1 s doubling to a minute, like the reconnects' default.
const RETRY_FIRST: Duration = Duration::from_secs(1);
const RETRY_MAX: Duration = Duration::from_secs(60);

/// When the tokens were obtained: the last refresh, or the sign-in.
fn obtained(tokens: &CachedTokens) -> DateTime<Utc> {
    tokens.refreshed_at.unwrap_or(tokens.signed_in_at)
}

/// Usable without a refresh: more than [`REFRESH_MARGIN`] left, or, for tokens that
/// live shorter than twice that, more than half their lifetime left (otherwise a
/// short-lived token would be refreshed again before every single request).
fn is_fresh(tokens: &CachedTokens) -> bool {
    let lifetime = tokens.access_token_expires_at - obtained(tokens);
    let margin = chrono::Duration::from_std(REFRESH_MARGIN)
        .unwrap_or_default()
        .min(lifetime / 2);
    tokens.access_token_expires_at - Utc::now() > margin
}

/// Still accepted as far as we know: not about to expire, not refused by Graph.
fn is_usable(tokens: &CachedTokens, rejected: Option<&str>) -> bool {
    let left = tokens.access_token_expires_at - Utc::now();
    left > chrono::Duration::from_std(STILL_VALID).unwrap_or_default()
        && rejected != Some(tokens.access_token.as_str())
}

/// The sign-in could not be renewed for now, and may be later: the sign-in service is
/// unreachable, busy or failing. Transient for `GraphError::is_transient`; for a
/// one-off command it is exit 1 with a hint (the [`Error`] it carries).
#[derive(Debug)]
pub struct SignInUnavailable {
    error: Error,
    /// Not before this is the sign-in service asked again.
    retry_after: Duration,
}

impl SignInUnavailable {
    /// `error` says what failed and what to do (its code is the exit code of a one-off
    /// command); the sign-in service is asked again in `retry_after`.
    pub(crate) fn new(error: Error, retry_after: Duration) -> SignInUnavailable {
        SignInUnavailable { error, retry_after }
    }

    /// The one in `err`'s chain, if any.
    pub fn of(err: &anyhow::Error) -> Option<&SignInUnavailable> {
        err.chain()
            .find_map(|c| c.downcast_ref::<SignInUnavailable>())
    }

    /// How long until the sign-in service is asked again: no use trying sooner.
    pub fn retry_after(&self) -> Duration {
        self.retry_after
    }
}

impl std::fmt::Display for SignInUnavailable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.error.fmt(f)
    }
}

impl std::error::Error for SignInUnavailable {
    // The exit code and the hint are the inner error's (`exit` walks the chain).
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.error)
    }
}

/// Where the Graph client gets its bearer token.
#[derive(Clone)]
pub enum TokenSource {
    /// `--access-token`: used as given, never cached, never refreshed.
    Fixed(Secret),
    /// `--access-token-command`: run for a token, and again when it is no longer good.
    Command(Arc<CommandSource>),
    /// The profile's token cache, refreshed as needed.
    Cached(Arc<CachedSource>),
}

/// The cache-backed source: one refresh at a time in this process (`refreshing`) and
/// across processes (the lock file), each re-reading the file first.
pub struct CachedSource {
    store: TokenStore,
    /// The `--login-url` in force; tokens from another sign-in service are not used.
    login_url: String,
    http: reqwest::Client,
    /// What this process knows; never held across an `await`.
    known: Mutex<Known>,
    /// Held while refreshing or saving.
    refreshing: tokio::sync::Mutex<()>,
}

/// The state of a [`CachedSource`].
#[derive(Default)]
struct Known {
    /// Read from the file at first use; from then on the newest tokens this process has
    /// seen (its own refreshes, or another process's read from the file).
    tokens: Option<CachedTokens>,
    /// The access token Graph refused: not handed out again.
    rejected: Option<String>,
    /// `tokens` are newer than the file: saving them failed.
    unsaved: bool,
    /// A task is trying the save again.
    saver: bool,
    /// Since the last attempt to reach the sign-in service failed.
    outage: Option<Outage>,
}

/// The sign-in service is unavailable: when to ask again, and what was said about it.
struct Outage {
    backoff: Backoff,
    next_attempt: Instant,
    /// The last failure, for the errors handed out until the next attempt.
    cause: String,
    said_going_on: bool,
    said_waiting: bool,
}

/// Why a refresh did not give a token.
enum Failed {
    /// [`SignInUnavailable`]: try again later.
    Unavailable(anyhow::Error),
    /// The sign-in is over (or the cache unusable): give up.
    Final(anyhow::Error),
}

/// What the token endpoint's last answer said beyond its body.
#[derive(Default, Clone, Copy)]
struct Answer {
    status: Option<u16>,
    retry_after: Option<Duration>,
}

impl TokenSource {
    pub fn fixed(token: Secret) -> Self {
        TokenSource::Fixed(token)
    }

    /// `--access-token` if given, else `--access-token-command`, else the profile's
    /// cache.
    pub fn from_settings(settings: &Settings, http: reqwest::Client) -> Self {
        if let Some(command) = &settings.access_token_command {
            if settings.access_token.is_none() {
                return TokenSource::Command(Arc::new(CommandSource::new(command.clone())));
            }
        }
        match &settings.access_token {
            Some(token) => TokenSource::Fixed(token.clone()),
            None => TokenSource::Cached(Arc::new(CachedSource {
                store: TokenStore::new(&settings.config_dir, &settings.profile),
                login_url: base_str(&settings.login_url).to_string(),
                http,
                known: Mutex::new(Known::default()),
                refreshing: tokio::sync::Mutex::new(()),
            })),
        }
    }

    /// Ask the sign-in service whether the profile's sign-in still holds, with a refresh
    /// (the rotated tokens are saved). `Ok(false)` when there is nothing to refresh
    /// with: no refresh token, or a token given from outside.
    pub async fn check_with_service(&self) -> anyhow::Result<bool> {
        match self {
            TokenSource::Cached(source) => {
                let refreshable = source.current().map(|_| {
                    source
                        .lock_known()
                        .tokens
                        .as_ref()
                        .is_some_and(|t| t.refresh_token.is_some())
                })?;
                if !refreshable {
                    return Ok(false);
                }
                source.check_with_service().await?;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    /// Whether a refused token can be replaced by a refresh.
    pub fn can_refresh(&self) -> bool {
        matches!(self, TokenSource::Cached(_) | TokenSource::Command(_))
    }

    /// A token valid for at least [`REFRESH_MARGIN`] (as far as the cache knows), or,
    /// while the sign-in service is unavailable, one that is still valid at all.
    pub async fn access_token(&self) -> anyhow::Result<Secret> {
        match self {
            TokenSource::Fixed(token) => Ok(token.clone()),
            TokenSource::Command(source) => source.access_token().await,
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
            TokenSource::Command(source) => source.refresh_after_rejection(rejected).await,
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
            TokenSource::Command(_) => Error::auth(format!(
                "Graph refused the token printed by --access-token-command, even a new one ({summary})"
            ))
            .hint("check what the command prints: a token for https://graph.microsoft.com with Files.Read or more")
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
    async fn access_token(self: &Arc<Self>) -> anyhow::Result<Secret> {
        match self.current()? {
            Some((token, true)) => Ok(token),
            // Due for a refresh but still valid: try, unless the backoff says not yet or
            // another request is at it; a sign-in service that is down costs nothing.
            Some((token, false)) => {
                if self.next_attempt_in().is_some() {
                    return Ok(token);
                }
                let Ok(_turn) = self.refreshing.try_lock() else {
                    return Ok(token);
                };
                match self.refresh(None, false).await {
                    Ok(fresh) => Ok(fresh),
                    Err(Failed::Unavailable(_)) => {
                        self.say_going_on();
                        Ok(token)
                    }
                    Err(Failed::Final(e)) => Err(e),
                }
            }
            None => self.refresh_or_wait(None).await,
        }
    }

    async fn refresh_after_rejection(
        self: &Arc<Self>,
        rejected: &Secret,
    ) -> anyhow::Result<Secret> {
        {
            let mut known = self.lock_known();
            if known
                .tokens
                .as_ref()
                .is_some_and(|t| t.access_token == rejected.expose())
            {
                known.rejected = Some(rejected.expose().to_string());
            }
        }
        self.refresh_or_wait(Some(rejected.expose())).await
    }

    /// A refresh now, whatever the access token's age: the sign-in service's word on
    /// whether the sign-in still holds (revoked, expired: the final error).
    async fn check_with_service(self: &Arc<Self>) -> anyhow::Result<()> {
        let _turn = self.refreshing.lock().await;
        self.current()?;
        match self.refresh(None, true).await {
            Ok(_) => Ok(()),
            Err(Failed::Unavailable(e) | Failed::Final(e)) => Err(e),
        }
    }

    fn lock_known(&self) -> std::sync::MutexGuard<'_, Known> {
        self.known.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The access token this process holds (read from the file at first use) and
    /// whether it is fresh; `None` once it cannot be used (expired, or refused).
    fn current(&self) -> anyhow::Result<Option<(Secret, bool)>> {
        let mut known = self.lock_known();
        let tokens = match known.tokens.take() {
            Some(tokens) => tokens,
            None => {
                let removed = self.store.remove_stale_temps();
                if removed > 0 {
                    tracing::info!(
                        "removed {removed} temporary file(s) left by interrupted writes of {}",
                        self.store.path().display()
                    );
                }
                self.load()?
            }
        };
        let token = is_usable(&tokens, known.rejected.as_deref())
            .then(|| (Secret::new(tokens.access_token.clone()), is_fresh(&tokens)));
        known.tokens = Some(tokens);
        Ok(token)
    }

    /// The access token is not usable: refresh now, or, while the sign-in service is
    /// unavailable, fail at once with [`SignInUnavailable`] so the caller backs off.
    async fn refresh_or_wait(self: &Arc<Self>, rejected: Option<&str>) -> anyhow::Result<Secret> {
        let _turn = self.refreshing.lock().await;
        // Another request may have refreshed while this one waited for its turn.
        if let Some((token, _)) = self.current()? {
            return Ok(token);
        }
        let result = match self.next_attempt_in() {
            Some(wait) => Err(self.unavailable(wait)),
            None => match self.refresh(rejected, false).await {
                Ok(token) => Ok(token),
                Err(Failed::Unavailable(e)) => Err(e),
                Err(Failed::Final(e)) => return Err(e),
            },
        };
        if result.is_err() {
            self.say_waiting();
        }
        result
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

    /// The newest tokens: the file's if another process (or a new sign-in) wrote newer
    /// ones, else this process's. The file is the authority on a sign-in that ended
    /// (logged out, signed in elsewhere, damaged), unless it is behind: tokens that
    /// could not be saved are newer than anything in it.
    fn newest(&self) -> anyhow::Result<CachedTokens> {
        let (memory, unsaved) = {
            let known = self.lock_known();
            (known.tokens.clone(), known.unsaved)
        };
        match (memory, self.load()) {
            (Some(memory), Ok(file)) if obtained(&file) > obtained(&memory) => {
                let mut known = self.lock_known();
                known.unsaved = false;
                known.tokens = Some(file.clone());
                Ok(file)
            }
            (Some(memory), Ok(_)) => Ok(memory),
            (Some(memory), Err(e)) if unsaved || e.downcast_ref::<Error>().is_none() => {
                tracing::debug!("using the tokens in memory: {e:#}");
                Ok(memory)
            }
            (_, result) => result,
        }
    }

    /// Refresh under the cross-process lock. The file is re-read first: if another
    /// process refreshed while we waited, its token is used (unless it is the one
    /// Graph just refused, or `force`: the service itself must answer). The rotated
    /// refresh token is kept (saved, or in memory until a save works). Called with
    /// `refreshing` held.
    async fn refresh(
        self: &Arc<Self>,
        rejected: Option<&str>,
        force: bool,
    ) -> Result<Secret, Failed> {
        let profile = self.store.profile().to_string();
        let _lock = match self.store.lock().await {
            Ok(lock) => Some(lock),
            Err(e) => {
                tracing::info!("{e:#}; refreshing without the cross-process lock");
                None
            }
        };
        let mut tokens = self.newest().map_err(Failed::Final)?;
        let refused = rejected
            .map(str::to_string)
            .or_else(|| self.lock_known().rejected.clone());
        if !force && is_fresh(&tokens) && refused.as_deref() != Some(tokens.access_token.as_str()) {
            tracing::debug!("another process refreshed the tokens of profile {profile}");
            return Ok(Secret::new(tokens.access_token));
        }
        let Some(refresh_token) = tokens.refresh_token.clone() else {
            return Err(Failed::Final(
                Error::auth(format!(
                    "the sign-in for profile {profile} has expired and cannot be renewed (no refresh token)"
                ))
                .hint(format!("run {} again", login_command(&profile)))
                .into(),
            ));
        };
        tracing::info!("refreshing the access token of profile {profile}");
        let (result, answer) = self.exchange(&tokens, refresh_token).await;
        let response = match result {
            Ok(response) => response,
            Err(e) => return Err(self.refresh_failed(e, answer, &profile, &tokens.login_url)),
        };
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
        tracing::info!(
            "new access token for profile {profile}, valid until {}",
            tokens.access_token_expires_at.to_rfc3339()
        );
        Ok(self.renewed(tokens))
    }

    /// One `refresh_token` grant, and the status and `Retry-After` of its answer (the
    /// `oauth2` crate's errors keep neither).
    async fn exchange(
        &self,
        tokens: &CachedTokens,
        refresh_token: String,
    ) -> (
        Result<
            MsTokenResponse,
            RequestTokenError<HttpClientError<reqwest::Error>, BasicErrorResponse>,
        >,
        Answer,
    ) {
        let answer = Mutex::new(Answer::default());
        let login_url = match Url::parse(&tokens.login_url) {
            Ok(url) => url,
            Err(e) => {
                let text = format!("the token cache names a bad sign-in URL: {e}");
                return (Err(RequestTokenError::Other(text)), Answer::default());
            }
        };
        let client = match oauth_client(&login_url, &tokens.tenant, &tokens.client_id) {
            Ok(client) => client,
            Err(e) => {
                return (
                    Err(RequestTokenError::Other(e.to_string())),
                    Answer::default(),
                )
            }
        };
        let scopes = if tokens.requested_scopes.is_empty() {
            tokens.scopes.clone()
        } else {
            tokens.requested_scopes.clone()
        };
        let recording = Recording {
            http: &self.http,
            answer: &answer,
        };
        let result = client
            .exchange_refresh_token(&RefreshToken::new(refresh_token))
            .add_scopes(scopes.into_iter().map(Scope::new))
            .request_async(&recording)
            .await;
        let answer = *answer.lock().unwrap_or_else(|e| e.into_inner());
        (result, answer)
    }

    /// Sort a failed refresh: the sign-in is over, or the service is unavailable for now
    /// (then the next attempt waits for the backoff, and at least for `Retry-After`).
    fn refresh_failed(
        &self,
        e: RequestTokenError<HttpClientError<reqwest::Error>, BasicErrorResponse>,
        answer: Answer,
        profile: &str,
        login_url: &str,
    ) -> Failed {
        let status = answer.status.map(|s| format!("{s} ")).unwrap_or_default();
        let cause = match e {
            // (An OAuth error came with an answer, so its status is known.)
            RequestTokenError::ServerResponse(r)
                if !refusal_is_final(answer.status.unwrap_or(400), r.error().as_ref()) =>
            {
                format!(
                    "the sign-in service at {login_url} answered {status}{}",
                    describe_server_error(r.error().as_ref(), r.error_description())
                )
            }
            RequestTokenError::ServerResponse(r) => {
                return Failed::Final(final_refusal(&r, profile));
            }
            RequestTokenError::Request(e) => {
                let cause = match e {
                    HttpClientError::Reqwest(re) => error_text(&re.without_url()),
                    other => other.to_string(),
                };
                format!("cannot reach the sign-in service at {login_url}: {cause}")
            }
            // No OAuth error in the body (a proxy's page, an empty answer): the status
            // says whether it is worth another try.
            RequestTokenError::Parse(..) | RequestTokenError::Other(_)
                if answer.status.is_some_and(|s| !refusal_is_final(s, "")) =>
            {
                format!(
                    "the sign-in service at {login_url} answered {status}without an OAuth error"
                )
            }
            RequestTokenError::Parse(..) => return Failed::Final(unreadable_login(login_url)),
            RequestTokenError::Other(text) => {
                return Failed::Final(
                    Error::auth(format!("cannot renew the sign-in: {text}"))
                        .hint(format!("run {} again", login_command(profile)))
                        .into(),
                )
            }
        };
        let wait = {
            let mut known = self.lock_known();
            let outage = known.outage.get_or_insert_with(|| Outage {
                backoff: Backoff::new(RETRY_FIRST, RETRY_MAX),
                next_attempt: Instant::now(),
                cause: String::new(),
                said_going_on: false,
                said_waiting: false,
            });
            let wait = outage
                .backoff
                .next_delay()
                .max(answer.retry_after.unwrap_or_default());
            outage.next_attempt = Instant::now() + wait;
            outage.cause = cause;
            wait
        };
        tracing::debug!("the next attempt to renew the sign-in in {}", human(wait));
        Failed::Unavailable(self.unavailable(wait))
    }

    /// While the sign-in service is unavailable: how long until it may be asked again.
    fn next_attempt_in(&self) -> Option<Duration> {
        let known = self.lock_known();
        let at = known.outage.as_ref()?.next_attempt;
        Some(at.checked_duration_since(Instant::now())?).filter(|d| !d.is_zero())
    }

    /// The error for a request that needs a token while the sign-in service is
    /// unavailable; the next attempt is `wait` away.
    fn unavailable(&self, wait: Duration) -> anyhow::Error {
        let cause = {
            let known = self.lock_known();
            known
                .outage
                .as_ref()
                .map(|o| o.cause.clone())
                .unwrap_or_default()
        };
        anyhow::Error::new(SignInUnavailable::new(
            Error::failure(format!(
                "cannot renew the sign-in of profile {}: {cause}",
                self.store.profile()
            ))
            .hint("try again in a while; if it lasts, check the network and --login-url"),
            wait,
        ))
    }

    /// Once per outage, while the access token still works.
    fn say_going_on(&self) {
        let mut known = self.lock_known();
        let until = known
            .tokens
            .as_ref()
            .map(|t| t.access_token_expires_at.with_timezone(&chrono::Local))
            .map(|t| t.format("%H:%M:%S").to_string())
            .unwrap_or_default();
        if let Some(outage) = known.outage.as_mut().filter(|o| !o.said_going_on) {
            outage.said_going_on = true;
            tracing::warn!(
                "cannot renew the sign-in of profile {} ({}); going on with the current access token (valid until {until}) and trying again",
                self.store.profile(),
                outage.cause
            );
        }
    }

    /// Once per outage, when the access token no longer works.
    fn say_waiting(&self) {
        let mut known = self.lock_known();
        if let Some(outage) = known.outage.as_mut().filter(|o| !o.said_waiting) {
            outage.said_waiting = true;
            tracing::warn!(
                "the access token of profile {} has expired and the sign-in cannot be renewed for now ({}); requests to Graph wait until the sign-in service is back (a live socket goes on)",
                self.store.profile(),
                outage.cause
            );
        }
    }

    /// New tokens from the sign-in service: use them, and save them — or keep them in
    /// memory and try the save again later.
    fn renewed(self: &Arc<Self>, tokens: CachedTokens) -> Secret {
        let token = Secret::new(tokens.access_token.clone());
        let saved = self.store.save(&tokens);
        let mut known = self.lock_known();
        if known
            .outage
            .take()
            .is_some_and(|o| o.said_going_on || o.said_waiting)
        {
            tracing::warn!(
                "the sign-in service is back: the sign-in of profile {} is renewed",
                self.store.profile()
            );
        }
        known.rejected = None;
        known.tokens = Some(tokens);
        match saved {
            Ok(()) => {
                if known.unsaved {
                    tracing::warn!(
                        "saved the renewed sign-in of profile {} at last",
                        self.store.profile()
                    );
                }
                known.unsaved = false;
            }
            Err(e) => {
                if !known.unsaved {
                    tracing::warn!(
                        "{e:#}; keeping the renewed sign-in in memory and trying to save it again (if graphwatch stops before a save works, the next run needs {})",
                        login_command(self.store.profile())
                    );
                }
                known.unsaved = true;
                if !known.saver {
                    known.saver = true;
                    self.keep_saving();
                }
            }
        }
        token
    }

    /// Try the save again with backoff until it works (or newer tokens are on disk).
    fn keep_saving(self: &Arc<Self>) {
        let this = Arc::clone(self);
        tokio::spawn(async move {
            let mut backoff = Backoff::new(RETRY_FIRST, RETRY_MAX);
            loop {
                tokio::time::sleep(backoff.next_delay()).await;
                let _turn = this.refreshing.lock().await;
                if this.save_unsaved().await {
                    break;
                }
            }
        });
    }

    /// One more save of tokens that could not be saved; `true` once none are left.
    /// Called with `refreshing` held.
    async fn save_unsaved(&self) -> bool {
        let _lock = self.store.lock().await.ok();
        let Some(tokens) = self.lock_known().tokens.clone() else {
            return true;
        };
        let superseded = self
            .load()
            .is_ok_and(|file| obtained(&file) > obtained(&tokens));
        let saved = if superseded || !self.lock_known().unsaved {
            Ok(())
        } else {
            self.store.save(&tokens)
        };
        let mut known = self.lock_known();
        match saved {
            Ok(()) => {
                if known.unsaved && !superseded {
                    tracing::warn!(
                        "saved the renewed sign-in of profile {} at last",
                        self.store.profile()
                    );
                }
                known.unsaved = false;
                known.saver = false;
                true
            }
            Err(e) => {
                tracing::debug!("{e:#}; trying again later");
                false
            }
        }
    }
}

/// The HTTP client for the token endpoint: `reqwest`'s, noting the status and the
/// `Retry-After` of the answer on the way.
struct Recording<'a> {
    http: &'a reqwest::Client,
    answer: &'a Mutex<Answer>,
}

impl<'c> AsyncHttpClient<'c> for Recording<'_> {
    type Error = HttpClientError<reqwest::Error>;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse, Self::Error>> + Send + 'c>>;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        Box::pin(async move {
            let response = self.http.call(request).await?;
            let retry_after = response
                .headers()
                .get(oauth2::http::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(parse_retry_after);
            *self.answer.lock().unwrap_or_else(|e| e.into_inner()) = Answer {
                status: Some(response.status().as_u16()),
                retry_after,
            };
            Ok(response)
        })
    }
}

/// The sign-in service refused the grant for good: the sign-in is over (exit 3).
fn final_refusal(r: &BasicErrorResponse, profile: &str) -> anyhow::Error {
    let again = format!("run {} again", login_command(profile));
    match r.error() {
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
    }
}
