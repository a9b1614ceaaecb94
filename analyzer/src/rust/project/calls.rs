//! Receivers and call targets: a small evaluator of receivers' types, and the call edges
//! where it proves the callee.

use super::*;

impl<'s> Project<'s> {
    fn eval(&mut self, node: Node, sym: &Sym, depth: u32) -> Option<TyVal> {
        if depth > 8 {
            return None;
        }
        match sym {
            Sym::Ty(ty) => {
                let self_ty = self.self_tys[node].clone();
                self.resolve_ty(self.func_module(node), ty, self_ty.as_ref(), depth)
            }
            Sym::SelfValue => self.self_tys[node].clone(),
            Sym::Field(base, name) => match self.eval(node, base, depth + 1)? {
                TyVal::Crate(ty) => {
                    let info = &self.types[ty as usize];
                    let fields: &'s [(String, TyRef)] = info.fields;
                    let module = info.module;
                    let field = &fields.iter().find(|(n, _)| n == name)?.1;
                    self.resolve_ty(module, field, Some(&TyVal::Crate(ty)), depth + 1)
                }
                _ => None,
            },
            Sym::Elem(inner) => match self.eval(node, inner, depth + 1)? {
                TyVal::Elem(elem) => Some(*elem),
                _ => None,
            },
            Sym::Ret(callee) => self.ret(node, callee, depth + 1),
            Sym::Unknown => None,
        }
    }

    fn ret(&mut self, node: Node, callee: &Callee, depth: u32) -> Option<TyVal> {
        // The receiver is evaluated once, for both the method lookup and the fallback: a builder
        // chain nests receivers, and evaluating each twice would take exponential time.
        let recv = match callee {
            Callee::Method(recv, _) => self.eval(node, recv, depth + 1),
            Callee::Path(_) => None,
        };
        let target = match (callee, &recv) {
            (Callee::Method(_, name), Some(TyVal::Crate(ty))) => {
                self.method(*ty, name).and_then(|n| n.first().copied())
            }
            (Callee::Method(..), _) => None,
            (Callee::Path(_), _) => self.targets(node, callee, depth).first().copied(),
        };
        if let Some(target) = target {
            let ret = self.func(target).ret.clone()?;
            let self_ty = self.self_tys[target].clone();
            return self.resolve_ty(self.func_module(target), &ret, self_ty.as_ref(), depth + 1);
        }
        match callee {
            Callee::Method(_, method) => match recv? {
                TyVal::Ext(name) if name == "Tensor" && tensor_method_returns_tensor(method) => Some(TyVal::Ext(name)),
                _ => None,
            },
            Callee::Path(segments) if segments.len() >= 2 => {
                // Constructor convention: `Type::new(..)` and friends return the type.
                let last = segments.last()?;
                if !(last.starts_with("new") || last.starts_with("load") || last.starts_with("from")) {
                    return None;
                }
                let owner = &segments[..segments.len() - 1];
                if owner.len() == 1 && owner[0] == "Self" {
                    return self.self_tys[node].clone();
                }
                self.resolve_ty(self.func_module(node), &TyRef::Path(owner.to_vec()), None, depth + 1)
            }
            Callee::Path(_) => None,
        }
    }

    fn targets(&mut self, node: Node, callee: &Callee, depth: u32) -> SmallVec<[Node; 2]> {
        match callee {
            Callee::Path(segments) if segments.len() >= 2 && segments[0] == "Self" => match self.self_tys[node].clone()
            {
                Some(TyVal::Crate(ty)) => self.method(ty, &segments[1]).cloned().unwrap_or_default(),
                _ => SmallVec::new(),
            },
            Callee::Path(segments) => match self.resolve_path(self.func_module(node), segments, depth) {
                Item::Func(target) => smallvec::smallvec![target],
                _ => SmallVec::new(),
            },
            Callee::Method(recv, name) => match self.eval(node, recv, depth + 1) {
                Some(TyVal::Crate(ty)) => self.method(ty, name).cloned().unwrap_or_default(),
                _ => SmallVec::new(),
            },
        }
    }

    pub(super) fn edges(&mut self) -> Vec<Vec<Node>> {
        let mut edges = vec![Vec::new(); self.node_count];
        for file in 0..self.files.len() {
            for call in &self.files[file].summary.calls {
                let node = self.func_base[file] + call.func as usize;
                let targets = self.targets(node, &call.callee, 0);
                if targets.is_empty() {
                    continue;
                }
                hotpath::add_call_edges(&mut edges, self, file, call.func, call.region, &targets);
            }
        }
        edges
    }
}
