//! Amdahl's law, Gustafson's law, the Universal Scalability Law, and fits to measurements.
//!
//! - Amdahl: `S(n) = 1 / (s + (1 − s) / n)` — a fixed job with serial fraction `s`.
//! - Gustafson: `S(n) = n + (1 − n) s` — the job grows with `n` (scaled speedup).
//! - USL (Gunther): `S(n) = n / (1 + σ(n − 1) + κ n (n − 1))` — contention σ and coherence κ.
//! - Karp–Flatt: the experimentally determined serial fraction
//!   `e = (1/S − 1/p) / (1 − 1/p)` for a measured speedup `S` on `p > 1` processors.

pub use crate::report::chart::{amdahl, fit_amdahl};

/// Gustafson's scaled speedup.
pub fn gustafson(s: f64, n: f64) -> f64 {
    n + (1.0 - n) * s
}

/// The Universal Scalability Law.
pub fn usl(sigma: f64, kappa: f64, n: f64) -> f64 {
    n / (1.0 + sigma * (n - 1.0) + kappa * n * (n - 1.0))
}

/// Karp–Flatt's serial fraction for speedup `speedup` on `p` processors (`None` for p ≤ 1).
pub fn karp_flatt(speedup: f64, p: f64) -> Option<f64> {
    (p > 1.0).then(|| (1.0 / speedup - 1.0 / p) / (1.0 - 1.0 / p))
}

/// Least-squares USL coefficients (σ, κ ≥ 0) for (n, speedup) points.
///
/// `n / S − 1 = σ (n − 1) + κ n (n − 1)` is linear in σ and κ; this solves its normal
/// equations, and when a coefficient comes out negative fixes it at 0 and refits the other.
pub fn fit_usl(points: &[(f64, f64)]) -> (f64, f64) {
    let rows: Vec<(f64, f64, f64)> = points
        .iter()
        .filter(|&&(n, s)| n > 1.0 && s > 0.0)
        .map(|&(n, s)| (n - 1.0, n * (n - 1.0), n / s - 1.0))
        .collect();
    if rows.is_empty() {
        return (0.0, 0.0);
    }
    let one = |pick: fn(&(f64, f64, f64)) -> f64| -> f64 {
        let num: f64 = rows.iter().map(|r| pick(r) * r.2).sum();
        let den: f64 = rows.iter().map(|r| pick(r) * pick(r)).sum();
        if den > 0.0 {
            (num / den).max(0.0)
        } else {
            0.0
        }
    };
    let (mut a11, mut a12, mut a22, mut b1, mut b2) = (0.0, 0.0, 0.0, 0.0, 0.0);
    for &(x1, x2, y) in &rows {
        a11 += x1 * x1;
        a12 += x1 * x2;
        a22 += x2 * x2;
        b1 += x1 * y;
        b2 += x2 * y;
    }
    let det = a11 * a22 - a12 * a12;
    if det.abs() > 1e-12 {
        let sigma = (b1 * a22 - b2 * a12) / det;
        let kappa = (a11 * b2 - a12 * b1) / det;
        if sigma >= 0.0 && kappa >= 0.0 {
            return (sigma, kappa);
        }
    }
    // One coefficient would be negative: the best fit with it at zero.
    let sigma_only = one(|r| r.0);
    let kappa_only = one(|r| r.1);
    let err = |sigma: f64, kappa: f64| -> f64 {
        rows.iter()
            .map(|&(x1, x2, y)| (sigma * x1 + kappa * x2 - y).powi(2))
            .sum()
    };
    if err(sigma_only, 0.0) <= err(0.0, kappa_only) {
        (sigma_only, 0.0)
    } else {
        (0.0, kappa_only)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_laws_at_known_points() {
        assert_eq!(amdahl(0.1, 1.0), 1.0);
        assert!((amdahl(0.1, 10.0) - 1.0 / 0.19).abs() < 1e-12);
        assert_eq!(gustafson(0.1, 10.0), 9.1);
        assert_eq!(usl(0.0, 0.0, 8.0), 8.0);
        assert!((usl(0.1, 0.01, 4.0) - 4.0 / (1.0 + 0.3 + 0.12)).abs() < 1e-12);
    }

    #[test]
    fn karp_flatt_by_hand() {
        // S = 3 on p = 4: (1/3 − 1/4) / (1 − 1/4) = (1/12) / (3/4) = 1/9.
        assert!((karp_flatt(3.0, 4.0).unwrap() - 1.0 / 9.0).abs() < 1e-12);
        // Perfect speedup: no serial fraction.
        assert!(karp_flatt(8.0, 8.0).unwrap().abs() < 1e-12);
        // Amdahl data gives back its own serial fraction at every p.
        for p in [2.0, 4.0, 16.0] {
            assert!((karp_flatt(amdahl(0.05, p), p).unwrap() - 0.05).abs() < 1e-12);
        }
        assert!(karp_flatt(1.0, 1.0).is_none());
    }

    #[test]
    fn usl_fit_recovers_its_coefficients() {
        let points: Vec<(f64, f64)> = [1.0, 2.0, 4.0, 8.0, 16.0, 32.0]
            .iter()
            .map(|&n| (n, usl(0.05, 0.002, n)))
            .collect();
        let (sigma, kappa) = fit_usl(&points);
        assert!((sigma - 0.05).abs() < 1e-9 && (kappa - 0.002).abs() < 1e-9);
        // Pure Amdahl data is USL with κ = 0 and σ = s.
        let amdahl_points: Vec<(f64, f64)> = [2.0, 4.0, 8.0]
            .iter()
            .map(|&n| (n, amdahl(0.1, n)))
            .collect();
        let (sigma, kappa) = fit_usl(&amdahl_points);
        assert!((sigma - 0.1).abs() < 1e-9 && kappa.abs() < 1e-9);
    }
}
