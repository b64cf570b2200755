//! Process resource limits, set once at start. The soft limit on open files is raised
//! to the hard limit: each target holds descriptors (its socket.io link, pooled HTTP
//! connections to Graph, a delta round's connection), and a soft limit of 1024 — or
//! 256 on macOS, or whatever a service manager or `ulimit -n` left — runs out with a
//! few dozen targets while the hard limit, which a process may raise its soft limit to
//! without privileges, is usually far higher. See docs/decisions.md, "Open files".

/// Raise the soft `RLIMIT_NOFILE` to the hard limit (Unix; elsewhere nothing to do),
/// and say at debug level (`-vv`) what the limit now is. A failure is logged, never
/// fatal: the limit as it was still works for a few targets.
pub fn raise_open_files_limit() {
    #[cfg(unix)]
    unix::raise_open_files_limit();
}

/// The soft limit on open files now; `None` when unlimited or not known (not Unix).
pub fn open_files_limit() -> Option<u64> {
    #[cfg(unix)]
    return rustix::process::getrlimit(rustix::process::Resource::Nofile).current;
    #[cfg(not(unix))]
    None
}

/// Descriptors a watch holds besides its targets': the runtime, stdio, the pooled
/// connections to Graph (at most `graph::MAX_IN_FLIGHT` busy, a few idle), a DNS
/// lookup, an `--exec` child's pipes.
pub const BASE_DESCRIPTORS: u64 = 64;

/// Whether `targets` targets, each holding `per_target` descriptors, fit under `limit`;
/// the number needed when they do not.
pub fn open_files_short(targets: u64, per_target: u64, limit: Option<u64>) -> Option<u64> {
    let needed = targets
        .saturating_mul(per_target)
        .saturating_add(BASE_DESCRIPTORS);
    limit.filter(|limit| needed > *limit).map(|_| needed)
}

#[cfg(unix)]
mod unix {
    use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};

    /// macOS refuses a soft limit above `OPEN_MAX` (10240) for `RLIMIT_NOFILE`, even
    /// when the hard limit is "unlimited".
    #[cfg(target_vendor = "apple")]
    const CEILING: Option<u64> = Some(10240);
    #[cfg(not(target_vendor = "apple"))]
    const CEILING: Option<u64> = None;

    /// `None` is "unlimited" (`RLIM_INFINITY`).
    fn shown(limit: Option<u64>) -> String {
        limit.map_or_else(|| "unlimited".into(), |n| n.to_string())
    }

    /// The soft limit to ask for: the hard one, under the platform's ceiling.
    pub(super) fn wanted(hard: Option<u64>, ceiling: Option<u64>) -> Option<u64> {
        match (hard, ceiling) {
            (Some(hard), Some(ceiling)) => Some(hard.min(ceiling)),
            (None, ceiling) => ceiling,
            (hard, None) => hard,
        }
    }

    pub(super) fn raise_open_files_limit() {
        let Rlimit { current, maximum } = getrlimit(Resource::Nofile);
        let wanted = wanted(maximum, CEILING);
        // `None` (unlimited) is above every number.
        let below = |a: Option<u64>, b: Option<u64>| match (a, b) {
            (Some(a), Some(b)) => a < b,
            (Some(_), None) => true,
            (None, _) => false,
        };
        if !below(current, wanted) {
            tracing::debug!(
                "open files: the soft limit is {} already (hard limit {})",
                shown(current),
                shown(maximum)
            );
            return;
        }
        let raised = Rlimit {
            current: wanted,
            maximum,
        };
        match setrlimit(Resource::Nofile, raised) {
            Ok(()) => tracing::debug!(
                "open files: soft limit raised from {} to {} (hard limit {})",
                shown(current),
                shown(wanted),
                shown(maximum)
            ),
            Err(e) => tracing::debug!(
                "open files: cannot raise the soft limit from {} to {}: {e}",
                shown(current),
                shown(wanted)
            ),
        }
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::open_files_short;
    use super::unix::wanted;

    #[test]
    fn many_targets_under_a_low_limit_are_short_of_descriptors() {
        assert_eq!(open_files_short(500, 1, Some(1024)), None);
        assert_eq!(open_files_short(2000, 1, Some(1024)), Some(2064));
        assert_eq!(open_files_short(500, 4, Some(1024)), Some(2064));
        assert_eq!(open_files_short(100_000, 4, None), None);
    }

    #[test]
    fn the_soft_limit_asked_for_is_the_hard_one_under_the_ceiling() {
        assert_eq!(wanted(Some(524288), None), Some(524288));
        assert_eq!(wanted(None, None), None);
        assert_eq!(wanted(Some(524288), Some(10240)), Some(10240));
        assert_eq!(wanted(None, Some(10240)), Some(10240));
        assert_eq!(wanted(Some(4096), Some(10240)), Some(4096));
    }
}
