//! `--access-token-command CMD`: a bearer token from a command of the user's (as
//! kubectl's exec credential plugins and `az account get-access-token` provide one),
//! run again whenever the token is no longer good — Graph refused it (401), or its
//! expiry has come (read from the JWT's `exp` when it is a JWT; an opaque token is
//! run again on 401 only) — so a long watch outlives any one token.
//!
//! The command runs through the shell (`sh -c`, `cmd /C` on Windows) with no stdin, its
//! stderr passed through (it may say what it is doing), its stdout taken as the token:
//! one line, `Bearer ` optional. Neither the token nor the command line is ever logged
//! (a command line can carry a secret of its own).
//!
//! A command that fails before it ever gave a token is a sign-in failure (exit 3). One
//! that fails later — its own network blip, a vault that is restarting — is
//! [`SignInUnavailable`]: the watch goes on where it can and asks again with backoff,
//! as for a sign-in service that is down.

use std::process::Stdio;
use std::sync::Mutex;
use std::time::Duration;

use base64::Engine as _;
use chrono::{DateTime, Utc};
use tokio::io::AsyncReadExt as _;
use tokio::time::Instant;

use super::source::{SignInUnavailable, REFRESH_MARGIN};
use crate::error::Error;
use crate::settings::Secret;
use crate::util::backoff::Backoff;

/// How long the command may take (it may ask a vault, or a person).
const COMMAND_TIMEOUT: Duration = Duration::from_secs(120);
/// The most of its stdout that is read: tokens are a few KB.
const MAX_OUTPUT: u64 = 64 * 1024;
const RETRY_FIRST: Duration = Duration::from_secs(1);
const RETRY_MAX: Duration = Duration::from_secs(60);

/// The token source behind `--access-token-command`.
pub struct CommandSource {
    command: Secret,
    known: Mutex<Known>,
    /// Held while the command runs: one run at a time.
    running: tokio::sync::Mutex<()>,
}

#[derive(Default)]
struct Known {
    token: Option<Token>,
    /// The token Graph refused: not handed out again.
    rejected: Option<String>,
    /// The command has given a token before: a failure now is for a while only.
    worked: bool,
    outage: Option<Outage>,
}

struct Token {
    value: Secret,
    obtained: DateTime<Utc>,
    /// From the JWT's `exp`; `None` for an opaque token.
    expires: Option<DateTime<Utc>>,
}

struct Outage {
    backoff: Backoff,
    next_attempt: Instant,
    cause: String,
}

impl Token {
    /// Usable without running the command again: not refused, and, if it says when it
    /// expires, more than [`REFRESH_MARGIN`] left (half its lifetime, for short ones).
    fn fresh(&self, rejected: Option<&str>) -> bool {
        if rejected == Some(self.value.expose()) {
            return false;
        }
        let Some(expires) = self.expires else {
            return true;
        };
        let lifetime = expires - self.obtained;
        let margin = chrono::Duration::from_std(REFRESH_MARGIN)
            .unwrap_or_default()
            .min(lifetime / 2)
            .max(chrono::Duration::zero());
        expires - Utc::now() > margin
    }
}

impl CommandSource {
    pub fn new(command: Secret) -> CommandSource {
        CommandSource {
            command,
            known: Mutex::new(Known::default()),
            running: tokio::sync::Mutex::new(()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Known> {
        self.known.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The current token, or a new one from the command when it is no longer good.
    pub async fn access_token(&self) -> anyhow::Result<Secret> {
        {
            let known = self.lock();
            if let Some(token) = known.token.as_ref() {
                if token.fresh(known.rejected.as_deref()) {
                    return Ok(token.value.clone());
                }
            }
        }
        self.renew("its token expires").await
    }

    /// Graph refused `rejected` (401): run the command again, unless another request
    /// already did.
    pub async fn refresh_after_rejection(&self, rejected: &Secret) -> anyhow::Result<Secret> {
        self.lock().rejected = Some(rejected.expose().to_string());
        self.renew("Graph refused its token").await
    }

    async fn renew(&self, why: &str) -> anyhow::Result<Secret> {
        let _turn = self.running.lock().await;
        // Another request may have run it while this one waited.
        {
            let known = self.lock();
            if let Some(token) = known.token.as_ref() {
                if token.fresh(known.rejected.as_deref()) {
                    return Ok(token.value.clone());
                }
            }
            if let Some(outage) = &known.outage {
                let wait = outage
                    .next_attempt
                    .saturating_duration_since(Instant::now());
                if !wait.is_zero() {
                    return Err(unavailable(&outage.cause, wait));
                }
            }
        }
        tracing::info!("running --access-token-command ({why})");
        let result = run(self.command.expose()).await;
        let mut known = self.lock();
        let failure = match result {
            Ok(value) if known.rejected.as_deref() == Some(value.as_str()) => {
                // Running it again gives the refused token: no use going on.
                return Err(Error::auth(
                    "Graph refused the token printed by --access-token-command, and the command printed the same token again",
                )
                .hint("check what the command prints (a token for https://graph.microsoft.com, with Files.Read or more)")
                .into());
            }
            Ok(value) => {
                let expires = jwt_expiry(&value);
                let token = Token {
                    value: Secret::new(value),
                    obtained: Utc::now(),
                    expires,
                };
                if token.expires.is_some_and(|e| e <= Utc::now()) {
                    "it printed a token that has already expired".to_string()
                } else {
                    match &token.expires {
                        Some(at) => tracing::info!(
                            "new access token from --access-token-command, valid until {}",
                            at.to_rfc3339()
                        ),
                        None => tracing::info!(
                            "new access token from --access-token-command (no expiry in it: it is run again when Graph refuses it)"
                        ),
                    }
                    if known.outage.take().is_some() {
                        tracing::warn!("--access-token-command works again");
                    }
                    let secret = token.value.clone();
                    known.token = Some(token);
                    known.rejected = None;
                    known.worked = true;
                    return Ok(secret);
                }
            }
            Err(cause) => cause,
        };
        if !known.worked {
            return Err(Error::auth(format!("--access-token-command failed: {failure}"))
                .hint("check the command: it must print a bearer token for Microsoft Graph on stdout")
                .into());
        }
        let outage = known.outage.get_or_insert_with(|| Outage {
            backoff: Backoff::new(RETRY_FIRST, RETRY_MAX),
            next_attempt: Instant::now(),
            cause: String::new(),
        });
        let wait = outage.backoff.next_delay();
        outage.next_attempt = Instant::now() + wait;
        if outage.cause.is_empty() {
            tracing::warn!(
                "--access-token-command failed ({failure}); requests to Graph wait and it is run again with backoff (a live socket goes on)"
            );
        }
        outage.cause = failure;
        Err(unavailable(&outage.cause, wait))
    }
}

fn unavailable(cause: &str, wait: Duration) -> anyhow::Error {
    anyhow::Error::new(SignInUnavailable::new(
        Error::failure(format!("--access-token-command failed: {cause}"))
            .hint("check the command; it is run again in a while"),
        wait,
    ))
}

/// Run the command once: the token it printed, or why there is none (never quoting
/// what it printed).
async fn run(command: &str) -> Result<String, String> {
    #[cfg(windows)]
    let mut cmd = {
        let mut cmd = tokio::process::Command::new("cmd");
        cmd.arg("/C").arg(command);
        cmd
    };
    #[cfg(not(windows))]
    let mut cmd = {
        let mut cmd = tokio::process::Command::new("sh");
        cmd.arg("-c").arg(command);
        cmd
    };
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true);
    let mut child = cmd.spawn().map_err(|e| format!("cannot start it ({e})"))?;
    let mut stdout = child.stdout.take().ok_or("no stdout")?;
    let finished = tokio::time::timeout(COMMAND_TIMEOUT, async {
        let mut out = Vec::new();
        let read = (&mut stdout).take(MAX_OUTPUT).read_to_end(&mut out).await;
        let status = child.wait().await;
        (read.map(|_| out), status)
    })
    .await;
    let (out, status) = match finished {
        Ok(done) => done,
        Err(_) => {
            let _ = child.kill().await;
            return Err(format!(
                "it did not finish within {} s",
                COMMAND_TIMEOUT.as_secs()
            ));
        }
    };
    let status = status.map_err(|e| format!("cannot wait for it ({e})"))?;
    if !status.success() {
        return Err(match status.code() {
            Some(code) => format!("it exited with status {code}"),
            None => "it was killed by a signal".to_string(),
        });
    }
    let out = out.map_err(|e| format!("cannot read what it printed ({e})"))?;
    token_of(&out)
}

/// The token in what the command printed: one word on one line (surrounding blank lines
/// and spaces, and a `Bearer ` in front, allowed).
pub(crate) fn token_of(out: &[u8]) -> Result<String, String> {
    let text = std::str::from_utf8(out).map_err(|_| "it printed something that is not text")?;
    let text = text.trim();
    let text = text.strip_prefix("Bearer ").unwrap_or(text).trim();
    if text.is_empty() {
        return Err("it printed no token".into());
    }
    if text.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("it printed more than a token (one line, one word expected)".into());
    }
    Ok(text.to_string())
}

/// The `exp` of a JWT, unverified (the token is only passed on to Graph); `None` for an
/// opaque token or one without `exp`.
pub(crate) fn jwt_expiry(token: &str) -> Option<DateTime<Utc>> {
    let mut parts = token.split('.');
    let (_, payload, _) = (parts.next()?, parts.next()?, parts.next()?);
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    let claims: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    let exp = claims.get("exp")?.as_i64()?;
    DateTime::from_timestamp(exp, 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_is_one_word_of_what_was_printed() {
        assert_eq!(token_of(b"  eyJ0.x.y \n").unwrap(), "eyJ0.x.y");
        assert_eq!(token_of(b"\nBearer EwB123\n\n").unwrap(), "EwB123");
        for bad in [&b""[..], b"  \n", b"two words", b"a\nb", b"\xff\xfe"] {
            assert!(token_of(bad).is_err(), "{bad:?}");
        }
        // The reason never quotes the output.
        let err = token_of(b"secret-one secret-two").unwrap_err();
        assert!(!err.contains("secret"), "{err}");
    }

    #[test]
    fn expiry_comes_from_a_jwt_and_not_from_opaque_tokens() {
        let payload =
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(r#"{"exp":1900000000}"#);
        let jwt = format!("eyJhbGciOiJub25lIn0.{payload}.sig");
        assert_eq!(jwt_expiry(&jwt).unwrap().timestamp(), 1_900_000_000);
        assert!(jwt_expiry("EwBopaque").is_none());
        assert!(jwt_expiry("a.b.c").is_none());
    }

    #[test]
    fn a_token_is_fresh_until_near_its_expiry() {
        let now = Utc::now();
        let token = |obtained_ago: i64, left: i64| Token {
            value: Secret::new("t"),
            obtained: now - chrono::Duration::seconds(obtained_ago),
            expires: Some(now + chrono::Duration::seconds(left)),
        };
        assert!(token(0, 3600).fresh(None));
        assert!(!token(3500, 100).fresh(None), "inside the 2-minute margin");
        assert!(token(1, 60).fresh(None), "a short token: half its lifetime");
        assert!(!token(50, 10).fresh(None));
        assert!(!token(0, 3600).fresh(Some("t")), "refused by Graph");
        let opaque = Token {
            value: Secret::new("o"),
            obtained: now,
            expires: None,
        };
        assert!(opaque.fresh(None));
    }
}
