//! `gilsim calibrate [--out PATH] [--quick]`: measure this host and write its profile.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use clap::Args;

use crate::child::ChildError;
use crate::error::Error;
use crate::host::{self, measure, Notes};
use crate::model::{preset, Channel, Preset, Python, StartMethod};
use crate::report;
use crate::time::SimDuration;

/// Options of `gilsim calibrate`.
#[derive(Debug, Args)]
pub struct CalibrateArgs {
    /// Where to write the profile.
    #[arg(long, value_name = "PATH", default_value = host::DEFAULT_PATH)]
    pub out: PathBuf,
    /// A shorter run (under 20 s): fewer rounds, fork only for Pool start.
    #[arg(long)]
    pub quick: bool,
    /// No progress or notes on stderr.
    #[arg(short, long)]
    pub quiet: bool,
}

/// A Pool's start and end in four parts (docs/decisions.md, "Pool start"), from the
/// probe's `pool_lifecycle_M` (one warm Pool(1)'s start, map, close and join),
/// `process_start_parent_M`, `process_start_M` and `process_exit_M` (the parent's CPU per
/// worker, a worker's by its first result, and the rest of the worker's life): what is
/// left of the lifecycle once those and the model's other costs of it are taken out is
/// `pool_setup`, paid once per Pool. Of those costs the worker's start runs beside the
/// parent starting Pool's three handler threads, so the larger of the two counts.
/// forkserver's workers are the server's children, whose exit the parent cannot see: they
/// are forks, and take the fork workers' exit when it was measured.
fn pool_start(
    python: &mut Python,
    secs: &dyn Fn(&str) -> Option<f64>,
    note: &mut dyn FnMut(&str, &str),
) {
    let fork_exit = secs("process_exit_fork").map(SimDuration::from_secs_f64);
    for method in StartMethod::ALL {
        let m = method.name();
        let field = |what: &str| secs(&format!("{what}_{m}")).map(SimDuration::from_secs_f64);
        let (Some(lifecycle), Some(parent), Some(child)) = (
            field("pool_lifecycle"),
            field("process_start_parent"),
            field("process_start"),
        ) else {
            continue;
        };
        let pool = format!("get_context('{m}').Pool");
        let exit = match (field("process_exit"), fork_exit) {
            (Some(exit), _) => {
                note(
                    &format!("python.process_exit.{m}"),
                    &format!(
                        "{pool}(1): the worker's CPU time over its life (getrusage(RUSAGE_CHILDREN) after join) less process_start; median of 3 fresh python3"
                    ),
                );
                exit
            }
            (None, Some(exit)) => {
                note(
                    &format!("python.process_exit.{m}"),
                    "its workers are the server's children, not the parent's: the fork workers' exit (they are forks too)",
                );
                exit
            }
            (None, None) => python.process_exit.of(method),
        };
        *python.process_start_parent.of_mut(method) = parent;
        *python.process_start.of_mut(method) = child;
        *python.process_exit.of_mut(method) = exit;
        let handlers = SimDuration(3 * python.thread_start.0);
        let message =
            python.dispatch.processes + python.pool_worker + SimDuration(2 * python.ipc_latency.0);
        let accounted = parent + child.max(handlers) + message + exit;
        let setup = SimDuration(lifecycle.0.saturating_sub(accounted.0));
        *python.pool_setup.of_mut(method) = setup;
        note(
            &format!("python.process_start_parent.{m}"),
            &format!(
                "{pool}(4)'s constructor less {pool}(1)'s, over 3: the parent's CPU time (getrusage), once the helper processes run; medians of 3 fresh python3"
            ),
        );
        note(
            &format!("python.process_start.{m}"),
            &format!(
                "{pool}(1): the worker's CPU time (/proc/PID/schedstat) after map(abs, [1]), before close; median of 3 fresh python3"
            ),
        );
        note(
            &format!("python.pool_setup.{m}"),
            &format!(
                "{pool}(1)'s start, map(abs, [1]), close and join, {lifecycle} (median of 3 fresh python3), less the parent's and the worker's start and the worker's exit, 3 × thread_start beside the worker's start, and one message (dispatch, pool_worker, 2 × ipc_latency)"
            ),
        );
    }
}

fn sim(d: Duration) -> SimDuration {
    SimDuration(d.as_nanos().min(u64::MAX as u128) as u64)
}

/// Measured sharing ratios within the range a profile accepts (above 0, at most 64).
fn accepted_sharing(measured: &[f64]) -> Vec<f64> {
    measured.iter().map(|x| x.clamp(0.01, 64.0)).collect()
}

/// Runs the CPython probe; `None` (with the reason) when python3 is missing or fails.
fn python_probe(quick: bool) -> Result<serde_json::Value, String> {
    let mut cmd = Command::new("python3");
    cmd.arg("-c").arg(host::PYTHON_PROBE);
    if quick {
        cmd.arg("--quick");
    }
    let out = crate::child::output_with_timeout(&mut cmd, Duration::from_secs(120)).map_err(
        |e| match e {
            ChildError::Timeout => "the python3 probe took more than 2 minutes; killed".to_string(),
            ChildError::Interrupted => "interrupted".to_string(),
            ChildError::Failed(e) => format!("python3 not available ({e})"),
        },
    )?;
    if !out.status.success() {
        return Err(format!(
            "the python3 probe failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    serde_json::from_slice(&out.stdout).map_err(|e| format!("the python3 probe's output: {e}"))
}

pub(super) fn run(args: &CalibrateArgs) -> Result<(), Error> {
    let started = Instant::now();
    let steps = 8;
    let bar = super::progress_bar(steps, args.quiet, "steps");
    // Ctrl-C stops the python3 probe's process group and ends here, between steps.
    crate::child::catch_interrupts();
    let step = |msg: &str| {
        if crate::child::interrupted() {
            return Err(Error::Interrupted);
        }
        bar.set_message(msg.to_string());
        bar.inc(1);
        Ok(())
    };
    let mut notes: Notes = Vec::new();
    let mut note = |key: &str, how: &str| notes.push((key.to_string(), how.to_string()));

    let (mut machine, _) = preset::machine("host", None).expect("the host preset exists");
    let mut python = preset::default_python();
    note(
        "machine.time_slice",
        "not measured: Linux CFS gives two runnable threads ~3-4 ms each (default)",
    );
    note(
        "machine.context_switch",
        "not measured: needs CPU pinning; documented default",
    );
    note(
        "machine.smt_speedup",
        "not measured: documented default (Intel: up to 1.3)",
    );

    step("topology")?;
    let (cores, smt) = measure::topology();
    machine.cores = cores.value;
    machine.smt = smt.value;
    note("machine.cores", &cores.how);
    note("machine.smt", &smt.how);

    step("speed with 1..N busy hardware threads")?;
    let (rounds, run) = if args.quick {
        (3, Duration::from_millis(150))
    } else {
        (7, Duration::from_millis(300))
    };
    let speeds = measure::speeds(machine.hw_threads(), rounds, run);
    // The model's frequency is per busy core; without SMT, busy threads are busy cores.
    machine.frequency = speeds.frequency.value.clone();
    note("machine.frequency", &speeds.frequency.how);
    machine.speed_spread = speeds.spread.value.min(0.9);
    note("machine.speed_spread", &speeds.spread.how);

    step("wake-up latency")?;
    let wake = measure::wakeup(if args.quick { 2000 } else { 10_000 });
    machine.wakeup = sim(wake.wall.value);
    note("machine.wakeup", &wake.wall.how);
    // Applied since wake-up preemption and `process_switch` came in: before, with the woken
    // Pool handlers left waiting for a time slice, it made no prediction better
    // (docs/decisions.md, "A wake-up burns CPU on the woken thread's core").
    let how = match &wake.cpu {
        Some(cpu) => {
            machine.wakeup_cpu = sim(cpu.value).min(machine.wakeup);
            cpu.how.clone()
        }
        None => {
            machine.wakeup_cpu = SimDuration::ZERO;
            "not measured: needs /proc/thread-self/schedstat; documented default".into()
        }
    };
    note("machine.wakeup_cpu", &how);
    let oversleep = measure::sleep_overshoot(if args.quick { 50 } else { 200 });

    step("memory latency and bandwidth")?;
    let mem = measure::memory(args.quick);
    machine.cache = mem.caches.value;
    for key in ["l1", "l2", "l3"] {
        note(&format!("machine.cache.{key}"), &mem.caches.how);
    }
    let [l1, l2, l3, ram] = mem.latency.value;
    machine.latency.l1 = sim(l1);
    machine.latency.l2 = sim(l2);
    machine.latency.l3 = sim(l3);
    machine.latency.ram = sim(ram);
    let [b1, b2, b3, bram] = mem.bandwidth.value;
    machine.bandwidth.l1 = b1;
    machine.bandwidth.l2 = b2;
    machine.bandwidth.l3 = b3;
    machine.bandwidth.ram = bram;
    for key in ["l1", "l2", "l3", "ram"] {
        note(&format!("machine.latency.{key}"), &mem.latency.how);
        note(&format!("machine.bandwidth.{key}"), &mem.bandwidth.how);
    }

    step("disk write and fsync")?;
    let disk_dir = args
        .out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .map_or_else(|| PathBuf::from("."), PathBuf::from);
    match measure::disk(&disk_dir, args.quick) {
        Ok(disk) => {
            // Where it was measured: validation programs write beside themselves, in the
            // output directory, and should find the same disk there.
            let on = format!("this host's disk (in {})", disk_dir.display());
            machine.latency.ssd = sim(disk.latency.value);
            machine.bandwidth.ssd = disk.bandwidth.value;
            machine.sharing[Channel::Ssd.index()] = accepted_sharing(&disk.sharing.value);
            note(
                "machine.latency.ssd",
                &format!("{on}: {}", disk.latency.how),
            );
            note(
                "machine.bandwidth.ssd",
                &format!("{on}: {}", disk.bandwidth.how),
            );
            note(
                "machine.sharing.ssd",
                &format!("{on}: {}", disk.sharing.how),
            );
        }
        Err(e) => {
            note(
                "machine.latency.ssd",
                &format!("not measured ({e}); default"),
            );
        }
    }

    step("loopback round trip")?;
    if let Some(rtt) = measure::loopback() {
        machine.latency.loopback = sim(rtt.value);
        note("machine.latency.loopback", &rtt.how);
    }
    step("loopback bandwidth")?;
    match measure::loopback_bandwidth(args.quick) {
        Ok(link) => {
            machine.bandwidth.loopback = link.bandwidth.value;
            machine.sharing[Channel::Loopback.index()] = accepted_sharing(&link.sharing.value);
            note("machine.bandwidth.loopback", &link.bandwidth.how);
            note("machine.sharing.loopback", &link.sharing.how);
        }
        Err(e) => note(
            "machine.bandwidth.loopback",
            &format!("not measured ({e}); default"),
        ),
    }

    step("CPython costs (python3)")?;
    let python_note = match python_probe(args.quick) {
        Ok(v) => {
            let secs = |k: &str| v.get(k).and_then(serde_json::Value::as_f64);
            // (profile key, where it goes, probe field, how it was measured)
            let durations: [(&str, &mut SimDuration, &str, &str); 10] = [
                ("python.switch_interval", &mut python.switch_interval, "switch_interval",
                 "sys.getswitchinterval()"),
                ("python.thread_start", &mut python.thread_start, "thread_start",
                 "threading.Thread(target=int).start() + join, median of 3 runs"),
                ("python.dispatch.threads", &mut python.dispatch.threads, "dispatch_threads",
                 "ThreadPoolExecutor(1).map(int, ...) per task, median of 3 runs"),
                ("python.executor_lock.submit", &mut python.executor_lock.submit, "executor_lock_submit",
                 "threading.Semaphore(0).acquire(timeout=0) per call (submit's _adjust_thread_count), median of 3 runs"),
                ("python.executor_lock.done", &mut python.executor_lock.done, "executor_lock_done",
                 "threading.Semaphore().release() per call (a worker after each task; 0 on CPython >= 3.12, which releases only when the queue is empty, gh-102024), median of 3 runs"),
                ("python.dispatch.asyncio", &mut python.dispatch.asyncio, "dispatch_asyncio",
                 "await asyncio.sleep(0) in 10 gathered coroutines, per resume"),
                ("machine.process_switch", &mut machine.process_switch, "process_switch",
                 "extra CPU per involuntary context switch of a pure-Python loop, pinned with another process that wakes every 0.5 ms on its CPU (phases of 20 ms interleaved)"),
                ("python.ipc_latency", &mut python.ipc_latency, "ipc_latency",
                 "half a 1-byte round trip through one-way multiprocessing pipes to a forked process, after a warm-up; median of 3 processes"),
                ("python.helper_start.resource_tracker", &mut python.helper_start.resource_tracker, "helper_tracker",
                 "CPU time of the resource tracker's process once started (/proc/PID/schedstat), median of 3 fresh python3"),
                ("python.helper_start.forkserver", &mut python.helper_start.forkserver, "helper_forkserver",
                 "CPU time of the forkserver's server process once started (/proc/PID/schedstat), median of 3 fresh python3"),
            ];
            for (key, slot, field, how) in durations {
                if let Some(s) = secs(field) {
                    *slot = SimDuration::from_secs_f64(s);
                    note(key, how);
                }
            }
            // Each side of a Pool message as CPU time, with how many of its waits blocked: each
            // of those is a wake-up inside the cost.
            let pool_costs: [(&str, &mut SimDuration, &str, &str); 2] = [
                (
                    "python.dispatch.processes",
                    &mut python.dispatch.processes,
                    "dispatch_processes",
                    "the parent's CPU time per task in Pool(1).map(abs, ..., chunksize=1) (fork)",
                ),
                (
                    "python.pool_worker",
                    &mut python.pool_worker,
                    "pool_worker",
                    "the worker's CPU time per task in the same map (/proc/PID/schedstat)",
                ),
            ];
            // Each blocked wait inside them is a wake-up the engine charges `wakeup_cpu` for
            // by itself: the profile keeps the rest.
            let wakeup_cpu = machine.wakeup_cpu;
            for (key, slot, field, how) in pool_costs {
                let Some(s) = secs(field) else { continue };
                let gross = SimDuration::from_secs_f64(s);
                let how = match secs(&format!("{field}_blocks")) {
                    Some(b) => {
                        let waits = SimDuration::from_secs_f64(b * wakeup_cpu.as_secs_f64());
                        *slot = SimDuration(gross.0.saturating_sub(waits.0));
                        format!(
                            "{how}: {gross} less {b:.2} blocking waits per task (voluntary \
                             context switches) × wakeup_cpu; medians of 3 runs"
                        )
                    }
                    None => {
                        *slot = gross;
                        format!("{how}; medians of 3 runs")
                    }
                };
                note(key, &how);
            }
            pool_start(&mut python, &secs, &mut note);
            if let Some(r) = secs("pickle").filter(|r| *r > 0.0) {
                python.pickle = r;
                note(
                    "python.pickle",
                    "pickle.dumps/loads of 16 MiB of bytes, median of 3",
                );
            }
            if let Some(r) = secs("ipc").filter(|r| *r > 0.0) {
                python.ipc = r;
                note(
                    "python.ipc",
                    "8 MiB messages through one-way multiprocessing pipes (Pool's SimpleQueue) to a forked process, after a warm-up one: median of 15 (5 in each of 3 processes at the start, middle and end of the CPython measurements)",
                );
            }
            if let Some(r) = secs("ipc_cpu").filter(|r| *r > 0.0) {
                python.ipc_cpu = Some(r);
                note(
                    "python.ipc_cpu",
                    "the same messages per CPU-second of one end (time.thread_time, mean of writer and reader): median of 15",
                );
            }
            format!(
                "CPython {} measured",
                v.get("python").and_then(|p| p.as_str()).unwrap_or("?")
            )
        }
        Err(reason) => format!("CPython costs are defaults: {reason}"),
    };
    bar.finish_and_clear();
    if crate::child::interrupted() {
        return Err(Error::Interrupted);
    }

    let elapsed = started.elapsed();
    let header = format!(
        "gilsim host profile, written by `gilsim calibrate{}` in {:.0} s.\n\
         The same keys as a scenario's [machine] and [python]; each value says how it was measured.\n\
         Sleep overshoot (time.sleep / thread::sleep of 1 ms oversleeps by): {} — {}.\n\
         {python_note}.",
        if args.quick { " --quick" } else { "" },
        elapsed.as_secs_f64(),
        sim(oversleep.value),
        oversleep.how
    );
    let profile = Preset { machine, python };
    let text = host::render(&profile, &notes, &header);
    // What we write must load back: check before replacing a good profile.
    crate::model::load_profile(&args.out.display().to_string(), &text).map_err(|e| {
        Error::Run(format!(
            "the measured profile does not validate (a bug): {e}"
        ))
    })?;
    report::write_file(&args.out, text.as_bytes()).map_err(Error::Run)?;
    super::print_stdout(&text)?;
    if !args.quiet {
        eprintln!(
            "wrote {} ({:.0} s); `preset = \"host\"` now uses it",
            args.out.display(),
            elapsed.as_secs_f64()
        );
    }
    Ok(())
}
