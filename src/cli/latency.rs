//! `gilsim latency`: the latency hierarchy at human scale, and measured on this host.

use std::io::IsTerminal;
use std::path::PathBuf;

use clap::Args;

use crate::error::Error;
use crate::report::{self, chart, png};
use crate::teach::latency::{self, Measured};

use super::run::Format;

/// Options of `gilsim latency`.
#[derive(Debug, Args)]
pub struct LatencyArgs {
    /// Measure this host now (pointer chasing over growing working sets, a mutex, a
    /// 1 MB read, a loopback round trip; a few seconds).
    #[arg(long)]
    pub measure: bool,
    /// What to print on stdout (json: the CSV file's rows as objects).
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
    /// Output directory for latency.csv and latency.png (default: output/latency/).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Do not draw latency.png.
    #[arg(long)]
    pub no_charts: bool,
    /// No notes on stderr.
    #[arg(short, long)]
    pub quiet: bool,
}

pub(super) fn run(args: &LatencyArgs) -> Result<(), Error> {
    let levels = latency::textbook();
    let measured: Option<Measured> = args.measure.then(|| {
        let show = !args.quiet && std::io::stderr().is_terminal();
        latency::measure(|step| {
            if show {
                eprint!("\rmeasuring: {step:<40}");
            }
        })
    });
    if measured.is_some() && !args.quiet && std::io::stderr().is_terminal() {
        eprint!("\r{:60}\r", "");
    }
    let host = |l: &latency::Level| l.probe.zip(measured.as_ref()).and_then(|(p, m)| m.value(p));

    // latency.csv: level, latency_s, human_scale, source, host_s
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(["level", "latency_s", "human_scale", "source", "host_s"])
        .expect("in-memory CSV");
    for l in &levels {
        w.write_record([
            l.name.to_string(),
            format!("{:e}", l.seconds),
            latency::human_scale(l.seconds),
            l.source.to_string(),
            host(l).map_or(String::new(), |h| format!("{h:e}")),
        ])
        .expect("in-memory CSV");
    }
    let csv_bytes = w.into_inner().expect("in-memory CSV");
    let dir = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("output").join("latency"));
    let path = dir.join("latency.csv");
    report::write_file(&path, &csv_bytes).map_err(Error::Run)?;
    let mut written = vec!["latency.csv"];
    if !args.no_charts {
        let spec = chart::LatencyBars {
            title: if measured.is_some() {
                "The latency hierarchy: textbook and this host".into()
            } else {
                "The latency hierarchy (gilsim latency --measure adds this host)".into()
            },
            rows: levels
                .iter()
                .map(|l| (l.name.to_string(), l.seconds, host(l)))
                .collect(),
        };
        let path = dir.join("latency.png");
        report::draw_file(&path, |tmp| png::draw_latency(&spec, tmp)).map_err(Error::Run)?;
        written.push("latency.png");
    }

    let out = match args.format {
        Format::Csv => String::from_utf8(csv_bytes).expect("CSV is UTF-8"),
        Format::Json => report::json::csv_rows(&csv_bytes),
        Format::Table => {
            let header: Vec<String> = [
                "level",
                "latency",
                "at human scale (1 ns = 1 s)",
                "this host",
                "source",
            ]
            .iter()
            .map(|s| s.to_string())
            .collect();
            let rows: Vec<Vec<String>> = levels
                .iter()
                .map(|l| {
                    vec![
                        l.name.to_string(),
                        report::duration_words(l.seconds),
                        latency::human_scale(l.seconds),
                        host(l).map_or("-".into(), report::duration_words),
                        l.source.to_string(),
                    ]
                })
                .collect();
            let mut text = report::table::aligned(&header, &rows, &[1, 2, 3]);
            if let Some(m) = &measured {
                text.push_str(&format!(
                    "\nPointer chasing on this host (caches: L1 {}, L2 {}, L3 {}):\n",
                    report::size_words(m.caches[0]),
                    report::size_words(m.caches[1]),
                    report::size_words(m.caches[2])
                ));
                let rows: Vec<Vec<String>> = m
                    .chase
                    .iter()
                    .map(|&(size, s)| {
                        let bar = "#".repeat(((s * 1e9).log2().max(0.0) * 6.0) as usize);
                        vec![report::size_words(size), format!("{:.1} ns", s * 1e9), bar]
                    })
                    .collect();
                let header = vec!["working set".into(), "per load".into(), "".into()];
                text.push_str(&report::table::aligned(&header, &rows, &[0, 1]));
            }
            text
        }
    };
    super::print_stdout(&out)?;
    if !args.quiet {
        eprintln!("wrote {} in {}", written.join(", "), dir.display());
    }
    Ok(())
}
