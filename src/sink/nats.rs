//! `--sink nats://HOST:PORT/SUBJECT`: each event published to JetStream with
//! `Nats-Msg-Id` = its `id`, and its publish acknowledgement (PubAck: the stream has
//! stored it, or knows it as a duplicate) awaited before the round's cursor may move.
//! A publish sent again after a lost ack, or by a second graphwatch watching the same
//! drive, is dropped by the stream's duplicate window (docs/service.md, "High
//! availability").
//!
//! The client is `async-nats` (docs/decisions.md, "Sinks"): it reconnects by itself,
//! with our backoff as its delay, and what was not acknowledged is published again by
//! [`super::Sink::deliver`].
//!
//! The stream: the one that captures SUBJECT, if the server has one (an operator's,
//! with their retention and replicas); else graphwatch creates `GRAPHWATCH_<SUBJECT>`
//! (file storage, a 2-minute duplicate window, JetStream's defaults otherwise).

use std::time::Duration;

use async_nats::jetstream::context::{
    GetStreamByNameErrorKind, PublishAckFuture, PublishErrorKind,
};
use async_nats::jetstream::{self, stream};
use async_nats::{ConnectErrorKind, ConnectOptions};

use super::{Message, SinkError, SinkOptions, SinkSpec};
use crate::util::backoff::Backoff;

/// How long a publish waits for its ack before it counts as lost (and is sent again).
const ACK_TIMEOUT: Duration = Duration::from_secs(5);

/// How many publishes are in flight at once, awaiting their acks.
const IN_FLIGHT: usize = 1024;

/// The duplicate window of a stream graphwatch creates: JetStream's default.
const DUPLICATE_WINDOW: Duration = Duration::from_secs(120);

pub struct Nats {
    js: jetstream::Context,
    subject: String,
    stream: String,
}

impl Nats {
    pub async fn connect(options: &SinkOptions) -> Result<Nats, SinkError> {
        let SinkSpec::Nats {
            server,
            subject,
            tls,
        } = &options.spec
        else {
            return Err(SinkError::permanent("not a NATS sink"));
        };
        let mut connect = ConnectOptions::new()
            .name("graphwatch")
            .connection_timeout(Duration::from_secs(5))
            // Reconnect forever (events wait, the cursor waits), at our backoff's pace.
            .max_reconnects(None);
        let backoff = Backoff::new(options.first_backoff, options.max_backoff);
        connect = connect.reconnect_delay_callback(move |attempts| {
            if attempts == 0 {
                Duration::ZERO
            } else {
                backoff.delay_for_attempt(attempts)
            }
        });
        if let Some(creds) = &options.creds {
            connect = connect.credentials_file(creds).await.map_err(|e| {
                SinkError::permanent(format!(
                    "cannot read the credentials file {}: {e}",
                    creds.display()
                ))
            })?;
        }
        if let Some(ca) = &options.ca {
            connect = connect.add_root_certificates(ca.clone());
        }
        if *tls {
            connect = connect.require_tls(true);
        }
        let client = connect.connect(server.as_str()).await.map_err(|e| {
            let refused = super::tls_refused(&e);
            match e.kind() {
                _ if refused => SinkError::permanent(format!("TLS refused ({e})")),
                ConnectErrorKind::Io | ConnectErrorKind::TimedOut | ConnectErrorKind::Dns => {
                    SinkError::transient(format!("cannot connect ({e})"))
                }
                _ => SinkError::permanent(format!("cannot connect ({e})")),
            }
        })?;
        let js = jetstream::ContextBuilder::new()
            .ack_timeout(ACK_TIMEOUT)
            .build(client);
        let stream = match js.stream_by_subject(subject.as_str()).await {
            Ok(name) => name,
            Err(e) if e.kind() == GetStreamByNameErrorKind::NotFound => {
                let name = stream_name(subject);
                js.get_or_create_stream(stream::Config {
                    name: name.clone(),
                    subjects: vec![subject.clone()],
                    duplicate_window: DUPLICATE_WINDOW,
                    storage: stream::StorageType::File,
                    ..stream::Config::default()
                })
                .await
                .map_err(|e| {
                    SinkError::permanent(format!(
                        "cannot create the stream {name} for {subject} ({e})"
                    ))
                })?;
                tracing::info!("created the JetStream stream {name} for {subject}");
                name
            }
            Err(e) => {
                return Err(SinkError::permanent(format!(
                "no JetStream answer ({e}): is JetStream enabled on the server (nats-server -js)?"
            )))
            }
        };
        tracing::info!("publishing to {subject}, stored by the stream {stream}");
        Ok(Nats {
            js,
            subject: subject.clone(),
            stream,
        })
    }

    /// Publish the queued messages, pipelined, and await their acks in order; those
    /// acknowledged leave the queue, the rest stay for the next attempt.
    pub async fn send(&mut self, queue: &mut Vec<Message>) -> Result<(), SinkError> {
        let mut done = 0;
        while done < queue.len() {
            let end = (done + IN_FLIGHT).min(queue.len());
            let mut acks: Vec<PublishAckFuture> = Vec::with_capacity(end - done);
            let mut failure = None;
            for message in &queue[done..end] {
                let mut publish = jetstream::message::PublishMessage::build()
                    .payload(message.body.clone().into());
                if let Some(id) = &message.id {
                    publish = publish.message_id(id);
                }
                match self.js.send_publish(self.subject.clone(), publish).await {
                    Ok(ack) => acks.push(ack),
                    Err(e) => {
                        failure = Some(e);
                        break;
                    }
                }
            }
            for ack in acks {
                match ack.await {
                    Ok(_) => done += 1,
                    Err(e) => {
                        failure.get_or_insert(e);
                        break;
                    }
                }
            }
            if let Some(e) = failure {
                queue.drain(..done);
                return Err(self.error(e));
            }
        }
        queue.clear();
        Ok(())
    }

    fn error(&self, e: async_nats::jetstream::context::PublishError) -> SinkError {
        match e.kind() {
            // No responder: the stream is gone (or JetStream is not back yet after a
            // restart); the bus itself may recover, or an operator recreate it.
            PublishErrorKind::StreamNotFound => SinkError::transient(format!(
                "no stream stores {} (was {} deleted? JetStream still starting?)",
                self.subject, self.stream
            )),
            PublishErrorKind::TimedOut => SinkError::transient("no publish acknowledgement"),
            PublishErrorKind::BrokenPipe => {
                SinkError::transient("the connection to the bus is down")
            }
            _ => SinkError::transient(format!("publish failed ({e})")),
        }
    }
}

/// `GRAPHWATCH_` and the subject, with what a stream name may not hold (`.`, `*`, `>`,
/// spaces) as `_`.
fn stream_name(subject: &str) -> String {
    let tail: String = subject
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("GRAPHWATCH_{tail}")
}

#[cfg(test)]
mod tests {
    #[test]
    fn stream_names() {
        assert_eq!(
            super::stream_name("graph.changes"),
            "GRAPHWATCH_graph_changes"
        );
    }
}
