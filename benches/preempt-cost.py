#!/usr/bin/env python3
"""What an involuntary context switch to another process costs the thread it preempts.

The measurement `gilsim calibrate` takes as `machine.process_switch`
(`process_switch_detail` in src/host/probe.py; docs/decisions.md, "Pool messages"): a
pure-Python loop pinned to one CPU, in units of ~100 us, each unit's *own* CPU time taken
(time.thread_time_ns; the time it is switched out does not count), while a disturber
process pinned to the same CPU alternates, in 20 ms phases on the shared monotonic clock,
between idle and active — waking every 0.5 ms from a sleep to run ~50 us of Python over a
256 KiB list (as a Pool handler taking a result does). Phases interleave within the VM's
speed drift (50-500 ms). The penalty per switch is the extra CPU per unit in the active
phases over the extra involuntary switches per unit (/proc/self/status). Prints one JSON
line; run it a few times to see the spread (13-20 us on the project's VM).

    python3 benches/preempt-cost.py [--seconds 10] [--cpu 1]
"""
import argparse
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src" / "host"))
from probe import process_switch_detail  # noqa: E402


def main():
    a = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    a.add_argument("--seconds", type=float, default=10.0)
    a.add_argument("--cpu", type=int, default=None)
    args = a.parse_args()
    if not hasattr(os, "sched_setaffinity") or not os.path.exists("/proc/self/status"):
        sys.exit("preempt-cost: needs Linux (sched_setaffinity, /proc)")
    per_switch, figures = process_switch_detail(args.seconds, args.cpu)
    figures["penalty_per_switch_us"] = round(per_switch * 1e6, 2) if per_switch else None
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
