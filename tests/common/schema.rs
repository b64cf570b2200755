//! Every JSON line a test reads from graphwatch's stdout is checked against the JSON
//! Schema of its type (docs/schema/), so the contract is tested by every test that
//! watches, not by a few examples.

use std::collections::HashMap;
use std::sync::OnceLock;

use serde_json::Value;

/// The validators, built once from the files in docs/schema/.
fn validators() -> &'static HashMap<String, jsonschema::Validator> {
    static VALIDATORS: OnceLock<HashMap<String, jsonschema::Validator>> = OnceLock::new();
    VALIDATORS.get_or_init(|| {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/schema");
        let mut all = HashMap::new();
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let schema: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap())
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let kind = path.file_stem().unwrap().to_string_lossy().into_owned();
            let validator = jsonschema::validator_for(&schema)
                .unwrap_or_else(|e| panic!("{}: not a valid schema: {e}", path.display()));
            all.insert(kind, validator);
        }
        all
    })
}

/// Panics with the reason unless `line` is valid for the schema of its `type`.
pub fn check(line: &Value) {
    let kind = line["type"]
        .as_str()
        .unwrap_or_else(|| panic!("a line without a type: {line}"));
    let validator = validators()
        .get(kind)
        .unwrap_or_else(|| panic!("no schema in docs/schema/ for type {kind:?}: {line}"));
    if let Err(error) = validator.validate(line) {
        panic!(
            "a {kind} line breaks its schema ({error} at {}): {line}",
            error.instance_path()
        );
    }
}

/// The line types that have a schema.
pub fn kinds() -> Vec<String> {
    let mut kinds: Vec<String> = validators().keys().cloned().collect();
    kinds.sort();
    kinds
}
