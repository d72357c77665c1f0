//! Child processes that never outlive their run.
//!
//! `validate` and `calibrate` start `python3` programs that start processes of their own
//! (Pool workers). Each child is made the leader of a new process group, so one signal
//! reaches everything it started: the group is killed when the time limit passes, and
//! again after the child exits, in case a worker was left behind.

use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Runs `cmd` (stdin closed, stdout and stderr captured) for at most `timeout`.
/// `Err(None)` means it was killed for taking too long; `Err(Some(message))` that it could
/// not be started or waited for.
pub fn output_with_timeout(cmd: &mut Command, timeout: Duration) -> Result<Output, Option<String>> {
    use std::os::unix::process::CommandExt;
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .map_err(|e| Some(e.to_string()))?;
    let group = child.id();
    let deadline = Instant::now() + timeout;
    loop {
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if Instant::now() > deadline => {
                kill_group(group);
                let _ = child.wait();
                return Err(None);
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(5)),
            Err(e) => {
                kill_group(group);
                let _ = child.wait();
                return Err(Some(e.to_string()));
            }
        }
    }
    let out = child.wait_with_output().map_err(|e| Some(e.to_string()));
    kill_group(group);
    out
}

/// Sends SIGKILL to a process group (nothing happens if it is already gone).
pub fn kill_group(pgid: u32) {
    if pgid == 0 {
        return;
    }
    let _ = Command::new("kill")
        .args(["-KILL", "--", &format!("-{pgid}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}
