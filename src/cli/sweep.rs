//! `gilsim sweep SCENARIO --workers 1,2,4,8 --set python.switch_interval=1ms,5ms,20ms`:
//! the scenario over a grid of values, one result row per experiment and grid point.
//!
//! `--workers` replaces the worker counts of every `threads` and `processes` experiment.
//! `--set KEY=V1,V2,…` (repeatable) sets any scenario value by its dotted TOML path —
//! `machine.cores`, `python.switch_interval`, `python.dispatch.threads`,
//! `machine.latency.wan`, `seed` — to each value in turn; the grid is the product of all
//! `--set` lists, in the order given. A value is read as TOML when it parses as TOML
//! (`4`, `1.25`, `true`, `[1.0, 0.9]`, `"5ms"`) and as a string otherwise (`5ms`), and is
//! validated exactly like the same value written in the file.
//!
//! Writes `sweep.csv` (the `--set` keys, then the summary columns) and `sweep.png` under
//! `output/<scenario>/`: with only `--workers`, the speedup curves with the ideal line and
//! Amdahl fits; with `--set`, predicted time against the first `--set` key — or, when the
//! job has more than one kind of task, one panel per kind of when its last task finished.
//!
//! On stdout, as `run` prints: the table (with a `done` column — when each kind of task
//! finished — when the job has more than one kind), the CSV, or JSON objects of the grid's
//! values and `run --format json`'s entries per row (numbers as numbers, per-kind times).

use std::path::PathBuf;

use clap::Args;

use crate::engine::Limits;
use crate::error::Error;
use crate::metrics::Summary;
use crate::model::{self, Strategy};
use crate::report::{self, chart, png};

use super::run::Format;

/// Options of `gilsim sweep`.
#[derive(Debug, Args)]
pub struct SweepArgs {
    /// Scenario file or bundled scenario name.
    pub scenario: String,
    /// Worker counts for every threads/processes experiment, e.g. 1,2,4,8.
    #[arg(long, value_delimiter = ',', value_name = "N,N,...")]
    pub workers: Vec<u32>,
    /// A what-if axis: KEY=V1,V2,... (dotted TOML path; repeatable).
    #[arg(long = "set", value_name = "KEY=V1,V2,...")]
    pub sets: Vec<String>,
    /// Output directory (default: output/<scenario-stem>/).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// What to print on stdout.
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
    /// Do not draw sweep.png.
    #[arg(long)]
    pub no_charts: bool,
    /// Stop each run after this many events.
    #[arg(long, value_name = "N")]
    pub max_events: Option<u64>,
    /// No warnings or notes on stderr.
    #[arg(short, long)]
    pub quiet: bool,
    /// How many threads simulate.
    #[command(flatten)]
    pub jobs: super::run::Jobs,
    /// Host profile for `preset = "host"` (default: output/host.toml if it exists).
    #[arg(long, value_name = "PATH")]
    pub host: Option<PathBuf>,
}

/// One `--set` axis.
struct Axis {
    key: Vec<String>,
    text: String,
    values: Vec<(String, toml::Value)>,
}

fn parse_axis(spec: &str) -> Result<Axis, Error> {
    let (key, values) = spec.split_once('=').ok_or_else(|| {
        Error::Usage(format!(
            "--set {spec}: expected KEY=V1,V2,... such as python.switch_interval=1ms,5ms"
        ))
    })?;
    let key_path: Vec<String> = key
        .trim()
        .split('.')
        .map(|s| s.trim().to_string())
        .collect();
    if key_path.iter().any(String::is_empty) {
        return Err(Error::Usage(format!(
            "--set {spec}: the key \"{key}\" has an empty part"
        )));
    }
    if key_path[0] == "experiment" || key_path[0] == "tasks" {
        return Err(Error::Usage(format!(
            "--set {spec}: sweep machine.*, python.*, job.* or seed; use --workers for workers"
        )));
    }
    // Split on commas outside brackets and quotes, so [1.0, 0.9] stays one value.
    let mut parts = Vec::new();
    let (mut depth, mut quoted, mut cur) = (0i32, false, String::new());
    for c in values.chars() {
        match c {
            '"' => quoted = !quoted,
            '[' | '{' if !quoted => depth += 1,
            ']' | '}' if !quoted => depth -= 1,
            ',' if depth == 0 && !quoted => {
                parts.push(std::mem::take(&mut cur));
                continue;
            }
            _ => {}
        }
        cur.push(c);
    }
    parts.push(cur);
    let values = parts
        .into_iter()
        .map(|p| p.trim().to_string())
        .map(|p| {
            if p.is_empty() {
                return Err(Error::Usage(format!("--set {spec}: an empty value")));
            }
            let value = toml::from_str::<toml::Table>(&format!("v = {p}"))
                .ok()
                .and_then(|mut t| t.remove("v"))
                .unwrap_or_else(|| toml::Value::String(p.clone()));
            Ok((p, value))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Axis {
        key: key_path,
        text: key.trim().to_string(),
        values,
    })
}

fn set_path(table: &mut toml::Table, path: &[String], value: toml::Value) -> Result<(), String> {
    let (last, parents) = path.split_last().expect("a key has a part");
    let mut t = table;
    for p in parents {
        let entry = t
            .entry(p.clone())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        t = entry
            .as_table_mut()
            .ok_or_else(|| format!("`{p}` is not a table"))?;
    }
    t.insert(last.clone(), value);
    Ok(())
}

pub(super) fn run(args: &SweepArgs) -> Result<(), Error> {
    if args.workers.is_empty() && args.sets.is_empty() {
        return Err(Error::Usage(
            "nothing to sweep: give --workers 1,2,4 and/or --set KEY=V1,V2".into(),
        ));
    }
    if args
        .workers
        .iter()
        .any(|&w| w == 0 || w > model::MAX_WORKERS as u32)
    {
        return Err(Error::Usage(format!(
            "--workers values must be between 1 and {}",
            model::MAX_WORKERS
        )));
    }
    let source = super::load_source(Some(&args.scenario))?;
    // Report mistakes in the file at their real position first.
    let host = crate::host::resolve(args.host.as_deref())?;
    let base = model::load(&source.label, &source.text, host.as_ref())?;
    if !args.quiet {
        for w in &base.warnings {
            eprintln!("warning: {w}");
        }
    }
    let axes = args
        .sets
        .iter()
        .map(|s| parse_axis(s))
        .collect::<Result<Vec<_>, _>>()?;
    let document: toml::Table = toml::from_str(&source.text)
        .map_err(|e| Error::Usage(format!("{}: {}", source.label, e.message())))?;

    // Every grid point: one value per axis.
    let mut grid: Vec<Vec<usize>> = vec![Vec::new()];
    for axis in &axes {
        grid = grid
            .into_iter()
            .flat_map(|point| {
                (0..axis.values.len()).map(move |i| {
                    let mut p = point.clone();
                    p.push(i);
                    p
                })
            })
            .collect();
    }
    let mut scenarios = Vec::with_capacity(grid.len());
    for point in &grid {
        let mut doc = document.clone();
        let mut what = Vec::new();
        for (axis, &i) in axes.iter().zip(point) {
            let (text, value) = &axis.values[i];
            set_path(&mut doc, &axis.key, value.clone())
                .map_err(|m| Error::Usage(format!("--set {}={text}: {m}", axis.text)))?;
            what.push(format!("{}={text}", axis.text));
        }
        let text = toml::to_string(&doc).expect("a TOML table serialises");
        let mut scenario = model::load(&source.label, &text, host.as_ref())
            .map_err(|e| Error::Usage(format!("--set {}: {}", what.join(" "), e.message)))?;
        if !args.workers.is_empty() {
            for e in &mut scenario.experiments {
                if matches!(e.strategy, Strategy::Threads | Strategy::Processes) {
                    e.workers = args.workers.clone();
                }
            }
        }
        scenarios.push(scenario);
    }

    let limits = Limits {
        max_events: args.max_events.unwrap_or(Limits::default().max_events),
        trace: false,
        ..Limits::default()
    };
    let total: u64 = scenarios
        .iter()
        .map(|s| {
            s.experiments
                .iter()
                .map(|e| e.workers.len() as u64)
                .sum::<u64>()
        })
        .sum();
    let bar = super::progress_bar(total, args.quiet, "runs");

    // Rows: (grid point, summary). Grid points run in parallel, and the runs within one
    // share what threads are left over; the rows come back in grid order whatever --jobs is.
    let jobs = args.jobs.count();
    let per_point = jobs.div_ceil(scenarios.len()).max(1);
    let results = super::run::try_par_map(&scenarios, jobs, |scenario| {
        super::run::simulate_all(scenario, &limits, per_point, |exp, w| {
            bar.set_message(format!("{} ×{w}", exp.name));
            bar.inc(1);
        })
    });
    bar.finish_and_clear();
    let rows: Vec<(usize, Summary)> = results?
        .into_iter()
        .enumerate()
        .flat_map(|(g, runs)| runs.into_iter().map(move |r| (g, r.summary)))
        .collect();

    // With more than one kind of task, the table says when each kind was done, and the
    // `--set` chart has a panel per kind: the makespan alone hides, e.g., a convoy's echo
    // loop behind the spinning thread.
    let with_kinds = report::table::several_kinds(rows.iter().map(|(_, s)| s));

    // sweep.csv
    let value_of = |g: usize, a: usize| axes[a].values[grid[g][a]].0.clone();
    let mut w = csv::Writer::from_writer(Vec::new());
    let mut header: Vec<String> = axes.iter().map(|a| a.text.clone()).collect();
    header.extend(report::csv::SUMMARY_COLUMNS.iter().map(|c| c.to_string()));
    w.write_record(&header).expect("in-memory CSV");
    for (g, s) in &rows {
        let mut record: Vec<String> = (0..axes.len()).map(|a| value_of(*g, a)).collect();
        record.extend(report::csv::summary_fields(s));
        w.write_record(&record).expect("in-memory CSV");
    }
    let csv_bytes = w.into_inner().expect("in-memory CSV");
    let dir = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("output").join(&source.stem));
    let path = dir.join("sweep.csv");
    report::write_file(&path, &csv_bytes).map_err(Error::Run)?;
    let mut written = vec!["sweep.csv"];

    if !args.no_charts {
        let path = dir.join("sweep.png");
        let result = if axes.is_empty() {
            let refs: Vec<&Summary> = rows.iter().map(|(_, s)| s).collect();
            let spec = chart::speedup(&base.name, &base.experiments[base.baseline].name, &refs);
            report::draw_file(&path, |tmp| png::draw_speedup(&spec, tmp))
        } else {
            // x: the first axis's values; one line per experiment, workers and other axes.
            let mut points: Vec<chart::LinePoint> = Vec::new();
            for (g, s) in &rows {
                let others: Vec<String> = (1..axes.len())
                    .map(|a| format!("{}={}", axes[a].text, value_of(*g, a)))
                    .collect();
                let label = format!("{} ×{}", s.experiment, s.workers);
                let series = if others.is_empty() {
                    label.clone()
                } else {
                    format!("{label} ({})", others.join(", "))
                };
                // The other axes' combination, numbered in grid order.
                let group =
                    (1..axes.len()).fold(0, |acc, a| acc * axes[a].values.len() + grid[*g][a]);
                let point = |panel: String, y: f64| chart::LinePoint {
                    x: grid[*g][0],
                    x_label: value_of(*g, 0),
                    panel,
                    series: series.clone(),
                    colour_key: label.clone(),
                    group,
                    y,
                };
                if with_kinds {
                    for k in &s.kinds {
                        points.push(point(
                            format!("{} done (s)", k.kind),
                            k.last_end.as_secs_f64(),
                        ));
                    }
                } else {
                    points.push(point("predicted time (s)".into(), s.makespan.as_secs_f64()));
                }
            }
            let what = if with_kinds {
                "when each kind of task was done"
            } else {
                "predicted time"
            };
            let spec = chart::lines(
                &format!("{} — {what} vs {}", base.name, axes[0].text),
                &axes[0].text,
                &points,
            );
            report::draw_file(&path, |tmp| png::draw_lines(&spec, tmp))
        };
        result.map_err(Error::Run)?;
        written.push("sweep.png");
    }

    let stdout = match args.format {
        Format::Csv => String::from_utf8(csv_bytes).expect("CSV is UTF-8"),
        // One object per row of sweep.csv — the grid's values, then the summary as `run
        // --format json` gives it (numbers as numbers, empty fields null, per-kind times).
        Format::Json => {
            let items: Vec<serde_json::Value> = rows
                .iter()
                .map(|(g, s)| {
                    let mut o = serde_json::Map::new();
                    for (a, axis) in axes.iter().enumerate() {
                        o.insert(axis.text.clone(), report::json::csv_field(&value_of(*g, a)));
                    }
                    report::json::summary_entries(s, &mut o);
                    serde_json::Value::Object(o)
                })
                .collect();
            serde_json::to_string_pretty(&items).expect("plain JSON") + "\n"
        }
        Format::Table => {
            let mut header: Vec<String> = axes.iter().map(|a| a.text.clone()).collect();
            let first = header.len();
            for h in ["experiment", "strategy", "workers", "time", "speedup"] {
                header.push(h.to_string());
            }
            if with_kinds {
                header.push("done".to_string());
            }
            header.push("why".to_string());
            let table: Vec<Vec<String>> = rows
                .iter()
                .map(|(g, s)| {
                    let mut row: Vec<String> = (0..axes.len()).map(|a| value_of(*g, a)).collect();
                    row.extend([
                        s.experiment.clone(),
                        s.strategy.name().to_string(),
                        s.workers.to_string(),
                        s.makespan.to_string(),
                        format!("{}x", report::ratio_words(s.speedup)),
                    ]);
                    if with_kinds {
                        row.push(report::table::kinds_done(s));
                    }
                    row.push(s.bottleneck.clone());
                    row
                })
                .collect();
            report::table::aligned(&header, &table, &[first + 2, first + 3, first + 4])
        }
    };
    super::print_stdout(&stdout)?;
    if !args.quiet {
        eprintln!("wrote {} in {}", written.join(", "), dir.display());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axis_values_keep_lists_whole_and_read_toml() {
        let a = parse_axis("machine.frequency=[1.0, 0.9],[1.0]").unwrap();
        assert_eq!(a.key, ["machine", "frequency"]);
        assert_eq!(a.values.len(), 2);
        assert!(a.values[0].1.is_array());
        let b = parse_axis("python.switch_interval=1ms,5ms").unwrap();
        assert_eq!(b.values[1].1, toml::Value::String("5ms".into()));
        let c = parse_axis("machine.cores=2,4").unwrap();
        assert_eq!(c.values[0].1, toml::Value::Integer(2));
        assert!(parse_axis("machine.cores").is_err());
        assert!(parse_axis("experiment.workers=1").is_err());
        assert!(parse_axis("machine.cores=2,,4").is_err());
    }
}
