//! Steps as the engine runs them: a flat program of CPU work, waits and loops.
//!
//! The step kinds of DESIGN §2 reduce to two: *work* that needs a core (`cpu`, and `mem`
//! whose duration comes from the latency hierarchy) and *waits* that do not (`io`, and `net`
//! and `disk`, derived from latency + bytes / bandwidth). `repeat` becomes a loop header.
//! A program is a flat `Vec` so that a [`Cursor`] walks it with a fixed-size loop stack:
//! no allocation per step, and a `repeat = 1_000_000` costs nothing until it runs.
//!
//! `net` and `disk` steps that move bytes are *transfers*: their latency is a wait of their
//! own, but their bytes go through a [`Channel`] — a disk or a network link — whose
//! bandwidth every transfer in progress on it shares (the engine's `channels` module).

use crate::rng::Stream;
use crate::time::SimDuration;

/// The deepest `repeat` nesting accepted. Real workloads need one or two levels; the limit
/// keeps the cursor's loop stack a fixed-size array.
pub const MAX_REPEAT_DEPTH: usize = 8;

/// A duration that may be drawn from a distribution (seeded, see [`crate::rng`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Dist {
    /// Always this long.
    Fixed(SimDuration),
    /// Uniform on `mean × (1 ± spread)`.
    Uniform {
        /// Mean in nanoseconds.
        mean: f64,
        /// Half-width relative to the mean, 0..=1.
        spread: f64,
    },
    /// Normal with standard deviation `mean × spread`, cut at zero.
    Normal {
        /// Mean in nanoseconds.
        mean: f64,
        /// Standard deviation relative to the mean.
        spread: f64,
    },
    /// Exponential with this mean.
    Exp {
        /// Mean in nanoseconds.
        mean: f64,
    },
}

impl Dist {
    /// The expected value.
    pub fn mean(&self) -> SimDuration {
        match *self {
            Dist::Fixed(d) => d,
            Dist::Uniform { mean, .. } | Dist::Normal { mean, .. } | Dist::Exp { mean } => {
                SimDuration(mean.round() as u64)
            }
        }
    }

    /// One draw. Fixed durations do not touch the stream, so adding a distribution to one
    /// step does not change the draws of the others.
    #[inline(always)]
    pub fn sample(&self, rng: &mut Stream) -> SimDuration {
        let ns = match *self {
            Dist::Fixed(d) => return d,
            Dist::Uniform { mean, spread } => mean * (1.0 + spread * (2.0 * rng.unit() - 1.0)),
            Dist::Normal { mean, spread } => mean + mean * spread * rng.standard_normal(),
            Dist::Exp { mean } => mean * rng.standard_exp(),
        };
        SimDuration(round_ns(ns))
    }
}

/// `x.round()` as whole nanoseconds, clamped to [0, u64::MAX / 4] (NaN is 0), without
/// `f64::round` (a libm call on baseline x86-64, and this is on every draw).
fn round_ns(x: f64) -> u64 {
    let x = x.max(0.0).min(u64::MAX as f64 / 4.0);
    // Half away from zero is the truncation of x plus the double just below one half:
    // exact for every x ≥ 0 (x + 0.5 would round 0.49999999999999994 and large odd whole
    // numbers up). One add and one conversion: the draw's result is on the burst's critical
    // path, and the truncate-convert-back-compare it replaced was ~5 % of the wall time in
    // `perf`. Below 2^62 after the clamp, so through `i64` (one instruction; `u64`'s take
    // six on baseline x86-64).
    (x + 0.499_999_999_999_999_94) as i64 as u64
}

/// A device whose bandwidth concurrent transfers share: a disk, or a network link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    /// The solid-state disk.
    Ssd,
    /// The spinning disk.
    Hdd,
    /// The loopback interface.
    Loopback,
    /// The local network.
    Lan,
    /// The internet link.
    Wan,
}

impl Channel {
    /// Every channel, in the order of [`Channel::index`].
    pub const ALL: [Channel; 5] = [
        Channel::Ssd,
        Channel::Hdd,
        Channel::Loopback,
        Channel::Lan,
        Channel::Wan,
    ];

    /// A dense index, `0..ALL.len()`.
    pub fn index(self) -> usize {
        self as usize
    }

    /// Its key in a scenario (`device = "ssd"`, `net = "wan"`, `[machine.sharing]`).
    pub fn key(self) -> &'static str {
        match self {
            Channel::Ssd => "ssd",
            Channel::Hdd => "hdd",
            Channel::Loopback => "loopback",
            Channel::Lan => "lan",
            Channel::Wan => "wan",
        }
    }

    /// "disk" or "link".
    pub fn kind(self) -> &'static str {
        match self {
            Channel::Ssd | Channel::Hdd => "disk",
            Channel::Loopback | Channel::Lan | Channel::Wan => "link",
        }
    }

    /// As a report names it, with the scenario's own word for it: "disk `ssd`".
    pub fn describe(self) -> String {
        format!("{} `{}`", self.kind(), self.key())
    }
}

/// A `net` or `disk` step that moves bytes: `latency` on its own, then `bytes` through
/// `channel` at its bandwidth shared equally with every other transfer in progress on it
/// (processor sharing, as TCP flows share a bottleneck link and writers share a disk),
/// then `tail` on its own (a `disk` step's `fsync`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transfer {
    /// The request's latency: a link's round trip, a disk's access time.
    pub latency: SimDuration,
    /// Bytes through the channel (at least 1: a step without bytes is a plain wait).
    pub bytes: u64,
    /// A wait after the bytes are through (`fsync`'s second latency), or zero.
    pub tail: SimDuration,
    /// The shared device.
    pub channel: Channel,
    /// A disk write (`op = "write"`): what the validation runtimes do for real on the host's
    /// disk; a read or a network transfer they emulate.
    pub write: bool,
}

impl Transfer {
    /// How long the transfer takes with its channel to itself at `bandwidth` bytes/s.
    pub fn alone(&self, bandwidth: f64) -> SimDuration {
        self.latency + crate::units::transfer_time(self.bytes, bandwidth) + self.tail
    }
}

/// One instruction of a program.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Instr {
    /// Work measured on one otherwise idle core. `gil`: Python code that holds the GIL.
    Cpu {
        /// The work.
        work: Dist,
        /// Needs the process's GIL.
        gil: bool,
    },
    /// A wait that does not use a core (I/O, network, disk).
    Io {
        /// How long.
        time: Dist,
        /// Under asyncio: a blocking call that stalls the event loop.
        blocking: bool,
    },
    /// A transfer over a shared channel (`net` and `disk` steps with bytes).
    Transfer {
        /// What it moves, where: [`Program::transfers`]`[index]`.
        index: u32,
        /// Under asyncio: a blocking call that stalls the event loop.
        blocking: bool,
    },
    /// Runs the instructions `here + 1 .. end` `count` times.
    Repeat {
        /// Iterations, ≥ 1.
        count: u64,
        /// Index just past the loop body.
        end: u32,
    },
}

/// A flattened list of steps.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Program {
    /// The instructions, loop bodies inline after their header.
    pub instrs: Vec<Instr>,
    /// What its [`Instr::Transfer`]s move (kept aside: a step, an action and a thread's
    /// current operation carry an index, and stay as small as the CPU work's).
    pub transfers: Vec<Transfer>,
}

impl Program {
    /// The transfer an [`Instr::Transfer`] or [`Step::Transfer`] names.
    pub fn transfer(&self, index: u32) -> &Transfer {
        &self.transfers[index as usize]
    }

    /// True when the program has no steps.
    pub fn is_empty(&self) -> bool {
        self.instrs.is_empty()
    }

    /// Steps one run of the program takes, loops multiplied out (saturating).
    pub fn step_count(&self) -> u64 {
        fn walk(instrs: &[Instr], mut i: usize, end: usize) -> u64 {
            let mut n = 0u64;
            while i < end {
                match instrs[i] {
                    Instr::Cpu { .. } | Instr::Io { .. } | Instr::Transfer { .. } => {
                        n = n.saturating_add(1);
                        i += 1;
                    }
                    Instr::Repeat { count, end: e } => {
                        let body = walk(instrs, i + 1, e as usize);
                        n = n.saturating_add(body.saturating_mul(count));
                        i = e as usize;
                    }
                }
            }
            n
        }
        walk(&self.instrs, 0, self.instrs.len())
    }

    /// Expected total CPU work and waiting time, loops multiplied out (saturating), each
    /// transfer as if alone on its channel (`bandwidth` in bytes/s).
    pub fn expected(&self, bandwidth: impl Fn(Channel) -> f64) -> (SimDuration, SimDuration) {
        fn walk(p: &Program, mut i: usize, end: usize, bw: &dyn Fn(Channel) -> f64) -> (f64, f64) {
            let instrs = &p.instrs;
            let (mut cpu, mut io) = (0.0, 0.0);
            while i < end {
                match instrs[i] {
                    Instr::Cpu { work, .. } => {
                        cpu += work.mean().0 as f64;
                        i += 1;
                    }
                    Instr::Io { time, .. } => {
                        io += time.mean().0 as f64;
                        i += 1;
                    }
                    Instr::Transfer { index, .. } => {
                        let xfer = p.transfer(index);
                        io += xfer.alone(bw(xfer.channel)).0 as f64;
                        i += 1;
                    }
                    Instr::Repeat { count, end: e } => {
                        let (c, w) = walk(p, i + 1, e as usize, bw);
                        cpu += c * count as f64;
                        io += w * count as f64;
                        i = e as usize;
                    }
                }
            }
            (cpu, io)
        }
        let (cpu, io) = walk(self, 0, self.instrs.len(), &bandwidth);
        let clamp = |x: f64| SimDuration(x.min(u64::MAX as f64) as u64);
        (clamp(cpu), clamp(io))
    }
}

/// A step as the cursor hands it out, with its draw already made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Work in nanoseconds of one idle core.
    Cpu {
        /// Work.
        work: SimDuration,
        /// Needs the GIL.
        gil: bool,
    },
    /// A wait.
    Io {
        /// Length.
        time: SimDuration,
        /// Stalls an event loop.
        blocking: bool,
    },
    /// A transfer over a shared channel.
    Transfer {
        /// What it moves, where: the program's [`Program::transfer`]`(index)`.
        index: u32,
        /// Stalls an event loop.
        blocking: bool,
    },
}

#[derive(Debug, Clone, Copy, Default)]
struct Frame {
    start: u32,
    end: u32,
    remaining: u64,
}

/// A position in a program, with its own random stream.
#[derive(Debug, Clone)]
pub struct Cursor {
    pc: u32,
    depth: u8,
    frames: [Frame; MAX_REPEAT_DEPTH],
    rng: Stream,
}

impl Cursor {
    /// A cursor at the start of a program, drawing from `rng`.
    pub fn new(rng: Stream) -> Self {
        Cursor {
            pc: 0,
            depth: 0,
            frames: [Frame::default(); MAX_REPEAT_DEPTH],
            rng,
        }
    }

    /// The next step, or `None` at the end of the program.
    #[inline]
    pub fn next_step(&mut self, program: &Program) -> Option<Step> {
        loop {
            if self.depth > 0 {
                let top = &mut self.frames[self.depth as usize - 1];
                if self.pc == top.end {
                    top.remaining -= 1;
                    if top.remaining > 0 {
                        self.pc = top.start;
                    } else {
                        self.depth -= 1;
                    }
                    continue;
                }
            }
            let instr = *program.instrs.get(self.pc as usize)?;
            self.pc += 1;
            // One draw site for both kinds of step, so that the draw is inlined once.
            let (dist, cpu, flag) = match instr {
                Instr::Cpu { work, gil } => (work, true, gil),
                Instr::Io { time, blocking } => (time, false, blocking),
                // Fixed: nothing to draw.
                Instr::Transfer { index, blocking } => {
                    return Some(Step::Transfer { index, blocking });
                }
                Instr::Repeat { count, end } => {
                    // The model guarantees depth ≤ MAX_REPEAT_DEPTH and a non-empty body.
                    self.frames[self.depth as usize] = Frame {
                        start: self.pc,
                        end,
                        remaining: count,
                    };
                    self.depth += 1;
                    continue;
                }
            };
            let d = dist.sample(&mut self.rng);
            return Some(if cpu {
                Step::Cpu { work: d, gil: flag }
            } else {
                Step::Io {
                    time: d,
                    blocking: flag,
                }
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cpu(ns: u64) -> Instr {
        Instr::Cpu {
            work: Dist::Fixed(SimDuration(ns)),
            gil: true,
        }
    }

    fn run(p: &Program) -> Vec<u64> {
        let mut c = Cursor::new(Stream::new(0, 0));
        let mut out = Vec::new();
        while let Some(s) = c.next_step(p) {
            match s {
                Step::Cpu { work, .. } => out.push(work.0),
                Step::Io { time, .. } => out.push(1000 + time.0),
                Step::Transfer { index, .. } => out.push(2000 + p.transfer(index).bytes),
            }
        }
        out
    }

    #[test]
    fn round_ns_is_round_clamped() {
        let halfway_below = 0.5 - f64::EPSILON / 4.0;
        for x in [
            0.0,
            0.4,
            0.5,
            halfway_below,
            1.5,
            2.5,
            1e15 + 0.5,
            4503599627370497.0,
            -3.0,
            f64::NAN,
            1e300,
        ] {
            let want = if x.is_nan() {
                0
            } else {
                x.max(0.0).round().min(u64::MAX as f64 / 4.0) as u64
            };
            assert_eq!(round_ns(x), want, "{x}");
        }
        // Every quarter up to 2^17 and its neighbours, and a spread over all magnitudes.
        let want = |x: f64| x.round().min(u64::MAX as f64 / 4.0) as u64;
        let mut xs: Vec<f64> = Vec::new();
        for k in 0..(1u64 << 19) {
            let q = k as f64 / 4.0;
            for d in -2i64..=2 {
                xs.push(f64::from_bits((q.to_bits() as i64 + d).max(0) as u64));
            }
        }
        let mut z = 0x9E37_79B9_7F4A_7C15u64;
        for _ in 0..200_000 {
            z ^= z << 13;
            z ^= z >> 7;
            z ^= z << 17;
            // A random mantissa at a random magnitude from 2^-20 to 2^65.
            let exponent = 1003 + (z >> 56) % 86;
            let x = f64::from_bits(exponent << 52 | (z & ((1 << 52) - 1)));
            xs.extend([x, x.floor() + 0.5, x.floor()]);
        }
        for x in xs {
            assert_eq!(round_ns(x), want(x), "{x:e}");
        }
    }

    #[test]
    fn nested_repeats_unroll_in_order() {
        // cpu1, repeat 2 { cpu2, repeat 3 { cpu3 } }, cpu4
        let p = Program {
            instrs: vec![
                cpu(1),
                Instr::Repeat { count: 2, end: 5 },
                cpu(2),
                Instr::Repeat { count: 3, end: 5 },
                cpu(3),
                cpu(4),
            ],
            transfers: Vec::new(),
        };
        assert_eq!(run(&p), [1, 2, 3, 3, 3, 2, 3, 3, 3, 4]);
        assert_eq!(p.expected(|_| 1e9).0, SimDuration(1 + 2 * (2 + 3 * 3) + 4));
    }

    #[test]
    fn repeat_at_the_end_of_a_program_terminates() {
        let p = Program {
            instrs: vec![Instr::Repeat { count: 2, end: 2 }, cpu(7)],
            transfers: Vec::new(),
        };
        assert_eq!(run(&p), [7, 7]);
    }

    #[test]
    fn distributions_have_the_right_mean() {
        let mut rng = Stream::new(3, 9);
        for dist in [
            Dist::Exp { mean: 1000.0 },
            Dist::Normal {
                mean: 1000.0,
                spread: 0.1,
            },
            Dist::Uniform {
                mean: 1000.0,
                spread: 0.5,
            },
        ] {
            let n = 20_000;
            let sum: u64 = (0..n).map(|_| dist.sample(&mut rng).0).sum();
            let mean = sum as f64 / n as f64;
            assert!((mean - 1000.0).abs() < 30.0, "{dist:?}: {mean}");
        }
    }
}
