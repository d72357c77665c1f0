#!/usr/bin/env python3
"""Do threads writing to one disk share its bandwidth? The model against this host.

N threads (1, 2, 4) each write SIZE MiB to a file of their own and fdatasync it, all at
once; the wall time is the median of --rounds rounds, the thread counts interleaved within
each round (this VM's disk drifts too). Beside it, gilsim's prediction of the same job
(`disk = SIZE, op = "write"` on the host's `ssd`, whose latency, bandwidth and sharing
`gilsim calibrate` measures: a 4 KiB write + fdatasync, one 16 MiB write + fdatasync, and
1-4 such writers at once) with the disk shared — and the time each write would take alone,
which is what the model said before disks were shared (docs/decisions.md, "Shared disks
and links").

    python3 benches/disk-sharing.py [--host output/host.toml] [--size 32] [--rounds 5]

Without --host it calibrates this host first (`gilsim calibrate --quick`, ~20 s). Builds
gilsim in release mode.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
COUNTS = (1, 2, 4)


def write(path, buf, mib):
    with open(path, "wb") as f:
        for _ in range(mib):
            f.write(buf)
        f.flush()
        os.fdatasync(f.fileno())


def measure(k, mib, buf, dirname):
    threads = [threading.Thread(target=write, args=(os.path.join(dirname, f"w{i}"), buf, mib))
               for i in range(k)]
    t = time.perf_counter()
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    elapsed = time.perf_counter() - t
    for i in range(k):
        os.unlink(os.path.join(dirname, f"w{i}"))
    return elapsed


def predict(gilsim, host, mib, tmp):
    """gilsim's time for k threads each writing once, all at the same time, k in COUNTS."""
    out = {}
    for k in COUNTS:
        scenario = Path(tmp) / f"disk-sharing-{k}.toml"
        scenario.write_text(f"""
name = "disk sharing"
[machine]
preset = "host"
[tasks.w]
steps = [{{ disk = "{mib}MiB", op = "write", device = "ssd" }}]
[job]
tasks = {{ w = {k} }}
[[experiment]]
name = "threads"
strategy = "threads"
workers = {k}
""")
        res = subprocess.run([str(gilsim), "run", str(scenario), "--host", str(host), "--format",
                              "json", "--no-charts", "--no-trace", "--out", str(Path(tmp) / "o"),
                              "-q"], check=True, capture_output=True, text=True)
        out[k] = json.loads(res.stdout)["experiments"][0]["makespan_s"]
    return out


def alone(host, mib):
    """The time of one write with the disk to itself, from the host profile's figures."""
    import tomllib
    m = tomllib.loads(Path(host).read_text())["machine"]
    latency = int(m["latency"]["ssd"].removesuffix("ns")) / 1e9
    bandwidth = float(m["bandwidth"]["ssd"].removesuffix("B/s"))
    return latency + mib * (1 << 20) / bandwidth


def main():
    a = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    a.add_argument("--host", help="a host profile from `gilsim calibrate` (default: calibrate)")
    a.add_argument("--size", type=int, default=32, help="MiB each thread writes")
    a.add_argument("--rounds", type=int, default=5)
    args = a.parse_args()
    subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=ROOT, check=True)
    gilsim = ROOT / "target" / "release" / "gilsim"
    with tempfile.TemporaryDirectory(prefix="gilsim-disk-") as tmp:
        host = args.host
        if host is None:
            host = str(Path(tmp) / "host.toml")
            print("calibrating (gilsim calibrate --quick) ...", file=sys.stderr)
            subprocess.run([str(gilsim), "calibrate", "--quick", "--out", host, "-q"],
                           check=True, capture_output=True)
        predicted = predict(gilsim, host, args.size, tmp)
        single = alone(host, args.size)
        buf = os.urandom(1 << 20)
        runs = {k: [] for k in COUNTS}
        for r in range(args.rounds):
            order = COUNTS if r % 2 == 0 else COUNTS[::-1]
            for k in order:
                runs[k].append(measure(k, args.size, buf, tmp))
    print(f"{args.size} MiB per thread, write + fdatasync, median of {args.rounds} rounds")
    print("| threads | measured | aggregate | shared disk (model) | error | disk per thread (before) | error |")
    print("|---|---|---|---|---|---|---|")
    for k in COUNTS:
        m = statistics.median(runs[k])
        p = predicted[k]
        print(f"| {k} | {m * 1e3:.0f} ms [{min(runs[k]) * 1e3:.0f}–{max(runs[k]) * 1e3:.0f}] "
              f"| {k * args.size / m:.0f} MiB/s | {p * 1e3:.0f} ms | {100 * (p - m) / m:+.0f} % "
              f"| {single * 1e3:.0f} ms | {100 * (single - m) / m:+.0f} % |")


if __name__ == "__main__":
    main()
