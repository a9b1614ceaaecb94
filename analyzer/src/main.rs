// mimalloc: many small AST and summary allocations across threads; it cut the per-file pass's
// CPU time markedly versus glibc malloc on the transformers benchmark (see bench/lint.rs).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    graphlint::cli::main()
}
