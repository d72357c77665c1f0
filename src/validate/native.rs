//! The native runtime of `gilsim validate --runtime native`: the scenario's experiments run
//! by Rust threads and child processes, for hosts without Python (DESIGN §5).
//!
//! It is a stand-in for CPython that keeps what the model is about and nothing else:
//!
//! - **A real GIL.** [`Gil`] is CPython 3.11's `Python/ceval_gil.c` protocol on a mutex and
//!   two condition variables: a waiter sleeps for `switch_interval`, sets the drop request
//!   only if the GIL has not changed hands meanwhile (`switch_number`), the holder checks
//!   the request between short slices of work (the eval breaker) and drops, and a thread
//!   that dropped because of the request waits until another thread has taken the GIL
//!   (forced switching).
//! - **Calibrated work.** A `cpu` step spins a loop for as many iterations as the step's
//!   duration takes on an idle core (measured at the start of each run), holding the GIL
//!   and checking the drop request every microsecond or so; a `gil = false` step spins
//!   the same loop without the GIL; I/O steps release the GIL and `sleep`.
//! - **threads** is a ThreadPoolExecutor: the same queue, the same rule for starting a
//!   thread (on submit, unless one is idle), `Thread.start()` waiting until the thread
//!   runs, `map`'s results taken future by future, shutdown joining every thread.
//! - **processes** is a `multiprocessing.Pool`: `workers` child processes (this binary
//!   re-executed as `gilsim native-worker`) read chunks from one shared pipe under a lock
//!   (`Pool`'s inqueue and its read lock) and write results to another; a task-handler
//!   thread in the parent encodes chunks (copying `payload` bytes per task: the pickling),
//!   a result-handler thread decodes them, both holding the parent's GIL while they do.
//!   There is no fork here, so every start method is the same re-execution.
//! - **asyncio** is an event loop: a ready queue and a timer heap; awaited I/O is a timer,
//!   `blocking = true` I/O sleeps in the loop's thread.
//!
//! Costs that belong to CPython's interpreter (thread start, per-task dispatch, pickling)
//! are *not* imitated: the native runtime has its own, much smaller ones, and
//! [`measure_costs`] measures them so that the prediction is made for the runtime that
//! actually runs — what is validated is the model of scheduling, the GIL, processes and
//! pipes, not CPython's constants.

use std::collections::{BinaryHeap, VecDeque};
use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::affinity;
use crate::host::measure;
use serde::Deserialize;

/// The file the parent writes for its runs: the switch interval and every experiment.
#[derive(Debug, Deserialize)]
pub struct Data {
    /// `sys.setswitchinterval`, seconds.
    pub switch_interval: f64,
    /// Whether the runtime has a GIL (`python.gil`).
    pub gil: bool,
    /// Experiments by name, as [`super::python`] describes them.
    pub experiments: serde_json::Map<String, serde_json::Value>,
}

/// One experiment: what `super::python::plan` writes.
#[derive(Debug, Deserialize)]
struct Plan {
    strategy: String,
    chunksize: Option<u32>,
    payload: u64,
    result: u64,
    setup: Vec<(String, f64)>,
    teardown: Vec<(String, f64)>,
    tasks: Vec<Vec<(String, f64)>>,
}

/// One step of a task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    /// Python code: holds the GIL.
    Cpu(Duration),
    /// Native code that releases the GIL.
    NoGil(Duration),
    /// Awaitable I/O (a sleep; a timer in the event loop).
    Io(Duration),
    /// I/O that blocks the thread even in a coroutine.
    Block(Duration),
    /// A real write of `bytes` to the disk, then fdatasync (twice, 4 KiB apart, with
    /// `fsync`): see [`disk_write`].
    Write { bytes: u64, fsync: bool },
}

impl Op {
    fn parse(kind: &str, seconds: f64) -> Result<Op, String> {
        if kind == "write" || kind == "writef" {
            // The number is the bytes, for a write (python::real_write).
            if !(seconds.is_finite() && seconds >= 0.0) {
                return Err(format!("bad write size {seconds}"));
            }
            return Ok(Op::Write {
                bytes: seconds as u64,
                fsync: kind == "writef",
            });
        }
        let d = Duration::try_from_secs_f64(seconds)
            .map_err(|_| format!("bad step duration {seconds}"))?;
        Ok(match kind {
            "cpu" => Op::Cpu(d),
            "nogil" => Op::NoGil(d),
            "io" => Op::Io(d),
            "block" => Op::Block(d),
            other => return Err(format!("unknown step kind \"{other}\"")),
        })
    }

    fn code(self) -> (u8, Duration) {
        match self {
            Op::Cpu(d) => (0, d),
            Op::NoGil(d) => (1, d),
            Op::Io(d) => (2, d),
            Op::Block(d) => (3, d),
            // On the wire a write's bytes travel as the duration's nanoseconds.
            Op::Write { bytes, fsync } => (4 + u8::from(fsync), Duration::from_nanos(bytes)),
        }
    }

    fn from_code(code: u8, d: Duration) -> Result<Op, String> {
        Ok(match code {
            0 => Op::Cpu(d),
            1 => Op::NoGil(d),
            2 => Op::Io(d),
            3 => Op::Block(d),
            4 | 5 => Op::Write {
                bytes: u64::try_from(d.as_nanos()).map_err(|_| "bad write size".to_string())?,
                fsync: code == 5,
            },
            _ => return Err(format!("bad step code {code}")),
        })
    }
}

fn ops(steps: &[(String, f64)]) -> Result<Vec<Op>, String> {
    steps.iter().map(|(k, s)| Op::parse(k, *s)).collect()
}

// ---------------------------------------------------------------------------------------
// The GIL

/// Which thread holds or held the GIL (0: none yet).
pub type Token = u64;

#[derive(Debug)]
struct GilState {
    locked: bool,
    /// `gil->last_holder`.
    last_holder: Token,
    /// `gil->switch_number`: how many times the GIL has been taken.
    switch_number: u64,
}

/// CPython 3.11's GIL (`Python/ceval_gil.c`), with forced switching.
#[derive(Debug)]
pub struct Gil {
    enabled: bool,
    interval: Duration,
    state: Mutex<GilState>,
    /// `gil->cond`: waiters for the GIL.
    cond: Condvar,
    /// `gil->switch_cond`: a dropper waiting for someone else to take it.
    switch_cond: Condvar,
    /// `ceval2->gil_drop_request`: read by the holder without the mutex.
    drop_request: AtomicBool,
}

/// `take_gil`'s rule after one timed wait: ask the holder to drop only when the wait timed
/// out, the GIL is still held, and it has not changed hands since the wait began.
pub fn should_request_drop(timed_out: bool, locked: bool, saved: u64, switch_number: u64) -> bool {
    timed_out && locked && switch_number == saved
}

impl Gil {
    /// A free GIL with the given switch interval; `enabled = false` is a free-threaded
    /// build (taking and dropping do nothing).
    pub fn new(interval: Duration, enabled: bool) -> Gil {
        Gil {
            enabled,
            interval: interval.max(Duration::from_micros(1)),
            state: Mutex::new(GilState {
                locked: false,
                last_holder: 0,
                switch_number: 0,
            }),
            cond: Condvar::new(),
            switch_cond: Condvar::new(),
            drop_request: AtomicBool::new(false),
        }
    }

    /// True when a waiter has asked the holder to drop the GIL.
    pub fn drop_requested(&self) -> bool {
        self.drop_request.load(Ordering::Relaxed)
    }

    /// How many times the GIL has been taken.
    pub fn switch_number(&self) -> u64 {
        lock(&self.state).switch_number
    }

    /// `take_gil`: waits in intervals, asking for a drop after a full one without a switch.
    pub fn take(&self, me: Token) {
        if !self.enabled {
            return;
        }
        let mut s = lock(&self.state);
        while s.locked {
            let saved = s.switch_number;
            let (guard, result) = self
                .cond
                .wait_timeout(s, self.interval)
                .unwrap_or_else(|e| e.into_inner());
            s = guard;
            if should_request_drop(result.timed_out(), s.locked, saved, s.switch_number) {
                self.drop_request.store(true, Ordering::Relaxed);
            }
        }
        s.locked = true;
        s.last_holder = me;
        s.switch_number += 1;
        self.switch_cond.notify_all();
        self.drop_request.store(false, Ordering::Relaxed);
    }

    /// `drop_gil`: frees the GIL, wakes one waiter, and — when a drop was requested —
    /// waits until another thread has taken it (forced switching).
    pub fn release(&self, me: Token) {
        if !self.enabled {
            return;
        }
        let mut s = lock(&self.state);
        s.locked = false;
        self.cond.notify_one();
        if self.drop_request.load(Ordering::Relaxed) && s.last_holder == me {
            self.drop_request.store(false, Ordering::Relaxed);
            while s.last_holder == me {
                s = self.switch_cond.wait(s).unwrap_or_else(|e| e.into_inner());
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Work

#[inline(never)]
fn spin(iterations: u64) -> u64 {
    let mut x = 0u64;
    for i in 0..iterations {
        x = x.wrapping_add(std::hint::black_box(i));
    }
    std::hint::black_box(x)
}

/// Loop iterations per second on an average core: on each CPU this process may use
/// (pinned to it in turn), the median of fifteen ~1 ms runs; combined as the harmonic mean.
/// Not the best run: this VM's speed swings by 2× from one 10 ms to the next, and a step's
/// duration must turn into as much work as a core does *on average* in that time (the
/// best-of rule made every run slower than predicted; docs/decisions.md). Not one CPU:
/// this VM's two vCPUs differ by 4–9 %, and workers run on either.
pub fn calibrate_spin() -> f64 {
    let median_rate = || {
        let n = 1_000_000u64;
        spin(n);
        let mut rates: Vec<f64> = (0..15)
            .map(|_| {
                let t = Instant::now();
                spin(n);
                n as f64 / t.elapsed().as_secs_f64().max(1e-9)
            })
            .collect();
        rates.sort_by(f64::total_cmp);
        rates[rates.len() / 2]
    };
    let Some(allowed) = affinity::allowed() else {
        return median_rate();
    };
    let cpus = affinity::cpus(&allowed);
    let mut inverse = 0.0;
    for &c in &cpus {
        affinity::set(&affinity::only(c));
        inverse += 1.0 / median_rate();
    }
    affinity::set(&allowed);
    cpus.len().max(1) as f64 / inverse.max(f64::MIN_POSITIVE)
}

/// I/O steps are sleeps, but real I/O ends by an interrupt: without this Linux adds its
/// 50 µs timer slack to every sleep. Threads and child processes inherit the setting.
fn no_timer_slack() {
    // SAFETY: PR_SET_TIMERSLACK takes one integer argument and touches no memory.
    unsafe {
        libc::prctl(libc::PR_SET_TIMERSLACK, 1 as libc::c_ulong);
    }
}

/// One thread's view of the process: its GIL, its loop speed, its name for the GIL.
#[derive(Clone)]
struct Worker {
    gil: Arc<Gil>,
    rate: f64,
    me: Token,
}

impl Worker {
    fn iterations(&self, d: Duration) -> u64 {
        (d.as_secs_f64() * self.rate).round() as u64
    }

    /// Python code: spins in ~1 µs slices, dropping the GIL when asked to (eval breaker).
    fn python(&self, d: Duration) {
        let slice = (self.rate / 1e6).max(1.0) as u64;
        let mut left = self.iterations(d);
        while left > 0 {
            let n = left.min(slice);
            spin(n);
            left -= n;
            if self.gil.drop_requested() {
                self.gil.release(self.me);
                self.gil.take(self.me);
            }
        }
    }

    /// Runs steps holding the GIL between them; `Io` sleeps (outside an event loop).
    fn run(&self, ops: &[Op]) {
        for &op in ops {
            match op {
                Op::Cpu(d) => self.python(d),
                Op::NoGil(d) => self.without_gil(|| {
                    spin(self.iterations(d));
                }),
                Op::Io(d) | Op::Block(d) => self.without_gil(|| std::thread::sleep(d)),
                Op::Write { bytes, fsync } => self.without_gil(|| {
                    if let Err(e) = disk_write(bytes, fsync) {
                        // A child process of `validate`: it reports the failed run.
                        eprintln!("gilsim native-run: a disk write failed: {e}");
                        std::process::exit(1);
                    }
                }),
            }
        }
    }

    /// `Py_BEGIN_ALLOW_THREADS … Py_END_ALLOW_THREADS`.
    fn without_gil<T>(&self, f: impl FnOnce() -> T) -> T {
        self.gil.release(self.me);
        let out = f();
        self.gil.take(self.me);
        out
    }
}

// ---------------------------------------------------------------------------------------
// Disk writes

/// Where disk writes go: beside the run's data (what `validate` writes, on the disk
/// `calibrate` measured when its profile is in `output/`); pool workers get it by
/// [`DISK_DIR_ENV`].
static DISK_DIR: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();

/// The environment variable that hands [`DISK_DIR`] to pool workers.
const DISK_DIR_ENV: &str = "GILSIM_DISK_DIR";

/// Sets where this run's disk writes go (before any).
pub fn set_disk_dir(dir: &Path) {
    let _ = DISK_DIR.set(dir.to_path_buf());
}

fn disk_dir() -> std::path::PathBuf {
    DISK_DIR
        .get()
        .cloned()
        .or_else(|| std::env::var_os(DISK_DIR_ENV).map(Into::into))
        .unwrap_or_else(std::env::temp_dir)
}

/// A real write of `bytes` to a file of this thread's own, then fdatasync — a 4 KiB write +
/// fdatasync is what `calibrate` times as the disk's latency, a large one its bandwidth, by
/// the same writer ([`measure::write_synced`]) — and with `fsync` 4 KiB more and a second
/// fdatasync. The file is removed.
fn disk_write(bytes: u64, fsync: bool) -> io::Result<()> {
    let path = disk_dir().join(format!(
        ".gilsim-write-{}-{:?}",
        std::process::id(),
        std::thread::current().id()
    ));
    let result = measure::write_synced(&path, bytes, fsync);
    let _ = std::fs::remove_file(&path);
    result
}

// ---------------------------------------------------------------------------------------
// One run (`gilsim native-run`)

/// Runs one experiment of `data` with `workers` and returns its wall time, setup to
/// teardown, pool start and shutdown included. `exe` is re-executed for pool workers.
pub fn run_experiment(
    data: &Data,
    name: &str,
    workers: u32,
    exe: &Path,
) -> Result<Duration, String> {
    let plan: Plan = serde_json::from_value(
        data.experiments
            .get(name)
            .ok_or_else(|| format!("no experiment \"{name}\""))?
            .clone(),
    )
    .map_err(|e| format!("bad experiment data: {e}"))?;
    no_timer_slack();
    let setup = ops(&plan.setup)?;
    let teardown = ops(&plan.teardown)?;
    let tasks: Vec<Vec<Op>> = plan
        .tasks
        .iter()
        .map(|t| ops(t))
        .collect::<Result<_, _>>()?;
    let workers = workers.max(1);
    let interval = Duration::from_secs_f64(data.switch_interval);
    let main = Worker {
        gil: Arc::new(Gil::new(interval, data.gil)),
        rate: calibrate_spin(),
        me: 1,
    };

    let start = Instant::now();
    main.gil.take(main.me);
    main.run(&setup);
    match plan.strategy.as_str() {
        "serial" => tasks.iter().for_each(|t| main.run(t)),
        "threads" => thread_pool(&main, Arc::new(tasks), workers as usize),
        "processes" => process_pool(&main, &plan, &tasks, workers, exe)?,
        "asyncio" => event_loop(&main, &tasks),
        other => return Err(format!("unknown strategy \"{other}\"")),
    }
    main.run(&teardown);
    main.gil.release(main.me);
    Ok(start.elapsed())
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A one-shot event: `Thread.start()` waits on it until the new thread has run.
#[derive(Default)]
struct Started(Mutex<bool>, Condvar);

impl Started {
    fn set(&self) {
        *lock(&self.0) = true;
        self.1.notify_all();
    }

    fn wait(&self) {
        let mut s = lock(&self.0);
        while !*s {
            s = self.1.wait(s).unwrap_or_else(|e| e.into_inner());
        }
    }
}

#[derive(Default)]
struct Queue {
    items: VecDeque<Option<usize>>,
    /// `ThreadPoolExecutor._idle_semaphore`.
    idle: usize,
    /// Which futures are done.
    done: Vec<bool>,
}

/// `ThreadPoolExecutor(workers).map(run_steps, tasks)` inside `with`.
fn thread_pool(main: &Worker, tasks: Arc<Vec<Vec<Op>>>, workers: usize) {
    let queue = Arc::new((Mutex::new(Queue::default()), Condvar::new(), Condvar::new()));
    lock(&queue.0).done = vec![false; tasks.len()];
    let mut threads = Vec::new();
    for i in 0..tasks.len() {
        // submit(): queue.put, then _adjust_thread_count.
        let start_one = {
            let mut q = lock(&queue.0);
            q.items.push_back(Some(i));
            queue.1.notify_one();
            if q.idle > 0 {
                q.idle -= 1;
                false
            } else {
                threads.len() < workers
            }
        };
        if start_one {
            let started = Arc::new(Started::default());
            let w = Worker {
                me: 2 + threads.len() as Token,
                ..main.clone()
            };
            let (queue, tasks, flag) = (queue.clone(), tasks.clone(), started.clone());
            threads.push(std::thread::spawn(move || {
                w.gil.take(w.me);
                flag.set();
                loop {
                    let item = lock(&queue.0).items.pop_front();
                    let item = match item {
                        Some(item) => item,
                        // SimpleQueue.get blocks with the GIL released.
                        None => w.without_gil(|| {
                            let mut q = lock(&queue.0);
                            loop {
                                if let Some(item) = q.items.pop_front() {
                                    return item;
                                }
                                q = queue.1.wait(q).unwrap_or_else(|e| e.into_inner());
                            }
                        }),
                    };
                    let Some(i) = item else { break };
                    w.run(&tasks[i]);
                    let mut q = lock(&queue.0);
                    q.idle += 1;
                    q.done[i] = true; // set_result wakes the main thread if it waits
                    queue.2.notify_all();
                }
                w.gil.release(w.me);
            }));
            // Thread.start() waits until the thread has started.
            main.without_gil(|| started.wait());
        }
    }
    // map's result iterator: each future in order; one not done yet is waited for with the
    // GIL released, and the GIL is taken back to go on.
    for i in 0..tasks.len() {
        if lock(&queue.0).done[i] {
            continue;
        }
        main.without_gil(|| {
            let mut q = lock(&queue.0);
            while !q.done[i] {
                q = queue.2.wait(q).unwrap_or_else(|e| e.into_inner());
            }
        });
    }
    main.without_gil(|| {
        let mut q = lock(&queue.0);
        for _ in &threads {
            q.items.push_back(None);
        }
        queue.1.notify_all();
        drop(q);
        for t in threads {
            let _ = t.join();
        }
    });
}

/// `asyncio.run(gather(...))`: one thread, a ready queue and a timer heap.
fn event_loop(main: &Worker, tasks: &[Vec<Op>]) {
    let mut ready: VecDeque<(usize, usize)> = (0..tasks.len()).map(|t| (t, 0)).collect();
    let mut timers: BinaryHeap<std::cmp::Reverse<(Instant, u64, usize, usize)>> = BinaryHeap::new();
    let mut seq = 0u64;
    loop {
        let now = Instant::now();
        while let Some(std::cmp::Reverse((at, _, t, pos))) = timers.peek().copied() {
            if at > now {
                break;
            }
            timers.pop();
            ready.push_back((t, pos));
        }
        // One pass over what was ready at the start of this iteration, as _run_once does.
        let todo = ready.len();
        for _ in 0..todo {
            let (t, mut pos) = ready.pop_front().expect("counted");
            while let Some(&op) = tasks[t].get(pos) {
                pos += 1;
                if let Op::Io(d) = op {
                    timers.push(std::cmp::Reverse((Instant::now() + d, seq, t, pos)));
                    seq += 1;
                    break;
                }
                main.run(&[op]);
            }
        }
        if ready.is_empty() {
            match timers.peek() {
                // The selector waits with the GIL released.
                Some(std::cmp::Reverse((at, ..))) => {
                    let wait = at.saturating_duration_since(Instant::now());
                    main.without_gil(|| std::thread::sleep(wait));
                }
                None => break,
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Frames between the parent and its pool workers

const STOP: u8 = 0;
const CHUNK: u8 = 1;
const ECHO: u8 = 2;

/// A frame under construction: an 8-byte length, then the body.
struct Frame(Vec<u8>);

impl Frame {
    fn new(kind: u8, capacity: usize) -> Frame {
        let mut v = Vec::with_capacity(capacity + 9);
        v.extend_from_slice(&[0; 8]);
        v.push(kind);
        Frame(v)
    }
    fn u32(&mut self, x: u32) {
        self.0.extend_from_slice(&x.to_le_bytes());
    }
    fn u64(&mut self, x: u64) {
        self.0.extend_from_slice(&x.to_le_bytes());
    }
    fn bytes(&mut self, b: &[u8]) {
        self.u64(b.len() as u64);
        self.0.extend_from_slice(b);
    }
    fn finish(mut self) -> Vec<u8> {
        let len = (self.0.len() - 8) as u64;
        self.0[..8].copy_from_slice(&len.to_le_bytes());
        self.0
    }
}

/// Reads one frame's body; `None` at end of input.
fn read_frame(r: &mut impl Read) -> io::Result<Option<Vec<u8>>> {
    let mut len = [0u8; 8];
    match r.read_exact(&mut len) {
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        other => other?,
    }
    let len = u64::from_le_bytes(len);
    if len == 0 || len > 1 << 34 {
        return Err(io::Error::other(format!("bad frame length {len}")));
    }
    let mut body = vec![0u8; len as usize];
    r.read_exact(&mut body)?;
    Ok(Some(body))
}

/// Reads a frame body field by field.
struct Fields<'a>(&'a [u8]);

impl<'a> Fields<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        if self.0.len() < n {
            return Err("truncated frame".into());
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }
    fn u32(&mut self) -> Result<u32, String> {
        Ok(u32::from_le_bytes(
            self.take(4)?.try_into().expect("4 bytes"),
        ))
    }
    fn u64(&mut self) -> Result<u64, String> {
        Ok(u64::from_le_bytes(
            self.take(8)?.try_into().expect("8 bytes"),
        ))
    }
    fn bytes(&mut self) -> Result<&'a [u8], String> {
        let n = self.u64()?;
        self.take(usize::try_from(n).map_err(|_| "frame too large")?)
    }
}

/// A chunk as the task handler pickles it: the tasks' steps and `payload` bytes each.
fn encode_chunk(id: u32, tasks: &[Vec<Op>], payload: &[u8], result: u64) -> Vec<u8> {
    let steps: usize = tasks.iter().map(Vec::len).sum();
    let mut f = Frame::new(CHUNK, 16 + steps * 9 + tasks.len() * (12 + payload.len()));
    f.u32(id);
    f.u32(tasks.len() as u32);
    f.u64(result);
    for t in tasks {
        f.u32(t.len() as u32);
        for op in t {
            let (code, d) = op.code();
            f.0.push(code);
            f.u64(d.as_nanos() as u64);
        }
        f.bytes(payload);
    }
    f.finish()
}

/// Where the pool's inqueue and outqueue locks live (one file each, `flock`ed).
struct Locks {
    read: PathBuf,
    write: PathBuf,
}

impl Locks {
    fn create() -> Result<Locks, String> {
        let dir = std::env::temp_dir();
        let id = format!("gilsim-{}-{:?}", std::process::id(), Instant::now());
        let id: String = id.chars().filter(char::is_ascii_alphanumeric).collect();
        let locks = Locks {
            read: dir.join(format!("{id}-r.lock")),
            write: dir.join(format!("{id}-w.lock")),
        };
        for p in [&locks.read, &locks.write] {
            File::create(p).map_err(|e| format!("cannot create {}: {e}", p.display()))?;
        }
        Ok(locks)
    }
}

impl Drop for Locks {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.read);
        let _ = std::fs::remove_file(&self.write);
    }
}

/// A pool of worker processes sharing one task pipe and one result pipe.
struct Children {
    procs: Vec<Child>,
    tasks: io::PipeWriter,
    results: io::PipeReader,
    _locks: Locks,
}

impl Children {
    /// CPU time the first worker process has run so far (`/proc/PID/schedstat`).
    fn worker_cpu(&self) -> Option<Duration> {
        crate::host::measure::process_cpu(self.procs.first()?.id())
    }

    /// Starts `n` workers (`exe native-worker`), one after another as `Pool()` does.
    fn start(exe: &Path, n: u32, rate: f64) -> Result<Children, String> {
        let locks = Locks::create()?;
        let pipe_err = |e: io::Error| format!("cannot create a pipe: {e}");
        let (task_r, task_w) = io::pipe().map_err(pipe_err)?;
        let (result_r, result_w) = io::pipe().map_err(pipe_err)?;
        let mut procs = Vec::new();
        for _ in 0..n {
            let child = Command::new(exe)
                .env(DISK_DIR_ENV, disk_dir())
                .arg("native-worker")
                .arg("--spin-rate")
                .arg(rate.to_string())
                .arg("--read-lock")
                .arg(&locks.read)
                .arg("--write-lock")
                .arg(&locks.write)
                .stdin(Stdio::from(task_r.try_clone().map_err(pipe_err)?))
                .stdout(Stdio::from(result_w.try_clone().map_err(pipe_err)?))
                .stderr(Stdio::inherit())
                .spawn()
                .map_err(|e| format!("cannot start {}: {e}", exe.display()));
            match child {
                Ok(c) => procs.push(c),
                Err(e) => {
                    for mut c in procs {
                        let _ = c.kill();
                        let _ = c.wait();
                    }
                    return Err(e);
                }
            }
        }
        Ok(Children {
            procs,
            tasks: task_w,
            results: result_r,
            _locks: locks,
        })
    }

    /// `close()` + `join()`: one stop message per worker, then wait for each.
    fn join(mut self) -> Result<(), String> {
        let stop = Frame::new(STOP, 0).finish();
        for _ in &self.procs {
            self.tasks
                .write_all(&stop)
                .map_err(|e| format!("cannot stop a worker: {e}"))?;
        }
        for c in &mut self.procs {
            let status = c.wait().map_err(|e| e.to_string())?;
            if !status.success() {
                return Err(format!("a pool worker failed ({status})"));
            }
        }
        self.procs.clear();
        Ok(())
    }
}

impl Drop for Children {
    fn drop(&mut self) {
        for c in &mut self.procs {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// `Pool.map`'s default chunk size.
fn default_chunksize(tasks: usize, workers: u32) -> usize {
    let per = workers as usize * 4;
    let (size, extra) = (tasks / per, tasks % per);
    (size + usize::from(extra > 0)).max(1)
}

/// `Pool(workers).map(task, args, chunksize)`, then `close()` and `join()`.
fn process_pool(
    main: &Worker,
    plan: &Plan,
    tasks: &[Vec<Op>],
    workers: u32,
    exe: &Path,
) -> Result<(), String> {
    let children = Children::start(exe, workers, main.rate)?;
    let size = plan
        .chunksize
        .map_or_else(|| default_chunksize(tasks.len(), workers), |c| c as usize);
    let chunks: Vec<&[Vec<Op>]> = tasks.chunks(size.max(1)).collect();
    let payload = vec![0u8; plan.payload as usize];
    let mut writer = children
        .tasks
        .try_clone()
        .map_err(|e| format!("cannot share the task pipe: {e}"))?;
    let mut reader = children
        .results
        .try_clone()
        .map_err(|e| format!("cannot share the result pipe: {e}"))?;
    let outcome = std::thread::scope(|s| {
        let handler = Worker {
            me: 2,
            ..main.clone()
        };
        let task_handler = s.spawn(move || -> Result<(), String> {
            for (id, chunk) in chunks.iter().enumerate() {
                handler.gil.take(handler.me);
                let frame = encode_chunk(id as u32, chunk, &payload, plan.result);
                handler.gil.release(handler.me);
                writer
                    .write_all(&frame)
                    .map_err(|e| format!("cannot send a chunk: {e}"))?;
            }
            Ok(())
        });
        let results = Worker {
            me: 3,
            ..main.clone()
        };
        let n_chunks = tasks.len().div_ceil(size.max(1));
        let result_handler = s.spawn(move || -> Result<(), String> {
            for _ in 0..n_chunks {
                let body = read_frame(&mut reader)
                    .map_err(|e| format!("cannot read a result: {e}"))?
                    .ok_or("a pool worker exited early")?;
                results.gil.take(results.me);
                let mut f = Fields(&body[1..]);
                let _id = f.u32()?;
                let n = f.u32()?;
                let mut unpickled = Vec::with_capacity(n as usize);
                for _ in 0..n {
                    unpickled.push(f.bytes()?.to_vec());
                }
                std::hint::black_box(&unpickled);
                results.gil.release(results.me);
            }
            Ok(())
        });
        // The main thread waits for the map's results with the GIL released.
        main.without_gil(|| {
            let sent = task_handler
                .join()
                .unwrap_or(Err("task handler panicked".into()));
            let got = result_handler
                .join()
                .unwrap_or(Err("result handler panicked".into()));
            sent.and(got)
        })
    });
    outcome?;
    main.without_gil(|| children.join())
}

// ---------------------------------------------------------------------------------------
// A pool worker process (`gilsim native-worker`)

/// The worker loop: take a chunk from the shared pipe under the read lock, unpickle its
/// payloads, run its tasks, write the results under the write lock; stop on a stop frame
/// or end of input.
pub fn worker_main(rate: f64, read_lock: &Path, write_lock: &Path) -> Result<(), String> {
    use std::os::fd::AsFd;
    no_timer_slack();
    let dup = |fd: std::os::fd::BorrowedFd<'_>| {
        fd.try_clone_to_owned()
            .map(File::from)
            .map_err(|e| format!("cannot use the pipe: {e}"))
    };
    // Unbuffered: a buffered reader would take bytes of frames meant for other workers.
    let mut input = dup(io::stdin().as_fd())?;
    let mut output = dup(io::stdout().as_fd())?;
    let open = |p: &Path| {
        File::options()
            .read(true)
            .write(true)
            .open(p)
            .map_err(|e| format!("cannot open {}: {e}", p.display()))
    };
    let (read_lock, write_lock) = (open(read_lock)?, open(write_lock)?);
    let me = Worker {
        gil: Arc::new(Gil::new(Duration::from_millis(5), true)),
        rate,
        me: 1,
    };
    me.gil.take(me.me);
    loop {
        read_lock.lock().map_err(|e| e.to_string())?;
        let body = read_frame(&mut input);
        read_lock.unlock().map_err(|e| e.to_string())?;
        let Some(body) = body.map_err(|e| format!("cannot read a task: {e}"))? else {
            return Ok(());
        };
        let reply = match body[0] {
            STOP => return Ok(()),
            ECHO => Frame::new(ECHO, 0).finish(),
            CHUNK => {
                let mut f = Fields(&body[1..]);
                let id = f.u32()?;
                let n = f.u32()?;
                let result = vec![0u8; f.u64()? as usize];
                let mut reply = Frame::new(CHUNK, 8 + n as usize * (8 + result.len()));
                reply.u32(id);
                reply.u32(n);
                for _ in 0..n {
                    let steps = f.u32()?;
                    let mut task = Vec::with_capacity(steps as usize);
                    for _ in 0..steps {
                        let code = f.take(1)?[0];
                        task.push(Op::from_code(code, Duration::from_nanos(f.u64()?))?);
                    }
                    let payload = f.bytes()?.to_vec();
                    std::hint::black_box(&payload);
                    me.run(&task);
                    reply.bytes(&result);
                }
                reply.finish()
            }
            other => return Err(format!("unknown message {other}")),
        };
        write_lock.lock().map_err(|e| e.to_string())?;
        let sent = output.write_all(&reply);
        write_lock.unlock().map_err(|e| e.to_string())?;
        sent.map_err(|e| format!("cannot send a result: {e}"))?;
    }
}

// ---------------------------------------------------------------------------------------
// The native runtime's own costs

/// What the native runtime's own mechanics cost on this host, in the model's terms.
#[derive(Debug, Clone)]
pub struct Costs {
    /// Spawning a thread until it runs (and `start()` returns).
    pub thread_start: Duration,
    /// Putting one task on the thread pool's queue.
    pub dispatch_threads: Duration,
    /// The task handler's fixed cost per chunk: encoding a frame and writing it (not
    /// waiting for the answer).
    pub dispatch_processes: Duration,
    /// One resume in the event loop.
    pub dispatch_asyncio: Duration,
    /// Starting a worker process until it answers.
    pub process_start: Duration,
    /// Encoding ("pickling") throughput, bytes per second.
    pub pickle: f64,
    /// Pipe throughput to a worker process, bytes per second.
    pub ipc: f64,
    /// Of a transfer, the bytes per CPU-second of one end (the mean of the writer's and
    /// the reader's CPU time), where `/proc` tells them.
    pub ipc_cpu: Option<f64>,
    /// One message to a worker process (half a round trip).
    pub ipc_latency: Duration,
}

/// The middle value (the upper one of an even count). `v` holds no NaN.
fn median<T: Copy + PartialOrd>(mut v: Vec<T>) -> T {
    v.sort_by(|a, b| a.partial_cmp(b).expect("no NaN among the measurements"));
    v[v.len() / 2]
}

/// Measures [`Costs`] (about a second). `exe` is this binary, for the worker processes.
pub fn measure_costs(exe: &Path) -> Result<Costs, String> {
    let thread_start = median(
        (0..30)
            .map(|_| {
                let started = Arc::new(Started::default());
                let t = Instant::now();
                let flag = started.clone();
                let h = std::thread::spawn(move || flag.set());
                started.wait();
                let d = t.elapsed();
                let _ = h.join();
                d
            })
            .collect(),
    );

    let n = 100_000;
    let queue = (Mutex::new(Queue::default()), Condvar::new());
    let t = Instant::now();
    for i in 0..n {
        let mut q = lock(&queue.0);
        q.items.push_back(Some(i));
        queue.1.notify_one();
        std::hint::black_box(q.idle);
    }
    let dispatch_threads = t.elapsed() / n as u32;

    let mut ready: VecDeque<(usize, usize)> = VecDeque::new();
    let mut timers = BinaryHeap::new();
    let t = Instant::now();
    for i in 0..n {
        timers.push(std::cmp::Reverse((Instant::now(), i as u64, i, 0usize)));
        if let Some(std::cmp::Reverse((_, _, task, pos))) = timers.pop() {
            ready.push_back((task, pos));
        }
        std::hint::black_box(ready.pop_front());
    }
    let dispatch_asyncio = t.elapsed() / n as u32;

    let buf = vec![1u8; 8 << 20];
    let pickle = (0..5)
        .map(|_| {
            let t = Instant::now();
            let copy = buf.to_vec();
            std::hint::black_box(&copy);
            buf.len() as f64 / t.elapsed().as_secs_f64().max(1e-9)
        })
        .fold(0.0, f64::max);

    let mut starts = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        let mut c = Children::start(exe, 1, 1e9)?;
        echo(&mut c, 0)?;
        starts.push(t.elapsed());
        c.join()?;
    }
    let process_start = median(starts);

    let mut c = Children::start(exe, 1, 1e9)?;
    let mut trips = Vec::new();
    for _ in 0..200 {
        let t = Instant::now();
        echo(&mut c, 0)?;
        trips.push(t.elapsed());
    }
    let ipc_latency = median(trips) / 2;
    // After a warm-up message, the median of seven: one message's speed varies 4× between
    // sends on a VM, and the best of five once put this at a fast outlier that predicted
    // the large payloads' Pool 42 % fast (docs/decisions.md, "Pipe copies: CPU and
    // waiting").
    // With each end's CPU time, as `calibrate` measures CPython's pipes: the writer (this
    // thread) and the reader (the worker, which does nothing else meanwhile).
    let big = 8 << 20;
    echo(&mut c, big)?;
    let (mut rates, mut cpu_rates) = (Vec::new(), Vec::new());
    for _ in 0..7 {
        let cpu = (crate::host::measure::thread_cpu(), c.worker_cpu());
        let t = Instant::now();
        echo(&mut c, big)?;
        rates.push(big as f64 / t.elapsed().as_secs_f64().max(1e-9));
        if let ((Some(w0), Some(r0)), Some(w1), Some(r1)) =
            (cpu, crate::host::measure::thread_cpu(), c.worker_cpu())
        {
            let ends = ((w1 - w0) + (r1 - r0)).as_secs_f64() / 2.0;
            cpu_rates.push(big as f64 / ends.max(1e-9));
        }
    }
    let ipc = median(rates);
    let ipc_cpu = (cpu_rates.len() == 7).then(|| median(cpu_rates));

    // Per chunk: a small frame encoded and written (the worker echoes it back).
    // What the task handler spends per chunk: encoding and writing, back to back (the
    // replies are read afterwards; 200 small frames fit in the pipe's buffer). The round
    // trip is not on the handler's path: Pool's chunks are pipelined.
    let tiny = [vec![Op::Cpu(Duration::ZERO)]];
    let m = 200u32;
    let t = Instant::now();
    for i in 0..m {
        let frame = encode_chunk(i, &tiny, &[], 0);
        c.tasks.write_all(&frame).map_err(|e| e.to_string())?;
    }
    let dispatch_processes = t.elapsed() / m;
    for _ in 0..m {
        read_frame(&mut c.results).map_err(|e| e.to_string())?;
    }
    c.join()?;

    Ok(Costs {
        thread_start,
        dispatch_threads,
        dispatch_processes,
        dispatch_asyncio,
        process_start,
        pickle,
        ipc,
        ipc_cpu,
        ipc_latency,
    })
}

/// Sends an echo frame with `bytes` of body and waits for the answer.
fn echo(c: &mut Children, bytes: usize) -> Result<(), String> {
    let mut f = Frame::new(ECHO, bytes);
    f.0.resize(f.0.len() + bytes, 0);
    c.tasks.write_all(&f.finish()).map_err(|e| e.to_string())?;
    read_frame(&mut c.results)
        .map_err(|e| e.to_string())?
        .ok_or("the worker exited")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_drop_is_requested_only_after_a_timed_out_wait_without_a_switch() {
        assert!(should_request_drop(true, true, 7, 7));
        assert!(
            !should_request_drop(false, true, 7, 7),
            "woken, not timed out"
        );
        assert!(
            !should_request_drop(true, false, 7, 7),
            "the GIL is free now"
        );
        assert!(
            !should_request_drop(true, true, 7, 8),
            "it changed hands meanwhile"
        );
    }

    #[test]
    fn the_default_chunksize_is_pool_maps_rule() {
        assert_eq!(default_chunksize(100, 4), 7);
        assert_eq!(default_chunksize(16, 4), 1);
        assert_eq!(default_chunksize(17, 4), 2);
        assert_eq!(default_chunksize(0, 4), 1);
    }

    #[test]
    fn chunks_round_trip_through_frames() {
        let tasks = vec![
            vec![
                Op::Cpu(Duration::from_micros(3)),
                Op::Io(Duration::from_nanos(1)),
            ],
            vec![Op::Block(Duration::from_secs(2)), Op::NoGil(Duration::ZERO)],
        ];
        let frame = encode_chunk(9, &tasks, &[7; 5], 11);
        let body = read_frame(&mut &frame[..]).unwrap().unwrap();
        assert_eq!(body[0], CHUNK);
        let mut f = Fields(&body[1..]);
        assert_eq!(
            (f.u32().unwrap(), f.u32().unwrap(), f.u64().unwrap()),
            (9, 2, 11)
        );
        for t in &tasks {
            let n = f.u32().unwrap();
            let got: Vec<Op> = (0..n)
                .map(|_| {
                    let code = f.take(1).unwrap()[0];
                    Op::from_code(code, Duration::from_nanos(f.u64().unwrap())).unwrap()
                })
                .collect();
            assert_eq!(&got, t);
            assert_eq!(f.bytes().unwrap(), &[7; 5]);
        }
        assert!(f.0.is_empty());
        assert!(
            Fields(&[1, 2]).u32().is_err(),
            "truncated input is an error"
        );
    }

    /// Polls `f` every millisecond for at most ten seconds.
    fn eventually(f: impl Fn() -> bool) -> bool {
        let t = Instant::now();
        while t.elapsed() < Duration::from_secs(10) {
            if f() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        false
    }

    // The two tests below only check lower bounds on time, which a slow or busy machine
    // cannot break: it can only make things later.

    #[test]
    fn a_waiter_asks_for_a_drop_only_after_a_full_interval() {
        let interval = Duration::from_millis(200);
        let gil = Gil::new(interval, true);
        gil.take(1);
        std::thread::scope(|s| {
            let t0 = Instant::now();
            s.spawn(|| {
                gil.take(2);
                gil.release(2);
            });
            assert!(
                eventually(|| gil.drop_requested()),
                "the waiter never asked"
            );
            let asked = t0.elapsed();
            assert!(
                asked >= interval,
                "asked after {asked:?}, before one interval"
            );
            // The request is honoured with a forced switch: drop waits for the waiter.
            gil.release(1);
            assert!(gil.switch_number() >= 2);
        });
        assert!(!gil.drop_requested(), "taking the GIL clears the request");
    }

    #[test]
    fn a_switch_during_the_wait_postpones_the_drop_request() {
        let interval = Duration::from_millis(400);
        let gil = Gil::new(interval, true);
        gil.take(1);
        let taken = std::sync::atomic::AtomicUsize::new(0);
        let asked = Mutex::new(None);
        let t0 = Instant::now();
        let switched = std::thread::scope(|s| {
            for me in [2, 3] {
                let (gil, taken, asked) = (&gil, &taken, &asked);
                s.spawn(move || {
                    gil.take(me);
                    if taken.fetch_add(1, Ordering::SeqCst) == 0 {
                        // The first to get it holds it until the other one asks.
                        assert!(eventually(|| gil.drop_requested()), "never asked");
                        *asked.lock().unwrap() = Some(t0.elapsed());
                    }
                    gil.release(me);
                });
            }
            // Both wait from ~t0; the GIL changes hands a quarter interval later, so the
            // first timeout sees a switch and only the next full interval may ask.
            std::thread::sleep(interval / 4);
            let switched = t0.elapsed();
            gil.release(1);
            switched
        });
        let asked = asked
            .into_inner()
            .unwrap()
            .expect("the second waiter asked");
        if switched >= interval {
            eprintln!("skipped: the machine stalled {switched:?} before the switch");
            return;
        }
        assert!(
            asked >= interval * 2,
            "asked {asked:?} after the start although the GIL changed hands at {switched:?}"
        );
    }
}
