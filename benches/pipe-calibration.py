#!/usr/bin/env python3
"""The pipe calibration, old against new, paired (docs/decisions.md, "Pipe copies: CPU and
waiting"): each round measures the pipe both ways and at once runs two payload-heavy Pool
scenarios for real, then predicts them from a host profile that differs only in the pipe.

- old: a duplex `Pipe()` (a socketpair), one cold 8 MiB message per process, all of the
  transfer counted as copying;
- new: `calibrate`'s own measurement (one-way pipes as Pool's queues, warm, the median of
  15 messages, and the ends' CPU share `ipc_cpu`).

Scenarios: Pool(1) with eight 8 MiB payloads and no work, and scenarios/validation/
large-payloads.toml (Pool(2), 50 ms tasks, 8 MB in, 2 MB out).

    python3 benches/pipe-calibration.py [--rounds 4] [--host output/host.toml]

Without --host it first runs `gilsim calibrate --quick` for the rest of the profile.
"""
import argparse
import csv
import importlib.util
import multiprocessing as mp
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import performance  # noqa: E402  (scratch: the benches' temporary directories)

ROOT = Path(__file__).resolve().parent.parent
GILSIM = ROOT / "target" / "release" / "gilsim"
PAYLOAD_ONLY = """name = "payload only"
description = "Pool(1), eight tasks of no work with 8 MiB of arguments each"
[tasks.t]
steps = [{ cpu = "1us" }]
[job]
tasks = { t = 8 }
payload = "8MiB"
result = "100B"
[[experiment]]
name = "pool1"
strategy = "processes"
workers = 1
chunksize = 1
"""


def load_probe():
    spec = importlib.util.spec_from_file_location("probe", ROOT / "src" / "host" / "probe.py")
    probe = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(probe)
    return probe


def old_echo(conn):
    while True:
        msg = conn.recv_bytes()
        if msg == b"stop":
            return
        conn.send_bytes(msg[:1])


def old_costs():
    """The measurement before the change: duplex Pipe, no warm-up, one large message."""
    ctx = mp.get_context("fork")
    a, b = ctx.Pipe()
    p = ctx.Process(target=old_echo, args=(b,))
    p.start()
    t = time.perf_counter()
    for _ in range(2000):
        a.send_bytes(b"x")
        a.recv_bytes()
    latency = (time.perf_counter() - t) / 4000
    big = bytes(8 << 20)
    t = time.perf_counter()
    a.send_bytes(big)
    a.recv_bytes()
    rate = len(big) / max(time.perf_counter() - t - 2 * latency, 1e-9)
    a.send_bytes(b"stop")
    p.join()
    return latency, rate


def profile(base, ipc, latency, cpu=None):
    s = re.sub(r"^ipc_cpu = .*\n", "", base, flags=re.M)
    s = re.sub(r"^ipc_latency = .*$", f'ipc_latency = "{int(latency * 1e9)}ns"', s, flags=re.M)
    line = f'ipc = "{int(ipc)}B/s"' + (f'\nipc_cpu = "{int(cpu)}B/s"' if cpu else "")
    return re.sub(r"^ipc = .*$", line, s, flags=re.M)


def predict(host_text, scenario, tmp, tag):
    host = tmp / f"{tag}.toml"
    host.write_text(host_text)
    out = subprocess.run([str(GILSIM), "run", str(scenario), "--host", str(host), "--no-trace",
                          "--no-charts", "-q", "--format", "csv", "--out", str(tmp / tag)],
                         capture_output=True, text=True, check=True).stdout
    return {row[0]: float(row[5]) for row in (l.split(",") for l in out.splitlines()[1:])}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--host", type=Path)
    a = ap.parse_args()
    subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=ROOT, check=True)
    tmp = performance.scratch("gilsim-pipe-")
    host = a.host
    if host is None:
        host = tmp / "host.toml"
        subprocess.run([str(GILSIM), "calibrate", "--quick", "-q", "--out", str(host)],
                       check=True, capture_output=True)
    base = host.read_text()
    (tmp / "payload-only.toml").write_text(PAYLOAD_ONLY)
    scenarios = [tmp / "payload-only.toml", ROOT / "scenarios" / "validation" / "large-payloads.toml"]
    probe = load_probe()
    errors = {"old": [], "new": []}
    for rnd in range(a.rounds):
        o = [old_costs() for _ in range(3)]
        old = profile(base, statistics.median(x[1] for x in o), statistics.median(x[0] for x in o))
        n = [probe.pipe_costs() for _ in range(3)]
        new = profile(base, statistics.median(r for c in n for r in c[1]),
                      statistics.median(c[0] for c in n), statistics.median(r for c in n for r in c[2]))
        for scenario in scenarios:
            out = tmp / f"v{rnd}-{scenario.stem}"
            subprocess.run([str(GILSIM), "validate", str(scenario), "--repeat", "5", "--host",
                            str(host), "--out", str(out), "--no-charts", "-q"],
                           capture_output=True, check=True)
            measured = {r["experiment"]: float(r["measured_median_s"])
                        for r in csv.DictReader(open(out / "validation.csv"))}
            po = predict(old, scenario, tmp, f"old{rnd}")
            pn = predict(new, scenario, tmp, f"new{rnd}")
            for e, m in measured.items():
                if e == "serial":
                    continue
                eo, en = (po[e] / m - 1) * 100, (pn[e] / m - 1) * 100
                errors["old"].append(abs(eo))
                errors["new"].append(abs(en))
                print(f"round {rnd + 1} {scenario.stem:15s} {e:10s} measured {m:.3f} s  "
                      f"old {po[e]:.3f} ({eo:+.1f} %)  new {pn[e]:.3f} ({en:+.1f} %)", flush=True)
        ipc = lambda text, key: int(re.search(rf'^{key} = "(\d+)', text, re.M).group(1)) / 1e6  # noqa: E731
        print(f"  pipe: old {ipc(old, 'ipc'):.0f} MB/s; new {ipc(new, 'ipc'):.0f} MB/s, "
              f"copying {ipc(new, 'ipc_cpu'):.0f} MB/s per end", flush=True)
    print(f"\nmedian absolute error: old {statistics.median(errors['old']):.1f} %, "
          f"new {statistics.median(errors['new']):.1f} %")


if __name__ == "__main__":
    main()
