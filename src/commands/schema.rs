//! `graphwatch schema [TYPE]`: the JSON Schema of a line type, or of all of them as one
//! JSON object keyed by type.

use serde_json::Value;

use crate::event::schema::{self, LineType};
use crate::output;

pub(super) fn run(kind: Option<LineType>) -> anyhow::Result<()> {
    match kind {
        Some(kind) => output::print_line(schema::of(kind).trim_end()),
        None => {
            let mut all = serde_json::Map::new();
            for (name, kind) in schema::ALL {
                // The files are checked by the tests; a broken one would be a bug here.
                let parsed: Value = serde_json::from_str(schema::of(kind))?;
                all.insert(name.to_string(), parsed);
            }
            output::print_json(&Value::Object(all), crate::cli::OutputFormat::Pretty)
        }
    }
}
