//! `summary.csv`, `tasks.csv` and `trace.csv` (DESIGN §4 columns).

use super::{secs, Results};

/// The columns of `summary.csv`, in order (also the keys of the JSON rows).
pub const SUMMARY_COLUMNS: [&str; 17] = [
    "experiment",
    "strategy",
    "workers",
    "start_method",
    "chunksize",
    "makespan_s",
    "speedup",
    "efficiency",
    "cpu_busy_s",
    "gil_held_s",
    "gil_wait_s",
    "gil_switches",
    "forced_switches",
    "context_switches",
    "io_wait_s",
    "overhead_s",
    "bottleneck",
];

fn finish(w: csv::Writer<Vec<u8>>) -> Vec<u8> {
    w.into_inner().expect("writing CSV to memory cannot fail")
}

/// The summary row values as strings, in [`SUMMARY_COLUMNS`] order.
pub fn summary_fields(s: &crate::metrics::Summary) -> [String; 17] {
    [
        s.experiment.clone(),
        s.strategy.name().to_string(),
        s.workers.to_string(),
        s.start_method.unwrap_or("").to_string(),
        s.chunksize.map_or(String::new(), |c| c.to_string()),
        secs(s.makespan.as_nanos()),
        super::ratio_field(s.speedup),
        super::ratio_field(s.efficiency),
        secs(s.cpu_busy.as_nanos()),
        secs(s.gil_held.as_nanos()),
        secs(s.gil_wait.as_nanos()),
        s.gil_switches.to_string(),
        s.forced_switches.to_string(),
        s.context_switches.to_string(),
        secs(s.io_wait.as_nanos()),
        secs(s.overhead.as_nanos()),
        s.bottleneck.clone(),
    ]
}

/// `summary.csv`: one row per experiment and worker count.
pub fn summary(results: &Results) -> Vec<u8> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(SUMMARY_COLUMNS).expect("in-memory CSV");
    for run in &results.runs {
        w.write_record(summary_fields(&run.summary))
            .expect("in-memory CSV");
    }
    finish(w)
}

/// `tasks.csv`: one row per task instance.
pub fn tasks(results: &Results) -> Vec<u8> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record([
        "experiment",
        "workers",
        "task",
        "kind",
        "lane",
        "submit_s",
        "start_s",
        "end_s",
    ])
    .expect("in-memory CSV");
    for run in &results.runs {
        let name = &results.scenario.experiments[run.experiment].name;
        let workers = run.workers.to_string();
        for (i, t) in run.trace.tasks.iter().enumerate() {
            w.write_record([
                name.as_str(),
                &workers,
                &i.to_string(),
                &results.scenario.kinds[t.kind as usize].name,
                &run.trace.lanes[t.lane as usize].name,
                &secs(t.submit.0),
                &secs(t.start.0),
                &secs(t.end.0),
            ])
            .expect("in-memory CSV");
        }
    }
    finish(w)
}

/// `trace.csv` in memory (small traces and tests).
pub fn trace(results: &Results) -> Vec<u8> {
    write_trace(results, Vec::new()).expect("writing CSV to memory cannot fail")
}

/// `trace.csv`: one row per state segment, by lane then time — or, for a trace too large
/// to hold in memory (spilled to a temporary file), in the order the segments ended.
pub fn write_trace<W: std::io::Write>(results: &Results, out: W) -> std::io::Result<W> {
    let mut w = csv::Writer::from_writer(out);
    w.write_record(["experiment", "workers", "lane", "state", "start_s", "end_s"])?;
    for run in &results.runs {
        let name = &results.scenario.experiments[run.experiment].name;
        let workers = run.workers.to_string();
        let mut row = |s: crate::trace::Segment| {
            w.write_record([
                name.as_str(),
                &workers,
                &run.trace.lanes[s.lane as usize].name,
                s.state.name(),
                &secs(s.start.0),
                &secs(s.end.0),
            ])
        };
        if run.trace.segments.spilled() {
            for s in run.trace.segments.iter() {
                row(s)?;
            }
        } else {
            let mut segments: Vec<_> = run.trace.segments.iter().collect();
            segments.sort_by_key(|s| (s.lane, s.start));
            for s in segments {
                row(s)?;
            }
        }
    }
    w.into_inner().map_err(|e| e.into_error())
}
