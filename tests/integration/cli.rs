//! The commands as a new user meets them.

use predicates::prelude::*;

use super::{gilsim, repo, succeeded, tempdir};

#[test]
fn no_arguments_runs_the_embedded_default_scenario() {
    let dir = tempdir();
    gilsim(dir.path()).assert().success().stdout(
        predicate::str::contains("io-bound vs cpu-bound")
            .and(predicate::str::contains("serial"))
            .and(predicate::str::contains("threads"))
            .and(predicate::str::contains("processes"))
            .and(predicate::str::contains("asyncio")),
    );
    for file in ["summary.csv", "tasks.csv", "trace.csv"] {
        assert!(
            dir.path().join("output/default").join(file).is_file(),
            "{file}"
        );
    }
}

#[test]
fn the_design_example_checks_and_runs_seven_rows() {
    let dir = tempdir();
    let example = repo("tests/data/design-example.toml");
    gilsim(dir.path())
        .arg("check")
        .arg(&example)
        .assert()
        .success()
        .stdout(predicate::str::contains("7 result rows"));
    let out = gilsim(dir.path())
        .args(["run", "--format", "csv", "-q"])
        .arg(&example)
        .output()
        .unwrap();
    assert!(out.status.success());
    let csv = String::from_utf8(out.stdout).unwrap();
    let rows: Vec<&str> = csv.lines().skip(1).collect();
    assert_eq!(rows.len(), 7, "{csv}");
    let names: Vec<&str> = rows.iter().map(|r| r.split(',').next().unwrap()).collect();
    assert_eq!(
        names,
        [
            "serial",
            "threads",
            "processes",
            "processes",
            "processes",
            "processes",
            "asyncio"
        ]
    );
    assert!(dir
        .path()
        .join("output/design-example/summary.csv")
        .is_file());
}

#[test]
fn scenarios_lists_every_bundled_scenario_with_a_description() {
    let dir = tempdir();
    let out = gilsim(dir.path()).arg("scenarios").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let files = toml_files(&repo("scenarios")).len();
    assert_eq!(text.lines().count(), files, "{text}");
    for line in text.lines() {
        let (name, description) = line.split_once("  ").unwrap();
        assert!(!description.trim().is_empty(), "{name} has no description");
        assert!(repo(&format!("scenarios/{}.toml", name.trim())).is_file());
    }
}

#[test]
fn every_bundled_scenario_runs() {
    let dir = tempdir();
    for path in toml_files(&repo("scenarios")) {
        let name = path.file_stem().unwrap().to_str().unwrap().to_string();
        gilsim(dir.path())
            .args(["run", &name, "-q"])
            .assert()
            .success()
            .stdout(predicate::str::contains("speedup is relative to"));
        let out = dir.path().join("output").join(&name);
        assert!(out.join("trace.csv").is_file());
        // Every row explains itself.
        let mut summary = csv::Reader::from_path(out.join("summary.csv")).unwrap();
        let column = summary
            .headers()
            .unwrap()
            .iter()
            .position(|h| h == "bottleneck")
            .unwrap();
        for row in summary.records() {
            let row = row.unwrap();
            assert!(row[column].len() > 10, "{name}: {row:?}");
        }
    }
}

#[test]
fn json_has_the_summary_columns_and_kind_statistics() {
    let dir = tempdir();
    let out = gilsim(dir.path())
        .args(["run", "costly-task-io", "--format", "json", "-q"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["baseline"], "serial");
    assert_eq!(doc["machine"]["preset"], "laptop-2c4t");
    let exps = doc["experiments"].as_array().unwrap();
    assert_eq!(exps.len(), 3);
    for column in gilsim::report::csv::SUMMARY_COLUMNS {
        assert!(exps[0].get(column).is_some(), "missing {column}");
    }
    assert_eq!(exps[0]["name"], "serial");
    assert_eq!(exps[0]["kinds"]["io_costly"]["tasks"], 10);
    // Ten 1.008 s waits, each ended by the kernel waking the thread.
    let serial = exps[0]["makespan_s"].as_f64().unwrap();
    let wake = doc["machine"]["wakeup_s"].as_f64().unwrap();
    assert!((serial - 10.08 - 10.0 * wake).abs() < 1e-6, "{serial}");
    assert!(
        exps[1]["kinds"]["io_costly"]["last_end_s"]
            .as_f64()
            .unwrap()
            < 3.1
    );
}

#[test]
fn no_trace_writes_only_the_summary_and_removes_stale_trace_files() {
    let dir = tempdir();
    gilsim(dir.path())
        .args(["run", "gil-multicore", "-q"])
        .assert()
        .success();
    let out = dir.path().join("output/gil-multicore");
    assert!(out.join("trace.csv").is_file());
    gilsim(dir.path())
        .args(["run", "gil-multicore", "-q", "--no-trace", "--no-charts"])
        .assert()
        .success();
    assert!(out.join("summary.csv").is_file());
    assert!(!out.join("trace.csv").exists() && !out.join("tasks.csv").exists());
}

#[test]
fn out_and_seed_options() {
    let dir = tempdir();
    gilsim(dir.path())
        .args(["run", "default", "--out", "elsewhere", "--seed", "3", "-q"])
        .assert()
        .success();
    assert!(dir.path().join("elsewhere/summary.csv").is_file());
}

#[test]
fn a_missing_scenario_is_a_usage_error() {
    let dir = tempdir();
    gilsim(dir.path())
        .args(["run", "no-such-scenario"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("gilsim scenarios"));
    gilsim(dir.path())
        .args(["run", "--format", "xml"])
        .assert()
        .code(2);
    gilsim(dir.path()).args(["frobnicate"]).assert().code(2);
}

#[test]
fn runaway_runs_stop_at_the_limits_with_exit_code_1() {
    let dir = tempdir();
    gilsim(dir.path())
        .args(["run", "gil-multicore", "--max-events", "100"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("--max-events"));
    gilsim(dir.path())
        .args(["run", "gil-multicore", "--max-sim-time", "1s"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("--max-sim-time"));
    gilsim(dir.path())
        .args(["run", "gil-multicore", "--max-sim-time", "soon"])
        .assert()
        .code(2);
}

#[test]
fn a_huge_repeat_is_refused_up_front_and_a_long_one_bounded_by_the_event_limit() {
    let dir = tempdir();
    let path = dir.path().join("huge.toml");
    let scenario = |repeat: &str| {
        format!(
            "name = \"huge\"\n[machine]\npreset = \"laptop-4c8t\"\n\
             [tasks.t]\nsteps = [{{ repeat = {repeat}, steps = [{{ io = \"1us\" }}] }}]\n\
             [job]\ntasks = {{ t = 1 }}\n[[experiment]]\nname = \"s\"\nstrategy = \"serial\"\n"
        )
    };
    std::fs::write(
        &path,
        scenario("1000000000, steps = [{ repeat = 1000000000").replace("}] }]", "}] }] }]"),
    )
    .unwrap();
    gilsim(dir.path())
        .arg("run")
        .arg(&path)
        .arg("-q")
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "huge.toml:7:15: this job runs about 1.0e18 steps",
        ))
        .stderr(predicate::str::contains(
            "lower this count or the `repeat` counts of `t`",
        ));
    std::fs::write(&path, scenario("100000000")).unwrap();
    gilsim(dir.path())
        .arg("run")
        .arg(&path)
        .args(["--max-events", "100000", "-q"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("stopped after 100000 events"));
}

/// The `.toml` files directly in `dir`, sorted.
fn toml_files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file() && p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    files
}

#[test]
fn every_validation_scenario_checks() {
    let dir = tempdir();
    let files = toml_files(&repo("scenarios/validation"));
    assert!(files.len() >= 10, "{} validation scenarios", files.len());
    for f in files {
        gilsim(dir.path()).arg("check").arg(&f).assert().success();
    }
}

/// Two rows closer than the model's error get a note under the table; rows far apart do not.
#[test]
fn a_near_tie_is_called_one() {
    let dir = tempdir();
    let scenario = |second_ms: u32| {
        format!(
            "name = \"tie\"\n[tasks.t]\nsteps = [{{ cpu = \"100ms\" }}]\n[job]\ntasks = {{ t = 1 }}\n\
             [tasks.u]\nsteps = [{{ cpu = \"{second_ms}ms\" }}]\n\
             [[experiment]]\nname = \"a\"\nstrategy = \"serial\"\n\
             [[experiment]]\nname = \"b\"\nstrategy = \"serial\"\ntasks = {{ u = 1 }}\n"
        )
    };
    let run = |second_ms: u32| {
        let path = dir.path().join(format!("tie-{second_ms}.toml"));
        std::fs::write(&path, scenario(second_ms)).unwrap();
        succeeded(
            gilsim(dir.path())
                .args(["run", "--no-charts", "-q"])
                .arg(&path)
                .output()
                .unwrap(),
        )
    };
    let close = run(104);
    assert!(
        close.contains("near tie: a (100ms) and b (104ms) are 4.0 % apart"),
        "{close}"
    );
    let apart = run(106);
    assert!(!apart.contains("near tie"), "{apart}");
}

#[test]
fn speedups_far_below_one_keep_their_digits_in_the_table_and_the_files() {
    // The latency tour's rows run from 16 us to 1.7 s against its first: speedups down to
    // ~10^-5, which fixed decimals wrote as 0.0000 (files) and 0.00x (table).
    let dir = tempdir();
    let stdout = succeeded(
        gilsim(dir.path())
            .args([
                "run",
                "latency-tour",
                "--no-charts",
                "--no-trace",
                "-q",
                "--out",
                "out",
            ])
            .output()
            .unwrap(),
    );
    assert!(!stdout.contains(" 0.00x"), "{stdout}");
    let mut csv = csv::Reader::from_path(dir.path().join("out/summary.csv")).unwrap();
    let header = csv.headers().unwrap().clone();
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    let (makespan, speedup) = (col("makespan_s"), col("speedup"));
    let rows: Vec<csv::StringRecord> = csv.records().map(Result::unwrap).collect();
    let base: f64 = rows[0][makespan].parse().unwrap();
    let mut smallest = f64::INFINITY;
    for row in &rows {
        let want = base / row[makespan].parse::<f64>().unwrap();
        let got: f64 = row[speedup].parse().unwrap();
        assert!(
            (got - want).abs() <= want * 1e-3,
            "{want} written as {}",
            &row[speedup]
        );
        smallest = smallest.min(want);
    }
    assert!(
        smallest < 1e-4,
        "the tour spans five orders of magnitude: {smallest}"
    );
}
