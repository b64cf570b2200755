//! Where text goes. stdout carries command results only (JSON lines, or text for
//! people with `-o pretty`); everything else — prompts, progress, notes — goes to
//! stderr. A closed stdout (`| head -1`) is not an error: see [`is_broken_pipe`].
//!
//! Events (the live stream) have their own model and renderings, below:
//!
//! * JSON (`-o json`): one object per line, exactly the SPEC's shapes, keys in the SPEC's
//!   order (`type`, `time`, `target`, then the rest). `data` and `item` are written back
//!   as received, key order included: they are kept as raw JSON text
//!   ([`RawValue`]), only stripped of insignificant whitespace so that an event stays one
//!   line (see `docs/decisions.md`, "output layer").
//! * Pretty (`-o pretty`): one short line for people: local time, target, what happened,
//!   short ids and names; coloured as [`crate::config`] decides for stdout, and cut to the
//!   terminal's width.
//! * Template (`--template`): one line per event from `{field.path}` placeholders over
//!   the event's JSON object.
//!
//! Every event is flushed as soon as it is written, so `| jq` and shell loops see it at
//! once. A closed stdout (`| head -1`) is reported as [`OutputError::BrokenPipe`] so the
//! program can end quietly.

use std::fmt::{self, Display};
use std::io::{self, IsTerminal as _, Write};

use anstyle::{AnsiColor, Style};
use chrono::{DateTime, Local, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::Value;
use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

use crate::cli::OutputFormat;

/// How to talk to the person at the terminal (stderr).
#[derive(Debug, Clone, Copy)]
pub struct Ui {
    /// `-q`: no notes or progress; prompts that sign-in needs are still shown.
    pub quiet: bool,
    /// stderr is a terminal: spinners are allowed.
    pub stderr_tty: bool,
}

impl Ui {
    pub fn new(quiet: bool) -> Self {
        Ui {
            quiet,
            stderr_tty: std::io::stderr().is_terminal(),
        }
    }

    /// Something the user may want to know ("Signed in as …"); hidden by `-q`.
    pub fn note(&self, message: impl Display) {
        if !self.quiet {
            let _ = writeln!(std::io::stderr().lock(), "{message}");
        }
    }

    /// Something the user must see to go on (the device-code instructions).
    pub fn prompt(&self, message: impl Display) {
        let _ = writeln!(std::io::stderr().lock(), "{message}");
    }
}

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

/// Bold for labels when colours are on.
pub fn bold(text: &str, color: bool) -> String {
    if color {
        format!("\x1b[1m{text}\x1b[0m")
    } else {
        text.to_string()
    }
}

/// stdout was closed by the reader: end quietly with status 0.
pub fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

// ---------------------------------------------------------------------------------------
// Events: the live stream's lines

/// What happened to an item, in a `change` event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    Updated,
    Deleted,
}

impl ChangeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeKind::Updated => "updated",
            ChangeKind::Deleted => "deleted",
        }
    }
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
    },
    /// One changed item, from delta (`--changes`).
    Change {
        time: DateTime<Utc>,
        target: String,
        change: ChangeKind,
        item: Box<RawValue>,
    },
    /// The delta cursor was invalid and the watch starts again from a new baseline.
    Resync {
        time: DateTime<Utc>,
        target: String,
        reason: String,
    },
}

impl Event {
    /// A `notification` event now, taking `subscriptionId` from the data.
    pub fn notification(target: impl Into<String>, data: Box<RawValue>) -> Event {
        #[derive(Deserialize)]
        struct Ids {
            #[serde(rename = "subscriptionId")]
            subscription_id: Option<String>,
        }
        let data = compact(data);
        // (A derived struct would also accept an array: look only into objects.)
        let subscription_id = data
            .get()
            .starts_with('{')
            .then(|| serde_json::from_str::<Ids>(data.get()).ok())
            .flatten()
            .and_then(|ids| ids.subscription_id);
        Event::Notification {
            time: Utc::now(),
            target: target.into(),
            subscription_id,
            data,
        }
    }

    /// A `change` event now; `deleted` when the item carries a (non-null) `deleted` facet,
    /// as delta marks removed items.
    pub fn change(target: impl Into<String>, item: Box<RawValue>) -> Event {
        #[derive(Deserialize)]
        struct Facets {
            deleted: Option<serde::de::IgnoredAny>,
        }
        let item = compact(item);
        let change = match serde_json::from_str::<Facets>(item.get()) {
            Ok(Facets { deleted: Some(_) }) if item.get().starts_with('{') => ChangeKind::Deleted,
            _ => ChangeKind::Updated,
        };
        Event::Change {
            time: Utc::now(),
            target: target.into(),
            change,
            item,
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
        }
    }

    pub fn time(&self) -> DateTime<Utc> {
        match self {
            Event::Notification { time, .. }
            | Event::Change { time, .. }
            | Event::Resync { time, .. } => *time,
        }
    }

    pub fn target(&self) -> &str {
        match self {
            Event::Notification { target, .. }
            | Event::Change { target, .. }
            | Event::Resync { target, .. } => target,
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
    if !text
        .bytes()
        .any(|b| matches!(b, b' ' | b'\n' | b'\r' | b'\t'))
    {
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

/// Raw JSON parsed for a look inside (pretty lines, names, ids); `null` if it is not JSON.
fn parse(raw: &RawValue) -> Value {
    serde_json::from_str(raw.get()).unwrap_or(Value::Null)
}

fn item_name(item: &Value) -> Option<&str> {
    item.get("name").and_then(Value::as_str).or_else(|| {
        item.get("fields")
            .and_then(|f| f.get("Title"))
            .and_then(Value::as_str)
    })
}

/// The time as the SPEC writes it: UTC, RFC 3339, milliseconds, `Z`.
pub fn format_time(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// The wire shape of each event; field order here is the order on the line.
#[derive(Serialize)]
#[serde(tag = "type", rename_all = "camelCase")]
enum Line<'a> {
    Notification {
        time: String,
        target: &'a str,
        #[serde(rename = "subscriptionId")]
        subscription_id: Option<&'a str>,
        data: &'a RawValue,
    },
    Change {
        time: String,
        target: &'a str,
        change: &'static str,
        item: &'a RawValue,
    },
    Resync {
        time: String,
        target: &'a str,
        reason: &'a str,
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
            } => Line::Notification {
                time: format_time(*time),
                target,
                subscription_id: subscription_id.as_deref(),
                data,
            },
            Event::Change {
                time,
                target,
                change,
                item,
            } => Line::Change {
                time: format_time(*time),
                target,
                change: change.as_str(),
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
        }
    }
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
    /// For `width: None`: whether the sink is a terminal whose width we may ask.
    terminal: bool,
    line: String,
}

/// Stdout behind a buffer: each event is one `write` when it is flushed. Not the
/// `StdoutLock`: that is not `Send`, and the watch loop may run on any Tokio worker.
pub type Stdout = io::BufWriter<io::Stdout>;

impl Output<Stdout> {
    /// Events on stdout. `format` and `color` as resolved by [`crate::config`] (pretty on
    /// a terminal, JSON otherwise; `--color`/`NO_COLOR` for stdout); a template wins over
    /// the format.
    pub fn stdout(format: OutputFormat, template: Option<Template>, color: bool) -> Output<Stdout> {
        let render = match (template, format) {
            (Some(template), _) => Render::Template(template),
            (None, OutputFormat::Json) => Render::Json,
            (None, OutputFormat::Pretty) => Render::Pretty { color, width: None },
        };
        let mut output = Output::new(io::BufWriter::new(io::stdout()), render);
        output.terminal = io::stdout().is_terminal();
        output
    }
}

impl<W: Write> Output<W> {
    /// Output to any sink; pretty lines are cut only if `width` is given.
    pub fn new(sink: W, render: Render) -> Output<W> {
        Output {
            sink,
            render,
            terminal: false,
            line: String::new(),
        }
    }

    pub fn render(&self) -> &Render {
        &self.render
    }

    /// Write one event and flush.
    pub fn write(&mut self, event: &Event) -> Result<(), OutputError> {
        self.put(event)?;
        self.sink.flush()?;
        Ok(())
    }

    /// Write one event without flushing it. The caller flushes (see [`Output::flush`])
    /// before it waits for anything: the watch loop flushes once no further event is
    /// queued, so a burst costs one `write` instead of one per line, and no line is ever
    /// left in the buffer while graphwatch waits.
    pub fn write_buffered(&mut self, event: &Event) -> Result<(), OutputError> {
        self.put(event)
    }

    /// Flush what [`Output::write_buffered`] wrote.
    pub fn flush(&mut self) -> Result<(), OutputError> {
        self.sink.flush()?;
        Ok(())
    }

    /// Write several events (one burst) and flush once.
    pub fn write_all(&mut self, events: &[Event]) -> Result<(), OutputError> {
        for event in events {
            self.put(event)?;
        }
        self.sink.flush()?;
        Ok(())
    }

    /// The sink, e.g. to inspect what a test wrote.
    pub fn into_inner(self) -> W {
        self.sink
    }

    fn put(&mut self, event: &Event) -> Result<(), OutputError> {
        self.line.clear();
        match &self.render {
            Render::Json => {
                // Straight into the buffer: no String per line. serde_json hands back the
                // sink's own io::Error, so a closed pipe is still a BrokenPipe.
                serde_json::to_writer(&mut self.sink, &Line::from(event))
                    .map_err(io::Error::from)?;
            }
            Render::Pretty { color, width } => {
                let width = width.or_else(|| {
                    self.terminal
                        .then(|| terminal_size::terminal_size().map(|(w, _)| w.0 as usize))
                        .flatten()
                });
                self.line = pretty_line(event, *color, width);
            }
            Render::Template(template) => {
                self.line = template.render(event);
            }
        }
        self.line.push('\n');
        self.sink.write_all(self.line.as_bytes())?;
        Ok(())
    }
}

const DIM: Style = Style::new().dimmed();
const TARGET: Style = Style::new().fg_color(Some(anstyle::Color::Ansi(AnsiColor::Cyan)));
const NOTIFIED: Style = Style::new()
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

/// Replace control characters (newlines included) so one event stays one line.
fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
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

/// A parsed `--template`: literal text and `{field.path}` placeholders.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    pieces: Vec<Piece>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Text(String),
    Field(Vec<String>),
}

/// A `--template` that cannot be used (a usage error). `position` is 1-based, in
/// characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateError {
    pub position: usize,
    pub message: String,
}

impl fmt::Display for TemplateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid --template at character {}: {}",
            self.position, self.message
        )
    }
}

impl std::error::Error for TemplateError {}

impl std::str::FromStr for Template {
    type Err = TemplateError;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Template::parse(text)
    }
}

impl Template {
    /// Parse once, at start. `{a.b.0}` is a placeholder (an all-digit segment also
    /// indexes arrays); `{{` and `}}` are literal braces.
    pub fn parse(text: &str) -> Result<Template, TemplateError> {
        let mut pieces = Vec::new();
        let mut literal = String::new();
        let mut chars = text.chars().enumerate().peekable();
        while let Some((index, c)) = chars.next() {
            match c {
                '{' if chars.peek().map(|(_, n)| *n) == Some('{') => {
                    chars.next();
                    literal.push('{');
                }
                '}' if chars.peek().map(|(_, n)| *n) == Some('}') => {
                    chars.next();
                    literal.push('}');
                }
                '}' => {
                    return Err(TemplateError {
                        position: index + 1,
                        message: "`}` without a matching `{` (write `}}` for a literal `}`)".into(),
                    })
                }
                '{' => {
                    let mut path = String::new();
                    let mut closed = false;
                    for (_, c) in chars.by_ref() {
                        if c == '}' {
                            closed = true;
                            break;
                        }
                        if c == '{' {
                            return Err(TemplateError {
                                position: index + 1,
                                message: "`{` inside a placeholder".into(),
                            });
                        }
                        path.push(c);
                    }
                    if !closed {
                        return Err(TemplateError {
                            position: index + 1,
                            message: "unclosed `{` (write `{{` for a literal `{`)".into(),
                        });
                    }
                    let path = path.trim();
                    if path.is_empty() {
                        return Err(TemplateError {
                            position: index + 1,
                            message: "empty placeholder `{}`".into(),
                        });
                    }
                    let segments: Vec<String> = path.split('.').map(str::to_string).collect();
                    if segments.iter().any(String::is_empty) {
                        return Err(TemplateError {
                            position: index + 1,
                            // Escaped: the error is one line on a terminal.
                            message: format!("empty segment in `{{{}}}`", path.escape_debug()),
                        });
                    }
                    if !literal.is_empty() {
                        pieces.push(Piece::Text(std::mem::take(&mut literal)));
                    }
                    pieces.push(Piece::Field(segments));
                }
                c => literal.push(c),
            }
        }
        if !literal.is_empty() {
            pieces.push(Piece::Text(literal));
        }
        Ok(Template { pieces })
    }

    /// The line for `event` (no newline). Strings are written without quotes, other
    /// values as compact JSON; missing fields and `null` are empty. Control characters
    /// in values become spaces, so one event stays one line.
    pub fn render(&self, event: &Event) -> String {
        let mut out = String::new();
        for piece in &self.pieces {
            match piece {
                Piece::Text(text) => out.push_str(text),
                Piece::Field(path) => field(event, path, &mut out),
            }
        }
        out
    }
}

/// Append the value at `path` in the event's JSON object. `data` and `item` are looked
/// into without re-encoding, so an object or array renders with the key order as received.
fn field(event: &Event, path: &[String], out: &mut String) {
    let Some((first, rest)) = path.split_first() else {
        return;
    };
    let scalar = |text: &str, out: &mut String| {
        if rest.is_empty() {
            out.push_str(&one_line(text));
        }
    };
    match (first.as_str(), event) {
        ("type", _) => scalar(event.kind(), out),
        ("time", _) => scalar(&format_time(event.time()), out),
        ("target", _) => scalar(event.target(), out),
        (
            "subscriptionId",
            Event::Notification {
                subscription_id: Some(id),
                ..
            },
        ) => scalar(id, out),
        ("change", Event::Change { change, .. }) => scalar(change.as_str(), out),
        ("reason", Event::Resync { reason, .. }) => scalar(reason, out),
        ("data", Event::Notification { data: raw, .. })
        | ("item", Event::Change { item: raw, .. }) => {
            if let Some(found) = lookup(raw, rest) {
                let text = found.get();
                if text.starts_with('"') {
                    if let Ok(string) = serde_json::from_str::<String>(text) {
                        out.push_str(&one_line(&string));
                    }
                } else if text != "null" {
                    out.push_str(text);
                }
            }
        }
        _ => {}
    }
}

/// Walk `path` through raw JSON: object members by name, array elements by index.
fn lookup<'r>(raw: &'r RawValue, path: &[String]) -> Option<&'r RawValue> {
    path.iter().try_fold(raw, |current, segment| {
        let text = current.get();
        if text.starts_with('{') {
            let members: std::collections::HashMap<String, &'r RawValue> =
                serde_json::from_str(text).ok()?;
            members.get(segment).copied()
        } else if text.starts_with('[') {
            let index = segment.parse::<usize>().ok()?;
            let items: Vec<&'r RawValue> = serde_json::from_str(text).ok()?;
            items.get(index).copied()
        } else {
            None
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use serde_json::json;

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
        let mut event = Event::change("drive:b!x", item.raw());
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
                r#"{"type":"notification","time":"2026-11-26T10:00:00.123Z","target":"drive:me","subscriptionId":"5554a2f6-1111-2222-3333-444455556666","data":{"subscriptionId":"5554a2f6-1111-2222-3333-444455556666","clientState":"system-managed:8082D436","resource":"b8a61df7-aaaa-bbbb","siteUrl":"/personal/adele"}}"#,
                "\n",
                r#"{"type":"change","time":"2026-11-26T10:00:00.123Z","target":"drive:b!x","change":"updated","item":{"id":"01BYE5RZ6QN3ZWBTUFOFD3GSPGOHDJD36K","name":"report.docx","parentReference":{"driveId":"b!x","path":"/drive/root:/Documents"},"size":12}}"#,
                "\n",
                r#"{"type":"change","time":"2026-11-26T10:00:00.123Z","target":"drive:b!x","change":"deleted","item":{"id":"7","deleted":{"state":"deleted"}}}"#,
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
                change: ChangeKind::Updated,
                ..
            }
        ));
        assert!(matches!(
            change(r#"{"id":"1","deleted":null}"#),
            Event::Change {
                change: ChangeKind::Updated,
                ..
            }
        ));
    }

    #[test]
    fn notification_of_another_shape_has_null_subscription_id_and_whole_data() {
        let mut event = Event::notification("drive:me", json!(42).raw());
        if let Event::Notification { time, .. } = &mut event {
            *time = at();
        }
        assert_eq!(
            event.to_json_line(),
            r#"{"type":"notification","time":"2026-11-26T10:00:00.123Z","target":"drive:me","subscriptionId":null,"data":42}"#
        );
    }

    #[test]
    fn time_has_milliseconds_and_z() {
        assert_eq!(format_time(at()), "2026-11-26T10:00:00.123Z");
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
                change: ChangeKind::Updated,
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
                 {t} drive:b!x updated 01BYE5RZ /Documents/report.docx\n\
                 {t} drive:b!x deleted 01BYE5RZ /old.txt\n\
                 {t} drive:b!x updated 12 Printer jam\n\
                 {t} drive:me resync the delta cursor expired\n\
                 {t} drive:me notification {{\"hello\":\"a\\nb\"}}\n"
            )
        );
    }

    #[test]
    fn pretty_lines_with_colour_are_styled_and_plain_text_matches() {
        let line = pretty_line(&change(file()), true, None);
        assert!(line.contains("\u{1b}["), "{line:?}");
        assert!(
            line.contains(&format!("{UPDATED}updated{UPDATED:#}")),
            "{line:?}"
        );
        let plain = pretty_line(&change(file()), false, None);
        assert!(!plain.contains('\u{1b}'));
    }

    #[test]
    fn pretty_lines_are_cut_to_the_width() {
        let event = change(file());
        let full = pretty_line(&event, false, None);
        assert_eq!(full.width(), 8 + 1 + 9 + 1 + 7 + 1 + 8 + 1 + 22);
        for width in [10, 20, 30, 45, 55] {
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
            "a b|12|h1||true||updated|2026-11-26T10:00:00.123Z"
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
        send::<Output<Stdout>>();
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
