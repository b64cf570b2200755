//! The layering of `src/` (docs/architecture.md), checked: each module may import only
//! modules on a lower floor, so there is no import cycle and a newcomer can read the
//! crate top-down; and the terminal is asked about in one place only.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Floors, bottom up, as docs/architecture.md draws them. A module may import modules
/// of lower floors only; same-floor modules know nothing of each other.
const FLOORS: &[(&str, u8)] = &[
    ("error", 0),
    ("util", 0),
    ("event", 0),
    ("logging", 0),
    ("cli", 1),
    ("term", 2),
    ("settings", 2),
    ("output", 3),
    ("sink", 3),
    ("tokens", 3),
    ("graph", 4),
    ("exit", 5),
    ("target", 5),
    ("signin", 6),
    ("link", 6),
    ("changes", 7),
    ("watch", 8),
    ("commands", 9),
    ("fuzzing", 10),
    ("testing", 10),
];

fn floor(module: &str) -> Option<u8> {
    FLOORS.iter().find(|(m, _)| *m == module).map(|(_, f)| *f)
}

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The production code of a file: comments dropped, and the unit tests (a `tests`
/// module at the end of the file, as every file here has it) cut off.
fn production(text: &str) -> String {
    let tests = ["mod tests", "pub mod tests", "pub(crate) mod tests"]
        .iter()
        .filter_map(|m| text.find(&format!("#[cfg(test)]\n{m} {{")))
        .min();
    let text = match tests {
        Some(at) => &text[..at],
        None => text,
    };
    text.lines()
        .map(|line| line.split("//").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The top-level module a file belongs to (`src/changes/delta.rs` → `changes`).
fn module_of(src: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(src).unwrap();
    let first = rel
        .components()
        .next()
        .unwrap()
        .as_os_str()
        .to_string_lossy();
    first.trim_end_matches(".rs").to_string()
}

fn crate_imports(code: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for (at, _) in code.match_indices("crate::") {
        let name: String = code[at + "crate::".len()..]
            .chars()
            .take_while(|c| c.is_ascii_lowercase() || *c == '_')
            .collect();
        if !name.is_empty() {
            found.insert(name);
        }
    }
    found
}

#[test]
fn every_import_points_down_a_floor() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    files.sort();
    let mut upward = Vec::new();
    let mut checked = 0;
    for file in &files {
        let module = module_of(&src, file);
        if module == "lib" || module == "main" {
            continue;
        }
        let own = floor(&module).unwrap_or_else(|| {
            panic!(
                "{}: module `{module}` has no floor in FLOORS (and docs/architecture.md)",
                file.display()
            )
        });
        let code = production(&std::fs::read_to_string(file).unwrap());
        for import in crate_imports(&code) {
            if import == module {
                continue;
            }
            checked += 1;
            match floor(&import) {
                Some(f) if f < own => {}
                _ => upward.push(format!(
                    "{} (`{module}`, floor {own}) imports `{import}` (floor {:?})",
                    file.strip_prefix(&src).unwrap().display(),
                    floor(&import)
                )),
            }
        }
    }
    assert!(
        checked > 50,
        "the check saw only {checked} imports: is it reading src/?"
    );
    assert!(
        upward.is_empty(),
        "imports that point up or sideways:\n{}",
        upward.join("\n")
    );
}

#[test]
fn only_term_asks_whether_a_stream_is_a_terminal() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    let askers: Vec<String> = files
        .iter()
        .filter(|f| production(&std::fs::read_to_string(f).unwrap()).contains("IsTerminal"))
        .map(|f| f.strip_prefix(&src).unwrap().display().to_string())
        .collect();
    assert_eq!(
        askers,
        ["term.rs"],
        "docs/architecture.md: one place owns every terminal decision"
    );
}
