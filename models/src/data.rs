//! The one CSV reader of the workspace: a [`Table`] of numeric columns with an optional
//! timestamp column (what the runtime probe reads), and the [`OhlcvFrame`] of candles both ports
//! forecast, built from it.

use std::path::Path;

use crate::Error;

/// 2,500 real five-minute bars (MIT, from Kronos' tests; see `fixtures/data/README.md`),
/// embedded so that examples, benchmarks and `probe run` work from any directory.
pub const EMBEDDED_OHLCV: &str = include_str!("../../fixtures/data/ohlcv_5min.csv");

/// The origin that messages give for [`EMBEDDED_OHLCV`].
const EMBEDDED_ORIGIN: &str = "embedded:ohlcv_5min.csv";

/// Header names taken as the timestamp column, in any case.
const TIMESTAMP_COLUMNS: [&str; 5] = ["timestamps", "timestamp", "date", "datetime", "time"];

/// The value columns of an [`OhlcvFrame`] row, in order (Kronos' input order).
pub const COLUMNS: [&str; 6] = ["open", "high", "low", "close", "volume", "amount"];

/// A parsed CSV: a header, at most one timestamp column (kept as text) and numeric columns.
///
/// Every data line has as many fields as the header; a field may be wrapped in double quotes
/// (quoted commas are not supported). Values are parsed as f64, as pandas reads them upstream,
/// so that rounding them to f32 later gives upstream's `astype(np.float32)` values.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    /// Where it came from (a path, or `embedded:ohlcv_5min.csv`), for messages.
    pub origin: String,
    /// The value columns' names as written, the timestamp column left out.
    pub columns: Vec<String>,
    /// The timestamp column's cells, when the header has one.
    pub timestamps: Option<Vec<String>>,
    /// `rows[r][c]`: column `c` of data row `r`.
    pub rows: Vec<Vec<f64>>,
    /// The file line of each data row (from 1, header included), for messages.
    pub lines: Vec<usize>,
}

fn unquote(field: &str) -> &str {
    field.trim().trim_matches('"')
}

impl Table {
    /// The embedded sample data ([`EMBEDDED_OHLCV`]).
    pub fn embedded() -> Self {
        Self::parse(EMBEDDED_OHLCV, EMBEDDED_ORIGIN).expect("the embedded CSV parses (tested)")
    }

    pub fn read(path: &Path) -> Result<Self, Error> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::Io { path: path.to_path_buf(), source })?;
        Self::parse(&text, &path.display().to_string())
    }

    /// Parses CSV text; an error names `origin`, the line and the column.
    pub fn parse(text: &str, origin: &str) -> Result<Self, Error> {
        let csv_err = |line: usize, msg: String| Error::Csv { origin: origin.to_string(), line, msg };
        let mut lines = text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()).map(|(i, l)| (i + 1, l));
        let Some((header_line, header)) = lines.next() else {
            return Err(Error::Invalid { origin: origin.into(), msg: "the file is empty".into() });
        };
        let names: Vec<&str> = header.split(',').map(unquote).collect();
        let ts_col = names.iter().position(|n| TIMESTAMP_COLUMNS.iter().any(|t| t.eq_ignore_ascii_case(n)));
        let columns: Vec<String> =
            names.iter().enumerate().filter(|&(i, _)| Some(i) != ts_col).map(|(_, n)| n.to_string()).collect();
        if columns.is_empty() {
            return Err(csv_err(header_line, "no value columns in the header".into()));
        }
        let mut table = Table {
            origin: origin.to_string(),
            columns,
            timestamps: ts_col.map(|_| Vec::new()),
            rows: Vec::new(),
            lines: Vec::new(),
        };
        for (line, text) in lines {
            let cells: Vec<&str> = text.split(',').map(unquote).collect();
            if cells.len() != names.len() {
                return Err(csv_err(line, format!("{} fields, the header has {}", cells.len(), names.len())));
            }
            let mut row = Vec::with_capacity(table.columns.len());
            for (c, cell) in cells.iter().enumerate() {
                if Some(c) == ts_col {
                    table.timestamps.as_mut().expect("set with ts_col").push(cell.to_string());
                    continue;
                }
                let value = cell
                    .parse()
                    .map_err(|_| csv_err(line, format!("column `{}`: `{cell}` is not a number", names[c])))?;
                row.push(value);
            }
            table.rows.push(row);
            table.lines.push(line);
        }
        if table.rows.is_empty() {
            return Err(Error::Invalid { origin: origin.into(), msg: "no data rows".into() });
        }
        Ok(table)
    }

    /// The index of value column `name` in [`Self::columns`], matched case-insensitively.
    pub fn column(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c.eq_ignore_ascii_case(name))
    }
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
    pub fn parse(s: &str) -> Result<Self, Error> {
        let s = s.trim();
        let err = |msg: String| Error::Timestamp { text: s.to_string(), msg };
        let (date, time) = match s.split_once([' ', 'T']) {
            Some((d, t)) => (d, t.trim()),
            None => (s, ""),
        };
        let num = |part: &str, what: &str| part.parse::<u32>().map_err(|_| err(format!("bad {what} `{part}`")));
        let mut d = date.splitn(3, '-');
        let (Some(y), Some(mo), Some(dd)) = (d.next(), d.next(), d.next()) else {
            return Err(err("expected YYYY-MM-DD".into()));
        };
        let year = y.parse::<i32>().map_err(|_| err(format!("bad year `{y}`")))?;
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
            return Err(err("out of range".into()));
        }
        Ok(ts)
    }

    /// Monday = 0 … Sunday = 6, as pandas' `dt.weekday`.
    pub fn weekday(&self) -> u32 {
        // 1970-01-01 was a Thursday (3).
        (days_from_civil(self.year, self.month, self.day) + 3).rem_euclid(7) as u32
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
    /// The [`COLUMNS`]: open, high, low, close, volume, amount.
    pub rows: Vec<[f32; 6]>,
}

impl OhlcvFrame {
    /// The embedded real data (2,500 five-minute bars from 2024-06-18 11:15).
    pub fn embedded() -> Self {
        Self::from_table(&Table::embedded()).expect("the embedded CSV parses (tested)")
    }

    pub fn from_csv_path(path: impl AsRef<Path>) -> Result<Self, Error> {
        Self::from_table(&Table::read(path.as_ref())?)
    }

    pub fn from_csv_str(text: &str, origin: &str) -> Result<Self, Error> {
        Self::from_table(&Table::parse(text, origin)?)
    }

    /// Takes a table with a timestamp column, `open`, `high`, `low`, `close` and optionally
    /// `volume` and `amount`, timestamps strictly increasing and no NaN. As Kronos' `predict`: a
    /// missing volume makes volume and amount 0; a missing amount becomes volume × mean(open,
    /// high, low, close), computed in f64 before the rounding to f32.
    pub fn from_table(table: &Table) -> Result<Self, Error> {
        let invalid = |msg: String| Error::Invalid { origin: table.origin.clone(), msg };
        let stamps =
            table.timestamps.as_ref().ok_or_else(|| invalid("no timestamps column (expected `timestamps`)".into()))?;
        let price_cols = ["open", "high", "low", "close"]
            .iter()
            .map(|c| table.column(c).ok_or_else(|| invalid(format!("no `{c}` column"))))
            .collect::<Result<Vec<_>, _>>()?;
        let (vol_col, amt_col) = (table.column("volume"), table.column("amount"));

        let mut frame =
            OhlcvFrame { timestamps: Vec::with_capacity(stamps.len()), rows: Vec::with_capacity(stamps.len()) };
        for ((row, stamp), &line) in table.rows.iter().zip(stamps).zip(&table.lines) {
            let csv_err = |msg: String| Error::Csv { origin: table.origin.clone(), line, msg };
            let value = |col: usize| {
                let v = row[col];
                if v.is_nan() {
                    return Err(csv_err(format!("`{}` is NaN", table.columns[col])));
                }
                Ok(v)
            };
            let ts = Timestamp::parse(stamp).map_err(|e| csv_err(e.to_string()))?;
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
                    return Err(csv_err(format!("timestamp {ts} does not follow {prev}")));
                }
            }
            frame.timestamps.push(ts);
            frame.rows.push([p[0] as f32, p[1] as f32, p[2] as f32, p[3] as f32, volume as f32, amount as f32]);
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
        let t = Table::embedded();
        assert_eq!(t.columns, COLUMNS);
        assert_eq!(t.rows.len(), 2500);
        assert_eq!(t.timestamps.as_ref().unwrap()[0], "2024-06-18 11:15:00");
        let f = OhlcvFrame::embedded();
        assert_eq!(f.len(), 2500);
        assert_eq!(f.timestamps[0].to_string(), "2024-06-18 11:15:00");
        assert_eq!(f.rows[0], [11.27, 11.28, 11.26, 11.27, 379.0, 427161.0]);
    }

    #[test]
    fn errors_name_the_line_and_the_column() {
        let err = Table::parse("a,b\n1,2\n\n3,x\n", "f.csv").unwrap_err().to_string();
        assert_eq!(err, "f.csv: line 4: column `b`: `x` is not a number");
        let err = Table::parse("a,b\n1\n", "f.csv").unwrap_err().to_string();
        assert_eq!(err, "f.csv: line 2: 1 fields, the header has 2");
        let err = Table::parse("timestamps\n1\n", "f.csv").unwrap_err().to_string();
        assert_eq!(err, "f.csv: line 1: no value columns in the header");
        assert_eq!(Table::parse("\n\n", "f.csv").unwrap_err().to_string(), "f.csv: the file is empty");
        assert_eq!(Table::parse("a\n", "f.csv").unwrap_err().to_string(), "f.csv: no data rows");
    }

    #[test]
    fn headers_match_in_any_case_and_quotes_are_stripped() {
        let t = Table::parse("\"Date\",\"Open\"\n\"2024-01-01\",\"1.5\"\n", "q").unwrap();
        assert_eq!(t.timestamps, Some(vec!["2024-01-01".to_string()]));
        assert_eq!((t.columns.clone(), t.rows.clone()), (vec!["Open".to_string()], vec![vec![1.5]]));
        assert_eq!(t.column("open"), Some(0));
        assert_eq!(t.column("close"), None);
    }

    #[test]
    fn frame_errors_name_the_line() {
        let err =
            OhlcvFrame::from_csv_str("timestamps,open,high,low,close\n2024-01-01,1,2,x,1\n", "t.csv").unwrap_err();
        assert_eq!(err.to_string(), "t.csv: line 2: column `low`: `x` is not a number");
        let err = OhlcvFrame::from_csv_str("timestamps,open,high,low\n2024-01-01,1,2,3\n", "t.csv").unwrap_err();
        assert!(err.to_string().contains("no `close` column"), "{err}");
        let text = "timestamps,open,high,low,close\n2024-01-02,1,2,3,4\n2024-01-01,1,2,3,4\n";
        let err = OhlcvFrame::from_csv_str(text, "t.csv").unwrap_err().to_string();
        assert_eq!(err, "t.csv: line 3: timestamp 2024-01-01 00:00:00 does not follow 2024-01-02 00:00:00");
        let err = OhlcvFrame::from_csv_str("timestamps,open,high,low,close\n2024-01-01,1,NaN,3,4\n", "t.csv");
        assert_eq!(err.unwrap_err().to_string(), "t.csv: line 2: `high` is NaN");
        let err = OhlcvFrame::from_csv_str("timestamps,open,high,low,close\n2024-13-01,1,2,3,4\n", "t.csv");
        assert_eq!(err.unwrap_err().to_string(), "t.csv: line 2: bad timestamp `2024-13-01`: out of range");
    }

    #[test]
    fn missing_volume_and_amount_follow_upstream() {
        let f =
            OhlcvFrame::from_csv_str("timestamps,open,high,low,close,volume\n2024-01-01,1,2,3,4,10\n", "t").unwrap();
        assert_eq!(f.rows[0][5], 25.0);
        let f = OhlcvFrame::from_csv_str("timestamps,open,high,low,close\n2024-01-01,1,2,3,4\n", "t").unwrap();
        assert_eq!(&f.rows[0][4..], &[0.0, 0.0]);
    }
}
