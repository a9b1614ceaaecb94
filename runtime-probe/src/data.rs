//! Input series: a CSV read by [`models::data::Table`] (the reader both ports use), split into the
//! context the model sees and the real future values its forecast is scored against.

use std::path::Path;

use models::data::Table;

#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error(transparent)]
    Csv(#[from] models::Error),
    #[error("{origin} has no column `{column}` (it has: {available})")]
    MissingColumn { origin: String, column: String, available: String },
    #[error(
        "{origin} has {rows} rows, but --context {context} plus --steps {steps} needs {needed}: \
         lower --context or --steps"
    )]
    TooShort { origin: String, rows: usize, context: usize, steps: usize, needed: usize },
}

/// A parsed CSV: `--data PATH` or the embedded real five-minute OHLCV bars.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub table: Table,
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
        Self { table: Table::embedded() }
    }

    /// `--data PATH`, or the embedded sample when `None`.
    pub fn load(path: Option<&Path>) -> Result<Self, DataError> {
        let Some(path) = path else { return Ok(Self::embedded()) };
        Ok(Self { table: Table::read(path)? })
    }

    pub fn parse_csv(text: &str, origin: &str) -> Result<Self, DataError> {
        Ok(Self { table: Table::parse(text, origin)? })
    }

    /// The last `context + steps` rows of `channels` (all columns when empty).
    pub fn window(&self, channels: &[&str], context: usize, steps: usize) -> Result<Window, DataError> {
        let t = &self.table;
        let wanted: Vec<&str> =
            if channels.is_empty() { t.columns.iter().map(String::as_str).collect() } else { channels.to_vec() };
        let idx = wanted
            .iter()
            .map(|name| {
                t.column(name).ok_or_else(|| DataError::MissingColumn {
                    origin: t.origin.clone(),
                    column: name.to_string(),
                    available: t.columns.join(", "),
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let needed = context + steps;
        if needed > t.rows.len() {
            return Err(DataError::TooShort { origin: t.origin.clone(), rows: t.rows.len(), context, steps, needed });
        }
        let start = t.rows.len() - needed;
        // The models run in f32; the table keeps what the CSV says (f64, as pandas reads it).
        let pick = |r: &Vec<f64>| idx.iter().map(|&i| r[i] as f32).collect::<Vec<f32>>();
        Ok(Window {
            origin: t.origin.clone(),
            channels: wanted.iter().map(|s| s.to_string()).collect(),
            timestamps: t.timestamps.as_ref().map(|ts| ts[start..].to_vec()),
            context: t.rows[start..start + context].iter().map(pick).collect(),
            future: t.rows[start + context..].iter().map(pick).collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_sample_has_the_documented_columns_and_rows() {
        let s = Series::embedded().table;
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
