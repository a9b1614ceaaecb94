//! Reusing the project pass between runs. The pass reads nothing of a file but its summary (and
//! its path, and a few settings), so when every summary is what it was, so is its result: which
//! functions and regions are hot, with which chain, and what each file's questions get answered.
//! A run keys its result by a hash over all of that and stores it in the cache (and in this
//! process's memory, for the server); a run with the same key takes it instead of running the
//! pass, and only re-checks and classifies.
//!
//! The key takes each summary's *shape*: the summary with its positions left out (the rows of
//! functions, classes, regions, and tensor, keyword and answered arguments; the byte ranges of
//! questions), so that an
//! edit that only moves code (a line added above a function, a comment, a longer expression that
//! asks nothing new) keeps it. What the pass computes does not depend on positions, except in two
//! places, which the stored result keeps by position-free references and restores from the
//! current summaries: the answers to a file's questions (by question, not by byte range) and the
//! caller a tensor-typed parameter names (by file and argument, not by line). The chains'
//! rows are read from the current summaries when findings are classified ([`super::layout`]).
//! A change to the project pass that reads another position must add it here.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustc_hash::{FxHashMap, FxHashSet};
use serde::{Deserialize, Serialize};

use crate::cache::{Cache, Positions, NO_SHAPE};
use crate::hotpath::Reach;
use crate::paths::display_path;
use crate::python::summary::{FileSummary, FuncIdx};
use crate::python::types::{range_key, Declared, ForeignTypes, GivenTensor, HostData, ParamReturns, Ty};
use crate::python::FileAnalysis;
use crate::settings::{RootPatterns, Settings};
use crate::source::Language;

/// What the project pass found, before classification.
pub(super) struct Analysed {
    /// Per node (see [`super::layout::Layout`]): whether and how it is reached.
    pub reach: Vec<Reach>,
    /// The regions that are roots of their own (decode loops, capture blocks).
    pub region_roots: FxHashSet<usize>,
    /// Per file, what other files answer of its questions.
    pub foreign: Vec<ForeignTypes>,
    /// The nodes of the `if` arms no call takes (`constants.rs`): never hot.
    pub dead_regions: Vec<usize>,
}

/// How a summary's positions are set apart from its *shape* in its cache entry (see the module's
/// documentation): the entry stores the shape, whose bytes hash to the key's part for the file,
/// then the positions. Of questions and tensor arguments, which ones share a position is kept in
/// the shape: the answers are stored by range and a caller by line, and restoring them needs the
/// same sharing.
pub(crate) struct SummaryPositions;

impl Positions<FileSummary> for SummaryPositions {
    fn take(&self, summary: &mut FileSummary, taken: &mut Vec<u32>) {
        taken.extend(positions(summary).map(|position| *position));
        for func in &mut summary.funcs {
            func.row = 0;
        }
        for class in &mut summary.classes {
            class.row = 0;
        }
        for region in &mut summary.regions {
            region.row = 0;
        }
        let same_range = first_with_same(summary.questions.iter().map(|q| range_key(q.start, q.end)));
        for (question, first) in summary.questions.iter_mut().zip(same_range) {
            (question.start, question.end) = (first, 0);
        }
        rows_by_first(&mut summary.tensor_args, |given| &mut given.row);
        rows_by_first(&mut summary.tensor_kwargs, |given| &mut given.2);
        rows_by_first(&mut summary.answered_args, |given| &mut given.row);
        rows_by_first(&mut summary.forwarded_args, |given| &mut given.row);
    }

    fn put(&self, summary: &mut FileSummary, taken: &[u32]) -> Option<()> {
        let mut taken = taken.iter();
        for position in positions(summary) {
            *position = *taken.next()?;
        }
        taken.next().is_none().then_some(())
    }
}

/// Every position in `summary` the shape leaves out, in one order for taking and putting back.
fn positions(summary: &mut FileSummary) -> impl Iterator<Item = &mut u32> {
    let FileSummary {
        funcs,
        classes,
        regions,
        questions,
        tensor_args,
        tensor_kwargs,
        answered_args,
        forwarded_args,
        ..
    } = summary;
    (funcs.iter_mut().map(|func| &mut func.row))
        .chain(classes.iter_mut().map(|class| &mut class.row))
        .chain(regions.iter_mut().map(|region| &mut region.row))
        .chain(questions.iter_mut().flat_map(|question| [&mut question.start, &mut question.end]))
        .chain(tensor_args.iter_mut().map(|given| &mut given.row))
        .chain(tensor_kwargs.iter_mut().map(|given| &mut given.2))
        .chain(answered_args.iter_mut().map(|given| &mut given.row))
        .chain(forwarded_args.iter_mut().map(|given| &mut given.row))
}

/// Replaces each item's row by the index of the first item on the same row: which items share a
/// line is kept, the line itself is not.
fn rows_by_first<T>(items: &mut [T], row: impl Fn(&mut T) -> &mut u32) {
    let keys: Vec<u64> = items.iter_mut().map(|item| u64::from(*row(item))).collect();
    for (item, first) in items.iter_mut().zip(first_with_same(keys.into_iter())) {
        *row(item) = first;
    }
}

/// For each key, the index of the first one equal to it.
fn first_with_same(keys: impl Iterator<Item = u64>) -> Vec<u32> {
    let mut first: FxHashMap<u64, u32> = FxHashMap::default();
    keys.enumerate().map(|(index, key)| *first.entry(key).or_insert(index as u32)).collect()
}

/// Where a project result is kept, and under which key.
pub(crate) struct Store<'c> {
    cache: &'c Cache,
    key: u128,
}

impl<'c> Store<'c> {
    /// The store for `files`, whose summaries have `shapes` (from the cache's per-file pass);
    /// `None` without a cache or without every shape.
    pub(crate) fn new(
        cache: Option<&'c Cache>,
        files: &[FileAnalysis],
        shapes: &[u128],
        settings: &Settings,
    ) -> Option<Self> {
        let cache = cache?;
        let shaped = shapes.len() == files.len() && !shapes.contains(&NO_SHAPE);
        shaped.then(|| Store { cache, key: key(files, shapes, settings) })
    }

    /// The stored result, when every summary's shape and the settings are what they were.
    pub(super) fn load(&self, files: &[FileAnalysis], settings: &Settings, node_count: usize) -> Option<Analysed> {
        let stored: Arc<StoredProject> = self.cache.load_result(Language::Python, settings, self.key)?;
        stored.restore(files, node_count)
    }

    /// Keeps `analysed` for the next run (`files`: each file's path and summary).
    pub(super) fn keep(&self, files: &[(&Path, &FileSummary)], settings: &Settings, analysed: &Analysed) {
        if let Some(stored) = StoredProject::of(files, analysed) {
            self.cache.store_result(Language::Python, settings, self.key, Arc::new(stored));
        }
    }
}

/// The key of a project result: the files' paths (as spelled, and the working directory they are
/// spelled from), their shapes, the settings the pass reads (each file's root patterns and
/// `all_paths`), and which directories above them are packages. The cache's directory already
/// separates graphlint's versions.
fn key(files: &[FileAnalysis], shapes: &[u128], settings: &Settings) -> u128 {
    let mut hasher = xxhash_rust::xxh3::Xxh3::new();
    let mut update = |bytes: &[u8]| {
        hasher.update(&(bytes.len() as u64).to_le_bytes());
        hasher.update(bytes);
    };
    update(crate::paths::current_dir().map_or(&[][..], |cwd| cwd.as_os_str().as_encoded_bytes()));
    update(&[settings.all_paths as u8]);
    // Files share their configuration's patterns: each distinct one is hashed once.
    let mut patterns: FxHashMap<*const RootPatterns, [u8; 16]> = FxHashMap::default();
    for (file, shape) in files.iter().zip(shapes) {
        update(file.path.as_os_str().as_encoded_bytes());
        update(&shape.to_le_bytes());
        let roots = settings.roots_for(&file.path);
        update(patterns.entry(roots as *const _).or_insert_with(|| roots_hash(roots)));
    }
    // Module names follow the disk: an `__init__.py` the run does not analyse (excluded, or
    // beside files named alone) still makes its directory a package.
    // (Directories are told apart by their bytes: hashing a `Path` walks its components, which
    // cost more than the rest of the key.)
    let absolutes: Vec<PathBuf> = files.iter().map(|file| crate::paths::absolute(&file.path)).collect();
    let mut dirs: FxHashMap<&[u8], &Path> = FxHashMap::default();
    for path in &absolutes {
        for dir in path.ancestors().skip(1) {
            if dirs.insert(dir.as_os_str().as_encoded_bytes(), dir).is_some() {
                break;
            }
        }
    }
    let mut dirs: Vec<(&[u8], &Path)> = dirs.into_iter().collect();
    dirs.sort_unstable_by_key(|&(bytes, _)| bytes);
    for (_, dir) in dirs {
        update(dir.as_os_str().as_encoded_bytes());
        update(&[dir.join("__init__.py").is_file() as u8, dir.join("__init__.pyi").is_file() as u8]);
    }
    hasher.digest128()
}

fn roots_hash(roots: &RootPatterns) -> [u8; 16] {
    let profiles: Vec<&str> = roots.profiles.iter().map(|profile| profile.name).collect();
    let text = format!("{:?} {:?} {profiles:?}", roots.hot, roots.cold);
    xxhash_rust::xxh3::xxh3_128(text.as_bytes()).to_le_bytes()
}

/// [`Analysed`] as stored: nodes by number, answers by question, callers by tensor argument.
#[derive(Serialize, Deserialize)]
struct StoredProject {
    /// The roots' reasons, each once.
    reasons: Vec<String>,
    reach: Vec<StoredReach>,
    region_roots: Vec<u32>,
    dead_regions: Vec<u32>,
    /// The files with answers, by index.
    foreign: Vec<(u32, StoredForeign)>,
}

#[derive(Serialize, Deserialize)]
enum StoredReach {
    Unreached,
    /// A root, with the index of its reason.
    Root(u32),
    Via {
        from: u32,
        dispatch: bool,
    },
}

/// Where a caller named in a message is. Shapes leave rows out, so it is kept as the index of the
/// first argument on the caller's line among the file's tensor, keyword or answered arguments.
#[derive(Serialize, Deserialize, Clone, Copy)]
enum CallerLine {
    TensorArg(u32),
    TensorKwarg(u32),
    Answered(u32),
    Forwarded(u32),
}

#[derive(Serialize, Deserialize, Default)]
struct StoredForeign {
    /// By the index of the first question with the answered range.
    exprs: Vec<(u32, Ty)>,
    elements: Vec<(u32, Vec<Ty>)>,
    /// By the index of the first question with the answered range.
    containers: Vec<(u32, Declared)>,
    /// (function, parameter index, parameter name, caller's file, the caller's line, whether the
    /// parameter is annotated as a Python scalar, whether the tensor is 0-d).
    params: Vec<(FuncIdx, u32, String, u32, CallerLine, bool, bool)>,
    /// (function, parameter index, what every caller passes): no positions in it.
    host_params: Vec<(FuncIdx, u32, HostData)>,
    /// (function's qualified name, parameters, those of them 0-d, static): no positions in it.
    param_returns: Vec<(String, u32, u32, bool)>,
    /// Field names: no positions in them.
    kept_fields: Vec<String>,
}

impl StoredProject {
    /// `None` when an answer or a caller is not found in the summaries it came from (the result
    /// is then not stored).
    fn of(files: &[(&Path, &FileSummary)], analysed: &Analysed) -> Option<Self> {
        let mut reasons: Vec<String> = Vec::new();
        let mut reason_ids: FxHashMap<&str, u32> = FxHashMap::default();
        let reach = analysed
            .reach
            .iter()
            .map(|reach| match reach {
                Reach::Unreached => StoredReach::Unreached,
                Reach::Root(reason) => StoredReach::Root(*reason_ids.entry(reason).or_insert_with(|| {
                    reasons.push(reason.clone());
                    reasons.len() as u32 - 1
                })),
                Reach::Via { from, dispatch } => StoredReach::Via { from: *from as u32, dispatch: *dispatch },
            })
            .collect();
        let mut region_roots: Vec<u32> = analysed.region_roots.iter().map(|&node| node as u32).collect();
        region_roots.sort_unstable();
        // Callers are named by their file's displayed path: found back among the files.
        let mut shown: Option<FxHashMap<String, u32>> = None;
        let mut foreign = Vec::new();
        for (index, (&(_, summary), answers)) in files.iter().zip(&analysed.foreign).enumerate() {
            if answers.is_empty() {
                continue;
            }
            // Spelled out so that a new kind of answer cannot go unstored.
            let ForeignTypes { exprs, elements, containers, params, host_params, param_returns, kept_fields } = answers;
            let mut question_of: FxHashMap<u64, u32> = FxHashMap::default();
            for (at, question) in summary.questions.iter().enumerate() {
                question_of.entry(range_key(question.start, question.end)).or_insert(at as u32);
            }
            let mut stored = StoredForeign::default();
            for (key, ty) in exprs {
                stored.exprs.push((*question_of.get(key)?, *ty));
            }
            for (key, elements) in elements {
                stored.elements.push((*question_of.get(key)?, elements.clone()));
            }
            for (key, declared) in containers {
                stored.containers.push((*question_of.get(key)?, declared.clone()));
            }
            for ((func, param), GivenTensor { name, caller, annotated, zero_dim }) in params {
                let shown = shown.get_or_insert_with(|| {
                    files.iter().enumerate().map(|(at, (path, _))| (display_path(path), at as u32)).collect()
                });
                let (path, row) = caller.rsplit_once(':')?;
                let caller_file = *shown.get(path)?;
                let row: u32 = row.parse().ok()?;
                let summary = files[caller_file as usize].1;
                let at = |index: Option<usize>| index.map(|index| index as u32);
                let line = at(summary.tensor_args.iter().position(|t| t.row == row))
                    .map(CallerLine::TensorArg)
                    .or_else(|| at(summary.tensor_kwargs.iter().position(|k| k.2 == row)).map(CallerLine::TensorKwarg))
                    .or_else(|| at(summary.answered_args.iter().position(|a| a.row == row)).map(CallerLine::Answered))
                    .or_else(|| {
                        at(summary.forwarded_args.iter().position(|a| a.row == row)).map(CallerLine::Forwarded)
                    })?;
                stored.params.push((*func, *param, name.clone(), caller_file, line, *annotated, *zero_dim));
            }
            for ((func, param), data) in host_params {
                stored.host_params.push((*func, *param, *data));
            }
            for (name, returns) in param_returns {
                stored.param_returns.push((name.clone(), returns.params, returns.zero_dim, returns.is_static));
            }
            stored.kept_fields = kept_fields.clone();
            foreign.push((index as u32, stored));
        }
        let dead_regions = analysed.dead_regions.iter().map(|&node| node as u32).collect();
        Some(StoredProject { reasons, reach, region_roots, dead_regions, foreign })
    }

    /// The result for `files` (whose shapes are those it was stored with) as the pass would
    /// compute it: positions from the current summaries. `None` if it does not fit them.
    fn restore(&self, files: &[FileAnalysis], node_count: usize) -> Option<Analysed> {
        if self.reach.len() != node_count {
            return None;
        }
        let reach = self
            .reach
            .iter()
            .map(|reach| match *reach {
                StoredReach::Unreached => Some(Reach::Unreached),
                StoredReach::Root(reason) => Some(Reach::Root(self.reasons.get(reason as usize)?.clone())),
                StoredReach::Via { from, dispatch } => {
                    ((from as usize) < node_count).then_some(Reach::Via { from: from as usize, dispatch })
                }
            })
            .collect::<Option<Vec<_>>>()?;
        let region_roots = self.region_roots.iter().map(|&node| node as usize).collect();
        let dead_regions =
            self.dead_regions.iter().map(|&node| node as usize).filter(|&node| node < node_count).collect();
        let mut foreign: Vec<ForeignTypes> = files.iter().map(|_| ForeignTypes::default()).collect();
        for (index, stored) in &self.foreign {
            let summary = &files.get(*index as usize)?.summary;
            let range = |question: u32| {
                let question = summary.questions.get(question as usize)?;
                Some(range_key(question.start, question.end))
            };
            let answers = &mut foreign[*index as usize];
            for (question, ty) in &stored.exprs {
                answers.exprs.insert(range(*question)?, *ty);
            }
            for (question, elements) in &stored.elements {
                answers.elements.insert(range(*question)?, elements.clone());
            }
            for (question, declared) in &stored.containers {
                answers.containers.insert(range(*question)?, declared.clone());
            }
            for (func, param, name, caller_file, line, annotated, zero_dim) in &stored.params {
                let caller = files.get(*caller_file as usize)?;
                let row = match *line {
                    CallerLine::TensorArg(at) => caller.summary.tensor_args.get(at as usize)?.row,
                    CallerLine::TensorKwarg(at) => caller.summary.tensor_kwargs.get(at as usize)?.2,
                    CallerLine::Answered(at) => caller.summary.answered_args.get(at as usize)?.row,
                    CallerLine::Forwarded(at) => caller.summary.forwarded_args.get(at as usize)?.row,
                };
                let caller = format!("{}:{row}", display_path(&caller.path));
                let given = GivenTensor { name: name.clone(), caller, annotated: *annotated, zero_dim: *zero_dim };
                answers.params.insert((*func, *param), given);
            }
            for (func, param, data) in &stored.host_params {
                answers.host_params.insert((*func, *param), *data);
            }
            for (name, params, zero_dim, is_static) in &stored.param_returns {
                let returns = ParamReturns { params: *params, zero_dim: *zero_dim, is_static: *is_static };
                answers.param_returns.insert(name.clone(), returns);
            }
            answers.kept_fields = stored.kept_fields.clone();
        }
        Some(Analysed { reach, region_roots, foreign, dead_regions })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A model and a helper: functions, a class, a loop, tensor arguments and questions to other
    /// files, so that every kind of position is there.
    const MODEL: &str = "import torch
from helpers import scale, project

class Block(torch.nn.Module):
    def forward(self, x, cfg):
        y = scale(x, cfg.factor)
        for step in range(cfg.steps):
            y = project(y.cuda(), weight=x.cuda())
        return y

def _helper(t):
    return t.sum()

def run(x):
    return _helper(x.cuda()), _helper(x.cuda())
";

    fn summary(source: &str) -> FileSummary {
        let bytes = Ok(source.as_bytes().to_vec());
        crate::python::analyze_file(Path::new("model.py"), bytes, &Settings::default()).summary
    }

    /// The bytes of `summary`'s shape, and the positions taken out of it.
    fn shape(summary: &FileSummary) -> (Vec<u8>, Vec<u32>) {
        let mut shaped = summary.clone();
        let mut taken = Vec::new();
        SummaryPositions.take(&mut shaped, &mut taken);
        (postcard::to_stdvec(&shaped).unwrap(), taken)
    }

    #[test]
    fn positions_put_back_into_the_shape_give_the_summary() {
        let original = summary(MODEL);
        let (shaped, taken) = shape(&original);
        let rows = original.funcs.len() + original.classes.len() + original.regions.len();
        assert!(taken.len() > rows + 2 * original.questions.len(), "tensor arguments have rows too");
        let mut restored: FileSummary = postcard::from_bytes(&shaped).unwrap();
        assert_ne!(postcard::to_stdvec(&restored).unwrap(), postcard::to_stdvec(&original).unwrap());
        assert!(SummaryPositions.put(&mut restored.clone(), &taken[1..]).is_none(), "one position short");
        assert!(SummaryPositions.put(&mut restored.clone(), &[&taken[..], &[7]].concat()).is_none(), "one too many");
        SummaryPositions.put(&mut restored, &taken).unwrap();
        assert_eq!(postcard::to_stdvec(&restored).unwrap(), postcard::to_stdvec(&original).unwrap());
    }

    #[test]
    fn code_that_moves_keeps_its_shape_and_code_that_changes_does_not() {
        let (before, taken_before) = shape(&summary(MODEL));
        let (moved, taken_moved) = shape(&summary(&format!("# a comment\n\n{}", MODEL.replace("    ", "\t"))));
        assert_eq!(before, moved);
        assert_ne!(taken_before, taken_moved, "every position moved");
        let (changed, _) = shape(&summary(&MODEL.replace("y.cuda()", "y.cpu()")));
        assert_ne!(before, changed);
    }
}
