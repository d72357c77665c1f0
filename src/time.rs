//! Simulated time: integer nanoseconds.
//!
//! Every clock in the engine is a [`SimTime`] (an instant since the start of a run) and every
//! cost is a [`SimDuration`]. Integers make runs exactly reproducible: the same scenario and
//! seed give the same event order on every machine. Arithmetic saturates instead of wrapping,
//! so a huge scenario value can never make time run backwards; the engine's `--max-sim-time`
//! stops such runs long before the saturation point.

use std::fmt;
use std::ops::{Add, AddAssign, Sub};

/// Nanoseconds per unit, for conversions.
pub const NS_PER_US: u64 = 1_000;
/// Nanoseconds per millisecond.
pub const NS_PER_MS: u64 = 1_000_000;
/// Nanoseconds per second.
pub const NS_PER_S: u64 = 1_000_000_000;

/// An instant of simulated time, in nanoseconds since the run started.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SimTime(pub u64);

/// A length of simulated time, in nanoseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SimDuration(pub u64);

impl SimTime {
    /// The start of every run.
    pub const ZERO: SimTime = SimTime(0);

    /// Seconds as a float, for reports.
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / NS_PER_S as f64
    }

    /// The time elapsed since `earlier` (zero if `earlier` is later).
    pub fn since(self, earlier: SimTime) -> SimDuration {
        SimDuration(self.0.saturating_sub(earlier.0))
    }
}

impl SimDuration {
    /// No time at all.
    pub const ZERO: SimDuration = SimDuration(0);

    /// A duration of whole nanoseconds.
    pub const fn from_nanos(ns: u64) -> Self {
        SimDuration(ns)
    }

    /// A duration of whole microseconds.
    pub const fn from_micros(us: u64) -> Self {
        SimDuration(us * NS_PER_US)
    }

    /// A duration of whole milliseconds.
    pub const fn from_millis(ms: u64) -> Self {
        SimDuration(ms * NS_PER_MS)
    }

    /// A duration of whole seconds.
    pub const fn from_secs(s: u64) -> Self {
        SimDuration(s * NS_PER_S)
    }

    /// A duration from float seconds, rounded to the nearest nanosecond and saturated.
    pub fn from_secs_f64(s: f64) -> Self {
        if s.is_nan() || s <= 0.0 {
            SimDuration(0)
        } else {
            SimDuration((s * NS_PER_S as f64).round().min(u64::MAX as f64) as u64)
        }
    }

    /// Nanoseconds.
    pub fn as_nanos(self) -> u64 {
        self.0
    }

    /// Seconds as a float, for reports.
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / NS_PER_S as f64
    }

    /// Nanoseconds as a float (the same value as `as_nanos() as f64`). Below 2^63 through
    /// `i64`: one instruction on baseline x86-64, where `u64 as f64` is a six-instruction
    /// sequence, and this is on every settling of running work.
    #[inline]
    pub fn as_nanos_f64(self) -> f64 {
        match i64::try_from(self.0) {
            Ok(n) => n as f64,
            Err(_) => self.0 as f64,
        }
    }

    /// `x.ceil()` nanoseconds, clamped to [0, u64::MAX / 4], without `f64::ceil` (a libm
    /// call on baseline x86-64, and the engine does this at every re-timing of running
    /// work). The clamp keeps `x` below 2^62, so the conversions go through `i64` (one
    /// instruction each; `u64`'s take six). NaN gives zero.
    #[inline]
    pub fn from_nanos_f64_ceil(x: f64) -> Self {
        let x = x.clamp(0.0, u64::MAX as f64 / 4.0);
        let n = x as i64;
        SimDuration((n + i64::from((n as f64) < x)) as u64)
    }

    /// True for a zero-length duration.
    pub fn is_zero(self) -> bool {
        self.0 == 0
    }

    /// This duration times `n`, saturated.
    pub fn saturating_mul(self, n: u64) -> Self {
        SimDuration(self.0.saturating_mul(n))
    }
}

impl Add<SimDuration> for SimTime {
    type Output = SimTime;
    fn add(self, d: SimDuration) -> SimTime {
        SimTime(self.0.saturating_add(d.0))
    }
}

impl AddAssign<SimDuration> for SimTime {
    fn add_assign(&mut self, d: SimDuration) {
        self.0 = self.0.saturating_add(d.0);
    }
}

impl Add for SimDuration {
    type Output = SimDuration;
    fn add(self, d: SimDuration) -> SimDuration {
        SimDuration(self.0.saturating_add(d.0))
    }
}

impl AddAssign for SimDuration {
    fn add_assign(&mut self, d: SimDuration) {
        self.0 = self.0.saturating_add(d.0);
    }
}

impl Sub for SimTime {
    type Output = SimDuration;
    fn sub(self, earlier: SimTime) -> SimDuration {
        self.since(earlier)
    }
}

impl fmt::Display for SimDuration {
    /// Human-readable with a unit that keeps three significant digits: `850ns`, `12.5us`,
    /// `4.20ms`, `1.50s`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ns = self.0 as f64;
        // Pick the unit after rounding to three digits, so 999.9996 ms prints as 1.00s.
        let (value, unit) = if self.0 < NS_PER_US {
            return write!(f, "{}ns", self.0);
        } else if ns < NS_PER_MS as f64 - 500.0 {
            (ns / NS_PER_US as f64, "us")
        } else if ns < NS_PER_S as f64 - 500_000.0 {
            (ns / NS_PER_MS as f64, "ms")
        } else {
            (ns / NS_PER_S as f64, "s")
        };
        let decimals = if value >= 100.0 {
            0
        } else if value >= 10.0 {
            1
        } else {
            2
        };
        write!(f, "{value:.decimals$}{unit}")
    }
}

impl fmt::Display for SimTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        SimDuration(self.0).fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_nanos_f64_ceil_is_ceil_clamped() {
        for x in [0.0, 0.2, 1.0, 1.5, 2.999, 1e12 + 0.5, -3.0, f64::NAN, 1e300] {
            let want = x.ceil().clamp(0.0, u64::MAX as f64 / 4.0) as u64;
            let got = SimDuration::from_nanos_f64_ceil(x).as_nanos();
            assert_eq!(got, if x.is_nan() { 0 } else { want }, "{x}");
        }
    }

    #[test]
    fn arithmetic_saturates_instead_of_wrapping() {
        let t = SimTime(u64::MAX - 1) + SimDuration(10);
        assert_eq!(t, SimTime(u64::MAX));
        assert_eq!(SimTime(5) - SimTime(9), SimDuration::ZERO);
        assert_eq!(
            SimDuration(u64::MAX).saturating_mul(3),
            SimDuration(u64::MAX)
        );
    }

    #[test]
    fn display_picks_a_readable_unit() {
        assert_eq!(SimDuration(850).to_string(), "850ns");
        assert_eq!(SimDuration::from_micros(12).to_string(), "12.0us");
        assert_eq!(SimDuration(4_200_000).to_string(), "4.20ms");
        assert_eq!(SimDuration::from_millis(1500).to_string(), "1.50s");
        assert_eq!(SimDuration::from_secs(250).to_string(), "250s");
        assert_eq!(SimDuration(999_999_600).to_string(), "1.00s");
        assert_eq!(SimDuration(999_600).to_string(), "1.00ms");
    }

    #[test]
    fn float_seconds_round_to_nanoseconds() {
        assert_eq!(
            SimDuration::from_secs_f64(1.5),
            SimDuration::from_millis(1500)
        );
        assert_eq!(SimDuration::from_secs_f64(-1.0), SimDuration::ZERO);
        assert_eq!(SimDuration::from_secs_f64(f64::NAN), SimDuration::ZERO);
        assert_eq!(SimDuration::from_secs_f64(1e300), SimDuration(u64::MAX));
    }
}
