//! Sign-in against the Microsoft identity platform v2.0, and who signed in: the browser
//! flow (authorization code + PKCE, a loopback redirect: [`browser`]) or the
//! device-code flow ([`device`]), whichever fits where graphwatch runs
//! ([`Flow::choose`]); both end with the same token answer, saved in the profile's cache.
//! [`crate::tokens`] holds the Microsoft specifics and the cache, this module the flows
//! and the user-facing sentences.

mod browser;
mod device;
mod loopback;

use base64::Engine as _;
use chrono::Utc;
use oauth2::TokenResponse as _;
use serde::Deserialize;

use crate::error::Error;
use crate::graph::{self, GraphClient};
use crate::settings::{Secret, Settings};
use crate::term::Term;
use crate::tokens::oauth::{expiry, login_command, MsTokenResponse};
use crate::tokens::{CachedTokens, TokenSource, TokenStore};
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

/// How to sign in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// Authorization code + PKCE; `open`: open a browser (else print the address and
    /// take a pasted answer too).
    Browser { open: bool },
    /// The device-code flow.
    DeviceCode,
}

impl Flow {
    /// `--browser`, `--no-open` and `--device-code` as given; without any, the browser
    /// when one can be opened here ([`browser_at_hand`]), the device code otherwise.
    pub fn choose(browser: bool, no_open: bool, device_code: bool) -> Flow {
        if device_code {
            Flow::DeviceCode
        } else if no_open {
            Flow::Browser { open: false }
        } else if browser || browser_at_hand(|name| std::env::var_os(name)) {
            Flow::Browser { open: true }
        } else {
            Flow::DeviceCode
        }
    }
}

/// Whether a browser can be opened where graphwatch runs: `$BROWSER` names one, or there
/// is a graphical session (`DISPLAY` or `WAYLAND_DISPLAY` on Linux and the BSDs; always
/// on macOS and Windows). Over SSH or in a container there is none: device code then.
pub fn browser_at_hand(var: impl Fn(&str) -> Option<std::ffi::OsString>) -> bool {
    let set = |name: &str| var(name).is_some_and(|v| !v.is_empty());
    if set("BROWSER") {
        return true;
    }
    if cfg!(any(target_os = "macos", windows)) {
        return true;
    }
    set("DISPLAY") || set("WAYLAND_DISPLAY")
}

/// `graphwatch login --browser`, with `--profile` when it is not the default.
fn browser_command(profile: &str) -> String {
    login_command(profile).replacen("login", "login --browser", 1)
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

/// Sign in to `settings.profile` with `flow`; the tokens are saved in the cache.
pub async fn login(
    settings: &Settings,
    extra_scopes: &[String],
    ui: &Term,
    flow: Flow,
) -> anyhow::Result<(CachedTokens, TokenStore)> {
    let scopes = login_scopes(&settings.tenant, extra_scopes);
    // Before anyone is asked to sign in: can the tokens be kept?
    TokenStore::new(&settings.config_dir, &settings.profile).check_writable()?;
    let http = graph::http_client()?;
    let response = match flow {
        Flow::Browser { open } => browser::login(settings, &scopes, ui, &http, open).await?,
        Flow::DeviceCode => device::login(settings, &scopes, ui, &http).await?,
    };
    save(settings, &http, &response, scopes).await
}

/// The tokens of a finished sign-in, with who signed in, saved in the profile's cache.
async fn save(
    settings: &Settings,
    http: &reqwest::Client,
    response: &MsTokenResponse,
    scopes: Vec<String>,
) -> anyhow::Result<(CachedTokens, TokenStore)> {
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
        scopes: granted_scopes(response, &scopes),
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
    store.save(&tokens).map_err(|e| {
        // The sign-in worked; only the file failed: say so, with the file's reason.
        anyhow::Error::new(Error::failure(format!("signed in, but {e:#}")).hint(
            "make the config directory writable (or set GRAPHWATCH_CONFIG_DIR), then sign in again",
        ))
    })?;
    Ok((tokens, store))
}

fn granted_scopes(response: &MsTokenResponse, requested: &[String]) -> Vec<String> {
    match response.scopes() {
        Some(scopes) if !scopes.is_empty() => scopes.iter().map(|s| s.to_string()).collect(),
        _ => requested.to_vec(),
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// Settings for unit tests of the flows' error sentences.
    pub(crate) fn settings() -> Settings {
        Settings {
            config_dir: std::path::PathBuf::from("/nonexistent"),
            graph_url: url::Url::parse("https://graph.microsoft.com/v1.0").unwrap(),
            login_url: url::Url::parse("https://login.microsoftonline.com").unwrap(),
            tenant: "common".into(),
            client_id: crate::settings::DEFAULT_CLIENT_ID.into(),
            profile: "default".into(),
            output: None,
            color: crate::cli::ColorChoice::Never,
            access_token: None,
            access_token_command: None,
            log_level: crate::logging::LogLevel::Warn,
            log_format: crate::logging::LogFormat::Text,
        }
    }

    #[test]
    fn a_browser_is_at_hand_with_browser_set_or_a_display() {
        let env = |vars: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                vars.iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| std::ffi::OsString::from(v))
            }
        };
        assert!(browser_at_hand(env(&[("BROWSER", "firefox")])));
        let graphical = cfg!(any(target_os = "macos", windows));
        assert_eq!(browser_at_hand(env(&[])), graphical);
        assert_eq!(
            browser_at_hand(env(&[("BROWSER", ""), ("DISPLAY", "")])),
            graphical
        );
        assert!(browser_at_hand(env(&[("DISPLAY", ":0")])));
        assert!(browser_at_hand(env(&[("WAYLAND_DISPLAY", "wayland-0")])));
    }

    #[test]
    fn forced_flows_win() {
        assert_eq!(Flow::choose(false, false, true), Flow::DeviceCode);
        assert_eq!(
            Flow::choose(true, false, false),
            Flow::Browser { open: true }
        );
        assert_eq!(
            Flow::choose(true, true, false),
            Flow::Browser { open: false }
        );
        assert_eq!(
            Flow::choose(false, true, false),
            Flow::Browser { open: false }
        );
        assert_eq!(browser_command("default"), "`graphwatch login --browser`");
        assert_eq!(
            browser_command("w"),
            "`graphwatch login --browser --profile w`"
        );
    }

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
}
