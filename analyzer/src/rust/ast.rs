//! The syntax tree the Rust rules read: the shape `syn` gives a file, reduced to what the
//! checker uses. Names borrow the source; types are already reduced to [`TyRef`]s; every
//! expression keeps the byte range of its tokens (what `syn` calls its span, outer attributes
//! included), for messages and locations.

use super::summary::TyRef;

pub struct File<'s> {
    pub items: Vec<Item<'s>>,
}

/// An outer attribute (doc comments included): where it starts, and whether it marks test code
/// (`#[test]`, `#[bench]`, `#[tokio::test]`, `#[cfg(test)]`).
#[derive(Clone, Copy)]
pub struct Attr {
    pub start: u32,
    pub is_test: bool,
}

pub enum Item<'s> {
    Fn(Func<'s>),
    Impl {
        attrs: Vec<Attr>,
        self_ty: Option<TyRef>,
        trait_name: Option<&'s str>,
        items: Vec<Item<'s>>,
    },
    Trait {
        name: &'s str,
        items: Vec<Item<'s>>,
    },
    Struct {
        name: &'s str,
        fields: Vec<(String, TyRef)>,
    },
    Enum {
        name: &'s str,
    },
    Use(UseTree<'s>),
    Mod {
        attrs: Vec<Attr>,
        name: &'s str,
        items: Option<Vec<Item<'s>>>,
    },
    /// `const`/`static` items (and associated consts): their value is visited.
    Const(Option<Expr<'s>>),
    Macro(Macro<'s>),
    Other,
}

pub struct Func<'s> {
    pub attrs: Vec<Attr>,
    /// The `fn` keyword's offset.
    pub fn_at: u32,
    pub name: &'s str,
    /// Typed parameters: the name when the pattern is a plain identifier, and the type.
    pub inputs: Vec<(Option<&'s str>, Option<TyRef>)>,
    pub ret: Option<TyRef>,
    pub body: Option<Block<'s>>,
}

pub enum UseTree<'s> {
    Path(&'s str, Box<UseTree<'s>>),
    Name(&'s str),
    Rename(&'s str, &'s str),
    Glob,
    Group(Vec<UseTree<'s>>),
}

pub struct Block<'s> {
    pub stmts: Vec<Stmt<'s>>,
}

pub enum Stmt<'s> {
    Local {
        pat: Pat<'s>,
        init: Option<Expr<'s>>,
        diverge: Option<Block<'s>>,
    },
    Item(Item<'s>),
    /// An expression statement; `semi`: it ends with `;`.
    Expr {
        expr: Expr<'s>,
        semi: bool,
    },
    /// A macro in statement position (`m!(..);`, `m! { .. }`).
    Macro(Macro<'s>),
    /// A lone `;`.
    Empty,
}

pub struct Macro<'s> {
    /// The path's last segment (`println` for `std::println!`).
    pub name: &'s str,
    /// The path is exactly `vec`.
    pub is_vec: bool,
    /// Token indices of the delimiters around the arguments.
    pub open: u32,
    pub close: u32,
    /// Delimited with braces (`m! { .. }`).
    pub brace: bool,
}

pub struct Expr<'s> {
    pub kind: ExprKind<'s>,
    pub start: u32,
    pub end: u32,
}

/// A path expression: `a::b::c`, `<T as Trait>::f` (generic arguments dropped).
pub struct Path<'s> {
    /// For `<T as Trait>::f`: the last segment of `T`'s type (`None` if it has none), and how
    /// many of `segments` belong to `Trait`.
    pub qself: Option<(Option<String>, usize)>,
    pub segments: Vec<&'s str>,
    /// The first segment's offset.
    pub first_at: u32,
    /// The last segment's byte range.
    pub last_at: (u32, u32),
}

pub enum ExprKind<'s> {
    Path(Path<'s>),
    Lit,
    MethodCall {
        receiver: Box<Expr<'s>>,
        method: &'s str,
        method_at: (u32, u32),
        args: Vec<Expr<'s>>,
        close_end: u32,
    },
    Call {
        func: Box<Expr<'s>>,
        args: Vec<Expr<'s>>,
        open_at: (u32, u32),
        close_end: u32,
    },
    Field {
        base: Box<Expr<'s>>,
        member: &'s str,
    },
    Reference(Box<Expr<'s>>),
    Paren(Box<Expr<'s>>),
    Try(Box<Expr<'s>>),
    Await(Box<Expr<'s>>),
    Deref(Box<Expr<'s>>),
    /// `!x`, `-x`, `&raw const x`.
    Unary(Box<Expr<'s>>),
    /// `compare`: a comparison (`==`, `<`…), which cannot be chained.
    Binary {
        left: Box<Expr<'s>>,
        right: Box<Expr<'s>>,
        compare: bool,
    },
    Assign {
        left: Box<Expr<'s>>,
        right: Box<Expr<'s>>,
    },
    Index {
        expr: Box<Expr<'s>>,
        index: Box<Expr<'s>>,
    },
    Range {
        start: Option<Box<Expr<'s>>>,
        end: Option<Box<Expr<'s>>>,
    },
    Cast(Box<Expr<'s>>),
    /// `{ .. }` (labelled or not) and `unsafe { .. }`: their value is their tail expression.
    Block(Block<'s>),
    /// `const` and `try` blocks.
    OtherBlock(Block<'s>),
    Async(Block<'s>),
    Struct {
        ty: Option<TyRef>,
        fields: Vec<Expr<'s>>,
        rest: Option<Box<Expr<'s>>>,
    },
    Array(Vec<Expr<'s>>),
    Repeat {
        value: Box<Expr<'s>>,
        len: Box<Expr<'s>>,
    },
    Tuple(Vec<Expr<'s>>),
    Macro(Macro<'s>),
    Closure {
        inputs: Vec<Pat<'s>>,
        body: Box<Expr<'s>>,
    },
    ForLoop {
        for_at: u32,
        pat: Pat<'s>,
        expr: Box<Expr<'s>>,
        body: Block<'s>,
    },
    While {
        while_at: u32,
        cond: Box<Expr<'s>>,
        body: Block<'s>,
    },
    Loop {
        loop_at: u32,
        body: Block<'s>,
    },
    Match {
        expr: Box<Expr<'s>>,
        arms: Vec<Arm<'s>>,
    },
    If {
        cond: Box<Expr<'s>>,
        then: Block<'s>,
        otherwise: Option<Box<Expr<'s>>>,
    },
    Let {
        pat: Pat<'s>,
        expr: Box<Expr<'s>>,
    },
    /// `return`, `break`, `yield` and `become`, with their value.
    Jump(Option<Box<Expr<'s>>>),
    /// `continue`, `_`.
    Other,
}

pub struct Arm<'s> {
    pub pat: Pat<'s>,
    pub guard: Option<Expr<'s>>,
    pub body: Expr<'s>,
}

pub enum Pat<'s> {
    Ident { name: &'s str, sub: Option<Box<Pat<'s>>> },
    Type { pat: Box<Pat<'s>>, ty: Option<TyRef> },
    Reference(Box<Pat<'s>>),
    Paren(Box<Pat<'s>>),
    TupleStruct(Vec<Pat<'s>>),
    Tuple(Vec<Pat<'s>>),
    Struct(Vec<Pat<'s>>),
    Slice(Vec<Pat<'s>>),
    Or(Vec<Pat<'s>>),
    Other,
}

impl<'s> Expr<'s> {
    /// The path of a call's callee, `<T>::f` and `<T as Trait>::f` as `[T, f]`; what `syn`'s
    /// `ExprCall` with an `ExprPath` callee gives.
    pub fn call_path(&self) -> Option<Vec<String>> {
        let ExprKind::Path(path) = &self.kind else { return None };
        let mut segments = Vec::with_capacity(path.segments.len() + 1);
        match &path.qself {
            Some((ty, position)) => {
                segments.push(ty.clone().unwrap_or_else(|| "_".into()));
                segments.extend(path.segments.iter().skip(*position).map(|s| s.to_string()));
            }
            None => segments.extend(path.segments.iter().map(|s| s.to_string())),
        }
        (!segments.is_empty()).then_some(segments)
    }
}
