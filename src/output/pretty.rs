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
pub const STYLES: &[Style] = &[
    DIM,
    TARGET,
    NOTIFIED,
    UPDATED,
    DELETED,
    RESYNC,
    TARGET_COLORS[1],
    TARGET_COLORS[2],
    TARGET_COLORS[3],
    TARGET_COLORS[4],
    TARGET_COLORS[5],
];

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
    let time = event.time().with_timezone(&Local).format("%H:%M:%S");
    let parts = parts_of(
        event,
        time.to_string(),
        (TARGET, event.target().to_string()),
        0,
    );
    render_parts(&parts, color, width)
}

/// The parts of a line: the time, the target as given, the kind (padded to `kind_width`
/// columns) and what it says.
fn parts_of(
    event: &Event,
    time: String,
    target: (Style, String),
    kind_width: usize,
) -> Vec<(Style, String)> {
    let mut parts: Vec<(Style, String)> = vec![(DIM, time), target];
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
    // The kind is the third part: pad it so that what follows starts in one column.
    if let Some((_, kind)) = parts.get_mut(2) {
        let pad = kind_width.saturating_sub(kind.width());
        kind.extend(std::iter::repeat_n(' ', pad));
    }
    parts
}

/// One colour per target, in the order the targets were given (then by name).
const TARGET_COLORS: [Style; 6] = [
    TARGET,
    Style::new().fg_color(Some(anstyle::Color::Ansi(AnsiColor::Magenta))),
    Style::new().fg_color(Some(anstyle::Color::Ansi(AnsiColor::BrightBlue))),
    Style::new().fg_color(Some(anstyle::Color::Ansi(AnsiColor::BrightYellow))),
    Style::new().fg_color(Some(anstyle::Color::Ansi(AnsiColor::BrightGreen))),
    Style::new().fg_color(Some(anstyle::Color::Ansi(AnsiColor::BrightMagenta))),
];

/// The width of the kind column: the longest change kind (`modified`, `existing`).
const KIND_WIDTH: usize = 8;

/// The pretty view of a whole stream, for people (docs/usage.md, "Pretty"): fixed
/// columns — time, target, kind, what — so that a long stream reads down its columns;
/// each target in a colour of its own; a long target label shortened in the middle
/// (`list:…/Lists/Issues`, always marked `…`) rather than cutting the kind and name;
/// and a date line whenever the day changes.
#[derive(Debug, Clone)]
pub struct PrettyView {
    color: bool,
    /// The labels of the watch, in order (their colours and the target column).
    targets: Vec<String>,
    last_day: Option<chrono::NaiveDate>,
    /// The time zone of the times shown: the machine's (`None`), or a fixed one (tests).
    offset: Option<chrono::FixedOffset>,
}

impl PrettyView {
    pub fn new(color: bool) -> PrettyView {
        PrettyView {
            color,
            targets: Vec::new(),
            last_day: None,
            offset: None,
        }
    }

    /// The targets of the watch, so that their column is as wide as the longest label
    /// and each keeps its colour.
    pub fn targets(&mut self, labels: &[&str]) {
        self.targets = labels.iter().map(|l| l.to_string()).collect();
    }

    #[cfg(test)]
    fn at_offset(mut self, offset: chrono::FixedOffset) -> PrettyView {
        self.offset = Some(offset);
        self
    }

    /// The text for `event`, cut to `width` columns: its line, after a date line if the
    /// day changed since the last one. Without a newline at the end.
    pub fn render(&mut self, event: &Event, width: Option<usize>) -> String {
        let (day, time) = match self.offset {
            Some(offset) => {
                let t = event.time().with_timezone(&offset);
                (t.date_naive(), t.format("%H:%M:%S").to_string())
            }
            None => {
                let t = event.time().with_timezone(&Local);
                (t.date_naive(), t.format("%H:%M:%S").to_string())
            }
        };
        let mut out = String::new();
        if self.last_day.is_some_and(|last| last != day) {
            let date = format!("── {} ──", day.format("%a %-d %b %Y"));
            out.push_str(&render_parts(&[(DIM, date)], self.color, width));
            out.push('\n');
        }
        self.last_day = Some(day);
        let label = event.target();
        let style = match self.targets.iter().position(|t| t == label) {
            Some(at) => TARGET_COLORS[at % TARGET_COLORS.len()],
            None => TARGET_COLORS[self.targets.len() % TARGET_COLORS.len()],
        };
        let column = self.target_column(label, width);
        let shown = middle_shortened(&one_line(label), column);
        let pad = column.saturating_sub(shown.width());
        let target = format!("{shown}{}", " ".repeat(pad));
        let parts = parts_of(event, time, (style, target), KIND_WIDTH);
        out.push_str(&render_parts(&parts, self.color, width));
        out
    }

    /// The target column: as wide as the longest label, but at most a third of the
    /// line (and never under 12), so that the kind and name keep their room.
    fn target_column(&self, label: &str, width: Option<usize>) -> usize {
        let longest = self
            .targets
            .iter()
            .map(|t| one_line(t).width())
            .chain([one_line(label).width()])
            .max()
            .unwrap_or(0);
        match width {
            Some(width) => longest.min((width / 3).max(12)),
            None => longest,
        }
    }
}

/// `label` in at most `room` columns: whole if it fits, else its kind (`list:`), `…`
/// and as much of its end as fits — the end (`/Lists/Issues`) is what tells targets
/// apart.
fn middle_shortened(label: &str, room: usize) -> String {
    if label.width() <= room {
        return label.to_string();
    }
    let head = match label.find(':') {
        Some(colon) if colon + 1 + 2 <= room => &label[..=colon],
        _ => "",
    };
    let left = room.saturating_sub(head.width() + 1);
    let mut tail: Vec<char> = Vec::new();
    let mut used = 0;
    for c in label.chars().rev() {
        let w = c.width().unwrap_or(0);
        if used + w > left {
            break;
        }
        used += w;
        tail.push(c);
    }
    let tail: String = tail.into_iter().rev().collect();
    format!("{head}…{tail}")
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

    /// The stream as people see it, at 60, 80 and 200 columns (issue 15, item 6): fixed
    /// columns, a long list label shortened in the middle, a date line at midnight.
    #[test]
    fn the_stream_at_three_widths() {
        use crate::event::{raw_json, ChangeDetail, Previous};
        use chrono::TimeZone as _;
        let at = |h: u32, m: u32| chrono::Utc.with_ymd_and_hms(2026, 12, 1, h, m, 0).unwrap();
        let long = "list:contoso.sharepoint.com:/sites/engineering/Lists/Issues";
        let with_time = |mut e: Event, time| {
            match &mut e {
                Event::Change { time: t, .. }
                | Event::Resync { time: t, .. }
                | Event::Status { time: t, .. }
                | Event::Notification { time: t, .. }
                | Event::Gap { time: t, .. } => *t = time,
            }
            e
        };
        let change =
            |kind, label: &str, path: Option<&str>, previous: Option<(&str, &str)>, item| {
                Event::change(
                    label,
                    kind,
                    ChangeDetail {
                        id: None,
                        path: path.map(str::to_string),
                        previous: previous.map(|(name, path)| Previous {
                            name: Some(name.into()),
                            path: Some(path.into()),
                        }),
                        fields: None,
                    },
                    raw_json(&item),
                )
            };
        let by = serde_json::json!({"user": {"displayName": "Megan Bowen"}});
        let mut issue = change(
            ChangeKind::Modified,
            long,
            None,
            None,
            serde_json::json!({"id": "10", "fields": {"Title": "Projector broken in the big meeting room"}}),
        );
        if let Event::Change { detail, .. } = &mut issue {
            detail.fields = Some(raw_json(
                &serde_json::json!({"Status": {"from": "Active", "to": "Resolved"}}),
            ));
        }
        let events = [
            with_time(
                change(
                    ChangeKind::Created,
                    "drive:me",
                    Some("/Reports/2026/Quarterly/budget.xlsx"),
                    None,
                    serde_json::json!({"id": "1", "name": "budget.xlsx", "file": {}, "size": 12_345, "lastModifiedBy": by}),
                ),
                at(23, 58),
            ),
            with_time(
                change(
                    ChangeKind::Renamed,
                    "drive:me",
                    Some("/Reports/2026/Quarterly/budget-final.xlsx"),
                    Some(("budget.xlsx", "/Reports/2026/Quarterly/budget.xlsx")),
                    serde_json::json!({"id": "1", "name": "budget-final.xlsx"}),
                ),
                at(23, 59),
            ),
            with_time(issue, at(23, 59)),
            with_time(
                Event::status(long, LinkState::Disconnected, "no ping for 45 s"),
                at(23, 59),
            ),
            with_time(
                change(
                    ChangeKind::Deleted,
                    "drive:me",
                    Some("/Archive/old.txt"),
                    None,
                    serde_json::json!({"id": "2", "deleted": {"state": "deleted"}}),
                ),
                at(23, 59) + chrono::Duration::minutes(2),
            ),
        ];
        for width in [60, 80, 200] {
            let mut view =
                PrettyView::new(false).at_offset(chrono::FixedOffset::east_opt(0).unwrap());
            view.targets(&["drive:me", long]);
            let text: Vec<String> = events.iter().map(|e| view.render(e, Some(width))).collect();
            let text = text.join("\n");
            for line in text.lines() {
                assert!(line.width() <= width, "{width}: {line:?}");
            }
            insta::assert_snapshot!(format!("the_stream_at_{width}_columns"), text);
        }
    }

    #[test]
    fn long_labels_are_shortened_in_the_middle_and_marked() {
        assert_eq!(middle_shortened("drive:me", 12), "drive:me");
        let long = "list:contoso.sharepoint.com:/sites/eng/Lists/Issues";
        let short = middle_shortened(long, 20);
        assert_eq!(short, "list:…g/Lists/Issues");
        assert!(short.width() <= 20);
        assert_eq!(middle_shortened("abcdefghij", 5), "…ghij");
    }
}
