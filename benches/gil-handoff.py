#!/usr/bin/env python3
"""How CPython's GIL is handed off between threads, measured on this host (the evidence for
and against the engine's hand-off rule in docs/decisions.md).

1. N threads spin in pure Python for 4 s: each thread's share, and the longest run of
   50 ms windows in which a thread made no progress (0 = every thread ran in every window).
2. One thread sleeps 100 us at a time beside N spinning threads for 3 s: the mean time per
   iteration and its histogram in 2.5 ms bins (how many switch intervals it waited).

    python3 benches/gil-handoff.py [--threads 1,2,3,4]
"""
import argparse
import collections
import threading
import time


def shares(n, seconds=4.0, window=0.05):
    counts, stop = [0] * n, [False]

    def work(i):
        c = 0
        while not stop[0]:
            c += 1
            if c & 1023 == 0:
                counts[i] = c

    ts = [threading.Thread(target=work, args=(i,)) for i in range(n)]
    for t in ts:
        t.start()
    samples, t0 = [], time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        time.sleep(window)
        samples.append(list(counts))
    stop[0] = True
    for t in ts:
        t.join()
    longest, run, done = [0] * n, [0] * n, [0] * n
    for a, b in zip(samples, samples[1:]):
        for i in range(n):
            d = b[i] - a[i]
            done[i] += d
            run[i] = run[i] + 1 if d == 0 else 0
            longest[i] = max(longest[i], run[i])
    total = sum(done) or 1
    return [round(d / total, 3) for d in done], longest


def echo(n, seconds=3.0):
    stop = [False]

    def spin():
        x = 0
        while not stop[0]:
            x += 1

    ts = [threading.Thread(target=spin) for _ in range(n)]
    for t in ts:
        t.start()
    lat, end = [], time.perf_counter() + seconds
    while time.perf_counter() < end:
        a = time.perf_counter()
        time.sleep(0.0001)
        lat.append(time.perf_counter() - a)
    stop[0] = True
    for t in ts:
        t.join()
    bins = collections.Counter(min(int(x * 1e3 / 2.5), 12) for x in lat)
    return sum(lat) / len(lat) * 1e3, [bins[i] for i in range(13)]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", default="1,2,3,4")
    counts = [int(x) for x in ap.parse_args().threads.split(",")]
    for n in counts:
        if n >= 2:
            s, longest = shares(n)
            print(f"{n} spinners: shares {s}, longest idle run (50 ms windows) {longest}")
    for n in counts:
        mean, bins = echo(n)
        print(f"sleeper beside {n} spinner(s): {mean:.2f} ms per iteration; 2.5 ms bins {bins}")


if __name__ == "__main__":
    main()
