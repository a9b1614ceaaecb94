//! OHLCV input: CSV parsing, calendar features, and the per-series normalisation of upstream's
//! `KronosPredictor.predict`, reproduced in f32 with numpy's summation order.

use std::path::Path;

/// Value columns, in the order the model reads them.
pub const COLUMNS: [&str; 6] = ["open", "high", "low", "close", "volume", "amount"];

/// Upstream's clip of normalised values.
pub const DEFAULT_CLIP: f32 = 5.0;

/// 2,500 real five-minute bars (MIT, from upstream's tests; see `fixtures/data/README.md`).
const EMBEDDED_CSV: &str = include_str!("../../../fixtures/data/ohlcv_5min.csv");

#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error("cannot read {path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("{origin}:{line}: {msg}")]
    Parse { origin: String, line: usize, msg: String },
    #[error("{origin}: {msg}")]
    Invalid { origin: String, msg: String },
}

/// A wall-clock timestamp as written in the data (no time zone).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp {
    pub year: i32,
    pub month: u32,
    pub day: u32,
    pub hour: u32,
    pub minute: u32,
    pub second: u32,
}

impl Timestamp {
    /// Parses `YYYY-MM-DD`, `YYYY-MM-DD HH:MM` or `YYYY-MM-DD HH:MM:SS` (a `T` may replace the space).
    pub fn parse(s: &str) -> Result<Self, String> {
        let s = s.trim();
        let (date, time) = match s.split_once([' ', 'T']) {
            Some((d, t)) => (d, t.trim()),
            None => (s, ""),
        };
        let num =
            |part: &str, what: &str| part.parse::<u32>().map_err(|_| format!("bad {what} `{part}` in timestamp `{s}`"));
        let mut d = date.splitn(3, '-');
        let (Some(y), Some(mo), Some(dd)) = (d.next(), d.next(), d.next()) else {
            return Err(format!("expected YYYY-MM-DD in timestamp `{s}`"));
        };
        let year = y.parse::<i32>().map_err(|_| format!("bad year `{y}` in timestamp `{s}`"))?;
        let (month, day) = (num(mo, "month")?, num(dd, "day")?);
        let mut t = time.split(':');
        let mut field = |what| t.next().filter(|p| !p.is_empty()).map(|p| num(p, what)).transpose();
        let (hour, minute) = (field("hour")?.unwrap_or(0), field("minute")?.unwrap_or(0));
        // Fractional seconds are dropped; only the minute enters the model.
        let second = t.next().map(|p| num(p.split('.').next().unwrap_or(p), "second")).transpose()?.unwrap_or(0);
        let ts = Timestamp { year, month, day, hour, minute, second };
        if !(1..=12).contains(&month)
            || day == 0
            || day > days_in_month(year, month)
            || hour > 23
            || minute > 59
            || second > 60
        {
            return Err(format!("timestamp `{s}` is out of range"));
        }
        Ok(ts)
    }

    /// Monday = 0 … Sunday = 6, as pandas' `dt.weekday`.
    pub fn weekday(&self) -> u32 {
        // 1970-01-01 was a Thursday (3).
        (days_from_civil(self.year, self.month, self.day) + 3).rem_euclid(7) as u32
    }

    /// The five calendar features upstream feeds the temporal embedding, in its column order:
    /// minute, hour, weekday, day, month.
    pub fn time_features(&self) -> [f32; 5] {
        [self.minute as f32, self.hour as f32, self.weekday() as f32, self.day as f32, self.month as f32]
    }
}

impl std::fmt::Display for Timestamp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
            self.year, self.month, self.day, self.hour, self.minute, self.second
        )
    }
}

fn is_leap(y: i32) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i32, m: u32) -> u32 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 in the proleptic Gregorian calendar (H. Hinnant's algorithm).
fn days_from_civil(y: i32, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y as i64 - 1 } else { y as i64 };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m as i64 + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Candles with their timestamps, in time order.
#[derive(Debug, Clone, PartialEq)]
pub struct OhlcvFrame {
    pub timestamps: Vec<Timestamp>,
    /// open, high, low, close, volume, amount.
    pub rows: Vec<[f32; 6]>,
}

impl OhlcvFrame {
    /// The embedded real data (2,500 five-minute bars from 2024-06-18 11:15).
    pub fn embedded() -> Self {
        Self::from_csv_str(EMBEDDED_CSV, "embedded ohlcv_5min.csv").expect("the embedded CSV parses (tested)")
    }

    pub fn from_csv_path(path: impl AsRef<Path>) -> Result<Self, DataError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path)
            .map_err(|source| DataError::Io { path: path.display().to_string(), source })?;
        Self::from_csv_str(&text, &path.display().to_string())
    }

    /// Reads a CSV with a header naming `timestamps` (or `timestamp`/`date`), `open`, `high`, `low`,
    /// `close` and optionally `volume` and `amount`. As upstream's `predict`: a missing volume
    /// makes volume and amount 0; a missing amount becomes volume × mean(open, high, low, close).
    pub fn from_csv_str(text: &str, origin: &str) -> Result<Self, DataError> {
        let parse_err = |line: usize, msg: String| DataError::Parse { origin: origin.to_string(), line, msg };
        let mut lines = text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty());
        let (_, header) =
            lines.next().ok_or_else(|| DataError::Invalid { origin: origin.into(), msg: "empty file".into() })?;
        let names: Vec<String> = header.split(',').map(|h| h.trim().trim_matches('"').to_ascii_lowercase()).collect();
        let find = |cands: &[&str]| names.iter().position(|n| cands.contains(&n.as_str()));
        let ts_col = find(&["timestamps", "timestamp", "date", "datetime", "time"])
            .ok_or_else(|| parse_err(1, "no timestamps column (expected `timestamps`)".into()))?;
        let price_cols = ["open", "high", "low", "close"]
            .iter()
            .map(|c| find(&[c]).ok_or_else(|| parse_err(1, format!("no `{c}` column"))))
            .collect::<Result<Vec<_>, _>>()?;
        let (vol_col, amt_col) = (find(&["volume"]), find(&["amount"]));

        let mut frame = OhlcvFrame { timestamps: Vec::new(), rows: Vec::new() };
        for (idx, line) in lines {
            let lineno = idx + 1;
            let fields: Vec<&str> = line.split(',').map(|f| f.trim().trim_matches('"')).collect();
            let get = |col: usize| {
                fields.get(col).copied().ok_or_else(|| {
                    parse_err(lineno, format!("expected {} fields, found {}", names.len(), fields.len()))
                })
            };
            let value = |col: usize| -> Result<f64, DataError> {
                let f = get(col)?;
                let v: f64 =
                    f.parse().map_err(|_| parse_err(lineno, format!("`{}` is not a number: `{f}`", names[col])))?;
                if v.is_nan() {
                    return Err(parse_err(lineno, format!("`{}` is NaN", names[col])));
                }
                Ok(v)
            };
            let ts = Timestamp::parse(get(ts_col)?).map_err(|m| parse_err(lineno, m))?;
            let p = [value(price_cols[0])?, value(price_cols[1])?, value(price_cols[2])?, value(price_cols[3])?];
            let (volume, amount) = match (vol_col, amt_col) {
                (None, _) => (0.0, 0.0),
                (Some(v), Some(a)) => (value(v)?, value(a)?),
                (Some(v), None) => {
                    let volume = value(v)?;
                    (volume, volume * (p[0] + p[1] + p[2] + p[3]) / 4.0)
                }
            };
            if let Some(prev) = frame.timestamps.last() {
                if ts <= *prev {
                    return Err(parse_err(lineno, format!("timestamp {ts} does not follow {prev}")));
                }
            }
            frame.timestamps.push(ts);
            frame.rows.push([p[0] as f32, p[1] as f32, p[2] as f32, p[3] as f32, volume as f32, amount as f32]);
        }
        if frame.rows.is_empty() {
            return Err(DataError::Invalid { origin: origin.into(), msg: "no data rows".into() });
        }
        Ok(frame)
    }

    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Rows `start..start + len`.
    pub fn slice(&self, start: usize, len: usize) -> OhlcvFrame {
        OhlcvFrame {
            timestamps: self.timestamps[start..start + len].to_vec(),
            rows: self.rows[start..start + len].to_vec(),
        }
    }
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
            x_stamp: context.timestamps.iter().map(Timestamp::time_features).collect(),
            y_stamp: future.iter().map(Timestamp::time_features).collect(),
            y_timestamps: future.to_vec(),
            normalizer,
        }
    }

    /// Context rows `start..start + context_len` of `frame`; the next `pred_len` rows' timestamps are
    /// the steps to forecast (their values stay unseen, for scoring).
    pub fn from_frame(
        frame: &OhlcvFrame,
        start: usize,
        context_len: usize,
        pred_len: usize,
    ) -> Result<Self, DataError> {
        if context_len == 0 || pred_len == 0 || start + context_len + pred_len > frame.len() {
            return Err(DataError::Invalid {
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
    ) -> Result<Self, DataError> {
        let invalid = |msg: String| DataError::Invalid { origin: "forecast input".into(), msg };
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
        let stamps =
            timestamps.iter().map(|t| Timestamp::parse(t.as_ref()).map_err(invalid)).collect::<Result<Vec<_>, _>>()?;
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
    fn weekday_matches_the_calendar() {
        // 2024-06-18 was a Tuesday; 2000-02-29 a Tuesday; 1970-01-01 a Thursday.
        assert_eq!(Timestamp::parse("2024-06-18 11:15:00").unwrap().weekday(), 1);
        assert_eq!(Timestamp::parse("2000-02-29").unwrap().weekday(), 1);
        assert_eq!(Timestamp::parse("1970-01-01T00:00").unwrap().weekday(), 3);
        assert_eq!(Timestamp::parse("2024-06-23 00:00").unwrap().weekday(), 6);
    }

    #[test]
    fn bad_timestamps_are_rejected() {
        for bad in ["2024-13-01", "2023-02-29", "2024-06-18 24:00", "yesterday", "2024-06"] {
            assert!(Timestamp::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn embedded_data_parses() {
        let f = OhlcvFrame::embedded();
        assert_eq!(f.len(), 2500);
        assert_eq!(f.timestamps[0].to_string(), "2024-06-18 11:15:00");
        assert_eq!(f.rows[0], [11.27, 11.28, 11.26, 11.27, 379.0, 427161.0]);
    }

    #[test]
    fn csv_errors_name_the_line() {
        let err =
            OhlcvFrame::from_csv_str("timestamps,open,high,low,close\n2024-01-01,1,2,x,1\n", "t.csv").unwrap_err();
        assert_eq!(err.to_string(), "t.csv:2: `low` is not a number: `x`");
        let err = OhlcvFrame::from_csv_str("timestamps,open,high,low\n", "t.csv").unwrap_err();
        assert!(err.to_string().contains("no `close` column"), "{err}");
    }

    #[test]
    fn missing_volume_and_amount_follow_upstream() {
        let f =
            OhlcvFrame::from_csv_str("timestamps,open,high,low,close,volume\n2024-01-01,1,2,3,4,10\n", "t").unwrap();
        assert_eq!(f.rows[0][5], 25.0);
        let f = OhlcvFrame::from_csv_str("timestamps,open,high,low,close\n2024-01-01,1,2,3,4\n", "t").unwrap();
        assert_eq!(&f.rows[0][4..], &[0.0, 0.0]);
    }

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
