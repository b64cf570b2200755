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

/// A man page that reads well in `man -l`: clap_mangen's sections (name, synopsis,
/// description, options, subcommands), then the help's examples and notes kept as
/// written (no-fill: examples are not refilled into a paragraph), and the sections a
/// man page is expected to have: EXIT STATUS, ENVIRONMENT, FILES, SEE ALSO (naming only
/// pages that are shipped). No hyphenation, so JSON and flags are never broken.
fn man(command: clap::Command) -> Vec<u8> {
    use roff::{bold, roman, Roff};
    let page = clap_mangen::Man::new(command.clone());
    let mut out = Vec::new();
    let render = |out: &mut Vec<u8>, f: &dyn Fn(&mut Vec<u8>) -> std::io::Result<()>| {
        f(out).expect("rendering into memory cannot fail")
    };
    render(&mut out, &|o| page.render_title(o));
    out.extend_from_slice(b".nh\n.ad l\n");
    render(&mut out, &|o| page.render_name_section(o));
    render(&mut out, &|o| page.render_synopsis_section(o));
    render(&mut out, &|o| page.render_description_section(o));
    if command.get_arguments().any(|a| !a.is_hide_set()) {
        render(&mut out, &|o| page.render_options_section(o));
    }
    if command.has_subcommands() {
        render(&mut out, &|o| page.render_subcommands_section(o));
    }

    let mut roff = Roff::new();
    let help = [command.get_before_help(), command.get_after_help()]
        .into_iter()
        .flatten()
        .map(|text| text.to_string())
        .collect::<Vec<_>>()
        .join("\n\n");
    let (mut examples, mut notes) = (Vec::new(), Vec::new());
    for block in help
        .split("\n\n")
        .map(str::trim_end)
        .filter(|b| !b.trim().is_empty())
    {
        if let Some(rest) = block.strip_prefix("Examples:") {
            examples.extend(rest.lines().map(str::trim_start).filter(|l| !l.is_empty()));
        } else if !block.starts_with("Exit status:") {
            notes.push(block.to_string());
        }
    }
    let no_fill = |roff: &mut Roff, lines: &mut dyn Iterator<Item = &str>| {
        roff.control("nf", []);
        for line in lines {
            roff.text([roman(line)]);
        }
        roff.control("fi", []);
    };
    if !examples.is_empty() {
        roff.control("SH", ["EXAMPLES"]);
        no_fill(&mut roff, &mut examples.iter().copied());
    }
    if !notes.is_empty() {
        roff.control("SH", ["NOTES"]);
        for (i, note) in notes.iter().enumerate() {
            if i > 0 {
                roff.control("PP", []);
            }
            no_fill(&mut roff, &mut note.lines());
        }
    }
    roff.control("SH", ["EXIT STATUS"]);
    for (code, meaning) in [
        ("0", "--count reached, --timeout reached without --count, interrupted (Ctrl-C, SIGTERM), stdout closed by its reader, demo done"),
        ("1", "an unrecoverable error; also a target lost for good while others went on"),
        ("2", "bad usage: a flag, SPEC, duration, template, --jq, config.toml or --state file"),
        ("3", "not signed in, sign-in declined or expired, token refused"),
        ("4", "target not found, or access denied"),
        ("124", "--timeout reached before --count events"),
    ] {
        roff.control("TP", []);
        roff.text([bold(code)]);
        roff.text([roman(meaning)]);
    }
    roff.control("SH", ["ENVIRONMENT"]);
    let mut env: Vec<(String, String)> = command
        .get_arguments()
        .filter_map(|a| {
            let name = a.get_env()?.to_string_lossy().into_owned();
            let flag = a.get_long().map(|l| format!("--{l}")).unwrap_or_default();
            Some((name, format!("as {flag}")))
        })
        .collect();
    env.push((
        "GRAPHWATCH_CONFIG_DIR".into(),
        "where config.toml and the token caches are kept".into(),
    ));
    env.push((
        "NO_COLOR".into(),
        "non-empty: no colours (--color beats it)".into(),
    ));
    env.sort();
    env.dedup();
    for (name, meaning) in env {
        roff.control("TP", []);
        roff.text([bold(name)]);
        roff.text([roman(meaning)]);
    }
    roff.control("SH", ["FILES"]);
    for (file, meaning) in [
        ("$XDG_CONFIG_HOME/graphwatch/config.toml", "defaults for output, graph_url, login_url, tenant, client_id, profile and color (~/.config when XDG_CONFIG_HOME is unset; GRAPHWATCH_CONFIG_DIR moves the directory)"),
        ("$XDG_CONFIG_HOME/graphwatch/tokens/PROFILE.json", "a profile's tokens, 0600, in a 0700 directory"),
    ] {
        roff.control("TP", []);
        roff.text([bold(file)]);
        roff.text([roman(meaning)]);
    }
    roff.control("SH", ["SEE ALSO"]);
    let see_also = if command.has_subcommands() {
        command
            .get_subcommands()
            .filter(|s| s.get_name() != "help")
            .map(|s| format!("graphwatch-{}(1)", s.get_name()))
            .collect::<Vec<_>>()
            .join(", ")
    } else {
        "graphwatch(1)".to_string()
    };
    roff.text([roman(see_also)]);
    roff.to_writer(&mut out)
        .expect("rendering into memory cannot fail");
    render(&mut out, &|o| page.render_version_section(o));
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

#[test]
fn man_pages_have_the_sections_of_a_man_page_and_keep_examples_as_written() {
    let files = rendered();
    let pages: Vec<(&PathBuf, String)> = files
        .iter()
        .filter(|(p, _)| p.starts_with("man"))
        .map(|(p, c)| (p, String::from_utf8_lossy(c).into_owned()))
        .collect();
    let shipped: Vec<String> = pages
        .iter()
        .map(|(p, _)| {
            let stem = p.file_stem().unwrap().to_string_lossy().into_owned();
            format!("{stem}(1)")
        })
        .collect();
    for (path, page) in &pages {
        for section in ["EXIT STATUS", "ENVIRONMENT", "FILES", "SEE ALSO"] {
            assert!(
                page.contains(&format!(".SH \"{section}\""))
                    || page.contains(&format!(".SH {section}")),
                "{}: no {section}",
                path.display()
            );
        }
        assert!(
            page.contains("\n.nh\n"),
            "{}: hyphenation on",
            path.display()
        );
        let see_also = page.split("SEE ALSO").nth(1).unwrap();
        for named in see_also
            .split([',', ' ', '\n'])
            .filter(|w| w.contains("(1)"))
        {
            let named = named.trim().replace("\\-", "-");
            assert!(
                shipped.contains(&named),
                "{}: names {named}, which is not shipped",
                path.display()
            );
        }
    }
    let drive = &pages
        .iter()
        .find(|(p, _)| p.ends_with("graphwatch-drive.1"))
        .unwrap()
        .1;
    let examples = drive.split("EXAMPLES").nth(1).expect("an EXAMPLES section");
    assert!(
        examples.trim_start_matches(['"', '\n']).starts_with(".nf"),
        "examples are no-fill"
    );
}
