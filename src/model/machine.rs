//! The validated machine: cores, SMT, frequency by load, OS costs and the latency hierarchy.
//!
//! A machine starts from a preset ([`super::preset`]) and every key in `[machine]`
//! overrides one value of it. The defaults and each preset's values carry their source
//! next to them.

use toml::Spanned;

use crate::error::ScenarioError;
use crate::scenario::{RawCache, RawLevels, RawMachine};
use crate::time::SimDuration;

use super::preset::{self, Preset};
use super::program::Channel;
use super::Ctx;

/// One value per level of the latency hierarchy.
#[derive(Debug, Clone, PartialEq)]
pub struct Levels<T> {
    /// Level-1 cache.
    pub l1: T,
    /// Level-2 cache.
    pub l2: T,
    /// Level-3 (last-level) cache.
    pub l3: T,
    /// Main memory.
    pub ram: T,
    /// Solid-state disk.
    pub ssd: T,
    /// Spinning disk.
    pub hdd: T,
    /// Network round trip to this host.
    pub loopback: T,
    /// Network round trip inside a data centre / office.
    pub lan: T,
    /// Network round trip across the internet.
    pub wan: T,
}

impl<T: Copy> Levels<T> {
    /// Each level with its key in `[machine.latency]` / `[machine.bandwidth]`, in order.
    pub fn named(&self) -> [(&'static str, T); 9] {
        [
            ("l1", self.l1),
            ("l2", self.l2),
            ("l3", self.l3),
            ("ram", self.ram),
            ("ssd", self.ssd),
            ("hdd", self.hdd),
            ("loopback", self.loopback),
            ("lan", self.lan),
            ("wan", self.wan),
        ]
    }
}

/// Where a `mem` step's working set lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemLevel {
    /// Fits in L1.
    L1,
    /// Fits in L2.
    L2,
    /// Fits in L3.
    L3,
    /// Spills to RAM.
    Ram,
}

/// The machine a scenario runs on.
#[derive(Debug, Clone, PartialEq)]
pub struct Machine {
    /// The preset it started from.
    pub preset: String,
    /// Physical cores.
    pub cores: u32,
    /// Hardware threads per core.
    pub smt: u32,
    /// Throughput of one core with all its hardware threads busy, relative to one thread.
    pub smt_speedup: f64,
    /// Per-core speed with 1, 2, 3… busy cores; the last value repeats.
    pub frequency: Vec<f64>,
    /// With two or more cores busy, how far apart their speeds are (fastest − slowest,
    /// relative to `frequency[busy]`), spread evenly around it: the busy cores of a VM do
    /// not run alike, and a split into equal parts ends with the slowest.
    pub speed_spread: f64,
    /// OS round-robin quantum.
    pub time_slice: SimDuration,
    /// Cost of a hardware thread switching between software threads.
    pub context_switch: SimDuration,
    /// From "made runnable by another thread" to "able to run".
    pub wakeup: SimDuration,
    /// The part of `wakeup` the woken thread spends on a core (kernel work, not its own
    /// code), at most `wakeup`: on a VM most of a cross-CPU wake-up is CPU time.
    pub wakeup_cpu: SimDuration,
    /// What a switch to a thread of another process costs on top of `context_switch`: the
    /// caches and TLB it refills after the other process ran there (threads of one process
    /// share their interpreter's code and data, and pay only the context switch).
    pub process_switch: SimDuration,
    /// Latency of each level (network levels: one round trip).
    pub latency: Levels<SimDuration>,
    /// Bandwidth of each level, bytes per second.
    pub bandwidth: Levels<f64>,
    /// Per disk and link (by [`Channel::index`]): the bandwidth all its transfers get
    /// together with 1, 2, 3… of them at once, relative to `bandwidth`; the last value
    /// repeats. `[1.0]` — one transfer's bandwidth, shared — unless `calibrate` measured
    /// that concurrent writers get more out of the disk (a device's internal parallelism).
    pub sharing: [Vec<f64>; 5],
    /// Cache sizes in bytes: L1, L2, L3.
    pub cache: [u64; 3],
}

impl Machine {
    /// Hardware threads: cores × smt.
    pub fn hw_threads(&self) -> u32 {
        self.cores * self.smt
    }

    /// Per-core speed when `busy` cores are busy (1-based; the last entry repeats).
    pub fn frequency_at(&self, busy: u32) -> f64 {
        let i = (busy.max(1) as usize - 1).min(self.frequency.len() - 1);
        self.frequency[i]
    }

    /// Speed of one hardware thread when `siblings_busy` hardware threads of its core
    /// (itself included) are busy: the core's SMT throughput is shared between them.
    pub fn smt_share(&self, siblings_busy: u32) -> f64 {
        if siblings_busy <= 1 {
            1.0
        } else {
            self.smt_speedup / siblings_busy as f64
        }
    }

    /// The one speed of every hardware thread when it does not depend on how many are busy:
    /// one frequency for any number of busy cores, no SMT siblings, no spread.
    pub fn fixed_speed(&self) -> Option<f64> {
        let speed = self.frequency_at(1);
        let flat = (1..=self.cores).all(|busy| self.frequency_at(busy) == speed);
        (flat && self.smt == 1 && self.speed_spread == 0.0).then_some(speed)
    }

    /// The cache level a working set of `bytes` fits in.
    pub fn level_for(&self, bytes: u64) -> MemLevel {
        match bytes {
            b if b <= self.cache[0] => MemLevel::L1,
            b if b <= self.cache[1] => MemLevel::L2,
            b if b <= self.cache[2] => MemLevel::L3,
            _ => MemLevel::Ram,
        }
    }

    /// Latency and bandwidth of a memory level.
    pub fn mem_costs(&self, level: MemLevel) -> (SimDuration, f64) {
        match level {
            MemLevel::L1 => (self.latency.l1, self.bandwidth.l1),
            MemLevel::L2 => (self.latency.l2, self.bandwidth.l2),
            MemLevel::L3 => (self.latency.l3, self.bandwidth.l3),
            MemLevel::Ram => (self.latency.ram, self.bandwidth.ram),
        }
    }

    /// The bandwidth `n` transfers at once on `channel` get together, in bytes/s.
    pub fn shared_bandwidth(&self, channel: Channel, n: usize) -> f64 {
        let s = &self.sharing[channel.index()];
        self.channel_bandwidth(channel) * s[(n.max(1) - 1).min(s.len() - 1)]
    }

    /// The bandwidth of one transfer alone on `channel`, in bytes/s.
    pub fn channel_bandwidth(&self, channel: Channel) -> f64 {
        self.channel_costs(channel).1
    }

    /// A disk's access latency, a link's round trip.
    pub fn channel_latency(&self, channel: Channel) -> SimDuration {
        self.channel_costs(channel).0
    }

    /// Latency and one transfer's bandwidth of a disk or link.
    fn channel_costs(&self, channel: Channel) -> (SimDuration, f64) {
        let (l, b) = (&self.latency, &self.bandwidth);
        match channel {
            Channel::Ssd => (l.ssd, b.ssd),
            Channel::Hdd => (l.hdd, b.hdd),
            Channel::Loopback => (l.loopback, b.loopback),
            Channel::Lan => (l.lan, b.lan),
            Channel::Wan => (l.wan, b.wan),
        }
    }
}

/// A non-empty list of relative values, each above 0 and at most `max` (`frequency`,
/// `[machine.sharing]`): an error at the list when it is empty, at the value otherwise.
fn relative_list(
    ctx: &Ctx,
    list: &Spanned<Vec<Spanned<f64>>>,
    max: f64,
    empty: &str,
    out_of_range: impl Fn(f64) -> String,
) -> Result<Vec<f64>, ScenarioError> {
    if list.get_ref().is_empty() {
        return Err(ctx.error(list.span().start, empty));
    }
    list.get_ref()
        .iter()
        .map(|v| {
            let x = *v.get_ref();
            if x.is_finite() && x > 0.0 && x <= max {
                Ok(x)
            } else {
                Err(ctx.error(v.span().start, out_of_range(x)))
            }
        })
        .collect()
}

/// Largest machine accepted: enough for any real server, small enough that per-core state
/// stays cheap.
const MAX_CORES: i64 = 4096;
const MAX_SMT: i64 = 8;

/// Builds the machine from `[machine]` (or the default preset when it is absent).
pub(super) fn build(
    ctx: &mut Ctx,
    raw: Option<&Spanned<RawMachine>>,
    host_profile: Option<&Preset>,
) -> Result<Machine, ScenarioError> {
    let empty;
    let raw = match raw {
        Some(r) => r.get_ref(),
        None => {
            empty = RawMachine {
                preset: None,
                cores: None,
                smt: None,
                smt_speedup: None,
                speed_spread: None,
                frequency: None,
                time_slice: None,
                context_switch: None,
                wakeup: None,
                wakeup_cpu: None,
                process_switch: None,
                latency: None,
                bandwidth: None,
                sharing: None,
                cache: None,
            };
            &empty
        }
    };
    let name = raw
        .preset
        .as_ref()
        .map_or(preset::DEFAULT_PRESET, |p| p.get_ref().as_str());
    let mut m = match preset::machine(name, host_profile) {
        Some((machine, warning)) => {
            if let Some(w) = warning {
                ctx.warn(w);
            }
            machine
        }
        None => {
            let span = raw.preset.as_ref().map_or(0, |p| p.span().start);
            return Err(ctx.error(
                span,
                format!(
                    "unknown machine preset \"{name}\"; expected one of: {}",
                    preset::names().join(", ")
                ),
            ));
        }
    };

    if let Some(c) = &raw.cores {
        m.cores = ctx.int_in(c, 1, MAX_CORES, "cores")? as u32;
    }
    if let Some(s) = &raw.smt {
        m.smt = ctx.int_in(s, 1, MAX_SMT, "smt (hardware threads per core)")? as u32;
    }
    if let Some(s) = &raw.smt_speedup {
        let v = *s.get_ref();
        if !(v.is_finite() && (0.5..=8.0).contains(&v)) {
            return Err(ctx.error(
                s.span().start,
                format!(
                    "smt_speedup must be between 0.5 and 8 (a core with both hardware threads \
                     busy does 1.0–1.4× the work of one, typically), found {v}"
                ),
            ));
        }
        m.smt_speedup = v;
    }
    if let Some(s) = &raw.speed_spread {
        let v = *s.get_ref();
        if !(v.is_finite() && (0.0..1.0).contains(&v)) {
            return Err(ctx.error(
                s.span().start,
                format!(
                    "speed_spread is how far apart busy cores run (fastest − slowest, relative): \
                     at least 0 and below 1, found {v}"
                ),
            ));
        }
        m.speed_spread = v;
    }
    if let Some(f) = &raw.frequency {
        m.frequency = relative_list(
            ctx,
            f,
            16.0,
            "frequency needs at least one value (speed with one busy core, usually 1.0)",
            |x| format!("frequency values are relative speeds between 0 and 16, found {x}"),
        )?;
    }
    if let Some(sharing) = &raw.sharing {
        let lists = [
            (Channel::Ssd, &sharing.ssd),
            (Channel::Hdd, &sharing.hdd),
            (Channel::Loopback, &sharing.loopback),
            (Channel::Lan, &sharing.lan),
            (Channel::Wan, &sharing.wan),
        ];
        for (channel, list) in lists {
            let Some(list) = list else { continue };
            m.sharing[channel.index()] = relative_list(
                ctx,
                list,
                64.0,
                "a sharing list needs at least one value (the bandwidth of one transfer \
                 alone, relative to [machine.bandwidth]: usually 1.0)",
                |x| {
                    format!(
                        "sharing values are the bandwidth of 1, 2, 3… transfers at once \
                         relative to one alone: between 0 and 64, found {x}"
                    )
                },
            )?;
        }
    }
    if let Some(d) = &raw.time_slice {
        m.time_slice = ctx.positive_duration(d, "time_slice")?;
    }
    if let Some(d) = &raw.context_switch {
        m.context_switch = ctx.duration(d)?;
    }
    if let Some(d) = &raw.wakeup {
        m.wakeup = ctx.duration(d)?;
    }
    if let Some(d) = &raw.process_switch {
        m.process_switch = ctx.duration(d)?;
    }
    match &raw.wakeup_cpu {
        Some(d) => {
            m.wakeup_cpu = ctx.duration(d)?;
            if m.wakeup_cpu > m.wakeup {
                return Err(ctx.error(
                    d.span().start,
                    format!(
                        "wakeup_cpu is the part of wakeup spent on a core: at most wakeup ({}), \
                         found {}",
                        m.wakeup, m.wakeup_cpu
                    ),
                ));
            }
        }
        // A preset's (or host profile's) CPU part shrinks with a smaller `wakeup`.
        None => m.wakeup_cpu = m.wakeup_cpu.min(m.wakeup),
    }
    if let Some(l) = &raw.latency {
        override_levels(&mut m.latency, l, |s| ctx.duration(s))?;
    }
    if let Some(b) = &raw.bandwidth {
        override_levels(&mut m.bandwidth, b, |s| ctx.rate(s))?;
    }
    if let Some(c) = &raw.cache {
        override_cache(ctx, &mut m.cache, c)?;
    }
    Ok(m)
}

fn override_levels<T>(
    levels: &mut Levels<T>,
    raw: &RawLevels,
    mut parse: impl FnMut(&Spanned<String>) -> Result<T, ScenarioError>,
) -> Result<(), ScenarioError> {
    let slots: [(&Option<Spanned<String>>, &mut T); 9] = [
        (&raw.l1, &mut levels.l1),
        (&raw.l2, &mut levels.l2),
        (&raw.l3, &mut levels.l3),
        (&raw.ram, &mut levels.ram),
        (&raw.ssd, &mut levels.ssd),
        (&raw.hdd, &mut levels.hdd),
        (&raw.loopback, &mut levels.loopback),
        (&raw.lan, &mut levels.lan),
        (&raw.wan, &mut levels.wan),
    ];
    for (value, slot) in slots {
        if let Some(v) = value {
            *slot = parse(v)?;
        }
    }
    Ok(())
}

fn override_cache(ctx: &Ctx, cache: &mut [u64; 3], raw: &RawCache) -> Result<(), ScenarioError> {
    for (i, value) in [&raw.l1, &raw.l2, &raw.l3].into_iter().enumerate() {
        if let Some(v) = value {
            let bytes = ctx.size(v)?;
            if bytes == 0 {
                return Err(ctx.error(v.span().start, "a cache size must be more than 0B"));
            }
            cache[i] = bytes;
        }
    }
    for i in 1..3 {
        if cache[i] < cache[i - 1] {
            let names = ["l1", "l2", "l3"];
            let span = [&raw.l1, &raw.l2, &raw.l3][i]
                .as_ref()
                .or([&raw.l1, &raw.l2, &raw.l3][i - 1].as_ref())
                .map_or(0, |s| s.span().start);
            return Err(ctx.error(
                span,
                format!(
                    "cache.{} ({} B) is smaller than cache.{} ({} B); each level must be at \
                     least as large as the one before",
                    names[i],
                    cache[i],
                    names[i - 1],
                    cache[i - 1]
                ),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn machine() -> Machine {
        preset::machine("laptop-4c8t", None).unwrap().0
    }

    #[test]
    fn frequency_repeats_its_last_value() {
        let mut m = machine();
        m.frequency = vec![1.0, 0.9];
        assert_eq!(m.frequency_at(1), 1.0);
        assert_eq!(m.frequency_at(2), 0.9);
        assert_eq!(m.frequency_at(7), 0.9);
    }

    #[test]
    fn smt_shares_the_core_throughput() {
        let mut m = machine();
        m.smt_speedup = 1.25;
        assert_eq!(m.smt_share(1), 1.0);
        assert_eq!(m.smt_share(2), 0.625);
    }

    #[test]
    fn speed_is_fixed_only_without_a_curve_smt_or_spread() {
        let mut m = machine();
        m.smt = 1;
        m.speed_spread = 0.0;
        m.frequency = vec![0.9, 0.9, 0.9, 0.9, 0.8]; // past the 4 cores: never reached
        assert_eq!(m.fixed_speed(), Some(0.9));
        m.frequency = vec![1.0, 0.9];
        assert_eq!(m.fixed_speed(), None);
        m.frequency = vec![1.0];
        m.smt = 2;
        assert_eq!(m.fixed_speed(), None);
        m.smt = 1;
        m.speed_spread = 0.05;
        assert_eq!(m.fixed_speed(), None);
    }

    #[test]
    fn working_set_picks_the_smallest_level_it_fits() {
        let mut m = machine();
        m.cache = [32 * 1024, 256 * 1024, 6 * 1024 * 1024];
        assert_eq!(m.level_for(1024), MemLevel::L1);
        assert_eq!(m.level_for(32 * 1024), MemLevel::L1);
        assert_eq!(m.level_for(100 * 1024), MemLevel::L2);
        assert_eq!(m.level_for(4 << 20), MemLevel::L3);
        assert_eq!(m.level_for(1 << 30), MemLevel::Ram);
    }
}
