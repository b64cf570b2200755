//! The identity side door under `/_emulator/`, for tests and for people trying things with
//! curl: tokens without a sign-in, approving a code without a browser, and the events
//! that end sessions on the live service (revocation, token expiry) on demand.
//!
//! Answers are JSON; refusals are `{"error": "…"}` with 400 (bad body) or 404 (no such
//! code), like the rest of `/_emulator/`. Request bodies may be empty where every field is
//! optional.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use super::{find_user, Mint, Scopes, User, USERS};
use crate::seed;
use crate::AppState;

/// The client id that `POST /_emulator/tokens` mints for unless told otherwise (the
/// well-known public client id of the Microsoft Graph command-line tools). A refresh of
/// such a token must send the same client id.
pub const DEFAULT_CLIENT_ID: &str = "14d82eec-204b-4c2f-b7e8-296a70dab67e";

/// Scopes of a minted token unless told otherwise: what `graphwatch login` asks for.
pub const DEFAULT_SCOPES: &str =
    "offline_access openid profile User.Read Files.ReadWrite.All Sites.ReadWrite.All";

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/_emulator/tokens", post(mint_tokens))
        .route("/_emulator/identity/revoke", post(revoke))
        .route(
            "/_emulator/identity/expire-access-tokens",
            post(expire_access_tokens),
        )
        .route("/_emulator/identity/pending", get(pending))
        .route("/_emulator/identity/approve", post(approve))
}

/// A refused control request: `{"error": "…"}` with its status.
struct Refusal(StatusCode, String);

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        (self.0, Json(json!({ "error": self.1 }))).into_response()
    }
}

fn refuse(status: StatusCode, message: impl Into<String>) -> Refusal {
    Refusal(status, message.into())
}

/// An empty body reads as `{}`, so `curl -X POST` works for routes whose fields are all
/// optional.
fn body<T: for<'de> Deserialize<'de>>(bytes: &[u8]) -> Result<T, Refusal> {
    let text = std::str::from_utf8(bytes).unwrap_or("").trim();
    let text = if text.is_empty() { "{}" } else { text };
    serde_json::from_str(text).map_err(|e| {
        refuse(
            StatusCode::BAD_REQUEST,
            format!("expected a JSON object: {e}"),
        )
    })
}

fn user_field(user: Option<&str>) -> Result<Option<User>, Refusal> {
    match user {
        None => Ok(None),
        Some(u) => find_user(u).map(Some).ok_or_else(|| {
            let known: Vec<&str> = USERS.iter().map(|u| u.upn).collect();
            refuse(
                StatusCode::BAD_REQUEST,
                format!("unknown user {u:?}; known users: {}", known.join(", ")),
            )
        }),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct MintBody {
    user: Option<String>,
    scopes: Option<String>,
    lifetime_secs: Option<u64>,
    client_id: Option<String>,
    format: Option<String>,
}

/// `POST /_emulator/tokens {"user": UPN-or-id, "scopes"?: "…", "lifetimeSecs"?: n, "clientId"?: "…", "format"?: "opaque"|"jwt"}`
///
/// Signs `user` (default: Adele) in without the device flow and answers with the body a
/// successful `/token` request gets: `token_type`, `scope`, `expires_in`,
/// `ext_expires_in`, `access_token`, and `refresh_token` / `id_token` when the scopes
/// include `offline_access` / `openid` (the default scopes are [`DEFAULT_SCOPES`]).
/// `lifetimeSecs` overrides `token_lifetime_secs` for this access token. The refresh token
/// belongs to `clientId` (default [`DEFAULT_CLIENT_ID`]). `format: "jwt"` makes the access
/// token a JWT whose `exp` is its expiry (as work accounts' tokens are), instead of an opaque
/// `EwB…` string. 400 for an unknown user, scope, format or field.
async fn mint_tokens(State(state): State<AppState>, bytes: Bytes) -> Result<Response, Refusal> {
    let request: MintBody = body(&bytes)?;
    let user = user_field(request.user.as_deref())?.unwrap_or(USERS[0]);
    let scopes = match Scopes::parse(request.scopes.as_deref().unwrap_or(DEFAULT_SCOPES)) {
        Ok(Some(s)) => s,
        Ok(None) => return Err(refuse(StatusCode::BAD_REQUEST, "scopes is empty")),
        Err(e) => return Err(refuse(StatusCode::BAD_REQUEST, e.description)),
    };
    let client_id = request.client_id.as_deref().unwrap_or(DEFAULT_CLIENT_ID);
    if uuid::Uuid::parse_str(client_id).is_err() {
        return Err(refuse(StatusCode::BAD_REQUEST, "clientId must be a GUID"));
    }
    let jwt = match request.format.as_deref() {
        None | Some("opaque") => false,
        Some("jwt") => true,
        Some(other) => {
            return Err(refuse(
                StatusCode::BAD_REQUEST,
                format!("format must be \"opaque\" or \"jwt\", not {other:?}"),
            ))
        }
    };
    let issuer = format!("{}/{}/v2.0", state.base_url, seed::TENANT_ID);
    let set = state.identity.mint(Mint {
        user,
        client_id,
        scopes,
        lifetime_secs: request
            .lifetime_secs
            .unwrap_or_else(|| state.settings().token_lifetime_secs),
        issuer: &issuer,
        jwt,
    });
    state.mark_dirty();
    state.control.incr("tokens.minted");
    state.control.event(
        "identity",
        format!(
            "tokens minted through the control API for {} ('{}', {} s)",
            user.upn,
            set.scopes.response_string(),
            set.expires_in
        ),
    );
    Ok(Json(set.to_json()).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RevokeBody {
    user: Option<String>,
}

/// `POST /_emulator/identity/revoke {"user"?: UPN-or-id}`
///
/// Like Graph's `revokeSignInSessions`: every refresh token (of `user`, or of everyone) is
/// refused from now on with `invalid_grant` AADSTS50173, and every access token is refused
/// by Graph with 401 (the continuous-access-evaluation answer), so a client has to sign in
/// again. Answers `{"revokedRefreshTokens": n, "revokedAccessTokens": n}`.
async fn revoke(State(state): State<AppState>, bytes: Bytes) -> Result<Response, Refusal> {
    let request: RevokeBody = body(&bytes)?;
    let user = user_field(request.user.as_deref())?;
    let (refresh, access) = state.identity.revoke(user.map(|u| u.id));
    state.mark_dirty();
    state.control.event(
        "identity",
        format!(
            "sessions revoked for {}: {refresh} refresh tokens, {access} access tokens",
            user.map(|u| u.upn).unwrap_or("everyone")
        ),
    );
    Ok(
        Json(json!({ "revokedRefreshTokens": refresh, "revokedAccessTokens": access }))
            .into_response(),
    )
}

/// `POST /_emulator/identity/expire-access-tokens`
///
/// Every access token that is still valid expires now (Graph answers 401 "Lifetime
/// validation failed, the token is expired."); refresh tokens keep working. For testing a
/// client's refresh in the middle of a stream without waiting an hour. Answers
/// `{"expiredAccessTokens": n}`.
async fn expire_access_tokens(State(state): State<AppState>) -> Json<Value> {
    let n = state.identity.expire_access_tokens();
    state.mark_dirty();
    state
        .control
        .event("identity", format!("{n} access tokens expired on demand"));
    Json(json!({ "expiredAccessTokens": n }))
}

/// `GET /_emulator/identity/pending`
///
/// Device codes still waiting for a person, oldest first, as
/// `{"value": [{"userCode", "clientId", "scope", "polls", "interval", "expiresIn"}]}`:
/// the user code (what a person types at `/devicelogin`), never the device code (the
/// client's secret). `interval` shows growth after `slow_down`.
async fn pending(State(state): State<AppState>) -> Json<Value> {
    Json(json!({ "value": state.identity.pending() }))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ApproveBody {
    user_code: String,
    user: Option<String>,
    #[serde(default)]
    decline: bool,
}

/// `POST /_emulator/identity/approve {"userCode": "…", "user"?: UPN-or-id, "decline"?: bool}`
///
/// What a person does at `/devicelogin`, without a browser: approve the code as `user`
/// (default: Adele), so the client's next poll gets its tokens, or decline it, so the next
/// poll gets `authorization_declined`. 200 `{"userCode", "status": "approved"|"declined",
/// "user"?}`; 404 when no pending code has that user code (unknown, expired, or already
/// approved, declined or redeemed); 400 for a bad body or unknown user.
async fn approve(State(state): State<AppState>, bytes: Bytes) -> Result<Response, Refusal> {
    let request: ApproveBody = body(&bytes)?;
    let user = user_field(request.user.as_deref())?.unwrap_or(USERS[0]);
    let decision = (!request.decline).then_some(user);
    match state.identity.decide(&request.user_code, decision) {
        Ok((client_id, _)) => {
            state.mark_dirty();
            let status = if request.decline {
                "declined"
            } else {
                "approved"
            };
            state.control.event(
                "identity",
                format!(
                    "device code {status} through the control API (client {client_id}{})",
                    if request.decline {
                        String::new()
                    } else {
                        format!(", as {}", user.upn)
                    }
                ),
            );
            let mut answer = json!({ "userCode": request.user_code.trim(), "status": status });
            if !request.decline {
                answer["user"] = json!(user.upn);
            }
            Ok(Json(answer).into_response())
        }
        Err(_) => Err(refuse(
            StatusCode::NOT_FOUND,
            "no pending device code has that user code (unknown, expired, or already approved, declined or redeemed)",
        )),
    }
}
