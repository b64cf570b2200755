//! The authorization-code flow with PKCE, driven as a browser and a native app drive it:
//! the consent page, the loopback redirect, the code at the token endpoint.

use crate::common;

use std::collections::HashMap;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use graphwatch_emulator::{EmulatorArgs, Running};
use reqwest::StatusCode;
use serde_json::Value;
use sha2::Digest as _;

const CLIENT: &str = "14d82eec-204b-4c2f-b7e8-296a70dab67e";
const SCOPE: &str = "offline_access openid profile Files.Read Sites.Read.All";
const REDIRECT: &str = "http://localhost:53682";
const VERIFIER: &str = "a-verifier-of-at-least-forty-three-characters_0123456789";

fn challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(verifier.as_bytes()))
}

async fn emulator(tweak: impl FnOnce(&mut EmulatorArgs)) -> Running {
    common::start_with(tweak).await
}

/// A browser that does not follow redirects: the test looks at each `Location`.
fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// The authorize URL with `params` over the usual ones (an empty value drops one).
fn authorize_url(base: &str, params: &[(&str, &str)]) -> String {
    let challenge = challenge(VERIFIER);
    let mut all: Vec<(&str, &str)> = vec![
        ("client_id", CLIENT),
        ("response_type", "code"),
        ("redirect_uri", REDIRECT),
        ("scope", SCOPE),
        ("state", "st-123"),
        ("code_challenge", &challenge),
        ("code_challenge_method", "S256"),
    ];
    for (k, v) in params {
        all.retain(|(name, _)| name != k);
        if !v.is_empty() {
            all.push((k, v));
        }
    }
    let mut url = url::Url::parse(&format!("{base}/common/oauth2/v2.0/authorize")).unwrap();
    url.query_pairs_mut().extend_pairs(all);
    url.to_string()
}

/// The query of a redirect's `Location`, which must point at the loopback redirect URI.
fn location(response: &reqwest::Response) -> HashMap<String, String> {
    assert_eq!(response.status(), StatusCode::FOUND);
    let location = response.headers()["location"].to_str().unwrap();
    assert!(location.starts_with(REDIRECT), "{location}");
    url::Url::parse(location)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect()
}

/// The `flow` value of a consent page.
fn flow_of(html: &str) -> String {
    let at = html.find("name=\"flow\" value=\"").expect("a flow field") + 19;
    html[at..].split('"').next().unwrap().to_string()
}

async fn redeem(base: &str, code: &str, verifier: &str, redirect: &str) -> (StatusCode, Value) {
    let response = reqwest::Client::new()
        .post(format!("{base}/common/oauth2/v2.0/token"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("client_id", CLIENT),
            ("code", code),
            ("redirect_uri", redirect),
            ("code_verifier", verifier),
        ])
        .send()
        .await
        .unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

fn aadsts(body: &Value) -> u64 {
    body["error_codes"][0].as_u64().unwrap_or(0)
}

#[tokio::test]
async fn consent_page_approve_as_a_chosen_user_then_redeem_once() {
    let emu = emulator(|_| {}).await;
    let base = &emu.base_url;
    let page = browser()
        .get(authorize_url(base, &[]))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(html.contains("Megan Bowen"), "both users offered: {html}");
    assert!(html.contains("Files.Read"), "the scopes are listed");
    assert!(
        html.contains("localhost:53682"),
        "where the browser goes back"
    );
    let flow = flow_of(&html);

    let form = [
        ("flow", flow.as_str()),
        ("user", "megan@contoso.onmicrosoft.com"),
        ("action", "approve"),
    ];
    let answer = browser()
        .post(format!("{base}/common/oauth2/v2.0/authorize"))
        .form(&form)
        .send()
        .await
        .unwrap();
    let query = location(&answer);
    assert_eq!(query["state"], "st-123", "state echoed as sent");
    let code = query["code"].clone();
    // The page cannot be answered twice.
    let again = browser()
        .post(format!("{base}/common/oauth2/v2.0/authorize"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::BAD_REQUEST);

    let (status, body) = redeem(base, &code, VERIFIER, REDIRECT).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body["refresh_token"].is_string());
    let id_token = body["id_token"].as_str().unwrap();
    let claims: Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(id_token.split('.').nth(1).unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        claims["preferred_username"],
        "megan@contoso.onmicrosoft.com"
    );

    // Single use: the same code again is refused.
    let (status, body) = redeem(base, &code, VERIFIER, REDIRECT).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "invalid_grant");
    assert_eq!(aadsts(&body), 54005, "{body}");
    emu.shutdown().await;
}

#[tokio::test]
async fn decline_redirects_with_access_denied_and_the_state() {
    let emu = emulator(|_| {}).await;
    let base = &emu.base_url;
    let html = browser()
        .get(authorize_url(base, &[]))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let flow = flow_of(&html);
    let answer = browser()
        .post(format!("{base}/common/oauth2/v2.0/authorize"))
        .form(&[("flow", flow.as_str()), ("action", "decline")])
        .send()
        .await
        .unwrap();
    let query = location(&answer);
    assert_eq!(query["error"], "access_denied");
    assert!(query["error_description"].starts_with("AADSTS65004"));
    assert_eq!(query["state"], "st-123");
    assert!(!query.contains_key("code"));
    emu.shutdown().await;
}

#[tokio::test]
async fn pkce_is_verified_and_a_failed_attempt_spends_the_code() {
    let emu = emulator(|a| a.settings.authorize_auto_approve = true).await;
    let base = &emu.base_url;
    let code = |hint: &'static str| {
        let url = authorize_url(base, &[("login_hint", hint)]);
        async move {
            let response = browser().get(url).send().await.unwrap();
            location(&response)["code"].clone()
        }
    };
    let first = code("").await;
    let (status, body) = redeem(base, &first, &"x".repeat(43), REDIRECT).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "invalid_grant");
    assert_eq!(aadsts(&body), 501481, "{body}");
    let (_, body) = redeem(base, &first, VERIFIER, REDIRECT).await;
    assert_eq!(aadsts(&body), 54005, "spent by the wrong attempt: {body}");

    // The redirect URI must be the authorization request's.
    let second = code("megan@contoso.onmicrosoft.com").await;
    let (_, body) = redeem(base, &second, VERIFIER, "http://localhost:1").await;
    assert_eq!(body["error"], "invalid_grant", "{body}");

    // No verifier at all: a missing parameter, the code untouched.
    let third = code("").await;
    let response = reqwest::Client::new()
        .post(format!("{base}/common/oauth2/v2.0/token"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("client_id", CLIENT),
            ("code", &third),
            ("redirect_uri", REDIRECT),
        ])
        .send()
        .await
        .unwrap();
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "invalid_request", "{body}");
    let (status, body) = redeem(base, &third, VERIFIER, REDIRECT).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    emu.shutdown().await;
}

#[tokio::test]
async fn codes_are_short_lived() {
    let emu = emulator(|a| {
        a.settings.authorize_auto_approve = true;
        a.settings.auth_code_lifetime_secs = 0;
    })
    .await;
    let base = &emu.base_url;
    let response = browser()
        .get(authorize_url(base, &[]))
        .send()
        .await
        .unwrap();
    let code = location(&response)["code"].clone();
    let (_, body) = redeem(base, &code, VERIFIER, REDIRECT).await;
    assert_eq!(body["error"], "invalid_grant");
    assert_eq!(aadsts(&body), 70008, "{body}");
    emu.shutdown().await;
}

#[tokio::test]
async fn untrusted_redirects_get_an_escaped_error_page_and_no_redirect() {
    let emu = emulator(|a| a.settings.authorize_auto_approve = true).await;
    let base = &emu.base_url;
    for redirect in [
        "https://evil.example/<script>alert(1)</script>",
        "http://localhost.evil.example:1",
        "http://localhost:1/callback",
        "",
    ] {
        let response = browser()
            .get(authorize_url(base, &[("redirect_uri", redirect)]))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{redirect}");
        assert!(response.headers().get("location").is_none());
        let html = response.text().await.unwrap();
        assert!(!html.contains("<script>"), "escaped: {html}");
    }
    let response = browser()
        .get(authorize_url(base, &[("client_id", "not-a-guid")]))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    emu.shutdown().await;
}

#[tokio::test]
async fn other_errors_go_back_to_the_app_with_the_state() {
    let emu = emulator(|a| a.settings.authorize_auto_approve = true).await;
    let base = &emu.base_url;
    for (params, error) in [
        (&[("code_challenge", "")][..], "invalid_request"),
        (&[("code_challenge_method", "plain")][..], "invalid_request"),
        (&[("code_challenge_method", "")][..], "invalid_request"),
        (&[("code_challenge", "short")][..], "invalid_request"),
        (
            &[("response_type", "token")][..],
            "unsupported_response_type",
        ),
        (&[("scope", "Nope.Nothing")][..], "invalid_scope"),
    ] {
        let response = browser()
            .get(authorize_url(base, params))
            .send()
            .await
            .unwrap();
        let query = location(&response);
        assert_eq!(query["error"], error, "{params:?}");
        assert_eq!(query["state"], "st-123");
        assert!(!query.contains_key("code"));
    }
    emu.shutdown().await;
}

#[tokio::test]
async fn a_blocked_tenant_refuses_device_codes_with_aadsts53003() {
    let emu = emulator(|a| a.settings.device_code_blocked = true).await;
    let response = reqwest::Client::new()
        .post(format!("{}/common/oauth2/v2.0/devicecode", emu.base_url))
        .form(&[("client_id", CLIENT), ("scope", SCOPE)])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "invalid_request");
    assert_eq!(aadsts(&body), 53003);
    assert!(body["error_description"]
        .as_str()
        .unwrap()
        .starts_with("AADSTS53003: Access has been blocked by Conditional Access policies"));
    // The browser flow still works there.
    let response = browser()
        .get(authorize_url(&emu.base_url, &[]))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    emu.shutdown().await;
}

#[tokio::test]
async fn jwt_access_tokens_carry_their_expiry() {
    let emu = emulator(|_| {}).await;
    let body: Value = reqwest::Client::new()
        .post(format!("{}/_emulator/tokens", emu.base_url))
        .json(&serde_json::json!({"format": "jwt", "lifetimeSecs": 120}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = body["access_token"].as_str().unwrap();
    let claims: Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(token.split('.').nth(1).unwrap())
            .unwrap(),
    )
    .unwrap();
    let iat = claims["iat"].as_i64().unwrap();
    assert_eq!(claims["exp"].as_i64().unwrap() - iat, 120);
    let me = reqwest::Client::new()
        .get(format!("{}/v1.0/me", emu.base_url))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), StatusCode::OK, "Graph takes it");
    emu.shutdown().await;
}
