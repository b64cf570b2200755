//! The stream's vocabulary: what an event is, and its JSON line. No I/O here, and no
//! rendering for people (that is [`crate::output`]): every layer that makes or reads
//! events — the link, `--changes`, `--exec`, the renderers — imports this and nothing
//! above it.
//!
//! The JSON line is exactly the shapes of [the contract](../../docs/contract.md), keys
//! in its order (`type`, `time`, `target`, then the rest). `data` and `item` are written
//! back as received, key order included: they are kept as raw JSON text ([`RawValue`]),
//! only stripped of insignificant whitespace so that an event stays one line (see
//! `docs/decisions.md`, "output layer").

pub mod filter;
pub mod id;
pub mod report;
pub mod schema;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::Value;

/// Whose cursor a delta round moves: the target's label and what it resolved to
/// (`drive:{id}`, `list:{site}/{list}`). A cursor saved under a label is used again
/// only for the same resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetId {
    pub label: String,
    pub resource: String,
}

/// What happened to an item, in a `change` event: the item index's verdict on what
/// delta returned (docs/changes.md, "Change kinds").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChangeKind {
    /// Not in the index before.
    Created,
    /// Same name and folder, other content or fields.
    Modified,
    /// Same folder, another name.
    Renamed,
    /// Another folder (and perhaps another name too).
    Moved,
    /// Gone: delta's `deleted` facet, or missing from a fresh enumeration.
    Deleted,
    /// `--initial`: there when the watch began.
    Existing,
}

impl ChangeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeKind::Created => "created",
            ChangeKind::Modified => "modified",
            ChangeKind::Renamed => "renamed",
            ChangeKind::Moved => "moved",
            ChangeKind::Deleted => "deleted",
            ChangeKind::Existing => "existing",
        }
    }
}

/// What delta says of an item by its `deleted` facet: removed when the facet is there
/// and not `null` (`"deleted": null` is no deletion). The one rule, for the delta feed
/// and for events built from an item.
pub fn is_deleted(deleted_facet: Option<&Value>) -> bool {
    deleted_facet.is_some_and(|facet| !facet.is_null())
}

/// What the item index adds to a `change` line: where the item is, where it was, and
/// (list items) which fields changed.
#[derive(Debug, Clone, Default)]
pub struct ChangeDetail {
    /// The line's stable `id` ([`id::change`]), from the resource and the versions the
    /// index knows; `None` only until [`Event::change`] fills it from the item alone.
    pub id: Option<String>,
    /// `/Folder/name` from the drive's root (driveItems whose folders are known).
    pub path: Option<String>,
    /// `renamed` and `moved`: the name and path before.
    pub previous: Option<Previous>,
    /// List items, `modified`: `{"Field": {"from": …, "to": …}, …}`.
    pub fields: Option<Box<RawValue>>,
}

/// The name and path an item had before a rename or a move.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Previous {
    pub name: Option<String>,
    pub path: Option<String>,
}

/// One line of output.
///
/// `data` and `item` are raw JSON text, written out exactly as held; build events with
/// the constructors, which compact that text to one line ([`compact`]).
#[derive(Debug, Clone)]
pub enum Event {
    /// One element of a notification payload's `value` array (or the whole payload, when
    /// it has another shape).
    Notification {
        time: DateTime<Utc>,
        target: String,
        /// The element's `subscriptionId`, if it has a string one; `null` otherwise.
        subscription_id: Option<String>,
        data: Box<RawValue>,
        /// [`id::notification`] of the subscription and `data`.
        id: String,
    },
    /// One changed item, from delta (`--changes`).
    Change {
        time: DateTime<Utc>,
        target: String,
        change: ChangeKind,
        detail: ChangeDetail,
        item: Box<RawValue>,
    },
    /// The delta cursor was invalid and the watch starts again from a new baseline.
    Resync {
        time: DateTime<Utc>,
        target: String,
        reason: String,
    },
    /// `--status-events`: the link of a target changed state.
    Status {
        time: DateTime<Utc>,
        target: String,
        state: LinkState,
        reason: String,
    },
    /// `--status-events` with `--changes`: changes may have been missed, or are being
    /// caught up, from `time` on; the stream is complete again after the next round.
    /// With `dropped`: that many notifications were not written here because stdout
    /// was not read fast enough (`watch/queue.rs`).
    Gap {
        time: DateTime<Utc>,
        target: String,
        reason: String,
        dropped: Option<u64>,
    },
}

/// The states of a target's link in a `status` line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkState {
    /// Joined: notifications flow.
    Connected,
    /// The link is down; graphwatch is reconnecting.
    Disconnected,
    /// No socket for now: delta is polled instead (`--changes`, or `--no-socket`).
    Fallback,
    /// The target is given up; nothing more comes for it.
    Lost,
}

impl LinkState {
    pub fn as_str(self) -> &'static str {
        match self {
            LinkState::Connected => "connected",
            LinkState::Disconnected => "disconnected",
            LinkState::Fallback => "fallback",
            LinkState::Lost => "lost",
        }
    }
}

impl Event {
    /// A `notification` event now, taking `subscriptionId` from the data.
    pub fn notification(target: impl Into<String>, data: Box<RawValue>) -> Event {
        let data = compact(data);
        let subscription_id = subscription_id(&data);
        let id = id::notification(subscription_id.as_deref(), data.get());
        Event::Notification {
            time: Utc::now(),
            target: target.into(),
            subscription_id,
            data,
            id,
        }
    }

    /// A `change` event now, of the kind and detail the item index found. A detail
    /// without an id (an item seen without an index: tests, fuzzing) gets one from the
    /// item's own `id`, `eTag` and `cTag`, with the target standing for the resource.
    pub fn change(
        target: impl Into<String>,
        change: ChangeKind,
        mut detail: ChangeDetail,
        item: Box<RawValue>,
    ) -> Event {
        let target = target.into();
        let item = compact(item);
        if detail.id.is_none() {
            let parsed = parse(&item);
            let text = |key: &str| parsed.get(key).and_then(Value::as_str);
            detail.id = Some(id::change(
                &target,
                text("id").unwrap_or_default(),
                change,
                text("eTag"),
                text("cTag"),
                &[Some(item.get())],
            ));
        }
        Event::Change {
            time: Utc::now(),
            target,
            change,
            detail,
            item,
        }
    }

    /// A `change` event of an item seen without an index (tests, fuzzing): `deleted`
    /// when it carries a (non-null) `deleted` facet, else `modified`.
    pub fn bare_change(target: impl Into<String>, item: Box<RawValue>) -> Event {
        #[derive(Deserialize)]
        struct Facets {
            deleted: Option<Value>,
        }
        let item = compact(item);
        let deleted = item.get().starts_with('{')
            && serde_json::from_str::<Facets>(item.get())
                .is_ok_and(|facets| is_deleted(facets.deleted.as_ref()));
        let change = if deleted {
            ChangeKind::Deleted
        } else {
            ChangeKind::Modified
        };
        Event::change(target, change, ChangeDetail::default(), item)
    }

    /// A `status` event now.
    pub fn status(target: impl Into<String>, state: LinkState, reason: impl Into<String>) -> Event {
        Event::Status {
            time: Utc::now(),
            target: target.into(),
            state,
            reason: reason.into(),
        }
    }

    /// A `gap` event now.
    pub fn gap(target: impl Into<String>, reason: impl Into<String>) -> Event {
        Event::Gap {
            time: Utc::now(),
            target: target.into(),
            reason: reason.into(),
            dropped: None,
        }
    }

    /// A `gap` event now: `dropped` notifications of `target` were not written because
    /// the reader of stdout fell behind.
    pub fn dropped(target: impl Into<String>, dropped: u64) -> Event {
        Event::gap_of(
            target,
            dropped,
            "stdout was not read fast enough",
            "dropped",
        )
    }

    /// A `gap` event for the sink only: `dropped` notifications of `target` were not
    /// delivered because the sink fell behind (sink/outbox.rs).
    pub fn dropped_by_sink(target: impl Into<String>, dropped: u64) -> Event {
        Event::gap_of(
            target,
            dropped,
            "the sink did not take notifications fast enough",
            "not delivered",
        )
    }

    /// `{why}: N notifications were {what} here`, with `dropped` = N.
    fn gap_of(target: impl Into<String>, dropped: u64, why: &str, what: &str) -> Event {
        Event::Gap {
            time: Utc::now(),
            target: target.into(),
            reason: format!(
                "{why}: {dropped} notification{} {what} here",
                if dropped == 1 { " was" } else { "s were" }
            ),
            dropped: Some(dropped),
        }
    }

    /// A `resync` event now.
    pub fn resync(target: impl Into<String>, reason: impl Into<String>) -> Event {
        Event::Resync {
            time: Utc::now(),
            target: target.into(),
            reason: reason.into(),
        }
    }

    /// The `type` field.
    pub fn kind(&self) -> &'static str {
        match self {
            Event::Notification { .. } => "notification",
            Event::Change { .. } => "change",
            Event::Resync { .. } => "resync",
            Event::Status { .. } => "status",
            Event::Gap { .. } => "gap",
        }
    }

    pub fn time(&self) -> DateTime<Utc> {
        match self {
            Event::Notification { time, .. }
            | Event::Change { time, .. }
            | Event::Resync { time, .. }
            | Event::Status { time, .. }
            | Event::Gap { time, .. } => *time,
        }
    }

    pub fn target(&self) -> &str {
        match self {
            Event::Notification { target, .. }
            | Event::Change { target, .. }
            | Event::Resync { target, .. }
            | Event::Status { target, .. }
            | Event::Gap { target, .. } => target,
        }
    }

    /// The line's stable `id` (docs/contract.md, "Event ids"): `change` and
    /// `notification` lines have one; `resync`, `status` and `gap` say what one process
    /// saw of its own link and cursor, and have none.
    pub fn id(&self) -> Option<&str> {
        match self {
            Event::Notification { id, .. } => Some(id),
            Event::Change { detail, .. } => detail.id.as_deref(),
            _ => None,
        }
    }

    /// The changed item's id, for `change` events.
    pub fn item_id(&self) -> Option<String> {
        match self {
            Event::Change { item, .. } => parse(item)
                .get("id")
                .and_then(Value::as_str)
                .map(str::to_string),
            _ => None,
        }
    }

    /// A name for the changed item: driveItem `name`, else listItem `fields.Title`.
    pub fn item_name(&self) -> Option<String> {
        match self {
            Event::Change { item, .. } => item_name(&parse(item)).map(str::to_string),
            _ => None,
        }
    }

    /// The event as one line of JSON, without the newline.
    pub fn to_json_line(&self) -> String {
        // Serializing these shapes cannot fail: string keys, no non-finite floats
        // (serde_json::Value cannot hold them).
        serde_json::to_string(&Line::from(self)).unwrap_or_default()
    }
}

/// The `subscriptionId` of a notification element: its first top-level member of that
/// name if that is a string, `None` for anything else (another type, no such member, not
/// an object).
///
/// The live service sends it as the first member: that shape is read off the text,
/// without a pass over the rest of the element; every notification comes through here
/// (docs/performance.md, "Where the time goes now"). Anything else takes serde_json.
fn subscription_id(data: &RawValue) -> Option<String> {
    const FIRST: &str = r#"{"subscriptionId":""#;
    let text = data.get();
    if let Some(rest) = text.strip_prefix(FIRST) {
        // Valid JSON (a RawValue), so the string ends at the first quote not escaped.
        let bytes = rest.as_bytes();
        let mut end = 0;
        while let Some(&b) = bytes.get(end) {
            match b {
                b'"' => break,
                b'\\' => end += 2,
                _ => end += 1,
            }
        }
        let inner = rest.get(..end)?;
        if !inner.contains('\\') {
            return Some(inner.to_string());
        }
        return serde_json::from_str(text.get(FIRST.len() - 1..FIRST.len() + end + 1)?).ok();
    }
    // (A map visitor would also be handed an array by serde_json: only objects.)
    if !text.starts_with('{') {
        return None;
    }
    serde_json::from_str::<FirstId>(text)
        .ok()
        .and_then(|first| first.0)
}

/// The first `subscriptionId` member of an object, if a string (or `null`): later ones
/// are skipped like any other member, so both ways of [`subscription_id`] agree.
struct FirstId(Option<String>);

impl<'de> Deserialize<'de> for FirstId {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, Visitor};

        struct Members;
        impl<'de> Visitor<'de> for Members {
            type Value = FirstId;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<FirstId, A::Error> {
                let mut first: Option<Option<String>> = None;
                while let Some(is_it) = map.next_key_seed(KeyIs)? {
                    if is_it && first.is_none() {
                        first = Some(map.next_value()?);
                    } else {
                        map.next_value::<IgnoredAny>()?;
                    }
                }
                Ok(FirstId(first.flatten()))
            }
        }

        /// Whether a key is `subscriptionId`, compared where it lies (unescaped if need be).
        struct KeyIs;
        impl<'de> Visitor<'de> for KeyIs {
            type Value = bool;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a key")
            }
            fn visit_str<E: de::Error>(self, key: &str) -> Result<bool, E> {
                Ok(key == "subscriptionId")
            }
        }
        impl<'de> DeserializeSeed<'de> for KeyIs {
            type Value = bool;
            fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
                d.deserialize_str(self)
            }
        }

        deserializer.deserialize_map(Members)
    }
}

/// `value` as raw JSON text (for events built from a parsed value). Encoding a `Value`
/// cannot fail; `null` stands in should it ever.
pub fn raw_json(value: &Value) -> Box<RawValue> {
    serde_json::value::to_raw_value(value).unwrap_or_else(|_| RawValue::NULL.to_owned())
}

/// The same JSON without insignificant whitespace, so that it fits on one line. Every
/// token, and so the key order, is kept byte for byte. (Inside strings a newline is always
/// escaped, so after this the text has no raw newline.)
pub fn compact(raw: Box<RawValue>) -> Box<RawValue> {
    let text = raw.get();
    if !has_whitespace(text.as_bytes()) {
        return raw;
    }
    let mut out = String::with_capacity(text.len());
    let (mut in_string, mut escaped) = (false, false);
    for c in text.chars() {
        if in_string {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
        } else if c == '"' {
            in_string = true;
            out.push(c);
        } else if !matches!(c, ' ' | '\n' | '\r' | '\t') {
            out.push(c);
        }
    }
    if out.len() == text.len() {
        return raw;
    }
    RawValue::from_string(out).unwrap_or(raw)
}

/// Whether valid JSON text holds whitespace: any byte up to the space, since the other
/// control bytes cannot occur in JSON at all. Eight bytes at a time (the "has a byte
/// less than n" word test): the text of every notification is looked at here, and almost
/// none has any (docs/performance.md, "Where the time goes now").
fn has_whitespace(bytes: &[u8]) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let mut words = bytes.chunks_exact(8);
    for word in &mut words {
        let Ok(word) = <[u8; 8]>::try_from(word) else {
            break;
        };
        let w = u64::from_le_bytes(word);
        if w.wrapping_sub(ONES * 0x21) & !w & HIGH != 0 {
            return true;
        }
    }
    words.remainder().iter().any(|&b| b <= b' ')
}

/// Raw JSON parsed for a look inside (pretty lines, names, ids); `null` if it is not JSON.
pub(crate) fn parse(raw: &RawValue) -> Value {
    serde_json::from_str(raw.get()).unwrap_or(Value::Null)
}

pub(crate) fn item_name(item: &Value) -> Option<&str> {
    item.get("name").and_then(Value::as_str).or_else(|| {
        item.get("fields")
            .and_then(|f| f.get("Title"))
            .and_then(Value::as_str)
    })
}

/// The time as the contract writes it (docs/contract.md): UTC, RFC 3339, milliseconds, `Z`.
pub fn format_time(time: DateTime<Utc>) -> String {
    TimeText::of(time).as_str().to_string()
}

/// [`format_time`]'s text on the stack: written for every line, so neither chrono's
/// formatting machinery nor a `String` per line (docs/performance.md, "Where the time
/// goes now").
pub struct TimeText {
    fixed: [u8; 24],
    /// Years outside 0–9999 and leap seconds, in chrono's words.
    other: Option<String>,
}

impl TimeText {
    pub fn of(time: DateTime<Utc>) -> TimeText {
        use chrono::{Datelike, Timelike};
        let mut fixed = *b"0000-00-00T00:00:00.000Z";
        let year = time.year();
        let nanos = time.nanosecond();
        if !(0..=9999).contains(&year) || nanos >= 1_000_000_000 {
            return TimeText {
                fixed,
                other: Some(time.to_rfc3339_opts(SecondsFormat::Millis, true)),
            };
        }
        let mut put = |at: usize, width: usize, mut value: u32| {
            for i in (at..at + width).rev() {
                fixed[i] = b'0' + (value % 10) as u8;
                value /= 10;
            }
        };
        put(0, 4, year as u32);
        put(5, 2, time.month());
        put(8, 2, time.day());
        put(11, 2, time.hour());
        put(14, 2, time.minute());
        put(17, 2, time.second());
        put(20, 3, nanos / 1_000_000);
        TimeText { fixed, other: None }
    }

    pub fn as_str(&self) -> &str {
        match &self.other {
            Some(text) => text,
            // ASCII digits and separators only.
            None => std::str::from_utf8(&self.fixed).unwrap_or_default(),
        }
    }
}

/// The wire shape of each event; field order here is the order on the line.
#[derive(Serialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum Line<'a> {
    Notification {
        id: &'a str,
        time: String,
        target: &'a str,
        #[serde(rename = "subscriptionId")]
        subscription_id: Option<&'a str>,
        data: &'a RawValue,
    },
    Change {
        #[serde(skip_serializing_if = "Option::is_none")]
        id: Option<&'a str>,
        time: String,
        target: &'a str,
        change: &'static str,
        #[serde(skip_serializing_if = "Option::is_none")]
        path: Option<&'a str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        previous: Option<&'a Previous>,
        #[serde(skip_serializing_if = "Option::is_none")]
        fields: Option<&'a RawValue>,
        item: &'a RawValue,
    },
    Resync {
        time: String,
        target: &'a str,
        reason: &'a str,
    },
    Status {
        time: String,
        target: &'a str,
        state: &'static str,
        reason: &'a str,
    },
    Gap {
        time: String,
        target: &'a str,
        reason: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        dropped: Option<u64>,
    },
}

impl<'a> From<&'a Event> for Line<'a> {
    fn from(event: &'a Event) -> Self {
        match event {
            Event::Notification {
                time,
                target,
                subscription_id,
                data,
                id,
            } => Line::Notification {
                id,
                time: format_time(*time),
                target,
                subscription_id: subscription_id.as_deref(),
                data,
            },
            Event::Change {
                time,
                target,
                change,
                detail,
                item,
            } => Line::Change {
                id: detail.id.as_deref(),
                time: format_time(*time),
                target,
                change: change.as_str(),
                path: detail.path.as_deref(),
                previous: detail.previous.as_ref(),
                fields: detail.fields.as_deref(),
                item,
            },
            Event::Resync {
                time,
                target,
                reason,
            } => Line::Resync {
                time: format_time(*time),
                target,
                reason,
            },
            Event::Status {
                time,
                target,
                state,
                reason,
            } => Line::Status {
                time: format_time(*time),
                target,
                state: state.as_str(),
                reason,
            },
            Event::Gap {
                time,
                target,
                reason,
                dropped,
            } => Line::Gap {
                time: format_time(*time),
                target,
                reason,
                dropped: *dropped,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_whitespace_test_agrees_with_a_byte_by_byte_look() {
        let naive = |b: &[u8]| b.iter().any(|&c| matches!(c, b' ' | b'\n' | b'\r' | b'\t'));
        // No other control bytes: they cannot occur in JSON text.
        let alphabet: &[u8] = b"{}[]:,\"\\a0\x7f\x80\xc3\xa9\xff!\x21\x20\n\r\t";
        let mut seed = 0x2545_f491_4f6c_dd1d_u64;
        for len in 0..80 {
            for _ in 0..200 {
                let text: Vec<u8> = (0..len)
                    .map(|_| {
                        seed ^= seed << 13;
                        seed ^= seed >> 7;
                        seed ^= seed << 17;
                        alphabet[(seed % alphabet.len() as u64) as usize]
                    })
                    .collect();
                assert_eq!(super::has_whitespace(&text), naive(&text), "{text:?}");
            }
        }
    }
}
