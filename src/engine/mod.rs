//! The discrete-event engine: software threads on hardware threads, CPython's GIL, and the
//! four strategies (DESIGN §3).
//!
//! # Shape
//!
//! A run is a set of simulated *threads* (each a lane of the trace) in one or more
//! *processes* (each with its own GIL), on `cores × smt` *hardware threads*. Every thread runs
//! a [`roles::Role`] — the main thread of a strategy, a pool worker, a Pool handler thread —
//! that hands out one [`Action`] at a time: compute, wait, take from a queue, put into one.
//! The engine carries each action out under the OS and GIL rules:
//!
//! - a thread executes only on a hardware thread: after any wait it becomes *runnable* and
//!   queues for one (FIFO run queue), paying `context_switch` when the hardware thread last
//!   ran someone else; when runnable threads outnumber hardware threads, running ones are
//!   preempted every `time_slice` ([`cpu`]);
//! - CPU work progresses at `frequency[busy cores] × SMT share` and is re-timed whenever
//!   the occupancy changes;
//! - Python work needs the process's GIL, with CPython's timed waits, drop request and
//!   forced switching ([`gil`]); waits, blocking queue gets and `gil = false` work release it;
//! - the bytes of `net` and `disk` steps go through their disk or link at its bandwidth,
//!   shared with every transfer in progress on it ([`channels`]); their latencies overlap.
//!
//! # Invariants
//!
//! Time never goes back; at most one thread per hardware thread; at most one GIL holder per
//! process; CPU work handed out equals work done. The engine allocates nothing per event in
//! steady state (queues and vectors keep their capacity), and never iterates a hash map:
//! threads, processes, hardware threads and queues are `Vec`s indexed by id.
//!
//! The engine never writes files and knows nothing of reports: it returns a [`RunTrace`].

mod channels;
mod cpu;
mod gil;
pub mod phases;
pub mod queue;
mod roles;

use std::collections::VecDeque;
use std::fmt;

use crate::model::{Channel, Experiment, Scenario, Transfer as Xfer};
use crate::spill::Records;
use crate::time::{SimDuration, SimTime};
use crate::trace::{GilEvent, GilEventKind, Lane, RunTrace, Segment, State};

use gil::Gil;
use queue::EventQueue;
use roles::Role;

/// Bounds on one simulated run.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Stop after this many events.
    pub max_events: u64,
    /// Stop when simulated time passes this.
    pub max_sim_time: SimTime,
    /// Keep segments and GIL events (for trace.csv and charts).
    pub trace: bool,
    /// Segments (and GIL events) kept in memory before the trace moves to a temporary
    /// file ([`crate::spill`]).
    pub trace_in_memory: usize,
}

impl Default for Limits {
    /// 500 million events (a few tens of seconds of engine time) and 30 simulated days.
    fn default() -> Self {
        Limits {
            max_events: 500_000_000,
            max_sim_time: SimTime(30 * 24 * 3600 * crate::time::NS_PER_S),
            trace: true,
            trace_in_memory: crate::spill::DEFAULT_IN_MEMORY,
        }
    }
}

impl Limits {
    /// Small limits for inputs nobody has looked at (the fuzz target, the mutation and
    /// corpus tests): 20,000 events and one simulated hour, trace kept.
    pub fn for_untrusted_input() -> Self {
        Limits {
            max_events: 20_000,
            max_sim_time: SimTime(3600 * crate::time::NS_PER_S),
            trace: true,
            trace_in_memory: crate::spill::DEFAULT_IN_MEMORY,
        }
    }
}

/// Why a run did not finish.
#[derive(Debug, Clone, PartialEq)]
pub enum SimError {
    /// Nothing left to happen but the main thread has not finished: each thread's state.
    Deadlock {
        /// When it stopped.
        time: SimTime,
        /// One line per thread.
        threads: Vec<String>,
    },
    /// `--max-events` reached.
    EventLimit {
        /// The limit.
        limit: u64,
        /// Simulated time reached.
        time: SimTime,
    },
    /// `--max-sim-time` passed.
    TimeLimit {
        /// The limit.
        limit: SimTime,
    },
}

impl fmt::Display for SimError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SimError::Deadlock { time, threads } => {
                writeln!(
                    f,
                    "the simulation cannot finish: at {time} nothing is left to happen, but the \
                     main thread has not finished. Thread states:"
                )?;
                for t in threads {
                    writeln!(f, "  {t}")?;
                }
                Ok(())
            }
            SimError::EventLimit { limit, time } => write!(
                f,
                "stopped after {limit} events at simulated time {time} (--max-events); \
                 raise the limit or shrink the scenario (fewer tasks or repeats)"
            ),
            SimError::TimeLimit { limit } => write!(
                f,
                "simulated time passed {limit} (--max-sim-time); raise the limit or shrink the \
                 scenario"
            ),
        }
    }
}

impl std::error::Error for SimError {}

/// Simulates one experiment with `workers` workers.
pub fn simulate(
    scenario: &Scenario,
    experiment: &Experiment,
    workers: u32,
    limits: &Limits,
) -> Result<RunTrace, SimError> {
    Sim::new(scenario, experiment, workers, limits).run()
}

type ThreadId = u32;
type HwId = u32;
type QueueId = u32;
type LockId = u32;

/// Something scheduled to happen.
#[derive(Clone, Copy, Debug)]
enum Event {
    /// A thread's CPU work finished (if its epoch still matches).
    ComputeDone { t: ThreadId, epoch: u32 },
    /// A context switch onto a hardware thread finished.
    SwitchDone { t: ThreadId, epoch: u32 },
    /// A wait (I/O) finished.
    WaitDone { t: ThreadId, epoch: u32 },
    /// A thread woken by another (GIL hand-off, queue put) became runnable.
    Wake { t: ThreadId, epoch: u32 },
    /// The first GIL waiter timeout that does something (one pending per process).
    GilTimer { process: u32 },
    /// A hardware thread's time slice ended.
    SliceExpired { hw: HwId, epoch: u32 },
    /// A message arrives in a queue (after pipe latency, or an awaited I/O completes).
    Deliver { q: QueueId, item: Item },
    /// A transfer's latency is over: its bytes join its channel ([`channels`]).
    FlowStart { flow: u32 },
    /// The first transfer in a channel is through (if the channel's epoch still matches).
    ChannelDone { channel: u8, epoch: u32 },
}

/// What travels through the strategies' queues.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Item {
    /// A task instance (ThreadPoolExecutor work item), by index: a job has at most
    /// [`crate::model::MAX_TASKS`] tasks, so 32 bits hold it — and an [`Event`] carrying an
    /// item is 12 bytes rather than 24 (docs/performance.md §6).
    Task(u32),
    /// A Pool chunk.
    Chunk(u32),
    /// A coroutine ready to resume.
    Coro(u32),
    /// `Pool.map` was called: the task handler starts sending chunks.
    Map,
    /// All results are in / all workers exited.
    Done,
    /// Shut down (the `None` put into work queues).
    Sentinel,
}

/// One action of a role.
#[derive(Clone, Copy, Debug)]
enum Action {
    /// CPU work of `work` ns on one idle core.
    Compute {
        work: SimDuration,
        gil: bool,
        state: State,
    },
    /// Off-core wait.
    Wait { time: SimDuration, state: State },
    /// A blocking transfer over a shared disk or link: off core until it is through.
    Transfer(TransferRef),
    /// An awaited transfer: coroutine `coro` is put into the event loop's ready queue when
    /// it is through; the loop thread goes on.
    AwaitTransfer { xfer: TransferRef, coro: u32 },
    /// Take from a queue, blocking while it is empty. `wake`: pay `wakeup` when woken by a
    /// put (a condition variable). A select() woken by I/O readiness wakes the same way.
    Get {
        q: QueueId,
        wake: bool,
        state: State,
    },
    /// Put into a queue now.
    Put { q: QueueId, item: Item },
    /// Put into a queue after a delay (pipe latency, an awaited I/O).
    Deliver {
        q: QueueId,
        item: Item,
        after: SimDuration,
    },
    /// Send `bytes` through the pipe of queue `q` (a `multiprocessing` connection), see
    /// [`PIPE_CAPACITY`]. `blocked`: the lane's state while the write waits on a full pipe
    /// for a reader (see [`Sim::send`]).
    Send {
        q: QueueId,
        item: Item,
        bytes: u64,
        blocked: State,
    },
    /// Acquire a `threading.Lock` (blocking): taken at once if free, keeping the GIL;
    /// otherwise the thread releases the GIL and blocks until it gets the lock.
    Acquire(LockId),
    /// Release a lock held by this thread; its longest waiter is woken and tries again.
    Release(LockId),
    /// Start a thread in this process, running the role, named `name-number`.
    StartThread(roles::Spawn, &'static str, u32),
    /// Start a process (with its own GIL) whose main thread runs the role.
    StartProcess(roles::Spawn, &'static str, u32),
    /// The rest of a pipe end's share of a transfer after its copy: `wait` off the core
    /// (for the other end), then [`Action::PipeWritten`] or [`Action::PipeRead`] of queue
    /// `q` (engine-internal, see [`PIPE_CAPACITY`]).
    PipeRest {
        q: QueueId,
        wait: SimDuration,
        writer: bool,
    },
    /// The writer of queue `q`'s message in the pipe has copied it in (engine-internal:
    /// what a writer does after its copy).
    PipeWritten(QueueId),
    /// The reader of queue `q`'s message in the pipe has copied it out (engine-internal).
    PipeRead(QueueId),
    /// End this thread.
    Exit,
}

/// A transfer step of a program, by where it is written down: an [`Action`] and an [`Op`]
/// stay as small as they are without one (the threads' state is laid out by the cache line).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct TransferRef {
    prog: roles::Prog,
    index: u32,
}

/// The action a thread is in the middle of.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Op {
    None,
    Compute {
        gil: bool,
        state: State,
    },
    Wait {
        time: SimDuration,
        state: State,
    },
    Transfer(TransferRef),
    Get {
        q: QueueId,
        wake: bool,
        state: State,
    },
    Acquire(LockId),
    Send {
        q: QueueId,
        item: Item,
        bytes: u64,
        blocked: State,
    },
}

/// Linux's pipe capacity (pipe(7): 16 pages, 65,536 bytes). A message up to this size is
/// copied into the pipe and the writer goes on (it arrives `ipc_latency` later); a larger
/// one goes through only as fast as a reader takes it out: the writer blocks until a
/// reader is at the other end, then both copy it (`bytes / ipc`), the reader starting
/// `ipc_latency` later. One message at a time per pipe (Pool's queues hold a lock around
/// each send and receive).
///
/// The copies are CPU work on the copying thread's core, GIL released (`write()` and
/// `read()` copy between the process and the kernel's pipe buffer on the calling CPU):
/// a large transfer takes two cores' time, not none. How much: each end spends
/// `bytes / ipc_cpu` on its core, then waits off it for the rest of the transfer's
/// `bytes / ipc` (64 KiB at a time, each end waits for the other to wake); a small message's
/// write is all copy, `bytes / ipc_cpu`. Without `ipc_cpu` the whole transfer is copying.
pub const PIPE_CAPACITY: u64 = 65_536;

/// Why a blocked thread is blocked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Block {
    Io,
    /// In `take_gil`'s timed wait (its timeouts are the GIL's [`phases::PhaseIndex`]).
    Gil,
    /// Signalled by a GIL release; waking up.
    GilSignaled,
    /// Forced switch: waiting until another thread takes the GIL.
    SwitchWait,
    SwitchWoken,
    Queue(QueueId),
    QueueWoken,
    /// In a blocking lock acquire (the GIL released).
    Lock(LockId),
    /// The lock was released: waking up to try again.
    LockWoken,
    /// Writing a message larger than the pipe, waiting for a reader.
    Send(QueueId),
    /// Reading a message larger than the pipe: waiting for its first bytes
    /// (`ipc_latency`), or, its own copy done, for the writer's last write.
    Receiving,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Runnable,
    /// On a hardware thread, paying the context switch.
    Switching(HwId),
    /// On a hardware thread.
    Running(HwId),
    Blocked(Block),
    Done,
}

/// One simulated thread. `repr(C)`, cache-line aligned, fields ordered by use: the first
/// two lines hold everything a dispatch, a GIL hand-off or the end of a piece of work
/// touches; the third what only pipes, queues and a written trace need. A thousand threads'
/// state does not stay in L1 between two visits to one of them (docs/performance.md).
#[repr(C, align(64))]
struct Thread {
    epoch: u32,
    process: u32,
    phase: Phase,
    holds_gil: bool,
    /// Woken by another thread or the kernel: its next dispatch first spends
    /// `machine.wakeup_cpu` on the core.
    wake_owed: bool,
    /// CPU work in progress: remaining ns of one idle core, current rate, last settled.
    computing: bool,
    state: State,
    last_hw: Option<HwId>,
    /// When it last left a hardware thread.
    left_core: SimTime,
    since: SimTime,
    remaining: f64,
    rate: f64,
    last_update: SimTime,
    /// When the pending `ComputeDone` is due (while computing on a core).
    done_at: SimTime,
    op: Op,
    role: Role,
    then: Option<Action>,
    inbox: Option<Item>,
    /// The last closed segment, held back to merge with a following one of the same state.
    pending: Option<Segment>,
}

/// The threads, processes, hardware threads or cores of a run, indexed by their ids: a
/// vector that never shrinks.
///
/// Indexing skips the bounds check in release builds. Sound because every id is made from
/// the vector itself and nothing is ever removed: thread and process ids only by
/// [`IdVec::push`] (it returns the new element's index); hardware threads and cores are
/// fixed when the run starts, and their ids come from `0..len` or as `core × smt` for a
/// core below `cores` (the hardware threads number `cores × smt`). Every id the engine
/// holds — in events, queues, roles, the run queue, a thread's `process` or phase — is a
/// copy of one of those. Debug builds (the test suite) still check. The engine indexes a
/// thread ~60 times per simulated CPU burst, and the checks were 10 % of its instructions
/// (docs/performance.md).
struct IdVec<T>(Vec<T>);

impl<T> IdVec<T> {
    /// Adds an element and returns its id.
    fn push(&mut self, element: T) -> u32 {
        let id = u32::try_from(self.0.len()).expect("fewer than 2^32 threads and processes");
        self.0.push(element);
        id
    }

    fn len(&self) -> usize {
        self.0.len()
    }

    fn iter(&self) -> std::slice::Iter<'_, T> {
        self.0.iter()
    }
}

impl<T> std::ops::Index<usize> for IdVec<T> {
    type Output = T;
    #[inline(always)]
    fn index(&self, i: usize) -> &T {
        debug_assert!(i < self.0.len(), "id {i} of {}", self.0.len());
        // SAFETY: every id is made from this vector and nothing is removed (the type's doc).
        unsafe { self.0.get_unchecked(i) }
    }
}

impl<T> std::ops::IndexMut<usize> for IdVec<T> {
    #[inline(always)]
    fn index_mut(&mut self, i: usize) -> &mut T {
        debug_assert!(i < self.0.len(), "id {i} of {}", self.0.len());
        // SAFETY: as in `index`.
        unsafe { self.0.get_unchecked_mut(i) }
    }
}

struct Process {
    gil: Gil,
}

/// A `threading.Lock` shared by threads of one process. Not fair: a released lock is free,
/// its longest waiter is woken (paying `wakeup`) and takes it only if nobody else has by
/// the time it runs — a POSIX semaphore (`sem_post`, then the woken `sem_wait` retries).
#[derive(Default)]
struct SimLock {
    holder: Option<ThreadId>,
    waiters: VecDeque<ThreadId>,
}

#[derive(Default)]
struct MsgQueue {
    items: VecDeque<Item>,
    waiters: VecDeque<ThreadId>,
    /// Writers of messages larger than the pipe, waiting for a reader.
    senders: VecDeque<ThreadId>,
    /// The message in the pipe.
    transfer: Option<Transfer>,
}

/// A message larger than the pipe, going through it: both ends copy it.
#[derive(Clone, Copy)]
struct Transfer {
    reader: ThreadId,
    item: Item,
    written: bool,
    read: bool,
}

struct HwThread {
    /// The core this hardware thread belongs to (`hw / smt`).
    core: u32,
    running: Option<ThreadId>,
    last: Option<ThreadId>,
    slice_start: SimTime,
    slice_epoch: u32,
    slice_armed: bool,
}

/// The simulation of one experiment.
struct Sim<'a> {
    scenario: &'a Scenario,
    experiment: &'a Experiment,
    workers: u32,
    limits: &'a Limits,
    now: SimTime,
    events: EventQueue<Event>,
    threads: IdVec<Thread>,
    processes: IdVec<Process>,
    hw: IdVec<HwThread>,
    /// Busy hardware threads per core.
    core_busy: IdVec<u32>,
    busy_cores: u32,
    idle_hw: u32,
    runq: VecDeque<ThreadId>,
    queues: Vec<MsgQueue>,
    locks: Vec<SimLock>,
    /// Threads placed on a hardware thread, to resume once the current event is handled.
    to_resume: Vec<ThreadId>,
    /// Processes whose GIL timer must be re-armed at the end of the instant.
    gils_dirty: Vec<u32>,
    /// The occupancy changed or new work started: re-time running work.
    rates_dirty: bool,
    /// Every hardware thread's speed, when it does not depend on the occupancy
    /// ([`crate::model::Machine::fixed_speed`]): then only work that starts needs timing.
    fixed_rate: Option<f64>,
    /// Threads that started work at this instant (kept only with a `fixed_rate`).
    started: Vec<ThreadId>,
    world: roles::World<'a>,
    /// The disks and links, by [`Channel::index`], and the transfers in progress.
    channels: Vec<channels::ChannelState>,
    flows: Vec<channels::Flow>,
    free_flows: Vec<u32>,
    out: RunTrace,
    n_events: u64,
}

impl<'a> Sim<'a> {
    fn new(
        scenario: &'a Scenario,
        experiment: &'a Experiment,
        workers: u32,
        limits: &'a Limits,
    ) -> Self {
        let m = &scenario.machine;
        let hw_count = m.hw_threads();
        let world = roles::World::new(scenario, experiment, workers);
        let chunksize = world.chunksize();
        Sim {
            scenario,
            experiment,
            workers,
            limits,
            now: SimTime::ZERO,
            events: EventQueue::new(),
            threads: IdVec(Vec::new()),
            processes: IdVec(Vec::new()),
            hw: IdVec(
                (0..hw_count)
                    .map(|hw| HwThread {
                        core: hw / m.smt,
                        running: None,
                        last: None,
                        slice_start: SimTime::ZERO,
                        slice_epoch: 0,
                        slice_armed: false,
                    })
                    .collect(),
            ),
            core_busy: IdVec(vec![0; m.cores as usize]),
            busy_cores: 0,
            idle_hw: hw_count,
            runq: VecDeque::new(),
            queues: Vec::new(),
            locks: Vec::new(),
            to_resume: Vec::new(),
            gils_dirty: Vec::new(),
            rates_dirty: false,
            fixed_rate: m.fixed_speed(),
            started: Vec::new(),
            world,
            channels: Channel::ALL
                .iter()
                .map(|&c| {
                    let n = m.sharing[c.index()].len();
                    channels::ChannelState::new((1..=n).map(|k| m.shared_bandwidth(c, k)).collect())
                })
                .collect(),
            flows: Vec::new(),
            free_flows: Vec::new(),
            out: RunTrace {
                makespan: SimTime::ZERO,
                lanes: Vec::new(),
                segments: Records::new(limits.trace_in_memory),
                gil_events: Records::new(limits.trace_in_memory),
                device_load: Records::new(limits.trace_in_memory),
                tasks: Vec::new(),
                totals: Default::default(),
                gil_held: SimDuration::ZERO,
                gil_switches: 0,
                forced_switches: 0,
                drop_requests: 0,
                context_switches: 0,
                events: 0,
                serial_time: SimDuration::ZERO,
                work_requested: 0.0,
                work_done: 0.0,
                chunksize,
                channels: Vec::new(),
            },
            n_events: 0,
        }
    }

    fn run(mut self) -> Result<RunTrace, SimError> {
        self.world.create_queues(&mut self.queues);
        self.locks
            .resize_with(self.world.lock_count(), SimLock::default);
        self.out.tasks = self.world.task_records();
        let main_role = roles::main_role(self.experiment.strategy);
        let main = self.new_process_thread(main_role, "main", 0);
        self.make_runnable(main);
        self.settle_instant();
        self.settle_gil_timers();

        while let Some((time, event)) = self.events.pop() {
            if time > self.limits.max_sim_time {
                return Err(SimError::TimeLimit {
                    limit: self.limits.max_sim_time,
                });
            }
            self.n_events += 1;
            if self.n_events > self.limits.max_events {
                return Err(SimError::EventLimit {
                    limit: self.limits.max_events,
                    time: self.now,
                });
            }
            debug_assert!(time >= self.now, "time went back");
            self.now = time;
            self.handle(event);
            self.settle_instant();
            // GIL timers are re-armed once per instant of simulated time: a GIL released
            // and taken again by events at the same time needs no look at its waiters.
            if self.events.peek_time() != Some(self.now) {
                self.settle_gil_timers();
            }
            if self.threads[0].phase == Phase::Done {
                break;
            }
        }
        if self.threads[0].phase != Phase::Done {
            return Err(self.deadlock());
        }
        Ok(self.finish())
    }

    /// Resumes every thread placed on a core at this instant, then re-times running work.
    fn settle_instant(&mut self) {
        loop {
            while let Some(t) = self.to_resume.pop() {
                self.resume(t);
            }
            if self.rates_dirty {
                self.rates_dirty = false;
                self.retime_running();
            }
            if self.to_resume.is_empty() {
                break;
            }
        }
    }

    fn handle(&mut self, event: Event) {
        match event {
            Event::ComputeDone { t, epoch } => {
                if self.live(t, epoch) {
                    self.settle_work(t);
                    let th = &mut self.threads[t as usize];
                    self.out.work_done += th.remaining;
                    th.remaining = 0.0;
                    th.computing = false;
                    th.op = Op::None;
                    let (holds, process) = (th.holds_gil, th.process);
                    self.to_resume.push(t);
                    if holds {
                        // The GIL's timer may have been left unarmed for this event
                        // (gil::holder_releases_first).
                        self.arm_gil_timer(process);
                    }
                }
            }
            Event::SwitchDone { t, epoch } => {
                if self.live(t, epoch) {
                    let th = &mut self.threads[t as usize];
                    if let Phase::Switching(hw) = th.phase {
                        th.phase = Phase::Running(hw);
                        self.to_resume.push(t);
                    }
                }
            }
            Event::WaitDone { t, epoch } => {
                if self.live(t, epoch) {
                    self.threads[t as usize].op = Op::None;
                    self.make_runnable(t);
                }
            }
            Event::Wake { t, epoch } => {
                if self.live(t, epoch) {
                    self.make_runnable(t);
                }
            }
            Event::GilTimer { process } => self.gil_timer(process),
            Event::SliceExpired { hw, epoch } => self.slice_expired(hw, epoch),
            Event::Deliver { q, item } => self.put(q, item),
            Event::FlowStart { flow } => self.enter_channel(flow),
            Event::ChannelDone { channel, epoch } => self.channel_done(channel, epoch),
        }
    }

    fn live(&self, t: ThreadId, epoch: u32) -> bool {
        self.threads[t as usize].epoch == epoch
    }

    /// Invalidates the thread's pending event and returns the new epoch. A GIL holder's
    /// pending event may be what its GIL's timer relies on: the timer is re-armed.
    fn bump(&mut self, t: ThreadId) -> u32 {
        let th = &mut self.threads[t as usize];
        th.epoch = th.epoch.wrapping_add(1);
        let epoch = th.epoch;
        if th.holds_gil {
            let process = th.process;
            self.arm_gil_timer(process);
        }
        epoch
    }

    /// Schedules `event` `after` from now (inlined, like [`EventQueue::push`]).
    #[inline(always)]
    fn schedule(&mut self, after: SimDuration, event: Event) {
        self.events.push(self.now + after, event);
    }

    fn new_thread(&mut self, process: u32, role: Role, name: &str, number: u32) -> ThreadId {
        let id = self.threads.push(Thread {
            process,
            role,
            then: None,
            op: Op::None,
            phase: Phase::Runnable,
            holds_gil: false,
            wake_owed: false,
            epoch: 0,
            last_hw: None,
            left_core: self.now,
            inbox: None,
            state: State::Runnable,
            since: self.now,
            pending: None,
            computing: false,
            remaining: 0.0,
            rate: 0.0,
            last_update: self.now,
            done_at: self.now,
        });
        let name = if number == 0 {
            name.to_string()
        } else {
            format!("{name}-{number}")
        };
        self.out.lanes.push(Lane { name, process });
        id
    }

    fn new_process_thread(&mut self, role: Role, name: &str, number: u32) -> ThreadId {
        let process = self.processes.push(Process {
            gil: Gil::new(
                self.scenario.python.gil,
                self.scenario.python.switch_interval + self.scenario.machine.wakeup,
            ),
        });
        self.new_thread(process, role, name, number)
    }

    /// Moves a lane to a new state, closing its current segment.
    fn set_state(&mut self, t: ThreadId, state: State) {
        if self.threads[t as usize].state != state {
            self.close_lane(t);
            self.threads[t as usize].state = state;
        }
    }

    /// Ends the lane's current segment now (the lane stays in its state).
    ///
    /// A closed segment is held back one step so that a segment of the same state that
    /// follows it directly (e.g. `gil_wait`, a zero-length `runnable`, `gil_wait` again)
    /// extends it instead of adding a row.
    fn close_lane(&mut self, t: ThreadId) {
        let now = self.now;
        let th = &mut self.threads[t as usize];
        let (state, since) = (th.state, th.since);
        th.since = now;
        let spent = now - since;
        self.out.totals[state.index()] += spent;
        if self.limits.trace && !spent.is_zero() {
            self.record_segment(Segment {
                lane: t,
                state,
                start: since,
                end: now,
            });
        }
    }

    /// Adds a closed segment to the trace, extending the lane's held-back one when it
    /// continues it. (Out of line: without a trace, `close_lane` is on every state change.)
    #[inline(never)]
    fn record_segment(&mut self, seg: Segment) {
        match &mut self.threads[seg.lane as usize].pending {
            Some(p) if p.state == seg.state && p.end == seg.start => p.end = seg.end,
            pending => {
                if let Some(done) = pending.replace(seg) {
                    self.out.segments.push(done);
                }
            }
        }
    }

    /// Emits the lane's held-back segment (when the lane ends).
    fn flush_lane(&mut self, t: ThreadId) {
        if let Some(seg) = self.threads[t as usize].pending.take() {
            self.out.segments.push(seg);
        }
    }

    #[inline]
    fn gil_event(&mut self, process: u32, t: ThreadId, kind: GilEventKind) {
        if self.limits.trace {
            self.out.gil_events.push(GilEvent {
                time: self.now,
                process,
                lane: t,
                kind,
            });
        }
    }

    /// Drives a thread that is on a hardware thread until it blocks, computes or exits.
    fn resume(&mut self, t: ThreadId) {
        loop {
            let th = &self.threads[t as usize];
            if !matches!(th.phase, Phase::Running(_)) {
                return;
            }
            match th.op {
                Op::None => {
                    let action = match self.threads[t as usize].then.take() {
                        Some(a) => a,
                        None => self.next_action(t),
                    };
                    if !self.begin(t, action) {
                        return;
                    }
                }
                Op::Compute { gil, state } => {
                    self.continue_compute(t, gil, state);
                    return;
                }
                Op::Wait { time, state } => {
                    if !self.block(t, Block::Io, state) {
                        return;
                    }
                    let epoch = self.bump(t);
                    // A thread blocked on I/O is woken by the kernel when it completes: the
                    // same wake-up as a signalled condition variable.
                    let time = if state == State::Io {
                        time + self.owe_wakeup(t)
                    } else {
                        time
                    };
                    self.schedule(time, Event::WaitDone { t, epoch });
                    return;
                }
                Op::Transfer(xfer) => {
                    self.block_for_transfer(t, xfer);
                    return;
                }
                Op::Acquire(lock) => {
                    let l = &mut self.locks[lock as usize];
                    if l.holder.is_none() {
                        // PyThread_acquire_lock_timed(lock, 0, 0): a free lock is taken
                        // without releasing the GIL.
                        l.holder = Some(t);
                        self.threads[t as usize].op = Op::None;
                        continue;
                    }
                    // Py_BEGIN_ALLOW_THREADS, then a blocking acquire. Drawn as GIL
                    // contention: the lock is only ever held this long by a thread that
                    // lost the GIL inside it.
                    if !self.block(t, Block::Lock(lock), State::GilWait) {
                        return;
                    }
                    self.locks[lock as usize].waiters.push_back(t);
                    return;
                }
                Op::Get { q, state, .. } => {
                    if let Some(item) = self.queues[q as usize].items.pop_front() {
                        let th = &mut self.threads[t as usize];
                        th.inbox = Some(item);
                        th.op = Op::None;
                        continue;
                    }
                    if !self.block(t, Block::Queue(q), state) {
                        return;
                    }
                    self.queues[q as usize].waiters.push_back(t);
                    self.start_transfer(q);
                    return;
                }
                Op::Send {
                    q,
                    item,
                    bytes,
                    blocked,
                } => {
                    if !self.send(t, q, item, bytes, blocked) {
                        return;
                    }
                }
            }
        }
    }

    /// What a transfer step moves, where.
    fn transfer_of(&self, r: TransferRef) -> Xfer {
        *self.world.program(r.prog).transfer(r.index)
    }

    /// A running thread starts a blocking transfer: off its core (releasing the GIL) until
    /// the transfer is through. Out of line, like [`Sim::send`]: inlined, it kept `resume`
    /// out of the instant's settling, +4 % instructions on the peer workload, which has no
    /// transfers.
    #[inline(never)]
    fn block_for_transfer(&mut self, t: ThreadId, r: TransferRef) {
        if !self.block(t, Block::Io, State::Io) {
            return; // waiting for a forced switch first; back to the same call later
        }
        let epoch = self.bump(t);
        let xfer = self.transfer_of(r);
        self.start_transfer_flow(xfer, channels::Owner::Thread { t, epoch });
    }

    /// An event loop awaits a transfer for coroutine `coro` and goes on.
    #[inline(never)]
    fn await_transfer(&mut self, r: TransferRef, coro: u32) {
        let xfer = self.transfer_of(r);
        self.start_transfer_flow(xfer, channels::Owner::Coro(coro));
    }

    /// Starts a send of `bytes` into queue `q`'s pipe. Returns `true` when the thread goes on
    /// (to its copy), `false` when it blocked. Out of line: `resume` is on every thread's
    /// every action, and inlined this made the peer workload's count 3 % higher.
    ///
    /// A write that blocks on a full pipe shows as `blocked`, the sender's choice: whether
    /// waiting for a reader is a cost of the pipe (`ipc`: a worker held up by the parent's
    /// one result handler) or waiting for others' work (`idle`: Pool's task handler while
    /// every worker computes) — only the first counts as overhead in the summary.
    #[inline(never)]
    fn send(&mut self, t: ThreadId, q: QueueId, item: Item, bytes: u64, blocked: State) -> bool {
        if bytes <= PIPE_CAPACITY {
            // Into the pipe's buffer: the writer's copy, then the reader finds it.
            let time = self.pipe_copy_time(bytes);
            self.threads[t as usize].then = Some(Action::Deliver {
                q,
                item,
                after: self.scenario.python.ipc_latency,
            });
            self.start_copy(t, time);
            return true;
        }
        let mq = &mut self.queues[q as usize];
        if mq.transfer.is_none() && mq.senders.is_empty() && !mq.waiters.is_empty() {
            // A reader is there: the writer copies at once, on its core.
            mq.senders.push_back(t);
            self.start_transfer(q);
            return true;
        }
        // write() releases the GIL and blocks on the full pipe, shown as `blocked`.
        if self.block(t, Block::Send(q), blocked) {
            self.queues[q as usize].senders.push_back(t);
            self.start_transfer(q);
        }
        false
    }

    /// Takes a running thread that makes a blocking call off its core, releasing the GIL
    /// first if it holds it (`Py_BEGIN_ALLOW_THREADS`). Returns `false` when the release
    /// made it wait for a forced switch instead: it comes back to the same call later.
    fn block(&mut self, t: ThreadId, why: Block, state: State) -> bool {
        if self.threads[t as usize].holds_gil && self.release_gil(t) {
            return false;
        }
        self.leave_core(t);
        self.threads[t as usize].phase = Phase::Blocked(why);
        self.set_state(t, state);
        true
    }

    /// Starts an action. Returns `false` when the thread stopped (exited).
    fn begin(&mut self, t: ThreadId, action: Action) -> bool {
        let th = &mut self.threads[t as usize];
        match action {
            Action::Compute { work, gil, state } => self.start_compute(t, work, gil, state),
            Action::Wait { time, state } => {
                if !time.is_zero() {
                    th.op = Op::Wait { time, state };
                }
            }
            Action::Transfer(xfer) => th.op = Op::Transfer(xfer),
            Action::AwaitTransfer { xfer, coro } => self.await_transfer(xfer, coro),
            Action::Get { q, wake, state } => th.op = Op::Get { q, wake, state },
            Action::Acquire(lock) => th.op = Op::Acquire(lock),
            Action::Send {
                q,
                item,
                bytes,
                blocked,
            } => {
                th.op = Op::Send {
                    q,
                    item,
                    bytes,
                    blocked,
                }
            }
            Action::Release(lock) => self.release_lock(t, lock),
            Action::Put { q, item } => self.put(q, item),
            Action::Deliver { q, item, after } => {
                self.schedule(after, Event::Deliver { q, item });
            }
            Action::StartThread(spawn, name, number) => {
                let process = th.process;
                let new = self.new_thread(process, spawn.role(), name, number);
                self.make_runnable(new);
            }
            Action::StartProcess(spawn, name, number) => {
                let new = self.new_process_thread(spawn.role(), name, number);
                self.make_runnable(new);
            }
            Action::PipeRest { q, wait, writer } => self.pipe_rest(t, q, wait, writer),
            Action::PipeWritten(q) => self.pipe_written(q),
            Action::PipeRead(q) => return self.pipe_read(t, q),
            Action::Exit => {
                if self.threads[t as usize].holds_gil {
                    // A thread's exit drops the GIL without the forced-switch wait
                    // (drop_gil is called with tstate == NULL on thread deletion).
                    self.release_gil_on_exit(t);
                }
                self.leave_core(t);
                self.threads[t as usize].phase = Phase::Done;
                self.close_lane(t);
                self.flush_lane(t);
                return false;
            }
        }
        true
    }

    /// [`Action::PipeRest`]: after its copy, a pipe end waits off its core for the rest of
    /// the transfer (shown as `ipc`; no wake-up cost of its own: the measured transfer time
    /// includes the ends' wake-ups), then ends its part. Out of line, like [`Sim::send`]:
    /// `resume` is on every action of every thread.
    #[inline(never)]
    fn pipe_rest(&mut self, t: ThreadId, q: QueueId, wait: SimDuration, writer: bool) {
        let then = if writer {
            Action::PipeWritten(q)
        } else {
            Action::PipeRead(q)
        };
        // Next, not from here: `begin` calling itself would keep it out of `resume`.
        let th = &mut self.threads[t as usize];
        if !wait.is_zero() {
            th.op = Op::Wait {
                time: wait,
                state: State::Ipc,
            };
        }
        th.then = Some(then);
    }

    /// Puts an item into a queue, handing it straight to the longest waiter if there is one.
    fn put(&mut self, q: QueueId, item: Item) {
        let Some(w) = self.queues[q as usize].waiters.pop_front() else {
            self.queues[q as usize].items.push_back(item);
            return;
        };
        let th = &mut self.threads[w as usize];
        let Op::Get { wake, .. } = th.op else {
            unreachable!("a queue waiter is always in a get");
        };
        th.inbox = Some(item);
        th.op = Op::None;
        if wake {
            self.wake_after_signal(w, Block::QueueWoken);
        } else {
            self.make_runnable(w);
        }
    }

    /// Starts the next message larger than the pipe through queue `q`'s pipe, when the pipe
    /// is free and both a writer and a reader are there (longest waiting first): both copy
    /// it on a core ([`PIPE_CAPACITY`]), the reader from `ipc_latency` on.
    fn start_transfer(&mut self, q: QueueId) {
        let mq = &mut self.queues[q as usize];
        if mq.transfer.is_some() {
            return;
        }
        let (Some(&s), Some(&r)) = (mq.senders.front(), mq.waiters.front()) else {
            return;
        };
        mq.senders.pop_front();
        mq.waiters.pop_front();
        let Op::Send { item, bytes, .. } = self.threads[s as usize].op else {
            unreachable!("a pipe writer is always in a send");
        };
        self.queues[q as usize].transfer = Some(Transfer {
            reader: r,
            item,
            written: false,
            read: false,
        });
        let (copy, whole) = (self.pipe_copy_time(bytes), self.pipe_time(bytes));
        let wait = SimDuration(whole.0 - copy.0); // copy ≤ whole (pipe_copy_time)
        self.threads[s as usize].then = Some(Action::PipeRest {
            q,
            wait,
            writer: true,
        });
        self.start_copy(s, copy);
        if !matches!(self.threads[s as usize].phase, Phase::Running(_)) {
            self.make_runnable(s);
        }
        self.threads[r as usize].then = Some(Action::PipeRest {
            q,
            wait,
            writer: false,
        });
        self.start_copy(r, copy);
        self.set_state(r, State::Ipc);
        self.wake_after(r, self.scenario.python.ipc_latency, Block::Receiving);
    }

    /// Gives `t` a pipe copy of `time` to do next, in place of its send or get: GIL-free CPU
    /// work, shown as `ipc` (none when `time` is zero).
    fn start_copy(&mut self, t: ThreadId, time: SimDuration) {
        self.threads[t as usize].op = Op::None;
        self.start_compute(t, time, false, State::Ipc);
    }

    /// Hands `t` `work` ns of CPU work as its current action (none when zero).
    #[inline(always)]
    fn start_compute(&mut self, t: ThreadId, work: SimDuration, gil: bool, state: State) {
        if !work.is_zero() {
            let th = &mut self.threads[t as usize];
            th.op = Op::Compute { gil, state };
            th.remaining = work.as_nanos_f64();
            self.out.work_requested += work.as_nanos_f64();
        }
    }

    /// How long `bytes` take through a pipe.
    fn pipe_time(&self, bytes: u64) -> SimDuration {
        crate::units::transfer_time(bytes, self.scenario.python.ipc)
    }

    /// The CPU time one end spends copying `bytes` through a pipe: no more than
    /// [`Sim::pipe_time`].
    fn pipe_copy_time(&self, bytes: u64) -> SimDuration {
        let p = &self.scenario.python;
        let rate = p.ipc_cpu.map_or(p.ipc, |cpu| cpu.max(p.ipc));
        crate::units::transfer_time(bytes, rate).min(self.pipe_time(bytes))
    }

    /// The writer of queue `q`'s transfer has copied the message in and goes on. If the
    /// reader has copied everything it could and waits for the rest, it has it now.
    fn pipe_written(&mut self, q: QueueId) {
        let tr = self.transfer(q);
        tr.written = true;
        if tr.read {
            let r = tr.reader;
            self.deliver_transfer(q);
            // Blocked in read(): woken by the write.
            self.wake_after_signal(r, Block::QueueWoken);
        }
    }

    /// The reader of queue `q`'s transfer has copied what it could: it has the message if the
    /// writer is done, and goes on (returns `true`); otherwise it blocks until the writer's
    /// last write.
    fn pipe_read(&mut self, t: ThreadId, q: QueueId) -> bool {
        let tr = self.transfer(q);
        tr.read = true;
        if tr.written {
            self.deliver_transfer(q);
            return true;
        }
        // The reader holds no GIL (it was in a blocking get), so it blocks at once.
        let blocked = self.block(t, Block::Receiving, State::Ipc);
        debug_assert!(blocked);
        false
    }

    /// Queue `q`'s transfer in progress (a copy's end belongs to one).
    fn transfer(&mut self, q: QueueId) -> &mut Transfer {
        self.queues[q as usize]
            .transfer
            .as_mut()
            .expect("a pipe copy belongs to a transfer")
    }

    /// The message of queue `q`'s transfer is through: the reader has it, and the pipe
    /// takes the next one.
    fn deliver_transfer(&mut self, q: QueueId) {
        let tr = self.queues[q as usize]
            .transfer
            .take()
            .expect("a transfer ends once");
        let th = &mut self.threads[tr.reader as usize];
        th.inbox = Some(tr.item);
        th.op = Op::None;
        self.start_transfer(q);
    }

    /// Releases a lock: it is free, and its longest waiter wakes up to try again (a woken
    /// waiter that finds it taken queues again at the back; futex wake order is not FIFO
    /// either).
    fn release_lock(&mut self, t: ThreadId, lock: LockId) {
        let l = &mut self.locks[lock as usize];
        debug_assert_eq!(
            l.holder,
            Some(t),
            "a lock released by a thread not holding it"
        );
        l.holder = None;
        if let Some(w) = l.waiters.pop_front() {
            self.wake_after_signal(w, Block::LockWoken);
        }
    }

    /// Continues (or starts) a compute action on a thread that is on a core.
    fn continue_compute(&mut self, t: ThreadId, gil: bool, state: State) {
        let process = self.threads[t as usize].process as usize;
        let needs_gil = gil && self.processes[process].gil.enabled;
        let holds = self.threads[t as usize].holds_gil;
        if needs_gil && !holds {
            if self.processes[process].gil.locked {
                self.wait_for_gil(t);
                return;
            }
            self.take_gil(t);
        } else if !needs_gil && holds && self.release_gil(t) {
            return;
        }
        if needs_gil && self.processes[process].gil.drop_request {
            // The eval loop checks eval_breaker before the next bytecode: drop at once.
            self.forced_drop(t);
            return;
        }
        let state = if state == State::Cpu && !needs_gil {
            State::CpuNoGil
        } else {
            state
        };
        self.set_state(t, state);
        let th = &mut self.threads[t as usize];
        th.computing = true;
        th.rate = 0.0; // unknown until retimed
        th.last_update = self.now;
        self.started_work(t);
    }

    fn deadlock(&self) -> SimError {
        let threads = self
            .threads
            .iter()
            .enumerate()
            .map(|(i, th)| {
                let what = match th.phase {
                    Phase::Runnable => "runnable, waiting for a core".to_string(),
                    Phase::Switching(hw) | Phase::Running(hw) => format!("running on hw {hw}"),
                    Phase::Blocked(Block::Io) => "waiting for I/O".to_string(),
                    Phase::Blocked(Block::Gil | Block::GilSignaled) => {
                        "waiting for the GIL".to_string()
                    }
                    Phase::Blocked(Block::SwitchWait | Block::SwitchWoken) => {
                        "waiting for a forced GIL switch".to_string()
                    }
                    Phase::Blocked(Block::Queue(_) | Block::QueueWoken) => {
                        "waiting on a queue".to_string()
                    }
                    Phase::Blocked(Block::Lock(_) | Block::LockWoken) => {
                        "waiting for a lock".to_string()
                    }
                    Phase::Blocked(Block::Send(_)) => "writing to a pipe".to_string(),
                    Phase::Blocked(Block::Receiving) => "reading from a pipe".to_string(),
                    Phase::Done => "finished".to_string(),
                };
                format!(
                    "{} (process {}): {what}{}",
                    self.out.lanes[i].name,
                    th.process,
                    if th.holds_gil {
                        ", holding the GIL"
                    } else {
                        ""
                    }
                )
            })
            .collect();
        SimError::Deadlock {
            time: self.now,
            threads,
        }
    }

    fn finish(mut self) -> RunTrace {
        self.out.makespan = self.now;
        // Close lanes that are still open (none in a well-formed run: every strategy joins
        // its workers), so totals cover every lane up to the makespan.
        for t in 0..self.threads.len() as ThreadId {
            if self.threads[t as usize].phase != Phase::Done {
                self.close_lane(t);
                self.flush_lane(t);
            }
            // A helper process still starting up when the program ends is left behind
            // (the resource tracker outlives its parent): its unfinished work was never done.
            if matches!(self.threads[t as usize].op, Op::Compute { .. }) {
                self.settle_work(t);
                self.out.work_requested -= self.threads[t as usize].remaining;
            }
        }
        for p in self.processes.iter() {
            self.out.gil_held += p.gil.held_total;
            if p.gil.locked {
                self.out.gil_held += self.now - p.gil.taken_at;
            }
        }
        self.out.events = self.n_events;
        self.out.channels = Channel::ALL
            .iter()
            .zip(&self.channels)
            .filter_map(|(&c, ch)| ch.usage(c, self.now))
            .collect();
        self.out.serial_time = self.world.serial_time(self.now);
        self.out.segments.seal();
        self.out.gil_events.seal();
        self.out.device_load.seal();
        self.out
    }
}

#[cfg(test)]
mod tests;
