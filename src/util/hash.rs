//! The one hash that must be the same in every build, process, platform and release:
//! 64-bit FNV-1a over bytes, as published (draft-eastlake-fnv). Several graphwatch
//! processes agree through it on lock-file names (`changes::state`) and on which of
//! them watches a target (`--shard`, `target::Shard`). Rust's `DefaultHasher` promises
//! neither stability across releases nor across processes. Four lines, not a crate:
//! see docs/decisions.md, "A stable hash".

/// FNV-1a, 64 bits.
pub fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &b| {
        (hash ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv1a_64_gives_the_published_test_vectors() {
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a(b"foobar"), 0x8594_4171_f739_67e8);
    }
}
