#!/usr/bin/env python3
"""Where a Pool message's CPU goes in the parent, thread by thread (docs/decisions.md,
"Pool messages").

Pool(2, fork).map over N pure-Python spin tasks, chunksize 1, taking from
/proc/self/task/TID the CPU time (schedstat) and the voluntary and involuntary context
switches of the parent's main thread and Pool's three handler threads: the task handler,
the result handler and the worker handler (which on CPython >= 3.8 waits on the result
pipe too, bpo-35493, and loops while results wait unread). Linux only.

On the project's 2-vCPU VM with 100 us tasks (three runs, 233-276 ms): worker handler
29-41 us per message, task handler 11-17, result handler 11-19, main 0.3; with
`--us 0` (abs-like tasks, Pool(1) in calibrate) the worker handler's share was 11-18 us.

    python3 benches/pool-thread-cost.py [--tasks 3000] [--us 100] [--workers 2] [--runs 3]
"""
import argparse
import multiprocessing as mp
import statistics
import threading
import time


def thread_cpu(tid):
    with open(f"/proc/self/task/{tid}/schedstat") as f:
        return int(f.read().split()[0]) / 1e9


def thread_switches(tid):
    counts = {}
    with open(f"/proc/self/task/{tid}/status") as f:
        for line in f:
            if "ctxt_switches" in line:
                name, value = line.split(":")
                counts[name.strip()] = int(value)
    return counts["voluntary_ctxt_switches"], counts["nonvoluntary_ctxt_switches"]


def spin(n):
    x = 0
    for i in range(n):
        x = i
    return x


def spin_rate():
    n = 200_000
    t = time.perf_counter()
    spin(n)
    return n / (time.perf_counter() - t)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tasks", type=int, default=3000)
    ap.add_argument("--us", type=float, default=100.0, help="each task's spin, microseconds")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--runs", type=int, default=3)
    a = ap.parse_args()
    loops = int(a.us * 1e-6 * statistics.median(spin_rate() for _ in range(5)))
    print("per message: CPU µs (voluntary, involuntary context switches)\n")
    print("| run | wall | main | task handler | result handler | worker handler |")
    print("|---|---|---|---|---|---|")
    for run in range(a.runs):
        with mp.get_context("fork").Pool(a.workers) as pool:
            pool.map(abs, range(10), chunksize=1)
            tids = [threading.main_thread().native_id, pool._task_handler.native_id,
                    pool._result_handler.native_id, pool._worker_handler.native_id]
            cpu0 = [thread_cpu(t) for t in tids]
            sw0 = [thread_switches(t) for t in tids]
            t = time.perf_counter()
            pool.map(spin, [loops] * a.tasks, chunksize=1)
            wall = time.perf_counter() - t
            cells = []
            for tid, c0, s0 in zip(tids, cpu0, sw0):
                cpu = (thread_cpu(tid) - c0) / a.tasks * 1e6
                vol, inv = ((x - y) / a.tasks for x, y in zip(thread_switches(tid), s0))
                cells.append(f"{cpu:.1f} ({vol:.2f}, {inv:.2f})")
        print(f"| {run + 1} | {wall * 1e3:.0f} ms | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
