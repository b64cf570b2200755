//! FuzzTarget points for the fuzz targets (`fuzz/`, cargo-fuzz) and for their corpus replay
//! (`tests/fuzz_corpus.rs`): one function per parser of outside input, taking the raw
//! bytes. Each calls the same code the program runs and then checks what must hold for
//! *any* input — it panics only when such a promise is broken (that is the bug the
//! fuzzer reports). See `docs/security.md`.
//!
//! Not a stable API: it exists for the fuzzers and the tests.

use std::path::Path;

use serde_json::value::RawValue;
use serde_json::Value;

use crate::event::Event;
use crate::output::Template;

/// The file name the file parsers are given (errors name it).
const FILE: &str = "/fuzz/input.json";

/// An entry point: the raw input in, a panic if a promise is broken.
pub type FuzzTarget = fn(&[u8]);

/// Every entry point, by the name of its fuzz target and corpus directory.
pub const TARGETS: &[(&str, FuzzTarget)] = &[
    ("notification_payload", notification_payload),
    ("notification_url", notification_url),
    ("socketio_frame", socketio_frame),
    ("delta_page", delta_page),
    ("graph_error", graph_error),
    ("target_spec", target_spec),
    ("template", template),
    ("state_file", state_file),
    ("token_cache", token_cache),
    ("config_file", config_file),
    ("duration", duration),
];

fn lossy_text(data: &[u8]) -> String {
    String::from_utf8_lossy(data).into_owned()
}

/// An error or status text must stay one line: it is written as one line on stderr.
fn assert_one_line(what: &str, line: &str) {
    assert!(
        !line.contains(['\n', '\r']),
        "{what} is not one line: {line:?}"
    );
}

/// One `notification` event argument, as the socket hands it over: the bytes as a
/// string argument (the live shape), as already-decoded JSON, and inside a live frame
/// read by the frame parser (which must give back the same string). Every element must
/// come out as valid JSON that makes one output line.
pub fn notification_payload(data: &[u8]) {
    let text = lossy_text(data);
    let mut arguments = vec![Value::String(text.clone())];
    if let Ok(value) = serde_json::from_slice::<Value>(data) {
        arguments.push(value);
    }
    let frame = format!(
        "42/notifications,[\"notification\",{}]",
        Value::String(text.clone())
    );
    match crate::link::engineio::parse_frame(&frame) {
        Ok(crate::link::engineio::Frame::Message(packet)) => {
            let argument = crate::link::engineio::notification_argument(packet.data);
            assert_eq!(
                argument,
                Ok(Some(Value::String(text))),
                "a live frame did not give back its argument"
            );
        }
        other => panic!("a live frame did not parse as one: {other:?}"),
    }
    check_arguments(arguments);
}

/// Each argument as the link passes it on: bounded, split, every element one line.
fn check_arguments(arguments: Vec<Value>) {
    for argument in arguments {
        let accepted = crate::link::payload::accept_payload(argument);
        let Some(argument) = accepted else { continue };
        for element in crate::link::payload::decode_notifications(argument) {
            check_event_lines(&Event::notification("drive:me", element));
        }
    }
}

/// One websocket text message from the notification host: parsed as an Engine.IO
/// packet (and the socket.io packet inside) or refused; a refusal is one line without
/// control characters (it is shown on stderr), the namespace and data are slices of the
/// frame, a `notification` event's argument goes through the payload decoding, and a
/// refusal's reason is one clean line too.
pub fn socketio_frame(data: &[u8]) {
    use crate::link::engineio::{self, Frame, PacketKind};
    let text = lossy_text(data);
    let clean = |what: &str, line: &str| {
        assert!(
            !line.chars().any(char::is_control),
            "{what} has a control character: {line:?}"
        );
    };
    let packet = match engineio::parse_frame(&text) {
        Ok(Frame::Message(packet)) => packet,
        Ok(Frame::Open(open)) => {
            assert!(
                std::time::Instant::now()
                    .checked_add(open.watchdog())
                    .is_some()
                    && tokio::time::Instant::now()
                        .checked_add(open.watchdog())
                        .is_some(),
                "a watchdog that overflows the clock: {open:?}"
            );
            return;
        }
        Ok(_) => return,
        Err(e) => return clean("a frame error", &e.to_string()),
    };
    assert!(
        text.ends_with(packet.data),
        "the data is not the end of the frame"
    );
    assert!(
        packet.namespace == "/" || text.contains(packet.namespace),
        "the namespace is not from the frame"
    );
    match packet.kind {
        PacketKind::Event => match engineio::notification_argument(packet.data) {
            Ok(Some(argument)) => check_arguments(vec![argument]),
            Ok(None) => {}
            Err(e) => clean("an event error", &e.to_string()),
        },
        PacketKind::ConnectError => {
            clean("a refusal", &engineio::connect_error_message(packet.data));
        }
        _ => {}
    }
}

/// The JSON line and the pretty line of an event are one line each, and the JSON line
/// is valid JSON.
fn check_event_lines(event: &Event) {
    let line = event.to_json_line();
    assert_one_line("a JSON line", &line);
    if let Err(e) = serde_json::from_str::<Value>(&line) {
        // serde_json refuses nesting deeper than 128 levels when it reads into a
        // `Value`; the line itself is still valid JSON (checked without building one).
        assert!(
            serde_json::from_str::<&RawValue>(&line).is_ok(),
            "the JSON line is not JSON ({e}): {line}"
        );
    }
    // Terminal safety: no control character from the server in a pretty line, cut or
    // not; with colour on, only the styles graphwatch adds, around the same text.
    for width in [Some(80), None] {
        let plain = crate::output::pretty_line(event, false, width);
        if let Some(c) = plain.chars().find(|c| c.is_control()) {
            panic!("a control character ({c:?}) in a pretty line: {plain:?}");
        }
        let coloured = crate::output::pretty_line(event, true, width);
        match without_our_styles(&coloured) {
            Ok(text) => assert_eq!(text, plain, "colour changed the text of a pretty line"),
            Err(e) => panic!("a pretty line with colour: {e}"),
        }
    }
}

/// A pretty line without the styles graphwatch adds to it
/// ([`crate::output::pretty::STYLES`] and their resets); an error naming the first
/// control character that does not start one of them (an ESC, a CSI `U+009B` or a BEL
/// that came from a server). Also for the integration tests of stdout.
pub fn without_our_styles(line: &str) -> Result<String, String> {
    let ours: Vec<String> = crate::output::pretty::STYLES
        .iter()
        .flat_map(|s| [s.render().to_string(), s.render_reset().to_string()])
        .filter(|sequence| !sequence.is_empty())
        .collect();
    let mut text = String::new();
    let mut rest = line;
    while let Some(c) = rest.chars().next() {
        if let Some(sequence) = ours.iter().find(|s| rest.starts_with(s.as_str())) {
            rest = &rest[sequence.len()..];
            continue;
        }
        if c.is_control() {
            let at = line.len() - rest.len();
            return Err(format!(
                "{c:?} at byte {at} is not a style of graphwatch's: {line:?}"
            ));
        }
        text.push(c);
        rest = &rest[c.len_utf8()..];
    }
    Ok(text)
}

/// A `notificationUrl` from Graph's socketIo answer: derive the socket.io endpoint, or
/// refuse it; neither the endpoint as printed nor the refusal may show a query value.
pub fn notification_url(data: &[u8]) {
    let url = lossy_text(data);
    let secrets = secret_values(&url);
    let shown: Vec<String> = match crate::link::socket::derive_endpoint(&url) {
        Ok(endpoint) => {
            let parsed = url::Url::parse(&url).expect("an accepted URL parses");
            assert!(
                matches!(parsed.scheme(), "https" | "wss")
                    || crate::util::url::is_loopback(&parsed),
                "cleartext accepted for a host that is not loopback: {}",
                crate::util::redact::redact_url(&url)
            );
            vec![endpoint.to_string(), format!("{endpoint:?}")]
        }
        Err(e) => vec![e.to_string()],
    };
    for line in shown
        .iter()
        .chain(std::iter::once(&crate::util::redact::redact_url(&url)))
    {
        for secret in &secrets {
            assert!(
                !line.contains(secret.as_str()),
                "a query value is shown: {secret:?} in {line:?}"
            );
        }
    }
}

/// Query values of `url` that a redacted form must not show: those of 8 characters or
/// more that do not also occur before the query (where they are not secret).
fn secret_values(url: &str) -> Vec<String> {
    let Some((head, query)) = url.split_once('?') else {
        return Vec::new();
    };
    let query = query.split('#').next().unwrap_or_default();
    // Names are shown (when they look like names), so a value that is also a name is not
    // a secret that leaked.
    let names: Vec<&str> = query
        .split('&')
        .filter_map(|pair| pair.split_once('=').map(|(k, _)| k))
        .filter(|k| crate::util::redact::shown_name(k) == *k)
        .collect();
    query
        .split('&')
        .filter_map(|pair| pair.split_once('=').map(|(_, v)| v))
        // `…` is the redaction mark: a value holding it can coincide with the redacted
        // text itself (found by the fuzzer: `w/x?a=/x?…`); no token contains it.
        // Nor is a value that the redacted head itself spells (`…k/?` ends with the
        // `?` the redaction adds; found by the fuzzer).
        .filter(|v| v.len() >= 8 && !format!("{head}?").contains(v) && !v.contains('…'))
        .filter(|v| !names.iter().any(|k| k.contains(v)))
        .map(str::to_string)
        .collect()
}

/// One delta page: its items become change events (one line each), ids are unique.
pub fn delta_page(data: &[u8]) {
    let Ok((changes, _next, _delta)) = crate::changes::delta::parse_page(data) else {
        return;
    };
    let mut ids = std::collections::HashSet::new();
    for change in changes {
        assert!(ids.insert(change.id.clone()), "id {:?} twice", change.id);
        check_event_lines(&change.into_event("drive:me"));
    }
}

/// A Graph error body: the code and message shown on stderr are one line, free of
/// control characters, and the message is cut.
pub fn graph_error(data: &[u8]) {
    if let Some((code, message)) = crate::graph::parse_error_body(data) {
        for part in [&code, &message] {
            assert!(
                !part.chars().any(char::is_control),
                "control characters from the server are shown: {part:?}"
            );
        }
        assert!(message.chars().count() <= 301, "message not cut");
        assert!(code.chars().count() <= 101, "code not cut");
    }
}

/// A drive or list SPEC as typed: parsed or refused with one line.
pub fn target_spec(data: &[u8]) {
    let spec = lossy_text(data);
    let clean = |label: String| {
        assert!(
            !label.chars().any(char::is_control),
            "a label with a control character: {label:?}"
        )
    };
    let errors = [
        crate::target::DriveSpec::parse(&spec).map(|d| clean(d.label())),
        crate::target::ListSpec::parse(&spec).map(|l| clean(l.label())),
    ];
    for e in errors.into_iter().filter_map(Result::err) {
        assert_one_line("a SPEC error", &crate::exit::one_line(&e.into()));
    }
}

/// A `--template`, then (after the first NUL byte, if any) notification data to render
/// it with: never more line breaks than the template itself has.
pub fn template(data: &[u8]) {
    let (tpl, payload) = match data.iter().position(|b| *b == 0) {
        Some(at) => (&data[..at], Some(&data[at + 1..])),
        None => (data, None),
    };
    let tpl = lossy_text(tpl);
    let template = match Template::parse(&tpl) {
        Ok(template) => template,
        Err(e) => return assert_one_line("a template error", &e.to_string()),
    };
    let mut events = vec![
        Event::notification(
            "drive:me",
            RawValue::from_string(
                r#"{"subscriptionId":"s\nid","resource":"r","value":[{"a":[1,"x\ty"]}],"n":null}"#
                    .into(),
            )
            .expect("JSON"),
        ),
        Event::resync("list:site/list", "resync\u{1b}[2JRequired"),
    ];
    if let Some(payload) = payload {
        if let Ok(raw) = serde_json::from_slice::<Box<RawValue>>(payload) {
            events.push(Event::notification(
                "drive:me",
                crate::event::compact(raw.clone()),
            ));
            events.push(Event::bare_change("drive:me", raw));
        }
    }
    let allowed = |c: char| tpl.matches(c).count();
    for event in &events {
        let line = template.render(event);
        for c in ['\n', '\r'] {
            assert!(
                line.matches(c).count() <= allowed(c),
                "a value broke the line: {line:?}"
            );
        }
        // The same sanitiser as the pretty view: a control character in the line can
        // only be the template's own.
        for c in line.chars().filter(|c| c.is_control()) {
            assert!(
                line.matches(c).count() <= allowed(c),
                "a value put {c:?} in the line: {line:?}"
            );
        }
    }
}

/// A `--state` file (an SQLite database, or the JSON of graphwatch 0.1 to migrate):
/// loaded or refused with one line; a refused file is left as it was.
pub fn state_file(data: &[u8]) {
    let Ok(dir) = tempfile::tempdir() else { return };
    let path = dir.path().join("state.db");
    if std::fs::write(&path, data).is_err() {
        return;
    }
    if let Err(e) = crate::changes::state::StateFile::load(&path) {
        assert_one_line("a state-file error", &crate::exit::one_line(&e));
        assert_eq!(
            std::fs::read(&path).ok().as_deref(),
            Some(data),
            "a refused state file was changed"
        );
    }
}

/// A token cache file: loaded or refused with one line that quotes none of its
/// string values (they are tokens).
pub fn token_cache(data: &[u8]) {
    if let Err(e) = crate::tokens::cache::parse_cache(Path::new(FILE), "default", data) {
        let report = crate::exit::one_line(&e);
        assert_one_line("a token-cache error", &report);
        // Compared without digits (positions vary) against the fixed text of every
        // message this parser can give: what is left can only have come from the file.
        let report = without_digits(&report);
        let fixed = without_digits(&format!(
            "{}{}",
            crate::exit::one_line(
                &crate::tokens::cache::parse_cache(Path::new(FILE), "default", b"{").unwrap_err()
            ),
            crate::exit::one_line(
                &crate::tokens::cache::parse_cache(Path::new(FILE), "default", b"{\"version\":0}")
                    .unwrap_err()
            ),
        )) + " unreadable not valid JSON unexpected or missing data cut short written by another version of graphwatch";
        for secret in json_strings(data) {
            let secret = without_digits(&secret);
            if secret.chars().count() >= 8 && !fixed.contains(&secret) {
                assert!(
                    !report.contains(&secret),
                    "the error quotes the file: {secret:?} in {report:?}"
                );
            }
        }
    }
}

fn without_digits(text: &str) -> String {
    text.chars().filter(|c| !c.is_ascii_digit()).collect()
}

/// Every JSON string in `data` (keys too), as far as it is JSON: a prefix scan, so a
/// damaged file still yields the strings before the damage.
fn json_strings(data: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = data;
    // A prefix scan, so that a damaged file still yields the strings before the damage.
    while let Some(start) = rest.iter().position(|b| *b == b'"') {
        rest = &rest[start..];
        let mut stream = serde_json::Deserializer::from_slice(rest).into_iter::<String>();
        match stream.next() {
            Some(Ok(s)) => {
                let used = stream.byte_offset();
                out.push(s);
                rest = &rest[used.max(1)..];
            }
            _ => rest = &rest[1..],
        }
    }
    out
}

/// `config.toml`: parsed or refused with a `LINE:COLUMN: message` on one line.
pub fn config_file(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Err(e) = crate::settings::parse_file(text) {
        assert_one_line("a config.toml error", &e);
    }
}

/// A `--timeout`/`--poll`/`--debounce` value: parsed to something that can be added to
/// the clock, or refused.
pub fn duration(data: &[u8]) {
    if let Ok(d) = crate::util::duration::parse_duration(&lossy_text(data)) {
        assert!(
            std::time::Instant::now().checked_add(d).is_some()
                && tokio::time::Instant::now().checked_add(d).is_some(),
            "a duration that overflows the clock: {d:?}"
        );
    }
}
