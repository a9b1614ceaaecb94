//! Device tensors passed on. A parameter that callers give a device tensor (`declared.rs`) and
//! that its function passes on unchanged (`t = timestep`, then `self._variance(t)` or
//! `self.previous_timestep(t)`) gives the callee's parameter a device tensor too, when that one
//! is open to callers' types (annotated as a number, or not typed and read by a rule). Followed
//! to a fixed point over the functions the re-check wants (the hot ones); a parameter that holds
//! a 0-d tensor passes it on as one.

use super::declared::Slot;
use super::{FileIdx, Project};
use crate::paths::display_path;
use crate::python::summary::*;
use crate::python::types::{ForeignTypes, GivenTensor};

impl Project<'_> {
    pub(super) fn forward_given_tensors(
        &mut self,
        out: &mut [ForeignTypes],
        wanted: &impl Fn(FileIdx, FuncIdx) -> bool,
    ) {
        let files = self.files;
        let mut work: Vec<(FileIdx, FuncIdx, u32)> = Vec::new();
        for (file, foreign) in out.iter().enumerate() {
            work.extend(foreign.params.keys().map(|&(func, index)| (file, func, index)));
        }
        // (The maps' order is not the files' order: the first caller named must not depend on it.)
        work.sort_unstable_by(|a, b| b.cmp(a));
        while let Some((file, func, index)) = work.pop() {
            let zero_dim = out[file].params[&(func, index)].zero_dim;
            let summary = &files[file].summary;
            for arg in summary.forwarded_args.iter().filter(|arg| arg.param == index) {
                let call = &summary.calls[arg.call as usize];
                if call.func != func {
                    continue;
                }
                let slot = match arg.keyword {
                    Some(name) => Slot::Keyword(self.sym(file, name)),
                    None => Slot::Position(arg.position),
                };
                for (target_file, target_func, first) in self.call_targets(file, call) {
                    let target = &files[target_file].summary.funcs[target_func as usize];
                    let open =
                        target.scalar_params | (target.untyped_params & target.read_params & !target.tested_params);
                    if open == 0 || !wanted(target_file, target_func) {
                        continue;
                    }
                    let Some(target_index) = self.param_index(target_file, target_func, first, slot) else { continue };
                    let key = (target_func, target_index);
                    if open & (1 << target_index) == 0 || out[target_file].params.contains_key(&key) {
                        continue;
                    }
                    let annotated = target.scalar_params & (1 << target_index) != 0;
                    let name = files[target_file].summary.names.get(target.params[target_index as usize].0);
                    out[target_file].params.insert(
                        key,
                        GivenTensor {
                            name: name.to_string(),
                            caller: format!("{}:{}", display_path(&files[file].path), arg.row),
                            annotated,
                            // (Arithmetic on a 0-d tensor may broadcast it: only the annotation says.)
                            zero_dim: (zero_dim && !arg.derived) || annotated,
                        },
                    );
                    work.push((target_file, target_func, target_index));
                }
            }
        }
    }
}
