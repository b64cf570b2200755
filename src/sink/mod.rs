//! `--sink`: every event the filters keep, delivered to something downstream — a NATS
//! JetStream stream ([`nats`]) or a webhook ([`webhook`]) — and *acknowledged* before
//! the watch loop tells a `--changes` round it was written, so the round's cursor moves
//! only after the bus or the receiver has it (at-least-once end to end; the stable `id`
//! lets the far side drop repeats: docs/contract.md, "Event ids").
//!
//! The loop hands each event to [`outbox::Outbox`] while it queues the line for stdout;
//! the outbox's task delivers what was handed over ([`Sink::deliver`]) while the loop
//! goes on, and answers a round's receipt once the sink acknowledged it. Delivery waits out whatever may pass (the bus down, a 5xx, a
//! 429's `Retry-After`) with the one backoff ([`crate::util::backoff`]) and says so
//! once on stderr; nothing is dropped meanwhile. What will not pass (a 4xx, a refused
//! sign-in) ends the watch with exit 1, the cursor where it was. Which failures are
//! which is [`SinkError::is_transient`], the sink's one rule (docs/reliability.md,
//! "The sink is down").

pub mod nats;
pub mod outbox;
pub mod webhook;

use std::path::PathBuf;
use std::time::Duration;

use url::Url;

use crate::error::Error;
use crate::util::backoff::Backoff;
use crate::util::duration::human;
use crate::util::redact;

/// Where `--sink` delivers, parsed from its URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SinkSpec {
    /// `nats://HOST:PORT/SUBJECT` (or `tls://…`, TLS required).
    Nats {
        /// `nats://host:port` or `tls://host:port`, without the subject.
        server: String,
        subject: String,
        tls: bool,
    },
    /// `https://…` (or `http://` on loopback).
    Webhook { url: Url },
}

/// `--sink` and its companions, checked.
#[derive(Debug, Clone)]
pub struct SinkOptions {
    pub spec: SinkSpec,
    /// `--sink-creds FILE`: a NATS credentials file (JWT and seed); the secret stays in
    /// the file, never on the command line.
    pub creds: Option<PathBuf>,
    /// `--sink-ca FILE`: PEM certificates to trust besides the system's (a private CA).
    pub ca: Option<PathBuf>,
    /// `--sink-batch`: a webhook gets each delivery (a round, a burst) as one POST.
    pub batch: bool,
    /// `GRAPHWATCH_SINK_SECRET`: the webhook's HMAC key (environment only).
    pub secret: Option<String>,
    /// The wait between attempts while the sink is down (`--backoff`).
    pub first_backoff: Duration,
    pub max_backoff: Duration,
}

impl SinkSpec {
    /// Parse `--sink`'s URL; a bad one is a one-line usage error (exit 2).
    pub fn parse(text: &str) -> Result<SinkSpec, Error> {
        let bad = |why: &str| {
            Error::usage(format!("--sink {}: {why}", redact::redact_url(text)))
                .hint("give nats://HOST:PORT/SUBJECT, tls://HOST:PORT/SUBJECT or https://HOST/PATH")
        };
        let url = Url::parse(text.trim()).map_err(|e| bad(&e.to_string()))?;
        if !url.username().is_empty() || url.password().is_some() {
            return Err(Error::usage(format!(
                "--sink {}: a user or password in the URL would show in the process list",
                redact::redact_url(text)
            ))
            .hint(
                "for NATS give a credentials file with --sink-creds (or GRAPHWATCH_SINK_CREDS)",
            ));
        }
        match url.scheme() {
            scheme @ ("nats" | "tls") => {
                let host = url.host_str().ok_or_else(|| bad("no host"))?;
                let port = url.port().unwrap_or(4222);
                let subject = url.path().trim_start_matches('/');
                if subject.is_empty() {
                    return Err(bad("no subject: the path is the subject events are published on"));
                }
                if !valid_subject(subject) {
                    return Err(bad(&format!(
                        "{subject:?} is not a NATS subject to publish on (tokens of letters, digits, - and _ between dots; no wildcards)"
                    )));
                }
                if url.query().is_some() || url.fragment().is_some() {
                    return Err(bad("no query or fragment is read"));
                }
                Ok(SinkSpec::Nats {
                    server: format!("{scheme}://{host}:{port}"),
                    subject: subject.to_string(),
                    tls: scheme == "tls",
                })
            }
            "https" => Ok(SinkSpec::Webhook { url }),
            "http" if crate::util::url::is_loopback(&url) => Ok(SinkSpec::Webhook { url }),
            "http" => Err(bad(
                "plain http is only for loopback (127.0.0.1, ::1, localhost): events and the signature would cross the network in the clear",
            )),
            other => Err(bad(&format!("{other}: is not a sink"))),
        }
    }

    /// What stderr calls the sink: the URL without anything secret in it.
    pub fn display(&self) -> String {
        match self {
            SinkSpec::Nats {
                server, subject, ..
            } => format!("{server}/{subject}"),
            SinkSpec::Webhook { url } => redact::redact_url(url.as_str()),
        }
    }
}

/// A subject to publish on: dot-separated tokens, none empty, no wildcard, no space.
fn valid_subject(subject: &str) -> bool {
    subject.split('.').all(|token| {
        !token.is_empty()
            && token
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'$'))
    })
}

/// One event on its way: its id (the dedupe key) and its JSON line.
#[derive(Debug, Clone)]
pub struct Message {
    pub id: Option<String>,
    pub body: String,
}

/// Why a delivery failed, and whether waiting can help.
#[derive(Debug)]
pub struct SinkError {
    what: String,
    transient: bool,
    /// What the far side asked for (`Retry-After`).
    retry_after: Option<Duration>,
}

impl SinkError {
    pub fn transient(what: impl Into<String>) -> SinkError {
        SinkError {
            what: what.into(),
            transient: true,
            retry_after: None,
        }
    }

    pub fn permanent(what: impl Into<String>) -> SinkError {
        SinkError {
            what: what.into(),
            transient: false,
            retry_after: None,
        }
    }

    pub fn retry_after(mut self, after: Option<Duration>) -> SinkError {
        self.retry_after = after;
        self
    }

    /// The sink's one rule: may this pass if graphwatch waits? The bus or receiver
    /// unreachable, a timeout, a missing ack, HTTP 408, 429 and 5xx: yes (wait, lose
    /// nothing). A refused sign-in, a bad certificate, any other 4xx: no (exit 1).
    pub fn is_transient(&self) -> bool {
        self.transient
    }
}

impl std::fmt::Display for SinkError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.what)
    }
}

enum Kind {
    Nats(nats::Nats),
    Webhook(webhook::Webhook),
}

/// The connected sink and what is waiting for its acknowledgement.
pub struct Sink {
    kind: Kind,
    name: String,
    /// Handed over by the outbox's task, delivered by [`Sink::deliver`].
    pending: Vec<Message>,
    backoff: Backoff,
    /// Why the sink is down, said once until it takes events again.
    down: Option<String>,
}

impl Sink {
    /// Connect (NATS: and find or create the stream); waits out a bus that is not up
    /// yet like [`Sink::deliver`] does, said once. A permanent failure is exit 1.
    pub async fn connect(options: &SinkOptions) -> anyhow::Result<Sink> {
        let name = options.spec.display();
        let mut backoff = Backoff::new(options.first_backoff, options.max_backoff);
        let mut said = false;
        let kind = loop {
            let attempt = match &options.spec {
                SinkSpec::Nats { .. } => nats::Nats::connect(options).await.map(Kind::Nats),
                SinkSpec::Webhook { .. } => webhook::Webhook::new(options).map(Kind::Webhook),
            };
            match attempt {
                Ok(kind) => break kind,
                Err(e) if e.is_transient() => {
                    let delay = wait(&mut backoff, &e);
                    if !said {
                        tracing::warn!(
                            "sink {name}: {e}; waiting for it (retrying every {} or so)",
                            human(delay)
                        );
                        said = true;
                    }
                    tokio::time::sleep(delay).await;
                }
                Err(e) => return Err(failed(&name, &e)),
            }
        };
        if said {
            tracing::warn!("sink {name}: connected");
        }
        Ok(Sink {
            kind,
            name,
            pending: Vec::new(),
            backoff,
            down: None,
        })
    }

    /// Deliver everything queued and wait for the acknowledgements; while the sink is
    /// down, wait (backoff, `Retry-After`) and try again, said once on stderr. Returns
    /// only when all is acknowledged, or with the error that will not pass (exit 1).
    /// Cancel-safe: what was not acknowledged stays queued (and is sent again: the far
    /// side drops the repeat by its id).
    pub async fn deliver(&mut self) -> anyhow::Result<()> {
        while !self.pending.is_empty() {
            let result = match &mut self.kind {
                Kind::Nats(nats) => nats.send(&mut self.pending).await,
                Kind::Webhook(hook) => hook.send(&mut self.pending).await,
            };
            if let Err(e) = result {
                if !e.is_transient() {
                    return Err(failed(&self.name, &e));
                }
                let delay = wait(&mut self.backoff, &e);
                if self.down.is_none() {
                    tracing::warn!(
                        "sink {}: {e}; holding {} and the cursor until it takes them (retrying in {})",
                        self.name,
                        match self.pending.len() {
                            1 => "1 event".to_string(),
                            n => format!("{n} events"),
                        },
                        human(delay)
                    );
                    self.down = Some(e.to_string());
                } else {
                    tracing::info!(
                        "sink {}: still down ({e}); retrying in {}",
                        self.name,
                        human(delay)
                    );
                }
                tokio::time::sleep(delay).await;
                continue;
            }
            if self.down.take().is_some() {
                tracing::warn!("sink {}: delivering again", self.name);
            }
            self.backoff.reset();
        }
        Ok(())
    }
}

/// A TLS refusal somewhere in the error's chain (an untrusted or wrong certificate,
/// a failed handshake), also inside an `io::Error`: waiting will not fix it.
pub(crate) fn tls_refused(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut source = Some(e);
    while let Some(err) = source {
        if err.downcast_ref::<rustls::Error>().is_some() {
            return true;
        }
        if let Some(inner) = err
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
        {
            if inner.downcast_ref::<rustls::Error>().is_some() {
                return true;
            }
        }
        source = err.source();
    }
    false
}

/// The next wait: the backoff's, or longer when the far side asked for it.
fn wait(backoff: &mut Backoff, e: &SinkError) -> Duration {
    let delay = backoff.next_delay();
    e.retry_after.map_or(delay, |asked| asked.max(delay))
}

fn failed(name: &str, e: &SinkError) -> anyhow::Error {
    Error::failure(format!("sink {name}: {e}"))
        .hint("nothing after the last delivered event was committed: fix the sink and start again")
        .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sink_urls() {
        assert_eq!(
            SinkSpec::parse("nats://127.0.0.1:4333/graph.changes").unwrap(),
            SinkSpec::Nats {
                server: "nats://127.0.0.1:4333".into(),
                subject: "graph.changes".into(),
                tls: false
            }
        );
        assert!(matches!(
            SinkSpec::parse("tls://bus.example/x").unwrap(),
            SinkSpec::Nats { tls: true, ref server, .. } if server == "tls://bus.example:4222"
        ));
        assert!(matches!(
            SinkSpec::parse("https://hooks.example/in").unwrap(),
            SinkSpec::Webhook { .. }
        ));
        assert!(matches!(
            SinkSpec::parse("http://127.0.0.1:9/in").unwrap(),
            SinkSpec::Webhook { .. }
        ));
        for bad in [
            "http://hooks.example/in",
            "nats://127.0.0.1:4222",
            "nats://127.0.0.1:4222/a.*",
            "nats://127.0.0.1:4222/a..b",
            "nats://user:pw@127.0.0.1:4222/a",
            "ftp://x/y",
            "not a url",
        ] {
            let e = SinkSpec::parse(bad).unwrap_err();
            assert!(!e.to_string().contains("pw"), "{e}");
        }
    }
}
