//! Turning results into bytes and files: CSV, JSON and the terminal table (DESIGN §4).
//!
//! Each format is a pure function from [`Results`] to bytes; [`write_atomic`] is the only
//! function in the crate that creates output files. It writes a temporary file beside the
//! target and renames it over the target, so an interrupted run leaves either the previous
//! complete file or the new one, never half a CSV.

pub mod csv;
pub mod json;
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

/// Exact seconds from nanoseconds, with nine decimals (no float rounding in the files).
pub fn secs(ns: u64) -> String {
    format!("{}.{:09}", ns / 1_000_000_000, ns % 1_000_000_000)
}

/// Writes `bytes` to `path` atomically (temporary file in the same directory + rename).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty());
    if let Some(dir) = dir {
        fs::create_dir_all(dir)?;
    }
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "not a file path"))?;
    let tmp = path.with_file_name(format!(
        ".{}.tmp-{}",
        name.to_string_lossy(),
        std::process::id()
    ));
    let result = (|| {
        let mut f = fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        fs::rename(&tmp, path)
    })();
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
