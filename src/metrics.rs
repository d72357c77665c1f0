//! Pure functions from a run's trace to the numbers of the reports (DESIGN §4).
//!
//! Nothing here simulates or writes: [`summarize`] reads a [`RunTrace`] and returns a
//! [`Summary`]. Every figure is a sum over the same lane states that `trace.csv` lists, so
//! the table, the CSVs and the JSON can never disagree.
//!
//! # The bottleneck rules
//!
//! Each row says in one line what limited it. The rules are tried in order and the first
//! that holds wins; each sentence quotes the numbers that triggered it. Lane-seconds are
//! summed over all threads, `M` is the makespan, `H` the hardware threads.
//!
//! 1. **serial section** — setup + teardown take ≥ 50 % of `M`: the part no strategy can
//!    speed up (Amdahl's law).
//! 2. **one thread** (serial strategy) — the work runs back to back: I/O waits or CPU,
//!    whichever is larger.
//! 3. **start-up and pickling** — spawn + pickle + pipe + dispatch lane-time ≥ 25 % of `M`.
//! 4. **event loop blocked** (asyncio) — CPU on the loop thread ≥ 50 % of `M`, or the
//!    coroutines did not overlap (their summed lifetimes ≤ 1.1 × `M`): blocking calls.
//! 5. **GIL** — threads waited for the GIL ≥ 25 % of `M` in lane-time and the GIL was held
//!    ≥ 75 % of `M`: one thread runs Python at a time. Or, for threads, the GIL held ≥ 50 %
//!    of `M` and the workers waited for it ≥ 25 % of their time (`workers × M`): a run with a
//!    GIL-free part (calls that release it, before or after the Python) is still held back
//!    by the GIL in the rest.
//! 6. **cores** — on-core time ≥ 75 % of `H × M`, or threads queued for a core ≥ 25 % of `M`.
//! 7. **bandwidth** — a disk or link had transfers in it ≥ 50 % of `M`, at times two or
//!    more sharing it: more workers would only share it more thinly.
//! 8. **I/O latency** — I/O waits ≥ 25 % of the lane-time of the threads that did work:
//!    the run is as long as its waits, `workers` at a time.
//! 9. **uneven chunks** (a Pool with chunksize > 1) — the workers' idle time from each
//!    one's last task to the last task end of all, shared out over them, is ≥ 15 % of `M`
//!    (the run would end that much sooner if it were even), and no task is half the run:
//!    the chunks, not the tasks, are the units of work, and the last ones ran alone.
//! 10. **workers** — fewer workers than tasks and than hardware threads: tasks wait their
//!     turn while hardware threads idle.
//! 11. **longest task** — one task's lifetime ≥ 50 % of `M`: the run cannot end before it.
//! 12. otherwise **mixed**: no single limit dominates.

use crate::model::{Experiment, Scenario, Strategy};
use crate::time::SimDuration;
use crate::trace::{RunTrace, State};

/// One row of `summary.csv`.
#[derive(Clone, Debug, PartialEq)]
pub struct Summary {
    /// Experiment name.
    pub experiment: String,
    /// Strategy.
    pub strategy: Strategy,
    /// Workers of this row.
    pub workers: u32,
    /// Process start method (processes only).
    pub start_method: Option<&'static str>,
    /// Effective chunksize (processes only).
    pub chunksize: Option<u32>,
    /// Predicted wall time.
    pub makespan: SimDuration,
    /// Baseline makespan / this makespan.
    pub speedup: f64,
    /// Speedup / workers.
    pub efficiency: f64,
    /// Time threads executed code on a core (all lanes).
    pub cpu_busy: SimDuration,
    /// Time the GIL(s) were held.
    pub gil_held: SimDuration,
    /// Time threads waited for the GIL.
    pub gil_wait: SimDuration,
    /// GIL hand-offs to another thread.
    pub gil_switches: u64,
    /// Hand-offs forced by a drop request.
    pub forced_switches: u64,
    /// Hardware threads switching software threads.
    pub context_switches: u64,
    /// Time threads waited for I/O.
    pub io_wait: SimDuration,
    /// Spawn + pickle + pipe + dispatch time.
    pub overhead: SimDuration,
    /// The limit, in one line.
    pub bottleneck: String,
    /// Per task kind: tasks, first end, last end, mean latency (end − submit).
    pub kinds: Vec<KindStats>,
}

/// Statistics of one task kind in one run.
#[derive(Clone, Debug, PartialEq)]
pub struct KindStats {
    /// Kind name.
    pub kind: String,
    /// Instances.
    pub tasks: u64,
    /// Earliest end.
    pub first_end: SimDuration,
    /// Latest end.
    pub last_end: SimDuration,
    /// Mean of end − submit.
    pub mean_latency: SimDuration,
}

fn total(trace: &RunTrace, states: &[State]) -> SimDuration {
    states
        .iter()
        .fold(SimDuration::ZERO, |acc, s| acc + trace.totals[s.index()])
}

/// Summarizes one run. `baseline` is the baseline's makespan.
pub fn summarize(
    scenario: &Scenario,
    experiment: &Experiment,
    workers: u32,
    trace: &RunTrace,
    baseline: SimDuration,
) -> Summary {
    let makespan = trace.makespan - crate::time::SimTime::ZERO;
    let speedup = if makespan.is_zero() {
        1.0
    } else {
        baseline.as_secs_f64() / makespan.as_secs_f64()
    };
    let cpu_busy = total(
        trace,
        &[
            State::Cpu,
            State::CpuNoGil,
            State::Spawn,
            State::Pickle,
            State::Dispatch,
        ],
    );
    let overhead = total(
        trace,
        &[State::Spawn, State::Pickle, State::Ipc, State::Dispatch],
    );
    let mut summary = Summary {
        experiment: experiment.name.clone(),
        strategy: experiment.strategy,
        workers,
        start_method: (experiment.strategy == Strategy::Processes)
            .then(|| experiment.start_method.name()),
        chunksize: trace.chunksize,
        makespan,
        speedup,
        efficiency: speedup / workers.max(1) as f64,
        cpu_busy,
        gil_held: trace.gil_held,
        gil_wait: trace.totals[State::GilWait.index()],
        gil_switches: trace.gil_switches,
        forced_switches: trace.forced_switches,
        context_switches: trace.context_switches,
        io_wait: trace.totals[State::Io.index()],
        overhead,
        bottleneck: String::new(),
        kinds: kind_stats(scenario, trace),
    };
    summary.bottleneck = bottleneck(scenario, experiment, workers, trace, &summary);
    summary
}

fn kind_stats(scenario: &Scenario, trace: &RunTrace) -> Vec<KindStats> {
    let mut stats: Vec<Option<(u64, u64, u64, u128)>> = vec![None; scenario.kinds.len()];
    for t in &trace.tasks {
        let end = t.end.0;
        let latency = (t.end - t.submit).as_nanos() as u128;
        let s = stats[t.kind as usize].get_or_insert((0, u64::MAX, 0, 0));
        s.0 += 1;
        s.1 = s.1.min(end);
        s.2 = s.2.max(end);
        s.3 += latency;
    }
    stats
        .into_iter()
        .enumerate()
        .filter_map(|(k, s)| {
            s.map(|(n, first, last, sum)| KindStats {
                kind: scenario.kinds[k].name.clone(),
                tasks: n,
                first_end: SimDuration(first),
                last_end: SimDuration(last),
                mean_latency: SimDuration((sum / n as u128) as u64),
            })
        })
        .collect()
}

fn bottleneck(
    scenario: &Scenario,
    experiment: &Experiment,
    workers: u32,
    trace: &RunTrace,
    s: &Summary,
) -> String {
    let m = s.makespan.as_secs_f64().max(1e-12);
    let hw = scenario.machine.hw_threads() as f64;
    let secs = |d: SimDuration| d.as_secs_f64();
    let cpu = secs(total(trace, &[State::Cpu, State::CpuNoGil]));
    let io = secs(s.io_wait);
    let serial = secs(trace.serial_time);
    let runnable = secs(trace.totals[State::Runnable.index()]);
    let fmt = |x: f64| SimDuration::from_secs_f64(x).to_string();

    if serial >= 0.5 * m {
        return format!(
            "serial section: setup/teardown take {} of {} on one thread (Amdahl)",
            fmt(serial),
            fmt(m)
        );
    }
    if experiment.strategy == Strategy::Serial {
        return if io >= cpu {
            format!("one thread: {} of I/O waits, one after another", fmt(io))
        } else {
            format!(
                "one thread: {} of CPU work, one task after another",
                fmt(cpu)
            )
        };
    }
    let overhead = secs(s.overhead);
    if overhead >= 0.25 * m {
        return format!(
            "start-up and pickling: {} of spawn/pickle/pipe/dispatch time",
            fmt(overhead)
        );
    }
    if experiment.strategy == Strategy::Asyncio {
        let lifetimes: f64 = trace
            .tasks
            .iter()
            .map(|t| (t.end - t.start).as_secs_f64())
            .sum();
        if cpu >= 0.5 * m {
            return format!(
                "event loop blocked: {} of CPU steps run on the loop and stall every coroutine",
                fmt(cpu)
            );
        }
        if trace.tasks.len() > 1 && lifetimes <= 1.1 * m {
            return format!(
                "event loop blocked: coroutines ran one at a time ({} of blocking calls on the loop)",
                fmt(io)
            );
        }
    }
    let gil_wait = secs(s.gil_wait);
    let held = secs(s.gil_held);
    let saturated = gil_wait >= 0.25 * m && held >= 0.75 * m;
    let contended = experiment.strategy == Strategy::Threads
        && held >= 0.5 * m
        && gil_wait >= 0.25 * f64::from(workers) * m;
    if scenario.python.gil && (saturated || contended) {
        return format!(
            "GIL: one thread runs Python at a time (held {:.0}% of the run; threads waited {})",
            100.0 * held / m,
            fmt(gil_wait)
        );
    }
    let busy = secs(s.cpu_busy);
    if busy >= 0.75 * hw * m || runnable >= 0.25 * m {
        return format!(
            "cores: {:.0}% of {} hardware threads busy{}",
            100.0 * busy / (hw * m),
            hw as u32,
            if runnable > 0.0 {
                format!(", threads queued {} for a core", fmt(runnable))
            } else {
                String::new()
            }
        );
    }
    let shared = trace.channels.iter().filter(|c| c.most >= 2);
    if let Some(c) = shared.max_by_key(|c| c.busy) {
        if secs(c.busy) >= 0.5 * m {
            return format!(
                "bandwidth: {} busy {:.0}% of the run, up to {} transfers sharing it",
                c.channel.describe(),
                100.0 * secs(c.busy) / m,
                c.most
            );
        }
    }
    let working = cpu + io + overhead + gil_wait + runnable;
    if io >= 0.25 * working {
        return format!(
            "I/O latency: {} of waits, {}",
            fmt(io),
            match experiment.strategy {
                Strategy::Asyncio => "overlapping on one thread".to_string(),
                _ => format!("at most {workers} at a time"),
            }
        );
    }
    let n_tasks = trace.tasks.len() as u64;
    let pooled = matches!(experiment.strategy, Strategy::Threads | Strategy::Processes);
    let longest = trace.tasks.iter().max_by_key(|t| t.end - t.start);
    let longest_s = longest.map_or(0.0, |t| (t.end - t.start).as_secs_f64());
    // A Pool's chunks are its units of work: with one task of half the run it is rule 11's.
    if let (Some(c), true) = (s.chunksize.filter(|&c| c > 1), longest_s < 0.5 * m) {
        if let Some((lanes, idle)) = idle_at_the_end(trace) {
            if lanes >= 2 && idle / lanes as f64 >= 0.15 * m {
                return format!(
                    "uneven chunks: workers idle {} in all at the end while the last chunks (of {c} tasks) ran",
                    fmt(idle)
                );
            }
        }
    }
    if pooled && (workers as u64) < n_tasks && workers < hw as u32 {
        return format!(
            "workers: {workers} at a time for {n_tasks} tasks on {} hardware threads",
            hw as u32
        );
    }
    if let Some(longest) = longest.filter(|_| longest_s >= 0.5 * m) {
        return format!(
            "longest task: one `{}` task runs {} of the {}",
            scenario.kinds[longest.kind as usize].name,
            fmt(longest_s),
            fmt(m)
        );
    }
    format!(
        "mixed: CPU {}, I/O {}, GIL waits {}",
        fmt(cpu),
        fmt(io),
        fmt(gil_wait)
    )
}

/// The lanes that ran tasks, and their idle time summed from each one's last task end to
/// the last task end of all (`None` without tasks).
fn idle_at_the_end(trace: &RunTrace) -> Option<(usize, f64)> {
    let mut last: Vec<Option<crate::time::SimTime>> = vec![None; trace.lanes.len()];
    for t in &trace.tasks {
        let end = &mut last[t.lane as usize];
        *end = Some(end.map_or(t.end, |e| e.max(t.end)));
    }
    let ends: Vec<_> = last.into_iter().flatten().collect();
    let finish = *ends.iter().max()?;
    let idle = ends.iter().map(|&e| (finish - e).as_secs_f64()).sum();
    Some((ends.len(), idle))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{simulate, Limits};
    use crate::model;

    fn why(body: &str) -> Vec<String> {
        let text = format!("name = \"t\"\n[machine]\npreset = \"laptop-4c8t\"\n{body}");
        let s = model::load("t.toml", &text, None).unwrap();
        let runs: Vec<_> = s
            .experiments
            .iter()
            .map(|e| simulate(&s, e, e.workers[0], &Limits::default()).unwrap())
            .collect();
        let base = runs[0].makespan - crate::time::SimTime::ZERO;
        s.experiments
            .iter()
            .zip(&runs)
            .map(|(e, r)| summarize(&s, e, e.workers[0], r, base).bottleneck)
            .collect()
    }

    const CPU: &str = "[tasks.c]\nsteps = [{ cpu = \"200ms\" }]\n[job]\ntasks = { c = 8 }\n";

    #[test]
    fn rule_serial_section() {
        let w = why(&format!(
            "{CPU}setup = [{{ cpu = \"5s\" }}]\n[[experiment]]\nname = \"p\"\nstrategy = \"processes\"\n"
        ));
        assert!(w[0].starts_with("serial section"), "{w:?}");
    }

    #[test]
    fn rule_one_thread() {
        let w = why(&format!(
            "{CPU}[[experiment]]\nname = \"s\"\nstrategy = \"serial\"\n"
        ));
        assert!(
            w[0].starts_with("one thread: ") && w[0].contains("CPU"),
            "{w:?}"
        );
    }

    #[test]
    fn rule_overhead() {
        let w = why(
            "[tasks.t]\nsteps = [{ cpu = \"1ms\" }]\n[job]\ntasks = { t = 8 }\n\
             [[experiment]]\nname = \"p\"\nstrategy = \"processes\"\nstart_method = \"spawn\"\n",
        );
        assert!(w[0].starts_with("start-up and pickling"), "{w:?}");
    }

    #[test]
    fn a_pool_whose_task_handler_waits_for_busy_workers_is_limited_by_its_workers() {
        // Arguments larger than the pipe: Pool's task handler blocks on each write until a
        // worker is free to read it, most of the run. That wait is not overhead.
        let w = why(&format!(
            "{CPU}payload = \"500KB\"\n[[experiment]]\nname = \"p\"\nstrategy = \"processes\"\nworkers = 2\n"
        ));
        assert!(w[0].starts_with("workers: 2 at a time"), "{w:?}");
    }

    #[test]
    fn rule_event_loop_blocked() {
        let w = why(&format!(
            "{CPU}[[experiment]]\nname = \"a\"\nstrategy = \"asyncio\"\n"
        ));
        assert!(w[0].starts_with("event loop blocked"), "{w:?}");
    }

    #[test]
    fn rule_gil() {
        let w = why(&format!(
            "{CPU}[[experiment]]\nname = \"t\"\nstrategy = \"threads\"\nworkers = 8\n"
        ));
        assert!(w[0].starts_with("GIL: "), "{w:?}");
    }

    #[test]
    fn rule_gil_after_a_gil_free_part() {
        // Two threads: 8 calls that release the GIL, then 8 of Python. The first half runs
        // two at a time, the second one at a time: the GIL (held ~60 % of the run), not the
        // two workers, is what keeps it from 2×.
        let w = why("[tasks.hash]\nsteps = [{ cpu = \"200ms\", gil = false }]\n\
             [tasks.py]\nsteps = [{ cpu = \"150ms\" }]\n[job]\ntasks = { hash = 8, py = 8 }\n\
             [[experiment]]\nname = \"t\"\nstrategy = \"threads\"\nworkers = 2\n");
        assert!(w[0].starts_with("GIL: "), "{w:?}");
    }

    #[test]
    fn rule_cores() {
        let w = why(
            "[tasks.c]\nsteps = [{ cpu = \"200ms\", gil = false }]\n[job]\ntasks = { c = 32 }\n\
             [[experiment]]\nname = \"t\"\nstrategy = \"threads\"\nworkers = 16\n",
        );
        assert!(w[0].starts_with("cores: "), "{w:?}");
    }

    #[test]
    fn rule_io_latency() {
        let w = why(
            "[tasks.d]\nsteps = [{ io = \"100ms\" }]\n[job]\ntasks = { d = 16 }\n\
             [[experiment]]\nname = \"t\"\nstrategy = \"threads\"\nworkers = 4\n",
        );
        assert!(w[0].starts_with("I/O latency"), "{w:?}");
    }

    #[test]
    fn rule_event_loop_blocked_by_blocking_io() {
        let w = why(
            "[tasks.d]\nsteps = [{ io = \"100ms\", blocking = true }]\n[job]\ntasks = { d = 4 }\n\
             [[experiment]]\nname = \"a\"\nstrategy = \"asyncio\"\n",
        );
        assert!(w[0].contains("one at a time"), "{w:?}");
    }

    #[test]
    fn rule_bandwidth() {
        // Eight threads each downloading 10 MB over one 1 Gbit/s LAN: the link is the limit.
        let w = why(
            "[tasks.d]\nsteps = [{ net = \"lan\", bytes = \"10MB\" }]\n[job]\ntasks = { d = 8 }\n\
             [[experiment]]\nname = \"t\"\nstrategy = \"threads\"\nworkers = 8\n",
        );
        assert!(
            w[0].starts_with("bandwidth: link `lan` busy") && w[0].contains("up to 8 transfers"),
            "{w:?}"
        );
        // The same bytes in small pieces behind long round trips: latency, not bandwidth.
        let w = why(
            "[tasks.d]\nsteps = [{ net = \"wan\", bytes = \"10KB\" }]\n[job]\ntasks = { d = 8 }\n\
             [[experiment]]\nname = \"t\"\nstrategy = \"threads\"\nworkers = 8\n",
        );
        assert!(w[0].starts_with("I/O latency"), "{w:?}");
    }

    #[test]
    fn rule_workers() {
        let w = why(
            "[tasks.c]\nsteps = [{ cpu = \"100ms\", gil = false }]\n[job]\ntasks = { c = 8 }\n\
             [[experiment]]\nname = \"t\"\nstrategy = \"threads\"\nworkers = 2\n",
        );
        assert!(w[0].starts_with("workers: 2 at a time"), "{w:?}");
    }

    #[test]
    fn rule_uneven_chunks() {
        // Quiz 8's shape: ten 500 ms tasks on two processes go in chunks of two (1 s each):
        // five chunks take three rounds, one worker idle for the last, where threads'
        // single tasks share out evenly in 2.5 s.
        let body = "[tasks.c]\nsteps = [{ cpu = \"500ms\" }]\n[job]\ntasks = { c = 10 }\n\
             [[experiment]]\nname = \"p\"\nstrategy = \"processes\"\nworkers = 2\n";
        let w = why(body);
        // About a second: the second worker, started 1.5 ms after the first (the parent
        // forks them one after the other), idles that much less.
        let idle = w[0]
            .strip_prefix("uneven chunks: workers idle ")
            .and_then(|rest| rest.split(' ').next())
            .map(|d| crate::units::parse_duration(d).unwrap().as_secs_f64());
        assert!(
            idle.is_some_and(|s| (0.99..=1.0).contains(&s)) && w[0].contains("of 2 tasks"),
            "{w:?}"
        );
        // The same tasks one to a chunk come out even: the workers limit it.
        let w = why(&format!("{body}chunksize = 1\n"));
        assert!(w[0].starts_with("workers: 2 at a time"), "{w:?}");
    }

    #[test]
    fn rule_longest_task() {
        let w = why(
            "[tasks.c]\nsteps = [{ cpu = \"100ms\", gil = false }]\n[tasks.l]\nsteps = [{ cpu = \"1s\", gil = false }]\n\
             [job]\ntasks = { l = 1, c = 2 }\n[[experiment]]\nname = \"t\"\nstrategy = \"threads\"\nworkers = 3\n",
        );
        assert!(w[0].starts_with("longest task: one `l` task"), "{w:?}");
    }

    #[test]
    fn kind_stats_cover_every_task() {
        let text = "name = \"t\"\n[machine]\npreset = \"laptop-4c8t\"\n\
                    [tasks.a]\nsteps = [{ io = \"10ms\" }]\n[tasks.b]\nsteps = [{ io = \"20ms\" }]\n\
                    [job]\ntasks = { a = 2, b = 1 }\n[[experiment]]\nname = \"s\"\nstrategy = \"serial\"\n";
        let s = model::load("t.toml", text, None).unwrap();
        let r = simulate(&s, &s.experiments[0], 1, &Limits::default()).unwrap();
        // Each I/O ends with the kernel waking the thread.
        let wake = s.machine.wakeup.as_nanos();
        let ms = |n: u64| SimDuration::from_millis(n);
        let sum = summarize(&s, &s.experiments[0], 1, &r, ms(40) + SimDuration(3 * wake));
        assert_eq!(sum.kinds.len(), 2);
        assert_eq!(sum.kinds[0].tasks, 2);
        assert_eq!(sum.kinds[0].last_end, ms(20) + SimDuration(2 * wake));
        assert_eq!(sum.kinds[1].first_end, ms(40) + SimDuration(3 * wake));
        assert_eq!(sum.speedup, 1.0);
    }
}
