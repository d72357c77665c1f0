//! The latency hierarchy: textbook numbers with their sources, at human scale, and measured
//! on this host.
//!
//! Sources: Jeff Dean / Peter Norvig's "Latency numbers every programmer should know"
//! (2009), and Colin Scott's interactive per-year model of the same list
//! (colin-scott.github.io, "Numbers every programmer should know by year", 2020 values).
//! The L3 and loopback rows are not in either list; their sources are named on the row.
//!
//! Human scale multiplies every latency by a billion: one nanosecond becomes one second.
//!
//! Measurements (`--measure`): memory latency by pointer chasing — a random cyclic
//! permutation of 64-byte nodes (Sattolo's algorithm), so each load depends on the one
//! before and prefetchers cannot guess the next line — over working sets from 4 KiB to
//! 256 MiB; a 1 MB sequential read; an uncontended mutex lock/unlock; and a TCP round trip
//! on 127.0.0.1. Each is the minimum of several repetitions (the least-disturbed run on a
//! shared machine).

use std::hint::black_box;
use std::io::{Read, Write};
use std::time::{Duration, Instant};

use crate::rng::Stream;

/// A row of the hierarchy.
#[derive(Debug, Clone, PartialEq)]
pub struct Level {
    /// What is being timed.
    pub name: &'static str,
    /// Textbook latency, seconds.
    pub seconds: f64,
    /// Where the number comes from.
    pub source: &'static str,
    /// Which measurement of this host corresponds (`None`: not measured).
    pub probe: Option<Probe>,
}

/// A host measurement a row can be compared with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Probe {
    /// Pointer chasing in a working set that fits L1.
    L1,
    /// … that fits L2.
    L2,
    /// … that fits L3.
    L3,
    /// … far larger than L3.
    Ram,
    /// An uncontended mutex lock + unlock.
    Mutex,
    /// Reading 1 MB sequentially from memory.
    Read1MbRam,
    /// A TCP round trip over loopback.
    Loopback,
}

const SCOTT: &str = "Scott 2020";
const DEAN: &str = "Dean/Norvig 2009";

/// The textbook hierarchy, fastest first.
pub fn textbook() -> Vec<Level> {
    let l = |name, seconds, source, probe| Level {
        name,
        seconds,
        source,
        probe,
    };
    vec![
        l("L1 cache reference", 1e-9, SCOTT, Some(Probe::L1)),
        l("branch mispredict", 3e-9, SCOTT, None),
        l("L2 cache reference", 4e-9, SCOTT, Some(Probe::L2)),
        l(
            "L3 cache reference",
            15e-9,
            "Intel optimization manual (~40-50 cycles)",
            Some(Probe::L3),
        ),
        l("mutex lock/unlock", 17e-9, SCOTT, Some(Probe::Mutex)),
        l("main memory reference", 100e-9, SCOTT, Some(Probe::Ram)),
        l(
            "read 1 MB sequentially from memory",
            3e-6,
            SCOTT,
            Some(Probe::Read1MbRam),
        ),
        l("SSD random 4 KB read", 16e-6, SCOTT, None),
        l(
            "loopback TCP round trip",
            30e-6,
            "Linux loopback, netperf TCP_RR (~20-40 us)",
            Some(Probe::Loopback),
        ),
        l("read 1 MB sequentially from SSD", 49e-6, SCOTT, None),
        l("round trip within a data centre (LAN)", 500e-6, DEAN, None),
        l("read 1 MB sequentially from disk", 825e-6, SCOTT, None),
        l("disk seek (HDD)", 2e-3, SCOTT, None),
        l(
            "internet round trip CA-Netherlands-CA (WAN)",
            150e-3,
            DEAN,
            None,
        ),
    ]
}

/// A latency at human scale (× 10⁹: 1 ns → 1 s), in words: "1.0 s", "4.4 hours".
pub fn human_scale(seconds: f64) -> String {
    let s = seconds * 1e9;
    let (value, unit) = if s < 60.0 {
        (s, "s")
    } else if s < 3600.0 {
        (s / 60.0, "min")
    } else if s < 86_400.0 {
        (s / 3600.0, "hours")
    } else if s < 86_400.0 * 365.25 {
        (s / 86_400.0, "days")
    } else {
        (s / (86_400.0 * 365.25), "years")
    };
    if value >= 100.0 {
        format!("{value:.0} {unit}")
    } else {
        format!("{value:.1} {unit}")
    }
}

/// What `--measure` found.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Measured {
    /// (working set bytes, seconds per dependent load), smallest first.
    pub chase: Vec<(u64, f64)>,
    /// Seconds per uncontended mutex lock + unlock.
    pub mutex: Option<f64>,
    /// Seconds to read 1 MB sequentially from memory.
    pub read_1mb: Option<f64>,
    /// Seconds per loopback TCP round trip.
    pub loopback: Option<f64>,
    /// Cache sizes the probes were placed by (L1, L2, L3), bytes.
    pub caches: [u64; 3],
}

impl Measured {
    /// The host's value for a probe.
    pub fn value(&self, probe: Probe) -> Option<f64> {
        let at = |bytes: u64| {
            self.chase
                .iter()
                .min_by_key(|(size, _)| size.abs_diff(bytes))
                .map(|&(_, s)| s)
        };
        match probe {
            // Half of L1 and L2: fits with room for page tables and the stack. The L3 a
            // core can use is often far less than the socket's (shared with other cores
            // and, on a VM, other guests), so its probe is 4 × L2, capped at half of L3.
            Probe::L1 => at(self.caches[0] / 2),
            Probe::L2 => at(self.caches[1] / 2),
            Probe::L3 => at((self.caches[1] * 4).min(self.caches[2] / 2)),
            Probe::Ram => self.chase.last().map(|&(_, s)| s),
            Probe::Mutex => self.mutex,
            Probe::Read1MbRam => self.read_1mb,
            Probe::Loopback => self.loopback,
        }
    }
}

/// This host's cache sizes from sysfs (`/sys/devices/system/cpu/cpu0/cache`), or typical
/// values (32 KiB, 1 MiB, 32 MiB) where it does not say.
pub fn host_caches() -> [u64; 3] {
    let mut caches = [32 << 10, 1 << 20, 32 << 20];
    for index in 0..8 {
        let dir = format!("/sys/devices/system/cpu/cpu0/cache/index{index}");
        let read = |f: &str| std::fs::read_to_string(format!("{dir}/{f}")).ok();
        let (Some(level), Some(kind), Some(size)) = (read("level"), read("type"), read("size"))
        else {
            continue;
        };
        if kind.trim() == "Instruction" {
            continue;
        }
        let size = size.trim();
        let bytes = if let Some(k) = size.strip_suffix('K') {
            k.parse::<u64>().ok().map(|k| k << 10)
        } else if let Some(m) = size.strip_suffix('M') {
            m.parse::<u64>().ok().map(|m| m << 20)
        } else {
            size.parse::<u64>().ok()
        };
        if let (Ok(level), Some(bytes)) = (level.trim().parse::<usize>(), bytes) {
            if (1..=3).contains(&level) {
                caches[level - 1] = bytes;
            }
        }
    }
    caches
}

/// Seconds per dependent load when chasing pointers through `bytes` of memory.
pub fn chase(bytes: u64, loads: usize) -> f64 {
    const NODE: usize = 8; // u64s per 64-byte line
    let nodes = (bytes as usize / 64).max(2);
    // Sattolo's algorithm: a random single cycle through every node.
    let mut order: Vec<u32> = (0..nodes as u32).collect();
    let mut rng = Stream::new(0x1a7e, bytes);
    for i in (1..nodes).rev() {
        let j = (rng.unit() * i as f64) as usize;
        order.swap(i, j);
    }
    let mut memory = vec![0u64; nodes * NODE];
    for i in 0..nodes {
        memory[order[i] as usize * NODE] = order[(i + 1) % nodes] as u64;
    }
    let mut best = f64::INFINITY;
    for _ in 0..3 {
        let mut at = 0usize;
        let start = Instant::now();
        for _ in 0..loads {
            at = memory[at * NODE] as usize;
        }
        black_box(at);
        best = best.min(start.elapsed().as_secs_f64() / loads as f64);
    }
    best
}

fn measure_mutex() -> f64 {
    let m = std::sync::Mutex::new(0u64);
    let n = 2_000_000;
    let mut best = f64::INFINITY;
    for _ in 0..3 {
        let start = Instant::now();
        for i in 0..n {
            *black_box(&m).lock().expect("uncontended") += i;
        }
        best = best.min(start.elapsed().as_secs_f64() / n as f64);
    }
    best
}

fn measure_read_1mb() -> f64 {
    let data: Vec<u64> = (0..(1 << 17)).collect(); // 1 MiB
    let mut best = f64::INFINITY;
    for _ in 0..50 {
        let start = Instant::now();
        let sum: u64 = black_box(&data).iter().fold(0, |a, &x| a.wrapping_add(x));
        black_box(sum);
        best = best.min(start.elapsed().as_secs_f64());
    }
    best * 1e6 / (1u64 << 20) as f64
}

/// A TCP round trip on 127.0.0.1 (one byte each way, Nagle off); `None` if loopback
/// networking is unavailable.
pub fn measure_loopback() -> Option<f64> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").ok()?;
    let addr = listener.local_addr().ok()?;
    let rounds = 2000;
    let server = std::thread::spawn(move || -> Option<()> {
        let (mut s, _) = listener.accept().ok()?;
        s.set_nodelay(true).ok()?;
        let mut b = [0u8; 1];
        for _ in 0..rounds {
            s.read_exact(&mut b).ok()?;
            s.write_all(&b).ok()?;
        }
        Some(())
    });
    let mut c = std::net::TcpStream::connect(addr).ok()?;
    c.set_nodelay(true).ok()?;
    c.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let mut b = [7u8; 1];
    let mut times = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let start = Instant::now();
        c.write_all(&b).ok()?;
        c.read_exact(&mut b).ok()?;
        times.push(start.elapsed().as_secs_f64());
    }
    server.join().ok()??;
    times.sort_by(f64::total_cmp);
    Some(times[times.len() / 2])
}

/// Measures this host. `progress` is told each step's name.
pub fn measure(mut progress: impl FnMut(&str)) -> Measured {
    let caches = host_caches();
    let mut chase_curve = Vec::new();
    let mut size: u64 = 4 << 10;
    while size <= 256 << 20 {
        progress(&format!(
            "pointer chasing in {}",
            crate::report::size_words(size)
        ));
        // Enough loads to run ~20 ms even at RAM speed, and to cycle small sets many times.
        chase_curve.push((size, chase(size, 400_000)));
        size *= 2;
    }
    progress("mutex");
    let mutex = Some(measure_mutex());
    progress("1 MB sequential read");
    let read_1mb = Some(measure_read_1mb());
    progress("loopback round trip");
    let loopback = measure_loopback();
    Measured {
        chase: chase_curve,
        mutex,
        read_1mb,
        loopback,
        caches,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_scale_turns_nanoseconds_into_seconds() {
        assert_eq!(human_scale(1e-9), "1.0 s");
        assert_eq!(human_scale(100e-9), "1.7 min");
        assert_eq!(human_scale(16e-6), "4.4 hours");
        assert_eq!(human_scale(2e-3), "23.1 days");
        assert_eq!(human_scale(150e-3), "4.8 years");
    }

    #[test]
    fn the_textbook_table_is_ordered_and_sourced() {
        let t = textbook();
        assert!(t.len() >= 10);
        for w in t.windows(2) {
            assert!(
                w[0].seconds <= w[1].seconds,
                "{} before {}",
                w[0].name,
                w[1].name
            );
        }
        assert!(t.iter().all(|l| !l.source.is_empty()));
    }

    #[test]
    fn pointer_chasing_visits_a_working_set() {
        // A sanity check of the probe, not a timing claim: it returns a finite positive time.
        let t = chase(64 << 10, 10_000);
        assert!(t.is_finite() && t > 0.0);
    }
}
