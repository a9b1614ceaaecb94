fn main() -> std::process::ExitCode {
    graphlint::cli::main()
}
