//! The identity platform stand-in, driven over HTTP as a device-code client and a person
//! at `/devicelogin` would drive it.

use crate::common;

use std::time::Duration;

use axum::http::{header, HeaderMap, HeaderValue};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use graphwatch_emulator::{seed, EmulatorArgs, Running};
use reqwest::StatusCode;
use serde_json::{json, Value};

const CLIENT: &str = "6731de76-14a6-49ae-97bc-6eba6914391e";
const SCOPE: &str = "offline_access openid profile https://graph.microsoft.com/Files.Read.All Sites.Read.All User.Read";
const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// Fast knobs: no polling interval unless a test is about it, codes that live a while.
async fn emulator(tweak: impl FnOnce(&mut EmulatorArgs)) -> Running {
    common::start_with(|args| {
        args.settings.device_code_interval_secs = 0;
        tweak(args);
    })
    .await
}

async fn post_form(url: &str, form: &[(&str, &str)]) -> (StatusCode, HeaderMap, Value) {
    let response = reqwest::Client::new()
        .post(url)
        .form(form)
        .send()
        .await
        .expect("request");
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.json().await.unwrap_or(Value::Null);
    (status, headers, body)
}

async fn devicecode(base: &str, scope: &str) -> Value {
    let (status, _, body) = post_form(
        &format!("{base}/common/oauth2/v2.0/devicecode"),
        &[("client_id", CLIENT), ("scope", scope)],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

async fn poll(base: &str, device_code: &str) -> (StatusCode, Value) {
    let (status, _, body) = post_form(
        &format!("{base}/common/oauth2/v2.0/token"),
        &[
            ("grant_type", DEVICE_GRANT),
            ("client_id", CLIENT),
            ("device_code", device_code),
        ],
    )
    .await;
    (status, body)
}

async fn refresh(base: &str, refresh_token: &str, scope: Option<&str>) -> (StatusCode, Value) {
    let mut form = vec![
        ("grant_type", "refresh_token"),
        ("client_id", CLIENT),
        ("refresh_token", refresh_token),
    ];
    if let Some(scope) = scope {
        form.push(("scope", scope));
    }
    let (status, _, body) = post_form(&format!("{base}/common/oauth2/v2.0/token"), &form).await;
    (status, body)
}

/// Poll until the code is granted (auto approval after one pending answer by default).
async fn sign_in(base: &str, scope: &str) -> Value {
    let code = devicecode(base, scope).await;
    let device_code = code["device_code"].as_str().unwrap();
    for _ in 0..10 {
        let (status, body) = poll(base, device_code).await;
        if status == StatusCode::OK {
            return body;
        }
        assert_eq!(body["error"], "authorization_pending", "{body}");
    }
    panic!("never granted");
}

fn error_code(body: &Value) -> u64 {
    body["error_codes"][0].as_u64().unwrap_or(0)
}

fn counter(stats: &Value, key: &str) -> u64 {
    stats["counters"][key].as_u64().unwrap_or(0)
}

fn str_of<'a>(body: &'a Value, key: &str) -> &'a str {
    body[key]
        .as_str()
        .unwrap_or_else(|| panic!("{key} in {body}"))
}

/// The user id Graph routes would see for this access token.
fn authenticate(running: &Running, access_token: &str) -> Result<String, (u16, String)> {
    let mut headers = HeaderMap::new();
    headers.insert(
        header::AUTHORIZATION,
        HeaderValue::from_str(&format!("Bearer {access_token}")).unwrap(),
    );
    running
        .state
        .identity
        .authenticate(&headers)
        .map_err(|e| (e.status.as_u16(), e.message))
}

fn jwt_part(jwt: &str, index: usize) -> Value {
    let part = jwt.split('.').nth(index).expect("JWT part");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).expect("base64url")).expect("JSON")
}

#[tokio::test]
async fn device_flow_with_automatic_approval_after_two_polls() {
    let running = emulator(|args| args.settings.approve_after_polls = 2).await;
    let base = &running.base_url;

    let (status, headers, code) = post_form(
        &format!("{base}/organizations/oauth2/v2.0/devicecode"),
        &[("client_id", CLIENT), ("scope", SCOPE)],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(headers[header::CACHE_CONTROL]
        .to_str()
        .unwrap()
        .contains("no-store"));
    let mut keys: Vec<&str> = code
        .as_object()
        .unwrap()
        .keys()
        .map(|k| k.as_str())
        .collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "device_code",
            "expires_in",
            "interval",
            "message",
            "user_code",
            "verification_uri"
        ]
    );
    let user_code = str_of(&code, "user_code");
    assert_eq!(user_code.len(), 9);
    assert!(user_code
        .chars()
        .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit()));
    let uri = format!("{base}/devicelogin");
    assert_eq!(code["verification_uri"], uri.as_str());
    assert_eq!(
        code["message"],
        format!("To sign in, use a web browser to open the page {uri} and enter the code {user_code} to authenticate.")
    );
    assert_eq!(code["expires_in"], 900);
    assert_eq!(code["interval"], 0);

    let device_code = str_of(&code, "device_code");
    for _ in 0..2 {
        let (status, body) = poll(base, device_code).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(body["error"], "authorization_pending");
        assert_eq!(error_code(&body), 70016);
        assert!(str_of(&body, "error_description").starts_with("AADSTS70016:"));
    }
    let (status, tokens) = poll(base, device_code).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    assert_eq!(tokens["token_type"], "Bearer");
    assert_eq!(tokens["expires_in"], 3600);
    assert_eq!(tokens["ext_expires_in"], 3600);
    assert_eq!(
        tokens["scope"],
        "Files.Read.All Sites.Read.All User.Read profile openid email"
    );
    let access = str_of(&tokens, "access_token");
    assert!(access.starts_with("EwB") && access.len() > 500);
    assert!(tokens["refresh_token"].is_string());
    assert!(tokens["id_token"].is_string());
    assert_eq!(authenticate(&running, access).unwrap(), seed::ADELE_ID);

    // A device code is good for one redemption.
    let (status, body) = poll(base, device_code).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "invalid_grant");

    let stats = common::stats(base).await;
    assert_eq!(counter(&stats, "grants.pending"), 2);
    assert_eq!(counter(&stats, "grants.device_code"), 1);
    assert_eq!(counter(&stats, "grants.failed"), 1);
    running.shutdown().await;
}

#[tokio::test]
async fn default_approval_is_after_one_pending_poll() {
    let running = emulator(|_| {}).await;
    let base = &running.base_url;
    let code = devicecode(base, SCOPE).await;
    let device_code = str_of(&code, "device_code");
    assert_eq!(
        poll(base, device_code).await.1["error"],
        "authorization_pending"
    );
    assert_eq!(poll(base, device_code).await.0, StatusCode::OK);
    running.shutdown().await;
}

#[tokio::test]
async fn manual_approval_through_the_html_page() {
    let running = emulator(|args| args.settings.approve_after_polls = 0).await;
    let base = &running.base_url;
    let code = devicecode(base, SCOPE).await;
    let device_code = str_of(&code, "device_code");
    let user_code = str_of(&code, "user_code");
    // Without a person, polling never succeeds.
    for _ in 0..3 {
        assert_eq!(
            poll(base, device_code).await.1["error"],
            "authorization_pending"
        );
    }

    let page = reqwest::get(format!("{base}/devicelogin")).await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert!(page.headers()[header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let html = page.text().await.unwrap();
    for needle in [
        "<form method=\"post\" action=\"/devicelogin\"",
        "name=\"user_code\"",
        seed::ADELE_NAME,
        seed::MEGAN_NAME,
        "value=\"approve\"",
        "value=\"decline\"",
    ] {
        assert!(html.contains(needle), "{needle} missing from {html}");
    }

    // Typed as a person might: lower case, with a dash.
    let typed = format!("{}-{}", &user_code[..4], &user_code[4..]).to_lowercase();
    let client = reqwest::Client::new();
    let answer = client
        .post(format!("{base}/devicelogin"))
        .form(&[
            ("user_code", typed.as_str()),
            ("user", seed::MEGAN_UPN),
            ("action", "approve"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::OK);
    let html = answer.text().await.unwrap();
    assert!(html.contains(
        "You have signed in to graphwatch on your device. You may now close this window."
    ));

    let (status, tokens) = poll(base, device_code).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    assert_eq!(
        authenticate(&running, str_of(&tokens, "access_token")).unwrap(),
        seed::MEGAN_ID
    );
    assert_eq!(
        jwt_part(str_of(&tokens, "id_token"), 1)["preferred_username"],
        seed::MEGAN_UPN
    );

    // The same code again is refused on the page.
    let again = client
        .post(format!("{base}/devicelogin"))
        .form(&[("user_code", user_code), ("action", "approve")])
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::BAD_REQUEST);
    assert!(again
        .text()
        .await
        .unwrap()
        .contains("That code is not valid or has expired"));
    running.shutdown().await;
}

#[tokio::test]
async fn manual_approval_through_the_control_route() {
    let running = emulator(|args| args.settings.approve_after_polls = 0).await;
    let base = &running.base_url;
    let code = devicecode(base, SCOPE).await;
    let device_code = str_of(&code, "device_code");
    let user_code = str_of(&code, "user_code");
    assert_eq!(
        poll(base, device_code).await.1["error"],
        "authorization_pending"
    );

    let pending = reqwest::get(format!("{base}/_emulator/identity/pending"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        !pending.contains(device_code),
        "device code leaked: {pending}"
    );
    let pending: Value = serde_json::from_str(&pending).unwrap();
    assert_eq!(pending["value"].as_array().unwrap().len(), 1);
    assert_eq!(pending["value"][0]["userCode"], user_code);
    assert_eq!(pending["value"][0]["clientId"], CLIENT);
    assert_eq!(pending["value"][0]["polls"], 1);

    let client = reqwest::Client::new();
    let approve = |body: Value| {
        client
            .post(format!("{base}/_emulator/identity/approve"))
            .json(&body)
            .send()
    };
    let response = approve(json!({"userCode": user_code, "user": "nobody@example.com"}))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let response = approve(json!({"userCode": user_code, "user": seed::MEGAN_ID}))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let answer: Value = response.json().await.unwrap();
    assert_eq!(answer["status"], "approved");
    assert_eq!(answer["user"], seed::MEGAN_UPN);

    let pending: Value = reqwest::get(format!("{base}/_emulator/identity/pending"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(pending["value"], json!([]));

    let (status, tokens) = poll(base, device_code).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        authenticate(&running, str_of(&tokens, "access_token")).unwrap(),
        seed::MEGAN_ID
    );
    let response = approve(json!({"userCode": user_code})).await.unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    running.shutdown().await;
}

#[tokio::test]
async fn declining_at_the_page_or_control_route_gives_authorization_declined() {
    let running = emulator(|args| args.settings.approve_after_polls = 1).await;
    let base = &running.base_url;

    let first = devicecode(base, SCOPE).await;
    let answer = reqwest::Client::new()
        .post(format!("{base}/devicelogin"))
        .form(&[
            ("user_code", str_of(&first, "user_code")),
            ("user", seed::ADELE_UPN),
            ("action", "decline"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::OK);
    assert!(answer.text().await.unwrap().contains("You declined"));
    // Declined wins over automatic approval, on every later poll.
    for _ in 0..3 {
        let (status, body) = poll(base, str_of(&first, "device_code")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(body["error"], "authorization_declined");
    }

    let second = devicecode(base, SCOPE).await;
    let response = reqwest::Client::new()
        .post(format!("{base}/_emulator/identity/approve"))
        .json(&json!({"userCode": str_of(&second, "user_code"), "decline": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.json::<Value>().await.unwrap()["status"],
        "declined"
    );
    let (_, body) = poll(base, str_of(&second, "device_code")).await;
    assert_eq!(body["error"], "authorization_declined");

    let stats = common::stats(base).await;
    assert_eq!(counter(&stats, "grants.declined"), 4);
    assert_eq!(counter(&stats, "grants.device_code"), 0);
    running.shutdown().await;
}

#[tokio::test]
async fn a_code_expires_after_its_lifetime() {
    let running = emulator(|args| {
        args.settings.approve_after_polls = 0;
        args.settings.device_code_lifetime_secs = 1;
    })
    .await;
    let base = &running.base_url;
    let code = devicecode(base, SCOPE).await;
    assert_eq!(code["expires_in"], 1);
    let device_code = str_of(&code, "device_code");
    assert_eq!(
        poll(base, device_code).await.1["error"],
        "authorization_pending"
    );
    tokio::time::sleep(Duration::from_millis(1100)).await;

    let (status, body) = poll(base, device_code).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "expired_token");
    assert_eq!(error_code(&body), 70020);

    let page = reqwest::Client::new()
        .post(format!("{base}/devicelogin"))
        .form(&[
            ("user_code", str_of(&code, "user_code")),
            ("action", "approve"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::BAD_REQUEST);
    assert!(page
        .text()
        .await
        .unwrap()
        .contains("not valid or has expired"));
    running.shutdown().await;
}

#[tokio::test]
async fn bad_requests_get_microsofts_errors() {
    let running = emulator(|_| {}).await;
    let base = &running.base_url;
    let token_url = format!("{base}/common/oauth2/v2.0/token");

    let (status, body) = poll(base, "DAQABAAEAAADnot-a-real-code").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "bad_verification_code");

    let (status, _, body) = post_form(
        &token_url,
        &[("grant_type", DEVICE_GRANT), ("client_id", CLIENT)],
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        (body["error"].as_str(), error_code(&body)),
        (Some("invalid_request"), 900144)
    );
    assert!(str_of(&body, "error_description").contains("'device_code'"));

    let (status, _, body) = post_form(
        &token_url,
        &[("grant_type", "password"), ("client_id", CLIENT)],
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "unsupported_grant_type");

    let (status, _, body) = post_form(
        &format!("{base}/common/oauth2/v2.0/devicecode"),
        &[("scope", SCOPE)],
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error_code(&body), 900144);
    assert!(str_of(&body, "error_description").contains("'client_id'"));

    let (status, _, body) = post_form(
        &format!("{base}/common/oauth2/v2.0/devicecode"),
        &[("client_id", CLIENT)],
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(str_of(&body, "error_description").contains("'scope'"));

    let (status, _, body) = post_form(
        &format!("{base}/fabrikam.onmicrosoft.com/oauth2/v2.0/devicecode"),
        &[("client_id", CLIENT), ("scope", SCOPE)],
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "invalid_request");
    assert_eq!(error_code(&body), 90002);
    assert!(str_of(&body, "error_description")
        .starts_with("AADSTS90002: Tenant 'fabrikam.onmicrosoft.com' not found."));

    for tenant in [seed::TENANT_ID, seed::TENANT_DOMAIN, "consumers"] {
        let (status, _, _) = post_form(
            &format!("{base}/{tenant}/oauth2/v2.0/devicecode"),
            &[("client_id", CLIENT), ("scope", SCOPE)],
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{tenant}");
    }

    // A public client presents no secret.
    let response = reqwest::Client::new()
        .post(&token_url)
        .basic_auth(CLIENT, Some("hunter2"))
        .form(&[("grant_type", "refresh_token"), ("refresh_token", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        response.json::<Value>().await.unwrap()["error"],
        "invalid_client"
    );
    running.shutdown().await;
}

#[tokio::test]
async fn polling_faster_than_the_interval_gets_slow_down_and_a_longer_interval() {
    let running = emulator(|args| {
        args.settings.approve_after_polls = 0;
        args.settings.device_code_interval_secs = 1;
    })
    .await;
    let base = &running.base_url;
    let code = devicecode(base, SCOPE).await;
    assert_eq!(code["interval"], 1);
    let device_code = str_of(&code, "device_code");

    // The first poll may come at once; one a full interval later is fine.
    assert_eq!(
        poll(base, device_code).await.1["error"],
        "authorization_pending"
    );
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert_eq!(
        poll(base, device_code).await.1["error"],
        "authorization_pending"
    );

    let (status, body) = poll(base, device_code).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "slow_down");
    let pending: Value = reqwest::get(format!("{base}/_emulator/identity/pending"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(pending["value"][0]["interval"], 6);

    // The old interval is no longer enough.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(poll(base, device_code).await.1["error"], "slow_down");

    let stats = common::stats(base).await;
    assert_eq!(counter(&stats, "grants.slow_down"), 2);
    assert_eq!(counter(&stats, "grants.pending"), 2);
    running.shutdown().await;
}

#[tokio::test]
async fn refresh_tokens_rotate_and_a_used_one_is_refused() {
    let running = emulator(|_| {}).await;
    let base = &running.base_url;
    let first = sign_in(base, SCOPE).await;
    let rt1 = str_of(&first, "refresh_token");

    let (status, second) = refresh(base, rt1, None).await;
    assert_eq!(status, StatusCode::OK, "{second}");
    let rt2 = str_of(&second, "refresh_token");
    assert_ne!(rt1, rt2);
    assert_ne!(first["access_token"], second["access_token"]);
    assert_eq!(second["scope"], first["scope"]);
    assert!(second["id_token"].is_string());
    assert_eq!(
        authenticate(&running, str_of(&second, "access_token")).unwrap(),
        seed::ADELE_ID
    );

    // A client that did not store the rotated token fails its next refresh.
    let (status, body) = refresh(base, rt1, None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "invalid_grant");
    assert_eq!(error_code(&body), 70008);

    // The new one works, with a narrower scope, and sent with HTTP Basic client auth.
    let response = reqwest::Client::new()
        .post(format!("{base}/common/oauth2/v2.0/token"))
        .basic_auth(CLIENT, None::<&str>)
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", rt2),
            ("scope", "Files.Read.All offline_access"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let third: Value = response.json().await.unwrap();
    assert_eq!(third["scope"], "Files.Read.All");
    let rt3 = str_of(&third, "refresh_token");

    // The rotated token still carries the whole grant; a scope never granted is refused.
    let (status, fourth) = refresh(base, rt3, Some("Sites.Read.All")).await;
    assert_eq!(status, StatusCode::OK, "{fourth}");
    let (status, body) = refresh(
        base,
        str_of(&fourth, "refresh_token"),
        Some("Files.ReadWrite.All"),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        (body["error"].as_str(), error_code(&body)),
        (Some("invalid_grant"), 70000)
    );

    let (status, body) = refresh(base, "0.AXnot-a-token", None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "invalid_grant");

    let stats = common::stats(base).await;
    assert_eq!(counter(&stats, "grants.refresh_token"), 3);
    running.shutdown().await;
}

#[tokio::test]
async fn revoking_sessions_refuses_refresh_and_access_tokens() {
    let running = emulator(|_| {}).await;
    let base = &running.base_url;
    let signed_in = sign_in(base, SCOPE).await;
    let access = str_of(&signed_in, "access_token");
    assert!(authenticate(&running, access).is_ok());

    let answer: Value = reqwest::Client::new()
        .post(format!("{base}/_emulator/identity/revoke"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(answer["revokedRefreshTokens"], 1);
    assert_eq!(answer["revokedAccessTokens"], 1);

    let (status, body) = refresh(base, str_of(&signed_in, "refresh_token"), None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "invalid_grant");
    assert_eq!(error_code(&body), 50173);
    let (code, message) = authenticate(&running, access).unwrap_err();
    assert_eq!(code, 401);
    assert!(message.contains("TokenIssuedBeforeRevocationTimestamp"));

    // Signing in again works.
    let again = sign_in(base, SCOPE).await;
    assert!(authenticate(&running, str_of(&again, "access_token")).is_ok());
    running.shutdown().await;
}

#[tokio::test]
async fn access_tokens_expire_by_lifetime_or_on_demand() {
    let running = emulator(|args| args.settings.token_lifetime_secs = 1).await;
    let base = &running.base_url;
    let short = sign_in(base, SCOPE).await;
    assert_eq!(short["expires_in"], 1);
    let access = str_of(&short, "access_token");
    assert!(authenticate(&running, access).is_ok());
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(
        authenticate(&running, access).unwrap_err(),
        (
            401,
            "Lifetime validation failed, the token is expired.".to_string()
        )
    );

    // Minted with a long lifetime, expired on demand; the refresh token still works.
    let response = reqwest::Client::new()
        .post(format!("{base}/_emulator/tokens"))
        .json(&json!({"user": seed::MEGAN_UPN, "lifetimeSecs": 3600, "clientId": CLIENT}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let minted: Value = response.json().await.unwrap();
    assert_eq!(minted["expires_in"], 3600);
    let access = str_of(&minted, "access_token");
    assert_eq!(authenticate(&running, access).unwrap(), seed::MEGAN_ID);
    let answer: Value = reqwest::Client::new()
        .post(format!("{base}/_emulator/identity/expire-access-tokens"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(answer["expiredAccessTokens"], 1);
    assert_eq!(authenticate(&running, access).unwrap_err().0, 401);
    let (status, renewed) = refresh(base, str_of(&minted, "refresh_token"), None).await;
    assert_eq!(status, StatusCode::OK, "{renewed}");
    assert_eq!(
        authenticate(&running, str_of(&renewed, "access_token")).unwrap(),
        seed::MEGAN_ID
    );
    running.shutdown().await;
}

#[tokio::test]
async fn id_token_is_a_jwt_with_the_signed_in_users_claims() {
    let running = emulator(|_| {}).await;
    let base = &running.base_url;
    let tokens = sign_in(base, SCOPE).await;
    let id_token = str_of(&tokens, "id_token");
    assert_eq!(id_token.split('.').count(), 3);
    assert_eq!(jwt_part(id_token, 0)["typ"], "JWT");
    let claims = jwt_part(id_token, 1);
    assert_eq!(claims["tid"], seed::TENANT_ID);
    assert_eq!(claims["oid"], seed::ADELE_ID);
    assert_eq!(claims["preferred_username"], seed::ADELE_UPN);
    assert_eq!(claims["name"], seed::ADELE_NAME);
    assert_eq!(claims["aud"], CLIENT);
    assert_eq!(claims["iss"], format!("{base}/{}/v2.0", seed::TENANT_ID));
    let (iat, exp) = (
        claims["iat"].as_i64().unwrap(),
        claims["exp"].as_i64().unwrap(),
    );
    assert!(exp > iat && (iat - chrono::Utc::now().timestamp()).abs() < 60);

    // No openid: no id_token; no offline_access: no refresh token.
    let bare = sign_in(base, "Files.Read.All").await;
    assert!(bare.get("id_token").is_none() && bare.get("refresh_token").is_none());
    assert!(bare["access_token"].is_string());
    running.shutdown().await;
}

#[tokio::test]
async fn the_page_escapes_what_it_echoes() {
    let running = emulator(|_| {}).await;
    let base = &running.base_url;
    let hostile = "<script>alert(\"x\")</script>";
    let answer = reqwest::Client::new()
        .post(format!("{base}/devicelogin"))
        .form(&[("user_code", hostile), ("action", "approve")])
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::BAD_REQUEST);
    let html = answer.text().await.unwrap();
    assert!(html.contains("That code is not valid or has expired"));
    assert!(html.contains("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;"));
    assert!(!html.contains("<script>"));
    running.shutdown().await;
}

#[tokio::test]
async fn the_control_log_holds_no_tokens_or_device_codes() {
    let running = emulator(|_| {}).await;
    let base = &running.base_url;
    let code = devicecode(base, SCOPE).await;
    let device_code = str_of(&code, "device_code");
    poll(base, device_code).await;
    let (_, tokens) = poll(base, device_code).await;
    let (_, refreshed) = refresh(base, str_of(&tokens, "refresh_token"), None).await;
    let minted = common::token(base, seed::MEGAN_UPN).await;

    let log = reqwest::get(format!("{base}/_emulator/log"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        log.contains("\"identity\""),
        "identity events are logged: {log}"
    );
    assert!(log.contains("device code redeemed"));
    let secrets = [
        device_code,
        str_of(&code, "user_code"),
        str_of(&tokens, "access_token"),
        str_of(&tokens, "refresh_token"),
        str_of(&tokens, "id_token"),
        str_of(&refreshed, "access_token"),
        str_of(&refreshed, "refresh_token"),
        minted.as_str(),
    ];
    for secret in secrets {
        assert!(!log.contains(secret), "a secret is in the log");
    }
    running.shutdown().await;
}

#[tokio::test]
async fn control_mint_answers_like_the_token_endpoint() {
    let running = emulator(|_| {}).await;
    let base = &running.base_url;
    let access = common::token(base, seed::MEGAN_ID).await;
    assert_eq!(authenticate(&running, &access).unwrap(), seed::MEGAN_ID);

    let response = reqwest::Client::new()
        .post(format!("{base}/_emulator/tokens"))
        .json(&json!({"user": "ADELE@contoso.onmicrosoft.com", "scopes": "Files.Read"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["scope"], "Files.Read");
    assert!(body.get("refresh_token").is_none());
    assert_eq!(
        authenticate(&running, str_of(&body, "access_token")).unwrap(),
        seed::ADELE_ID
    );

    let response = reqwest::Client::new()
        .post(format!("{base}/_emulator/tokens"))
        .json(&json!({"user": "nobody@contoso.onmicrosoft.com"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    running.shutdown().await;
}

#[tokio::test]
async fn tokens_survive_a_restart_with_persist() {
    let path =
        std::env::temp_dir().join(format!("graphwatch-identity-{}.json", uuid::Uuid::new_v4()));
    let persist = path.clone();
    let running = emulator(move |args| args.persist = Some(persist)).await;
    let tokens = sign_in(&running.base_url, SCOPE).await;
    running.shutdown().await;

    let persist = path.clone();
    let restarted = emulator(move |args| args.persist = Some(persist)).await;
    assert_eq!(
        authenticate(&restarted, str_of(&tokens, "access_token")).unwrap(),
        seed::ADELE_ID
    );
    let (status, _) = refresh(&restarted.base_url, str_of(&tokens, "refresh_token"), None).await;
    assert_eq!(status, StatusCode::OK);
    restarted.shutdown().await;
    let _ = std::fs::remove_file(&path);
}
