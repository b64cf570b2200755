//! `--template`: one line per event from `{field.path}` placeholders over the event's
//! JSON object.

use std::fmt;

use serde_json::value::RawValue;

use crate::event::{format_time, Event};
use crate::util::text::one_line;

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
        ("id", _) => scalar(event.id().unwrap_or_default(), out),
        ("target", _) => scalar(event.target(), out),
        (
            "subscriptionId",
            Event::Notification {
                subscription_id: Some(id),
                ..
            },
        ) => scalar(id, out),
        ("change", Event::Change { change, .. }) => scalar(change.as_str(), out),
        ("path", Event::Change { detail, .. }) => {
            if let Some(path) = &detail.path {
                scalar(path, out)
            }
        }
        ("previous", Event::Change { detail, .. }) => {
            let previous = detail.previous.as_ref();
            let value = match rest.first().map(String::as_str) {
                Some("name") if rest.len() == 1 => previous.and_then(|p| p.name.as_deref()),
                Some("path") if rest.len() == 1 => previous.and_then(|p| p.path.as_deref()),
                _ => None,
            };
            if let Some(text) = value {
                out.push_str(&one_line(text));
            }
        }
        ("reason", Event::Resync { reason, .. })
        | ("reason", Event::Status { reason, .. })
        | ("reason", Event::Gap { reason, .. }) => scalar(reason, out),
        ("state", Event::Status { state, .. }) => scalar(state.as_str(), out),
        ("fields", Event::Change { detail, .. }) => {
            if let Some(raw) = &detail.fields {
                raw_field(raw, rest, out);
            }
        }
        ("data", Event::Notification { data: raw, .. })
        | ("item", Event::Change { item: raw, .. }) => raw_field(raw, rest, out),
        _ => {}
    }
}

/// Append the value at `rest` inside raw JSON: strings unquoted, `null` and missing as
/// nothing, anything else compact JSON.
fn raw_field(raw: &RawValue, rest: &[String], out: &mut String) {
    {
        {
            if let Some(found) = lookup(raw, rest) {
                let text = found.get();
                if text.starts_with('"') {
                    if let Ok(string) = serde_json::from_str::<String>(text) {
                        out.push_str(&one_line(&string));
                    }
                } else if text != "null" {
                    // Compact JSON has no control characters outside its strings, but
                    // DEL and C1 (a CSI, U+009B) may stand raw inside them.
                    out.push_str(&one_line(text));
                }
            }
        }
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
