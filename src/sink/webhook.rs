//! `--sink https://…`: each event POSTed as its JSON line (or, with `--sink-batch`,
//! each delivery — a round, a burst — as one JSON array of lines), a `2xx` required.
//!
//! Signed as GitHub signs its webhooks (`X-Hub-Signature-256`): with
//! `GRAPHWATCH_SINK_SECRET` set, `X-Graphwatch-Signature-256: sha256=HEX` is the
//! HMAC-SHA256 of the exact body bytes under that secret (the `hmac` and `sha2`
//! crates). `X-Graphwatch-Event-Id` carries the event's `id` (one event per POST), so
//! a receiver can drop a repeat. 408, 429 and 5xx (and no answer) are waited out,
//! `Retry-After` honoured; another status is a receiver that refuses: exit 1.

use std::time::Duration;

use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::{Message, SinkError, SinkOptions, SinkSpec};
use crate::util::duration::parse_retry_after;

/// How long one POST may take, answer included.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Events in one batch POST, at most (a long outage's backlog goes in several).
const BATCH_MAX: usize = 1000;

pub const SIGNATURE_HEADER: &str = "X-Graphwatch-Signature-256";
pub const ID_HEADER: &str = "X-Graphwatch-Event-Id";

pub struct Webhook {
    http: reqwest::Client,
    url: url::Url,
    batch: bool,
    secret: Option<Vec<u8>>,
}

impl Webhook {
    pub fn new(options: &SinkOptions) -> Result<Webhook, SinkError> {
        let SinkSpec::Webhook { url } = &options.spec else {
            return Err(SinkError::permanent("not a webhook sink"));
        };
        let mut http = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .user_agent(concat!("graphwatch/", env!("CARGO_PKG_VERSION")))
            // A redirect would take the signed body elsewhere: a receiver says where it is.
            .redirect(reqwest::redirect::Policy::none());
        if let Some(ca) = &options.ca {
            let pem = std::fs::read(ca).map_err(|e| {
                SinkError::permanent(format!("cannot read --sink-ca {}: {e}", ca.display()))
            })?;
            let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| {
                SinkError::permanent(format!(
                    "--sink-ca {}: no PEM certificate ({e})",
                    ca.display()
                ))
            })?;
            if certs.is_empty() {
                return Err(SinkError::permanent(format!(
                    "--sink-ca {}: no PEM certificate in it",
                    ca.display()
                )));
            }
            for cert in certs {
                http = http.add_root_certificate(cert);
            }
        }
        let http = http
            .build()
            .map_err(|e| SinkError::permanent(format!("cannot make an HTTP client ({e})")))?;
        Ok(Webhook {
            http,
            url: url.clone(),
            batch: options.batch,
            secret: options.secret.as_ref().map(|s| s.as_bytes().to_vec()),
        })
    }

    /// POST the queued events in order (one each, or in batches); those the receiver
    /// took leave the queue, the rest stay for the next attempt.
    pub async fn send(&mut self, queue: &mut Vec<Message>) -> Result<(), SinkError> {
        let mut done = 0;
        while done < queue.len() {
            let take = if self.batch { BATCH_MAX } else { 1 };
            let end = (done + take).min(queue.len());
            let part = &queue[done..end];
            let body = if self.batch {
                let mut body = String::from("[");
                for (i, message) in part.iter().enumerate() {
                    if i > 0 {
                        body.push(',');
                    }
                    body.push_str(&message.body);
                }
                body.push(']');
                body
            } else {
                part[0].body.clone()
            };
            let id = (!self.batch).then(|| part[0].id.clone()).flatten();
            if let Err(e) = self.post(body, id.as_deref()).await {
                queue.drain(..done);
                return Err(e);
            }
            done = end;
        }
        queue.clear();
        Ok(())
    }

    async fn post(&self, body: String, id: Option<&str>) -> Result<(), SinkError> {
        let mut request = self
            .http
            .post(self.url.clone())
            .header(reqwest::header::CONTENT_TYPE, "application/json");
        if let Some(secret) = &self.secret {
            request = request.header(SIGNATURE_HEADER, signature(secret, body.as_bytes()));
        }
        if let Some(id) = id {
            request = request.header(ID_HEADER, id);
        }
        let answer = request.body(body).send().await.map_err(|e| {
            if super::tls_refused(&e) {
                SinkError::permanent(format!("TLS refused: {}", without_url(&e)))
            } else {
                SinkError::transient(format!("no answer ({})", without_url(&e)))
            }
        })?;
        let status = answer.status();
        if status.is_success() {
            return Ok(());
        }
        let asked = answer
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(parse_retry_after);
        let code = status.as_u16();
        if code == 408 || code == 429 || status.is_server_error() {
            Err(SinkError::transient(format!("the receiver answered {status}")).retry_after(asked))
        } else {
            Err(SinkError::permanent(format!(
                "the receiver refused the event: {status}"
            )))
        }
    }
}

/// `sha256=` and the lowercase hex HMAC-SHA256 of `body` under `secret`.
pub fn signature(secret: &[u8], body: &[u8]) -> String {
    // HMAC takes a key of any length: `new_from_slice` cannot fail for it.
    let mut mac = <Hmac<Sha256>>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(body);
    let mut out = String::from("sha256=");
    crate::event::id::push_hex(&mut out, &mac.finalize().into_bytes());
    out
}

/// The error's words without the URL (the sink's URL is shown redacted by the caller).
fn without_url(e: &reqwest::Error) -> String {
    let mut words = Vec::new();
    let mut source = std::error::Error::source(e);
    while let Some(err) = source {
        words.push(err.to_string());
        source = err.source();
    }
    if words.is_empty() {
        if e.is_timeout() {
            return "timed out".into();
        }
        return "request failed".into();
    }
    words.join(": ")
}

#[cfg(test)]
mod tests {
    #[test]
    fn signature_is_githubs_hmac_sha256() {
        // GitHub's documented example (docs.github.com, "Validating webhook deliveries").
        assert_eq!(
            super::signature(b"It's a Secret to Everybody", b"Hello, World!"),
            "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
        );
    }
}
