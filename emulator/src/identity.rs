//! The Microsoft identity platform, v2.0 endpoints, as graphwatch meets it: the device-code
//! flow (`/{tenant}/oauth2/v2.0/devicecode`, polling `/{tenant}/oauth2/v2.0/token`, the
//! `/devicelogin` page a person approves on), the authorization-code flow with PKCE
//! (`/{tenant}/oauth2/v2.0/authorize`, its consent page, the loopback redirect, the code
//! redeemed once at `/token`), refresh-token rotation, and the bearer check that Graph
//! routes run through [`Identity::authenticate`].
//!
//! Tokens are opaque random strings held here, as a consumer-account token (`EwB…`) is to
//! a client: the client must not read meaning into them. Only the id_token is a JWT, as on
//! the live service, so a client can show who signed in.

mod admin;
mod authorize;
mod oauth;
mod page;
mod scopes;

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use axum::http::{header, HeaderMap};
use axum::Router;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use rand::Rng as _;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::error::GraphError;
use crate::seed;
use crate::AppState;

pub use scopes::Scopes;

/// `POST /{tenant}/oauth2/v2.0/devicecode`, `POST /{tenant}/oauth2/v2.0/token`,
/// `GET|POST /devicelogin`, `GET|POST /{tenant}/oauth2/v2.0/authorize`.
pub fn router() -> Router<AppState> {
    oauth::router()
        .merge(page::router())
        .merge(authorize::router())
}

/// The identity side door under `/_emulator/`; see [`admin`] for each route.
pub fn control_router() -> Router<AppState> {
    admin::router()
}

/// A user who can sign in.
#[derive(Debug, Clone, Copy)]
pub struct User {
    pub id: &'static str,
    pub upn: &'static str,
    pub name: &'static str,
}

/// Everyone the sign-in page offers, the default (automatic approval) first.
pub const USERS: &[User] = &[
    User {
        id: seed::ADELE_ID,
        upn: seed::ADELE_UPN,
        name: seed::ADELE_NAME,
    },
    User {
        id: seed::MEGAN_ID,
        upn: seed::MEGAN_UPN,
        name: seed::MEGAN_NAME,
    },
];

/// The user named by id or UPN (UPNs compare without case, as Entra ID does).
pub fn find_user(id_or_upn: &str) -> Option<User> {
    let wanted = id_or_upn.trim();
    USERS
        .iter()
        .find(|u| u.id.eq_ignore_ascii_case(wanted) || u.upn.eq_ignore_ascii_case(wanted))
        .copied()
}

fn user_by_id(id: &str) -> User {
    find_user(id).unwrap_or(USERS[0])
}

/// Milliseconds since the Unix epoch: wall-clock, so codes and tokens keep their meaning
/// across a `--persist` restart.
fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

fn secs_to_ms(secs: u64) -> i64 {
    i64::try_from(secs.saturating_mul(1000)).unwrap_or(i64::MAX)
}

/// How long refused (used, revoked, expired) codes and tokens are remembered, so their
/// errors stay specific ("expired", "already used") instead of "unknown".
const REMEMBER_MS: i64 = 24 * 3600 * 1000;
/// How long an expired or redeemed device code keeps answering with its own error.
const REMEMBER_CODE_MS: i64 = 15 * 60 * 1000;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(tag = "state", rename_all = "camelCase")]
enum CodeStatus {
    Pending,
    Approved {
        #[serde(rename = "userId")]
        user_id: String,
    },
    Declined,
    Redeemed,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct DeviceCode {
    user_code: String,
    client_id: String,
    scopes: Vec<String>,
    created_ms: i64,
    expires_ms: i64,
    /// Grows by 5 s with each `slow_down`.
    interval_secs: u64,
    last_poll_ms: Option<i64>,
    /// Polls that were not answered with `slow_down`; drive automatic approval.
    polls: u32,
    status: CodeStatus,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct AccessToken {
    user_id: String,
    client_id: String,
    scopes: Vec<String>,
    issued_ms: i64,
    expires_ms: i64,
    revoked: bool,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
enum RefreshState {
    Active,
    Used,
    Revoked,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RefreshToken {
    user_id: String,
    client_id: String,
    scopes: Vec<String>,
    issued_ms: i64,
    state: RefreshState,
    /// When it stopped being usable (used or revoked).
    ended_ms: Option<i64>,
}

/// What an authorization request asked for: kept while its consent page waits for a
/// person (keyed by the page's `flow` value), then carried by the code it produced.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct AuthRequest {
    pub client_id: String,
    pub redirect_uri: String,
    pub scopes: Vec<String>,
    pub state: Option<String>,
    /// `BASE64URL(SHA256(code_verifier))` (`code_challenge_method=S256`).
    pub code_challenge: String,
    /// The user the page preselects (`login_hint`), if one of ours.
    pub login_hint: Option<String>,
    pub expires_ms: i64,
}

/// An authorization code: single-use, short-lived, bound to its client, redirect URI and
/// PKCE challenge.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct AuthCode {
    request: AuthRequest,
    user_id: String,
    expires_ms: i64,
    /// Presented at the token endpoint once already (whatever the outcome).
    redeemed: bool,
}

/// Why an authorization code was not redeemed.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum CodeRefusal {
    Unknown,
    Expired,
    Redeemed,
    OtherClient,
    OtherRedirect,
    WrongVerifier,
}

/// How long a consent page stays answerable.
const AUTH_REQUEST_MS: i64 = 15 * 60 * 1000;

/// Everything persisted; keyed by the secret values themselves (this is the emulator's
/// own store, never logged).
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct Data {
    device_codes: HashMap<String, DeviceCode>,
    access_tokens: HashMap<String, AccessToken>,
    refresh_tokens: HashMap<String, RefreshToken>,
    auth_requests: HashMap<String, AuthRequest>,
    auth_codes: HashMap<String, AuthCode>,
}

/// Device codes and tokens of one emulator.
#[derive(Default)]
pub struct Identity {
    data: Mutex<Data>,
}

/// What a token endpoint hands out, before it becomes the JSON body.
#[derive(Debug, Clone)]
pub struct TokenSet {
    pub user: User,
    pub scopes: Scopes,
    pub access_token: String,
    pub expires_in: u64,
    pub refresh_token: Option<String>,
    pub id_token: Option<String>,
}

impl TokenSet {
    /// The body of a successful `/token` answer.
    pub fn to_json(&self) -> Value {
        let mut body = json!({
            "token_type": "Bearer",
            "scope": self.scopes.response_string(),
            "expires_in": self.expires_in,
            "ext_expires_in": self.expires_in,
            "access_token": self.access_token,
        });
        if let Some(rt) = &self.refresh_token {
            body["refresh_token"] = json!(rt);
        }
        if let Some(id) = &self.id_token {
            body["id_token"] = json!(id);
        }
        body
    }
}

/// The answer to one device-code poll.
#[derive(Debug)]
pub(crate) enum Poll {
    Granted(TokenSet),
    Pending,
    SlowDown { interval_secs: u64 },
    Declined,
    Expired,
    Unknown,
    Redeemed,
    OtherClient,
}

/// Why a refresh token was refused.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum RefreshRefusal {
    Unknown,
    Used,
    Revoked { issued_ms: i64, revoked_ms: i64 },
    OtherClient,
    NotGranted(Vec<String>),
}

/// Why a user code could not be approved or declined.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum DecideRefusal {
    /// Unknown, expired, or already approved, declined or redeemed: a person at the page
    /// gets the same answer for all of them.
    NotValid,
}

/// Inputs for minting, shared by the grants and the control route.
pub(crate) struct Mint<'a> {
    pub user: User,
    pub client_id: &'a str,
    pub scopes: Scopes,
    pub lifetime_secs: u64,
    /// `{base_url}/{tenant id}/v2.0`, the id_token's `iss`.
    pub issuer: &'a str,
    /// The access token is a JWT with `exp` (as work-account tokens are), not opaque.
    pub jwt: bool,
}

impl Identity {
    pub fn new() -> Self {
        Identity::default()
    }

    /// A poisoned lock only means another request panicked mid-update; the maps are still
    /// usable, and a stand-in service must keep answering.
    fn lock(&self) -> MutexGuard<'_, Data> {
        self.data.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The user id behind the request's `Authorization: Bearer` token, or the 401 that
    /// Graph answers with.
    pub fn authenticate(&self, headers: &HeaderMap) -> Result<String, GraphError> {
        let raw = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .trim();
        let token = match raw.split_once(' ') {
            Some((scheme, rest)) if scheme.eq_ignore_ascii_case("bearer") => rest.trim(),
            _ => "",
        };
        if token.is_empty() {
            return Err(GraphError::unauthenticated("Access token is empty."));
        }
        let data = self.lock();
        let Some(at) = data.access_tokens.get(token) else {
            return Err(GraphError::unauthenticated(malformed_message(token)));
        };
        if at.revoked {
            return Err(GraphError::unauthenticated(
                "Continuous access evaluation resulted in challenge with result: InteractionRequired and code: TokenIssuedBeforeRevocationTimestamp",
            ));
        }
        if now_ms() >= at.expires_ms {
            return Err(GraphError::unauthenticated(
                "Lifetime validation failed, the token is expired.",
            ));
        }
        Ok(at.user_id.clone())
    }

    /// Persisted form for `--persist`.
    pub fn snapshot(&self) -> Value {
        let data = self.lock();
        let mut value = serde_json::to_value(&*data).unwrap_or(Value::Null);
        if let Some(obj) = value.as_object_mut() {
            obj.insert("version".into(), json!(1));
        }
        value
    }

    /// Load what [`Identity::snapshot`] wrote; `null` (a new file) leaves the store empty.
    pub fn restore(&self, saved: &Value) -> anyhow::Result<()> {
        if saved.is_null() {
            return Ok(());
        }
        let loaded: Data = serde_json::from_value(saved.clone())
            .map_err(|e| anyhow::anyhow!("the saved identity state is not readable: {e}"))?;
        *self.lock() = loaded;
        Ok(())
    }

    /// Start a device-code sign-in; returns (device code, user code).
    pub(crate) fn issue_device_code(
        &self,
        client_id: &str,
        scopes: &Scopes,
        lifetime_secs: u64,
        interval_secs: u64,
    ) -> (String, String) {
        let now = now_ms();
        let mut data = self.lock();
        prune(&mut data, now);
        let device_code = loop {
            let candidate = device_code_value();
            if !data.device_codes.contains_key(&candidate) {
                break candidate;
            }
        };
        let user_code = loop {
            let candidate = user_code_value();
            if !data.device_codes.values().any(|c| c.user_code == candidate) {
                break candidate;
            }
        };
        data.device_codes.insert(
            device_code.clone(),
            DeviceCode {
                user_code: user_code.clone(),
                client_id: client_id.to_string(),
                scopes: scopes.to_stored(),
                created_ms: now,
                expires_ms: now.saturating_add(secs_to_ms(lifetime_secs)),
                interval_secs,
                last_poll_ms: None,
                polls: 0,
                status: CodeStatus::Pending,
            },
        );
        (device_code, user_code)
    }

    /// One token-endpoint poll with a device code. `approve_after_polls` > 0 approves the
    /// code (as the first user) on the poll after that many pending answers.
    pub(crate) fn poll(
        &self,
        device_code: &str,
        client_id: &str,
        approve_after_polls: u32,
        lifetime_secs: u64,
        issuer: &str,
    ) -> Poll {
        let now = now_ms();
        let mut data = self.lock();
        let Some(code) = data.device_codes.get_mut(device_code) else {
            return Poll::Unknown;
        };
        if !code.client_id.eq_ignore_ascii_case(client_id) {
            return Poll::OtherClient;
        }
        if code.status == CodeStatus::Redeemed {
            return Poll::Redeemed;
        }
        if now >= code.expires_ms {
            return Poll::Expired;
        }
        // 150 ms of slack: a client that sleeps exactly `interval` still arrives a little
        // early by our clock now and then, and the live service does not punish that.
        let previous = code.last_poll_ms.replace(now);
        if let Some(previous) = previous {
            let min_gap = secs_to_ms(code.interval_secs).saturating_sub(150);
            if code.interval_secs > 0 && now - previous < min_gap {
                code.interval_secs += 5;
                return Poll::SlowDown {
                    interval_secs: code.interval_secs,
                };
            }
        }
        code.polls = code.polls.saturating_add(1);
        let user_id = match &code.status {
            CodeStatus::Declined => return Poll::Declined,
            CodeStatus::Approved { user_id } => user_id.clone(),
            CodeStatus::Pending if approve_after_polls > 0 && code.polls > approve_after_polls => {
                USERS[0].id.to_string()
            }
            _ => return Poll::Pending,
        };
        code.status = CodeStatus::Redeemed;
        let scopes = Scopes::from_stored(&code.scopes);
        let client_id = code.client_id.clone();
        let set = mint_locked(
            &mut data,
            now,
            Mint {
                user: user_by_id(&user_id),
                client_id: &client_id,
                scopes,
                lifetime_secs,
                issuer,
                jwt: false,
            },
        );
        Poll::Granted(set)
    }

    /// Redeem a refresh token: the old one stops working (rotation) and a new set is issued.
    pub(crate) fn refresh(
        &self,
        refresh_token: &str,
        client_id: &str,
        requested: Option<Scopes>,
        lifetime_secs: u64,
        issuer: &str,
    ) -> Result<TokenSet, RefreshRefusal> {
        let now = now_ms();
        let mut data = self.lock();
        let Some(rt) = data.refresh_tokens.get_mut(refresh_token) else {
            return Err(RefreshRefusal::Unknown);
        };
        match rt.state {
            RefreshState::Used => return Err(RefreshRefusal::Used),
            RefreshState::Revoked => {
                return Err(RefreshRefusal::Revoked {
                    issued_ms: rt.issued_ms,
                    revoked_ms: rt.ended_ms.unwrap_or(rt.issued_ms),
                })
            }
            RefreshState::Active => {}
        }
        if !rt.client_id.eq_ignore_ascii_case(client_id) {
            return Err(RefreshRefusal::OtherClient);
        }
        let granted = Scopes::from_stored(&rt.scopes);
        let mut scopes = granted.clone();
        if let Some(requested) = requested {
            let missing: Vec<String> = requested
                .not_in(&granted)
                .into_iter()
                .map(str::to_string)
                .collect();
            if !missing.is_empty() {
                return Err(RefreshRefusal::NotGranted(missing));
            }
            // The access token carries what was asked for; the new refresh token keeps the
            // whole grant, and offline_access is implied by using a refresh token at all.
            scopes.resource = requested.resource;
            scopes.oidc = requested.oidc;
            if !scopes.has("offline_access") {
                scopes.oidc.push("offline_access".into());
            }
        }
        rt.state = RefreshState::Used;
        rt.ended_ms = Some(now);
        let user = user_by_id(&rt.user_id);
        let client_id = rt.client_id.clone();
        let set = mint_locked(
            &mut data,
            now,
            Mint {
                user,
                client_id: &client_id,
                scopes,
                lifetime_secs,
                issuer,
                jwt: false,
            },
        );
        // Keep the full grant on the rotated refresh token.
        if let Some(new_rt) = set
            .refresh_token
            .as_ref()
            .and_then(|t| data.refresh_tokens.get_mut(t))
        {
            new_rt.scopes = granted.to_stored();
        }
        Ok(set)
    }

    /// Mint a token set without a sign-in (the control route).
    pub(crate) fn mint(&self, mint: Mint<'_>) -> TokenSet {
        let now = now_ms();
        let mut data = self.lock();
        prune(&mut data, now);
        mint_locked(&mut data, now, mint)
    }

    /// Approve (as `user`) or, with `None`, decline the pending code with this user code.
    pub(crate) fn decide(
        &self,
        user_code: &str,
        user: Option<User>,
    ) -> Result<(String, Vec<String>), DecideRefusal> {
        let wanted = normalize_user_code(user_code);
        if wanted.is_empty() {
            return Err(DecideRefusal::NotValid);
        }
        let now = now_ms();
        let mut data = self.lock();
        let code = data
            .device_codes
            .values_mut()
            .find(|c| c.user_code == wanted)
            .ok_or(DecideRefusal::NotValid)?;
        if code.status != CodeStatus::Pending || now >= code.expires_ms {
            return Err(DecideRefusal::NotValid);
        }
        code.status = match user {
            Some(u) => CodeStatus::Approved {
                user_id: u.id.to_string(),
            },
            None => CodeStatus::Declined,
        };
        Ok((code.client_id.clone(), code.scopes.clone()))
    }

    /// Keep an authorization request while its consent page waits; returns the page's
    /// `flow` value.
    pub(crate) fn begin_authorization(&self, mut request: AuthRequest) -> String {
        let now = now_ms();
        let mut data = self.lock();
        prune(&mut data, now);
        request.expires_ms = now.saturating_add(AUTH_REQUEST_MS);
        let flow = loop {
            let candidate = random_b64(32);
            if !data.auth_requests.contains_key(&candidate) {
                break candidate;
            }
        };
        data.auth_requests.insert(flow.clone(), request);
        flow
    }

    /// The request behind a consent page's answer, once: a page cannot be answered twice.
    pub(crate) fn take_authorization(&self, flow: &str) -> Option<AuthRequest> {
        let now = now_ms();
        let mut data = self.lock();
        data.auth_requests
            .remove(flow)
            .filter(|r| now < r.expires_ms)
    }

    /// An authorization code for `request`, approved by `user`.
    pub(crate) fn issue_auth_code(
        &self,
        request: AuthRequest,
        user: User,
        lifetime_secs: u64,
    ) -> String {
        let now = now_ms();
        let mut data = self.lock();
        prune(&mut data, now);
        let code = loop {
            let candidate = auth_code_value();
            if !data.auth_codes.contains_key(&candidate) {
                break candidate;
            }
        };
        data.auth_codes.insert(
            code.clone(),
            AuthCode {
                request,
                user_id: user.id.to_string(),
                expires_ms: now.saturating_add(secs_to_ms(lifetime_secs)),
                redeemed: false,
            },
        );
        code
    }

    /// Redeem an authorization code. It is spent by its client's first attempt, whatever
    /// the outcome (a wrong verifier cannot be retried with the same code), and refused
    /// after its lifetime, for another client or redirect URI, or without the verifier
    /// whose S256 hash is the request's `code_challenge`.
    pub(crate) fn redeem_auth_code(
        &self,
        code: &str,
        client_id: &str,
        redirect_uri: &str,
        code_verifier: &str,
        lifetime_secs: u64,
        issuer: &str,
    ) -> Result<TokenSet, CodeRefusal> {
        let now = now_ms();
        let mut data = self.lock();
        let Some(entry) = data.auth_codes.get_mut(code) else {
            return Err(CodeRefusal::Unknown);
        };
        if !entry.request.client_id.eq_ignore_ascii_case(client_id) {
            return Err(CodeRefusal::OtherClient);
        }
        if entry.redeemed {
            return Err(CodeRefusal::Redeemed);
        }
        entry.redeemed = true;
        if now >= entry.expires_ms {
            return Err(CodeRefusal::Expired);
        }
        if entry.request.redirect_uri != redirect_uri {
            return Err(CodeRefusal::OtherRedirect);
        }
        if !pkce_matches(code_verifier, &entry.request.code_challenge) {
            return Err(CodeRefusal::WrongVerifier);
        }
        let scopes = Scopes::from_stored(&entry.request.scopes);
        let client_id = entry.request.client_id.clone();
        let user = user_by_id(&entry.user_id);
        Ok(mint_locked(
            &mut data,
            now,
            Mint {
                user,
                client_id: &client_id,
                scopes,
                lifetime_secs,
                issuer,
                jwt: false,
            },
        ))
    }

    /// Codes still waiting for a person, without their device codes.
    pub(crate) fn pending(&self) -> Vec<Value> {
        let now = now_ms();
        let data = self.lock();
        let mut codes: Vec<&DeviceCode> = data
            .device_codes
            .values()
            .filter(|c| c.status == CodeStatus::Pending && now < c.expires_ms)
            .collect();
        codes.sort_by_key(|c| c.created_ms);
        codes
            .into_iter()
            .map(|c| {
                json!({
                    "userCode": c.user_code,
                    "clientId": c.client_id,
                    "scope": Scopes::from_stored(&c.scopes).response_string(),
                    "polls": c.polls,
                    "interval": c.interval_secs,
                    "expiresIn": (c.expires_ms - now).max(0) / 1000,
                })
            })
            .collect()
    }

    /// Revoke every refresh token and access token (of one user, or of everyone), as
    /// `revokeSignInSessions` does. Returns (refresh tokens, access tokens) revoked.
    pub(crate) fn revoke(&self, user_id: Option<&str>) -> (usize, usize) {
        let now = now_ms();
        let mut data = self.lock();
        let mine = |id: &str| user_id.is_none_or(|u| u == id);
        let mut refresh = 0;
        for rt in data.refresh_tokens.values_mut() {
            if rt.state == RefreshState::Active && mine(&rt.user_id) {
                rt.state = RefreshState::Revoked;
                rt.ended_ms = Some(now);
                refresh += 1;
            }
        }
        let mut access = 0;
        for at in data.access_tokens.values_mut() {
            if !at.revoked && now < at.expires_ms && mine(&at.user_id) {
                at.revoked = true;
                access += 1;
            }
        }
        (refresh, access)
    }

    /// Make every access token that is still valid expire now.
    pub(crate) fn expire_access_tokens(&self) -> usize {
        let now = now_ms();
        let mut data = self.lock();
        let mut n = 0;
        for at in data.access_tokens.values_mut() {
            if !at.revoked && now < at.expires_ms {
                at.expires_ms = now;
                n += 1;
            }
        }
        n
    }
}

fn mint_locked(data: &mut Data, now: i64, mint: Mint<'_>) -> TokenSet {
    let access_token = loop {
        let candidate = if mint.jwt {
            jwt_access_token(&mint, now)
        } else {
            access_token_value()
        };
        if !data.access_tokens.contains_key(&candidate) {
            break candidate;
        }
    };
    data.access_tokens.insert(
        access_token.clone(),
        AccessToken {
            user_id: mint.user.id.to_string(),
            client_id: mint.client_id.to_string(),
            scopes: mint.scopes.to_stored(),
            issued_ms: now,
            expires_ms: now.saturating_add(secs_to_ms(mint.lifetime_secs)),
            revoked: false,
        },
    );
    let refresh_token = mint.scopes.has("offline_access").then(|| {
        let value = loop {
            let candidate = refresh_token_value();
            if !data.refresh_tokens.contains_key(&candidate) {
                break candidate;
            }
        };
        data.refresh_tokens.insert(
            value.clone(),
            RefreshToken {
                user_id: mint.user.id.to_string(),
                client_id: mint.client_id.to_string(),
                scopes: mint.scopes.to_stored(),
                issued_ms: now,
                state: RefreshState::Active,
                ended_ms: None,
            },
        );
        value
    });
    let id_token = mint
        .scopes
        .has("openid")
        .then(|| id_token(mint.user, mint.client_id, mint.issuer, now));
    TokenSet {
        user: mint.user,
        scopes: mint.scopes,
        access_token,
        expires_in: mint.lifetime_secs,
        refresh_token,
        id_token,
    }
}

/// Forget what can no longer produce a useful answer, so a long-running emulator does not
/// grow without bound.
fn prune(data: &mut Data, now: i64) {
    data.device_codes
        .retain(|_, c| now < c.expires_ms.saturating_add(REMEMBER_CODE_MS));
    data.access_tokens
        .retain(|_, t| now < t.expires_ms.saturating_add(REMEMBER_MS));
    data.refresh_tokens.retain(|_, t| match t.ended_ms {
        Some(ended) => now < ended.saturating_add(REMEMBER_MS),
        None => true,
    });
    data.auth_requests.retain(|_, r| now < r.expires_ms);
    data.auth_codes
        .retain(|_, c| now < c.expires_ms.saturating_add(REMEMBER_CODE_MS));
}

/// RFC 7636 §4.6 with S256: `BASE64URL(SHA256(ASCII(code_verifier))) == code_challenge`,
/// for a verifier of 43 to 128 unreserved characters (§4.1).
pub fn pkce_matches(verifier: &str, challenge: &str) -> bool {
    use sha2::Digest as _;
    let well_formed = (43..=128).contains(&verifier.len())
        && verifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b));
    well_formed && URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(verifier.as_bytes())) == challenge
}

/// Graph's words for a bearer value it cannot parse: consumer-style opaque tokens and JWTs
/// fail in different parsers.
fn malformed_message(token: &str) -> String {
    if token.starts_with("EwB") {
        "CompactToken parsing failed with error code: 80049217".to_string()
    } else if !token.contains('.') {
        "IDX14100: JWT is not well formed, there are no dots (.).\nThe token needs to be in JWS or JWE Compact Serialization Format. (JWS): 'EncodedHeader.EndcodedPayload.Signature'. (JWE): 'EncodedProtectedHeader.EncodedEncryptedKey.EncodedInitializationVector.Ciphertext.AuthenticationTag'.".to_string()
    } else {
        "IDX14102: Unable to decode the header '[PII of type 'System.String' is hidden. For more details, see https://aka.ms/IdentityModel/PII.]' as Base64Url encoded string.".to_string()
    }
}

fn random_b64(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rng().fill(&mut buf[..]);
    URL_SAFE_NO_PAD.encode(buf)
}

/// Shaped like a consumer Graph access token: `EwB` and a long opaque tail.
fn access_token_value() -> String {
    format!("EwB{}", random_b64(768))
}

/// Shaped like an Entra ID refresh token (`0.A…`).
fn refresh_token_value() -> String {
    format!("0.AX{}", random_b64(384))
}

/// Shaped like a v2.0 authorization code (`1.AX…`).
fn auth_code_value() -> String {
    format!("1.AXkA{}", random_b64(256))
}

/// A JWT access token as work accounts get them: claims a client may read (`exp`, `iat`,
/// `upn`, `scp`), a random signature.
fn jwt_access_token(mint: &Mint<'_>, now_ms: i64) -> String {
    let iat = now_ms / 1000;
    let lifetime = i64::try_from(mint.lifetime_secs).unwrap_or(i64::MAX / 2);
    let header = json!({"typ": "JWT", "alg": "RS256", "kid": "graphwatch-emulator"});
    let claims = json!({
        "aud": "https://graph.microsoft.com",
        "iss": format!("https://sts.windows.net/{}/", seed::TENANT_ID),
        "iat": iat,
        "nbf": iat,
        "exp": iat.saturating_add(lifetime),
        "appid": mint.client_id,
        "name": mint.user.name,
        "oid": mint.user.id,
        "upn": mint.user.upn,
        "scp": mint.scopes.response_string(),
        "tid": seed::TENANT_ID,
        "uti": random_b64(16),
        "ver": "1.0",
    });
    format!(
        "{}.{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string()),
        random_b64(256)
    )
}

/// Shaped like a v2.0 device code (`DAQABAAEAAA…`).
fn device_code_value() -> String {
    format!("DAQABAAEAAAD--DLA3VO7QrddgJg7We{}", random_b64(192))
}

/// Letters and digits a person will not confuse when typing.
const USER_CODE_ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";

/// Nine characters, like the live service's user codes.
fn user_code_value() -> String {
    let mut rng = rand::rng();
    (0..9)
        .map(|_| USER_CODE_ALPHABET[rng.random_range(0..USER_CODE_ALPHABET.len())] as char)
        .collect()
}

/// People type codes with spaces, dashes or in lower case; the live page accepts that.
fn normalize_user_code(typed: &str) -> String {
    typed
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

/// A well-formed JWT with the claims a client reads. The signature is random bytes: the
/// emulator publishes no signing keys, and graphwatch only decodes the payload.
fn id_token(user: User, client_id: &str, issuer: &str, now_ms: i64) -> String {
    let iat = now_ms / 1000;
    let header = json!({"typ": "JWT", "alg": "RS256", "kid": "graphwatch-emulator"});
    let claims = json!({
        "aud": client_id,
        "iss": issuer,
        "iat": iat,
        "nbf": iat,
        "exp": iat + 3600,
        "name": user.name,
        "oid": user.id,
        "preferred_username": user.upn,
        "sub": URL_SAFE_NO_PAD.encode(format!("{}:{}", user.id, client_id.to_ascii_lowercase()).as_bytes()),
        "tid": seed::TENANT_ID,
        "ver": "2.0",
    });
    format!(
        "{}.{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string()),
        random_b64(256)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::{HeaderValue, StatusCode};

    fn bearer(token: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_str(&format!("Bearer {token}")).unwrap(),
        );
        headers
    }

    fn mint(identity: &Identity, user: User, lifetime_secs: u64) -> TokenSet {
        identity.mint(Mint {
            user,
            client_id: "14d82eec-204b-4c2f-b7e8-296a70dab67e",
            scopes: Scopes::parse("offline_access openid Files.Read")
                .unwrap()
                .unwrap(),
            lifetime_secs,
            issuer: "http://127.0.0.1:1/tid/v2.0",
            jwt: false,
        })
    }

    #[test]
    fn authenticate_maps_a_token_to_its_user() {
        let identity = Identity::new();
        let megan = mint(&identity, USERS[1], 60);
        assert_eq!(
            identity.authenticate(&bearer(&megan.access_token)).unwrap(),
            seed::MEGAN_ID
        );
    }

    #[test]
    fn authenticate_refuses_missing_unknown_expired_and_revoked() {
        let identity = Identity::new();
        let err = identity.authenticate(&HeaderMap::new()).unwrap_err();
        assert_eq!(err.status, StatusCode::UNAUTHORIZED);
        assert_eq!(err.code, "InvalidAuthenticationToken");
        assert_eq!(err.message, "Access token is empty.");

        let err = identity.authenticate(&bearer("nonsense")).unwrap_err();
        assert_eq!(err.status, StatusCode::UNAUTHORIZED);
        assert!(err.message.starts_with("IDX14100"), "{}", err.message);

        let expired = mint(&identity, USERS[0], 0);
        let err = identity
            .authenticate(&bearer(&expired.access_token))
            .unwrap_err();
        assert_eq!(
            err.message,
            "Lifetime validation failed, the token is expired."
        );

        let live = mint(&identity, USERS[0], 600);
        identity.authenticate(&bearer(&live.access_token)).unwrap();
        identity.revoke(None);
        let err = identity
            .authenticate(&bearer(&live.access_token))
            .unwrap_err();
        assert_eq!(err.status, StatusCode::UNAUTHORIZED);
        assert!(err.message.contains("TokenIssuedBeforeRevocationTimestamp"));
    }

    #[test]
    fn expire_access_tokens_makes_them_expired() {
        let identity = Identity::new();
        let set = mint(&identity, USERS[0], 600);
        assert_eq!(identity.expire_access_tokens(), 1);
        let err = identity
            .authenticate(&bearer(&set.access_token))
            .unwrap_err();
        assert_eq!(
            err.message,
            "Lifetime validation failed, the token is expired."
        );
    }

    #[test]
    fn snapshot_round_trips() {
        let identity = Identity::new();
        let set = mint(&identity, USERS[1], 600);
        let saved = identity.snapshot();
        let restored = Identity::new();
        restored.restore(&saved).unwrap();
        assert_eq!(
            restored.authenticate(&bearer(&set.access_token)).unwrap(),
            seed::MEGAN_ID
        );
        let rotated = restored
            .refresh(
                set.refresh_token.as_deref().unwrap(),
                "14d82eec-204b-4c2f-b7e8-296a70dab67e",
                None,
                600,
                "iss",
            )
            .unwrap();
        assert!(rotated.refresh_token.is_some());
        restored.restore(&Value::Null).unwrap();
        assert!(restored.restore(&json!({"deviceCodes": 3})).is_err());
    }

    #[test]
    fn pkce_s256_as_in_rfc_7636_appendix_b() {
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
        assert!(pkce_matches(verifier, challenge));
        assert!(!pkce_matches(&verifier.replace('d', "e"), challenge));
        // Too short, or characters outside the unreserved set, never match.
        assert!(!pkce_matches("short", challenge));
        assert!(!pkce_matches(&format!("{verifier} "), challenge));
    }

    #[test]
    fn user_codes_look_like_microsofts_and_compare_loosely() {
        let code = user_code_value();
        assert_eq!(code.len(), 9);
        assert!(code
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit()));
        assert_eq!(normalize_user_code(" abc-def ghj "), "ABCDEFGHJ");
    }
}
