//! The checked-in shell completions (completions/) and man pages (man/) match the
//! command line as it is now. When the CLI changes, regenerate them with
//!
//! ```sh
//! GRAPHWATCH_REGENERATE=1 cargo test --test integration generated::
//! ```
//!
//! and commit the result.

use std::path::{Path, PathBuf};

use clap::CommandFactory as _;
use clap_complete::{Generator as _, Shell};
use graphwatch::cli::Cli;

const REGENERATE: &str = "GRAPHWATCH_REGENERATE";

/// Every generated file, relative to the crate root, with its content.
fn rendered() -> Vec<(PathBuf, Vec<u8>)> {
    let mut files = Vec::new();
    for shell in [
        Shell::Bash,
        Shell::Zsh,
        Shell::Fish,
        Shell::PowerShell,
        Shell::Elvish,
    ] {
        files.push((
            Path::new("completions").join(shell.file_name("graphwatch")),
            graphwatch::commands::completions::script(shell),
        ));
    }
    let mut command = Cli::command();
    // Building propagates the global options (-v, -q, --color) into the subcommands.
    command.build();
    files.push((Path::new("man").join("graphwatch.1"), man(command.clone())));
    for sub in command.get_subcommands() {
        if sub.get_name() == "help" {
            continue;
        }
        // clap names are `&'static str` without its `string` feature: leaking a few
        // short strings in a test is harmless.
        let name: &'static str =
            Box::leak(format!("graphwatch-{}", sub.get_name()).into_boxed_str());
        let bin: &'static str =
            Box::leak(format!("graphwatch {}", sub.get_name()).into_boxed_str());
        let page = sub.clone().name(name).bin_name(bin);
        files.push((Path::new("man").join(format!("{name}.1")), man(page)));
    }
    files
}

fn man(command: clap::Command) -> Vec<u8> {
    let mut out = Vec::new();
    clap_mangen::Man::new(command)
        .render(&mut out)
        .expect("rendering into memory cannot fail");
    out
}

#[test]
fn completions_and_man_pages_are_up_to_date() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let files = rendered();
    if std::env::var_os(REGENERATE).is_some_and(|v| !v.is_empty()) {
        for (path, content) in &files {
            let path = root.join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, content).unwrap();
        }
        // Pages of subcommands that are gone.
        for entry in std::fs::read_dir(root.join("man")).unwrap() {
            let path = entry.unwrap().path();
            if !files.iter().any(|(p, _)| root.join(p) == path) {
                std::fs::remove_file(path).unwrap();
            }
        }
        return;
    }
    let mut stale = Vec::new();
    for (path, content) in &files {
        match std::fs::read(root.join(path)) {
            Ok(on_disk) if on_disk == *content => {}
            Ok(_) => stale.push(format!("{} differs", path.display())),
            Err(_) => stale.push(format!("{} is missing", path.display())),
        }
    }
    for dir in ["completions", "man"] {
        for entry in std::fs::read_dir(root.join(dir)).unwrap() {
            let path = entry.unwrap().path();
            if !files.iter().any(|(p, _)| root.join(p) == path) {
                stale.push(format!("{} is no longer generated", path.display()));
            }
        }
    }
    assert!(
        stale.is_empty(),
        "the generated files are stale ({}); regenerate them with `{REGENERATE}=1 cargo test --test integration generated::` and commit them",
        stale.join(", ")
    );
}

#[test]
fn every_subcommand_has_a_man_page_and_bash_completes_them() {
    let files = rendered();
    for name in [
        "drive",
        "list",
        "watch",
        "demo",
        "completions",
        "login",
        "endpoint",
    ] {
        let page = PathBuf::from(format!("man/graphwatch-{name}.1"));
        assert!(files.iter().any(|(p, _)| *p == page), "{name}");
    }
    let bash = &files
        .iter()
        .find(|(p, _)| p.ends_with("graphwatch.bash"))
        .unwrap()
        .1;
    let bash = String::from_utf8_lossy(bash);
    for word in ["drive", "watch", "--timeout", "--exec", "--template"] {
        assert!(bash.contains(word), "{word}");
    }
}
