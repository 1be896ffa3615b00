//! The PNG chart: throughput and p99 latency per scenario, one bar per broker.
//! plotters renders text with ab_glyph from a TTF file loaded at run time
//! (DejaVu Sans from Debian's fonts-dejavu-core), so no system font library is
//! linked; without a font the bars are drawn without labels.

use super::brokers::find_program;
use super::report::{Outcome, Row};
use anyhow::{anyhow, Context};
use plotters::prelude::*;
use plotters::style::{register_font, FontStyle};
use std::path::{Path, PathBuf};
use std::process::Command;

const DEJAVU: &str = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf";

/// The font to label the chart with, installing fonts-dejavu-core if allowed.
pub fn ensure_font(explicit: Option<&Path>, no_install: bool) -> Option<PathBuf> {
    if let Some(p) = explicit {
        return Some(p.to_path_buf());
    }
    if Path::new(DEJAVU).is_file() {
        return Some(DEJAVU.into());
    }
    if no_install || find_program("apt-get").is_none() {
        eprintln!("compare: no font at {DEJAVU}; the chart will have no labels");
        return None;
    }
    eprintln!("compare: installing fonts-dejavu-core for the chart's labels");
    let ok = Command::new("apt-get")
        .args(["install", "-y", "fonts-dejavu-core"])
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    (ok && Path::new(DEJAVU).is_file()).then(|| DEJAVU.into())
}

/// Picks one figure of a row.
type Metric = fn(&Row) -> Option<f64>;

const COLORS: [RGBColor; 4] = [
    RGBColor(214, 96, 34),
    RGBColor(60, 110, 180),
    RGBColor(90, 160, 90),
    RGBColor(150, 100, 170),
];

/// Draws two panels (msgs/s, p99 latency in ms) of grouped bars into `path`.
pub fn draw(rows: &[Row], path: &Path, font: Option<&Path>) -> anyhow::Result<()> {
    let labels = match font {
        Some(f) => {
            let bytes = std::fs::read(f).with_context(|| format!("read font {}", f.display()))?;
            let leaked: &'static [u8] = Box::leak(bytes.into_boxed_slice());
            register_font("sans-serif", FontStyle::Normal, leaked)
                .map_err(|_| anyhow!("{} is not a usable TTF", f.display()))?;
            true
        }
        None => false,
    };
    let mut scenarios: Vec<&str> = Vec::new();
    let mut brokers: Vec<&str> = Vec::new();
    // The idle-connection scenario has no traffic to chart.
    for r in rows.iter().filter(|r| r.scenario != "idle-conns") {
        if !scenarios.contains(&r.scenario.as_str()) {
            scenarios.push(&r.scenario);
        }
        if !brokers.contains(&r.broker.as_str()) {
            brokers.push(&r.broker);
        }
    }
    let value = |b: &str, s: &str, f: fn(&Row) -> Option<f64>| {
        rows.iter()
            .find(|r| r.broker == b && r.scenario == s && !matches!(r.outcome, Outcome::Failed(_)))
            .and_then(f)
    };
    let root = BitMapBackend::new(path, (1100, 760)).into_drawing_area();
    root.fill(&WHITE)?;
    let panels = root.split_evenly((2, 1));
    let metrics: [(&str, Metric); 2] = [
        ("delivered msgs/s (higher is better)", |r| r.msgs_per_s),
        ("p99 latency, ms (lower is better)", |r| {
            r.p99_us.map(|v| v as f64 / 1000.0)
        }),
    ];
    for (panel, (title, f)) in panels.iter().zip(metrics) {
        let max = scenarios
            .iter()
            .flat_map(|s| brokers.iter().filter_map(move |b| value(b, s, f)))
            .fold(0.0f64, f64::max)
            .max(1e-9)
            * 1.15;
        let mut builder = ChartBuilder::on(panel);
        builder.margin(12);
        if labels {
            builder
                .caption(title, ("sans-serif", 20))
                .x_label_area_size(28)
                .y_label_area_size(70);
        }
        let n = scenarios.len().max(1) as f64;
        let mut chart = builder.build_cartesian_2d(0.0..n, 0.0..max)?;
        if labels {
            let names = scenarios.clone();
            chart
                .configure_mesh()
                .disable_x_mesh()
                .x_labels(scenarios.len() * 2 + 1)
                .x_label_formatter(&|x: &f64| {
                    let i = x.floor() as usize;
                    if (x - x.floor() - 0.5).abs() < 0.01 && i < names.len() {
                        names[i].to_string()
                    } else {
                        String::new()
                    }
                })
                .y_label_formatter(&|y: &f64| {
                    if max > 10_000.0 {
                        format!("{:.0}k", y / 1000.0)
                    } else if max > 10.0 {
                        format!("{y:.0}")
                    } else {
                        format!("{y:.1}")
                    }
                })
                .label_style(("sans-serif", 13))
                .draw()?;
        }
        let width = 0.8 / brokers.len().max(1) as f64;
        for (bi, b) in brokers.iter().enumerate() {
            let color = COLORS[bi % COLORS.len()];
            let bars = scenarios.iter().enumerate().filter_map(|(si, s)| {
                let v = value(b, s, f)?;
                let x0 = si as f64 + 0.1 + bi as f64 * width;
                Some(Rectangle::new(
                    [(x0, 0.0), (x0 + width * 0.92, v)],
                    color.filled(),
                ))
            });
            let series = chart.draw_series(bars)?;
            if labels {
                series.label(*b).legend(move |(x, y)| {
                    Rectangle::new([(x, y - 5), (x + 12, y + 5)], color.filled())
                });
            }
        }
        if labels {
            chart
                .configure_series_labels()
                .position(SeriesLabelPosition::UpperRight)
                .background_style(WHITE.mix(0.85))
                .border_style(BLACK)
                .label_font(("sans-serif", 14))
                .draw()?;
        }
    }
    root.present()?;
    Ok(())
}
