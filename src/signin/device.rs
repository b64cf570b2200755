//! The OAuth 2.0 device-code flow: a code and an address shown on the terminal, a
//! person signs in anywhere, graphwatch polls until it is done. For terminals, SSH and
//! containers with no browser at hand — in tenants that allow it: Conditional Access
//! may block it (`AADSTS53003`), and then the error names the browser flow.
//!
//! The `oauth2` crate does the protocol (polling at `interval`, `+5 s` on `slow_down`);
//! this module the user-facing sentences and the bounds on what the service says.

use std::sync::Mutex as StdMutex;
use std::time::{Duration, Instant};

use oauth2::basic::{BasicErrorResponse, BasicErrorResponseType};
use oauth2::{
    DeviceAuthorizationResponse, DeviceCodeErrorResponse, DeviceCodeErrorResponseType,
    HttpClientError, RequestTokenError, Scope,
};

use super::browser_command;
use crate::error::Error;
use crate::settings::Settings;
use crate::term::{styled_spinner, Term};
use crate::tokens::oauth::{
    bounded, describe_server_error, login_command, oauth_client, unreachable_login,
    unreadable_login, MsDeviceFields, MsTokenResponse, LIFETIME_CEILING,
};
use crate::util::backoff::Backoff;
use crate::util::duration::human;
use crate::util::text::shown_text;
use crate::util::url::base_str;

/// Waits between attempts after a transient failure: the one backoff policy.
const RETRY_FIRST: Duration = Duration::from_secs(1);
const RETRY_MAX: Duration = Duration::from_secs(8);

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

/// Attempts at each request to the sign-in service while it answers that it is busy or
/// failing (`temporarily_unavailable`, `server_error`) or cannot be reached; then the
/// sign-in ends with exit status 1, blaming the service or the network.
const ATTEMPTS: u32 = 3;

/// The service's own word that the failure is for now: worth another try.
pub(super) fn transient_code(code: &str) -> bool {
    matches!(code, "temporarily_unavailable" | "server_error")
}

fn is_transient<T: oauth2::ErrorResponse + 'static>(
    e: &RequestTokenError<HttpClientError<reqwest::Error>, T>,
    code: impl Fn(&T) -> String,
) -> bool {
    match e {
        RequestTokenError::Request(_) => true,
        RequestTokenError::ServerResponse(r) => transient_code(&code(r)),
        _ => false,
    }
}

/// The sign-in service said it is unavailable, attempt after attempt.
pub(super) fn unavailable(login_url: &str, text: &str) -> anyhow::Error {
    Error::failure(format!(
        "the sign-in service at {login_url} is unavailable for now ({text})"
    ))
    .hint("try again in a while; if it lasts, check the network and --login-url")
    .into()
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
            if let Some(blocked) = blocked_by_policy(r.error_description(), settings) {
                return blocked;
            }
            if transient_code(r.error().as_ref()) {
                return unavailable(login_url, &text);
            }
            let hint = match r.error() {
                BasicErrorResponseType::InvalidClient | BasicErrorResponseType::UnauthorizedClient => {
                    format!("check --client-id: the app must exist in the tenant and allow public client flows, or sign in with {}", browser_command(&settings.profile))
                }
                BasicErrorResponseType::InvalidScope => {
                    "check --scope and --tenant (personal accounts have no Sites.Read.All: use --tenant consumers)".to_string()
                }
                _ => "check --tenant and --client-id".to_string(),
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

/// `AADSTS53003` (Conditional Access blocked it: Microsoft-managed policies block the
/// device-code flow in tenants that do not use it) and `AADSTS50199` (the tenant wants a
/// confirmation the device-code flow cannot give): the device-code flow will not work
/// here, the browser flow may. Either may come at the start or at a poll.
fn blocked_by_policy(description: Option<&String>, settings: &Settings) -> Option<anyhow::Error> {
    let description = description?;
    let code = ["AADSTS53003", "AADSTS50199"]
        .into_iter()
        .find(|c| description.contains(c))?;
    Some(
        Error::auth(format!(
            "the sign-in service refused the device-code sign-in: a policy of the tenant blocks it ({code})"
        ))
        .hint(format!(
            "sign in with the browser instead: {} (over SSH, add --no-open)",
            browser_command(&settings.profile)
        ))
        .into(),
    )
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
            if let Some(blocked) = blocked_by_policy(r.error_description(), settings) {
                return blocked;
            }
            if transient_code(&code) {
                return unavailable(
                    base_str(&settings.login_url),
                    &describe_server_error(&code, r.error_description()),
                );
            }
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
pub(super) enum Waiting {
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
    pub(super) fn start(ui: &Term, deadline: Instant) -> Waiting {
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

    pub(super) fn finish(self) {
        if let Waiting::Spinner(bar) = self {
            bar.finish_and_clear();
        }
    }
}

/// Device-code sign-in: the token response, once a person has approved the code.
pub(super) async fn login(
    settings: &Settings,
    scopes: &[String],
    ui: &Term,
    http: &reqwest::Client,
) -> anyhow::Result<MsTokenResponse> {
    let client = oauth_client(&settings.login_url, &settings.tenant, &settings.client_id)?;
    tracing::info!(
        "starting device-code sign-in at {}/{} for scopes {}",
        base_str(&settings.login_url),
        settings.tenant,
        scopes.join(" ")
    );
    let mut backoff = Backoff::new(RETRY_FIRST, RETRY_MAX);
    let mut attempt = 1;
    let details: DeviceAuthorizationResponse<MsDeviceFields> = loop {
        let result = client
            .exchange_device_code()
            .add_scopes(scopes.iter().map(|s| Scope::new(s.clone())))
            .request_async(http)
            .await;
        match result {
            Err(e)
                if attempt < ATTEMPTS && is_transient(&e, |r| r.error().as_ref().to_string()) =>
            {
                let wait = backoff.next_delay();
                tracing::info!(
                    "the sign-in service did not start a sign-in for now; trying again in {} (attempt {} of {ATTEMPTS})",
                    human(wait),
                    attempt + 1
                );
                tokio::time::sleep(wait).await;
                attempt += 1;
            }
            result => break result.map_err(|e| device_code_error(e, settings))?,
        }
    };
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
    let mut backoff = Backoff::new(RETRY_FIRST, RETRY_MAX);
    let mut attempt = 1;
    let result = loop {
        let result = client
            .exchange_device_access_token(&details)
            .request_async(
                http,
                |wait| {
                    progress.waiting(wait);
                    tokio::time::sleep(wait)
                },
                None,
            )
            .await;
        // A failed poll does not spend the device code: poll again, while it lives.
        match result {
            Err(e)
                if attempt < ATTEMPTS
                    && Instant::now() + RETRY_MAX < deadline
                    && is_transient(&e, |r| r.error().as_ref().to_string()) =>
            {
                let wait = backoff.next_delay();
                tracing::info!(
                    "a sign-in poll failed for now; polling again in {} (attempt {} of {ATTEMPTS})",
                    human(wait),
                    attempt + 1
                );
                tokio::time::sleep(wait).await;
                attempt += 1;
            }
            result => break result,
        }
    };
    progress.finish();
    let response = result.map_err(|e| poll_error(e, settings))?;
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;

    use crate::tokens::oauth::expiry;

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

    #[test]
    fn a_policy_block_at_a_poll_names_the_browser_flow() {
        let settings = super::super::tests::settings();
        for (error, description) in [
            (
                DeviceCodeErrorResponseType::Basic(BasicErrorResponseType::InvalidGrant),
                "AADSTS53003: Access has been blocked by Conditional Access policies.\r\nTrace ID: x",
            ),
            (
                DeviceCodeErrorResponseType::Basic(BasicErrorResponseType::Extension(
                    "interaction_required".into(),
                )),
                "AADSTS50199: For security reasons, user confirmation is required for this request.",
            ),
        ] {
            let response =
                DeviceCodeErrorResponse::new(error, Some(description.to_string()), None);
            let e = poll_error(RequestTokenError::ServerResponse(response), &settings);
            let e = e.downcast_ref::<Error>().unwrap();
            assert_eq!(e.code, crate::error::Code::Auth);
            assert!(
                e.hint.as_deref().unwrap_or("").contains("`graphwatch login --browser`"),
                "{e:?}"
            );
        }
    }
}
