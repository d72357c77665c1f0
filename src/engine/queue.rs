//! The event queue: a 4-ary min-heap ordered by `(time, seq)`.
//!
//! Events at equal times pop in the order they were scheduled (FIFO by sequence number,
//! as in nexosim), which makes every run deterministic. Cancelled events are not removed:
//! each carries the epoch of what it is about, and the engine drops a popped event whose
//! epoch is stale (lazy deletion — cheaper than a decrease-key heap).
//!
//! **Layout.** The heap holds 16-byte keys only — the time and `seq << 32 | slot` — and the
//! events wait in a slab at `slot` (freed slots are reused). Four children share one cache
//! line, so a pop of a thousand pending events walks ~5 levels of one-line reads instead of
//! ~10 levels of 40-byte entries; with few pending (the 1024-thread GIL workload keeps a
//! handful: its threads wait for the GIL, not for events) what counts is the per-operation
//! overhead, and `std`'s `BinaryHeap` of whole entries was the larger (docs/performance.md,
//! 213.3 M → 208.0 M instructions). Sequence
//! numbers are 32 bits: when they run out, the pending keys are renumbered in their order
//! (a sorted array is a valid heap), which keeps the order exactly.

use crate::time::SimTime;

/// A heap key: time, then `seq << 32 | slot` (the slot never decides: seqs are unique), as
/// one `u128` so that a comparison is one branch-free compare-and-borrow rather than two
/// data-dependent branches on random times.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Key(u128);

impl Key {
    fn new(time: u64, tag: u64) -> Self {
        Key(u128::from(time) << 64 | u128::from(tag))
    }

    fn time(self) -> u64 {
        (self.0 >> 64) as u64
    }

    fn slot(self) -> usize {
        self.0 as u32 as usize
    }
}

const ARITY: usize = 4;

/// A min-queue of events by time, FIFO among equal times.
pub struct EventQueue<E> {
    heap: Vec<Key>,
    slab: Vec<E>,
    free: Vec<u32>,
    seq: u32,
}

impl<E: Copy> Default for EventQueue<E> {
    fn default() -> Self {
        Self::new()
    }
}

impl<E: Copy> EventQueue<E> {
    /// An empty queue.
    pub fn new() -> Self {
        EventQueue {
            heap: Vec::with_capacity(256),
            slab: Vec::with_capacity(256),
            free: Vec::new(),
            seq: 0,
        }
    }

    /// Schedules `event` at `time`.
    // Inlined at every scheduling site: through a call the event went via the stack, and
    // reading it back stalled on the caller's narrower stores (docs/performance.md §6).
    #[inline(always)]
    pub fn push(&mut self, time: SimTime, event: E) {
        let slot = match self.free.pop() {
            Some(s) => {
                self.slab[s as usize] = event;
                s
            }
            None => {
                self.slab.push(event);
                u32::try_from(self.slab.len() - 1).expect("fewer than 2^32 pending events")
            }
        };
        if self.seq == u32::MAX {
            self.renumber();
        }
        let key = Key::new(time.0, (u64::from(self.seq) << 32) | u64::from(slot));
        self.seq += 1;
        self.heap.push(key);
        self.sift_up(self.heap.len() - 1, key);
    }

    /// The earliest event, if any.
    #[inline]
    pub fn pop(&mut self) -> Option<(SimTime, E)> {
        let top = *self.heap.first()?;
        let last = self.heap.pop().expect("non-empty");
        if !self.heap.is_empty() {
            self.sift_down(last);
        }
        let slot = top.slot();
        self.free.push(slot as u32);
        Some((SimTime(top.time()), self.slab[slot]))
    }

    /// The time of the earliest event, if any.
    pub fn peek_time(&self) -> Option<SimTime> {
        self.heap.first().map(|k| SimTime(k.time()))
    }

    /// Events waiting (stale ones included).
    pub fn len(&self) -> usize {
        self.heap.len()
    }

    /// True when nothing is scheduled.
    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }

    /// Moves `key`, placed at `i`, up to where its parent is not later.
    fn sift_up(&mut self, mut i: usize, key: Key) {
        while i > 0 {
            let parent = (i - 1) / ARITY;
            let p = self.heap[parent];
            if p <= key {
                break;
            }
            self.heap[i] = p;
            i = parent;
        }
        self.heap[i] = key;
    }

    /// Puts `key` at the root's hole and moves it down to where no child is earlier.
    #[inline]
    fn sift_down(&mut self, key: Key) {
        let heap = &mut self.heap[..];
        let n = heap.len();
        let mut i = 0;
        loop {
            let first = i * ARITY + 1;
            if first >= n {
                break;
            }
            let end = (first + ARITY).min(n);
            let (mut best, mut best_key) = (first, heap[first]);
            // Indexed: both iterator forms of this scan measured ~1 % more instructions on
            // the 1024-thread workload (callgrind).
            #[allow(clippy::needless_range_loop)]
            for c in first + 1..end {
                if heap[c] < best_key {
                    best = c;
                    best_key = heap[c];
                }
            }
            if key <= best_key {
                break;
            }
            heap[i] = best_key;
            i = best;
        }
        heap[i] = key;
    }

    /// Sequence numbers ran out: renumbers the pending keys 0, 1, … in their order.
    fn renumber(&mut self) {
        self.heap.sort_unstable();
        for (seq, k) in self.heap.iter_mut().enumerate() {
            *k = Key::new(k.time(), ((seq as u64) << 32) | k.slot() as u64);
        }
        self.seq = self.heap.len() as u32;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn pops_by_time_then_fifo() {
        let mut q = EventQueue::new();
        q.push(SimTime(5), "c");
        q.push(SimTime(1), "a");
        q.push(SimTime(5), "d");
        q.push(SimTime(1), "b");
        let order: Vec<_> = std::iter::from_fn(|| q.pop()).map(|(_, e)| e).collect();
        assert_eq!(order, ["a", "b", "c", "d"]);
        assert!(q.is_empty());
    }

    #[test]
    fn renumbering_keeps_the_order() {
        let mut q = EventQueue::new();
        q.seq = u32::MAX - 3;
        for (i, t) in [7u64, 3, 7, 3, 9, 3, 7].into_iter().enumerate() {
            q.push(SimTime(t), i);
        }
        assert!(q.seq < 10, "renumbered");
        let order: Vec<_> = std::iter::from_fn(|| q.pop()).map(|(_, e)| e).collect();
        assert_eq!(order, [1, 3, 5, 0, 2, 6, 4]);
    }

    proptest! {
        /// Interleaved pushes and pops come out exactly in `(time, push order)`, as a sorted
        /// reference says.
        #[test]
        fn matches_a_sorted_reference(
            ops in proptest::collection::vec((0u64..3, 0u64..1 << 40, any::<bool>()), 1..400),
        ) {
            let mut q = EventQueue::new();
            let mut reference: Vec<(u64, u64)> = Vec::new(); // (time, push number)
            let (mut now, mut n) = (0u64, 0u64);
            for (scale, dt, pop) in ops {
                if pop {
                    reference.sort();
                    let want = (!reference.is_empty()).then(|| reference.remove(0));
                    prop_assert_eq!(q.peek_time().map(|t| t.0), want.map(|w| w.0));
                    let got = q.pop().map(|(t, e)| (t.0, e));
                    prop_assert_eq!(got, want);
                    if let Some((t, _)) = got {
                        now = t;
                    }
                } else {
                    // Many equal times (dt 0), near ones and far ones.
                    let t = now + [0, dt % 16, dt][scale as usize];
                    q.push(SimTime(t), n);
                    reference.push((t, n));
                    n += 1;
                }
                prop_assert_eq!(q.len(), reference.len());
            }
        }
    }
}
