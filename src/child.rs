//! Child processes that never outlive their run, even when the user presses Ctrl-C.
//!
//! `validate` and `calibrate` start programs that start processes of their own (Pool
//! workers, native workers). Each child is made the leader of a new process group, so one
//! signal reaches everything it started: the group is killed when the time limit passes,
//! when the run is interrupted, and again after the child exits, in case a worker was left
//! behind.
//!
//! A child in its own group does not get the terminal's Ctrl-C, so these commands catch
//! SIGINT and SIGTERM themselves ([`catch_interrupts`]): the handler only sets a flag; the
//! loop waiting for the child sees it within 5 ms, kills the child's group, reaps it, and
//! the command ends with exit code 130 without writing partial results.

use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    INTERRUPTED.store(true, Ordering::SeqCst);
}

/// From now on SIGINT and SIGTERM set [`interrupted`] instead of ending the process.
pub fn catch_interrupts() {
    let handler = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
    // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
    unsafe {
        libc::signal(libc::SIGINT, handler);
        libc::signal(libc::SIGTERM, handler);
    }
}

/// True once SIGINT or SIGTERM arrived after [`catch_interrupts`].
pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

/// Why a child did not produce its output.
#[derive(Debug)]
pub enum ChildError {
    /// It ran past its time limit; it and its group were killed.
    Timeout,
    /// The user interrupted gilsim; the child and its group were killed.
    Interrupted,
    /// It could not be started or waited for.
    Failed(String),
}

/// Runs `cmd` (stdin closed, stdout and stderr captured) for at most `timeout`.
pub fn output_with_timeout(cmd: &mut Command, timeout: Duration) -> Result<Output, ChildError> {
    use std::os::unix::process::CommandExt;
    if interrupted() {
        return Err(ChildError::Interrupted);
    }
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .map_err(|e| ChildError::Failed(e.to_string()))?;
    let group = child.id();
    let deadline = Instant::now() + timeout;
    // Both pipes are drained by threads, so a chatty child cannot block on a full pipe.
    let drain = |pipe: Option<Box<dyn std::io::Read + Send>>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            if let Some(mut p) = pipe {
                let _ = p.read_to_end(&mut bytes);
            }
            bytes
        })
    };
    let stdout = drain(child.stdout.take().map(|p| Box::new(p) as _));
    let stderr = drain(child.stderr.take().map(|p| Box::new(p) as _));
    let status = loop {
        let stop = match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if interrupted() => ChildError::Interrupted,
            Ok(None) if Instant::now() > deadline => ChildError::Timeout,
            Ok(None) => {
                std::thread::sleep(Duration::from_millis(5));
                continue;
            }
            Err(e) => ChildError::Failed(e.to_string()),
        };
        kill_group(group);
        let _ = child.wait();
        return Err(stop);
    };
    kill_group(group);
    Ok(Output {
        status,
        stdout: stdout.join().unwrap_or_default(),
        stderr: stderr.join().unwrap_or_default(),
    })
}

/// Sends SIGKILL to a process group (nothing happens if it is already gone).
pub fn kill_group(pgid: u32) {
    let Ok(pgid) = libc::pid_t::try_from(pgid) else {
        return;
    };
    if pgid > 1 {
        // SAFETY: killpg has no memory-safety preconditions.
        unsafe {
            libc::killpg(pgid, libc::SIGKILL);
        }
    }
}
