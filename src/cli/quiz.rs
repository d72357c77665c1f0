//! `gilsim quiz [--seed N] [--answer]`: a generated problem to predict, then its answer.

use std::path::PathBuf;

use clap::Args;

use crate::engine::Limits;
use crate::error::Error;
use crate::model;
use crate::report::{self, Results};
use crate::teach::quiz;

/// Options of `gilsim quiz`.
#[derive(Debug, Args)]
pub struct QuizArgs {
    /// Which quiz (default: a new one; its seed is printed so you can come back to it).
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,
    /// Reveal the answer: predicted times, the winner, why, and the timelines.
    #[arg(long)]
    pub answer: bool,
    /// Where the answer's files go (default: output/quiz-<seed>/).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// No notes on stderr.
    #[arg(short, long)]
    pub quiet: bool,
}

pub(super) fn run(args: &QuizArgs) -> Result<(), Error> {
    let seed = args.seed.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.subsec_nanos() as u64 % 10_000)
    });
    let q = quiz::generate(seed);
    let mut out = q.question.clone();
    if !args.answer {
        out.push_str(&format!("\n(Answer: gilsim quiz --seed {seed} --answer)\n"));
    }
    out.push_str("\nThe scenario, to run or change:\n\n");
    out.push_str(&q.scenario);
    if !args.answer {
        return super::print_stdout(&out);
    }
    let scenario = model::load(&format!("quiz-{seed}.toml"), &q.scenario, None)
        .map_err(|e| Error::Run(format!("generated an invalid quiz (a bug): {e}")))?;
    let results = Results {
        runs: super::run::simulate_all(&scenario, &Limits::default(), 1, |_, _| {})?,
        scenario: &scenario,
    };
    let best = results
        .runs
        .iter()
        .min_by_key(|r| r.summary.makespan)
        .expect("a quiz has experiments");
    out.push_str("\nAnswer\n\n");
    out.push_str(&report::table::render(&results));
    out.push_str(&format!(
        "\nFastest: {} — {}, {:.2}× the speed of serial. Each row's \"why\" says what held it back.\n",
        best.summary.experiment, best.summary.makespan, best.summary.speedup
    ));
    if let Some((_, second, gap)) = report::table::near_tie(&results) {
        out.push_str(&format!(
            "{} is only {:.1} % behind: a tie as far as the model can tell, so either answer counts.\n",
            report::table::row_label(&results, second),
            gap * 100.0
        ));
    }
    let dir = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("output").join(format!("quiz-{seed}")));
    let mut written = report::write_run_outputs(&results, &dir, true, true).map_err(Error::Run)?;
    let path = dir.join("scenario.toml");
    report::write_file(&path, q.scenario.as_bytes()).map_err(Error::Run)?;
    written.push("scenario.toml".into());
    super::print_stdout(&out)?;
    if !args.quiet {
        eprintln!("wrote {} in {}", written.join(", "), dir.display());
    }
    Ok(())
}
