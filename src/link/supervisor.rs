//! One target's link to Graph, kept alive: request the socket.io endpoint, connect,
//! forward every notification, and after any failure back off and start again with a
//! **fresh** endpoint (the old URL may have expired: docs/graph-socketio.md §2).
//!
//! A [`Supervisor`] is a small state machine, one state per step, each a method that
//! returns the next state, so that every fault is handled in the step where it occurs:
//!
//! ```text
//!   Subscribe ──ok──▶ Connect ──ok──▶ Live ──disconnected──▶ Wait ──▶ Subscribe
//!       │               │              │  ▲                    │
//!       │ transient     │ transient    │  └─ renew: new endpoint, connect, drop the old
//!       ▼               ▼              │                       │
//!      Wait            Wait            ├─ woke from a suspend ─┴──────▶ Subscribe
//!                                      └─ permanent error ─▶ Lost (the target ends)
//! ```
//!
//! What counts as permanent: the token is refused or missing (exit 3), 403/404 on the
//! socketIo request (exit 4), other 4xx except `400 notSupported`, 408, 409 and 429, an
//! unusable notificationUrl. Everything else — 5xx, throttling, `400 notSupported`
//! (some business accounts get it, sometimes only for a while), network failures, a
//! refused or timed-out socket.io handshake, a link that cannot be started for want of
//! file descriptors or threads (`EMFILE`, `ENFILE`: they come back) — is retried
//! forever with [`Backoff`].
//!
//! **The backoff measures the link, not the attempt.** A link that delivered a
//! notification, or stayed up at least as long as the wait before it, shows that the
//! way to the service works: its drop starts the backoff again from the first step, so
//! a link that drops every few seconds and comes straight back is back within a second
//! each time. Only links that fail sooner than they were waited for (an endpoint that
//! accepts and drops at once) make the waits grow. A wait longer than
//! [`SupervisorOptions::outage_after`] counts as an outage for the owner (with
//! `--changes`: delta is asked meanwhile).
//!
//! **Renewal is timed by the service's clock.** A subscription lives from its
//! socketIo answer's `Date` header to its `expirationDateTime`, both the service's;
//! the local clock only measures the time since the answer arrived (monotonic). So a
//! machine whose clock is hours off renews when it should, and is told so once. Without
//! a `Date` header the local clock stands in. Renewals are at least
//! [`SupervisorOptions::renew_retry`] (a minute) apart, whatever the times say.
//!
//! **A suspend is noticed** by comparing the wall and the monotonic clock
//! ([`SuspendWatch`]): on waking the link is replaced at once, as the service has most
//! likely dropped it and the subscription may have expired meanwhile.
//!
//! The supervisor prints nothing: statuses go to the watch loop as [`Report`]s, and
//! notifications and outages to its [`LinkOwner`] — the loop itself ([`ToLoop`]) or
//! the `--changes` task that owns the link — which decides what they mean.

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};

use chrono::{DateTime, Utc};
use serde_json::value::RawValue;
use serde_json::Value;
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::payload::decode_notifications;
use super::socket::{self, Connection, SocketEvent, SocketOptions};
use super::suspend::SuspendWatch;
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
    /// A link that stayed up this long resets the backoff, whatever the wait before it
    /// was (one that delivered, or stayed up as long as that wait, resets it sooner).
    pub stable_after: Duration,
    /// Fetch a new endpoint this long before the subscription expires.
    pub renew_before: Duration,
    /// After a failed renewal, try again this much later (keeping the old link); and
    /// never renew sooner than this after the last renewal.
    pub renew_retry: Duration,
    /// A wait after a dropped link longer than this is an outage for the owner, as a
    /// failed attempt is. `None`: only failed attempts are.
    pub outage_after: Option<Duration>,
    /// How often the wall clock is compared with the monotonic one (a suspend).
    pub suspend_check: Duration,
    /// The wall clock: `SystemTime::now` (tests move it to stand for a suspend).
    pub wall_clock: fn() -> SystemTime,
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
            outage_after: None,
            suspend_check: Duration::from_secs(5),
            wall_clock: SystemTime::now,
        }
    }
}

/// A clock this far off the service's is worth a warning: beyond the renewal margin,
/// times taken from the local clock would have been wrong enough to matter.
const SKEW_WARNING: Duration = Duration::from_secs(120);

/// The clock warning is given once per process: every target sees the same clock.
static SKEW_WARNED: AtomicBool = AtomicBool::new(false);

/// A socketIo answer: where to connect, and for how long. `Debug` hides the URL (its
/// query is the credential).
struct Subscription {
    notification_url: String,
    expires: Option<DateTime<Utc>>,
    /// How long it lives from `received`: from the answer's `Date` to its
    /// `expirationDateTime`, both the service's clock (the local clock without a `Date`).
    lifetime: Option<Duration>,
    /// When the answer arrived, on the monotonic clock.
    received: Instant,
}

impl fmt::Debug for Subscription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Subscription")
            .field("notification_url", &redact_url(&self.notification_url))
            .field("expires", &self.expires)
            .field("lifetime", &self.lifetime)
            .finish()
    }
}

/// A live link and when to renew it.
struct Live {
    connection: Connection,
    since: Instant,
    renew_at: Option<Instant>,
    /// A notification came over it: the way to the service works.
    delivered: bool,
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

    /// An outage began (`true`: an attempt to get a link failed, or the wait after a
    /// drop is longer than [`SupervisorOptions::outage_after`]) or ended (a link is up
    /// again). A link that drops and comes straight back is no outage.
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
    /// Between a failed attempt (or the start of a long wait) and the next link that
    /// comes up: an outage.
    outage: bool,
    /// The wait before the latest attempt: a link that outlives it resets the backoff.
    last_wait: Duration,
    /// When the latest renewal was attempted: the next is at least `renew_retry` later.
    last_renewal: Option<Instant>,
    suspend: SuspendWatch,
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
            suspend: SuspendWatch::new(options.wall_clock, options.suspend_check, Instant::now()),
            target,
            client,
            owner,
            options,
            connected_before: false,
            outage: false,
            last_wait: Duration::ZERO,
            last_renewal: None,
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
                State::Wait(delay) => self.wait(delay).await,
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
                    renew_at: self.renew_at(&subscription),
                    delivered: false,
                })
            }
            Err(Failure::Transient(error, retry_after)) => self.retry(error, retry_after),
            Err(Failure::Permanent(error)) => State::Lost(error),
        }
    }

    /// Wait `delay`, then subscribe again; at once if the machine slept meanwhile.
    async fn wait(&mut self, delay: Duration) -> State {
        let until = Instant::now() + delay;
        loop {
            let check = self.suspend.next_check();
            tokio::select! {
                _ = tokio::time::sleep_until(until) => return State::Subscribe,
                _ = tokio::time::sleep_until(check) => {
                    if let Some(slept) = self.suspend.check(Instant::now()) {
                        self.woke(slept);
                        return State::Subscribe;
                    }
                }
                _ = self.owner.reports().closed() => return State::Stop,
            }
        }
    }

    async fn live(&mut self, mut live: Live) -> State {
        // A jump before this link came up says nothing about it.
        self.suspend.rebase(Instant::now());
        loop {
            let renew_at = live.renew_at;
            let renew = async {
                match renew_at {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            };
            let check = self.suspend.next_check();
            tokio::select! {
                event = live.connection.next() => match event {
                    Some(SocketEvent::Connected) => {}
                    Some(SocketEvent::Notification(payload)) => {
                        live.delivered = true;
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
                _ = tokio::time::sleep_until(check) => {
                    if let Some(slept) = self.suspend.check(Instant::now()) {
                        // The service has most likely dropped the link while we slept,
                        // and it would take the ping watchdog its whole timeout of
                        // awake time to say so: replace it now.
                        self.woke(slept);
                        for event in live.connection.close().await {
                            if let SocketEvent::Notification(payload) = event {
                                self.forward(payload);
                            }
                        }
                        return State::Subscribe;
                    }
                }
                _ = self.owner.reports().closed() => return State::Stop,
            }
        }
    }

    /// The machine slept for `slept`: say so, and start the next attempt from the
    /// first backoff step (the failures before the suspend say nothing about now).
    fn woke(&mut self, slept: Duration) {
        self.status(Status::Woke { slept });
        self.backoff.reset();
        self.last_wait = Duration::ZERO;
    }

    /// Fetch a new endpoint and switch to it: connect the new link, then close the old
    /// one (forwarding what it still held). Notifications sent in the moment both are up
    /// may arrive twice; Graph duplicates them anyway. A failed renewal keeps the old
    /// link and tries again after `renew_retry`, as the clients in docs/graph-socketio.md §1 do; only a
    /// permanent error ends the target.
    async fn renew(&mut self, live: &mut Live) -> Result<(), anyhow::Error> {
        self.last_renewal = Some(Instant::now());
        let fresh = match self.request_endpoint().await {
            Ok(subscription) => self.open(&subscription).await.map(|c| (c, subscription)),
            Err(failure) => Err(failure),
        };
        match fresh {
            Ok((connection, subscription)) => {
                let old = std::mem::replace(&mut live.connection, connection);
                live.since = Instant::now();
                live.renew_at = self.renew_at(&subscription);
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
        let up = live.since.elapsed();
        if held(
            live.delivered,
            up,
            self.last_wait,
            self.options.stable_after,
        ) {
            self.backoff.reset();
        }
        let retry_in = self.backoff.next_delay();
        self.last_wait = retry_in;
        self.status(Status::Disconnected { reason, retry_in });
        if self
            .options
            .outage_after
            .is_some_and(|after| retry_in > after)
        {
            self.set_outage(true);
        }
        State::Wait(retry_in)
    }

    /// Back off before the next attempt; never sooner than Graph's `Retry-After` (the
    /// Graph client waits it out within a request, but gives up on waits beyond its cap).
    fn retry(&mut self, error: String, retry_after: Option<Duration>) -> State {
        let retry_in = self
            .backoff
            .next_delay()
            .max(retry_after.unwrap_or_default());
        self.last_wait = retry_in;
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
        let (answer, date): (Value, _) = match self
            .client
            .get_json_dated(&self.target.socketio_path())
            .await
        {
            Ok(answer) => answer,
            Err(e) if !e.is_transient() => {
                return Err(Failure::Permanent(target::socketio_failed(e, &self.target)))
            }
            Err(e) => return Err(Failure::Transient(e.summary(), e.retry_after())),
        };
        let received = Instant::now();
        let local = DateTime::<Utc>::from((self.options.wall_clock)());
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
        if let Some(date) = date {
            self.check_clock(local, date);
        }
        Ok(Subscription {
            notification_url: url.to_string(),
            expires,
            lifetime: expires.map(|expires| lifetime(expires, date, local)),
            received,
        })
    }

    /// Warn once (per process) when the local clock is far off the service's.
    fn check_clock(&self, local: DateTime<Utc>, service: DateTime<Utc>) {
        let Some((ahead, by)) = skew_worth_a_warning(local, service) else {
            return;
        };
        if !SKEW_WARNED.swap(true, Ordering::Relaxed) {
            self.status(Status::ClockSkew { ahead, by });
        }
    }

    async fn open(&self, subscription: &Subscription) -> Result<Connection, Failure> {
        socket::connect(&subscription.notification_url, &self.options.socket)
            .await
            .map_err(|e| {
                if e.is_transient() {
                    Failure::Transient(e.to_string(), None)
                } else {
                    Failure::Permanent(
                        anyhow::Error::new(e)
                            .context(format!("cannot watch {}", self.target.label)),
                    )
                }
            })
    }

    /// When to renew `subscription` (see [`renewal_due`]).
    fn renew_at(&self, subscription: &Subscription) -> Option<Instant> {
        Some(renewal_due(
            subscription.received,
            subscription.lifetime?,
            self.last_renewal,
            &self.options,
        ))
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

/// Whether a link that ended showed that the way to the service works, so that the
/// next wait starts again from the first backoff step: it delivered a notification, or
/// stayed up at least as long as the wait before it (`stable_after` at most).
fn held(delivered: bool, up: Duration, waited: Duration, stable_after: Duration) -> bool {
    delivered || up >= waited.min(stable_after)
}

/// How long a subscription that expires at `expires` lives from its answer: measured
/// from the answer's `Date` (the service's clock, like `expires`) when there is one,
/// else from the local time the answer arrived. Zero if already past.
fn lifetime(expires: DateTime<Utc>, date: Option<DateTime<Utc>>, local: DateTime<Utc>) -> Duration {
    (expires - date.unwrap_or(local))
        .to_std()
        .unwrap_or(Duration::ZERO)
}

/// `Some((ahead, by))` when the local clock is more than [`SKEW_WARNING`] off the
/// service's (`ahead`: the local one is later).
fn skew_worth_a_warning(local: DateTime<Utc>, service: DateTime<Utc>) -> Option<(bool, Duration)> {
    let ahead = local >= service;
    let by = if ahead {
        local - service
    } else {
        service - local
    }
    .to_std()
    .ok()?;
    (by > SKEW_WARNING).then_some((ahead, by))
}

/// When to renew a subscription received at `received` that lives `lifetime`:
/// `renew_before` ahead of its end, or halfway for one that lives shorter than twice
/// that, at least a second after it came; and never sooner than `renew_retry` after
/// the previous renewal (docs/graph-socketio.md §1: at most once a minute), so that no
/// clock, however wrong, makes renewals a busy loop.
fn renewal_due(
    received: Instant,
    lifetime: Duration,
    last_renewal: Option<Instant>,
    options: &SupervisorOptions,
) -> Instant {
    let due = received + renew_in(lifetime, options.renew_before);
    match last_renewal {
        Some(last) => due.max(last + options.renew_retry),
        None => due,
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
    fn a_link_that_delivered_or_outlived_its_wait_resets_the_backoff() {
        let ms = Duration::from_millis;
        // Flapping every few seconds after a one-second wait: the link works.
        assert!(held(false, 3 * S, S, 60 * S));
        assert!(held(false, S, S, 60 * S));
        // Dropped sooner than it was waited for: an endpoint that accepts and drops.
        assert!(!held(false, ms(200), S, 60 * S));
        assert!(!held(false, 10 * S, 16 * S, 60 * S));
        // ... unless it delivered a notification.
        assert!(held(true, ms(200), 16 * S, 60 * S));
        // A minute up is enough after any wait (a Retry-After of ten minutes, say).
        assert!(held(false, 60 * S, 600 * S, 60 * S));
    }

    /// Links that drop every 10 s and come straight back: every wait stays at the first
    /// step (the old rule, a reset only after 60 s up, climbed to 60 s).
    #[tokio::test(start_paused = true)]
    async fn flapping_links_keep_the_first_backoff_step() {
        let (mut sup, _reports) = supervisor();
        for _ in 0..8 {
            let live = idle_live();
            tokio::time::advance(10 * S).await;
            match sup.disconnected(&live, "flap".into()) {
                State::Wait(wait) => assert!(wait <= S.mul_f64(1.2), "waited {wait:?}"),
                _ => panic!("a drop waits"),
            }
        }
        // A link that drops at once climbs as before.
        let mut waits = Vec::new();
        for _ in 0..4 {
            let live = idle_live();
            match sup.disconnected(&live, "refused".into()) {
                State::Wait(wait) => waits.push(wait),
                _ => panic!("a drop waits"),
            }
        }
        assert!(waits[3] >= 8 * S.mul_f64(0.8), "{waits:?}");
    }

    /// A `Live` around a connection that never says anything, up from now.
    fn idle_live() -> Live {
        Live {
            connection: socket::idle_connection(),
            since: Instant::now(),
            renew_at: None,
            delivered: false,
        }
    }

    #[test]
    fn a_long_wait_after_a_drop_is_an_outage_for_the_owner() {
        let (target, client) = parts();
        let (tx, _reports) = mpsc::unbounded_channel();
        let (link_tx, link_up) = tokio::sync::watch::channel(true);
        let owner = Recorder {
            reports: tx,
            link_up: link_tx,
        };
        let options = SupervisorOptions {
            first_backoff: 5 * S,
            max_backoff: 5 * S,
            outage_after: Some(S),
            ..SupervisorOptions::default()
        };
        let mut sup = Supervisor::new(target, client, owner, options);
        sup.disconnected(&idle_live(), "dropped".into());
        assert!(!*link_up.borrow(), "a 5 s wait with a 1 s fallback poll");
    }

    #[test]
    fn lifetime_is_taken_from_the_services_clock() {
        let t = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
        let expires = t("2026-05-11T12:00:00Z");
        let service = t("2026-05-11T11:00:00Z");
        // The local clock two hours ahead: by it, the subscription is long gone.
        let local = t("2026-05-11T13:00:00Z");
        assert_eq!(lifetime(expires, Some(service), local), 3600 * S);
        assert_eq!(lifetime(expires, None, local), Duration::ZERO);
        assert_eq!(lifetime(expires, None, service), 3600 * S);
        assert_eq!(skew_worth_a_warning(local, service), Some((true, 7200 * S)));
        assert_eq!(
            skew_worth_a_warning(service, local),
            Some((false, 7200 * S))
        );
        assert_eq!(
            skew_worth_a_warning(service + chrono::Duration::seconds(90), service),
            None
        );
    }

    #[test]
    fn renewals_are_at_least_a_minute_apart_whatever_the_clock_says() {
        let options = SupervisorOptions::default();
        let now = Instant::now();
        // An hour to live: two minutes ahead of its end.
        assert_eq!(renewal_due(now, 3600 * S, None, &options), now + 3480 * S);
        // Already expired by the times given (a wrong clock without a Date header):
        // the first renewal in a second, the next not before a minute after it.
        assert_eq!(renewal_due(now, Duration::ZERO, None, &options), now + S);
        let renewed = now + S;
        assert_eq!(
            renewal_due(renewed, Duration::ZERO, Some(renewed), &options),
            renewed + 60 * S
        );
        // A renewal long ago does not delay one that is due.
        assert_eq!(
            renewal_due(now, 3600 * S, Some(now), &options),
            now + 3480 * S
        );
    }

    #[test]
    fn subscription_debug_hides_the_token() {
        let s = Subscription {
            notification_url: "https://h.example/notifications?token=s3cr3t".into(),
            expires: None,
            lifetime: None,
            received: Instant::now(),
        };
        let text = format!("{s:?}");
        assert!(!text.contains("s3cr3t"), "{text}");
    }
}
