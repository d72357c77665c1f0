#!/usr/bin/env python3
"""What a Pool message costs in CPU time, on each side, as the tasks get longer.

Pool(2, fork).map over N pure-Python spin tasks of a given length, chunksize 1 against the
default chunks (a handful of messages), taking the CPU time (user + system) of the parent
(its task and result handler threads) and of the workers (reaped, so RUSAGE_CHILDREN has
them), and their voluntary (blocked and woken) and involuntary (preempted) context
switches. The difference between the two chunk sizes, per task, is what one message costs.

On the project's 2-vCPU VM (docs/decisions.md, "Pool messages: wake-up preemption and the
refill after another process") the parent's CPU per message grew with the task, in two
runs: 19 µs with 1 µs tasks, 38–53 µs with 100 µs, 103–108 µs with 300 µs, 112–179 µs with
1 ms — with its blocked waits per message (0.1–0.6, 0.7–1.0, 2.1–2.4, 2.5–3.4), while the
workers, hardly preempted with 1 µs tasks, were preempted 0.4–0.7 times per message with
100 µs and ~2 with 1 ms. The calibrated Pool costs come from Pool(1).map(abs): the first
regime.

    python3 benches/pool-message-cost.py [--tasks 3000] [--runs 5] [--us 1,30,100,300,1000]
"""
import argparse
import multiprocessing as mp
import resource
import statistics
import time

SPIN_RATE = None


def _spin(n):
    x = 0
    for i in range(n):
        x ^= i
    return x


def _init(rate):
    global SPIN_RATE
    SPIN_RATE = rate


def task(seconds):
    _spin(int(seconds * SPIN_RATE))
    return bytes(100)


def usage():
    s = resource.getrusage(resource.RUSAGE_SELF)
    c = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (s.ru_utime + s.ru_stime, c.ru_utime + c.ru_stime,
            s.ru_nvcsw, c.ru_nvcsw, s.ru_nivcsw, c.ru_nivcsw)


def one_map(seconds, n, chunksize):
    before = usage()
    t = time.perf_counter()
    pool = mp.get_context("fork").Pool(2, initializer=_init, initargs=(SPIN_RATE,))
    pool.map(task, [seconds] * n, chunksize)
    pool.close()
    pool.join()
    wall = time.perf_counter() - t
    after = usage()
    return (wall,) + tuple(a - b for a, b in zip(after, before))


def main():
    global SPIN_RATE
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tasks", type=int, default=3000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--us", default="1,30,100,300,1000", help="task lengths in microseconds")
    a = ap.parse_args()
    n = 10**6
    t = time.perf_counter()
    _spin(n)
    SPIN_RATE = n / (time.perf_counter() - t)
    print("| task | wall, chunksize 1 / default | parent CPU per message | workers' CPU per "
          "message | parent blocks per message | workers preempted per message |")
    print("|---|---|---|---|---|---|")
    for us in (float(x) for x in a.us.split(",")):
        tasks = a.tasks if us < 500 else max(300, a.tasks // 3)
        runs = {1: [], None: []}
        for _ in range(a.runs):  # interleaved: this VM's speed drifts
            for cs in (1, None):
                runs[cs].append(one_map(us / 1e6, tasks, cs))
        one, chunked = ([statistics.median(col) for col in zip(*runs[cs])] for cs in (1, None))
        per = lambda i: (one[i] - chunked[i]) / tasks  # noqa: E731
        print(f"| {us:g} µs | {one[0] * 1e3:.0f} / {chunked[0] * 1e3:.0f} ms | "
              f"{per(1) * 1e6:.0f} µs | {per(2) * 1e6:.0f} µs | {per(3):.2f} | {per(6):.2f} |")


if __name__ == "__main__":
    main()
