//! Same scenario and seed ⇒ byte-identical outputs.

use super::{gilsim, tempdir};

#[test]
fn running_a_bundled_scenario_twice_gives_identical_files() {
    let dir = tempdir();
    for name in [
        "default",
        "kaggle-downloads",
        "asyncio-sleep",
        "dataframe-apply",
    ] {
        let mut outputs = Vec::new();
        for run in 0..2 {
            let out = format!("run{run}");
            gilsim(dir.path())
                .args(["run", name, "-q", "--no-charts", "--out", &out])
                .assert()
                .success();
            let files: Vec<Vec<u8>> = ["summary.csv", "tasks.csv", "trace.csv", "trace.json"]
                .iter()
                .map(|f| std::fs::read(dir.path().join(&out).join(f)).unwrap())
                .collect();
            outputs.push(files);
        }
        assert!(
            outputs[0] == outputs[1],
            "{name}: outputs differ between runs"
        );
    }
}

#[test]
fn a_different_seed_changes_drawn_durations() {
    let dir = tempdir();
    let read = |seed: &str| {
        gilsim(dir.path())
            .args(["run", "default", "-q", "--seed", seed, "--out", seed])
            .assert()
            .success();
        std::fs::read(dir.path().join(seed).join("tasks.csv")).unwrap()
    };
    assert_ne!(read("1"), read("2"));
}
