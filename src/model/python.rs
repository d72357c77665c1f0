//! The validated `[python]` table: the GIL and CPython's concurrency costs.

use toml::Spanned;

use crate::error::ScenarioError;
use crate::scenario::RawPython;
use crate::time::SimDuration;

use super::Ctx;

/// A cost per start method: of starting one worker process (in the child, or the parent's
/// share in the parent), of its exit, or of setting up one Pool.
#[derive(Debug, Clone, PartialEq)]
pub struct StartCosts {
    /// `fork`: copy-on-write clone of the parent.
    pub fork: SimDuration,
    /// `forkserver`: fork of a pre-started server process.
    pub forkserver: SimDuration,
    /// `spawn`: a fresh interpreter that imports the main module.
    pub spawn: SimDuration,
}

impl StartCosts {
    /// The cost for `method`.
    pub fn of(&self, method: super::StartMethod) -> SimDuration {
        match method {
            super::StartMethod::Fork => self.fork,
            super::StartMethod::Forkserver => self.forkserver,
            super::StartMethod::Spawn => self.spawn,
        }
    }

    /// The cost for `method`, to set.
    pub fn of_mut(&mut self, method: super::StartMethod) -> &mut SimDuration {
        match method {
            super::StartMethod::Fork => &mut self.fork,
            super::StartMethod::Forkserver => &mut self.forkserver,
            super::StartMethod::Spawn => &mut self.spawn,
        }
    }

    /// The same cost for every method.
    pub const fn all(cost: SimDuration) -> Self {
        StartCosts {
            fork: cost,
            forkserver: cost,
            spawn: cost,
        }
    }
}

/// CPU time of the helper processes `multiprocessing` starts once per program (each a
/// fresh interpreter, running alongside the parent and its workers):
///
/// - `resource_tracker`: started by the first `spawn` or `forkserver` Pool (its queues'
///   named semaphores are registered with it; `fork` unlinks them at once and starts none);
/// - `forkserver`: the server process, which imports the main module; the parent's first
///   `Process.start()` blocks until the server has forked the child.
///
/// Measured (CPython 3.11.7, the project's 2-vCPU VM, `/proc/PID/stat` after start-up):
/// tracker 60–80 ms, server 70–80 ms of CPU, against 108–133 ms for a whole Pool(1) with
/// spawn once both helpers ran (docs/decisions.md).
#[derive(Debug, Clone, PartialEq)]
pub struct HelperStart {
    /// `multiprocessing.resource_tracker`'s process.
    pub resource_tracker: SimDuration,
    /// `multiprocessing.forkserver`'s server process.
    pub forkserver: SimDuration,
}

/// Per-task bookkeeping cost of each strategy (paid holding the GIL).
#[derive(Debug, Clone, PartialEq)]
pub struct Dispatch {
    /// `ThreadPoolExecutor.submit`: future, work item, queue put.
    pub threads: SimDuration,
    /// One `multiprocessing.Pool` message (a chunk of tasks) in the parent: the task
    /// handler's send and the result handler's receive, paid in the task handler thread
    /// (the worker's side is [`Python::pool_worker`]).
    pub processes: SimDuration,
    /// One resume of a coroutine by the event loop.
    pub asyncio: SimDuration,
}

/// How long `ThreadPoolExecutor`'s `_idle_semaphore` keeps its lock (a
/// `threading.Condition(Lock())`) held, holding the GIL. The lock is what makes short tasks
/// fall into a lock convoy: a thread forced off the GIL inside it keeps it, the next thread
/// to need it blocks and gives the GIL away, and from then on the GIL can change hands at
/// every task (`docs/decisions.md`). Both are part of `dispatch.threads`, not added to it.
#[derive(Debug, Clone, PartialEq)]
pub struct ExecutorLock {
    /// `_adjust_thread_count`'s `acquire(timeout=0)` in every `submit` (main thread).
    pub submit: SimDuration,
    /// The worker's `release()` after every task: CPython ≤ 3.11; from 3.12 only when the
    /// queue is empty (gh-102024), which `calibrate` records as 0.
    pub done: SimDuration,
}

/// CPython's runtime as the scenario sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct Python {
    /// `false` is a free-threaded build (PEP 703): no GIL at all.
    pub gil: bool,
    /// `sys.setswitchinterval`: how long a waiter waits before asking for the GIL.
    pub switch_interval: SimDuration,
    /// `threading.Thread.start()` until the new thread runs.
    pub thread_start: SimDuration,
    /// Worker process start, per start method: in the child, its interpreter's start up to
    /// the worker loop.
    pub process_start: StartCosts,
    /// The parent's share of starting one worker, holding its GIL, one worker after
    /// another: `Process.start()` — `os.fork()`, or launching the interpreter and sending
    /// it the preparation data (spawn), or asking the server (forkserver). An addition to
    /// DESIGN §2 (docs/decisions.md, "Pool start").
    pub process_start_parent: StartCosts,
    /// A worker's exit, in the child once it gets its sentinel, holding its GIL: the
    /// interpreter's finalisation. An addition to DESIGN §2 (docs/decisions.md, "Pool start").
    pub process_exit: StartCosts,
    /// Once per Pool, in the parent holding its GIL: Pool's queues and locks, and the rest
    /// of one Pool's start and shutdown that the other costs do not count. An addition to
    /// DESIGN §2 (docs/decisions.md, "Pool start").
    pub pool_setup: StartCosts,
    /// Helper processes started once per program (spawn and forkserver).
    pub helper_start: HelperStart,
    /// `pickle.dumps`/`loads` throughput, bytes per second.
    pub pickle: f64,
    /// Pipe bandwidth between processes, bytes per second: how long a message takes through
    /// a pipe, end to end.
    pub ipc: f64,
    /// Of that time, the CPU each end spends copying, as bytes per CPU-second (at least
    /// `ipc`: a copy cannot take longer than the transfer); `None`: all of it
    /// (`docs/decisions.md`, "Pipe copies: CPU and waiting").
    pub ipc_cpu: Option<f64>,
    /// One message across a pipe.
    pub ipc_latency: SimDuration,
    /// Per-task dispatch costs.
    pub dispatch: Dispatch,
    /// One `multiprocessing.Pool` message in the worker, holding its GIL: receiving and
    /// unpickling the call, looking the function up, sending the result back. Paid in
    /// another process than `dispatch.processes`, so added to it, not part of it: on two
    /// cores the workers and the parent compete for the same CPUs (docs/decisions.md).
    pub pool_worker: SimDuration,
    /// ThreadPoolExecutor's idle-semaphore lock, held within `dispatch.threads`.
    pub executor_lock: ExecutorLock,
}

/// Applies `[python]` over the preset's values.
pub(super) fn build(
    ctx: &mut Ctx,
    mut p: Python,
    raw: Option<&Spanned<RawPython>>,
) -> Result<Python, ScenarioError> {
    let Some(raw) = raw.map(Spanned::get_ref) else {
        return Ok(p);
    };
    if let Some(g) = &raw.gil {
        p.gil = *g.get_ref();
    }
    if let Some(d) = &raw.switch_interval {
        p.switch_interval = ctx.positive_duration(d, "switch_interval")?;
    }
    if let Some(d) = &raw.thread_start {
        p.thread_start = ctx.duration(d)?;
    }
    for (raw, costs) in [
        (&raw.process_start, &mut p.process_start),
        (&raw.process_start_parent, &mut p.process_start_parent),
        (&raw.process_exit, &mut p.process_exit),
        (&raw.pool_setup, &mut p.pool_setup),
    ] {
        if let Some(s) = raw {
            durations(
                ctx,
                [
                    (&s.fork, &mut costs.fork),
                    (&s.forkserver, &mut costs.forkserver),
                    (&s.spawn, &mut costs.spawn),
                ],
            )?;
        }
    }
    if let Some(h) = &raw.helper_start {
        durations(
            ctx,
            [
                (&h.resource_tracker, &mut p.helper_start.resource_tracker),
                (&h.forkserver, &mut p.helper_start.forkserver),
            ],
        )?;
    }
    if let Some(r) = &raw.pickle {
        p.pickle = ctx.rate(r)?;
    }
    if let Some(r) = &raw.ipc {
        p.ipc = ctx.rate(r)?;
    }
    if let Some(r) = &raw.ipc_cpu {
        p.ipc_cpu = Some(ctx.rate(r)?);
    }
    if let Some(d) = &raw.ipc_latency {
        p.ipc_latency = ctx.duration(d)?;
    }
    if let Some(d) = &raw.dispatch {
        durations(
            ctx,
            [
                (&d.threads, &mut p.dispatch.threads),
                (&d.processes, &mut p.dispatch.processes),
                (&d.asyncio, &mut p.dispatch.asyncio),
            ],
        )?;
    }
    if let Some(d) = &raw.pool_worker {
        p.pool_worker = ctx.duration(d)?;
    }
    if let Some(l) = &raw.executor_lock {
        durations(
            ctx,
            [
                (&l.submit, &mut p.executor_lock.submit),
                (&l.done, &mut p.executor_lock.done),
            ],
        )?;
    }
    Ok(p)
}

/// Sets each slot whose key the table gives (the keys of one inline table).
fn durations<const N: usize>(
    ctx: &mut Ctx,
    keys: [(&Option<Spanned<String>>, &mut SimDuration); N],
) -> Result<(), ScenarioError> {
    for (value, slot) in keys {
        if let Some(v) = value {
            *slot = ctx.duration(v)?;
        }
    }
    Ok(())
}
