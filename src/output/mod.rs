//! The only writer of stdout. stdout carries command results only (JSON lines, or
//! text for people with `-o pretty`); everything else — prompts, progress, notes — goes
//! to stderr through [`crate::term`]. Events are rendered as JSON ([`crate::event`]'s
//! line), pretty lines ([`pretty`]) or a `--template` ([`template`]).
//!
//! Every event is flushed as soon as it is written, or once per burst, so `| jq` and
//! shell loops see it at once. The watch loop renders events here into memory and
//! hands them to a thread that writes [`stdout`] (`watch/queue.rs`), so that a reader
//! that stops reading never stops the links. A closed stdout (`| head -1`) is reported as
//! [`OutputError::BrokenPipe`] so the program can end quietly.

pub mod exec;
pub mod jq;
pub mod pretty;
pub mod template;

use std::fmt;
use std::io::{self, Write};
use std::sync::Arc;

use serde::Serialize;

use crate::cli::OutputFormat;
use crate::event::{Event, Line};

pub use jq::JqFilter;
pub use pretty::pretty_line;
pub use template::Template;

/// Write one result on stdout: a JSON line, or indented JSON for `-o pretty`.
pub fn print_json<T: Serialize>(value: &T, format: OutputFormat) -> anyhow::Result<()> {
    let text = match format {
        OutputFormat::Json => serde_json::to_string(value)?,
        OutputFormat::Pretty => serde_json::to_string_pretty(value)?,
    };
    print_line(&text)
}

/// Write text and a newline on stdout and flush it.
pub fn print_line(text: &str) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{text}")?;
    out.flush()?;
    Ok(())
}

/// stdout was closed by the reader: end quietly with status 0.
pub fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// A notification's JSON line and its newline, written straight into the buffer: the
/// same bytes as [`Line`]'s serialisation (a test holds them together), without
/// serde's pass over the constant keys or a `String` for the time. Every notification
/// is written here, so this is the output's share of graphwatch's cost per event
/// (docs/performance.md, "Where the time goes now").
fn write_notification<W: Write>(
    sink: &mut W,
    time: chrono::DateTime<chrono::Utc>,
    target: &str,
    subscription_id: Option<&str>,
    data: &serde_json::value::RawValue,
    id: &str,
) -> io::Result<()> {
    // The id is hex digits: nothing in it to escape.
    sink.write_all(b"{\"type\":\"notification\",\"id\":\"")?;
    sink.write_all(id.as_bytes())?;
    sink.write_all(b"\",\"time\":\"")?;
    sink.write_all(crate::event::TimeText::of(time).as_str().as_bytes())?;
    sink.write_all(b"\",\"target\":")?;
    serde_json::to_writer(&mut *sink, target).map_err(io::Error::from)?;
    sink.write_all(b",\"subscriptionId\":")?;
    match subscription_id {
        Some(id) => serde_json::to_writer(&mut *sink, id).map_err(io::Error::from)?,
        None => sink.write_all(b"null")?,
    }
    sink.write_all(b",\"data\":")?;
    sink.write_all(data.get().as_bytes())?;
    sink.write_all(b"}\n")
}

/// How events are rendered.
#[derive(Debug, Clone)]
pub enum Render {
    Json,
    Pretty {
        color: bool,
        /// Cut lines to this many columns; `None`: ask the terminal on each line (and do
        /// not cut when stdout is not a terminal).
        width: Option<usize>,
    },
    Template(Template),
    /// `--jq`: the JSON line through a jq filter; none, one or several lines per event.
    Jq(Arc<JqFilter>),
}

/// Output failed.
#[derive(Debug)]
pub enum OutputError {
    /// The reader went away (`| head -1`): end quietly. The `io::Error` is its
    /// [`source`](std::error::Error::source), so [`is_broken_pipe`] sees it through anyhow.
    BrokenPipe(io::Error),
    Io(io::Error),
}

impl fmt::Display for OutputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OutputError::BrokenPipe(_) => f.write_str("stdout was closed"),
            OutputError::Io(e) => write!(f, "cannot write to stdout: {e}"),
        }
    }
}

impl std::error::Error for OutputError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            OutputError::BrokenPipe(e) | OutputError::Io(e) => Some(e),
        }
    }
}

impl From<io::Error> for OutputError {
    fn from(e: io::Error) -> Self {
        if e.kind() == io::ErrorKind::BrokenPipe {
            OutputError::BrokenPipe(e)
        } else {
            OutputError::Io(e)
        }
    }
}

/// Writes events to a byte sink, one line each, flushed per event (or per batch).
pub struct Output<W: Write> {
    sink: W,
    render: Render,
    /// The pretty view's state across lines (columns, colours, the day).
    pretty: Option<pretty::PrettyView>,
    /// For `width: None`: whether the sink is a terminal whose width we may ask.
    terminal: bool,
    line: String,
}

/// The stdout that the watch loop's writer thread writes to (`watch/queue.rs`): events
/// are rendered here, in memory ([`Output::in_memory`]), and written there, so that a
/// reader that stops reading blocks that thread and not the links.
pub fn stdout() -> io::Stdout {
    io::stdout()
}

impl Render {
    /// `--jq` or a template win over the format; pretty lines are cut to the terminal's
    /// width.
    /// `format` and `color` as [`crate::term::Term`] decided them for stdout.
    pub fn choose(format: OutputFormat, line: Option<LineFormat>, color: bool) -> Render {
        match (line, format) {
            (Some(LineFormat::Jq(filter)), _) => Render::Jq(filter),
            (Some(LineFormat::Template(template)), _) => Render::Template(template),
            (None, OutputFormat::Json) => Render::Json,
            (None, OutputFormat::Pretty) => Render::Pretty { color, width: None },
        }
    }
}

impl Output<Vec<u8>> {
    /// Events rendered into memory, read with [`Output::rendered`] line by line;
    /// `terminal`: stdout is one, so pretty lines may ask its width.
    pub fn in_memory(render: Render, terminal: bool) -> Output<Vec<u8>> {
        let mut output = Output::new(Vec::new(), render);
        output.terminal = terminal;
        output
    }

    /// What was rendered since the last [`Output::clear`].
    pub fn rendered(&self) -> &[u8] {
        &self.sink
    }

    /// Forget what was rendered, keeping the buffer (no allocation per line).
    pub fn clear(&mut self) {
        self.sink.clear();
    }
}

impl<W: Write> Output<W> {
    /// Output to any sink; pretty lines are cut only if `width` is given.
    pub fn new(sink: W, render: Render) -> Output<W> {
        let pretty = match &render {
            Render::Pretty { color, .. } => Some(pretty::PrettyView::new(*color)),
            _ => None,
        };
        Output {
            sink,
            render,
            pretty,
            terminal: false,
            line: String::new(),
        }
    }

    /// Write one event and flush.
    #[cfg(test)]
    pub fn write(&mut self, event: &Event) -> Result<(), OutputError> {
        self.put_line(event)?;
        self.sink.flush()?;
        Ok(())
    }

    /// Write one event without flushing it: the watch loop renders into memory and its
    /// writer thread flushes once its queue is empty, so a burst costs one `write` per
    /// buffer instead of one per line, and no line is left in the buffer while it waits.
    /// Returns how many lines the event became: 1, except with `--jq` (0 drops it).
    pub fn write_buffered(&mut self, event: &Event) -> Result<usize, OutputError> {
        self.put_line(event)
    }

    /// The labels of the watch, for the pretty view's target column and colours.
    pub fn targets(&mut self, labels: &[&str]) {
        if let Some(view) = &mut self.pretty {
            view.targets(labels);
        }
    }

    /// Write several events (one burst) and flush once.
    #[cfg(test)]
    pub fn write_all(&mut self, events: &[Event]) -> Result<(), OutputError> {
        for event in events {
            self.put_line(event)?;
        }
        self.sink.flush()?;
        Ok(())
    }

    /// The sink, to inspect what a test wrote.
    #[cfg(test)]
    pub fn into_inner(self) -> W {
        self.sink
    }

    fn put_line(&mut self, event: &Event) -> Result<usize, OutputError> {
        self.line.clear();
        match &self.render {
            Render::Jq(filter) => return self.put_jq(filter.clone(), event),
            Render::Json => {
                if let Event::Notification {
                    time,
                    target,
                    subscription_id,
                    data,
                    id,
                } = event
                {
                    write_notification(
                        &mut self.sink,
                        *time,
                        target,
                        subscription_id.as_deref(),
                        data,
                        id,
                    )?;
                    return Ok(1);
                }
                // Straight into the buffer: no String per line. serde_json hands back the
                // sink's own io::Error, so a closed pipe is still a BrokenPipe.
                serde_json::to_writer(&mut self.sink, &Line::from(event))
                    .map_err(io::Error::from)?;
            }
            Render::Pretty { width, .. } => {
                // The colour is the view's, chosen when the output was made.
                let width = width.or_else(|| {
                    self.terminal
                        .then(|| terminal_size::terminal_size().map(|(w, _)| w.0 as usize))
                        .flatten()
                });
                if let Some(view) = &mut self.pretty {
                    self.line = view.render(event, width);
                }
            }
            Render::Template(template) => {
                self.line = template.render(event);
            }
        }
        self.line.push('\n');
        self.sink.write_all(self.line.as_bytes())?;
        Ok(1)
    }

    /// The `--jq` lines of one event. A filter that fails on this event is reported on
    /// stderr, and the event dropped: the stream goes on, as jq goes on to its next
    /// input.
    fn put_jq(&mut self, filter: Arc<JqFilter>, event: &Event) -> Result<usize, OutputError> {
        let lines = match filter.run(&event.to_json_line()) {
            Ok(lines) => lines,
            Err(error) => {
                let _ = writeln!(
                    io::stderr().lock(),
                    "graphwatch: --jq: {} for the {} event of {}",
                    crate::util::text::shown_text(&error, 300),
                    event.kind(),
                    crate::util::text::one_line(event.target())
                );
                return Ok(0);
            }
        };
        for line in &lines {
            // A raw string may hold newlines; one output line per value all the same.
            self.sink.write_all(line.replace('\n', " ").as_bytes())?;
            self.sink.write_all(b"\n")?;
        }
        Ok(lines.len())
    }
}

/// The line formats given on the command line, which win over `-o`.
#[derive(Debug, Clone)]
pub enum LineFormat {
    Template(Template),
    Jq(Arc<JqFilter>),
}

#[cfg(test)]
mod tests {
    use super::pretty::NOTIFIED;
    use super::*;
    use crate::event::{compact, format_time, raw_json, ChangeKind};
    use chrono::{DateTime, Local, TimeZone, Utc};
    use serde_json::value::RawValue;
    use serde_json::{json, Value};
    use unicode_width::UnicodeWidthStr;

    fn at() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 26, 10, 0, 0).unwrap() + chrono::Duration::milliseconds(123)
    }

    fn local_hms() -> String {
        at().with_timezone(&Local).format("%H:%M:%S").to_string()
    }

    /// Test data as raw JSON: text as written (key order kept), or a `json!` value.
    trait AsRaw {
        fn raw(self) -> Box<RawValue>;
    }
    impl AsRaw for &str {
        fn raw(self) -> Box<RawValue> {
            RawValue::from_string(self.to_string()).unwrap()
        }
    }
    impl AsRaw for Value {
        fn raw(self) -> Box<RawValue> {
            raw_json(&self)
        }
    }

    fn notification() -> Event {
        let data = r#"{"subscriptionId":"5554a2f6-1111-2222-3333-444455556666","clientState":"system-managed:8082D436","resource":"b8a61df7-aaaa-bbbb","siteUrl":"/personal/adele"}"#;
        let mut event = Event::notification("drive:me", data.raw());
        if let Event::Notification { time, .. } = &mut event {
            *time = at();
        }
        event
    }

    fn change(item: impl AsRaw) -> Event {
        let mut event = Event::bare_change("drive:b!x", item.raw());
        if let Event::Change { time, .. } = &mut event {
            *time = at();
        }
        event
    }

    fn file() -> &'static str {
        r#"{"id":"01BYE5RZ6QN3ZWBTUFOFD3GSPGOHDJD36K","name":"report.docx","parentReference":{"driveId":"b!x","path":"/drive/root:/Documents"},"size":12}"#
    }

    fn written(render: Render, events: &[Event]) -> String {
        let mut output = Output::new(Vec::new(), render);
        for event in events {
            output.write(event).unwrap();
        }
        String::from_utf8(output.into_inner()).unwrap()
    }

    #[test]
    fn json_lines_are_exactly_the_spec_shapes() {
        let resync = Event::Resync {
            time: at(),
            target: "list:site-eng/list-issues".into(),
            reason: "resyncRequired".into(),
        };
        let deleted = change(r#"{"id":"7","deleted":{"state":"deleted"}}"#);
        let text = written(
            Render::Json,
            &[notification(), change(file()), deleted, resync],
        );
        assert_eq!(
            text,
            concat!(
                r#"{"type":"notification","id":"e92a2fc0e498646f15a7f723039cfcdd","time":"2026-11-26T10:00:00.123Z","target":"drive:me","subscriptionId":"5554a2f6-1111-2222-3333-444455556666","data":{"subscriptionId":"5554a2f6-1111-2222-3333-444455556666","clientState":"system-managed:8082D436","resource":"b8a61df7-aaaa-bbbb","siteUrl":"/personal/adele"}}"#,
                "\n",
                r#"{"type":"change","id":"87480032f7cca3d5cd415da45017f0db","time":"2026-11-26T10:00:00.123Z","target":"drive:b!x","change":"modified","item":{"id":"01BYE5RZ6QN3ZWBTUFOFD3GSPGOHDJD36K","name":"report.docx","parentReference":{"driveId":"b!x","path":"/drive/root:/Documents"},"size":12}}"#,
                "\n",
                r#"{"type":"change","id":"bcb6da7fe5ef172d0dcd263950652569","time":"2026-11-26T10:00:00.123Z","target":"drive:b!x","change":"deleted","item":{"id":"7","deleted":{"state":"deleted"}}}"#,
                "\n",
                r#"{"type":"resync","time":"2026-11-26T10:00:00.123Z","target":"list:site-eng/list-issues","reason":"resyncRequired"}"#,
                "\n",
            )
        );
    }

    #[test]
    fn json_keeps_item_key_order_and_tokens_as_received() {
        let line = change(r#"{"z":1,"a":2.50,"m":{"y":1e3,"b":"\u00e9"}}"#).to_json_line();
        assert!(
            line.ends_with(r#""item":{"z":1,"a":2.50,"m":{"y":1e3,"b":"\u00e9"}}}"#),
            "{line}"
        );
    }

    #[test]
    fn pretty_printed_input_is_written_on_one_line() {
        let item =
            "{\n  \"id\" : \"1\",\n\t\"name\": \"a b\\\" \\n c\",\r\n  \"list\": [ 1 , 2 ]\n}";
        let line = change(item).to_json_line();
        assert!(
            line.ends_with(r#""item":{"id":"1","name":"a b\" \n c","list":[1,2]}}"#),
            "{line}"
        );
        assert!(!line.contains('\n'));
        let already = r#"{"a":"x y"}"#.raw();
        let ptr = already.get().as_ptr();
        assert_eq!(
            compact(already).get().as_ptr(),
            ptr,
            "compact text is not copied"
        );
    }

    #[test]
    fn arrays_are_not_mistaken_for_objects() {
        let event = Event::notification("drive:me", r#"["s"]"#.raw());
        assert!(matches!(
            event,
            Event::Notification {
                subscription_id: None,
                ..
            }
        ));
        assert!(matches!(
            change(r#"[{"state":"deleted"}]"#),
            Event::Change {
                change: ChangeKind::Modified,
                ..
            }
        ));
        assert!(matches!(
            change(r#"{"id":"1","deleted":null}"#),
            Event::Change {
                change: ChangeKind::Modified,
                ..
            }
        ));
    }

    #[test]
    fn notification_lines_are_the_bytes_of_the_line_shape() {
        // write_notification against serde's serialisation of Line, the contract's shape.
        let cases = [
            ("drive:me", r#"{"subscriptionId":"s1","resource":"r"}"#),
            ("drive:me", r#"{"resource":"r","subscriptionId":"later"}"#),
            (
                "list:a \"b\"\\c\u{1}é",
                r#"{"subscriptionId":"\u0073\"q","x":[1,{"subscriptionId":"no"}]}"#,
            ),
            (
                "drive:me",
                r#"{"subscriptionId":7,"subscriptionId":"second"}"#,
            ),
            ("drive:me", r#"{"subscriptionId":null}"#),
            ("drive:me", r#"{"x":{"subscriptionId":"nested only"}}"#),
            ("drive:me", r#"["s"]"#),
            ("drive:me", "42"),
            (
                "drive:me",
                r#"{ "subscriptionId" : "spaced" , "a" : [ 1 , 2 ] }"#,
            ),
        ];
        for (target, data) in cases {
            let mut event =
                Event::notification(target, RawValue::from_string(data.into()).unwrap());
            if let Event::Notification { time, .. } = &mut event {
                *time = at();
            }
            let mut output = Output::new(Vec::new(), Render::Json);
            output.write(&event).unwrap();
            let written = String::from_utf8(output.into_inner()).unwrap();
            assert_eq!(written, format!("{}\n", event.to_json_line()), "{data}");
            let line: Value = serde_json::from_str(&written).unwrap();
            assert_eq!(line["target"], target);
        }
    }

    #[test]
    fn the_subscription_id_is_the_first_top_level_string_member_of_that_name() {
        let id = |data: &str| match Event::notification(
            "t",
            RawValue::from_string(data.into()).unwrap(),
        ) {
            Event::Notification {
                subscription_id, ..
            } => subscription_id,
            _ => unreachable!(),
        };
        assert_eq!(
            id(r#"{"subscriptionId":"s1","resource":"r"}"#).as_deref(),
            Some("s1")
        );
        assert_eq!(
            id(r#"{"a":{"subscriptionId":"x"},"subscriptionId":"s2"}"#).as_deref(),
            Some("s2")
        );
        assert_eq!(
            id(r#"{"subscripti\u006fnId":"esc\"aped"}"#).as_deref(),
            Some("esc\"aped")
        );
        assert_eq!(
            id(r#"{"subscriptionId":"first","subscriptionId":"second"}"#).as_deref(),
            Some("first")
        );
        assert_eq!(id(r#"{"subscriptionId":7}"#), None);
        assert_eq!(id(r#"{"subscriptionId":null}"#), None);
        assert_eq!(id(r#"{"x":{"subscriptionId":"nested only"}}"#), None);
        assert_eq!(id(r#"["subscriptionId"]"#), None);
        assert_eq!(id("\"subscriptionId\""), None);
    }

    #[test]
    fn notification_of_another_shape_has_null_subscription_id_and_whole_data() {
        let mut event = Event::notification("drive:me", json!(42).raw());
        if let Event::Notification { time, .. } = &mut event {
            *time = at();
        }
        assert_eq!(
            event.to_json_line(),
            r#"{"type":"notification","id":"40b4dd0fc550be25052c2648b69d2685","time":"2026-11-26T10:00:00.123Z","target":"drive:me","subscriptionId":null,"data":42}"#
        );
    }

    #[test]
    fn time_has_milliseconds_and_z() {
        assert_eq!(format_time(at()), "2026-11-26T10:00:00.123Z");
        // The same text as chrono's, across the range and at its edges.
        for time in [
            at(),
            Utc.with_ymd_and_hms(1, 1, 1, 0, 0, 0).unwrap(),
            Utc.with_ymd_and_hms(9999, 12, 31, 23, 59, 59).unwrap()
                + chrono::Duration::microseconds(999_999),
            Utc.with_ymd_and_hms(10000, 1, 1, 0, 0, 0).unwrap(),
            Utc.with_ymd_and_hms(-1, 6, 1, 12, 0, 0).unwrap(),
            DateTime::from_timestamp(1_700_000_039, 1_999_000_000).unwrap(),
            DateTime::from_timestamp(1_764_587_025, 7_000_000).unwrap(),
        ] {
            assert_eq!(
                format_time(time),
                time.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                "{time:?}"
            );
        }
        assert_eq!(
            format_time(Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap()),
            "2026-01-02T03:04:05.000Z"
        );
    }

    #[test]
    fn change_kind_follows_the_deleted_facet() {
        assert!(matches!(
            change(file()),
            Event::Change {
                change: ChangeKind::Modified,
                ..
            }
        ));
        assert!(matches!(
            change(json!({"id":"1","deleted":{"state":"deleted"}})),
            Event::Change {
                change: ChangeKind::Deleted,
                ..
            }
        ));
    }

    #[test]
    fn pretty_lines_without_colour() {
        let pretty = Render::Pretty {
            color: false,
            width: None,
        };
        let deleted = change(
            json!({"id":"01BYE5RZXXXX","deleted":{"state":"deleted"},"name":"old.txt","parentReference":{"path":"/drive/root:"}}),
        );
        let list_item = change(json!({"id":"12","fields":{"Title":"Printer jam"}}));
        let resync = Event::Resync {
            time: at(),
            target: "drive:me".into(),
            reason: "the delta cursor expired".into(),
        };
        let odd = {
            let mut e = Event::notification("drive:me", json!({"hello":"a\nb"}).raw());
            if let Event::Notification { time, .. } = &mut e {
                *time = at();
            }
            e
        };
        let text = written(
            pretty,
            &[
                notification(),
                change(file()),
                deleted,
                list_item,
                resync,
                odd,
            ],
        );
        let t = local_hms();
        assert_eq!(
            text,
            format!(
                "{t} drive:me notification sub 5554a2f6 resource b8a61df7\n\
                 {t} drive:b!x modified Documents/report.docx\n\
                 {t} drive:b!x deleted  old.txt\n\
                 {t} drive:b!x modified #12 \"Printer jam\"\n\
                 {t} drive:me resync   the delta cursor expired\n\
                 {t} drive:me notification {{\"hello\":\"a\\nb\"}}\n"
            )
        );
    }

    /// What the item index found, as people read it (issue 13, item 7).
    #[test]
    fn pretty_change_lines_say_what_changed() {
        use crate::event::{ChangeDetail, Previous};
        let event = |kind, path: &str, previous: Option<(&str, &str)>, item: Value| {
            let mut e = Event::change(
                "drive:me",
                kind,
                ChangeDetail {
                    id: None,
                    path: (!path.is_empty()).then(|| path.to_string()),
                    previous: previous.map(|(name, path)| Previous {
                        name: Some(name.into()),
                        path: Some(path.into()),
                    }),
                    fields: None,
                },
                item.raw(),
            );
            if let Event::Change { time, .. } = &mut e {
                *time = at();
            }
            e
        };
        let by = json!({"user": {"displayName": "Megan Bowen"}});
        let mut fields = event(
            ChangeKind::Modified,
            "",
            None,
            json!({"id": "10", "fields": {"Title": "Projector broken"}}),
        );
        if let Event::Change { detail, .. } = &mut fields {
            detail.fields = Some(
                json!({"Status": {"from": "Active", "to": "Resolved"}, "Owner": {"from": null, "to": "Megan"}})
                    .raw(),
            );
        }
        let lines = [
            event(
                ChangeKind::Created,
                "/Reports/budget.xlsx",
                None,
                json!({"id": "1", "name": "budget.xlsx", "file": {}, "size": 12_345, "lastModifiedBy": by}),
            ),
            event(
                ChangeKind::Renamed,
                "/Reports/budget-final.xlsx",
                Some(("budget.xlsx", "/Reports/budget.xlsx")),
                json!({"id": "1", "name": "budget-final.xlsx"}),
            ),
            event(
                ChangeKind::Moved,
                "/Archive/x.txt",
                Some(("x.txt", "/Reports/x.txt")),
                json!({"id": "2", "name": "x.txt"}),
            ),
            event(
                ChangeKind::Moved,
                "/Archive/y.txt",
                Some(("x.txt", "/Reports/x.txt")),
                json!({"id": "2", "name": "y.txt"}),
            ),
            event(
                ChangeKind::Deleted,
                "/Archive/x.txt",
                None,
                json!({"id": "2", "deleted": {"state": "deleted"}}),
            ),
            fields,
        ];
        let plain: Vec<String> = lines
            .iter()
            .map(|e| pretty_line(e, false, None)[9..].to_string())
            .collect();
        assert_eq!(
            plain,
            [
                "drive:me created Reports/budget.xlsx 12 KB · Megan Bowen",
                "drive:me renamed Reports/budget.xlsx → budget-final.xlsx",
                "drive:me moved Reports/x.txt → Archive/",
                "drive:me moved Reports/x.txt → Archive/y.txt",
                "drive:me deleted Archive/x.txt",
                "drive:me modified #10 \"Projector broken\": Owner (empty) → Megan, Status Active → Resolved",
            ]
        );
    }

    #[test]
    fn pretty_lines_with_colour_are_styled_and_plain_text_matches() {
        let line = pretty_line(&change(file()), true, None);
        assert!(line.contains("\u{1b}["), "{line:?}");
        assert!(
            line.contains(&format!("{NOTIFIED}modified{NOTIFIED:#}")),
            "{line:?}"
        );
        let plain = pretty_line(&change(file()), false, None);
        assert!(!plain.contains('\u{1b}'));
    }

    #[test]
    fn pretty_lines_are_cut_to_the_width() {
        let event = change(file());
        let full = pretty_line(&event, false, None);
        assert_eq!(full.width(), 8 + 1 + 9 + 1 + 8 + 1 + 21);
        for width in [10, 20, 30, 40, 47] {
            let cut = pretty_line(&event, false, Some(width));
            assert!(cut.width() <= width, "{width}: {cut:?}");
            assert!(cut.ends_with('…'), "{width}: {cut:?}");
            assert!(
                full.starts_with(cut.trim_end_matches('…')),
                "{width}: {cut:?}"
            );
        }
        assert_eq!(pretty_line(&event, false, Some(full.width())), full);
        // Colour codes do not count towards the width.
        let coloured = pretty_line(&event, true, Some(30));
        let stripped: String = {
            let mut s = String::new();
            let mut in_escape = false;
            for c in coloured.chars() {
                match (in_escape, c) {
                    (false, '\u{1b}') => in_escape = true,
                    (true, 'm') => in_escape = false,
                    (true, _) => {}
                    (false, c) => s.push(c),
                }
            }
            s
        };
        assert_eq!(stripped, pretty_line(&event, false, Some(30)));
    }

    #[test]
    fn pretty_cut_counts_wide_characters() {
        let event = change(json!({"id":"1","name":"日本語のファイル名.txt"}));
        for width in 15..40 {
            let cut = pretty_line(&event, false, Some(width));
            assert!(cut.width() <= width, "{width}: {cut:?}");
        }
    }

    #[test]
    fn template_renders_fields_strings_unquoted_and_others_as_json() {
        let template = Template::parse("{type} {target} {data.resource} {subscriptionId} {data} {{literal}} {data.nope} [{data.value.0}]").unwrap();
        let line = template.render(&notification());
        assert_eq!(
            line,
            r#"notification drive:me b8a61df7-aaaa-bbbb 5554a2f6-1111-2222-3333-444455556666 {"subscriptionId":"5554a2f6-1111-2222-3333-444455556666","clientState":"system-managed:8082D436","resource":"b8a61df7-aaaa-bbbb","siteUrl":"/personal/adele"} {literal}  []"#
        );
    }

    #[test]
    fn template_indexes_arrays_and_renders_numbers_bools_null() {
        let item = json!({"id":"1","name":"a\nb","size":12,"file":{"hashes":["h0","h1"]},"shared":true,"gone":null});
        let template = Template::parse("{item.name}|{item.size}|{item.file.hashes.1}|{item.file.hashes.9}|{item.shared}|{item.gone}|{change}|{time}").unwrap();
        assert_eq!(
            template.render(&change(item)),
            "a b|12|h1||true||modified|2026-11-26T10:00:00.123Z"
        );
    }

    #[test]
    fn template_writes_lines_through_output() {
        let template = Template::parse("{target}:{item.name}").unwrap();
        let text = written(
            Render::Template(template),
            &[change(file()), change(file())],
        );
        assert_eq!(text, "drive:b!x:report.docx\ndrive:b!x:report.docx\n");
    }

    #[test]
    fn template_errors_name_the_position() {
        let cases = [
            ("abc {target", 5, "unclosed"),
            ("{", 1, "unclosed"),
            ("a } b", 3, "without a matching"),
            ("{}", 1, "empty placeholder"),
            ("x{a..b}", 2, "empty segment"),
            ("é{a{b}}", 2, "inside a placeholder"),
        ];
        for (text, position, words) in cases {
            let err = Template::parse(text).unwrap_err();
            assert_eq!(err.position, position, "{text}: {err}");
            assert!(err.message.contains(words), "{text}: {err}");
            assert!(
                err.to_string().contains(&format!("character {position}")),
                "{err}"
            );
        }
        assert_eq!(
            Template::parse("{{}}").unwrap().render(&notification()),
            "{}"
        );
        assert!("{target}".parse::<Template>().is_ok());
    }

    #[test]
    fn stdout_output_can_move_between_threads() {
        fn send<T: Send>() {}
        send::<Output<Vec<u8>>>();
    }

    struct ClosedPipe;
    impl Write for ClosedPipe {
        fn write(&mut self, _: &[u8]) -> io::Result<usize> {
            Err(io::Error::from(io::ErrorKind::BrokenPipe))
        }
        fn flush(&mut self) -> io::Result<()> {
            Err(io::Error::from(io::ErrorKind::BrokenPipe))
        }
    }

    struct Full;
    impl Write for Full {
        fn write(&mut self, _: &[u8]) -> io::Result<usize> {
            Err(io::Error::other("disk full"))
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn broken_pipe_is_its_own_error() {
        let mut output = Output::new(ClosedPipe, Render::Json);
        assert!(matches!(
            output.write(&notification()),
            Err(OutputError::BrokenPipe(_))
        ));
        let err = output.write(&notification()).unwrap_err();
        assert!(
            is_broken_pipe(&anyhow::Error::from(err)),
            "main's quiet exit sees it"
        );
        let mut output = Output::new(Full, Render::Json);
        assert!(matches!(
            output.write(&notification()),
            Err(OutputError::Io(_))
        ));
    }

    #[test]
    fn each_event_is_flushed() {
        struct Counting(Vec<u8>, usize);
        impl Write for Counting {
            fn write(&mut self, b: &[u8]) -> io::Result<usize> {
                self.0.extend_from_slice(b);
                Ok(b.len())
            }
            fn flush(&mut self) -> io::Result<()> {
                self.1 += 1;
                Ok(())
            }
        }
        let mut output = Output::new(io::BufWriter::new(Counting(Vec::new(), 0)), Render::Json);
        output.write(&notification()).unwrap();
        assert_eq!(
            output
                .sink
                .get_ref()
                .0
                .iter()
                .filter(|b| **b == b'\n')
                .count(),
            1
        );
        output.write_all(&[notification(), notification()]).unwrap();
        let inner = output
            .into_inner()
            .into_inner()
            .unwrap_or_else(|_| panic!("flushed"));
        assert_eq!(inner.0.iter().filter(|b| **b == b'\n').count(), 3);
        assert_eq!(inner.1, 2);
    }
}
