//! How close to the Rust probe could gilsim's rules get without gilsim's layers?
//! (docs/performance.md §20.)
//!
//! The peer workload (N threads, each K × (Exp(3 ms) of Python, Exp(5 ms) of I/O), C cores,
//! one GIL, a 5 ms switch interval, zero switch and wake-up costs) on one flat event loop
//! that follows the engine's rules for that case — CPython's GIL as `src/engine/gil.rs`
//! models it (a release signals the waiter whose timed wait began first, by the phase
//! index; a timeout asks for the drop only a full interval after the last hand-off; the
//! holder drops at once and waits for the switch; one timer event per GIL, skipped while the
//! holder's work ends first), cores handed out FIFO — built from the engine's own parts:
//! `EventQueue`, `PhaseIndex`, `rng::Stream` and `Dist::sample`. What it leaves out is what
//! this workload never uses: roles and executors, lanes and state totals, the trace, other
//! strategies, SMT, frequency, switch costs, transfers. (Its threads start at t = 0 without
//! the executor's submit; the time slice never acts here: the run counts the dispatches that
//! found every core busy, and past the start — N threads at once on C cores, N − C queued,
//! each through in an instant as it finds the GIL held — there are none.)
//!
//! It measures the ceiling of a second engine special to this case — the one
//! docs/performance.md §7 supposed would meet issue 6's probe target — so that the claim is
//! a number. It is not gilsim and is not used by it.
//!
//!     cargo bench --bench flat-loop -- [THREADS] [BURSTS] [CORES] [LAYERS]
//!
//! prints one JSON line: makespan, events, GIL switches, forced switches, drop requests,
//! busy-core dispatches and the wall time of the run.
//!
//! `LAYERS` (0–6, default 0) adds, one after the other, the bookkeeping of gilsim's engine
//! that this workload passes through without needing it, each the way the engine does it,
//! to measure what each costs (callgrind instruction counts): 1 hardware-thread slots (the
//! thread's last hardware thread preferred, slice epochs, per-core occupancy, context
//! switches counted), 2 lanes (a state per thread and its time totals, no trace), 3 the
//! program cursor over the scenario's program (repeat frames) in a boxed per-thread
//! runner, instead of drawing the two steps directly, 4 work as `f64` nanoseconds at a rate,
//! settled and ceiled as `cpu.rs` does, with the work totals, 5 the GIL reached through the
//! thread's process, 6 the event loop's limits (events, simulated time) and its end test on
//! the main thread. What is left between layer 6 and gilsim is the rest: roles, actions and
//! operations, the executor, the instant's re-timing, the trace's branches.

use std::collections::VecDeque;
use std::time::Instant;

use gilsim::engine::phases::PhaseIndex;
use gilsim::engine::queue::EventQueue;
use gilsim::model::program::{Cursor, Dist, Program, Step};
use gilsim::rng::Stream;
use gilsim::time::{SimDuration, SimTime};

const MS: u64 = 1_000_000;
const SWITCH_INTERVAL: u64 = 5 * MS;
const CPU: Dist = Dist::Exp { mean: 3e6 };
const IO: Dist = Dist::Exp { mean: 5e6 };
const NO_HW: u32 = u32::MAX;

#[derive(Clone, Copy)]
enum Event {
    ComputeDone { t: u32, epoch: u32 },
    WaitDone { t: u32, epoch: u32 },
    GilTimer { process: u32 },
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Phase {
    Running,
    Runnable,
    GilWait,
    SwitchWait,
    Io,
    Done,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Op {
    None,
    Compute,
    Wait(u64),
}

/// Lane states (layer 2), as indices into the totals.
#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    Idle,
    Runnable,
    Cpu,
    GilWait,
    Io,
}

/// Layer 3: the boxed per-thread runner holding the program cursor.
struct Runner {
    cursor: Cursor,
}

struct Thread {
    epoch: u32,
    process: u32,
    phase: Phase,
    holds_gil: bool,
    computing: bool,
    wake_owed: bool,
    state: State,
    /// Layer 1: the hardware thread it runs on, the one it ran on last, when it left it.
    hw: u32,
    last_hw: u32,
    left_core: u64,
    since: u64,
    /// Work left: whole ns (layers 0–3) or `f64` ns at `rate` (layer 4 on).
    remaining: u64,
    remaining_f: f64,
    rate: f64,
    last_update: u64,
    done_at: u64,
    op: Op,
    /// Steps left (layers 0–2: 2 per burst, its CPU, then its I/O).
    steps: u32,
    stream: Stream,
    runner: Option<Box<Runner>>,
}

struct Hw {
    core: u32,
    running: Option<u32>,
    last: Option<u32>,
    slice_start: u64,
    slice_epoch: u32,
    slice_armed: bool,
}

struct Gil {
    enabled: bool,
    locked: bool,
    holder: Option<u32>,
    last_holder: Option<u32>,
    last_switch: u64,
    drop_request: bool,
    index: PhaseIndex,
    switch_waiters: Vec<u32>,
    timer_at: Option<u64>,
    dirty: bool,
    known_next: Option<u64>,
}

#[derive(Default)]
struct Counts {
    events: u64,
    gil_switches: u64,
    forced_switches: u64,
    drop_requests: u64,
    queued: u64,
    context_switches: u64,
    totals: [u64; 5],
    work_done: f64,
    work_requested: f64,
}

struct Sim<'p, const LAYERS: u8> {
    now: u64,
    events: EventQueue<Event>,
    threads: Vec<Thread>,
    hw: Vec<Hw>,
    core_busy: Vec<u32>,
    busy_cores: u32,
    cores: u32,
    idle_hw: u32,
    runq: VecDeque<u32>,
    to_resume: Vec<u32>,
    live: u32,
    gils: Vec<Gil>,
    program: &'p Program,
    max_events: u64,
    max_sim_time: u64,
    counts: Counts,
}

impl<'p, const LAYERS: u8> Sim<'p, LAYERS> {
    const HW: bool = LAYERS >= 1;
    const LANES: bool = LAYERS >= 2;
    const CURSOR: bool = LAYERS >= 3;
    const FLOAT: bool = LAYERS >= 4;
    const PROCESS: bool = LAYERS >= 5;
    const LIMITS: bool = LAYERS >= 6;

    fn new(threads: u32, bursts: u32, cores: u32, seed: u64, program: &'p Program) -> Self {
        Sim {
            now: 0,
            events: EventQueue::new(),
            threads: (0..threads)
                .map(|t| Thread {
                    epoch: 0,
                    process: 0,
                    phase: Phase::Runnable,
                    holds_gil: false,
                    computing: false,
                    wake_owed: false,
                    state: State::Idle,
                    hw: NO_HW,
                    last_hw: NO_HW,
                    left_core: 0,
                    since: 0,
                    remaining: 0,
                    remaining_f: 0.0,
                    rate: 0.0,
                    last_update: 0,
                    done_at: 0,
                    op: Op::None,
                    steps: 2 * bursts,
                    stream: Stream::new(seed, u64::from(t)),
                    runner: Self::CURSOR.then(|| {
                        Box::new(Runner {
                            cursor: Cursor::new(Stream::new(seed, u64::from(t))),
                        })
                    }),
                })
                .collect(),
            hw: (0..cores)
                .map(|core| Hw {
                    core,
                    running: None,
                    last: None,
                    slice_start: 0,
                    slice_epoch: 0,
                    slice_armed: false,
                })
                .collect(),
            core_busy: vec![0; cores as usize],
            busy_cores: 0,
            cores,
            idle_hw: cores,
            runq: VecDeque::new(),
            to_resume: Vec::new(),
            live: threads,
            gils: vec![Gil {
                enabled: true,
                locked: false,
                holder: None,
                last_holder: None,
                last_switch: 0,
                drop_request: false,
                index: PhaseIndex::new(SWITCH_INTERVAL),
                switch_waiters: Vec::new(),
                timer_at: None,
                dirty: false,
                known_next: None,
            }],
            program,
            max_events: 500_000_000,
            max_sim_time: 30 * 24 * 3600 * 1_000_000_000,
            counts: Counts::default(),
        }
    }

    fn gil(&mut self, process: u32) -> &mut Gil {
        &mut self.gils[process as usize]
    }

    /// The GIL of `t`'s process.
    fn gil_of(&mut self, t: u32) -> &mut Gil {
        let process = self.process_of(t);
        self.gil(process)
    }

    /// `t`'s process: through the thread from layer 5 on.
    fn process_of(&self, t: u32) -> u32 {
        if Self::PROCESS {
            self.threads[t as usize].process
        } else {
            0
        }
    }

    fn run(&mut self) -> Result<u64, &'static str> {
        for t in 0..self.threads.len() as u32 {
            self.make_runnable(t);
        }
        self.settle_instant();
        self.rearm_if_dirty(0);
        while let Some((time, event)) = self.events.pop() {
            if Self::LIMITS && time.0 > self.max_sim_time {
                return Err("time limit");
            }
            self.counts.events += 1;
            if Self::LIMITS && self.counts.events > self.max_events {
                return Err("event limit");
            }
            self.now = time.0;
            match event {
                Event::ComputeDone { t, epoch } => {
                    if self.threads[t as usize].epoch == epoch {
                        self.settle_work(t);
                        let th = &mut self.threads[t as usize];
                        if Self::FLOAT {
                            self.counts.work_done += th.remaining_f;
                            th.remaining_f = 0.0;
                        }
                        th.remaining = 0;
                        th.computing = false;
                        th.op = Op::None;
                        let holds = th.holds_gil;
                        let process = self.process_of(t);
                        self.to_resume.push(t);
                        if holds {
                            self.arm_gil_timer(process);
                        }
                    }
                }
                Event::WaitDone { t, epoch } => {
                    if self.threads[t as usize].epoch == epoch {
                        self.threads[t as usize].op = Op::None;
                        self.make_runnable(t);
                    }
                }
                Event::GilTimer { process } => self.gil_timer(process),
            }
            self.settle_instant();
            if self.events.peek_time() != Some(time) {
                self.rearm_if_dirty(0);
            }
            let done = if Self::LIMITS {
                self.threads[0].phase == Phase::Done && self.live == 0
            } else {
                self.live == 0
            };
            if done {
                break;
            }
        }
        Ok(self.now)
    }

    fn settle_instant(&mut self) {
        while let Some(t) = self.to_resume.pop() {
            self.resume(t);
        }
    }

    fn arm_gil_timer(&mut self, process: u32) {
        let g = self.gil(process);
        g.known_next = None;
        g.dirty = true;
    }

    fn bump(&mut self, t: u32) -> u32 {
        let th = &mut self.threads[t as usize];
        th.epoch = th.epoch.wrapping_add(1);
        let epoch = th.epoch;
        if th.holds_gil {
            let process = self.process_of(t);
            self.arm_gil_timer(process);
        }
        epoch
    }

    fn set_state(&mut self, t: u32, state: State) {
        if !Self::LANES {
            return;
        }
        let now = self.now;
        let th = &mut self.threads[t as usize];
        if th.state != state {
            self.counts.totals[th.state as usize] += now - th.since;
            th.since = now;
            th.state = state;
        }
    }

    fn settle_work(&mut self, t: u32) {
        let now = self.now;
        let th = &mut self.threads[t as usize];
        if !th.computing || th.last_update == now {
            return;
        }
        if Self::FLOAT {
            let done =
                (SimDuration(now - th.last_update).as_nanos_f64() * th.rate).min(th.remaining_f);
            th.remaining_f -= done;
            self.counts.work_done += done;
        } else {
            th.remaining -= (now - th.last_update).min(th.remaining);
        }
        th.last_update = now;
    }

    // Cores: FIFO, no wake-up preemption or time slices (neither acts here: the dispatches
    // that find every core busy are counted, and happen only at the start).
    fn make_runnable(&mut self, t: u32) {
        if self.idle_hw == 0 {
            self.counts.queued += 1;
            self.threads[t as usize].phase = Phase::Runnable;
            self.set_state(t, State::Runnable);
            self.runq.push_back(t);
            return;
        }
        let hw = if Self::HW { self.pick_idle_hw(t) } else { 0 };
        self.dispatch(t, hw);
    }

    /// `cpu.rs`'s choice for one thread per core: its last hardware thread if idle, else
    /// the first idle core.
    fn pick_idle_hw(&self, t: u32) -> u32 {
        let any_idle_core = self.busy_cores < self.cores;
        let prev = self.threads[t as usize].last_hw;
        if prev != NO_HW
            && self.hw[prev as usize].running.is_none()
            && (self.core_busy[self.hw[prev as usize].core as usize] == 0 || !any_idle_core)
        {
            return prev;
        }
        if any_idle_core {
            if let Some(core) = self.core_busy.iter().position(|&b| b == 0) {
                return core as u32;
            }
        }
        (0..self.hw.len() as u32)
            .find(|&hw| self.hw[hw as usize].running.is_none())
            .expect("an idle hardware thread")
    }

    fn dispatch(&mut self, t: u32, hw: u32) {
        self.idle_hw -= 1;
        if Self::HW {
            let slot = &mut self.hw[hw as usize];
            if slot.last.is_some_and(|last| last != t) {
                self.counts.context_switches += 1;
            }
            let core = slot.core as usize;
            slot.running = Some(t);
            slot.last = Some(t);
            slot.slice_start = self.now;
            slot.slice_epoch = slot.slice_epoch.wrapping_add(1);
            slot.slice_armed = false;
            if self.core_busy[core] == 0 {
                self.busy_cores += 1;
            }
            self.core_busy[core] += 1;
            let th = &mut self.threads[t as usize];
            th.last_hw = hw;
            th.hw = hw;
            th.wake_owed = false;
        }
        self.threads[t as usize].phase = Phase::Running;
        self.to_resume.push(t);
    }

    fn leave_core(&mut self, t: u32) {
        if self.threads[t as usize].phase != Phase::Running {
            return;
        }
        if self.threads[t as usize].computing {
            self.settle_work(t);
            self.threads[t as usize].computing = false;
        }
        self.bump(t);
        self.idle_hw += 1;
        let hw = self.threads[t as usize].hw;
        if Self::HW {
            self.threads[t as usize].left_core = self.now;
            let slot = &mut self.hw[hw as usize];
            let core = slot.core as usize;
            slot.running = None;
            slot.slice_epoch = slot.slice_epoch.wrapping_add(1);
            slot.slice_armed = false;
            self.core_busy[core] -= 1;
            if self.core_busy[core] == 0 {
                self.busy_cores -= 1;
            }
        }
        if let Some(next) = self.runq.pop_front() {
            self.dispatch(next, hw);
        }
    }

    /// The thread's next step: from the cursor (layer 3 on) or drawn directly.
    fn next_step(&mut self, t: u32) -> Option<Step> {
        let th = &mut self.threads[t as usize];
        if Self::CURSOR {
            let runner = th.runner.as_mut().expect("a runner");
            return runner.cursor.next_step(self.program);
        }
        if th.steps == 0 {
            return None;
        }
        th.steps -= 1;
        Some(if th.steps % 2 == 1 {
            Step::Cpu {
                work: CPU.sample(&mut th.stream),
                gil: true,
            }
        } else {
            Step::Io {
                time: IO.sample(&mut th.stream),
                blocking: false,
            }
        })
    }

    fn resume(&mut self, t: u32) {
        loop {
            let th = &self.threads[t as usize];
            if th.phase != Phase::Running {
                return;
            }
            match th.op {
                Op::None => match self.next_step(t) {
                    None => {
                        if self.threads[t as usize].holds_gil {
                            self.unlock(t);
                        }
                        self.leave_core(t);
                        self.threads[t as usize].phase = Phase::Done;
                        self.set_state(t, State::Idle);
                        self.live -= 1;
                        return;
                    }
                    Some(Step::Cpu { work, .. }) => {
                        if work.0 > 0 {
                            let th = &mut self.threads[t as usize];
                            th.op = Op::Compute;
                            th.remaining = work.0;
                            if Self::FLOAT {
                                th.remaining_f = work.as_nanos_f64();
                                self.counts.work_requested += th.remaining_f;
                            }
                        }
                    }
                    Some(Step::Io { time, .. }) => {
                        if time.0 > 0 {
                            self.threads[t as usize].op = Op::Wait(time.0);
                        }
                    }
                    Some(Step::Transfer { .. }) => unreachable!("no transfers here"),
                },
                Op::Compute => {
                    self.continue_compute(t);
                    return;
                }
                Op::Wait(time) => {
                    if self.threads[t as usize].holds_gil && self.release_gil(t) {
                        return;
                    }
                    self.leave_core(t);
                    self.threads[t as usize].phase = Phase::Io;
                    self.set_state(t, State::Io);
                    let epoch = self.bump(t);
                    self.events
                        .push(SimTime(self.now + time), Event::WaitDone { t, epoch });
                    return;
                }
            }
        }
    }

    fn continue_compute(&mut self, t: u32) {
        let needs_gil = !Self::PROCESS || self.gil_of(t).enabled;
        if needs_gil && !self.threads[t as usize].holds_gil {
            if self.gil_of(t).locked {
                self.wait_for_gil(t);
                return;
            }
            self.take_gil(t);
        }
        if needs_gil && self.gil_of(t).drop_request {
            self.counts.forced_switches += 1;
            let waits = self.release_gil(t);
            debug_assert!(waits);
            return;
        }
        self.set_state(t, State::Cpu);
        let now = self.now;
        let th = &mut self.threads[t as usize];
        th.computing = true;
        th.last_update = now;
        let ns = if Self::FLOAT {
            th.rate = 1.0;
            SimDuration::from_nanos_f64_ceil(th.remaining_f).as_nanos()
        } else {
            th.remaining
        };
        th.done_at = now + ns;
        let at = th.done_at;
        let epoch = self.bump(t);
        self.events
            .push(SimTime(at), Event::ComputeDone { t, epoch });
    }

    fn wait_for_gil(&mut self, t: u32) {
        self.leave_core(t);
        let now = self.now;
        self.gil_of(t).index.insert(t, SimTime(now));
        self.threads[t as usize].phase = Phase::GilWait;
        self.set_state(t, State::GilWait);
        let process = self.process_of(t);
        self.arm_gil_timer(process);
    }

    fn take_gil(&mut self, t: u32) {
        let now = self.now;
        let g = self.gil_of(t);
        g.locked = true;
        g.holder = Some(t);
        let handoff = g.last_holder != Some(t);
        if handoff {
            g.last_switch = now;
        }
        g.last_holder = Some(t);
        g.drop_request = false;
        let forced_out = !g.switch_waiters.is_empty();
        if handoff {
            self.counts.gil_switches += 1;
        }
        self.threads[t as usize].holds_gil = true;
        if forced_out {
            let mut woken = std::mem::take(&mut self.gil_of(t).switch_waiters);
            for w in woken.drain(..) {
                self.make_runnable(w);
            }
            self.gil_of(t).switch_waiters = woken;
        }
        let process = self.process_of(t);
        self.arm_gil_timer(process);
    }

    fn unlock(&mut self, t: u32) {
        let now = self.now;
        let g = self.gil_of(t);
        g.locked = false;
        g.holder = None;
        let signalled = g.index.earliest(SimTime(now)).map(|(_, w)| w);
        if let Some(w) = signalled {
            g.index.remove(w);
        }
        self.threads[t as usize].holds_gil = false;
        if let Some(w) = signalled {
            self.make_runnable(w);
        }
        let process = self.process_of(t);
        self.arm_gil_timer(process);
    }

    /// Returns `true` when `t` must wait for the forced switch.
    fn release_gil(&mut self, t: u32) -> bool {
        self.unlock(t);
        let g = self.gil_of(t);
        if g.drop_request && g.last_holder == Some(t) {
            g.drop_request = false;
            g.switch_waiters.push(t);
            self.leave_core(t);
            self.threads[t as usize].phase = Phase::SwitchWait;
            self.set_state(t, State::GilWait);
            let process = self.process_of(t);
            self.arm_gil_timer(process);
            return true;
        }
        false
    }

    fn earliest_useful_timeout(&self, g: &Gil) -> u64 {
        if g.locked {
            self.now.max(g.last_switch + SWITCH_INTERVAL)
        } else {
            self.now
        }
    }

    fn next_gil_timeout(&self, process: u32) -> Option<(u64, u32)> {
        let g = &self.gils[process as usize];
        if g.index.is_empty() || (g.locked && g.drop_request) {
            return None;
        }
        g.index
            .earliest(SimTime(self.earliest_useful_timeout(g)))
            .map(|(at, t)| (at.0, t))
    }

    fn holder_releases_first(&self, g: &Gil) -> bool {
        if !g.locked || g.drop_request {
            return false;
        }
        let Some(h) = g.holder else { return false };
        let th = &self.threads[h as usize];
        th.computing && th.phase == Phase::Running && th.done_at < self.earliest_useful_timeout(g)
    }

    fn rearm_if_dirty(&mut self, process: u32) {
        let g = self.gil(process);
        if !g.dirty {
            return;
        }
        g.dirty = false;
        let known = g.known_next.take();
        let g = &self.gils[process as usize];
        if let Some(pending) = g.timer_at {
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
        let g = self.gil(process);
        if g.timer_at.is_none_or(|pending| at < pending) {
            g.timer_at = Some(at);
            self.events.push(SimTime(at), Event::GilTimer { process });
        }
    }

    fn gil_timer(&mut self, process: u32) {
        let now = self.now;
        let g = self.gil(process);
        if g.timer_at != Some(now) {
            return;
        }
        g.timer_at = None;
        match self.next_gil_timeout(process) {
            Some((at, t)) if at == now => {
                self.gil_timeout(t);
                self.arm_gil_timer(process);
            }
            Some((at, _)) => {
                self.arm_gil_timer(process);
                self.gil(process).known_next = Some(at);
            }
            None => {}
        }
    }

    fn gil_timeout(&mut self, t: u32) {
        let now = self.now;
        let g = self.gil_of(t);
        if !g.locked {
            g.index.remove(t);
            self.bump(t);
            self.make_runnable(t);
            return;
        }
        g.drop_request = true;
        g.index.restart(t, SimTime(now));
        let holder = g.holder;
        self.counts.drop_requests += 1;
        if let Some(h) = holder {
            let th = &self.threads[h as usize];
            if th.phase == Phase::Running && th.computing && th.op == Op::Compute {
                self.settle_work(h);
                let th = &mut self.threads[h as usize];
                th.computing = false;
                let left = if Self::FLOAT {
                    th.remaining_f <= 0.0
                } else {
                    th.remaining == 0
                };
                if left {
                    th.op = Op::None;
                }
                self.bump(h);
                self.to_resume.push(h);
            }
        }
    }
}

/// The peer workload's program, `repeat = K` of one CPU and one I/O step, as gilsim's model
/// builds it from `benches/peer-workload.toml`.
fn program(bursts: u32) -> Program {
    let text = include_str!("peer-workload.toml");
    assert!(
        text.contains("repeat = 200"),
        "benches/peer-workload.toml no longer says `repeat = 200`: the burst count would not apply"
    );
    let text = text.replace("repeat = 200", &format!("repeat = {bursts}"));
    let scenario = gilsim::model::load("peer-workload.toml", &text, None)
        .expect("the bundled peer workload loads");
    scenario.kinds[0].program.clone()
}

fn simulate<const LAYERS: u8>(threads: u32, bursts: u32, cores: u32) {
    let program = program(bursts);
    let start = Instant::now();
    let mut sim = Sim::<LAYERS>::new(threads, bursts, cores, 1, &program);
    let makespan = sim.run().expect("within the limits");
    let wall = start.elapsed().as_secs_f64();
    let c = &sim.counts;
    println!(
        "{{\"threads\": {threads}, \"bursts\": {bursts}, \"cores\": {cores}, \"layers\": {LAYERS}, \
         \"makespan_s\": {:.6}, \"events\": {}, \"gil_switches\": {}, \
         \"forced_switches\": {}, \"drop_requests\": {}, \"queued\": {}, \"wall_s\": {wall:.6}}}",
        makespan as f64 / 1e9,
        c.events,
        c.gil_switches,
        c.forced_switches,
        c.drop_requests,
        c.queued,
    );
    // Keep the layers' state observable, so that their bookkeeping is not optimised away.
    std::hint::black_box((c.context_switches, c.totals, c.work_done, c.work_requested));
    std::hint::black_box((&sim.threads, &sim.hw));
}

fn main() {
    // `cargo bench` passes `--bench`; the numbers are the other arguments.
    let args: Vec<u32> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .map(|a| {
            a.parse().unwrap_or_else(|_| {
                eprintln!(
                    "usage: flat-loop [THREADS] [BURSTS] [CORES] [LAYERS]: {a:?} is not a number"
                );
                std::process::exit(2)
            })
        })
        .collect();
    let threads = args.first().copied().unwrap_or(1024);
    let bursts = args.get(1).copied().unwrap_or(500);
    let cores = args.get(2).copied().unwrap_or(4);
    match args.get(3).copied().unwrap_or(0) {
        0 => simulate::<0>(threads, bursts, cores),
        1 => simulate::<1>(threads, bursts, cores),
        2 => simulate::<2>(threads, bursts, cores),
        3 => simulate::<3>(threads, bursts, cores),
        4 => simulate::<4>(threads, bursts, cores),
        5 => simulate::<5>(threads, bursts, cores),
        6 => simulate::<6>(threads, bursts, cores),
        n => {
            eprintln!("LAYERS is 0 to 6, not {n}");
            std::process::exit(2);
        }
    }
}
