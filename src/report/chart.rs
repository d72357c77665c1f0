//! What the charts show, as plain data: no drawing here (that is [`super::png`]).
//!
//! - [`timeline`]: one row per lane, each row rasterised to the chart's pixel columns: a
//!   column is split top to bottom into the states the lane was in during that column's
//!   time, in proportion (quantised to [`SHARES`] steps). A solid column is one state; a
//!   thread taking turns with others for the GIL shows as a blue/vermillion column with
//!   its share of CPU — nothing narrower than a pixel is lost, and a run of a million
//!   segments draws as fast as one of ten. Runs with more than [`MAX_ROWS`] lanes are
//!   aggregated: a row stands for a group of consecutive lanes of the same kind (shares
//!   are then over the group), and the chart says so.
//! - [`speedup`]: predicted time per row (bars, with the speedup), and for sweeps the
//!   speedup against workers with the ideal line and a least-squares Amdahl fit.

use crate::metrics::Summary;
use crate::trace::{RunTrace, State};

/// Most rows a timeline draws before grouping lanes.
pub const MAX_ROWS: usize = 40;

/// Steps in which a column's state shares are quantised.
pub const SHARES: u8 = 20;

/// A Gantt chart of one run.
#[derive(Debug, Clone, PartialEq)]
pub struct Timeline {
    /// "threads — 4 workers — predicted 4.14 s".
    pub title: String,
    /// Set when lanes were grouped: says how.
    pub note: Option<String>,
    /// Some pixel column holds more than one state (then the legend explains the bands).
    pub mixed: bool,
    /// End of the x axis, seconds.
    pub x_max: f64,
    /// Rows top to bottom.
    pub rows: Vec<TimelineRow>,
    /// States that appear, in legend order.
    pub states: Vec<State>,
}

/// One row: runs of equal columns.
#[derive(Debug, Clone, PartialEq)]
pub struct TimelineRow {
    /// Lane name, or "thread-1…thread-26" for a group.
    pub label: String,
    /// Half-open column ranges and each state's share of them, in [`SHARES`] steps
    /// (indexed like [`State::ALL`]; the shares of a column add up to [`SHARES`]).
    pub runs: Vec<(u32, u32, [u8; 10])>,
}

/// Builds a timeline rasterised to `columns` pixel columns.
pub fn timeline(summary: &Summary, trace: &RunTrace, columns: u32) -> Timeline {
    let x_max = trace.makespan.as_secs_f64().max(1e-9);
    // Group lanes: consecutive lanes with the same name stem ("thread", "worker") share rows.
    let n = trace.lanes.len();
    let (row_of, labels, note) = if n <= MAX_ROWS {
        (
            (0..n).collect::<Vec<_>>(),
            trace
                .lanes
                .iter()
                .map(|l| l.name.clone())
                .collect::<Vec<_>>(),
            None,
        )
    } else {
        let per_row = n.div_ceil(MAX_ROWS);
        let stem = |name: &str| -> String {
            match name.rsplit_once('-') {
                Some((stem, num)) if num.chars().all(|c| c.is_ascii_digit()) => stem.to_string(),
                _ => name.to_string(),
            }
        };
        let mut row_of = Vec::with_capacity(n);
        let mut labels: Vec<String> = Vec::new();
        let mut start = 0;
        while start < n {
            // A row holds up to `per_row` consecutive lanes of one kind (main, thread, worker).
            let kind = stem(&trace.lanes[start].name);
            let mut end = start + 1;
            while end < n && end - start < per_row && stem(&trace.lanes[end].name) == kind {
                end += 1;
            }
            let first = &trace.lanes[start].name;
            let last = &trace.lanes[end - 1].name;
            labels.push(if end - start == 1 {
                first.clone()
            } else {
                format!("{first}…{last}")
            });
            for _ in start..end {
                row_of.push(labels.len() - 1);
            }
            start = end;
        }
        let note = format!(
            "{n} threads drawn as {} rows of up to {per_row} threads each",
            labels.len()
        );
        (row_of, labels, Some(note))
    };
    let rows_n = labels.len();
    let cols = columns.max(1) as usize;
    let ns_per_col = trace.makespan.0.max(1) as f64 / cols as f64;
    let mut acc = vec![[0f32; 10]; rows_n * cols];
    let mut seen = [false; 10];
    for seg in trace.segments.iter() {
        let row = row_of[seg.lane as usize];
        seen[seg.state.index()] = true;
        let cells = &mut acc[row * cols..(row + 1) * cols];
        spread(cells, ns_per_col, seg.start.0, seg.end.0, seg.state);
    }
    // One more row per disk or link the run's transfers went through: `io` while it holds
    // a transfer, `idle` while it holds none (from the trace's device load), labelled with
    // the most transfers it held at once.
    let devices: Vec<_> = trace.channels.iter().map(|c| (c.channel, c.most)).collect();
    for &(channel, _) in &devices {
        let mut row = vec![[0f32; 10]; cols];
        let mut add = |from, to, state| spread(&mut row, ns_per_col, from, to, state);
        let (mut at, mut busy) = (0u64, false);
        for load in trace.device_load.iter().filter(|l| l.channel == channel) {
            add(at, load.time.0, if busy { State::Io } else { State::Idle });
            (at, busy) = (load.time.0, load.transfers > 0);
        }
        add(
            at,
            trace.makespan.0,
            if busy { State::Io } else { State::Idle },
        );
        seen[State::Io.index()] = true;
        seen[State::Idle.index()] = true;
        acc.extend(row);
    }
    let labels: Vec<String> = labels
        .into_iter()
        .chain(devices.iter().map(|(c, most)| {
            // Short, for the label column: "wan link (≤ 4)", the most at once.
            format!("{} {} (≤ {most})", c.key(), c.kind())
        }))
        .collect();
    let rows_n = labels.len();
    let rows: Vec<TimelineRow> = (0..rows_n)
        .map(|r| {
            let mut runs: Vec<(u32, u32, [u8; 10])> = Vec::new();
            for c in 0..cols {
                let Some(shares) = quantise(&acc[r * cols + c]) else {
                    continue; // the lane did not exist yet
                };
                match runs.last_mut() {
                    Some(run) if run.1 == c as u32 && run.2 == shares => run.1 += 1,
                    _ => runs.push((c as u32, c as u32 + 1, shares)),
                }
            }
            TimelineRow {
                label: labels[r].clone(),
                runs,
            }
        })
        .collect();
    // Explain the bands when they matter: at least 2 % of drawn columns hold several
    // states (a pixel where one segment ends and the next begins does not count).
    let (mut drawn, mut several) = (0u32, 0u32);
    for run in rows.iter().flat_map(|r| &r.runs) {
        drawn += run.1 - run.0;
        if run.2.iter().filter(|&&n| n > 0).count() > 1 {
            several += run.1 - run.0;
        }
    }
    let mixed = several * 50 >= drawn.max(1);
    Timeline {
        mixed,
        title: format!(
            "{} — {} ({} worker{}) — predicted {}",
            summary.experiment,
            summary.strategy.name(),
            summary.workers,
            if summary.workers == 1 { "" } else { "s" },
            summary.makespan
        ),
        note,
        x_max,
        rows,
        states: State::ALL
            .iter()
            .copied()
            .filter(|s| seen[s.index()])
            .collect(),
    }
}

/// Adds the time from `from` to `to` (ns) in `state` to the pixel columns of one row,
/// `ns_per_col` each, a column's share of it where it starts or ends inside one.
fn spread(cells: &mut [[f32; 10]], ns_per_col: f64, from: u64, to: u64, state: State) {
    let (a, b) = (from as f64 / ns_per_col, to as f64 / ns_per_col);
    let cols = cells.len();
    let first = (a.floor() as usize).min(cols - 1);
    let last = (b.ceil() as usize).clamp(first + 1, cols);
    for (c, cell) in cells.iter_mut().enumerate().take(last).skip(first) {
        let (lo, hi) = (a.max(c as f64), b.min(c as f64 + 1.0));
        if hi > lo {
            cell[state.index()] += (hi - lo) as f32;
        }
    }
}

/// Shares of a column's time per state in [`SHARES`] steps (largest remainders), or `None`
/// for an empty column.
fn quantise(cell: &[f32; 10]) -> Option<[u8; 10]> {
    let total: f32 = cell.iter().sum();
    if total <= 0.0 {
        return None;
    }
    let mut shares = [0u8; 10];
    let mut rest = [0f32; 10];
    let mut given = 0u8;
    for i in 0..10 {
        let exact = cell[i] / total * SHARES as f32;
        shares[i] = exact.floor() as u8;
        rest[i] = exact - exact.floor();
        given += shares[i];
    }
    while given < SHARES {
        let i = (0..10)
            .max_by(|&a, &b| rest[a].total_cmp(&rest[b]))
            .expect("ten states");
        shares[i] += 1;
        rest[i] = -1.0;
        given += 1;
    }
    Some(shares)
}

/// Bars of predicted time, and speedup curves for sweeps.
#[derive(Debug, Clone, PartialEq)]
pub struct Speedup {
    /// Chart title.
    pub title: String,
    /// One bar per result row.
    pub bars: Vec<Bar>,
    /// One curve per swept experiment.
    pub curves: Vec<Curve>,
}

/// One result row as a bar.
#[derive(Debug, Clone, PartialEq)]
pub struct Bar {
    /// Experiment name (with `×workers` for sweeps).
    pub label: String,
    /// Predicted seconds.
    pub seconds: f64,
    /// Speedup vs the baseline.
    pub speedup: f64,
    /// The strategy (bars are coloured by it).
    pub strategy: crate::model::Strategy,
}

/// Speedup against workers for one swept experiment.
#[derive(Debug, Clone, PartialEq)]
pub struct Curve {
    /// Experiment name.
    pub name: String,
    /// (workers, speedup) points.
    pub points: Vec<(f64, f64)>,
    /// The curve's speedup on one worker, or 1 when it has no one-worker row. Amdahl's law
    /// compares a program with itself on one worker; the points compare it with the
    /// baseline, which may run other work (the convoy's echo loop alone against echo and
    /// spin together), so the fitted curve is `scale × amdahl(s, n)`.
    pub scale: f64,
    /// Least-squares Amdahl serial fraction of the points divided by `scale`.
    pub serial_fraction: f64,
}

/// The x axis of a count (workers, cores): whole-number ticks, on a base-2 log scale when the
/// counts span 16× or more — 1, 2, 4 … 64 on a linear axis would crowd the first four into
/// a tenth of the width, where the curves bend. Positions are what the chart plots: `n`, or
/// `log2 n`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CountAxis {
    /// Plot `log2 n` rather than `n`.
    pub log2: bool,
    /// The smallest count shown.
    pub min: f64,
    /// The largest count shown.
    pub max: f64,
}

impl CountAxis {
    /// The axis for counts from `min` to `max` (both at least 1).
    pub fn new(min: f64, max: f64) -> CountAxis {
        let min = if min.is_finite() { min.max(1.0) } else { 1.0 };
        let max = max.max(min);
        CountAxis {
            log2: max >= 16.0 * min,
            min,
            max,
        }
    }

    /// Where count `n` is plotted.
    pub fn pos(&self, n: f64) -> f64 {
        if self.log2 {
            n.log2()
        } else {
            n
        }
    }

    /// The plotted range, with a margin either side of the counts.
    pub fn range(&self) -> std::ops::Range<f64> {
        if self.log2 {
            self.min.log2() - 0.2..self.max.log2() + 0.2
        } else {
            0.0..self.max * 1.05
        }
    }

    /// The tick positions: the powers of two on a log axis; on a linear one, multiples of
    /// 1, 2 or 5 × 10^k, at most about ten.
    pub fn ticks(&self) -> Vec<f64> {
        if self.log2 {
            let (lo, hi) = (
                self.min.log2().ceil() as i32,
                self.max.log2().floor() as i32,
            );
            return (lo..=hi).map(f64::from).collect();
        }
        let mut step = 1.0;
        'search: for decade in [1.0, 10.0, 100.0, 1e3, 1e4, 1e5] {
            for m in [1.0, 2.0, 5.0] {
                step = m * decade;
                if self.max / step <= 10.0 {
                    break 'search;
                }
            }
        }
        (0..=(self.max / step).floor() as u32)
            .map(|i| f64::from(i) * step)
            .collect()
    }

    /// The label of a tick at position `p`: the count it stands for, as a whole number.
    pub fn label(&self, p: f64) -> String {
        let n = if self.log2 { p.exp2() } else { p };
        format!("{}", n.round())
    }

    /// `k + 1` counts from `from` to `to`, evenly spaced along the axis (for drawing curves).
    pub fn samples(&self, from: f64, to: f64, k: u32) -> Vec<f64> {
        let (a, b) = (self.pos(from), self.pos(to));
        (0..=k)
            .map(|i| {
                let p = a + (b - a) * f64::from(i) / f64::from(k);
                if self.log2 {
                    p.exp2()
                } else {
                    p
                }
            })
            .collect()
    }
}

/// Amdahl's law: the speedup on `n` workers with serial fraction `s`.
pub fn amdahl(s: f64, n: f64) -> f64 {
    1.0 / (s + (1.0 - s) / n)
}

/// The serial fraction in [0, 1] whose Amdahl curve is closest (least squares on speedup)
/// to the points. A golden-section search: the error is unimodal in `s` for speedups that
/// grow with `n`, and a final grid check guards the rest.
pub fn fit_amdahl(points: &[(f64, f64)]) -> f64 {
    let err = |s: f64| -> f64 {
        points
            .iter()
            .map(|&(n, sp)| (amdahl(s, n) - sp).powi(2))
            .sum()
    };
    let (mut a, mut b) = (0.0f64, 1.0f64);
    let g = (5f64.sqrt() - 1.0) / 2.0;
    for _ in 0..100 {
        let c = b - g * (b - a);
        let d = a + g * (b - a);
        if err(c) < err(d) {
            b = d;
        } else {
            a = c;
        }
    }
    let golden = (a + b) / 2.0;
    (0..=100)
        .map(|i| i as f64 / 100.0)
        .chain([golden])
        .min_by(|x, y| err(*x).total_cmp(&err(*y)))
        .expect("candidates")
}

/// A [`Curve`]'s `(scale, serial_fraction)`: the points' speedup on one worker (1 without a
/// one-worker point), and the Amdahl fit of the points relative to it.
pub fn fit_scaled_amdahl(points: &[(f64, f64)]) -> (f64, f64) {
    let one = points.iter().find(|p| p.0 == 1.0).map(|p| p.1);
    let scale = one.filter(|&v| v > 0.0).unwrap_or(1.0);
    let relative: Vec<(f64, f64)> = points.iter().map(|&(n, v)| (n, v / scale)).collect();
    (scale, fit_amdahl(&relative))
}

/// Builds the speedup chart from the summary rows (in report order).
pub fn speedup(scenario_name: &str, baseline: &str, rows: &[&Summary]) -> Speedup {
    let bars = rows
        .iter()
        .map(|s| {
            let label = if rows.iter().filter(|o| o.experiment == s.experiment).count() > 1 {
                format!("{} ×{}", s.experiment, s.workers)
            } else {
                s.experiment.clone()
            };
            Bar {
                label,
                seconds: s.makespan.as_secs_f64(),
                speedup: s.speedup,
                strategy: s.strategy,
            }
        })
        .collect();
    let mut curves: Vec<Curve> = Vec::new();
    for s in rows {
        if rows.iter().filter(|o| o.experiment == s.experiment).count() < 2 {
            continue;
        }
        match curves.iter_mut().find(|c| c.name == s.experiment) {
            Some(c) => c.points.push((s.workers as f64, s.speedup)),
            None => curves.push(Curve {
                name: s.experiment.clone(),
                points: vec![(s.workers as f64, s.speedup)],
                scale: 1.0,
                serial_fraction: 0.0,
            }),
        }
    }
    for c in &mut curves {
        (c.scale, c.serial_fraction) = fit_scaled_amdahl(&c.points);
    }
    Speedup {
        title: format!("{scenario_name} — predicted time and speedup vs \"{baseline}\""),
        bars,
        curves,
    }
}

/// One point of a line chart over a categorical x axis.
#[derive(Debug, Clone, PartialEq)]
pub struct LinePoint {
    /// Index of the x category.
    pub x: usize,
    /// The category's label.
    pub x_label: String,
    /// The panel it is drawn in, by its y axis description.
    pub panel: String,
    /// The series it belongs to.
    pub series: String,
    /// What picks the series' colour (a sweep: the experiment and its workers, the same in
    /// every group).
    pub colour_key: String,
    /// Its group (a sweep: the combination of the other axes' values): group 0 is drawn
    /// solid, the others dashed with ringed markers, so that a series that coincides with
    /// another of its colour still shows.
    pub group: usize,
    /// The value.
    pub y: f64,
}

/// How one series of [`Lines`] is drawn.
#[derive(Debug, Clone, PartialEq)]
pub struct LineSeriesStyle {
    /// Its legend label.
    pub name: String,
    /// Index into the palette.
    pub colour: usize,
    /// [`LinePoint::group`].
    pub group: usize,
}

/// A line chart over categories (a what-if sweep: time against a scenario value), in one
/// or more panels stacked over one x axis. A series keeps its colour in every panel.
#[derive(Debug, Clone, PartialEq)]
pub struct Lines {
    /// Chart title.
    pub title: String,
    /// x axis description.
    pub x_desc: String,
    /// Category labels, by index.
    pub x_labels: Vec<String>,
    /// Series in first-seen order.
    pub series: Vec<LineSeriesStyle>,
    /// Panels in first-seen order.
    pub panels: Vec<Panel>,
}

/// One panel of [`Lines`].
#[derive(Debug, Clone, PartialEq)]
pub struct Panel {
    /// Its y axis description.
    pub y_desc: String,
    /// Each series' (x, y) points, by series index (empty for a series not in the panel).
    pub lines: Vec<Vec<(f64, f64)>>,
}

/// Groups points into panels and series for [`Lines`].
pub fn lines(title: &str, x_desc: &str, points: &[LinePoint]) -> Lines {
    let mut x_labels: Vec<String> = Vec::new();
    let mut series: Vec<LineSeriesStyle> = Vec::new();
    let mut colours: Vec<&str> = Vec::new();
    let mut panels: Vec<Panel> = Vec::new();
    for p in points {
        if x_labels.len() <= p.x {
            x_labels.resize(p.x + 1, String::new());
        }
        x_labels[p.x] = p.x_label.clone();
        let si = match series.iter().position(|l| l.name == p.series) {
            Some(i) => i,
            None => {
                let colour = match colours.iter().position(|k| *k == p.colour_key) {
                    Some(c) => c,
                    None => {
                        colours.push(&p.colour_key);
                        colours.len() - 1
                    }
                };
                series.push(LineSeriesStyle {
                    name: p.series.clone(),
                    colour,
                    group: p.group,
                });
                series.len() - 1
            }
        };
        let pi = match panels.iter().position(|panel| panel.y_desc == p.panel) {
            Some(i) => i,
            None => {
                panels.push(Panel {
                    y_desc: p.panel.clone(),
                    lines: Vec::new(),
                });
                panels.len() - 1
            }
        };
        let lines = &mut panels[pi].lines;
        if lines.len() <= si {
            lines.resize(si + 1, Vec::new());
        }
        lines[si].push((p.x as f64, p.y));
    }
    Lines {
        title: title.to_string(),
        x_desc: x_desc.to_string(),
        x_labels,
        series,
        panels,
    }
}

/// Horizontal log-scale bars: textbook latency and this host's, per level.
#[derive(Debug, Clone, PartialEq)]
pub struct LatencyBars {
    /// Chart title.
    pub title: String,
    /// (level, textbook seconds, host seconds if measured), fastest first.
    pub rows: Vec<(String, f64, Option<f64>)>,
}

/// Predicted against measured time per result row.
#[derive(Debug, Clone, PartialEq)]
pub struct Validation {
    /// Chart title.
    pub title: String,
    /// One bar pair per experiment.
    pub rows: Vec<ValidationRow>,
}

/// One experiment of a [`Validation`] chart, in seconds.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidationRow {
    /// `experiment ×workers`.
    pub label: String,
    /// The prediction.
    pub predicted: f64,
    /// The prediction with the wake-up [`crate::validate::WAKEUP_NUDGE`] faster and slower
    /// (low, high).
    pub predicted_range: (f64, f64),
    /// The measured median.
    pub median: f64,
    /// The fastest run.
    pub min: f64,
    /// The slowest run.
    pub max: f64,
}

/// How a series of a [`Curves`] chart is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// A solid line.
    Line,
    /// A dashed line.
    Dashed,
    /// Markers only (measurements).
    Points,
}

/// Named series of (x, y) points.
#[derive(Debug, Clone, PartialEq)]
pub struct Curves {
    /// Chart title.
    pub title: String,
    /// x axis description.
    pub x_desc: String,
    /// y axis description.
    pub y_desc: String,
    /// The series, drawn in order.
    pub series: Vec<CurveSeries>,
}

/// One series of a [`Curves`] chart: name, style, colour index, points.
pub type CurveSeries = (String, Style, usize, Vec<(f64, f64)>);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hundreds_of_lanes_are_grouped_by_kind_and_the_chart_says_so() {
        use crate::engine::{simulate, Limits};
        let text = "name = \"many\"\n[machine]\npreset = \"laptop-4c8t\"\n\
                    [tasks.t]\nsteps = [{ io = \"1s\" }]\n[job]\ntasks = { t = 300 }\n\
                    [[experiment]]\nname = \"t\"\nstrategy = \"threads\"\nworkers = 300\n";
        let s = crate::model::load("many.toml", text, None).unwrap();
        let trace = simulate(&s, &s.experiments[0], 300, &Limits::default()).unwrap();
        let base = trace.makespan - crate::time::SimTime::ZERO;
        let summary = crate::metrics::summarize(&s, &s.experiments[0], 300, &trace, base);
        let t = timeline(&summary, &trace, 500);
        assert!(t.rows.len() <= MAX_ROWS + 2, "{} rows", t.rows.len());
        assert_eq!(t.rows[0].label, "main", "main keeps its own row");
        assert!(t.rows[1].label.starts_with("thread-1…"));
        assert!(t.note.as_deref().unwrap().contains("301 threads"));
        // Every drawn column's shares add up.
        for row in &t.rows {
            for run in &row.runs {
                assert_eq!(run.2.iter().map(|&n| n as u32).sum::<u32>(), SHARES as u32);
            }
        }
    }

    #[test]
    fn a_device_gets_a_row_busy_while_it_holds_a_transfer() {
        use crate::engine::{simulate, Limits};
        // One thread: 100 ms of GIL-free CPU, then 100 MB through a 1 GB/s disk (no
        // latency): the disk row is idle for the first half, busy for the second.
        let text = "name = \"d\"\n[machine]\npreset = \"laptop-4c8t\"\n\
                    [machine.latency]\nssd = \"0ns\"\n[machine.bandwidth]\nssd = \"1GB/s\"\n\
                    [tasks.t]\nsteps = [{ cpu = \"100ms\", gil = false }, { disk = \"100MB\" }]\n\
                    [job]\ntasks = { t = 1 }\n[[experiment]]\nname = \"s\"\nstrategy = \"serial\"\n";
        let s = crate::model::load("d.toml", text, None).unwrap();
        let trace = simulate(&s, &s.experiments[0], 1, &Limits::default()).unwrap();
        let base = trace.makespan - crate::time::SimTime::ZERO;
        let summary = crate::metrics::summarize(&s, &s.experiments[0], 1, &trace, base);
        let t = timeline(&summary, &trace, 100);
        let row = t.rows.last().unwrap();
        assert_eq!(row.label, "ssd disk (≤ 1)");
        let share_at = |col: u32, state: State| {
            let run = row.runs.iter().find(|r| r.0 <= col && col < r.1).unwrap();
            run.2[state.index()]
        };
        assert_eq!(share_at(25, State::Idle), SHARES);
        assert_eq!(share_at(75, State::Io), SHARES);
        assert!(t.states.contains(&State::Io) && t.states.contains(&State::Idle));
    }

    #[test]
    fn shares_add_up_and_follow_the_time() {
        let mut cell = [0f32; 10];
        cell[State::Cpu.index()] = 0.25;
        cell[State::GilWait.index()] = 0.75;
        let q = quantise(&cell).unwrap();
        assert_eq!(q[State::Cpu.index()], SHARES / 4);
        assert_eq!(q.iter().map(|&x| x as u32).sum::<u32>(), SHARES as u32);
        assert!(quantise(&[0.0; 10]).is_none());
    }

    #[test]
    fn line_panels_keep_each_series_colour_and_only_its_own_points() {
        let pt = |x: usize, panel: &str, series: &str, y: f64| LinePoint {
            x,
            x_label: format!("{x}ms"),
            panel: panel.into(),
            series: series.into(),
            colour_key: series.split(' ').next().unwrap().into(),
            group: usize::from(series.ends_with("(4 cores)")),
            y,
        };
        // An echo-only baseline and a run of echo and spin, at two switch intervals.
        let spec = lines(
            "t",
            "switch",
            &[
                pt(0, "echo done (s)", "alone", 0.14),
                pt(0, "echo done (s)", "threads", 1.2),
                pt(0, "spin done (s)", "threads", 6.0),
                pt(1, "echo done (s)", "alone", 0.14),
                pt(1, "echo done (s)", "threads", 5.2),
                pt(1, "spin done (s)", "threads", 6.1),
                pt(1, "spin done (s)", "threads (4 cores)", 6.1),
            ],
        );
        assert_eq!(spec.x_labels, ["0ms", "1ms"]);
        let styles: Vec<(&str, usize, usize)> = spec
            .series
            .iter()
            .map(|l| (l.name.as_str(), l.colour, l.group))
            .collect();
        // Threads on 4 cores: the threads' colour, drawn as the second group.
        assert_eq!(
            styles,
            [
                ("alone", 0, 0),
                ("threads", 1, 0),
                ("threads (4 cores)", 1, 1)
            ]
        );
        let descs: Vec<&str> = spec.panels.iter().map(|p| p.y_desc.as_str()).collect();
        assert_eq!(descs, ["echo done (s)", "spin done (s)"]);
        assert_eq!(
            spec.panels[0].lines,
            [vec![(0.0, 0.14), (1.0, 0.14)], vec![(0.0, 1.2), (1.0, 5.2)]]
        );
        // "alone" has no spin: its slot (its colour) stays, empty.
        assert_eq!(
            spec.panels[1].lines,
            [vec![], vec![(0.0, 6.0), (1.0, 6.1)], vec![(1.0, 6.1)]]
        );
    }

    #[test]
    fn amdahl_fit_recovers_the_serial_fraction() {
        let points: Vec<(f64, f64)> = [1.0, 2.0, 4.0, 8.0, 16.0]
            .iter()
            .map(|&n| (n, amdahl(0.1, n)))
            .collect();
        assert!((fit_amdahl(&points) - 0.1).abs() < 1e-4);
        let ideal: Vec<(f64, f64)> = [1.0, 2.0, 4.0].iter().map(|&n| (n, n)).collect();
        assert!(fit_amdahl(&ideal) < 1e-4);
        assert_eq!(amdahl(0.0, 8.0), 8.0);
        assert_eq!(amdahl(1.0, 8.0), 1.0);
    }

    #[test]
    fn a_sweep_against_a_baseline_of_other_work_is_fitted_against_its_own_one_worker_run() {
        // The convoy: the baseline (the echo loop alone) is 44× faster than echo and spin
        // together on one worker; the points scale as Amdahl with s = 0.5 from there.
        let points: Vec<(f64, f64)> = [1.0, 2.0, 4.0, 8.0]
            .iter()
            .map(|&n| (n, amdahl(0.5, n) / 44.0))
            .collect();
        let (scale, s) = fit_scaled_amdahl(&points);
        assert!((scale - 1.0 / 44.0).abs() < 1e-12);
        assert!((s - 0.5).abs() < 1e-4, "{s}");
        // Fitted against the baseline instead, every point is below 1: serial 100 %.
        assert_eq!(fit_amdahl(&points), 1.0);
        // No one-worker point: the baseline is the reference.
        let from_two: Vec<(f64, f64)> = [2.0, 4.0].iter().map(|&n| (n, amdahl(0.2, n))).collect();
        let (scale, s) = fit_scaled_amdahl(&from_two);
        assert_eq!(scale, 1.0);
        assert!((s - 0.2).abs() < 1e-4, "{s}");
    }

    #[test]
    fn a_count_axis_goes_log_at_a_span_of_sixteen_and_ticks_whole_numbers() {
        let wide = CountAxis::new(1.0, 64.0);
        assert!(wide.log2);
        let labels: Vec<String> = wide.ticks().iter().map(|&p| wide.label(p)).collect();
        assert_eq!(labels, ["1", "2", "4", "8", "16", "32", "64"]);
        let samples = wide.samples(1.0, 64.0, 6);
        assert!((samples[3] - 8.0).abs() < 1e-9, "{samples:?}");

        let narrow = CountAxis::new(1.0, 8.0);
        assert!(!narrow.log2);
        assert_eq!(
            narrow.ticks(),
            [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0]
        );
        assert_eq!(narrow.samples(1.0, 8.0, 2), [1.0, 4.5, 8.0]);
        // Starting at 2, 24 is 12×: linear, ticks every 5 to stay about ten.
        let twelve = CountAxis::new(2.0, 24.0);
        assert!(!twelve.log2);
        assert_eq!(twelve.ticks(), [0.0, 5.0, 10.0, 15.0, 20.0]);
        assert_eq!(twelve.label(15.0), "15");
        // Log ticks are the powers of two inside the counts.
        let odd = CountAxis::new(3.0, 100.0);
        assert_eq!(odd.ticks(), [2.0, 3.0, 4.0, 5.0, 6.0]);
        assert_eq!(odd.label(2.0), "4");
    }
}
