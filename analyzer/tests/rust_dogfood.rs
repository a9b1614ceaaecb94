//! Dogfooding: graphlint's Rust analysis on this workspace's own `models/` and `runtime-probe/`
//! must report nothing. The roots are the usual ones (candle `forward`s, decode loops, capture
//! regions) plus every implementation of `GraphDecoder::step`, the graph path's decode step, which
//! `models/src/graph.rs` marks `// graphlint: hot`. A sync that is there on purpose is suppressed
//! where it stands, with `// graphlint: ignore[CODE] -- reason`.

use graphlint::output::{write_diagnostics, OutputFormat, Style};
use graphlint::settings::Settings;

#[test]
fn models_and_probe_have_no_unsuppressed_findings() {
    let settings = Settings { list_hot: true, ..Settings::default() };
    let paths = ["models".into(), "runtime-probe".into()];
    let result = graphlint::engine::run(&paths, &settings).unwrap();
    assert!(result.files_checked > 0, "nothing was checked");
    assert!(!result.internal_error, "{:?}", result.warnings);
    assert!(result.warnings.is_empty(), "malformed graphlint comments: {:?}", result.warnings);

    // The check means something only if both ports' decode steps are hot.
    let hot_steps: Vec<&str> = result
        .hot_functions
        .iter()
        .filter_map(|f| f.chain.last())
        .map(|link| link.function.as_str())
        .filter(|name| name.ends_with("::step"))
        .collect();
    for step in ["GraphGenerator::step", "TotoGraphDecoder::step"] {
        assert!(hot_steps.contains(&step), "{step} is not hot; hot steps: {hot_steps:?}");
    }

    let mut rendered = Vec::new();
    write_diagnostics(&mut rendered, &result.diagnostics, OutputFormat::Full, Style::default()).unwrap();
    assert!(
        result.diagnostics.is_empty(),
        "{} unsuppressed finding(s) in models/ or runtime-probe/; fix them, or suppress a deliberate one \
         with `// graphlint: ignore[CODE] -- reason`:\n{}",
        result.diagnostics.len(),
        String::from_utf8_lossy(&rendered)
    );
}
