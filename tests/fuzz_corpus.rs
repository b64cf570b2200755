//! The fuzz corpora as regression tests, on stable: every file under
//! `fuzz/corpus/TARGET/` and `fuzz/regressions/TARGET/` goes through the same entry
//! function as the fuzz target `TARGET` (`graphwatch::fuzzing`), which panics when a
//! promise is broken (a crash, a secret shown, a line split). See docs/security.md.

use std::path::{Path, PathBuf};

fn files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .map(|e| e.expect("a directory entry").path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
}

#[test]
fn every_corpus_file_passes_its_target() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let mut failures = Vec::new();
    for (name, entry) in graphwatch::fuzzing::TARGETS {
        let corpus = files(&root.join("corpus").join(name));
        assert!(
            !corpus.is_empty(),
            "no corpus for the fuzz target {name} in fuzz/corpus/{name}"
        );
        let regressions = files(&root.join("regressions").join(name));
        for file in corpus.iter().chain(&regressions) {
            let data = match std::fs::read(file) {
                Ok(data) => data,
                // A fuzzer running at the same time replaces corpus files.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => panic!("{}: {e}", file.display()),
            };
            if let Err(panic) = std::panic::catch_unwind(|| entry(&data)) {
                let why = panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default();
                failures.push(format!("{name}: {}: {why}", file.display()));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_fuzz_target_has_an_entry_function() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/fuzz_targets");
    let mut on_disk: Vec<String> = files(&root)
        .iter()
        .filter_map(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .collect();
    on_disk.sort();
    let mut listed: Vec<String> = graphwatch::fuzzing::TARGETS
        .iter()
        .map(|(name, _)| name.to_string())
        .collect();
    listed.sort();
    assert_eq!(on_disk, listed);
}
