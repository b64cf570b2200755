//! `/{tenant}/oauth2/v2.0/authorize`: the authorization-code flow with PKCE, as a native
//! app meets it (RFC 8252). `GET` shows the consent page — sign in as one of the seed
//! users, approve or decline — and its form `POST`s back here; the answer is a `302` to
//! the app's loopback `redirect_uri` with `code` and `state`, or with `error=access_denied`.
//! With the `authorizeAutoApprove` knob the `GET` approves at once (as the `login_hint`
//! user, else the first) and redirects, for tests and the demo.
//!
//! As on the live service, a request whose `client_id` or `redirect_uri` cannot be trusted
//! gets an error page and is never redirected (that would make the endpoint an open
//! redirector); every other error is sent back to the redirect URI with `state`.
//! Redirect URIs are those of the default public client's registration, `http://localhost`:
//! plain `http` on `localhost` or `127.0.0.1`, any port, no path. PKCE is required, S256
//! only. The code is redeemed at `/token` ([`super::oauth`]).

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use url::Url;

use super::oauth::{check_tenant, client_id, form, no_store};
use super::page::{escape, page};
use super::{find_user, AuthRequest, Scopes, User, USERS};
use crate::error::OAuthError;
use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/{tenant}/oauth2/v2.0/authorize", get(show).post(answer))
}

/// A request that cannot be sent back to its app: an error page, no redirect.
fn error_page(e: &OAuthError) -> Response {
    no_store(page(
        StatusCode::BAD_REQUEST,
        "Sign-in error",
        &format!(
            "<h1>Sorry, but we\u{2019}re having trouble signing you in.</h1>\
<p class=\"error\" role=\"alert\">AADSTS{}: {}</p>",
            e.aadsts,
            escape(&e.description)
        ),
    ))
}

/// `302` to `redirect_uri` with `params` (and `state`, when the request had one).
fn redirect(redirect_uri: &str, params: &[(&str, &str)], state: Option<&str>) -> Response {
    let Ok(mut url) = Url::parse(redirect_uri) else {
        return error_page(&bad_redirect(redirect_uri));
    };
    {
        let mut query = url.query_pairs_mut();
        for (k, v) in params {
            query.append_pair(k, v);
        }
        if let Some(state) = state {
            query.append_pair("state", state);
        }
    }
    let mut response = StatusCode::FOUND.into_response();
    if let Ok(location) = HeaderValue::from_str(url.as_str()) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    no_store(response)
}

fn redirect_error(request: &AuthRequest, e: &OAuthError) -> Response {
    let description = format!("AADSTS{}: {}", e.aadsts, e.description);
    redirect(
        &request.redirect_uri,
        &[("error", e.error), ("error_description", &description)],
        request.state.as_deref(),
    )
}

fn bad_redirect(uri: &str) -> OAuthError {
    OAuthError::new(
        "invalid_request",
        50011,
        format!("The redirect URI '{uri}' specified in the request does not match the redirect URIs configured for the application. Make sure the redirect URI sent in the request matches one added to your application in the Azure portal."),
    )
}

/// `http://localhost[:PORT]` or `http://127.0.0.1[:PORT]`, nothing else: the loopback
/// redirect of a public client (RFC 8252 §7.3; the port is free to vary).
pub(crate) fn is_loopback_redirect(uri: &str) -> bool {
    let Ok(url) = Url::parse(uri) else {
        return false;
    };
    let host_ok = matches!(url.host_str(), Some("localhost") | Some("127.0.0.1"));
    url.scheme() == "http"
        && host_ok
        && url.username().is_empty()
        && url.password().is_none()
        && matches!(url.path(), "" | "/")
        && url.query().is_none()
        && url.fragment().is_none()
}

/// The parts of the request that decide whether it may be redirected at all, then the
/// rest; `Err(Response)` is the answer to give instead (it is handed straight back, once
/// per request: its size does not matter).
#[allow(clippy::result_large_err)]
fn check_request(
    tenant: &str,
    params: &HashMap<String, String>,
    headers: &HeaderMap,
) -> Result<AuthRequest, Response> {
    check_tenant(tenant).map_err(|e| error_page(&e))?;
    // A client secret in a browser request is as wrong as at /token: same check.
    let client = client_id(params, headers).map_err(|e| error_page(&e))?;
    let redirect_uri = params
        .get("redirect_uri")
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .ok_or_else(|| error_page(&super::oauth::missing("redirect_uri")))?;
    if !is_loopback_redirect(&redirect_uri) {
        return Err(error_page(&bad_redirect(&redirect_uri)));
    }
    let mut request = AuthRequest {
        client_id: client,
        redirect_uri,
        scopes: Vec::new(),
        state: params.get("state").cloned(),
        code_challenge: String::new(),
        login_hint: params
            .get("login_hint")
            .and_then(|h| find_user(h))
            .map(|u| u.id.to_string()),
        expires_ms: 0,
    };
    // From here on, errors go back to the app.
    let back = |request: &AuthRequest, e: OAuthError| redirect_error(request, &e);
    match params.get("response_type").map(|s| s.trim()) {
        Some("code") => {}
        None | Some("") => return Err(back(&request, super::oauth::missing("response_type"))),
        Some(other) => {
            return Err(back(
                &request,
                OAuthError::new(
                    "unsupported_response_type",
                    700054,
                    format!("response_type '{other}' is not enabled for the application."),
                ),
            ))
        }
    }
    let scopes = match Scopes::parse(params.get("scope").map(String::as_str).unwrap_or("")) {
        Ok(Some(scopes)) => scopes,
        Ok(None) => return Err(back(&request, super::oauth::missing("scope"))),
        Err(e) => return Err(back(&request, e)),
    };
    request.scopes = scopes.to_stored();
    let challenge = params.get("code_challenge").map(|s| s.trim()).unwrap_or("");
    if challenge.is_empty() {
        return Err(back(
            &request,
            OAuthError::new(
                "invalid_request",
                9002325,
                "Proof Key for Code Exchange is required for this application: send code_challenge and code_challenge_method=S256.",
            ),
        ));
    }
    match params.get("code_challenge_method").map(|s| s.trim()) {
        Some("S256") => {}
        other => {
            return Err(back(
                &request,
                OAuthError::new(
                    "invalid_request",
                    5014902,
                    format!(
                        "The code_challenge_method '{}' is not supported; use S256.",
                        other.unwrap_or("plain")
                    ),
                ),
            ))
        }
    }
    // BASE64URL of a SHA-256 digest: 43 characters.
    let well_formed = challenge.len() == 43
        && challenge
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !well_formed {
        return Err(back(
            &request,
            OAuthError::new(
                "invalid_request",
                501491,
                "Invalid size of Code_Challenge parameter.",
            ),
        ));
    }
    request.code_challenge = challenge.to_string();
    Ok(request)
}

async fn show(
    State(state): State<AppState>,
    Path(tenant): Path<String>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    // Parsed as the form bodies are: a malformed query reads as missing parameters.
    let params = form(uri.query().unwrap_or("").as_bytes());
    let request = match check_request(&tenant, &params, &headers) {
        Ok(request) => request,
        Err(response) => {
            state.control.incr("authorize.refused");
            state
                .control
                .event("identity", "authorization request refused");
            return response;
        }
    };
    if state.settings().authorize_auto_approve {
        let user = request
            .login_hint
            .as_deref()
            .and_then(find_user)
            .unwrap_or(USERS[0]);
        return approve(&state, request, user, "automatically");
    }
    let flow = state.identity.begin_authorization(request.clone());
    state.mark_dirty();
    state.control.incr("authorize.shown");
    consent_page(&tenant, &flow, &request, None)
}

fn consent_page(tenant: &str, flow: &str, request: &AuthRequest, error: Option<&str>) -> Response {
    let chosen = request
        .login_hint
        .as_deref()
        .and_then(find_user)
        .unwrap_or(USERS[0]);
    let accounts: String = USERS
        .iter()
        .map(|u| {
            format!(
                "<label class=\"account\"><input type=\"radio\" name=\"user\" value=\"{id}\"{checked}> {name} ({upn})</label>",
                id = escape(u.id),
                name = escape(u.name),
                upn = escape(u.upn),
                checked = if u.id == chosen.id { " checked" } else { "" },
            )
        })
        .collect();
    let scopes: String = Scopes::from_stored(&request.scopes)
        .response_string()
        .split(' ')
        .filter(|s| !s.is_empty())
        .map(|s| format!("<li>{}</li>", escape(s)))
        .collect();
    let back_to = Url::parse(&request.redirect_uri)
        .ok()
        .map(|u| {
            format!(
                "{}:{}",
                u.host_str().unwrap_or(""),
                u.port_or_known_default().unwrap_or(80)
            )
        })
        .unwrap_or_default();
    let error = error
        .map(|e| format!("<p class=\"error\" role=\"alert\">{}</p>", escape(e)))
        .unwrap_or_default();
    let body = format!(
        "<h1>Permissions requested</h1>{error}\
<p>The app <b>{client}</b> wants to:</p><ul>{scopes}</ul>\
<form method=\"post\" action=\"/{tenant}/oauth2/v2.0/authorize\">\
<input type=\"hidden\" name=\"flow\" value=\"{flow}\">\
<fieldset><legend>Sign in as</legend>{accounts}</fieldset>\
<button class=\"approve\" type=\"submit\" name=\"action\" value=\"approve\">Accept</button>\
<button type=\"submit\" name=\"action\" value=\"decline\">Cancel</button>\
</form><p>Your browser then goes back to the app at {back_to}.</p>",
        client = escape(&request.client_id),
        tenant = escape(tenant),
        flow = escape(flow),
        back_to = escape(&back_to),
    );
    no_store(page(StatusCode::OK, "Permissions requested", &body))
}

/// The consent page's form: approve as the chosen user, or decline.
async fn answer(
    State(state): State<AppState>,
    Path(tenant): Path<String>,
    body: Bytes,
) -> Response {
    let params = form(&body);
    let flow = params.get("flow").map(String::as_str).unwrap_or("");
    let Some(request) = state.identity.take_authorization(flow) else {
        state.control.incr("authorize.refused");
        return error_page(&OAuthError::new(
            "invalid_request",
            50058,
            "This sign-in request is not valid any more (it was answered already, or it expired). Start the sign-in again from your app.",
        ));
    };
    state.mark_dirty();
    let user = params
        .get("user")
        .map(String::as_str)
        .filter(|u| !u.is_empty());
    let user = match user {
        None => Some(USERS[0]),
        Some(u) => find_user(u),
    };
    match (params.get("action").map(String::as_str), user) {
        (Some("decline"), _) => {
            state.control.incr("authorize.declined");
            state.control.event(
                "identity",
                format!(
                    "authorization declined at the consent page (client {})",
                    request.client_id
                ),
            );
            redirect_error(
                &request,
                &OAuthError::new(
                    "access_denied",
                    65004,
                    "User declined to consent to access the app.",
                ),
            )
        }
        (None | Some("approve"), Some(user)) => {
            approve(&state, request, user, "at the consent page")
        }
        (_, _) => {
            // Keep the request answerable: show the page again with what is wrong.
            let flow = state.identity.begin_authorization(request.clone());
            let mut response = consent_page(
                &tenant,
                &flow,
                &request,
                Some("Choose one of the accounts, then Accept or Cancel."),
            );
            *response.status_mut() = StatusCode::BAD_REQUEST;
            response
        }
    }
}

fn approve(state: &AppState, request: AuthRequest, user: User, how: &str) -> Response {
    let client = request.client_id.clone();
    let scope = Scopes::from_stored(&request.scopes).response_string();
    let redirect_uri = request.redirect_uri.clone();
    let request_state = request.state.clone();
    let code =
        state
            .identity
            .issue_auth_code(request, user, state.settings().auth_code_lifetime_secs);
    state.mark_dirty();
    state.control.incr("authorize.approved");
    state.control.event(
        "identity",
        format!(
            "authorization approved {how} by {}: a code for client {client}, '{scope}', back to {redirect_uri}",
            user.upn
        ),
    );
    let session_state = uuid::Uuid::new_v4().to_string();
    redirect(
        &redirect_uri,
        &[("code", &code), ("session_state", &session_state)],
        request_state.as_deref(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_http_redirects() {
        for ok in [
            "http://localhost",
            "http://localhost:53682",
            "http://localhost:53682/",
            "http://127.0.0.1:8400",
        ] {
            assert!(is_loopback_redirect(ok), "{ok}");
        }
        for bad in [
            "https://localhost:1",
            "http://example.com:1",
            "http://localhost.example.com:1",
            "http://127.0.0.2:1",
            "http://[::1]:1",
            "http://localhost:1/callback",
            "http://localhost:1/?x=1",
            "http://user@localhost:1",
            "urn:ietf:wg:oauth:2.0:oob",
            "not a url",
        ] {
            assert!(!is_loopback_redirect(bad), "{bad}");
        }
    }
}
