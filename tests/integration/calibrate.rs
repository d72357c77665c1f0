//! `gilsim calibrate` measures this host and `preset = "host"` then uses the profile.

use predicates::prelude::*;

use super::{gilsim, tempdir};

#[test]
fn quick_calibration_writes_a_profile_that_runs_use() {
    let dir = tempdir();
    // Before: the host preset warns that it is a guess.
    gilsim(dir.path())
        .args(["run", "--no-charts"])
        .assert()
        .success()
        .stderr(predicate::str::contains("no host profile"));
    gilsim(dir.path())
        .args(["calibrate", "--quick", "-q"])
        .assert()
        .success()
        .stdout(predicate::str::contains("[machine]").and(predicate::str::contains("[python]")));
    let profile = dir.path().join("output/host.toml");
    let text = std::fs::read_to_string(&profile).unwrap();
    // Measured values say how they were measured.
    assert!(
        text.contains("wakeup = ") && text.contains("condvar ping-pong"),
        "{text}"
    );
    assert!(text.contains("pointer chasing"));
    // The spread of busy cores is measured, and so is the wake-up's CPU part.
    assert!(text.contains("\nspeed_spread = "), "{text}");
    assert!(text.contains("\nwakeup_cpu = "), "{text}");
    if gilsim::validate::python_available() {
        // With python3: the cost of a switch between processes, the pipe's throughput as
        // Pool's one-way pipes', with the ends' CPU share of it, and a fork Pool's start
        // in its parts (--quick measures fork only).
        assert!(text.contains("\nprocess_switch = "), "{text}");
        assert!(text.contains("one-way multiprocessing pipes"), "{text}");
        assert!(text.contains("\nipc_cpu = "), "{text}");
        for (table, how) in [
            ("[python.process_start_parent]", "constructor less"),
            ("[python.process_start]", "before close"),
            ("[python.process_exit]", "RUSAGE_CHILDREN"),
            ("[python.pool_setup]", "close and join"),
        ] {
            let fork = text
                .split(table)
                .nth(1)
                .and_then(|rest| rest.lines().find(|l| l.starts_with("fork = ")));
            assert!(fork.is_some_and(|l| l.contains(how)), "{table}: {fork:?}");
        }
    } else {
        eprintln!("skipped the CPython costs' checks: python3 is not on PATH");
    }
    // After: no warning, and the profile loads as the host preset.
    gilsim(dir.path())
        .args(["run", "--no-charts"])
        .assert()
        .success()
        .stderr(predicate::str::contains("no host profile").not());
    gilsim(dir.path())
        .args(["run", "--no-charts", "-q", "--host"])
        .arg(&profile)
        .assert()
        .success();
}
