//! Where things are, in the protocol's terms: `file:` URIs to paths and back, and positions as
//! LSP counts them (0-based lines, columns in UTF-16 code units) to byte offsets and back.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use lsp_types::{Position, Range, Uri};

use crate::source::{LineIndex, Location};

/// The local path a `file:` URI names; `None` for other schemes (`untitled:`, remote files).
pub fn uri_to_path(uri: &Uri) -> Option<PathBuf> {
    let rest = uri.as_str().strip_prefix("file://")?;
    // `file:///a` and `file://localhost/a` both name `/a`; another host is not a local file.
    let path = match rest.find('/') {
        Some(0) => rest,
        Some(at) if rest[..at].eq_ignore_ascii_case("localhost") => &rest[at..],
        _ => return None,
    };
    let path = path.split(['?', '#']).next().unwrap_or(path);
    let bytes = percent_decode(path)?;
    // A Windows URI spells `C:\a` as `/C:/a`.
    #[cfg(windows)]
    let bytes = match bytes.as_slice() {
        [b'/', drive, b':', ..] if drive.is_ascii_alphabetic() => bytes[1..].to_vec(),
        _ => bytes,
    };
    Some(path_from_bytes(bytes))
}

/// The `file:` URI of an absolute path.
pub fn path_to_uri(path: &Path) -> Uri {
    let mut text = String::from("file://");
    let bytes = path_bytes(path);
    if !bytes.starts_with(b"/") {
        text.push('/');
    }
    for &byte in &bytes {
        let keep = byte.is_ascii_alphanumeric() || b"-._~/".contains(&byte) || (cfg!(windows) && byte == b':');
        if keep {
            text.push(byte as char);
        } else if cfg!(windows) && byte == b'\\' {
            text.push('/');
        } else {
            text.push_str(&format!("%{byte:02X}"));
        }
    }
    Uri::from_str(&text).expect("a percent-encoded file URI parses")
}

fn percent_decode(text: &str) -> Option<Vec<u8>> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut at = 0;
    while at < bytes.len() {
        if bytes[at] == b'%' {
            let hex = std::str::from_utf8(bytes.get(at + 1..at + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            at += 3;
        } else {
            out.push(bytes[at]);
            at += 1;
        }
    }
    Some(out)
}

#[cfg(unix)]
fn path_from_bytes(bytes: Vec<u8>) -> PathBuf {
    use std::os::unix::ffi::OsStringExt;
    PathBuf::from(std::ffi::OsString::from_vec(bytes))
}

#[cfg(not(unix))]
fn path_from_bytes(bytes: Vec<u8>) -> PathBuf {
    PathBuf::from(String::from_utf8_lossy(&bytes).into_owned())
}

#[cfg(unix)]
fn path_bytes(path: &Path) -> Vec<u8> {
    use std::os::unix::ffi::OsStrExt;
    path.as_os_str().as_bytes().to_vec()
}

#[cfg(not(unix))]
fn path_bytes(path: &Path) -> Vec<u8> {
    path.to_string_lossy().as_bytes().to_vec()
}

/// A document's text with its line starts, to turn LSP positions into byte offsets and back.
pub struct Text<'a> {
    pub text: &'a str,
    lines: LineIndex,
}

impl<'a> Text<'a> {
    pub fn new(text: &'a str) -> Self {
        Text { text, lines: LineIndex::new(text) }
    }

    /// The LSP position of a byte offset (clamped to the text, and to a character boundary).
    pub fn position(&self, offset: usize) -> Position {
        let mut offset = offset.min(self.text.len());
        while !self.text.is_char_boundary(offset) {
            offset -= 1;
        }
        let row = self.lines.row(offset);
        let line = self.lines.line_range(self.text, row);
        let start = line.start.min(offset);
        let character = self.text[start..offset].encode_utf16().count();
        Position { line: row - 1, character: character as u32 }
    }

    /// The LSP position of graphlint's 1-based row and character column.
    pub fn position_of(&self, location: Location) -> Position {
        let row = location.row.max(1);
        let line = &self.text[self.lines.line_range(self.text, row)];
        let character: usize = line.chars().take(location.column.saturating_sub(1) as usize).map(char::len_utf16).sum();
        Position { line: row - 1, character: character as u32 }
    }

    /// The byte range of a 1-based row, without its line break.
    pub fn line_range(&self, row: u32) -> std::ops::Range<usize> {
        self.lines.line_range(self.text, row)
    }

    /// The smallest single edit that turns this text into `new`: the range it replaces and the
    /// text it puts there.
    pub fn edit_to(&self, new: &str) -> (Range, String) {
        let old = self.text.as_bytes();
        let new_bytes = new.as_bytes();
        let mut prefix = old.iter().zip(new_bytes).take_while(|(a, b)| a == b).count();
        while !(self.text.is_char_boundary(prefix) && new.is_char_boundary(prefix)) {
            prefix -= 1;
        }
        let room = old.len().min(new_bytes.len()) - prefix;
        let mut suffix = old.iter().rev().zip(new_bytes.iter().rev()).take(room).take_while(|(a, b)| a == b).count();
        while !(self.text.is_char_boundary(old.len() - suffix) && new.is_char_boundary(new_bytes.len() - suffix)) {
            suffix -= 1;
        }
        let range = Range { start: self.position(prefix), end: self.position(old.len() - suffix) };
        (range, new[prefix..new_bytes.len() - suffix].to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_round_trip_through_paths() {
        let path = Path::new("/tmp/a dir/ç%.py");
        let uri = path_to_uri(path);
        assert_eq!(uri.as_str(), "file:///tmp/a%20dir/%C3%A7%25.py");
        assert_eq!(uri_to_path(&uri).as_deref(), Some(path));
        let localhost = Uri::from_str("file://localhost/x/y.py").unwrap();
        assert_eq!(uri_to_path(&localhost), Some(PathBuf::from("/x/y.py")));
        assert_eq!(uri_to_path(&Uri::from_str("untitled:Untitled-1").unwrap()), None);
        assert_eq!(uri_to_path(&Uri::from_str("file://host/x.py").unwrap()), None);
    }

    #[test]
    fn positions_count_utf16_units() {
        // '𝔵' is four bytes and two UTF-16 units; 'é' two bytes and one unit.
        let text = Text::new("é𝔵 = t.item()\nx\n");
        // `item` starts after 7 characters, 8 UTF-16 units.
        let item = "é𝔵 = t.".len();
        assert_eq!(text.position(item), Position { line: 0, character: 8 });
        assert_eq!(text.position_of(Location { row: 1, column: 8 }), Position { line: 0, character: 8 });
        assert_eq!(text.position(text.text.len()), Position { line: 2, character: 0 });
    }

    #[test]
    fn the_edit_is_the_changed_part_only() {
        let text = Text::new("a = 1\nb = t.item()\n");
        let (range, insert) = text.edit_to("a = 1\nb = t.item()  # graphlint: ignore[GL201]\n");
        assert_eq!(
            range,
            Range { start: Position { line: 1, character: 12 }, end: Position { line: 1, character: 12 } }
        );
        assert_eq!(insert, "  # graphlint: ignore[GL201]");
    }
}
