//! The project graph's nodes, numbered from the summaries alone: every function of every file,
//! then every region. Classification reads the graph through this, so that it can run on a
//! project result kept from an earlier run without the evaluator that computed it.

use std::path::Path;

use super::FileIdx;
use crate::diagnostic::ChainLink;
use crate::hotpath;
use crate::paths::display_path;
use crate::python::summary::FileSummary;
use crate::python::FileAnalysis;

/// (Cloned for a thread that builds the call edges: the analyses themselves hold suppressions,
/// which are not shared between threads, so only their paths and summaries are kept.)
#[derive(Clone)]
pub(super) struct Layout<'s> {
    files: Vec<(&'s Path, &'s FileSummary)>,
    /// Per file, the node of its first function, then of its first region.
    pub(super) func_base: Vec<usize>,
    pub(super) region_base: Vec<usize>,
    /// The nodes of the `if` arms no call takes (`constants.rs`), once the project pass is done.
    pub(super) dead: rustc_hash::FxHashSet<usize>,
}

impl<'s> Layout<'s> {
    pub(super) fn new(files: &'s [FileAnalysis]) -> Self {
        let mut next = 0;
        let mut bases = |count: fn(&FileAnalysis) -> usize| -> Vec<usize> {
            files
                .iter()
                .map(|file| {
                    let base = next;
                    next += count(file);
                    base
                })
                .collect()
        };
        let func_base = bases(|file| file.summary.funcs.len());
        let region_base = bases(|file| file.summary.regions.len());
        let files = files.iter().map(|file| (file.path.as_path(), &file.summary)).collect();
        Layout { files, func_base, region_base, dead: Default::default() }
    }

    /// How many nodes the graph has: every function, then every region.
    pub(super) fn node_count(&self) -> usize {
        self.files.iter().map(|(_, summary)| summary.funcs.len() + summary.regions.len()).sum()
    }

    fn summary(&self, file: FileIdx) -> &'s FileSummary {
        self.files[file].1
    }

    /// The file and index of the region at `node`, if it is a region's.
    pub(super) fn region_of(&self, node: usize) -> Option<(FileIdx, usize)> {
        if self.region_base.first().is_none_or(|&first| node < first) {
            return None;
        }
        let file = self.region_base.partition_point(|&base| base <= node) - 1;
        let index = node - self.region_base[file];
        (index < self.summary(file).regions.len()).then_some((file, index))
    }
}

impl hotpath::Graph for Layout<'_> {
    fn func_node(&self, file: usize, func: u32) -> usize {
        self.func_base[file] + func as usize
    }

    fn region_node(&self, file: usize, region: u32) -> usize {
        self.region_base[file] + region as usize
    }

    fn enclosing_region(&self, file: usize, region: u32) -> Option<u32> {
        self.summary(file).regions[region as usize].parent
    }

    fn is_cold_region(&self, file: usize, region: u32) -> bool {
        self.summary(file).regions[region as usize].kind.is_cold()
            || self.dead.contains(&(self.region_base[file] + region as usize))
    }

    fn link(&self, node: usize) -> ChainLink {
        if let Some((file, index)) = self.region_of(node) {
            let (path, summary) = self.files[file];
            let region = &summary.regions[index];
            let func = &summary.funcs[region.func as usize];
            return ChainLink { function: func.qualname.clone(), filename: display_path(path), row: region.row };
        }
        let file = self.func_base.partition_point(|&base| base <= node).saturating_sub(1);
        let (path, summary) = self.files[file];
        let func = &summary.funcs[node - self.func_base[file]];
        ChainLink { function: func.qualname.clone(), filename: display_path(path), row: func.row }
    }
}
