//! Language-agnostic hot-path propagation: given the functions of a project, the call edges
//! between them and the roots, find for every reachable function the shortest chain from a root.
//!
//! Frontends build the graph (resolving calls is language-specific); this module only walks it,
//! and then tells which of the frontends' candidate findings are hot.

use std::collections::VecDeque;

use rustc_hash::FxHashSet;

use crate::diagnostic::{ChainLink, Diagnostic, Heat, HotFunction};
use crate::frontend::FileAnalysis;

/// Why a function is a root, in words shown to the user (e.g. "`forward` of an nn.Module").
pub type RootReason = String;

/// Per-function result of [`propagate`].
#[derive(Debug, Clone)]
pub enum Reach {
    Unreached,
    Root(RootReason),
    /// Reached from `from` (the caller on the shortest chain); `dispatch` when that call reaches
    /// this function only as an override of the method the caller names (class hierarchy analysis).
    Via {
        from: usize,
        dispatch: bool,
    },
}

/// Breadth-first search from all roots at once, so each function keeps its shortest chain.
/// `blocked` functions (marked cold) are never entered, and so never pass heat on.
pub fn propagate(edges: &[Vec<usize>], roots: &[(usize, RootReason)], blocked: &[bool]) -> Vec<Reach> {
    let mut reach = vec![Reach::Unreached; edges.len()];
    let mut queue = VecDeque::new();
    for (node, reason) in roots {
        if blocked[*node] || !matches!(reach[*node], Reach::Unreached) {
            continue;
        }
        reach[*node] = Reach::Root(reason.clone());
        queue.push_back(*node);
    }
    while let Some(node) = queue.pop_front() {
        for &callee in &edges[node] {
            if blocked[callee] || !matches!(reach[callee], Reach::Unreached) {
                continue;
            }
            reach[callee] = Reach::Via { from: node, dispatch: false };
            queue.push_back(callee);
        }
    }
    reach
}

/// A loop that may be a decode loop: it becomes a root once it runs a model (`calls_model`) or
/// calls a function already on a hot path, unless the function holding it is hot already (then
/// the loop is hot through it) or blocked.
#[derive(Debug, Clone)]
pub struct LoopCandidate {
    pub node: usize,
    /// The function holding the loop.
    pub func_node: usize,
    pub calls_model: bool,
    /// The nodes the loop calls.
    pub callees: Vec<usize>,
    /// The holding function's name, for the root's reason.
    pub qualname: String,
}

/// Whether a function's name says it trains: its loops are never decode loops.
pub fn is_training_function(name: &str) -> bool {
    name.contains("train") || name == "fit"
}

/// [`propagate`] from `roots`, then every candidate loop that now qualifies becomes a root, until
/// nothing changes. Returns the reach and the regions that are roots (`region_roots` holds those
/// the frontend found itself, such as capture blocks). A loop qualifies by calling a function
/// that `exact_edges` (a subset of `edges`: Python's without dispatch to overrides) reach, so
/// heat that only dispatch brings makes no new decode loop.
pub fn propagate_with_decode_loops(
    edges: &[Vec<usize>],
    exact_edges: &[Vec<usize>],
    mut roots: Vec<(usize, RootReason)>,
    blocked: &[bool],
    candidates: &[LoopCandidate],
    mut region_roots: FxHashSet<usize>,
) -> (Vec<Reach>, FxHashSet<usize>) {
    loop {
        let reach = propagate(edges, &roots, blocked);
        let exact = (!std::ptr::eq(edges, exact_edges)).then(|| propagate(exact_edges, &roots, blocked));
        let mut added = false;
        for candidate in candidates {
            let reached = |node: usize| !matches!(reach[node], Reach::Unreached);
            let reached_exactly = |node: usize| !matches!(exact.as_ref().unwrap_or(&reach)[node], Reach::Unreached);
            if region_roots.contains(&candidate.node) || reached(candidate.func_node) || blocked[candidate.func_node] {
                continue;
            }
            if candidate.calls_model || candidate.callees.iter().any(|&callee| reached_exactly(callee)) {
                region_roots.insert(candidate.node);
                roots.push((candidate.node, format!("decode loop in `{}`", candidate.qualname)));
                added = true;
            }
        }
        if !added {
            // A loop that became a root in the same round as a caller of its function is hot
            // through that function: it is no root of its own (the function reaches all it calls).
            let reached_by_loop: FxHashSet<usize> = candidates
                .iter()
                .filter(|c| region_roots.contains(&c.node) && matches!(reach[c.func_node], Reach::Via { .. }))
                .map(|c| c.node)
                .collect();
            // Kept when the function's own chain starts at another such loop (mutual recursion).
            let redundant: FxHashSet<usize> = candidates
                .iter()
                .filter(|c| reached_by_loop.contains(&c.node))
                .filter(|c| chain(&reach, c.func_node).first().is_some_and(|root| !reached_by_loop.contains(root)))
                .map(|c| c.node)
                .collect();
            if redundant.is_empty() {
                return (mark_dispatch(reach, exact_edges), region_roots);
            }
            roots.retain(|(node, _)| !redundant.contains(node));
            region_roots.retain(|node| !redundant.contains(node));
            let reach = propagate(edges, &roots, blocked);
            return (mark_dispatch(reach, exact_edges), region_roots);
        }
    }
}

/// Marks the links of the chains that only an edge outside `exact_edges` (dispatch to an
/// override) makes.
fn mark_dispatch(mut reach: Vec<Reach>, exact_edges: &[Vec<usize>]) -> Vec<Reach> {
    for (node, reached) in reach.iter_mut().enumerate() {
        if let Reach::Via { from, dispatch } = reached {
            *dispatch = !exact_edges[*from].contains(&node);
        }
    }
    reach
}

/// The links of the chain to `node`, a dispatched one named `(dispatch) Class.method`.
fn chain_links(graph: &impl Graph, reach: &[Reach], node: usize) -> Vec<ChainLink> {
    chain(reach, node)
        .into_iter()
        .map(|n| {
            let mut link = graph.link(n);
            if matches!(reach[n], Reach::Via { dispatch: true, .. }) {
                link.function = format!("(dispatch) {}", link.function);
            }
            link
        })
        .collect()
}

/// What a frontend's project pass found.
#[derive(Debug, Default)]
pub struct Classified {
    pub diagnostics: Vec<Diagnostic>,
    /// With `--show-hot`: every hot function and region, with its chain.
    pub hot_functions: Vec<HotFunction>,
    /// How many functions and regions are roots: none means nothing in the tree is hot.
    pub roots: usize,
}

/// [`classify`] and, with `--show-hot`, [`hot_functions`]: what a frontend's project pass returns.
pub fn classified<S>(
    files: &[FileAnalysis<S>],
    graph: &impl Graph,
    reach: &[Reach],
    region_roots: &FxHashSet<usize>,
    settings: &crate::settings::Settings,
) -> Classified {
    let diagnostics = classify(files, graph, reach, region_roots, settings.all_paths);
    let hot_functions = if settings.list_hot { hot_functions(graph, reach) } else { Vec::new() };
    Classified { diagnostics, hot_functions, roots: root_count(reach) }
}

/// Records a call made in function `func` of `file`, inside `region` if any, to each of
/// `targets`: the function and every region enclosing the call get the edges, so a loop or a
/// capture block reaches what it calls.
pub fn add_call_edges(
    edges: &mut [Vec<usize>],
    graph: &impl Graph,
    file: usize,
    func: u32,
    region: Option<u32>,
    targets: &[usize],
) {
    let mut source = Some(graph.func_node(file, func));
    let mut region = region;
    while let Some(node) = source {
        for &target in targets {
            if !edges[node].contains(&target) {
                edges[node].push(target);
            }
        }
        source = region.map(|r| graph.region_node(file, r));
        region = region.and_then(|r| graph.enclosing_region(file, r));
    }
}

/// The number of roots in a propagation's result.
pub fn root_count(reach: &[Reach]) -> usize {
    reach.iter().filter(|r| matches!(r, Reach::Root(_))).count()
}

/// The chain of function indices from the root to `node` (empty when unreached).
pub fn chain(reach: &[Reach], node: usize) -> Vec<usize> {
    let mut chain = Vec::new();
    let mut current = node;
    loop {
        match &reach[current] {
            Reach::Unreached => return Vec::new(),
            Reach::Root(_) => {
                chain.push(current);
                break;
            }
            Reach::Via { from, .. } => {
                chain.push(current);
                current = *from;
            }
        }
    }
    chain.reverse();
    chain
}

/// The reason of the root a chain starts from.
pub fn root_reason(reach: &[Reach], node: usize) -> Option<&RootReason> {
    let first = *chain(reach, node).first()?;
    match &reach[first] {
        Reach::Root(reason) => Some(reason),
        _ => None,
    }
}

/// A frontend's project-wide graph, as [`classify`] and [`hot_functions`] read it: every function
/// and every region (a loop, a capture block) of every file is a node.
pub trait Graph {
    /// The node of function `func` of file `file`.
    fn func_node(&self, file: usize, func: u32) -> usize;
    /// The node of region `region` of file `file`.
    fn region_node(&self, file: usize, region: u32) -> usize;
    /// The region of file `file` that directly encloses region `region`.
    fn enclosing_region(&self, file: usize, region: u32) -> Option<u32>;
    /// A node as one step of a chain shown to the user.
    fn link(&self, node: usize) -> ChainLink;
    /// Whether code in region `region` of file `file` is never hot (a training-only branch).
    fn is_cold_region(&self, _file: usize, _region: u32) -> bool {
        false
    }
}

/// Whether region `region` of `file`, or a region enclosing it, is never hot.
pub fn in_cold_region(graph: &impl Graph, file: usize, mut region: Option<u32>) -> bool {
    while let Some(r) = region {
        if graph.is_cold_region(file, r) {
            return true;
        }
        region = graph.enclosing_region(file, r);
    }
    false
}

/// Each file's file-level findings, then its candidates that are hot: in a reached function, or
/// else inside a region that is a root (the innermost such region gives the chain), and not in a
/// region that is never hot. The others are kept, marked cold, only with `all_paths`.
pub fn classify<S>(
    files: &[FileAnalysis<S>],
    graph: &impl Graph,
    reach: &[Reach],
    region_roots: &FxHashSet<usize>,
    all_paths: bool,
) -> Vec<Diagnostic> {
    let mut diagnostics = Vec::new();
    for (file_idx, file) in files.iter().enumerate() {
        diagnostics.extend(file.file_diagnostics.iter().cloned());
        for candidate in &file.candidates {
            let func_node = graph.func_node(file_idx, candidate.func);
            let mut node = None;
            if in_cold_region(graph, file_idx, candidate.region) {
            } else if !matches!(reach[func_node], Reach::Unreached) {
                node = Some(func_node);
            } else {
                let mut region = candidate.region;
                while let Some(r) = region {
                    let region_node = graph.region_node(file_idx, r);
                    if region_roots.contains(&region_node) {
                        node = Some(region_node);
                        break;
                    }
                    region = graph.enclosing_region(file_idx, r);
                }
            }
            let mut diagnostic = candidate.diagnostic.clone();
            match node {
                Some(node) => {
                    let reason = root_reason(reach, node).cloned().unwrap_or_default();
                    diagnostic.hot_path = chain_links(graph, reach, node);
                    diagnostic.heat = Heat::Hot { reason };
                }
                None if all_paths => diagnostic.heat = Heat::Cold,
                None => continue,
            }
            diagnostics.push(diagnostic);
        }
    }
    diagnostics
}

/// Every reached node with its chain, for `--show-hot`.
pub fn hot_functions(graph: &impl Graph, reach: &[Reach]) -> Vec<HotFunction> {
    let mut hot = Vec::new();
    for node in 0..reach.len() {
        if let Some(reason) = root_reason(reach, node) {
            let chain = chain_links(graph, reach, node);
            hot.push(HotFunction { chain, reason: reason.clone() });
        }
    }
    hot
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shortest_chain_from_any_root_and_cold_blocks() {
        // 0 -> 1 -> 2 -> 3, 4 -> 3, 5 (cold) -> 6
        let edges = vec![vec![1], vec![2], vec![3], vec![], vec![3], vec![6], vec![]];
        let roots = vec![(0, "root a".to_string()), (4, "root b".to_string()), (5, "root c".to_string())];
        let mut blocked = vec![false; 7];
        blocked[5] = true;
        let reach = propagate(&edges, &roots, &blocked);
        assert_eq!(chain(&reach, 2), vec![0, 1, 2]);
        assert_eq!(chain(&reach, 3), vec![4, 3], "the shorter chain wins");
        assert_eq!(root_reason(&reach, 3).map(String::as_str), Some("root b"));
        assert!(chain(&reach, 6).is_empty(), "a cold root passes nothing on");
        assert!(chain(&reach, 5).is_empty());
    }

    #[test]
    fn cycles_terminate() {
        let edges = vec![vec![1], vec![0, 2], vec![1]];
        let reach = propagate(&edges, &[(0, "r".into())], &[false; 3]);
        assert_eq!(chain(&reach, 2), vec![0, 1, 2]);
    }
}
