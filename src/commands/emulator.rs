//! The emulator is a program of its own, `graphwatch-emulator` (the `emulator/` crate):
//! `graphwatch emulator` becomes it, `graphwatch demo` runs it as a child. Linked into
//! this binary, its web server (axum, socketioxide, …) was mapped by every watch, and
//! start-up touched pages of it: most of an idle watch's memory was the emulator's
//! file pages (docs/decisions.md, "The emulator: a program of its own").
//!
//! The program is looked for next to this executable, where `cargo build`, `cargo
//! install --path emulator` and a release archive put it. Run by Cargo (`cargo run --
//! demo` builds only `graphwatch`), it is built with the same Cargo the first time.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use anyhow::Context as _;
use tokio::io::{AsyncBufReadExt as _, BufReader};

use crate::error::Error;
use crate::logging;
use crate::term::Term;

const PROGRAM: &str = "graphwatch-emulator";

/// Where the emulator program is, building it first when Cargo runs us and it is not
/// built yet.
fn program(ui: &Term) -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe().context("cannot tell where graphwatch itself is")?;
    let dir = exe.parent().unwrap_or(Path::new("."));
    let program = dir.join(format!("{PROGRAM}{}", std::env::consts::EXE_SUFFIX));
    if program.is_file() {
        return Ok(program);
    }
    let missing = || {
        Error::failure(format!(
            "the emulator is its own program, {PROGRAM}, and it is not next to graphwatch in {}",
            dir.display()
        ))
        .hint(format!(
            "build it with `cargo build --release -p {PROGRAM}` (or `cargo install --path emulator`) so that it lands beside graphwatch"
        ))
    };
    // `cargo run` and `cargo test` set both for the program they run; a build of the
    // same profile puts the emulator in the same directory as this executable.
    let (Some(cargo), Some(manifest_dir)) = (
        std::env::var_os("CARGO"),
        std::env::var_os("CARGO_MANIFEST_DIR"),
    ) else {
        return Err(missing().into());
    };
    // `--workspace`: the features are then resolved as for the build that made this
    // executable (which has the emulator's library among its dependencies), so only
    // the emulator's `main` is compiled, not its dependencies again.
    let mut build: Vec<OsString> = vec![
        "build".into(),
        "--workspace".into(),
        "--bin".into(),
        PROGRAM.into(),
    ];
    match dir.file_name().and_then(|n| n.to_str()) {
        Some("debug") => {}
        Some("release") => build.push("--release".into()),
        Some(profile) => build.extend(["--profile".into(), profile.into()]),
        None => return Err(missing().into()),
    }
    build.push("--manifest-path".into());
    build.push(Path::new(&manifest_dir).join("Cargo.toml").into());
    let shown = build
        .iter()
        .map(|a| a.to_string_lossy())
        .collect::<Vec<_>>()
        .join(" ");
    ui.note(format!(
        "{PROGRAM} is not built yet; building it once: cargo {shown}"
    ));
    // Cargo's progress goes to stderr; stdout carries only events.
    let status = std::process::Command::new(&cargo)
        .args(&build)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .status()
        .with_context(|| format!("cannot run cargo to build {PROGRAM}"))?;
    if status.success() && program.is_file() {
        Ok(program)
    } else {
        Err(missing().into())
    }
}

/// `graphwatch emulator ARGS`: the emulator program in this process's place (exec), so
/// that signals, the first stdout line and the exit status are its own, as a harness
/// that starts `graphwatch emulator` expects.
pub(super) fn replace_self(
    ui: &Term,
    args: &graphwatch_emulator::EmulatorArgs,
    verbose: u8,
    quiet: bool,
) -> anyhow::Result<()> {
    let program = program(ui)?;
    let mut command = std::process::Command::new(&program);
    command
        .args(args.to_args())
        .env("RUST_LOG", logging::directives(verbose, quiet));
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt as _;
        let error = command.exec();
        Err(error).with_context(|| format!("cannot run {}", program.display()))
    }
    #[cfg(not(unix))]
    {
        let status = command
            .status()
            .with_context(|| format!("cannot run {}", program.display()))?;
        std::process::exit(status.code().unwrap_or(1))
    }
}

/// An emulator running as a child of this process; killed when dropped.
pub(crate) struct Child {
    _child: tokio::process::Child,
    pub base_url: String,
}

/// Start the emulator program with `args` on a free port and wait until it listens (its
/// first stdout line, the base URL). None of the caller's `GRAPHWATCH_EMULATOR_*`
/// variables reach it: `args` is the whole of what it is told.
pub(crate) async fn spawn(
    ui: &Term,
    args: &graphwatch_emulator::EmulatorArgs,
    verbose: u8,
    quiet: bool,
) -> anyhow::Result<Child> {
    let program = program(ui)?;
    let mut command = tokio::process::Command::new(&program);
    for (key, _) in std::env::vars_os() {
        if key
            .to_str()
            .is_some_and(|k| k.starts_with("GRAPHWATCH_EMULATOR_"))
        {
            command.env_remove(key);
        }
    }
    command
        .args(args.to_args())
        .env("RUST_LOG", logging::directives(verbose, quiet))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    #[cfg(target_os = "linux")]
    // SAFETY: prctl is async-signal-safe and touches no memory of ours. The child dies
    // with this process even when it is killed with no chance to clean up (SIGKILL),
    // instead of living on with its port. (Elsewhere `kill_on_drop` covers every way
    // out but SIGKILL.)
    unsafe {
        command.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0);
            Ok(())
        });
    }
    let mut child = command
        .spawn()
        .with_context(|| format!("cannot run {}", program.display()))?;
    // Its stderr is passed on, but for its banner ("… Ctrl-C stops it"): the demo says
    // where the emulator is in its own words, and stops it itself.
    let stderr = child.stderr.take().context("the emulator's stderr")?;
    let passed_on = tokio::spawn(async move {
        use tokio::io::AsyncWriteExt as _;
        let mut lines = BufReader::new(stderr).lines();
        let mut out = tokio::io::stderr();
        while let Ok(Some(line)) = lines.next_line().await {
            if !line.starts_with("graphwatch emulator on ") {
                let _ = out.write_all(format!("{line}\n").as_bytes()).await;
            }
        }
    });
    let stdout = child.stdout.take().context("the emulator's stdout")?;
    let mut lines = BufReader::new(stdout).lines();
    let first = lines
        .next_line()
        .await
        .context("cannot read the emulator's first line")?;
    let Some(base_url) = first.filter(|l| l.starts_with("http://")) else {
        let status = child.wait().await.ok();
        // Its own message first, then ours.
        let _ = passed_on.await;
        return Err(Error::failure(format!(
            "the emulator ({}) ended before it listened{}",
            program.display(),
            status.map(|s| format!(" ({s})")).unwrap_or_default()
        ))
        .hint("its own message is above")
        .into());
    };
    // Anything else it prints is not ours to pass on: read and drop it, so that it
    // never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    Ok(Child {
        _child: child,
        base_url,
    })
}
