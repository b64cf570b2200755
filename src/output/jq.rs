//! `--jq EXPR`: each event's JSON line through a jq filter, gh's model. Strings come
//! out raw, other values as compact JSON, one line each; a filter that yields nothing
//! drops the event from the stream.
//!
//! The jq implementation is jaq (`jaq-core`, `jaq-std`, `jaq-json`, pinned to exact
//! versions in Cargo.toml: their API changes between majors). Everything of jaq stays
//! behind this module's two calls, [`JqFilter::parse`] and [`JqFilter::run`].
//!
//! A filter runs on a value graphwatch made itself, so it cannot read files or stdin:
//! the loader has no module reader (`import`/`include` fail to load), there is no
//! `input`, and `halt` ends the event, not the process (jaq's `unwrap_valr` would
//! call `exit`).

use std::fmt;

use jaq_core::load::{Arena, File, Loader};
use jaq_core::{data, Compiler, Ctx, Vars};
use jaq_json::Val;

type Filter = jaq_core::Filter<data::JustLut<Val>>;

/// A compiled `--jq` expression.
pub struct JqFilter {
    filter: Filter,
}

impl fmt::Debug for JqFilter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("JqFilter { .. }")
    }
}

/// A `--jq` expression that cannot be used (a usage error). `position` is 1-based, in
/// characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JqError {
    pub position: usize,
    pub message: String,
}

impl fmt::Display for JqError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid --jq at character {}: {}",
            self.position, self.message
        )
    }
}

impl std::error::Error for JqError {}

impl JqFilter {
    /// Parse and compile once, at start; the first error is reported with its position.
    pub fn parse(code: &str) -> Result<JqFilter, JqError> {
        let at = |part: &str| JqError {
            // Spans are slices of `code`; report the character they start at.
            position: code[..jaq_core::load::span(code, part).start]
                .chars()
                .count()
                + 1,
            message: String::new(),
        };
        let defs = jaq_core::defs()
            .chain(jaq_std::defs())
            .chain(jaq_json::defs());
        let funs = jaq_core::funs()
            .chain(jaq_std::funs())
            .chain(jaq_json::funs());
        let arena = Arena::default();
        let modules = Loader::new(defs)
            .load(&arena, File { code, path: () })
            .map_err(|errors| {
                let Some((_, error)) = errors.into_iter().next() else {
                    return JqError {
                        position: 1,
                        message: "cannot be read".into(),
                    };
                };
                match error {
                    jaq_core::load::Error::Lex(errors) => match errors.first() {
                        Some((expected, found)) => JqError {
                            message: format!("expected {}", expected.as_str()),
                            ..at(found)
                        },
                        None => JqError {
                            position: 1,
                            message: "cannot be read".into(),
                        },
                    },
                    jaq_core::load::Error::Parse(errors) => match errors.first() {
                        Some((expected, found)) => JqError {
                            message: if found.is_empty() {
                                format!("expected {} at the end", expected.as_str())
                            } else {
                                format!("expected {}, found {found:?}", expected.as_str())
                            },
                            ..at(found)
                        },
                        None => JqError {
                            position: 1,
                            message: "cannot be parsed".into(),
                        },
                    },
                    jaq_core::load::Error::Io(_) => JqError {
                        position: 1,
                        message: "modules cannot be loaded (no import or include)".into(),
                    },
                }
            })?;
        let filter = Compiler::default()
            .with_funs(funs)
            .compile(modules)
            .map_err(|errors| {
                let first = errors
                    .into_iter()
                    .next()
                    .and_then(|(_, errors)| errors.into_iter().next());
                match first {
                    Some((name, undefined)) => JqError {
                        message: format!("undefined {} {name:?}", undefined.as_str()),
                        ..at(name)
                    },
                    None => JqError {
                        position: 1,
                        message: "cannot be compiled".into(),
                    },
                }
            })?;
        Ok(JqFilter { filter })
    }

    /// The lines for one event's JSON line (without newlines): strings raw, other
    /// values as compact JSON. `Err` is a runtime error of the filter for this event,
    /// worded for "--jq: … for event …".
    pub fn run(&self, line: &str) -> Result<Vec<String>, String> {
        let input = jaq_json::read::parse_single(line.as_bytes())
            .map_err(|e| format!("cannot read the event ({e})"))?;
        let ctx = Ctx::<data::JustLut<Val>>::new(&self.filter.lut, Vars::new([]));
        let mut out = Vec::new();
        for value in self.filter.id.run((ctx, input)) {
            let value = value.map_err(|exn| match exn.get_err() {
                Ok(error) => error.to_string(),
                Err(_) => "halt is not supported".to_string(),
            })?;
            out.push(match &value {
                Val::TStr(text) => String::from_utf8_lossy(text).into_owned(),
                other => other.to_string(),
            });
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LINE: &str = r#"{"type":"change","time":"2026-11-26T10:00:00.123Z","target":"drive:me","change":"deleted","item":{"id":"7","name":"a b.txt","size":3}}"#;

    fn run(code: &str) -> Vec<String> {
        JqFilter::parse(code).unwrap().run(LINE).unwrap()
    }

    #[test]
    fn strings_are_raw_and_other_values_compact_json() {
        assert_eq!(run(".item.name"), ["a b.txt"]);
        assert_eq!(run(".item.size"), ["3"]);
        assert_eq!(
            run("{id: .item.id, t: .type}"),
            [r#"{"id":"7","t":"change"}"#]
        );
        assert_eq!(run(".item | keys"), [r#"["id","name","size"]"#]);
        assert_eq!(run(".target, .change"), ["drive:me", "deleted"]);
    }

    #[test]
    fn empty_drops_and_select_filters() {
        assert!(run("empty").is_empty());
        assert_eq!(run(r#"select(.change == "deleted") | .item.id"#), ["7"]);
        assert!(run(r#"select(.change == "created")"#).is_empty());
    }

    #[test]
    fn bad_expressions_name_the_character() {
        for (code, position) in [
            (".item |", 8),
            ("select(", 8),
            (".[", 3),
            ("nosuch(1)", 1),
            (r#""é" | foo"#, 7),
        ] {
            let err = JqFilter::parse(code).unwrap_err();
            assert_eq!(err.position, position, "{code}: {err}");
            assert!(
                err.to_string().starts_with("invalid --jq at character"),
                "{err}"
            );
            assert!(!err.to_string().contains('\n'));
        }
    }

    #[test]
    fn runtime_errors_and_halt_are_errors_of_the_event_not_the_process() {
        let filter = JqFilter::parse(".item.name.x").unwrap();
        assert!(
            filter.run(LINE).unwrap_err().contains("cannot"),
            "an index of a string"
        );
        let halt = JqFilter::parse("halt").unwrap();
        assert_eq!(halt.run(LINE).unwrap_err(), "halt is not supported");
    }

    #[test]
    fn modules_cannot_be_loaded() {
        let err = JqFilter::parse(r#"import "x" as x; ."#).unwrap_err();
        assert!(err.message.contains("no import"), "{err}");
    }
}
