//! `gilsim validate [SCENARIO] --runtime python|native`: predict on the host profile, run for
//! real, compare (DESIGN §5; without a scenario, the embedded default one, as for `run`).
//! Also the hidden `native-run` and `native-worker` commands the native runtime re-executes
//! this binary as.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use clap::{Args, ValueEnum};

use crate::engine::Limits;
use crate::error::Error;
use crate::model::{self, Channel, Strategy};
use crate::report::{self, chart, png, RunResult};
use crate::time::SimDuration;
use crate::validate::{self, WAKEUP_NUDGE};

/// How the experiments are run for real.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum Runtime {
    /// A generated CPython program, run with python3.
    #[default]
    Python,
    /// Rust threads and worker processes with a real GIL lock (no Python needed).
    Native,
}

/// Options of `gilsim validate`.
#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// Scenario file or bundled scenario name (default: the embedded default scenario, as
    /// for `run`).
    pub scenario: Option<String>,
    /// How to run the experiments.
    #[arg(long, value_enum, default_value_t)]
    pub runtime: Runtime,
    /// Runs per experiment (the median is compared).
    #[arg(long, default_value_t = 3, value_name = "N")]
    pub repeat: u32,
    /// Exit with code 1 when any prediction is further off than this many percent.
    #[arg(long, value_name = "PCT")]
    pub max_error: Option<f64>,
    /// Also write the generated Python program here.
    #[arg(long, value_name = "FILE")]
    pub emit_python: Option<PathBuf>,
    /// Output directory (default: output/<scenario-stem>/).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Host profile (default: output/host.toml if it exists).
    #[arg(long, value_name = "PATH")]
    pub host: Option<PathBuf>,
    /// Do not draw validation.png.
    #[arg(long)]
    pub no_charts: bool,
    /// No progress or notes on stderr.
    #[arg(short, long)]
    pub quiet: bool,
}

pub(super) fn run(args: &ValidateArgs) -> Result<(), Error> {
    if args.repeat == 0 || args.repeat > 100 {
        return Err(Error::Usage("--repeat must be between 1 and 100".into()));
    }
    if let Some(p) = args.max_error {
        if !(p.is_finite() && p >= 0.0) {
            return Err(Error::Usage("--max-error must be a percentage ≥ 0".into()));
        }
    }
    crate::child::catch_interrupts();
    let source = super::load_source(args.scenario.as_deref())?;
    // Mistakes in the file are reported at their real position first.
    model::load(&source.label, &source.text, None)?;
    let host = crate::host::resolve(args.host.as_deref())?;
    if host.is_none() && !args.quiet {
        eprintln!(
            "warning: no host profile: predictions use default costs; run `gilsim calibrate` first"
        );
    }
    let text = validate::rebase_on_host(&source.text).map_err(Error::Usage)?;
    let mut scenario = model::load(&source.label, &text, host.as_ref())?;
    // The Python program, generated once, when it is run or asked for.
    let program = (args.runtime == Runtime::Python || args.emit_python.is_some())
        .then(|| validate::python::program(&scenario, &source.label))
        .transpose()
        .map_err(Error::Usage)?;
    if let (Some(path), Some(program)) = (&args.emit_python, &program) {
        report::write_file(path, program.as_bytes()).map_err(Error::Run)?;
    }
    let dir = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("output").join(&source.stem));
    let (runner, script_name, footer) = match args.runtime {
        Runtime::Python => {
            let program = program.expect("generated for the python runtime");
            if !validate::python_available() {
                return Err(Error::Run(
                    "python3 is not on PATH: the python runtime needs it (or use --runtime native)"
                        .into(),
                ));
            }
            let script = dir.join("validate.py");
            report::write_file(&script, program.as_bytes()).map_err(Error::Run)?;
            let mut cmd = Command::new("python3");
            cmd.arg(&script);
            (cmd, "validate.py", "python3".to_string())
        }
        Runtime::Native => {
            let exe = std::env::current_exe()
                .map_err(|e| Error::Run(format!("cannot find the gilsim binary: {e}")))?;
            let bar = super::progress_bar(1, args.quiet, "measuring the native runtime's costs");
            let costs = validate::native::measure_costs(&exe).map_err(Error::Run)?;
            bar.finish_and_clear();
            if crate::child::interrupted() {
                return Err(Error::Interrupted);
            }
            let footer = native_costs(&mut scenario.python, &costs);
            // The profile's process_switch is a CPython loop's cache refills; the native
            // runtime's spin loop keeps its few bytes in L1. Not measured for it: none.
            scenario.machine.process_switch = SimDuration::ZERO;
            let data = serde_json::json!({
                "switch_interval": scenario.python.switch_interval.as_secs_f64(),
                "gil": scenario.python.gil,
                "experiments": validate::python::plan(&scenario).map_err(Error::Usage)?,
            });
            let path = dir.join("native.json");
            report::write_file(&path, data.to_string().as_bytes()).map_err(Error::Run)?;
            let mut cmd = Command::new(exe);
            cmd.arg("native-run").arg("--data").arg(&path);
            (cmd, "native.json", footer)
        }
    };

    let limits = Limits {
        trace: false,
        ..Limits::default()
    };
    // As `gilsim run` predicts the real program: transfers share their disks and links.
    let predicted =
        super::run::simulate_all(&scenario, &limits, super::run::default_jobs(), |_, _| {})?;
    // As the runtimes run it, which is what the measurements are compared with: they sleep
    // emulated transfers alone (`as_run`).
    let as_run = makespans_as_run(&scenario, &limits, &predicted)?;
    let rows: Vec<(String, u32, f64)> = predicted
        .iter()
        .zip(&as_run)
        .map(|(r, &t)| (r.summary.experiment.clone(), r.workers, t))
        .collect();
    // Where sharing a device changed the prediction, say what `gilsim run` predicts and
    // that this part is not measured.
    let shared: Vec<String> = predicted
        .iter()
        .zip(&as_run)
        .filter_map(|(r, &alone)| {
            let shared = r.summary.makespan.as_secs_f64();
            if (shared - alone).abs() <= SHARING_SHOWN * alone {
                return None;
            }
            let emulated = emulated(&scenario, scenario.experiments[r.experiment].strategy);
            let c = r
                .trace
                .channels
                .iter()
                .filter(|c| c.most >= 2 && emulated[c.channel.index()])
                .max_by_key(|c| c.most)?;
            Some(format!(
                "{} ×{}: {} with up to {} transfers sharing {} (as `gilsim run` predicts it)",
                r.summary.experiment,
                r.workers,
                SimDuration::from_secs_f64(shared),
                c.most,
                c.channel.describe()
            ))
        })
        .collect();
    let ranges = wakeup_ranges(&scenario, &limits, &rows)?;

    let total = rows.len() as u64 * args.repeat as u64;
    let bar = super::progress_bar(total, args.quiet, "runs");
    let mut measured: Vec<Vec<f64>> = vec![Vec::new(); rows.len()];
    for _ in 0..args.repeat {
        for (i, (name, workers, prediction)) in rows.iter().enumerate() {
            bar.set_message(format!("{name} ×{workers}"));
            let timeout = Duration::from_secs_f64((prediction * 5.0 + 30.0).min(3600.0));
            let mut cmd = Command::new(runner.get_program());
            cmd.args(runner.get_args());
            let seconds = validate::run_once(cmd, name, *workers, timeout)?;
            measured[i].push(seconds);
            bar.inc(1);
        }
    }
    bar.finish_and_clear();
    let drift = speed_drift(&scenario, &rows, &measured);

    // (experiment, workers, predicted, median, min, max, error %)
    let stats: Vec<(String, u32, f64, f64, f64, f64, f64)> = rows
        .iter()
        .zip(&mut measured)
        .map(|((name, w, p), runs)| {
            runs.sort_by(f64::total_cmp);
            let median = super::median(runs);
            let err = (p - median) / median * 100.0;
            (
                name.clone(),
                *w,
                *p,
                median,
                runs[0],
                runs[runs.len() - 1],
                err,
            )
        })
        .collect();

    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record([
        "experiment",
        "workers",
        "predicted_s",
        "measured_median_s",
        "measured_min_s",
        "measured_max_s",
        "error_pct",
        "predicted_low_s",
        "predicted_high_s",
        "shared_predicted_s",
    ])
    .expect("in-memory CSV");
    for ((s, (low, high)), r) in stats.iter().zip(&ranges).zip(&predicted) {
        w.write_record([
            s.0.clone(),
            s.1.to_string(),
            format!("{:.6}", s.2),
            format!("{:.6}", s.3),
            format!("{:.6}", s.4),
            format!("{:.6}", s.5),
            format!("{:.2}", s.6),
            format!("{low:.6}"),
            format!("{high:.6}"),
            format!("{:.6}", r.summary.makespan.as_secs_f64()),
        ])
        .expect("in-memory CSV");
    }
    let path = dir.join("validation.csv");
    report::write_file(&path, &w.into_inner().expect("in-memory CSV")).map_err(Error::Run)?;
    let mut written = vec![script_name, "validation.csv"];
    if !args.no_charts {
        let spec = chart::Validation {
            title: format!(
                "{} — predicted vs measured on this host ({})",
                scenario.name,
                match args.runtime {
                    Runtime::Python => "python3",
                    Runtime::Native => "native runtime",
                }
            ),
            rows: stats
                .iter()
                .zip(&ranges)
                .map(|(s, range)| chart::ValidationRow {
                    label: format!("{} ×{}", s.0, s.1),
                    predicted: s.2,
                    predicted_range: *range,
                    median: s.3,
                    min: s.4,
                    max: s.5,
                })
                .collect(),
        };
        let path = dir.join("validation.png");
        report::draw_file(&path, |tmp| png::draw_validation(&spec, tmp)).map_err(Error::Run)?;
        written.push("validation.png");
    }

    let header: Vec<String> = [
        "experiment",
        "workers",
        "predicted",
        "measured (min–max)",
        "error",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let fmt = |x: f64| crate::time::SimDuration::from_secs_f64(x).to_string();
    let table: Vec<Vec<String>> = stats
        .iter()
        .map(|s| {
            vec![
                s.0.clone(),
                s.1.to_string(),
                fmt(s.2),
                format!("{} ({}–{})", fmt(s.3), fmt(s.4), fmt(s.5)),
                format!("{:+.1}%", s.6),
            ]
        })
        .collect();
    let mut out = report::table::aligned(&header, &table, &[1, 2, 4]);
    for ((name, workers, p), (low, high)) in rows.iter().zip(&ranges) {
        if high - low > KNIFE_EDGE * p {
            out.push_str(&format!(
                "\n{name} ×{workers}: a knife-edge prediction, {} to {} with wake-ups {:.0} % \
                 faster or slower —\n  one trajectory of several the timing allows (a lock \
                 convoy that forms or not, a race decided\n  by µs): compare it with the \
                 measured range, not only the median\n",
                fmt(*low),
                fmt(*high),
                WAKEUP_NUDGE * 100.0
            ));
        }
    }
    if !shared.is_empty() {
        out.push_str(&format!(
            "\n{}\n  the validation sleeps those transfers for their time alone on their disk or link \
             (only\n  writes to the ssd are real), so the predicted column above is for that; how \
             transfers\n  share a device is not measured here (docs/decisions.md, \"Shared disks \
             and links\")\n",
            shared.join("\n")
        ));
    }
    if let Some(note) = drift {
        out.push_str(&note);
    }
    let mut errors: Vec<f64> = stats.iter().map(|s| s.6.abs()).collect();
    errors.sort_by(f64::total_cmp);
    out.push_str(&format!(
        "\nmedian absolute error {:.1}%, largest {:.1}%, {} runs each ({footer}, this host)\n",
        errors[errors.len() / 2],
        errors[errors.len() - 1],
        args.repeat
    ));
    super::print_stdout(&out)?;
    if !args.quiet {
        eprintln!("wrote {} in {}", written.join(", "), dir.display());
    }
    if let Some(limit) = args.max_error {
        if let Some(worst) = stats.iter().find(|s| s.6.abs() > limit) {
            return Err(Error::Run(format!(
                "\"{}\" ×{} is {:+.1}% off, more than --max-error {limit}%",
                worst.0, worst.1, worst.6
            )));
        }
    }
    Ok(())
}

/// A prediction whose range under the nudge is wider than this share of it is flagged: the
/// model's error against real runs is ~5 % (docs/fidelity.md), so a spread of twice that is
/// the model's own uncertainty, not noise.
const KNIFE_EDGE: f64 = 0.10;

/// Each row's prediction range over the wake-up (`wakeup` and `wakeup_cpu` together)
/// scaled by 1 ± [`WAKEUP_NUDGE`]: the model is deterministic, but some trajectories hinge
/// on µs — the executor's idle-semaphore convoy forms or not with a µs more or less of
/// `wakeup_cpu` (docs/fidelity.md, "A bistable convoy") — and a single prediction does not
/// show it. Two more simulations of the scenario, cheap beside the real runs.
fn wakeup_ranges(
    scenario: &model::Scenario,
    limits: &Limits,
    rows: &[(String, u32, f64)],
) -> Result<Vec<(f64, f64)>, Error> {
    let mut ranges: Vec<(f64, f64)> = rows.iter().map(|r| (r.2, r.2)).collect();
    for factor in [1.0 - WAKEUP_NUDGE, 1.0 + WAKEUP_NUDGE] {
        let mut nudged = scenario.clone();
        let scale = |d: SimDuration| SimDuration((d.0 as f64 * factor).round() as u64);
        nudged.machine.wakeup = scale(nudged.machine.wakeup);
        nudged.machine.wakeup_cpu = scale(nudged.machine.wakeup_cpu).min(nudged.machine.wakeup);
        let model =
            super::run::simulate_all(&nudged, limits, super::run::default_jobs(), |_, _| {})?;
        for (range, t) in ranges
            .iter_mut()
            .zip(makespans_as_run(&nudged, limits, &model)?)
        {
            *range = (range.0.min(t), range.1.max(t));
        }
    }
    Ok(ranges)
}

/// A serial run further off its prediction than this share says the host ran at another
/// speed than the program measured (docs/decisions.md, "Speed drift in validate").
const SPEED_DRIFT: f64 = 0.08;

/// When the scenario's first serial run missed its prediction by more than
/// [`SPEED_DRIFT`]: a note that the host runs at another speed than when it was calibrated,
/// which every row carries, and each row's speedup over that serial run measured within
/// each round of runs (they are interleaved), which cancels it. `measured[i]` are row
/// `i`'s times in round order.
fn speed_drift(
    scenario: &model::Scenario,
    rows: &[(String, u32, f64)],
    measured: &[Vec<f64>],
) -> Option<String> {
    let serial = rows.iter().position(|(name, _, _)| {
        scenario
            .experiments
            .iter()
            .any(|e| &e.name == name && e.strategy == Strategy::Serial)
    })?;
    let predicted = rows[serial].2;
    let took = super::median(&measured[serial]);
    // The table's error, (predicted − measured) / measured.
    let error = (predicted - took) / took;
    if error.abs() <= SPEED_DRIFT || rows.len() < 2 {
        return None;
    }
    let (pace, by) = if took > predicted {
        ("slower", took / predicted - 1.0)
    } else {
        ("faster", predicted / took - 1.0)
    };
    let mut note = format!(
        "\n{} is {:+.1} % off: its work is its steps' durations at the speed the program \
         measured as it\n  started, so the host ran them {:.0} % {pace} than that (a VM's \
         other tenants, frequency scaling),\n  and every row carries it. Speedups over {}, \
         taken within each round of runs, cancel it:\n",
        rows[serial].0,
        error * 100.0,
        by * 100.0,
        rows[serial].0,
    );
    for (i, (name, workers, p)) in rows.iter().enumerate() {
        if i == serial {
            continue;
        }
        let per_round: Vec<f64> = measured[serial]
            .iter()
            .zip(&measured[i])
            .map(|(s, t)| s / t)
            .collect();
        let (lo, hi) = per_round
            .iter()
            .fold((f64::MAX, 0.0f64), |(lo, hi), &x| (lo.min(x), hi.max(x)));
        note.push_str(&format!(
            "  {name} ×{workers}: predicted {:.2}×, measured {:.2}× ({lo:.2}–{hi:.2}×)\n",
            predicted / p,
            super::median(&per_round),
        ));
    }
    Some(note)
}

/// A prediction that sharing a device moves by more than this share is noted (below it,
/// the sharing is lost in the measurements' noise).
const SHARING_SHOWN: f64 = 0.005;

/// Which devices' transfers the runtimes emulate for an experiment of `strategy`, by
/// [`Channel::index`]: both write a `disk` write to the `ssd` for real — from a thread or a
/// process, when every `ssd` transfer of the scenario is a write — and sleep every other
/// transfer (a read, a network transfer, an awaited write in a coroutine) for its time
/// alone on its device.
fn emulated(scenario: &model::Scenario, strategy: Strategy) -> [bool; Channel::ALL.len()] {
    let only_disk_writes = all_programs(scenario)
        .flat_map(|p| &p.transfers)
        .filter(|x| x.channel == Channel::Ssd)
        .all(|x| x.write);
    let disk_is_real = strategy != Strategy::Asyncio && only_disk_writes;
    Channel::ALL.map(|c| !(c == Channel::Ssd && disk_is_real))
}

/// The scenario as the runtimes run an experiment of `strategy`: every device whose
/// transfers they emulate serves each transfer at its full bandwidth, however many there are
/// at once (sharing `[1, 2, 3, …]`), so that a sleep alone is what is predicted. `None` when
/// no transfer of the scenario is emulated: the scenario itself is what they run.
fn as_run(scenario: &model::Scenario, strategy: Strategy) -> Option<model::Scenario> {
    let emulated = emulated(scenario, strategy);
    if !all_programs(scenario)
        .flat_map(|p| &p.transfers)
        .any(|x| emulated[x.channel.index()])
    {
        return None;
    }
    // No more transfers are ever in progress at once than tasks, plus the main thread's.
    let most = scenario
        .experiments
        .iter()
        .map(|e| e.job.task_count())
        .max()
        .unwrap_or(0)
        .saturating_add(1)
        .min(1 << 16);
    let mut run = scenario.clone();
    for (c, emulated) in Channel::ALL.iter().zip(emulated) {
        if emulated {
            run.machine.sharing[c.index()] = (1..=most).map(|n| n as f64).collect();
        }
    }
    Some(run)
}

/// Each row's predicted makespan in seconds as the runtimes run it ([`as_run`]), given
/// `model`, the scenario's own results ([`super::run::simulate_all`]): those rows whose
/// experiments' transfers the runtimes emulate are simulated again, the asyncio ones and the
/// others each on their own scenario; the rest keep the model's makespan.
fn makespans_as_run(
    scenario: &model::Scenario,
    limits: &Limits,
    model: &[RunResult],
) -> Result<Vec<f64>, Error> {
    let seconds = |r: &RunResult| r.summary.makespan.as_secs_f64();
    let asyncio = |r: &RunResult| scenario.experiments[r.experiment].strategy == Strategy::Asyncio;
    let mut times: Vec<f64> = model.iter().map(seconds).collect();
    for strategy in [Strategy::Threads, Strategy::Asyncio] {
        let ours = |r: &RunResult| asyncio(r) == (strategy == Strategy::Asyncio);
        if !model.iter().any(ours) {
            continue;
        }
        let Some(run) = as_run(scenario, strategy) else {
            continue;
        };
        let results =
            super::run::simulate_all(&run, limits, super::run::default_jobs(), |_, _| {})?;
        for (t, r) in times.iter_mut().zip(&results) {
            if ours(r) {
                *t = seconds(r);
            }
        }
    }
    Ok(times)
}

/// Puts the native runtime's measured costs where the model has CPython's, and says what
/// they are (for the table's footer).
fn native_costs(python: &mut model::Python, c: &validate::native::Costs) -> String {
    let d = |x: Duration| SimDuration::from_secs_f64(x.as_secs_f64());
    python.thread_start = d(c.thread_start);
    python.dispatch.threads = d(c.dispatch_threads);
    python.dispatch.processes = d(c.dispatch_processes);
    python.dispatch.asyncio = d(c.dispatch_asyncio);
    // Its workers' per-chunk cost is inside the measured round trip.
    python.pool_worker = SimDuration::ZERO;
    // The native thread pool has no idle semaphore (its queue is a Mutex + Condvar).
    python.executor_lock.submit = SimDuration::ZERO;
    python.executor_lock.done = SimDuration::ZERO;
    python.process_start.fork = d(c.process_start);
    python.process_start.forkserver = d(c.process_start);
    python.process_start.spawn = d(c.process_start);
    // Measured whole (one child's start and first echo, wall time): no parent's share, exit
    // or Pool setup split out of it.
    python.process_start_parent = model::python::StartCosts::all(SimDuration::ZERO);
    python.process_exit = model::python::StartCosts::all(SimDuration::ZERO);
    python.pool_setup = model::python::StartCosts::all(SimDuration::ZERO);
    // Its worker processes are re-executed gilsim binaries: no tracker, no server.
    python.helper_start.resource_tracker = SimDuration::ZERO;
    python.helper_start.forkserver = SimDuration::ZERO;
    python.pickle = c.pickle;
    python.ipc = c.ipc;
    // Its own pipes' share of copying, not the host profile's CPython one.
    python.ipc_cpu = c.ipc_cpu;
    python.ipc_latency = d(c.ipc_latency);
    let pipe_cpu = c.ipc_cpu.map_or(String::new(), |r| {
        format!(" ({:.0} MB/s per CPU-second of an end)", r / 1e6)
    });
    format!(
        "native runtime: thread start {}, process start {}, per chunk {}, pipe {} + {:.0} MB/s{pipe_cpu}, copy {:.0} MB/s",
        d(c.thread_start),
        d(c.process_start),
        d(c.dispatch_processes),
        d(c.ipc_latency),
        c.ipc / 1e6,
        c.pickle / 1e6,
    )
}

/// Options of the hidden `gilsim native-run`: one experiment, run natively.
#[derive(Debug, Args)]
pub struct NativeRunArgs {
    /// The data file `validate --runtime native` wrote.
    #[arg(long)]
    pub data: PathBuf,
    /// Experiment name.
    #[arg(long)]
    pub experiment: String,
    /// Worker count.
    #[arg(long, default_value_t = 1)]
    pub workers: u32,
}

pub(super) fn native_run(args: &NativeRunArgs) -> Result<(), Error> {
    let text = std::fs::read_to_string(&args.data)
        .map_err(|e| Error::Usage(format!("cannot read {}: {e}", args.data.display())))?;
    let data: validate::native::Data = serde_json::from_str(&text)
        .map_err(|e| Error::Usage(format!("{}: {e}", args.data.display())))?;
    let exe = std::env::current_exe()
        .map_err(|e| Error::Run(format!("cannot find the gilsim binary: {e}")))?;
    if let Some(dir) = args.data.parent().filter(|d| !d.as_os_str().is_empty()) {
        validate::native::set_disk_dir(dir);
    }
    let took = validate::native::run_experiment(&data, &args.experiment, args.workers, &exe)
        .map_err(Error::Run)?;
    let line = serde_json::json!({
        "experiment": args.experiment,
        "workers": args.workers,
        "seconds": took.as_secs_f64(),
    });
    super::print_stdout(&format!("{line}\n"))
}

/// Every program of a scenario: its task kinds', and each experiment's setup and teardown.
fn all_programs(scenario: &model::Scenario) -> impl Iterator<Item = &model::Program> {
    let kinds = scenario.kinds.iter().map(|k| &k.program);
    let jobs = scenario
        .experiments
        .iter()
        .flat_map(|e| [&e.job.setup, &e.job.teardown]);
    kinds.chain(jobs)
}

/// Options of the hidden `gilsim native-worker`: a pool worker process.
#[derive(Debug, Args)]
pub struct NativeWorkerArgs {
    /// Loop iterations per second (the parent's calibration).
    #[arg(long)]
    pub spin_rate: f64,
    /// Lock file guarding the task pipe.
    #[arg(long)]
    pub read_lock: PathBuf,
    /// Lock file guarding the result pipe.
    #[arg(long)]
    pub write_lock: PathBuf,
}

pub(super) fn native_worker(args: &NativeWorkerArgs) -> Result<(), Error> {
    validate::native::worker_main(args.spin_rate, &args.read_lock, &args.write_lock)
        .map_err(Error::Run)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ranges_of(toml: &str) -> Vec<(f64, f64, f64)> {
        let scenario = model::load("t.toml", toml, None).unwrap();
        let limits = Limits {
            trace: false,
            ..Limits::default()
        };
        let rows: Vec<(String, u32, f64)> =
            super::super::run::simulate_all(&scenario, &limits, 1, |_, _| {})
                .unwrap()
                .iter()
                .map(|r| (String::new(), r.workers, r.summary.makespan.as_secs_f64()))
                .collect();
        wakeup_ranges(&scenario, &limits, &rows)
            .unwrap()
            .into_iter()
            .zip(&rows)
            .map(|((low, high), r)| (low, r.2, high))
            .collect()
    }

    const TRANSFERS: &str = "name = \"x\"\n[machine]\npreset = \"laptop-4c8t\"\n\
        [tasks.save]\nsteps = [{ disk = \"8MiB\", op = \"write\" }]\n\
        [tasks.fetch]\nsteps = [{ net = \"lan\", bytes = \"10MB\" }]\n\
        [job]\ntasks = { save = 4, fetch = 2 }\n\
        [[experiment]]\nname = \"threads\"\nstrategy = \"threads\"\nworkers = 4\n\
        [[experiment]]\nname = \"asyncio\"\nstrategy = \"asyncio\"\n";

    fn makespans(toml: &str) -> Vec<f64> {
        let scenario = model::load("t.toml", toml, None).unwrap();
        let limits = Limits::default();
        super::super::run::simulate_all(&scenario, &limits, 1, |_, _| {})
            .unwrap()
            .iter()
            .map(|r| r.summary.makespan.as_secs_f64())
            .collect()
    }

    fn as_run_of(toml: &str) -> Vec<f64> {
        let scenario = model::load("t.toml", toml, None).unwrap();
        let limits = Limits::default();
        let model = super::super::run::simulate_all(&scenario, &limits, 1, |_, _| {}).unwrap();
        makespans_as_run(&scenario, &limits, &model).unwrap()
    }

    #[test]
    fn a_serial_run_off_its_prediction_brings_the_speedups_measured_round_by_round() {
        let scenario = model::load(
            "t.toml",
            "name = \"x\"\n[tasks.c]\nsteps = [{ cpu = \"1s\" }]\n[job]\ntasks = { c = 2 }\n\
             [[experiment]]\nname = \"threads\"\nstrategy = \"threads\"\nworkers = 2\n\
             [[experiment]]\nname = \"serial\"\nstrategy = \"serial\"\n",
            None,
        )
        .unwrap();
        let rows = [
            ("threads".to_string(), 2, 0.5),
            ("serial".to_string(), 1, 1.0),
        ];
        // Serial 20 % slow (median 1.2 s); per round the threads were 1.5, 2.0 and 2.0
        // times faster than it.
        let slow = [vec![0.8, 0.55, 0.65], vec![1.2, 1.1, 1.3]];
        let note = speed_drift(&scenario, &rows, &slow).unwrap();
        assert!(
            note.contains("serial is -16.7 % off") && note.contains("ran them 20 % slower"),
            "{note}"
        );
        assert!(
            note.contains("threads ×2: predicted 2.00×, measured 2.00× (1.50–2.00×)"),
            "{note}"
        );
        // Within the threshold, or without a serial run: nothing to say.
        let close = [vec![0.8, 0.55, 0.65], vec![1.05, 1.0, 1.07]];
        assert!(speed_drift(&scenario, &rows, &close).is_none());
        assert!(speed_drift(&scenario, &rows[..1], &slow[..1]).is_none());
    }

    #[test]
    fn measurements_are_compared_with_emulated_transfers_each_alone_on_their_device() {
        let as_run = as_run_of(TRANSFERS);
        // Written out: the threads' disk writes are real and share the disk as in the
        // model; their downloads and every transfer of the coroutines are sleeps alone.
        let with = |sharing: &str| {
            let text = TRANSFERS.replace("[tasks.save]", &format!("{sharing}\n[tasks.save]"));
            makespans(&text)
        };
        let threads = with("[machine.sharing]\nlan = [1, 2, 3]");
        let asyncio = with("[machine.sharing]\nlan = [1, 2, 3]\nssd = [1, 2, 3, 4, 5]");
        assert_eq!(as_run, [threads[0], asyncio[1]]);
        // And that is not what `gilsim run` predicts: there the transfers share.
        let shared = makespans(TRANSFERS);
        assert!(shared[0] > as_run[0] * 1.05, "{shared:?} {as_run:?}");
        assert!(shared[1] > as_run[1] * 1.05, "{shared:?} {as_run:?}");
        // Without emulated transfers at once, nothing changes.
        let alone = TRANSFERS.replace("fetch = 2", "fetch = 1");
        assert_eq!(as_run_of(&alone)[0], makespans(&alone)[0]);
    }

    #[test]
    fn the_prediction_range_follows_the_wake_ups_and_only_them() {
        // Serial CPU work: no wake-up anywhere, nothing to move.
        let serial = ranges_of(
            "name = \"s\"\n[tasks.t]\nsteps = [{ cpu = \"10ms\" }]\n[job]\ntasks = { t = 4 }\n\
             [[experiment]]\nname = \"serial\"\nstrategy = \"serial\"\n",
        );
        assert_eq!(serial, vec![(0.04, 0.04, 0.04)]);
        // One thread of a thousand short I/O waits: each ends with a kernel wake-up
        // (`wakeup`, 20 µs on the laptop preset), so ±10 % moves it by ~±2 ms.
        let io = ranges_of(
            "name = \"s\"\n[tasks.t]\nsteps = [{ repeat = 1000, steps = [{ io = \"100us\" }] }]\n\
             [job]\ntasks = { t = 1 }\n\
             [[experiment]]\nname = \"threads\"\nstrategy = \"threads\"\nworkers = 1\n",
        );
        let (low, p, high) = io[0];
        assert!(low < p && p < high, "{io:?}");
        let wakeups = 1000.0 * 20e-6;
        assert!(
            ((p - low) - 0.1 * wakeups).abs() < 0.2 * 0.1 * wakeups,
            "{io:?}"
        );
        assert!(
            ((high - p) - 0.1 * wakeups).abs() < 0.2 * 0.1 * wakeups,
            "{io:?}"
        );
    }
}
