//! `gilsim run [SCENARIO]`: predict every experiment and report.

use std::path::PathBuf;

use clap::{Args, ValueEnum};

use crate::engine::{self, Limits};
use crate::error::Error;
use crate::metrics;
use crate::model::{self, Scenario};
use crate::report::{self, Results, RunResult};
use crate::time::{SimDuration, SimTime};

/// What `run`, `sweep`, `latency` and `amdahl` print on stdout.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// An aligned table (`run` and `sweep` end each row with a one-line explanation).
    #[default]
    Table,
    /// The command's CSV file (`summary.csv`, `sweep.csv`, `latency.csv`, `amdahl.csv`).
    Csv,
    /// JSON: the summary with per-kind task statistics (`run`); the CSV file's rows as
    /// objects (the others).
    Json,
}

/// Options of `gilsim run`.
#[derive(Debug, Default, Args)]
pub struct RunArgs {
    /// Scenario file or bundled scenario name (default: the embedded default scenario).
    pub scenario: Option<String>,
    /// Output directory (default: output/<scenario-stem>/).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// What to print on stdout.
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
    /// Override the scenario's RNG seed.
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,
    /// Do not draw charts (timelines, speedup.png).
    #[arg(long)]
    pub no_charts: bool,
    /// Skip tasks.csv, trace.csv, trace.json and the timelines (no trace kept in memory).
    #[arg(long)]
    pub no_trace: bool,
    /// Stop a run after this many events (default 500000000).
    #[arg(long, value_name = "N")]
    pub max_events: Option<u64>,
    /// Stop a run when simulated time passes this (default 30 days), e.g. "10min".
    #[arg(long, value_name = "DURATION", value_parser = parse_duration_arg)]
    pub max_sim_time: Option<SimDuration>,
    /// No warnings or notes on stderr (errors still print).
    #[arg(short, long)]
    pub quiet: bool,
    /// How many threads simulate.
    #[command(flatten)]
    pub jobs: Jobs,
    /// Host profile for `preset = "host"` (default: output/host.toml if it exists).
    #[arg(long, value_name = "PATH")]
    pub host: Option<PathBuf>,
}

fn parse_duration_arg(s: &str) -> Result<SimDuration, String> {
    crate::units::parse_duration(s)
}

/// `--jobs N` of `run` and `sweep`.
#[derive(Debug, Default, Args)]
pub struct Jobs {
    /// Simulate on this many threads (default: all hardware threads); outputs are the same.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub jobs: Option<u16>,
}

impl Jobs {
    /// The threads to use: `--jobs`, or every hardware thread.
    pub fn count(&self) -> usize {
        self.jobs.map_or_else(default_jobs, usize::from)
    }
}

/// The default for `--jobs`: every hardware thread.
pub fn default_jobs() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// `f` over `items` on up to `jobs` threads; the results are in the items' order whatever
/// the number of threads or the order they finish in (so outputs do not depend on `--jobs`).
/// After a failure no further item is started, and the error returned is the one of the
/// first failing item in order — the one a sequential run stops at: items are handed out in
/// order, so every item before a failing one has been started and runs to its end.
pub fn try_par_map<T: Sync, R: Send, E: Send>(
    items: &[T],
    jobs: usize,
    f: impl Fn(&T) -> Result<R, E> + Sync,
) -> Result<Vec<R>, E> {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    let jobs = jobs.clamp(1, items.len().max(1));
    if jobs == 1 {
        return items.iter().map(f).collect();
    }
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let mut slots: Vec<Option<Result<R, E>>> =
        std::iter::repeat_with(|| None).take(items.len()).collect();
    std::thread::scope(|s| {
        let workers: Vec<_> = (0..jobs)
            .map(|_| {
                s.spawn(|| {
                    let mut done = Vec::new();
                    while !failed.load(Ordering::Relaxed) {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(item) = items.get(i) else { break };
                        let r = f(item);
                        if r.is_err() {
                            failed.store(true, Ordering::Relaxed);
                        }
                        done.push((i, r));
                    }
                    done
                })
            })
            .collect();
        for w in workers {
            for (i, r) in w.join().expect("a simulation thread panicked") {
                slots[i] = Some(r);
            }
        }
    });
    // Items never started all come after every started one, so after the first failure.
    slots
        .into_iter()
        .map(|r| r.expect("an item before the first failure did not run"))
        .collect()
}

/// Simulates every experiment (each worker count) on up to `jobs` threads and summarizes
/// against the baseline. `done` is told after each run (for progress bars).
pub fn simulate_all(
    scenario: &Scenario,
    limits: &Limits,
    jobs: usize,
    done: impl Fn(&crate::model::Experiment, u32) + Sync,
) -> Result<Vec<RunResult>, Error> {
    let rows: Vec<(usize, u32)> = scenario
        .experiments
        .iter()
        .enumerate()
        .flat_map(|(i, e)| e.workers.iter().map(move |&w| (i, w)))
        .collect();
    let traces = try_par_map(&rows, jobs, |&(i, workers)| {
        let exp = &scenario.experiments[i];
        let trace = engine::simulate(scenario, exp, workers, limits).map_err(|e| {
            Error::Run(format!(
                "experiment \"{}\" (workers {workers}): {e}",
                exp.name
            ))
        });
        done(exp, workers);
        trace
    })?;
    let runs: Vec<_> = rows
        .iter()
        .zip(traces)
        .map(|(&(i, workers), trace)| (i, workers, trace))
        .collect();
    let baseline = runs
        .iter()
        .find(|(i, _, _)| *i == scenario.baseline)
        .map(|(_, _, t)| t.makespan - SimTime::ZERO)
        .expect("every experiment has at least one row");
    Ok(runs
        .into_iter()
        .map(|(i, workers, trace)| {
            let exp = &scenario.experiments[i];
            let summary = metrics::summarize(scenario, exp, workers, &trace, baseline);
            RunResult {
                experiment: i,
                workers,
                trace,
                summary,
            }
        })
        .collect())
}

/// Everything `gilsim run` does short of touching files: load the text (no host
/// profile), simulate every experiment within `limits`, and render every output in memory
/// (CSVs, JSON, trace, table, chart specifications). Returns the bytes rendered. The fuzz
/// target and the mutation tests drive it: whatever the input, it must return, not panic.
pub fn exercise(label: &str, text: &str, limits: &Limits) -> Result<usize, Error> {
    use crate::report::{chart, csv, json, perfetto, png, table, Results};
    let scenario = crate::model::load(label, text, None)?;
    let runs = simulate_all(&scenario, limits, 1, |_, _| {})?;
    let results = Results {
        scenario: &scenario,
        runs,
    };
    let mut bytes = csv::summary(&results).len()
        + csv::tasks(&results).len()
        + csv::trace(&results).len()
        + json::render(&results).len()
        + perfetto::render(&results).len()
        + table::render(&results).len();
    for run in &results.runs {
        bytes += chart::timeline(&run.summary, &run.trace, png::TIMELINE_COLUMNS)
            .rows
            .len();
    }
    let rows: Vec<_> = results.runs.iter().map(|r| &r.summary).collect();
    let base = &scenario.experiments[scenario.baseline].name;
    bytes += chart::speedup(&scenario.name, base, &rows).bars.len();
    Ok(bytes)
}

pub(super) fn run(args: &RunArgs) -> Result<(), Error> {
    let source = super::load_source(args.scenario.as_deref())?;
    let host = crate::host::resolve(args.host.as_deref())?;
    let mut scenario = model::load(&source.label, &source.text, host.as_ref())?;
    if let Some(seed) = args.seed {
        scenario.seed = seed;
    }
    if !args.quiet {
        for w in &scenario.warnings {
            eprintln!("warning: {w}");
        }
    }
    let defaults = Limits::default();
    let limits = Limits {
        max_events: args.max_events.unwrap_or(defaults.max_events),
        max_sim_time: args
            .max_sim_time
            .map_or(defaults.max_sim_time, |d| SimTime::ZERO + d),
        trace: !args.no_trace,
        ..defaults
    };
    let results = Results {
        runs: simulate_all(&scenario, &limits, args.jobs.count(), |_, _| {})?,
        scenario: &scenario,
    };

    let dir = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("output").join(&source.stem));
    let written = report::write_run_outputs(&results, &dir, !args.no_trace, !args.no_charts)
        .map_err(Error::Run)?;
    if args.no_trace {
        // Files of an earlier traced run would disagree with this summary.
        for stale in ["tasks.csv", "trace.csv", "trace.json"] {
            let _ = std::fs::remove_file(dir.join(stale));
        }
    }

    let stdout = match args.format {
        Format::Table => report::table::render(&results),
        Format::Csv => String::from_utf8(report::csv::summary(&results)).expect("CSV is UTF-8"),
        Format::Json => report::json::render(&results),
    };
    super::print_stdout(&stdout)?;
    if !args.quiet {
        eprintln!("wrote {} in {}", written.join(", "), dir.display());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::try_par_map;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn results_keep_the_items_order_whatever_the_threads() {
        let items: Vec<u32> = (0..50).collect();
        for jobs in [1, 2, 8] {
            let out: Result<Vec<u32>, ()> = try_par_map(&items, jobs, |&x| Ok(x * 2));
            assert_eq!(
                out.unwrap(),
                items.iter().map(|x| x * 2).collect::<Vec<_>>()
            );
        }
    }

    /// After one item fails, no more are started (1,000 items of 2 ms would take 0.5 s on
    /// four threads; the failure is the fourth item), and the error is the first failing
    /// item's, as a sequential run reports it, even when a later item fails too.
    #[test]
    fn the_first_failure_in_order_stops_the_rest() {
        let items: Vec<u32> = (0..1000).collect();
        for jobs in [1, 4] {
            let started = AtomicUsize::new(0);
            let out: Result<Vec<u32>, u32> = try_par_map(&items, jobs, |&x| {
                started.fetch_add(1, Ordering::Relaxed);
                if x == 3 || x == 5 {
                    return Err(x);
                }
                std::thread::sleep(std::time::Duration::from_millis(2));
                Ok(x)
            });
            assert_eq!(out, Err(3), "jobs {jobs}");
            let started = started.load(Ordering::Relaxed);
            assert!(
                started < 500,
                "jobs {jobs}: {started} items started after the failure"
            );
        }
    }
}
