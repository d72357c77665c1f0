#!/usr/bin/env python3
"""What an involuntary context switch costs the thread it preempts, beyond the switch.

The lead in docs/decisions.md ("wake-up preemption"): a Pool worker's CPU per message grows
with its task, with its involuntary context switches — the parent's handler threads, woken
by each result, preempt it. This measures the victim's side: a pure-Python loop pinned to
one CPU, in units of ~100 us, each unit's *own* CPU time taken (time.thread_time_ns; the
time it is switched out does not count), while a disturber pinned to the same CPU
alternates, in 20 ms phases on the shared monotonic clock, between idle and active — waking
every 0.5 ms from a sleep to run ~50 us of Python over a 256 KiB list (as a handler
unpickling a result does). Phases interleave within the VM's speed drift (50-500 ms).

Per phase kind: the victim's mean CPU per unit and its involuntary switches per unit
(/proc/self/status). The penalty per switch is the CPU difference over the switch
difference. Prints one JSON line.

    python3 benches/preempt-cost.py [--seconds 10] [--cpu 1]
"""
import argparse
import json
import os
import statistics
import sys
import time

PHASE_NS = 20_000_000


def phase(now_ns):
    return (now_ns // PHASE_NS) % 2  # 1: the disturber is active


def nonvoluntary():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("nonvoluntary_ctxt_switches"):
                return int(line.split()[1])
    raise RuntimeError("no nonvoluntary_ctxt_switches in /proc/self/status")


def disturber(cpu, until_ns):
    os.sched_setaffinity(0, {cpu})
    data = list(range(32_768))  # 256 KiB of pointers
    while time.monotonic_ns() < until_ns:
        now = time.monotonic_ns()
        if phase(now):
            time.sleep(0.0005)
            s = 0
            for i in range(0, len(data), 8):  # ~50 us: every cache line of the list
                s += data[i]
        else:
            time.sleep((PHASE_NS - now % PHASE_NS) / 1e9)


def victim(cpu, until_ns, iterations):
    os.sched_setaffinity(0, {cpu})
    cpu_ns = {0: [], 1: []}
    switches = {0: 0, 1: 0}
    units = {0: 0, 1: 0}
    x = 0
    while time.monotonic_ns() < until_ns:
        p = phase(time.monotonic_ns())
        n0 = nonvoluntary()
        t0 = time.thread_time_ns()
        for i in range(iterations):
            x ^= i
        t1 = time.thread_time_ns()
        n1 = nonvoluntary()
        if phase(time.monotonic_ns()) != p:
            continue  # the unit straddled a phase boundary
        cpu_ns[p].append(t1 - t0)
        switches[p] += n1 - n0
        units[p] += 1
    return cpu_ns, switches, units


def main():
    a = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    a.add_argument("--seconds", type=float, default=10.0)
    a.add_argument("--cpu", type=int, default=1)
    args = a.parse_args()
    if not hasattr(os, "sched_setaffinity") or not os.path.exists("/proc/self/status"):
        sys.exit("preempt-cost: needs Linux (sched_setaffinity, /proc)")
    # ~100 us units: calibrate the loop on this CPU first.
    os.sched_setaffinity(0, {args.cpu})
    t = time.perf_counter()
    x = 0
    for i in range(200_000):
        x ^= i
    iterations = max(1000, int(200_000 * 100e-6 / (time.perf_counter() - t)))
    until = time.monotonic_ns() + int(args.seconds * 1e9)
    pid = os.fork()
    if pid == 0:
        disturber(args.cpu, until)
        os._exit(0)
    cpu_ns, switches, units = victim(args.cpu, until, iterations)
    os.waitpid(pid, 0)
    mean = {p: statistics.fmean(cpu_ns[p]) for p in (0, 1)}
    per_unit = {p: switches[p] / units[p] for p in (0, 1)}
    extra_cpu = mean[1] - mean[0]
    extra_switches = per_unit[1] - per_unit[0]
    print(json.dumps({
        "unit_us": round(mean[0] / 1e3, 2),
        "units": units,
        "cpu_per_unit_ns": {"idle": round(mean[0]), "active": round(mean[1])},
        "switches_per_unit": {"idle": round(per_unit[0], 4), "active": round(per_unit[1], 4)},
        "penalty_per_switch_us": round(extra_cpu / extra_switches / 1e3, 2)
        if extra_switches > 0 else None,
    }))


if __name__ == "__main__":
    main()
