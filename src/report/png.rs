//! Drawing the chart specs of [`super::chart`] as PNG files — the only user of plotters.
//!
//! The font is DejaVu Sans, bundled in `assets/fonts` with its licence and registered once,
//! so no system font library is needed at build or run time. Colours are the Okabe–Ito
//! palette (distinguishable with the common colour-vision deficiencies) plus three of Paul
//! Tol's, with a light grey for idle time. Legends sit outside the plotting area so they
//! never cover data.

use std::path::Path;
use std::sync::Once;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use plotters::style::FontStyle;

use super::chart::{
    amdahl, CountAxis, Curves, LatencyBars, Lines, Speedup, Style, Timeline, Validation, SHARES,
};
use crate::trace::State;

static FONT: Once = Once::new();

fn register_font() {
    FONT.call_once(|| {
        let bytes: &'static [u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");
        plotters::style::register_font("sans-serif", FontStyle::Normal, bytes)
            .unwrap_or_else(|_| panic!("the bundled DejaVu Sans font is valid"));
        plotters::style::register_font("sans-serif", FontStyle::Bold, bytes)
            .unwrap_or_else(|_| panic!("the bundled DejaVu Sans font is valid"));
    });
}

/// The colour of a state.
pub fn state_colour(state: State) -> RGBColor {
    match state {
        State::Cpu => RGBColor(0x00, 0x72, 0xB2),      // blue
        State::CpuNoGil => RGBColor(0x56, 0xB4, 0xE9), // sky blue
        State::GilWait => RGBColor(0xD5, 0x5E, 0x00),  // vermillion
        State::Runnable => RGBColor(0xE6, 0x9F, 0x00), // orange
        State::Io => RGBColor(0x00, 0x9E, 0x73),       // bluish green
        State::Spawn => RGBColor(0xCC, 0x79, 0xA7),    // reddish purple
        State::Pickle => RGBColor(0xF0, 0xE4, 0x42),   // yellow
        State::Ipc => RGBColor(0x33, 0x22, 0x88),      // indigo (Tol)
        State::Dispatch => RGBColor(0x99, 0x99, 0x33), // olive (Tol)
        State::Idle => RGBColor(0xDD, 0xDD, 0xDD),     // light grey
    }
}

/// The colour of a strategy's bars.
pub fn strategy_colour(strategy: crate::model::Strategy) -> RGBColor {
    use crate::model::Strategy;
    match strategy {
        Strategy::Serial => RGBColor(0x88, 0x88, 0x88),
        Strategy::Threads => RGBColor(0x00, 0x72, 0xB2),
        Strategy::Processes => RGBColor(0xD5, 0x5E, 0x00),
        Strategy::Asyncio => RGBColor(0x00, 0x9E, 0x73),
    }
}

const SERIES: [RGBColor; 6] = [
    RGBColor(0x00, 0x72, 0xB2),
    RGBColor(0xD5, 0x5E, 0x00),
    RGBColor(0x00, 0x9E, 0x73),
    RGBColor(0xCC, 0x79, 0xA7),
    RGBColor(0xE6, 0x9F, 0x00),
    RGBColor(0x56, 0xB4, 0xE9),
];

/// Width of every chart, pixels.
pub const WIDTH: u32 = 1200;
/// Pixel columns of a timeline's plotting area (the spec is rasterised to these).
pub const TIMELINE_COLUMNS: u32 = 980;
const LABEL_AREA: u32 = 170;

type DrawResult<T> = Result<T, String>;

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

fn text(size: u32, h: HPos, v: VPos) -> TextStyle<'static> {
    ("sans-serif", size)
        .into_font()
        .color(&BLACK)
        .pos(Pos::new(h, v))
}

/// Draws a timeline to `path`.
pub fn draw_timeline(spec: &Timeline, path: &Path) -> DrawResult<()> {
    register_font();
    let rows = spec.rows.len().max(1);
    let row_px = (600 / rows as u32).clamp(12, 30);
    let legend_h = 60 + 26 * (u32::from(spec.note.is_some()) + u32::from(spec.mixed));
    let height = 70 + rows as u32 * row_px + 60 + legend_h;
    let root = BitMapBackend::new(path, (WIDTH, height)).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let (main, legend) = root.split_vertically(height - legend_h);
    // Axis unit by the run's length: 1.6 ms reads as "1.6", not "0.0016".
    let (scale, unit) = match spec.x_max {
        t if t < 2e-3 => (1e6, "µs"),
        t if t < 2.0 => (1e3, "ms"),
        _ => (1.0, "s"),
    };
    let mut chart = ChartBuilder::on(&main)
        .caption(&spec.title, ("sans-serif", 22))
        .margin(12)
        .margin_left(0)
        .x_label_area_size(50)
        .y_label_area_size(LABEL_AREA)
        .build_cartesian_2d(0f64..spec.x_max, 0f64..rows as f64)
        .map_err(err)?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .disable_y_axis()
        .x_desc(format!("time ({unit})"))
        .x_label_formatter(&|x| {
            let v = x * scale;
            if v == 0.0 || v.abs() >= 10.0 {
                format!("{v:.0}")
            } else {
                format!("{v:.1}")
            }
        })
        .axis_desc_style(("sans-serif", 16))
        .label_style(("sans-serif", 14))
        .x_labels(12)
        .draw()
        .map_err(err)?;
    let cols = TIMELINE_COLUMNS as f64;
    let to_x = |c: u32| c as f64 / cols * spec.x_max;
    for (r, row) in spec.rows.iter().enumerate() {
        let y0 = (rows - r - 1) as f64 + 0.12;
        let y1 = (rows - r) as f64 - 0.12;
        // Each run is a stack of state bands, top to bottom in State::ALL order.
        let bands = row.runs.iter().flat_map(|&(a, b, shares)| {
            let mut top = y1;
            State::ALL
                .iter()
                .zip(shares)
                .filter(|(_, n)| *n > 0)
                .map(move |(&state, n)| {
                    let h = (y1 - y0) * n as f64 / SHARES as f64;
                    let rect = Rectangle::new(
                        [(to_x(a), top - h), (to_x(b), top)],
                        state_colour(state).filled(),
                    );
                    top -= h;
                    rect
                })
        });
        chart.draw_series(bands).map_err(err)?;
        let (px, py) = chart.backend_coord(&(0.0, (rows - r) as f64 - 0.5));
        root.draw(&Text::new(
            row.label.clone(),
            (px - 10, py),
            text(14, HPos::Right, VPos::Center),
        ))
        .map_err(err)?;
    }
    let mut notes: Vec<&str> = Vec::new();
    if spec.mixed {
        notes.push(
            "Bars are split top to bottom by each state's share of the time under them: \
             a thread taking turns shows several colours.",
        );
    }
    if let Some(n) = spec.note.as_deref() {
        notes.push(n);
    }
    draw_state_legend(&legend, &spec.states, &notes)?;
    root.present().map_err(err)?;
    Ok(())
}

fn draw_state_legend(
    area: &DrawingArea<BitMapBackend, Shift>,
    states: &[State],
    notes: &[&str],
) -> DrawResult<()> {
    let mut x = LABEL_AREA as i32;
    let y = 24;
    for &state in states {
        area.draw(&Rectangle::new(
            [(x, y - 8), (x + 16, y + 8)],
            state_colour(state).filled(),
        ))
        .map_err(err)?;
        area.draw(&Text::new(
            state.name(),
            (x + 22, y),
            text(15, HPos::Left, VPos::Center),
        ))
        .map_err(err)?;
        x += 30 + 9 * state.name().len() as i32 + 18;
    }
    for (i, note) in notes.iter().enumerate() {
        area.draw(&Text::new(
            note.to_string(),
            (LABEL_AREA as i32, y + 34 + 24 * i as i32),
            text(14, HPos::Left, VPos::Center),
        ))
        .map_err(err)?;
    }
    Ok(())
}

/// One legend entry: a swatch in the series' style at (x, y) of `area`, then its label.
fn legend_entry(
    area: &DrawingArea<BitMapBackend, Shift>,
    (x, y): (i32, i32),
    colour: RGBColor,
    style: Style,
    label: &str,
) -> DrawResult<()> {
    match style {
        Style::Line => area
            .draw(&PathElement::new(
                [(x, y), (x + 26, y)],
                colour.stroke_width(3),
            ))
            .map_err(err)?,
        Style::Dashed => {
            for k in 0..3 {
                area.draw(&PathElement::new(
                    [(x + k * 10, y), (x + k * 10 + 6, y)],
                    colour.stroke_width(2),
                ))
                .map_err(err)?;
            }
        }
        Style::Points => area
            .draw(&Circle::new((x + 13, y), 6, colour.filled()))
            .map_err(err)?,
    }
    area.draw(&Text::new(
        label.to_string(),
        (x + 34, y),
        text(14, HPos::Left, VPos::Center),
    ))
    .map_err(err)
}

/// Draws the speedup chart to `path`: bars of predicted time, and the curves of sweeps.
pub fn draw_speedup(spec: &Speedup, path: &Path) -> DrawResult<()> {
    register_font();
    let n = spec.bars.len().max(1);
    let bars_h = 90 + n as u32 * 34 + 50;
    let curves_h = if spec.curves.is_empty() { 0 } else { 520 };
    let height = bars_h + curves_h;
    let root = BitMapBackend::new(path, (WIDTH, height)).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let (top, bottom) = root.split_vertically(bars_h);

    let max_t = spec
        .bars
        .iter()
        .map(|b| b.seconds)
        .fold(0.0, f64::max)
        .max(1e-9);
    let min_t = spec
        .bars
        .iter()
        .map(|b| b.seconds)
        .filter(|&t| t > 0.0)
        .fold(f64::INFINITY, f64::min)
        .min(max_t);
    // Times spanning more than three decades (a latency tour) read on a log axis: bars are
    // drawn in log10 space and the axis labels map back to seconds.
    let log = max_t / min_t > 1000.0;
    let (x_lo, x_hi) = if log {
        ((min_t.log10() - 0.5).floor(), max_t.log10() + 1.2)
    } else {
        (0.0, max_t * 1.3)
    };
    let to_x = |t: f64| if log { t.max(1e-12).log10() } else { t };
    let mut chart = ChartBuilder::on(&top)
        .caption(&spec.title, ("sans-serif", 22))
        .margin(12)
        .margin_left(0)
        .x_label_area_size(50)
        .y_label_area_size(LABEL_AREA)
        .build_cartesian_2d(x_lo..x_hi, 0f64..n as f64)
        .map_err(err)?;
    let x_label = |x: &f64| {
        if !log {
            format!("{x:.1}")
        } else if (x - x.round()).abs() < 1e-9 {
            seconds_label(10f64.powf(*x))
        } else {
            String::new()
        }
    };
    chart
        .configure_mesh()
        .disable_y_mesh()
        .disable_y_axis()
        .x_desc(if log {
            "predicted time (log scale)"
        } else {
            "predicted time (s)"
        })
        .x_label_formatter(&x_label)
        .axis_desc_style(("sans-serif", 16))
        .label_style(("sans-serif", 14))
        .draw()
        .map_err(err)?;
    for (i, bar) in spec.bars.iter().enumerate() {
        let y0 = (n - i - 1) as f64 + 0.18;
        let y1 = (n - i) as f64 - 0.18;
        let colour = strategy_colour(bar.strategy);
        chart
            .draw_series([Rectangle::new(
                [(x_lo, y0), (to_x(bar.seconds), y1)],
                colour.filled(),
            )])
            .map_err(err)?;
        let (px, py) = chart.backend_coord(&(to_x(bar.seconds), (n - i) as f64 - 0.5));
        root.draw(&Text::new(
            format!(
                "{}  ({}×, {})",
                crate::time::SimDuration::from_secs_f64(bar.seconds),
                super::ratio_words(bar.speedup),
                bar.strategy.name()
            ),
            (px + 8, py),
            text(14, HPos::Left, VPos::Center),
        ))
        .map_err(err)?;
        let (lx, _) = chart.backend_coord(&(x_lo, 0.0));
        root.draw(&Text::new(
            bar.label.clone(),
            (lx - 10, py),
            text(14, HPos::Right, VPos::Center),
        ))
        .map_err(err)?;
    }

    if !spec.curves.is_empty() {
        draw_curves(&bottom, spec)?;
    }
    root.present().map_err(err)?;
    Ok(())
}

/// A linear f64 axis with its ticks given, not chosen by plotters (whose `with_key_points`
/// loses the f64 label formatter): a [`CountAxis`]'s whole-number ticks, no minor grid.
struct Ticked {
    inner: plotters::coord::types::RangedCoordf64,
    ticks: Vec<f64>,
}

impl Ticked {
    fn of(axis: &CountAxis) -> Ticked {
        Ticked {
            inner: axis.range().into(),
            ticks: axis.ticks(),
        }
    }
}

impl Ranged for Ticked {
    type FormatOption = plotters::coord::ranged1d::DefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        self.inner.map(value, limit)
    }

    fn key_points<Hint: plotters::coord::ranged1d::KeyPointHint>(&self, hint: Hint) -> Vec<f64> {
        if hint.weight().allow_light_points() {
            Vec::new()
        } else {
            self.ticks.clone()
        }
    }

    fn range(&self) -> std::ops::Range<f64> {
        self.inner.range()
    }
}

fn draw_curves(area: &DrawingArea<BitMapBackend, Shift>, spec: &Speedup) -> DrawResult<()> {
    let workers = spec
        .curves
        .iter()
        .flat_map(|c| c.points.iter().map(|p| p.0));
    let min_w = workers.clone().fold(f64::INFINITY, f64::min);
    let max_w = workers.fold(1.0, f64::max);
    let axis = CountAxis::new(min_w, max_w);
    let max_s = spec
        .curves
        .iter()
        .flat_map(|c| c.points.iter().map(|p| p.1))
        .fold(0.0, f64::max);
    // Room for the ideal line's start (speedup 1) unless every point is far below it (the
    // baseline ran other work): then the points would be a flat line along the floor.
    let y_max = if max_s >= 0.5 {
        (max_s * 1.35).max(2.0).min(max_w * 1.05).max(max_s * 1.1)
    } else {
        max_s * 1.35
    };
    let mut chart = ChartBuilder::on(area)
        .caption("speedup vs workers", ("sans-serif", 20))
        .margin(16)
        .margin_left(40)
        .margin_right(300)
        .x_label_area_size(50)
        .y_label_area_size(70)
        .build_cartesian_2d(Ticked::of(&axis), 0f64..y_max)
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc(if axis.log2 {
            "workers (log scale)"
        } else {
            "workers"
        })
        .y_desc("speedup (×)")
        .x_label_formatter(&|p| axis.label(*p))
        .axis_desc_style(("sans-serif", 16))
        .label_style(("sans-serif", 14))
        .draw()
        .map_err(err)?;
    let grey = RGBColor(0x88, 0x88, 0x88);
    let mut legend: Vec<(String, RGBColor, Style)> = Vec::new();
    // The ideal line ends where it leaves the plot (clamping it would draw a false plateau).
    let ideal_end = max_w.min(y_max);
    if ideal_end > 1.0 {
        chart
            .draw_series(LineSeries::new(
                // A straight line on a linear axis: more segments only add jagged joins.
                axis.samples(1.0, ideal_end, if axis.log2 { 48 } else { 1 })
                    .into_iter()
                    .map(|n| (axis.pos(n), n)),
                grey.stroke_width(2),
            ))
            .map_err(err)?;
        legend.push(("ideal: speedup = workers".into(), grey, Style::Line));
    }
    // The legend sits in the right margin, outside the data.
    for (i, c) in spec.curves.iter().enumerate() {
        let colour = SERIES[i % SERIES.len()];
        let at = |&(n, v): &(f64, f64)| (axis.pos(n), v);
        chart
            .draw_series(LineSeries::new(
                c.points.iter().map(at),
                colour.stroke_width(3),
            ))
            .map_err(err)?;
        chart
            .draw_series(
                c.points
                    .iter()
                    .map(|p| Circle::new(at(p), 5, colour.filled())),
            )
            .map_err(err)?;
        let s = c.serial_fraction;
        chart
            .draw_series(DashedLineSeries::new(
                axis.samples(axis.min, max_w, 48)
                    .into_iter()
                    .map(|n| (axis.pos(n), c.scale * amdahl(s, n))),
                6,
                4,
                colour.stroke_width(2),
            ))
            .map_err(err)?;
        legend.push((format!("{} (predicted)", c.name), colour, Style::Line));
        // Said only where it shows: a ×1 run within 5 % of the baseline fits the same.
        let fit = if (c.scale - 1.0).abs() > 0.05 {
            "Amdahl fit, vs its ×1: serial"
        } else {
            "Amdahl fit: serial fraction"
        };
        legend.push((format!("{fit} {:.1}%", 100.0 * s), colour, Style::Dashed));
    }
    // backend_coord is absolute; the area draws relative to its own corner.
    let (x0, y0) = chart.backend_coord(&(axis.range().end, y_max));
    let (bx, by) = area.get_base_pixel();
    let (ax, ay) = (x0 - bx + 24, y0 - by + 10);
    for (i, (label, colour, style)) in legend.iter().enumerate() {
        legend_entry(area, (ax, ay + 24 * i as i32), *colour, *style, label)?;
    }
    Ok(())
}

/// Draws a what-if line chart (predicted time against a scenario value) to `path`: its
/// panels stacked, each with its own y axis, the x axis labelled under the last, the legend
/// beside the first.
pub fn draw_lines(spec: &Lines, path: &Path) -> DrawResult<()> {
    register_font();
    let k = spec.panels.len().max(1);
    let height = if k == 1 { 620 } else { 60 + 300 * k as u32 };
    let root = BitMapBackend::new(path, (WIDTH, height)).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let body = root.titled(&spec.title, ("sans-serif", 22)).map_err(err)?;
    let n = spec.x_labels.len().max(1);
    let labels = spec.x_labels.clone();
    let areas = body.split_evenly((k, 1));
    for (p, (panel, area)) in spec.panels.iter().zip(&areas).enumerate() {
        let (y_desc, lines) = (&panel.y_desc, &panel.lines);
        let last = p + 1 == spec.panels.len();
        let y_max = lines
            .iter()
            .flatten()
            .map(|q| q.1)
            .fold(0.0, f64::max)
            .max(1e-9)
            * 1.15;
        let mut chart = ChartBuilder::on(area)
            .margin(16)
            .margin_right(330)
            .x_label_area_size(if last { 55 } else { 24 })
            .y_label_area_size(80)
            .build_cartesian_2d(-0.3f64..(n as f64 - 0.7), 0f64..y_max)
            .map_err(err)?;
        let label_of = |x: &f64| {
            let i = x.round();
            if (x - i).abs() < 1e-6 && i >= 0.0 {
                labels.get(i as usize).cloned().unwrap_or_default()
            } else {
                String::new()
            }
        };
        let mut mesh = chart.configure_mesh();
        mesh.y_desc(y_desc)
            .axis_desc_style(("sans-serif", 16))
            .label_style(("sans-serif", 14))
            .x_labels(n)
            .x_label_formatter(&label_of);
        if last {
            mesh.x_desc(&spec.x_desc);
        }
        mesh.draw().map_err(err)?;
        for (points, line) in lines.iter().zip(&spec.series) {
            let colour = SERIES[line.colour % SERIES.len()];
            if line.group == 0 {
                chart
                    .draw_series(LineSeries::new(
                        points.iter().copied(),
                        colour.stroke_width(3),
                    ))
                    .map_err(err)?;
                chart
                    .draw_series(points.iter().map(|&q| Circle::new(q, 5, colour.filled())))
                    .map_err(err)?;
            } else {
                // Dashed over a solid line it coincides with, its markers rings around
                // the other's dots (a wider ring for each later group).
                chart
                    .draw_series(DashedLineSeries::new(
                        points.iter().copied(),
                        8,
                        5,
                        colour.stroke_width(2),
                    ))
                    .map_err(err)?;
                let r = 6 + 2 * line.group.min(4) as i32;
                chart
                    .draw_series(
                        points
                            .iter()
                            .map(|&q| Circle::new(q, r, colour.stroke_width(2))),
                    )
                    .map_err(err)?;
            }
        }
        if p == 0 {
            let (x0, y0) = chart.backend_coord(&(n as f64 - 0.7, y_max));
            for (i, line) in spec.series.iter().enumerate() {
                let colour = SERIES[line.colour % SERIES.len()];
                let style = if line.group == 0 {
                    Style::Line
                } else {
                    Style::Dashed
                };
                legend_entry(
                    &root,
                    (x0 + 24, y0 + 10 + 24 * i as i32),
                    colour,
                    style,
                    &line.name,
                )?;
            }
        }
    }
    root.present().map_err(err)?;
    Ok(())
}

fn seconds_label(x: f64) -> String {
    if x < 1e-9 {
        format!("{:.1}ns", x * 1e9)
    } else {
        crate::time::SimDuration::from_secs_f64(x).to_string()
    }
}

/// Draws the latency hierarchy as log-scale bars to `path`.
pub fn draw_latency(spec: &LatencyBars, path: &Path) -> DrawResult<()> {
    register_font();
    let n = spec.rows.len().max(1);
    let height = 120 + n as u32 * 40 + 90;
    let root = BitMapBackend::new(path, (WIDTH, height)).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let (main, legend) = root.split_vertically(height - 50);
    let label_area = 330;
    let mut chart = ChartBuilder::on(&main)
        .caption(&spec.title, ("sans-serif", 22))
        .margin(12)
        .margin_right(30)
        .x_label_area_size(50)
        .y_label_area_size(label_area)
        .build_cartesian_2d((1e-10f64..100.0f64).log_scale(), 0f64..n as f64)
        .map_err(err)?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .disable_y_axis()
        .x_desc("latency (log scale)")
        .x_label_formatter(&|x| seconds_label(*x))
        .axis_desc_style(("sans-serif", 16))
        .label_style(("sans-serif", 14))
        .draw()
        .map_err(err)?;
    let book = SERIES[0];
    let host = SERIES[1];
    for (i, (name, textbook, measured)) in spec.rows.iter().enumerate() {
        let top = (n - i) as f64 - 0.12;
        let mid = (n - i) as f64 - 0.5;
        let bottom = (n - i - 1) as f64 + 0.12;
        let (y_book, y_host) = if measured.is_some() {
            ((mid, top), Some((bottom, mid)))
        } else {
            ((bottom, top), None)
        };
        chart
            .draw_series([Rectangle::new(
                [(1e-10, y_book.0), (*textbook, y_book.1)],
                book.filled(),
            )])
            .map_err(err)?;
        let (px, py) = chart.backend_coord(&(*textbook, (y_book.0 + y_book.1) / 2.0));
        root.draw(&Text::new(
            format!(
                "{}  ({} at human scale)",
                seconds_label(*textbook),
                crate::teach::latency::human_scale(*textbook)
            ),
            (px + 6, py),
            text(13, HPos::Left, VPos::Center),
        ))
        .map_err(err)?;
        if let (Some(m), Some((y0, y1))) = (measured, y_host) {
            chart
                .draw_series([Rectangle::new([(1e-10, y0), (*m, y1)], host.filled())])
                .map_err(err)?;
            let (px, py) = chart.backend_coord(&(*m, (y0 + y1) / 2.0));
            root.draw(&Text::new(
                format!("{} on this host", seconds_label(*m)),
                (px + 6, py),
                text(13, HPos::Left, VPos::Center),
            ))
            .map_err(err)?;
        }
        let (lx, ly) = chart.backend_coord(&(1e-10, mid));
        root.draw(&Text::new(
            name.clone(),
            (lx - 10, ly),
            text(14, HPos::Right, VPos::Center),
        ))
        .map_err(err)?;
    }
    for (i, (label, colour)) in [("textbook", book), ("this host (measured)", host)]
        .iter()
        .enumerate()
    {
        let x = label_area + 20 + 220 * i as i32;
        legend
            .draw(&Rectangle::new([(x, 12), (x + 16, 28)], colour.filled()))
            .map_err(err)?;
        legend
            .draw(&Text::new(
                *label,
                (x + 22, 20),
                text(15, HPos::Left, VPos::Center),
            ))
            .map_err(err)?;
    }
    root.present().map_err(err)?;
    Ok(())
}

/// Draws named curves (Amdahl and friends) to `path`, the legend right of the data.
pub fn draw_curves_chart(spec: &Curves, path: &Path) -> DrawResult<()> {
    register_font();
    let root = BitMapBackend::new(path, (WIDTH, 700)).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let points = spec.series.iter().flat_map(|s| s.3.iter());
    let x_min = points.clone().map(|p| p.0).fold(f64::INFINITY, f64::min);
    let x_max = points.clone().map(|p| p.0).fold(1.0, f64::max);
    let axis = CountAxis::new(x_min, x_max);
    let y_max = points.map(|p| p.1).fold(1.0, f64::max) * 1.1;
    let mut chart = ChartBuilder::on(&root)
        .caption(&spec.title, ("sans-serif", 22))
        .margin(16)
        .margin_right(360)
        .x_label_area_size(55)
        .y_label_area_size(70)
        .build_cartesian_2d(Ticked::of(&axis), 0f64..y_max)
        .map_err(err)?;
    let x_desc = if axis.log2 {
        format!("{} (log scale)", spec.x_desc)
    } else {
        spec.x_desc.clone()
    };
    chart
        .configure_mesh()
        .x_desc(x_desc)
        .y_desc(&spec.y_desc)
        .x_label_formatter(&|p| axis.label(*p))
        .axis_desc_style(("sans-serif", 16))
        .label_style(("sans-serif", 14))
        .draw()
        .map_err(err)?;
    let (x0, y0) = chart.backend_coord(&(axis.range().end, y_max));
    for (i, (name, style, colour, pts)) in spec.series.iter().enumerate() {
        let colour = SERIES[colour % SERIES.len()];
        let pts: Vec<(f64, f64)> = pts.iter().map(|&(n, v)| (axis.pos(n), v)).collect();
        match style {
            Style::Line => {
                chart
                    .draw_series(LineSeries::new(pts.iter().copied(), colour.stroke_width(3)))
                    .map_err(err)?;
            }
            Style::Dashed => {
                chart
                    .draw_series(DashedLineSeries::new(
                        pts.iter().copied(),
                        8,
                        5,
                        colour.stroke_width(2),
                    ))
                    .map_err(err)?;
            }
            Style::Points => {
                chart
                    .draw_series(pts.iter().map(|&p| Circle::new(p, 6, colour.filled())))
                    .map_err(err)?;
            }
        }
        legend_entry(
            &root,
            (x0 + 24, y0 + 12 + 24 * i as i32),
            colour,
            *style,
            name,
        )?;
    }
    root.present().map_err(err)?;
    Ok(())
}

/// Draws predicted vs measured bars (with the measured min–max as a whisker) to `path`.
pub fn draw_validation(spec: &Validation, path: &Path) -> DrawResult<()> {
    register_font();
    let n = spec.rows.len().max(1);
    let height = 110 + n as u32 * 50 + 60;
    let root = BitMapBackend::new(path, (WIDTH, height)).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let (main, legend) = root.split_vertically(height - 50);
    let x_max = spec
        .rows
        .iter()
        .map(|r| r.predicted.max(r.max).max(r.predicted_range.1))
        .fold(0.0, f64::max)
        .max(1e-9)
        * 1.35;
    let mut chart = ChartBuilder::on(&main)
        .caption(&spec.title, ("sans-serif", 22))
        .margin(12)
        .margin_left(0)
        .x_label_area_size(50)
        .y_label_area_size(LABEL_AREA + 40)
        .build_cartesian_2d(0f64..x_max, 0f64..n as f64)
        .map_err(err)?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .disable_y_axis()
        .x_desc("time (s)")
        .axis_desc_style(("sans-serif", 16))
        .label_style(("sans-serif", 14))
        .draw()
        .map_err(err)?;
    let (predicted, measured) = (SERIES[0], SERIES[1]);
    for (i, row) in spec.rows.iter().enumerate() {
        let top = (n - i) as f64 - 0.1;
        let mid = (n - i) as f64 - 0.5;
        let bottom = (n - i - 1) as f64 + 0.1;
        chart
            .draw_series([
                Rectangle::new([(0.0, mid), (row.predicted, top)], predicted.filled()),
                Rectangle::new([(0.0, bottom), (row.median, mid)], measured.filled()),
            ])
            .map_err(err)?;
        // Whiskers: the runs' min–max on the measured bar, the prediction's range over the
        // nudged wake-ups on the predicted one (none when it does not move).
        let mut whiskers = vec![((bottom + mid) / 2.0, row.min, row.max)];
        let (low, high) = row.predicted_range;
        if high - low > 0.005 * row.predicted {
            whiskers.push(((mid + top) / 2.0, low, high));
        }
        chart
            .draw_series(
                whiskers
                    .into_iter()
                    .map(|(y, lo, hi)| PathElement::new([(lo, y), (hi, y)], BLACK.stroke_width(2))),
            )
            .map_err(err)?;
        let err_pct = (row.predicted - row.median) / row.median * 100.0;
        let right = row.predicted.max(row.max).max(high);
        let (px, py) = chart.backend_coord(&(right, mid));
        root.draw(&Text::new(
            format!("{err_pct:+.1}%"),
            (px + 8, py),
            text(14, HPos::Left, VPos::Center),
        ))
        .map_err(err)?;
        let (lx, ly) = chart.backend_coord(&(0.0, mid));
        root.draw(&Text::new(
            row.label.clone(),
            (lx - 10, ly),
            text(14, HPos::Right, VPos::Center),
        ))
        .map_err(err)?;
    }
    let predicted_label = format!(
        "predicted (line: wake-ups ±{:.0} %)",
        crate::validate::WAKEUP_NUDGE * 100.0
    );
    let entries = [
        (predicted_label.as_str(), predicted, Style::Line),
        (
            "measured median (line: min–max of the runs)",
            measured,
            Style::Line,
        ),
    ];
    for (i, (label, colour, style)) in entries.iter().enumerate() {
        legend_entry(
            &legend,
            (LABEL_AREA as i32 + 40 + 260 * i as i32, 20),
            *colour,
            *style,
            label,
        )?;
    }
    root.present().map_err(err)?;
    Ok(())
}
