//! The Python program `gilsim validate --runtime python` runs: the scenario's experiments
//! as ordinary CPython code (DESIGN §5).
//!
//! - `cpu` steps are a pure-Python loop (`x ^= i`), holding the GIL; `gil = false` steps
//!   hash a buffer with `hashlib.sha256`, which releases the GIL for large inputs; both are
//!   calibrated at the start of each run (iterations and bytes per second), and passed to
//!   pool workers through `Pool(initializer=…)`.
//! - `io`, `net`, `disk` steps sleep for the duration gilsim derived (`time.sleep`, or
//!   `await asyncio.sleep` in a coroutine; `blocking = true` uses `time.sleep` there too);
//!   a `disk` write to the `ssd` is a real write of its bytes to a file of its own beside
//!   the program, then `os.fdatasync` (twice with `fsync = true`: the second after 4 KiB
//!   more — what `calibrate` times as the disk's latency), so concurrent writers really
//!   share this host's disk; any other `net` or `disk` step that moves bytes sleeps for
//!   its time *alone* on its disk or link — the sleeps share no device, so a validation
//!   cannot check how those share one (`validate` says so when they might),
//!   with the process's timer slack set to 1 ns (`prctl(PR_SET_TIMERSLACK)`): real I/O ends
//!   by an interrupt, and the model has no 50 µs of timer slack per wait.
//! - `threads` is `ThreadPoolExecutor(workers).map`, `processes` is
//!   `get_context(start_method).Pool(workers).map(…, chunksize)` then `close()`/`join()`,
//!   `asyncio` is `asyncio.gather` of one coroutine per task; setup and teardown run in
//!   the main thread; each task gets `payload` bytes and returns `result` bytes.
//! - Every task's durations are the ones gilsim drew from the scenario's seed, embedded in
//!   the program, so the prediction and the run do the same work.
//!
//! The program prints `{"experiment", "workers", "seconds"}`: the wall time from before
//! setup to after teardown, pool start-up and shutdown included.

use serde_json::{json, Value};

use crate::model::program::{Cursor, Step};
use crate::model::{Channel, Machine, Program, Scenario, StartMethod, Strategy, Transfer};
use crate::rng::{self, Stream};

/// Most steps a generated program may embed (the durations are written out one by one).
pub const MAX_STEPS: usize = 500_000;

fn steps(
    program: &Program,
    machine: &Machine,
    stream: Stream,
    asyncio: bool,
    count: &mut usize,
) -> Result<Value, String> {
    let mut cursor = Cursor::new(stream);
    let mut out = Vec::new();
    while let Some(step) = cursor.next_step(program) {
        *count += 1;
        if *count > MAX_STEPS {
            return Err(format!(
                "the scenario has more than {MAX_STEPS} steps; too large to validate (lower the repeats or task counts)"
            ));
        }
        let (kind, d) = match step {
            Step::Cpu { work, gil: true } => ("cpu", work),
            Step::Cpu { work, gil: false } => ("nogil", work),
            Step::Io { time, blocking } if blocking && asyncio => ("block", time),
            Step::Io { time, .. } => ("io", time),
            Step::Transfer { index, blocking } => {
                let xfer = program.transfer(index);
                if real_write(xfer, blocking || !asyncio) {
                    let kind = if xfer.tail.is_zero() {
                        "write"
                    } else {
                        "writef"
                    };
                    out.push(json!([kind, xfer.bytes as f64]));
                    continue;
                }
                // Its time alone on its channel: the sleeps share no device (module doc).
                let alone = xfer.alone(machine.channel_bandwidth(xfer.channel));
                (if blocking && asyncio { "block" } else { "io" }, alone)
            }
        };
        out.push(json!([kind, d.as_secs_f64()]));
    }
    Ok(Value::Array(out))
}

/// Whether the runtimes run a transfer for real: a write to the `ssd` (the host's disk, as
/// `calibrate` measures it) made by a thread that blocks in it — `["write", bytes]`, or
/// `["writef", bytes]` with `fsync`. Everything else, an awaited write in a coroutine
/// included (Python has no awaitable file write), is a sleep.
pub fn real_write(xfer: &Transfer, blocking: bool) -> bool {
    xfer.write && xfer.channel == Channel::Ssd && blocking
}

/// The experiments as data: per experiment its strategy, pool settings, and every step of
/// setup, teardown and each task with the durations gilsim drew. Both runtimes run this.
pub fn plan(scenario: &Scenario) -> Result<Value, String> {
    let mut map = serde_json::Map::new();
    let mut count = 0usize;
    for e in &scenario.experiments {
        let asyncio = e.strategy == Strategy::Asyncio;
        let mut tasks = Vec::new();
        let mut index = 0u64;
        for &(kind, n) in &e.job.tasks {
            for _ in 0..n {
                let program = &scenario.kinds[kind].program;
                tasks.push(steps(
                    program,
                    &scenario.machine,
                    Stream::new(scenario.seed, index),
                    asyncio,
                    &mut count,
                )?);
                index += 1;
            }
        }
        map.insert(
            e.name.clone(),
            json!({
                "strategy": e.strategy.name(),
                "start_method": match e.start_method {
                    StartMethod::Fork => "fork",
                    StartMethod::Forkserver => "forkserver",
                    StartMethod::Spawn => "spawn",
                },
                "chunksize": e.chunksize,
                "payload": e.job.payload,
                "result": e.job.result,
                "setup": steps(&e.job.setup, &scenario.machine, Stream::new(scenario.seed, rng::SETUP_STREAM), false, &mut count)?,
                "teardown": steps(&e.job.teardown, &scenario.machine, Stream::new(scenario.seed, rng::TEARDOWN_STREAM), false, &mut count)?,
                "tasks": tasks,
            }),
        );
    }
    Ok(Value::Object(map))
}

/// A Python string literal for any text (ASCII only: other characters as \u/\U escapes).
pub fn py_str(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            ' '..='~' => out.push(c),
            c if (c as u32) <= 0xFFFF => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push_str(&format!("\\U{:08x}", c as u32)),
        }
    }
    out.push('"');
    out
}

/// The whole program.
pub fn program(scenario: &Scenario, source: &str) -> Result<String, String> {
    if !scenario.python.gil
        && scenario
            .experiments
            .iter()
            .any(|e| e.strategy == Strategy::Threads)
    {
        return Err(
            "python.gil = false needs a free-threaded CPython; the python runtime runs \
                    python3 as installed (the native runtime can run it)"
                .into(),
        );
    }
    let data = py_str(&serde_json::to_string(&plan(scenario)?).expect("plain JSON"));
    let interval = scenario.python.switch_interval.as_secs_f64();
    Ok(format!(
        r#"#!/usr/bin/env python3
"""{name}: the experiments of {source} as plain Python, generated by `gilsim validate`.

    python3 THIS_FILE --list                          the experiments
    python3 THIS_FILE --experiment NAME --workers N   run one; prints its wall time as JSON

cpu steps are a pure-Python loop (holds the GIL), gil = false steps hash a buffer with
hashlib (releases the GIL), disk writes to the ssd write to this host's disk, other I/O
steps sleep; the durations are the ones gilsim drew.
"""
import hashlib
import json
import multiprocessing as mp
import os
import sys
import time

# asyncio, concurrent.futures and argparse are imported where they are used: spawn and
# forkserver workers import this module, and their start-up should be Python's, not this
# program's.

DATA = {data}
EXPERIMENTS = None  # parsed by the main process only: spawn and forkserver workers import
                    # this module, and parsing every step of every task there would make
                    # their start-up this program's, not Python's


def _asyncio():
    import asyncio
    return asyncio


def experiments():
    global EXPERIMENTS
    if EXPERIMENTS is None:
        EXPERIMENTS = json.loads(DATA)
    return EXPERIMENTS
SWITCH_INTERVAL = {interval:?}

SPIN_RATE = None  # loop iterations per second, measured at start-up
HASH_RATE = None  # bytes hashed per second
BUF = bytes(1 << 20)


def _spin(n):
    # x ^= i, not x += i: a sum passes 2**30 after 46,341 iterations and CPython's int
    # addition leaves its one-digit fast path, so a long loop ran ~12 % slower per
    # iteration than the short loops that calibrated it (docs/decisions.md).
    x = 0
    for i in range(n):
        x ^= i
    return x


def calibrate():
    """Measure the loop and hashing speed on each CPU this process may use (pinned to it in
    turn): the median of five runs of 10**6 iterations per CPU (about as long as a typical
    step), combined as the harmonic mean. A step must be as much work as its duration on an
    average core: the machine's speed swings, and the CPUs of a VM need not be equally fast
    (workers often run on another one)."""
    global SPIN_RATE, HASH_RATE
    n = 1_000_000
    cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else [None]
    spin, hashed = [], []
    for cpu in cpus:
        if cpu is not None:
            os.sched_setaffinity(0, {{cpu}})
        spin.append(n / _median([_timed(_spin, n) for _ in range(5)]))
        t = _median([_timed(lambda _: hashlib.sha256(BUF).digest(), None) for _ in range(9)])
        hashed.append(len(BUF) / t)
    if cpus[0] is not None:
        os.sched_setaffinity(0, set(cpus))
    SPIN_RATE = len(spin) / sum(1 / r for r in spin)
    HASH_RATE = len(hashed) / sum(1 / r for r in hashed)


def _median(xs):
    return sorted(xs)[len(xs) // 2]


def _timed(f, arg):
    t = time.perf_counter()
    f(arg)
    return time.perf_counter() - t


def no_timer_slack():
    """I/O steps are sleeps, but real I/O completes by an interrupt: without this, Linux
    adds its 50 us timer slack to every sleep (prctl PR_SET_TIMERSLACK; threads and forked
    processes inherit it). Elsewhere a no-op."""
    if sys.platform.startswith("linux"):
        try:
            import ctypes
            ctypes.CDLL(None).prctl(29, 1, 0, 0, 0)  # PR_SET_TIMERSLACK, 1 ns
        except (OSError, AttributeError):
            pass


def _init(spin_rate, hash_rate, write=0):
    global SPIN_RATE, HASH_RATE
    SPIN_RATE, HASH_RATE = spin_rate, hash_rate
    if write:
        disk_buffer(write)
    sys.setswitchinterval(SWITCH_INTERVAL)
    no_timer_slack()


def cpu(seconds):
    _spin(int(seconds * SPIN_RATE))


def nogil(seconds):
    left = int(seconds * HASH_RATE)
    view = memoryview(BUF)
    while left > 0:
        n = min(left, len(BUF))
        hashlib.sha256(view[:n]).digest()
        left -= n


DISK_DIR = os.path.dirname(os.path.abspath(__file__))  # where `validate` writes: its output
DISK_BUF = None
_fdatasync = getattr(os, "fdatasync", os.fsync)  # macOS has no fdatasync


def disk_buffer(nbytes):
    """The bytes disk writes write (at least nbytes and 4 KiB), filled as calibrate's."""
    global DISK_BUF
    if DISK_BUF is None or len(DISK_BUF) < max(nbytes, 4096):
        DISK_BUF = memoryview(b"\x01" * max(nbytes, 4096))


def largest_write(exp):
    steps = [s for t in exp["tasks"] for s in t] + exp["setup"] + exp["teardown"]
    return int(max((n for kind, n in steps if kind in ("write", "writef")), default=0))


def disk_write(nbytes, fsync):
    """A real write of nbytes to a file of this thread's own beside the program, then
    fdatasync (the calibrated disk: a 4 KiB write + fdatasync is its latency, a large one
    its bandwidth); with fsync, 4 KiB more and a second fdatasync. The file is removed."""
    nbytes = int(nbytes)
    disk_buffer(nbytes)  # made before the clock starts (run, _init); here only if not
    import threading
    path = os.path.join(DISK_DIR, f".gilsim-write-{{os.getpid()}}-{{threading.get_ident()}}")
    with open(path, "wb", buffering=0) as f:
        # One call, as the step is one blocking call: a loop of smaller writes would take
        # the GIL back between them, and wait for it behind the threads running Python.
        f.write(DISK_BUF[:nbytes])
        _fdatasync(f.fileno())
        if fsync:
            f.write(DISK_BUF[:4096])
            _fdatasync(f.fileno())
    os.unlink(path)


def run_steps(steps):
    for kind, seconds in steps:
        if kind == "cpu":
            cpu(seconds)
        elif kind == "nogil":
            nogil(seconds)
        elif kind == "write" or kind == "writef":
            disk_write(seconds, kind == "writef")  # seconds: bytes, for a write
        else:
            time.sleep(seconds)


def pool_task(arg):
    steps, payload, result = arg
    run_steps(steps)
    return bytes(result)


async def coroutine(steps):
    for kind, seconds in steps:
        if kind == "cpu":
            cpu(seconds)
        elif kind == "nogil":
            nogil(seconds)
        elif kind == "io":
            await _asyncio().sleep(seconds)
        elif kind == "write" or kind == "writef":
            disk_write(seconds, kind == "writef")  # a blocking write inside a coroutine
        else:
            time.sleep(seconds)  # a blocking call inside a coroutine


async def gather(tasks):
    await _asyncio().gather(*(coroutine(t) for t in tasks))


def run(name, workers):
    exp = experiments()[name]
    tasks = exp["tasks"]
    # Imported before the clock starts, as a program would at its top (Pool imports these
    # at its first use; gilsim's Pool start costs are measured with them imported).
    from concurrent.futures import ThreadPoolExecutor
    import multiprocessing.connection, multiprocessing.pool, multiprocessing.queues
    import multiprocessing.synchronize
    from multiprocessing import popen_fork, popen_forkserver, popen_spawn_posix
    _asyncio()
    write = largest_write(exp)
    if write:
        disk_buffer(write)
    start = time.perf_counter()
    run_steps(exp["setup"])
    if exp["strategy"] == "serial":
        for t in tasks:
            run_steps(t)
    elif exp["strategy"] == "threads":
        with ThreadPoolExecutor(workers) as ex:
            list(ex.map(run_steps, tasks))
    elif exp["strategy"] == "processes":
        ctx = mp.get_context(exp["start_method"])
        pool = ctx.Pool(workers, initializer=_init, initargs=(SPIN_RATE, HASH_RATE, write))
        payload = bytes(exp["payload"])
        args = [(t, payload, exp["result"]) for t in tasks]
        if exp["chunksize"] is None:
            pool.map(pool_task, args)
        else:
            pool.map(pool_task, args, exp["chunksize"])
        pool.close()
        pool.join()
    else:
        _asyncio().run(gather(tasks))
    run_steps(exp["teardown"])
    return time.perf_counter() - start


def main():
    import argparse
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--experiment")
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--list", action="store_true")
    a = p.parse_args()
    if a.list or not a.experiment:
        print("\n".join(experiments()))
        return
    sys.setswitchinterval(SWITCH_INTERVAL)
    no_timer_slack()
    calibrate()
    seconds = run(a.experiment, a.workers)
    print(json.dumps({{"experiment": a.experiment, "workers": a.workers, "seconds": seconds}}))


if __name__ == "__main__":
    main()
"#,
        name = scenario.name.replace('"', "'").replace('\\', "/"),
        source = source.replace('"', "'").replace('\\', "/"),
    ))
}
