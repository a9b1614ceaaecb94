//! Source files: which language a path holds, unsaved texts that stand in for files on disk
//! ([`Overlay`]), and byte offsets to 1-based rows and character columns.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

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

/// Sorts `files` as `files.sort()` does (by path, component by component, then by language), with
/// each path's components encoded once: `Path`'s own comparison walks both paths' components at
/// every step, which made the sort of a large tree's files a sizeable part of a warm run.
pub fn sort_files(files: &mut [SourceFile]) {
    /// The bytes whose order is the component-wise order of `path`'s: each component as a tag
    /// in `Component`'s own order and its bytes, joined by 0 (which no component holds). `None`
    /// for a path with a Windows prefix (compared as a `Path`).
    fn key(path: &Path) -> Option<Vec<u8>> {
        let mut key = Vec::with_capacity(path.as_os_str().len() + 8);
        for (index, component) in path.components().enumerate() {
            if index > 0 {
                key.push(0);
            }
            match component {
                std::path::Component::Prefix(_) => return None,
                std::path::Component::RootDir => key.push(1),
                std::path::Component::CurDir => key.push(2),
                std::path::Component::ParentDir => key.push(3),
                std::path::Component::Normal(name) => {
                    key.push(4);
                    key.extend_from_slice(name.as_encoded_bytes());
                }
            }
        }
        Some(key)
    }
    if files.iter().all(|file| key(&file.path).is_some()) {
        files.sort_by_cached_key(|file| (key(&file.path), file.language));
    } else {
        files.sort();
    }
}

/// Unsaved texts that replace files on disk for one run: what an editor holds in its buffers,
/// or what `graphlint -` reads from stdin.
///
/// Every place that reads a source file goes through [`Overlay::read`] (the frontends, the
/// unused-suppression rule, the code frames of the `full` output), so a text in the overlay is
/// analysed, reported and shown as if the file held it. A path in the overlay need not exist on
/// disk: the engine checks it as a file named on the command line.
///
/// How to use it: build one, insert each unsaved document under its path, and hand it to
/// `engine::check` through `RunOptions::overlay` (shared, so that a long-lived caller such as a
/// language server can keep one per version of its documents without copying the texts):
///
/// ```
/// use std::path::Path;
/// use std::sync::Arc;
/// use graphlint::source::Overlay;
///
/// let mut overlay = Overlay::default();
/// overlay.insert(Path::new("pkg/model.py"), "def forward(self, x):\n    return x.item()\n");
/// assert!(overlay.get(Path::new("./pkg/model.py")).is_some());
/// let options = graphlint::engine::RunOptions { overlay: Some(Arc::new(overlay)), ..Default::default() };
/// # let _ = options;
/// ```
///
/// Paths are keyed by [`crate::paths::absolute`] (lexical: `.` and `..` resolved against the
/// working directory, symlinks left alone), so `pkg/model.py` and `./pkg/../pkg/model.py` name
/// the same entry. Texts are UTF-8 by construction: a caller with bytes that are not UTF-8 must
/// refuse them (the CLI does, for stdin).
#[derive(Debug, Clone, Default)]
pub struct Overlay {
    texts: BTreeMap<PathBuf, Arc<str>>,
}

impl Overlay {
    /// Sets the text of `path` (relative to the working directory, or absolute), replacing any
    /// text it had in the overlay.
    pub fn insert(&mut self, path: &Path, text: impl Into<Arc<str>>) {
        self.texts.insert(crate::paths::absolute(path), text.into());
    }

    /// Drops the text of `path`: the file on disk is read again.
    pub fn remove(&mut self, path: &Path) -> Option<Arc<str>> {
        self.texts.remove(&crate::paths::absolute(path))
    }

    /// The unsaved text of `path`, if the overlay has one.
    pub fn get(&self, path: &Path) -> Option<&Arc<str>> {
        if self.texts.is_empty() {
            return None;
        }
        self.texts.get(&crate::paths::absolute(path))
    }

    /// Whether the overlay has a text for `path`.
    pub fn contains(&self, path: &Path) -> bool {
        self.get(path).is_some()
    }

    /// The paths with an unsaved text (absolute, sorted).
    pub fn paths(&self) -> impl Iterator<Item = &Path> {
        self.texts.keys().map(PathBuf::as_path)
    }

    pub fn len(&self) -> usize {
        self.texts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.texts.is_empty()
    }

    /// The bytes of `path`: its unsaved text from `overlay` when there is one, else the file on
    /// disk. The one way graphlint reads a source file.
    pub fn read<'a>(overlay: Option<&'a Overlay>, path: &Path) -> std::io::Result<Cow<'a, [u8]>> {
        match overlay.and_then(|o| o.get(path)) {
            Some(text) => Ok(Cow::Borrowed(text.as_bytes())),
            None => std::fs::read(path).map(Cow::Owned),
        }
    }
}

/// Pushes the offset after each newline of `bytes`, sixteen bytes at a time: a source line is
/// some 40 bytes, too short for `memchr_iter`, whose every step sets up a search again (it took
/// 1.7 times the instructions of this loop; every file and every re-check builds an index).
#[cfg(target_arch = "x86_64")]
fn push_line_starts(bytes: &[u8], line_starts: &mut Vec<u32>) {
    use std::arch::x86_64::{_mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_set1_epi8};
    let mut chunks = bytes.chunks_exact(16);
    let mut start = 0u32;
    for chunk in &mut chunks {
        // SAFETY: SSE2 is part of the x86_64 baseline, and the load reads the chunk's 16 bytes
        // (unaligned loads are allowed).
        let mut newlines = unsafe {
            let word = _mm_loadu_si128(chunk.as_ptr().cast());
            _mm_movemask_epi8(_mm_cmpeq_epi8(word, _mm_set1_epi8(b'\n' as i8))) as u32
        };
        while newlines != 0 {
            line_starts.push(start + newlines.trailing_zeros() + 1);
            newlines &= newlines - 1;
        }
        start += 16;
    }
    for (offset, &byte) in chunks.remainder().iter().enumerate() {
        if byte == b'\n' {
            line_starts.push(start + offset as u32 + 1);
        }
    }
}

#[cfg(not(target_arch = "x86_64"))]
fn push_line_starts(bytes: &[u8], line_starts: &mut Vec<u32>) {
    line_starts.extend(memchr::memchr_iter(b'\n', bytes).map(|offset| offset as u32 + 1));
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
        push_line_starts(text.as_bytes(), &mut line_starts);
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
    fn sort_files_orders_as_path_does() {
        // Byte order and component order differ where a separator meets a byte below or above
        // it (`a-b` < `a/` < `a0` in bytes; `a` < `a-b` as components).
        let paths = [
            "a/b.py",
            "a-b/c.py",
            "a/b/c.py",
            "a0/x.py",
            "a.py",
            "a",
            "ab/c.py",
            "./a/b.py",
            "/x/y.py",
            "/x-y/z.py",
            "/x/y/z.py",
            "../up.py",
            "a/./b.py",
            "a//b.py",
            "a/b.py/",
            "Z/a.py",
            "é/a.py",
            "a/b.rs",
        ];
        let mut files: Vec<SourceFile> = paths
            .iter()
            .flat_map(|path| {
                [Language::Rust, Language::Python].map(|language| SourceFile { path: PathBuf::from(path), language })
            })
            .collect();
        let mut expected = files.clone();
        expected.sort();
        sort_files(&mut files);
        assert_eq!(files, expected);
    }

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

    /// Every line start, wherever a newline falls in the sixteen-byte blocks the index reads
    /// (runs of them, at a word's ends, in the tail), and next to bytes one bit away from `\n`
    /// and to multi-byte characters.
    #[test]
    fn line_starts_are_found_at_every_position() {
        let pieces = ["\n", "\n\n", "a", "bc", "\x0b", "\x08", "\u{8a}", "é", "\u{20ac}", "        ", "\r\n"];
        let mut state = 7u64;
        for length in 0..300 {
            let mut text = String::new();
            while text.len() < length {
                state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                text.push_str(pieces[(state >> 33) as usize % pieces.len()]);
            }
            let expected: Vec<u32> =
                std::iter::once(0).chain(text.match_indices('\n').map(|(at, _)| at as u32 + 1)).collect();
            assert_eq!(LineIndex::new(&text).line_starts, expected, "{text:?}");
        }
    }

    #[test]
    fn overlay_texts_replace_the_disk_by_absolute_path() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.py");
        std::fs::write(&path, "on disk\n").unwrap();
        let mut overlay = Overlay::default();
        assert_eq!(&*Overlay::read(Some(&overlay), &path).unwrap(), b"on disk\n");
        overlay.insert(&dir.path().join("sub/../m.py"), "unsaved\n");
        assert_eq!(&*Overlay::read(Some(&overlay), &path).unwrap(), b"unsaved\n");
        assert_eq!(&*Overlay::read(None, &path).unwrap(), b"on disk\n");
        // A path only in the overlay reads; one in neither is the disk's error.
        overlay.insert(&dir.path().join("new.py"), "x = 1\n");
        assert_eq!(&*Overlay::read(Some(&overlay), &dir.path().join("new.py")).unwrap(), b"x = 1\n");
        assert!(Overlay::read(Some(&overlay), &dir.path().join("gone.py")).is_err());
        assert_eq!(overlay.paths().count(), 2);
        assert!(overlay.remove(&path).is_some());
        assert_eq!(&*Overlay::read(Some(&overlay), &path).unwrap(), b"on disk\n");
    }
}
