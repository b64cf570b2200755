//! Server text made safe for one line on a terminal.

/// A server's text for a one-line message: runs of whitespace and control characters
/// become one space; cut after `max` characters (messages are for people and can be
/// long; the first sentence says enough).
pub fn shown_text(text: &str, max: usize) -> String {
    let text = text
        .split(|c: char| c.is_whitespace() || c.is_control())
        .filter(|word| !word.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    match text.char_indices().nth(max) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text,
    }
}

/// Replace control characters (newlines included) so one event stays one line.
pub fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
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
