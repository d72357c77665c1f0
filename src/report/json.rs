//! `--format json`: the summary rows with the `summary.csv` columns as keys, plus the
//! machine, per-kind task statistics and how each disk or link was used.

use serde_json::{json, Map, Value};

use super::csv::{summary_fields, SUMMARY_COLUMNS};
use super::Results;
use crate::metrics::Summary;
use crate::model::Channel;

fn number_or_string(column: &str, value: String) -> Value {
    let numeric = column.ends_with("_s")
        || matches!(
            column,
            "workers"
                | "chunksize"
                | "speedup"
                | "efficiency"
                | "gil_switches"
                | "forced_switches"
                | "context_switches"
        );
    if numeric {
        if let Some(n) = number(&value) {
            return n;
        }
    }
    if value.is_empty() {
        Value::Null
    } else {
        Value::String(value)
    }
}

/// A summary row's entries: the `summary.csv` columns, then `kinds` (per kind of task: how
/// many, and when the first and the last finished). `run` and `sweep` print these.
pub fn summary_entries(s: &Summary, row: &mut Map<String, Value>) {
    for (column, value) in SUMMARY_COLUMNS.iter().zip(summary_fields(s)) {
        row.insert((*column).into(), number_or_string(column, value));
    }
    let mut kinds = Map::new();
    for k in &s.kinds {
        kinds.insert(
            k.kind.clone(),
            json!({
                "tasks": k.tasks,
                "first_end_s": k.first_end.as_secs_f64(),
                "last_end_s": k.last_end.as_secs_f64(),
                "mean_latency_s": k.mean_latency.as_secs_f64(),
            }),
        );
    }
    row.insert("kinds".into(), Value::Object(kinds));
}

/// The whole result as pretty JSON.
pub fn render(results: &Results) -> String {
    let sc = results.scenario;
    let m = &sc.machine;
    let experiments: Vec<Value> = results
        .runs
        .iter()
        .map(|run| {
            let mut row = Map::new();
            row.insert("name".into(), json!(run.summary.experiment));
            summary_entries(&run.summary, &mut row);
            // The disks and links transfers went through (empty without any).
            let mut devices = Map::new();
            for c in &run.trace.channels {
                devices.insert(
                    c.channel.key().into(),
                    json!({
                        "busy_s": c.busy.as_secs_f64(),
                        "most_at_once": c.most,
                        "transfers": c.transfers,
                        "bytes": c.bytes,
                    }),
                );
            }
            row.insert("devices".into(), Value::Object(devices));
            Value::Object(row)
        })
        .collect();
    let doc = json!({
        "scenario": sc.name,
        "description": sc.description,
        "seed": sc.seed,
        "machine": {
            "preset": m.preset,
            "cores": m.cores,
            "smt": m.smt,
            "hw_threads": m.hw_threads(),
            "smt_speedup": m.smt_speedup,
            "speed_spread": m.speed_spread,
            "frequency": m.frequency,
            "sharing": Channel::ALL
                .iter()
                .map(|c| (c.key().to_string(), json!(m.sharing[c.index()])))
                .collect::<Map<String, Value>>(),
            "time_slice_s": m.time_slice.as_secs_f64(),
            "context_switch_s": m.context_switch.as_secs_f64(),
            "wakeup_s": m.wakeup.as_secs_f64(),
            "wakeup_cpu_s": m.wakeup_cpu.as_secs_f64(),
            "process_switch_s": m.process_switch.as_secs_f64(),
            "gil": sc.python.gil,
            "switch_interval_s": sc.python.switch_interval.as_secs_f64(),
        },
        "baseline": sc.experiments[sc.baseline].name,
        "experiments": experiments,
    });
    let mut text = serde_json::to_string_pretty(&doc).expect("JSON of plain values");
    text.push('\n');
    text
}

/// A CSV file's rows as a pretty JSON array of objects keyed by its header (`latency` and
/// `amdahl` print their files this way): a field that is a finite number becomes a number,
/// an empty one `null`, the rest strings. Panics only on CSV it did not get from
/// [`csv::Writer`] (the callers pass their own file's bytes).
pub fn csv_rows(csv_bytes: &[u8]) -> String {
    let mut reader = csv::Reader::from_reader(csv_bytes);
    let header = reader.headers().expect("the caller's own CSV").clone();
    let rows: Vec<Value> = reader
        .records()
        .map(|record| {
            let record = record.expect("the caller's own CSV");
            let object: Map<String, Value> = header
                .iter()
                .zip(record.iter())
                .map(|(column, field)| (column.to_string(), csv_field(field)))
                .collect();
            Value::Object(object)
        })
        .collect();
    serde_json::to_string_pretty(&rows).expect("plain JSON") + "\n"
}

/// A CSV field as JSON: `null` when empty, a number when it is a finite one, else the text
/// (an `inf` stays a string here, where a summary's numeric column makes it `null`).
pub fn csv_field(field: &str) -> Value {
    if field.is_empty() {
        return Value::Null;
    }
    match number(field) {
        Some(n) if !n.is_null() => n,
        _ => Value::String(field.to_string()),
    }
}

/// A field that parses as a number, as one: a whole number exactly, else a float
/// (`serde_json` makes a non-finite one `null`).
fn number(field: &str) -> Option<Value> {
    if let Ok(n) = field.parse::<u64>() {
        return Some(json!(n));
    }
    field.parse::<f64>().ok().map(|x| json!(x))
}
