//! Between the watch loop and stdout: a bounded queue of rendered lines, and the one
//! thread that writes them (docs/reliability.md, "Behind a slow reader").
//!
//! The loop runs on a current-thread runtime with every link's task. When it wrote
//! stdout itself, a reader that stopped reading (`| (sleep 1000)`, a paused pager, a
//! consumer stuck on its own output) blocked the `write` and with it the runtime: the
//! sockets were no longer read, no ping was answered, and the service dropped the link
//! after pingInterval + pingTimeout (45 s). Measured before this module: a stalled
//! reader and a 20,000-notification burst, emulator pings 0.5 s + 0.5 s: the server
//! ended the socket with `HeartbeatTimeout` after 7,167 notifications. So the blocking
//! `write` is here, on a thread of its own, and the loop only ever queues.
//!
//! The queue is bounded ([`MAX_LINES`], [`MAX_BYTES`]), and what happens when it is
//! full depends on what the line is:
//!
//! * **A notification** is only a poke, and two with the same bytes carry the same
//!   information (they have no item id). When the queue is full, one identical to a
//!   notification still waiting here is folded into it ([`Offer::Coalesced`]), and any
//!   other is dropped and counted ([`Offer::Dropped`]); the loop reports the count as a
//!   `gap`. While there is room every notification is queued, duplicates too: a reader
//!   that keeps up sees the stream as it came. Once the queue was full, notifications
//!   are dropped until it is down to half ([`Lines::gap_can_close`]), so that a long
//!   overload is one gap of many, not many gaps of one, and the gap line sits exactly
//!   where the notifications are missing.
//! * **Everything else** — `change`, `resync`, `status`, `gap` lines — is never
//!   dropped. A delta round waits for room ([`Lines::is_full`], [`Lines::woken`])
//!   before each of its lines: its cursor is committed only after its lines were
//!   written, so the task waits and the notifications meanwhile collapse into one
//!   more round (the coalescer). Status lines are few and always queued.
//!
//! An [`Entry::Ack`] is answered by the thread after every line before it was written
//! and flushed: a round's cursor moves only after that (at-least-once).
//!
//! **Batches.** Lines are handed to the thread a batch at a time, not one by one: the
//! loop collects them in an open [`Batch`] and hands it over when it is about to wait
//! for the links ([`Lines::hand_off`]; a burst read off a socket is one batch, as the
//! loop used to flush stdout once per burst), when the batch reaches [`HAND_OFF`] bytes,
//! and before an ack, a wait for room or the end. The thread is woken only when it
//! sleeps. Handing lines over one by one cost a lock, a futex wake and, with the thread
//! keeping up, a `write` per line: 8.1 µs per event in a burst against 2.7–3.1 µs
//! before the thread (docs/performance.md, "After the merges of 2026-12-01: the
//! regression and its fix").

use std::collections::hash_map::RandomState;
use std::collections::{HashMap, VecDeque};
use std::hash::BuildHasher as _;
use std::io::{self, Write};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;

use tokio::sync::{oneshot, Notify};

use crate::output::OutputError;

/// At most this many lines wait to be written. With notification lines of about
/// 600 bytes (docs/performance.md) this is about 2.4 MiB: memory stays bounded behind a
/// stalled reader, and a reader that falls behind for a few seconds loses nothing.
pub const MAX_LINES: usize = 4096;

/// At most this many bytes of lines wait to be written (long `--template` or `--jq`
/// lines reach it before [`MAX_LINES`]).
pub const MAX_BYTES: usize = 4 << 20;

/// The write buffer of the thread: a burst is one `write` per 64 KiB.
const WRITE_BUFFER: usize = 64 << 10;

/// An open batch is handed to the thread once it holds this many bytes, so that a
/// burst that never lets the loop wait is still written as it comes (one `write` each).
pub const HAND_OFF: usize = WRITE_BUFFER;

/// What [`Lines::offer`] did with a notification line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Offer {
    Queued,
    /// The queue is full, but an identical notification of the same target waits to be
    /// written: this one is folded into it (nothing is lost).
    Coalesced,
    /// The queue is full (or not yet down to half since it was): dropped, to be counted.
    Dropped,
}

/// Lines handed over together: their bytes end to end, how many, and the keys of the
/// notifications among them (for folding).
#[derive(Default)]
struct Batch {
    bytes: Vec<u8>,
    lines: usize,
    keys: Vec<u64>,
}

enum Entry {
    Batch(Batch),
    /// Answer once everything before it was written and flushed.
    Ack(oneshot::Sender<()>),
}

#[derive(Default)]
struct State {
    queue: VecDeque<Entry>,
    /// Lines and bytes handed over and not yet written (the thread's own batch too).
    lines: usize,
    bytes: usize,
    /// Notifications handed over and not yet written, by key: how many of each.
    pending: HashMap<u64, u32>,
    /// Since the queue was full, notifications are dropped until it is down to half.
    dropping: bool,
    /// The loop was woken because a gap can close (it is down to half while dropping).
    half_told: bool,
    /// A round waits for room: wake the loop once the queue is not full.
    room_wanted: bool,
    /// The thread waits for work: a hand-off wakes it (and only then, a syscall saved).
    idle: bool,
    /// No more entries come: write what is queued and end.
    closed: bool,
    /// The write failed; the thread ended. Taken by the loop once.
    failed: Option<io::Error>,
    /// The thread ended (it failed, or it wrote everything after `closed`).
    ended: bool,
}

fn full(lines: usize, bytes: usize) -> bool {
    lines >= MAX_LINES || bytes >= MAX_BYTES
}

fn at_most(lines: usize, bytes: usize, most: usize) -> bool {
    lines <= most && bytes <= MAX_BYTES / MAX_LINES * most
}

struct Shared {
    state: Mutex<State>,
    /// The writer waits here for entries.
    work: Condvar,
    /// The loop waits here for room, a failure or the end.
    wake: Notify,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock is a bug in this module; the data stays
        // consistent enough to go on writing.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queue `entry`, and wake the thread if it sleeps (only then: a futex wake is a
    /// syscall, and a thread busy writing looks at the queue again by itself).
    fn queue(&self, state: &mut State, entry: Entry) {
        state.queue.push_back(entry);
        if std::mem::take(&mut state.idle) {
            self.work.notify_one();
        }
    }
}

/// The loop's end of the queue; see the module docs.
pub struct Lines {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
    /// Keys of notifications: SipHash with this process's random keys, so that no
    /// payload can be made to collide with another (a fold is a loss if two differ);
    /// eight bytes per waiting line rather than a copy of its `data`.
    keys: RandomState,
    /// Lines not yet handed over (see the module docs, "Batches").
    open: Batch,
}

impl Lines {
    /// Start the thread that writes to `sink` (stdout, behind [`WRITE_BUFFER`]).
    pub fn start<W: Write + Send + 'static>(sink: W) -> io::Result<Lines> {
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
            work: Condvar::new(),
            wake: Notify::new(),
        });
        let writer = shared.clone();
        let thread = std::thread::Builder::new()
            .name("stdout".into())
            .spawn(move || write_all(&writer, io::BufWriter::with_capacity(WRITE_BUFFER, sink)))?;
        Ok(Lines {
            shared,
            thread: Some(thread),
            keys: RandomState::new(),
            open: Batch::default(),
        })
    }

    /// The key of a notification of `target` whose event id is `id`: identical
    /// notifications — the same target and the same bytes of `data`, hence the same id
    /// (event/id.rs) — have the same key. Hashing the id, not the payload: 32 bytes
    /// rather than about 600.
    pub fn key(&self, target: &str, id: &str) -> u64 {
        self.keys.hash_one((target, id))
    }

    /// Lines and bytes waiting: handed over and not written, and the open batch.
    fn waiting(&self, state: &State) -> (usize, usize) {
        (
            state.lines + self.open.lines,
            state.bytes + self.open.bytes.len(),
        )
    }

    /// Whether a notification of `key` would be taken now; call [`Lines::push`] with its
    /// rendered bytes if so. Decided before rendering: a dropped one costs no render.
    pub fn offer(&mut self, key: u64) -> Offer {
        let mut state = self.shared.lock();
        let (lines, bytes) = self.waiting(&state);
        if !state.dropping && !full(lines, bytes) {
            // A reader that keeps up sees every notification, duplicates too (the
            // contract: one line per element; `--coalesce` folds them on request).
            return Offer::Queued;
        }
        if !state.dropping {
            // The writer wakes the loop when the queue is down to half: the gap closes.
            state.dropping = true;
            state.half_told = false;
            // What is open goes to the thread: it is what will make room, and its keys
            // are then all in `pending`.
            hand_over(&self.shared, &mut self.open, &mut state);
        }
        // (The open batch holds no notification now: none is pushed while dropping.)
        let coalesced = state.pending.contains_key(&key);
        drop(state);
        if coalesced {
            Offer::Coalesced
        } else {
            Offer::Dropped
        }
    }

    /// Queue the bytes of one event (a notification's with its `key`, after
    /// [`Lines::offer`] said [`Offer::Queued`]). Never refused: bounding is the caller's
    /// (`offer` for notifications, [`Lines::is_full`] for rounds).
    pub fn push(&mut self, bytes: &[u8], key: Option<u64>) -> Result<(), OutputError> {
        if self.open.lines == 0 {
            // A failure is seen once per batch: the loop stops at the next line.
            let mut state = self.shared.lock();
            if let Some(e) = state.failed.take() {
                return Err(OutputError::from(e));
            }
            if state.ended {
                return Err(OutputError::from(io::Error::from(
                    io::ErrorKind::BrokenPipe,
                )));
            }
        }
        self.open.bytes.extend_from_slice(bytes);
        self.open.lines += 1;
        self.open.keys.extend(key);
        if self.open.bytes.len() >= HAND_OFF {
            self.hand_off();
        }
        Ok(())
    }

    /// Hand the open batch to the thread: the loop is about to wait, so what it
    /// queued goes out now.
    pub fn hand_off(&mut self) {
        if self.open.lines > 0 {
            let mut state = self.shared.lock();
            hand_over(&self.shared, &mut self.open, &mut state);
        }
    }
}

/// Hand `open` over into the locked `state` (and wake the thread if it sleeps).
fn hand_over(shared: &Shared, open: &mut Batch, state: &mut State) {
    if open.lines == 0 || state.ended {
        // After the end nothing is written: the batch goes (push reports why).
        *open = Batch::default();
        return;
    }
    let batch = std::mem::replace(
        open,
        Batch {
            bytes: Vec::with_capacity(HAND_OFF + HAND_OFF / 8),
            ..Batch::default()
        },
    );
    state.lines += batch.lines;
    state.bytes += batch.bytes.len();
    for key in &batch.keys {
        *state.pending.entry(*key).or_default() += 1;
    }
    shared.queue(state, Entry::Batch(batch));
}

impl Lines {
    /// Answer `done` once every line queued so far was written and flushed.
    pub fn ack(&mut self, done: oneshot::Sender<()>) {
        let mut state = self.shared.lock();
        hand_over(&self.shared, &mut self.open, &mut state);
        if state.ended {
            // Nothing more is written: the round must not be committed. Dropping
            // `done` tells the task so.
            return;
        }
        self.shared.queue(&mut state, Entry::Ack(done));
    }

    /// Whether a round must wait for room before its next line.
    pub fn is_full(&self) -> bool {
        let state = self.shared.lock();
        let (lines, bytes) = self.waiting(&state);
        full(lines, bytes)
    }

    /// Since the queue was full, notifications are being dropped.
    pub fn dropping(&self) -> bool {
        self.shared.lock().dropping
    }

    /// If notifications were being dropped and the queue is down to half: stop
    /// dropping, and `true` (the loop writes the gap). The writer wakes the loop
    /// ([`Lines::woken`]) when it is.
    pub fn gap_can_close(&mut self) -> bool {
        let mut state = self.shared.lock();
        let (lines, bytes) = self.waiting(&state);
        if state.dropping && at_most(lines, bytes, MAX_LINES / 2) {
            state.dropping = false;
            return true;
        }
        false
    }

    /// Ask to be woken ([`Lines::woken`]) when a round may go on (the queue not full).
    pub fn wait_for_room(&mut self) {
        let mut state = self.shared.lock();
        // The open batch counts as waiting: the thread must have it to make room.
        hand_over(&self.shared, &mut self.open, &mut state);
        if full(state.lines, state.bytes) {
            state.room_wanted = true;
        } else {
            drop(state);
            self.shared.wake.notify_one();
        }
    }

    /// Resolves when the writer has made the room asked for, or failed. May resolve
    /// early (a wake-up left from before): callers look again.
    pub async fn woken(&self) {
        self.shared.wake.notified().await;
    }

    /// The write failed: the error, once.
    pub fn failure(&self) -> Option<OutputError> {
        self.shared.lock().failed.take().map(OutputError::from)
    }

    /// No more lines: wait until every queued line was written and flushed.
    pub async fn finish(mut self) -> Result<(), OutputError> {
        {
            let mut state = self.shared.lock();
            hand_over(&self.shared, &mut self.open, &mut state);
            state.closed = true;
        }
        self.shared.work.notify_one();
        loop {
            let woken = self.shared.wake.notified();
            {
                let mut state = self.shared.lock();
                if let Some(e) = state.failed.take() {
                    return Err(OutputError::from(e));
                }
                if state.ended {
                    break;
                }
            }
            woken.await;
        }
        if let Some(thread) = self.thread.take() {
            // It has ended (`ended` is its last word).
            let _ = thread.join();
        }
        Ok(())
    }
}

impl Drop for Lines {
    fn drop(&mut self) {
        // Not finished (an error ended the loop): the thread ends when it has written
        // what is queued, or when its write fails; nobody waits for it.
        let mut state = self.shared.lock();
        hand_over(&self.shared, &mut self.open, &mut state);
        state.closed = true;
        drop(state);
        self.shared.work.notify_one();
    }
}

/// The thread: write entries in order, flush when the queue is empty (once per burst),
/// answer acks after a flush; end when closed and empty, or on the first failed write.
fn write_all<W: Write>(shared: &Shared, mut out: io::BufWriter<W>) {
    let mut dirty = false;
    let result = loop {
        let mut state = shared.lock();
        let next = loop {
            if let Some(entry) = state.queue.pop_front() {
                break Ok(Some(entry));
            }
            if dirty {
                // The queue is empty: the end of a burst, so what was written goes out.
                drop(state);
                let flushed = out.flush();
                state = shared.lock();
                if let Err(e) = flushed {
                    break Err(e);
                }
                dirty = false;
                continue;
            }
            if state.closed {
                break Ok(None);
            }
            state.idle = true;
            state = shared.work.wait(state).unwrap_or_else(|e| e.into_inner());
            state.idle = false;
        };
        drop(state);
        let written = match next {
            Ok(Some(Entry::Batch(batch))) => {
                dirty = true;
                let written = out.write_all(&batch.bytes);
                written_out(shared, &batch);
                written
            }
            Ok(Some(Entry::Ack(done))) => out.flush().map(|()| {
                dirty = false;
                let _ = done.send(());
            }),
            Ok(None) => break Ok(()),
            Err(e) => break Err(e),
        };
        if let Err(e) = written {
            break Err(e);
        }
    };
    let flushed = result.and_then(|()| out.flush());
    let mut state = shared.lock();
    if let Err(e) = flushed {
        state.failed = Some(e);
    }
    // Acks still queued are dropped with the queue: their rounds are not committed.
    state.queue.clear();
    state.pending.clear();
    state.lines = 0;
    state.bytes = 0;
    state.ended = true;
    drop(state);
    shared.wake.notify_one();
}

/// `batch` left the queue: count it out, and wake the loop if a round waits for room or
/// a gap can close.
fn written_out(shared: &Shared, batch: &Batch) {
    let mut state = shared.lock();
    state.lines -= batch.lines;
    state.bytes -= batch.bytes.len();
    for key in &batch.keys {
        if let Some(n) = state.pending.get_mut(key) {
            *n -= 1;
            if *n == 0 {
                state.pending.remove(key);
            }
        }
    }
    let room = state.room_wanted && !full(state.lines, state.bytes);
    let half =
        state.dropping && !state.half_told && at_most(state.lines, state.bytes, MAX_LINES / 2);
    if room || half {
        state.room_wanted &= !room;
        state.half_told |= half;
        drop(state);
        shared.wake.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stdout whose reader reads only once it is opened, and which records what was
    /// written and, at each flush, how much.
    #[derive(Clone, Default)]
    struct Reader {
        open: Arc<(Mutex<bool>, Condvar)>,
        written: Arc<Mutex<Vec<u8>>>,
        flushed_at: Arc<Mutex<Vec<usize>>>,
        writes: Arc<Mutex<usize>>,
    }

    impl Reader {
        fn resume(&self) {
            *self.open.0.lock().unwrap() = true;
            self.open.1.notify_all();
        }
        fn lines(&self) -> Vec<String> {
            String::from_utf8(self.written.lock().unwrap().clone())
                .unwrap()
                .lines()
                .map(str::to_string)
                .collect()
        }
    }

    impl Write for Reader {
        fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
            let (open, resumed) = &*self.open;
            let mut open = open.lock().unwrap();
            while !*open {
                open = resumed.wait(open).unwrap();
            }
            self.written.lock().unwrap().extend_from_slice(bytes);
            *self.writes.lock().unwrap() += 1;
            Ok(bytes.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            let (open, resumed) = &*self.open;
            let mut open = open.lock().unwrap();
            while !*open {
                open = resumed.wait(open).unwrap();
            }
            let len = self.written.lock().unwrap().len();
            self.flushed_at.lock().unwrap().push(len);
            Ok(())
        }
    }

    /// A notification line of about 500 bytes, numbered; its key.
    fn line(n: usize) -> (u64, Vec<u8>) {
        let key = n as u64;
        let mut bytes = format!("{n:>6} ").into_bytes();
        bytes.resize(500, b'.');
        bytes.push(b'\n');
        (key, bytes)
    }

    fn queued(lines: &Lines) -> usize {
        lines.shared.lock().lines
    }

    #[tokio::test]
    async fn behind_a_stalled_reader_notifications_are_kept_to_the_bound_then_dropped_until_half_is_written(
    ) {
        let reader = Reader::default();
        let mut lines = Lines::start(reader.clone()).unwrap();
        let mut kept = 0;
        let mut n = 0;
        while lines.offer(line(n).0) == Offer::Queued {
            let (key, bytes) = line(n);
            lines.push(&bytes, Some(key)).unwrap();
            kept += 1;
            n += 1;
        }
        // The bound, plus what the writer took before its reader stalled (its buffer).
        assert!(
            (MAX_LINES..MAX_LINES + WRITE_BUFFER / 500 + 2).contains(&kept),
            "{kept}"
        );
        assert_eq!(queued(&lines), MAX_LINES);
        // One identical to a queued one is folded into it, not dropped; others are dropped.
        assert_eq!(lines.offer(line(kept - 1).0), Offer::Coalesced);
        assert_eq!(lines.offer(line(kept + 7).0), Offer::Dropped);
        assert!(!lines.gap_can_close(), "nothing was written yet");
        // Status and change lines are never refused.
        lines.push(b"status\n", None).unwrap();

        reader.resume();
        loop {
            lines.woken().await;
            if lines.gap_can_close() {
                break;
            }
        }
        assert!(queued(&lines) <= MAX_LINES / 2 + 1, "{}", queued(&lines));
        assert_eq!(
            lines.offer(line(kept + 8).0),
            Offer::Queued,
            "the gap closed"
        );
        lines.finish().await.unwrap();
        let written = reader.lines();
        assert_eq!(written.len(), kept + 1);
        for (i, text) in written.iter().take(kept).enumerate() {
            assert!(
                text.starts_with(&format!("{i:>6} ")),
                "in order: {i} {text}"
            );
        }
        assert_eq!(written.last().unwrap(), "status");
    }

    #[tokio::test]
    async fn an_ack_is_answered_after_the_lines_before_it_were_flushed() {
        let reader = Reader::default();
        reader.resume();
        let mut lines = Lines::start(reader.clone()).unwrap();
        for n in 0..3 {
            lines.push(&line(n).1, None).unwrap();
        }
        let (done, written) = oneshot::channel();
        lines.ack(done);
        written.await.expect("answered");
        let flushed = *reader.flushed_at.lock().unwrap().last().unwrap();
        assert_eq!(
            flushed,
            3 * 501,
            "the three lines were out before the answer"
        );
        lines.finish().await.unwrap();
    }

    #[tokio::test]
    async fn a_burst_is_handed_over_at_once_and_written_in_one_write() {
        let reader = Reader::default();
        reader.resume();
        let mut lines = Lines::start(reader.clone()).unwrap();
        // 100 lines of 501 bytes: less than one hand-off's worth, so one batch.
        for n in 0..100 {
            let (key, bytes) = line(n);
            assert_eq!(lines.offer(key), Offer::Queued);
            lines.push(&bytes, Some(key)).unwrap();
        }
        assert_eq!(
            queued(&lines),
            0,
            "nothing handed over before the loop waits"
        );
        lines.hand_off();
        let (done, written) = oneshot::channel();
        lines.ack(done);
        written.await.expect("answered");
        assert_eq!(reader.lines().len(), 100);
        assert_eq!(
            *reader.writes.lock().unwrap(),
            1,
            "one write for the burst, not one per line"
        );
        // A burst that never lets the loop wait goes out in hand-offs of HAND_OFF bytes.
        for n in 0..1000 {
            lines.push(&line(n).1, None).unwrap();
        }
        lines.finish().await.unwrap();
        assert_eq!(reader.lines().len(), 1100);
        let writes = *reader.writes.lock().unwrap();
        let batches = 1000 * 501 / HAND_OFF + 1;
        assert!(
            (2..=1 + 2 * batches).contains(&writes),
            "{writes} writes for {batches} batches"
        );
    }

    struct Closed;
    impl Write for Closed {
        fn write(&mut self, _: &[u8]) -> io::Result<usize> {
            Err(io::Error::from(io::ErrorKind::BrokenPipe))
        }
        fn flush(&mut self) -> io::Result<()> {
            Err(io::Error::from(io::ErrorKind::BrokenPipe))
        }
    }

    #[tokio::test]
    async fn a_closed_stdout_is_reported_and_its_round_is_not_acknowledged() {
        let mut lines = Lines::start(Closed).unwrap();
        lines.push(&[b'x'; WRITE_BUFFER + 1], None).unwrap();
        let (done, written) = oneshot::channel();
        lines.ack(done);
        assert!(
            written.await.is_err(),
            "a round whose lines failed is not committed"
        );
        lines.woken().await;
        assert!(matches!(lines.failure(), Some(OutputError::BrokenPipe(_))));
        assert!(matches!(
            lines.push(b"more\n", None),
            Err(OutputError::BrokenPipe(_))
        ));
    }
}
