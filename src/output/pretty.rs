//! `-o pretty`: one short line per event for people: local time, target, what
//! happened, short ids and names; coloured when [`crate::term`] says so for stdout, and
//! cut to the terminal's width.

use anstyle::{AnsiColor, Style};
use chrono::Local;
use serde_json::Value;
use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

use crate::event::{item_name, parse, ChangeKind, Event, LinkState};
use crate::util::text::one_line;

const DIM: Style = Style::new().dimmed();
const TARGET: Style = Style::new().fg_color(Some(anstyle::Color::Ansi(AnsiColor::Cyan)));
const NOTIFIED: Style = Style::new()
    .fg_color(Some(anstyle::Color::Ansi(AnsiColor::Blue)))
    .bold();
pub(super) const UPDATED: Style = Style::new()
    .fg_color(Some(anstyle::Color::Ansi(AnsiColor::Green)))
    .bold();
const DELETED: Style = Style::new()
    .fg_color(Some(anstyle::Color::Ansi(AnsiColor::Red)))
    .bold();
const RESYNC: Style = Style::new()
    .fg_color(Some(anstyle::Color::Ansi(AnsiColor::Yellow)))
    .bold();
const PLAIN: Style = Style::new();

/// First 8 characters of an id, the way people compare them.
fn short(id: &str) -> &str {
    match id.char_indices().nth(8) {
        Some((end, _)) => &id[..end],
        None => id,
    }
}

/// `/Documents/report.docx` from a driveItem's `parentReference.path` and `name`.
fn item_path(item: &Value) -> Option<String> {
    let name = item_name(item)?;
    let parent = item
        .get("parentReference")
        .and_then(|p| p.get("path"))
        .and_then(Value::as_str)
        .map(|p| match p.find(":") {
            // "/drive/root:/Documents" or "/drives/{id}/root:" → what follows the colon
            Some(colon) => &p[colon + 1..],
            None => p,
        });
    Some(match parent {
        Some(parent) => format!("{}/{}", parent.trim_end_matches('/'), name),
        None => name.to_string(),
    })
}

/// The pretty line, without newline.
///
/// ```text
/// 10:00:00 drive:me notification sub 5554a2f6 resource b8a61df7
/// 10:00:01 drive:me updated 01BYE5RZ /Documents/report.docx
/// 10:00:02 drive:me deleted 01BYE5RZ old.txt
/// 10:00:03 drive:me resync the delta cursor expired
/// ```
pub fn pretty_line(event: &Event, color: bool, width: Option<usize>) -> String {
    let mut parts: Vec<(Style, String)> = vec![
        (
            DIM,
            event
                .time()
                .with_timezone(&Local)
                .format("%H:%M:%S")
                .to_string(),
        ),
        (TARGET, one_line(event.target())),
    ];
    match event {
        Event::Notification {
            subscription_id,
            data,
            ..
        } => {
            parts.push((NOTIFIED, "notification".into()));
            match subscription_id {
                Some(id) => {
                    parts.push((DIM, "sub".into()));
                    parts.push((PLAIN, short(id).into()));
                    if let Some(resource) = parse(data).get("resource").and_then(Value::as_str) {
                        parts.push((DIM, "resource".into()));
                        parts.push((PLAIN, short(resource).into()));
                    }
                }
                None => parts.push((PLAIN, one_line(data.get()))),
            }
        }
        Event::Change { change, item, .. } => {
            let item = &parse(item);
            let style = match change {
                ChangeKind::Updated => UPDATED,
                ChangeKind::Deleted => DELETED,
            };
            parts.push((style, change.as_str().into()));
            if let Some(id) = item.get("id").and_then(Value::as_str) {
                parts.push((DIM, short(id).into()));
            }
            if let Some(path) = item_path(item) {
                parts.push((PLAIN, one_line(&path)));
            }
        }
        Event::Resync { reason, .. } => {
            parts.push((RESYNC, "resync".into()));
            parts.push((PLAIN, one_line(reason)));
        }
        Event::Status { state, reason, .. } => {
            let style = match state {
                LinkState::Connected => UPDATED,
                LinkState::Lost => DELETED,
                LinkState::Disconnected | LinkState::Fallback => RESYNC,
            };
            parts.push((style, state.as_str().into()));
            parts.push((PLAIN, one_line(reason)));
        }
        Event::Gap { reason, .. } => {
            parts.push((RESYNC, "gap".into()));
            parts.push((PLAIN, one_line(reason)));
        }
    }
    render_parts(&parts, color, width)
}

/// Join with spaces, cut to `width` columns (ending in `…`), then style.
fn render_parts(parts: &[(Style, String)], color: bool, width: Option<usize>) -> String {
    let mut out = String::new();
    let mut used = 0usize;
    let limit = width.unwrap_or(usize::MAX);
    for (index, (style, text)) in parts.iter().enumerate() {
        let sep = usize::from(index > 0);
        let total = used + sep + text.width();
        let fits_all = total <= limit;
        let (shown, cut) = if fits_all {
            (text.clone(), false)
        } else {
            // Room for the separator, some text, and the ellipsis.
            let room = limit.saturating_sub(used + sep + 1);
            let mut shown = String::new();
            let mut w = 0;
            for c in text.chars() {
                let cw = c.width().unwrap_or(0);
                if w + cw > room {
                    break;
                }
                w += cw;
                shown.push(c);
            }
            (shown, true)
        };
        if cut && (used + sep + 1 > limit) {
            // Not even the separator and the ellipsis fit: end here.
            break;
        }
        if index > 0 {
            out.push(' ');
        }
        if color && !shown.is_empty() {
            out.push_str(&format!("{style}{shown}{style:#}"));
        } else {
            out.push_str(&shown);
        }
        if cut {
            out.push('…');
            break;
        }
        used = total;
    }
    out
}
