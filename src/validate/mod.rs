//! Running a scenario for real and comparing with the prediction (`gilsim validate`).
//!
//! The prediction is made for *this* host: the scenario's `[machine]` is replaced by
//! `preset = "host"` (the calibrated profile) and its `[python]` costs by the profile's,
//! keeping only what the program itself sets (`switch_interval`, via
//! `sys.setswitchinterval`). Named presets describe other machines; validating them here
//! would compare a laptop's prediction with this VM's run.
//!
//! Two runtimes run the experiments: [`python`] generates a CPython program, [`native`]
//! runs them with Rust threads and worker processes (for hosts without Python).
//!
//! Runs are interleaved — repetition by repetition, every experiment once — so drift of
//! the host's speed over a minute spreads over all experiments instead of biasing one.
//! Each run is its own process (`python3` or `gilsim native-run`) in its own process group, killed (with its Pool
//! workers) if it outlives its timeout.

pub mod native;
pub mod python;

/// How much `validate` nudges the wake-up (`wakeup` and `wakeup_cpu`, both ways) to show
/// how far a prediction moves with it: about how far `calibrate`'s `wakeup` moves between
/// calibrations minutes apart on this VM (7.3–8.2 µs in three quick ones in a quiet spell;
/// docs/decisions.md, "Knife-edge predictions").
pub const WAKEUP_NUDGE: f64 = 0.10;

use std::process::{Command, Stdio};

use crate::child::ChildError;
use std::time::Duration;

/// The scenario text with `[machine]` replaced by the host preset and `[python]` reduced
/// to what a generated program controls.
pub fn rebase_on_host(text: &str) -> Result<String, String> {
    let mut doc: toml::Table = toml::from_str(text).map_err(|e| e.message().to_string())?;
    let mut machine = toml::Table::new();
    machine.insert("preset".into(), toml::Value::String("host".into()));
    doc.insert("machine".into(), toml::Value::Table(machine));
    if let Some(toml::Value::Table(python)) = doc.get_mut("python") {
        python.retain(|k, _| k == "switch_interval" || k == "gil");
    }
    Ok(toml::to_string(&doc).expect("a TOML table serialises"))
}

/// Runs one experiment — `cmd` is the python3 program or `gilsim native-run`, which print
/// `{"seconds": …}` — and returns its wall time in seconds.
pub fn run_once(
    mut cmd: Command,
    experiment: &str,
    workers: u32,
    timeout: Duration,
) -> Result<f64, RunError> {
    let program = cmd.get_program().to_string_lossy().into_owned();
    cmd.args([
        "--experiment",
        experiment,
        "--workers",
        &workers.to_string(),
    ]);
    let out = crate::child::output_with_timeout(&mut cmd, timeout).map_err(|e| match e {
        ChildError::Timeout => RunError::Failed(format!(
            "\"{experiment}\" (workers {workers}) ran longer than {:.0} s; killed it and its workers",
            timeout.as_secs_f64()
        )),
        ChildError::Interrupted => RunError::Interrupted,
        ChildError::Failed(e) => RunError::Failed(format!("cannot run {program}: {e}")),
    })?;
    if !out.status.success() {
        return Err(RunError::Failed(format!(
            "\"{experiment}\" (workers {workers}) failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    let v: serde_json::Value = serde_json::from_slice(&out.stdout)
        .map_err(|e| RunError::Failed(format!("unexpected output from the program: {e}")))?;
    v.get("seconds")
        .and_then(serde_json::Value::as_f64)
        .ok_or_else(|| RunError::Failed("the program printed no \"seconds\"".into()))
}

/// Why one run gave no time.
#[derive(Debug)]
pub enum RunError {
    /// It failed or timed out; the message says how.
    Failed(String),
    /// The user interrupted gilsim.
    Interrupted,
}

impl From<RunError> for crate::error::Error {
    fn from(e: RunError) -> Self {
        match e {
            RunError::Failed(m) => crate::error::Error::Run(m),
            RunError::Interrupted => crate::error::Error::Interrupted,
        }
    }
}

impl std::fmt::Display for RunError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RunError::Failed(m) => f.write_str(m),
            RunError::Interrupted => f.write_str("interrupted"),
        }
    }
}

/// True when `python3` can be run.
pub fn python_available() -> bool {
    Command::new("python3")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rebasing_keeps_the_work_and_drops_the_machine() {
        let text = "name = \"x\"\n[machine]\npreset = \"laptop-4c8t\"\ncores = 4\n\
                    [python]\nswitch_interval = \"1ms\"\npickle = \"1MB/s\"\n\
                    [tasks.t]\nsteps = [{ cpu = \"1ms\" }]\n[job]\ntasks = { t = 1 }\n";
        let out = rebase_on_host(text).unwrap();
        let doc: toml::Table = toml::from_str(&out).unwrap();
        assert_eq!(doc["machine"].as_table().unwrap().len(), 1);
        assert_eq!(doc["machine"]["preset"].as_str(), Some("host"));
        assert!(doc["python"].get("pickle").is_none());
        assert_eq!(doc["python"]["switch_interval"].as_str(), Some("1ms"));
        assert!(doc.get("tasks").is_some());
    }
}
