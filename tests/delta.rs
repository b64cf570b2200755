//! The building blocks of `--changes` against the in-process emulator, through the
//! library API: the delta feed, the coalescer driving it, the state file and the path
//! filter. Counts come from the emulator's stats and request log, not from the clock.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use graphwatch::testing::{
    coalesce, http_client, payload, socket, Change, Coalescer, DeltaFeed, GraphClient, LastWins,
    Outcome, Reason, Resume, Round, Secret, SocketEvent, SocketOptions, StateFile, Target,
    TargetKind, TokenSource,
};
use graphwatch_emulator::{seed, EmulatorArgs, Running};
use serde_json::{json, Value};
use tokio::sync::mpsc;

struct Emu {
    running: Running,
    base: String,
    token: String,
    http: reqwest::Client,
}

impl Emu {
    async fn start() -> Emu {
        Emu::start_with(|_| {}).await
    }

    async fn start_with(tweak: impl FnOnce(&mut EmulatorArgs)) -> Emu {
        let mut args = EmulatorArgs::default();
        tweak(&mut args);
        let running = graphwatch_emulator::start(args)
            .await
            .expect("emulator starts");
        let base = running.base_url.clone();
        let http = reqwest::Client::new();
        let token = http
            .post(format!("{base}/_emulator/tokens"))
            .json(&json!({"user": seed::ADELE_UPN}))
            .send()
            .await
            .unwrap()
            .json::<Value>()
            .await
            .unwrap()["access_token"]
            .as_str()
            .expect("access_token")
            .to_string();
        Emu {
            running,
            base,
            token,
            http,
        }
    }

    fn client(&self) -> GraphClient {
        GraphClient::new(
            http_client().unwrap(),
            url::Url::parse(&format!("{}/v1.0", self.base)).unwrap(),
            TokenSource::fixed(Secret::new(self.token.clone())),
        )
    }

    fn drive(&self) -> Target {
        Target {
            label: "drive:me".into(),
            kind: TargetKind::Drive {
                drive_id: seed::ADELE_DRIVE.into(),
            },
            display_name: "OneDrive".into(),
            web_url: None,
        }
    }

    fn issues(&self) -> Target {
        Target {
            label: "list:site-eng/list-issues".into(),
            kind: TargetKind::List {
                site_id: seed::SITE_ID.into(),
                list_id: seed::ISSUES_LIST_ID.into(),
            },
            display_name: "Issues".into(),
            web_url: None,
        }
    }

    async fn graph(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut request = self
            .http
            .request(method.clone(), format!("{}/v1.0{path}", self.base))
            .bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        assert!(
            response.status().is_success(),
            "{method} {path}: {}",
            response.status()
        );
        response.json().await.unwrap_or(Value::Null)
    }

    /// Upload a file to Adele's drive; returns the driveItem.
    async fn upload(&self, path: &str, content: &str) -> Value {
        let response = self
            .http
            .put(format!(
                "{}/v1.0/drives/{}/root:/{path}:/content",
                self.base,
                seed::ADELE_DRIVE
            ))
            .bearer_auth(&self.token)
            .body(content.to_string())
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success(), "PUT {path}");
        response.json().await.unwrap()
    }

    async fn delete_item(&self, id: &str) {
        self.graph(
            reqwest::Method::DELETE,
            &format!("/drives/{}/items/{id}", seed::ADELE_DRIVE),
            None,
        )
        .await;
    }

    async fn control(&self, path: &str, body: Value) {
        let response = self
            .http
            .post(format!("{}/_emulator/{path}", self.base))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success(), "{path}");
    }

    fn delta_requests(&self) -> u64 {
        self.running.state.control.counter("requests.delta")
    }

    /// The delta entries of the request log: (elapsedMs, status, kind).
    async fn delta_log(&self) -> Vec<(f64, u64, String)> {
        let log: Value = self
            .http
            .get(format!("{}/_emulator/log", self.base))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        log["entries"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["route"] == "delta")
            .map(|e| {
                (
                    e["elapsedMs"].as_f64().unwrap(),
                    e["status"].as_u64().unwrap_or(0),
                    e["kind"].as_str().unwrap_or("").to_string(),
                )
            })
            .collect()
    }

    async fn stop(self) {
        self.running.shutdown().await;
    }
}

fn changes(outcome: Outcome) -> Round {
    match outcome {
        Outcome::Changes(round) => round,
        Outcome::Resync { reason, .. } => panic!("unexpected resync: {reason}"),
    }
}

fn item(change: &Change) -> Value {
    serde_json::from_str(change.item.get()).unwrap()
}

fn id_of(value: &Value) -> String {
    value["id"].as_str().unwrap().to_string()
}

/// Drive a feed with a coalescer the way the watch loop will, until the coalescer has
/// nothing left to do (no poll interval in these settings); returns every round.
async fn drive_rounds(
    coalescer: &mut Coalescer,
    feed: &mut DeltaFeed,
    pokes: &mut mpsc::Receiver<()>,
) -> Vec<(Reason, Round)> {
    let mut rounds = Vec::new();
    loop {
        if rounds.len() > 20 {
            panic!("runaway rounds");
        }
        let reason = coalescer.next_round(Some(&mut *pokes)).await;
        let outcome = coalescer
            .during(feed.round(&mut LastWins::default()), Some(&mut *pokes))
            .await;
        let round = changes(outcome.expect("round"));
        coalescer.finished(round.is_empty());
        rounds.push((reason, round));
        if coalescer.deadline().is_none() {
            return rounds;
        }
    }
}

fn quick_settings() -> coalesce::Timings {
    coalesce::Timings {
        poll: None,
        ..coalesce::Timings::default()
    }
}

/// Forward the connection's notifications as pokes until it ends.
fn forward(mut connection: socket::Connection, tx: mpsc::Sender<()>, count: Arc<AtomicUsize>) {
    tokio::spawn(async move {
        while let Some(event) = connection.next().await {
            if let SocketEvent::Notification(payload) = event {
                for _ in payload::decode_notifications(payload) {
                    count.fetch_add(1, Ordering::SeqCst);
                    let _ = tx.try_send(());
                }
            }
        }
    });
}

#[tokio::test(flavor = "multi_thread")]
async fn a_burst_of_20_changes_is_each_item_once_in_at_most_3_rounds() {
    let emu = Emu::start().await;
    let target = emu.drive();
    let mut feed = DeltaFeed::new(emu.client(), target.clone(), None);
    feed.enumerate(&mut LastWins::default(), false)
        .await
        .unwrap();
    // The emulator's real notifications: 300 ms after each change, two copies.
    let subscription: Value = emu
        .client()
        .get_json(&target.socketio_path())
        .await
        .expect("socketIo endpoint");
    let url = subscription["notificationUrl"]
        .as_str()
        .unwrap()
        .to_string();
    let mut connection = socket::connect(&url, &SocketOptions::default())
        .await
        .expect("joins");
    assert_eq!(connection.next().await, Some(SocketEvent::Connected));
    let (tx, mut pokes) = mpsc::channel(1024);
    let count = Arc::new(AtomicUsize::new(0));
    forward(connection, tx, count.clone());
    let mut coalescer = Coalescer::new(quick_settings(), tokio::time::Instant::now());
    let before = emu.delta_requests();

    let mut ids = Vec::new();
    for i in 0..20 {
        ids.push(id_of(
            &emu.upload(&format!("Burst/file{i:02}.txt"), "x").await,
        ));
    }
    // Rounds until every notification of the burst was taken in and nothing is left to
    // do (no safety-net poll in these settings).
    let mut rounds = Vec::new();
    loop {
        assert!(rounds.len() <= 20, "runaway rounds");
        let reason = coalescer.next_round(Some(&mut pokes)).await;
        let outcome = coalescer
            .during(feed.round(&mut LastWins::default()), Some(&mut pokes))
            .await;
        let round = changes(outcome.expect("round"));
        coalescer.finished(round.is_empty());
        rounds.push((reason, round));
        let all_in = count.load(Ordering::SeqCst) >= 40 && pokes.is_empty();
        if all_in && coalescer.deadline().is_none() {
            break;
        }
    }
    assert_eq!(
        count.load(Ordering::SeqCst),
        40,
        "20 changes, each notified twice"
    );

    let mut seen: HashMap<String, usize> = HashMap::new();
    for (_, round) in &rounds {
        for change in &round.changes {
            *seen.entry(change.id.clone()).or_default() += 1;
        }
    }
    for id in &ids {
        assert_eq!(seen.get(id), Some(&1), "file {id} once: {seen:?}");
    }
    let pages: usize = rounds.iter().map(|(_, r)| r.pages).sum();
    assert_eq!(emu.delta_requests() - before, pages as u64);
    assert!(
        rounds.len() <= 3,
        "{} rounds for 40 notifications: {:?}",
        rounds.len(),
        rounds.iter().map(|r| r.0).collect::<Vec<_>>()
    );
    eprintln!(
        "burst of 20 changes / 40 notifications: {} round(s), {} delta request(s)",
        rounds.len(),
        pages
    );
    emu.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn repeated_changes_to_one_item_come_once_with_the_last_state() {
    let emu = Emu::start().await;
    let mut feed = DeltaFeed::new(emu.client(), emu.drive(), None);
    feed.enumerate(&mut LastWins::default(), false)
        .await
        .unwrap();
    let mut id = String::new();
    for n in 1..=5 {
        id = id_of(&emu.upload("Notes/todo.txt", &"x".repeat(n * 10)).await);
    }
    let round = changes(feed.round(&mut LastWins::default()).await.unwrap());
    let mine: Vec<&Change> = round.changes.iter().filter(|c| c.id == id).collect();
    assert_eq!(mine.len(), 1);
    assert_eq!(item(mine[0])["size"], 50, "the last state");
    // Every id once in the round (the folder and root changed five times too).
    let mut ids: Vec<&str> = round.changes.iter().map(|c| c.id.as_str()).collect();
    let n = ids.len();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), n);
    // The same, paged one item at a time: pages agree and every id comes once.
    emu.running
        .state
        .set_settings(graphwatch_emulator::Settings {
            delta_page_size: 1,
            ..emu.running.state.settings()
        });
    for n in 6..=8 {
        emu.upload("Notes/todo.txt", &"x".repeat(n * 10)).await;
    }
    emu.upload("Notes/other.txt", "y").await;
    let round = changes(feed.round(&mut LastWins::default()).await.unwrap());
    assert!(round.pages >= 4, "paged: {}", round.pages);
    let mine: Vec<&Change> = round.changes.iter().filter(|c| c.id == id).collect();
    assert_eq!(mine.len(), 1);
    assert_eq!(item(mine[0])["size"], 80);
    emu.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn deletes_are_deleted_changes_and_an_empty_round_is_empty() {
    let emu = Emu::start().await;
    let mut feed = DeltaFeed::new(emu.client(), emu.drive(), None);
    feed.enumerate(&mut LastWins::default(), false)
        .await
        .unwrap();
    let id = id_of(&emu.upload("Old/gone.txt", "bye").await);
    changes(feed.round(&mut LastWins::default()).await.unwrap());
    let quiet = changes(feed.round(&mut LastWins::default()).await.unwrap());
    assert!(quiet.is_empty(), "{:?}", quiet.changes);
    emu.delete_item(&id).await;
    let round = changes(feed.round(&mut LastWins::default()).await.unwrap());
    let gone = round.changes.iter().find(|c| c.id == id).expect("deleted");
    assert!(gone.deleted);
    assert_eq!(item(gone)["deleted"]["state"], "deleted");
    let line = gone.clone().into_event("drive:me").to_json_line();
    assert!(line.contains(r#""change":"deleted""#), "{line}");
    emu.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn list_items_are_changes_with_their_fields() {
    let emu = Emu::start().await;
    let mut feed = DeltaFeed::new(emu.client(), emu.issues(), None);
    feed.enumerate(&mut LastWins::default(), false)
        .await
        .unwrap();
    let items = "/sites/site-eng/lists/list-issues/items";
    let created = emu
        .graph(
            reqwest::Method::POST,
            items,
            Some(json!({"fields": {"Title": "Printer on fire"}})),
        )
        .await;
    let id = id_of(&created);
    emu.graph(
        reqwest::Method::PATCH,
        &format!("{items}/{id}/fields"),
        Some(json!({"Status": "Active"})),
    )
    .await;
    let round = changes(feed.round(&mut LastWins::default()).await.unwrap());
    assert_eq!(round.changes.len(), 1, "{:?}", round.changes);
    let change = &round.changes[0];
    assert_eq!(change.id, id);
    assert!(!change.deleted);
    let fields = &item(change)["fields"];
    assert_eq!(fields["Title"], "Printer on fire");
    assert_eq!(fields["Status"], "Active");
    emu.graph(reqwest::Method::DELETE, &format!("{items}/{id}"), None)
        .await;
    let round = changes(feed.round(&mut LastWins::default()).await.unwrap());
    assert_eq!(round.changes.len(), 1);
    assert!(round.changes[0].deleted);
    emu.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_empty_round_after_a_notification_is_looked_at_again() {
    // Delta sees a change only 1.5 s after it is made: the first round (0.5 s after the
    // poke) is empty, the re-check 2 s later finds it.
    let emu = Emu::start_with(|a| a.settings.delta_lag_ms = 1_500).await;
    let mut feed = DeltaFeed::new(emu.client(), emu.drive(), None);
    feed.enumerate(&mut LastWins::default(), false)
        .await
        .unwrap();
    let (tx, mut pokes) = mpsc::channel(16);
    let mut coalescer = Coalescer::new(quick_settings(), tokio::time::Instant::now());
    let id = id_of(&emu.upload("Lagging/late.txt", "z").await);
    tx.try_send(()).unwrap();
    let rounds = drive_rounds(&mut coalescer, &mut feed, &mut pokes).await;
    let summary: Vec<(Reason, bool)> = rounds
        .iter()
        .map(|(reason, round)| (*reason, round.changes.iter().any(|c| c.id == id)))
        .collect();
    assert_eq!(
        summary,
        vec![(Reason::Notification, false), (Reason::Recheck(1), true)]
    );
    assert!(rounds[0].1.is_empty());
    emu.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_410_starts_a_new_baseline_once_and_reports_a_resync() {
    let emu = Emu::start().await;
    let mut feed = DeltaFeed::new(emu.client(), emu.drive(), None);
    feed.enumerate(&mut LastWins::default(), false)
        .await
        .unwrap();
    let old_cursor = feed.cursor().unwrap().to_string();
    // A change the expired cursor would have reported.
    let lost = id_of(&emu.upload("Before/lost.txt", "l").await);
    emu.control(
        "faults/fail",
        json!({"route": "delta", "status": 410, "count": 1}),
    )
    .await;
    let before = emu.delta_requests();
    let mut baseline = LastWins::default();
    let outcome = feed.round(&mut baseline).await.unwrap();
    let Outcome::Resync {
        reason,
        message,
        cursor,
    } = outcome
    else {
        panic!("expected a resync");
    };
    assert_eq!(reason, "resyncRequired");
    assert!(message.contains("410"), "{message}");
    // The baseline is a full enumeration into the sink: the change made before the
    // resync is in it (the changes task writes it as a difference from its index).
    assert!(baseline.finish().iter().any(|c| c.id == lost));
    assert_ne!(cursor, old_cursor);
    assert_eq!(feed.cursor(), Some(cursor.as_str()));
    assert_eq!(emu.delta_requests() - before, 2, "the 410 and one baseline");
    // The new baseline works: a change after it is the next round's.
    let id = id_of(&emu.upload("After/resync.txt", "r").await);
    let round = changes(feed.round(&mut LastWins::default()).await.unwrap());
    assert!(round.changes.iter().any(|c| c.id == id));
    assert!(
        !round.changes.iter().any(|c| c.id == lost),
        "before the baseline"
    );

    // A 410 on the baseline too is an error, not a loop.
    emu.control(
        "faults/fail",
        json!({"route": "delta", "status": 410, "count": 5}),
    )
    .await;
    let before = emu.delta_requests();
    let err = feed.round(&mut LastWins::default()).await.unwrap_err();
    assert_eq!(err.graph().and_then(|e| e.status()), Some(410));
    assert_eq!(emu.delta_requests() - before, 2);
    emu.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unknown_cursor_follows_the_location_to_a_new_baseline() {
    let emu = Emu::start().await;
    emu.upload("Existing/a.txt", "a").await;
    let garbage = format!(
        "{}/v1.0/drives/{}/root/delta?token=not-a-cursor",
        emu.base,
        seed::ADELE_DRIVE
    );
    let mut feed = DeltaFeed::new(emu.client(), emu.drive(), Some(garbage));
    let mut baseline = LastWins::default();
    let Outcome::Resync { .. } = feed.round(&mut baseline).await.unwrap() else {
        panic!("expected a resync");
    };
    // The emulator's Location is a fresh enumeration: every current item.
    assert!(baseline
        .finish()
        .iter()
        .any(|c| c.node.name.as_deref() == Some("a.txt")));
    let id = id_of(&emu.upload("Existing/b.txt", "b").await);
    let round = changes(feed.round(&mut LastWins::default()).await.unwrap());
    let names: Vec<_> = round
        .changes
        .iter()
        .filter_map(|c| c.node.name.clone())
        .collect();
    assert!(round.changes.iter().any(|c| c.id == id));
    assert!(!names.contains(&"a.txt".to_string()), "{names:?}");

    // A saved cursor from another Graph host is not sent there: a resync, no request.
    let foreign = "https://elsewhere.example/v1.0/drives/x/root/delta?token=abc".to_string();
    let mut feed = DeltaFeed::new(emu.client(), emu.drive(), Some(foreign));
    let before = emu.delta_requests();
    let outcome = feed.round(&mut LastWins::default()).await.unwrap();
    assert!(matches!(outcome, Outcome::Resync { .. }));
    assert_eq!(emu.delta_requests() - before, 1, "only the new baseline");
    emu.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn retry_after_is_waited_out_before_the_next_delta_request() {
    let emu = Emu::start().await;
    let mut feed = DeltaFeed::new(emu.client(), emu.drive(), None);
    feed.enumerate(&mut LastWins::default(), false)
        .await
        .unwrap();

    // Within the client's cap: the client waits and retries by itself.
    emu.control(
        "faults/fail",
        json!({"route": "delta", "status": 429, "count": 1, "retryAfter": 1}),
    )
    .await;
    let from = emu.delta_log().await.len();
    changes(feed.round(&mut LastWins::default()).await.unwrap());
    let log = emu.delta_log().await[from..].to_vec();
    assert_eq!(log.len(), 2, "{log:?}");
    assert_eq!((log[0].1, log[0].2.as_str()), (429, "fault"));
    assert!(log[1].0 - log[0].0 >= 1_000.0, "{log:?}");

    // Beyond the cap: the round fails at once with the wait, and the feed's next
    // request still waits until Retry-After has elapsed.
    let mut feed = DeltaFeed::new(
        emu.client()
            .with_max_retry_after(Duration::from_millis(500)),
        emu.drive(),
        feed.cursor().map(str::to_string),
    );
    emu.control(
        "faults/fail",
        json!({"route": "delta", "status": 429, "count": 1, "retryAfter": 2}),
    )
    .await;
    let from = emu.delta_log().await.len();
    let err = feed.round(&mut LastWins::default()).await.unwrap_err();
    assert_eq!(err.retry_after(), Some(Duration::from_secs(2)));
    assert!(err.is_transient());
    assert!(feed.not_before().is_some());
    assert_eq!(emu.delta_log().await.len() - from, 1, "failed at once");
    changes(feed.round(&mut LastWins::default()).await.unwrap());
    let log = emu.delta_log().await[from..].to_vec();
    assert_eq!(log.len(), 2, "{log:?}");
    assert_eq!(log[0].1, 429);
    assert!(log[1].0 - log[0].0 >= 2_000.0, "{log:?}");
    emu.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_state_file_resumes_and_nothing_changed_while_down_is_lost() {
    let emu = Emu::start().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    let target = emu.drive();

    // First run: enumerate, see a change, commit after "writing" it.
    let state = StateFile::load(&path).unwrap();
    let (mut index, resume) = state.open_index(&target.id()).unwrap();
    assert_eq!(resume, Resume::Fresh);
    let mut feed = DeltaFeed::new(emu.client(), target.clone(), None);
    let cursor = feed
        .enumerate(&mut LastWins::default(), false)
        .await
        .unwrap();
    index.commit(&cursor).unwrap();
    let a = id_of(&emu.upload("Run/a.txt", "1").await);
    let round = changes(feed.round(&mut LastWins::default()).await.unwrap());
    assert!(round.changes.iter().any(|c| c.id == a));
    index.commit(&round.cursor).unwrap();
    // A round whose lines were never flushed (the process died): not committed.
    let c = id_of(&emu.upload("Run/c.txt", "3").await);
    let lost = changes(feed.round(&mut LastWins::default()).await.unwrap());
    assert!(lost.changes.iter().any(|ch| ch.id == c));
    drop((feed, index));

    // While down: more changes.
    let b = id_of(&emu.upload("Run/b.txt", "2").await);
    emu.delete_item(&a).await;

    // Second run: resume.
    let state = StateFile::load(&path).unwrap();
    let (_, resume) = state.open_index(&target.id()).unwrap();
    let Resume::Cursor(cursor) = resume else {
        panic!("{resume:?}")
    };
    let mut feed = DeltaFeed::new(emu.client(), target.clone(), Some(cursor));
    let round = changes(feed.round(&mut LastWins::default()).await.unwrap());
    let deleted: HashMap<String, bool> = round
        .changes
        .iter()
        .map(|ch| (ch.id.clone(), ch.deleted))
        .collect();
    assert_eq!(deleted.get(&b), Some(&false), "made while down");
    assert_eq!(deleted.get(&a), Some(&true), "deleted while down");
    assert_eq!(deleted.get(&c), Some(&false), "repeated, not skipped");

    // No secret in the file: not the access token, only cursors and the index.
    let bytes = std::fs::read(&path).unwrap();
    assert!(!String::from_utf8_lossy(&bytes).contains(&emu.token));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
    emu.stop().await;
}
