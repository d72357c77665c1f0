"""gilsim calibrate: CPython's concurrency costs on this host, printed as one JSON object.

Each figure is the median of a few runs, each averaging many operations: this VM's speed
swings by 2x within tenths of a second, and a prediction needs the typical cost, not the
least-disturbed one (a best-of-N made every real run slower than predicted).
Run by `gilsim calibrate`; `python3 probe.py [--quick]` runs it by hand.
"""
import asyncio
import json
import multiprocessing as mp
import os
import pickle
import resource
import statistics
import struct
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

QUICK = "--quick" in sys.argv
now = time.perf_counter


def typical(f, reps=3):
    return statistics.median(f() for _ in range(reps))


def thread_start():
    n = 100 if QUICK else 400
    t = now()
    for _ in range(n):
        th = threading.Thread(target=int)
        th.start()
        th.join()
    return (now() - t) / n


def dispatch_threads():
    n = 1000 if QUICK else 5000
    with ThreadPoolExecutor(1) as ex:
        list(ex.map(int, range(100)))
        t = now()
        list(ex.map(int, range(n)))
        return (now() - t) / n


def _per_call(f, n):
    t = now()
    for _ in range(n):
        f()
    return (now() - t) / n


def executor_lock_submit():
    """ThreadPoolExecutor.submit's _adjust_thread_count: _idle_semaphore.acquire(timeout=0)
    on a zero count, which holds the semaphore's Condition lock for nearly all of the call."""
    s = threading.Semaphore(0)
    return _per_call(lambda: s.acquire(timeout=0), 2000 if QUICK else 20000)


def executor_lock_done():
    """A worker's _idle_semaphore.release() after every task (CPython <= 3.11); 3.12 calls it
    only when the work queue is empty (gh-102024), so no lock is taken per task."""
    if sys.version_info >= (3, 12):
        return 0.0
    s = threading.Semaphore(0)
    return _per_call(s.release, 2000 if QUICK else 20000)


def pickle_rate():
    data = bytes(range(256)) * 4096 * 16  # 16 MiB
    t = now()
    blob = pickle.dumps(data, protocol=pickle.HIGHEST_PROTOCOL)
    dumps = now() - t
    t = now()
    pickle.loads(blob)
    loads = now() - t
    return len(data) / ((dumps + loads) / 2)


def _echo(reader, writer):
    # Answers each message with one byte, a large one with the CPU time its receipt took.
    while True:
        cpu = time.thread_time()
        msg = reader.recv_bytes()
        if msg == b"stop":
            return
        cpu = time.thread_time() - cpu
        writer.send_bytes(struct.pack("d", cpu) if len(msg) > 4096 else msg[:1])


def pipe_costs():
    """Half a 1-byte round trip, and for each of several 8 MiB messages to a forked echo
    process its throughput end to end and per CPU-second of one end (the mean of the
    writer's and the reader's `time.thread_time`), through one-way pipes as Pool's queues
    use (`SimpleQueue`: `Pipe(duplex=False)`, an `os.pipe()`; the default duplex `Pipe()`
    is a Unix socketpair, 2-4x faster here for large messages). Both after a warm-up: the
    first round trips after the start pay for the new process's first wake-ups, the first
    large message for the receiver's first touch of its buffer. The caller takes the
    median of the messages: one message's speed varies 4x between consecutive sends on
    this VM (docs/decisions.md, "Pipe copies: CPU and waiting")."""
    ctx = mp.get_context("fork")
    their_reader, writer = ctx.Pipe(duplex=False)
    reader, their_writer = ctx.Pipe(duplex=False)
    p = ctx.Process(target=_echo, args=(their_reader, their_writer))
    p.start()
    n = 300 if QUICK else 2000
    for _ in range(n // 4):
        writer.send_bytes(b"x")
        reader.recv_bytes()
    t = now()
    for _ in range(n):
        writer.send_bytes(b"x")
        reader.recv_bytes()
    latency = (now() - t) / n / 2
    big = bytes(8 << 20)
    writer.send_bytes(big)
    reader.recv_bytes()
    rates, cpu_rates = [], []
    for _ in range(2 if QUICK else 5):
        t, cpu = now(), time.thread_time()
        writer.send_bytes(big)
        (their_cpu,) = struct.unpack("d", reader.recv_bytes())
        cpu = time.thread_time() - cpu
        rates.append(len(big) / max(now() - t - 2 * latency, 1e-9))
        cpu_rates.append(len(big) / max((cpu + their_cpu) / 2, 1e-9))
    writer.send_bytes(b"stop")
    p.join()
    return latency, rates, cpu_rates


# Source text, because POOL_START (a program of its own) needs it too: run with `python3 -c`,
# this module has no file for inspect.getsource.
CPU_SECONDS = """
def own_cpu():
    # CPU time of this process, every thread (user + system).
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def cpu_seconds(pid):
    # CPU time of another process so far: /proc/PID/schedstat (ns), else /proc/PID/stat.
    try:
        with open(f"/proc/{pid}/schedstat") as f:
            return int(f.read().split()[0]) / 1e9
    except (OSError, ValueError, IndexError):
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
"""
exec(CPU_SECONDS)


POOL_START = """
import json, os, resource, statistics, sys, time
import multiprocessing as mp
import multiprocessing.pool

""" + CPU_SECONDS + """

def children_cpu():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def pool_once(ctx, n=1):
    # One Pool(n)'s start, map(abs, range(n)), close and join: its wall time, the parent's
    # CPU time in the constructor, a worker's CPU time by the end of the map (with n = 1,
    # its start and one task), and over its life, exit included, from the reaped children
    # (None with forkserver: its workers are the server's children).
    t, c, k = time.perf_counter(), own_cpu(), children_cpu()
    pool = ctx.Pool(n)
    construct = own_cpu() - c
    pool.map(abs, range(n), chunksize=1)
    try:
        before_close = sum(cpu_seconds(w.pid) for w in pool._pool) / n
    except OSError:  # no /proc
        before_close = None
    pool.close()
    pool.join()
    wall = time.perf_counter() - t
    reaped = children_cpu() - k
    return wall, construct, before_close, (reaped / n if reaped > 0 else None)


def median_of(values):
    values = list(values)
    return statistics.median(values) if all(v is not None for v in values) else None


if __name__ == "__main__":
    ctx = mp.get_context(sys.argv[1])
    pool_once(ctx)  # starts the helpers (resource tracker, forkserver) and imports
    ones = [pool_once(ctx) for _ in range(3)]
    fours = [pool_once(ctx, 4) for _ in range(3)]
    later = statistics.median(o[0] for o in ones)
    time.sleep(0.2)  # the helpers are idle by now
    from multiprocessing import forkserver, resource_tracker
    tracker = resource_tracker._resource_tracker._pid
    server = forkserver._forkserver._forkserver_pid
    print(json.dumps({
        "worker": later,
        # The parent's CPU per worker in the constructor: Pool(4)'s less Pool(1)'s, over 3.
        "parent": max(statistics.median(f[1] for f in fours)
                      - statistics.median(o[1] for o in ones), 0.0) / 3,
        "child": median_of(o[2] for o in ones),
        "life": median_of(o[3] for o in ones),
        "tracker": cpu_seconds(tracker) if tracker else None,
        "server": cpu_seconds(server) if server else None,
    }))
"""


def pool_start(method):
    """A fresh program's Pools with one start method: one Pool(1) (start, map(abs, [1]),
    close, join) once the helper processes run and the modules are imported (the cost of
    each worker), and the CPU time the helpers took to start (once per program)."""
    import subprocess
    import tempfile
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "pool_start.py")
        with open(path, "w") as f:
            f.write(POOL_START)
        out = subprocess.run([sys.executable, path, method], capture_output=True,
                             text=True, check=True, timeout=60)
    return json.loads(out.stdout)


def _blocks(pid):
    """Voluntary context switches of another process so far (/proc/PID/status): each is a
    wait that blocked, and was woken."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("voluntary_ctxt_switches:"):
                return int(line.split()[1])
    raise OSError("no voluntary_ctxt_switches")


def dispatch_processes():
    """Per task of Pool(1).map(abs, ..., chunksize=1): the parent's CPU time (its task and
    result handler threads) and the worker's, and how many of their waits blocked. CPU
    time, not wall time: on two cores the workers and the parent compete for the CPUs, and
    on a VM each blocking wait also burns CPU when it is woken — gilsim charges that
    separately (machine.wakeup_cpu), so calibrate takes the blocked waits out."""
    n = 300 if QUICK else 2000
    with mp.get_context("fork").Pool(1) as pool:
        pool.map(abs, range(10), chunksize=1)
        worker = pool._pool[0].pid
        try:
            w0, wb0 = cpu_seconds(worker), _blocks(worker)
        except OSError:  # no /proc: the worker's side stays the default
            w0 = wb0 = None
        p0, pb0 = own_cpu(), resource.getrusage(resource.RUSAGE_SELF).ru_nvcsw
        pool.map(abs, range(n), chunksize=1)
        parent = (own_cpu() - p0) / n
        parent_blocks = (resource.getrusage(resource.RUSAGE_SELF).ru_nvcsw - pb0) / n
        if w0 is None:
            return parent, None, parent_blocks, None
        return (parent, (cpu_seconds(worker) - w0) / n, parent_blocks,
                (_blocks(worker) - wb0) / n)


def asyncio_resume():
    n = 2000 if QUICK else 20000

    async def spin():
        for _ in range(n // 10):
            await asyncio.sleep(0)

    async def main():
        t = now()
        await asyncio.gather(*(spin() for _ in range(10)))
        return (now() - t) / n

    return asyncio.run(main())


PHASE_NS = 20_000_000


def _phase(now_ns):
    return (now_ns // PHASE_NS) % 2  # 1: the disturber is active


def _nonvoluntary():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("nonvoluntary_ctxt_switches"):
                return int(line.split()[1])
    raise OSError("no nonvoluntary_ctxt_switches in /proc/self/status")


def _disturber(cpu, until_ns):
    os.sched_setaffinity(0, {cpu})
    data = list(range(32_768))  # 256 KiB of pointers
    while time.monotonic_ns() < until_ns:
        t = time.monotonic_ns()
        if _phase(t):
            time.sleep(0.0005)
            s = 0
            for i in range(0, len(data), 8):  # ~50 us over every cache line of the list
                s += data[i]
        else:
            time.sleep((PHASE_NS - t % PHASE_NS) / 1e9)


def process_switch_detail(seconds, cpu=None):
    """What a switch to another process and back costs a pure-Python thread, beyond the
    context switch: its caches and TLB refilled after the other process ran on its CPU.

    A pure-Python loop pinned to one CPU, in units of ~100 us, takes each unit's own CPU
    time (time.thread_time_ns: the time it is switched out does not count), while a
    disturber pinned to the same CPU alternates, in 20 ms phases of the shared monotonic
    clock, between idle and active: waking every 0.5 ms from a sleep to run ~50 us of
    Python over 256 KiB (as a Pool's handler thread does with each result). The phases
    interleave within the VM's speed drift. The cost per switch is the extra CPU per unit
    in the active phases over the extra involuntary switches per unit (/proc/self/status).
    On CPU `cpu` (default: the highest this process may use). `benches/preempt-cost.py`
    runs it by hand. Returns (seconds per switch or None, the figures)."""
    if cpu is None:
        cpu = max(os.sched_getaffinity(0))
    allowed = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {cpu})
    t = now()
    x = 0
    for i in range(200_000):
        x ^= i
    iterations = max(1000, int(200_000 * 100e-6 / (now() - t)))
    until = time.monotonic_ns() + int(seconds * 1e9)
    pid = os.fork()
    if pid == 0:
        try:
            _disturber(cpu, until)
        finally:
            os._exit(0)
    cpu_ns = {0: [], 1: []}
    switches = {0: 0, 1: 0}
    try:
        while time.monotonic_ns() < until:
            p = _phase(time.monotonic_ns())
            n0 = _nonvoluntary()
            t0 = time.thread_time_ns()
            for i in range(iterations):
                x ^= i
            t1 = time.thread_time_ns()
            n1 = _nonvoluntary()
            if _phase(time.monotonic_ns()) != p:
                continue  # the unit straddled a phase boundary
            cpu_ns[p].append(t1 - t0)
            switches[p] += n1 - n0
    finally:
        os.waitpid(pid, 0)
        os.sched_setaffinity(0, allowed)
    if not cpu_ns[0] or not cpu_ns[1]:
        return None, {}
    mean = {p: statistics.fmean(cpu_ns[p]) for p in (0, 1)}
    per_unit = {p: switches[p] / len(cpu_ns[p]) for p in (0, 1)}
    extra = per_unit[1] - per_unit[0]
    figures = {
        "unit_us": mean[0] / 1e3,
        "units": [len(cpu_ns[0]), len(cpu_ns[1])],
        "cpu_per_unit_ns": [mean[0], mean[1]],
        "switches_per_unit": [per_unit[0], per_unit[1]],
    }
    if extra < 0.05:  # the disturber hardly preempted the loop: nothing to divide by
        return None, figures
    return max(0.0, (mean[1] - mean[0]) / extra / 1e9), figures


def process_switch():
    if not hasattr(os, "sched_setaffinity") or not os.path.exists("/proc/self/status"):
        return None
    return process_switch_detail(1.5 if QUICK else 4.0)[0]


def main():
    # The pipe's speed drifts with the other vCPU's state (pipe_costs): its three
    # processes are spread over the run, first, middle and last, not taken back to back.
    costs = [pipe_costs()]
    out = {
        "python": sys.version.split()[0],
        "switch_interval": sys.getswitchinterval(),
        "thread_start": typical(thread_start),
        "dispatch_threads": typical(dispatch_threads),
        "executor_lock_submit": typical(executor_lock_submit),
        "executor_lock_done": typical(executor_lock_done),
        "pickle": typical(pickle_rate),
        "dispatch_asyncio": typical(asyncio_resume),
    }
    split = [dispatch_processes() for _ in range(3)]
    out["dispatch_processes"] = statistics.median(s[0] for s in split)
    out["dispatch_processes_blocks"] = statistics.median(s[2] for s in split)
    if all(s[1] is not None for s in split):
        out["pool_worker"] = statistics.median(s[1] for s in split)
        out["pool_worker_blocks"] = statistics.median(s[3] for s in split)
    costs.append(pipe_costs())
    switch = process_switch()
    if switch is not None:
        out["process_switch"] = switch
    methods = ["fork"] if QUICK else ["fork", "forkserver", "spawn"]
    for m in methods:
        runs = [pool_start(m) for _ in range(3)]
        out["pool_lifecycle_" + m] = statistics.median(r["worker"] for r in runs)
        out["process_start_parent_" + m] = statistics.median(r["parent"] for r in runs)
        child = [r["child"] for r in runs]
        life = [r["life"] for r in runs]
        if None not in child:  # else no /proc: the Pool start keeps its defaults
            out["process_start_" + m] = statistics.median(child)
            if None not in life:
                out["process_exit_" + m] = max(statistics.median(life) - out["process_start_" + m], 0.0)
        if m == "forkserver":
            # Both helpers run with forkserver; spawn starts only the tracker.
            out["helper_tracker"] = statistics.median(r["tracker"] for r in runs)
            out["helper_forkserver"] = statistics.median(r["server"] for r in runs)
    costs.append(pipe_costs())
    out["ipc_latency"] = statistics.median(c[0] for c in costs)
    out["ipc"] = statistics.median(r for c in costs for r in c[1])
    out["ipc_cpu"] = statistics.median(r for c in costs for r in c[2])
    print(json.dumps(out))


if __name__ == "__main__":
    main()
