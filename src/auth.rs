//! Sign-in (the OAuth 2.0 device-code flow against the Microsoft identity platform
//! v2.0) and the [`TokenSource`] that hands the Graph client a valid access token.
//!
//! Device code because graphwatch runs in terminals, over SSH and in containers,
//! where a browser redirect to localhost is not possible; the `oauth2` crate does the
//! protocol (polling at `interval`, `+5 s` on `slow_down`), this module does the
//! Microsoft specifics (`message`, `id_token`, `authorization_declined`), the cache
//! and the user-facing sentences.

pub mod cache;

use std::sync::{Arc, Mutex as StdMutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use chrono::{DateTime, Utc};
use oauth2::basic::{
    BasicErrorResponse, BasicErrorResponseType, BasicRevocationErrorResponse,
    BasicTokenIntrospectionResponse, BasicTokenType,
};
use oauth2::{
    AuthType, ClientId, DeviceAuthorizationResponse, DeviceAuthorizationUrl,
    DeviceCodeErrorResponse, DeviceCodeErrorResponseType, EndpointNotSet, EndpointSet,
    ExtraDeviceAuthorizationFields, ExtraTokenFields, HttpClientError, RefreshToken,
    RequestTokenError, Scope, StandardRevocableToken, StandardTokenResponse, TokenResponse as _,
    TokenUrl,
};
use serde::{Deserialize, Serialize};
use url::Url;

use crate::config::{Secret, Settings};
use crate::error::Error;
use crate::graph::{self, base_str, GraphClient, GraphError};
use crate::output::Ui;

pub use cache::{CachedTokens, TokenStore};

/// An access token this close to its expiry is refreshed before use, so that it does
/// not expire between the check and Graph's answer (or during a long delta walk).
/// See [`is_fresh`] for tokens that live shorter than twice this.
pub const REFRESH_MARGIN: Duration = Duration::from_secs(120);

/// Lifetime assumed when the token endpoint does not say (Microsoft always does).
const DEFAULT_TOKEN_LIFETIME: Duration = Duration::from_secs(3600);

/// Scopes asked for at sign-in. `offline_access` gives the refresh token, `openid
/// profile` the id_token that says who signed in; `Files.Read` is the least that the
/// socketIo endpoint accepts, `Sites.Read.All` reaches SharePoint sites and lists but
/// does not exist for personal accounts (`consumers`).
pub fn login_scopes(tenant: &str, extra: &[String]) -> Vec<String> {
    let mut scopes: Vec<String> = ["offline_access", "openid", "profile", "Files.Read"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    if !tenant.eq_ignore_ascii_case("consumers") {
        scopes.push("Sites.Read.All".into());
    }
    for scope in extra.iter().flat_map(|s| s.split_whitespace()) {
        if !scopes.iter().any(|s| s.eq_ignore_ascii_case(scope)) {
            scopes.push(scope.to_string());
        }
    }
    scopes
}

/// Microsoft's device authorization answer carries a ready-made sentence for people.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct MsDeviceFields {
    #[serde(default)]
    message: Option<String>,
}
impl ExtraDeviceAuthorizationFields for MsDeviceFields {}

/// Microsoft's token answer carries an `id_token` when `openid` was asked for.
#[derive(Clone, Serialize, Deserialize)]
struct MsTokenFields {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    id_token: Option<String>,
}
impl ExtraTokenFields for MsTokenFields {}
impl std::fmt::Debug for MsTokenFields {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MsTokenFields { .. }")
    }
}

type MsTokenResponse = StandardTokenResponse<MsTokenFields, BasicTokenType>;
type MsClient = oauth2::Client<
    BasicErrorResponse,
    MsTokenResponse,
    BasicTokenIntrospectionResponse,
    StandardRevocableToken,
    BasicRevocationErrorResponse,
    EndpointNotSet,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointSet,
>;

/// `{login}/{tenant}/oauth2/v2.0/devicecode` and `…/token` for a public client.
fn oauth_client(login_url: &Url, tenant: &str, client_id: &str) -> anyhow::Result<MsClient> {
    let base = format!("{}/{tenant}/oauth2/v2.0", base_str(login_url));
    Ok(oauth2::Client::new(ClientId::new(client_id.to_string()))
        .set_auth_type(AuthType::RequestBody)
        .set_device_authorization_url(DeviceAuthorizationUrl::new(format!("{base}/devicecode"))?)
        .set_token_uri(TokenUrl::new(format!("{base}/token"))?))
}

/// The claims of an id_token that say who signed in.
#[derive(Debug, Default, Deserialize)]
struct Claims {
    preferred_username: Option<String>,
    email: Option<String>,
    name: Option<String>,
    tid: Option<String>,
}

/// Read an id_token's payload without checking its signature: it came straight from
/// the token endpoint over TLS and is used only to show who signed in.
fn decode_claims(jwt: &str) -> Option<Claims> {
    let payload = jwt.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// `run `graphwatch login``, with `--profile` when it is not the default.
pub fn login_command(profile: &str) -> String {
    if profile == crate::cli::DEFAULT_PROFILE {
        "`graphwatch login`".to_string()
    } else {
        format!("`graphwatch login --profile {profile}`")
    }
}

/// The first line of an `error_description` (Microsoft appends trace and correlation
/// ids on further lines).
fn first_line(text: &str) -> String {
    text.lines().next().unwrap_or("").trim().to_string()
}

/// The server's error code and description for a one-line message: control
/// characters removed, lengths bounded (see [`graph::shown_text`]).
fn describe_server_error(code: &str, description: Option<&String>) -> String {
    let code = graph::shown_text(code, 100);
    match description
        .map(|d| graph::shown_text(&first_line(d), 300))
        .filter(|d| !d.is_empty())
    {
        Some(d) => format!("{code}: {d}"),
        None => code,
    }
}

/// The longest lifetime taken as the sign-in service states it (device codes, access
/// tokens). Larger values are cut to this: they are added to the clock, where an
/// absurd one (`"expires_in": 1e15`) would overflow it.
const LIFETIME_CEILING: Duration = Duration::from_secs(24 * 60 * 60);

fn bounded(lifetime: Duration) -> Duration {
    lifetime.min(LIFETIME_CEILING)
}

/// The longest poll interval taken from the device-code answer (the service says 5 s).
const POLL_INTERVAL_CEILING: u64 = 60;

/// The device-code answer with its `expires_in` and `interval` cut to sane bounds.
/// oauth2 adds both to clocks and durations as they come (`interval + 5 s` on
/// `slow_down` overflows for `"interval": 18446744073709551615`), and has no setter for
/// them: the answer is rebuilt through its own serde form.
fn bounded_device_details(
    details: DeviceAuthorizationResponse<MsDeviceFields>,
) -> DeviceAuthorizationResponse<MsDeviceFields> {
    let Ok(mut value) = serde_json::to_value(&details) else {
        return details;
    };
    let limits = [
        ("expires_in", LIFETIME_CEILING.as_secs()),
        ("interval", POLL_INTERVAL_CEILING),
    ];
    for (key, max) in limits {
        if let Some(n) = value.get(key).and_then(serde_json::Value::as_u64) {
            value[key] = serde_json::Value::from(n.min(max));
        }
    }
    serde_json::from_value(value).unwrap_or(details)
}

fn unreachable_login(login_url: &str, e: HttpClientError<reqwest::Error>) -> anyhow::Error {
    let cause = match e {
        HttpClientError::Reqwest(re) => graph::error_text(&re.without_url()),
        other => other.to_string(),
    };
    Error::failure(format!(
        "cannot reach the sign-in service at {login_url}: {cause}"
    ))
    .hint("check the network and --login-url, then try again")
    .into()
}

fn unreadable_login(login_url: &str) -> anyhow::Error {
    Error::failure(format!(
        "the sign-in service at {login_url} sent an answer graphwatch does not understand"
    ))
    .hint("check --login-url")
    .into()
}

/// Errors of the device authorization request (before any code is shown).
fn device_code_error(
    e: RequestTokenError<HttpClientError<reqwest::Error>, BasicErrorResponse>,
    settings: &Settings,
) -> anyhow::Error {
    let login_url = base_str(&settings.login_url);
    match e {
        RequestTokenError::ServerResponse(r) => {
            let text = describe_server_error(r.error().as_ref(), r.error_description());
            let hint = match r.error() {
                BasicErrorResponseType::InvalidClient | BasicErrorResponseType::UnauthorizedClient => {
                    "check --client-id: the app must exist in the tenant and allow public client flows"
                }
                BasicErrorResponseType::InvalidScope => {
                    "check --scope and --tenant (personal accounts have no Sites.Read.All: use --tenant consumers)"
                }
                _ => "check --tenant and --client-id",
            };
            Error::auth(format!(
                "the sign-in service refused to start a sign-in ({text})"
            ))
            .hint(hint)
            .into()
        }
        RequestTokenError::Request(e) => unreachable_login(login_url, e),
        RequestTokenError::Parse(..) => unreadable_login(login_url),
        RequestTokenError::Other(text) => Error::auth(format!("sign-in failed: {text}")).into(),
    }
}

/// Errors of the device-code polling.
fn poll_error(
    e: RequestTokenError<HttpClientError<reqwest::Error>, DeviceCodeErrorResponse>,
    settings: &Settings,
) -> anyhow::Error {
    let again = format!("run {} again", login_command(&settings.profile));
    match e {
        RequestTokenError::ServerResponse(r) => {
            let code = r.error().as_ref().to_string();
            match r.error() {
                DeviceCodeErrorResponseType::AccessDenied => {
                    Error::auth("the sign-in was declined").hint(format!("{again} and approve it"))
                }
                DeviceCodeErrorResponseType::ExpiredToken => Error::auth(
                    "the sign-in code expired before the sign-in was finished",
                )
                .hint(format!("{again} and finish signing in before the code expires")),
                DeviceCodeErrorResponseType::Basic(_) if code == "authorization_declined" => {
                    Error::auth("the sign-in was declined").hint(format!("{again} and approve it"))
                }
                DeviceCodeErrorResponseType::Basic(_) if code == "bad_verification_code" => {
                    Error::auth("the sign-in service did not recognise the device code")
                        .hint(again)
                }
                DeviceCodeErrorResponseType::Basic(BasicErrorResponseType::InvalidClient)
                | DeviceCodeErrorResponseType::Basic(BasicErrorResponseType::UnauthorizedClient) => {
                    Error::auth(format!(
                        "the sign-in service refused the client ({})",
                        describe_server_error(&code, r.error_description())
                    ))
                    .hint("check --client-id: an app of your own must allow public client flows")
                }
                _ => Error::auth(format!(
                    "the sign-in failed ({})",
                    describe_server_error(&code, r.error_description())
                ))
                .hint(again),
            }
            .into()
        }
        RequestTokenError::Request(e) => unreachable_login(base_str(&settings.login_url), e),
        RequestTokenError::Parse(..) => unreadable_login(base_str(&settings.login_url)),
        RequestTokenError::Other(text) => Error::auth(format!("the sign-in failed: {text}"))
            .hint(again)
            .into(),
    }
}

/// Progress while the user signs in: a spinner with the time left on a terminal,
/// a line a minute otherwise, nothing with `-q`.
enum Progress {
    Spinner(indicatif::ProgressBar),
    Lines {
        deadline: Instant,
        last: StdMutex<Instant>,
    },
    Quiet,
}

fn remaining(deadline: Instant) -> String {
    let left = deadline.saturating_duration_since(Instant::now()).as_secs();
    format!("{}:{:02}", left / 60, left % 60)
}

impl Progress {
    fn start(ui: &Ui, deadline: Instant) -> Progress {
        if ui.quiet {
            return Progress::Quiet;
        }
        if ui.stderr_tty {
            let style = indicatif::ProgressStyle::with_template("{spinner} {msg} ({left} left)")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner())
                .with_key(
                    "left",
                    move |_: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
                        let _ = w.write_str(&remaining(deadline));
                    },
                );
            let bar = indicatif::ProgressBar::with_draw_target(
                None,
                indicatif::ProgressDrawTarget::stderr(),
            )
            .with_style(style)
            .with_message("Waiting for you to sign in");
            bar.enable_steady_tick(Duration::from_millis(120));
            Progress::Spinner(bar)
        } else {
            ui.note(format!(
                "Waiting for you to sign in ({} left)…",
                remaining(deadline)
            ));
            Progress::Lines {
                deadline,
                last: StdMutex::new(Instant::now()),
            }
        }
    }

    /// Called before each wait between two polls.
    fn waiting(&self, next_poll: Duration) {
        tracing::debug!(
            "sign-in pending; polling again in {} s",
            next_poll.as_secs()
        );
        if let Progress::Lines { deadline, last } = self {
            let mut last = last.lock().unwrap_or_else(|e| e.into_inner());
            if last.elapsed() >= Duration::from_secs(60) {
                *last = Instant::now();
                let _ = std::io::Write::write_all(
                    &mut std::io::stderr(),
                    format!(
                        "Still waiting for you to sign in ({} left)…\n",
                        remaining(*deadline)
                    )
                    .as_bytes(),
                );
            }
        }
    }

    fn finish(self) {
        if let Progress::Spinner(bar) = self {
            bar.finish_and_clear();
        }
    }
}

/// Device-code sign-in for `settings.profile`; the tokens are saved in the cache.
pub async fn login(
    settings: &Settings,
    extra_scopes: &[String],
    ui: &Ui,
) -> anyhow::Result<(CachedTokens, TokenStore)> {
    let scopes = login_scopes(&settings.tenant, extra_scopes);
    let http = graph::http_client()?;
    let client = oauth_client(&settings.login_url, &settings.tenant, &settings.client_id)?;
    tracing::info!(
        "starting device-code sign-in at {}/{} for scopes {}",
        base_str(&settings.login_url),
        settings.tenant,
        scopes.join(" ")
    );
    let details: DeviceAuthorizationResponse<MsDeviceFields> = client
        .exchange_device_code()
        .add_scopes(scopes.iter().map(|s| Scope::new(s.clone())))
        .request_async(&http)
        .await
        .map_err(|e| device_code_error(e, settings))?;
    let details = bounded_device_details(details);

    let lifetime = bounded(details.expires_in());
    let deadline = Instant::now() + lifetime;
    let expires_at = chrono::Local::now()
        + chrono::Duration::from_std(lifetime).unwrap_or(chrono::Duration::zero());
    // The service's own sentence, without control characters: it goes to the terminal.
    let message = details
        .extra_fields()
        .message
        .as_deref()
        .map(|m| graph::shown_text(m, 1000));
    match message {
        Some(message) if !message.is_empty() => ui.prompt(message),
        _ => ui.prompt(format!(
            "To sign in, use a web browser to open the page {} and enter the code {} to authenticate.",
            details.verification_uri().as_str(),
            details.user_code().secret()
        )),
    }
    ui.prompt(format!(
        "The code expires at {}.",
        expires_at.format("%H:%M:%S")
    ));

    let progress = Progress::start(ui, deadline);
    let result = client
        .exchange_device_access_token(&details)
        .request_async(
            &http,
            |wait| {
                progress.waiting(wait);
                tokio::time::sleep(wait)
            },
            None,
        )
        .await;
    progress.finish();
    let response = result.map_err(|e| poll_error(e, settings))?;

    let now = Utc::now();
    let claims = response
        .extra_fields()
        .id_token
        .as_deref()
        .and_then(decode_claims)
        .unwrap_or_default();
    let mut tokens = CachedTokens {
        version: CachedTokens::new_version(),
        account: claims.preferred_username.or(claims.email),
        name: claims.name,
        tenant_id: claims.tid,
        scopes: granted_scopes(&response, &scopes),
        requested_scopes: scopes,
        login_url: base_str(&settings.login_url).to_string(),
        tenant: settings.tenant.clone(),
        client_id: settings.client_id.clone(),
        access_token: response.access_token().secret().clone(),
        access_token_expires_at: expiry(now, response.expires_in()),
        refresh_token: response.refresh_token().map(|t| t.secret().clone()),
        signed_in_at: now,
        refreshed_at: None,
    };
    if tokens.account.is_none() {
        // No id_token (openid was not granted): ask Graph who this is.
        let graph = GraphClient::new(
            http.clone(),
            settings.graph_url.clone(),
            TokenSource::fixed(Secret::new(tokens.access_token.clone())),
        );
        match graph.get_json::<serde_json::Value>("/me").await {
            Ok(me) => {
                tokens.account = me["userPrincipalName"]
                    .as_str()
                    .or(me["mail"].as_str())
                    .map(str::to_string);
                tokens.name = me["displayName"].as_str().map(str::to_string);
            }
            Err(e) => tracing::warn!("cannot tell who signed in: {}", e.summary()),
        }
    }
    if tokens.refresh_token.is_none() {
        tracing::warn!(
            "the sign-in service gave no refresh token; you will have to sign in again when the access token expires"
        );
    }
    let store = TokenStore::new(&settings.config_dir, &settings.profile);
    store.save(&tokens)?;
    Ok((tokens, store))
}

fn granted_scopes(response: &MsTokenResponse, requested: &[String]) -> Vec<String> {
    match response.scopes() {
        Some(scopes) if !scopes.is_empty() => scopes.iter().map(|s| s.to_string()).collect(),
        _ => requested.to_vec(),
    }
}

fn expiry(now: DateTime<Utc>, expires_in: Option<Duration>) -> DateTime<Utc> {
    let lifetime = bounded(expires_in.unwrap_or(DEFAULT_TOKEN_LIFETIME));
    now + chrono::Duration::from_std(lifetime).unwrap_or(chrono::Duration::hours(1))
}

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

    /// The error for a 401 that a refresh did not cure.
    pub fn refused(&self, err: &GraphError) -> anyhow::Error {
        match self {
            TokenSource::Fixed(_) => Error::auth(format!(
                "Graph refused the access token given with --access-token ({})",
                err.summary()
            ))
            .hint("get a new token, or unset GRAPHWATCH_ACCESS_TOKEN to use the signed-in profile")
            .into(),
            TokenSource::Cached(source) => Error::auth(format!(
                "Graph refused the access token of profile {} even after a refresh ({})",
                source.store.profile(),
                err.summary()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn personal_accounts_get_no_sites_scope() {
        assert!(login_scopes("common", &[]).contains(&"Sites.Read.All".to_string()));
        assert!(!login_scopes("consumers", &[]).contains(&"Sites.Read.All".to_string()));
        let extra = login_scopes(
            "common",
            &["files.read".into(), "Mail.Read User.Read".into()],
        );
        assert_eq!(
            extra,
            [
                "offline_access",
                "openid",
                "profile",
                "Files.Read",
                "Sites.Read.All",
                "Mail.Read",
                "User.Read"
            ]
        );
    }

    #[test]
    fn id_token_claims_are_read_without_verification() {
        let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(
            r#"{"preferred_username":"adele@contoso.com","name":"Adele Vance","tid":"t-1"}"#,
        );
        let jwt = format!("eyJhbGciOiJub25lIn0.{payload}.sig");
        let claims = decode_claims(&jwt).unwrap();
        assert_eq!(
            claims.preferred_username.as_deref(),
            Some("adele@contoso.com")
        );
        assert_eq!(claims.tid.as_deref(), Some("t-1"));
        assert!(decode_claims("not-a-jwt").is_none());
    }

    #[test]
    fn login_hint_names_non_default_profiles() {
        assert_eq!(login_command("default"), "`graphwatch login`");
        assert_eq!(login_command("work"), "`graphwatch login --profile work`");
    }

    #[test]
    fn absurd_device_code_lifetimes_and_intervals_are_bounded() {
        let answer = r#"{"device_code":"d","user_code":"u","verification_uri":"https://l/devicelogin","expires_in":18446744073709551615,"interval":18446744073709551615,"message":"m"}"#;
        let details: DeviceAuthorizationResponse<MsDeviceFields> =
            serde_json::from_str(answer).unwrap();
        let details = bounded_device_details(details);
        assert_eq!(details.expires_in(), LIFETIME_CEILING);
        assert_eq!(
            details.interval(),
            Duration::from_secs(POLL_INTERVAL_CEILING)
        );
        // What oauth2 does with them after a `slow_down` must not overflow.
        let _ = details.interval() + Duration::from_secs(5);
        assert_eq!(details.device_code().secret(), "d");
        assert_eq!(details.extra_fields().message.as_deref(), Some("m"));
        let now = Utc::now();
        assert_eq!(
            expiry(now, Some(Duration::from_secs(u64::MAX))),
            now + chrono::Duration::from_std(LIFETIME_CEILING).unwrap()
        );
    }

    #[test]
    fn server_error_text_is_one_line_without_control_characters() {
        let description = "AADSTS50059: bad\u{1b}[31m tenant\r\nTrace ID: 1".to_string();
        let text = describe_server_error("invalid\nrequest\u{1b}", Some(&description));
        assert!(!text.chars().any(char::is_control), "{text:?}");
        assert_eq!(text, "invalid request: AADSTS50059: bad [31m tenant");
    }
}
