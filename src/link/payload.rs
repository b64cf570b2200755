//! What a `notification` event carries, decoded once, inside the link: the argument as
//! the frame parser hands it over (`super::engineio::notification_argument`), bounded in
//! size, split into one raw JSON element per notification (docs/graph-socketio.md §3).

use serde_json::value::RawValue;
use serde_json::Value;

use crate::event::raw_json;

/// The notifications in one `notification` event's argument, each as the JSON text it
/// was received as (key order and all), ready to be written under `data`.
///
/// The live service sends a JSON *string* holding `{"value":[…]}` (parse twice); an object
/// is used as it is. `{"value":[…]}` gives one element per notification (`{"value":[]}`
/// none). Anything else (another shape, a string that is not JSON, a number,
/// `{"value": 3}`) is returned whole, as one element, so it is still written out. Never
/// panics.
///
/// Elements are not re-encoded: the text between the brackets is kept as it came (it may
/// contain insignificant whitespace; the output layer compacts it). Only an argument that
/// arrived as an object (not the live shape) is re-encoded, and its key order is then
/// serde_json's.
///
/// The live shape, a string holding `{"value":[…]}` with elements in it, is read in one
/// pass; only other shapes take a second look.
pub fn decode_notifications(payload: Value) -> Vec<Box<RawValue>> {
    match payload {
        Value::String(text) => {
            if let Some(elements) = live_envelope(&text) {
                return elements;
            }
            match serde_json::from_str::<Box<RawValue>>(&text) {
                Ok(whole) => split_envelope(whole),
                Err(_) => vec![raw_json(&Value::String(text))],
            }
        }
        Value::Object(mut map)
            if map.get("value").is_some_and(Value::is_array)
                && (map.len() == 1 || map["value"].as_array().is_some_and(|v| !v.is_empty())) =>
        {
            match map.remove("value") {
                Some(Value::Array(items)) => items.iter().map(raw_json).collect(),
                _ => Vec::new(),
            }
        }
        other => vec![raw_json(&other)],
    }
}

#[derive(serde::Deserialize)]
struct Envelope {
    value: Vec<Box<RawValue>>,
}

/// The elements of `{"value":[…]}` with at least one element, straight from the text;
/// `None` for anything else, which [`split_envelope`] then sorts out. The same answer as
/// that for these texts (a whole text that is JSON, an object, `value` an array, not
/// empty), in one pass instead of two.
fn live_envelope(text: &str) -> Option<Vec<Box<RawValue>>> {
    if !text.trim_start().starts_with('{') {
        return None;
    }
    serde_json::from_str::<Envelope>(text)
        .ok()
        .filter(|envelope| !envelope.value.is_empty())
        .map(|envelope| envelope.value)
}

/// `{"value":[…]}` → its elements; anything else whole. An empty `value` beside other
/// members is not a notification list we understand: kept whole.
fn split_envelope(whole: Box<RawValue>) -> Vec<Box<RawValue>> {
    // A derived struct would also accept an array (`[[…]]`): only objects are envelopes.
    if !whole.get().starts_with('{') {
        return vec![whole];
    }
    match serde_json::from_str::<Envelope>(whole.get()) {
        Ok(envelope) if !envelope.value.is_empty() => envelope.value,
        Ok(_) => {
            let members = serde_json::from_str::<
                std::collections::HashMap<String, serde::de::IgnoredAny>,
            >(whole.get())
            .map_or(0, |m| m.len());
            if members == 1 {
                Vec::new()
            } else {
                vec![whole]
            }
        }
        Err(_) => vec![whole],
    }
}

/// The largest `notification` argument passed on, in bytes of JSON text. A live one is
/// well under 1 KiB per notification; a megabyte is over a thousand in one event. What
/// the transport buffers before we see it is bounded by
/// [`super::socket::MAX_FRAME_BYTES`] (16 MiB, a frame refused from its header before it
/// is read; `docs/decisions.md`, "Hostile input").
pub const MAX_PAYLOAD_BYTES: usize = 1 << 20;

/// `Some(payload)` if it is within [`MAX_PAYLOAD_BYTES`]; otherwise `None`, reported on
/// stderr (at `-v`), so the stream goes on without it.
pub fn accept_payload(payload: Value) -> Option<Value> {
    let size = json_size(&payload);
    if size > MAX_PAYLOAD_BYTES {
        tracing::info!(
            "skipping a notification event of {size} bytes: more than the {MAX_PAYLOAD_BYTES} accepted"
        );
        return None;
    }
    Some(payload)
}

/// The length of a value's JSON text, counted without building it (stops counting past
/// the limit).
fn json_size(value: &Value) -> usize {
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            if self.0 > MAX_PAYLOAD_BYTES {
                return Err(std::io::Error::other("over the limit"));
            }
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    if let Value::String(text) = value {
        // The text itself is what is parsed next.
        return text.len();
    }
    let mut count = Count(0);
    let _ = serde_json::to_writer(&mut count, value);
    count.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn texts(decoded: Vec<Box<RawValue>>) -> Vec<String> {
        decoded.into_iter().map(|r| r.get().to_string()).collect()
    }

    #[test]
    fn decode_string_holding_json_is_parsed_twice() {
        let inner =
            r#"{"value":[{"subscriptionId":"s1","resource":"r1"},{"subscriptionId":"s2"}]}"#;
        assert_eq!(
            texts(decode_notifications(Value::String(inner.into()))),
            [
                r#"{"subscriptionId":"s1","resource":"r1"}"#,
                r#"{"subscriptionId":"s2"}"#
            ]
        );
    }

    #[test]
    fn decode_keeps_the_text_and_key_order_of_the_wire() {
        let element = r#"{"subscriptionId":"s","clientState":"c","expirationDateTime":"e","resource":"r","tenantId":"t","siteUrl":"/p","webId":"w","n":1.50}"#;
        let text = format!(r#"{{"value":[{element}]}}"#);
        assert_eq!(texts(decode_notifications(Value::String(text))), [element]);
    }

    #[test]
    fn decode_object_is_used_as_is() {
        let decoded = decode_notifications(json!({"value":[{"subscriptionId":"s1"}]}));
        assert_eq!(texts(decoded), [r#"{"subscriptionId":"s1"}"#]);
    }

    #[test]
    fn decode_other_shapes_are_returned_whole() {
        for (payload, expected) in [
            (json!({"hello":"world"}), r#"{"hello":"world"}"#),
            (json!({"value": 3}), r#"{"value":3}"#),
            (json!({"value": {"a": 1}}), r#"{"value":{"a":1}}"#),
            (json!(42), "42"),
            (json!(null), "null"),
            (json!([1, 2]), "[1,2]"),
            (json!(true), "true"),
            (Value::String("not json {".into()), r#""not json {""#),
            (Value::String("".into()), r#""""#),
            (
                Value::String(r#""a string in a string""#.into()),
                r#""a string in a string""#,
            ),
            (Value::String(r#"{"value": 3}"#.into()), r#"{"value": 3}"#),
            (Value::String(r#" [1, 2] "#.into()), "[1, 2]"),
            (Value::String(r#"[["a"]]"#.into()), r#"[["a"]]"#),
        ] {
            assert_eq!(
                texts(decode_notifications(payload.clone())),
                [expected],
                "{payload}"
            );
        }
    }

    #[test]
    fn decode_empty_value_array_gives_no_notifications() {
        assert!(decode_notifications(json!({"value": []})).is_empty());
        assert!(decode_notifications(Value::String(r#"{"value":[]}"#.into())).is_empty());
        // With other members beside an empty list it is not ours: keep it whole.
        let odd = r#"{"value":[],"error":"x"}"#;
        assert_eq!(
            texts(decode_notifications(Value::String(odd.into()))),
            [odd]
        );
        assert_eq!(
            texts(decode_notifications(serde_json::from_str(odd).unwrap())),
            [r#"{"error":"x","value":[]}"#]
        );
    }

    #[test]
    fn decode_never_panics_on_garbage() {
        for text in [
            "\u{0}",
            "{",
            "[[[[",
            "{\"value\":[",
            "\u{feff}{}",
            "1e999999",
            "{\"value\":[1,]}",
        ] {
            let decoded = decode_notifications(Value::String(text.into()));
            assert_eq!(decoded.len(), 1, "{text:?}");
        }
        // Deep nesting is valid JSON: kept whole, as text, without overflowing the stack.
        for depth in [10_000, 1_000_000] {
            let deep = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
            let decoded = decode_notifications(Value::String(deep.clone()));
            assert_eq!(texts(decoded), [deep]);
        }
    }
}
