//! The terminal: the one place that asks whether stdout or stderr is a terminal and
//! decides what follows from it — pretty lines or JSON by default, colours, spinners —
//! and the one way to tell the person something on stderr (gh's `iostreams`). Nothing
//! else in the crate calls `is_terminal`.

use std::fmt::Display;
use std::io::{IsTerminal as _, Write as _};
use std::time::Duration;

use anstyle::Style;

use crate::cli::{ColorChoice, OutputFormat};

/// What the streams are and what the user chose for them; copied freely.
#[derive(Debug, Clone, Copy)]
pub struct Term {
    /// `-q`: no notes or progress; prompts that sign-in needs are still shown.
    quiet: bool,
    stdout_tty: bool,
    stderr_tty: bool,
    color: ColorChoice,
}

impl Term {
    /// The process's own stdout and stderr, with `-q` and the resolved `--color`.
    pub fn new(quiet: bool, color: ColorChoice) -> Term {
        Term {
            quiet,
            stdout_tty: std::io::stdout().is_terminal(),
            stderr_tty: std::io::stderr().is_terminal(),
            color,
        }
    }

    pub fn quiet(&self) -> bool {
        self.quiet
    }

    /// The process has a controlling terminal (`/dev/tty` opens): it was started from
    /// one, and SIGHUP then means the terminal went away. A service, a daemon or a
    /// `setsid` child has none, and SIGHUP means "reload" (watch/signals.rs).
    pub fn has_controlling_terminal() -> bool {
        #[cfg(unix)]
        {
            std::fs::OpenOptions::new()
                .read(true)
                .open("/dev/tty")
                .is_ok()
        }
        #[cfg(not(unix))]
        {
            true
        }
    }

    /// stdout is a terminal: pretty lines may be cut to its width.
    pub fn stdout_is_terminal(&self) -> bool {
        self.stdout_tty
    }

    /// The output format: the user's choice, else pretty on a terminal, JSON otherwise.
    pub fn output_format(&self, chosen: Option<OutputFormat>) -> OutputFormat {
        chosen.unwrap_or(if self.stdout_tty {
            OutputFormat::Pretty
        } else {
            OutputFormat::Json
        })
    }

    /// Colours on stdout (`auto`: if it is a terminal).
    pub fn stdout_color(&self) -> bool {
        color_on(self.color, self.stdout_tty)
    }

    /// Colours on stderr (logging).
    pub fn stderr_color(&self) -> bool {
        color_on(self.color, self.stderr_tty)
    }

    /// Something the user may want to know ("Signed in as …"); hidden by `-q`.
    pub fn note(&self, message: impl Display) {
        if !self.quiet {
            let _ = writeln!(std::io::stderr().lock(), "{message}");
        }
    }

    /// Something the user must see to go on (the device-code instructions), and
    /// warnings and errors that `-q` does not hide.
    pub fn prompt(&self, message: impl Display) {
        let _ = writeln!(std::io::stderr().lock(), "{message}");
    }

    /// Whether progress may be drawn on stderr: a terminal, and not `-q`.
    pub fn animates(&self) -> bool {
        self.stderr_tty && !self.quiet
    }

    /// A spinner on stderr with `template` (indicatif's syntax), ticking on its own;
    /// `None` where [`Term::animates`] says no.
    pub fn spinner(&self, template: &str) -> Option<indicatif::ProgressBar> {
        self.animates().then(|| spinner(template))
    }

    /// `text` in bold on stdout when colours are on there.
    pub fn bold(&self, text: &str) -> String {
        if self.stdout_color() {
            let bold = Style::new().bold();
            format!("{bold}{text}{bold:#}")
        } else {
            text.to_string()
        }
    }
}

/// `auto` means "if the stream is a terminal".
fn color_on(choice: ColorChoice, stream_is_tty: bool) -> bool {
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => stream_is_tty,
    }
}

/// The one spinner style of the crate: drawn on stderr, ticking every 120 ms.
fn spinner(template: &str) -> indicatif::ProgressBar {
    let bar =
        indicatif::ProgressBar::with_draw_target(None, indicatif::ProgressDrawTarget::stderr());
    bar.set_style(
        indicatif::ProgressStyle::with_template(template)
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
    );
    bar.enable_steady_tick(Duration::from_millis(120));
    bar
}

/// A spinner with a custom style (a key of its own, e.g. the time left).
pub fn styled_spinner(
    term: &Term,
    style: indicatif::ProgressStyle,
) -> Option<indicatif::ProgressBar> {
    term.animates().then(|| {
        let bar = spinner("{spinner} {msg}");
        bar.set_style(style);
        bar
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn term(stdout_tty: bool, color: ColorChoice) -> Term {
        Term {
            quiet: false,
            stdout_tty,
            stderr_tty: false,
            color,
        }
    }

    #[test]
    fn pretty_on_a_terminal_json_otherwise_unless_chosen() {
        assert_eq!(
            term(true, ColorChoice::Auto).output_format(None),
            OutputFormat::Pretty
        );
        assert_eq!(
            term(false, ColorChoice::Auto).output_format(None),
            OutputFormat::Json
        );
        assert_eq!(
            term(true, ColorChoice::Auto).output_format(Some(OutputFormat::Json)),
            OutputFormat::Json
        );
    }

    #[test]
    fn colour_auto_follows_the_stream() {
        assert!(term(true, ColorChoice::Auto).stdout_color());
        assert!(!term(false, ColorChoice::Auto).stdout_color());
        assert!(term(false, ColorChoice::Always).stdout_color());
        assert!(!term(true, ColorChoice::Never).stdout_color());
        assert_eq!(term(false, ColorChoice::Never).bold("x"), "x");
        assert_eq!(
            term(false, ColorChoice::Always).bold("x"),
            "\u{1b}[1mx\u{1b}[0m"
        );
    }
}
