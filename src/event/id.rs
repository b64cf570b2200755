//! The `id` of an event line: what a downstream reader (a JetStream stream's duplicate
//! window, a webhook receiver, a `sort -u`) keys on to see each change once, whichever
//! process wrote it and however often. So it is a digest of what the change *is*, never
//! of when or by whom it was seen: no time, no label, no process (docs/contract.md,
//! "Event ids"; the choice in docs/decisions.md, "Stable event ids").
//!
//! SHA-256 (the `sha2` crate, already in the tree) over length-prefixed fields behind a
//! versioned domain tag, so that no two field lists give the same bytes; the line shows
//! the first 128 bits as 32 lowercase hex digits — short enough for a header
//! (`Nats-Msg-Id`), long enough that unrelated changes never meet (2⁻⁶⁴ at 2⁶⁴ ids).

use sha2::{Digest, Sha256};

use crate::event::ChangeKind;

/// How many hex digits of the digest an id keeps.
pub const ID_HEX_LEN: usize = 32;

/// The id of a `change`: the resource (`drive:{id}` / `list:{site}/{list}`, the same
/// for every label that names it), the item's id, the kind, and the version that
/// defines what changed — the item's eTag and cTag as they are after the change, or
/// for a deletion as they were last known (an item's last version is deleted once).
/// Items without either tag (some list items) use `fallback`: their name, parent and
/// fields, which is what the index compares them by.
pub fn change(
    resource: &str,
    item_id: &str,
    kind: ChangeKind,
    etag: Option<&str>,
    ctag: Option<&str>,
    fallback: &[Option<&str>],
) -> String {
    let mut fields: Vec<Option<&str>> = vec![
        Some(resource),
        Some(item_id),
        Some(kind.as_str()),
        etag,
        ctag,
    ];
    if etag.is_none() && ctag.is_none() {
        fields.extend_from_slice(fallback);
    }
    digest("graphwatch/change/1", &fields)
}

/// The id of a `notification`: the subscription it came on and its payload element,
/// byte for byte (compacted, as written). The same element delivered again on the same
/// subscription is the same id; a new subscription (each link makes its own) is a new one.
pub fn notification(subscription_id: Option<&str>, data: &str) -> String {
    digest("graphwatch/notification/1", &[subscription_id, Some(data)])
}

/// SHA-256 over `tag` and each field, each preceded by its length (`None`: a marker
/// no string gives), shortened to [`ID_HEX_LEN`] hex digits.
fn digest(tag: &str, fields: &[Option<&str>]) -> String {
    let mut hash = Sha256::new();
    hash.update(tag.as_bytes());
    for field in fields {
        match field {
            Some(text) => {
                hash.update([1u8]);
                hash.update((text.len() as u64).to_be_bytes());
                hash.update(text.as_bytes());
            }
            None => hash.update([0u8]),
        }
    }
    let digest = hash.finalize();
    let mut out = String::with_capacity(ID_HEX_LEN);
    push_hex(&mut out, &digest[..ID_HEX_LEN / 2]);
    out
}

/// `bytes` as lowercase hex digits, appended to `out`: event ids, and the webhook
/// sink's signatures; one or two per event, so no string is made per byte.
pub fn push_hex(out: &mut String, bytes: &[u8]) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    out.reserve(bytes.len() * 2);
    for &b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0xf)]));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn push_hex_is_lowercase_two_digits_a_byte() {
        let mut out = String::from("x=");
        push_hex(&mut out, &[0x00, 0x0f, 0xa5, 0xff]);
        assert_eq!(out, "x=000fa5ff");
    }

    #[test]
    fn same_change_same_id_and_each_part_counts() {
        let a = change(
            "drive:b!x",
            "01A",
            ChangeKind::Modified,
            Some("e2"),
            Some("c2"),
            &[],
        );
        assert_eq!(a.len(), ID_HEX_LEN);
        assert!(a
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
        assert_eq!(
            a,
            change(
                "drive:b!x",
                "01A",
                ChangeKind::Modified,
                Some("e2"),
                Some("c2"),
                &[]
            )
        );
        let others = [
            change(
                "drive:b!y",
                "01A",
                ChangeKind::Modified,
                Some("e2"),
                Some("c2"),
                &[],
            ),
            change(
                "drive:b!x",
                "01B",
                ChangeKind::Modified,
                Some("e2"),
                Some("c2"),
                &[],
            ),
            change(
                "drive:b!x",
                "01A",
                ChangeKind::Renamed,
                Some("e2"),
                Some("c2"),
                &[],
            ),
            change(
                "drive:b!x",
                "01A",
                ChangeKind::Modified,
                Some("e3"),
                Some("c2"),
                &[],
            ),
            change(
                "drive:b!x",
                "01A",
                ChangeKind::Modified,
                Some("e2"),
                Some("c3"),
                &[],
            ),
            change(
                "drive:b!x",
                "01A",
                ChangeKind::Modified,
                Some("e2"),
                None,
                &[],
            ),
        ];
        for other in &others {
            assert_ne!(&a, other);
        }
        // Length prefixes: moving a byte from one field to the next is another id.
        assert_ne!(
            change("drive:ab", "c", ChangeKind::Created, None, None, &[]),
            change("drive:a", "bc", ChangeKind::Created, None, None, &[])
        );
    }

    #[test]
    fn without_tags_the_fallback_decides() {
        let v1 = change(
            "list:s/l",
            "10",
            ChangeKind::Modified,
            None,
            None,
            &[Some("{\"A\":1}")],
        );
        let v2 = change(
            "list:s/l",
            "10",
            ChangeKind::Modified,
            None,
            None,
            &[Some("{\"A\":2}")],
        );
        assert_ne!(v1, v2);
        // With a tag the fallback is not read: the tag is the version.
        assert_eq!(
            change(
                "list:s/l",
                "10",
                ChangeKind::Modified,
                Some("e"),
                None,
                &[Some("x")]
            ),
            change(
                "list:s/l",
                "10",
                ChangeKind::Modified,
                Some("e"),
                None,
                &[Some("y")]
            )
        );
    }

    #[test]
    fn notifications_by_subscription_and_payload() {
        let a = notification(Some("sub-1"), r#"{"resource":"drives/x"}"#);
        assert_eq!(a, notification(Some("sub-1"), r#"{"resource":"drives/x"}"#));
        assert_ne!(a, notification(Some("sub-2"), r#"{"resource":"drives/x"}"#));
        assert_ne!(a, notification(Some("sub-1"), r#"{"resource":"drives/y"}"#));
        assert_ne!(a, notification(None, r#"{"resource":"drives/x"}"#));
    }
}
