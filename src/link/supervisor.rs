//! One target's link to Graph, kept alive: request the socket.io endpoint, connect,
//! forward every notification, and after any failure back off and start again with a
//! **fresh** endpoint (the old URL may have expired: docs/graph-socketio.md §2).
//!
//! A [`Supervisor`] is a small state machine, one state per step, each a method that
//! returns the next state, so that every fault is handled in the step where it occurs:
//!
//! ```text
//!   Subscribe ──ok──▶ Connect ──ok──▶ Live ──disconnected──▶ Wait ──▶ Subscribe
//!       │               │              │  ▲
//!       │ transient     │ transient    │  └─ renew: new endpoint, connect, drop the old
//!       ▼               ▼              │
//!      Wait            Wait            └─ permanent error ─▶ Lost (the target ends)
//! ```
//!
//! What counts as permanent: the token is refused or missing (exit 3), 403/404 on the
//! socketIo request (exit 4), other 4xx except `400 notSupported`, 408, 409 and 429, an
//! unusable notificationUrl. Everything else — 5xx, throttling, `400 notSupported`
//! (some business accounts get it, sometimes only for a while), network failures, a
//! refused or timed-out socket.io handshake — is retried forever with [`Backoff`].
//!
//! The supervisor prints nothing: statuses go to the watch loop as [`Report`]s, and
//! notifications and outages to its [`LinkOwner`] — the loop itself ([`ToLoop`]) or
//! the `--changes` task that owns the link — which decides what they mean.

use std::fmt;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::value::RawValue;
use serde_json::Value;
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::payload::decode_notifications;
use super::socket::{self, Connection, SocketError, SocketEvent, SocketOptions};
use crate::event::report::{Report, Status};
use crate::event::Event;
use crate::graph::GraphClient;
use crate::target::{self, Target};
use crate::util::backoff::Backoff;
use crate::util::redact::redact_url;

/// Timings of a supervisor. The defaults are those of docs/graph-socketio.md §1–2.
#[derive(Debug, Clone)]
pub struct SupervisorOptions {
    pub socket: SocketOptions,
    /// First wait after a failure; doubles per failure up to `max_backoff`.
    pub first_backoff: Duration,
    pub max_backoff: Duration,
    /// A link that stayed up this long resets the backoff.
    pub stable_after: Duration,
    /// Fetch a new endpoint this long before the subscription expires.
    pub renew_before: Duration,
    /// After a failed renewal, try again this much later (keeping the old link).
    pub renew_retry: Duration,
}

impl Default for SupervisorOptions {
    fn default() -> Self {
        SupervisorOptions {
            socket: SocketOptions::default(),
            first_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(60),
            stable_after: Duration::from_secs(60),
            renew_before: Duration::from_secs(120),
            renew_retry: Duration::from_secs(60),
        }
    }
}

/// A socketIo answer: where to connect, and until when. `Debug` hides the URL (its
/// query is the credential).
struct Subscription {
    notification_url: String,
    expires: Option<DateTime<Utc>>,
}

impl fmt::Debug for Subscription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Subscription")
            .field("notification_url", &redact_url(&self.notification_url))
            .field("expires", &self.expires)
            .finish()
    }
}

/// A live link and when to renew it.
struct Live {
    connection: Connection,
    since: Instant,
    renew_at: Option<Instant>,
}

/// The states of [`Supervisor::run`].
enum State {
    /// Ask Graph for a fresh endpoint.
    Subscribe,
    /// Connect to the endpoint just received.
    Connect(Subscription),
    /// Forward notifications; renew before expiry.
    Live(Live),
    /// Wait, then subscribe again.
    Wait(Duration),
    /// Give up on the target.
    Lost(anyhow::Error),
    /// The watch loop is gone: stop quietly.
    Stop,
}

/// A failure, sorted by what to do about it.
enum Failure {
    /// Try again later: not before the wait Graph asked for (`Retry-After`), if any.
    Transient(String, Option<Duration>),
    /// Give up on the target.
    Permanent(anyhow::Error),
}

/// Who a supervisor works for: where its news goes. The watch loop itself for a plain
/// watch ([`ToLoop`]); the `--changes` task that owns the link otherwise. The
/// supervisor only tells; what a notification or an outage means is its owner's
/// business, so the supervisor knows nothing of `--changes`.
pub trait LinkOwner: Send + Sync + 'static {
    /// The watch loop's channel: statuses go there, and once it is closed (the loop
    /// ended) the supervisor stops.
    fn reports(&self) -> &mpsc::UnboundedSender<Report>;

    /// One notification element of `target`. `false` once nobody listens.
    fn notification(&self, target: &str, data: Box<RawValue>) -> bool;

    /// The link is back after a drop: whatever was sent meanwhile is gone for good.
    fn reconnected(&self) {}

    /// An outage began (`true`: an attempt to get a link failed) or ended (a link is
    /// up again). A link that drops and comes straight back is no outage.
    fn outage(&self, _began: bool) {}
}

/// A plain watch: every notification element is a `notification` line.
pub struct ToLoop(pub mpsc::UnboundedSender<Report>);

impl LinkOwner for ToLoop {
    fn reports(&self) -> &mpsc::UnboundedSender<Report> {
        &self.0
    }

    fn notification(&self, target: &str, data: Box<RawValue>) -> bool {
        let event = Event::notification(target, data);
        self.0.send(Report::Event(event)).is_ok()
    }
}

/// Keeps one target's link alive and forwards its notifications. See the module docs.
pub struct Supervisor<O: LinkOwner> {
    target: Target,
    client: GraphClient,
    owner: O,
    options: SupervisorOptions,
    backoff: Backoff,
    connected_before: bool,
    /// Between a failed attempt and the next link that comes up: an outage.
    outage: bool,
}

impl<O: LinkOwner> Supervisor<O> {
    pub fn new(
        target: Target,
        client: GraphClient,
        owner: O,
        options: SupervisorOptions,
    ) -> Supervisor<O> {
        Supervisor {
            backoff: Backoff::new(options.first_backoff, options.max_backoff),
            target,
            client,
            owner,
            options,
            connected_before: false,
            outage: false,
        }
    }

    /// Run until the target is lost for good (its error is returned) or the watch loop
    /// stops listening (`None`).
    pub async fn run(mut self) -> Option<anyhow::Error> {
        let mut state = State::Subscribe;
        loop {
            state = match state {
                State::Subscribe => self.subscribe().await,
                State::Connect(subscription) => self.connect(subscription).await,
                State::Live(live) => self.live(live).await,
                State::Wait(delay) => {
                    tokio::select! {
                        _ = tokio::time::sleep(delay) => State::Subscribe,
                        _ = self.owner.reports().closed() => State::Stop,
                    }
                }
                State::Lost(error) => return Some(error),
                State::Stop => return None,
            };
        }
    }

    async fn subscribe(&mut self) -> State {
        self.status(Status::Connecting { endpoint: None });
        match self.request_endpoint().await {
            Ok(subscription) => State::Connect(subscription),
            Err(Failure::Transient(error, retry_after)) => self.retry(error, retry_after),
            Err(Failure::Permanent(error)) => State::Lost(error),
        }
    }

    async fn connect(&mut self, subscription: Subscription) -> State {
        self.status(Status::Connecting {
            endpoint: Some(redact_url(&subscription.notification_url)),
        });
        match self.open(&subscription).await {
            Ok(connection) => {
                self.status(Status::Connected {
                    first: !self.connected_before,
                    display_name: self.target.display_name.clone(),
                });
                // Notifications sent while the link was down are gone for good: the
                // owner may want to catch up (a delta round).
                if self.connected_before {
                    self.owner.reconnected();
                }
                self.connected_before = true;
                self.set_outage(false);
                State::Live(Live {
                    connection,
                    since: Instant::now(),
                    renew_at: self.renew_at(subscription.expires),
                })
            }
            Err(Failure::Transient(error, retry_after)) => self.retry(error, retry_after),
            Err(Failure::Permanent(error)) => State::Lost(error),
        }
    }

    async fn live(&mut self, mut live: Live) -> State {
        loop {
            let renew = async {
                match live.renew_at {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                event = live.connection.next() => match event {
                    Some(SocketEvent::Connected) => {}
                    Some(SocketEvent::Notification(payload)) => {
                        if !self.forward(payload) {
                            return State::Stop;
                        }
                    }
                    Some(SocketEvent::Disconnected { reason }) => {
                        return self.disconnected(&live, reason.to_string());
                    }
                    None => return self.disconnected(&live, "the connection ended".into()),
                },
                _ = renew => {
                    if let Err(error) = self.renew(&mut live).await {
                        return State::Lost(error);
                    }
                }
                _ = self.owner.reports().closed() => return State::Stop,
            }
        }
    }

    /// Fetch a new endpoint and switch to it: connect the new link, then close the old
    /// one (forwarding what it still held). Notifications sent in the moment both are up
    /// may arrive twice; Graph duplicates them anyway. A failed renewal keeps the old
    /// link and tries again after `renew_retry`, as the clients in docs/graph-socketio.md §1 do; only a
    /// permanent error ends the target.
    async fn renew(&mut self, live: &mut Live) -> Result<(), anyhow::Error> {
        let fresh = match self.request_endpoint().await {
            Ok(subscription) => self.open(&subscription).await.map(|c| (c, subscription)),
            Err(failure) => Err(failure),
        };
        match fresh {
            Ok((connection, subscription)) => {
                let old = std::mem::replace(&mut live.connection, connection);
                live.since = Instant::now();
                live.renew_at = self.renew_at(subscription.expires);
                for event in old.close().await {
                    if let SocketEvent::Notification(payload) = event {
                        self.forward(payload);
                    }
                }
                self.status(Status::Renewed {
                    expires: subscription.expires,
                });
                Ok(())
            }
            Err(Failure::Transient(error, retry_after)) => {
                let retry_in = self
                    .options
                    .renew_retry
                    .max(retry_after.unwrap_or_default());
                live.renew_at = Some(Instant::now() + retry_in);
                self.status(Status::RenewalFailed { error, retry_in });
                Ok(())
            }
            Err(Failure::Permanent(error)) => Err(error),
        }
    }

    fn disconnected(&mut self, live: &Live, reason: String) -> State {
        if live.since.elapsed() >= self.options.stable_after {
            self.backoff.reset();
        }
        let retry_in = self.backoff.next_delay();
        self.status(Status::Disconnected { reason, retry_in });
        State::Wait(retry_in)
    }

    /// Back off before the next attempt; never sooner than Graph's `Retry-After` (the
    /// Graph client waits it out within a request, but gives up on waits beyond its cap).
    fn retry(&mut self, error: String, retry_after: Option<Duration>) -> State {
        let retry_in = self
            .backoff
            .next_delay()
            .max(retry_after.unwrap_or_default());
        let first = !self.outage;
        self.set_outage(true);
        self.status(Status::Retrying {
            error,
            retry_in,
            first,
        });
        State::Wait(retry_in)
    }

    fn set_outage(&mut self, outage: bool) {
        if self.outage != outage {
            self.outage = outage;
            self.owner.outage(outage);
        }
    }

    /// `GET …/subscriptions/socketIo` through the Graph client (which already retries
    /// throttling and 5xx a few times within the request).
    async fn request_endpoint(&self) -> Result<Subscription, Failure> {
        let answer: Value = match self.client.get_json(&self.target.socketio_path()).await {
            Ok(answer) => answer,
            Err(e) if !e.is_transient() => {
                return Err(Failure::Permanent(target::socketio_failed(e, &self.target)))
            }
            Err(e) => return Err(Failure::Transient(e.summary(), e.retry_after())),
        };
        let Some(url) = answer.get("notificationUrl").and_then(Value::as_str) else {
            return Err(Failure::Permanent(
                crate::error::Error::failure(format!(
                    "Graph's socketIo answer for {} has no notificationUrl",
                    self.target.label
                ))
                .hint("check --graph-url")
                .into(),
            ));
        };
        let expires = answer
            .get("expirationDateTime")
            .and_then(Value::as_str)
            .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
            .map(|t| t.with_timezone(&Utc));
        Ok(Subscription {
            notification_url: url.to_string(),
            expires,
        })
    }

    async fn open(&self, subscription: &Subscription) -> Result<Connection, Failure> {
        socket::connect(&subscription.notification_url, &self.options.socket)
            .await
            .map_err(|e| match e {
                SocketError::InvalidUrl(_) | SocketError::Runtime(_) => Failure::Permanent(
                    anyhow::Error::new(e).context(format!("cannot watch {}", self.target.label)),
                ),
                other => Failure::Transient(other.to_string(), None),
            })
    }

    /// When to renew a subscription that expires at `expires`: `renew_before` ahead, or
    /// halfway for one that lives shorter than twice that; never sooner than in a second.
    fn renew_at(&self, expires: Option<DateTime<Utc>>) -> Option<Instant> {
        let left = (expires? - Utc::now()).to_std().unwrap_or(Duration::ZERO);
        Some(Instant::now() + renew_in(left, self.options.renew_before))
    }

    /// One `notification` event: its elements to the owner. `false` once nobody listens.
    fn forward(&self, payload: Value) -> bool {
        decode_notifications(payload)
            .into_iter()
            .all(|data| self.owner.notification(&self.target.label, data))
    }

    fn status(&self, status: Status) {
        let _ = self.owner.reports().send(Report::Status {
            label: self.target.label.clone(),
            status,
        });
    }
}

/// How long until renewing a subscription with `left` to live: `before` ahead of its
/// end, or halfway for one that lives shorter than twice that; at least a second.
fn renew_in(left: Duration, before: Duration) -> Duration {
    (left - before.min(left / 2)).max(Duration::from_secs(1))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::GraphError;

    const S: Duration = Duration::from_secs(1);

    /// An owner that records outages, as the `--changes` task's does.
    struct Recorder {
        reports: mpsc::UnboundedSender<Report>,
        link_up: tokio::sync::watch::Sender<bool>,
    }

    impl LinkOwner for Recorder {
        fn reports(&self) -> &mpsc::UnboundedSender<Report> {
            &self.reports
        }
        fn notification(&self, _: &str, _: Box<RawValue>) -> bool {
            true
        }
        fn outage(&self, began: bool) {
            self.link_up.send_replace(!began);
        }
    }

    fn supervisor() -> (Supervisor<ToLoop>, mpsc::UnboundedReceiver<Report>) {
        let (target, client) = parts();
        let (tx, rx) = mpsc::unbounded_channel();
        (
            Supervisor::new(target, client, ToLoop(tx), SupervisorOptions::default()),
            rx,
        )
    }

    fn parts() -> (Target, GraphClient) {
        let client = GraphClient::new(
            reqwest::Client::new(),
            url::Url::parse("http://127.0.0.1:9/v1.0").unwrap(),
            crate::tokens::TokenSource::fixed(crate::settings::Secret::new("t")),
        );
        let target = Target {
            label: "drive:me".into(),
            kind: crate::target::TargetKind::Drive {
                drive_id: "b!x".into(),
            },
            display_name: "OneDrive".into(),
            web_url: None,
        };
        (target, client)
    }

    #[test]
    fn a_retry_waits_at_least_what_graph_asked_for() {
        let (mut sup, _reports) = supervisor();
        // The first backoff step is about a second; Graph asked for a minute and a half.
        match sup.retry("429".into(), Some(90 * S)) {
            State::Wait(wait) => assert!(wait >= 90 * S, "waited only {wait:?}"),
            _ => panic!("a transient failure waits"),
        }
        match sup.retry("503".into(), None) {
            State::Wait(wait) => assert!(wait < 10 * S, "no Retry-After: backoff only, {wait:?}"),
            _ => panic!("a transient failure waits"),
        }
    }

    #[test]
    fn an_outage_is_announced_once_and_signalled_to_the_delta_task() {
        let (target, client) = parts();
        let (tx, mut reports) = mpsc::unbounded_channel();
        let (link_tx, link_up) = tokio::sync::watch::channel(true);
        let owner = Recorder {
            reports: tx,
            link_up: link_tx,
        };
        let mut sup = Supervisor::new(target, client, owner, SupervisorOptions::default());
        let mut firsts = || {
            let mut seen = Vec::new();
            while let Ok(report) = reports.try_recv() {
                if let Report::Status {
                    status: Status::Retrying { first, .. },
                    ..
                } = report
                {
                    seen.push(first);
                }
            }
            seen
        };
        sup.retry("400 notSupported".into(), None);
        sup.retry("400 notSupported".into(), None);
        assert_eq!(firsts(), [true, false], "said once per outage");
        assert!(!*link_up.borrow(), "the delta task hears of the outage");
        sup.set_outage(false);
        assert!(*link_up.borrow(), "and of its end");
        sup.retry("503".into(), None);
        assert_eq!(firsts(), [true], "a new outage is said again");
    }

    fn status(status: u16, code: &str) -> GraphError {
        GraphError::Status {
            request: "GET /x".into(),
            status,
            code: code.into(),
            message: String::new(),
            retry_after: None,
            location: None,
        }
    }

    #[test]
    fn transient_and_permanent_socketio_failures() {
        for transient in [
            status(400, "notSupported"),
            status(429, "TooManyRequests"),
            status(500, "generalException"),
            status(503, "serviceNotAvailable"),
            status(408, "timeout"),
        ] {
            assert!(transient.is_transient(), "{transient}");
        }
        for permanent in [
            status(400, "invalidRequest"),
            status(401, "InvalidAuthenticationToken"),
            status(403, "accessDenied"),
            status(404, "itemNotFound"),
            GraphError::Token(anyhow::anyhow!("not signed in")),
        ] {
            assert!(!permanent.is_transient(), "{permanent}");
        }
    }

    #[test]
    fn renewal_is_two_minutes_ahead_or_halfway() {
        assert_eq!(renew_in(3600 * S, 120 * S), 3480 * S);
        assert_eq!(renew_in(200 * S, 120 * S), 100 * S);
        assert_eq!(renew_in(Duration::ZERO, 120 * S), S);
    }

    #[test]
    fn subscription_debug_hides_the_token() {
        let s = Subscription {
            notification_url: "https://h.example/notifications?token=s3cr3t".into(),
            expires: None,
        };
        let text = format!("{s:?}");
        assert!(!text.contains("s3cr3t"), "{text}");
    }
}
