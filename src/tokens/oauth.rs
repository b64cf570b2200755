//! The Microsoft identity platform's specifics, on top of the `oauth2` crate: the
//! client for a tenant, the extra fields Microsoft sends, lifetimes bounded before they
//! reach a clock, and the one-line sentences for the service's errors. Used by sign-in
//! ([`crate::signin`]) and by the refresh in [`super::source`].

use std::time::Duration;

use chrono::{DateTime, Utc};
use oauth2::basic::{
    BasicErrorResponse, BasicRevocationErrorResponse, BasicTokenIntrospectionResponse,
    BasicTokenType,
};
use oauth2::{
    AuthType, AuthUrl, ClientId, DeviceAuthorizationUrl, EndpointNotSet, EndpointSet,
    ExtraDeviceAuthorizationFields, ExtraTokenFields, HttpClientError, RedirectUrl,
    StandardRevocableToken, StandardTokenResponse, TokenUrl,
};
use serde::{Deserialize, Serialize};
use url::Url;

use crate::error::Error;
use crate::util::text::{error_text, shown_text};
use crate::util::url::base_str;

/// Lifetime assumed when the token endpoint does not say (Microsoft always does).
const DEFAULT_TOKEN_LIFETIME: Duration = Duration::from_secs(3600);

/// Microsoft's device authorization answer carries a ready-made sentence for people.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct MsDeviceFields {
    #[serde(default)]
    pub(crate) message: Option<String>,
}
impl ExtraDeviceAuthorizationFields for MsDeviceFields {}

/// Microsoft's token answer carries an `id_token` when `openid` was asked for.
#[derive(Clone, Serialize, Deserialize)]
pub(crate) struct MsTokenFields {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) id_token: Option<String>,
}
impl ExtraTokenFields for MsTokenFields {}
impl std::fmt::Debug for MsTokenFields {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MsTokenFields { .. }")
    }
}

pub(crate) type MsTokenResponse = StandardTokenResponse<MsTokenFields, BasicTokenType>;
pub(crate) type MsClient = oauth2::Client<
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

/// The client of the authorization-code flow: `…/authorize` and `…/token`.
pub(crate) type MsAuthCodeClient = oauth2::Client<
    BasicErrorResponse,
    MsTokenResponse,
    BasicTokenIntrospectionResponse,
    StandardRevocableToken,
    BasicRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointSet,
>;

/// `{login}/{tenant}/oauth2/v2.0/authorize` and `…/token` for a public client that
/// receives the answer at `redirect` (a loopback address).
pub(crate) fn auth_code_client(
    login_url: &Url,
    tenant: &str,
    client_id: &str,
    redirect: &str,
) -> anyhow::Result<MsAuthCodeClient> {
    let base = format!("{}/{tenant}/oauth2/v2.0", base_str(login_url));
    Ok(oauth2::Client::new(ClientId::new(client_id.to_string()))
        .set_auth_type(AuthType::RequestBody)
        .set_auth_uri(AuthUrl::new(format!("{base}/authorize"))?)
        .set_token_uri(TokenUrl::new(format!("{base}/token"))?)
        .set_redirect_uri(RedirectUrl::new(redirect.to_string())?))
}

/// `{login}/{tenant}/oauth2/v2.0/devicecode` and `…/token` for a public client.
pub(crate) fn oauth_client(
    login_url: &Url,
    tenant: &str,
    client_id: &str,
) -> anyhow::Result<MsClient> {
    let base = format!("{}/{tenant}/oauth2/v2.0", base_str(login_url));
    Ok(oauth2::Client::new(ClientId::new(client_id.to_string()))
        .set_auth_type(AuthType::RequestBody)
        .set_device_authorization_url(DeviceAuthorizationUrl::new(format!("{base}/devicecode"))?)
        .set_token_uri(TokenUrl::new(format!("{base}/token"))?))
}

/// `run `graphwatch login``, with `--profile` when it is not the default.
pub(crate) fn login_command(profile: &str) -> String {
    if profile == crate::settings::DEFAULT_PROFILE {
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
/// characters removed, lengths bounded (see [`shown_text`]).
pub(crate) fn describe_server_error(code: &str, description: Option<&String>) -> String {
    let code = shown_text(code, 100);
    match description
        .map(|d| shown_text(&first_line(d), 300))
        .filter(|d| !d.is_empty())
    {
        Some(d) => format!("{code}: {d}"),
        None => code,
    }
}

/// Whether the token endpoint's refusal ends the sign-in, from the HTTP status of the
/// answer and its OAuth `error` (empty when the body has none). Only the service's
/// word on the grant is final (`invalid_grant` — expired, revoked, spent —,
/// `interaction_required`, `consent_required`, a refused client or scope: 4xx answers);
/// `temporarily_unavailable`, `server_error`, 408, 429 and every 5xx are worth another
/// try. (No answer at all is worth another try too; that is not a refusal.)
pub(crate) fn refusal_is_final(status: u16, error: &str) -> bool {
    match error {
        "temporarily_unavailable" | "server_error" => false,
        _ => status < 500 && status != 408 && status != 429,
    }
}

/// The longest lifetime taken as the sign-in service states it (device codes, access
/// tokens). Larger values are cut to this: they are added to the clock, where an
/// absurd one (`"expires_in": 1e15`) would overflow it.
pub(crate) const LIFETIME_CEILING: Duration = Duration::from_secs(24 * 60 * 60);

pub(crate) fn bounded(lifetime: Duration) -> Duration {
    lifetime.min(LIFETIME_CEILING)
}

pub(crate) fn unreachable_login(
    login_url: &str,
    e: HttpClientError<reqwest::Error>,
) -> anyhow::Error {
    let cause = match e {
        HttpClientError::Reqwest(re) => error_text(&re.without_url()),
        other => other.to_string(),
    };
    Error::failure(format!(
        "cannot reach the sign-in service at {login_url}: {cause}"
    ))
    .hint("check the network and --login-url, then try again")
    .into()
}

pub(crate) fn unreadable_login(login_url: &str) -> anyhow::Error {
    Error::failure(format!(
        "the sign-in service at {login_url} sent an answer graphwatch does not understand"
    ))
    .hint("check --login-url")
    .into()
}

pub(crate) fn expiry(now: DateTime<Utc>, expires_in: Option<Duration>) -> DateTime<Utc> {
    let lifetime = bounded(expires_in.unwrap_or(DEFAULT_TOKEN_LIFETIME));
    now + chrono::Duration::from_std(lifetime).unwrap_or(chrono::Duration::hours(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn login_hint_names_non_default_profiles() {
        assert_eq!(login_command("default"), "`graphwatch login`");
        assert_eq!(login_command("work"), "`graphwatch login --profile work`");
    }

    #[test]
    fn only_the_services_word_on_the_grant_is_final() {
        for (status, error) in [
            (400, "invalid_grant"),
            (400, "interaction_required"),
            (400, "consent_required"),
            (401, "invalid_client"),
            (400, "invalid_scope"),
            (400, "unauthorized_client"),
            // A 4xx answer that is not an OAuth error: a wrong --login-url.
            (404, ""),
            (200, ""),
        ] {
            assert!(refusal_is_final(status, error), "{status} {error}");
        }
        for (status, error) in [
            (503, "temporarily_unavailable"),
            (400, "temporarily_unavailable"),
            (429, "temporarily_unavailable"),
            (500, "server_error"),
            (502, ""),
            (504, "invalid_request"),
            (429, ""),
            (408, ""),
        ] {
            assert!(!refusal_is_final(status, error), "{status} {error}");
        }
    }

    #[test]
    fn server_error_text_is_one_line_without_control_characters() {
        let description = "AADSTS50059: bad\u{1b}[31m tenant\r\nTrace ID: 1".to_string();
        let text = describe_server_error("invalid\nrequest\u{1b}", Some(&description));
        assert!(!text.chars().any(char::is_control), "{text:?}");
        assert_eq!(text, "invalid request: AADSTS50059: bad [31m tenant");
    }
}
