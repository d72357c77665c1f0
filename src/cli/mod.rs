//! The command line: flags (clap) and one small module per subcommand.
//!
//! Every subcommand is glue — load → model → simulate → metrics → report — and returns an
//! [`Error`] whose exit code `main` uses: 2 for bad usage or a bad scenario, 1 for a run
//! that failed. Running `gilsim` with no subcommand is `gilsim run`: the embedded default
//! scenario, so `cargo run --release` shows a result at once.

mod amdahl;
mod calibrate;
mod check;
mod latency;
mod quiz;
pub mod run;
mod scenarios;
mod sweep;
mod validate;

use std::io::Write;
use std::path::Path;

use clap::{Parser, Subcommand};

use crate::bundled;
use crate::error::{Error, ScenarioError};

pub use amdahl::AmdahlArgs;
pub use calibrate::CalibrateArgs;
pub use latency::LatencyArgs;
pub use quiz::QuizArgs;
pub use run::RunArgs;
pub use sweep::SweepArgs;
pub use validate::{NativeRunArgs, NativeWorkerArgs, ValidateArgs};

/// gilsim: what threads, processes and asyncio will do to your Python program, and why.
#[derive(Debug, Parser)]
#[command(name = "gilsim", version, about, long_about = None)]
pub struct Cli {
    /// What to do (default: `run` the embedded default scenario).
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Predict a scenario: summary table on stdout, CSVs under output/<scenario>/.
    Run(RunArgs),
    /// Run a scenario over a grid: worker counts and what-if values of any setting.
    Sweep(SweepArgs),
    /// Run a scenario for real on this host and compare with the prediction.
    Validate(ValidateArgs),
    /// Measure this host and write its profile (output/host.toml).
    Calibrate(CalibrateArgs),
    /// The latency hierarchy at human scale (1 ns = 1 s), textbook and measured here.
    Latency(LatencyArgs),
    /// Amdahl's law, Gustafson's, the USL; Karp–Flatt and fits from measured times.
    Amdahl(AmdahlArgs),
    /// A generated problem to predict; --answer reveals it.
    Quiz(QuizArgs),
    /// Validate scenario files without running them.
    Check {
        /// Scenario files (or bundled scenario names).
        #[arg(required = true)]
        files: Vec<String>,
    },
    /// List the bundled scenarios.
    Scenarios,
    /// One experiment run by the native runtime (started by `validate --runtime native`).
    #[command(hide = true)]
    NativeRun(NativeRunArgs),
    /// A native pool worker process (started by `native-run`).
    #[command(hide = true)]
    NativeWorker(NativeWorkerArgs),
}

/// Runs the parsed command line.
pub fn dispatch(cli: Cli) -> Result<(), Error> {
    match cli.command {
        None => run::run(&RunArgs::default()),
        Some(Command::Run(args)) => run::run(&args),
        Some(Command::Sweep(args)) => sweep::run(&args),
        Some(Command::Validate(args)) => validate::run(&args),
        Some(Command::Calibrate(args)) => calibrate::run(&args),
        Some(Command::Latency(args)) => latency::run(&args),
        Some(Command::Amdahl(args)) => amdahl::run(&args),
        Some(Command::Quiz(args)) => quiz::run(&args),
        Some(Command::Check { files }) => check::run(&files),
        Some(Command::Scenarios) => scenarios::run(),
        Some(Command::NativeRun(args)) => validate::native_run(&args),
        Some(Command::NativeWorker(args)) => validate::native_worker(&args),
    }
}

/// A scenario's text and how to name it.
pub(crate) struct Source {
    /// How errors name the file.
    pub label: String,
    /// Output directory name: the file stem or the bundled name.
    pub stem: String,
    /// The TOML text.
    pub text: String,
}

/// Resolves `SCENARIO`: an existing path, else a bundled name; none means the default.
pub(crate) fn load_source(arg: Option<&str>) -> Result<Source, Error> {
    let Some(arg) = arg else {
        return Ok(bundled_source(bundled::DEFAULT).expect("the default scenario is bundled"));
    };
    let path = Path::new(arg);
    if path.is_file() {
        let bytes = std::fs::read(path).map_err(|e| {
            Error::Scenario(ScenarioError::whole_file(arg, format!("cannot read: {e}")))
        })?;
        let text = String::from_utf8(bytes).map_err(|e| {
            Error::Scenario(ScenarioError::whole_file(
                arg,
                format!(
                    "not UTF-8 text (invalid byte at offset {}); save the file as UTF-8",
                    e.utf8_error().valid_up_to()
                ),
            ))
        })?;
        let stem = path
            .file_stem()
            .map_or("scenario".into(), |s| s.to_string_lossy().into_owned());
        return Ok(Source {
            label: arg.to_string(),
            stem,
            text,
        });
    }
    if let Some(source) = bundled_source(arg) {
        return Ok(source);
    }
    if path.exists() {
        return Err(Error::Usage(format!("{arg} is not a file")));
    }
    Err(Error::Usage(format!(
        "no scenario file or bundled scenario named \"{arg}\" (`gilsim scenarios` lists the \
         bundled ones: {})",
        bundled::SCENARIOS
            .iter()
            .map(|s| s.name)
            .collect::<Vec<_>>()
            .join(", ")
    )))
}

fn bundled_source(name: &str) -> Option<Source> {
    bundled::find(name).map(|s| Source {
        label: format!("scenarios/{}.toml", s.name),
        stem: s.name.to_string(),
        text: s.text.to_string(),
    })
}

/// A progress bar for long work, drawn on stderr only when stdout and stderr are both
/// terminals (DESIGN §1: quiet when the output is piped) and `-q` was not given.
pub(crate) fn progress_bar(total: u64, quiet: bool, unit: &str) -> indicatif::ProgressBar {
    use std::io::IsTerminal;
    let bar = if !quiet && std::io::stdout().is_terminal() && std::io::stderr().is_terminal() {
        indicatif::ProgressBar::with_draw_target(
            Some(total),
            indicatif::ProgressDrawTarget::stderr(),
        )
    } else {
        indicatif::ProgressBar::hidden()
    };
    bar.set_style(
        indicatif::ProgressStyle::with_template(&format!(
            "{{bar:40}} {{pos}}/{{len}} {unit} {{msg}}"
        ))
        .expect("a valid template"),
    );
    bar
}

/// Writes to stdout; a closed pipe (`gilsim run | head`) is not an error.
pub(crate) fn print_stdout(text: &str) -> Result<(), Error> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(Error::Run(format!("cannot write to stdout: {e}")))
        }
        _ => Ok(()),
    }
}

/// The median of measured times: the middle one, or the mean of the two middle ones of an
/// even count (`validate`'s rows and speedups, `amdahl --measured`'s repeated runs).
/// `values` is not empty.
pub(crate) fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}
