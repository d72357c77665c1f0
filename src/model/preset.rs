//! Bundled machines and the default values of every cost, each with its source.
//!
//! `preset = "host"` is this machine: once `gilsim calibrate` has written a host profile it
//! is used; until then the host preset is the detected number of hardware threads (as
//! `os.cpu_count()` sees them, counted as cores without SMT) with the documented defaults
//! below, and a warning says so.
//!
//! Named presets describe machines from the seed articles. Values that the vendor publishes
//! (cores, threads, caches, turbo bins) come from the vendor's specification; values the
//! vendor does not publish (context switch, wake-up, SMT gain) use the documented defaults.

use crate::time::SimDuration;

use super::machine::{Levels, Machine};
use super::python::{Dispatch, ExecutorLock, HelperStart, Python, StartCosts};

/// The preset used when a scenario names none.
pub const DEFAULT_PRESET: &str = "host";

/// A machine plus the CPython costs measured on it (a host profile).
#[derive(Debug, Clone, PartialEq)]
pub struct Preset {
    /// The machine.
    pub machine: Machine,
    /// CPython's costs on it.
    pub python: Python,
}

/// The names `preset = "..."` accepts, with a one-line description each.
pub const PRESETS: &[(&str, &str)] = &[
    (
        "host",
        "this machine (the calibrated host profile, or detected hardware threads + defaults)",
    ),
    (
        "laptop-4c8t",
        "Intel Core i5-10210U laptop: 4 cores, 8 hardware threads (seed experiment C)",
    ),
    (
        "laptop-2c4t",
        "Intel Core i5-7200U laptop: 2 cores, 4 hardware threads (a typical 2017 laptop)",
    ),
    (
        "server-16c",
        "a 16-core, 32-thread server at a flat frequency (for what-if scenarios)",
    ),
];

/// Preset names, for error messages.
pub fn names() -> Vec<&'static str> {
    PRESETS.iter().map(|(n, _)| *n).collect()
}

/// The latency hierarchy's defaults.
///
/// Sources: Jeff Dean / Peter Norvig, "Latency numbers every programmer should know" (2009)
/// and Colin Scott's per-year model of the same list (2020 values): L1 ≈ 1 ns, L2 ≈ 4 ns,
/// main memory ≈ 100 ns, round trip within a data centre ≈ 500 µs. L3 ≈ 15 ns is ~40–50
/// cycles at 3 GHz (Intel's optimisation manual gives ~40 cycles for Skylake's L3 hit).
/// SSD 100 µs and HDD 5 ms are one random 4 KiB read on a SATA SSD and a 7200 rpm disk
/// (seek + half a rotation). Loopback 30 µs is a TCP round trip through Linux's loopback
/// device; WAN 80 ms is a transatlantic round trip (Dean: CA→NL→CA 150 ms). These are the
/// values of DESIGN §2's example.
pub fn default_latency() -> Levels<SimDuration> {
    Levels {
        l1: SimDuration::from_nanos(1),
        l2: SimDuration::from_nanos(4),
        l3: SimDuration::from_nanos(15),
        ram: SimDuration::from_nanos(100),
        ssd: SimDuration::from_micros(100),
        hdd: SimDuration::from_millis(5),
        loopback: SimDuration::from_micros(30),
        lan: SimDuration::from_micros(500),
        wan: SimDuration::from_millis(80),
    }
}

/// Bandwidths in bytes per second.
///
/// RAM 20 GB/s (one core's streaming read on dual-channel DDR4), SSD 2 GB/s (NVMe sequential
/// read), HDD 200 MB/s (7200 rpm sequential), LAN 1 Gbit/s, WAN 100 Mbit/s: DESIGN §2's example.
/// Caches: one core's sequential read at ~3 GHz with 64 B/cycle from L1, ~32 B/cycle from L2
/// and ~16 B/cycle from L3 (Intel optimisation manual, Skylake client), rounded down.
/// Loopback 4 GB/s: a single TCP stream through Linux's loopback device (≈30 Gbit/s).
pub fn default_bandwidth() -> Levels<f64> {
    Levels {
        l1: 150e9,
        l2: 80e9,
        l3: 40e9,
        ram: 20e9,
        ssd: 2e9,
        hdd: 200e6,
        loopback: 4e9,
        lan: 125e6,
        wan: 12.5e6,
    }
}

/// A machine with `cores` cores and every other value at its default.
///
/// - time slice 4 ms: Linux CFS gives each of two runnable threads on a CPU about half of
///   its 6 ms scheduling latency, i.e. ~3–4 ms (kernel/sched/fair.c, sysctl_sched_latency);
/// - context switch 3 µs and wake-up 20 µs: direct costs measured with lmbench `lat_ctx` /
///   futex ping-pong on current x86 Linux are 1–5 µs and 10–50 µs (virtual machines at the
///   high end); `gilsim calibrate` replaces both with this host's values;
/// - none of the wake-up on a core (`wakeup_cpu` 0): on bare metal the woken thread's own
///   share is about a context switch, charged as one; on a VM most of it is CPU time
///   (measured by `gilsim calibrate`, docs/decisions.md);
/// - no cost of switching between processes beyond the context switch (`process_switch`
///   0): it depends on how much of the caches the two use (a few µs to a millisecond: Li,
///   Ding and Shen, "Quantifying the cost of context switch", ExpCS 2007); `gilsim
///   calibrate` measures it for a pure-Python thread on this host;
/// - busy cores all at one speed (`speed_spread` 0), as on an otherwise idle machine;
/// - caches 48 KiB / 2 MiB / 32 MiB: DESIGN §2's example (a current desktop core).
fn base_machine(preset: &str, cores: u32, smt: u32) -> Machine {
    Machine {
        preset: preset.to_string(),
        cores,
        smt,
        smt_speedup: DEFAULT_SMT_SPEEDUP,
        speed_spread: 0.0,
        frequency: vec![1.0],
        time_slice: SimDuration::from_millis(4),
        context_switch: SimDuration::from_micros(3),
        wakeup: SimDuration::from_micros(20),
        wakeup_cpu: SimDuration::ZERO,
        process_switch: SimDuration::ZERO,
        latency: default_latency(),
        bandwidth: default_bandwidth(),
        // One transfer's bandwidth, shared by all at once: a link is only as fast as it
        // is, and one sequential stream keeps a disk busy (docs/decisions.md, "Shared
        // disks and links").
        sharing: std::array::from_fn(|_| vec![1.0]),
        cache: [48 * 1024, 2 * 1024 * 1024, 32 * 1024 * 1024],
    }
}

/// Throughput of a core with both hyper-threads busy vs one: Intel describes Hyper-Threading
/// as "up to 30%" more throughput; interpreter loops (branchy, cache-resident) gain ~20–30%.
const DEFAULT_SMT_SPEEDUP: f64 = 1.25;

/// The machine of a preset, and a warning when it is a guess (the uncalibrated host).
pub fn machine(name: &str, host_profile: Option<&Preset>) -> Option<(Machine, Option<String>)> {
    match name {
        "host" => Some(match host_profile {
            Some(p) => (p.machine.clone(), None),
            None => {
                let threads = std::thread::available_parallelism().map_or(1, |n| n.get() as u32);
                (
                    base_machine("host", threads, 1),
                    Some(format!(
                        "no host profile (output/host.toml): preset \"host\" is this \
                         machine's {threads} hardware threads (as cores, no SMT) with default \
                         costs; run `gilsim calibrate` to measure them"
                    )),
                )
            }
        }),
        "laptop-4c8t" => {
            // Intel Core i5-10210U (ark.intel.com, product 195436): 4 cores, 8 threads,
            // 1.6 GHz base, 4.2 GHz max turbo; 32 KiB L1d and 256 KiB L2 per core, 6 MiB L3.
            // Turbo bins 4.2 / 4.1 / 3.9 / 3.9 GHz with 1 / 2 / 3 / 4 active cores
            // (WikiChip, "Core i5-10210U"), relative to 4.2 GHz. Sustained all-core runs on
            // a 15 W laptop may drop below the turbo bins; that is not modelled.
            let mut m = base_machine("laptop-4c8t", 4, 2);
            m.frequency = vec![1.0, 4.1 / 4.2, 3.9 / 4.2, 3.9 / 4.2];
            m.cache = [32 * 1024, 256 * 1024, 6 * 1024 * 1024];
            Some((m, None))
        }
        "laptop-2c4t" => {
            // Intel Core i5-7200U (ark.intel.com, product 95443): 2 cores, 4 threads,
            // 2.5 GHz base, 3.1 GHz max turbo on one or both cores; 32 KiB L1d and 256 KiB L2
            // per core, 3 MiB L3.
            let mut m = base_machine("laptop-2c4t", 2, 2);
            m.frequency = vec![1.0, 1.0];
            m.cache = [32 * 1024, 256 * 1024, 3 * 1024 * 1024];
            Some((m, None))
        }
        "server-16c" => {
            // A what-if machine, not a product: 16 cores with SMT at a flat clock.
            let m = base_machine("server-16c", 16, 2);
            Some((m, None))
        }
        _ => None,
    }
}

/// CPython's costs when neither a host profile nor the scenario sets them.
///
/// - switch interval 5 ms: CPython's default (`sys.getswitchinterval()`,
///   `DEFAULT_INTERVAL` in Python/ceval_gil.c);
/// - the rest are DESIGN §2's example values, of the order measured on current Linux
///   laptops: `threading.Thread.start()` ≈ 50–100 µs, `ThreadPoolExecutor.submit` round
///   trip ≈ 10–20 µs, `Pool.apply` round trip ≈ 100–200 µs, an asyncio callback resume
///   ≈ 5–10 µs, process start 1–3 ms (fork), ~10 ms (forkserver), 50–80 ms (spawn, a fresh
///   interpreter importing the main module); pickle ≈ 0.5–1 GB/s for bytes-like payloads;
///   a pipe moves ≈ 1 GB/s with ≈ 20–50 µs of latency. `gilsim calibrate` measures them.
pub fn default_python() -> Python {
    Python {
        gil: true,
        switch_interval: SimDuration::from_millis(5),
        thread_start: SimDuration::from_micros(80),
        process_start: StartCosts {
            fork: SimDuration::from_millis(2),
            forkserver: SimDuration::from_millis(8),
            spawn: SimDuration::from_millis(60),
        },
        // Measured with CPython 3.11.7 on the project's VM (the parent's CPU time over
        // `Pool(n)`'s construction, n = 1…16, medians of 5): 1.3–1.7 ms more per worker with
        // fork (`os.fork()` copies the page tables), 0.6–0.7 ms with spawn and forkserver
        // (launching or asking for the process and sending its preparation data); ~2 ms for
        // n = 0 beside the handler threads' starts, and ~1 ms of the parent's CPU in close
        // and join (docs/decisions.md, "Pool start").
        process_start_parent: StartCosts {
            fork: SimDuration::from_micros(1_500),
            forkserver: SimDuration::from_micros(600),
            spawn: SimDuration::from_micros(700),
        },
        pool_setup: StartCosts::all(SimDuration::from_millis(2)),
        // Measured the same way: a worker's CPU over its life (getrusage of the reaped
        // children) less its CPU by its first result, `Pool(1)`: 1.2–1.6 ms with fork, ~20 ms
        // with spawn (a whole interpreter's finalisation); forkserver's workers are forks
        // of the server, taken as fork's.
        process_exit: StartCosts {
            fork: SimDuration::from_micros(1_500),
            forkserver: SimDuration::from_micros(1_500),
            spawn: SimDuration::from_millis(20),
        },
        // Each helper is a fresh interpreter like a spawn child (60 ms above). The tracker
        // imports less than a child (no main module): measured on the project's VM with
        // CPython 3.11.7, tracker 60–80 ms and server 70–80 ms of CPU against ~85 ms for a
        // spawn child to reach its initializer, hence 5/6 and 1× the spawn child's cost.
        helper_start: HelperStart {
            resource_tracker: SimDuration::from_millis(50),
            forkserver: SimDuration::from_millis(60),
        },
        pickle: 600e6,
        ipc: 1e9,
        // Not measured: every transfer's time is copying on both ends (`calibrate` measures
        // the share: about a third for the writer, half for the reader on the project's VM).
        ipc_cpu: None,
        ipc_latency: SimDuration::from_micros(40),
        dispatch: Dispatch {
            threads: SimDuration::from_micros(15),
            processes: SimDuration::from_micros(120),
            asyncio: SimDuration::from_micros(10),
        },
        // Measured with CPython 3.11 on the project's 2-vCPU VM: Pool(1).map(abs, ...,
        // chunksize=1) took 25–29 µs of the worker's CPU per task (and 61–84 µs of the
        // parent's, against the 120 µs round trip above).
        pool_worker: SimDuration::from_micros(30),
        // Measured with CPython 3.11 on the project's 2-vCPU VM (`threading.Semaphore`:
        // acquire(timeout=0) on a zero count 2.3–3.0 µs, release() 1.5–1.9 µs per call).
        executor_lock: ExecutorLock {
            submit: SimDuration::from_micros(2),
            done: SimDuration::from_nanos(1_500),
        },
    }
}

/// CPython's costs for a preset: the host profile's measurements, or the defaults.
pub fn python(name: &str, host_profile: Option<&Preset>) -> Python {
    match (name, host_profile) {
        ("host", Some(p)) => p.python.clone(),
        _ => default_python(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_listed_preset_exists() {
        for (name, _) in PRESETS {
            let (m, _) = machine(name, None).unwrap();
            assert!(m.cores >= 1 && m.smt >= 1, "{name}");
            assert!(!m.frequency.is_empty());
        }
        assert!(machine("nope", None).is_none());
    }

    #[test]
    fn uncalibrated_host_warns_and_calibrated_host_does_not() {
        let (m, warning) = machine("host", None).unwrap();
        assert!(warning.unwrap().contains("gilsim calibrate"));
        let profile = Preset {
            machine: m,
            python: default_python(),
        };
        assert!(machine("host", Some(&profile)).unwrap().1.is_none());
    }
}
