//! `-o pretty`: one short line per event for people: local time, target, what
//! happened, short ids and names; coloured when [`crate::term`] says so for stdout, and
//! cut to the terminal's width.
//!
//! Almost every part comes from a server (ids, labels, names, paths, reasons), so the
//! one place that renders parts, [`render_parts`], passes each through the one
//! sanitiser ([`one_line`]) before it is measured or styled: no part can bypass it, and
//! the only escape sequences in a line are the styles below.

use anstyle::{AnsiColor, Style};
use chrono::Local;
use serde_json::Value;
use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

use crate::event::{item_name, parse, ChangeDetail, ChangeKind, Event, LinkState};
use crate::util::text::one_line;

const DIM: Style = Style::new().dimmed();
const TARGET: Style = Style::new().fg_color(Some(anstyle::Color::Ansi(AnsiColor::Cyan)));
pub(super) const NOTIFIED: Style = Style::new()
    .fg_color(Some(anstyle::Color::Ansi(AnsiColor::Blue)))
    .bold();
const UPDATED: Style = Style::new()
    .fg_color(Some(anstyle::Color::Ansi(AnsiColor::Green)))
    .bold();
const DELETED: Style = Style::new()
    .fg_color(Some(anstyle::Color::Ansi(AnsiColor::Red)))
    .bold();
const RESYNC: Style = Style::new()
    .fg_color(Some(anstyle::Color::Ansi(AnsiColor::Yellow)))
    .bold();
const PLAIN: Style = Style::new();
/// Every style a pretty line may carry ([`PLAIN`] writes none): with colour on, their
/// escape sequences are the only ones in the line (the fuzz targets check it).
pub const STYLES: &[Style] = &[DIM, TARGET, NOTIFIED, UPDATED, DELETED, RESYNC];

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

/// What a `change` line says, for people:
///
/// ```text
/// created Reports/budget.xlsx 12 KB · Megan Bowen
/// renamed Reports/budget.xlsx → budget-final.xlsx
/// moved Reports/x.txt → Archive/
/// deleted Archive/x.txt
/// modified #10 "Projector broken": Status Active → Resolved
/// ```
fn change_parts(
    parts: &mut Vec<(Style, String)>,
    change: ChangeKind,
    detail: &ChangeDetail,
    item: &Value,
) {
    let style = match change {
        ChangeKind::Created => UPDATED,
        ChangeKind::Modified => NOTIFIED,
        ChangeKind::Renamed | ChangeKind::Moved => RESYNC,
        ChangeKind::Deleted => DELETED,
        ChangeKind::Existing => DIM,
    };
    parts.push((style, change.as_str().into()));
    let shown = |path: &str| path.trim_start_matches('/').to_string();
    let what = match &detail.path {
        Some(path) if path == "/" => "/".to_string(),
        Some(path) => shown(path),
        // No index path (a line built without one): delta's own path if it sent one.
        None if item.get("fields").is_none() => item_path(item)
            .map(|p| shown(&p))
            .unwrap_or_else(|| item_label(item)),
        None => item_label(item),
    };
    match (change, &detail.previous) {
        (ChangeKind::Renamed, Some(previous)) => {
            let old = previous
                .path
                .as_deref()
                .map(shown)
                .unwrap_or_else(|| previous.name.clone().unwrap_or_else(|| item_label(item)));
            parts.push((PLAIN, old));
            parts.push((DIM, "→".into()));
            parts.push((PLAIN, item_name(item).unwrap_or_default().to_string()));
        }
        (ChangeKind::Moved, Some(previous)) => {
            let old = previous
                .path
                .as_deref()
                .map(shown)
                .unwrap_or_else(|| previous.name.clone().unwrap_or_else(|| item_label(item)));
            parts.push((PLAIN, old));
            parts.push((DIM, "→".into()));
            // The new folder; and the new name, when it changed as well.
            let (folder, name) = match what.rsplit_once('/') {
                Some((folder, name)) => (format!("{folder}/"), name.to_string()),
                None => ("/".to_string(), what.clone()),
            };
            if previous.name.as_deref() == Some(name.as_str()) {
                parts.push((PLAIN, folder));
            } else {
                parts.push((PLAIN, format!("{folder}{name}")));
            }
        }
        _ => parts.push((PLAIN, what)),
    }
    if let Some(fields) = &detail.fields {
        if let Value::Object(fields) = parse(fields) {
            let said: Vec<String> = fields
                .iter()
                .map(|(name, change)| {
                    let value = |v: Option<&Value>| match v {
                        None | Some(Value::Null) => "(empty)".to_string(),
                        Some(Value::String(s)) => s.clone(),
                        Some(other) => other.to_string(),
                    };
                    format!(
                        "{name} {} → {}",
                        value(change.get("from")),
                        value(change.get("to"))
                    )
                })
                .collect();
            if let Some((last, _)) = parts.last_mut().map(|p| (&mut p.1, ())) {
                last.push(':');
            }
            parts.push((PLAIN, said.join(", ")));
        }
    }
    if matches!(
        change,
        ChangeKind::Created | ChangeKind::Modified | ChangeKind::Existing
    ) && detail.fields.is_none()
    {
        if item.get("file").is_some() {
            if let Some(size) = item.get("size").and_then(Value::as_u64) {
                parts.push((DIM, bytes(size)));
            }
        }
        let by = item
            .get("lastModifiedBy")
            .and_then(|b| b.get("user"))
            .and_then(|u| u.get("displayName"))
            .and_then(Value::as_str);
        if let Some(by) = by {
            parts.push((DIM, format!("· {by}")));
        }
    }
}

/// An item without a path: a list item as `#10 "Title"`, else its name, else its id.
fn item_label(item: &Value) -> String {
    let id = item.get("id").and_then(Value::as_str).unwrap_or_default();
    let title = item
        .get("fields")
        .and_then(|f| f.get("Title"))
        .and_then(Value::as_str);
    match (item.get("name").and_then(Value::as_str), title) {
        (Some(name), _) => name.to_string(),
        (None, Some(title)) => format!("#{id} \"{title}\""),
        (None, None) if item.get("fields").is_some() || id.chars().all(|c| c.is_ascii_digit()) => {
            format!("#{id}")
        }
        (None, None) => short(id).to_string(),
    }
}

/// A size as people read it: `512 B`, `12 KB`, `3.4 MB`.
fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KB", "MB", "GB", "TB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 || value >= 10.0 {
        format!("{:.0} {}", value, UNITS[unit])
    } else {
        format!("{:.1} {}", value, UNITS[unit])
    }
}

/// The pretty line, without newline.
///
/// ```text
/// 10:00:00 drive:me notification sub 5554a2f6 resource b8a61df7
/// 10:00:01 drive:me created Documents/report.docx 12 KB · Megan Bowen
/// 10:00:02 drive:me deleted Documents/old.txt
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
        (TARGET, event.target().to_string()),
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
                None => parts.push((PLAIN, data.get().to_string())),
            }
        }
        Event::Change {
            change,
            detail,
            item,
            ..
        } => change_parts(&mut parts, *change, detail, &parse(item)),
        Event::Resync { reason, .. } => {
            parts.push((RESYNC, "resync".into()));
            parts.push((PLAIN, reason.clone()));
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

/// Sanitise each part (server text: see the module docs), join with spaces, cut to
/// `width` columns (ending in `…`), then style.
fn render_parts(parts: &[(Style, String)], color: bool, width: Option<usize>) -> String {
    let mut out = String::new();
    let mut used = 0usize;
    let limit = width.unwrap_or(usize::MAX);
    for (index, (style, text)) in parts.iter().enumerate() {
        let text = &one_line(text);
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::value::RawValue;

    fn raw(text: &str) -> Box<RawValue> {
        RawValue::from_string(text.into()).unwrap()
    }

    /// Ids (short ones too), names, paths, labels and reasons from a server, with ESC
    /// sequences, C1 CSI and BEL in them: none gets through, with colour off or on.
    #[test]
    fn no_control_character_from_a_server_reaches_a_pretty_line() {
        let events = [
            Event::notification(
                "drive:me",
                raw(r#"{"subscriptionId":"\u001b[2J\u001b[H","resource":"\u009b31m\u0007"}"#),
            ),
            // Without a subscriptionId the data is shown as JSON, where a C1 control
            // may stand raw.
            Event::notification("drive:me", raw("{\"value\":\"\u{9b}2J\"}")),
            Event::bare_change(
                "drive:b!x",
                raw(
                    r#"{"id":"\u001b]0;pwned\u0007","name":"a\u001b[31mb","parentReference":{"path":"/drive/root:/\u009b2J"}}"#,
                ),
            ),
            Event::resync("list:\u{1b}[2Jx", "resync\u{1b}[31mRequired\u{7}"),
        ];
        let ours: Vec<String> = STYLES
            .iter()
            .flat_map(|s| [s.render().to_string(), s.render_reset().to_string()])
            .collect();
        for event in &events {
            let plain = pretty_line(event, false, None);
            assert!(!plain.chars().any(char::is_control), "{plain:?}");
            assert!(plain.contains(" [2J") || plain.contains(" 2J"), "{plain:?}");
            let mut coloured = pretty_line(event, true, Some(60));
            for sequence in &ours {
                coloured = coloured.replace(sequence.as_str(), "");
            }
            assert!(!coloured.chars().any(char::is_control), "{coloured:?}");
        }
    }
}
