//! The one place randomness comes from: seeded [`Pcg64`] streams.
//!
//! Every task instance draws from its own stream, derived from the scenario seed and the
//! task's index, so a task gets the same durations whichever strategy runs it and in
//! whatever order: serial, threads and processes are compared on identical work, and a
//! change in scheduling never changes what is drawn. `Pcg64` is portable and its output is
//! fixed across rand versions (unlike `StdRng`/`SmallRng`), so a seed means the same run
//! everywhere. (Exponential draws come from `rand_distr`, which may change a distribution's
//! draws in a new minor version — its value-stability policy — so `Cargo.lock` pins it.)

use rand::{RngExt, SeedableRng};
use rand_pcg::Pcg64;

/// Which part of a job a stream belongs to (keeps setup, teardown and tasks apart).
pub const SETUP_STREAM: u64 = u64::MAX;
/// The teardown's stream.
pub const TEARDOWN_STREAM: u64 = u64::MAX - 1;

/// A seeded random stream.
#[derive(Debug, Clone)]
pub struct Stream(Pcg64);

impl Stream {
    /// The stream for item `index` of a run seeded with `seed`.
    pub fn new(seed: u64, index: u64) -> Self {
        // splitmix64-style mixing so that neighbouring (seed, index) pairs give unrelated
        // PCG seeds.
        let mut z = seed
            .wrapping_mul(0x9E37_79B9_7F4A_7C15)
            .wrapping_add(index.wrapping_mul(0xD1B5_4A32_D192_ED03))
            .wrapping_add(0x94D0_49BB_1331_11EB);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        Stream(Pcg64::seed_from_u64(z))
    }

    /// Uniform on [0, 1).
    pub fn unit(&mut self) -> f64 {
        self.0.random::<f64>()
    }

    /// Standard normal (Box–Muller; one of the pair is dropped to keep the stream stateless).
    #[inline(never)]
    pub fn standard_normal(&mut self) -> f64 {
        let u1 = 1.0 - self.unit(); // (0, 1]: ln is finite
        let u2 = self.unit();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }

    /// Exponential with mean 1, by the ziggurat method (Marsaglia & Tsang 2000, as
    /// `rand_distr::Exp1` implements it): in ~99 % of draws one 64-bit output, a table
    /// lookup, a multiply and a compare; only the rest call `exp` or `ln`. The inverse CDF
    /// `-ln(1 - u)` it replaced put a libm `log` on every simulated CPU burst and I/O wait
    /// (~3 % of the wall time of the peers' workload, docs/performance.md).
    pub fn standard_exp(&mut self) -> f64 {
        rand_distr::Distribution::sample(&rand_distr::Exp1, &mut self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_and_index_give_the_same_stream() {
        let a: Vec<f64> = {
            let mut s = Stream::new(7, 3);
            (0..5).map(|_| s.unit()).collect()
        };
        let b: Vec<f64> = {
            let mut s = Stream::new(7, 3);
            (0..5).map(|_| s.unit()).collect()
        };
        assert_eq!(a, b);
        let mut other = Stream::new(7, 4);
        assert_ne!(a[0], other.unit());
    }

    #[test]
    fn exponential_has_unit_mean_and_variance_and_its_tail() {
        let mut s = Stream::new(1, 2);
        let n = 200_000;
        let xs: Vec<f64> = (0..n).map(|_| s.standard_exp()).collect();
        assert!(xs.iter().all(|&x| x >= 0.0 && x.is_finite()));
        let mean = xs.iter().sum::<f64>() / n as f64;
        let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n as f64;
        assert!((mean - 1.0).abs() < 0.01, "{mean}");
        assert!((var - 1.0).abs() < 0.03, "{var}");
        // P(X > 3) = e^-3 ≈ 4.98 %: the shape of the tail, not only the first two moments.
        let tail = xs.iter().filter(|&&x| x > 3.0).count() as f64 / n as f64;
        assert!((tail - (-3.0f64).exp()).abs() < 0.002, "{tail}");
    }

    #[test]
    fn normal_has_unit_variance() {
        let mut s = Stream::new(1, 1);
        let n = 50_000;
        let xs: Vec<f64> = (0..n).map(|_| s.standard_normal()).collect();
        let mean = xs.iter().sum::<f64>() / n as f64;
        let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n as f64;
        assert!(mean.abs() < 0.02, "{mean}");
        assert!((var - 1.0).abs() < 0.03, "{var}");
    }
}
