//! The `probe` binary's errors and its `--device cpu` run, end to end.

use std::path::Path;
use std::process::{Command, Output};

fn probe(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_probe")).args(args).output().expect("probe runs")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn an_unknown_model_lists_the_known_ones() {
    let o = probe(&["run", "--model", "nope", "--device", "cpu"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("unknown model `nope` (known models: toy, toy-bad, toy-silent, toy-sync)"), "{}", stderr(&o));
}

#[test]
fn bad_arguments_are_usage_errors() {
    let o = probe(&["run", "--model", "toy", "--device", "gpu"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("expected `cpu`, `cuda` or `cuda:N`, got `gpu`"), "{}", stderr(&o));
    let o = probe(&["run", "--model", "toy", "--steps", "0"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("must be at least 1"), "{}", stderr(&o));
    let o = probe(&["run", "--model", "toy", "--device", "cpu", "--preset", "huge"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("model `toy` has no preset `huge` (it has: mini, small, base)"), "{}", stderr(&o));
    let o = probe(&["run", "--model", "toy", "--device", "cpu", "--context", "4"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--context must be at least 16"), "{}", stderr(&o));
    let o = probe(&["run", "--model", "toy", "--device", "cpu", "--context", "2600"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("has 2500 rows, but --context 2600 plus --steps 32 needs 2632"), "{}", stderr(&o));
}

#[test]
fn missing_or_broken_data_names_the_file() {
    let o = probe(&["run", "--model", "toy", "--device", "cpu", "--data", "/nonexistent.csv"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("cannot read /nonexistent.csv"), "{}", stderr(&o));
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("d.csv");
    std::fs::write(&csv, "timestamps,open,high,low\n1,1,2,3\n").unwrap();
    let o = probe(&["run", "--model", "toy", "--device", "cpu", "--data", csv.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("has no column `close` (it has: open, high, low)"), "{}", stderr(&o));
}

#[test]
fn static_check_says_it_is_not_available_yet() {
    let o = probe(&["run", "--model", "toy", "--device", "cpu", "--static-check"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--static-check is not available yet"), "{}", stderr(&o));
}

#[cfg(not(feature = "cuda"))]
#[test]
fn a_build_without_cuda_asked_for_a_gpu_explains_and_hints() {
    let o = probe(&["run", "--model", "toy"]);
    assert_eq!(o.status.code(), Some(2));
    let e = stderr(&o);
    assert!(e.contains("--device cuda:0: this probe was built without CUDA support"), "{e}");
    assert!(e.contains("hint: build with `cargo build --release --features cuda -p runtime-probe`"), "{e}");
}

fn write_weights(dir: &Path, first_layer: (usize, usize), with_head: bool) {
    use candle_core::{Device, Tensor};
    let mut t = std::collections::HashMap::new();
    let z = |s: &[usize]| Tensor::zeros(s, candle_core::DType::F32, &Device::Cpu).unwrap();
    t.insert("layers.0.weight".to_string(), z(&[first_layer.0, first_layer.1]));
    t.insert("layers.0.bias".to_string(), z(&[32]));
    t.insert("layers.1.weight".to_string(), z(&[32, 32]));
    t.insert("layers.1.bias".to_string(), z(&[32]));
    if with_head {
        t.insert("head.weight".to_string(), z(&[32, 4]));
    }
    candle_core::safetensors::save(&t, dir.join("model.safetensors")).unwrap();
}

#[test]
fn bad_weights_name_the_key_and_both_shapes() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    write_weights(dir.path(), (3, 32), true);
    let o = probe(&["run", "--model", "toy", "--device", "cpu", "--weights", d]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("key `layers.0.weight` has shape [3, 32], the model expects [64, 32]"), "{}", stderr(&o));
    write_weights(dir.path(), (64, 32), false);
    let o = probe(&["run", "--model", "toy", "--device", "cpu", "--weights", d]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("missing key `head.weight` (expected shape [32, 4])"), "{}", stderr(&o));
    // Good weights (all zero: the forecast is the last value plus noise) run.
    write_weights(dir.path(), (64, 32), true);
    let o = probe(&["run", "--model", "toy", "--device", "cpu", "--weights", d, "--steps", "4"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let o = probe(&["run", "--model", "toy", "--device", "cpu", "--weights", "/nonexistent"]);
    assert!(stderr(&o).contains("bad weights: --weights /nonexistent: not a directory"), "{}", stderr(&o));
}

#[test]
fn cpu_run_end_to_end_writes_the_table_the_report_and_the_plot() {
    let dir = tempfile::tempdir().unwrap();
    let (json, svg) = (dir.path().join("r.json"), dir.path().join("p.svg"));
    let o = probe(&[
        "run", "--model", "toy", "--device", "cpu", "--steps", "8", "--samples", "2", "--seed", "3",
        "--report", json.to_str().unwrap(), "--plot", svg.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("CPU RUN (eager only): PARITY OK within atol 0"), "{out}");
    assert!(out.contains("--device cpu: eager phases and parity bookkeeping only"), "{out}");
    let report: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(report["capture"]["status"], "skipped");
    assert_eq!(report["parity"]["compared"], "eager_vs_eager_rerun");
    assert_eq!(report["parity"]["comparison"]["bit_identical"], true);
    assert_eq!(report["forecast"]["eager"].as_array().unwrap().len(), 8);
    assert_eq!(report["model"]["samples"], 2);
    // The actual values are the last 8 rows of the embedded data's open/high/low/close.
    assert_eq!(report["forecast"]["actual"][7], serde_json::json!([9.87, 9.89, 9.87, 9.88]));
    let plot = std::fs::read_to_string(&svg).unwrap();
    assert!(plot.starts_with("<svg") && plot.contains("close"), "{}", &plot[..200.min(plot.len())]);
}

#[test]
fn every_test_model_runs_on_cpu() {
    for model in ["toy-bad", "toy-silent", "toy-sync"] {
        let o = probe(&["run", "--model", model, "--device", "cpu", "--steps", "4", "--repeats", "1"]);
        assert_eq!(o.status.code(), Some(0), "{model}: {}", stderr(&o));
    }
}

#[test]
fn doctor_finds_the_line_tables_of_a_debug_build() {
    let o = probe(&["doctor"]);
    assert!(stdout(&o).contains("line tables: ok (runtime-probe/src/main.rs:"), "{}", stdout(&o));
}
