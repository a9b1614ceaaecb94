//! The evaluator: the summaries' symbolic values as entities (classes, instances, functions,
//! bound methods), through classes' MROs, attributes and methods.

use smallvec::SmallVec;

use rustc_hash::{FxHashMap, FxHashSet};

use super::{
    is_module_base, ClassKey, Entities, Entity, FileIdx, Methods, Project, Sym, IN_PROGRESS, NOTHING, NOTHING_VOLATILE,
    UNSEEN,
};
use crate::python::summary::*;
use crate::python::types::returns_self_module;

impl Project<'_> {
    // ----- classes ----------------------------------------------------------------------------

    /// The class and its project bases, depth first, left to right (a simplified MRO), as a
    /// range of `mro_classes` (which only grows, so the range stays valid).
    pub(super) fn mro(&mut self, file: FileIdx, class: u32) -> std::ops::Range<usize> {
        let (start, len) = self.mro_memo[file][class as usize];
        if start != UNSEEN {
            return start as usize..(start + len) as usize;
        }
        let order = self.compute_mro(file, class);
        let start = self.mro_classes.len();
        self.mro_classes.extend_from_slice(&order);
        self.mro_memo[file][class as usize] = (start as u32, order.len() as u32);
        start..start + order.len()
    }

    fn compute_mro(&mut self, file: FileIdx, class: u32) -> SmallVec<[(FileIdx, u32); 8]> {
        let mut order: SmallVec<[(FileIdx, u32); 8]> = SmallVec::new();
        let mut stack = vec![(file, class)];
        while let Some((f, c)) = stack.pop() {
            if order.contains(&(f, c)) || order.len() > 32 {
                continue;
            }
            order.push((f, c));
            let files = self.files;
            for &base in files[f].summary.classes[c as usize].bases.iter().rev() {
                for entity in self.eval(f, base) {
                    if let Entity::Class(bf, bc) = entity {
                        stack.push((bf, bc));
                    }
                }
            }
        }
        order
    }

    /// Fills the direct-subclass table from every project class's bases (before calls resolve,
    /// so that no base is read while its value is being evaluated).
    pub(super) fn index_subclasses(&mut self) {
        let files = self.files;
        for (file, analysis) in files.iter().enumerate() {
            for (class, info) in analysis.summary.classes.iter().enumerate() {
                for &base in &info.bases {
                    for entity in self.eval(file, base) {
                        if let Entity::Class(bf, bc) = entity {
                            let subclasses = self.subclasses.entry((bf as u32, bc)).or_default();
                            if !subclasses.contains(&(file as u32, class as u32)) {
                                subclasses.push((file as u32, class as u32));
                            }
                        }
                    }
                }
            }
        }
    }

    /// Class hierarchy analysis: the methods a call of `name` on a value declared as an instance
    /// of the class reaches besides the class's own, i.e. the overrides in its project subclasses
    /// (transitively). None when the class itself has no such method, and none at all when there
    /// are more than [`MAX_OVERRIDES`]: the call then reaches the declared class's method only.
    pub(super) fn overrides(&mut self, file: FileIdx, class: u32, name: Sym) -> Methods {
        let key = ((file as u32, class), name);
        if let Some(known) = self.override_memo.get(&key) {
            return known.clone();
        }
        self.override_memo.insert(key, SmallVec::new());
        let mut found = Methods::new();
        if let Some(own) = self.find_method(file, class, name) {
            let mut queue: Vec<ClassKey> = vec![(file as u32, class)];
            let mut seen: FxHashSet<ClassKey> = queue.iter().copied().collect();
            while let Some(current) = queue.pop() {
                for &sub in self.subclasses.get(&current).map_or(&[][..], |s| &s[..]) {
                    if seen.insert(sub) {
                        queue.push(sub);
                    }
                }
                if current == (file as u32, class) {
                    continue;
                }
                if let Some(method) = self.find_method(current.0 as FileIdx, current.1, name) {
                    if method != own && !found.contains(&method) {
                        found.push(method);
                    }
                }
                if found.len() > MAX_OVERRIDES || seen.len() > 4 * MAX_OVERRIDES {
                    found.clear();
                    break;
                }
            }
        }
        self.override_memo.insert(key, found.clone());
        found
    }

    /// Whether the class derives from the builtin `list` (a named list of processors, criteria…).
    pub(super) fn is_list_class(&mut self, file: FileIdx, class: u32) -> bool {
        if let Some(&known) = self.list_memo.get(&(file as u32, class)) {
            return known;
        }
        let files = self.files;
        let mut result = false;
        for index in self.mro(file, class) {
            let (f, c) = self.mro_classes[index];
            let summary = &files[f].summary;
            result |= summary.classes[c as usize].bases.iter().any(
                |&base| matches!(summary.vals[base as usize], Val::Global(name) if summary.names.get(name) == "list"),
            );
        }
        self.list_memo.insert((file as u32, class), result);
        result
    }

    /// The elements a `list` subclass named `<B>List` declares by its name: `B`s, when its module
    /// sees a project class `B` (transformers' `LogitsProcessorList` of `LogitsProcessor`s).
    fn named_element_class(&mut self, file: FileIdx, class: u32) -> Option<Entity> {
        let files = self.files;
        let base = files[file].summary.classes[class as usize].name.strip_suffix("List")?;
        let sym = *self.sym_ids.get(base)?;
        self.module_attribute(file, sym, 0).into_iter().find_map(|entity| match entity {
            Entity::Class(f, c) => Some(Entity::Declared(f, c)),
            _ => None,
        })
    }

    /// A value annotated with an `Enum` whose members are named like classes (diffusers'
    /// `scheduler: KarrasDiffusionSchedulers`, members `DDIMScheduler = 1`, ...) holds an instance
    /// of one of the project classes so named: each of them, declared (at most [`MAX_OVERRIDES`]).
    fn enum_member_classes(&mut self, file: FileIdx, class: u32) -> Entities {
        let files = self.files;
        let by_name = self.classes_by_name.get_or_insert_with(|| {
            let mut by_name: FxHashMap<&str, SmallVec<[ClassKey; 2]>> = FxHashMap::default();
            for (f, analysis) in files.iter().enumerate() {
                for (c, info) in analysis.summary.classes.iter().enumerate() {
                    by_name.entry(info.name.as_str()).or_default().push((f as u32, c as u32));
                }
            }
            by_name
        });
        let summary = &files[file].summary;
        let mut out = Entities::new();
        for &member in &summary.classes[class as usize].class_members {
            for &(f, c) in by_name.get(summary.names.get(member)).map_or(&[][..], |classes| &classes[..]) {
                let entity = Entity::Declared(f as FileIdx, c);
                if out.len() < MAX_OVERRIDES && !out.contains(&entity) {
                    out.push(entity);
                }
            }
        }
        out
    }

    /// `xs.append(v)`, `xs.insert(i, v)`, `xs.extend([v, w])` and `Xs([v, w])` on a project
    /// subclass of `list`: records the elements; returns whether any was new.
    pub(super) fn record_elements(&mut self, file: FileIdx, call: &CallSite) -> bool {
        let files = self.files;
        let summary = &files[file].summary;
        let args = summary.args(call);
        let (receiver, added, spread) = match summary.vals[call.callee as usize] {
            Val::Attr(base, name) => match Some(self.sym(file, name)) {
                name if name == self.sym_append => (base, args.first(), false),
                name if name == self.sym_insert => (base, args.get(1), false),
                name if name == self.sym_extend => (base, args.first(), true),
                _ => return false,
            },
            _ => (call.callee, args.first(), true),
        };
        let Some(&Some(added)) = added else { return false };
        let mut lists: SmallVec<[ClassKey; 2]> = SmallVec::new();
        for entity in self.eval(file, receiver) {
            let (f, c) = match entity {
                Entity::Instance(f, c) | Entity::Declared(f, c) if receiver != call.callee => (f, c),
                Entity::Class(f, c) if receiver == call.callee => (f, c),
                _ => continue,
            };
            if self.is_list_class(f, c) {
                lists.push((f as u32, c));
            }
        }
        if lists.is_empty() {
            return false;
        }
        let mut elements = Entities::new();
        for entity in self.eval(file, added) {
            match entity {
                Entity::Container(id) if spread => elements.extend(self.containers[id as usize].iter().copied()),
                Entity::Instance(..) | Entity::Declared(..) | Entity::Func(..) | Entity::Bound(..) if !spread => {
                    elements.push(entity)
                }
                _ => {}
            }
        }
        let mut changed = false;
        for list in lists {
            let slot = self.class_elements.entry(list).or_default();
            for &element in &elements {
                if !slot.contains(&element) && slot.len() < 4 * MAX_OVERRIDES {
                    slot.push(element);
                    changed = true;
                }
            }
        }
        changed
    }

    pub(super) fn is_module_class(&mut self, file: FileIdx, class: u32) -> bool {
        if let Some(known) = self.module_memo.get(&(file, class)) {
            return *known;
        }
        self.module_memo.insert((file, class), false);
        let files = self.files;
        let mut result = false;
        for &base in &files[file].summary.classes[class as usize].bases {
            for entity in self.eval(file, base) {
                result |= match entity {
                    Entity::External(id) => is_module_base(&self.externals[id as usize]),
                    Entity::Class(f, c) => self.is_module_class(f, c),
                    _ => false,
                };
            }
        }
        self.module_memo.insert((file, class), result);
        result
    }

    /// A method by name (`None` when no file names such a method at all).
    pub(super) fn find_method_named(
        &mut self,
        file: FileIdx,
        class: u32,
        name: Option<Sym>,
    ) -> Option<(FileIdx, FuncIdx)> {
        self.find_method(file, class, name?)
    }

    pub(super) fn find_method(&mut self, file: FileIdx, class: u32, name: Sym) -> Option<(FileIdx, FuncIdx)> {
        let key = ((file as u32, class), name);
        if let Some(known) = self.method_memo.get(&key) {
            return *known;
        }
        let found = self.find_method_uncached(file, class, name);
        self.method_memo.insert(key, found);
        found
    }

    fn find_method_uncached(&mut self, file: FileIdx, class: u32, name: Sym) -> Option<(FileIdx, FuncIdx)> {
        for index in self.mro(file, class) {
            let (f, c) = self.mro_classes[index];
            if let Some(&method) = self.class_methods.get(&((f as u32, c), name)) {
                return Some((f, method));
            }
        }
        None
    }

    /// `instance.name`: attributes assigned on the instance or the class, then methods.
    fn instance_attribute(&mut self, file: FileIdx, class: u32, name: Sym) -> Entities {
        let key = ((file as u32, class), name);
        if let Some((entities, volatile)) = self.attr_memo.get(&key) {
            self.read_flow |= *volatile;
            return entities.clone();
        }
        let outer_read_flow = std::mem::replace(&mut self.read_flow, false);
        let found = self.instance_attribute_uncached(file, class, name);
        let volatile = self.read_flow;
        self.read_flow |= outer_read_flow;
        self.attr_memo.insert(key, (found.clone(), volatile));
        found
    }

    fn instance_attribute_uncached(&mut self, file: FileIdx, class: u32, name: Sym) -> Entities {
        let files = self.files;
        let mut found = Entities::new();
        for index in self.mro(file, class) {
            let (f, c) = self.mro_classes[index];
            let attrs = self.class_attrs.get(&((f as u32, c), name)).cloned().unwrap_or_default();
            for val in attrs {
                for entity in self.eval(f, val) {
                    if !found.contains(&entity) {
                        found.push(entity);
                    }
                }
            }
            if !found.is_empty() {
                return found;
            }
        }
        if let Some((f, method)) = self.find_method(file, class, name) {
            // Reading a property gives what it returns (its call is an edge of its own,
            // `Project::property_targets`).
            let function = &files[f].summary.funcs[method as usize];
            match (function.property, function.return_val) {
                (true, Some(returned)) => found = self.eval(f, returned),
                (true, None) => {}
                (false, _) => found.push(Entity::Bound(f, method)),
            }
        }
        found
    }

    pub(super) fn attribute(&mut self, entity: Entity, name: Sym) -> Entities {
        match entity {
            Entity::Module(file) => self.module_attribute(file, name, 0),
            Entity::Class(file, class) => match self.find_method(file, class, name) {
                Some((f, method)) => smallvec::smallvec![Entity::Func(f, method)],
                None => self.instance_attribute(file, class, name),
            },
            // The overrides a method call dispatches to are call edges only (`dispatch_targets`).
            Entity::Instance(file, class) | Entity::Declared(file, class) => self.instance_attribute(file, class, name),
            Entity::Super(file, class) => {
                for index in self.mro(file, class).skip(1) {
                    let (f, c) = self.mro_classes[index];
                    if let Some(&method) = self.class_methods.get(&((f as u32, c), name)) {
                        return smallvec::smallvec![Entity::Bound(f, method)];
                    }
                }
                Entities::new()
            }
            Entity::External(id) => smallvec::smallvec![Entity::External(self.external_member(id, name))],
            Entity::ExternalInstance(_) | Entity::Func(..) | Entity::Bound(..) | Entity::Container(_) => {
                Entities::new()
            }
        }
    }

    // ----- the evaluator ----------------------------------------------------------------------

    /// What `val` of `file` evaluates to. A value already evaluated is read from the memo here,
    /// inlined into the callers (most calls are such reads); the rest is [`Self::eval_memoised`].
    #[inline]
    pub(super) fn eval(&mut self, file: FileIdx, val: ValId) -> Entities {
        let known = self.memo[file][val as usize];
        if known < NOTHING_VOLATILE {
            let (start, len, volatile) = self.results[known as usize];
            self.read_flow |= volatile;
            return match &self.result_entities[start as usize..(start + len) as usize] {
                &[one] => smallvec::smallvec![one],
                many => Entities::from_slice(many),
            };
        }
        if known == NOTHING {
            return Entities::new();
        }
        self.eval_memoised(file, val)
    }

    #[inline(never)]
    fn eval_memoised(&mut self, file: FileIdx, val: ValId) -> Entities {
        match self.memo[file][val as usize] {
            UNSEEN => {}
            IN_PROGRESS | NOTHING => return Entities::new(),
            NOTHING_VOLATILE => {
                self.read_flow = true;
                return Entities::new();
            }
            known => {
                let (start, len, volatile) = self.results[known as usize];
                self.read_flow |= volatile;
                // Almost every value is one entity: pushed, not copied as a slice (a `memcpy` call).
                return match &self.result_entities[start as usize..(start + len) as usize] {
                    &[one] => smallvec::smallvec![one],
                    many => Entities::from_slice(many),
                };
            }
        }
        if self.depth > 200 {
            return Entities::new();
        }
        self.memo[file][val as usize] = IN_PROGRESS;
        self.depth += 1;
        let outer_read_flow = std::mem::replace(&mut self.read_flow, false);
        let result = self.eval_uncached(file, val);
        let volatile = self.read_flow;
        if volatile {
            self.volatile.push((file, val));
        }
        self.read_flow |= outer_read_flow;
        self.depth -= 1;
        self.memo[file][val as usize] = match (result.is_empty(), volatile) {
            (true, false) => NOTHING,
            (true, true) => NOTHING_VOLATILE,
            (false, _) => {
                let start = self.result_entities.len() as u32;
                self.result_entities.extend_from_slice(&result);
                self.results.push((start, result.len() as u32, volatile));
                (self.results.len() - 1) as u32
            }
        };
        result
    }

    /// Forgets what depended on flowed-in parameters (everything else cannot change).
    pub(super) fn forget_volatile_values(&mut self) {
        for (file, val) in std::mem::take(&mut self.volatile) {
            self.memo[file][val as usize] = UNSEEN;
        }
        self.attr_memo.retain(|_, (_, volatile)| !*volatile);
    }

    fn eval_uncached(&mut self, file: FileIdx, val: ValId) -> Entities {
        let files = self.files;
        match files[file].summary.vals[val as usize] {
            Val::Global(name) => self.module_attribute(file, self.sym(file, name), 0),
            Val::Import(import) => self.resolve_import(file, import),
            Val::Func(func) => smallvec::smallvec![Entity::Func(file, func)],
            Val::Class(class) => smallvec::smallvec![Entity::Class(file, class)],
            Val::Param { func, index } => {
                let summary = &self.files[file].summary;
                let function = &summary.funcs[func as usize];
                if index == 0 && !function.is_static {
                    return match function.class {
                        Some(class) => smallvec::smallvec![Entity::Instance(file, class)],
                        None => Entities::new(),
                    };
                }
                let annotation = function.params.get(index as usize).and_then(|(_, a)| *a);
                if annotation.is_none() {
                    self.read_flow = true;
                }
                let mut entities = match annotation {
                    Some(annotation) => self.eval(file, annotation),
                    None => Entities::new(),
                };
                if let Some(flowed) = self.param_flow.get(&(file, func, index)) {
                    for entity in flowed.clone() {
                        if !entities.contains(&entity) {
                            entities.push(entity);
                        }
                    }
                }
                entities
            }
            Val::SelfAttr { class, name } => self.instance_attribute(file, class, self.sym(file, name)),
            Val::Attr(base, name) => {
                let name = self.sym(file, name);
                let bases = self.eval(file, base);
                let mut out = Entities::new();
                for entity in bases {
                    for found in self.attribute(entity, name) {
                        if !out.contains(&found) {
                            out.push(found);
                        }
                    }
                }
                out
            }
            Val::Call(callee) => self.eval_call(file, callee),
            Val::Declared(class) => {
                let mut out = Entities::new();
                for entity in self.eval(file, class) {
                    match entity {
                        Entity::Class(f, c) if !files[f].summary.classes[c as usize].class_members.is_empty() => {
                            out.extend(self.enum_member_classes(f, c))
                        }
                        Entity::Class(f, c) => out.push(Entity::Declared(f, c)),
                        Entity::External(id) if is_class_name(super::last_segment(&self.externals[id as usize])) => {
                            out.push(Entity::ExternalInstance(id))
                        }
                        _ => {}
                    }
                }
                out
            }
            Val::Elem(container) => {
                let mut out = Entities::new();
                for entity in self.eval(file, container) {
                    match entity {
                        Entity::Container(id) => out.extend(self.containers[id as usize].iter().copied()),
                        Entity::Instance(f, c) | Entity::Declared(f, c) if self.is_list_class(f, c) => {
                            // What is appended to such lists grows while calls resolve.
                            self.read_flow = true;
                            if let Some(elements) = self.class_elements.get(&(f as u32, c)) {
                                out.extend(elements.iter().copied());
                            }
                            if let Some(element) = self.named_element_class(f, c) {
                                out.push(element);
                            }
                        }
                        Entity::Instance(f, c) | Entity::Declared(f, c)
                            if self.find_method_named(f, c, self.sym_getitem).is_some() =>
                        {
                            for found in self.mapped_values(f, c) {
                                if !out.contains(&found) {
                                    out.push(found);
                                }
                            }
                        }
                        _ => {}
                    }
                }
                out
            }
            Val::Super { class } => smallvec::smallvec![Entity::Super(file, class)],
            Val::Collection(items) => {
                let mut elements = Entities::new();
                for &item in files[file].summary.items(items) {
                    for entity in self.eval(file, item) {
                        let flattened = match entity {
                            Entity::Container(id) => self.containers[id as usize].clone(),
                            other => smallvec::smallvec![other],
                        };
                        for e in flattened {
                            if !elements.contains(&e) {
                                elements.push(e);
                            }
                        }
                    }
                }
                if elements.is_empty() {
                    return Entities::new();
                }
                self.containers.push(elements);
                smallvec::smallvec![Entity::Container((self.containers.len() - 1) as u32)]
            }
            Val::Union(items) => {
                let mut out = Entities::new();
                for &item in files[file].summary.items(items) {
                    for entity in self.eval(file, item) {
                        if !out.contains(&entity) {
                            out.push(entity);
                        }
                    }
                }
                out
            }
        }
    }

    /// What indexing an instance of a class with its own `__getitem__` gives: the values of the
    /// containers its classes hold (transformers' `GeneralInterface` subclasses map backend names
    /// to functions in a class-level `_global_mapping` dict, and `mask_interface = ALL_MASKS[impl]`
    /// then calls one of them). Every container of the class and its bases counts, whatever the
    /// key: a registry's entries are all reachable from one call.
    fn mapped_values(&mut self, file: FileIdx, class: u32) -> Entities {
        let files = self.files;
        let mut out = Entities::new();
        for index in self.mro(file, class) {
            let (f, c) = self.mro_classes[index];
            for &(_, val) in &files[f].summary.classes[c as usize].attrs {
                for entity in self.eval(f, val) {
                    if let Entity::Container(id) = entity {
                        for &element in &self.containers[id as usize] {
                            if !out.contains(&element) {
                                out.push(element);
                            }
                        }
                    }
                }
            }
        }
        out
    }

    /// The value of calling `callee`: instances of classes, containers for `nn.ModuleList(...)`.
    fn eval_call(&mut self, file: FileIdx, callee: ValId) -> Entities {
        // `Cls.from_pretrained(...)` returns a `Cls`; `module.to(...)`/`.eval()` return the module.
        let files = self.files;
        if let Val::Attr(base, name) = files[file].summary.vals[callee as usize] {
            let name = files[file].summary.names.get(name);
            // A dict display's (or comprehension's) container holds its values.
            if name == "values" {
                let containers: Entities =
                    self.eval(file, base).into_iter().filter(|e| matches!(e, Entity::Container(_))).collect();
                if !containers.is_empty() {
                    return containers;
                }
            }
            let factory = matches!(name, "from_pretrained" | "from_config" | "_from_config" | "load_from_checkpoint");
            if factory || returns_self_module(name) {
                let mut out = Entities::new();
                for entity in self.eval(file, base) {
                    match (entity, factory) {
                        (Entity::Class(f, c), true) => out.push(Entity::Instance(f, c)),
                        (Entity::Instance(..) | Entity::Declared(..) | Entity::ExternalInstance(_), false) => {
                            out.push(entity)
                        }
                        _ => {}
                    }
                }
                if !out.is_empty() {
                    return out;
                }
            }
        }
        let mut out = Entities::new();
        for entity in self.eval(file, callee) {
            match entity {
                Entity::Class(f, c) => out.push(Entity::Instance(f, c)),
                // A project function's declared return class (`-> "Sampler"` too).
                Entity::Func(f, m) | Entity::Bound(f, m) => {
                    if let Some(returned) = files[f].summary.funcs[m as usize].return_val {
                        for found in self.eval(f, returned) {
                            if !out.contains(&found) {
                                out.push(found);
                            }
                        }
                    }
                }
                Entity::External(id) => {
                    let path = &self.externals[id as usize];
                    if is_class_name(super::last_segment(path)) {
                        out.push(Entity::ExternalInstance(id));
                    }
                }
                _ => {}
            }
        }
        out
    }
}

/// The most overrides one call on a declared instance dispatches to (class hierarchy analysis);
/// past that the call reaches the declared class's own method only.
const MAX_OVERRIDES: usize = 64;

/// Whether the last segment of a dotted path names a class (by convention, capitalised).
fn is_class_name(last: &str) -> bool {
    last.starts_with(char::is_uppercase)
}
