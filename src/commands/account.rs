//! `login`, `logout` and `whoami`: the profile's sign-in, from the user's side.

use chrono::{DateTime, Local, Utc};
use serde::Serialize;
use serde_json::Value;

use super::Context;
use crate::auth::{self, TokenStore};
use crate::cli::OutputFormat;
use crate::error::Error;
use crate::graph::GraphError;
use crate::output::{self, bold};

pub async fn login(ctx: &Context, scopes: &[String]) -> anyhow::Result<()> {
    if ctx.settings.access_token.is_some() {
        return Err(Error::usage(
            "login keeps tokens in the profile's cache, which --access-token bypasses",
        )
        .hint("drop --access-token (or unset GRAPHWATCH_ACCESS_TOKEN) to sign in")
        .into());
    }
    let (tokens, store) = auth::login(&ctx.settings, scopes, &ctx.ui).await?;
    let who = match (&tokens.account, &tokens.name) {
        (Some(account), Some(name)) => format!("{name} <{account}>"),
        (Some(account), None) => account.clone(),
        (None, Some(name)) => name.clone(),
        (None, None) => "an unnamed account".to_string(),
    };
    let tenant = tokens.tenant_id.as_deref().unwrap_or(&tokens.tenant);
    ctx.ui.note(format!(
        "Signed in as {who} (tenant {tenant}); profile {}, tokens in {}",
        store.profile(),
        store.path().display()
    ));
    Ok(())
}

pub fn logout(ctx: &Context) -> anyhow::Result<()> {
    let store = TokenStore::new(&ctx.settings.config_dir, &ctx.settings.profile);
    if store.remove()? {
        ctx.ui.note(format!(
            "Signed out of profile {}: removed {}",
            store.profile(),
            store.path().display()
        ));
    } else {
        ctx.ui.note(format!(
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
    /// `cache` (the profile's sign-in) or `access-token` (`--access-token`).
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
    signed_in_at: Option<DateTime<Utc>>,
    refreshed_at: Option<DateTime<Utc>>,
    login_url: Option<String>,
    client_id: Option<String>,
    cache_path: Option<String>,
}

pub async fn whoami(ctx: &Context) -> anyhow::Result<()> {
    let who = if ctx.settings.access_token.is_some() {
        from_access_token(ctx).await?
    } else {
        from_cache(ctx)?
    };
    match ctx.settings.output {
        OutputFormat::Json => output::print_json(&who, OutputFormat::Json),
        OutputFormat::Pretty => output::print_line(&pretty(&who, ctx.stdout_color)),
    }
}

fn from_cache(ctx: &Context) -> anyhow::Result<WhoAmI> {
    let store = TokenStore::new(&ctx.settings.config_dir, &ctx.settings.profile);
    let tokens = store.load()?.ok_or_else(|| {
        Error::auth(format!("not signed in to profile {}", store.profile()))
            .hint(format!("run {}", auth::login_command(store.profile())))
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
        signed_in_at: Some(tokens.signed_in_at),
        refreshed_at: tokens.refreshed_at,
        login_url: Some(tokens.login_url),
        client_id: Some(tokens.client_id),
        cache_path: Some(store.path().display().to_string()),
    })
}

/// With `--access-token` there is no cache to read: ask Graph who the token is for.
async fn from_access_token(ctx: &Context) -> anyhow::Result<WhoAmI> {
    let me: Value = ctx
        .graph_client()
        .get_json("/me")
        .await
        .map_err(|e| match e {
            GraphError::Token(inner) => inner,
            other => anyhow::Error::new(other).context("cannot ask Graph who the token is for"),
        })?;
    let text = |key: &str| me.get(key).and_then(Value::as_str).map(str::to_string);
    Ok(WhoAmI {
        source: "access-token",
        profile: None,
        account: text("userPrincipalName").or_else(|| text("mail")),
        name: text("displayName"),
        tenant_id: None,
        tenant: None,
        scopes: Vec::new(),
        access_token_expires_at: None,
        access_token_valid: Some(true),
        refreshable: false,
        signed_in_at: None,
        refreshed_at: None,
        login_url: None,
        client_id: None,
        cache_path: None,
    })
}

fn pretty(who: &WhoAmI, color: bool) -> String {
    let mut rows: Vec<(&str, String)> = Vec::new();
    let account = match (&who.account, &who.name) {
        (Some(a), Some(n)) => format!("{a} ({n})"),
        (Some(a), None) => a.clone(),
        (None, Some(n)) => n.clone(),
        (None, None) => "unknown".into(),
    };
    rows.push(("account", account));
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
        None => rows.push(("token", "given with --access-token".into())),
    }
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
        .map(|(k, v)| format!("{}{}  {v}", bold(k, color), " ".repeat(width - k.len())))
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
