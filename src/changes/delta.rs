//! The delta engine of `--changes`: one [`DeltaFeed`] per target turns "something
//! changed" into the list of changed items (docs/graph-socketio.md §4).
//!
//! A round pages through `@odata.nextLink` until a page carries `@odata.deltaLink`; that
//! link is the cursor of the next round. Delta is latest state, not history, and the same
//! item can still show up more than once within a round (on several pages, or as an
//! ancestor of several changed files): the round keeps the **last** occurrence of each
//! id, at the position of that last occurrence, so a reader sees every item once and in
//! the order of its final state. Items are kept as the raw JSON delta sent
//! ([`RawValue`]), key order and all, because the contract (docs/contract.md) promises the item "exactly as
//! delta returned it".
//!
//! Rules the feed keeps on its own, so that the watch loop cannot get them wrong:
//!
//! - one request at a time per target: every method takes `&mut self`, so one task owns
//!   the feed and a second round cannot start while one runs;
//! - a `Retry-After` is honoured even when it is longer than the [`GraphClient`] waits
//!   by itself: the feed remembers it and its next request waits until it has elapsed,
//!   whoever calls;
//! - a 410 (cursor no longer valid) never loops: the feed takes a new baseline once and
//!   reports [`Outcome::Resync`]; if the baseline fails too, that is an error of the
//!   round, a transient one (tried again later with backoff, never the target's end);
//! - a failed round leaves the cursor where it was, so the next round repeats it
//!   (at-least-once, never a skipped change);
//! - a round is bounded ([`RoundLimits`], docs/reliability.md "Transient conditions"):
//!   an `@odata.nextLink` seen before in the round is a loop, and a round longer than
//!   the limits (pages, items, bytes of items) is cut. Either way nothing of it is
//!   returned and the cursor stays where it was — a deltaLink can only be had at the
//!   end of a round, and committing one past items that were not written would skip
//!   them — so the round fails as transient ([`DeltaError::Cut`]) and is asked again
//!   later with the coalescer's backoff. Requests are paced: [`RoundLimits::burst`]
//!   at once, then at most [`RoundLimits::per_second`], whatever the rounds look like.

use std::collections::HashMap;
use std::hash::BuildHasher as _;
use std::time::Duration;

use serde::Deserialize;
use serde_json::value::RawValue;
use tokio::time::Instant;

use crate::changes::index::Node;
use crate::event::{compact, is_deleted, ChangeDetail, ChangeKind, Event};
use crate::graph::{GraphClient, GraphError};
use crate::target::Target;
use crate::util::redact::redact_link;
use crate::util::url::{base_str, same_origin};

/// How far one delta round may go, and how fast a feed may ask. The defaults are the
/// documented bounds (docs/reliability.md, "Transient conditions").
#[derive(Debug, Clone, Copy)]
pub struct RoundLimits {
    /// Pages in one round, empty ones included.
    pub pages: usize,
    /// Items received in one round, repeats of an id included.
    pub items: usize,
    /// Bytes of item JSON received in one round.
    pub bytes: usize,
    /// Requests a feed may make at once...
    pub burst: u32,
    /// ...and then per second (a token bucket: an idle feed earns its burst back).
    pub per_second: f64,
}

impl RoundLimits {
    /// 10,000 pages (2 million items at the live service's 200 a page), 500,000 items,
    /// 256 MiB of item JSON (about 170,000 driveItems of the live service's 1.5 KB):
    /// a peak of at most about 450 MB, whatever the server sends (measured:
    /// docs/reliability.md). 100 requests at once, then 10 a second.
    pub const DEFAULT: RoundLimits = RoundLimits {
        pages: 10_000,
        items: 500_000,
        bytes: 256 << 20,
        burst: 100,
        per_second: 10.0,
    };
}

/// The request pacing of one feed: a token bucket of [`RoundLimits::burst`] requests,
/// refilled at [`RoundLimits::per_second`]. Pure: the caller gives the time.
#[derive(Debug, Clone)]
struct Pace {
    burst: f64,
    per_second: f64,
    /// Requests that may be made now; below zero, owed.
    tokens: f64,
    at: Option<Instant>,
}

impl Pace {
    fn new(limits: &RoundLimits) -> Pace {
        let burst = f64::from(limits.burst.max(1));
        Pace {
            burst,
            per_second: limits.per_second.max(0.001),
            tokens: burst,
            at: None,
        }
    }

    /// Take one request at `now`: how long to wait before making it.
    fn take(&mut self, now: Instant) -> Duration {
        if let Some(at) = self.at {
            let earned = now.saturating_duration_since(at).as_secs_f64() * self.per_second;
            self.tokens = (self.tokens + earned).min(self.burst);
        }
        self.at = Some(now);
        self.tokens -= 1.0;
        if self.tokens >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-self.tokens / self.per_second)
        }
    }
}

/// One changed item of a round, as delta returned it.
#[derive(Debug, Clone)]
pub struct Change {
    /// The item's `id`.
    pub id: String,
    /// The item carries a `deleted` facet, as delta marks removed items.
    pub deleted: bool,
    /// The item exactly as delta returned it (compacted to one line, keys in order).
    pub item: Box<RawValue>,
    /// What the item index keeps of it (`name` is missing on deleted items of business
    /// accounts).
    pub node: Node,
}

impl Change {
    /// The `change` line of this item without an index (`modified` or `deleted`): for
    /// the fuzz targets, which check the line whatever the item.
    pub fn into_event(self, target: impl Into<String>) -> Event {
        let kind = if self.deleted {
            ChangeKind::Deleted
        } else {
            ChangeKind::Modified
        };
        Event::change(target, kind, ChangeDetail::default(), self.item)
    }
}

/// Where the items of a round's pages go: kept for the round ([`LastWins`], bounded by
/// [`RoundLimits`]), or streamed into the item index (an enumeration, which may be
/// as large as the drive).
pub trait PageSink: Send {
    /// One page's items, in order.
    fn page(&mut self, changes: Vec<Change>) -> Result<(), String>;
    /// The round's items are held in memory: [`RoundLimits::items`] and
    /// [`RoundLimits::bytes`] apply.
    fn bounded(&self) -> bool {
        false
    }
}

/// The changes of one round and the cursor after them.
#[derive(Debug, Clone)]
pub struct Round {
    /// Changed items in order, each id once (its last occurrence).
    pub changes: Vec<Change>,
    /// The new `@odata.deltaLink`. The feed already continues from it; the caller
    /// saves it in the `--state` file only after the round's lines were written and
    /// flushed ([`crate::changes::state::StateFile::commit`]).
    pub cursor: String,
    /// Delta requests the round took.
    pub pages: usize,
}

impl Round {
    /// No item changed (delta may lag the notification: look again shortly).
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }
}

/// What a call to [`DeltaFeed::round`] found.
#[derive(Debug)]
pub enum Outcome {
    /// The changes since the previous cursor.
    Changes(Round),
    /// The cursor was no longer valid (410, or a saved cursor for another Graph host):
    /// the feed took a new baseline — a full enumeration, whose items went to the sink
    /// given to [`DeltaFeed::round`] — and has said so on stderr (a warning with
    /// `message`). Write a `resync` line (`Event::resync(label, reason)`), then the
    /// differences between the enumeration and the item index; commit `cursor` like
    /// any round's.
    Resync {
        /// Short and stable, for the `resync` line: Graph's error code
        /// (`resyncRequired`, `resyncChangesApplyDifferences`, …) or `foreignCursor`.
        reason: String,
        /// The sentence for people.
        message: String,
        cursor: String,
    },
}

impl Outcome {
    /// The cursor to commit after this outcome's lines were written.
    pub fn cursor(&self) -> &str {
        match self {
            Outcome::Changes(round) => &round.cursor,
            Outcome::Resync { cursor, .. } => cursor,
        }
    }
}

/// A failed delta round or baseline.
#[derive(Debug, thiserror::Error)]
pub enum DeltaError {
    /// The request failed (throttled beyond the client's patience, network, 5xx, 403, …).
    #[error("delta for {target}: {source}")]
    Graph {
        target: String,
        #[source]
        source: GraphError,
    },
    /// Graph answered with something that is not a delta page.
    #[error("delta for {target}: unexpected answer from Graph ({detail})")]
    Shape { target: String, detail: String },
    /// The round was given up before its end so that it stays bounded: its pages loop,
    /// or it went past [`RoundLimits`]. Nothing of it was returned; the cursor stays.
    #[error(
        "delta for {target}: {detail}; the round is dropped and the cursor stays where it was"
    )]
    Cut { target: String, detail: String },
}

impl DeltaError {
    /// How long Graph asked to wait (429/503 with `Retry-After`). The feed honours it
    /// by itself; the scheduler uses it to not even try earlier.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            DeltaError::Graph { source, .. } => source.retry_after(),
            DeltaError::Shape { .. } | DeltaError::Cut { .. } => None,
        }
    }

    /// The underlying Graph error, if the request failed.
    pub fn graph(&self) -> Option<&GraphError> {
        match self {
            DeltaError::Graph { source, .. } => Some(source),
            DeltaError::Shape { .. } | DeltaError::Cut { .. } => None,
        }
    }

    /// Worth another round later: a bad page, a round cut, a 410 on a new baseline, or
    /// what [`GraphError::is_transient`] calls transient (the one rule).
    ///
    /// A 410 that reaches the caller is always a baseline's own: a cursor's 410 is
    /// turned into [`Outcome::Resync`] by [`DeltaFeed::round`]. The service refusing the
    /// fresh enumeration it just pointed at is its own hiccup, not the target's end:
    /// the round is tried again with backoff, from the cursor, which leads to a new
    /// baseline if the cursor is still refused.
    pub fn is_transient(&self) -> bool {
        match self {
            DeltaError::Shape { .. } | DeltaError::Cut { .. } => true,
            DeltaError::Graph { source, .. } => source.is_gone() || source.is_transient(),
        }
    }
}

/// The delta cursor of one target and the requests that move it. Owned by one task.
pub struct DeltaFeed {
    client: GraphClient,
    target: Target,
    /// The `@odata.deltaLink` to continue from; `None` until a baseline was taken.
    cursor: Option<String>,
    /// No request before this (a `Retry-After` the client did not wait out).
    not_before: Option<Instant>,
    limits: RoundLimits,
    pace: Pace,
}

impl DeltaFeed {
    /// A feed for `target`, continuing from `cursor` (a deltaLink from the state file)
    /// or, with `None`, starting from now at the first round.
    pub fn new(client: GraphClient, target: Target, cursor: Option<String>) -> Self {
        DeltaFeed {
            client,
            target,
            cursor,
            not_before: None,
            limits: RoundLimits::DEFAULT,
            pace: Pace::new(&RoundLimits::DEFAULT),
        }
    }

    /// Other bounds than [`RoundLimits::DEFAULT`] (tests reach them in seconds).
    pub fn with_limits(mut self, limits: RoundLimits) -> Self {
        self.pace = Pace::new(&limits);
        self.limits = limits;
        self
    }

    /// The deltaLink the next round starts from (`None` before the first baseline).
    pub fn cursor(&self) -> Option<&str> {
        self.cursor.as_deref()
    }

    /// Earliest time of the next request, when Graph asked us to wait.
    pub fn not_before(&self) -> Option<Instant> {
        self.not_before.filter(|t| *t > Instant::now())
    }

    /// Enumerate every current item (`GET {delta}` without a token) into `sink` (the
    /// item index is built from them). A feed without a cursor, or told to `restart`,
    /// continues from the enumeration's deltaLink, which is returned; otherwise a feed
    /// resumed from a saved cursor keeps it (it still owes the changes made since then)
    /// and returns it.
    pub async fn enumerate(
        &mut self,
        sink: &mut dyn PageSink,
        restart: bool,
    ) -> Result<String, DeltaError> {
        let link = self.client_link(&self.target.delta_path());
        let cursor = self.fetch(&link, sink).await?.cursor;
        match &self.cursor {
            Some(kept) if !restart => Ok(kept.clone()),
            _ => {
                self.cursor = Some(cursor.clone());
                Ok(cursor)
            }
        }
    }

    /// One delta round: what changed since the cursor, each item once. Without a cursor
    /// yet, or when the cursor is refused (410), an enumeration into `baseline`
    /// ([`Outcome::Resync`]).
    pub async fn round(&mut self, baseline: &mut dyn PageSink) -> Result<Outcome, DeltaError> {
        let Some(cursor) = self.cursor.clone() else {
            let cursor = self.baseline(None, baseline).await?;
            return Ok(Outcome::Resync {
                reason: "noCursor".into(),
                message: "no delta cursor yet; enumerating".into(),
                cursor,
            });
        };
        let mut round = LastWins::default();
        match self.fetch(&cursor, &mut round).await {
            Ok(end) => {
                self.cursor = Some(end.cursor.clone());
                Ok(Outcome::Changes(Round {
                    changes: round.finish(),
                    cursor: end.cursor,
                    pages: end.pages,
                }))
            }
            Err(DeltaError::Graph { source, .. }) if source.is_gone() => {
                let reason = source.code().unwrap_or("resyncRequired").to_string();
                let message = format!(
                    "the delta cursor is no longer valid (410 {reason}); enumerating again and writing what differs from the item index"
                );
                let location = source.location().map(str::to_string);
                tracing::warn!("{}: {message}", self.target.label);
                let cursor = self.baseline(location, baseline).await?;
                Ok(Outcome::Resync {
                    reason,
                    message,
                    cursor,
                })
            }
            // A saved cursor from another Graph host (the state file was written
            // against another --graph-url): as good as expired.
            Err(DeltaError::Graph {
                source: GraphError::ForeignLink(link),
                ..
            }) if self.is_cursor_link(&cursor, &link) => {
                let message = format!(
                    "the saved delta cursor belongs to another Graph host ({link}); enumerating again and writing what differs from the item index"
                );
                tracing::warn!("{}: {message}", self.target.label);
                let cursor = self.baseline(None, baseline).await?;
                Ok(Outcome::Resync {
                    reason: "foreignCursor".into(),
                    message,
                    cursor,
                })
            }
            Err(e) => Err(e),
        }
    }

    /// Take a new baseline: the 410's `Location` (Graph's fresh enumeration) if it is on
    /// the Graph host, else an enumeration or `token=latest`. Not retried on a second
    /// 410: that is an error, not a loop.
    async fn baseline(
        &mut self,
        location: Option<String>,
        sink: &mut dyn PageSink,
    ) -> Result<String, DeltaError> {
        let link = match location {
            Some(link) if self.on_graph_host(&link) => link,
            Some(link) => {
                tracing::warn!(
                    "{}: ignoring a resync link that is not on the Graph host ({})",
                    self.target.label,
                    redact_link(&link)
                );
                self.default_baseline_link()
            }
            None => self.default_baseline_link(),
        };
        let end = self.fetch(&link, sink).await?;
        self.cursor = Some(end.cursor.clone());
        Ok(end.cursor)
    }

    /// A baseline is always a full enumeration: the item index is compared with it.
    fn default_baseline_link(&self) -> String {
        self.client_link(&self.target.delta_path())
    }

    /// An absolute link for a path under the Graph base.
    fn client_link(&self, path: &str) -> String {
        format!("{}{path}", base_str(self.client.base()))
    }

    fn on_graph_host(&self, link: &str) -> bool {
        url::Url::parse(link).is_ok_and(|u| same_origin(&u, self.client.base()))
    }

    fn is_cursor_link(&self, cursor: &str, refused: &str) -> bool {
        redact_link(cursor) == *refused
    }

    /// Page from `link` to the deltaLink, each page's items into `sink`. A link seen
    /// before in the round (a loop) or a round past [`RoundLimits`] is
    /// [`DeltaError::Cut`].
    async fn fetch(&mut self, link: &str, sink: &mut dyn PageSink) -> Result<End, DeltaError> {
        let limits = self.limits;
        let bounded = sink.bounded();
        // Each link requested in this round, by hash (links may be long; a hostile
        // server can make them so), with its page number.
        let hasher = std::hash::RandomState::new();
        let mut seen: HashMap<u64, usize> = HashMap::new();
        let mut next = link.to_string();
        let (mut pages, mut items, mut bytes) = (0usize, 0usize, 0usize);
        loop {
            if pages >= limits.pages {
                return Err(self.cut(format!(
                    "the round was cut after {pages} pages without an end (at most {} a round)",
                    limits.pages
                )));
            }
            seen.insert(hasher.hash_one(&next), pages + 1);
            let page = self.get_page(&next).await?;
            pages += 1;
            let mut changes = Vec::with_capacity(page.value.len());
            for raw in page.value {
                items += 1;
                bytes = bytes.saturating_add(raw.get().len());
                if bounded && items > limits.items {
                    return Err(self.cut(format!(
                        "the round was cut at page {pages}: more than {} items (at most that many a round)",
                        limits.items
                    )));
                }
                if bounded && bytes > limits.bytes {
                    return Err(self.cut(format!(
                        "the round was cut at page {pages}: more than {} MiB of items (at most that much a round)",
                        limits.bytes >> 20
                    )));
                }
                changes.push(parse_change(raw).map_err(|detail| self.shape(detail))?);
            }
            sink.page(changes).map_err(|detail| self.shape(detail))?;
            match (page.next_link, page.delta_link) {
                (_, Some(delta)) => {
                    return Ok(End {
                        cursor: delta,
                        pages,
                    })
                }
                (Some(link), None) => {
                    if let Some(first) = seen.get(&hasher.hash_one(&link)) {
                        return Err(self.cut(format!(
                            "its pages loop: the @odata.nextLink of page {pages} leads back to page {first}"
                        )));
                    }
                    next = link;
                }
                (None, None) => {
                    return Err(self
                        .shape("a page has neither @odata.nextLink nor @odata.deltaLink".into()))
                }
            }
        }
    }

    /// One request, after any `Retry-After` still pending; remembers a new one.
    async fn get_page(&mut self, link: &str) -> Result<Page, DeltaError> {
        if let Some(at) = self.not_before.take() {
            if at > Instant::now() {
                tracing::info!(
                    "{}: waiting {:.1} s before the next delta request, as Graph asked",
                    self.target.label,
                    (at - Instant::now()).as_secs_f64()
                );
                tokio::time::sleep_until(at).await;
            }
        }
        let wait = self.pace.take(Instant::now());
        if !wait.is_zero() {
            tracing::debug!(
                "{}: pacing delta requests, the next in {} ms",
                self.target.label,
                wait.as_millis()
            );
            tokio::time::sleep(wait).await;
        }
        match self.client.get_json_url::<Page>(link).await {
            Ok(page) => Ok(page),
            Err(source) => {
                if let Some(wait) = source.retry_after() {
                    self.not_before = Some(Instant::now() + wait);
                }
                Err(DeltaError::Graph {
                    target: self.target.label.clone(),
                    source,
                })
            }
        }
    }

    fn cut(&self, detail: String) -> DeltaError {
        DeltaError::Cut {
            target: self.target.label.clone(),
            detail,
        }
    }

    fn shape(&self, detail: String) -> DeltaError {
        DeltaError::Shape {
            target: self.target.label.clone(),
            detail,
        }
    }
}

/// How a paging ended: the deltaLink, after so many requests.
struct End {
    cursor: String,
    pages: usize,
}

/// One delta page. `value` items stay raw; anything else is ignored.
#[derive(Deserialize)]
struct Page {
    value: Vec<Box<RawValue>>,
    #[serde(rename = "@odata.nextLink")]
    next_link: Option<String>,
    #[serde(rename = "@odata.deltaLink")]
    delta_link: Option<String>,
}

/// The fields of an item the engine looks at.
#[derive(Deserialize)]
struct ItemFields {
    id: Option<serde_json::Value>,
    name: Option<serde_json::Value>,
    deleted: Option<serde_json::Value>,
    root: Option<serde::de::IgnoredAny>,
    folder: Option<serde_json::Value>,
    #[serde(rename = "parentReference")]
    parent: Option<serde_json::Value>,
    #[serde(rename = "eTag")]
    etag: Option<serde_json::Value>,
    #[serde(rename = "cTag")]
    ctag: Option<serde_json::Value>,
    size: Option<serde_json::Value>,
    #[serde(rename = "lastModifiedBy")]
    modified_by: Option<serde_json::Value>,
    fields: Option<Box<RawValue>>,
    #[serde(rename = "contentType")]
    content_type: Option<serde_json::Value>,
}

fn string(value: Option<&serde_json::Value>) -> Option<String> {
    value
        .and_then(serde_json::Value::as_str)
        .map(str::to_string)
}

fn parse_change(raw: Box<RawValue>) -> Result<Change, String> {
    if !raw.get().trim_start().starts_with('{') {
        return Err("an item in `value` is not an object".into());
    }
    let head: ItemFields =
        serde_json::from_str(raw.get()).map_err(|e| format!("an item cannot be read: {e}"))?;
    let id = match head.id {
        Some(serde_json::Value::String(id)) if !id.is_empty() => id,
        _ => return Err("an item has no string `id`".into()),
    };
    let is_folder_type = head
        .content_type
        .as_ref()
        .and_then(|t| t.get("id"))
        .and_then(serde_json::Value::as_str)
        .is_some_and(|id| id.starts_with("0x0120"));
    let node = Node {
        name: string(head.name.as_ref()),
        parent: string(head.parent.as_ref().and_then(|p| p.get("id"))),
        folder: head.folder.as_ref().is_some_and(|f| !f.is_null()) || is_folder_type,
        root: head.root.is_some(),
        etag: string(head.etag.as_ref()),
        ctag: string(head.ctag.as_ref()),
        size: head.size.as_ref().and_then(serde_json::Value::as_i64),
        modified_by: string(
            head.modified_by
                .as_ref()
                .and_then(|by| by.get("user"))
                .and_then(|user| user.get("displayName")),
        ),
        fields: head
            .fields
            .filter(|f| f.get().trim_start().starts_with('{'))
            .map(|f| compact(f).get().to_string()),
    };
    Ok(Change {
        id,
        deleted: is_deleted(head.deleted.as_ref()),
        item: compact(raw),
        node,
    })
}

/// A delta page as [`parse_page`] reads it: its items, `@odata.nextLink`,
/// `@odata.deltaLink`.
pub type ParsedPage = (Vec<Change>, Option<String>, Option<String>);

/// One delta page as the feed reads it: its items (each id once, last occurrence wins)
/// and its links. The same decoding as a round's, for the fuzz targets
/// (`fuzz/`, `tests/fuzz_corpus.rs`).
pub fn parse_page(body: &[u8]) -> Result<ParsedPage, String> {
    let page: Page = serde_json::from_slice(body).map_err(|e| format!("not a delta page: {e}"))?;
    let mut collector = LastWins::default();
    let changes = page
        .value
        .into_iter()
        .map(parse_change)
        .collect::<Result<Vec<_>, _>>()?;
    collector.page(changes)?;
    Ok((collector.finish(), page.next_link, page.delta_link))
}

/// Keeps the last occurrence of each id, at the position of that occurrence.
#[derive(Default)]
pub struct LastWins {
    slots: Vec<Option<Change>>,
    at: HashMap<String, usize>,
}

impl LastWins {
    pub fn push(&mut self, change: Change) {
        if let Some(old) = self.at.insert(change.id.clone(), self.slots.len()) {
            self.slots[old] = None;
        }
        self.slots.push(Some(change));
    }

    /// The items kept, in order, each id once.
    pub fn finish(self) -> Vec<Change> {
        self.slots.into_iter().flatten().collect()
    }
}

impl PageSink for LastWins {
    fn page(&mut self, changes: Vec<Change>) -> Result<(), String> {
        for change in changes {
            self.push(change);
        }
        Ok(())
    }

    fn bounded(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(text: &str) -> Box<RawValue> {
        RawValue::from_string(text.to_string()).unwrap()
    }

    #[test]
    fn last_occurrence_wins_at_its_position() {
        let mut c = LastWins::default();
        for text in [
            r#"{"id":"a","name":"a1"}"#,
            r#"{"id":"b","name":"b1"}"#,
            r#"{"id":"a","name":"a2"}"#,
            r#"{"id":"c","name":"c1"}"#,
            r#"{"id":"b","deleted":{"state":"deleted"}}"#,
        ] {
            c.push(parse_change(raw(text)).unwrap());
        }
        let got: Vec<_> = c
            .finish()
            .into_iter()
            .map(|ch| (ch.id, ch.deleted, ch.item.get().to_string()))
            .collect();
        assert_eq!(
            got,
            vec![
                ("a".into(), false, r#"{"id":"a","name":"a2"}"#.into()),
                ("c".into(), false, r#"{"id":"c","name":"c1"}"#.into()),
                (
                    "b".into(),
                    true,
                    r#"{"id":"b","deleted":{"state":"deleted"}}"#.into()
                ),
            ]
        );
    }

    #[test]
    fn items_keep_their_key_order_and_facets() {
        let ch = parse_change(raw(
            r#"{ "zeta": 1, "id": "x", "name": "n", "root": {}, "parentReference": {"driveId": "d", "id": "p"} }"#,
        ))
        .unwrap();
        assert_eq!(
            ch.item.get(),
            r#"{"zeta":1,"id":"x","name":"n","root":{},"parentReference":{"driveId":"d","id":"p"}}"#
        );
        assert!(ch.node.root);
        assert_eq!(ch.node.parent.as_deref(), Some("p"));
        assert_eq!(ch.node.name.as_deref(), Some("n"));
        let ev = ch.into_event("drive:me");
        assert!(ev.to_json_line().contains(r#""change":"modified""#));
    }

    #[test]
    fn unexpected_items_are_errors_not_panics() {
        for text in [
            "[1,2]",
            "42",
            r#"{"name":"no id"}"#,
            r#"{"id":7}"#,
            r#"{"id":""}"#,
            r#"{"id":"x","parentReference":5}"#,
        ] {
            let got = parse_change(raw(text));
            if text.contains("parentReference") {
                // A parentReference of another shape is only "no parent".
                assert_eq!(got.unwrap().node.parent, None);
            } else {
                assert!(got.is_err(), "{text}");
            }
        }
        // null deleted facet is not a deletion
        let ch = parse_change(raw(r#"{"id":"x","deleted":null}"#)).unwrap();
        assert!(!ch.deleted);
    }

    #[test]
    fn pages_of_another_shape_do_not_decode() {
        assert!(serde_json::from_str::<Page>(r#"{"value":{}}"#).is_err());
        assert!(serde_json::from_str::<Page>(r#"{"error":{}}"#).is_err());
        let p: Page =
            serde_json::from_str(r#"{"value":[],"@odata.deltaLink":"https://g/d?token=t"}"#)
                .unwrap();
        assert!(p.delta_link.is_some() && p.next_link.is_none());
    }

    #[test]
    fn pace_lets_a_burst_through_then_a_steady_rate() {
        let ms = Duration::from_millis;
        let limits = RoundLimits {
            burst: 3,
            per_second: 10.0,
            ..RoundLimits::DEFAULT
        };
        let mut pace = Pace::new(&limits);
        let t0 = Instant::now();
        for _ in 0..3 {
            assert_eq!(pace.take(t0), Duration::ZERO);
        }
        let fourth = pace.take(t0);
        assert!(fourth.abs_diff(ms(100)) < ms(1), "{fourth:?}");
        // Made when allowed, the next one waits one interval again.
        let fifth = pace.take(t0 + ms(100));
        assert!(fifth.abs_diff(ms(100)) < ms(1), "{fifth:?}");
        // A client asking as fast as it may, for 10 s: the burst and 10 a second.
        let mut now = t0 + ms(200);
        let mut made = 0;
        while now < t0 + ms(10_200) {
            now += pace.take(now);
            made += 1;
        }
        assert!((100..=101).contains(&made), "{made}");
        // Idle for a while: the burst is back, not more.
        let later = now + Duration::from_secs(60);
        for _ in 0..3 {
            assert_eq!(pace.take(later), Duration::ZERO);
        }
        assert!(pace.take(later) > Duration::ZERO);
    }
}
