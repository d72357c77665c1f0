//! CPython's GIL, one per process: the protocol of Python/ceval_gil.c (CPython ≥ 3.2,
//! `FORCE_SWITCHING` on).
//!
//! - `take_gil`: if the GIL is free the thread takes it — even when others are queued
//!   (there is no fairness: this barging is what makes the convoy effect). Otherwise it
//!   waits on `gil->cond` with a timeout of `switch_interval`. When a wait times out and
//!   `switch_number` has not changed since the wait began (nobody took the GIL in the
//!   interval) and the GIL is still locked, it sets `gil_drop_request`; then it waits
//!   another interval. A waiter whose timeout finds the GIL free takes it.
//! - Taking the GIL resets the drop request and signals `switch_cond`; a take by another
//!   thread than `last_holder` records it and increments `switch_number`. A thread that
//!   drops the GIL and takes it straight back (a blocking call that did not block, a
//!   `select()` that found data) is no switch: its waiters' intervals go on, and after a
//!   full one they ask for the drop.
//! - The holder, running Python code, sees the drop request at once (`eval_breaker`) and
//!   drops the GIL.
//! - `drop_gil`: unlocks and signals `gil->cond`, waking one waiter, which pays `wakeup`
//!   and must get a core before it can take the GIL. The one woken is the waiter longest
//!   in its *current* timed wait — every timeout re-enters `COND_TIMED_WAIT`, so a waiter
//!   whose timeout has just asked for this drop is the newest — which, with equal periods,
//!   is the waiter whose next timeout comes first (the [`PhaseIndex`] answers it). That is
//!   a modelling choice, not CPython's exact order: the condition variable's wake order is
//!   the OS's, and measured here the requester often catches the signal itself (it is
//!   still awake). It was chosen for what it produces with the model's deterministic
//!   timing: CPU-bound threads take turns, as they do in CPython 3.11 here (every one of
//!   three or four spinning threads runs in every 50 ms). Waking the longest in `take_gil`
//!   — usually the requester, made to pay a wake-up — let the next waiter's timeout take
//!   the free GIL first, interval after interval: one of three threads went seconds
//!   without running. (docs/decisions.md has both sides' measurements.) If a drop request
//!   is pending and nobody has taken the GIL since, the releasing thread resets the request
//!   and waits on `switch_cond` until another thread has taken the GIL (forced switching):
//!   it cannot take the GIL straight back. This also applies to a release for I/O.
//! - A thread that exits drops the GIL without that wait (`tstate == NULL`).
//! - A holder preempted by the OS keeps the GIL.
//!
//! A timed-out waiter is woken by the kernel's timer, which costs the same `wakeup` as a
//! signal: it acts (sets the request, or takes a free GIL) `switch_interval + wakeup` after
//! its wait began, and its next wait starts then. Without that cost a timed-out waiter
//! would always beat the signalled one (which pays `wakeup`) to a released GIL.
//! Simplification: the timed-out waiter acts without needing a core (in CPython it must be
//! scheduled first); this only matters when runnable threads outnumber hardware threads.
//!
//! **One timer per GIL, not per waiter.** A waiter's timeouts fall on its own grid
//! (`since + k·(switch_interval + wakeup)`), and a timeout does something only if the GIL
//! is free (the waiter takes it) or it is held, no drop request is pending and it has not
//! changed hands since the waiter's previous timeout — i.e. the timeout is at least one
//! period after the last take. The GIL keeps its waiters in a [`PhaseIndex`] and schedules
//! one event at the first timeout that can do something; every change of the GIL's state
//! (a take, a release, a new waiter, a request) re-arms it. This is the same protocol
//! without the re-arming timeouts that change nothing (3·10⁸ events for 1024 threads).
//! Ties at one nanosecond: a timeout at the same instant as a take or a release acts
//! after it. No timer is armed at all while the holder computes and its work ends
//! strictly before the first timeout that could act: its release re-arms it (and so does
//! anything that changes its pending work).

use crate::time::{SimDuration, SimTime};
use crate::trace::{GilEventKind, State};

use super::phases::PhaseIndex;
use super::{Block, Event, Op, Phase, Sim, ThreadId};

/// One process's GIL.
pub(super) struct Gil {
    /// `false` in a free-threaded build: nobody ever waits.
    pub enabled: bool,
    pub locked: bool,
    pub holder: Option<ThreadId>,
    pub last_holder: Option<ThreadId>,
    pub switch_number: u64,
    pub drop_request: bool,
    /// The threads in the timed wait, by the phase of their timeouts.
    pub index: PhaseIndex,
    /// When the GIL last changed hands (`switch_number` last changed).
    pub last_switch: SimTime,
    /// The pending timeout event, if any (a popped event at another time is stale).
    pub timer_at: Option<SimTime>,
    /// The state changed this instant: re-arm the timer once the instant is settled.
    pub dirty: bool,
    /// The next useful timeout as the timer event found it, while nothing has changed
    /// since (re-arming then needs no second look at the waiters).
    pub known_next: Option<SimTime>,
    /// Threads in the forced-switch wait.
    pub switch_waiters: Vec<ThreadId>,
    pub taken_at: SimTime,
    pub held_total: SimDuration,
}

impl Gil {
    /// A free GIL whose waiters time out every `period` (switch interval + wake-up).
    pub fn new(enabled: bool, period: SimDuration) -> Self {
        Gil {
            enabled,
            locked: false,
            holder: None,
            last_holder: None,
            switch_number: 0,
            drop_request: false,
            index: PhaseIndex::new(period.as_nanos()),
            last_switch: SimTime::ZERO,
            timer_at: None,
            dirty: false,
            known_next: None,
            switch_waiters: Vec::new(),
            taken_at: SimTime::ZERO,
            held_total: SimDuration::ZERO,
        }
    }
}

impl Sim<'_> {
    fn gil_of(&mut self, t: ThreadId) -> &mut Gil {
        let p = self.threads[t as usize].process as usize;
        &mut self.processes[p].gil
    }

    /// Takes the free GIL.
    pub(super) fn take_gil(&mut self, t: ThreadId) {
        let now = self.now;
        let g = self.gil_of(t);
        debug_assert!(!g.locked, "two GIL holders in one process");
        g.locked = true;
        g.holder = Some(t);
        let handoff = g.last_holder != Some(t);
        if handoff {
            // `if (tstate != gil->last_holder) { ...; ++gil->switch_number; }` (take_gil).
            g.switch_number += 1;
            g.last_switch = now;
        }
        g.last_holder = Some(t);
        g.drop_request = false;
        g.taken_at = now;
        let forced_out = !g.switch_waiters.is_empty();
        if handoff {
            self.out.gil_switches += 1;
        }
        self.threads[t as usize].holds_gil = true;
        let process = self.threads[t as usize].process;
        self.gil_event(process, t, GilEventKind::Take);
        if forced_out {
            self.signal_switch(t);
        }
        self.arm_gil_timer(process);
    }

    /// COND_SIGNAL(switch_cond) after `t` took the GIL: the threads that were forced out may
    /// continue.
    fn signal_switch(&mut self, t: ThreadId) {
        let mut woken = std::mem::take(&mut self.gil_of(t).switch_waiters);
        for w in woken.drain(..) {
            self.wake_after_signal(w, Block::SwitchWoken);
        }
        self.gil_of(t).switch_waiters = woken;
    }

    /// Releases the GIL held by a running thread. Returns `true` when the thread must now
    /// wait for the forced switch (it has left its core and is blocked).
    pub(super) fn release_gil(&mut self, t: ThreadId) -> bool {
        self.unlock(t);
        let g = self.gil_of(t);
        if g.drop_request && g.last_holder == Some(t) {
            // FORCE_SWITCHING in drop_gil: wait until another thread has taken the GIL.
            g.drop_request = false;
            g.switch_waiters.push(t);
            self.leave_core(t);
            self.threads[t as usize].phase = Phase::Blocked(Block::SwitchWait);
            self.set_state(t, State::GilWait);
            let process = self.threads[t as usize].process;
            self.arm_gil_timer(process);
            return true;
        }
        false
    }

    /// Drops the GIL because a waiter asked for it.
    pub(super) fn forced_drop(&mut self, t: ThreadId) {
        self.out.forced_switches += 1;
        let process = self.threads[t as usize].process;
        self.gil_event(process, t, GilEventKind::ForcedDrop);
        let waits = self.release_gil(t);
        debug_assert!(waits, "a forced drop always waits for the switch");
    }

    /// Releases the GIL of an exiting thread (no forced-switch wait).
    pub(super) fn release_gil_on_exit(&mut self, t: ThreadId) {
        self.unlock(t);
    }

    // Inlined: its prologue and epilogue were ~20 % of its cost (docs/performance.md §6).
    #[inline(always)]
    fn unlock(&mut self, t: ThreadId) {
        let now = self.now;
        let g = self.gil_of(t);
        debug_assert_eq!(g.holder, Some(t));
        g.locked = false;
        g.holder = None;
        g.held_total += now - g.taken_at;
        // The waiter longest in its current timed wait: the one whose next timeout is
        // first (module doc).
        let signalled = g.index.earliest(now).map(|(_, w)| w);
        if let Some(w) = signalled {
            g.index.remove(w);
        }
        self.threads[t as usize].holds_gil = false;
        let process = self.threads[t as usize].process;
        self.gil_event(process, t, GilEventKind::Release);
        // COND_SIGNAL(gil->cond): one waiter wakes and will try again.
        if let Some(w) = signalled {
            self.wake_after_signal(w, Block::GilSignaled);
        }
        self.arm_gil_timer(process);
    }

    /// A thread blocked on a condition variable (or a lock) was signalled: runnable after
    /// `wakeup`, blocked as `waking` until then.
    pub(super) fn wake_after_signal(&mut self, w: ThreadId, waking: Block) {
        let delay = self.owe_wakeup(w);
        self.wake_after(w, delay, waking);
    }

    /// A wake-up of `t` begins: returns the part spent off the cores (latency); the rest,
    /// `wakeup_cpu`, `t` spends on a core when it is next dispatched.
    pub(super) fn owe_wakeup(&mut self, t: ThreadId) -> SimDuration {
        let m = &self.scenario.machine;
        if m.wakeup_cpu.is_zero() {
            return m.wakeup;
        }
        self.threads[t as usize].wake_owed = true;
        SimDuration(m.wakeup.0.saturating_sub(m.wakeup_cpu.0))
    }

    /// A blocked thread becomes runnable after `delay`, blocked as `waking` until then.
    pub(super) fn wake_after(&mut self, w: ThreadId, delay: SimDuration, waking: Block) {
        if delay.is_zero() {
            self.make_runnable(w);
        } else {
            self.threads[w as usize].phase = Phase::Blocked(waking);
            let epoch = self.bump(w);
            self.schedule(delay, Event::Wake { t: w, epoch });
        }
    }

    /// Starts `take_gil`'s timed wait: off the core, timeouts every switch interval.
    pub(super) fn wait_for_gil(&mut self, t: ThreadId) {
        // Leaving the core cancels its pending event (the thread is running Python code).
        debug_assert!(matches!(self.threads[t as usize].phase, Phase::Running(_)));
        self.leave_core(t);
        let now = self.now;
        let g = self.gil_of(t);
        g.index.insert(t, now);
        self.threads[t as usize].phase = Phase::Blocked(Block::Gil);
        self.set_state(t, State::GilWait);
        let process = self.threads[t as usize].process;
        self.arm_gil_timer(process);
    }

    /// From the start of a timed wait to the waiter acting on its timeout.
    fn timed_wait(&self) -> SimDuration {
        self.scenario.python.switch_interval + self.scenario.machine.wakeup
    }

    /// The first waiter timeout from now on that does something, and whose it is: any
    /// timeout while the GIL is free; while it is held and no request is pending, the
    /// first one a full period after the last take (earlier ones see a switch).
    fn next_gil_timeout(&self, process: u32) -> Option<(SimTime, ThreadId)> {
        let g = &self.processes[process as usize].gil;
        if g.index.is_empty() || (g.locked && g.drop_request) {
            return None;
        }
        g.index.earliest(self.earliest_useful_timeout(g))
    }

    /// No timeout before this can act: now, and while the GIL is held, a full period after
    /// the last take (earlier timeouts see that switch).
    fn earliest_useful_timeout(&self, g: &Gil) -> SimTime {
        if g.locked {
            self.now.max(g.last_switch + self.timed_wait())
        } else {
            self.now
        }
    }

    /// Notes that the GIL's timer must be re-armed before time moves on: a GIL released
    /// and taken again within one instant needs no look at its waiters.
    pub(super) fn arm_gil_timer(&mut self, process: u32) {
        let g = &mut self.processes[process as usize].gil;
        g.known_next = None;
        if !g.dirty {
            g.dirty = true;
            self.gils_dirty.push(process);
        }
    }

    /// Re-arms the timers of the GILs whose state changed at this instant.
    // Inlined into the event loop (once per instant): −3.5 M instructions (callgrind).
    #[inline(always)]
    pub(super) fn settle_gil_timers(&mut self) {
        while let Some(process) = self.gils_dirty.pop() {
            self.processes[process as usize].gil.dirty = false;
            self.rearm_gil_timer(process);
        }
    }

    /// Schedules the GIL's timeout event if the next useful timeout is earlier than the
    /// one pending (a later one is found when the pending event fires and looks again).
    // Inlined: its prologue and epilogue were ~20 % of its cost (docs/performance.md §6).
    #[inline(always)]
    fn rearm_gil_timer(&mut self, process: u32) {
        let known = self.processes[process as usize].gil.known_next.take();
        let g = &self.processes[process as usize].gil;
        if let Some(pending) = g.timer_at {
            // A pending event no later than the earliest useful timeout will look again
            // when it fires.
            if pending <= self.earliest_useful_timeout(g) {
                return;
            }
        }
        if self.holder_releases_first(g) {
            return;
        }
        let Some(at) = known.or_else(|| self.next_gil_timeout(process).map(|(at, _)| at)) else {
            return;
        };
        let g = &mut self.processes[process as usize].gil;
        if g.timer_at.is_none_or(|pending| at < pending) {
            g.timer_at = Some(at);
            self.events.push(at, Event::GilTimer { process });
        }
    }

    /// True when the holder is computing and its work ends strictly before any timeout
    /// could act: it will release or re-arm by then, so no timer is needed yet. (A timer
    /// would fire and find that the GIL changed hands; with a thousand waiters most
    /// timers did just that.) Whatever changes the holder's pending event re-arms the
    /// timer: [`Sim::bump`], and the `ComputeDone` itself.
    fn holder_releases_first(&self, g: &Gil) -> bool {
        if !g.locked || g.drop_request {
            return false;
        }
        let Some(h) = g.holder else { return false };
        let th = &self.threads[h as usize];
        th.computing
            && matches!(th.phase, Phase::Running(_))
            && th.done_at < self.earliest_useful_timeout(g)
    }

    /// The GIL's timeout event: the waiter whose timeout it is acts on it.
    pub(super) fn gil_timer(&mut self, process: u32) {
        let now = self.now;
        let g = &mut self.processes[process as usize].gil;
        if g.timer_at != Some(now) {
            return; // superseded by an earlier one
        }
        g.timer_at = None;
        match self.next_gil_timeout(process) {
            Some((at, t)) if at == now => {
                self.gil_timeout(t);
                self.arm_gil_timer(process);
            }
            // Nothing to do yet: re-armed at the end of the instant with this answer,
            // unless the GIL's state changes first.
            Some((at, _)) => {
                self.arm_gil_timer(process);
                self.processes[process as usize].gil.known_next = Some(at);
            }
            None => {}
        }
    }

    /// Waiter `t`'s interval ran out (and it has woken up), and it has something to do.
    fn gil_timeout(&mut self, t: ThreadId) {
        let now = self.now;
        let g = self.gil_of(t);
        if !g.locked {
            // The loop condition `while (locked)` fails: the waiter runs and takes it.
            g.index.remove(t);
            self.bump(t);
            self.make_runnable(t);
            return;
        }
        // Held, and not taken since this waiter's previous timeout: ask for it, and wait
        // again — from now on (same grid), so that a release at this instant signals an
        // older wait than this one.
        g.drop_request = true;
        g.index.restart(t, now);
        let holder = g.holder;
        self.out.drop_requests += 1;
        let process = self.threads[t as usize].process;
        self.gil_event(process, t, GilEventKind::DropRequest);
        if let Some(h) = holder {
            self.notify_holder(h);
        }
    }

    /// The holder sees the drop request at once if it is running Python code; otherwise
    /// (preempted, switching onto a core) it sees it when it next runs.
    fn notify_holder(&mut self, h: ThreadId) {
        let th = &self.threads[h as usize];
        let running_python = matches!(th.phase, Phase::Running(_))
            && th.computing
            && matches!(th.op, Op::Compute { gil: true, .. });
        if running_python {
            self.settle_work(h);
            let th = &mut self.threads[h as usize];
            th.computing = false;
            if th.remaining <= 0.0 {
                th.op = Op::None;
            }
            self.bump(h);
            self.to_resume.push(h);
        }
    }
}
