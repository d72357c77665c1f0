//! Interruptions (issue 7): Ctrl-C in the middle of writing leaves every output file either
//! as it was or complete, and Ctrl-C during `validate` leaves no process behind.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::tempdir;

/// The binary as a plain `std` command (spawned, signalled, waited for).
fn gilsim(dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_gilsim"));
    cmd.current_dir(dir);
    cmd
}

fn sigint(child: &Child) {
    // SAFETY: kill has no memory-safety preconditions.
    unsafe {
        libc::kill(child.id() as libc::pid_t, libc::SIGINT);
    }
}

/// Every file of a directory by name.
fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect();
    out.sort();
    out
}

#[test]
fn an_interrupted_run_leaves_each_output_as_it_was_or_complete() {
    let dir = tempdir();
    let run = |seed: &str, out: &str| {
        let mut cmd = gilsim(dir.path());
        cmd.args(["run", "default", "-q", "--seed", seed, "--out", out])
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        cmd
    };
    // The two complete versions of every file, and how long a run takes.
    let started = Instant::now();
    assert!(run("1", "a").status().unwrap().success());
    let full = started.elapsed();
    assert!(run("2", "b").status().unwrap().success());
    let (a, b) = (files(&dir.path().join("a")), files(&dir.path().join("b")));
    assert_eq!(
        a.iter().map(|f| &f.0).collect::<Vec<_>>(),
        b.iter().map(|f| &f.0).collect::<Vec<_>>()
    );
    assert!(a != b, "the seeds must give different files");
    assert!(run("1", "out").status().unwrap().success());

    let mut interrupted = 0;
    for k in 0..16u32 {
        let seed = if k % 2 == 0 { "2" } else { "1" };
        let mut child = run(seed, "out").spawn().unwrap();
        std::thread::sleep(full * k / 16);
        sigint(&child);
        let status = child.wait().unwrap();
        interrupted += usize::from(!status.success());
        for (name, bytes) in files(&dir.path().join("out")) {
            if name.starts_with(".tmp-") {
                continue; // removed by the next run; never read as a result
            }
            let old = &a.iter().find(|f| f.0 == name).unwrap().1;
            let new = &b.iter().find(|f| f.0 == name).unwrap().1;
            assert!(
                &bytes == old || &bytes == new,
                "{name} is neither complete version after an interrupt at {:?}",
                full * k / 16
            );
        }
    }
    assert!(
        interrupted >= 4,
        "only {interrupted} of 16 runs were interrupted"
    );
    // A later run cleans up what the interrupted ones left.
    assert!(run("1", "out").status().unwrap().success());
    assert!(files(&dir.path().join("out"))
        .iter()
        .all(|f| !f.0.starts_with(".tmp-")));
}

/// (parent pid, state) of a process, if it exists.
fn stat(pid: u32) -> Option<(u32, char)> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let mut rest = s.rsplit(')').next()?.split_whitespace();
    let state = rest.next()?.chars().next()?;
    let ppid = rest.next()?.parse().ok()?;
    Some((ppid, state))
}

/// Every live process whose parent is `pid`, with its command line.
fn children(pid: u32) -> Vec<(u32, String)> {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&p| stat(p).is_some_and(|(ppid, state)| ppid == pid && state != 'Z'))
        .map(|p| {
            let cmd = std::fs::read(format!("/proc/{p}/cmdline")).unwrap_or_default();
            (p, String::from_utf8_lossy(&cmd).replace('\0', " "))
        })
        .collect()
}

const LONG: &str = r#"
name = "long"
[tasks.spin]
steps = [{ cpu = "4s" }]
[job]
tasks = { spin = 4 }
[[experiment]]
name = "pool"
strategy = "processes"
workers = 2
"#;

#[test]
fn interrupting_validate_stops_every_child_process() {
    let dir = tempdir();
    std::fs::write(dir.path().join("long.toml"), LONG).unwrap();
    let mut gilsim = gilsim(dir.path())
        .args([
            "validate",
            "long.toml",
            "--runtime",
            "native",
            "--repeat",
            "1",
            "-q",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Wait for the run (`native-run`) and its two pool workers.
    let deadline = Instant::now() + Duration::from_secs(60);
    let tree = loop {
        let run = children(gilsim.id())
            .into_iter()
            .find(|(_, cmd)| cmd.contains("native-run"));
        if let Some((run, cmd)) = run {
            let workers = children(run);
            if workers.len() >= 2 {
                let mut tree = vec![(run, cmd)];
                tree.extend(workers);
                break tree;
            }
        }
        assert!(Instant::now() < deadline, "the pool never started");
        std::thread::sleep(Duration::from_millis(20));
    };
    sigint(&gilsim);
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = gilsim.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "gilsim did not stop after Ctrl-C"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(gilsim.stderr.as_mut().unwrap(), &mut stderr).unwrap();
    assert_eq!(status.code(), Some(130), "{stderr}");
    assert!(stderr.contains("interrupted"), "{stderr}");
    std::thread::sleep(Duration::from_millis(300));
    for (pid, cmd) in tree {
        let state = stat(pid).map(|s| s.1);
        assert!(
            matches!(state, None | Some('Z') | Some('X')),
            "{cmd} ({pid}) outlived the interrupt (state {state:?})"
        );
    }
    assert!(!dir.path().join("output/long/validation.csv").exists());
}
