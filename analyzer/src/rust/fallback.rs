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

/// At most this many blanked spans per file: each try parses the whole file again.
const MAX_TRIES: usize = 64;

/// `source` with the code that our parser cannot read blanked out, and the byte ranges blanked;
/// `None` if no item or statement of `tree` holds the failure (a bug of ours, then). `tree`'s spans
/// count from `shebang` bytes in, past the shebang line that `syn` strips.
pub(super) fn blank_unreadable(
    source: &str,
    tree: &syn::File,
    shebang: usize,
    mut failed_at: usize,
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
    for _ in 0..MAX_TRIES {
        let range = ranges
            .iter()
            .filter(|r| r.start <= failed_at && failed_at < r.end)
            .filter(|r| !blanked.iter().any(|b| b.start <= r.start && r.end <= b.end))
            .min_by_key(|r| r.len())?
            .clone();
        for byte in &mut text[range.clone()] {
            if !matches!(*byte, b'\n' | b'\r') {
                *byte = b' ';
            }
        }
        blanked.retain(|b| !(range.start <= b.start && b.end <= range.end));
        blanked.push(range);
        // Only whole items and statements became spaces, and only ASCII bytes remain there.
        let reads = parser::parse(std::str::from_utf8(&text).ok()?).file().err();
        match reads {
            None => {
                blanked.sort_by_key(|r| r.start);
                return Some((String::from_utf8(text).ok()?, blanked));
            }
            Some(at) => failed_at = at,
        }
    }
    None
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
