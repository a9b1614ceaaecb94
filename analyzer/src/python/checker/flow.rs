//! Where the straight-line order of the traversal would give a name the type of the wrong
//! assignment: after an `if`, a name one branch binds to a device tensor and a later branch to a
//! Python value (`x = t.sum()` / `else: x = None`) holds the tensor on the first path; and in a
//! loop, a name bound to a Python value before the loop and to a device tensor in its body
//! (`n = 0` ... `n = (a == b).sum()`) holds the tensor from the second iteration on, also where
//! the body (or a `while` test) reads it before that assignment.
//!
//! Both only ever turn a Python value (`int`, `float`, `bool`, `None`) into the device tensor
//! another path assigns, and a branch merge also an unknown value (`x = t.argmax()` / `else: x =
//! helper()`: on the first path reading it waits for the device), the CPU device into a device
//! that another arm, or the value before an `if` without `else`, gives (`device =
//! torch.device("cuda")` / `else: device = torch.device("cpu")`), and a host tensor into the
//! device tensor a name held before an `if` without `else` (`if mps: x = x.cpu()`). No other
//! type changes, and symbolic values (what the hot-path pass resolves calls with) are kept. An
//! arm that ends with `return`, `raise`, `break` or `continue` reaches nothing after the `if`.
//! Branches are merged as they are left. A loop's carried types are known only once its body has been visited, so the
//! file is visited again with them ([`Carried`]); that happens only when a read in the loop saw a
//! Python value the body later replaces with a device tensor.

use smallvec::SmallVec;

use super::Checker;
use crate::python::types::Ty;

/// A type a loop carries into its next iteration: the loop (by its statement's start offset),
/// the name, its type at the end of the body, and whether it is a 0-d tensor there.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Carried<'a> {
    pub loop_start: u32,
    pub name: &'a str,
    pub ty: Ty,
    pub scalar: bool,
}

/// The names a branch of an `if` bound to device tensors, with their types at its end.
pub(super) struct BranchFrame<'a> {
    /// The scope the `if` is in (a nested function's bindings are its own).
    depth: usize,
    /// Bound to a device tensor in the current arm, not yet captured.
    bound: SmallVec<[&'a str; 4]>,
    captured: SmallVec<[(&'a str, Ty, bool); 4]>,
    /// The names some arm binds that were devices or device tensors before, with that type (see
    /// [`before_over_host`]): the path that takes no arm keeps it. (A name an arm bound to one
    /// before binding it again counts too, which only keeps a device where it may not be one.)
    before: SmallVec<[(&'a str, Ty); 2]>,
}

/// What a loop body reads with a Python-value type and binds to a device tensor.
pub(super) struct LoopFrame<'a> {
    depth: usize,
    start: u32,
    reads: SmallVec<[&'a str; 8]>,
    bound: SmallVec<[(&'a str, Ty, bool); 4]>,
}

/// A Python value that a path assigning a device tensor overrides.
fn is_python_value(ty: Ty) -> bool {
    matches!(ty, Ty::Int | Ty::Float | Ty::Bool | Ty::None)
}

/// What a branch merge tracks: a device tensor, or a device that may be an accelerator.
fn is_on_device(ty: Ty) -> bool {
    ty.is_device_tensor() || ty == Ty::Device
}

/// What a device another path gives makes of `last`: the CPU device only on this path is a
/// device that may be an accelerator.
fn device_over_host(on_device: Ty, last: Ty) -> Option<Ty> {
    (on_device == Ty::Device && last == Ty::HostDevice).then_some(Ty::Device)
}

/// What the value before an `if` without `else` makes of `last`, where it is on the device: a
/// device (see [`device_over_host`]), or a tensor that the arm moved to host memory (`if
/// ids.device.type == "mps": ids = ids.to("cpu")`), which stays on the device on the other path.
/// (A host tensor an arm binds where another arm binds a device tensor is kept: the
/// host-to-device rules report it on its path.)
fn before_over_host(before: Ty, last: Ty) -> Option<Ty> {
    match (before, last) {
        (Ty::Tensor { .. }, Ty::Tensor { host: true, .. }) => Some(before.join(last)),
        _ => device_over_host(before, last),
    }
}

impl<'a> Checker<'a> {
    /// Whether any branch or loop is being tracked (the hooks in `bind`/`lookup` cost nothing
    /// otherwise).
    pub(super) fn tracks_flow(&self) -> bool {
        !self.branch_frames.is_empty() || !self.loop_frames.is_empty()
    }

    /// `bind(name, ty)` in the current scope: a device tensor is remembered by the innermost
    /// branch and loop of this scope.
    pub(super) fn flow_bind(&mut self, name: &'a str, ty: Ty) {
        let depth = self.scopes.len();
        if self.branch_frames.last().is_some_and(|f| f.depth == depth) {
            let previous = self.scope_ty(name);
            let frame = self.branch_frames.last_mut().expect("checked above");
            if is_on_device(previous) && !frame.before.iter().any(|b| b.0 == name) {
                frame.before.push((name, previous));
            }
        }
        if !is_on_device(ty) {
            return;
        }
        if let Some(frame) = self.branch_frames.last_mut().filter(|f| f.depth == depth) {
            if !frame.bound.contains(&name) {
                frame.bound.push(name);
            }
        }
        if !ty.is_device_tensor() {
            return;
        }
        for frame in self.loop_frames.iter_mut().rev().take_while(|f| f.depth == depth) {
            match frame.bound.iter_mut().find(|b| b.0 == name) {
                Some(known) => known.1 = known.1.join(ty),
                None => frame.bound.push((name, ty, false)),
            }
        }
    }

    /// `name` was just noted as a 0-d tensor (after its binding).
    pub(super) fn flow_scalar(&mut self, name: &'a str) {
        let depth = self.scopes.len();
        for frame in self.loop_frames.iter_mut().rev().take_while(|f| f.depth == depth) {
            if let Some(known) = frame.bound.iter_mut().find(|b| b.0 == name) {
                known.2 = true;
            }
        }
    }

    /// A read of `name` in the current scope that found `ty`.
    pub(super) fn flow_read(&mut self, name: &'a str, ty: Ty) {
        if !is_python_value(ty) {
            return;
        }
        let depth = self.scopes.len();
        for frame in self.loop_frames.iter_mut().rev().take_while(|f| f.depth == depth) {
            if !frame.reads.contains(&name) {
                frame.reads.push(name);
            }
        }
    }

    // ----- branches ---------------------------------------------------------------------------

    pub(super) fn branches_begin(&mut self) {
        self.branch_frames.push(BranchFrame {
            depth: self.scopes.len(),
            bound: SmallVec::new(),
            captured: SmallVec::new(),
            before: SmallVec::new(),
        });
    }

    /// The end of one arm: what it bound to device tensors is captured with its type now,
    /// unless the arm leaves (`return`, `raise`, `break`, `continue`): then no path goes on
    /// from it.
    pub(super) fn branch_arm_end(&mut self, leaves: bool) {
        let Some(mut frame) = self.branch_frames.pop() else { return };
        let bound = std::mem::take(&mut frame.bound);
        for name in bound.into_iter().filter(|_| !leaves) {
            let ty = self.scope_ty(name);
            if is_on_device(ty) {
                let scalar = self.is_scalar_name(name);
                match frame.captured.iter_mut().find(|c| c.0 == name) {
                    Some(known) => {
                        known.1 = known.1.join(ty);
                        known.2 &= scalar;
                    }
                    None => frame.captured.push((name, ty, scalar)),
                }
            }
        }
        self.branch_frames.push(frame);
    }

    /// After the last arm: a name that another arm left a device tensor and the last one a
    /// Python value holds the tensor on that path. A name the last arm binds to the CPU device is
    /// a device that may be an accelerator where another arm, or the value before the `if` on
    /// the path that takes no arm (`exhaustive` is false: no `else`), left one; and so is a
    /// tensor an arm moved to host memory where it was on the device before (unless the test
    /// asked its type: `type_tested`).
    pub(super) fn branches_end(&mut self, leaves: bool, exhaustive: bool, type_tested: &[&str]) {
        self.branch_arm_end(leaves);
        let Some(frame) = self.branch_frames.pop() else { return };
        // What the `if` bound is bound in the enclosing arm too: its values from before the `if`
        // are those from before the enclosing one, unless that arm bound them first. (Before the
        // merges below bind anything there.)
        if let Some(outer) = self.branch_frames.last_mut().filter(|f| f.depth == frame.depth) {
            for entry in &frame.before {
                if !outer.before.iter().any(|b| b.0 == entry.0) {
                    outer.before.push(*entry);
                }
            }
        }
        for (name, ty, scalar) in frame.captured {
            // (An unknown value, not a symbolic one: those carry what the project pass resolves.)
            let last = self.scope_ty(name);
            let replaces = is_python_value(last) || (last == Ty::Unknown && self.scope_binds(name));
            let merged = if ty.is_device_tensor() && replaces { Some(ty) } else { device_over_host(ty, last) };
            if let Some(merged) = merged {
                self.bind(name, merged);
                if scalar && merged.is_tensor() {
                    self.note_scalar(name);
                }
            }
        }
        if exhaustive {
            return;
        }
        for (name, before) in frame.before.into_iter().filter(|(name, _)| !type_tested.contains(name)) {
            if let Some(merged) = before_over_host(before, self.scope_ty(name)) {
                self.bind(name, merged);
            }
        }
    }

    // ----- loops ------------------------------------------------------------------------------

    /// Before a loop's test (`while`) or body (`for`): the types this loop carried in the last
    /// visit of the file are applied, and the loop's reads and bindings are tracked.
    pub(super) fn loop_begin(&mut self, start: u32) {
        if !self.carried_in.is_empty() {
            let seeds: SmallVec<[Carried<'a>; 4]> =
                self.carried_in.iter().filter(|c| c.loop_start == start).copied().collect();
            for seed in seeds {
                if is_python_value(self.scope_ty(seed.name)) {
                    self.bind(seed.name, seed.ty);
                    if seed.scalar {
                        self.note_scalar(seed.name);
                    }
                }
            }
        }
        self.loop_frames.push(LoopFrame {
            depth: self.scopes.len(),
            start,
            reads: SmallVec::new(),
            bound: SmallVec::new(),
        });
    }

    /// After a loop's body: a name read with a Python-value type and bound to a device tensor in
    /// it is carried (the file will be visited again with it).
    pub(super) fn loop_end(&mut self) {
        let Some(frame) = self.loop_frames.pop() else { return };
        for (name, ty, scalar) in frame.bound {
            if frame.reads.contains(&name) {
                let carried = Carried { loop_start: frame.start, name, ty, scalar };
                if !self.carried_in.contains(&carried) && !self.carried_out.contains(&carried) {
                    self.carried_out.push(carried);
                }
            }
        }
    }

    /// The types loops carried that the visit did not know yet (empty when it knew them all).
    pub(crate) fn take_carried(&mut self) -> Vec<Carried<'a>> {
        std::mem::take(&mut self.carried_out)
    }

    fn is_scalar_name(&self, name: &'a str) -> bool {
        self.scalars.contains(&(self.current_func(), name))
    }

    fn scope_binds(&self, name: &str) -> bool {
        self.scopes.last().is_some_and(|scope| scope.vars.contains_key(name))
    }

    /// The type of `name` in the current scope (`Unknown` when unbound there).
    fn scope_ty(&self, name: &str) -> Ty {
        self.scopes.last().and_then(|scope| scope.vars.get(name).copied()).unwrap_or(Ty::Unknown)
    }
}
