//! A re-check visits again only the functions that the project pass's answers concern; the
//! others keep the first pass's findings, and their bodies are skipped.
//!
//! A skipped body must leave the traversal as visiting it would have for the code after it: the
//! functions and regions it defines take their indices (copied from the first pass, which visited
//! the same statements), its imports bind file-wide, and what its `return`s give is what later
//! calls of it see (replayed from the first pass's summary). A body that defines a class is
//! always visited (the class's index and knowledge would be needed), and so is every body that
//! mentions a function whose visit changed what later calls see of its return
//! ([`Checker::diverged`]), and every function after module or class-level code that an answer
//! concerns (it may bind a name differently).

use std::cell::RefCell;
use std::ops::Range;

use rustc_hash::FxHashMap;
use smallvec::SmallVec;

use super::inference::returns_seen_by_callers;
use super::Checker;
use crate::frontend::Candidate;
use crate::python::adapter::{ast, span, Expr, Stmt};
use crate::python::summary::{FileSummary, FuncIdx};
use crate::python::types::{ForeignTypes, Ty};
use crate::source::LineIndex;

/// What a re-check needs to skip the functions its answers do not concern.
pub(crate) struct Skips<'a> {
    /// The file's first-pass summary and findings (their byte ranges in the text after any
    /// byte-order mark, as the traversal reports them).
    first: &'a FileSummary,
    candidates: &'a [Candidate],
    /// Where the answered expressions start, sorted.
    answered_starts: Vec<u32>,
    /// The functions that own answered parameters, sorted.
    answered_funcs: Vec<FuncIdx>,
    /// Where the bodies left out of the parsed text start, sorted (see [`Outline`]).
    elided: Vec<u32>,
    /// Where the bodies left out that the traversal reached start: the re-check must parse them.
    reached: RefCell<Vec<u32>>,
}

impl<'a> Skips<'a> {
    /// `None` when every function must be visited again: the answers say what some of the file's
    /// functions return, which changes what their callers anywhere in the file see, or which
    /// multimodal fields stay in host memory.
    pub fn new(foreign: &ForeignTypes, first: &'a FileSummary, candidates: &'a [Candidate]) -> Option<Self> {
        // (Kept fields change what mapping reads give anywhere in the file; a file's own field
        // declarations are found by walking its whole tree, bodies included.)
        if !foreign.param_returns.is_empty() || !foreign.kept_fields.is_empty() || !first.mm_fields.is_empty() {
            return None;
        }
        // (A key is the range's start, then its end: see `range_key`.)
        let start = |key: &u64| (key >> 32) as u32;
        let mut answered_starts: Vec<u32> =
            foreign.exprs.keys().chain(foreign.elements.keys()).chain(foreign.containers.keys()).map(start).collect();
        answered_starts.sort_unstable();
        let mut answered_funcs: Vec<FuncIdx> =
            foreign.params.keys().chain(foreign.host_params.keys()).map(|&(func, _)| func).collect();
        answered_funcs.sort_unstable();
        Some(Skips {
            first,
            candidates,
            answered_starts,
            answered_funcs,
            elided: Vec::new(),
            reached: RefCell::default(),
        })
    }

    /// The text to parse for the re-check, with the outlined bodies that no answer concerns left
    /// out, except those that start at one of `kept` (sorted); `None` when there is none to leave
    /// out. Those bodies are then expected to be skipped ([`Skips::elision_failed`] says when one
    /// was not, and [`Skips::reached`] which).
    pub fn elide(&mut self, outline: &Outline, source: &str, lines: &LineIndex, kept: &[u32]) -> Option<String> {
        // (The file may have changed since the first pass read it.)
        if outline.text_hash != xxhash_rust::xxh3::xxh3_64(source.as_bytes()) {
            return None;
        }
        // A function's index in the first pass, by the row of its name (one `def` per row).
        let mut by_row: FxHashMap<u32, Option<FuncIdx>> = FxHashMap::default();
        for (func, summary) in self.first.funcs.iter().enumerate().skip(1) {
            by_row.entry(summary.row).and_modify(|seen| *seen = None).or_insert(Some(func as FuncIdx));
        }
        // Which outlined bodies an answer concerns (visited again), and the module-level functions
        // among them without a return annotation: where what such a function returns changes, every
        // body that mentions it is visited too (see `Checker::diverged`), so those stay in the text.
        let funcs: Vec<Option<FuncIdx>> = (outline.bodies.iter())
            .map(|body| by_row.get(&lines.row(body.name_start as usize)).copied().flatten())
            .collect();
        let concerned: Vec<bool> = (outline.bodies.iter().zip(&funcs))
            .map(|(body, func)| {
                func.is_some_and(|func| self.concerns(body.def_start as usize..body.end as usize, func..func + 1))
            })
            .collect();
        let mut visited: Vec<&str> = (outline.bodies.iter().zip(funcs.iter().zip(&concerned)))
            .filter(|(body, (_, &concerned))| concerned && !body.annotated)
            .filter_map(|(_, (func, _))| self.first.funcs.get((*func)? as usize))
            .filter(|summary| summary.class.is_none())
            .map(|summary| summary.name.as_str())
            .collect();
        visited.sort_unstable();
        visited.dedup();
        let mut text = String::new();
        let mut copied = 0;
        for (body, (func, &concerned)) in outline.bodies.iter().zip(funcs.iter().zip(&concerned)) {
            if func.is_none() || concerned || kept.binary_search(&body.start).is_ok() {
                continue;
            }
            let body_text = &source[body.start as usize..body.end as usize];
            if visited.iter().any(|name| super::mentions(body_text, name)) {
                continue;
            }
            // The body's holes: all of it, or (where the class's prescan reads some of its
            // statements) the runs of statements between those.
            for &(start, end) in &outline.holes[body.holes.start as usize..body.holes.end as usize] {
                let (start, end) = (start as usize, end as usize);
                if text.is_empty() {
                    text.reserve(source.len());
                }
                // One statement with the hole's exact range, `(#   \n)`, keeps every other offset,
                // and the function's own range, as they were. The filler is a comment: the lexer
                // skips it in one search for the line's end, where it would step through spaces
                // one by one.
                text.push_str(&source[copied..start]);
                text.push_str("(#");
                push_spaces(&mut text, end - start - 4);
                text.push_str("\n)");
                copied = end;
            }
            self.elided.push(body.start);
        }
        if self.elided.is_empty() {
            return None;
        }
        text.push_str(&source[copied..]);
        Some(text)
    }

    /// Whether the traversal reached a body that was left out of the parsed text.
    pub fn elision_failed(&self) -> bool {
        !self.reached.borrow().is_empty()
    }

    /// Where the bodies left out that the traversal reached start, in the order it reached them.
    pub fn reached(&self) -> Vec<u32> {
        self.reached.borrow().clone()
    }

    /// How many answered expressions start before `range`, and how many in it.
    fn answers_around(&self, range: Range<usize>) -> (usize, usize) {
        let before = self.answered_starts.partition_point(|&start| (start as usize) < range.start);
        let through = self.answered_starts.partition_point(|&start| (start as usize) < range.end);
        (before, through - before)
    }

    /// Whether an answer concerns code in `range` or a parameter of one of `funcs`.
    fn concerns(&self, range: Range<usize>, funcs: Range<FuncIdx>) -> bool {
        let at = self.answered_funcs.partition_point(|&func| func < funcs.start);
        self.answers_around(range).1 > 0 || self.answered_funcs.get(at).is_some_and(|&func| func < funcs.end)
    }
}

/// Appends `count` spaces, a block at a time.
fn push_spaces(text: &mut String, mut count: usize) {
    const SPACES: &str = "                                                                ";
    while count > 0 {
        let n = count.min(SPACES.len());
        text.push_str(&SPACES[..n]);
        count -= n;
    }
}

impl<'a> Checker<'a> {
    /// Before a function's body is visited: in a re-check, notes whether it was left out of the
    /// parsed text (the re-check then starts again from the whole text).
    pub(super) fn note_body_visit(&self, body: &[Stmt]) {
        let (Some(skips), Some(first)) = (self.skips, body.first()) else { return };
        let start = span(first).start as u32;
        if skips.elided.binary_search(&start).is_ok() {
            skips.reached.borrow_mut().push(start);
        }
    }

    /// What calls of the module-level function or method `name` see it return so far.
    pub(super) fn recorded_return(&self, name: &str, class: Option<u32>) -> Option<Ty> {
        match class {
            Some(class) => self.classes.get(class as usize)?.method_returns.get(name).copied(),
            None => self.function_returns.get(name).copied(),
        }
    }

    /// What the first pass's visit of function `func`'s body recorded of its return for later
    /// calls, given the entry `before` it: `None` when that cannot be told from its summary (a
    /// return annotation with no entry before: the body's own type was recorded, and the summary
    /// keeps the annotation).
    fn first_recorded(&self, func: FuncIdx, declared: Ty, before: Option<Ty>) -> Option<Option<Ty>> {
        let first = self.skips?.first.funcs.get(func as usize)?;
        match (before, declared) {
            // A tensor annotation's record gives way to a body whose every `return` proves host
            // memory (see `Checker::record_return`).
            (Some(known), _)
                if known.is_device_tensor() && declared.is_device_tensor() && first.returns.is_host_tensor() =>
            {
                Some(Some(first.returns))
            }
            // Only the first record counts.
            (Some(_), _) => Some(before),
            // Without an annotation, the summary keeps what the body returns.
            (None, Ty::Unknown) => Some(returns_seen_by_callers(&first.name, first.returns).then_some(first.returns)),
            (None, _) => None,
        }
    }

    /// After visiting again the body of module-level function or method `func`: whether what it
    /// recorded for later calls may differ from the first pass's record, which the functions after
    /// it saw in the first pass (and so their findings kept when they are skipped).
    pub(super) fn note_return_divergence(
        &mut self,
        name: &'a str,
        func: FuncIdx,
        class: Option<u32>,
        declared: Ty,
        before: Option<Ty>,
    ) {
        let now = self.recorded_return(name, class);
        // (And for a module-level function, the elements in host memory `a, b = f()` reads.)
        let elements_differ = class.is_none()
            && self.skips.and_then(|skips| skips.first.funcs.get(func as usize)).is_some_and(|first| {
                let now = &self.summary.funcs[func as usize].return_elements;
                let host = |elements: &[Ty]| elements.iter().any(|t| t.is_host_tensor());
                (host(&first.return_elements) || host(now)) && first.return_elements != *now
            });
        if (self.first_recorded(func, declared, before) != Some(now) || elements_differ)
            && !self.diverged.contains(&(class, name))
        {
            self.diverged.push((class, name));
        }
    }

    /// In a re-check, skips module-level function or method `def` (once its decorators and
    /// defaults, which belong to the code around it, are visited) when no answer concerns it:
    /// what visiting it would leave for the code after it is taken from the first pass. Returns
    /// its index if it did.
    pub(super) fn skip_body(&mut self, def: &'a ast::StmtFunctionDef, class: Option<u32>) -> Option<FuncIdx> {
        let skips = self.skips?;
        let range = span(def);
        let (before_def, in_def) = skips.answers_around(range.clone());
        self.answer_outside_functions |= before_def > self.answers_in_functions;
        self.answers_in_functions += in_def;
        if self.answer_outside_functions {
            return None;
        }
        let mut inside = BodyScan::default();
        inside.scan(&def.body);
        let func = self.summary.funcs.len() as FuncIdx;
        let funcs = func..func + 1 + inside.defs;
        let text = &self.context.source[range.clone()];
        // A function's return is seen by calls of its name; a method's, by `self.m()` calls in
        // its class's methods.
        let calls_diverged = (self.diverged.iter())
            .any(|&(owner, name)| (owner.is_none() || owner == class) && super::mentions(text, name));
        if inside.defines_class || calls_diverged || skips.concerns(range, funcs.clone()) {
            return None;
        }
        let first = skips.first;
        // The first pass numbered the same functions and regions (it visited the same statements).
        let regions_from = self.summary.regions.len();
        let same_numbering = first.funcs.len() >= funcs.end as usize
            && first.funcs[func as usize].name == def.name.as_str()
            && first.funcs[func as usize].row == self.row(def.name.range.start().to_usize())
            && first.regions.len() >= regions_from;
        if !same_numbering {
            return None;
        }
        let name = def.name.as_str();
        let before = self.recorded_return(name, class);
        // (As the function's summary starts with it, see `Checker::function`.)
        let declared = def.returns.as_deref().map_or(Ty::Unknown, |returns| {
            if super::attribute_flow::annotation_contradicted_by_tuple(returns, &def.body) {
                Ty::Unknown
            } else {
                self.annotation_ty(returns)
            }
        });
        let recorded = self.first_recorded(func, declared, before)?;
        self.summary.funcs.extend(first.funcs[funcs.start as usize..funcs.end as usize].iter().cloned());
        let regions = first.regions[regions_from..].iter().take_while(|region| funcs.contains(&region.func));
        self.summary.regions.extend(regions.cloned());
        self.candidates.extend(skips.candidates.iter().filter(|c| funcs.contains(&c.func)).cloned());
        for import in inside.imports {
            match import {
                Stmt::Import(import) => self.add_import(import),
                Stmt::ImportFrom(import) => self.add_import_from(import),
                _ => {}
            }
        }
        if class.is_none() {
            let elements = &first.funcs[func as usize].return_elements;
            if elements.iter().any(|t| t.is_host_tensor()) {
                self.function_elements.entry(name).or_insert_with(|| elements.clone());
            }
        }
        if let Some(ty) = recorded.filter(|&ty| before != Some(ty)) {
            match class {
                Some(class) => {
                    if let Some(info) = self.classes.get_mut(class as usize) {
                        info.method_returns.insert(name, ty);
                    }
                }
                None => {
                    self.function_returns.insert(name, ty);
                }
            }
        }
        Some(func)
    }
}

/// The bodies of a file's functions that a re-check may leave out of the text it parses, found in
/// the first pass: those of module-level functions and methods (the ones a re-check may skip)
/// that define no function or class and import nothing (what a skipped body leaves for the code
/// after it is then nothing). What the code around such a body reads of it stays in the text:
/// under a return annotation, its own `return a, b` statements (`returns_a_tuple`,
/// `annotation_contradicted_by_tuple`), and in a method that assigns an attribute of its receiver
/// or registers a buffer or parameter on it, what the class's prescan reads
/// (`prescan_self_assignments`: the assignments and registrations, in the blocks it walks);
/// the rest is left out in runs of statements ([`Outline::holes`]).
#[derive(Debug, Default)]
pub(crate) struct Outline {
    bodies: Vec<OutlinedBody>,
    /// The ranges of the bodies' statements left out, in order (a body's are
    /// `holes[body.holes]`): a whole body, or the runs of statements that nothing around the
    /// body reads.
    holes: Vec<(u32, u32)>,
    /// A hash of the text the first pass read.
    text_hash: u64,
}

#[derive(Debug)]
struct OutlinedBody {
    /// Where the function's statement (its first decorator) and its name start.
    def_start: u32,
    name_start: u32,
    /// The body's range, from its first statement's start to its last one's end.
    start: u32,
    end: u32,
    /// Its holes, as indices into [`Outline::holes`].
    holes: Range<u32>,
    /// Whether the function has a return annotation.
    annotated: bool,
}

/// Bodies shorter than this are parsed again rather than left out: too little to save.
const MIN_OUTLINED_BYTES: usize = 64;

impl Outline {
    /// The outline of `module`, parsed from `source`.
    pub fn of(module: &[Stmt], source: &str) -> Outline {
        let mut outline = Outline::default();
        outline.scan(module, false);
        if !outline.bodies.is_empty() {
            outline.text_hash = xxhash_rust::xxh3::xxh3_64(source.as_bytes());
        }
        outline
    }

    pub fn is_empty(&self) -> bool {
        self.bodies.is_empty()
    }

    /// The statements a re-check visits with the module scope only: module-level code, class
    /// bodies, and the blocks in them.
    fn scan(&mut self, body: &[Stmt], in_class: bool) {
        for stmt in body {
            match stmt {
                Stmt::FunctionDef(def) => self.outline(def, in_class),
                Stmt::ClassDef(class) => self.scan(&class.body, true),
                Stmt::If(stmt_if) => {
                    self.scan(&stmt_if.body, in_class);
                    for clause in &stmt_if.elif_else_clauses {
                        self.scan(&clause.body, in_class);
                    }
                }
                Stmt::Try(stmt_try) => {
                    self.scan(&stmt_try.body, in_class);
                    for handler in &stmt_try.handlers {
                        let ast::ExceptHandler::ExceptHandler(handler) = handler;
                        self.scan(&handler.body, in_class);
                    }
                    self.scan(&stmt_try.orelse, in_class);
                    self.scan(&stmt_try.finalbody, in_class);
                }
                Stmt::With(with) => self.scan(&with.body, in_class),
                _ => {}
            }
        }
    }

    fn outline(&mut self, def: &ast::StmtFunctionDef, in_class: bool) {
        let (Some(first), Some(last)) = (def.body.first(), def.body.last()) else { return };
        let (start, end) = (span(first).start, span(last).end);
        if end - start < MIN_OUTLINED_BYTES {
            return;
        }
        // (As `prescan_class` picks a method's receiver.)
        let receiver = def.parameters.args.first().or(def.parameters.posonlyargs.first());
        let receiver = receiver.filter(|_| in_class).map(|receiver| receiver.parameter.name.as_str());
        let Some(touched) = touches_receiver(&def.body, receiver) else { return };
        // The class's prescan reads a method's assignments (to the receiver's attributes, and
        // to the locals it types them with) and its buffer registrations, where it has any.
        let prescanned = receiver.filter(|_| touched);
        let from = self.holes.len();
        let mut holes = Holes { holes: &mut self.holes, run: None, prescanned };
        holes.block(&def.body, def.returns.is_some());
        holes.close_run();
        let left_out: usize = self.holes[from..].iter().map(|&(start, end)| (end - start) as usize).sum();
        if left_out < MIN_OUTLINED_BYTES {
            self.holes.truncate(from);
            return;
        }
        self.bodies.push(OutlinedBody {
            def_start: span(def).start as u32,
            name_start: def.name.range.start().to_u32(),
            start: start as u32,
            end: end as u32,
            holes: from as u32..self.holes.len() as u32,
            annotated: def.returns.is_some(),
        });
    }
}

/// Runs of statements shorter than this stay in the text (a filler takes 4 bytes).
const MIN_HOLE_BYTES: usize = 8;

/// Finds the holes of one outlined body: the runs of statements that neither the class's prescan
/// (`prescan_self_assignments`, for a method it reads) nor the checks of a return annotation
/// (`returns_a_tuple`, `annotation_contradicted_by_tuple`: the body's own `return a, b`) read.
struct Holes<'h, 'a> {
    holes: &'h mut Vec<(u32, u32)>,
    /// The current run of statements to leave out.
    run: Option<(u32, u32)>,
    /// The receiver of a method whose statements the class's prescan reads.
    prescanned: Option<&'a str>,
}

impl<'a> Holes<'_, 'a> {
    fn close_run(&mut self) {
        if let Some((start, end)) = self.run.take() {
            if (end - start) as usize >= MIN_HOLE_BYTES {
                self.holes.push((start, end));
            }
        }
    }

    fn extend_run(&mut self, stmt: &Stmt) {
        let range = span(stmt);
        let (start, end) = (range.start as u32, range.end as u32);
        self.run = Some(self.run.map_or((start, end), |(first, _)| (first, end)));
    }

    /// The holes of `body`, whose `return a, b` statements are read with `returns_read` (the
    /// function's own body, under a return annotation). Whether it keeps any statement.
    fn block(&mut self, body: &'a [Stmt], returns_read: bool) -> bool {
        let mut kept = false;
        for stmt in body {
            let keep = match stmt {
                Stmt::Return(ret) => {
                    returns_read && matches!(ret.value.as_deref(), Some(Expr::Tuple(t)) if t.elts.len() > 1)
                }
                Stmt::Assign(_) | Stmt::AnnAssign(_) => self.prescanned.is_some(),
                Stmt::Expr(expr) => self.prescanned.is_some_and(|receiver| {
                    matches!(&*expr.value, Expr::Call(call) if matches!(&*call.func,
                        Expr::Attribute(a) if matches!(&*a.value, Expr::Name(n) if n.id.as_str() == receiver)
                            && matches!(a.attr.as_str(), "register_buffer" | "register_parameter")))
                }),
                // The blocks the prescan reads, and with them those it does not (left out whole).
                Stmt::If(_) | Stmt::For(_) | Stmt::With(_) | Stmt::Try(_) if self.prescanned.is_some() => {
                    let mut inner_holes = Vec::new();
                    let mut inner = Holes { holes: &mut inner_holes, run: None, prescanned: self.prescanned };
                    let read = match stmt {
                        Stmt::If(stmt_if) => {
                            let mut read = inner.block(&stmt_if.body, false);
                            for clause in &stmt_if.elif_else_clauses {
                                read |= inner.block(&clause.body, false);
                            }
                            read
                        }
                        Stmt::For(stmt_for) => {
                            let read = inner.block(&stmt_for.body, false);
                            inner.unread(&stmt_for.orelse);
                            read
                        }
                        Stmt::With(with) => inner.block(&with.body, false),
                        Stmt::Try(stmt_try) => {
                            let read = inner.block(&stmt_try.body, false);
                            for handler in &stmt_try.handlers {
                                let ast::ExceptHandler::ExceptHandler(handler) = handler;
                                inner.unread(&handler.body);
                            }
                            inner.unread(&stmt_try.orelse);
                            inner.unread(&stmt_try.finalbody);
                            read
                        }
                        _ => false,
                    };
                    if read {
                        self.close_run();
                        self.holes.extend(inner_holes);
                    }
                    read
                }
                _ => false,
            };
            if keep {
                self.close_run();
                kept = true;
            } else {
                self.extend_run(stmt);
            }
        }
        self.close_run();
        kept
    }

    /// A block the prescan does not read: one hole.
    fn unread(&mut self, body: &[Stmt]) {
        for stmt in body {
            self.extend_run(stmt);
        }
        self.close_run();
    }
}

/// `None` when `body` (blocks included) defines a function or class or imports; else whether it
/// assigns an attribute of `receiver` or registers a buffer or parameter on it (one walk for both).
fn touches_receiver(body: &[Stmt], receiver: Option<&str>) -> Option<bool> {
    let is_receiver = |expr: &Expr| matches!(expr, Expr::Name(n) if Some(n.id.as_str()) == receiver);
    let on_receiver = |target: &Expr| matches!(target, Expr::Attribute(a) if is_receiver(&a.value));
    let mut touched = false;
    for stmt in body {
        touched |= match stmt {
            Stmt::FunctionDef(_) | Stmt::ClassDef(_) | Stmt::Import(_) | Stmt::ImportFrom(_) => return None,
            Stmt::Assign(assign) => assign.targets.iter().any(on_receiver),
            Stmt::AnnAssign(assign) => on_receiver(&assign.target),
            Stmt::Expr(expr) => matches!(&*expr.value, Expr::Call(call)
                if matches!(&*call.func, Expr::Attribute(a) if is_receiver(&a.value) && a.attr.as_str().starts_with("register_"))),
            Stmt::For(stmt_for) => {
                touches_receiver(&stmt_for.body, receiver)? | touches_receiver(&stmt_for.orelse, receiver)?
            }
            Stmt::While(stmt_while) => {
                touches_receiver(&stmt_while.body, receiver)? | touches_receiver(&stmt_while.orelse, receiver)?
            }
            Stmt::If(stmt_if) => {
                let mut touched = touches_receiver(&stmt_if.body, receiver)?;
                for clause in &stmt_if.elif_else_clauses {
                    touched |= touches_receiver(&clause.body, receiver)?;
                }
                touched
            }
            Stmt::With(with) => touches_receiver(&with.body, receiver)?,
            Stmt::Match(stmt_match) => {
                let mut touched = false;
                for case in &stmt_match.cases {
                    touched |= touches_receiver(&case.body, receiver)?;
                }
                touched
            }
            Stmt::Try(stmt_try) => {
                let mut touched = touches_receiver(&stmt_try.body, receiver)?;
                for handler in &stmt_try.handlers {
                    let ast::ExceptHandler::ExceptHandler(handler) = handler;
                    touched |= touches_receiver(&handler.body, receiver)?;
                }
                touched
                    | touches_receiver(&stmt_try.orelse, receiver)?
                    | touches_receiver(&stmt_try.finalbody, receiver)?
            }
            _ => false,
        };
    }
    Some(touched)
}

/// What a function body holds that matters after it: the functions defined in it, whether a
/// class is, and its imports, in the order the traversal meets them.
#[derive(Default)]
struct BodyScan<'a> {
    defs: u32,
    defines_class: bool,
    imports: SmallVec<[&'a Stmt; 4]>,
}

impl<'a> BodyScan<'a> {
    fn scan(&mut self, body: &'a [Stmt]) {
        for stmt in body {
            match stmt {
                Stmt::FunctionDef(def) => {
                    self.defs += 1;
                    self.scan(&def.body);
                }
                Stmt::ClassDef(_) => self.defines_class = true,
                Stmt::Import(_) | Stmt::ImportFrom(_) => self.imports.push(stmt),
                Stmt::For(stmt_for) => {
                    self.scan(&stmt_for.body);
                    self.scan(&stmt_for.orelse);
                }
                Stmt::While(stmt_while) => {
                    self.scan(&stmt_while.body);
                    self.scan(&stmt_while.orelse);
                }
                Stmt::If(stmt_if) => {
                    self.scan(&stmt_if.body);
                    for clause in &stmt_if.elif_else_clauses {
                        self.scan(&clause.body);
                    }
                }
                Stmt::With(with) => self.scan(&with.body),
                Stmt::Match(stmt_match) => {
                    for case in &stmt_match.cases {
                        self.scan(&case.body);
                    }
                }
                Stmt::Try(stmt_try) => {
                    self.scan(&stmt_try.body);
                    for handler in &stmt_try.handlers {
                        let ast::ExceptHandler::ExceptHandler(handler) = handler;
                        self.scan(&handler.body);
                    }
                    self.scan(&stmt_try.orelse);
                    self.scan(&stmt_try.finalbody);
                }
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::python::adapter;
    use crate::python::types::{range_key, Declared, GivenTensor, ParamReturns};

    #[test]
    fn a_body_scan_counts_nested_functions_and_keeps_imports_in_order() {
        let source = "def f():\n    import a\n    def g():\n        from b import c\n        def h():\n            pass\n    \
                      for x in y:\n        def k():\n            pass\n    try:\n        import d\n    except E:\n        pass\n";
        let parsed = adapter::parse(source, false, false);
        let Some(Stmt::FunctionDef(def)) = parsed.body().first() else { panic!("a function") };
        let mut scan = BodyScan::default();
        scan.scan(&def.body);
        assert_eq!(scan.defs, 3);
        assert!(!scan.defines_class);
        let imported: Vec<&str> = (scan.imports.iter())
            .map(|stmt| match stmt {
                Stmt::Import(import) => import.names[0].name.as_str(),
                Stmt::ImportFrom(import) => import.module.as_ref().map_or("", |m| m.as_str()),
                _ => "",
            })
            .collect();
        assert_eq!(imported, ["a", "b", "d"]);

        let parsed = adapter::parse("def f():\n    if x:\n        class C:\n            pass\n", false, false);
        let Some(Stmt::FunctionDef(def)) = parsed.body().first() else { panic!("a function") };
        let mut scan = BodyScan::default();
        scan.scan(&def.body);
        assert!(scan.defines_class);
    }

    #[test]
    fn the_outline_holds_the_bodies_that_nothing_around_them_reads() {
        let filler = "    x = x + 1\n".repeat(6);
        let method_filler = "        x = x + 1\n".repeat(6);
        let source = format!(
            "def helper(x):\n{filler}    return x\n\
             def outer(x):\n{filler}    def inner():\n        pass\n\
             def loader(x):\n{filler}    import json\n\
             def tiny(x):\n    return x\n\
             class M:\n\
             \x20   def forward(self, x):\n{method_filler}        return x\n\
             \x20   def setup(self, x):\n{method_filler}        self.w = x\n\
             \x20   def buffer(self, x):\n{method_filler}        self.register_buffer('b', x)\n\
             \x20   def pair(self, x) -> torch.Tensor:\n{method_filler}        return x, x\n\
             \x20   def single(self, x) -> torch.Tensor:\n{method_filler}        return x\n"
        );
        let parsed = adapter::parse(&source, false, false);
        assert!(parsed.errors().is_empty());
        let outline = Outline::of(parsed.body(), &source);
        let names: Vec<&str> = (outline.bodies.iter())
            .map(|body| {
                let rest = &source[body.name_start as usize..];
                &rest[..rest.find('(').unwrap_or(0)]
            })
            .collect();
        // (`setup` and `buffer` assign only: the class's prescan reads all they hold.)
        assert_eq!(names, ["helper", "forward", "pair", "single"]);
        for (name, body) in names.iter().zip(&outline.bodies) {
            assert!(source[body.start as usize..].starts_with("x = x + 1"));
            assert!(source[..body.end as usize].ends_with(if *name == "pair" { "return x, x" } else { "return x" }));
            assert!(source[body.def_start as usize..].starts_with("def "));
            let holes = &outline.holes[body.holes.start as usize..body.holes.end as usize];
            if *name == "pair" {
                // Its `return x, x` stays: the check of its return annotation reads it.
                assert_eq!(holes.len(), 1);
                assert_eq!(holes[0].0, body.start);
                assert!(source[..holes[0].1 as usize].ends_with("x = x + 1"));
            } else {
                assert_eq!(holes, [(body.start, body.end)]);
            }
        }
    }

    #[test]
    fn a_method_the_prescan_reads_keeps_what_it_reads() {
        let source = "class M:\n\
             \x20   def setup(self, x):\n\
             \x20       if x is None:\n\
             \x20           raise ValueError('no x was given to setup, none at all')\n\
             \x20       h = torch.zeros(4)\n\
             \x20       for i in range(3):\n\
             \x20           print('step', i, 'of the loop that sets the weight up')\n\
             \x20           self.w = h\n\
             \x20       else:\n\
             \x20           print('the loop that sets the weight up is done now')\n\
             \x20       while x:\n\
             \x20           self.v = x\n\
             \x20       self.register_buffer('b', h)\n\
             \x20       return None\n";
        let parsed = adapter::parse(source, false, false);
        assert!(parsed.errors().is_empty());
        let outline = Outline::of(parsed.body(), source);
        assert_eq!(outline.bodies.len(), 1);
        let holes: Vec<&str> =
            (outline.holes.iter()).map(|&(start, end)| &source[start as usize..end as usize]).collect();
        assert_eq!(holes.len(), 5, "{holes:?}");
        assert!(holes[0].starts_with("if x is None:") && holes[0].ends_with("at all')"));
        assert!(holes[1].starts_with("print('step'"));
        assert!(holes[2].starts_with("print('the loop"));
        assert!(holes[3].starts_with("while x:") && holes[3].ends_with("self.v = x"));
        assert_eq!(holes[4], "return None");
        // What stays reads as it did: the assignments, the registration, the loop around them.
        let mut text = String::new();
        let mut copied = 0;
        for &(start, end) in &outline.holes {
            text.push_str(&source[copied..start as usize]);
            text.push_str("(#");
            push_spaces(&mut text, (end - start) as usize - 4);
            text.push_str("\n)");
            copied = end as usize;
        }
        text.push_str(&source[copied..]);
        assert_eq!(text.len(), source.len());
        for kept in ["h = torch.zeros(4)", "for i in range(3):", "self.w = h", "self.register_buffer('b', h)"] {
            assert!(text.contains(kept), "{kept}");
        }
        for gone in ["raise", "print", "self.v", "return None"] {
            assert!(!text.contains(gone), "{gone}");
        }
        let elided = adapter::parse(&text, false, false);
        assert!(elided.errors().is_empty());
        let (Some(Stmt::ClassDef(before)), Some(Stmt::ClassDef(after))) =
            (parsed.body().first(), elided.body().first())
        else {
            panic!("a class")
        };
        assert_eq!(before.body.iter().map(span).collect::<Vec<_>>(), after.body.iter().map(span).collect::<Vec<_>>());
    }

    #[test]
    fn a_body_left_out_keeps_every_other_offset() {
        let body = "    y = x.item()\n".repeat(8);
        let method_body = "        y = x.item()\n".repeat(8);
        let source = format!("import torch\n\ndef f(x):\n{body}    return y\n\nclass M:\n    def g(self, x):\n{method_body}        return y  # é\n\nZ = f(1)\n");
        let parsed = adapter::parse(&source, false, false);
        let outline = Outline::of(parsed.body(), &source);
        assert_eq!(outline.bodies.len(), 2);
        let first = crate::python::analyze_file(
            std::path::Path::new("m.py"),
            Ok(source.clone().into_bytes()),
            &Default::default(),
        )
        .summary;
        let foreign = ForeignTypes::default();
        let mut skips = Skips::new(&foreign, &first, &[]).expect("no returns answered");
        let lines = LineIndex::new(&source);
        let changed = source.replace("Z = f(1)", "Z = f(2)");
        assert_eq!(skips.elide(&outline, &changed, &LineIndex::new(&changed), &[]), None);
        let text = skips.elide(&outline, &source, &lines, &[]).expect("both bodies left out");
        assert_eq!(text.len(), source.len());
        assert_eq!(skips.elided.len(), 2);
        assert!(!text.contains("item"));
        let elided = adapter::parse(&text, false, false);
        assert!(elided.errors().is_empty());
        let spans = |suite: &[Stmt]| -> Vec<Range<usize>> { suite.iter().map(span).collect() };
        assert_eq!(spans(elided.body()), spans(parsed.body()));
        let (Some(Stmt::ClassDef(before)), Some(Stmt::ClassDef(after))) = (parsed.body().get(2), elided.body().get(2))
        else {
            panic!("a class")
        };
        assert_eq!(spans(&before.body), spans(&after.body));
    }

    #[test]
    fn a_body_that_mentions_a_module_level_function_visited_again_stays_in_the_text() {
        let body = "    y = x.item()\n".repeat(8);
        let source = format!(
            "import torch\n\ndef helper(x):\n    z = x.sum()\n{body}    return z\n\n\
             def caller(x):\n{body}    return helper(y)\n\n\
             def other(x):\n{body}    return y\n\n\
             def annotated(x) -> int:\n    z = x.sum()\n{body}    return 1\n\n\
             def reader(x):\n{body}    return annotated(y)\n"
        );
        let parsed = adapter::parse(&source, false, false);
        let outline = Outline::of(parsed.body(), &source);
        assert_eq!(outline.bodies.len(), 5);
        let first = crate::python::analyze_file(
            std::path::Path::new("m.py"),
            Ok(source.clone().into_bytes()),
            &Default::default(),
        )
        .summary;
        // Answers in `helper` and `annotated`: both are visited again. What `helper` returns may
        // change with them, and `caller` calls it; `annotated` says what it returns.
        let mut foreign = ForeignTypes::default();
        for (at, _) in source.match_indices("x.sum()") {
            foreign.exprs.insert(range_key(at as u32, at as u32 + 7), Ty::TENSOR);
        }
        let mut skips = Skips::new(&foreign, &first, &[]).expect("no returns answered");
        let text = skips.elide(&outline, &source, &LineIndex::new(&source), &[]).expect("bodies left out");
        let left_out: Vec<bool> = ["helper", "caller", "other", "annotated", "reader"]
            .iter()
            .map(|name| {
                let def = source.find(&format!("def {name}(x)")).expect("defined") as u32;
                let body = outline.bodies.iter().find(|body| body.def_start == def).expect("outlined");
                skips.elided.contains(&body.start)
            })
            .collect();
        assert_eq!(left_out, [false, false, true, false, true]);
        assert_eq!(text.len(), source.len());
    }

    #[test]
    fn answers_concern_the_code_they_start_in_and_the_functions_whose_parameters_they_type() {
        let mut foreign = ForeignTypes::default();
        foreign.exprs.insert(range_key(10, 14), Ty::TENSOR);
        foreign.elements.insert(range_key(40, 50), vec![Ty::TENSOR, Ty::Int]);
        let given = GivenTensor { name: "t".into(), caller: "a.py:3".into(), annotated: false, zero_dim: false };
        foreign.params.insert((5, 1), given);
        let first = FileSummary::default();
        let skips = Skips::new(&foreign, &first, &[]).expect("no returns answered");
        assert_eq!(skips.answers_around(0..10), (0, 0));
        assert_eq!(skips.answers_around(10..40), (0, 1));
        assert_eq!(skips.answers_around(11..60), (1, 1));
        assert!(skips.concerns(0..11, 0..1));
        assert!(!skips.concerns(11..40, 1..5));
        assert!(skips.concerns(11..40, 4..6));
        // A container answer (what a declared container holds, by the attribute read's range)
        // concerns the code it starts in, as the others do.
        foreign.containers.insert(range_key(70, 80), Declared::Seq(Box::new(Declared::Leaf(Ty::TENSOR))));
        let skips = Skips::new(&foreign, &first, &[]).expect("no returns answered");
        assert_eq!(skips.answers_around(60..90), (2, 1));
        assert!(skips.concerns(60..90, 6..7));
        // What a function returns concerns its callers anywhere in the file: nothing is skipped.
        foreign.param_returns.insert("f".into(), ParamReturns { params: 1, zero_dim: 0, is_static: true });
        assert!(Skips::new(&foreign, &first, &[]).is_none());
    }
}
