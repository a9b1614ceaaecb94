//! Source files: which language a path holds, and byte offsets to 1-based rows and character
//! columns.

use std::path::{Path, PathBuf};

/// The languages graphlint has a frontend for, told apart by file extension. The one language
/// type: source files, rules (`None` there for the meta rules) and suppression comments use it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Language {
    Python,
    Rust,
}

impl Language {
    pub fn from_path(path: &Path) -> Option<Language> {
        match path.extension()?.to_str()? {
            "py" | "pyi" => Some(Language::Python),
            "rs" => Some(Language::Rust),
            _ => None,
        }
    }

    /// How a line comment starts.
    pub fn comment_marker(self) -> &'static str {
        match self {
            Language::Python => "#",
            Language::Rust => "//",
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Language::Python => "python",
            Language::Rust => "rust",
        }
    }
}

/// Whether a Python path is a type stub (`.pyi`), which ruff's parser reads in stub mode.
pub fn is_python_stub(path: &Path) -> bool {
    path.extension().is_some_and(|e| e == "pyi")
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct SourceFile {
    pub path: PathBuf,
    pub language: Language,
}

/// A 1-based line and 1-based column (in characters), as ruff reports them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Location {
    pub row: u32,
    pub column: u32,
}

/// The start offset of every line of a source text.
pub struct LineIndex {
    line_starts: Vec<u32>,
}

impl LineIndex {
    pub fn new(text: &str) -> Self {
        let mut line_starts = Vec::with_capacity(text.len() / 32 + 1);
        line_starts.push(0);
        for offset in memchr::memchr_iter(b'\n', text.as_bytes()) {
            line_starts.push(offset as u32 + 1);
        }
        LineIndex { line_starts }
    }

    /// The 1-based row of a byte offset.
    pub fn row(&self, offset: usize) -> u32 {
        match self.line_starts.binary_search(&(offset as u32)) {
            Ok(line) => line as u32 + 1,
            Err(next) => next as u32,
        }
    }

    /// 1-based row and column (columns count characters, as ruff's JSON does).
    pub fn location(&self, text: &str, offset: usize) -> Location {
        let offset = offset.min(text.len());
        let row = self.row(offset);
        let line_start = self.line_starts[row as usize - 1] as usize;
        let column = text.get(line_start..offset).map_or(offset - line_start, |s| s.chars().count());
        Location { row, column: column as u32 + 1 }
    }

    /// The byte range of a 1-based row, without its line break.
    pub fn line_range(&self, text: &str, row: u32) -> std::ops::Range<usize> {
        let start = self.line_starts.get(row as usize - 1).map_or(text.len(), |&s| s as usize);
        let end = self.line_starts.get(row as usize).map_or(text.len(), |&s| s as usize);
        let line = &text[start..end];
        start..start + line.trim_end_matches(['\n', '\r']).len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_and_columns() {
        let text = "ab\nçd\n\nx";
        let index = LineIndex::new(text);
        assert_eq!(index.location(text, 0), Location { row: 1, column: 1 });
        assert_eq!(index.location(text, 3), Location { row: 2, column: 1 });
        // 'd' sits after a two-byte character: column 2, not 3.
        assert_eq!(index.location(text, 5), Location { row: 2, column: 2 });
        assert_eq!(index.location(text, 7), Location { row: 3, column: 1 });
        assert_eq!(index.location(text, 8), Location { row: 4, column: 1 });
        assert_eq!(index.line_range(text, 2), 3..6);
    }
}
