//! The arithmetic behind the parity verdict, the accuracy table and the latency summary.
//!
//! A forecast is `values[t][c]` (future row `t`, channel `c`); "step" below means a forecast row.

use serde::Serialize;

/// How far two forecasts of the same shape are apart, per row and overall.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Comparison {
    pub per_step: Vec<StepDiff>,
    pub max_abs_diff: f64,
    pub mae: f64,
    /// Every value has the same bits in both (NaN only matches a NaN with the same bits).
    pub bit_identical: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StepDiff {
    pub step: usize,
    pub max_abs_diff: f64,
    pub mae: f64,
    pub bit_identical: bool,
}

/// Error of one forecast against the real future values.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Accuracy {
    pub mae: f64,
    /// Mean absolute percentage error over the points whose actual value is not zero;
    /// `None` when every actual value is zero.
    pub mape_percent: Option<f64>,
    /// How many points were left out of the MAPE because their actual value is zero.
    pub mape_skipped_zero_actuals: usize,
    pub per_step_mae: Vec<f64>,
}

/// The parity verdict: OK when no value differs by more than `atol`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Verdict {
    pub ok: bool,
    pub atol: f64,
    /// The first row with a difference above `atol` (or a NaN on one side only).
    pub first_diverging_step: Option<usize>,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct LatencyStats {
    pub samples: usize,
    pub median_us: f64,
    pub p10_us: f64,
    pub p90_us: f64,
    pub mean_us: f64,
}

#[derive(Debug, thiserror::Error, PartialEq)]
#[error("cannot compare forecasts of {a_rows}x{a_cols} and {b_rows}x{b_cols} values")]
pub struct ShapeMismatch {
    pub a_rows: usize,
    pub a_cols: usize,
    pub b_rows: usize,
    pub b_cols: usize,
}

fn check_shapes(a: &[Vec<f32>], b: &[Vec<f32>]) -> Result<(), ShapeMismatch> {
    let cols = |x: &[Vec<f32>]| x.first().map_or(0, Vec::len);
    let ragged = |x: &[Vec<f32>]| x.iter().any(|r| r.len() != cols(x));
    if a.len() != b.len() || cols(a) != cols(b) || ragged(a) || ragged(b) {
        return Err(ShapeMismatch { a_rows: a.len(), a_cols: cols(a), b_rows: b.len(), b_cols: cols(b) });
    }
    Ok(())
}

/// |a - b| with the convention that two NaNs with the same bits are equal and a NaN on one side is
/// an infinite difference (so it always fails the verdict).
fn abs_diff(a: f32, b: f32) -> f64 {
    if a.to_bits() == b.to_bits() {
        0.0
    } else if a.is_nan() || b.is_nan() {
        f64::INFINITY
    } else {
        (f64::from(a) - f64::from(b)).abs()
    }
}

pub fn compare(a: &[Vec<f32>], b: &[Vec<f32>]) -> Result<Comparison, ShapeMismatch> {
    check_shapes(a, b)?;
    let mut per_step = Vec::with_capacity(a.len());
    let (mut sum, mut count, mut max) = (0.0, 0usize, 0.0f64);
    for (step, (ra, rb)) in a.iter().zip(b).enumerate() {
        let diffs: Vec<f64> = ra.iter().zip(rb).map(|(&x, &y)| abs_diff(x, y)).collect();
        let row_max = diffs.iter().copied().fold(0.0, f64::max);
        let row_sum: f64 = diffs.iter().sum();
        per_step.push(StepDiff {
            step,
            max_abs_diff: row_max,
            mae: if diffs.is_empty() { 0.0 } else { row_sum / diffs.len() as f64 },
            bit_identical: ra.iter().zip(rb).all(|(x, y)| x.to_bits() == y.to_bits()),
        });
        sum += row_sum;
        count += diffs.len();
        max = max.max(row_max);
    }
    let bit_identical = per_step.iter().all(|s| s.bit_identical);
    Ok(Comparison {
        per_step,
        max_abs_diff: max,
        mae: if count == 0 { 0.0 } else { sum / count as f64 },
        bit_identical,
    })
}

pub fn verdict(cmp: &Comparison, atol: f64) -> Verdict {
    let first = cmp.per_step.iter().find(|s| s.max_abs_diff.is_nan() || s.max_abs_diff > atol).map(|s| s.step);
    Verdict { ok: first.is_none(), atol, first_diverging_step: first }
}

pub fn accuracy(forecast: &[Vec<f32>], actual: &[Vec<f32>]) -> Result<Accuracy, ShapeMismatch> {
    check_shapes(forecast, actual)?;
    let (mut abs_sum, mut n) = (0.0, 0usize);
    let (mut pct_sum, mut pct_n, mut skipped) = (0.0, 0usize, 0usize);
    let mut per_step_mae = Vec::with_capacity(forecast.len());
    for (rf, ra) in forecast.iter().zip(actual) {
        let mut row = 0.0;
        for (&f, &a) in rf.iter().zip(ra) {
            let err = (f64::from(f) - f64::from(a)).abs();
            row += err;
            if a == 0.0 {
                skipped += 1;
            } else {
                pct_sum += err / f64::from(a).abs();
                pct_n += 1;
            }
        }
        abs_sum += row;
        n += rf.len();
        per_step_mae.push(if rf.is_empty() { 0.0 } else { row / rf.len() as f64 });
    }
    Ok(Accuracy {
        mae: if n == 0 { 0.0 } else { abs_sum / n as f64 },
        mape_percent: (pct_n > 0).then(|| 100.0 * pct_sum / pct_n as f64),
        mape_skipped_zero_actuals: skipped,
        per_step_mae,
    })
}

/// The naive baseline: every future row repeats the last context row.
pub fn last_value_forecast(context: &[Vec<f32>], steps: usize) -> Vec<Vec<f32>> {
    let last = context.last().cloned().unwrap_or_default();
    vec![last; steps]
}

/// Percentiles by linear interpolation between the two nearest ranks (numpy's default).
pub fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let pos = q.clamp(0.0, 1.0) * (sorted.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64)
}

pub fn latency_stats(samples_us: &[f64]) -> Option<LatencyStats> {
    if samples_us.is_empty() {
        return None;
    }
    let mut s = samples_us.to_vec();
    s.sort_by(f64::total_cmp);
    Some(LatencyStats {
        samples: s.len(),
        median_us: percentile(&s, 0.5),
        p10_us: percentile(&s, 0.1),
        p90_us: percentile(&s, 0.9),
        mean_us: s.iter().sum::<f64>() / s.len() as f64,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identical_forecasts_are_bit_identical_with_zero_error() {
        let a = vec![vec![1.0, 2.0], vec![3.0, 4.0]];
        let c = compare(&a, &a).unwrap();
        assert!(c.bit_identical);
        assert_eq!((c.max_abs_diff, c.mae), (0.0, 0.0));
        assert!(verdict(&c, 0.0).ok);
    }

    #[test]
    fn the_verdict_names_the_first_row_over_atol() {
        let a = vec![vec![1.0, 2.0], vec![3.0, 4.0], vec![5.0, 6.0]];
        let b = vec![vec![1.0, 2.0], vec![3.0, 4.5], vec![5.25, 6.0]];
        let c = compare(&a, &b).unwrap();
        assert_eq!(c.max_abs_diff, 0.5);
        assert_eq!(c.mae, 0.75 / 6.0);
        assert_eq!(c.per_step[1].mae, 0.25);
        assert!(!c.bit_identical && c.per_step[0].bit_identical);
        assert_eq!(verdict(&c, 0.0).first_diverging_step, Some(1));
        // Within atol 0.3 only row 1 (0.5) still diverges; 0.5 passes all.
        assert_eq!(verdict(&c, 0.3).first_diverging_step, Some(1));
        assert!(verdict(&c, 0.5).ok);
    }

    #[test]
    fn nan_on_one_side_fails_any_atol_but_the_same_nan_matches() {
        let c = compare(&[vec![f32::NAN]], &[vec![1.0]]).unwrap();
        assert!(!verdict(&c, 1e9).ok);
        let c = compare(&[vec![f32::NAN]], &[vec![f32::NAN]]).unwrap();
        assert!(c.bit_identical && verdict(&c, 0.0).ok);
        // -0.0 and 0.0 are within atol 0 but not bit-identical.
        let c = compare(&[vec![-0.0]], &[vec![0.0]]).unwrap();
        assert!(verdict(&c, 0.0).ok && !c.bit_identical);
    }

    #[test]
    fn shapes_must_match() {
        let err = compare(&[vec![1.0]], &[vec![1.0, 2.0]]).unwrap_err();
        assert_eq!(err.to_string(), "cannot compare forecasts of 1x1 and 1x2 values");
        assert!(compare(&[vec![1.0], vec![1.0, 2.0]], &[vec![1.0], vec![1.0]]).is_err());
    }

    #[test]
    fn mae_and_mape_against_actuals_skip_zero_actuals_in_mape_only() {
        let f = vec![vec![11.0, 1.0], vec![18.0, 0.0]];
        let a = vec![vec![10.0, 0.0], vec![20.0, 0.0]];
        let acc = accuracy(&f, &a).unwrap();
        assert_eq!(acc.mae, (1.0 + 1.0 + 2.0 + 0.0) / 4.0);
        assert_eq!(acc.per_step_mae, vec![1.0, 1.0]);
        // (10% + 10%) / 2 over the two non-zero actuals.
        assert!((acc.mape_percent.unwrap() - 10.0).abs() < 1e-12);
        assert_eq!(acc.mape_skipped_zero_actuals, 2);
    }

    #[test]
    fn last_value_baseline_repeats_the_last_context_row() {
        let ctx = vec![vec![1.0, 2.0], vec![3.0, 4.0]];
        assert_eq!(last_value_forecast(&ctx, 3), vec![vec![3.0, 4.0]; 3]);
    }

    #[test]
    fn percentiles_interpolate_like_numpy() {
        let s: Vec<f64> = (1..=10).map(f64::from).collect();
        assert_eq!(percentile(&s, 0.5), 5.5);
        assert!((percentile(&s, 0.1) - 1.9).abs() < 1e-12);
        assert!((percentile(&s, 0.9) - 9.1).abs() < 1e-12);
        let st = latency_stats(&[3.0, 1.0, 2.0]).unwrap();
        assert_eq!((st.median_us, st.mean_us, st.samples), (2.0, 2.0, 3));
        assert!(latency_stats(&[]).is_none());
    }
}
