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

#[test]
fn sweeps_and_runs_write_the_same_files_with_one_job_or_eight() {
    let dir = tempdir();
    let mut outputs = Vec::new();
    for jobs in ["1", "8"] {
        let out = format!("jobs{jobs}");
        let sweep = gilsim(dir.path())
            .args([
                "sweep",
                "default",
                "-q",
                "--workers",
                "1,2,4,8",
                "--jobs",
                jobs,
            ])
            .args([
                "--set",
                "python.switch_interval=1ms,5ms,20ms",
                "--out",
                &out,
            ])
            .output()
            .unwrap();
        assert!(sweep.status.success());
        let run = gilsim(dir.path())
            .args([
                "run",
                "kaggle-downloads",
                "-q",
                "--no-charts",
                "--jobs",
                jobs,
            ])
            .args(["--out", &format!("{out}/run")])
            .output()
            .unwrap();
        assert!(run.status.success());
        let files: Vec<Vec<u8>> = [
            "sweep.csv",
            "sweep.png",
            "run/summary.csv",
            "run/tasks.csv",
            "run/trace.json",
        ]
        .iter()
        .map(|f| std::fs::read(dir.path().join(&out).join(f)).unwrap())
        .collect();
        outputs.push((sweep.stdout, run.stdout, files));
    }
    assert!(outputs[0] == outputs[1], "--jobs changed an output");
}
