//! Charts, trace.json and sweeps as a user gets them.

use predicates::prelude::*;

use super::{gilsim, is_png, succeeded, tempdir};

#[test]
fn run_writes_a_timeline_per_experiment_the_speedup_chart_and_trace_json() {
    let dir = tempdir();
    gilsim(dir.path()).arg("-h").assert().success();
    gilsim(dir.path()).args(["run", "-q"]).assert().success();
    let out = dir.path().join("output/default");
    for exp in ["serial", "threads", "processes", "asyncio"] {
        assert!(is_png(&out.join(format!("timeline-{exp}.png"))), "{exp}");
    }
    assert!(is_png(&out.join("speedup.png")));
    assert!(out.join("trace.json").is_file());
}

#[test]
fn sweeps_draw_one_timeline_per_worker_count() {
    let dir = tempdir();
    gilsim(dir.path())
        .args(["run", "kaggle-downloads", "-q"])
        .assert()
        .success();
    let out = dir.path().join("output/kaggle-downloads");
    for name in [
        "timeline-threads-w1.png",
        "timeline-threads-w4.png",
        "timeline-processes-w2.png",
    ] {
        assert!(is_png(&out.join(name)), "{name}");
    }
}

#[test]
fn no_charts_and_no_trace_skip_their_files() {
    let dir = tempdir();
    gilsim(dir.path())
        .args(["run", "gil-multicore", "-q", "--no-charts", "--out", "a"])
        .assert()
        .success();
    let a = dir.path().join("a");
    assert!(a.join("trace.json").is_file());
    assert!(!a.join("speedup.png").exists() && !a.join("timeline-threads.png").exists());
    gilsim(dir.path())
        .args(["run", "gil-multicore", "-q", "--no-trace", "--out", "b"])
        .assert()
        .success();
    let b = dir.path().join("b");
    assert!(is_png(&b.join("speedup.png")));
    assert!(!b.join("trace.json").exists() && !b.join("timeline-threads.png").exists());
}

#[test]
fn trace_json_is_chrome_trace_format() {
    let dir = tempdir();
    gilsim(dir.path())
        .args(["run", "gil-multicore", "-q", "--no-charts"])
        .assert()
        .success();
    let text = std::fs::read_to_string(dir.path().join("output/gil-multicore/trace.json")).unwrap();
    let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
    let events = doc["traceEvents"].as_array().unwrap();
    let count = |ph: &str, name: Option<&str>| {
        events
            .iter()
            .filter(|e| e["ph"] == ph && name.is_none_or(|n| e["name"] == n))
            .count()
    };
    // Metadata names every process and thread.
    assert!(count("M", Some("process_name")) >= 3);
    assert!(count("M", Some("thread_name")) >= 3);
    // Complete events carry a state, a start and a duration in microseconds.
    let complete: Vec<_> = events.iter().filter(|e| e["ph"] == "X").collect();
    assert!(!complete.is_empty());
    for e in &complete {
        assert!(e["ts"].as_f64().is_some() && e["dur"].as_f64().unwrap() > 0.0);
        assert!(e["pid"].is_u64() && e["tid"].is_u64());
        let state = e["name"].as_str().unwrap();
        assert!(
            gilsim::trace::State::ALL.iter().any(|s| s.name() == state),
            "{state}"
        );
    }
    // GIL hand-offs are instant events; the threaded experiment has forced drops.
    assert!(count("i", Some("GIL taken")) > 2);
    assert!(count("i", Some("forced drop")) > 0);
    // The threaded run's thread-1 spends its time in cpu and gil_wait.
    let threads_pid = events
        .iter()
        .find(|e| {
            e["name"] == "process_name"
                && e["args"]["name"].as_str().unwrap().starts_with("threads")
        })
        .map(|e| e["pid"].clone())
        .unwrap();
    assert!(complete
        .iter()
        .any(|e| e["pid"] == threads_pid && e["name"] == "gil_wait"));
}

#[test]
fn trace_json_counts_the_transfers_sharing_a_link() {
    let dir = tempdir();
    gilsim(dir.path())
        .args(["run", "shared-link", "-q", "--no-charts"])
        .assert()
        .success();
    let text = std::fs::read_to_string(dir.path().join("output/shared-link/trace.json")).unwrap();
    let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
    let counters: Vec<_> = doc["traceEvents"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["ph"] == "C")
        .collect();
    assert!(counters.iter().all(|e| e["name"] == "link `wan` transfers"));
    let most = counters
        .iter()
        .map(|e| e["args"]["transfers"].as_u64().unwrap())
        .max();
    // Sixteen downloads at once on the 16-thread row and under asyncio; none at the end.
    assert_eq!(most, Some(16));
    assert_eq!(counters.last().unwrap()["args"]["transfers"], 0);
}

#[test]
fn sweep_workers_writes_the_csv_and_curve_without_progress_bar_when_piped() {
    let dir = tempdir();
    let out = gilsim(dir.path())
        .args(["sweep", "default", "--workers", "1,2,4,8"])
        .output()
        .unwrap();
    let stderr = String::from_utf8(out.stderr.clone()).unwrap();
    let stdout = succeeded(out);
    assert!(
        !stdout.contains('\x1b') && !stderr.contains('\x1b'),
        "ANSI codes when piped"
    );
    assert!(
        !stderr.contains("runs"),
        "a progress bar when piped: {stderr}"
    );
    let csv = std::fs::read_to_string(dir.path().join("output/default/sweep.csv")).unwrap();
    // serial + 4 threads + 4 processes + asyncio
    assert_eq!(csv.lines().count(), 1 + 10, "{csv}");
    assert!(is_png(&dir.path().join("output/default/sweep.png")));
}

#[test]
fn sweep_points_use_the_host_profile_as_run_does() {
    // A scenario on the host preset, with a profile whose Pool costs are far from the
    // defaults: every grid point must predict with the profile, as `run` does.
    let dir = tempdir();
    std::fs::create_dir_all(dir.path().join("output")).unwrap();
    std::fs::write(
        dir.path().join("output/host.toml"),
        "[machine]\ncores = 2\n[python]\ndispatch = { processes = \"500us\" }\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("pool.toml"),
        "name = \"pool\"\n[tasks.t]\nsteps = [{ cpu = \"1ms\" }]\n[job]\ntasks = { t = 100 }\n\
         [[experiment]]\nname = \"pool\"\nstrategy = \"processes\"\nworkers = 2\nchunksize = 1\n",
    )
    .unwrap();
    // The first row's makespan_s: the sixth column of both CSVs (the sweep has no axis
    // columns in front here, only --workers).
    let makespan = |csv: &str| -> String {
        csv.lines()
            .nth(1)
            .unwrap()
            .split(',')
            .nth(5)
            .unwrap()
            .to_string()
    };
    let run = succeeded(
        gilsim(dir.path())
            .args(["run", "pool.toml", "--format", "csv", "-q", "--no-charts"])
            .output()
            .unwrap(),
    );
    let sweep = succeeded(
        gilsim(dir.path())
            .args([
                "sweep",
                "pool.toml",
                "--workers",
                "2",
                "--format",
                "csv",
                "-q",
                "--no-charts",
            ])
            .output()
            .unwrap(),
    );
    assert_eq!(makespan(&run), makespan(&sweep), "{run}\n{sweep}");
}

#[test]
fn sweep_set_axes_make_a_grid_and_validate_values() {
    let dir = tempdir();
    gilsim(dir.path())
        .args([
            "sweep",
            "gil-multicore",
            "--set",
            "python.switch_interval=1ms,5ms",
            "--set",
            "machine.cores=1,2,4",
            "--format",
            "csv",
            "-q",
        ])
        .assert()
        .success()
        .stdout(predicate::str::starts_with(
            "python.switch_interval,machine.cores,experiment",
        ));
    let csv = std::fs::read_to_string(dir.path().join("output/gil-multicore/sweep.csv")).unwrap();
    assert_eq!(csv.lines().count(), 1 + 2 * 3 * 3);
    gilsim(dir.path())
        .args(["sweep", "gil-multicore", "--set", "machine.cores=0"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "--set machine.cores=0: cores must be between",
        ));
    gilsim(dir.path())
        .args(["sweep", "gil-multicore"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("nothing to sweep"));
}

#[test]
fn a_convoy_sweep_shows_when_each_kind_was_done_in_the_table_and_the_json() {
    let dir = tempdir();
    let sweep = |format: &str| {
        succeeded(
            gilsim(dir.path())
                .args([
                    "sweep",
                    "gil-convoy",
                    "--set",
                    "python.switch_interval=1ms,5ms,20ms",
                    "--format",
                    format,
                    "-q",
                    "--no-charts",
                ])
                .output()
                .unwrap(),
        )
    };
    // The makespan is the spinning thread's; the echo loop's finish is the convoy.
    let table = sweep("table");
    let header = table.lines().next().unwrap();
    assert!(header.contains(" done "), "{header}");
    assert!(
        table
            .lines()
            .any(|l| l.contains("echo+spin-threads") && l.contains("echo ")),
        "{table}"
    );
    let doc: serde_json::Value = serde_json::from_str(&sweep("json")).unwrap();
    let rows = doc.as_array().unwrap();
    assert_eq!(rows.len(), 3 * 3);
    let echo_done: Vec<f64> = rows
        .iter()
        .filter(|r| r["experiment"] == "echo+spin-threads")
        .map(|r| {
            assert!(r["makespan_s"].is_f64() && r["workers"].is_u64(), "{r}");
            assert!(r["start_method"].is_null(), "{r}");
            r["kinds"]["echo"]["last_end_s"].as_f64().unwrap()
        })
        .collect();
    // Each echo waits out the spinner's switch interval for the GIL: a longer interval, a
    // slower echo (the interval values are in grid order).
    assert_eq!(echo_done.len(), 3);
    assert!(
        echo_done[0] < echo_done[1] && echo_done[1] < echo_done[2],
        "{echo_done:?}"
    );
}
