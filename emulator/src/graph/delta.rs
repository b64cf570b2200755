//! Delta for drives and lists (docs/graph-socketio.md §4): full enumeration, `token=latest`, changes
//! since a cursor with the latest state of each item, paging, and 410 for cursors this
//! emulator did not hand out.
//!
//! A token is base64url of a small JSON cursor: the store's epoch, the key of what it
//! watches, and log positions. Every page is computed from the log up to a fixed
//! position (`u`), so the pages of one round agree with each other even while changes
//! keep arriving; those land in the next round.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::render::{self, View};
use crate::error::GraphError;
use crate::store::{drive_key, list_key, Data, Drive, List, Snapshot};

/// What a delta request enumerates.
pub enum Feed<'a> {
    /// `/drives/{id}/root/delta` and its aliases: driveItems.
    Drive(&'a Drive),
    /// `/sites/{s}/lists/{library}/items/delta`: the library's drive seen as listItems.
    Library(&'a List, &'a Drive),
    /// `/sites/{s}/lists/{list}/items/delta`: listItems.
    List(&'a List),
}

impl Feed<'_> {
    /// The key a cursor is bound to (what the client asked to watch).
    fn cursor_key(&self) -> String {
        match self {
            Feed::Drive(d) => drive_key(&d.id),
            Feed::Library(l, _) | Feed::List(l) => list_key(&l.id),
        }
    }

    /// The log the feed is read from: a library's list items live in its drive's log.
    fn log_key(&self) -> String {
        match self {
            Feed::Drive(d) | Feed::Library(_, d) => drive_key(&d.id),
            Feed::List(l) => list_key(&l.id),
        }
    }

    fn context(&self) -> &'static str {
        match self {
            Feed::Drive(_) => "Collection(driveItem)",
            Feed::Library(..) | Feed::List(_) => "Collection(listItem)",
        }
    }
}

/// One position in one feed. `u: None` marks a deltaLink (read up to the current
/// watermark); `Some` marks a nextLink inside a round that reads up to `u`.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Cursor {
    e: String,
    k: String,
    f: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    u: Option<u64>,
    #[serde(default)]
    o: usize,
    #[serde(default)]
    full: bool,
}

impl Cursor {
    fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(self).unwrap_or_default())
    }

    fn decode(token: &str) -> Option<Cursor> {
        let bytes = URL_SAFE_NO_PAD.decode(token.trim()).ok()?;
        serde_json::from_slice(&bytes).ok()
    }
}

/// A delta request: `link` is the absolute URL of the delta route without a query,
/// which the next and delta links are built on.
pub struct Request<'a> {
    pub token: Option<&'a str>,
    pub link: &'a str,
    pub base: &'a str,
    pub page_size: usize,
    pub now_ms: i64,
}

/// Answer one delta page.
pub fn page(data: &Data, feed: &Feed<'_>, req: &Request<'_>) -> Result<Value, GraphError> {
    let log_key = feed.log_key();
    let watermark = data.log.watermark(&log_key, req.now_ms);
    let cursor = match req.token {
        None => Cursor {
            e: data.log.epoch.clone(),
            k: feed.cursor_key(),
            f: 0,
            u: Some(watermark),
            o: 0,
            full: true,
        },
        Some(t) if t.eq_ignore_ascii_case("latest") => {
            let at = Cursor {
                e: data.log.epoch.clone(),
                k: feed.cursor_key(),
                f: watermark,
                u: None,
                o: 0,
                full: false,
            };
            return Ok(body(req, feed, Vec::new(), None, Some(&at)));
        }
        Some(t) => validate(data, feed, t)
            .ok_or_else(|| GraphError::resync_required(Some(req.link.to_string())))?,
    };
    let upto = cursor.u.unwrap_or(watermark).max(cursor.f);
    let state = data.log.replay(&log_key, upto);
    // One view of the drive for ordering and rendering alike: building one walks every
    // item, and on a bulk-seeded drive that is most of what a page costs.
    let view = match feed {
        Feed::Drive(d) | Feed::Library(_, d) => Some(View::replayed(d, &state)),
        Feed::List(_) => None,
    };
    let selected = select(feed, view.as_ref(), &state, &cursor);

    let size = req.page_size.max(1);
    let start = cursor.o.min(selected.len());
    let end = start.saturating_add(size).min(selected.len());
    let items = render(data, feed, view.as_ref(), &selected[start..end]);
    if end < selected.len() {
        let next = Cursor {
            u: Some(upto),
            o: end,
            ..cursor
        };
        Ok(body(req, feed, items, Some(&next), None))
    } else {
        let at = Cursor {
            f: upto,
            u: None,
            o: 0,
            full: false,
            ..cursor
        };
        Ok(body(req, feed, items, None, Some(&at)))
    }
}

/// The cursor a token names, if this store handed it out for this feed.
fn validate(data: &Data, feed: &Feed<'_>, token: &str) -> Option<Cursor> {
    let c = Cursor::decode(token)?;
    let sane = c.e == data.log.epoch
        && c.k == feed.cursor_key()
        && c.f <= data.log.seq
        && c.u.is_none_or(|u| u <= data.log.seq && u >= c.f);
    sane.then_some(c)
}

type State<'a> = std::collections::HashMap<&'a str, (u64, &'a Snapshot)>;

/// Item ids to report, in order. A full enumeration lists what exists, parents before
/// children; an incremental one lists what changed after the cursor, each item once,
/// in the order of its last change.
fn select<'a>(
    feed: &Feed<'_>,
    view: Option<&View<'_>>,
    state: &State<'a>,
    cursor: &Cursor,
) -> Vec<(u64, &'a Snapshot)> {
    let hide_root = matches!(feed, Feed::Library(..));
    let mut picked: Vec<(u64, &Snapshot)> = state
        .values()
        .filter(|(seq, s)| {
            if cursor.full {
                !s.deleted()
            } else {
                *seq > cursor.f
            }
        })
        .filter(|(_, s)| !(hide_root && s.drive_item().is_some_and(|i| i.is_root())))
        .map(|(seq, s)| (*seq, *s))
        .collect();
    if cursor.full {
        if let Some(view) = view {
            // Cached: a depth is a walk up the tree, too dear to repeat per comparison.
            picked.sort_by_cached_key(|(seq, s)| {
                let depth = s.drive_item().map(|i| view.depth(i)).unwrap_or(0);
                (depth, *seq)
            });
            return picked;
        }
    }
    picked.sort_by_key(|(seq, _)| *seq);
    picked
}

/// `view` is the drive's as of the page, for the drive feeds ([`page`] makes one).
fn render(
    data: &Data,
    feed: &Feed<'_>,
    view: Option<&View<'_>>,
    items: &[(u64, &Snapshot)],
) -> Vec<Value> {
    match (feed, view) {
        (Feed::Drive(_), Some(view)) => items
            .iter()
            .filter_map(|(_, s)| {
                let item = s.drive_item()?;
                Some(if s.deleted() {
                    view.deleted_drive_item(item)
                } else {
                    view.drive_item(data, item, true)
                })
            })
            .collect(),
        (Feed::Library(list, _), Some(view)) => items
            .iter()
            .filter_map(|(_, s)| {
                let item = s.drive_item()?;
                Some(if s.deleted() {
                    render::deleted_list_item(list, &item.list_item_id.to_string(), &item.modified)
                } else {
                    view.library_list_item(data, list, item)
                })
            })
            .collect(),
        (Feed::List(list), _) => items
            .iter()
            .filter_map(|(_, s)| {
                let item = s.list_item()?;
                Some(if s.deleted() {
                    render::deleted_list_item(list, &item.id.to_string(), &item.modified)
                } else {
                    render::list_item(data, list, item)
                })
            })
            .collect(),
        (Feed::Drive(_) | Feed::Library(..), None) => Vec::new(),
    }
}

fn body(
    req: &Request<'_>,
    feed: &Feed<'_>,
    items: Vec<Value>,
    next: Option<&Cursor>,
    delta: Option<&Cursor>,
) -> Value {
    let mut out = json!({
        "@odata.context": render::context(req.base, feed.context()),
        "value": items,
    });
    if let Some(c) = next {
        out["@odata.nextLink"] = format!("{}?token={}", req.link, c.encode()).into();
    }
    if let Some(c) = delta {
        out["@odata.deltaLink"] = format!("{}?token={}", req.link, c.encode()).into();
    }
    out
}
