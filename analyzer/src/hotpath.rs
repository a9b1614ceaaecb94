//! Language-agnostic hot-path propagation: given the functions of a project, the call edges
//! between them and the roots, find for every reachable function the shortest chain from a root.
//!
//! Frontends build the graph (resolving calls is language-specific); this module only walks it.

use std::collections::VecDeque;

/// Why a function is a root, in words shown to the user (e.g. "`forward` of an nn.Module").
pub type RootReason = String;

/// Per-function result of [`propagate`].
#[derive(Debug, Clone)]
pub enum Reach {
    Unreached,
    Root(RootReason),
    /// Reached from `from` (the caller on the shortest chain).
    Via {
        from: usize,
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
            reach[callee] = Reach::Via { from: node };
            queue.push_back(callee);
        }
    }
    reach
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
            Reach::Via { from } => {
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
