//! The Microsoft Graph client: one `reqwest` client, the bearer token from a
//! [`TokenSource`], retries where Graph asks for them, and errors that callers can
//! tell apart (403 vs 404 vs 410) without parsing text ([`GraphError`]).
//!
//! Secrets ride in URLs here: delta links and notification URLs carry tokens in their
//! query strings. So nothing in this module logs or reports a query value; requests are
//! described as `METHOD /path?name=…` relative to the Graph base.

use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use serde_json::Value;
use url::Url;

mod error;

pub use error::{parse_error_body, GraphError};

use crate::tokens::TokenSource;
use crate::util::backoff::Backoff;
use crate::util::duration::human;
pub use crate::util::duration::parse_retry_after;
use crate::util::redact::{describe, redact_link};
use crate::util::text::error_text;
use crate::util::url::{base_str, same_origin};

/// Attempts per request for throttling (429/503), other 5xx and connection failures.
const MAX_ATTEMPTS: u32 = 5;
/// Longest `Retry-After` the client waits out by itself; Graph normally asks for
/// seconds. A longer one is not cut short (retrying before it elapsed is what gets a
/// client throttled harder): the request fails with the wait in
/// [`GraphError::retry_after`] and the caller decides (the delta feed waits it out before
/// its next request; a one-off command reports it).
const MAX_RETRY_AFTER: Duration = Duration::from_secs(120);
/// First backoff for errors without `Retry-After`; doubles per attempt.
const FIRST_BACKOFF: Duration = Duration::from_millis(500);
const MAX_BACKOFF: Duration = Duration::from_secs(30);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);
/// Requests of one process in flight at once, whatever the number of targets: 500
/// targets starting, or a rescan of every followed site, queue here instead of opening
/// 500 connections and being throttled by Graph as one burst (docs/scale.md, "Pacing").
pub(crate) const MAX_IN_FLIGHT: usize = 16;
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// What a request carries.
#[derive(Clone, Copy)]
enum Body<'a> {
    Empty,
    Json(&'a Value),
    /// Raw content and its `Content-Type`.
    Bytes(&'a [u8], &'a str),
}

/// Authenticated access to one Graph base URL. Cheap to clone.
#[derive(Clone)]
pub struct GraphClient {
    http: reqwest::Client,
    /// e.g. `https://graph.microsoft.com/v1.0`; its path never ends with `/`.
    base: Url,
    tokens: TokenSource,
    /// Longest `Retry-After` waited out inside a request (see [`MAX_RETRY_AFTER`]).
    max_retry_after: Duration,
    /// Shared by every clone: one process's requests, paced together.
    pace: std::sync::Arc<Pace>,
}

/// What every request of a process shares: at most [`MAX_IN_FLIGHT`] in flight, and a
/// hold when Graph throttled one of them. Graph throttles per app and tenant (and per
/// user), not per request: after a 429 with `Retry-After`, every other request would
/// get one too, so all of them wait it out, not only the one that was told.
struct Pace {
    in_flight: tokio::sync::Semaphore,
    /// Until when Graph asked to be left alone.
    hold: std::sync::Mutex<Option<tokio::time::Instant>>,
}

impl Pace {
    fn new() -> Pace {
        Pace {
            in_flight: tokio::sync::Semaphore::new(MAX_IN_FLIGHT),
            hold: std::sync::Mutex::new(None),
        }
    }

    /// Wait out a hold, then take a place among the requests in flight.
    async fn admit(&self) -> tokio::sync::SemaphorePermit<'_> {
        loop {
            let until = *self.hold.lock().unwrap_or_else(|e| e.into_inner());
            match until {
                Some(at) if at > tokio::time::Instant::now() => tokio::time::sleep_until(at).await,
                _ => break,
            }
        }
        // The semaphore is never closed.
        self.in_flight
            .acquire()
            .await
            .expect("the request semaphore is never closed")
    }

    /// Graph asked for `wait`: hold every request until then (a later end wins).
    fn hold_for(&self, wait: Duration) {
        let Some(at) = tokio::time::Instant::now().checked_add(wait) else {
            return;
        };
        let mut hold = self.hold.lock().unwrap_or_else(|e| e.into_inner());
        if hold.is_none_or(|h| h < at) {
            *hold = Some(at);
        }
    }
}

/// The HTTP client every part of graphwatch uses: rustls, timeouts, our user agent.
/// Redirects are not followed: neither Graph's JSON API nor the token endpoint
/// redirects, and a redirect would carry a bearer token or a form with secrets away.
pub fn http_client() -> anyhow::Result<reqwest::Client> {
    reqwest::Client::builder()
        // rustls, as Cargo.toml asks. Said explicitly since a dependency once enabled
        // reqwest's native-tls too, which reqwest then preferred: its set-up parsed the
        // system's CA bundle with OpenSSL — about 100 ms of CPU and a few MiB that every
        // start paid (docs/performance.md). rustls' roots are compiled in.
        .use_rustls_tls()
        .user_agent(concat!("graphwatch/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(CONNECT_TIMEOUT)
        .timeout(REQUEST_TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| anyhow::anyhow!("cannot set up the HTTP client: {e}"))
}

impl GraphClient {
    pub fn new(http: reqwest::Client, base: Url, tokens: TokenSource) -> Self {
        GraphClient {
            http,
            base,
            tokens,
            max_retry_after: MAX_RETRY_AFTER,
            pace: std::sync::Arc::new(Pace::new()),
        }
    }

    /// Wait out a `Retry-After` inside a request only up to `cap`; a longer one fails
    /// the request with [`GraphError::retry_after`] set. (Tests use a short cap.)
    pub fn with_max_retry_after(mut self, cap: Duration) -> Self {
        self.max_retry_after = cap;
        self
    }

    pub fn base(&self) -> &Url {
        &self.base
    }

    /// `GET {base}{path}` and decode the JSON answer. `path` starts with `/` and has its
    /// segments percent-encoded already (see [`segment`]).
    pub async fn get_json<T: DeserializeOwned>(&self, path: &str) -> Result<T, GraphError> {
        let url = self.url_for(path)?;
        self.get_json_at(url).await
    }

    /// As [`GraphClient::get_json`], with the answer's `Date` header (`None` if it has
    /// none or it does not parse): the service's own clock when it answered, to time
    /// what it hands out (a subscription's `expirationDateTime`) by its clock rather
    /// than by ours, which may be off.
    pub async fn get_json_dated<T: DeserializeOwned>(
        &self,
        path: &str,
    ) -> Result<(T, Option<DateTime<Utc>>), GraphError> {
        let url = self.url_for(path)?;
        let request = describe(&Method::GET, &url, &self.base);
        let response = self.execute(Method::GET, url, Body::Empty).await?;
        let date = response
            .headers()
            .get(reqwest::header::DATE)
            .and_then(|v| v.to_str().ok())
            .and_then(parse_http_date);
        let bytes = read_body(response, &request).await?;
        let value = serde_json::from_slice(&bytes)
            .map_err(|source| GraphError::Decode { request, source })?;
        Ok((value, date))
    }

    /// `GET` an absolute link that Graph handed out (`@odata.nextLink`,
    /// `@odata.deltaLink`, a 410's `Location`). It must be on the Graph host: the
    /// bearer token goes with it.
    pub async fn get_json_url<T: DeserializeOwned>(&self, link: &str) -> Result<T, GraphError> {
        let url = Url::parse(link)
            .ok()
            .filter(|u| same_origin(u, &self.base))
            .ok_or_else(|| GraphError::ForeignLink(redact_link(link)))?;
        self.get_json_at(url).await
    }

    /// Any method with an optional JSON body; the decoded answer, or `Value::Null`
    /// for an empty one (204).
    pub async fn send_json(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Value, GraphError> {
        self.send(method, path, body.map(Body::Json).unwrap_or(Body::Empty))
            .await
    }

    /// `PUT` raw content (a file upload, `…:/content`); the decoded answer.
    pub async fn put_content(
        &self,
        path: &str,
        content: &[u8],
        content_type: &str,
    ) -> Result<Value, GraphError> {
        self.send(Method::PUT, path, Body::Bytes(content, content_type))
            .await
    }

    async fn send(&self, method: Method, path: &str, body: Body<'_>) -> Result<Value, GraphError> {
        let url = self.url_for(path)?;
        let request = describe(&method, &url, &self.base);
        let response = self.execute(method, url, body).await?;
        let bytes = read_body(response, &request).await?;
        if bytes.is_empty() {
            return Ok(Value::Null);
        }
        serde_json::from_slice(&bytes).map_err(|source| GraphError::Decode { request, source })
    }

    async fn get_json_at<T: DeserializeOwned>(&self, url: Url) -> Result<T, GraphError> {
        let request = describe(&Method::GET, &url, &self.base);
        let response = self.execute(Method::GET, url, Body::Empty).await?;
        let bytes = read_body(response, &request).await?;
        serde_json::from_slice(&bytes).map_err(|source| GraphError::Decode { request, source })
    }

    /// `{base}{path}`, refusing anything that would leave the base (e.g. `..`).
    fn url_for(&self, path: &str) -> Result<Url, GraphError> {
        let joined = format!("{}{}", base_str(&self.base), path);
        let url = Url::parse(&joined).map_err(|_| GraphError::ForeignLink(redact_link(path)))?;
        let base_path = self.base.path().trim_end_matches('/');
        let inside = same_origin(&url, &self.base)
            && url.path().starts_with(base_path)
            && url.path()[base_path.len()..].starts_with('/');
        if inside {
            Ok(url)
        } else {
            Err(GraphError::ForeignLink(redact_link(path)))
        }
    }

    /// Send with the bearer token; retry throttling, 5xx and connection failures with
    /// bounded backoff; on 401 refresh the token once and try again.
    async fn execute(
        &self,
        method: Method,
        url: Url,
        body: Body<'_>,
    ) -> Result<reqwest::Response, GraphError> {
        let request = describe(&method, &url, &self.base);
        let mut token = self
            .tokens
            .access_token()
            .await
            .map_err(GraphError::Token)?;
        let mut refreshed = false;
        let mut attempt = 1;
        let mut backoff = Backoff::new(FIRST_BACKOFF, MAX_BACKOFF);
        loop {
            tracing::debug!("{request}");
            let permit = self.pace.admit().await;
            let started = std::time::Instant::now();
            let mut builder = self
                .http
                .request(method.clone(), url.clone())
                .bearer_auth(token.expose())
                .header(reqwest::header::ACCEPT, "application/json");
            match body {
                Body::Empty => {}
                Body::Json(value) => builder = builder.json(value),
                Body::Bytes(bytes, content_type) => {
                    builder = builder
                        .header(reqwest::header::CONTENT_TYPE, content_type)
                        .body(bytes.to_vec())
                }
            }
            let sent = builder.send().await;
            drop(permit);
            let response = match sent {
                Ok(response) => response,
                Err(e) => {
                    // A request that never reached the server is safe to repeat;
                    // one that may have been processed only if it is idempotent.
                    let retry = e.is_connect() || (e.is_timeout() && is_idempotent(&method));
                    if retry && attempt < MAX_ATTEMPTS {
                        let wait = backoff.next_delay();
                        tracing::info!(
                            "{request} failed ({}); retrying in {} (attempt {} of {MAX_ATTEMPTS})",
                            error_text(&e),
                            human(wait),
                            attempt + 1
                        );
                        tokio::time::sleep(wait).await;
                        attempt += 1;
                        continue;
                    }
                    return Err(GraphError::Transport {
                        request,
                        source: e.without_url(),
                    });
                }
            };
            let status = response.status();
            tracing::debug!(
                "{request} → {} in {} ms",
                status.as_u16(),
                started.elapsed().as_millis()
            );
            if status.is_success() {
                return Ok(response);
            }
            if status == StatusCode::UNAUTHORIZED && !refreshed && self.tokens.can_refresh() {
                refreshed = true;
                tracing::info!("{request} → 401; getting a new access token and trying once more");
                token = self
                    .tokens
                    .refresh_after_rejection(&token)
                    .await
                    .map_err(GraphError::Token)?;
                continue;
            }
            let retry_after = retry_after(response.headers());
            let throttled = status == StatusCode::TOO_MANY_REQUESTS
                || status == StatusCode::SERVICE_UNAVAILABLE;
            // A Retry-After beyond the cap is not shortened: the error carries it.
            let too_long = retry_after.is_some_and(|wait| wait > self.max_retry_after);
            if let (true, Some(wait)) = (throttled, retry_after) {
                // The others hold for at most what one request waits out by itself: a
                // day-long `Retry-After` (or a hostile one) must not freeze every target;
                // the request that got it carries it to its caller.
                self.pace.hold_for(wait.min(self.max_retry_after));
            }
            if (throttled || status.is_server_error()) && attempt < MAX_ATTEMPTS && !too_long {
                // The backoff steps on either way: the attempt counts.
                let wait = backoff.next_delay();
                let wait = retry_after.unwrap_or(wait);
                tracing::info!(
                    "{request} → {}; retrying in {} (attempt {} of {MAX_ATTEMPTS})",
                    status.as_u16(),
                    human(wait),
                    attempt + 1
                );
                // Read the body so the connection can be reused (a bounded amount).
                let _ = read_at_most(response, MAX_ERROR_BODY_BYTES).await;
                tokio::time::sleep(wait).await;
                attempt += 1;
                continue;
            }
            let err = GraphError::from_response(request, response).await;
            if status == StatusCode::UNAUTHORIZED {
                return Err(GraphError::Token(self.tokens.refused(&err.summary())));
            }
            return Err(err);
        }
    }
}

impl GraphError {
    async fn from_response(request: String, response: reqwest::Response) -> GraphError {
        let status = response.status();
        let retry_after = retry_after(response.headers());
        let location = response
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        // An error body over the limit is not read further; the status says enough.
        let body = match read_at_most(response, MAX_ERROR_BODY_BYTES).await {
            Ok(Some(body)) => body,
            _ => Vec::new(),
        };
        let (code, message) = parse_error_body(&body).unwrap_or_else(|| {
            (
                status
                    .canonical_reason()
                    .unwrap_or("error")
                    .replace(' ', ""),
                "no error details".to_string(),
            )
        });
        GraphError::Status {
            request,
            status: status.as_u16(),
            code,
            message,
            retry_after,
            location,
        }
    }
}

/// The largest answer read from Graph, in bytes. A delta page of 200 items is well
/// under a megabyte; a larger answer is refused as it arrives (never read whole), as a
/// decode error (retried like one), so a hostile or broken server cannot make
/// graphwatch buffer gigabytes.
pub const MAX_BODY_BYTES: usize = 16 << 20;
/// The most read of an error answer (only `error.code` and `error.message` are used).
const MAX_ERROR_BODY_BYTES: usize = 64 << 10;

/// The whole body, if it is within [`MAX_BODY_BYTES`].
async fn read_body(response: reqwest::Response, request: &str) -> Result<Vec<u8>, GraphError> {
    match read_at_most(response, MAX_BODY_BYTES).await {
        Ok(Some(body)) => Ok(body),
        Ok(None) => Err(GraphError::Decode {
            request: request.to_string(),
            source: serde::de::Error::custom(format!(
                "the answer is larger than {} MiB",
                MAX_BODY_BYTES >> 20
            )),
        }),
        Err(e) => Err(GraphError::Transport {
            request: request.to_string(),
            source: e.without_url(),
        }),
    }
}

/// The body chunk by chunk; `None` as soon as it is known to exceed `limit` (from
/// `Content-Length`, or once more than `limit` bytes have arrived).
async fn read_at_most(
    mut response: reqwest::Response,
    limit: usize,
) -> Result<Option<Vec<u8>>, reqwest::Error> {
    if response.content_length().is_some_and(|n| n > limit as u64) {
        return Ok(None);
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        if body.len() + chunk.len() > limit {
            return Ok(None);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Some(body))
}

/// `Retry-After` in seconds, at most a day ([`parse_retry_after`]).
fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    parse_retry_after(headers.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?)
}

/// An HTTP `Date` (IMF-fixdate, `Sun, 06 Nov 1994 08:49:37 GMT`, which RFC 2822
/// also reads).
fn parse_http_date(value: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc2822(value.trim())
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

fn is_idempotent(method: &Method) -> bool {
    matches!(
        *method,
        Method::GET | Method::HEAD | Method::PUT | Method::DELETE | Method::OPTIONS
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::util::url::segment;

    /// A throttled request holds every other one until its `Retry-After` ends, and no
    /// more than `MAX_IN_FLIGHT` are in flight at once.
    #[tokio::test(start_paused = true)]
    async fn one_retry_after_holds_every_request_and_the_flight_is_bounded() {
        let pace = Pace::new();
        let start = tokio::time::Instant::now();
        pace.hold_for(Duration::from_secs(3));
        // A shorter hold later does not cut the longer one short.
        pace.hold_for(Duration::from_secs(1));
        let permit = pace.admit().await;
        assert_eq!(start.elapsed(), Duration::from_secs(3));
        drop(permit);

        let permits: Vec<_> =
            futures_util::future::join_all((0..MAX_IN_FLIGHT).map(|_| pace.admit())).await;
        let waiting = tokio::time::timeout(Duration::from_secs(60), pace.admit()).await;
        assert!(waiting.is_err(), "a request beyond {MAX_IN_FLIGHT} waits");
        drop(permits);
        let _admitted = pace.admit().await;
    }

    fn client(base: &str) -> GraphClient {
        GraphClient::new(
            http_client().unwrap(),
            crate::settings::validate_url("--graph-url", base).unwrap(),
            TokenSource::fixed(crate::settings::Secret::new("t")),
        )
    }

    #[test]
    fn paths_join_under_the_base() {
        let c = client("https://graph.microsoft.com/v1.0/");
        assert_eq!(
            c.url_for("/me/drive").unwrap().as_str(),
            "https://graph.microsoft.com/v1.0/me/drive"
        );
        assert_eq!(
            c.url_for(&format!("/users/{}/drive", segment("a b/c?d#e%")))
                .unwrap()
                .as_str(),
            "https://graph.microsoft.com/v1.0/users/a%20b%2Fc%3Fd%23e%25/drive"
        );
        assert!(c.url_for("/../beta/me").is_err());
        assert!(c.url_for("@evil.example/x").is_err());
        let root = client("http://127.0.0.1:9");
        assert_eq!(
            root.url_for("/me").unwrap().as_str(),
            "http://127.0.0.1:9/me"
        );
    }

    #[test]
    fn links_must_stay_on_the_graph_host() {
        let c = client("https://graph.microsoft.com/v1.0");
        let base = c.base().clone();
        assert!(same_origin(
            &Url::parse("https://graph.microsoft.com/v1.0/drives/x/root/delta?token=abc").unwrap(),
            &base
        ));
        assert!(!same_origin(
            &Url::parse("https://evil.example/v1.0/drives").unwrap(),
            &base
        ));
        assert!(!same_origin(
            &Url::parse("http://graph.microsoft.com/v1.0/drives").unwrap(),
            &base
        ));
    }

    #[test]
    fn descriptions_never_carry_query_values() {
        let base = Url::parse("https://graph.microsoft.com/v1.0").unwrap();
        let url = Url::parse(
            "https://graph.microsoft.com/v1.0/drives/b!x/root/delta?token=SECRET&$top=5",
        )
        .unwrap();
        let text = describe(&Method::GET, &url, &base);
        assert_eq!(text, "GET /drives/b!x/root/delta?token=…&$top=…");
        assert_eq!(
            redact_link("https://h/notifications?token=SECRET"),
            "https://h/notifications?token=…"
        );
    }

    #[test]
    fn graph_error_bodies_become_code_and_message() {
        let body =
            br#"{"error":{"code":"itemNotFound","message":"The resource\ncould not be found."}}"#;
        assert_eq!(
            parse_error_body(body),
            Some((
                "itemNotFound".to_string(),
                "The resource could not be found.".to_string()
            ))
        );
        assert_eq!(parse_error_body(b"<html>"), None);
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        let mut backoff = Backoff::new(FIRST_BACKOFF, MAX_BACKOFF);
        let first = backoff.next_delay();
        backoff.next_delay();
        assert!(first < Duration::from_secs(1));
        assert!(backoff.next_delay() > first);
        for _ in 0..30 {
            assert!(backoff.next_delay() <= MAX_BACKOFF.mul_f64(1.2));
        }
    }

    #[test]
    fn http_dates_are_read_as_utc() {
        let t = parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT").unwrap();
        assert_eq!(t.timestamp(), 784_111_777);
        assert_eq!(parse_http_date("yesterday"), None);
    }

    #[test]
    fn error_bodies_are_shown_on_one_line_without_control_characters() {
        let body = br#"{"error":{"code":"bad\nCode\u001b[2J","message":"first\r\nsecond\u0007 \u001b]0;title\u0007 third"}}"#;
        let (code, message) = parse_error_body(body).unwrap();
        assert_eq!(code, "bad Code [2J");
        assert_eq!(message, "first second ]0;title third");
        let long = format!(
            r#"{{"error":{{"code":"{}","message":"{}"}}}}"#,
            "c".repeat(500),
            "m ".repeat(500)
        );
        let (code, message) = parse_error_body(long.as_bytes()).unwrap();
        assert_eq!(code.chars().count(), 101);
        assert_eq!(message.chars().count(), 301);
        assert_eq!(parse_error_body(b"<html>502</html>"), None);
    }
}
