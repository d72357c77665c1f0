//! The OS scheduler: hardware threads, the run queue, time slices and CPU speed.
//!
//! - Placement: a thread that becomes runnable goes to its previous hardware thread if that
//!   is idle and its core is idle (or no core is fully idle), else to the first hardware
//!   thread of a fully idle core, else to any idle hardware thread (Linux spreads over
//!   physical cores before using SMT siblings, and prefers the previous CPU for its warm
//!   cache: `select_idle_sibling` in kernel/sched/fair.c). With none idle it joins the
//!   FIFO run queue — unless it was woken from a blocking wait and nobody is queued: then
//!   it preempts the longest-running thread that is computing and has run all the while it
//!   was off its core, which queues instead (wake-up preemption: EEVDF gives a sleeper an
//!   earlier virtual deadline, as CFS gave it a smaller vruntime). Only with the queue
//!   empty, so that a preempted thread is never passed over by a stream of wake-ups: it
//!   gets the next free hardware thread or the next slice end, as a waiter with lag would
//!   under EEVDF.
//! - Context switch: charged when a hardware thread starts a thread other than the one it
//!   ran last (not on its very first thread); the thread is `runnable` meanwhile. When
//!   that last thread was of another process, `process_switch` is added: the caches and
//!   TLB refilled after the other process (threads of one process share the interpreter's
//!   code and data). A thread woken by another thread or by the kernel first spends
//!   `wakeup_cpu` on the core too (the part of `wakeup` that is CPU time; the rest passed
//!   before it became runnable).
//! - Round robin: while the run queue is non-empty, a running thread is preempted when its
//!   `time_slice` ends and goes to the back of the queue (it keeps the GIL if it holds it).
//!   Slice timers are armed only while someone is waiting for a core.
//! - Idle balancing: when a whole core goes idle and nobody is queued, a thread is pulled
//!   over from a core whose SMT siblings are both busy (Linux's `newidle_balance`), paying a
//!   context switch — two processes never share a core while another core idles.
//! - Speed: `frequency[busy cores] × smt_speedup / busy siblings`; running work is re-timed
//!   whenever the occupancy changes. With `speed_spread` and two or more busy cores, their
//!   speeds are spread evenly around that, fastest on the lowest-numbered busy core: on a VM
//!   two busy vCPUs rarely run alike, and two equal halves of a job end with the slower.
//!   With speeds `1 ± d/2`, the later half ends `d/2` late — `E|r1 − r2| / 2` for two
//!   independently drifting speeds, which is what `calibrate` measures `d` as.

use super::{Event, HwId, Phase, Sim, ThreadId};
use crate::time::SimDuration;

impl Sim<'_> {
    /// Makes a thread runnable: onto an idle hardware thread, or into the run queue.
    ///
    /// The lane shows `runnable` only while the thread really waits: in the run queue, or
    /// while a context switch onto its hardware thread is paid. Dispatched at once, it
    /// keeps its previous state until it starts its next one at this same instant (a
    /// zero-length `runnable` segment adds nothing to the totals or the trace).
    // Inlined: its prologue and epilogue were ~20 % of its cost (docs/performance.md §6).
    #[inline(always)]
    pub(super) fn make_runnable(&mut self, t: ThreadId) {
        // Dispatched, its phase becomes `Switching` or `Running`; queued, `Runnable`.
        match self.pick_idle_hw(t) {
            Some(hw) => self.place(t, hw),
            None => self.no_idle_hw(t),
        }
    }

    /// Dispatches a runnable thread onto `hw`, showing it `runnable` while it pays a cost.
    #[inline(always)]
    fn place(&mut self, t: ThreadId, hw: HwId) {
        let cost = self.dispatch_cost(t, hw);
        if !cost.is_zero() {
            self.set_state(t, crate::trace::State::Runnable);
        }
        self.dispatch_paying(t, hw, cost);
    }

    /// A runnable thread found every hardware thread busy: a woken one preempts a thread
    /// that ran all the while it slept, if nobody is queued ([`Sim::preempt_for`]);
    /// otherwise it joins the back of the run queue.
    #[inline(never)]
    fn no_idle_hw(&mut self, t: ThreadId) {
        let woken = matches!(self.threads[t as usize].phase, Phase::Blocked(_));
        if woken && self.runq.is_empty() {
            if let Some(hw) = self.preempt_for(t) {
                self.place(t, hw);
                return;
            }
        }
        self.enqueue(t);
    }

    /// Puts a thread off any hardware thread at the back of the run queue, shown
    /// `runnable`, and arms the time slices of the busy hardware threads.
    fn enqueue(&mut self, t: ThreadId) {
        self.threads[t as usize].phase = Phase::Runnable;
        self.set_state(t, crate::trace::State::Runnable);
        self.runq.push_back(t);
        self.arm_slices();
    }

    /// Wake-up preemption: the longest-running thread that is computing and has run all the
    /// while `t` was off its core leaves its hardware thread for `t` and queues (alone: only
    /// called with the run queue empty). Returns the freed hardware thread.
    fn preempt_for(&mut self, t: ThreadId) -> Option<HwId> {
        let slept = self.threads[t as usize].left_core;
        let mut best: Option<(crate::time::SimTime, HwId)> = None;
        for hw in 0..self.hw.len() as HwId {
            let slot = &self.hw[hw as usize];
            let Some(v) = slot.running else { continue };
            // Only a thread in the middle of CPU work: not one switching in, and not one
            // between two actions at this instant (the waker itself, about to block).
            let th = &self.threads[v as usize];
            if !(th.computing && matches!(th.phase, Phase::Running(_)))
                || slot.slice_start > slept
                || slot.slice_start == self.now
            {
                continue;
            }
            if best.is_none_or(|(s, _)| slot.slice_start < s) {
                best = Some((slot.slice_start, hw));
            }
        }
        let (_, hw) = best?;
        let v = self.hw[hw as usize].running?;
        self.vacate(v);
        self.enqueue(v);
        Some(hw)
    }

    fn pick_idle_hw(&self, t: ThreadId) -> Option<HwId> {
        if self.idle_hw == 0 {
            return None;
        }
        let smt = self.scenario.machine.smt;
        let core_idle = |hw: HwId| self.core_busy[self.hw[hw as usize].core as usize] == 0;
        let idle = |hw: HwId| self.hw[hw as usize].running.is_none();
        let any_idle_core = self.busy_cores < self.scenario.machine.cores;
        if let Some(prev) = self.threads[t as usize].last_hw {
            if idle(prev) && (core_idle(prev) || !any_idle_core) {
                return Some(prev);
            }
        }
        if any_idle_core {
            if let Some(core) = self.core_busy.iter().position(|&b| b == 0) {
                return Some(core as HwId * smt);
            }
        }
        (0..self.hw.len() as HwId).find(|&hw| idle(hw))
    }

    /// Whether putting `t` on `hw` is a context switch. A hardware thread's first thread
    /// pays nothing: the run starts with the main thread already on its CPU, and a new
    /// thread's first switch-in is part of `thread_start`.
    fn switches(&self, t: ThreadId, hw: HwId) -> bool {
        self.hw[hw as usize].last.is_some_and(|last| last != t)
    }

    /// Whether the thread `hw` ran last belongs to another process than `t`.
    fn last_was_other_process(&self, t: ThreadId, hw: HwId) -> bool {
        self.hw[hw as usize].last.is_some_and(|last| {
            self.threads[last as usize].process != self.threads[t as usize].process
        })
    }

    /// What putting `t` on `hw` costs before it runs (shown as runnable): the kernel's share
    /// of a wake-up it is owed, then the context switch if `hw` ran another thread last,
    /// and the refill of its caches if that thread was of another process.
    fn dispatch_cost(&self, t: ThreadId, hw: HwId) -> SimDuration {
        let m = &self.scenario.machine;
        let mut cost = SimDuration::ZERO;
        if self.threads[t as usize].wake_owed {
            cost = m.wakeup_cpu;
        }
        if self.switches(t, hw) {
            cost += m.context_switch;
            if !m.process_switch.is_zero() && self.last_was_other_process(t, hw) {
                cost += m.process_switch;
            }
        }
        cost
    }

    /// Puts a runnable thread on a hardware thread.
    fn dispatch(&mut self, t: ThreadId, hw: HwId) {
        let cost = self.dispatch_cost(t, hw);
        self.dispatch_paying(t, hw, cost);
    }

    /// [`Sim::dispatch`] with its cost already known.
    // Inlined: its prologue and epilogue were ~20 % of its cost (docs/performance.md §6).
    #[inline(always)]
    fn dispatch_paying(&mut self, t: ThreadId, hw: HwId, cost: SimDuration) {
        if self.switches(t, hw) {
            self.out.context_switches += 1;
        }
        let slot = &mut self.hw[hw as usize];
        let core = slot.core as usize;
        debug_assert!(slot.running.is_none(), "two threads on one hardware thread");
        slot.running = Some(t);
        slot.last = Some(t);
        slot.slice_start = self.now;
        slot.slice_epoch = slot.slice_epoch.wrapping_add(1);
        slot.slice_armed = false;
        self.idle_hw -= 1;
        if self.core_busy[core] == 0 {
            self.busy_cores += 1;
        }
        self.core_busy[core] += 1;
        self.occupancy_changed();
        let th = &mut self.threads[t as usize];
        th.last_hw = Some(hw);
        th.wake_owed = false;
        if !cost.is_zero() {
            self.threads[t as usize].phase = Phase::Switching(hw);
            let epoch = self.bump(t);
            self.schedule(cost, Event::SwitchDone { t, epoch });
        } else {
            self.threads[t as usize].phase = Phase::Running(hw);
            self.to_resume.push(t);
        }
        if !self.runq.is_empty() {
            self.arm_slice(hw);
        }
    }

    /// Takes a thread off its hardware thread (it blocks, exits or is preempted) and gives
    /// the hardware thread to the head of the run queue.
    pub(super) fn leave_core(&mut self, t: ThreadId) {
        if let Some(hw) = self.vacate(t) {
            self.refill(hw);
        }
    }

    /// Frees the thread's hardware thread (settling its work) without refilling it.
    // Inlined: its prologue and epilogue were ~20 % of its cost (docs/performance.md §6).
    #[inline(always)]
    fn vacate(&mut self, t: ThreadId) -> Option<HwId> {
        let hw = match self.threads[t as usize].phase {
            Phase::Running(hw) | Phase::Switching(hw) => hw,
            _ => return None,
        };
        if self.threads[t as usize].computing {
            self.settle_work(t);
            self.threads[t as usize].computing = false;
        }
        // Cancels a pending SwitchDone or ComputeDone.
        self.bump(t);
        self.threads[t as usize].left_core = self.now;
        let slot = &mut self.hw[hw as usize];
        let core = slot.core as usize;
        slot.running = None;
        slot.slice_epoch = slot.slice_epoch.wrapping_add(1);
        slot.slice_armed = false;
        self.idle_hw += 1;
        self.core_busy[core] -= 1;
        if self.core_busy[core] == 0 {
            self.busy_cores -= 1;
        }
        self.occupancy_changed();
        Some(hw)
    }

    /// Gives a freed hardware thread to the head of the run queue. With nobody queued and
    /// its whole core now idle, pulls one thread off a core whose SMT siblings are both
    /// busy (Linux's idle balancing: an idle core takes work from a busier one).
    fn refill(&mut self, hw: HwId) {
        if let Some(next) = self.runq.pop_front() {
            self.dispatch(next, hw);
            return;
        }
        let smt = self.scenario.machine.smt;
        if smt < 2 || self.core_busy[self.hw[hw as usize].core as usize] != 0 {
            return;
        }
        let Some(busy_core) = self.core_busy.iter().position(|&b| b >= 2) else {
            return;
        };
        let first = busy_core as HwId * smt;
        let Some(victim) = (first..first + smt)
            .rev()
            .find_map(|h| self.hw[h as usize].running)
        else {
            return;
        };
        self.vacate(victim);
        self.threads[victim as usize].phase = Phase::Runnable;
        self.dispatch(victim, hw);
    }

    /// Arms the slice timer of every busy hardware thread that has none.
    fn arm_slices(&mut self) {
        for hw in 0..self.hw.len() as HwId {
            if self.hw[hw as usize].running.is_some() && !self.hw[hw as usize].slice_armed {
                self.arm_slice(hw);
            }
        }
    }

    /// The slice ends at the next multiple of `time_slice` after the thread was dispatched
    /// (so arming late is the same as having re-armed at every boundary).
    fn arm_slice(&mut self, hw: HwId) {
        let slice = self.scenario.machine.time_slice.as_nanos();
        let slot = &mut self.hw[hw as usize];
        let ran = self.now.0 - slot.slice_start.0;
        let slices = ran.div_ceil(slice).max(1);
        let at = crate::time::SimTime(
            slot.slice_start
                .0
                .saturating_add(slices.saturating_mul(slice)),
        );
        slot.slice_armed = true;
        let epoch = slot.slice_epoch;
        self.events.push(at, Event::SliceExpired { hw, epoch });
    }

    pub(super) fn slice_expired(&mut self, hw: HwId, epoch: u32) {
        let slot = &mut self.hw[hw as usize];
        if slot.slice_epoch != epoch {
            return;
        }
        slot.slice_armed = false;
        if self.runq.is_empty() {
            return; // nobody waits: the thread keeps running; re-armed when someone queues
        }
        let Some(t) = slot.running else { return };
        // Round robin: to the back of the queue; the head takes this hardware thread.
        self.leave_core(t);
        self.enqueue(t);
    }

    /// Brings a computing thread's remaining work up to now at its current rate.
    pub(super) fn settle_work(&mut self, t: ThreadId) {
        let now = self.now;
        let th = &mut self.threads[t as usize];
        // Nothing to settle twice at one instant (and adding the zero would change nothing).
        if !th.computing || th.last_update == now {
            return;
        }
        let done = (now - th.last_update).as_nanos_f64() * th.rate;
        let done = done.min(th.remaining);
        th.remaining -= done;
        th.last_update = now;
        self.out.work_done += done;
    }

    /// Current speed of a thread on `hw`.
    fn rate_on(&self, hw: HwId) -> f64 {
        let m = &self.scenario.machine;
        let core = self.hw[hw as usize].core as usize;
        let rate = m.frequency_at(self.busy_cores) * m.smt_share(self.core_busy[core]);
        if m.speed_spread == 0.0 || self.busy_cores < 2 {
            return rate;
        }
        // The busy cores' speeds, evenly from +spread/2 (the lowest-numbered busy core) to
        // −spread/2 (the highest): their mean stays `frequency[busy]`.
        let rank = self.core_busy.0[..core].iter().filter(|&&b| b > 0).count() as f64;
        let last = (self.busy_cores - 1) as f64;
        rate * (1.0 + m.speed_spread * (0.5 - rank / last))
    }

    /// Notes that a hardware thread was taken or freed: running work may change speed
    /// (never with a fixed rate).
    fn occupancy_changed(&mut self) {
        if self.fixed_rate.is_none() {
            self.rates_dirty = true;
        }
    }

    /// Notes that `t` started computing at this instant (it needs timing).
    ///
    /// With a fixed speed and nobody else left to resume at this instant, `t` is timed at
    /// once: the instant's re-timing would come next and time only it, so the events are
    /// scheduled in the same order (the usual case: one thread takes the GIL and computes).
    pub(super) fn started_work(&mut self, t: ThreadId) {
        if let Some(rate) = self.fixed_rate {
            if self.to_resume.is_empty() && self.started.is_empty() {
                self.time_work(t, rate);
                return;
            }
            self.started.push(t);
        }
        self.rates_dirty = true;
    }

    /// Re-times every computing thread whose speed changed (or that just started).
    pub(super) fn retime_running(&mut self) {
        if let Some(rate) = self.fixed_rate {
            // Only work that just started needs timing, in hardware-thread order as the
            // scan below would time it (equal due times pop in the order scheduled).
            if self.started.len() > 1 {
                let mut started = std::mem::take(&mut self.started);
                started.sort_unstable_by_key(|&t| match self.threads[t as usize].phase {
                    Phase::Running(hw) => hw,
                    _ => HwId::MAX,
                });
                self.started = started;
            }
            // By index: `time_work` does not touch the list.
            for i in 0..self.started.len() {
                let t = self.started[i];
                let th = &self.threads[t as usize];
                if th.computing && th.rate != rate {
                    self.time_work(t, rate);
                }
            }
            self.started.clear();
            return;
        }
        for hw in 0..self.hw.len() as HwId {
            let Some(t) = self.hw[hw as usize].running else {
                continue;
            };
            if !self.threads[t as usize].computing {
                continue;
            }
            let rate = self.rate_on(hw);
            if rate != self.threads[t as usize].rate {
                self.time_work(t, rate);
            }
        }
    }

    /// Schedules the end of `t`'s work at its new speed `rate`. Out of line: inlined into
    /// the instant's settling it cost that function more than the call saves (callgrind).
    #[inline(never)]
    fn time_work(&mut self, t: ThreadId, rate: f64) {
        self.settle_work(t);
        let th = &mut self.threads[t as usize];
        th.rate = rate;
        // At full speed the quotient is the dividend: skip the divide's latency (exact).
        let work = crate::time::SimDuration::from_nanos_f64_ceil(if rate == 1.0 {
            th.remaining
        } else {
            th.remaining / rate
        });
        th.done_at = self.now + work;
        let epoch = self.bump(t);
        self.schedule(work, Event::ComputeDone { t, epoch });
    }
}
