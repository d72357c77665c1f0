#!/usr/bin/env python3
"""Paired wall-time A/B of two gilsim binaries on the peers' 1024 x 500 GIL workload.

This VM's speed drifts by tens of percent within seconds, so medians of interleaved runs
of two builds moved by +-15 % between back-to-back comparisons. Here each round runs A and
B back to back (alternating which goes first) and keeps the ratio B/A; the median of the
ratios, with its quartiles, is what drift cannot fake.

    python3 benches/paired.py OLD_BINARY NEW_BINARY [--rounds 30]

Build the old binary from another checkout, e.g.
`git worktree add /tmp/old <commit> && cargo build --release --manifest-path /tmp/old/Cargo.toml
--target-dir /tmp/old-target`.
"""
import argparse
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from performance import peer_toml  # the same workload as performance.py's


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("old")
    ap.add_argument("new")
    ap.add_argument("--rounds", type=int, default=30)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        scenario = Path(tmp) / "peer.toml"
        scenario.write_text(peer_toml())
        run_args = ["run", str(scenario), "--no-trace", "--no-charts", "-q", "--out", tmp]

        def wall(binary):
            t = time.perf_counter()
            subprocess.run([binary] + run_args, check=True, capture_output=True)
            return time.perf_counter() - t

        ratios, olds = [], []
        for i in range(args.rounds):
            if i % 2:
                b, a = wall(args.new), wall(args.old)
            else:
                a, b = wall(args.old), wall(args.new)
            ratios.append(b / a)
            olds.append(a)
    q1, _, q3 = statistics.quantiles(ratios, n=4)
    print(f"new/old wall time: median {statistics.median(ratios):.3f} "
          f"(quartiles {q1:.3f}..{q3:.3f}, {args.rounds} pairs; old median {statistics.median(olds):.3f} s)")


if __name__ == "__main__":
    main()
