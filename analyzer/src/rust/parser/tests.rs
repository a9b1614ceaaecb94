//! The syntax our parser must take or refuse as `syn` does.

use super::parse;

/// Syntax our parser must take as `syn` does: accepted (valid Rust, some of it found
/// unreadable by early versions of this parser on crates.io sources) or rejected (each
/// seen accepted by an early version, in mutated crates.io sources).
const VALID: &[&str] = &[
    "use a::{b, c as d, *, self};",
    "pub(crate) struct S<T: Clone> where T: Copy { pub x: Vec<T>, y: &'static str }",
    "struct T(pub (A, B), u8) where A: Copy;",
    "enum E<T> { A, B(T), C { x: u8 } = 3, }",
    "impl<T> Tr for S<T> { fn f(&self, a: [u8; 4]) -> Option<Box<T>> where T: Fn(u8) -> u8 { None } }",
    "impl ! {}",
    "impl !Send for S {}",
    "unsafe impl<T: ?Sized> Sync for S<T> {}",
    "trait A<T>: B + C<T> where T: D { type X: E; const N: usize = 3; fn f(&self) -> u8; }",
    "trait Alias = Clone + Send;",
    "type R<T> = result::Result<T, Box<error::Error + Send + Sync>>;",
    "extern \"C\" { fn f(x: u8, ...) -> u8; static X: u32; }",
    "extern crate alloc as std_alloc;",
    "const _: () = ();",
    "static mut X: [u8; 4] = [0; 4];",
    "macro_rules! m { ($x:expr) => { $x }; }",
    "fn f() { let Some(x) = y else { return }; }",
    "fn f() { for (i, v) in a.iter().enumerate() { if let Some(_) = v { continue } } }",
    "fn f() { let c = |a: u8, b| a + b * 2 as u8; let d = || {}; let e = move |&x| x; }",
    "fn f() { match x { A::B(y) | A::C { y, .. } if y > 1 => y, _ => 0 }; }",
    "fn f() { 'outer: loop { break 'outer; } }",
    "fn f() { x.0.1 += <Vec<u8> as Default>::default().len() >> 2; }",
    "fn f() { if x as u8 != 0 && y as usize <= 3 {} }",
    "fn f() { let r = try!(g()); }",
    "fn f() { if a == (S { x: 1 }) {} while let Some(x) = it.next() {} }",
    "fn f() { match x {} - 1; }",
    "fn f() { unsafe { g() }.h(); m! { a } m![b]; }",
    "fn f() { let v = 0..5.0; let w = ..=3; let x = a..; let y = vec![0; n]; }",
    "fn f() { let s = r#\"a\"b\"#; let c = '\\''; let b = b'x'; let l: &'a str = \"\\u{7b}\"; }",
    "fn f() -> impl Iterator<Item = u8> + use<'a> { async move { x.await? }; }",
    "fn f() { let t = &p. 0.1; match x { 5.. if flag => 1, ..LIMIT => 2, _ => 3 } }",
    "struct S { f: Box<'static + Fn(&u8) -> f32> }",
    "fn\u{2028}f() { #![allow(unused)] let s = \"\\x7b\\u{7d}\"; }",
    "mod m { #![cfg(test)] //! doc\n fn f() {} }",
    "macro_rules! m { () => {} } m!(); m![]; m! {}",
    // Stable since 1.82: `safe`/`unsafe` on foreign items of an `unsafe extern` block.
    "unsafe extern \"C\" { pub safe static X: i32; pub unsafe static Y: i32; safe fn f(); pub unsafe fn g(); }",
    // Nightly syntax that syn 2 reads (the standard library and rust-analyzer's test data use it).
    "fn f(x: impl [const] Tr) -> impl [const] Tr + Send { x }",
    "trait A: [const] B {}",
    "type A = 'static + Tr;",
    "fn f() { let x = builtin # offset_of(S, f); }",
    "const C<T: Tr>: usize = 3 where T: Copy;",
    "trait A = where Self: B;",
    "fn f(&'a mut self, x: u8) {} fn g(mut self: Box<Self>) {} fn h(self,) {}",
    "fn f() { let c = ['\\u{10FFFF}', '\\x7f', '\\'', 'é']; let b = [b'\\xff', b'\\''];\n let s = (\"\\u{1F_600}\", b\"\\x80\", c\"\\xff\\u{e9}\", 0x1F_u8, 0b1, 0o7); }",
    "#!/usr/bin/env run-cargo-script\nfn f() {}",
    "#! // a comment, not an attribute\nfn f() {}",
    "#! /* an inner attribute */ [allow(dead_code)] fn f() {}",
];

const INVALID: &[&str] = &[
    "fn f() { let = ; }",
    "const X = 1;",
    "type A = B = C;",
    "enum E { A(u8)b(u16) }",
    "extern \"C\" { fn f(x: u8 y: u8); }",
    "trait A B {}",
    "fn f() { a b }",
    "fn f() { x.f()? g() }",
    "fn f() { match x { A => 1 B => 2 } }",
    "#[rustfmt:skip] fn f() {}",
    "fn f() { (]",
    "fn f() { \"open }",
    "fn f() { match x { A => m! {} B => 1 } }",
    "fn f() { let s = \"\\q\"; }",
    "macro_rules! m { () => {} };",
    "m!() fn f() {}",
    "fn a() {} //! misplaced",
    "fn f() { a < b < c; }",
    "fn f() { x as i64 <- y; x as u8.f(); }",
    "fn f() { 0x; }",
    "fn f() { 0b_; }",
    "fn f() { b'ab'; }",
    "fn f() { '\\u{2'; }",
    "fn f() { '\\u{110000}'; }",
    "fn f() { \"\\x80\"; }",
    "fn f() { b\"\\u{41}\"; }",
    "fn f(&self x: u8) {}",
    "fn f(&self: Self) {}",
    "#!/usr/bin/env run-cargo-script\nfn f() { a b }",
];

#[test]
fn accepts_and_rejects_what_syn_does() {
    let mut wrong = Vec::new();
    for case in VALID {
        assert!(syn::parse_file(case).is_ok(), "syn rejects the VALID case {case}");
        if parse(case).file().is_err() {
            wrong.push(format!("rejected: {case}"));
        }
    }
    for case in INVALID {
        assert!(syn::parse_file(case).is_err(), "syn accepts the INVALID case {case}");
        if parse(case).file().is_ok() {
            wrong.push(format!("accepted: {case}"));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn a_failure_points_at_its_line() {
    let source = "fn f() {}\nfn g() { a b }\n";
    let at = parse(source).file().err().unwrap();
    assert_eq!(source[..at].lines().count(), 2);
}

#[test]
fn a_shebang_line_keeps_positions() {
    // `syn` strips the line; its spans, and our failure offsets, must still count from the file's start.
    let source = "#!/usr/bin/env run-cargo-script\nfn f() { a b }";
    let at = parse(source).file().err().unwrap();
    assert_eq!(&source[at..at + 1], "b");
    assert_eq!(crate::rust::lexer::shebang_len(source), 31);
    assert_eq!(crate::rust::lexer::shebang_len("#! /* c */ [allow(x)] fn f() {}"), 0);
}
