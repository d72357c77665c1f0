//! `gilsim validate`: the generated Python program, the native runtime, real runs, reaped
//! children. Tests that need python3 skip with a printed reason when it is absent.

use predicates::prelude::*;

use super::{gilsim, tempdir};

fn python() -> bool {
    let ok = gilsim::validate::python_available();
    if !ok {
        eprintln!("skipped: python3 is not on PATH");
    }
    ok
}

const TINY: &str = r#"
name = "tiny validation"
seed = 3
[machine]
preset = "laptop-4c8t"
[python]
switch_interval = "5ms"
[tasks.spin]
steps = [{ cpu = { mean = "30ms", dist = "normal", spread = 0.1 } }]
[tasks.nap]
steps = [{ io = "40ms" }, { cpu = "2ms", gil = false }]
[job]
tasks = { spin = 2, nap = 4 }
setup = [{ cpu = "5ms" }]
payload = "10KB"
result = "1KB"
[[experiment]]
name = "serial"
strategy = "serial"
[[experiment]]
name = "threads"
strategy = "threads"
workers = 2
[[experiment]]
name = "processes"
strategy = "processes"
workers = 2
chunksize = 2
[[experiment]]
name = "asyncio"
strategy = "asyncio"
"#;

#[test]
fn the_generated_program_compiles_and_runs_on_its_own() {
    if !python() {
        return;
    }
    let dir = tempdir();
    let scenario = dir.path().join("tiny.toml");
    std::fs::write(&scenario, TINY).unwrap();
    let program = dir.path().join("tiny.py");
    let out = gilsim(dir.path())
        .args([
            "validate",
            "--repeat",
            "1",
            "-q",
            "--no-charts",
            "--emit-python",
        ])
        .arg(&program)
        .arg(&scenario)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::process::Command::new("python3")
        .args(["-m", "py_compile"])
        .arg(&program)
        .status()
        .map(|s| assert!(s.success(), "py_compile failed"))
        .unwrap();
    // On its own, as a user would run it.
    let run = std::process::Command::new("python3")
        .arg(&program)
        .args(["--experiment", "threads", "--workers", "2"])
        .output()
        .unwrap();
    assert!(run.status.success());
    let v: serde_json::Value = serde_json::from_slice(&run.stdout).unwrap();
    assert!(v["seconds"].as_f64().unwrap() > 0.05);
    // The comparison table and CSV.
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout.contains("median absolute error"));
    let csv = std::fs::read_to_string(dir.path().join("output/tiny/validation.csv")).unwrap();
    assert_eq!(csv.lines().count(), 5, "{csv}");
    assert!(csv.starts_with(
        "experiment,workers,predicted_s,measured_median_s,measured_min_s,measured_max_s,error_pct,\
         predicted_low_s,predicted_high_s,shared_predicted_s\n"
    ));
    // Each prediction lies in its range over the nudged wake-ups.
    for row in csv.lines().skip(1) {
        let f: Vec<f64> = row.split(',').skip(2).map(|x| x.parse().unwrap()).collect();
        assert!(f[5] <= f[0] && f[0] <= f[6], "{row}");
    }
}

#[test]
fn max_error_fails_the_run_when_exceeded() {
    if !python() {
        return;
    }
    let dir = tempdir();
    let scenario = dir.path().join("tiny.toml");
    std::fs::write(&scenario, TINY).unwrap();
    gilsim(dir.path())
        .args([
            "validate",
            "--repeat",
            "1",
            "-q",
            "--no-charts",
            "--max-error",
            "0",
        ])
        .arg(&scenario)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("--max-error"));
}

#[test]
fn a_run_past_its_timeout_is_killed_with_its_children() {
    if !python() {
        return;
    }
    let dir = tempdir();
    let pids = dir.path().join("pids");
    let script = dir.path().join("hang.py");
    std::fs::write(
        &script,
        format!(
            "import multiprocessing as mp, os, time\n\
             def child():\n    time.sleep(60)\n\
             if __name__ == '__main__':\n\
             \x20   p = mp.get_context('fork').Process(target=child)\n\
             \x20   p.start()\n\
             \x20   open({:?}, 'w').write(f'{{os.getpid()}} {{p.pid}}')\n\
             \x20   time.sleep(60)\n",
            pids.display().to_string()
        ),
    )
    .unwrap();
    let mut cmd = std::process::Command::new("python3");
    cmd.arg(&script);
    let err =
        gilsim::validate::run_once(cmd, "x", 1, std::time::Duration::from_secs(2)).unwrap_err();
    assert!(err.to_string().contains("killed"), "{err}");
    let text = std::fs::read_to_string(&pids).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(200));
    for pid in text.split_whitespace() {
        // Gone, or a zombie (dead, waiting for init to reap it): not running either way.
        let state = std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .ok()
            .and_then(|s| {
                s.rsplit(')')
                    .next()
                    .and_then(|r| r.split_whitespace().next().map(String::from))
            });
        assert!(
            matches!(state.as_deref(), None | Some("Z") | Some("X")),
            "process {pid} outlived the timeout (state {state:?})"
        );
    }
}

#[test]
fn the_native_runtime_validates_every_strategy_without_python() {
    let dir = tempdir();
    let scenario = dir.path().join("tiny.toml");
    std::fs::write(&scenario, TINY).unwrap();
    let out = gilsim(dir.path())
        .env("PATH", "/nonexistent")
        .args(["validate", "--runtime", "native", "--repeat", "1", "-q"])
        .arg(&scenario)
        .output()
        .unwrap();
    let stdout = super::succeeded(out);
    assert!(stdout.contains("native runtime: thread start"), "{stdout}");
    let csv = std::fs::read_to_string(dir.path().join("output/tiny/validation.csv")).unwrap();
    assert_eq!(csv.lines().count(), 5, "{csv}");
    for line in csv.lines().skip(1) {
        let measured: f64 = line.split(',').nth(3).unwrap().parse().unwrap();
        // Each experiment sleeps at least 40 ms and spins 60 ms of work in all.
        assert!(measured > 0.04, "{line}");
    }
    assert!(super::is_png(
        &dir.path().join("output/tiny/validation.png")
    ));
    assert!(dir.path().join("output/tiny/native.json").is_file());
}

#[test]
fn the_native_runtime_runs_free_threaded_scenarios_the_python_one_cannot() {
    let dir = tempdir();
    let scenario = dir.path().join("ft.toml");
    std::fs::write(
        &scenario,
        TINY.replace("switch_interval = \"5ms\"", "gil = false"),
    )
    .unwrap();
    gilsim(dir.path())
        .args(["validate", "--repeat", "1", "-q", "--no-charts"])
        .arg(&scenario)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("native runtime can run it"));
    gilsim(dir.path())
        .args([
            "validate",
            "--runtime",
            "native",
            "--repeat",
            "1",
            "-q",
            "--no-charts",
        ])
        .arg(&scenario)
        .assert()
        .success();
}

/// Four threads writing to the disk and two downloading over one link; the same under asyncio.
const TRANSFERS: &str = r#"
name = "transfers"
[machine]
preset = "laptop-4c8t"
[tasks.save]
steps = [{ disk = "2MiB", op = "write", fsync = true }]
[tasks.fetch]
steps = [{ net = "lan", bytes = "10MB" }]
[job]
tasks = { save = 4, fetch = 2 }
[[experiment]]
name = "threads"
strategy = "threads"
workers = 4
[[experiment]]
name = "asyncio"
strategy = "asyncio"
"#;

/// Runs the transfers scenario with `runtime`; returns its stdout and output directory.
fn validate_transfers(runtime: &str) -> (String, std::path::PathBuf, tempfile::TempDir) {
    let dir = tempdir();
    let scenario = dir.path().join("transfers.toml");
    std::fs::write(&scenario, TRANSFERS).unwrap();
    let out = gilsim(dir.path())
        .args([
            "validate",
            "--runtime",
            runtime,
            "--repeat",
            "1",
            "-q",
            "--no-charts",
        ])
        .arg(&scenario)
        .output()
        .unwrap();
    let out_dir = dir.path().join("output/transfers");
    (super::succeeded(out), out_dir, dir)
}

#[test]
fn disk_writes_are_real_in_both_runtimes_and_shared_links_are_flagged() {
    let mut runtimes = vec!["native"];
    if python() {
        runtimes.push("python");
    }
    for runtime in runtimes {
        let (stdout, out_dir, _keep) = validate_transfers(runtime);
        // The disk's writes ran for real and left nothing behind.
        let left: Vec<_> = std::fs::read_dir(&out_dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with(".gilsim-write"))
            .collect();
        assert!(left.is_empty(), "{runtime}: {left:?}");
        // The two downloads share the LAN in the prediction, which sleeps cannot check:
        // the shared prediction is noted, the measurement compared with the one alone
        // (src/cli/validate.rs tests which); the threads' four writes share the disk,
        // which the real writes do.
        let noted = |row: &str, device: &str| {
            stdout.lines().any(|l| {
                l.starts_with(row)
                    && l.ends_with(&format!("sharing {device} (as `gilsim run` predicts it)"))
            })
        };
        assert!(noted("threads ×4: ", "link `lan`"), "{runtime}: {stdout}");
        assert!(
            stdout.contains("so the predicted column above is for that"),
            "{stdout}"
        );
        assert!(!noted("threads ×4: ", "disk `ssd`"), "{runtime}: {stdout}");
        // A coroutine's awaited write is a sleep (Python has no awaitable file write).
        assert!(noted("asyncio ×1: ", "disk `ssd`"), "{runtime}: {stdout}");
        // validation.csv has both: compared (alone) and shared.
        let csv = std::fs::read_to_string(out_dir.join("validation.csv")).unwrap();
        for row in csv.lines().skip(1) {
            let f: Vec<&str> = row.split(',').collect();
            let (compared, shared): (f64, f64) = (f[2].parse().unwrap(), f[9].parse().unwrap());
            assert!(shared > compared * 1.05, "{runtime}: {csv}");
        }
    }
    // The program writes: the plan has the writes as writes, not sleeps.
    let dir = tempdir();
    let scenario = dir.path().join("transfers.toml");
    std::fs::write(&scenario, TRANSFERS).unwrap();
    let program = dir.path().join("t.py");
    let out = gilsim(dir.path())
        .args(["validate", "-q", "--emit-python"])
        .arg(&program)
        .arg(&scenario)
        .output()
        .unwrap();
    super::succeeded(out);
    let text = std::fs::read_to_string(&program).unwrap();
    assert!(
        text.contains(r#"[\"writef\",2097152.0]"#),
        "no real write in the plan"
    );
}

#[test]
fn without_a_scenario_it_validates_the_embedded_default_as_run_does() {
    // No python3 on PATH: the program is still generated, for the default scenario, and the
    // run stops with a clear error before measuring anything.
    let dir = tempdir();
    let program = dir.path().join("default.py");
    gilsim(dir.path())
        .env("PATH", "")
        .args(["validate", "-q", "--emit-python"])
        .arg(&program)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("python3 is not on PATH"));
    let text = std::fs::read_to_string(&program).unwrap();
    assert!(
        text.contains("io-bound vs cpu-bound") && text.contains("scenarios/default.toml"),
        "not the default scenario's program: {}",
        &text[..text.len().min(300)]
    );
}
