//! `--coalesce`: the live service sends each notification about twice, and one change
//! can poke several times in a burst (docs/graph-socketio.md §3). Identical
//! notifications of a target — the same `data`, byte for byte — within a window of the
//! first are folded into it, so `--exec 'notify-send …'` runs once per change, not
//! twice. The window is fixed from the first, not sliding: a target that keeps
//! changing still gets a line per window.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::event::Event;

/// The notifications seen in the current windows, per target and payload.
#[derive(Debug)]
pub struct Fold {
    window: Duration,
    /// (target, data) → when the first of them was written.
    first_seen: HashMap<(String, String), Instant>,
}

impl Fold {
    pub fn new(window: Duration) -> Fold {
        Fold {
            window,
            first_seen: HashMap::new(),
        }
    }

    /// Whether `event`, arriving `now`, repeats a notification written less than the
    /// window ago (and is to be dropped). Only notifications fold.
    pub fn repeats(&mut self, event: &Event, now: Instant) -> bool {
        let Event::Notification { target, data, .. } = event else {
            return false;
        };
        let window = self.window;
        self.first_seen
            .retain(|_, first| now.saturating_duration_since(*first) < window);
        let key = (target.clone(), data.get().to_string());
        if self.first_seen.contains_key(&key) {
            return true;
        }
        self.first_seen.insert(key, now);
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::value::RawValue;

    fn poke(target: &str, resource: &str) -> Event {
        let data = RawValue::from_string(format!(
            r#"{{"subscriptionId":"s","resource":"{resource}"}}"#
        ))
        .unwrap();
        Event::notification(target, data)
    }

    #[test]
    fn duplicates_within_the_window_fold_into_the_first() {
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        let mut fold = Fold::new(ms(2000));
        assert!(!fold.repeats(&poke("drive:me", "r"), t0));
        assert!(
            fold.repeats(&poke("drive:me", "r"), t0 + ms(300)),
            "the duplicate"
        );
        assert!(
            !fold.repeats(&poke("list:a/b", "r"), t0 + ms(300)),
            "another target"
        );
        assert!(
            !fold.repeats(&poke("drive:me", "other"), t0 + ms(400)),
            "another payload"
        );
        assert!(fold.repeats(&poke("drive:me", "r"), t0 + ms(1999)));
        assert!(
            !fold.repeats(&poke("drive:me", "r"), t0 + ms(2000)),
            "a new window"
        );
        let resync = Event::resync("drive:me", "resyncRequired");
        assert!(
            !fold.repeats(&resync, t0) && !fold.repeats(&resync, t0),
            "only notifications fold"
        );
    }
}
