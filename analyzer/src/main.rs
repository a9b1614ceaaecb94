// mimalloc: many small AST and summary allocations across threads; it cut the per-file pass's
// CPU time markedly versus glibc malloc on the transformers benchmark (see bench/lint.rs).
// ParseArena: around it, a bump arena for the parser's syntax trees (see its module docs).
use graphlint::arena::ParseArena;

#[global_allocator]
static GLOBAL: ParseArena<mimalloc::MiMalloc> = ParseArena(mimalloc::MiMalloc);

fn main() -> std::process::ExitCode {
    graphlint::cli::main()
}
