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
    // The spread of busy cores is measured, and so are the wake-up's CPU part and (with
    // python3 there) the cost of a switch between processes, and the pipe's throughput is
    // Pool's one-way pipes', with the ends' CPU share of it.
    assert!(text.contains("\nspeed_spread = "), "{text}");
    assert!(text.contains("\nwakeup_cpu = "), "{text}");
    assert!(text.contains("\nprocess_switch = "), "{text}");
    assert!(text.contains("one-way multiprocessing pipes"), "{text}");
    assert!(text.contains("\nipc_cpu = "), "{text}");
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
