//! `trace.json`: the Chrome trace event format, which Perfetto (ui.perfetto.dev) and
//! chrome://tracing open.
//!
//! Each simulated process of each result row is a `pid` (named "experiment ×workers:
//! main process" / "worker-2"), each thread a `tid`; every state segment is a complete
//! event (`"ph": "X"`, microseconds), and GIL events are thread-scoped instant events
//! (`"ph": "i"`): `GIL taken`, `GIL released`, `drop request`, `forced drop`. A disk or
//! link that transfers went through is a counter track of the main process (`"ph": "C"`):
//! how many transfers share it at each moment.
//! The file is written by hand (not through a JSON tree) so a trace of millions of
//! segments does not need a second copy in memory.

use std::fmt::Write;

use super::Results;
use crate::trace::GilEventKind;

fn micros(ns: u64) -> String {
    format!("{}.{:03}", ns / 1000, ns % 1000)
}

fn escape(s: &str) -> String {
    serde_json::to_string(s).expect("a string serialises")
}

/// Hands `out` to `w` once it holds a megabyte.
fn flush_large(out: &mut String, w: &mut dyn std::io::Write) -> std::io::Result<()> {
    if out.len() > 1 << 20 {
        w.write_all(out.as_bytes())?;
        out.clear();
    }
    Ok(())
}

/// The whole trace as JSON text (in memory: for small traces and tests).
pub fn render(results: &Results) -> String {
    let mut out = Vec::new();
    write(results, &mut out).expect("writing to memory cannot fail");
    String::from_utf8(out).expect("the trace is UTF-8")
}

/// Writes the trace to `w` as it goes, a megabyte at a time: the segments are read from
/// the run's trace (perhaps a temporary file) and never all held as text.
pub fn write(results: &Results, w: &mut dyn std::io::Write) -> std::io::Result<()> {
    let mut out = String::from("{\"displayTimeUnit\":\"ms\",\"traceEvents\":[\n");
    let mut first = true;
    let mut push = |out: &mut String, event: String| {
        if !first {
            out.push_str(",\n");
        }
        first = false;
        out.push_str(&event);
    };
    for (row, run) in results.runs.iter().enumerate() {
        let exp = &results.scenario.experiments[run.experiment];
        let label = format!("{} ×{}", exp.name, run.workers);
        let pid = |process: u32| (row as u64) * 100_000 + process as u64 + 1;
        // Name processes (once each) and threads.
        let mut named = Vec::new();
        for (tid, lane) in run.trace.lanes.iter().enumerate() {
            if !named.contains(&lane.process) {
                named.push(lane.process);
                let pname = if lane.process == 0 {
                    format!("{label}: main process")
                } else {
                    format!("{label}: {}", lane.name)
                };
                push(
                    &mut out,
                    format!(
                        "{{\"name\":\"process_name\",\"ph\":\"M\",\"pid\":{},\"args\":{{\"name\":{}}}}}",
                        pid(lane.process),
                        escape(&pname)
                    ),
                );
                push(
                    &mut out,
                    format!(
                        "{{\"name\":\"process_sort_index\",\"ph\":\"M\",\"pid\":{},\"args\":{{\"sort_index\":{}}}}}",
                        pid(lane.process),
                        pid(lane.process)
                    ),
                );
            }
            push(
                &mut out,
                format!(
                    "{{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":{},\"tid\":{tid},\"args\":{{\"name\":{}}}}}",
                    pid(lane.process),
                    escape(&lane.name)
                ),
            );
        }
        for seg in run.trace.segments.iter() {
            flush_large(&mut out, w)?;
            let lane = &run.trace.lanes[seg.lane as usize];
            let mut e = String::new();
            let _ = write!(
                e,
                "{{\"name\":\"{}\",\"cat\":\"state\",\"ph\":\"X\",\"ts\":{},\"dur\":{},\"pid\":{},\"tid\":{}}}",
                seg.state.name(),
                micros(seg.start.0),
                micros((seg.end - seg.start).as_nanos()),
                pid(lane.process),
                seg.lane
            );
            push(&mut out, e);
        }
        for ev in run.trace.gil_events.iter() {
            flush_large(&mut out, w)?;
            let name = match ev.kind {
                GilEventKind::Take => "GIL taken",
                GilEventKind::Release => "GIL released",
                GilEventKind::DropRequest => "drop request",
                GilEventKind::ForcedDrop => "forced drop",
            };
            push(
                &mut out,
                format!(
                    "{{\"name\":\"{name}\",\"cat\":\"gil\",\"ph\":\"i\",\"s\":\"t\",\"ts\":{},\"pid\":{},\"tid\":{}}}",
                    micros(ev.time.0),
                    pid(ev.process),
                    ev.lane
                ),
            );
        }
        for load in run.trace.device_load.iter() {
            flush_large(&mut out, w)?;
            push(
                &mut out,
                format!(
                    "{{\"name\":{},\"cat\":\"device\",\"ph\":\"C\",\"ts\":{},\"pid\":{},\"args\":{{\"transfers\":{}}}}}",
                    escape(&format!("{} transfers", load.channel.describe())),
                    micros(load.time.0),
                    pid(0),
                    load.transfers
                ),
            );
        }
    }
    out.push_str("\n]}\n");
    w.write_all(out.as_bytes())
}
