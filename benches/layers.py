#!/usr/bin/env python3
"""What gilsim's layers cost on the peer workload: the flat loop of benches/flat-loop.rs
against gilsim and the Rust probe (docs/performance.md §20).

Builds gilsim, the probe (as benches/performance.py does, without SimPy) and the flat
loop; checks that every layer count follows the same trajectory; with valgrind on PATH,
counts each layer's instructions on 1024 x 50 (callgrind: repeatable, unlike this VM's
wall time); then times the flat loop with each layer count, gilsim and the probe on
1024 x 500, interleaved (`--rounds` rounds, the order rotating), and prints the
medians of the per-round ratios with their quartiles.

    python3 benches/layers.py [--rounds 40] [--no-callgrind]
"""
import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import performance  # noqa: E402  (build, wall, peer_toml: the same builds and scenario)

ROOT = performance.ROOT
N, CORES = performance.N, performance.CORES
LAYERS = range(7)


def flat_loop():
    """Builds benches/flat-loop.rs and returns its executable."""
    out = subprocess.run(["cargo", "build", "--release", "--quiet", "--bench", "flat-loop",
                          "--message-format", "json"], cwd=ROOT, check=True,
                         capture_output=True, text=True).stdout
    for line in out.splitlines():
        msg = json.loads(line)
        if msg.get("reason") == "compiler-artifact" and msg.get("executable") \
                and msg["target"]["name"] == "flat-loop":
            return msg["executable"]
    sys.exit("cargo did not report the flat-loop executable")


def instructions(cmd):
    """Instructions retired by cmd, by callgrind."""
    with tempfile.NamedTemporaryFile() as f:
        err = subprocess.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={f.name}"]
                             + cmd, check=True, capture_output=True, text=True).stderr
    refs = [line for line in err.splitlines() if "refs:" in line][-1]
    return int(refs.split()[-1].replace(",", ""))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=40)
    ap.add_argument("--no-callgrind", action="store_true")
    a = ap.parse_args()
    gilsim, probe = performance.build()
    flat = flat_loop()
    tmp = performance.scratch("gilsim-layers-")
    (tmp / "peer.toml").write_text(performance.peer_toml())
    small = performance.peer_toml().replace(f"repeat = {performance.BURSTS}", "repeat = 50")
    (tmp / "peer50.toml").write_text(small)

    def gilsim_cmd(toml):
        return [str(gilsim), "run", str(tmp / toml), "--no-trace", "--no-charts", "-q",
                "--format", "csv", "--out", str(tmp / "o")]

    def flat_cmd(bursts, layers):
        return [flat, str(N), str(bursts), str(CORES), str(layers)]

    def probe_cmd(bursts):
        return [str(probe), "--threads", str(N), "--cores", str(CORES),
                "--bursts", str(bursts), "--seed", "1"]

    # One trajectory whatever the layers: the bookkeeping they add decides nothing here.
    runs = [json.loads(subprocess.run(flat_cmd(50, n), check=True, capture_output=True,
                                      text=True).stdout) for n in LAYERS]
    keys = ("makespan_s", "events", "gil_switches", "forced_switches", "drop_requests")
    if any(tuple(r[k] for k in keys) != tuple(runs[0][k] for k in keys) for r in runs):
        sys.exit("the layers changed the flat loop's trajectory: " + json.dumps(runs))
    out = subprocess.run(gilsim_cmd("peer50.toml"), check=True, capture_output=True,
                         text=True).stdout.splitlines()
    row = dict(zip(out[0].split(","), out[1].split(",")))
    print(f"1024 x 50: the flat loop {runs[0]['makespan_s']:.3f} s, "
          f"{runs[0]['gil_switches']} GIL switches, {runs[0]['forced_switches']} forced; "
          f"gilsim {float(row['makespan_s']):.3f} s, {row['gil_switches']}, "
          f"{row['forced_switches']} (other RNG streams, the same statistics)\n")

    if not a.no_callgrind and shutil.which("valgrind"):
        names = ["the flat loop", "+ hardware-thread slots", "+ lanes", "+ program cursor",
                 "+ f64 work", "+ the process's GIL", "+ loop limits"]
        print("| 1024 x 50, callgrind | instructions | vs the probe |\n|---|---|---|")
        base = instructions(probe_cmd(50))
        for n, name in zip(LAYERS, names):
            i = instructions(flat_cmd(50, n))
            print(f"| {name} | {i / 1e6:.1f} M | {i / base:.2f}x |")
        i = instructions(gilsim_cmd("peer50.toml"))
        print(f"| gilsim | {i / 1e6:.1f} M | {i / base:.2f}x |")
        print(f"| the probe | {base / 1e6:.1f} M | 1.00x |\n")
    elif not a.no_callgrind:
        print("valgrind not on PATH: no instruction counts\n")

    cmds = {f"flat, {n} layers": flat_cmd(performance.BURSTS, n) for n in LAYERS}
    cmds.update({
        "gilsim": gilsim_cmd("peer.toml"),
        "probe": probe_cmd(performance.BURSTS),
    })
    times = {k: [] for k in cmds}
    order = list(cmds)
    for i in range(a.rounds):
        for k in order[i % len(order):] + order[:i % len(order)]:
            times[k].append(performance.wall(cmds[k])[0])
    print(f"1024 x {performance.BURSTS}, whole process, {a.rounds} interleaved rounds "
          "(median of the per-round ratios, quartiles in brackets)\n")
    print("| what | wall s | / probe | / gilsim |\n|---|---|---|---|")
    for k in cmds:
        def ratio(b, k=k):
            r = [x / y for x, y in zip(times[k], times[b])]
            q = statistics.quantiles(r, n=4)
            return f"{statistics.median(r):.2f}x [{q[0]:.2f}-{q[2]:.2f}]"
        print(f"| {k} | {statistics.median(times[k]):.3f} | {ratio('probe')} | "
              f"{ratio('gilsim')} |")


if __name__ == "__main__":
    main()
