//! `gilsim validate SCENARIO --runtime python`: predict on the host profile, run for real,
//! compare (DESIGN §5).

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, ValueEnum};

use crate::engine::Limits;
use crate::error::Error;
use crate::model;
use crate::report::{self, chart, png};
use crate::validate;

/// How the experiments are run for real.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum Runtime {
    /// A generated CPython program, run with python3.
    #[default]
    Python,
}

/// Options of `gilsim validate`.
#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// Scenario file or bundled scenario name.
    pub scenario: String,
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
    let source = super::load_source(Some(&args.scenario))?;
    // Mistakes in the file are reported at their real position first.
    model::load(&source.label, &source.text, None)?;
    let host = crate::host::resolve(args.host.as_deref())?;
    if host.is_none() && !args.quiet {
        eprintln!(
            "warning: no host profile: predictions use default costs; run `gilsim calibrate` first"
        );
    }
    let text = validate::rebase_on_host(&source.text).map_err(Error::Usage)?;
    let scenario = model::load(&source.label, &text, host.as_ref())?;
    let program = validate::python::program(&scenario, &source.label).map_err(Error::Usage)?;
    if let Some(path) = &args.emit_python {
        report::write_file(path, program.as_bytes()).map_err(Error::Run)?;
    }
    if !validate::python_available() {
        return Err(Error::Run(
            "python3 is not on PATH: the python runtime needs it".into(),
        ));
    }
    let dir = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("output").join(&source.stem));
    let script = dir.join("validate.py");
    report::write_file(&script, program.as_bytes()).map_err(Error::Run)?;

    let limits = Limits {
        trace: false,
        ..Limits::default()
    };
    let predicted = super::run::simulate_all(&scenario, &limits, |_, _| {})?;
    let rows: Vec<(String, u32, f64)> = predicted
        .iter()
        .map(|r| {
            (
                r.summary.experiment.clone(),
                r.workers,
                r.summary.makespan.as_secs_f64(),
            )
        })
        .collect();

    let total = rows.len() as u64 * args.repeat as u64;
    let bar = super::progress_bar(total, args.quiet, "runs");
    let mut measured: Vec<Vec<f64>> = vec![Vec::new(); rows.len()];
    for _ in 0..args.repeat {
        for (i, (name, workers, prediction)) in rows.iter().enumerate() {
            bar.set_message(format!("{name} ×{workers}"));
            let timeout = Duration::from_secs_f64((prediction * 5.0 + 30.0).min(3600.0));
            let seconds =
                validate::run_once(&script, name, *workers, timeout).map_err(Error::Run)?;
            measured[i].push(seconds);
            bar.inc(1);
        }
    }
    bar.finish_and_clear();

    // (experiment, workers, predicted, median, min, max, error %)
    let stats: Vec<(String, u32, f64, f64, f64, f64, f64)> = rows
        .iter()
        .zip(&mut measured)
        .map(|((name, w, p), runs)| {
            runs.sort_by(f64::total_cmp);
            let median = if runs.len() % 2 == 1 {
                runs[runs.len() / 2]
            } else {
                (runs[runs.len() / 2 - 1] + runs[runs.len() / 2]) / 2.0
            };
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
    ])
    .expect("in-memory CSV");
    for s in &stats {
        w.write_record([
            s.0.clone(),
            s.1.to_string(),
            format!("{:.6}", s.2),
            format!("{:.6}", s.3),
            format!("{:.6}", s.4),
            format!("{:.6}", s.5),
            format!("{:.2}", s.6),
        ])
        .expect("in-memory CSV");
    }
    let path = dir.join("validation.csv");
    report::write_file(&path, &w.into_inner().expect("in-memory CSV")).map_err(Error::Run)?;
    let mut written = vec!["validate.py", "validation.csv"];
    if !args.no_charts {
        let spec = chart::Validation {
            title: format!("{} — predicted vs measured on this host", scenario.name),
            rows: stats
                .iter()
                .map(|s| (format!("{} ×{}", s.0, s.1), s.2, s.3, s.4, s.5))
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
    let mut errors: Vec<f64> = stats.iter().map(|s| s.6.abs()).collect();
    errors.sort_by(f64::total_cmp);
    out.push_str(&format!(
        "\nmedian absolute error {:.1}%, largest {:.1}%, {} runs each (python3, this host)\n",
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
