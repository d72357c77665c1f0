//! Golden traces of two tiny scenarios, reviewed like code (insta snapshots).

use super::{gilsim, tempdir};

fn trace_of(body: &str) -> String {
    let dir = tempdir();
    let path = dir.path().join("tiny.toml");
    std::fs::write(&path, body).unwrap();
    gilsim(dir.path())
        .arg("run")
        .arg(&path)
        .args(["-q", "--out", "out"])
        .assert()
        .success();
    let summary = std::fs::read_to_string(dir.path().join("out/summary.csv")).unwrap();
    let trace = std::fs::read_to_string(dir.path().join("out/trace.csv")).unwrap();
    format!("{summary}\n{trace}")
}

#[test]
fn two_threads_share_one_gil() {
    insta::assert_snapshot!(trace_of(
        r#"
name = "two threads, one GIL"
[machine]
preset = "laptop-4c8t"
context_switch = "5us"
wakeup = "50us"
[python]
switch_interval = "5ms"
thread_start = "100us"
dispatch = { threads = "20us" }
[tasks.spin]
steps = [{ cpu = "12ms" }]
[job]
tasks = { spin = 2 }
[[experiment]]
name = "threads"
strategy = "threads"
workers = 2
"#
    ));
}

#[test]
fn a_pool_of_two_processes_with_io_and_pickling() {
    insta::assert_snapshot!(trace_of(
        r#"
name = "tiny pool"
[machine]
preset = "laptop-2c4t"
[python]
process_start = { fork = "1ms" }
pickle = "100MB/s"
ipc = "1GB/s"
ipc_latency = "50us"
dispatch = { processes = "100us" }
[tasks.job]
steps = [{ io = "2ms" }, { cpu = "3ms" }]
[job]
tasks = { job = 3 }
payload = "100KB"
result = "10KB"
[[experiment]]
name = "pool"
strategy = "processes"
workers = 2
"#
    ));
}
