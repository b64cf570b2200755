//! The wire format of the link: Engine.IO 4 packets over a websocket, and the socket.io 5
//! packets they carry (docs/graph-socketio.md §2–3). Parsing and encoding only; the I/O
//! is [`super::socket`]'s.
//!
//! A websocket text message is one Engine.IO packet: a type digit, then its data. A
//! message packet (`4`) holds one socket.io packet: a type digit, the namespace if it is
//! not `/` (`/notifications,`), an ack id if one is asked for, then JSON. So the frame
//! Graph sends most is
//! `42/notifications,["notification","{\"value\":[…]}"]`.
//!
//! **Why it is written this way.** [`parse_frame`] looks at each frame once and hands out
//! borrowed slices of it (namespace, data); nothing is copied or decoded until the
//! caller knows the packet is for it. The JSON of an event is then read once, by
//! [`notification_argument`], which skips any event not named `notification` without
//! building anything and decodes the argument of one that is straight into the value the
//! payload decoding takes. The client this replaces (rust_socketio 0.6) scanned each
//! frame's JSON twice and copied it about four times first (docs/decisions.md,
//! "socket.io client").
//!
//! Never panics: a frame that breaks the format is a [`FrameError`], whose text is one
//! line without control characters (it ends up on stderr). Some texts keep the wording
//! rust_socketio gave the same faults ("EngineIO Error", "Invalid packet id: 7", "string
//! is not json serializable"): the hostile-input tests and anyone grepping logs look
//! for them.

use std::fmt;
use std::time::Duration;

use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::Value;

use crate::util::text::shown_text;

/// The engine's answer to a ping, and what it sends when it has nothing else to say.
pub const PONG: &str = "3";

/// What the server may ask for at most in its open packet: longer pings or timeouts are
/// taken as this (server-given durations are bounded before they meet the clock;
/// docs/decisions.md, "Hostile input").
pub const MAX_PING: Duration = Duration::from_secs(24 * 60 * 60);

/// One Engine.IO packet, borrowing from the websocket message it came in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame<'a> {
    /// `0{"sid":…,"pingInterval":…,"pingTimeout":…,"maxPayload":…}`
    Open(Open),
    /// `1`: the server closes the Engine.IO session.
    Close,
    /// `2`, perhaps with data that the pong must echo.
    Ping(&'a str),
    /// `3`
    Pong,
    /// `4…`: a socket.io packet.
    Message(Packet<'a>),
    /// `5`
    Upgrade,
    /// `6`
    Noop,
}

/// The handshake values of an open packet, bounded by [`MAX_PING`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Open {
    pub ping_interval: Duration,
    pub ping_timeout: Duration,
    /// The largest packet the server accepts from us (ours are a few bytes).
    pub max_payload: u64,
}

impl Open {
    /// How long the link may stay without a ping before it counts as dead.
    pub fn watchdog(&self) -> Duration {
        self.ping_interval + self.ping_timeout
    }
}

/// A socket.io packet, borrowing from its frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Packet<'a> {
    pub kind: PacketKind,
    /// `/` when the packet names none.
    pub namespace: &'a str,
    /// The id of an event that asks to be acknowledged, or of an ack.
    pub ack: Option<u64>,
    /// The JSON after the header, unparsed (empty when there is none).
    pub data: &'a str,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PacketKind {
    Connect,
    Disconnect,
    Event,
    Ack,
    ConnectError,
    BinaryEvent,
    BinaryAck,
}

/// A frame that does not follow the protocol.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FrameError {
    /// An empty websocket message.
    Empty,
    /// The first character is not an Engine.IO packet type (`0`–`6`).
    EngineType(char),
    /// The open packet's data is not the JSON object it must be.
    Open(String),
    /// A message packet whose first character is not a socket.io packet type (`0`–`6`);
    /// `None` for a message packet with nothing in it (`4`).
    PacketType(Option<char>),
    /// A binary packet without its `N-` attachment count.
    Attachments,
    /// An ack id too long for a number.
    AckId,
    /// The JSON of an event is broken.
    Json(String),
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FrameError::Empty => f.write_str("EngineIO Error: an empty websocket message"),
            FrameError::EngineType(c) => write!(
                f,
                "EngineIO Error: unknown packet type '{}'",
                c.escape_debug()
            ),
            FrameError::Open(why) => write!(f, "EngineIO Error: a bad open packet: {why}"),
            FrameError::PacketType(Some(c)) => {
                write!(f, "Invalid packet id: {}", c.escape_debug())
            }
            FrameError::PacketType(None) => {
                f.write_str("Invalid packet id: none (an empty socket.io packet)")
            }
            FrameError::Attachments => {
                f.write_str("Invalid packet: a binary packet without its attachment count")
            }
            FrameError::AckId => f.write_str("Invalid packet: the ack id is out of range"),
            FrameError::Json(why) => write!(f, "string is not json serializable: {why}"),
        }
    }
}

impl std::error::Error for FrameError {}

/// One websocket text message as an Engine.IO packet, and the socket.io packet inside a
/// message packet. Borrows from `text`; decodes no JSON but the open packet's.
pub fn parse_frame(text: &str) -> Result<Frame<'_>, FrameError> {
    let Some(&kind) = text.as_bytes().first() else {
        return Err(FrameError::Empty);
    };
    // An ASCII digit is one byte: `text[1..]` is on a character boundary.
    let rest = || &text[1..];
    match kind {
        b'0' => parse_open(rest()).map(Frame::Open),
        b'1' => Ok(Frame::Close),
        b'2' => Ok(Frame::Ping(rest())),
        b'3' => Ok(Frame::Pong),
        b'4' => parse_packet(rest()).map(Frame::Message),
        b'5' => Ok(Frame::Upgrade),
        b'6' => Ok(Frame::Noop),
        _ => Err(FrameError::EngineType(first_char(text))),
    }
}

fn first_char(text: &str) -> char {
    text.chars().next().unwrap_or('\u{fffd}')
}

fn parse_open(data: &str) -> Result<Open, FrameError> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Wire {
        // The session id is not used: the link is websocket-only, so no request ever
        // names it. Present or not, it is not checked.
        ping_interval: Option<f64>,
        ping_timeout: Option<f64>,
        max_payload: Option<f64>,
    }
    let wire: Wire = serde_json::from_str(data).map_err(|e| FrameError::Open(e.to_string()))?;
    // What Engine.IO servers use when they say nothing (and what the live service is
    // assumed to use, docs/graph-socketio.md §2).
    let ms = |value: Option<f64>, default: u64| {
        let ms = value.unwrap_or(default as f64);
        if ms.is_nan() || ms <= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64((ms / 1000.0).min(MAX_PING.as_secs_f64()))
        }
    };
    Ok(Open {
        ping_interval: ms(wire.ping_interval, 25_000),
        ping_timeout: ms(wire.ping_timeout, 20_000),
        max_payload: wire
            .max_payload
            .filter(|n| *n >= 0.0)
            .map_or(1_000_000, |n| n.min(u64::MAX as f64) as u64),
    })
}

/// `<type>[<attachments>-][<namespace>,][<ack id>][<JSON>]`, as socket.io-parser writes it.
fn parse_packet(text: &str) -> Result<Packet<'_>, FrameError> {
    let Some(&kind) = text.as_bytes().first() else {
        return Err(FrameError::PacketType(None));
    };
    let kind = match kind {
        b'0' => PacketKind::Connect,
        b'1' => PacketKind::Disconnect,
        b'2' => PacketKind::Event,
        b'3' => PacketKind::Ack,
        b'4' => PacketKind::ConnectError,
        b'5' => PacketKind::BinaryEvent,
        b'6' => PacketKind::BinaryAck,
        _ => return Err(FrameError::PacketType(Some(first_char(text)))),
    };
    let mut rest = &text[1..];
    if matches!(kind, PacketKind::BinaryEvent | PacketKind::BinaryAck) {
        let digits = leading_digits(rest);
        if digits == 0 || rest.as_bytes().get(digits) != Some(&b'-') {
            return Err(FrameError::Attachments);
        }
        rest = &rest[digits + 1..];
    }
    let namespace = if rest.starts_with('/') {
        // Up to the comma; socket.io-parser takes the whole rest when there is none.
        let end = rest.find(',').unwrap_or(rest.len());
        let namespace = &rest[..end];
        rest = rest.get(end + 1..).unwrap_or_default();
        namespace
    } else {
        "/"
    };
    let digits = leading_digits(rest);
    let ack = if digits == 0 {
        None
    } else {
        Some(rest[..digits].parse().map_err(|_| FrameError::AckId)?)
    };
    Ok(Packet {
        kind,
        namespace,
        ack,
        data: &rest[digits..],
    })
}

fn leading_digits(text: &str) -> usize {
    text.bytes().take_while(u8::is_ascii_digit).count()
}

/// The argument of an event's JSON (`["notification", ARG]`) if the event is named
/// `notification`: `None` for any other event, and for data that is valid JSON but no
/// event (`{}`, `[1]`). No argument gives `null`, several an array of them.
///
/// One pass over the JSON: the name is compared where it lies, another event is skipped
/// without building anything, and a string argument — the live shape — is unescaped
/// once into the `Value::String` that [`super::payload::decode_notifications`] takes.
pub fn notification_argument(data: &str) -> Result<Option<Value>, FrameError> {
    serde_json::from_str::<EventArgs>(data)
        .map(|args| args.0)
        .map_err(|e| FrameError::Json(e.to_string()))
}

/// The event name whose argument [`notification_argument`] hands out.
const NOTIFICATION: &str = "notification";

struct EventArgs(Option<Value>);

impl<'de> Deserialize<'de> for EventArgs {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ArgsVisitor).map(EventArgs)
    }
}

/// Anything but an array is valid JSON that is not an event: `None`.
struct ArgsVisitor;

impl<'de> Visitor<'de> for ArgsVisitor {
    type Value = Option<Value>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a socket.io event")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        match seq.next_element::<IsNotification>()? {
            Some(IsNotification(true)) => {}
            Some(IsNotification(false)) => {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                return Ok(None);
            }
            None => return Ok(None),
        }
        let Some(first) = seq.next_element::<Value>()? else {
            return Ok(Some(Value::Null));
        };
        let Some(second) = seq.next_element::<Value>()? else {
            return Ok(Some(first));
        };
        let mut all = vec![first, second];
        while let Some(more) = seq.next_element::<Value>()? {
            all.push(more);
        }
        Ok(Some(Value::Array(all)))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(None)
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
}

/// An event's first element: whether it is the string `notification` (anything else,
/// a string or not, is skipped).
struct IsNotification(bool);

impl<'de> Deserialize<'de> for IsNotification {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Name;
        impl<'de> Visitor<'de> for Name {
            type Value = bool;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an event name")
            }
            fn visit_str<E: de::Error>(self, name: &str) -> Result<bool, E> {
                Ok(name == NOTIFICATION)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<bool, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(false)
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<bool, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(false)
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<bool, E> {
                Ok(false)
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<bool, E> {
                Ok(false)
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<bool, E> {
                Ok(false)
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<bool, E> {
                Ok(false)
            }
            fn visit_unit<E: de::Error>(self) -> Result<bool, E> {
                Ok(false)
            }
        }
        deserializer.deserialize_any(Name).map(IsNotification)
    }
}

/// Why the server refused a namespace, from a `44`'s data (`{"message":"…"}`, or a bare
/// string from older servers), made safe for one line on stderr.
pub fn connect_error_message(data: &str) -> String {
    let text = match serde_json::from_str::<Value>(data) {
        Ok(Value::Object(map)) => match map.get("message") {
            Some(Value::String(message)) => message.clone(),
            _ => data.to_string(),
        },
        Ok(Value::String(message)) => message,
        _ => data.to_string(),
    };
    match shown_text(&text, 200) {
        text if text.is_empty() => "no reason given".to_string(),
        text => text,
    }
}

/// `40/namespace,` — join a namespace (`40` for the default one).
pub fn connect_packet(namespace: &str) -> String {
    with_namespace("40", namespace, "")
}

/// `41/namespace,` — leave a namespace.
pub fn disconnect_packet(namespace: &str) -> String {
    with_namespace("41", namespace, "")
}

/// `43/namespace,ID[]` — acknowledge an event that asked for it, with no arguments.
pub fn ack_packet(namespace: &str, id: u64) -> String {
    with_namespace("43", namespace, &format!("{id}[]"))
}

fn with_namespace(head: &str, namespace: &str, tail: &str) -> String {
    if namespace == "/" {
        format!("{head}{tail}")
    } else {
        format!("{head}{namespace},{tail}")
    }
}

/// The pong for a ping's data (`2probe` → `3probe`; a plain `2` → [`PONG`]).
pub fn pong_packet(ping_data: &str) -> String {
    format!("{PONG}{ping_data}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn packet(text: &str) -> Packet<'_> {
        match parse_frame(text) {
            Ok(Frame::Message(packet)) => packet,
            other => panic!("{text:?}: {other:?}"),
        }
    }

    #[test]
    fn engine_io_packet_types() {
        assert_eq!(parse_frame("1"), Ok(Frame::Close));
        assert_eq!(parse_frame("2"), Ok(Frame::Ping("")));
        assert_eq!(parse_frame("2probe"), Ok(Frame::Ping("probe")));
        assert_eq!(parse_frame("3"), Ok(Frame::Pong));
        assert_eq!(parse_frame("3probe"), Ok(Frame::Pong));
        assert_eq!(parse_frame("5"), Ok(Frame::Upgrade));
        assert_eq!(parse_frame("6"), Ok(Frame::Noop));
        assert_eq!(pong_packet(""), "3");
        assert_eq!(pong_packet("probe"), "3probe");
    }

    #[test]
    fn the_open_packet_gives_the_ping_values() {
        let open = parse_frame(
            r#"0{"sid":"lv_VI97HAXpY6yYWAAAC","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}"#,
        );
        let expected = Open {
            ping_interval: Duration::from_secs(25),
            ping_timeout: Duration::from_secs(20),
            max_payload: 1_000_000,
        };
        assert_eq!(open, Ok(Frame::Open(expected)));
        assert_eq!(expected.watchdog(), Duration::from_secs(45));
        // Missing values: Engine.IO's defaults.
        assert_eq!(parse_frame("0{}"), Ok(Frame::Open(expected)));
        let Ok(Frame::Open(short)) = parse_frame(r#"0{"pingInterval":300,"pingTimeout":200}"#)
        else {
            panic!()
        };
        assert_eq!(short.watchdog(), Duration::from_millis(500));
    }

    #[test]
    fn open_values_from_the_server_are_bounded() {
        let Ok(Frame::Open(open)) = parse_frame(
            r#"0{"pingInterval":1e300,"pingTimeout":18446744073709551615,"maxPayload":-1}"#,
        ) else {
            panic!()
        };
        assert_eq!(open.ping_interval, MAX_PING);
        assert_eq!(open.ping_timeout, MAX_PING);
        assert_eq!(open.max_payload, 1_000_000);
        let Ok(Frame::Open(zero)) = parse_frame(r#"0{"pingInterval":-5,"pingTimeout":0}"#) else {
            panic!()
        };
        assert_eq!(zero.watchdog(), Duration::ZERO);
        // Checked additions with the clock never overflow.
        assert!(std::time::Instant::now()
            .checked_add(open.watchdog())
            .is_some());
    }

    #[test]
    fn socket_io_packet_types_namespaces_and_ack_ids() {
        let live = r#"42/notifications,["notification","{\"value\":[]}"]"#;
        assert_eq!(
            packet(live),
            Packet {
                kind: PacketKind::Event,
                namespace: "/notifications",
                ack: None,
                data: r#"["notification","{\"value\":[]}"]"#,
            }
        );
        let cases: &[(&str, PacketKind, &str, Option<u64>, &str)] = &[
            ("40", PacketKind::Connect, "/", None, ""),
            (
                r#"40{"sid":"x"}"#,
                PacketKind::Connect,
                "/",
                None,
                r#"{"sid":"x"}"#,
            ),
            (
                r#"40/notifications,{"sid":"x"}"#,
                PacketKind::Connect,
                "/notifications",
                None,
                r#"{"sid":"x"}"#,
            ),
            (
                "41/notifications,",
                PacketKind::Disconnect,
                "/notifications",
                None,
                "",
            ),
            (
                "41/notifications",
                PacketKind::Disconnect,
                "/notifications",
                None,
                "",
            ),
            ("41", PacketKind::Disconnect, "/", None, ""),
            (r#"42["a",1]"#, PacketKind::Event, "/", None, r#"["a",1]"#),
            (r#"4212["a"]"#, PacketKind::Event, "/", Some(12), r#"["a"]"#),
            (
                r#"42/n,7["a"]"#,
                PacketKind::Event,
                "/n",
                Some(7),
                r#"["a"]"#,
            ),
            (
                "43/notifications,5[]",
                PacketKind::Ack,
                "/notifications",
                Some(5),
                "[]",
            ),
            (
                r#"44/elsewhere,{"message":"Invalid namespace"}"#,
                PacketKind::ConnectError,
                "/elsewhere",
                None,
                r#"{"message":"Invalid namespace"}"#,
            ),
            (
                r#"451-/n,["a",{"_placeholder":true,"num":0}]"#,
                PacketKind::BinaryEvent,
                "/n",
                None,
                r#"["a",{"_placeholder":true,"num":0}]"#,
            ),
            ("461-/n,3[]", PacketKind::BinaryAck, "/n", Some(3), "[]"),
        ];
        for (text, kind, namespace, ack, data) in cases {
            let got = packet(text);
            assert_eq!(
                (got.kind, got.namespace, got.ack, got.data),
                (*kind, *namespace, *ack, *data),
                "{text}"
            );
        }
    }

    #[test]
    fn malformed_frames_are_errors_with_one_clean_line() {
        let cases: &[(&str, &str)] = &[
            ("", "EngineIO Error"),
            ("garbage", "EngineIO Error: unknown packet type 'g'"),
            ("9", "EngineIO Error"),
            ("\u{1b}[2J", "unknown packet type '\\u{1b}'"),
            ("é", "EngineIO Error"),
            ("0", "EngineIO Error: a bad open packet"),
            ("0{", "EngineIO Error: a bad open packet"),
            ("0[]", "EngineIO Error: a bad open packet"),
            (
                r#"0{"pingInterval":"soon"}"#,
                "EngineIO Error: a bad open packet",
            ),
            ("4", "Invalid packet id: none"),
            ("47/notifications,", "Invalid packet id: 7"),
            ("4x", "Invalid packet id: x"),
            ("4\n", "Invalid packet id: \\n"),
            ("45/n,[]", "attachment count"),
            ("451/n,[]", "attachment count"),
            ("4-1-[]", "Invalid packet id: -"),
            ("4299999999999999999999[]", "ack id"),
        ];
        for (text, expected) in cases {
            let err = parse_frame(text).expect_err(text);
            let shown = err.to_string();
            assert!(shown.contains(expected), "{text:?}: {shown}");
            assert!(!shown.chars().any(char::is_control), "{text:?}: {shown:?}");
        }
    }

    #[test]
    fn the_argument_of_a_notification_event() {
        let arg = |data: &str| notification_argument(data).unwrap();
        assert_eq!(
            arg(r#"["notification","{\"value\":[{\"a\":\"b\"}]}"]"#),
            Some(Value::String(r#"{"value":[{"a":"b"}]}"#.into()))
        );
        assert_eq!(
            arg(r#"["notification",{"value":[]}]"#),
            Some(json!({"value": []}))
        );
        // An escaped name is the same name.
        assert_eq!(arg(r#"["notific\u0061tion",1]"#), Some(json!(1)));
        // None, one, several arguments (as rust_socketio gave them: null, it, an array).
        assert_eq!(arg(r#"["notification"]"#), Some(Value::Null));
        assert_eq!(arg(r#"["notification",1,"x"]"#), Some(json!([1, "x"])));
        assert_eq!(arg(" [ \"notification\" , 2 ] "), Some(json!(2)));
    }

    #[test]
    fn other_events_and_shapes_are_skipped() {
        for data in [
            "{}",
            r#"{"notification":1}"#,
            "[]",
            "[1]",
            r#"[["notification"],1]"#,
            r#"[{"a":"notification"},1]"#,
            r#"["other",1]"#,
            r#"["other",{"deep":[[[]]]}]"#,
            r#"["Notification",1]"#,
            "null",
            "true",
            "1.5",
            "-3",
            r#""notification""#,
            r#"[null]"#,
        ] {
            assert_eq!(notification_argument(data), Ok(None), "{data}");
        }
    }

    #[test]
    fn broken_event_json_is_an_error() {
        for data in [
            r#"["notification""#,
            r#"["notification","{\"value\":["#,
            "",
            "[",
            r#"["notification",1]x"#,
            r#"["other",1"#,
            "{]",
            "[\"notification\",\"\u{0}\"]",
        ] {
            let err = notification_argument(data).expect_err(data);
            let shown = err.to_string();
            assert!(
                shown.starts_with("string is not json serializable: "),
                "{data}: {shown}"
            );
            assert!(!shown.chars().any(char::is_control), "{shown:?}");
        }
        // Nesting beyond serde_json's limit is an error, not a stack overflow.
        let deep = format!(
            "[\"notification\",{}{}]",
            "[".repeat(100_000),
            "]".repeat(100_000)
        );
        assert!(notification_argument(&deep).is_err());
        // Another event is skipped without building it, however deep.
        let deep_other = format!("[\"x\",{}{}]", "[".repeat(100_000), "]".repeat(100_000));
        assert_eq!(notification_argument(&deep_other), Ok(None));
    }

    #[test]
    fn connect_error_reasons() {
        assert_eq!(
            connect_error_message(r#"{"message":"Invalid namespace"}"#),
            "Invalid namespace"
        );
        assert_eq!(
            connect_error_message(r#""Not authorized""#),
            "Not authorized"
        );
        assert_eq!(
            connect_error_message(r#"{"message":"a\nfake\u001b[2J line"}"#),
            "a fake [2J line"
        );
        assert_eq!(connect_error_message(""), "no reason given");
        assert_eq!(connect_error_message("{\"data\":1}"), "{\"data\":1}");
        assert!(connect_error_message(&"x".repeat(10_000)).chars().count() <= 201);
    }

    #[test]
    fn packets_we_send() {
        assert_eq!(connect_packet("/"), "40");
        assert_eq!(connect_packet("/notifications"), "40/notifications,");
        assert_eq!(disconnect_packet("/notifications"), "41/notifications,");
        assert_eq!(disconnect_packet("/"), "41");
        assert_eq!(ack_packet("/notifications", 7), "43/notifications,7[]");
        assert_eq!(ack_packet("/", 0), "430[]");
        // What we send parses as what we meant.
        let join = connect_packet("/callback");
        let packet = packet(&join);
        assert_eq!(
            (packet.kind, packet.namespace),
            (PacketKind::Connect, "/callback")
        );
    }

    #[test]
    fn no_input_panics() {
        // Every prefix of frames that exercise each branch, cut at every byte boundary.
        let frames = [
            r#"0{"sid":"s","pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}"#,
            r#"42/notifications,12["notification","{\"value\":[{\"a\":\"é\"}]}"]"#,
            r#"451-/n,3["a",{"_placeholder":true,"num":0}]"#,
            r#"44/n,{"message":"Invalid namespace"}"#,
            "2probe",
        ];
        for frame in frames {
            for cut in (0..=frame.len()).filter(|i| frame.is_char_boundary(*i)) {
                let text = &frame[..cut];
                if let Ok(Frame::Message(packet)) = parse_frame(text) {
                    let _ = notification_argument(packet.data);
                    let _ = connect_error_message(packet.data);
                }
            }
        }
    }

    proptest::proptest! {
        /// Frame-shaped input (types, namespaces, ids, JSON pieces) and any text: no
        /// panic, errors one clean line, the data a suffix of the frame.
        #[test]
        fn any_frame_parses_or_is_refused_cleanly(
            text in proptest::prop_oneof![
                "[0-9]{0,2}(/[a-z,]{0,8})?[0-9-]{0,3}(\\[|\\]|\\{|\\}|\"|\\\\|,|:|notification|value|[a-z0-9 ]|\\p{Cc}|é){0,24}",
                proptest::prelude::any::<String>(),
            ]
        ) {
            match parse_frame(&text) {
                Ok(Frame::Message(packet)) => {
                    proptest::prop_assert!(text.ends_with(packet.data));
                    match notification_argument(packet.data) {
                        Ok(_) => {}
                        Err(e) => proptest::prop_assert!(!e.to_string().chars().any(char::is_control)),
                    }
                    let reason = connect_error_message(packet.data);
                    proptest::prop_assert!(!reason.chars().any(char::is_control));
                }
                Ok(Frame::Open(open)) => {
                    proptest::prop_assert!(open.watchdog() <= MAX_PING * 2);
                }
                Ok(_) => {}
                Err(e) => {
                    proptest::prop_assert!(!e.to_string().chars().any(char::is_control), "{:?}", e.to_string());
                }
            }
        }
    }
}
