//! The two v2.0 endpoints a device-code client talks to.
//!
//! Bodies are read as `application/x-www-form-urlencoded` whatever the declared type: the
//! live service answers a malformed or JSON body with "missing parameter" errors in its own
//! shape, never with a framework's 415, and so does this.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde_json::json;

use super::{CodeRefusal, Poll, RefreshRefusal, Scopes};
use crate::error::OAuthError;
use crate::seed;
use crate::AppState;

pub const DEVICE_CODE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/{tenant}/oauth2/v2.0/devicecode", post(devicecode))
        .route("/{tenant}/oauth2/v2.0/token", post(token))
}

/// Form parameters; the first occurrence of a name wins.
pub(super) fn form(body: &[u8]) -> HashMap<String, String> {
    let mut params = HashMap::new();
    for (k, v) in url::form_urlencoded::parse(body) {
        params
            .entry(k.into_owned())
            .or_insert_with(|| v.into_owned());
    }
    params
}

/// Token answers must never be cached by a proxy or browser; the live service says so on
/// every answer of these endpoints, errors included.
pub(super) fn no_store(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-store, no-cache"),
    );
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

pub(super) fn missing(name: &str) -> OAuthError {
    OAuthError::new(
        "invalid_request",
        900144,
        format!("The request body must contain the following parameter: '{name}'."),
    )
}

/// Accept the names a client may use for graphwatch's tenant, and the multi-tenant aliases.
pub(super) fn check_tenant(tenant: &str) -> Result<(), OAuthError> {
    let known = [
        "common",
        "organizations",
        "consumers",
        seed::TENANT_ID,
        seed::TENANT_DOMAIN,
    ];
    if known.iter().any(|k| k.eq_ignore_ascii_case(tenant)) {
        return Ok(());
    }
    if uuid::Uuid::parse_str(tenant).is_ok() || tenant.contains('.') {
        Err(OAuthError::new(
            "invalid_request",
            90002,
            format!("Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant."),
        ))
    } else {
        Err(OAuthError::new(
            "invalid_request",
            900023,
            format!("Specified tenant identifier '{tenant}' is neither a valid DNS name, nor a valid external domain."),
        ))
    }
}

/// `client_id:client_secret` from `Authorization: Basic`, each part form-decoded (RFC 6749
/// §2.3.1, which the oauth2 crate follows).
fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = String::from_utf8(STANDARD.decode(encoded.trim()).ok()?).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    let unescape = |s: &str| -> String {
        url::form_urlencoded::parse(format!("x={s}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default()
    };
    Some((unescape(id), unescape(secret)))
}

/// The public client making the request. graphwatch is a public client: a secret or an
/// assertion is refused as the live service refuses it for an app registered as public.
pub(super) fn client_id(
    params: &HashMap<String, String>,
    headers: &HeaderMap,
) -> Result<String, OAuthError> {
    let body_id = params
        .get("client_id")
        .map(|s| s.trim())
        .filter(|s| !s.is_empty());
    let (id, basic_secret) = match (basic_credentials(headers), body_id) {
        (Some((id, secret)), body) => {
            if body.is_some_and(|b| !b.eq_ignore_ascii_case(&id)) {
                return Err(OAuthError::new(
                    "invalid_request",
                    9002313,
                    "Invalid request. Request is malformed or invalid. The client_id in the body and in the Authorization header differ.",
                ));
            }
            (id, Some(secret))
        }
        (None, Some(body)) => (body.to_string(), None),
        (None, None) => return Err(missing("client_id")),
    };
    if uuid::Uuid::parse_str(&id).is_err() {
        return Err(OAuthError::new(
            "unauthorized_client",
            700016,
            format!("Application with identifier '{id}' was not found in the directory 'Contoso'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant."),
        ));
    }
    let secret_given = basic_secret.is_some_and(|s| !s.is_empty())
        || params.get("client_secret").is_some_and(|s| !s.is_empty())
        || params.contains_key("client_assertion");
    if secret_given {
        return Err(OAuthError {
            status: StatusCode::UNAUTHORIZED,
            ..OAuthError::new(
                "invalid_client",
                700025,
                "Client is public so neither 'client_assertion' nor 'client_secret' should be presented.",
            )
        });
    }
    Ok(id)
}

pub(super) fn issuer(state: &AppState) -> String {
    format!("{}/{}/v2.0", state.base_url, seed::TENANT_ID)
}

async fn devicecode(
    State(state): State<AppState>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let response = match issue_devicecode(&state, &tenant, &headers, &body) {
        Ok(response) => response,
        Err(e) => {
            state.control.event(
                "identity",
                format!("device code refused: {} (AADSTS{})", e.error, e.aadsts),
            );
            e.into_response()
        }
    };
    no_store(response)
}

fn issue_devicecode(
    state: &AppState,
    tenant: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Response, OAuthError> {
    check_tenant(tenant)?;
    let params = form(body);
    let client_id = client_id(&params, headers)?;
    let scopes = Scopes::parse(params.get("scope").map(String::as_str).unwrap_or(""))?
        .ok_or_else(|| missing("scope"))?;
    let settings = state.settings();
    if settings.device_code_blocked {
        // A tenant whose Conditional Access blocks the device-code flow (Microsoft-managed
        // policies do since 2025): the flow is refused, other flows still work.
        return Err(OAuthError::new(
            "invalid_request",
            53003,
            "Access has been blocked by Conditional Access policies. The access policy does not allow token issuance.",
        ));
    }
    let (device_code, user_code) = state.identity.issue_device_code(
        &client_id,
        &scopes,
        settings.device_code_lifetime_secs,
        settings.device_code_interval_secs,
    );
    state.mark_dirty();
    state.control.incr("devicecodes.issued");
    state.control.event(
        "identity",
        format!(
            "device code issued to client {client_id} for '{}', expires in {} s, interval {} s",
            scopes.response_string(),
            settings.device_code_lifetime_secs,
            settings.device_code_interval_secs
        ),
    );
    let verification_uri = format!("{}/devicelogin", state.base_url);
    let message = format!(
        "To sign in, use a web browser to open the page {verification_uri} and enter the code {user_code} to authenticate."
    );
    Ok(Json(json!({
        "user_code": user_code,
        "device_code": device_code,
        "verification_uri": verification_uri,
        "expires_in": settings.device_code_lifetime_secs,
        "interval": settings.device_code_interval_secs,
        "message": message,
    }))
    .into_response())
}

async fn token(
    State(state): State<AppState>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let response = match grant(&state, &tenant, &headers, &body) {
        Ok(response) => response,
        Err(e) => {
            let counter = match e.error {
                "authorization_pending" => "grants.pending",
                "slow_down" => "grants.slow_down",
                "authorization_declined" => "grants.declined",
                _ => "grants.failed",
            };
            state.control.incr(counter);
            if e.error != "authorization_pending" {
                state.control.event(
                    "identity",
                    format!("token request refused: {} (AADSTS{})", e.error, e.aadsts),
                );
            }
            e.into_response()
        }
    };
    no_store(response)
}

fn grant(
    state: &AppState,
    tenant: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Response, OAuthError> {
    check_tenant(tenant)?;
    let params = form(body);
    let grant_type = params
        .get("grant_type")
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
        .ok_or_else(|| missing("grant_type"))?;
    let client_id = client_id(&params, headers)?;
    match grant_type {
        DEVICE_CODE_GRANT => device_code_grant(state, &params, &client_id),
        "refresh_token" => refresh_token_grant(state, &params, &client_id),
        "authorization_code" => authorization_code_grant(state, &params, &client_id),
        other => Err(OAuthError::new(
            "unsupported_grant_type",
            70003,
            format!("The app requested an unsupported grant type '{other}'."),
        )),
    }
}

fn device_code_grant(
    state: &AppState,
    params: &HashMap<String, String>,
    client_id: &str,
) -> Result<Response, OAuthError> {
    let device_code = params
        .get("device_code")
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
        .ok_or_else(|| missing("device_code"))?;
    let settings = state.settings();
    let poll = state.identity.poll(
        device_code,
        client_id,
        settings.approve_after_polls,
        settings.token_lifetime_secs,
        &issuer(state),
    );
    // Every poll moves a code's counters or status, which a restart must keep.
    state.mark_dirty();
    match poll {
        Poll::Granted(set) => {
            state.control.incr("grants.device_code");
            state.control.event(
                "identity",
                format!(
                    "device code redeemed: tokens issued to {} for '{}'",
                    set.user.upn,
                    set.scopes.response_string()
                ),
            );
            Ok(Json(set.to_json()).into_response())
        }
        Poll::Pending => Err(OAuthError::new(
            "authorization_pending",
            70016,
            "OAuth 2.0 device flow error. Authorization is pending. Continue polling.",
        )),
        // Microsoft documents no AADSTS number of its own for slow_down; clients act on
        // `error`, so the pending number is kept with a description that says what to do.
        Poll::SlowDown { interval_secs } => Err(OAuthError::new(
            "slow_down",
            70016,
            format!("OAuth 2.0 device flow error. Polling too frequently; wait at least {interval_secs} seconds between requests."),
        )),
        Poll::Declined => Err(OAuthError::new(
            "authorization_declined",
            70000,
            "The request was denied because the user declined the authorization request.",
        )),
        Poll::Expired => Err(OAuthError::new(
            "expired_token",
            70020,
            "The provided value for the input parameter 'device_code' is not valid. This device code has expired.",
        )),
        Poll::Unknown => Err(OAuthError::new(
            "bad_verification_code",
            70018,
            "The provided value for the input parameter 'device_code' is not valid.",
        )),
        Poll::Redeemed => Err(OAuthError::new(
            "invalid_grant",
            70000,
            "The provided value for the 'device_code' parameter is not valid. It has already been redeemed; start a new sign-in.",
        )),
        Poll::OtherClient => Err(OAuthError::new(
            "invalid_grant",
            70000,
            "The provided value for the 'device_code' parameter is not valid. It was issued to a different client.",
        )),
    }
}

/// `grant_type=authorization_code`: `code`, `redirect_uri` (the authorization request's)
/// and `code_verifier` (PKCE), all required.
fn authorization_code_grant(
    state: &AppState,
    params: &HashMap<String, String>,
    client_id: &str,
) -> Result<Response, OAuthError> {
    let required = |name: &str| {
        params
            .get(name)
            .map(|s| s.trim())
            .filter(|s| !s.is_empty())
            .ok_or_else(|| missing(name))
    };
    let code = required("code")?;
    let redirect_uri = required("redirect_uri")?;
    let verifier = required("code_verifier")?;
    let settings = state.settings();
    let result = state.identity.redeem_auth_code(
        code,
        client_id,
        redirect_uri,
        verifier,
        settings.token_lifetime_secs,
        &issuer(state),
    );
    state.mark_dirty();
    match result {
        Ok(set) => {
            state.control.incr("grants.authorization_code");
            state.control.event(
                "identity",
                format!(
                    "authorization code redeemed: tokens issued to {} for '{}'",
                    set.user.upn,
                    set.scopes.response_string()
                ),
            );
            Ok(Json(set.to_json()).into_response())
        }
        Err(CodeRefusal::Unknown) => Err(OAuthError::new(
            "invalid_grant",
            9002313,
            "Invalid request. Request is malformed or invalid. The authorization code is not valid.",
        )),
        Err(CodeRefusal::Expired) => Err(OAuthError::new(
            "invalid_grant",
            70008,
            "The provided authorization code or refresh token has expired due to inactivity. Send a new interactive authorization request for this user and resource.",
        )),
        Err(CodeRefusal::Redeemed) => Err(OAuthError::new(
            "invalid_grant",
            54005,
            "OAuth2 Authorization code was already redeemed, please retry with a new valid code or use an existing refresh token.",
        )),
        Err(CodeRefusal::OtherClient) => Err(OAuthError::new(
            "invalid_grant",
            70000,
            "Provided grant is invalid or malformed. The authorization code was issued to a different client.",
        )),
        Err(CodeRefusal::OtherRedirect) => Err(OAuthError::new(
            "invalid_grant",
            500117,
            "The reply uri specified in the request isn't valid: it differs from the redirect_uri of the authorization request.",
        )),
        Err(CodeRefusal::WrongVerifier) => Err(OAuthError::new(
            "invalid_grant",
            501481,
            "The Code_Verifier does not match the code_challenge supplied in the authorization request.",
        )),
    }
}

fn refresh_token_grant(
    state: &AppState,
    params: &HashMap<String, String>,
    client_id: &str,
) -> Result<Response, OAuthError> {
    let refresh_token = params
        .get("refresh_token")
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
        .ok_or_else(|| missing("refresh_token"))?;
    let requested = Scopes::parse(params.get("scope").map(String::as_str).unwrap_or(""))?;
    let settings = state.settings();
    let result = state.identity.refresh(
        refresh_token,
        client_id,
        requested,
        settings.token_lifetime_secs,
        &issuer(state),
    );
    match result {
        Ok(set) => {
            state.mark_dirty();
            state.control.incr("grants.refresh_token");
            state.control.event(
                "identity",
                format!(
                    "refresh token redeemed and rotated: tokens issued to {} for '{}'",
                    set.user.upn,
                    set.scopes.response_string()
                ),
            );
            Ok(Json(set.to_json()).into_response())
        }
        Err(RefreshRefusal::Unknown) => Err(OAuthError::new(
            "invalid_grant",
            9002313,
            "Invalid request. Request is malformed or invalid. The refresh token is not valid; sign in again.",
        )),
        Err(RefreshRefusal::Used) => Err(OAuthError::new(
            "invalid_grant",
            70008,
            "The provided authorization code or refresh token has expired due to inactivity or was already redeemed (refresh tokens rotate: keep the new one from each response). Send a new interactive authorization request for this user and resource.",
        )),
        Err(RefreshRefusal::Revoked {
            issued_ms,
            revoked_ms,
        }) => Err(OAuthError::new(
            "invalid_grant",
            50173,
            format!(
                "The provided grant has expired due to it being revoked, a fresh auth token is needed. The user might have changed or reset their password. The grant was issued on '{}' and the TokensValidFrom date (before which tokens are not valid) for this user is '{}'.",
                format_ms(issued_ms),
                format_ms(revoked_ms)
            ),
        )),
        Err(RefreshRefusal::OtherClient) => Err(OAuthError::new(
            "invalid_grant",
            70000,
            "Provided grant is invalid or malformed. The refresh token was issued to a different client.",
        )),
        Err(RefreshRefusal::NotGranted(missing)) => Err(OAuthError::new(
            "invalid_grant",
            70000,
            format!(
                "The request was denied because one or more scopes requested are unauthorized or expired. The user must first sign in and grant the client application access to the requested scope. ({})",
                missing.join(" ")
            ),
        )),
    }
}

/// Seven fractional digits, as .NET prints the dates in AADSTS50173.
fn format_ms(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| {
            format!(
                "{}.{:07}Z",
                t.format("%Y-%m-%dT%H:%M:%S"),
                t.timestamp_subsec_nanos() / 100
            )
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn revocation_dates_print_like_dotnet() {
        assert_eq!(format_ms(1_700_000_000_123), "2023-11-14T22:13:20.1230000Z");
    }

    #[test]
    fn tenants() {
        assert!(check_tenant("common").is_ok());
        assert!(check_tenant("Contoso.onmicrosoft.com").is_ok());
        assert!(check_tenant(seed::TENANT_ID).is_ok());
        assert_eq!(check_tenant("fabrikam.com").unwrap_err().aadsts, 90002);
        assert_eq!(check_tenant("nope").unwrap_err().aadsts, 900023);
    }

    #[test]
    fn client_from_body_or_basic_and_no_secret() {
        let id = "14d82eec-204b-4c2f-b7e8-296a70dab67e";
        let mut params = HashMap::new();
        params.insert("client_id".to_string(), id.to_string());
        assert_eq!(client_id(&params, &HeaderMap::new()).unwrap(), id);

        let mut headers = HeaderMap::new();
        let basic = format!("Basic {}", STANDARD.encode(format!("{id}:")));
        headers.insert(header::AUTHORIZATION, basic.parse().unwrap());
        assert_eq!(client_id(&HashMap::new(), &headers).unwrap(), id);

        let basic = format!("Basic {}", STANDARD.encode(format!("{id}:s3cret")));
        headers.insert(header::AUTHORIZATION, basic.parse().unwrap());
        let err = client_id(&HashMap::new(), &headers).unwrap_err();
        assert_eq!((err.status, err.aadsts), (StatusCode::UNAUTHORIZED, 700025));

        assert_eq!(
            client_id(&HashMap::new(), &HeaderMap::new())
                .unwrap_err()
                .aadsts,
            900144
        );
        params.insert("client_id".to_string(), "graphwatch".to_string());
        assert_eq!(
            client_id(&params, &HeaderMap::new()).unwrap_err().aadsts,
            700016
        );
    }
}
