//! `--plot out.svg`: per channel, the end of the context, the actual future values, and the eager
//! and graph forecasts (the graph line is dashed: with parity it lies exactly on the eager one).

use std::path::Path;

use plotters::prelude::*;

use crate::data::Window;
use crate::error::ProbeError;
use crate::phases::report::ForecastSection;

/// Context rows shown before the forecast: enough to see the trend, not so many that the
/// forecast is a sliver.
fn context_shown(steps: usize, context: usize) -> usize {
    (3 * steps).max(32).min(context)
}

pub fn write_svg(path: &Path, window: &Window, f: &ForecastSection, title: &str) -> Result<(), ProbeError> {
    let channels = f.channels.len();
    let steps = f.actual.len();
    let shown = context_shown(steps, window.context.len());
    let root = SVGBackend::new(path, (960, 260 * channels.max(1) as u32)).into_drawing_area();
    let err = |e: &dyn std::fmt::Display| ProbeError::Output {
        path: path.display().to_string(),
        message: format!("{}: {e}", path.display()),
    };
    root.fill(&WHITE).map_err(|e| err(&e))?;
    let panels = root.split_evenly((channels.max(1), 1));
    for (c, panel) in panels.iter().enumerate() {
        let col = |rows: &[Vec<f32>]| rows.iter().map(|r| r[c]).collect::<Vec<f32>>();
        let ctx = col(&window.context[window.context.len() - shown..]);
        let series: Vec<(&str, Vec<f32>)> = [
            Some(("actual", col(&f.actual))),
            Some(("eager", col(&f.eager))),
            f.graph.as_ref().map(|g| ("graph", col(g))),
            f.eager_rerun.as_ref().filter(|_| f.graph.is_none()).map(|r| ("eager rerun", col(r))),
        ]
        .into_iter()
        .flatten()
        .collect();
        let all = ctx.iter().chain(series.iter().flat_map(|(_, v)| v.iter())).filter(|v| v.is_finite());
        let (lo, hi) = all.fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), &v| (lo.min(v), hi.max(v)));
        let (lo, hi) = if lo < hi { (lo, hi) } else { (lo - 1.0, lo + 1.0) };
        let pad = (hi - lo) * 0.05;
        let caption = if c == 0 { format!("{title}: {}", f.channels[c]) } else { f.channels[c].clone() };
        let mut chart = ChartBuilder::on(panel)
            .caption(caption, ("sans-serif", 16))
            .margin(8)
            .x_label_area_size(36)
            .y_label_area_size(64)
            .build_cartesian_2d(-(shown as i64)..steps as i64, (lo - pad)..(hi + pad))
            .map_err(|e| err(&e))?;
        chart.configure_mesh().x_desc("rows (0 = first forecast row)").draw().map_err(|e| err(&e))?;
        let line =
            |v: &[f32], start: i64| v.iter().enumerate().map(move |(i, &y)| (start + i as i64, y)).collect::<Vec<_>>();
        chart
            .draw_series(LineSeries::new(line(&ctx, -(shown as i64)), RGBColor(120, 120, 120)))
            .map_err(|e| err(&e))?
            .label("context")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], RGBColor(120, 120, 120)));
        for (name, values) in &series {
            let color = match *name {
                "actual" => BLACK,
                "eager" => RGBColor(31, 119, 180),
                _ => RGBColor(255, 127, 14),
            };
            let points = line(values, 0);
            let style = color.stroke_width(if *name == "eager" { 3 } else { 1 });
            let drawn = if *name == "eager" || *name == "actual" {
                chart.draw_series(LineSeries::new(points, style)).map_err(|e| err(&e))?
            } else {
                chart.draw_series(DashedLineSeries::new(points, 6, 4, style)).map_err(|e| err(&e))?
            };
            drawn.label(*name).legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], color));
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .position(SeriesLabelPosition::UpperLeft)
            .draw()
            .map_err(|e| err(&e))?;
    }
    root.present().map_err(|e| err(&e))
}
