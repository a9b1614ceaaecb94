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
    assert!(
        stderr(&o).contains("unknown model `nope` (known models: toy, toy-bad, toy-silent, toy-sync, kronos, toto)"),
        "{}",
        stderr(&o)
    );
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
    assert!(
        stderr(&o).contains("key `layers.0.weight` has shape [3, 32], the model expects [64, 32]"),
        "{}",
        stderr(&o)
    );
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
        "run",
        "--model",
        "toy",
        "--device",
        "cpu",
        "--steps",
        "8",
        "--samples",
        "2",
        "--seed",
        "3",
        "--report",
        json.to_str().unwrap(),
        "--plot",
        svg.to_str().unwrap(),
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

fn fixtures() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/reference")
}

/// Runs a model on the CPU with a report, returning the exit code, stdout, stderr and the report.
fn cpu_run(args: &[&str]) -> (Option<i32>, String, String, serde_json::Value) {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("r.json");
    let mut all = vec!["run", "--device", "cpu", "--repeats", "1", "--report", json.to_str().unwrap()];
    all.extend_from_slice(args);
    let o = probe(&all);
    let report = std::fs::read_to_string(&json).map_or(serde_json::Value::Null, |t| serde_json::from_str(&t).unwrap());
    (o.status.code(), stdout(&o), stderr(&o), report)
}

fn assert_eager_parity(report: &serde_json::Value, rows: usize, channels: usize) {
    assert_eq!(report["capture"]["status"], "skipped");
    assert_eq!(report["parity"]["compared"], "eager_vs_eager_rerun");
    assert_eq!(report["parity"]["comparison"]["bit_identical"], true);
    let eager = report["forecast"]["eager"].as_array().unwrap();
    assert_eq!(eager.len(), rows);
    assert!(eager.iter().all(|r| r.as_array().unwrap().len() == channels
        && r.as_array().unwrap().iter().all(|v| v.as_f64().unwrap().is_finite())));
    assert!(report["accuracy"]["eager"]["mae"].as_f64().unwrap() > 0.0);
}

#[test]
fn kronos_mini_runs_end_to_end_on_cpu() {
    let (code, out, err, r) = cpu_run(&["--model", "kronos", "--preset", "mini", "--context", "64", "--steps", "6"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("probe: model kronos (preset mini, random-init), device cpu"), "{out}");
    assert!(out.contains("CPU RUN (eager only): PARITY OK within atol 0"), "{out}");
    assert_eq!(r["model"]["decode_steps"], 6);
    assert_eq!(r["data"]["channels"], serde_json::json!(["open", "high", "low", "close", "volume", "amount"]));
    assert_eq!(r["model"]["upstream_syncs"], false);
    assert_eager_parity(&r, 6, 6);
    // Greedy decoding is deterministic: the same forecast in a second process.
    let (_, _, _, again) = cpu_run(&["--model", "kronos", "--preset", "mini", "--context", "64", "--steps", "6"]);
    assert_eq!(again["forecast"]["eager"], r["forecast"]["eager"]);
}

#[test]
fn kronos_sampled_and_upstream_syncs_modes_run_on_cpu() {
    let base = ["--model", "kronos", "--preset", "mini", "--context", "48", "--steps", "4"];
    let (code, out, err, greedy) = cpu_run(&base);
    assert_eq!(code, Some(0), "{err}");
    let (code, out_s, err, sampled) = cpu_run(&[&base[..], &["--samples", "3", "--seed", "5"]].concat());
    assert_eq!(code, Some(0), "{err}");
    assert_eager_parity(&sampled, 4, 6);
    assert!(out_s.contains("--samples 3: sampled decoding (seed 5)"), "{out_s}");
    assert_ne!(sampled["forecast"]["eager"], greedy["forecast"]["eager"], "sampling changed nothing");
    // The opt-in host reads change no number.
    let (code, out_u, err, upstream) = cpu_run(&[&base[..], &["--upstream-syncs"]].concat());
    assert_eq!(code, Some(0), "{err}");
    assert!(out_u.contains("upstream-style syncs"), "{out_u}");
    assert_eq!(upstream["model"]["upstream_syncs"], true);
    assert_eq!(upstream["forecast"]["eager"], greedy["forecast"]["eager"], "{out}");
}

#[test]
fn toto_mini_runs_end_to_end_on_cpu_with_mean_samples_and_upstream_syncs() {
    let (code, out, err, mean) = cpu_run(&["--model", "toto", "--preset", "mini"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("probe: model toto (preset mini, random-init), device cpu"), "{out}");
    // Default window of the mini preset (patch 8): 24 context patches, 8 forecast patches.
    assert_eq!((mean["model"]["context"].as_u64(), mean["model"]["steps"].as_u64()), (Some(192), Some(64)));
    assert_eq!(mean["model"]["decode_steps"], 7);
    assert_eager_parity(&mean, 64, 4);
    let (code, _, err, sampled) = cpu_run(&["--model", "toto", "--preset", "mini", "--samples", "8", "--seed", "2"]);
    assert_eq!(code, Some(0), "{err}");
    assert_eager_parity(&sampled, 64, 4);
    assert_ne!(sampled["forecast"]["eager"], mean["forecast"]["eager"]);
    let (code, _, err, upstream) = cpu_run(&["--model", "toto", "--preset", "mini", "--upstream-syncs"]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(upstream["forecast"]["eager"], mean["forecast"]["eager"]);
}

#[test]
fn the_ports_reject_bad_presets_and_options() {
    for model in ["kronos", "toto"] {
        let o = probe(&["run", "--model", model, "--device", "cpu", "--preset", "huge"]);
        assert_eq!(o.status.code(), Some(2));
        assert!(stderr(&o).contains(&format!("model `{model}` has no preset `huge` (it has: ")), "{}", stderr(&o));
    }
    let o = probe(&["run", "--model", "toy", "--device", "cpu", "--upstream-syncs"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("model `toy` has no upstream-style syncs mode (--upstream-syncs is for: kronos, toto)"),
        "{}",
        stderr(&o)
    );
    // Kronos needs the calendar: a CSV without timestamps is refused with the reason.
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("d.csv");
    let rows: String = (0..80).map(|i| format!("{i},{i},{i},{i},1,1\n")).collect();
    std::fs::write(&csv, format!("open,high,low,close,volume,amount\n{rows}")).unwrap();
    let o = probe(&[
        "run",
        "--model",
        "kronos",
        "--preset",
        "mini",
        "--device",
        "cpu",
        "--context",
        "40",
        "--steps",
        "4",
        "--data",
        csv.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("Kronos needs a timestamp column"), "{}", stderr(&o));
}

/// Copies a checkpoint folder, replacing tensor `key` of `file` with zeros of `shape`.
fn broken_copy(from: &Path, to: &Path, file: &str, key: &str, shape: &[usize]) {
    for entry in walk(from) {
        let dest = to.join(entry.strip_prefix(from).unwrap());
        std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
        std::fs::copy(&entry, &dest).unwrap();
    }
    let path = to.join(file);
    let mut tensors = candle_core::safetensors::load(&path, &candle_core::Device::Cpu).unwrap();
    assert!(tensors.contains_key(key), "{key} is not in {file}");
    tensors.insert(
        key.into(),
        candle_core::Tensor::zeros(shape, candle_core::DType::F32, &candle_core::Device::Cpu).unwrap(),
    );
    candle_core::safetensors::save(&tensors, &path).unwrap();
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    std::fs::read_dir(dir)
        .unwrap()
        .flat_map(|e| {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(&p)
            } else {
                vec![p]
            }
        })
        .collect()
}

#[test]
fn the_ports_load_upstream_checkpoints_and_name_the_key_and_shapes_of_bad_ones() {
    // The reference checkpoints (upstream's own state dicts, tiny configs) load and run.
    let kronos = fixtures().join("kronos");
    let (code, _, err, r) =
        cpu_run(&["--model", "kronos", "--weights", kronos.to_str().unwrap(), "--context", "40", "--steps", "3"]);
    assert_eq!(code, Some(0), "{err}");
    assert_eager_parity(&r, 3, 6);
    let toto = fixtures().join("toto");
    let (code, _, err, r) =
        cpu_run(&["--model", "toto", "--weights", toto.to_str().unwrap(), "--context", "64", "--steps", "16"]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(r["model"]["decode_steps"], 1);
    assert_eager_parity(&r, 16, 4);

    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("kronos");
    broken_copy(&kronos, &bad, "predictor/model.safetensors", "dep_layer.cross_attn.k_proj.weight", &[64, 3]);
    let o = probe(&[
        "run",
        "--model",
        "kronos",
        "--device",
        "cpu",
        "--weights",
        bad.to_str().unwrap(),
        "--context",
        "40",
        "--steps",
        "3",
    ]);
    assert_eq!(o.status.code(), Some(2));
    let e = stderr(&o);
    assert!(e.contains("bad weights: ") && e.contains("`dep_layer.cross_attn.k_proj.weight`"), "{e}");
    assert!(e.contains("[64, 3]") && e.contains("[64, 64]"), "{e}");
    let bad = dir.path().join("toto");
    broken_copy(&toto, &bad, "model.safetensors", "model.output_distribution.df.weight", &[3, 31]);
    let o = probe(&["run", "--model", "toto", "--device", "cpu", "--weights", bad.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    let e = stderr(&o);
    assert!(
        e.contains("checkpoint tensor `model.output_distribution.df.weight` has shape [3, 31], expected [3, 32]"),
        "{e}"
    );
    // A folder that is not a checkpoint names the file it looked for.
    let o = probe(&["run", "--model", "toto", "--device", "cpu", "--weights", dir.path().to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("bad weights: ") && stderr(&o).contains("config.json"), "{}", stderr(&o));
}
