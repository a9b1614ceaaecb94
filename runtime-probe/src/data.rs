//! Input series: a CSV of timestamped numeric columns, split into the context the model sees and the
//! real future values its forecast is scored against.

use std::path::Path;

/// The real five-minute OHLCV bars shipped in `fixtures/data/` (see its README), embedded so that
/// `probe run` works from any directory and without `--data`.
pub const EMBEDDED_OHLCV: &str = include_str!("../../fixtures/data/ohlcv_5min.csv");

/// Column names accepted as the timestamp column (it is kept as text; models parse what they need).
const TIMESTAMP_COLUMNS: &[&str] = &["timestamps", "timestamp", "date", "datetime", "time"];

#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error("cannot read {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("{origin}: {message}")]
    Parse { origin: String, message: String },
    #[error("{origin} has no column `{column}` (it has: {available})")]
    MissingColumn { origin: String, column: String, available: String },
    #[error(
        "{origin} has {rows} rows, but --context {context} plus --steps {steps} needs {needed}: \
         lower --context or --steps"
    )]
    TooShort { origin: String, rows: usize, context: usize, steps: usize, needed: usize },
}

/// A parsed CSV: one optional timestamp column and numeric value columns.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// Where it came from (a path, or `embedded:ohlcv_5min.csv`), for messages and the report.
    pub origin: String,
    pub timestamps: Option<Vec<String>>,
    pub columns: Vec<String>,
    /// `rows[r][c]`: the value of column `c` in data row `r`.
    pub rows: Vec<Vec<f32>>,
}

/// The slice of a series that one forecast uses: the last `context + steps` rows, of the columns a
/// model reads.
#[derive(Debug, Clone, PartialEq)]
pub struct Window {
    pub origin: String,
    pub channels: Vec<String>,
    /// Timestamps of the context rows followed by the future rows, when the CSV has them.
    pub timestamps: Option<Vec<String>>,
    /// `context[t][c]`: what the model sees.
    pub context: Vec<Vec<f32>>,
    /// `future[t][c]`: the real values that follow, never shown to the model.
    pub future: Vec<Vec<f32>>,
}

impl Series {
    /// The embedded sample data.
    pub fn embedded() -> Self {
        Self::parse_csv(EMBEDDED_OHLCV, "embedded:ohlcv_5min.csv").expect("the embedded CSV parses")
    }

    /// `--data PATH`, or the embedded sample when `None`.
    pub fn load(path: Option<&Path>) -> Result<Self, DataError> {
        let Some(path) = path else { return Ok(Self::embedded()) };
        let text = std::fs::read_to_string(path)
            .map_err(|source| DataError::Read { path: path.display().to_string(), source })?;
        Self::parse_csv(&text, &path.display().to_string())
    }

    /// Parses a header line and comma-separated rows. Quoted fields are not supported (numeric data
    /// has none); a bad cell is reported with its line and column.
    pub fn parse_csv(text: &str, origin: &str) -> Result<Self, DataError> {
        let parse_err = |line: usize, message: String| DataError::Parse {
            origin: origin.to_string(),
            message: format!("line {line}: {message}"),
        };
        let mut lines = text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty());
        let Some((header_idx, header)) = lines.next() else {
            return Err(DataError::Parse { origin: origin.into(), message: "the file is empty".into() });
        };
        if header.contains('"') {
            return Err(parse_err(header_idx + 1, "quoted fields are not supported".into()));
        }
        let names: Vec<String> = header.split(',').map(|s| s.trim().to_string()).collect();
        let ts_col = names.iter().position(|n| TIMESTAMP_COLUMNS.contains(&n.to_lowercase().as_str()));
        let columns: Vec<String> =
            names.iter().enumerate().filter(|(i, _)| Some(*i) != ts_col).map(|(_, n)| n.clone()).collect();
        if columns.is_empty() {
            return Err(parse_err(header_idx + 1, "no value columns in the header".into()));
        }
        let mut timestamps = ts_col.map(|_| Vec::new());
        let mut rows = Vec::new();
        for (idx, line) in lines {
            let cells: Vec<&str> = line.split(',').map(str::trim).collect();
            if cells.len() != names.len() {
                return Err(parse_err(idx + 1, format!("{} fields, the header has {}", cells.len(), names.len())));
            }
            let mut row = Vec::with_capacity(columns.len());
            for (c, cell) in cells.iter().enumerate() {
                if Some(c) == ts_col {
                    timestamps.as_mut().expect("set with ts_col").push(cell.to_string());
                    continue;
                }
                let value: f32 = cell
                    .parse()
                    .map_err(|_| parse_err(idx + 1, format!("column `{}`: `{cell}` is not a number", names[c])))?;
                row.push(value);
            }
            rows.push(row);
        }
        if rows.is_empty() {
            return Err(DataError::Parse { origin: origin.into(), message: "no data rows".into() });
        }
        Ok(Self { origin: origin.to_string(), timestamps, columns, rows })
    }

    /// The last `context + steps` rows of `channels` (all columns when empty).
    pub fn window(&self, channels: &[&str], context: usize, steps: usize) -> Result<Window, DataError> {
        let wanted: Vec<&str> =
            if channels.is_empty() { self.columns.iter().map(String::as_str).collect() } else { channels.to_vec() };
        let idx = wanted
            .iter()
            .map(|name| {
                self.columns.iter().position(|c| c == name).ok_or_else(|| DataError::MissingColumn {
                    origin: self.origin.clone(),
                    column: name.to_string(),
                    available: self.columns.join(", "),
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let needed = context + steps;
        if needed > self.rows.len() {
            return Err(DataError::TooShort {
                origin: self.origin.clone(),
                rows: self.rows.len(),
                context,
                steps,
                needed,
            });
        }
        let start = self.rows.len() - needed;
        let pick = |r: &Vec<f32>| idx.iter().map(|&i| r[i]).collect::<Vec<f32>>();
        Ok(Window {
            origin: self.origin.clone(),
            channels: wanted.iter().map(|s| s.to_string()).collect(),
            timestamps: self.timestamps.as_ref().map(|t| t[start..].to_vec()),
            context: self.rows[start..start + context].iter().map(pick).collect(),
            future: self.rows[start + context..].iter().map(pick).collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_sample_has_the_documented_columns_and_rows() {
        let s = Series::embedded();
        assert_eq!(s.columns, ["open", "high", "low", "close", "volume", "amount"]);
        assert_eq!(s.rows.len(), 2500);
        assert_eq!(s.timestamps.as_ref().unwrap()[0], "2024-06-18 11:15:00");
        assert_eq!(s.rows[0], [11.27, 11.28, 11.26, 11.27, 379.0, 427161.0]);
    }

    #[test]
    fn window_takes_the_last_rows_and_keeps_the_future_apart() {
        let s = Series::parse_csv("timestamps,a,b\n1,1,10\n2,2,20\n3,3,30\n4,4,40\n", "mem").unwrap();
        let w = s.window(&["b"], 2, 1).unwrap();
        assert_eq!(w.context, vec![vec![20.0], vec![30.0]]);
        assert_eq!(w.future, vec![vec![40.0]]);
        assert_eq!(w.timestamps.unwrap(), ["2", "3", "4"]);
    }

    #[test]
    fn errors_name_the_line_the_column_and_the_fix() {
        let e = Series::parse_csv("a,b\n1,2\n3,x\n", "f.csv").unwrap_err().to_string();
        assert_eq!(e, "f.csv: line 3: column `b`: `x` is not a number");
        let e = Series::parse_csv("a,b\n1\n", "f.csv").unwrap_err().to_string();
        assert_eq!(e, "f.csv: line 2: 1 fields, the header has 2");
        let s = Series::parse_csv("a\n1\n2\n", "f.csv").unwrap();
        assert!(s.window(&["close"], 1, 1).unwrap_err().to_string().contains("no column `close`"));
        let e = s.window(&[], 2, 1).unwrap_err().to_string();
        assert!(e.contains("needs 3"), "{e}");
    }
}
