//! `gilsim run [SCENARIO]`: predict every experiment and report.

use std::path::PathBuf;

use clap::{Args, ValueEnum};

use crate::engine::{self, Limits};
use crate::error::Error;
use crate::metrics;
use crate::model::{self, Scenario};
use crate::report::{self, Results, RunResult};
use crate::time::{SimDuration, SimTime};

/// What `run` prints on stdout.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// An aligned table with a one-line explanation per row.
    #[default]
    Table,
    /// `summary.csv`.
    Csv,
    /// The summary as JSON, with per-kind task statistics.
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
    /// Host profile for `preset = "host"` (default: output/host.toml if it exists).
    #[arg(long, value_name = "PATH")]
    pub host: Option<PathBuf>,
}

fn parse_duration_arg(s: &str) -> Result<SimDuration, String> {
    crate::units::parse_duration(s)
}

/// Simulates every experiment (each sweep value) and summarizes against the baseline.
/// `done` is told after each run (for progress bars).
pub fn simulate_all(
    scenario: &Scenario,
    limits: &Limits,
    mut done: impl FnMut(&crate::model::Experiment, u32),
) -> Result<Vec<RunResult>, Error> {
    let mut traces = Vec::new();
    for (i, exp) in scenario.experiments.iter().enumerate() {
        for &workers in &exp.workers {
            let trace = engine::simulate(scenario, exp, workers, limits).map_err(|e| {
                Error::Run(format!(
                    "experiment \"{}\" (workers {workers}): {e}",
                    exp.name
                ))
            })?;
            done(exp, workers);
            traces.push((i, workers, trace));
        }
    }
    let baseline = traces
        .iter()
        .find(|(i, _, _)| *i == scenario.baseline)
        .map(|(_, _, t)| t.makespan - SimTime::ZERO)
        .expect("every experiment has at least one row");
    Ok(traces
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
    };
    let results = Results {
        runs: simulate_all(&scenario, &limits, |_, _| {})?,
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
