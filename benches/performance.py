#!/usr/bin/env python3
"""gilsim's performance targets (issue 6), measured side by side in one run.

Builds gilsim and the Rust limit probe of ../shared/peers, installs SimPy 4.1.2 into a
local venv (target/simpyenv) if it is missing, then runs, interleaved, `--repeat` times:

- the peers' GIL workload (1024 threads x 500 bursts, 4 cores, 5 ms interval) as a gilsim
  scenario with zero switch costs, `frequency = [1.0]`, `smt = 1`, `--no-trace
  --no-charts`: gilsim's whole-process wall time against SimPy's in-program time (target
  >= 100x faster) and the probe's whole-process time (target within 2x); makespans within 5%;
- 10^6 tasks (cpu 100 us + io 100 us, 32 threads, 8 cores), --no-trace: < 2 s;
- `gilsim run` of the default scenario with every chart and trace: < 300 ms;

and prints one table of medians with each target met or not. This machine is shared and
noisy: compare the ratios, which are taken within one run. Within a round gilsim and the
probe run `--inner` times, alternating, with the SimPy run in the middle, and each counts
with the mean of its runs: a single 0.2 s run samples one moment of this VM's speed
(the same binary took 0.17-0.25 s in six runs in a row), SimPy's 17 s averages over it.

    python3 benches/performance.py [--repeat 3] [--inner 5]
"""
import argparse
import json
import atexit
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PEERS = (ROOT / ".." / "shared" / "peers").resolve()
VENV = ROOT / "target" / "simpyenv"
N, CORES, BURSTS = 1024, 4, 500


def sh(cmd, **kw):
    return subprocess.run(cmd, check=True, **kw)


def wall(cmd):
    """Whole-process wall time of cmd and its stdout."""
    t = time.perf_counter()
    p = subprocess.run(cmd, check=True, capture_output=True, text=True)
    return time.perf_counter() - t, p.stdout


def build():
    """Builds gilsim and the probe; returns their executables."""
    sh(["cargo", "build", "--release", "--quiet"], cwd=ROOT)
    probe_target = ROOT / "target" / "peers"
    sh(["cargo", "build", "--release", "--quiet", "--manifest-path",
        str(PEERS / "rust_limit" / "Cargo.toml"), "--target-dir", str(probe_target)])
    return ROOT / "target" / "release" / "gilsim", probe_target / "release" / "rust_limit"


def setup():
    gilsim, probe = build()
    python = VENV / "bin" / "python"
    if not python.exists() or subprocess.run([str(python), "-c", "import simpy"],
                                             capture_output=True).returncode != 0:
        print("installing SimPy 4.1.2 into", VENV, file=sys.stderr)
        sh([sys.executable, "-m", "venv", str(VENV)])
        sh([str(python), "-m", "pip", "install", "--quiet", "simpy==4.1.2"])
    return gilsim, probe, python


def scratch(prefix):
    """A temporary directory for the runs' inputs and outputs, removed when the script ends."""
    tmp = Path(tempfile.mkdtemp(prefix=prefix))
    atexit.register(shutil.rmtree, tmp, ignore_errors=True)
    return tmp


def peer_toml():
    """benches/peer-workload.toml at the benchmark's size (N threads x BURSTS bursts)."""
    peer = (ROOT / "benches" / "peer-workload.toml").read_text()
    return (peer.replace("repeat = 200", f"repeat = {BURSTS}")
                .replace("burst = 64", f"burst = {N}")
                .replace("workers = 64", f"workers = {N}"))


def scenarios(tmp):
    (tmp / "peer.toml").write_text(peer_toml())
    (tmp / "million.toml").write_text("""
name = "a million tasks"
seed = 1
[machine]
preset = "server-16c"
cores = 8
smt = 1
[tasks.t]
steps = [{ cpu = "100us" }, { io = "100us" }]
[job]
tasks = { t = 1000000 }
[[experiment]]
name = "threads"
strategy = "threads"
workers = 32
""")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--inner", type=int, default=5,
                    help="gilsim and probe runs per round, alternating, around the SimPy run")
    a = ap.parse_args()
    gilsim, probe, python = setup()
    tmp = scratch("gilsim-perf-")
    scenarios(tmp)
    runs = {k: [] for k in ("gilsim", "probe", "simpy", "million", "default")}
    makespans = {}
    for rep in range(a.repeat):
        print(f"round {rep + 1}/{a.repeat}", file=sys.stderr)
        # gilsim and the probe alternate `--inner` times around the SimPy run: one 0.2 s
        # run samples a moment of this VM's drifting speed, SimPy's 17 s average over it.
        # The round's time of each is the mean of its runs (a time average, like SimPy's).
        g_runs, p_runs = [], []
        for i in range(a.inner):
            if i == a.inner // 2:
                _, out = wall([str(python), str(PEERS / "simpy_peer.py"), "--threads", str(N),
                               "--cores", str(CORES), "--bursts", str(BURSTS), "--seed", "1"])
                row = json.loads(out)
                runs["simpy"].append(row["wall_s"])
                makespans["simpy"] = row["makespan_s"]
            t, out = wall([str(gilsim), "run", str(tmp / "peer.toml"), "--no-trace",
                           "--no-charts", "-q", "--format", "csv", "--out", str(tmp / "o")])
            g_runs.append(t)
            makespans["gilsim"] = float(out.splitlines()[1].split(",")[5])
            t, out = wall([str(probe), "--threads", str(N), "--cores", str(CORES),
                           "--bursts", str(BURSTS), "--seed", "1"])
            p_runs.append(t)
            makespans["probe"] = json.loads(out)["makespan_s"]
        runs["gilsim"].append(statistics.mean(g_runs))
        runs["probe"].append(statistics.mean(p_runs))
        t, _ = wall([str(gilsim), "run", str(tmp / "million.toml"), "--no-trace",
                     "--no-charts", "-q", "--out", str(tmp / "m")])
        runs["million"].append(t)
        t, _ = wall([str(gilsim), "run", "-q", "--out", str(tmp / "d")])
        runs["default"].append(t)

    med = {k: statistics.median(v) for k, v in runs.items()}
    # The ratios are taken per round (gilsim and its peers run back to back) and then the
    # median: this VM's speed drifts between rounds, and a ratio of separate medians moved
    # by a third between runs of this script (2.6x-3.5x the probe on 2026-12-01).
    probe_ratios = [g / p for g, p in zip(runs["gilsim"], runs["probe"])]
    simpy_ratios = [s / g for s, g in zip(runs["simpy"], runs["gilsim"])]
    vs_probe = statistics.median(probe_ratios)
    vs_simpy = statistics.median(simpy_ratios)
    spread = lambda rs, f: f"{f.format(min(rs))}-{f.format(max(rs))}"  # noqa: E731
    agree = abs(makespans["gilsim"] - makespans["probe"]) / makespans["probe"] * 100
    ok = lambda b: "met" if b else "NOT met"  # noqa: E731
    print(f"\nmedians of {a.repeat} rounds on {os.cpu_count()} CPUs (gilsim and the probe: the mean of "
          f"{a.inner} alternating runs per round, around the SimPy run); ratios are medians of the "
          f"per-round ratios (range in brackets)\n")
    print("| what | wall s | makespan s | target | |")
    print("|---|---|---|---|---|")
    print(f"| gilsim, peer workload {N}x{BURSTS} (whole process) | {med['gilsim']:.3f} | "
          f"{makespans['gilsim']:.1f} | | |")
    print(f"| Rust probe (whole process) | {med['probe']:.3f} | {makespans['probe']:.1f} | "
          f"gilsim within 2x: {vs_probe:.2f}x [{spread(probe_ratios, '{:.2f}')}] | "
          f"{ok(vs_probe <= 2)} |")
    print(f"| SimPy 4.1.2 (in-program) | {med['simpy']:.3f} | {makespans['simpy']:.1f} | "
          f"gilsim >= 100x faster: {vs_simpy:.0f}x [{spread(simpy_ratios, '{:.0f}')}] | "
          f"{ok(vs_simpy >= 100)} |")
    print(f"| makespan, gilsim vs probe | | | within 5%: {agree:.2f}% | {ok(agree <= 5)} |")
    print(f"| 10^6 tasks, 32 threads, 8 cores | {med['million']:.3f} | | < 2 s | "
          f"{ok(med['million'] < 2)} |")
    print(f"| default scenario, all charts | {med['default']:.3f} | | < 0.3 s | "
          f"{ok(med['default'] < 0.3)} |")


if __name__ == "__main__":
    main()
