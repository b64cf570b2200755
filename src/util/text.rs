//! Server text made safe for one line on a terminal: the one rule for what a server's
//! string may carry onto the screen. A control character (Unicode Cc: C0 with ESC,
//! BEL, CR and LF; DEL; C1 with CSI U+009B and OSC U+009D) could split the line or
//! drive the terminal (move the cursor, retitle the window, clear the screen), so it
//! never gets through: [`one_line`] makes each a space (the pretty view, templates),
//! [`shown_text`] folds runs of them (messages on stderr). The only escape sequences
//! on graphwatch's stdout are the styles the pretty view adds itself, with colour on.

/// What a server's text may not carry to the terminal.
fn is_unsafe(c: char) -> bool {
    c.is_control()
}

/// A server's text for a one-line message: runs of whitespace and control characters
/// become one space; cut after `max` characters (messages are for people and can be
/// long; the first sentence says enough).
pub fn shown_text(text: &str, max: usize) -> String {
    let text = text
        .split(|c: char| c.is_whitespace() || is_unsafe(c))
        .filter(|word| !word.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    match text.char_indices().nth(max) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text,
    }
}

/// Replace control characters (newlines included) by spaces, one for one, so one event
/// stays one line and no server string drives the terminal. The one sanitiser of what
/// goes to stdout for people: every part of a pretty line and every `--template` value.
pub fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| if is_unsafe(c) { ' ' } else { c })
        .collect()
}

/// Text for an HTML page (the browser sign-in's answer page): `& < > " '` escaped, so a
/// server's error quoted there cannot become markup.
pub fn html_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A reqwest error's text without its URL, with its causes.
pub(crate) fn error_text(e: &reqwest::Error) -> String {
    let mut text = String::new();
    let mut cause: Option<&dyn std::error::Error> = Some(e);
    while let Some(c) = cause {
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(&c.to_string());
        cause = c.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_control_character_survives() {
        let hostile = "a\u{1b}[2Jb\u{9b}31mc\u{7}d\u{1b}]0;t\u{9c}e\r\nf\u{7f}g\u{0}h";
        let safe = one_line(hostile);
        assert!(!safe.chars().any(char::is_control), "{safe:?}");
        assert_eq!(safe.chars().count(), hostile.chars().count(), "one for one");
        assert_eq!(safe, "a [2Jb 31mc d ]0;t e  f g h");
        assert_eq!(shown_text(hostile, 100), "a [2Jb 31mc d ]0;t e f g h");
        // What is not a control character is kept, wide characters included.
        assert_eq!(one_line("Ünïcødé 報告 ✓"), "Ünïcødé 報告 ✓");
    }
}
