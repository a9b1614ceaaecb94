//! Kronos' input: calendar features and the per-series normalisation of upstream's
//! `KronosPredictor.predict`, reproduced in f32 with numpy's summation order. The candles come
//! from [`crate::data`]'s reader.

use crate::data::{OhlcvFrame, Timestamp};
use crate::Error;

/// The probe names Kronos' forecast channels by these.
pub use crate::data::COLUMNS;

/// Upstream's clip of normalised values.
pub const DEFAULT_CLIP: f32 = 5.0;

/// The five calendar features upstream feeds the temporal embedding, in its column order:
/// minute, hour, weekday, day, month.
pub fn time_features(t: &Timestamp) -> [f32; 5] {
    [t.minute as f32, t.hour as f32, t.weekday() as f32, t.day as f32, t.month as f32]
}

/// Per-column mean and population std of a context, as upstream's `np.mean` / `np.std(axis=0)`
/// on its float32 array.
///
/// That array comes from a pandas frame read from CSV, whose `.values` are column-major, so numpy
/// reduces each column as one contiguous run with its pairwise summation. Reproducing that order
/// gives bitwise-equal statistics; a plain row-by-row sum is off by an ulp, which the division by
/// a small std (prices move by cents) magnifies to ~2e-5 in the normalised input.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Normalizer {
    pub mean: [f32; 6],
    pub std: [f32; 6],
}

/// numpy's `pairwise_sum` for float32: 8 running sums below 128 elements, halving above.
fn numpy_pairwise_sum(a: &[f32]) -> f32 {
    let n = a.len();
    if n < 8 {
        a.iter().fold(0f32, |acc, &v| acc + v)
    } else if n <= 128 {
        let mut r: [f32; 8] = std::array::from_fn(|j| a[j]);
        let whole = n - n % 8;
        for block in a[8..whole].chunks_exact(8) {
            for j in 0..8 {
                r[j] += block[j];
            }
        }
        let mut res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        for &v in &a[whole..] {
            res += v;
        }
        res
    } else {
        let half = n / 2;
        let half = half - half % 8;
        numpy_pairwise_sum(&a[..half]) + numpy_pairwise_sum(&a[half..])
    }
}

impl Normalizer {
    pub fn fit(rows: &[[f32; 6]]) -> Self {
        let n = rows.len() as f32;
        let column = |c: usize| rows.iter().map(|r| r[c]).collect::<Vec<f32>>();
        let mean: [f32; 6] = std::array::from_fn(|c| numpy_pairwise_sum(&column(c)) / n);
        let std = std::array::from_fn(|c| {
            let squares: Vec<f32> = column(c).iter().map(|v| (v - mean[c]) * (v - mean[c])).collect();
            (numpy_pairwise_sum(&squares) / n).sqrt()
        });
        Self { mean, std }
    }

    fn denominator(&self, c: usize) -> f32 {
        self.std[c] + 1e-5
    }

    /// `clip((x - mean) / (std + 1e-5), ±clip)`.
    pub fn normalize(&self, rows: &[[f32; 6]], clip: f32) -> Vec<[f32; 6]> {
        rows.iter()
            .map(|r| std::array::from_fn(|c| ((r[c] - self.mean[c]) / self.denominator(c)).clamp(-clip, clip)))
            .collect()
    }

    /// `x * (std + 1e-5) + mean`.
    pub fn denormalize(&self, row: &[f32; 6]) -> [f32; 6] {
        std::array::from_fn(|c| row[c] * self.denominator(c) + self.mean[c])
    }
}

/// One series ready for the model: normalised context, its calendar features and those of the
/// steps to forecast.
#[derive(Debug, Clone, PartialEq)]
pub struct ForecastInput {
    pub normalizer: Normalizer,
    /// `[context_len]` normalised, clipped candles.
    pub x: Vec<[f32; 6]>,
    pub x_stamp: Vec<[f32; 5]>,
    pub y_stamp: Vec<[f32; 5]>,
    pub y_timestamps: Vec<Timestamp>,
}

impl ForecastInput {
    pub fn new(context: &OhlcvFrame, future: &[Timestamp], clip: f32) -> Self {
        let normalizer = Normalizer::fit(&context.rows);
        Self {
            x: normalizer.normalize(&context.rows, clip),
            x_stamp: context.timestamps.iter().map(time_features).collect(),
            y_stamp: future.iter().map(time_features).collect(),
            y_timestamps: future.to_vec(),
            normalizer,
        }
    }

    /// Context rows `start..start + context_len` of `frame`; the next `pred_len` rows' timestamps are
    /// the steps to forecast (their values stay unseen, for scoring).
    pub fn from_frame(frame: &OhlcvFrame, start: usize, context_len: usize, pred_len: usize) -> Result<Self, Error> {
        if context_len == 0 || pred_len == 0 || start + context_len + pred_len > frame.len() {
            return Err(Error::Invalid {
                origin: "forecast window".into(),
                msg: format!(
                    "rows {start}..{} (context {context_len} + forecast {pred_len}) do not fit the {} rows of data, or a length is 0",
                    start + context_len + pred_len,
                    frame.len()
                ),
            });
        }
        let future = &frame.timestamps[start + context_len..start + context_len + pred_len];
        Ok(Self::new(&frame.slice(start, context_len), future, DEFAULT_CLIP))
    }

    /// From rows already parsed by the caller: `context` rows of the six columns in [`COLUMNS`]
    /// order, and the timestamps of the context rows followed by those of the steps to forecast.
    pub fn from_rows<R: AsRef<[f32]>, S: AsRef<str>>(
        context: &[R],
        timestamps: &[S],
        clip: f32,
    ) -> Result<Self, Error> {
        let invalid = |msg: String| Error::Invalid { origin: "forecast input".into(), msg };
        if timestamps.len() <= context.len() {
            return Err(invalid(format!(
                "{} timestamps for {} context rows: Kronos needs the timestamps of the context and of every step to forecast",
                timestamps.len(),
                context.len()
            )));
        }
        let rows = context
            .iter()
            .enumerate()
            .map(|(i, r)| {
                <[f32; 6]>::try_from(r.as_ref()).map_err(|_| {
                    invalid(format!(
                        "context row {i} has {} values, expected 6 ({})",
                        r.as_ref().len(),
                        COLUMNS.join(", ")
                    ))
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let stamps = timestamps.iter().map(|t| Timestamp::parse(t.as_ref())).collect::<Result<Vec<_>, _>>()?;
        let (past, future) = stamps.split_at(rows.len());
        Ok(Self::new(&OhlcvFrame { timestamps: past.to_vec(), rows }, future, clip))
    }

    pub fn context_len(&self) -> usize {
        self.x.len()
    }

    pub fn pred_len(&self) -> usize {
        self.y_stamp.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairwise_sum_follows_numpy_blocking() {
        // Exact small integers: any order gives the same sum, so this checks coverage of all items.
        for n in [0usize, 1, 7, 8, 9, 64, 127, 128, 129, 300, 1000] {
            let a: Vec<f32> = (0..n).map(|i| (i % 17) as f32).collect();
            assert_eq!(numpy_pairwise_sum(&a), a.iter().sum::<f32>(), "n={n}");
        }
        // Order matters here: a running total stays at 2^24 (each +1 rounds away); numpy's 8 lanes
        // lose only the 1 added to lane 0 and sum the other lanes' pairs: 2^24 + 14.
        let mut a = vec![1.0f32; 16];
        a[0] = 16_777_216.0;
        assert_eq!(a.iter().fold(0f32, |s, v| s + v), 16_777_216.0);
        assert_eq!(numpy_pairwise_sum(&a), 16_777_230.0);
    }

    #[test]
    fn from_rows_matches_from_frame_and_checks_its_input() {
        let frame = OhlcvFrame::embedded();
        let rows: Vec<Vec<f32>> = frame.rows[5..25].iter().map(|r| r.to_vec()).collect();
        let stamps: Vec<String> = frame.timestamps[5..30].iter().map(|t| t.to_string()).collect();
        let a = ForecastInput::from_rows(&rows, &stamps, DEFAULT_CLIP).unwrap();
        assert_eq!(a, ForecastInput::from_frame(&frame, 5, 20, 5).unwrap());
        assert!(ForecastInput::from_rows(&rows, &stamps[..20], DEFAULT_CLIP).is_err(), "no future stamps");
        let short = vec![vec![1.0f32; 4]; 20];
        let err = ForecastInput::from_rows(&short, &stamps, DEFAULT_CLIP).unwrap_err().to_string();
        assert!(err.contains("row 0 has 4 values"), "{err}");
    }

    #[test]
    fn normalize_roundtrips_and_clips() {
        let rows: Vec<[f32; 6]> =
            (0..10).map(|i| [i as f32, 1.0, 2.0, 3.0, if i == 9 { 1e6 } else { 0.0 }, 5.0]).collect();
        let n = Normalizer::fit(&rows);
        let x = n.normalize(&rows, 5.0);
        assert!(x.iter().all(|r| r.iter().all(|v| v.abs() <= 5.0)));
        let back = n.denormalize(&x[3]);
        assert!((back[0] - 3.0).abs() < 1e-5);
        assert_eq!(x[0][1], 0.0, "a constant column normalises to 0");
    }
}
