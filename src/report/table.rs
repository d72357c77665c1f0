//! The terminal table of `gilsim run`: one row per experiment and worker count.
//!
//! When an experiment runs more than one kind of task, a `done` column says when the last
//! task of each kind finished: the makespan hides that, e.g., threads finish the downloads
//! long before the crunching, or that an echo loop beside a CPU-bound thread is 40× slower.
//!
//! When the two fastest rows are less than [`NEAR_TIE`] apart, a line under the table says
//! so: the model cannot tell them apart, and a user about to choose a strategy should
//! measure both.

use super::{Results, RunResult};

/// Two predictions closer than this (relative to the faster) are a tie as far as the model
/// can tell. Its median absolute error on the fidelity suite was 2.4–4.9 % in nine runs
/// on the development VM (docs/fidelity.md), and the gap between two predictions carries
/// the error of both: the near ties there (threads against processes of GIL-free work,
/// 0.6–4.5 % apart; a Pool moving 8 MB arguments against serial, 0.3 %) were called the
/// wrong way in some runs and the right way in others.
pub const NEAR_TIE: f64 = 0.05;

/// Whether a table of these rows has the `done` column: some row's job has more than one
/// kind of task (`run`'s and `sweep`'s tables, and `sweep`'s panels per kind).
pub fn several_kinds<'a>(mut rows: impl Iterator<Item = &'a crate::metrics::Summary>) -> bool {
    rows.any(|s| s.kinds.len() > 1)
}

/// The `done` column: when the last task of each kind finished (`download 413ms, crunch
/// 4.24s`).
pub fn kinds_done(s: &crate::metrics::Summary) -> String {
    s.kinds
        .iter()
        .map(|k| format!("{} {}", k.kind, k.last_end))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The table, with a header naming the scenario and machine.
pub fn render(results: &Results) -> String {
    let sc = results.scenario;
    let m = &sc.machine;
    let mut out = String::new();
    out.push_str(&format!("{}\n", sc.name));
    out.push_str(&format!(
        "machine: {} — {} cores, {} hardware threads, switch interval {}{}\n\n",
        m.preset,
        m.cores,
        m.hw_threads(),
        sc.python.switch_interval,
        if sc.python.gil {
            ""
        } else {
            ", no GIL (free-threaded)"
        }
    ));
    let with_kinds = several_kinds(results.runs.iter().map(|r| &r.summary));
    let mut header = vec!["experiment", "strategy", "workers", "time", "speedup"];
    if with_kinds {
        header.push("done");
    }
    header.push("why");
    let rows: Vec<Vec<String>> = results
        .runs
        .iter()
        .map(|r| {
            let s = &r.summary;
            let mut row = vec![
                s.experiment.clone(),
                s.strategy.name().to_string(),
                s.workers.to_string(),
                s.makespan.to_string(),
                format!("{}x", super::ratio_words(s.speedup)),
            ];
            if with_kinds {
                row.push(kinds_done(s));
            }
            row.push(s.bottleneck.clone());
            row
        })
        .collect();
    let header: Vec<String> = header.into_iter().map(String::from).collect();
    out.push_str(&aligned(&header, &rows, &[2, 3, 4]));
    let base = &sc.experiments[sc.baseline].name;
    out.push_str(&format!("\nspeedup is relative to \"{base}\"\n"));
    if let Some(note) = near_tie_note(results) {
        out.push_str(&note);
    }
    out
}

/// The two fastest rows and their gap (relative to the faster) when it is below
/// [`NEAR_TIE`].
pub fn near_tie<'r>(results: &'r Results) -> Option<(&'r RunResult, &'r RunResult, f64)> {
    let mut runs: Vec<&RunResult> = results.runs.iter().collect();
    runs.sort_by_key(|r| r.summary.makespan);
    let [first, second, ..] = runs[..] else {
        return None;
    };
    let (a, b) = (first.summary.makespan, second.summary.makespan);
    if a.is_zero() {
        return None;
    }
    let gap = (b.as_nanos_f64() - a.as_nanos_f64()) / a.as_nanos_f64();
    (gap < NEAR_TIE).then_some((first, second, gap))
}

/// A row as the near-tie note names it: with its worker count when the experiment has
/// several rows.
pub fn row_label(results: &Results, r: &RunResult) -> String {
    let s = &r.summary;
    let rows = results
        .runs
        .iter()
        .filter(|o| o.experiment == r.experiment)
        .count();
    if rows > 1 {
        format!("{} ×{} ({})", s.experiment, s.workers, s.makespan)
    } else {
        format!("{} ({})", s.experiment, s.makespan)
    }
}

/// The line under the table for a near tie.
fn near_tie_note(results: &Results) -> Option<String> {
    let (first, second, gap) = near_tie(results)?;
    Some(format!(
        "near tie: {} and {} are {:.1} % apart, closer than the model's error (median 2–5 %\n  \
         against real runs): it cannot say which is faster — either will do, or measure both \
         (`gilsim validate`)\n",
        row_label(results, first),
        row_label(results, second),
        gap * 100.0
    ))
}

/// Aligns a header and rows into columns two spaces apart; columns listed in `right` are
/// right-aligned, and the last column is never padded.
pub fn aligned(header: &[String], rows: &[Vec<String>], right: &[usize]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let last = header.len().saturating_sub(1);
    let line = |cells: &[String]| {
        let mut l = String::new();
        for (i, cell) in cells.iter().enumerate() {
            let pad = widths[i].saturating_sub(cell.chars().count());
            if i == last {
                l.push_str(cell);
            } else if right.contains(&i) {
                l.push_str(&" ".repeat(pad));
                l.push_str(cell);
                l.push_str("  ");
            } else {
                l.push_str(cell);
                l.push_str(&" ".repeat(pad + 2));
            }
        }
        l.trim_end().to_string() + "\n"
    };
    let mut out = line(header);
    for row in rows {
        out.push_str(&line(row));
    }
    out
}
