//! gilsim's integration tests: the binary as a user runs it.
//!
//! One test binary (faster to build and link than one per file) with shared helpers here.

mod alloc;
mod bad_scenarios;
mod calibrate;
mod charts;
mod cli;
mod determinism;
mod fuzz_corpus;
mod interrupt;
mod mutate;
mod snapshots;
mod teach;
mod validate;

use std::path::{Path, PathBuf};

use assert_cmd::Command;

#[global_allocator]
static ALLOCATOR: alloc::CountingAlloc = alloc::CountingAlloc;

/// The gilsim binary, run in `dir`.
pub fn gilsim(dir: &Path) -> Command {
    let mut cmd = assert_cmd::cargo::cargo_bin_cmd!("gilsim");
    cmd.current_dir(dir);
    cmd
}

/// A path under the repository root.
pub fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// The stdout of a command that must have succeeded (its stderr is the failure message).
pub fn succeeded(out: std::process::Output) -> String {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("stdout is UTF-8")
}

/// A fresh temporary directory.
pub fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().expect("temporary directory")
}

/// True for a PNG file of some substance (the signature and more than a header).
pub fn is_png(path: &Path) -> bool {
    std::fs::read(path).is_ok_and(|b| b.starts_with(b"\x89PNG\r\n\x1a\n") && b.len() > 1000)
}
