//! The strategies as the threads that run them (DESIGN §3).
//!
//! Each thread runs a [`Role`]: a small state machine that hands the engine one action at
//! a time. The roles follow the CPython library code they model:
//!
//! - **serial**: the main thread runs setup, every task in order, teardown.
//! - **threads** (`concurrent.futures.ThreadPoolExecutor`): `submit` costs half of
//!   `dispatch.threads` holding the GIL, puts the work item in the queue, then
//!   `_adjust_thread_count`: if an idle worker exists (`_idle_semaphore.acquire(timeout=0)`)
//!   nothing more happens, else a new thread is started (`thread_start`, paid by the main
//!   thread) while fewer than `workers` exist. Workers take work items FIFO and release the
//!   idle semaphore after each (CPython ≤ 3.11). The semaphore's lock is a real lock here:
//!   submit holds it for `executor_lock.submit`, a worker for `executor_lock.done` (both
//!   within `dispatch.threads`); a thread forced off the GIL inside it keeps it, and the
//!   next one to need it blocks, giving the GIL away — with tasks longer than a wake-up the
//!   GIL then changes hands at every task (a lock convoy, measured: 3,000 × 100 µs tasks on
//!   two workers took 0.64 s, 0.38 s with the semaphore replaced by a no-op; serial 0.30 s).
//!   The main thread then takes the results in submission order
//!   (`map`'s iterator): it blocks on a future that is not done, is woken by its
//!   `set_result`, and pays the other half of `dispatch.threads` holding the GIL per result;
//!   shutdown puts one sentinel per worker and joins them.
//! - **processes** (`multiprocessing.Pool(workers).map`): with spawn and forkserver the
//!   parent first starts the resource tracker (a process computing
//!   `helper_start.resource_tracker`, not waited for) and with forkserver the server
//!   (`helper_start.forkserver`, waited for before the first worker); then it sets the Pool
//!   up (`pool_setup[method]`, holding its GIL) and starts each worker process, one after
//!   another (`process_start_parent[method]` of its own CPU each, holding its GIL; the child
//!   then pays `process_start[method]`), then starts Pool's three handler
//!   threads (`thread_start` each; the worker-handler thread is idle and has no lane). The
//!   task-handler thread sends each chunk: `dispatch.processes` per message, pickling
//!   (`payload × tasks / pickle`) under the parent's GIL, writing into the pipe (off-GIL;
//!   its time and CPU in [`super::PIPE_CAPACITY`]); the chunk arrives `ipc_latency` later.
//!   Workers read chunks FIFO, unpickle, run the tasks in order, pickle and send results
//!   back the same way; the result-handler thread unpickles them under the parent's GIL.
//!   Each message costs the worker `pool_worker` (receive, look the call up, send the
//!   result) before unpickling. Shutdown sends a sentinel to each worker and joins workers
//!   and handlers.
//! - **asyncio**: one thread, one coroutine per task, started in order (`gather`). A
//!   coroutine runs until it awaits I/O; each resume costs `dispatch.asyncio`. `cpu` steps
//!   and `blocking` I/O run on the loop thread and stall every coroutine.

use crate::model::program::{Cursor, Step};
use crate::model::{Experiment, Program, Python, Scenario, StartMethod, Strategy};
use crate::rng::{self, Stream};
use crate::time::{SimDuration, SimTime};
use crate::trace::{State, TaskRecord};
use crate::units::transfer_time;

use super::{Action, Item, MsgQueue, QueueId, Sim, ThreadId, TransferRef};

/// Which program a runner walks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Prog {
    Setup,
    Teardown,
    Kind(u32),
}

/// A position in a program.
#[derive(Clone, Debug)]
pub(super) struct Runner {
    cursor: Cursor,
    prog: Prog,
}

/// Roles that a running thread can start.
#[derive(Clone, Copy, Debug)]
pub(super) enum Spawn {
    ThreadWorker,
    TaskHandler,
    ResultHandler,
    PoolWorker,
    ResourceTracker,
    Forkserver,
}

impl Spawn {
    pub(super) fn role(self) -> Role {
        match self {
            Spawn::ThreadWorker => Role::ThreadWorker(Box::default()),
            Spawn::TaskHandler => Role::TaskHandler(TaskHandler::default()),
            Spawn::ResultHandler => Role::ResultHandler(None),
            Spawn::PoolWorker => Role::PoolWorker(Box::default()),
            Spawn::ResourceTracker => Role::Helper(Helper::ResourceTracker, false),
            Spawn::Forkserver => Role::Helper(Helper::Forkserver, false),
        }
    }
}

/// What a thread runs.
#[derive(Clone, Debug)]
pub(super) enum Role {
    /// Nothing more (also the placeholder while a role is being advanced).
    Exited,
    /// The main thread of any strategy.
    Main(Box<Main>),
    /// A ThreadPoolExecutor worker (boxed, like every role holding a program cursor:
    /// `next_action` moves the role out and back for every action).
    ThreadWorker(Box<Worker>),
    /// Pool's task-handler thread.
    TaskHandler(TaskHandler),
    /// Pool's result-handler thread; the chunk it is unpickling.
    ResultHandler(Option<u32>),
    /// A Pool worker process's main thread.
    PoolWorker(Box<PoolWorker>),
    /// A helper process of `multiprocessing`; whether it has started up.
    Helper(Helper, bool),
}

/// The processes `multiprocessing` starts once per program besides the workers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Helper {
    /// `resource_tracker`: spawn and forkserver register their named semaphores with it.
    ResourceTracker,
    /// The forkserver's server, which forks every worker.
    Forkserver,
}

/// The role of the main thread for a strategy.
pub(super) fn main_role(strategy: Strategy) -> Role {
    Role::Main(Box::new(Main {
        strategy,
        stage: Stage::Setup,
        runner: None,
    }))
}

#[derive(Clone, Debug)]
pub(super) struct Main {
    strategy: Strategy,
    stage: Stage,
    runner: Option<Runner>,
}

#[derive(Clone, Copy, Debug)]
enum Stage {
    Setup,
    SerialTasks {
        next: u64,
        current: Option<u64>,
    },
    Submit {
        next: u64,
        sub: u8,
    },
    /// Pool's set-up and helper processes: 0 the resource tracker, 1 the queues
    /// (`pool_setup`), 2 the forkserver, 3 waiting for it to be ready.
    StartHelpers {
        next: u8,
    },
    /// Each worker: the parent's share of its start (`paid`), then the process.
    StartWorkers {
        next: u32,
        paid: bool,
    },
    StartHandlers {
        next: u8,
        paid: bool,
    },
    Map,
    /// `list(executor.map(...))`: the result of each future in submission order.
    Results {
        next: u64,
    },
    Gather {
        next: u64,
    },
    Loop {
        current: Option<u32>,
        resume_due: bool,
    },
    AwaitDone,
    Shutdown {
        sent: u32,
    },
    Join,
    Teardown,
    End,
}

#[derive(Clone, Debug, Default)]
pub(super) struct Worker {
    current: Option<(u64, Runner)>,
    /// After a task: 1 acquire the idle semaphore's lock, 2 hold it, 3 release it.
    release: u8,
}

#[derive(Clone, Debug, Default)]
pub(super) struct TaskHandler {
    sending: bool,
    chunk: u32,
    sub: u8,
}

#[derive(Clone, Debug, Default)]
pub(super) struct PoolWorker {
    started: bool,
    /// Got its sentinel: it pays `process_exit`, then exits.
    exiting: bool,
    chunk: Option<u32>,
    sub: u8,
    k: u32,
    task: Option<(u64, Runner)>,
}

/// The strategy's shared state: queues, counters, chunks, coroutines.
pub(super) struct World<'a> {
    scenario: &'a Scenario,
    experiment: &'a Experiment,
    n_tasks: u64,
    completed: u64,
    /// threads: which tasks have finished (their futures are done), and the future the main
    /// thread is blocked on in `map`'s result iterator, if it is.
    finished: Vec<bool>,
    awaiting: Option<u64>,
    /// ThreadPoolExecutor's `_idle_semaphore` count.
    idle: u64,
    /// The lock of that semaphore's `Condition`.
    idle_lock: u32,
    executor: ExecutorCosts,
    started: u32,
    exits: u32,
    expected_exits: u32,
    /// Pool chunks: first task and length.
    chunks: Vec<(u64, u32)>,
    chunksize: u32,
    setup_end: SimTime,
    teardown_start: Option<SimTime>,
    /// asyncio: runners of started coroutines (a slab), and each coroutine's slot.
    slots: Vec<Runner>,
    free_slots: Vec<u32>,
    slot_of: Vec<u32>,
    outstanding: u64,
    work_q: QueueId,
    done_q: QueueId,
    join_q: QueueId,
    task_q: QueueId,
    in_q: QueueId,
    out_q: QueueId,
    pub(super) ready_q: QueueId,
    /// The forkserver tells the parent it is ready.
    helper_q: QueueId,
    /// Helpers that have started up block here for the rest of the run.
    park_q: QueueId,
}

const NO_SLOT: u32 = u32::MAX;

impl<'a> World<'a> {
    pub(super) fn new(scenario: &'a Scenario, experiment: &'a Experiment, workers: u32) -> Self {
        let n_tasks = experiment.job.task_count();
        let mut chunks = Vec::new();
        let mut chunksize = 0;
        if experiment.strategy == Strategy::Processes {
            chunksize = match experiment.chunksize {
                Some(c) => c,
                // Pool._map_async: chunksize, extra = divmod(len(iterable), len(self._pool) * 4)
                None => {
                    let (c, extra) = (
                        n_tasks / (workers as u64 * 4),
                        n_tasks % (workers as u64 * 4),
                    );
                    (c + u64::from(extra > 0)) as u32
                }
            };
            let mut first = 0;
            while first < n_tasks {
                let len = (chunksize as u64).min(n_tasks - first) as u32;
                chunks.push((first, len));
                first += len as u64;
            }
        }
        let slot_of = if experiment.strategy == Strategy::Asyncio {
            vec![NO_SLOT; n_tasks as usize]
        } else {
            Vec::new()
        };
        let finished = if experiment.strategy == Strategy::Threads {
            vec![false; n_tasks as usize]
        } else {
            Vec::new()
        };
        World {
            scenario,
            experiment,
            n_tasks,
            completed: 0,
            finished,
            awaiting: None,
            idle: 0,
            started: 0,
            exits: 0,
            expected_exits: 0,
            chunks,
            chunksize,
            setup_end: SimTime::ZERO,
            teardown_start: None,
            slots: Vec::new(),
            free_slots: Vec::new(),
            slot_of,
            outstanding: 0,
            work_q: 0,
            done_q: 1,
            join_q: 2,
            task_q: 3,
            in_q: 4,
            out_q: 5,
            ready_q: 6,
            helper_q: 7,
            park_q: 8,
            idle_lock: 0,
            executor: ExecutorCosts::new(&scenario.python),
        }
    }

    pub(super) fn create_queues(&self, queues: &mut Vec<MsgQueue>) {
        queues.clear();
        queues.resize_with(9, MsgQueue::default);
    }

    /// Locks the strategy uses: ThreadPoolExecutor's idle semaphore.
    pub(super) fn lock_count(&self) -> usize {
        usize::from(self.experiment.strategy == Strategy::Threads)
    }

    pub(super) fn chunksize(&self) -> Option<u32> {
        (self.experiment.strategy == Strategy::Processes).then_some(self.chunksize)
    }

    /// One record per task, kinds filled in, times zero.
    pub(super) fn task_records(&self) -> Vec<TaskRecord> {
        let mut records = Vec::with_capacity(self.n_tasks as usize);
        for &(kind, count) in &self.experiment.job.tasks {
            for _ in 0..count {
                records.push(TaskRecord {
                    kind: kind as u32,
                    lane: 0,
                    submit: SimTime::ZERO,
                    start: SimTime::ZERO,
                    end: SimTime::ZERO,
                });
            }
        }
        records
    }

    pub(super) fn serial_time(&self, end: SimTime) -> SimDuration {
        let teardown = self.teardown_start.map_or(SimDuration::ZERO, |t| end - t);
        (self.setup_end - SimTime::ZERO) + teardown
    }

    pub(super) fn program(&self, prog: Prog) -> &'a Program {
        let exp: &'a Experiment = self.experiment;
        match prog {
            Prog::Setup => &exp.job.setup,
            Prog::Teardown => &exp.job.teardown,
            Prog::Kind(k) => &self.scenario.kinds[k as usize].program,
        }
    }

    fn runner(&self, prog: Prog, stream: u64) -> Runner {
        Runner {
            cursor: Cursor::new(Stream::new(self.scenario.seed, stream)),
            prog,
        }
    }

    fn step(&self, r: &mut Runner) -> Option<Step> {
        r.cursor.next_step(self.program(r.prog))
    }

    fn pickle_time(&self, bytes: u64) -> SimDuration {
        transfer_time(bytes, self.scenario.python.pickle)
    }
}

/// ThreadPoolExecutor's per-task costs, all holding the GIL. Half of `dispatch.threads` is
/// paid at submit(), half when the result is taken; the idle semaphore's lock holds are
/// carved out of those halves (never more than them): submit's out of the first, the
/// worker's out of the second.
#[derive(Clone, Copy, Debug)]
struct ExecutorCosts {
    /// submit() outside the lock.
    submit: SimDuration,
    /// submit()'s `_idle_semaphore.acquire(timeout=0)`, inside the lock.
    submit_hold: SimDuration,
    /// A worker's `_idle_semaphore.release()` after each task, inside the lock.
    worker_hold: SimDuration,
    /// map's iterator taking one result.
    result: SimDuration,
}

impl ExecutorCosts {
    fn new(py: &Python) -> Self {
        let d = py.dispatch.threads.as_nanos();
        let (half, rest) = (d / 2, d - d / 2);
        let submit_hold = py.executor_lock.submit.as_nanos().min(half);
        let worker_hold = py.executor_lock.done.as_nanos().min(rest);
        ExecutorCosts {
            submit: SimDuration(half - submit_hold),
            submit_hold: SimDuration(submit_hold),
            worker_hold: SimDuration(worker_hold),
            result: SimDuration(rest - worker_hold),
        }
    }
}

/// A task index as a queue item carries it (a job has at most `MAX_TASKS` < 2^32 tasks).
fn task_id(i: u64) -> u32 {
    u32::try_from(i).expect("at most MAX_TASKS tasks in a job")
}

/// The engine action for a step of program `prog` run by an ordinary thread.
fn step_action(step: Step, prog: Prog) -> Action {
    match step {
        Step::Cpu { work, gil } => Action::Compute {
            work,
            gil,
            state: if gil { State::Cpu } else { State::CpuNoGil },
        },
        Step::Io { time, .. } => Action::Wait {
            time,
            state: State::Io,
        },
        Step::Transfer { index, .. } => Action::Transfer(TransferRef { prog, index }),
    }
}

impl Sim<'_> {
    /// The next action of thread `t`'s role.
    ///
    /// Every role but the executor worker's is kept out of line (`#[inline(never)]`): inlined
    /// here, their code made each worker step pay for their register saves (callgrind on the
    /// peers' workload: −1.6 % of all instructions). The main thread, the Pool threads and
    /// the helpers take a few actions per task, a worker one per step.
    pub(super) fn next_action(&mut self, t: ThreadId) -> Action {
        let mut role = std::mem::replace(&mut self.threads[t as usize].role, Role::Exited);
        let action = match &mut role {
            Role::Exited => Action::Exit,
            Role::Main(m) => self.main_next(t, m),
            Role::ThreadWorker(w) => self.worker_next(t, w),
            Role::TaskHandler(h) => self.task_handler_next(t, h),
            Role::ResultHandler(pending) => self.result_handler_next(t, pending),
            Role::PoolWorker(w) => self.pool_worker_next(t, w),
            Role::Helper(h, started) => self.helper_next(t, *h, started),
        };
        self.threads[t as usize].role = role;
        action
    }

    fn start_task(&mut self, i: u64, t: ThreadId) -> Runner {
        let rec = &mut self.out.tasks[i as usize];
        rec.start = self.now;
        rec.lane = t;
        let kind = rec.kind;
        self.world.runner(Prog::Kind(kind), i)
    }

    fn finish_task(&mut self, i: u64) {
        self.out.tasks[i as usize].end = self.now;
    }

    fn take_inbox(&mut self, t: ThreadId) -> Option<Item> {
        self.threads[t as usize].inbox.take()
    }

    /// A worker or handler got its sentinel: the last one to exit tells the joiner.
    fn exit_worker(&mut self, t: ThreadId) -> Action {
        self.world.exits += 1;
        if self.world.exits == self.world.expected_exits {
            self.threads[t as usize].then = Some(Action::Exit);
            Action::Put {
                q: self.world.join_q,
                item: Item::Done,
            }
        } else {
            Action::Exit
        }
    }

    #[inline(never)]
    fn main_next(&mut self, t: ThreadId, m: &mut Main) -> Action {
        let py = &self.scenario.python;
        loop {
            match m.stage {
                Stage::Setup => {
                    let runner = m
                        .runner
                        .get_or_insert_with(|| self.world.runner(Prog::Setup, rng::SETUP_STREAM));
                    if let Some(step) = self.world.step(runner) {
                        return step_action(step, runner.prog);
                    }
                    m.runner = None;
                    self.world.setup_end = self.now;
                    m.stage = match m.strategy {
                        Strategy::Serial => Stage::SerialTasks {
                            next: 0,
                            current: None,
                        },
                        Strategy::Threads => Stage::Submit { next: 0, sub: 0 },
                        Strategy::Processes => Stage::StartHelpers { next: 0 },
                        Strategy::Asyncio => Stage::Gather { next: 0 },
                    };
                }
                Stage::SerialTasks { next, current } => {
                    if let Some(i) = current {
                        let runner = m.runner.as_mut().expect("a running task has a runner");
                        if let Some(step) = self.world.step(runner) {
                            return step_action(step, runner.prog);
                        }
                        self.finish_task(i);
                    }
                    if next < self.world.n_tasks {
                        self.out.tasks[next as usize].submit = self.now;
                        m.runner = Some(self.start_task(next, t));
                        m.stage = Stage::SerialTasks {
                            next: next + 1,
                            current: Some(next),
                        };
                    } else {
                        m.runner = None;
                        m.stage = Stage::Teardown;
                    }
                }
                Stage::Submit { next, sub } => {
                    if next == self.world.n_tasks {
                        m.stage = Stage::Results { next: 0 };
                        continue;
                    }
                    let costs = self.world.executor;
                    match sub {
                        0 => {
                            // The calibrated per-task cost of the executor is paid half at
                            // submit() (the idle-semaphore lock's hold included), half when
                            // map's iterator takes the result (less the worker's hold).
                            m.stage = Stage::Submit { next, sub: 1 };
                            return Action::Compute {
                                work: costs.submit,
                                gil: true,
                                state: State::Dispatch,
                            };
                        }
                        1 => {
                            m.stage = Stage::Submit { next, sub: 2 };
                            self.out.tasks[next as usize].submit = self.now;
                            return Action::Put {
                                q: self.world.work_q,
                                item: Item::Task(task_id(next)),
                            };
                        }
                        // _adjust_thread_count: _idle_semaphore.acquire(timeout=0) holds the
                        // semaphore's lock (skipped when its hold is zero).
                        2 if !costs.submit_hold.is_zero() => {
                            m.stage = Stage::Submit { next, sub: 3 };
                            return Action::Acquire(self.world.idle_lock);
                        }
                        2 => m.stage = Stage::Submit { next, sub: 5 },
                        3 => {
                            m.stage = Stage::Submit { next, sub: 4 };
                            return Action::Compute {
                                work: costs.submit_hold,
                                gil: true,
                                state: State::Dispatch,
                            };
                        }
                        4 => {
                            m.stage = Stage::Submit { next, sub: 5 };
                            return Action::Release(self.world.idle_lock);
                        }
                        5 => {
                            if self.world.idle > 0 {
                                self.world.idle -= 1;
                            } else if self.world.started < self.workers {
                                m.stage = Stage::Submit { next, sub: 6 };
                                return Action::Compute {
                                    work: py.thread_start,
                                    gil: true,
                                    state: State::Spawn,
                                };
                            }
                            m.stage = Stage::Submit {
                                next: next + 1,
                                sub: 0,
                            };
                        }
                        _ => {
                            self.world.started += 1;
                            m.stage = Stage::Submit {
                                next: next + 1,
                                sub: 0,
                            };
                            return Action::StartThread(
                                Spawn::ThreadWorker,
                                "thread",
                                self.world.started,
                            );
                        }
                    }
                }
                Stage::StartHelpers { next } => {
                    // Pool.__init__'s queues register named semaphores with the resource
                    // tracker (started without waiting) as they are made; the first
                    // worker's start with forkserver starts the server, connects to it and
                    // blocks until it has forked the child
                    // (Lib/multiprocessing/{pool,resource_tracker,forkserver}.py).
                    let method = self.experiment.start_method;
                    m.stage = Stage::StartHelpers { next: next + 1 };
                    match next {
                        0 if method != StartMethod::Fork => {
                            return Action::StartProcess(
                                Spawn::ResourceTracker,
                                "resource-tracker",
                                0,
                            )
                        }
                        1 => {
                            // The queues and locks, and the part of a Pool's start and
                            // shutdown no other cost counts (python.pool_setup).
                            let setup = py.pool_setup.of(method);
                            if !setup.is_zero() {
                                return Action::Compute {
                                    work: setup,
                                    gil: true,
                                    state: State::Spawn,
                                };
                            }
                        }
                        2 if method == StartMethod::Forkserver => {
                            return Action::StartProcess(Spawn::Forkserver, "forkserver", 0)
                        }
                        3 if method == StartMethod::Forkserver => {
                            if self.take_inbox(t) != Some(Item::Done) {
                                m.stage = Stage::StartHelpers { next };
                                return Action::Get {
                                    q: self.world.helper_q,
                                    wake: true,
                                    state: State::Idle,
                                };
                            }
                        }
                        0..=3 => {}
                        _ => {
                            m.stage = Stage::StartWorkers {
                                next: 0,
                                paid: false,
                            }
                        }
                    }
                }
                Stage::StartWorkers { next, paid } => {
                    if next < self.workers {
                        // The parent's share of `Process.start()`, one worker after another.
                        let own = py.process_start_parent.of(self.experiment.start_method);
                        if !paid && !own.is_zero() {
                            m.stage = Stage::StartWorkers { next, paid: true };
                            return Action::Compute {
                                work: own,
                                gil: true,
                                state: State::Spawn,
                            };
                        }
                        m.stage = Stage::StartWorkers {
                            next: next + 1,
                            paid: false,
                        };
                        return Action::StartProcess(Spawn::PoolWorker, "worker", next + 1);
                    }
                    m.stage = Stage::StartHandlers {
                        next: 0,
                        paid: false,
                    };
                }
                Stage::StartHandlers { next, paid } => {
                    // Pool.__init__ starts _worker_handler, _task_handler, _result_handler.
                    if next == 3 {
                        m.stage = Stage::Map;
                        continue;
                    }
                    if !paid {
                        m.stage = Stage::StartHandlers { next, paid: true };
                        return Action::Compute {
                            work: py.thread_start,
                            gil: true,
                            state: State::Spawn,
                        };
                    }
                    m.stage = Stage::StartHandlers {
                        next: next + 1,
                        paid: false,
                    };
                    match next {
                        1 => return Action::StartThread(Spawn::TaskHandler, "pool-tasks", 0),
                        2 => return Action::StartThread(Spawn::ResultHandler, "pool-results", 0),
                        _ => {} // the worker handler only sleeps; it has no lane
                    }
                }
                Stage::Map => {
                    m.stage = Stage::AwaitDone;
                    return Action::Put {
                        q: self.world.task_q,
                        item: Item::Map,
                    };
                }
                Stage::Gather { next } => {
                    if next < self.world.n_tasks {
                        self.out.tasks[next as usize].submit = self.now;
                        m.stage = Stage::Gather { next: next + 1 };
                        return Action::Put {
                            q: self.world.ready_q,
                            item: Item::Coro(next as u32),
                        };
                    }
                    self.world.outstanding = self.world.n_tasks;
                    m.stage = Stage::Loop {
                        current: None,
                        resume_due: false,
                    };
                }
                Stage::Loop {
                    current,
                    resume_due,
                } => {
                    if let Some(c) = current {
                        if resume_due {
                            m.stage = Stage::Loop {
                                current,
                                resume_due: false,
                            };
                            return Action::Compute {
                                work: py.dispatch.asyncio,
                                gil: true,
                                state: State::Dispatch,
                            };
                        }
                        let slot = self.world.slot_of[c as usize] as usize;
                        let prog = self.world.slots[slot].prog;
                        let program = self.world.program(prog);
                        let step = self.world.slots[slot].cursor.next_step(program);
                        // `await`: the coroutine is suspended until the I/O is done — a
                        // wait for its time, a transfer for as long as its channel takes.
                        let awaited = match step {
                            Some(Step::Io {
                                time,
                                blocking: false,
                            }) => Some(Action::Deliver {
                                q: self.world.ready_q,
                                item: Item::Coro(c),
                                after: time,
                            }),
                            Some(Step::Transfer {
                                index,
                                blocking: false,
                            }) => Some(Action::AwaitTransfer {
                                xfer: TransferRef { prog, index },
                                coro: c,
                            }),
                            _ => None,
                        };
                        if let Some(action) = awaited {
                            m.stage = Stage::Loop {
                                current: None,
                                resume_due: false,
                            };
                            return action;
                        }
                        match step {
                            Some(step) => return step_action(step, prog),
                            None => {
                                self.finish_task(c as u64);
                                self.world.free_slots.push(slot as u32);
                                self.world.slot_of[c as usize] = NO_SLOT;
                                self.world.outstanding -= 1;
                                m.stage = Stage::Loop {
                                    current: None,
                                    resume_due: false,
                                };
                                continue;
                            }
                        }
                    }
                    if self.world.outstanding == 0 {
                        m.stage = Stage::Teardown;
                        continue;
                    }
                    match self.take_inbox(t) {
                        Some(Item::Coro(c)) => {
                            if self.world.slot_of[c as usize] == NO_SLOT {
                                let runner = self.start_task(c as u64, t);
                                let slot = match self.world.free_slots.pop() {
                                    Some(s) => {
                                        self.world.slots[s as usize] = runner;
                                        s
                                    }
                                    None => {
                                        self.world.slots.push(runner);
                                        self.world.slots.len() as u32 - 1
                                    }
                                };
                                self.world.slot_of[c as usize] = slot;
                            }
                            m.stage = Stage::Loop {
                                current: Some(c),
                                resume_due: true,
                            };
                        }
                        _ => {
                            // The loop blocks in select(); I/O readiness wakes it (a
                            // kernel wake-up, paid only when it was idle).
                            return Action::Get {
                                q: self.world.ready_q,
                                wake: true,
                                state: State::Io,
                            };
                        }
                    }
                }
                Stage::Results { next } => {
                    if next == self.world.n_tasks {
                        self.world.expected_exits = self.world.started;
                        m.stage = Stage::Shutdown { sent: 0 };
                        continue;
                    }
                    let _ = self.take_inbox(t);
                    if self.world.finished[next as usize] {
                        // fut.result() returns at once: the rest of the per-task cost,
                        // holding the GIL (which a woken main thread must take back first).
                        m.stage = Stage::Results { next: next + 1 };
                        return Action::Compute {
                            work: self.world.executor.result,
                            gil: true,
                            state: State::Dispatch,
                        };
                    }
                    // Blocked in fut.result(): woken by that future's set_result.
                    self.world.awaiting = Some(next);
                    return Action::Get {
                        q: self.world.done_q,
                        wake: true,
                        state: State::Idle,
                    };
                }
                Stage::AwaitDone => match self.take_inbox(t) {
                    Some(Item::Done) => {
                        // Only Pool.map waits here: its workers and two handler threads.
                        self.world.expected_exits = self.workers + 2;
                        m.stage = Stage::Shutdown { sent: 0 };
                    }
                    _ => {
                        return Action::Get {
                            q: self.world.done_q,
                            wake: true,
                            state: State::Idle,
                        }
                    }
                },
                Stage::Shutdown { sent } => {
                    m.stage = Stage::Shutdown { sent: sent + 1 };
                    if m.strategy == Strategy::Threads {
                        if sent < self.world.started {
                            return Action::Put {
                                q: self.world.work_q,
                                item: Item::Sentinel,
                            };
                        }
                    } else if sent < self.workers {
                        return Action::Deliver {
                            q: self.world.in_q,
                            item: Item::Sentinel,
                            after: py.ipc_latency,
                        };
                    } else if sent == self.workers {
                        return Action::Put {
                            q: self.world.task_q,
                            item: Item::Sentinel,
                        };
                    } else if sent == self.workers + 1 {
                        return Action::Put {
                            q: self.world.out_q,
                            item: Item::Sentinel,
                        };
                    }
                    m.stage = if self.world.expected_exits == 0 {
                        Stage::Teardown
                    } else {
                        Stage::Join
                    };
                }
                Stage::Join => match self.take_inbox(t) {
                    Some(Item::Done) => m.stage = Stage::Teardown,
                    _ => {
                        return Action::Get {
                            q: self.world.join_q,
                            wake: true,
                            state: State::Idle,
                        }
                    }
                },
                Stage::Teardown => {
                    if m.runner.is_none() {
                        self.world.teardown_start = Some(self.now);
                    }
                    let runner = m.runner.get_or_insert_with(|| {
                        self.world.runner(Prog::Teardown, rng::TEARDOWN_STREAM)
                    });
                    if let Some(step) = self.world.step(runner) {
                        return step_action(step, runner.prog);
                    }
                    m.runner = None;
                    m.stage = Stage::End;
                }
                Stage::End => return Action::Exit,
            }
        }
    }

    fn worker_next(&mut self, t: ThreadId, w: &mut Worker) -> Action {
        // A step of the running task is nearly every call: it stays small, the rest is out
        // of line (inlined, the rest's stack frame and register saves were paid per step).
        if let Some((_, runner)) = &mut w.current {
            if let Some(step) = self.world.step(runner) {
                return step_action(step, runner.prog);
            }
        }
        self.worker_between_tasks(t, w)
    }

    /// A worker whose task's program has just ended (or that has none): finishes it,
    /// releases the idle semaphore, and takes the next task, returning that task's first
    /// step, or waits for one.
    #[inline(never)]
    fn worker_between_tasks(&mut self, t: ThreadId, w: &mut Worker) -> Action {
        loop {
            if let Some(&(i, _)) = w.current.as_ref() {
                w.current = None;
                self.finish_task(i);
                self.world.completed += 1;
                self.world.finished[i as usize] = true;
                w.release = 1;
                if self.world.awaiting == Some(i) {
                    // set_result notifies the main thread waiting on this future.
                    self.world.awaiting = None;
                    return Action::Put {
                        q: self.world.done_q,
                        item: Item::Task(task_id(i)),
                    };
                }
            }
            // executor._idle_semaphore.release(): `with self._cond: self._value += 1; …`
            // (no lock when its hold is zero: CPython >= 3.12 skips it while work is queued).
            let hold = self.world.executor.worker_hold;
            match w.release {
                0 => {}
                1 if !hold.is_zero() => {
                    w.release = 2;
                    return Action::Acquire(self.world.idle_lock);
                }
                2 => {
                    w.release = 3;
                    return Action::Compute {
                        work: hold,
                        gil: true,
                        state: State::Dispatch,
                    };
                }
                3 => {
                    w.release = 0;
                    self.world.idle += 1;
                    return Action::Release(self.world.idle_lock);
                }
                _ => {
                    w.release = 0;
                    self.world.idle += 1;
                }
            }
            match self.take_inbox(t) {
                Some(Item::Task(i)) => {
                    let i = u64::from(i);
                    let mut runner = self.start_task(i, t);
                    let first = self.world.step(&mut runner);
                    let prog = runner.prog;
                    w.current = Some((i, runner));
                    if let Some(step) = first {
                        return step_action(step, prog);
                    }
                    // An empty program: the task ends at once (the loop finishes it).
                }
                Some(Item::Sentinel) => return self.exit_worker(t),
                _ => {
                    return Action::Get {
                        q: self.world.work_q,
                        wake: true,
                        state: State::Idle,
                    }
                }
            }
        }
    }

    #[inline(never)]
    fn task_handler_next(&mut self, t: ThreadId, h: &mut TaskHandler) -> Action {
        let payload = self.experiment.job.payload;
        loop {
            if h.sending {
                let Some(&(first, len)) = self.world.chunks.get(h.chunk as usize) else {
                    h.sending = false;
                    continue;
                };
                let bytes = payload.saturating_mul(len as u64);
                h.sub += 1;
                match h.sub {
                    1 => {
                        for i in first..first + len as u64 {
                            self.out.tasks[i as usize].submit = self.now;
                        }
                        return Action::Compute {
                            work: self.scenario.python.dispatch.processes,
                            gil: true,
                            state: State::Dispatch,
                        };
                    }
                    2 => {
                        return Action::Compute {
                            work: self.world.pickle_time(bytes),
                            gil: true,
                            state: State::Pickle,
                        }
                    }
                    _ => {
                        h.sub = 0;
                        h.chunk += 1;
                        return Action::Send {
                            q: self.world.in_q,
                            item: Item::Chunk(h.chunk - 1),
                            bytes,
                            // Blocked on a full pipe, the handler waits for a worker to be
                            // free: the workers are the limit, not the pipe.
                            blocked: State::Idle,
                        };
                    }
                }
            }
            match self.take_inbox(t) {
                Some(Item::Map) => {
                    h.sending = true;
                    h.chunk = 0;
                    h.sub = 0;
                }
                Some(Item::Sentinel) => return self.exit_worker(t),
                _ => {
                    return Action::Get {
                        q: self.world.task_q,
                        wake: true,
                        state: State::Idle,
                    }
                }
            }
        }
    }

    #[inline(never)]
    fn result_handler_next(&mut self, t: ThreadId, pending: &mut Option<u32>) -> Action {
        if let Some(c) = pending.take() {
            // The chunk just unpickled: its results are in.
            let (_, len) = self.world.chunks[c as usize];
            self.world.completed += len as u64;
            if self.world.completed == self.world.n_tasks {
                return Action::Put {
                    q: self.world.done_q,
                    item: Item::Done,
                };
            }
        }
        match self.take_inbox(t) {
            Some(Item::Chunk(c)) => {
                *pending = Some(c);
                let (_, len) = self.world.chunks[c as usize];
                let bytes = self.experiment.job.result.saturating_mul(len as u64);
                Action::Compute {
                    work: self.world.pickle_time(bytes),
                    gil: true,
                    state: State::Pickle,
                }
            }
            Some(Item::Sentinel) => self.exit_worker(t),
            _ => Action::Get {
                q: self.world.out_q,
                wake: true,
                state: State::Idle,
            },
        }
    }

    /// A helper process: starts up (a fresh interpreter), says so if it is the forkserver,
    /// then waits for requests for the rest of the run (none are modelled).
    #[inline(never)]
    fn helper_next(&mut self, t: ThreadId, helper: Helper, started: &mut bool) -> Action {
        let costs = &self.scenario.python.helper_start;
        if !*started {
            *started = true;
            return Action::Compute {
                work: match helper {
                    Helper::ResourceTracker => costs.resource_tracker,
                    Helper::Forkserver => costs.forkserver,
                },
                gil: true,
                state: State::Spawn,
            };
        }
        let park = Action::Get {
            q: self.world.park_q,
            wake: false,
            state: State::Idle,
        };
        if helper == Helper::Forkserver {
            self.threads[t as usize].then = Some(park);
            return Action::Put {
                q: self.world.helper_q,
                item: Item::Done,
            };
        }
        park
    }

    #[inline(never)]
    fn pool_worker_next(&mut self, t: ThreadId, w: &mut PoolWorker) -> Action {
        let job = &self.experiment.job;
        let py = &self.scenario.python;
        if !w.started {
            w.started = true;
            let start = py.process_start.of(self.experiment.start_method);
            return Action::Compute {
                work: start,
                gil: true,
                state: State::Spawn,
            };
        }
        loop {
            if let Some(c) = w.chunk {
                let (first, len) = self.world.chunks[c as usize];
                match w.sub {
                    0 => {
                        // The worker's side of one message (receive, look the call up),
                        // then unpickling the chunk.
                        w.sub = 1;
                        self.threads[t as usize].then = Some(Action::Compute {
                            work: self
                                .world
                                .pickle_time(job.payload.saturating_mul(len as u64)),
                            gil: true,
                            state: State::Pickle,
                        });
                        return Action::Compute {
                            work: py.pool_worker,
                            gil: true,
                            state: State::Dispatch,
                        };
                    }
                    1 => {
                        if let Some((i, runner)) = &mut w.task {
                            if let Some(step) = self.world.step(runner) {
                                return step_action(step, runner.prog);
                            }
                            let i = *i;
                            w.task = None;
                            self.finish_task(i);
                            w.k += 1;
                        }
                        if w.k < len {
                            let i = first + w.k as u64;
                            let runner = self.start_task(i, t);
                            w.task = Some((i, runner));
                        } else {
                            w.sub = 2;
                        }
                    }
                    2 => {
                        w.sub = 3;
                        return Action::Compute {
                            work: self
                                .world
                                .pickle_time(job.result.saturating_mul(len as u64)),
                            gil: true,
                            state: State::Pickle,
                        };
                    }
                    _ => {
                        w.chunk = None;
                        return Action::Send {
                            q: self.world.out_q,
                            item: Item::Chunk(c),
                            bytes: job.result.saturating_mul(len as u64),
                            // Blocked on a full pipe, the worker waits for the parent's one
                            // result handler: time the worker loses to the pipe.
                            blocked: State::Ipc,
                        };
                    }
                }
                continue;
            }
            if w.exiting {
                return self.exit_worker(t);
            }
            match self.take_inbox(t) {
                Some(Item::Chunk(c)) => {
                    w.chunk = Some(c);
                    w.sub = 0;
                    w.k = 0;
                }
                Some(Item::Sentinel) => {
                    // The interpreter's finalisation, then the exit the joiner waits for.
                    let exit = py.process_exit.of(self.experiment.start_method);
                    if exit.is_zero() {
                        return self.exit_worker(t);
                    }
                    w.exiting = true;
                    return Action::Compute {
                        work: exit,
                        gil: true,
                        state: State::Spawn,
                    };
                }
                _ => {
                    return Action::Get {
                        q: self.world.in_q,
                        wake: true,
                        state: State::Idle,
                    }
                }
            }
        }
    }
}
