//! Measuring this machine: the probes behind `gilsim calibrate`.
//!
//! Every probe returns its value and a one-line note of how it was measured, which the
//! profile writes beside the value. This host is a shared VM whose speed drifts by tens of
//! percent within seconds, so ratios (the speed with k busy threads against one) are taken
//! within one round and the median of the rounds is kept; single latencies keep the best of
//! a few runs.

use std::hint::black_box;
use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use crate::teach::latency;

/// A measured value and how it was measured.
#[derive(Debug, Clone, PartialEq)]
pub struct Note<T> {
    /// The value.
    pub value: T,
    /// How it was measured (written as a comment in the profile).
    pub how: String,
}

fn note<T>(value: T, how: impl Into<String>) -> Note<T> {
    Note {
        value,
        how: how.into(),
    }
}

/// Hardware threads and SMT as the OS reports them.
pub fn topology() -> (Note<u32>, Note<u32>) {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get() as u32);
    let siblings =
        std::fs::read_to_string("/sys/devices/system/cpu/cpu0/topology/thread_siblings_list")
            .ok()
            .map(|s| {
                s.trim()
                    .split(',')
                    .map(|part| match part.split_once('-') {
                        Some((a, b)) => {
                            b.parse::<u32>().unwrap_or(0) - a.parse::<u32>().unwrap_or(0) + 1
                        }
                        None => 1,
                    })
                    .sum::<u32>()
                    .max(1)
            })
            .unwrap_or(1);
    let smt = if threads.is_multiple_of(siblings) {
        siblings
    } else {
        1
    };
    (
        note(
            threads / smt,
            format!("{threads} hardware threads (available_parallelism) / smt"),
        ),
        note(smt, "cpu0's thread_siblings_list in sysfs"),
    )
}

/// Spin-loop iterations per second of each of `k` threads running at once for `run`.
fn spin_rates(k: u32, run: Duration) -> Vec<f64> {
    let stop = Arc::new(AtomicBool::new(false));
    let counts: Vec<Arc<AtomicU64>> = (0..k).map(|_| Arc::new(AtomicU64::new(0))).collect();
    let handles: Vec<_> = counts
        .iter()
        .map(|c| {
            let (c, stop) = (Arc::clone(c), Arc::clone(&stop));
            std::thread::spawn(move || {
                let mut n = 0u64;
                let mut x = 1u64;
                while !stop.load(Ordering::Relaxed) {
                    for _ in 0..1000 {
                        x = black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
                    }
                    n += 1;
                }
                c.store(n, Ordering::Relaxed);
            })
        })
        .collect();
    std::thread::sleep(run);
    stop.store(true, Ordering::Relaxed);
    for h in handles {
        let _ = h.join();
    }
    counts
        .iter()
        .map(|c| c.load(Ordering::Relaxed) as f64 / run.as_secs_f64())
        .collect()
}

fn mean(xs: &[f64]) -> f64 {
    xs.iter().sum::<f64>() / xs.len().max(1) as f64
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs.get(xs.len() / 2).copied().unwrap_or(0.0)
}

/// How the speed of busy hardware threads behaves.
pub struct Speeds {
    /// Per-thread speed with 1..=threads busy, relative to one busy thread.
    pub frequency: Note<Vec<f64>>,
    /// With every hardware thread busy, fastest − slowest relative to their mean.
    pub spread: Note<f64>,
}

/// Per-thread speed with 1..=threads busy, relative to one busy thread (the median of
/// `rounds` ratios), and how far apart the threads run when all are busy.
pub fn speeds(threads: u32, rounds: u32, run: Duration) -> Speeds {
    let mut ratios: Vec<Vec<f64>> = vec![Vec::new(); threads as usize];
    let mut spreads = Vec::new();
    for _ in 0..rounds {
        let one = mean(&spin_rates(1, run));
        for k in 1..=threads {
            if k == 1 {
                ratios[0].push(1.0);
                continue;
            }
            let rates = spin_rates(k, run);
            let m = mean(&rates);
            ratios[k as usize - 1].push(m / one);
            if k == threads && m > 0.0 {
                let (lo, hi) = rates
                    .iter()
                    .fold((f64::MAX, 0.0f64), |(lo, hi), &r| (lo.min(r), hi.max(r)));
                spreads.push((hi - lo) / m);
            }
        }
    }
    let frequency = ratios
        .into_iter()
        .map(|r| (median(r) * 1000.0).round() / 1000.0)
        .collect();
    let spread = (median(spreads) * 1000.0).round() / 1000.0;
    Speeds {
        frequency: note(
            frequency,
            format!(
                "spin-loop speed per thread with 1..{threads} threads busy, relative to one; \
                 median of {rounds} rounds of {} ms (a VM's shared cores show here)",
                run.as_millis()
            ),
        ),
        spread: note(
            spread,
            if threads < 2 {
                "one hardware thread: nothing to spread".to_string()
            } else {
                format!(
                    "fastest − slowest of {threads} spinning threads, relative to their mean; \
                     median of the same {rounds} rounds"
                )
            },
        ),
    }
}

/// A wake-up, from a condition-variable ping-pong between two threads.
pub struct Wakeup {
    /// Half a round trip: from a notify to the woken thread running.
    pub wall: Note<Duration>,
    /// The CPU time both threads spent per half round trip (`None` without
    /// `/proc/thread-self/schedstat`): on this VM most of a cross-CPU wake-up is CPU time of
    /// the woken thread, not idle latency.
    pub cpu: Option<Note<Duration>>,
}

/// CPU time the calling thread has run so far (`/proc/thread-self/schedstat`, ns).
pub(crate) fn thread_cpu() -> Option<Duration> {
    schedstat_cpu("/proc/thread-self/schedstat")
}

/// CPU time process `pid` has run so far (`/proc/PID/schedstat`, ns).
pub(crate) fn process_cpu(pid: u32) -> Option<Duration> {
    schedstat_cpu(&format!("/proc/{pid}/schedstat"))
}

/// The first field of a `schedstat` file: time spent on a CPU, ns.
fn schedstat_cpu(path: &str) -> Option<Duration> {
    let text = std::fs::read_to_string(path).ok()?;
    let ns = text.split_whitespace().next()?.parse().ok()?;
    Some(Duration::from_nanos(ns))
}

/// Half a condition-variable ping-pong between two threads on two different CPUs (where
/// there are two): the time from a notify to the woken thread running, and how much of it
/// was CPU time. Unpinned, Linux often moves the woken thread onto the waker's CPU, and the
/// measurement flips between that cheap case and the cross-CPU one from run to run (9 µs
/// or 79 µs here); a GIL hand-off between threads busy on two CPUs is the cross-CPU one.
///
/// The value is the mean (a half round trip). Each wake-up is also timed on its own — the
/// notifier stamps the time under the lock, the woken thread reads the clock when it holds
/// the lock again — and the note gives their quantiles: one wake-up is far from the mean on
/// this VM (a condvar ping-pong measured median 75–84 µs, p90 241–273 µs).
pub fn wakeup(rounds: u32) -> Wakeup {
    let allowed = crate::affinity::allowed();
    let cpus = allowed
        .as_ref()
        .map(crate::affinity::cpus)
        .unwrap_or_default();
    let pinned = (cpus.len() >= 2).then(|| (cpus[0], cpus[1]));
    if let Some((mine, _)) = pinned {
        crate::affinity::set(&crate::affinity::only(mine));
    }
    // (whose turn, when the last notify was sent)
    let pair = Arc::new((Mutex::new((0u32, Instant::now())), Condvar::new()));
    let other = Arc::clone(&pair);
    let h = std::thread::spawn(move || {
        if let Some((_, theirs)) = pinned {
            crate::affinity::set(&crate::affinity::only(theirs));
        }
        let cpu0 = thread_cpu();
        let mut latencies = Vec::with_capacity(rounds as usize);
        let (m, cv) = &*other;
        let mut turn = m.lock().expect("not poisoned");
        for i in 0..rounds {
            while turn.0 != 2 * i + 1 {
                turn = cv.wait(turn).expect("not poisoned");
            }
            latencies.push(turn.1.elapsed());
            *turn = (turn.0 + 1, Instant::now());
            cv.notify_one();
        }
        drop(turn);
        let cpu = thread_cpu().zip(cpu0).map(|(b, a)| b - a);
        (cpu, latencies)
    });
    let (m, cv) = &*pair;
    let cpu0 = thread_cpu();
    let mut latencies = Vec::with_capacity(2 * rounds as usize);
    let start = Instant::now();
    let mut turn = m.lock().expect("not poisoned");
    for i in 0..rounds {
        *turn = (2 * i + 1, Instant::now());
        cv.notify_one();
        while turn.0 != 2 * i + 2 {
            turn = cv.wait(turn).expect("not poisoned");
        }
        latencies.push(turn.1.elapsed());
    }
    drop(turn);
    let elapsed = start.elapsed();
    let mine = thread_cpu().zip(cpu0).map(|(b, a)| b - a);
    let theirs = match h.join() {
        Ok((cpu, theirs)) => {
            latencies.extend(theirs);
            cpu
        }
        Err(_) => None,
    };
    if let Some(set) = &allowed {
        crate::affinity::set(set);
    }
    let wall = elapsed / (2 * rounds);
    let place = match pinned {
        Some((a, b)) => format!("on CPUs {a} and {b}"),
        None => "(one CPU)".to_string(),
    };
    let cpu = mine.zip(theirs).map(|(a, b)| {
        note(
            ((a + b) / (2 * rounds)).min(wall),
            "CPU time of both threads (/proc/thread-self/schedstat) per half round trip of the \
             same ping-pong",
        )
    });
    latencies.sort();
    Wakeup {
        wall: note(
            wall,
            format!(
                "half of a condvar ping-pong between two threads {place}, {rounds} round trips \
                 (one wake-up: {})",
                spread_words(&latencies)
            ),
        ),
        cpu,
    }
}

/// `p10 …, median …, p90 …` of sorted durations, in µs.
fn spread_words(sorted: &[Duration]) -> String {
    if sorted.is_empty() {
        return "not timed".to_string();
    }
    let at = |q: f64| {
        let i = ((sorted.len() - 1) as f64 * q).round() as usize;
        format!("{:.1} µs", sorted[i].as_secs_f64() * 1e6)
    };
    format!("p10 {}, median {}, p90 {}", at(0.1), at(0.5), at(0.9))
}

/// How much `thread::sleep(1 ms)` oversleeps (median).
pub fn sleep_overshoot(n: u32) -> Note<Duration> {
    let mut over: Vec<Duration> = (0..n)
        .map(|_| {
            let t = Instant::now();
            std::thread::sleep(Duration::from_millis(1));
            t.elapsed().saturating_sub(Duration::from_millis(1))
        })
        .collect();
    over.sort();
    note(
        over[over.len() / 2],
        format!("median of {n} sleeps of 1 ms"),
    )
}

/// Sequential read bandwidth over a working set of `bytes`, bytes per second (best of 3).
pub fn read_bandwidth(bytes: usize, total: usize) -> f64 {
    let data: Vec<u64> = (0..bytes / 8).map(|i| i as u64).collect();
    let passes = (total / bytes).max(1);
    let mut best = f64::INFINITY;
    for _ in 0..3 {
        let t = Instant::now();
        let mut sum = 0u64;
        for _ in 0..passes {
            sum = black_box(&data).iter().fold(sum, |a, &x| a.wrapping_add(x));
        }
        black_box(sum);
        best = best.min(t.elapsed().as_secs_f64());
    }
    (bytes * passes) as f64 / best
}

/// Memory latency per level (pointer chasing) and cache sizes from sysfs.
pub struct Memory {
    /// L1, L2, L3 sizes.
    pub caches: Note<[u64; 3]>,
    /// L1, L2, L3, RAM latency per dependent load.
    pub latency: Note<[Duration; 4]>,
    /// L1, L2, L3, RAM sequential read bandwidth, bytes per second.
    pub bandwidth: Note<[f64; 4]>,
}

/// Measures the memory hierarchy.
pub fn memory(quick: bool) -> Memory {
    let caches = latency::host_caches();
    let sets = [
        caches[0] / 2,
        caches[1] / 2,
        (caches[1] * 4).min(caches[2] / 2),
        if quick { 128 << 20 } else { 512 << 20 },
    ];
    let loads = if quick { 200_000 } else { 1_000_000 };
    let lat = sets.map(|b| Duration::from_secs_f64(latency::chase(b, loads)));
    let total = if quick { 256 << 20 } else { 1 << 30 };
    let bw = sets.map(|b| read_bandwidth(b as usize, total));
    Memory {
        caches: note(
            caches,
            "cpu0's cache sizes in sysfs (data and unified caches)",
        ),
        latency: note(
            lat,
            format!(
                "pointer chasing (random cycle of 64-byte lines) in working sets of {}, {}, {}, {}",
                crate::report::size_words(sets[0]),
                crate::report::size_words(sets[1]),
                crate::report::size_words(sets[2]),
                crate::report::size_words(sets[3])
            ),
        ),
        bandwidth: note(
            bw,
            "sequential 8-byte reads over the same working sets, best of 3",
        ),
    }
}

/// How a device shares: `rate(k)` is the bytes/s `k` transfers at once get together, for
/// `k` in `1..=most`, counts interleaved over `rounds` rounds (forward, then backward: the
/// device's speed drifts). Returns the median rate of one transfer alone, and per `k` the
/// median of each round's ratio to one alone.
fn shared_rates(
    rounds: u32,
    most: usize,
    mut rate: impl FnMut(usize) -> std::io::Result<f64>,
) -> std::io::Result<(f64, Vec<f64>)> {
    let mut rates: Vec<Vec<f64>> = vec![Vec::new(); most];
    for r in 0..rounds {
        let mut counts: Vec<usize> = (1..=most).collect();
        if r % 2 == 1 {
            counts.reverse();
        }
        for k in counts {
            rates[k - 1].push(rate(k)?);
        }
    }
    let sharing = (0..most)
        .map(|k| {
            let ratios = rates[k].iter().zip(&rates[0]).map(|(r, one)| r / one);
            (median(ratios.collect()) * 1000.0).round() / 1000.0
        })
        .collect();
    Ok((median(rates[0].clone()), sharing))
}

/// What `calibrate` measures of the loopback interface's bandwidth.
pub struct LinkRates {
    /// One TCP stream's bandwidth, bytes/s.
    pub bandwidth: Note<f64>,
    /// The bandwidth of 1..=[`LOOPBACK_STREAMS`] streams at once, relative to one.
    pub sharing: Note<Vec<f64>>,
}

/// Most concurrent streams the loopback's sharing is measured with.
pub const LOOPBACK_STREAMS: usize = 4;

/// Loopback TCP bandwidth: 1..=4 streams at once, each sending `size` bytes from one thread
/// to a reading thread over 127.0.0.1, until every reader has them all (Nagle off).
pub fn loopback_bandwidth(quick: bool) -> std::io::Result<LinkRates> {
    use std::io::Read as _;
    use std::net::{Shutdown, TcpListener, TcpStream};
    let size: usize = if quick { 16 << 20 } else { 64 << 20 };
    let rounds = if quick { 2 } else { 3 };
    let block = vec![7u8; 1 << 16];
    let streams = |k: usize| -> std::io::Result<f64> {
        let listeners = (0..k)
            .map(|_| TcpListener::bind("127.0.0.1:0"))
            .collect::<std::io::Result<Vec<_>>>()?;
        let t = Instant::now();
        std::thread::scope(|s| {
            let mut ends = Vec::new();
            for l in &listeners {
                let addr = l.local_addr()?;
                ends.push(s.spawn(move || -> std::io::Result<()> {
                    let (mut c, _) = l.accept()?;
                    let mut buf = vec![0u8; 1 << 16];
                    let mut got = 0;
                    while got < size {
                        match c.read(&mut buf)? {
                            0 => break,
                            n => got += n,
                        }
                    }
                    Ok(())
                }));
                let block = &block;
                ends.push(s.spawn(move || -> std::io::Result<()> {
                    let mut c = TcpStream::connect(addr)?;
                    c.set_nodelay(true)?;
                    let mut left = size;
                    while left > 0 {
                        let n = left.min(block.len());
                        c.write_all(&block[..n])?;
                        left -= n;
                    }
                    c.shutdown(Shutdown::Write)
                }));
            }
            ends.into_iter()
                .try_for_each(|e| e.join().expect("a loopback thread panicked"))
        })?;
        Ok((k * size) as f64 / t.elapsed().as_secs_f64())
    };
    let (one, sharing) = shared_rates(rounds, LOOPBACK_STREAMS, streams)?;
    let words = crate::report::size_words(size as u64);
    Ok(LinkRates {
        bandwidth: note(
            one,
            format!("one TCP stream of {words} over 127.0.0.1, median of {rounds} rounds"),
        ),
        sharing: note(
            sharing,
            format!(
                "1..{LOOPBACK_STREAMS} TCP streams of {words} each over 127.0.0.1 at once: their \
                 bandwidth together, relative to one; median of the same {rounds} rounds"
            ),
        ),
    })
}

/// Writes `bytes` to a new file at `path` and fdatasyncs it; with `tail`, 4 KiB more and a
/// second fdatasync (a `disk` step's `fsync = true`). The one writer of both `calibrate`'s
/// bandwidth rounds and the native validation runtime's disk writes, so that what is
/// predicted from the first is measured with the same calls (the Python runtime's writer
/// makes the same two in Python: one `write()` of the bytes, then `os.fdatasync`). The caller
/// removes the file.
pub fn write_synced(path: &std::path::Path, bytes: u64, tail: bool) -> std::io::Result<()> {
    const CHUNK: usize = 1 << 20;
    static BUF: [u8; CHUNK] = [1; CHUNK];
    let mut f = std::fs::File::create(path)?;
    let mut left = bytes;
    while left > 0 {
        let n = left.min(CHUNK as u64) as usize;
        f.write_all(&BUF[..n])?;
        left -= n as u64;
    }
    f.sync_data()?;
    if tail {
        f.write_all(&BUF[..4096])?;
        f.sync_data()?;
    }
    Ok(())
}

/// Most concurrent writers the disk's sharing is measured with.
pub const DISK_WRITERS: usize = 4;

/// What `calibrate` measures of the disk.
pub struct Disk {
    /// One 4 KiB write + fdatasync.
    pub latency: Note<Duration>,
    /// One writer's write + fdatasync bandwidth, bytes/s.
    pub bandwidth: Note<f64>,
    /// The bandwidth of 1..=[`DISK_WRITERS`] writers at once, relative to one.
    pub sharing: Note<Vec<f64>>,
}

/// Disk, in `dir`: the fsync latency of a 4 KiB write, and the write + fsync bandwidth of
/// 1, 2, 3, 4 writers at once (each its own file), the counts interleaved within rounds as
/// the disk's speed drifts; medians of the rounds (of the ratios to one writer in the same
/// round, for the sharing).
pub fn disk(dir: &std::path::Path, quick: bool) -> std::io::Result<Disk> {
    std::fs::create_dir_all(dir)?;
    let path = |i: usize| dir.join(format!(".gilsim-calibrate-{}-{i}", std::process::id()));
    let result = (|| {
        let mut f = std::fs::File::create(path(0))?;
        let block = vec![7u8; 4096];
        let n = if quick { 20 } else { 100 };
        let mut times = Vec::with_capacity(n);
        for _ in 0..n {
            let t = Instant::now();
            f.write_all(&block)?;
            f.sync_data()?;
            times.push(t.elapsed());
        }
        drop(f);
        times.sort();
        let size = if quick { 8 << 20 } else { 16 << 20 };
        let rounds = if quick { 2 } else { 3 };
        let write_all = |k: usize| -> std::io::Result<f64> {
            let t = Instant::now();
            std::thread::scope(|s| {
                let writers: Vec<_> = (0..k)
                    .map(|i| {
                        let file = path(i + 1);
                        s.spawn(move || write_synced(&file, size as u64, false))
                    })
                    .collect();
                writers
                    .into_iter()
                    .try_for_each(|w| w.join().expect("a writer thread panicked"))
            })?;
            Ok((k * size) as f64 / t.elapsed().as_secs_f64())
        };
        let (one, sharing) = shared_rates(rounds, DISK_WRITERS, write_all)?;
        let words = crate::report::size_words(size as u64);
        Ok(Disk {
            latency: note(
                times[n / 2],
                format!("median of {n} 4 KiB writes + fdatasync"),
            ),
            bandwidth: note(
                one,
                format!("one {words} write + fdatasync, median of {rounds} rounds"),
            ),
            sharing: note(
                sharing,
                format!(
                    "1..{DISK_WRITERS} threads each writing {words} to a file of its own + \
                     fdatasync at once: their bandwidth together, relative to one; median of \
                     the same {rounds} rounds"
                ),
            ),
        })
    })();
    for i in 0..=DISK_WRITERS {
        let _ = std::fs::remove_file(path(i));
    }
    result
}

/// Loopback TCP round trip.
pub fn loopback() -> Option<Note<Duration>> {
    latency::measure_loopback().map(|s| {
        note(
            Duration::from_secs_f64(s),
            "median TCP round trip of one byte on 127.0.0.1 (Nagle off)",
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sharing_is_each_rounds_ratio_to_one_alone_with_counts_interleaved() {
        // A device that drifts: every call is 10 % slower than the one before, and k
        // transfers get 1 + (k − 1) / 2 times one's bandwidth together. The ratio within a
        // round cancels most of the drift that separate medians would keep.
        let mut calls = Vec::new();
        let mut speed = 100.0;
        let (one, sharing) = shared_rates(3, 3, |k| {
            calls.push(k);
            speed *= 0.9;
            Ok(speed * (1.0 + (k as f64 - 1.0) / 2.0))
        })
        .unwrap();
        assert_eq!(calls, [1, 2, 3, 3, 2, 1, 1, 2, 3]);
        // Rounds 1 and 3 (forward) put k one and two calls after the one alone: their
        // ratios, the medians, are 1.5 × 0.9 and 2 × 0.81 (round 2 runs backward).
        assert_eq!(sharing, [1.0, 1.35, 1.62]);
        // One alone: 90, 53.1 and 47.8 in the three rounds.
        assert!((one - 90.0 * 0.9f64.powi(5)).abs() < 1e-9, "{one}");
    }

    #[test]
    fn a_wakeups_spread_is_read_at_its_tenth_middle_and_ninetieth_percentiles() {
        let sorted: Vec<Duration> = (1..=101).map(Duration::from_micros).collect();
        assert_eq!(
            spread_words(&sorted),
            "p10 11.0 µs, median 51.0 µs, p90 91.0 µs"
        );
        assert_eq!(spread_words(&[]), "not timed");
    }
}
