//! The browser sign-in: the OAuth 2.0 authorization-code flow with PKCE (S256) of the
//! Microsoft identity platform v2.0, for a native app (RFC 8252): the sign-in page opens
//! in the browser (the `webbrowser` crate, which honours `$BROWSER`), the service sends
//! the browser back to `http://localhost:PORT` on a free loopback port
//! ([`super::loopback`]), graphwatch checks `state`, exchanges the code once with the
//! verifier, and the page says how it went.
//!
//! Headless (`--no-open`: SSH, a container): the address is printed, the browser may be
//! on another machine, and the address it ends on — which fails to load there — can be
//! pasted on stdin instead; whichever comes first is taken.
//!
//! Works in tenants whose Conditional Access blocks the device-code flow. The code, the
//! verifier and the tokens are never logged; the address printed holds neither (only
//! the PKCE challenge and the state, which are not secrets).

use std::io::BufRead as _;
use std::time::{Duration, Instant};

use oauth2::basic::BasicErrorResponseType;
use oauth2::{
    AuthorizationCode, CsrfToken, PkceCodeChallenge, PkceCodeVerifier, RequestTokenError, Scope,
};
use tokio::sync::mpsc;
use url::Url;

use super::browser_command;
use super::device::{transient_code, unavailable, Waiting};
use super::loopback::{Loopback, Page};
use crate::error::Error;
use crate::exit;
use crate::settings::Settings;
use crate::term::Term;
use crate::tokens::oauth::{
    auth_code_client, describe_server_error, login_command, unreachable_login, unreadable_login,
    MsAuthCodeClient, MsTokenResponse,
};
use crate::util::url::base_str;

/// How long a browser sign-in may take, from the address shown to the answer.
const LIMIT: Duration = Duration::from_secs(15 * 60);

/// Browser sign-in: the token response, once the code is exchanged. `open`: open a
/// browser (else print the address only, and take a pasted answer too).
pub(super) async fn login(
    settings: &Settings,
    scopes: &[String],
    ui: &Term,
    http: &reqwest::Client,
    open: bool,
) -> anyhow::Result<MsTokenResponse> {
    let loopback = Loopback::bind().await?;
    let redirect = format!("http://localhost:{}", loopback.port());
    let client = auth_code_client(
        &settings.login_url,
        &settings.tenant,
        &settings.client_id,
        &redirect,
    )?;
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (address, state) = client
        .authorize_url(CsrfToken::new_random)
        .add_scopes(scopes.iter().map(|s| Scope::new(s.clone())))
        .set_pkce_challenge(challenge)
        // Let a person with several accounts choose, instead of the browser's last one.
        .add_extra_param("prompt", "select_account")
        .url();
    tracing::info!(
        "starting browser sign-in at {}/{} for scopes {}, redirect to {redirect}",
        base_str(&settings.login_url),
        settings.tenant,
        scopes.join(" ")
    );
    let mut serving = loopback.serve();

    ui.prompt(format!(
        "To sign in, open this page in a web browser: {address}"
    ));
    let mut paste = None;
    let mut waiting = None;
    if open {
        match webbrowser::open(address.as_str()) {
            Ok(()) => {
                tracing::debug!("asked the system to open a browser");
                waiting = Some(Waiting::start(ui, Instant::now() + LIMIT));
            }
            Err(e) => {
                ui.prompt(format!(
                    "Could not open a browser ({e}). Open the page above yourself; if the browser is on another machine, paste here the address it ends on."
                ));
                paste = Some(paste_lines());
            }
        }
    } else {
        ui.prompt(format!(
            "After you sign in, the browser goes to {redirect}/… . If that page does not load (the browser is on another machine), copy the whole address from the browser's address bar, paste it here and press Enter."
        ));
        paste = Some(paste_lines());
    }

    let deadline = tokio::time::sleep(LIMIT);
    tokio::pin!(deadline);
    let (params, callback) = loop {
        tokio::select! {
            callback = serving.next() => match callback {
                Some(callback) => {
                    tracing::debug!("the sign-in's answer came through the loopback redirect");
                    break (callback.params.clone(), Some(callback));
                }
                None => {
                    if let Some(w) = waiting.take() {
                        w.finish();
                    }
                    return Err(Error::failure("the sign-in's loopback redirect stopped listening")
                        .hint(format!("run {} again", login_command(&settings.profile)))
                        .into());
                }
            },
            line = recv(&mut paste) => match line {
                Some(line) => match pasted_params(&line) {
                    Some(params) => {
                        tracing::debug!("the sign-in's answer was pasted");
                        break (params, None);
                    }
                    None if line.trim().is_empty() => {}
                    None => ui.prompt(
                        "That is not the address the browser ended on (it holds no code). Paste the whole address from the address bar, starting with http://localhost",
                    ),
                },
                // stdin closed: only the redirect can answer now.
                None => paste = None,
            },
            _ = &mut deadline => {
                if let Some(w) = waiting.take() {
                    w.finish();
                }
                serving.close().await;
                return Err(Error::auth(format!(
                    "the sign-in was not finished within {} minutes",
                    LIMIT.as_secs() / 60
                ))
                .hint(format!("run {} again", login_command(&settings.profile)))
                .into());
            }
        }
    };
    if let Some(w) = waiting.take() {
        w.finish();
    }
    // One answer is all there is: nothing listens any more, so a replayed redirect
    // finds the port closed.
    serving.close().await;

    let result = match code_of(&params, state.secret(), settings) {
        Ok(code) => exchange(&client, code, verifier, http, settings).await,
        Err(e) => Err(e),
    };
    if let Some(callback) = callback {
        callback.answer(page_for(&result)).await;
    }
    result
}

async fn recv(paste: &mut Option<mpsc::UnboundedReceiver<String>>) -> Option<String> {
    match paste {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

/// Lines of stdin, read on a thread of their own (a blocking read cannot be cancelled;
/// the thread ends with the process).
fn paste_lines() -> mpsc::UnboundedReceiver<String> {
    let (tx, rx) = mpsc::unbounded_channel();
    let spawned = std::thread::Builder::new()
        .name("sign-in-paste".into())
        .spawn(move || {
            for line in std::io::stdin().lock().lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
    if let Err(e) = spawned {
        tracing::debug!("cannot read a pasted answer: {e}");
    }
    rx
}

/// The parameters of a pasted answer: the whole address the browser ended on, or just
/// its query; `None` when it carries neither `code` nor `error`.
pub(super) fn pasted_params(line: &str) -> Option<Vec<(String, String)>> {
    let text = line.trim();
    let query = match Url::parse(text) {
        Ok(url) => url.query().unwrap_or("").to_string(),
        Err(_) => text.trim_start_matches('?').to_string(),
    };
    let params: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    params
        .iter()
        .any(|(k, v)| (k == "code" || k == "error") && !v.is_empty())
        .then_some(params)
}

fn param<'a>(params: &'a [(String, String)], key: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

/// The code of an answer that is for this sign-in (its `state` is ours), or why not.
pub(super) fn code_of(
    params: &[(String, String)],
    state: &str,
    settings: &Settings,
) -> anyhow::Result<String> {
    let again = format!("run {} again", browser_command(&settings.profile));
    if param(params, "state") != Some(state) {
        return Err(Error::auth(
            "the answer that reached graphwatch is not for this sign-in (its state does not match); nothing was exchanged",
        )
        .hint(format!(
            "{again}; if this happens again, something else on this machine is answering the sign-in"
        ))
        .into());
    }
    if let Some(error) = param(params, "error") {
        let description = param(params, "error_description").map(str::to_string);
        let text = describe_server_error(error, description.as_ref());
        if transient_code(error) {
            return Err(unavailable(base_str(&settings.login_url), &text));
        }
        let e = match error {
            "access_denied" => {
                Error::auth(format!("the sign-in was declined ({text})"))
                    .hint(format!("{again} and accept"))
            }
            _ if text.contains("AADSTS50011") => Error::auth(format!(
                "the sign-in service refused the redirect to graphwatch ({text})"
            ))
            .hint("the app registration needs the redirect URI http://localhost under \"Mobile and desktop applications\" (docs/signin-and-targets.md)"),
            _ => Error::auth(format!("the sign-in service refused the sign-in ({text})"))
                .hint(format!("check --tenant and --client-id, then {again}")),
        };
        return Err(e.into());
    }
    match param(params, "code") {
        Some(code) if !code.is_empty() => Ok(code.to_string()),
        _ => Err(Error::auth("the sign-in's answer holds no code")
            .hint(again)
            .into()),
    }
}

/// The code for tokens, once, with the PKCE verifier.
async fn exchange(
    client: &MsAuthCodeClient,
    code: String,
    verifier: PkceCodeVerifier,
    http: &reqwest::Client,
    settings: &Settings,
) -> anyhow::Result<MsTokenResponse> {
    let login_url = base_str(&settings.login_url);
    let again = format!("run {} again", browser_command(&settings.profile));
    client
        .exchange_code(AuthorizationCode::new(code))
        .set_pkce_verifier(verifier)
        .request_async(http)
        .await
        .map_err(|e| match e {
            RequestTokenError::ServerResponse(r) => {
                let text = describe_server_error(r.error().as_ref(), r.error_description());
                if transient_code(r.error().as_ref()) {
                    return unavailable(login_url, &text);
                }
                match r.error() {
                    BasicErrorResponseType::InvalidGrant => Error::auth(format!(
                        "the sign-in service refused the sign-in's code ({text})"
                    ))
                    .hint(again),
                    BasicErrorResponseType::InvalidClient
                    | BasicErrorResponseType::UnauthorizedClient => Error::auth(format!(
                        "the sign-in service refused the client ({text})"
                    ))
                    .hint("check --client-id: an app of your own must be a public client with the redirect URI http://localhost under \"Mobile and desktop applications\""),
                    _ => Error::auth(format!("the sign-in failed ({text})")).hint(again),
                }
                .into()
            }
            RequestTokenError::Request(e) => unreachable_login(login_url, e),
            RequestTokenError::Parse(..) => unreadable_login(login_url),
            RequestTokenError::Other(text) => Error::auth(format!("the sign-in failed: {text}"))
                .hint(again)
                .into(),
        })
}

/// What the browser is told: signed in, or what went wrong (the terminal says what to do).
fn page_for(result: &anyhow::Result<MsTokenResponse>) -> Page {
    match result {
        Ok(_) => Page {
            ok: true,
            title: "Signed in".into(),
            message: "graphwatch is signed in. You can close this tab and go back to the terminal."
                .into(),
        },
        Err(e) => Page {
            ok: false,
            title: "Not signed in".into(),
            message: format!("graphwatch could not sign you in: {}.", exit::one_line(e)),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owned(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn a_pasted_address_or_query_is_read() {
        let full =
            pasted_params("  http://localhost:4711/?code=c1&state=s1&session_state=x \n").unwrap();
        assert_eq!(param(&full, "code"), Some("c1"));
        assert_eq!(param(&full, "state"), Some("s1"));
        let query = pasted_params("?error=access_denied&state=s1").unwrap();
        assert_eq!(param(&query, "error"), Some("access_denied"));
        for nothing in ["", "hello", "http://localhost:4711/", "code=", "state=s1"] {
            assert!(pasted_params(nothing).is_none(), "{nothing:?}");
        }
    }

    #[test]
    fn only_an_answer_with_our_state_gives_a_code() {
        let settings = super::super::tests::settings();
        let ok = owned(&[("code", "c"), ("state", "ours")]);
        assert_eq!(code_of(&ok, "ours", &settings).unwrap(), "c");
        for (params, says) in [
            (
                owned(&[("code", "c"), ("state", "theirs")]),
                "state does not match",
            ),
            (owned(&[("code", "c")]), "state does not match"),
            (
                owned(&[
                    ("error", "access_denied"),
                    ("error_description", "AADSTS65004: User declined"),
                    ("state", "ours"),
                ]),
                "declined",
            ),
            (owned(&[("state", "ours")]), "no code"),
        ] {
            let e = code_of(&params, "ours", &settings).unwrap_err();
            let line = exit::one_line(&e);
            assert!(line.contains(says), "{line}");
            assert_eq!(exit::exit_code(&e), crate::error::Code::Auth, "{line}");
        }
    }
}
