//! `gilsim amdahl`: Amdahl's law and its relatives, and what measurements say.
//!
//! `--cores` takes a list (`1,2,4,8`) or a range `A..B`, which means the doubling sequence
//! from A up to B (B included): a speedup curve reads best on doubling worker counts.
//! `--measured FILE.csv` reads a CSV with the header `workers,seconds` (one line per run; a
//! line with workers = 1 is required: it is the serial time the speedups divide). Several
//! runs at one worker count are taken as repeats of one measurement: each count's median
//! time is its point (a mean would let one slow outlier move the fit), and the points are
//! in worker order whatever the file's order.

use std::path::{Path, PathBuf};

use clap::Args;

use crate::error::{Error, ScenarioError};
use crate::report::{self, chart, png};
use crate::teach::amdahl::{amdahl, fit_amdahl, fit_usl, gustafson, karp_flatt, usl};

use super::run::Format;

/// Options of `gilsim amdahl`.
#[derive(Debug, Args)]
pub struct AmdahlArgs {
    /// Serial fractions, between 0 and 1.
    #[arg(long, value_delimiter = ',', default_value = "0.05,0.1,0.25")]
    pub serial: Vec<f64>,
    /// Core counts: a list (1,2,4,8) or a doubling range (1..64).
    #[arg(long, default_value = "1..64")]
    pub cores: String,
    /// Add Gustafson's scaled speedup n + (1 − n)s.
    #[arg(long)]
    pub gustafson: bool,
    /// Add the Universal Scalability Law with these coefficients.
    #[arg(long, value_name = "SIGMA,KAPPA")]
    pub usl: Option<String>,
    /// Measured run times (CSV: workers,seconds): speedups, Karp–Flatt and fits.
    #[arg(long, value_name = "FILE.csv")]
    pub measured: Option<PathBuf>,
    /// What to print on stdout (json: the CSV file's rows as objects).
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
    /// Output directory for amdahl.csv and amdahl.png (default: output/amdahl/).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Do not draw amdahl.png.
    #[arg(long)]
    pub no_charts: bool,
    /// No notes on stderr.
    #[arg(short, long)]
    pub quiet: bool,
}

/// Parses `--cores`.
pub fn parse_cores(text: &str) -> Result<Vec<u32>, String> {
    let bad = || format!("--cores {text}: expected a list like 1,2,4,8 or a range like 1..64");
    let cores: Vec<u32> = if let Some((a, b)) = text.split_once("..") {
        let (a, b): (u32, u32) = (
            a.trim().parse().map_err(|_| bad())?,
            b.trim().parse().map_err(|_| bad())?,
        );
        if a == 0 || b < a {
            return Err(bad());
        }
        let mut v = Vec::new();
        let mut n = a;
        while n < b {
            v.push(n);
            n = n.saturating_mul(2);
        }
        v.push(b);
        v
    } else {
        text.split(',')
            .map(|c| c.trim().parse::<u32>().map_err(|_| bad()))
            .collect::<Result<_, _>>()?
    };
    if cores.is_empty() || cores.contains(&0) || cores.len() > 10_000 {
        return Err(bad());
    }
    Ok(cores)
}

/// Reads `workers,seconds` lines; errors name file, line and column.
pub fn read_measured(path: &Path) -> Result<Vec<(f64, f64)>, Error> {
    let label = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| {
        Error::Scenario(ScenarioError::whole_file(
            &label,
            format!("cannot read: {e}"),
        ))
    })?;
    let at = |line: usize, col: usize, msg: String| {
        Error::Scenario(ScenarioError {
            file: label.clone(),
            line,
            column: col,
            message: msg,
        })
    };
    let mut lines = text.lines().enumerate();
    match lines.next() {
        Some((_, h)) if h.replace(' ', "").to_lowercase() == "workers,seconds" => {}
        _ => return Err(at(1, 1, "expected the header `workers,seconds`".into())),
    }
    let mut points = Vec::new();
    for (i, line) in lines {
        if line.trim().is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split(',').collect();
        if fields.len() != 2 {
            return Err(at(
                i + 1,
                1,
                format!(
                    "expected two fields (workers,seconds), found {}",
                    fields.len()
                ),
            ));
        }
        let workers: u32 = fields[0]
            .trim()
            .parse()
            .ok()
            .filter(|&w| w >= 1)
            .ok_or_else(|| {
                at(
                    i + 1,
                    1,
                    format!(
                        "workers must be a whole number ≥ 1, found \"{}\"",
                        fields[0].trim()
                    ),
                )
            })?;
        let seconds: f64 = fields[1]
            .trim()
            .parse()
            .ok()
            .filter(|s: &f64| s.is_finite() && *s > 0.0)
            .ok_or_else(|| {
                at(
                    i + 1,
                    fields[0].chars().count() + 2,
                    format!(
                        "seconds must be a positive number, found \"{}\"",
                        fields[1].trim()
                    ),
                )
            })?;
        points.push((workers as f64, seconds));
    }
    if !points.iter().any(|p| p.0 == 1.0) {
        return Err(at(
            1,
            1,
            "needs a line with workers = 1: the serial time that speedups divide".into(),
        ));
    }
    Ok(medians_by_workers(points))
}

/// One point per worker count, its runs' median time, in worker order.
fn medians_by_workers(mut points: Vec<(f64, f64)>) -> Vec<(f64, f64)> {
    points.sort_by(|a, b| a.0.total_cmp(&b.0));
    points
        .chunk_by(|a, b| a.0 == b.0)
        .map(|runs| {
            let times: Vec<f64> = runs.iter().map(|r| r.1).collect();
            (runs[0].0, super::median(&times))
        })
        .collect()
}

fn fmt(x: f64) -> String {
    format!("{x}")
}

pub(super) fn run(args: &AmdahlArgs) -> Result<(), Error> {
    if let Some(s) = args.serial.iter().find(|s| !(0.0..=1.0).contains(*s)) {
        return Err(Error::Usage(format!(
            "--serial {s}: a serial fraction is between 0 and 1"
        )));
    }
    let cores = parse_cores(&args.cores).map_err(Error::Usage)?;
    let usl_coeffs = match &args.usl {
        None => None,
        Some(text) => {
            let parts: Vec<f64> = text
                .split(',')
                .map(|p| p.trim().parse::<f64>())
                .collect::<Result<_, _>>()
                .map_err(|_| {
                    Error::Usage(format!(
                        "--usl {text}: expected SIGMA,KAPPA like 0.05,0.001"
                    ))
                })?;
            match parts.as_slice() {
                [s, k] if *s >= 0.0 && *k >= 0.0 && s.is_finite() && k.is_finite() => {
                    Some((*s, *k))
                }
                _ => {
                    return Err(Error::Usage(format!(
                        "--usl {text}: expected two numbers ≥ 0"
                    )))
                }
            }
        }
    };
    let measured = args.measured.as_deref().map(read_measured).transpose()?;

    // Rows: cores, serial_fraction, amdahl_speedup, gustafson_speedup, usl_speedup,
    // measured_speedup, karp_flatt.
    let mut rows: Vec<[String; 7]> = Vec::new();
    for &s in &args.serial {
        for &n in &cores {
            let n = n as f64;
            rows.push([
                fmt(n),
                fmt(s),
                fmt(amdahl(s, n)),
                if args.gustafson {
                    fmt(gustafson(s, n))
                } else {
                    String::new()
                },
                usl_coeffs.map_or(String::new(), |(a, b)| fmt(usl(a, b, n))),
                String::new(),
                String::new(),
            ]);
        }
    }
    let mut fit = None;
    if let Some(points) = &measured {
        let t1 = points.iter().find(|p| p.0 == 1.0).expect("checked").1;
        let speedups: Vec<(f64, f64)> = points.iter().map(|&(p, t)| (p, t1 / t)).collect();
        let s_fit = fit_amdahl(&speedups);
        let (sigma, kappa) = fit_usl(&speedups);
        fit = Some((speedups.clone(), s_fit, sigma, kappa));
        for &(p, sp) in &speedups {
            rows.push([
                fmt(p),
                fmt(s_fit),
                fmt(amdahl(s_fit, p)),
                String::new(),
                fmt(usl(sigma, kappa, p)),
                fmt(sp),
                karp_flatt(sp, p).map_or(String::new(), fmt),
            ]);
        }
    }
    let columns = [
        "cores",
        "serial_fraction",
        "amdahl_speedup",
        "gustafson_speedup",
        "usl_speedup",
        "measured_speedup",
        "karp_flatt",
    ];
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(columns).expect("in-memory CSV");
    for r in &rows {
        w.write_record(r).expect("in-memory CSV");
    }
    let csv_bytes = w.into_inner().expect("in-memory CSV");
    let dir = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("output").join("amdahl"));
    let path = dir.join("amdahl.csv");
    report::write_file(&path, &csv_bytes).map_err(Error::Run)?;
    let mut written = vec!["amdahl.csv"];

    if !args.no_charts {
        let dense: Vec<f64> = {
            let max = *cores.iter().max().expect("non-empty") as f64;
            // From one core, where every law starts at speedup 1, evenly along the chart's
            // axis (which spans these points: log-spaced on a log axis).
            chart::CountAxis::new(1.0, max).samples(1.0, max, 64)
        };
        let mut series = Vec::new();
        for (i, &s) in args.serial.iter().enumerate() {
            series.push((
                format!("Amdahl, serial {:.0}%", 100.0 * s),
                chart::Style::Line,
                i,
                dense.iter().map(|&n| (n, amdahl(s, n))).collect(),
            ));
            if args.gustafson {
                series.push((
                    format!("Gustafson, serial {:.0}%", 100.0 * s),
                    chart::Style::Dashed,
                    i,
                    dense.iter().map(|&n| (n, gustafson(s, n))).collect(),
                ));
            }
        }
        let k = args.serial.len();
        if let Some((a, b)) = usl_coeffs {
            series.push((
                format!("USL, σ = {a}, κ = {b}"),
                chart::Style::Line,
                k,
                dense.iter().map(|&n| (n, usl(a, b, n))).collect(),
            ));
        }
        if let Some((speedups, s_fit, sigma, kappa)) = &fit {
            series.push((
                "measured".into(),
                chart::Style::Points,
                k + 1,
                speedups.clone(),
            ));
            series.push((
                format!("Amdahl fit: serial {:.1}%", 100.0 * s_fit),
                chart::Style::Dashed,
                k + 1,
                dense.iter().map(|&n| (n, amdahl(*s_fit, n))).collect(),
            ));
            series.push((
                format!("USL fit: σ = {sigma:.3}, κ = {kappa:.4}"),
                chart::Style::Dashed,
                k + 2,
                dense.iter().map(|&n| (n, usl(*sigma, *kappa, n))).collect(),
            ));
        }
        let spec = chart::Curves {
            title: "Speedup with n cores: Amdahl's law and friends".into(),
            x_desc: "cores n".into(),
            y_desc: "speedup (×)".into(),
            series,
        };
        let path = dir.join("amdahl.png");
        report::draw_file(&path, |tmp| png::draw_curves_chart(&spec, tmp)).map_err(Error::Run)?;
        written.push("amdahl.png");
    }

    let out = match args.format {
        Format::Csv => String::from_utf8(csv_bytes).expect("CSV is UTF-8"),
        Format::Json => report::json::csv_rows(&csv_bytes),
        Format::Table => {
            let header: Vec<String> = columns.iter().map(|c| c.to_string()).collect();
            let shown: Vec<Vec<String>> = rows
                .iter()
                .map(|r| {
                    r.iter()
                        .map(|v| match v.parse::<f64>() {
                            Ok(x) if x.fract() != 0.0 => format!("{x:.4}"),
                            _ => v.clone(),
                        })
                        .collect()
                })
                .collect();
            let mut text = report::table::aligned(&header, &shown, &[0, 1, 2, 3, 4, 5, 6]);
            if let Some((_, s_fit, sigma, kappa)) = &fit {
                text.push_str(&format!(
                    "\nmeasured: Amdahl fit serial fraction {:.2}%, USL fit σ = {sigma:.4}, κ = {kappa:.5}\n",
                    100.0 * s_fit
                ));
            }
            text
        }
    };
    super::print_stdout(&out)?;
    if !args.quiet {
        eprintln!("wrote {} in {}", written.join(", "), dir.display());
    }
    Ok(())
}
