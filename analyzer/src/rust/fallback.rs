//! Valid Rust that our parser cannot read (nightly syntax, mostly): the file is still checked,
//! without the smallest items or statements that hold what the parser stopped at.
//!
//! `syn` has read the file, so its tree says where each item and statement starts and ends. The
//! one that holds the failure is blanked out (spaces, newlines kept, so every byte offset and row
//! of the rest stays the same) and our parser tries again, as often as it needs. Only the blanked
//! code goes unchecked; the rest of the file is analysed as usual.

use std::ops::Range;

use syn::spanned::Spanned;

use super::parser;

/// Each try parses the whole file again: once this many bytes have been parsed again (about a
/// second), the rest of the file from the top-level item that holds the failure is blanked in
/// one go, so that a file full of syntax we do not read costs a bounded time, not an exit 2.
const REPARSE_BUDGET: usize = 64 << 20;

/// `source` with the code that our parser cannot read blanked out, and the byte ranges blanked;
/// `None` if no item or statement of `tree` holds the failure (a bug of ours, then). `tree`'s spans
/// count from `shebang` bytes in, past the shebang line that `syn` strips.
pub(super) fn blank_unreadable(
    source: &str,
    tree: &syn::File,
    shebang: usize,
    failed_at: usize,
) -> Option<(String, Vec<Range<usize>>)> {
    blank_within(source, tree, shebang, failed_at, REPARSE_BUDGET)
}

fn blank_within(
    source: &str,
    tree: &syn::File,
    shebang: usize,
    mut failed_at: usize,
    budget: usize,
) -> Option<(String, Vec<Range<usize>>)> {
    let mut ranges = Vec::new();
    for attr in &tree.attrs {
        ranges.push(attr.span().byte_range());
    }
    for item in &tree.items {
        item_ranges(item, &mut ranges);
    }
    for range in &mut ranges {
        *range = range.start + shebang..range.end + shebang;
    }
    let mut text = source.as_bytes().to_vec();
    let mut blanked: Vec<Range<usize>> = Vec::new();
    let mut reparsed = 0;
    loop {
        let holding = ranges
            .iter()
            .filter(|r| r.start <= failed_at && failed_at < r.end)
            .filter(|r| !blanked.iter().any(|b| b.start <= r.start && r.end <= b.end));
        let one_by_one = reparsed < budget;
        let range = if one_by_one {
            holding.min_by_key(|r| r.len())?.clone()
        } else {
            holding.map(|r| r.start).min()?..text.len()
        };
        for byte in &mut text[range.clone()] {
            if !matches!(*byte, b'\n' | b'\r') {
                *byte = b' ';
            }
        }
        blanked.retain(|b| !(range.start <= b.start && b.end <= range.end));
        blanked.push(range);
        reparsed += text.len();
        // Only whole items and statements became spaces, and only ASCII bytes remain there.
        let reads = parser::parse(std::str::from_utf8(&text).ok()?).file().err();
        match reads {
            None => {
                blanked.sort_by_key(|r| r.start);
                return Some((String::from_utf8(text).ok()?, blanked));
            }
            Some(at) if one_by_one => failed_at = at,
            Some(_) => return None,
        }
    }
}

fn item_ranges(item: &syn::Item, ranges: &mut Vec<Range<usize>>) {
    ranges.push(item.span().byte_range());
    match item {
        syn::Item::Mod(module) => {
            for item in module.content.iter().flat_map(|(_, items)| items) {
                item_ranges(item, ranges);
            }
        }
        syn::Item::Impl(block) => {
            for item in &block.items {
                ranges.push(item.span().byte_range());
                if let syn::ImplItem::Fn(func) = item {
                    block_ranges(&func.block, ranges);
                }
            }
        }
        syn::Item::Trait(block) => {
            for item in &block.items {
                ranges.push(item.span().byte_range());
                if let syn::TraitItem::Fn(syn::TraitItemFn { default: Some(body), .. }) = item {
                    block_ranges(body, ranges);
                }
            }
        }
        syn::Item::ForeignMod(block) => ranges.extend(block.items.iter().map(|item| item.span().byte_range())),
        syn::Item::Fn(func) => block_ranges(&func.block, ranges),
        _ => {}
    }
}

/// The statements of a function body (not of blocks nested in them) and the items among them.
fn block_ranges(block: &syn::Block, ranges: &mut Vec<Range<usize>>) {
    for stmt in &block.stmts {
        match stmt {
            syn::Stmt::Item(item) => item_ranges(item, ranges),
            _ => ranges.push(stmt.span().byte_range()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A hundred items our parser does not read (`unsafe mod`), each followed by one it reads.
    fn unreadable_items() -> String {
        (0..100).map(|i| format!("unsafe mod m{i} {{}}\nfn f{i}() {{}}\n")).collect()
    }

    fn blanked(source: &str, budget: usize) -> Vec<Range<usize>> {
        let tree = syn::parse_file(source).unwrap();
        let at = parser::parse(source).file().err().expect("our parser stops at `unsafe mod`");
        let (text, blanked) = blank_within(source, &tree, 0, at, budget).expect("the fallback reads the file");
        proc_macro2::extra::invalidate_current_thread_spans();
        assert_eq!(text.len(), source.len());
        blanked
    }

    #[test]
    fn every_unreadable_item_is_left_out_however_many() {
        let source = unreadable_items();
        let blanked = blanked(&source, REPARSE_BUDGET);
        assert_eq!(blanked.len(), 100);
        assert!(blanked
            .iter()
            .all(|r| source[r.clone()].starts_with("unsafe mod") && source[r.clone()].ends_with('}')));
    }

    #[test]
    fn past_the_budget_the_rest_of_the_file_is_left_out_at_once() {
        let source = unreadable_items();
        let blanked = blanked(&source, 10 * source.len());
        // Ten tries one item at a time, then everything from the eleventh on.
        assert_eq!(blanked.len(), 11);
        assert!(source[blanked[10].clone()].starts_with("unsafe mod m10 {}"));
        assert_eq!(blanked[10].end, source.len());
    }
}
