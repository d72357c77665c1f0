//! Quantities written as strings with a unit: durations, sizes and rates (DESIGN §2).
//!
//! - durations: `ns us µs ms s min` — `"5ms"`, `"1.5s"`, `"0ns"`
//! - sizes: `B KB MB GB TB` (powers of 1000) and `KiB MiB GiB TiB` (powers of 1024)
//! - rates: a size per second (`"600MB/s"`, `"2GiB/s"`) or bits per second
//!   (`"100Mbit/s"`, `"1Gbit/s"`)
//!
//! The parsers return a plain message on failure; the caller attaches file, line and column.
//! Numbers may be written with a fraction or exponent (`"2.5ms"`, `"1e3us"`), never negative,
//! NaN or infinite, and never so large that they overflow 64-bit nanoseconds or bytes.

use crate::time::SimDuration;

const DURATION_UNITS: &[(&str, f64)] = &[
    ("ns", 1.0),
    ("us", 1e3),
    ("µs", 1e3),
    ("ms", 1e6),
    ("s", 1e9),
    ("min", 60e9),
];

const SIZE_UNITS: &[(&str, f64)] = &[
    ("B", 1.0),
    ("KB", 1e3),
    ("MB", 1e6),
    ("GB", 1e9),
    ("TB", 1e12),
    ("KiB", 1024.0),
    ("MiB", 1048576.0),
    ("GiB", 1073741824.0),
    ("TiB", 1099511627776.0),
];

const BIT_RATE_UNITS: &[(&str, f64)] = &[
    ("bit/s", 0.125),
    ("Kbit/s", 125.0),
    ("Mbit/s", 125e3),
    ("Gbit/s", 125e6),
];

/// Splits `"1.5ms"` into (1.5, "ms"), checking the number is finite and not negative.
fn split_number<'a>(text: &'a str, what: &str, example: &str) -> Result<(f64, &'a str), String> {
    let s = text.trim();
    let end = s
        .char_indices()
        .find(|&(i, c)| {
            !(c.is_ascii_digit()
                || c == '.'
                || c == '_'
                || ((c == 'e' || c == 'E')
                    && s[i + 1..]
                        .starts_with(|n: char| n.is_ascii_digit() || n == '-' || n == '+'))
                || ((c == '-' || c == '+') && i > 0 && matches!(&s[i - 1..i], "e" | "E"))
                || (c == '-' && i == 0))
        })
        .map_or(s.len(), |(i, _)| i);
    let (number, unit) = s.split_at(end);
    let unit = unit.trim_start();
    if number.is_empty() {
        return Err(format!(
            "expected {what} as a number with a unit, like \"{example}\", found \"{text}\""
        ));
    }
    let value: f64 = number.replace('_', "").parse().map_err(|_| {
        format!("expected {what} as a number with a unit, like \"{example}\", found \"{text}\"")
    })?;
    if !value.is_finite() {
        return Err(format!("{what} \"{text}\" is not a finite number"));
    }
    if value < 0.0 {
        return Err(format!(
            "{what} \"{text}\" is negative; it must be 0 or more"
        ));
    }
    Ok((value, unit))
}

fn unit_factor(unit: &str, table: &[(&str, f64)]) -> Option<f64> {
    table.iter().find(|(u, _)| *u == unit).map(|&(_, f)| f)
}

fn unit_list(table: &[(&str, f64)]) -> String {
    table.iter().map(|(u, _)| *u).collect::<Vec<_>>().join(" ")
}

/// Parses a duration such as `"5ms"` or `"1.5s"`.
pub fn parse_duration(text: &str) -> Result<SimDuration, String> {
    let (value, unit) = split_number(text, "a duration", "5ms")?;
    let factor = unit_factor(unit, DURATION_UNITS).ok_or_else(|| {
        if unit.is_empty() {
            format!(
                "duration \"{text}\" has no unit; write one of {}",
                unit_list(DURATION_UNITS)
            )
        } else {
            format!(
                "unknown duration unit \"{unit}\" in \"{text}\"; expected one of {}",
                unit_list(DURATION_UNITS)
            )
        }
    })?;
    let ns = value * factor;
    if ns >= u64::MAX as f64 / 4.0 {
        return Err(format!(
            "duration \"{text}\" is too long to simulate (the limit is about 146 years)"
        ));
    }
    Ok(SimDuration(ns.round() as u64))
}

/// Parses a size in bytes such as `"4MiB"` or `"200KB"`.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let (value, unit) = split_number(text, "a size", "4MiB")?;
    let factor = unit_factor(unit, SIZE_UNITS).ok_or_else(|| {
        if unit.is_empty() {
            format!(
                "size \"{text}\" has no unit; write one of {}",
                unit_list(SIZE_UNITS)
            )
        } else {
            format!(
                "unknown size unit \"{unit}\" in \"{text}\"; expected one of {}",
                unit_list(SIZE_UNITS)
            )
        }
    })?;
    let bytes = value * factor;
    if bytes >= 2f64.powi(62) {
        return Err(format!("size \"{text}\" is too large (the limit is 4 EiB)"));
    }
    Ok(bytes.round() as u64)
}

/// Parses a rate in bytes per second such as `"600MB/s"` or `"1Gbit/s"`; it must be positive.
pub fn parse_rate(text: &str) -> Result<f64, String> {
    let (value, unit) = split_number(text, "a rate", "600MB/s")?;
    let factor = if let Some(f) = unit_factor(unit, BIT_RATE_UNITS) {
        f
    } else if let Some(size_unit) = unit.strip_suffix("/s") {
        unit_factor(size_unit, SIZE_UNITS).ok_or_else(|| bad_rate_unit(text, unit))?
    } else {
        return Err(bad_rate_unit(text, unit));
    };
    let rate = value * factor;
    if rate <= 0.0 {
        return Err(format!("rate \"{text}\" must be more than zero"));
    }
    if !rate.is_finite() || rate > 1e18 {
        return Err(format!("rate \"{text}\" is too large"));
    }
    Ok(rate)
}

fn bad_rate_unit(text: &str, unit: &str) -> String {
    format!(
        "unknown rate unit \"{unit}\" in \"{text}\"; expected a size per second \
         (B/s KB/s MB/s GB/s KiB/s MiB/s GiB/s) or bits per second (Kbit/s Mbit/s Gbit/s)"
    )
}

/// The time to move `bytes` at `rate` bytes per second.
pub fn transfer_time(bytes: u64, rate: f64) -> SimDuration {
    SimDuration::from_secs_f64(bytes as f64 / rate)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_in_every_unit() {
        assert_eq!(parse_duration("5ms").unwrap(), SimDuration::from_millis(5));
        assert_eq!(
            parse_duration("1.5s").unwrap(),
            SimDuration::from_millis(1500)
        );
        assert_eq!(
            parse_duration("20us").unwrap(),
            SimDuration::from_micros(20)
        );
        assert_eq!(
            parse_duration("20µs").unwrap(),
            SimDuration::from_micros(20)
        );
        assert_eq!(parse_duration("7ns").unwrap(), SimDuration(7));
        assert_eq!(parse_duration("2min").unwrap(), SimDuration::from_secs(120));
        assert_eq!(parse_duration("0ns").unwrap(), SimDuration::ZERO);
        assert_eq!(
            parse_duration("1e3us").unwrap(),
            SimDuration::from_millis(1)
        );
        assert_eq!(
            parse_duration(" 3 ms ").unwrap(),
            SimDuration::from_millis(3)
        );
    }

    #[test]
    fn bad_durations_say_what_is_wrong() {
        assert!(parse_duration("5").unwrap_err().contains("no unit"));
        assert!(parse_duration("5 hours")
            .unwrap_err()
            .contains("unknown duration unit"));
        assert!(parse_duration("-5ms").unwrap_err().contains("negative"));
        assert!(parse_duration("ms").unwrap_err().contains("like \"5ms\""));
        assert!(parse_duration("").unwrap_err().contains("like"));
        assert!(parse_duration("1e300s").unwrap_err().contains("too long"));
        assert!(parse_duration("nan s").is_err());
        assert!(parse_duration("inf s").is_err());
        assert!(parse_duration("1.2.3ms").is_err());
    }

    #[test]
    fn sizes_use_decimal_and_binary_prefixes() {
        assert_eq!(parse_size("200KB").unwrap(), 200_000);
        assert_eq!(parse_size("4MiB").unwrap(), 4 * 1024 * 1024);
        assert_eq!(parse_size("1GB").unwrap(), 1_000_000_000);
        assert_eq!(parse_size("100B").unwrap(), 100);
        assert_eq!(parse_size("0B").unwrap(), 0);
        assert!(parse_size("4mb").unwrap_err().contains("unknown size unit"));
        assert!(parse_size("1e30GB").unwrap_err().contains("too large"));
    }

    #[test]
    fn rates_in_bytes_and_bits() {
        assert_eq!(parse_rate("600MB/s").unwrap(), 600e6);
        assert_eq!(parse_rate("1Gbit/s").unwrap(), 125e6);
        assert_eq!(parse_rate("100Mbit/s").unwrap(), 12.5e6);
        assert_eq!(parse_rate("2GiB/s").unwrap(), 2.0 * 1073741824.0);
        assert!(parse_rate("0MB/s").unwrap_err().contains("more than zero"));
        assert!(parse_rate("5MB").unwrap_err().contains("unknown rate unit"));
    }

    #[test]
    fn transfer_time_is_bytes_over_rate() {
        assert_eq!(transfer_time(1_000_000, 1e9), SimDuration::from_millis(1));
    }
}
