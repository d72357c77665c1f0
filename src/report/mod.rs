//! Turning results into bytes and files: CSV, JSON and the terminal table (DESIGN §4).
//!
//! Each format is a pure function from [`Results`] to bytes; [`write_atomic`] is the only
//! function in the crate that creates output files. It writes a temporary file beside the
//! target and renames it over the target, so an interrupted run leaves either the previous
//! complete file or the new one, never half a CSV.

pub mod chart;
pub mod csv;
pub mod json;
pub mod perfetto;
pub mod png;
pub mod table;

use std::fs;
use std::io::{self, Write};
use std::path::Path;

use crate::metrics::Summary;
use crate::model::Scenario;
use crate::trace::RunTrace;

/// One simulated row: an experiment at one worker count.
#[derive(Debug)]
pub struct RunResult {
    /// Index of the experiment in the scenario.
    pub experiment: usize,
    /// Workers of this row.
    pub workers: u32,
    /// The trace.
    pub trace: RunTrace,
    /// Its numbers.
    pub summary: Summary,
}

/// Everything `gilsim run` reports.
#[derive(Debug)]
pub struct Results<'a> {
    /// The scenario.
    pub scenario: &'a Scenario,
    /// One per experiment and worker count, in file order.
    pub runs: Vec<RunResult>,
}

/// A file-name-safe form of an experiment name (`Pool(8)` → `Pool_8_`).
pub fn file_stem(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Writes every output file of `gilsim run` into `dir` and returns their names.
///
/// `summary.csv` always; `tasks.csv`, `trace.csv` and `trace.json` with a trace; one
/// `timeline-<experiment>.png` per result row (sweeps: `timeline-<experiment>-w<N>.png`,
/// one per worker count) when there is a trace and charts are on; `speedup.png` when
/// charts are on.
pub fn write_run_outputs(
    results: &Results,
    dir: &Path,
    trace: bool,
    charts: bool,
) -> Result<Vec<String>, String> {
    remove_stale_temporaries(dir);
    let mut written = Vec::new();
    let mut put = |name: String, bytes: &[u8]| -> Result<(), String> {
        write_file(&dir.join(&name), bytes)?;
        written.push(name);
        Ok(())
    };
    put("summary.csv".into(), &csv::summary(results))?;
    if trace {
        put("tasks.csv".into(), &csv::tasks(results))?;
        // Streamed: a trace may be larger than memory.
        for (name, write) in [
            (
                "trace.csv",
                write_trace_csv as fn(&Results, fs::File) -> io::Result<()>,
            ),
            ("trace.json", write_trace_json),
        ] {
            let path = dir.join(name);
            write_atomic_with(&path, |tmp| write(results, fs::File::create(tmp)?))
                .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
            written.push(name.to_string());
        }
    }
    if charts {
        if trace {
            for run in &results.runs {
                let exp = &results.scenario.experiments[run.experiment];
                let name = if exp.workers.len() > 1 {
                    format!("timeline-{}-w{}.png", file_stem(&exp.name), run.workers)
                } else {
                    format!("timeline-{}.png", file_stem(&exp.name))
                };
                let spec = chart::timeline(&run.summary, &run.trace, png::TIMELINE_COLUMNS);
                draw_file(&dir.join(&name), |p| png::draw_timeline(&spec, p))?;
                written.push(name);
            }
        }
        let rows: Vec<&Summary> = results.runs.iter().map(|r| &r.summary).collect();
        let sc = results.scenario;
        let spec = chart::speedup(&sc.name, &sc.experiments[sc.baseline].name, &rows);
        draw_file(&dir.join("speedup.png"), |p| png::draw_speedup(&spec, p))?;
        written.push("speedup.png".into());
    }
    Ok(written)
}

fn write_trace_csv(results: &Results, file: fs::File) -> io::Result<()> {
    let w = csv::write_trace(results, io::BufWriter::with_capacity(1 << 16, file))?;
    w.into_inner().map_err(|e| e.into_error())?.sync_all()
}

fn write_trace_json(results: &Results, file: fs::File) -> io::Result<()> {
    let mut w = io::BufWriter::with_capacity(1 << 16, file);
    perfetto::write(results, &mut w)?;
    w.into_inner().map_err(|e| e.into_error())?.sync_all()
}

/// Seconds in words with a readable unit (`1.00ns`, `16.0us`, `150ms`).
pub fn duration_words(seconds: f64) -> String {
    if seconds < 1e-6 {
        format!("{:.1} ns", seconds * 1e9)
    } else {
        crate::time::SimDuration::from_secs_f64(seconds).to_string()
    }
}

/// A ratio (speedup, efficiency) as the files write it: four decimals, and below 0.01 four
/// significant digits in scientific notation — four decimals would write the latency
/// tour's RAM-against-L1 speedup, 1/100,000, as `0.0000`.
pub fn ratio_field(x: f64) -> String {
    if x.abs() >= 0.01 || x == 0.0 || !x.is_finite() {
        format!("{x:.4}")
    } else {
        format!("{x:.3e}")
    }
}

/// A ratio as the table and the charts print it: two decimals, and below 0.095 two
/// significant digits (`0.067`, `0.00031`; `9.8e-6` below 10⁻⁴), so that a speedup far
/// below one still says how far.
pub fn ratio_words(x: f64) -> String {
    if x >= 0.095 || x <= 0.0 || !x.is_finite() {
        return format!("{x:.2}");
    }
    // The exponent after rounding to two significant digits (0.00999 is 1.0e-2).
    let sci = format!("{x:.1e}");
    let exp: i32 = sci
        .split_once('e')
        .and_then(|(_, e)| e.parse().ok())
        .expect("`{:e}` writes an exponent");
    if exp < -4 {
        sci
    } else {
        let decimals = (1 - exp) as usize;
        format!("{x:.decimals$}")
    }
}

/// A size in words with a binary unit: `4 KiB`, `256 MiB`.
pub fn size_words(bytes: u64) -> String {
    match bytes {
        b if b >= 1 << 30 && b % (1 << 30) == 0 => format!("{} GiB", b >> 30),
        b if b >= 1 << 20 && b % (1 << 20) == 0 => format!("{} MiB", b >> 20),
        b if b >= 1 << 10 && b % (1 << 10) == 0 => format!("{} KiB", b >> 10),
        b => format!("{b} B"),
    }
}

/// Exact seconds from nanoseconds, with nine decimals (no float rounding in the files).
pub fn secs(ns: u64) -> String {
    format!("{}.{:09}", ns / 1_000_000_000, ns % 1_000_000_000)
}

/// Writes `bytes` to `path` atomically (temporary file in the same directory + rename).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    write_atomic_with(path, |tmp| {
        let mut f = fs::File::create(tmp)?;
        f.write_all(bytes)?;
        f.sync_all()
    })
}

/// [`write_atomic`] with an error message that names the file.
pub fn write_file(path: &Path, bytes: &[u8]) -> Result<(), String> {
    write_atomic(path, bytes).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// Draws a chart into `path` atomically; `draw` renders into the temporary file it is given.
pub fn draw_file(
    path: &Path,
    draw: impl FnOnce(&Path) -> Result<(), String>,
) -> Result<(), String> {
    write_atomic_with(path, |tmp| draw(tmp).map_err(io::Error::other))
        .map_err(|e| format!("cannot draw {}: {e}", path.display()))
}

/// Removes temporary files an interrupted gilsim left in `dir` (`.tmp-PID-name` whose
/// process is gone); those of a gilsim still running are left alone.
pub fn remove_stale_temporaries(dir: &Path) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(rest) = name.to_str().and_then(|n| n.strip_prefix(".tmp-")) else {
            continue;
        };
        let Some((pid, _)) = rest.split_once('-') else {
            continue;
        };
        let alive = pid.parse::<u32>().is_ok_and(|pid| {
            pid == std::process::id() || Path::new(&format!("/proc/{pid}")).exists()
        });
        if !alive {
            let _ = fs::remove_file(entry.path());
        }
    }
}

/// Lets `write` create a temporary file beside `path`, then renames it over `path`; the
/// temporary file is removed if anything fails.
pub fn write_atomic_with(
    path: &Path,
    write: impl FnOnce(&Path) -> io::Result<()>,
) -> io::Result<()> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty());
    if let Some(dir) = dir {
        fs::create_dir_all(dir)?;
    }
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "not a file path"))?;
    // The name keeps its extension: the PNG encoder picks the format from it.
    let tmp = path.with_file_name(format!(
        ".tmp-{}-{}",
        std::process::id(),
        name.to_string_lossy()
    ));
    let result = write(&tmp).and_then(|()| fs::rename(&tmp, path));
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_are_exact() {
        assert_eq!(secs(0), "0.000000000");
        assert_eq!(secs(1_500_000_001), "1.500000001");
    }

    #[test]
    fn ratios_keep_their_significant_digits_far_below_one() {
        let words: Vec<String> = [
            4.6123, 1.0, 0.25, 0.095, 0.0667, 0.00999, 0.01, 0.00031, 0.0001, 9.76e-6, 0.0,
        ]
        .into_iter()
        .map(ratio_words)
        .collect();
        assert_eq!(
            words,
            [
                "4.61", "1.00", "0.25", "0.10", "0.067", "0.010", "0.010", "0.00031", "0.00010",
                "9.8e-6", "0.00"
            ]
        );
        let fields: Vec<String> = [1.16243, 0.0667, 0.01, 0.00999, 9.7561e-6, 0.0]
            .into_iter()
            .map(ratio_field)
            .collect();
        assert_eq!(
            fields,
            ["1.1624", "0.0667", "0.0100", "9.990e-3", "9.756e-6", "0.0000"]
        );
        // What the files write reads back within its four significant digits.
        for x in [9.7561e-6, 0.0031, 0.5, 3.7] {
            let back: f64 = ratio_field(x).parse().unwrap();
            assert!((back - x).abs() <= x * 5e-4, "{x} -> {back}");
        }
    }

    #[test]
    fn atomic_write_replaces_and_leaves_no_temp_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/a.csv");
        write_atomic(&path, b"one").unwrap();
        write_atomic(&path, b"two").unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), "two");
        let names: Vec<_> = fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 1, "{names:?}");
    }
}
