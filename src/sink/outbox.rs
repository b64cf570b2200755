//! Between the watch loop and the sink: a task that delivers while the loop goes on, and
//! a bound on what waits for it (docs/reliability.md, "The sink is down").
//!
//! The loop used to await the sink's acknowledgements itself, once per burst. While the
//! bus was down that wait lasted as long as the outage: the loop answered no watchdog
//! (systemd would restart a service that was only waiting), and every notification the
//! links read meanwhile piled up in the channel from the links, without a bound. Now
//! the [`Sink`] belongs to a task of its own; the loop hands it messages through
//! [`Outbox`] and never waits for it, except at the end of a watch.
//!
//! What waits is bounded as the stdout queue is (`watch/queue.rs`), and by the same
//! rule: `change`, `resync`, `status` and `gap` events are never dropped (a `--changes`
//! round waits for its acknowledgement, so at most one round per target waits); a
//! `notification` is taken while fewer than [`MAX_WAITING`] events wait. Once that many
//! wait, one whose `id` the sink was handed since it last caught up is folded into it
//! (the same id is the same element on the same subscription, which the far side drops
//! as a repeat anyway); any other is dropped and counted, until half are acknowledged.
//! Then the sink gets one `gap` event per target with `"dropped": N`, where they are
//! missing, and stderr says so once.
//!
//! A `--changes` round asks for a [`Receipt`]: it resolves once everything handed over
//! before it was acknowledged, and only then does the loop let the round's cursor move.

use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::sync::{mpsc, oneshot, Notify};
use tokio::task::JoinHandle;

use super::{Message, Sink};
use crate::event::Event;

/// At most this many events wait for the sink's acknowledgement before notifications are
/// dropped: about 2.4 MiB of lines of 600 bytes, as behind stdout.
pub const MAX_WAITING: usize = 4096;

/// Keys of notifications handed over since the sink last caught up, for folding; past
/// this many the set starts again (folding is a saving, never needed for correctness).
const MAX_KEYS: usize = 2 * MAX_WAITING;

enum Item {
    Message(Message),
    /// Answer once everything before it was acknowledged.
    Receipt(oneshot::Sender<()>),
}

/// Resolves once everything handed over before it was acknowledged; an error if the
/// sink failed for good (the round must not be committed).
pub type Receipt = oneshot::Receiver<()>;

struct Shared {
    /// Messages handed over and not yet acknowledged.
    waiting: AtomicUsize,
    /// The task acknowledged a delivery (or ended): the loop may close a gap.
    delivered: Notify,
}

/// The loop's end; see the module docs.
pub struct Outbox {
    tx: Option<mpsc::UnboundedSender<Item>>,
    shared: Arc<Shared>,
    task: Option<JoinHandle<anyhow::Result<()>>>,
    /// Since the sink was full, notifications are dropped until half are acknowledged.
    dropping: bool,
    /// Notifications not handed over, per target: the next `gap`.
    dropped: BTreeMap<String, u64>,
    keys: HashSet<u128>,
    name: String,
}

impl Outbox {
    /// Give `sink` to a task of its own on the current runtime.
    pub fn start(sink: Sink) -> Outbox {
        let (tx, rx) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            waiting: AtomicUsize::new(0),
            delivered: Notify::new(),
        });
        let name = sink.name.clone();
        let task = tokio::spawn(deliver_all(sink, rx, shared.clone()));
        Outbox {
            tx: Some(tx),
            shared,
            task: Some(task),
            dropping: false,
            dropped: BTreeMap::new(),
            keys: HashSet::new(),
            name,
        }
    }

    /// Events waiting for their acknowledgement.
    pub fn waiting(&self) -> usize {
        self.shared.waiting.load(Ordering::Acquire)
    }

    /// Hand `event` over, unless it is a notification and the sink is full (then it is
    /// folded or dropped and counted; see the module docs).
    pub fn push(&mut self, event: &Event) {
        if let Event::Notification { target, id, .. } = event {
            let key = u128::from_str_radix(id, 16).unwrap_or_default();
            if self.dropping || self.waiting() >= MAX_WAITING {
                self.dropping = true;
                if !self.keys.contains(&key) {
                    *self.dropped.entry(target.clone()).or_default() += 1;
                }
                return;
            }
            if self.waiting() == 0 || self.keys.len() >= MAX_KEYS {
                self.keys.clear();
            }
            self.keys.insert(key);
        }
        self.send(Item::Message(Message {
            id: event.id().map(str::to_string),
            body: event.to_json_line(),
        }));
    }

    fn send(&mut self, item: Item) {
        if matches!(item, Item::Message(_)) {
            self.shared.waiting.fetch_add(1, Ordering::AcqRel);
        }
        if let Some(tx) = &self.tx {
            // A send fails only once the task ended; its result says why (`failed`).
            let _ = tx.send(item);
        }
    }

    /// A receipt for everything handed over so far.
    pub fn receipt(&mut self) -> Receipt {
        let (done, receipt) = oneshot::channel();
        self.send(Item::Receipt(done));
        receipt
    }

    /// Resolves when the sink acknowledged a delivery or its task ended; may resolve
    /// early (callers look again).
    pub async fn delivered(&self) {
        self.shared.delivered.notified().await;
    }

    /// If notifications were dropped and half of what waited was acknowledged: the
    /// `gap` events for the sink (handed over already) and the line for stderr.
    /// `at_end`: the watch ends, the gap is said whatever waits.
    pub fn close_gap(&mut self, at_end: bool) -> Option<String> {
        if !self.dropping || (!at_end && self.waiting() > MAX_WAITING / 2) {
            return None;
        }
        self.dropping = false;
        let dropped = std::mem::take(&mut self.dropped);
        if dropped.is_empty() {
            return None;
        }
        let total: u64 = dropped.values().sum();
        let each: Vec<String> = dropped.iter().map(|(t, n)| format!("{n} of {t}")).collect();
        for (target, n) in dropped {
            self.send(Item::Message(Message {
                id: None,
                body: Event::dropped_by_sink(target, n).to_json_line(),
            }));
        }
        Some(format!(
            "graphwatch: sink {}: it did not take notifications fast enough: {total} notification{} not delivered ({}; {MAX_WAITING} could wait); a gap event marks where",
            self.name,
            if total == 1 { " was" } else { "s were" },
            each.join(", ")
        ))
    }

    /// Whether the task ended (the sink failed for good, or it panicked): then
    /// [`Outbox::finish`] says why.
    pub fn ended(&self) -> bool {
        self.task.as_ref().is_none_or(JoinHandle::is_finished)
    }

    /// No more events: wait until everything handed over was acknowledged (or the
    /// sink failed for good: its error, exit 1).
    pub async fn finish(&mut self) -> anyhow::Result<()> {
        self.tx = None;
        match self.task.take() {
            Some(task) => match task.await {
                Ok(result) => result,
                Err(e) => Err(anyhow::anyhow!(
                    "sink {}: delivery stopped ({e})",
                    self.name
                )),
            },
            None => Ok(()),
        }
    }
}

impl Drop for Outbox {
    fn drop(&mut self) {
        // Not finished (Ctrl-C, --timeout, an error): what was not acknowledged was not
        // committed, and comes again at the next start.
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}

/// The task: take whatever was handed over, deliver it (waiting out outages, in
/// `Sink::deliver`), then answer the receipts among it; until the loop is done.
async fn deliver_all(
    mut sink: Sink,
    mut rx: mpsc::UnboundedReceiver<Item>,
    shared: Arc<Shared>,
) -> anyhow::Result<()> {
    let mut receipts = Vec::new();
    let result = async {
        while let Some(first) = rx.recv().await {
            let mut messages = 0;
            let mut next = Some(first);
            while let Some(item) = next {
                match item {
                    Item::Message(message) => {
                        sink.pending.push(message);
                        messages += 1;
                    }
                    Item::Receipt(done) => receipts.push(done),
                }
                next = rx.try_recv().ok();
            }
            sink.deliver().await?;
            shared.waiting.fetch_sub(messages, Ordering::AcqRel);
            for done in receipts.drain(..) {
                let _ = done.send(());
            }
            shared.delivered.notify_one();
        }
        Ok(())
    }
    .await;
    // Receipts not answered are dropped: their rounds are not committed.
    drop(receipts);
    shared.delivered.notify_one();
    result
}
