//! `/devicelogin`: the page a person opens from the device-code message, types the code
//! into, picks an account on and approves or declines. It stands in for
//! `https://microsoft.com/devicelogin` and its account picker in one step.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use super::{find_user, oauth::form, Scopes, User, USERS};
use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/devicelogin", get(show).post(submit))
}

/// Everything echoed into the page goes through here: the code field holds whatever was
/// typed, and the page must not become a way to inject markup.
pub(super) fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "body{font-family:'Segoe UI',system-ui,sans-serif;background:#f2f2f2;margin:0}\
main{max-width:440px;margin:8vh auto;background:#fff;padding:44px;box-shadow:0 2px 6px rgba(0,0,0,.2)}\
h1{font-size:24px;font-weight:600;margin:0 0 12px}label{display:block;margin:16px 0 6px}\
input[type=text]{width:100%;box-sizing:border-box;font-size:18px;padding:6px;letter-spacing:2px;text-transform:uppercase}\
fieldset{border:0;padding:0;margin:16px 0}legend{margin-bottom:6px}.account{display:block;margin:6px 0}\
button{font-size:15px;padding:6px 20px;margin-right:8px}.approve{background:#0067b8;color:#fff;border:1px solid #0067b8}\
.error{color:#e81123}.note{color:#666;font-size:12px;margin-top:28px}";

pub(super) fn page(status: StatusCode, title: &str, body: &str) -> Response {
    let html = format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<title>{title}</title><style>{STYLE}</style></head>\
<body><main>{body}<p class=\"note\">graphwatch emulator: a local stand-in for the Microsoft sign-in page.</p></main></body></html>",
        title = escape(title),
    );
    let mut response = (status, Html(html)).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn form_page(
    status: StatusCode,
    typed: &str,
    chosen: Option<User>,
    error: Option<&str>,
) -> Response {
    let chosen = chosen.unwrap_or(USERS[0]);
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
    let error = error
        .map(|e| format!("<p class=\"error\" role=\"alert\">{}</p>", escape(e)))
        .unwrap_or_default();
    let body = format!(
        "<h1>Enter code</h1><p>Enter the code displayed on your app or device.</p>{error}\
<form method=\"post\" action=\"/devicelogin\">\
<label for=\"user_code\">Code</label>\
<input type=\"text\" id=\"user_code\" name=\"user_code\" value=\"{typed}\" autocomplete=\"off\" autofocus required>\
<fieldset><legend>Sign in as</legend>{accounts}</fieldset>\
<button class=\"approve\" type=\"submit\" name=\"action\" value=\"approve\">Approve</button>\
<button type=\"submit\" name=\"action\" value=\"decline\">Decline</button>\
</form>",
        typed = escape(typed),
    );
    page(status, "Enter code", &body)
}

async fn show() -> Response {
    form_page(StatusCode::OK, "", None, None)
}

async fn submit(State(state): State<AppState>, body: Bytes) -> Response {
    let params = form(&body);
    let typed = params.get("user_code").map(String::as_str).unwrap_or("");
    let user_field = params.get("user").map(String::as_str).unwrap_or("");
    let user = if user_field.is_empty() {
        Some(USERS[0])
    } else {
        find_user(user_field)
    };
    let Some(user) = user else {
        return form_page(
            StatusCode::BAD_REQUEST,
            typed,
            None,
            Some("Choose one of the accounts below."),
        );
    };
    // Enter in the code field submits with the first button, so no action means approve.
    let decline = match params.get("action").map(String::as_str) {
        None | Some("approve") => false,
        Some("decline") => true,
        Some(_) => {
            return form_page(
                StatusCode::BAD_REQUEST,
                typed,
                Some(user),
                Some("Choose Approve or Decline."),
            )
        }
    };
    match state
        .identity
        .decide(typed, if decline { None } else { Some(user) })
    {
        Ok((client_id, scopes)) => {
            state.mark_dirty();
            let scope = Scopes::from_stored(&scopes).response_string();
            if decline {
                state.control.event(
                    "identity",
                    format!("device code declined at /devicelogin (client {client_id})"),
                );
                page(
                    StatusCode::OK,
                    "Sign-in declined",
                    "<h1>Sign-in declined</h1><p>You declined to sign in to graphwatch on your device. You may now close this window.</p>",
                )
            } else {
                state.control.event(
                    "identity",
                    format!(
                        "device code approved at /devicelogin by {} (client {client_id})",
                        user.upn
                    ),
                );
                page(
                    StatusCode::OK,
                    "Signed in",
                    &format!(
                        "<h1>graphwatch</h1><p>You have signed in to graphwatch on your device. You may now close this window.</p>\
<p>Signed in as {} ({}), with access to: {}.</p>",
                        escape(user.name),
                        escape(user.upn),
                        escape(&scope)
                    ),
                )
            }
        }
        Err(_) => form_page(
            StatusCode::BAD_REQUEST,
            typed,
            Some(user),
            Some("That code is not valid or has expired. Check the code and try again, or get a new code from your device."),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup() {
        assert_eq!(
            escape(r#"<a href="x">'&'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
    }
}
