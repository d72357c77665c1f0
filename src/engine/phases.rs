//! When does the next GIL waiter's timed wait run out? — without one timer per waiter.
//!
//! A waiter that began waiting at `s` times out at `s + P`, `s + 2P`, … (`P` =
//! `switch_interval + wakeup`; each timeout re-arms the next, so the grid never drifts).
//! Most of those timeouts change nothing: the GIL changed hands during the interval, so
//! the waiter only re-arms. With a thousand waiters that is a thousand events per
//! interval, which made the 1024-thread workload cost ~3·10⁸ events. The engine instead
//! asks this index for the first grid point at or after a time `X` over all waiters —
//! `X + ((s − X) mod P)` minimised over `s`, the waiter's own start excluded — and
//! schedules one event for it. The same query from now names the waiter a GIL release
//! wakes: the one whose current wait began first is the one whose next timeout is first.
//!
//! The index buckets waiters by their phase `s mod P` on a circle of at most [`BUCKETS`]
//! buckets (a power-of-two width, so a bucket is a shift), each bucket an intrusive list
//! in insertion order, with a two-level bitmap of non-empty buckets: insert and remove are
//! O(1), a query scans the bucket holding `X`'s phase and the next non-empty one (about
//! one waiter each for a thousand waiters). Ties go to the waiter that started first; a
//! waiter that restarts its wait at one of its timeouts ([`PhaseIndex::restart`]) counts
//! as starting then.

use std::cell::Cell;

use crate::time::SimTime;

/// Most buckets on the phase circle.
pub const BUCKETS: usize = 4096;

const WORDS: usize = BUCKETS / 64;

const NONE: u32 = u32::MAX;

/// A waiter's links in its bucket, and its wait.
#[derive(Debug, Clone, Copy)]
struct Node {
    next: u32,
    prev: u32,
    /// Start of the wait.
    since: u64,
    /// `since mod period`.
    phase: u64,
}

/// First and last waiter of a bucket.
#[derive(Debug, Clone, Copy)]
struct Ends {
    head: u32,
    tail: u32,
}

const EMPTY: Ends = Ends {
    head: NONE,
    tail: NONE,
};

/// The GIL waiters of one process, by phase.
#[derive(Debug, Clone)]
pub struct PhaseIndex {
    period: u64,
    /// `⌊2^64 / period⌋` (0 for a period of 1, where it does not fit), for the phase
    /// without a 64-bit divide ([`PhaseIndex::phase_of`]).
    reciprocal: u64,
    /// log2 of a bucket's width in ns.
    shift: u32,
    /// Each bucket's list (allocated at the first insert).
    ends: Vec<Ends>,
    /// Non-empty buckets, and non-zero words of `bits`.
    bits: Vec<u64>,
    summary: u64,
    /// Per thread id (allocated on demand).
    nodes: Vec<Node>,
    len: usize,
    /// The last query's answer, kept while it stays right for a later query (see
    /// [`PhaseIndex::earliest`]).
    last: Cell<Option<Answer>>,
}

/// A query from `from` found `t` timing out at `at`.
#[derive(Debug, Clone, Copy)]
struct Answer {
    from: u64,
    at: u64,
    t: u32,
}

impl PhaseIndex {
    /// An empty index for grid period `period` ns (at least 1).
    pub fn new(period: u64) -> Self {
        let period = period.max(1);
        let width = period.div_ceil(BUCKETS as u64).next_power_of_two();
        PhaseIndex {
            period,
            reciprocal: u64::try_from((1u128 << 64) / u128::from(period)).unwrap_or(0),
            shift: width.trailing_zeros(),
            ends: Vec::new(),
            bits: Vec::new(),
            summary: 0,
            nodes: Vec::new(),
            len: 0,
            last: Cell::new(None),
        }
    }

    /// Waiters in the index.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when nobody waits.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// `t mod period`, by Barrett reduction: a 64-bit divide's ~17 cycles of latency (this
    /// VM) were on the path of every query and every insert. The quotient estimate
    /// `⌊t·⌊2^64/P⌋ / 2^64⌋` is the true quotient or one less, so one subtraction corrects it.
    #[inline(always)]
    fn phase_of(&self, t: u64) -> u64 {
        if self.reciprocal == 0 {
            return t % self.period; // period 1 (2^64 / 1 does not fit)
        }
        let q = ((u128::from(t) * u128::from(self.reciprocal)) >> 64) as u64;
        let r = t - q * self.period;
        if r >= self.period {
            r - self.period
        } else {
            r
        }
    }

    fn bucket(&self, phase: u64) -> usize {
        (phase >> self.shift) as usize
    }

    /// Just past the last phase of bucket `b` (the last bucket ends at the period).
    fn bucket_end(&self, b: usize) -> u64 {
        ((b as u64 + 1) << self.shift).min(self.period)
    }

    fn mark(&mut self, b: usize, on: bool) {
        if on {
            self.bits[b / 64] |= 1 << (b % 64);
            self.summary |= 1 << (b / 64);
        } else {
            self.bits[b / 64] &= !(1 << (b % 64));
            if self.bits[b / 64] == 0 {
                self.summary &= !(1 << (b / 64));
            }
        }
    }

    /// Adds thread `t`, waiting since `since`.
    // Inlined into the GIL's wait and release: −1.4 M instructions together (callgrind).
    #[inline(always)]
    pub fn insert(&mut self, t: u32, since: SimTime) {
        if self.ends.is_empty() {
            self.ends = vec![EMPTY; BUCKETS];
            self.bits = vec![0; WORDS];
        }
        let i = t as usize;
        if self.nodes.len() <= i {
            let blank = Node {
                next: NONE,
                prev: NONE,
                since: 0,
                phase: 0,
            };
            self.nodes.resize(i + 1, blank);
        }
        let phase = self.phase_of(since.0);
        self.nodes[i] = Node {
            next: NONE,
            prev: NONE,
            since: since.0,
            phase,
        };
        self.append(t, self.bucket(phase));
        self.len += 1;
        // Its first timeout, a period from now, could come before the kept answer's.
        if self
            .last
            .get()
            .is_some_and(|a| since.0 + self.period < a.at)
        {
            self.last.set(None);
        }
    }

    /// Removes thread `t` (which must be in the index).
    // Inlined into the GIL's wait and release: −1.4 M instructions together (callgrind).
    #[inline(always)]
    pub fn remove(&mut self, t: u32) {
        let b = self.bucket(self.nodes[t as usize].phase);
        self.unlink(t, b);
        if self.ends[b].head == NONE {
            self.mark(b, false);
        }
        self.len -= 1;
        self.forget(t);
    }

    /// Puts thread `t` last in bucket `b`'s list (marking the bucket if it was empty).
    #[inline(always)]
    fn append(&mut self, t: u32, b: usize) {
        let tail = self.ends[b].tail;
        self.nodes[t as usize].prev = tail;
        self.nodes[t as usize].next = NONE;
        if tail == NONE {
            self.ends[b].head = t;
            self.mark(b, true);
        } else {
            self.nodes[tail as usize].next = t;
        }
        self.ends[b].tail = t;
    }

    /// Takes thread `t` out of bucket `b`'s list (its bucket), leaving the bucket's mark.
    #[inline(always)]
    fn unlink(&mut self, t: u32, b: usize) {
        let Node { next, prev, .. } = self.nodes[t as usize];
        if prev == NONE {
            self.ends[b].head = next;
        } else {
            self.nodes[prev as usize].next = next;
        }
        if next == NONE {
            self.ends[b].tail = prev;
        } else {
            self.nodes[next as usize].prev = prev;
        }
    }

    /// Drops the kept answer if it is `t`'s.
    fn forget(&self, t: u32) {
        if self.last.get().is_some_and(|a| a.t == t) {
            self.last.set(None);
        }
    }

    /// Thread `t` (in the index) waits again from `now`, one of its own timeouts: the same
    /// phase, so it stays in its bucket, moved to the back (it is now the newest there).
    pub fn restart(&mut self, t: u32, now: SimTime) {
        let i = t as usize;
        debug_assert_eq!(
            now.0 % self.period,
            self.nodes[i].phase,
            "not on the waiter's grid"
        );
        self.nodes[i].since = now.0;
        // Its own answer changes (its start is not a timeout); another waiter's does not:
        // this one only becomes the last to win a tie.
        self.forget(t);
        if self.nodes[i].next == NONE {
            return; // already the last of its bucket
        }
        // It has a successor, so the bucket stays non-empty in between.
        let b = self.bucket(self.nodes[i].phase);
        self.unlink(t, b);
        self.append(t, b);
    }

    /// The first timeout at or after `from` over all waiters, and whose it is.
    ///
    /// The answer is kept: it is still the answer for any later `from` up to its time while
    /// it stays in the index, since no other waiter times out in between and one that
    /// joins later times out a full period after it joins ([`PhaseIndex::insert`] drops the
    /// answer when that is sooner). The GIL's timer event asks again at the time its
    /// arming found, and gets it back without a scan.
    pub fn earliest(&self, from: SimTime) -> Option<(SimTime, u32)> {
        if self.len == 0 {
            return None;
        }
        if let Some(a) = self.last.get() {
            if a.from <= from.0 && from.0 <= a.at {
                return Some((SimTime(a.at), a.t));
            }
        }
        let best = self.scan(from);
        self.last.set(best.map(|(at, t)| Answer {
            from: from.0,
            at: at.0,
            t,
        }));
        best
    }

    /// [`PhaseIndex::earliest`] without the kept answer.
    fn scan(&self, from: SimTime) -> Option<(SimTime, u32)> {
        let x = self.phase_of(from.0);
        let b0 = self.bucket(x);
        let mut best = self.best_in(b0, from.0, x);
        // Every waiter of another bucket times out at least `bucket_end(b0) - x` after `from` (its
        // phase is past b0's, or before x and so a period later); a waiter of b0 that times
        // out sooner wins, and the next bucket need not be found.
        if best.is_some_and(|(at, _)| at - from.0 < self.bucket_end(b0) - x) {
            return best.map(|(at, t)| (SimTime(at), t));
        }
        if let Some(b1) = self.next_bucket(b0) {
            let other = self.best_in(b1, from.0, x);
            best = match (best, other) {
                (Some(a), Some(b)) if b.0 < a.0 => Some(b),
                (None, b) => b,
                (a, _) => a,
            };
        }
        best.map(|(at, t)| (SimTime(at), t))
    }

    /// The earliest timeout ≥ `from` among the waiters of bucket `b`.
    ///
    /// With more than one waiter in the bucket, a waiter that reaches the earliest time any
    /// phase of the bucket could give is the answer (those before it in the list were later),
    /// and the scan stops there. Threads that start waiting at the same instant share a
    /// phase, and at the start of a run that is the first phase of a bucket: without the
    /// stop, the queries of those first waits scanned all of them — quadratic in the thread
    /// count (4.5 M instructions for 1024 threads, ~450 M for 10,000).
    #[inline(always)]
    fn best_in(&self, b: usize, from: u64, x: u64) -> Option<(u64, u32)> {
        let mut best: Option<(u64, u32)> = None;
        let mut floor = None;
        let mut t = self.ends[b].head;
        while t != NONE {
            let node = &self.nodes[t as usize];
            let mut at = from
                + if node.phase >= x {
                    node.phase - x
                } else {
                    node.phase + self.period - x
                };
            if at == node.since {
                at += self.period; // the start of the wait is not a timeout
            }
            if best.is_none_or(|(a, _)| at < a) {
                best = Some((at, t));
            }
            t = node.next;
            if t != NONE
                && best.map(|(a, _)| a)
                    == Some(*floor.get_or_insert_with(|| self.floor(b, from, x)))
            {
                break;
            }
        }
        best
    }

    /// The earliest timeout ≥ `from` that a phase of bucket `b` could give.
    #[inline(never)]
    fn floor(&self, b: usize, from: u64, x: u64) -> u64 {
        let start = (b as u64) << self.shift;
        from + if start >= x {
            start - x
        } else if x < self.bucket_end(b) {
            0
        } else {
            start + self.period - x
        }
    }

    /// The next non-empty bucket after `b` going round the circle, `b` itself excluded.
    fn next_bucket(&self, b: usize) -> Option<usize> {
        let (w, bit) = (b / 64, b % 64);
        // Later buckets in b's own word.
        let rest = self.bits[w] & (!0u64).checked_shl(bit as u32 + 1).unwrap_or(0);
        if rest != 0 {
            return Some(w * 64 + rest.trailing_zeros() as usize);
        }
        // Later words, then from the start round to b's word (earlier buckets in it last).
        let later = self.summary & (!0u64).checked_shl(w as u32 + 1).unwrap_or(0);
        let word = if later != 0 {
            later.trailing_zeros() as usize
        } else if self.summary != 0 {
            self.summary.trailing_zeros() as usize
        } else {
            return None;
        };
        let mut bits = self.bits[word];
        if word == w {
            bits &= (1u64 << bit) - 1;
        }
        (bits != 0).then(|| word * 64 + bits.trailing_zeros() as usize)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A waiter's first timeout at or after `from`: its grid s + kP, k ≥ 1.
    fn next_at(s: u64, period: u64, from: u64) -> u64 {
        let k = if from <= s + period {
            1
        } else {
            (from - s).div_ceil(period)
        };
        s + k * period
    }

    /// The definition: each waiter's first timeout at or after `from`, the earliest.
    fn brute(waiters: &[(u32, u64)], period: u64, from: u64) -> Option<(u64, u32)> {
        waiters
            .iter()
            .map(|&(t, s)| (next_at(s, period, from), t))
            .min_by_key(|&(at, _)| at)
    }

    /// The index answers a query from `from` as the definition does: the same time and, on
    /// a tie, the waiter that started first (`waiters` is in the order they started).
    fn check(
        ix: &PhaseIndex,
        waiters: &[(u32, u64)],
        period: u64,
        from: u64,
    ) -> Result<(), TestCaseError> {
        let got = ix.earliest(SimTime(from)).map(|(at, t)| (at.0, t));
        let want = brute(waiters, period, from);
        prop_assert_eq!(got.map(|g| g.0), want.map(|w| w.0));
        if let (Some(g), Some(w)) = (got, want) {
            let first = waiters.iter().find(|x| next_at(x.1, period, from) == w.0);
            prop_assert_eq!(Some(g.1), first.map(|x| x.0));
        }
        Ok(())
    }

    #[test]
    fn phase_of_is_the_remainder() {
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        for period in [
            1u64,
            2,
            3,
            7,
            4096,
            5_000_000,
            5_020_000,
            1 << 40,
            (1 << 63) + 1,
            u64::MAX,
        ] {
            let ix = PhaseIndex::new(period);
            let mut ts = vec![
                0,
                1,
                period - 1,
                period,
                period.wrapping_add(1),
                u64::MAX,
                u64::MAX - 1,
            ];
            ts.extend((1..4).map(|k| period.saturating_mul(k).saturating_sub(1)));
            for _ in 0..10_000 {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                ts.push(x);
                ts.push(x >> 20);
            }
            for t in ts {
                assert_eq!(ix.phase_of(t), t % period, "{t} mod {period}");
            }
        }
    }

    #[test]
    fn a_waiter_that_joins_after_a_query_ahead_can_time_out_first() {
        let mut ix = PhaseIndex::new(100);
        // 1 times out at 100, 200, 300, …
        ix.insert(1, SimTime(0));
        // The GIL's timer asks ahead: the first timeout from 210 is 1's, at 300.
        assert_eq!(ix.earliest(SimTime(210)), Some((SimTime(300), 1)));
        // A waiter that joins at 150 times out at 250: before it.
        ix.insert(2, SimTime(150));
        assert_eq!(ix.earliest(SimTime(210)), Some((SimTime(250), 2)));
        assert_eq!(ix.earliest(SimTime(260)), Some((SimTime(300), 1)));
    }

    #[test]
    fn a_waiters_own_start_is_not_a_timeout() {
        let mut ix = PhaseIndex::new(100);
        ix.insert(3, SimTime(250));
        assert_eq!(ix.earliest(SimTime(250)), Some((SimTime(350), 3)));
        assert_eq!(ix.earliest(SimTime(351)), Some((SimTime(450), 3)));
        ix.remove(3);
        assert_eq!(ix.earliest(SimTime(0)), None);
    }

    #[test]
    fn waiters_that_start_together_time_out_together_first_come_first() {
        let period = 5_000_000;
        let mut ix = PhaseIndex::new(period);
        for t in 0..1000 {
            ix.insert(t, SimTime(0));
        }
        assert_eq!(ix.earliest(SimTime(0)), Some((SimTime(period), 0)));
        assert_eq!(ix.earliest(SimTime(7)), Some((SimTime(period), 0)));
        ix.remove(0);
        ix.insert(0, SimTime(3));
        assert_eq!(ix.earliest(SimTime(7)), Some((SimTime(period), 1)));
        assert_eq!(
            ix.earliest(SimTime(period + 1)),
            Some((SimTime(period + 3), 0))
        );
    }

    proptest! {
        /// The engine's pattern: time only goes forward, queries now and up to two periods
        /// ahead between joins, leaves and restarts — the kept answer is used and must stay
        /// right.
        #[test]
        fn kept_answers_match_the_definition(
            period in prop_oneof![1u64..50, 1_000u64..6_000],
            ops in proptest::collection::vec((0u8..5, 0u32..12, 0u64..4_000), 1..200),
        ) {
            let mut ix = PhaseIndex::new(period);
            let mut waiters: Vec<(u32, u64)> = Vec::new();
            let mut now = 0u64;
            for (kind, t, x) in ops {
                let pos = waiters.iter().position(|w| w.0 == t);
                match (kind, pos) {
                    (0, None) => {
                        waiters.push((t, now));
                        ix.insert(t, SimTime(now));
                    }
                    (1, Some(p)) => {
                        waiters.remove(p);
                        ix.remove(t);
                    }
                    (2, Some(p)) => {
                        now = next_at(waiters[p].1, period, now);
                        waiters.remove(p);
                        waiters.push((t, now));
                        ix.restart(t, SimTime(now));
                    }
                    (3, _) => now += x % (period / 2 + 2),
                    _ => {
                        let from = now + [0, x % (2 * period), x % 7][t as usize % 3];
                        check(&ix, &waiters, period, from)?;
                    }
                }
            }
        }

        #[test]
        fn matches_the_definition(
            period in prop_oneof![1u64..5_000, 1_000_000u64..20_000_000],
            ops in proptest::collection::vec((0u32..40, 0u64..20_000, 0u8..3), 1..120),
            probes in proptest::collection::vec(0u64..30_000, 1..20),
        ) {
            let mut ix = PhaseIndex::new(period);
            // (thread, since), in insertion order.
            let mut waiters: Vec<(u32, u64)> = Vec::new();
            let mut now = 0u64;
            for (t, dt, op) in ops {
                let (add, restart) = (op == 0, op == 2);
                let scale = period / 1000 + 1;
                now += dt % 500 * scale;
                if let Some(pos) = waiters.iter().position(|w| w.0 == t) {
                    if restart {
                        // At the waiter's next timeout, it waits again (the newest).
                        now = next_at(waiters[pos].1, period, now);
                        waiters.remove(pos);
                        waiters.push((t, now));
                        ix.restart(t, SimTime(now));
                    } else if !add {
                        waiters.remove(pos);
                        ix.remove(t);
                    }
                } else if add {
                    waiters.push((t, now));
                    ix.insert(t, SimTime(now));
                }
                prop_assert_eq!(ix.len(), waiters.len());
                for &p in &probes {
                    check(&ix, &waiters, period, now + p * scale)?;
                }
            }
        }
    }
}
