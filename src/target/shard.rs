//! `--shard I/N`: which targets this process watches when N processes share them. A
//! target belongs to shard `1 + FNV-1a-64(label) mod N`, the label's UTF-8 bytes hashed
//! with [`fnv1a`] (fixed by its published definition, so the split is the same on every
//! platform and in every version of graphwatch). The label, not the
//! drive id, is hashed because it is what the user and the `--state` file know; the N
//! processes must be given the same SPECs (docs/scale.md, "Sharding").

use crate::error::Error;
use crate::util::hash::fnv1a;

/// Shard `index` (0-based) of `count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    index: u64,
    count: u64,
}

impl Shard {
    /// `I/N`, 1 ≤ I ≤ N (as `--shard` takes it).
    pub fn parse(text: &str) -> Result<Shard, Error> {
        let bad = |why: &str| {
            Error::usage(format!("--shard {text:?} is not valid: {why}"))
                .hint("use I/N with 1 <= I <= N, e.g. --shard 2/4 for the second of four processes")
        };
        let (i, n) = text
            .trim()
            .split_once('/')
            .ok_or_else(|| bad("it has no '/'"))?;
        let i: u64 = i
            .trim()
            .parse()
            .map_err(|_| bad("I is not a whole number"))?;
        let n: u64 = n
            .trim()
            .parse()
            .map_err(|_| bad("N is not a whole number"))?;
        if n == 0 || i == 0 || i > n {
            return Err(bad("I must be 1 to N"));
        }
        Ok(Shard {
            index: i - 1,
            count: n,
        })
    }

    /// Whether the target labelled `label` is this shard's.
    pub fn owns(&self, label: &str) -> bool {
        shard_of(label, self.count) == self.index
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index + 1, self.count)
    }
}

/// 0-based shard of `label` among `count`.
fn shard_of(label: &str, count: u64) -> u64 {
    fnv1a(label.as_bytes()) % count
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Code;

    #[test]
    fn the_shard_of_a_label_is_fixed() {
        // Whatever the platform or release, 4 shards put a label in the
        // same place (docs/scale.md gives this example).
        assert_eq!(shard_of("drive:me", 4), fnv1a(b"drive:me") % 4);
        assert_eq!(shard_of("drive:me", 1), 0);
    }

    #[test]
    fn n_shards_partition_the_targets() {
        let labels: Vec<String> = (0..500)
            .map(|n| format!("drive:contoso.sharepoint.com/sites/bulk-{n:04}/Shared%20Documents"))
            .collect();
        for count in [1u64, 2, 3, 7] {
            let shards: Vec<Shard> = (1..=count)
                .map(|i| Shard::parse(&format!("{i}/{count}")).unwrap())
                .collect();
            let mut sizes = vec![0usize; count as usize];
            for label in &labels {
                let owners: Vec<usize> = (0..shards.len())
                    .filter(|s| shards[*s].owns(label))
                    .collect();
                assert_eq!(owners.len(), 1, "{label} in {count} shards: {owners:?}");
                sizes[owners[0]] += 1;
            }
            // Spread: no shard is empty or holds more than twice its share.
            let share = labels.len() / count as usize;
            assert!(
                sizes.iter().all(|s| *s > 0 && *s <= 2 * share),
                "{count}: {sizes:?}"
            );
        }
    }

    #[test]
    fn bad_shards_are_usage_errors() {
        for bad in ["", "1", "0/2", "3/2", "1/0", "a/2", "1/b", "-1/2"] {
            let err = Shard::parse(bad).unwrap_err();
            assert_eq!(err.code, Code::Usage, "{bad}");
            assert!(err.to_string().starts_with("--shard"), "{err}");
        }
        assert_eq!(Shard::parse(" 2/4 ").unwrap().to_string(), "2/4");
    }
}
