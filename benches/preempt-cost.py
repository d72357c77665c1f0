#!/usr/bin/env python3
"""What an involuntary context switch costs the thread it preempts, beyond the switch.

`gilsim calibrate` measures it as `machine.preempt_cost` (src/host/probe.py,
`preempt_detail`: a pure-Python loop pinned to one CPU beside a process that wakes every
0.5 ms on the same CPU, in interleaved 20 ms phases). This runs the same measurement for
longer and prints the figures behind it as one JSON line: the loop's CPU per ~100 us unit
and its involuntary switches per unit, with the disturber idle and active.

    python3 benches/preempt-cost.py [--seconds 8]
"""
import argparse
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src" / "host"))
import probe  # noqa: E402  (the calibration's own code)


def main():
    a = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    a.add_argument("--seconds", type=float, default=8.0)
    args = a.parse_args()
    if not hasattr(os, "sched_setaffinity") or not os.path.exists("/proc/self/status"):
        sys.exit("preempt-cost: needs Linux (sched_setaffinity, /proc)")
    cost, figures = probe.preempt_detail(args.seconds)
    figures["preempt_cost_us"] = None if cost is None else round(cost * 1e6, 2)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
