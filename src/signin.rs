//! Sign-in: the OAuth 2.0 device-code flow against the Microsoft identity platform
//! v2.0, and who signed in.
//!
//! Device code because graphwatch runs in terminals, over SSH and in containers,
//! where a browser redirect to localhost is not possible; the `oauth2` crate does the
//! protocol (polling at `interval`, `+5 s` on `slow_down`), [`crate::tokens`] the
//! Microsoft specifics and the cache, this module the flow and the user-facing
//! sentences.

use std::sync::Mutex as StdMutex;
use std::time::{Duration, Instant};

use base64::Engine as _;
use chrono::Utc;
use oauth2::basic::{BasicErrorResponse, BasicErrorResponseType};
use oauth2::{
    DeviceAuthorizationResponse, DeviceCodeErrorResponse, DeviceCodeErrorResponseType,
    HttpClientError, RequestTokenError, Scope, TokenResponse as _,
};
use serde::Deserialize;

use crate::error::Error;
use crate::graph::{self, GraphClient};
use crate::settings::{Secret, Settings};
use crate::term::{styled_spinner, Term};
use crate::tokens::oauth::{
    bounded, describe_server_error, expiry, login_command, oauth_client, unreachable_login,
    unreadable_login, MsDeviceFields, MsTokenResponse, LIFETIME_CEILING,
};
use crate::tokens::{CachedTokens, TokenSource, TokenStore};
use crate::util::text::shown_text;
use crate::util::url::base_str;

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

/// Waiting while the user signs in: a spinner with the time left on a terminal,
/// a line a minute otherwise, nothing with `-q`.
enum Waiting {
    Spinner(indicatif::ProgressBar),
    Lines {
        term: Term,
        deadline: Instant,
        last: StdMutex<Instant>,
    },
    Quiet,
}

fn remaining(deadline: Instant) -> String {
    let left = deadline.saturating_duration_since(Instant::now()).as_secs();
    format!("{}:{:02}", left / 60, left % 60)
}

impl Waiting {
    fn start(ui: &Term, deadline: Instant) -> Waiting {
        if ui.quiet() {
            return Waiting::Quiet;
        }
        let style = indicatif::ProgressStyle::with_template("{spinner} {msg} ({left} left)")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner())
            .with_key(
                "left",
                move |_: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
                    let _ = w.write_str(&remaining(deadline));
                },
            );
        match styled_spinner(ui, style) {
            Some(bar) => {
                bar.set_message("Waiting for you to sign in");
                Waiting::Spinner(bar)
            }
            None => {
                ui.note(format!(
                    "Waiting for you to sign in ({} left)…",
                    remaining(deadline)
                ));
                Waiting::Lines {
                    term: *ui,
                    deadline,
                    last: StdMutex::new(Instant::now()),
                }
            }
        }
    }

    /// Called before each wait between two polls.
    fn waiting(&self, next_poll: Duration) {
        tracing::debug!(
            "sign-in pending; polling again in {} s",
            next_poll.as_secs()
        );
        if let Waiting::Lines {
            term,
            deadline,
            last,
        } = self
        {
            let mut last = last.lock().unwrap_or_else(|e| e.into_inner());
            if last.elapsed() >= Duration::from_secs(60) {
                *last = Instant::now();
                term.note(format!(
                    "Still waiting for you to sign in ({} left)…",
                    remaining(*deadline)
                ));
            }
        }
    }

    fn finish(self) {
        if let Waiting::Spinner(bar) = self {
            bar.finish_and_clear();
        }
    }
}

/// Device-code sign-in for `settings.profile`; the tokens are saved in the cache.
pub async fn login(
    settings: &Settings,
    extra_scopes: &[String],
    ui: &Term,
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
        .map(|m| shown_text(m, 1000));
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

    let progress = Waiting::start(ui, deadline);
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
    store.remove_stale_temps();
    store.save(&tokens)?;
    Ok((tokens, store))
}

fn granted_scopes(response: &MsTokenResponse, requested: &[String]) -> Vec<String> {
    match response.scopes() {
        Some(scopes) if !scopes.is_empty() => scopes.iter().map(|s| s.to_string()).collect(),
        _ => requested.to_vec(),
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
}
