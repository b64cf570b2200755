//! `login`, `logout` and `whoami`: the profile's sign-in, from the user's side.

use chrono::{DateTime, Local, Utc};
use serde::Serialize;
use serde_json::Value;

use super::App;
use crate::cli::{LoginArgs, OutputFormat};
use crate::error::Error;
use crate::graph::GraphError;
use crate::output;
use crate::signin::{self, Flow};
use crate::term::Term;
use crate::tokens::oauth::login_command;
use crate::tokens::{TokenSource, TokenStore};

pub(super) async fn login(app: &App, args: &LoginArgs) -> anyhow::Result<()> {
    if app.settings.access_token_command.is_some() && app.settings.access_token.is_none() {
        return Err(Error::usage(
            "login keeps tokens in the profile's cache, which --access-token-command bypasses",
        )
        .hint("drop --access-token-command (or unset GRAPHWATCH_ACCESS_TOKEN_COMMAND, or remove access_token_command from config.toml) to sign in")
        .into());
    }
    if app.settings.access_token.is_some() {
        return Err(Error::usage(
            "login keeps tokens in the profile's cache, which --access-token bypasses",
        )
        .hint("drop --access-token (or unset GRAPHWATCH_ACCESS_TOKEN) to sign in")
        .into());
    }
    let flow = Flow::choose(args.browser, args.no_open, args.device_code);
    tracing::debug!("signing in with {flow:?}");
    let (tokens, store) = signin::login(&app.settings, &args.scopes, &app.term, flow).await?;
    let who = shown_account(tokens.account.as_deref(), tokens.name.as_deref());
    let tenant = tokens.tenant_id.as_deref().unwrap_or(&tokens.tenant);
    app.term.note(format!(
        "Signed in as {who} (tenant {tenant}); profile {}, tokens in {}",
        store.profile(),
        store.path().display()
    ));
    Ok(())
}

pub(super) fn logout(app: &App) -> anyhow::Result<()> {
    let store = TokenStore::new(&app.settings.config_dir, &app.settings.profile);
    if store.remove()? {
        app.term.note(format!(
            "Signed out of profile {}: removed {}",
            store.profile(),
            store.path().display()
        ));
    } else {
        app.term.note(format!(
            "Profile {} was not signed in: nothing to remove at {}",
            store.profile(),
            store.path().display()
        ));
    }
    Ok(())
}

/// What `whoami` shows: who, where, which scopes, until when — never a token.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct WhoAmI {
    /// `cache` (the profile's sign-in), `access-token` (`--access-token`) or
    /// `access-token-command` (`--access-token-command`).
    source: &'static str,
    profile: Option<String>,
    account: Option<String>,
    name: Option<String>,
    tenant_id: Option<String>,
    /// The tenant signed in through (`common`, a domain, …).
    tenant: Option<String>,
    scopes: Vec<String>,
    access_token_expires_at: Option<DateTime<Utc>>,
    /// Whether the cached access token is still valid now.
    access_token_valid: Option<bool>,
    /// Whether an expired access token is renewed without signing in again.
    refreshable: bool,
    /// Whether the service confirmed the sign-in just now (a refresh, or Graph taking
    /// the token); `false` with `--offline`.
    checked_with_service: bool,
    signed_in_at: Option<DateTime<Utc>>,
    refreshed_at: Option<DateTime<Utc>>,
    login_url: Option<String>,
    client_id: Option<String>,
    cache_path: Option<String>,
}

pub(super) async fn whoami(app: &App, offline: bool) -> anyhow::Result<()> {
    let outside =
        app.settings.access_token.is_some() || app.settings.access_token_command.is_some();
    let who = if outside {
        if offline {
            return Err(Error::usage(
                "whoami --offline reads the token cache, which --access-token and --access-token-command bypass",
            )
            .hint("leave out --offline (whoami asks Graph who the token is for)")
            .into());
        }
        from_access_token(app).await?
    } else {
        let checked = !offline && check_sign_in(app).await?;
        WhoAmI {
            checked_with_service: checked,
            ..from_cache(app)?
        }
    };
    match app.output_format() {
        OutputFormat::Json => output::print_json(&who, OutputFormat::Json),
        OutputFormat::Pretty => output::print_line(&pretty(&who, &app.term)),
    }
}

/// The sign-in service's word on the profile's sign-in: a refresh (revoked or expired:
/// exit 3; the service unreachable: exit 1). Without a refresh token, Graph's: `GET /me`
/// with the cached access token.
async fn check_sign_in(app: &App) -> anyhow::Result<bool> {
    let source = TokenSource::from_settings(&app.settings, app.http.clone());
    if source.check_with_service().await? {
        return Ok(true);
    }
    app.graph_client()
        .get_json::<Value>("/me")
        .await
        .map_err(|e| match e {
            GraphError::Token(inner) => inner,
            other => anyhow::Error::new(other).context("cannot check the sign-in with Graph"),
        })?;
    Ok(true)
}

fn from_cache(app: &App) -> anyhow::Result<WhoAmI> {
    let store = TokenStore::new(&app.settings.config_dir, &app.settings.profile);
    let tokens = store.load()?.ok_or_else(|| {
        Error::auth(format!("not signed in to profile {}", store.profile()))
            .hint(format!("run {}", login_command(store.profile())))
    })?;
    Ok(WhoAmI {
        source: "cache",
        profile: Some(store.profile().to_string()),
        account: tokens.account,
        name: tokens.name,
        tenant_id: tokens.tenant_id,
        tenant: Some(tokens.tenant),
        scopes: tokens.scopes,
        access_token_expires_at: Some(tokens.access_token_expires_at),
        access_token_valid: Some(tokens.access_token_expires_at > Utc::now()),
        refreshable: tokens.refresh_token.is_some(),
        checked_with_service: false,
        signed_in_at: Some(tokens.signed_in_at),
        refreshed_at: tokens.refreshed_at,
        login_url: Some(tokens.login_url),
        client_id: Some(tokens.client_id),
        cache_path: Some(store.path().display().to_string()),
    })
}

/// With `--access-token` there is no cache to read: ask Graph who the token is for.
async fn from_access_token(app: &App) -> anyhow::Result<WhoAmI> {
    let me: Value = app
        .graph_client()
        .get_json("/me")
        .await
        .map_err(|e| match e {
            GraphError::Token(inner) => inner,
            other => anyhow::Error::new(other).context("cannot ask Graph who the token is for"),
        })?;
    let text = |key: &str| me.get(key).and_then(Value::as_str).map(str::to_string);
    Ok(WhoAmI {
        source: if app.settings.access_token.is_some() {
            "access-token"
        } else {
            "access-token-command"
        },
        profile: None,
        account: text("userPrincipalName").or_else(|| text("mail")),
        name: text("displayName"),
        tenant_id: None,
        tenant: None,
        scopes: Vec::new(),
        access_token_expires_at: None,
        access_token_valid: Some(true),
        refreshable: false,
        checked_with_service: true,
        signed_in_at: None,
        refreshed_at: None,
        login_url: None,
        client_id: None,
        cache_path: None,
    })
}

/// `Adele Vance <adele@contoso.com>`: how an account is named to people, everywhere.
fn shown_account(account: Option<&str>, name: Option<&str>) -> String {
    match (account, name) {
        (Some(account), Some(name)) => format!("{name} <{account}>"),
        (Some(account), None) => account.to_string(),
        (None, Some(name)) => name.to_string(),
        (None, None) => "an unnamed account".to_string(),
    }
}

fn pretty(who: &WhoAmI, term: &Term) -> String {
    let mut rows: Vec<(&str, String)> = Vec::new();
    rows.push((
        "account",
        shown_account(who.account.as_deref(), who.name.as_deref()),
    ));
    match (&who.tenant_id, &who.tenant) {
        (Some(id), Some(t)) if id != t => {
            rows.push(("tenant", format!("{id} (signed in through {t})")))
        }
        (Some(id), _) => rows.push(("tenant", id.clone())),
        (None, Some(t)) => rows.push(("tenant", t.clone())),
        (None, None) => {}
    }
    if !who.scopes.is_empty() {
        rows.push(("scopes", who.scopes.join(" ")));
    }
    match who.access_token_expires_at {
        Some(at) => {
            let left = at - Utc::now();
            let when = at.with_timezone(&Local).format("%Y-%m-%d %H:%M:%S %:z");
            let state = if left > chrono::Duration::zero() {
                format!("valid until {when} (in {})", minutes(left))
            } else {
                format!("expired at {when}")
            };
            let renew = if who.refreshable {
                "; renewed automatically"
            } else {
                "; sign in again when it expires"
            };
            rows.push(("token", format!("{state}{renew}")));
        }
        None if who.source == "access-token" => {
            rows.push(("token", "given with --access-token".into()))
        }
        None => rows.push(("token", "printed by --access-token-command".into())),
    }
    rows.push((
        "checked",
        if who.checked_with_service {
            "yes, just now: the sign-in holds".to_string()
        } else {
            "no (--offline: what the token cache says)".to_string()
        },
    ));
    if let Some(profile) = &who.profile {
        rows.push(("profile", profile.clone()));
    }
    if let Some(url) = &who.login_url {
        rows.push(("sign-in", url.clone()));
    }
    if let Some(path) = &who.cache_path {
        rows.push(("cache", path.clone()));
    }
    let width = rows.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    rows.iter()
        .map(|(k, v)| format!("{}{}  {v}", term.bold(k), " ".repeat(width - k.len())))
        .collect::<Vec<_>>()
        .join("\n")
}

fn minutes(d: chrono::Duration) -> String {
    let m = d.num_minutes();
    if m >= 120 {
        format!("{} h {} min", m / 60, m % 60)
    } else if m >= 1 {
        format!("{m} min")
    } else {
        format!("{} s", d.num_seconds().max(0))
    }
}
