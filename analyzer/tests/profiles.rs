//! Built-in framework profiles on `fixtures/projects/framework_profiles`, a tree that mimics the
//! package paths of vllm, sglang, diffusers and timm beside a user's package with a class of the same name.

use std::path::{Path, PathBuf};
use std::process::Command;

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/projects/framework_profiles")
}

fn graphlint(extra: &[&str]) -> std::process::Output {
    let output = Command::new(env!("CARGO_BIN_EXE_graphlint")).args(extra).current_dir(fixture()).output().unwrap();
    assert!(matches!(output.status.code(), Some(0 | 1)), "{}", String::from_utf8_lossy(&output.stderr));
    output
}

/// `(file, row, code)` of every hot finding, sorted.
fn hot_findings(extra: &[&str]) -> Vec<(String, u64, String)> {
    let output = graphlint(&[&["--output-format", "json", "--all-paths"], extra].concat());
    let findings: Vec<serde_json::Value> = serde_json::from_slice(&output.stdout).unwrap();
    let mut hot: Vec<_> = findings
        .iter()
        .filter(|f| f["hot"] == true)
        .map(|f| {
            let file = f["filename"].as_str().unwrap().to_string();
            (file, f["location"]["row"].as_u64().unwrap(), f["code"].as_str().unwrap().to_string())
        })
        .collect();
    hot.sort();
    hot
}

/// The `# expect: CODE` lines of the fixture, as `(file, row, code)`, sorted.
fn expected() -> Vec<(String, u64, String)> {
    let mut expected = Vec::new();
    for file in [
        "vllm/v1/worker/gpu_model_runner.py",
        "sglang/srt/model_executor/model_runner.py",
        "sglang/srt/eplb/eplb_manager.py",
        "diffusers/schedulers/scheduling_toy.py",
        "diffusers/models/attention_dispatch.py",
        "timm/models/toy_vit.py",
        "myapp/runner.py",
    ] {
        let text = std::fs::read_to_string(fixture().join(file)).unwrap();
        for (index, line) in text.lines().enumerate() {
            if let Some((_, codes)) = line.split_once("# expect:") {
                for code in codes.split_whitespace() {
                    expected.push((file.to_string(), index as u64 + 1, code.to_string()));
                }
            }
        }
    }
    expected.sort();
    expected
}

#[test]
fn profiles_make_framework_entry_points_hot_and_only_theirs() {
    let hot = hot_findings(&[]);
    assert_eq!(hot, expected(), "the profiles' roots, and nothing of `myapp`");
    // The user's `myapp.runner:GPUModelRunner.execute_model` has the same syncs, found but cold.
    let all = graphlint(&["--output-format", "json", "--all-paths"]);
    let all: Vec<serde_json::Value> = serde_json::from_slice(&all.stdout).unwrap();
    let in_myapp: Vec<_> = all.iter().filter(|f| f["filename"] == "myapp/runner.py").collect();
    assert_eq!(in_myapp.len(), 2, "{all:#?}");
    assert!(in_myapp.iter().all(|f| f["hot"] == false));
    // The sglang profile's `cold` pattern keeps the rebalancing that `ModelRunner.forward` calls cold.
    let rebalance: Vec<_> = all.iter().filter(|f| f["filename"] == "sglang/srt/eplb/eplb_manager.py").collect();
    assert_eq!(rebalance.len(), 1, "{all:#?}");
    assert_eq!(rebalance[0]["hot"], false);
}

/// A `hot` pattern `module:@decorator` names the functions a registry's decorator collects.
#[test]
fn a_pattern_names_the_functions_a_decorator_registers() {
    let registry = |extra: &[&str]| {
        hot_findings(extra).into_iter().filter(|(file, ..)| file == "myapp/registry.py").collect::<Vec<_>>()
    };
    assert_eq!(registry(&[]), Vec::new(), "the profile's decorator pattern is diffusers' module only");
    let hot = registry(&["--hot", "myapp.registry:@Ops.register"]);
    assert_eq!(hot, vec![("myapp/registry.py".to_string(), 20, "GL501".to_string())]);
    assert_eq!(registry(&["--hot", "myapp.other:@Ops.register"]), Vec::new(), "another module's pattern");
}

#[test]
fn the_root_names_its_profile() {
    let listed = String::from_utf8(graphlint(&["--show-hot"]).stdout).unwrap();
    let root_of = |function: &str| {
        let mut lines = listed.lines().skip_while(|l| !l.ends_with(&format!(": {function}")));
        assert!(lines.next().is_some(), "{function} is not hot:\n{listed}");
        lines.next().unwrap().trim().to_string()
    };
    assert_eq!(
        root_of("GPUModelRunner.execute_model"),
        "root: per-step entry point of vllm's GPU model runner (profile `vllm`)"
    );
    assert!(root_of("ToyScheduler.step").ends_with("(profile `diffusers`)"));
    assert!(root_of("ToyViT.forward_intermediates").ends_with("(profile `timm`)"));
    assert!(!listed.contains("myapp/"), "{listed}");
    assert!(!listed.contains("load_model") && !listed.contains("set_timesteps"), "set-up is not per-step:\n{listed}");
}

#[test]
fn the_profiles_key_turns_them_off_or_picks_some() {
    assert_eq!(hot_findings(&["--config", "no_profiles.toml"]), Vec::new());
    let diffusers_only = hot_findings(&["--config", "only_diffusers.toml"]);
    let expected: Vec<_> = expected().into_iter().filter(|(file, ..)| file.starts_with("diffusers/")).collect();
    assert!(!expected.is_empty());
    assert_eq!(diffusers_only, expected);
}

#[test]
fn an_unknown_profile_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("graphlint.toml"), "profiles = [\"vlm\"]\n").unwrap();
    std::fs::write(dir.path().join("m.py"), "x = 1\n").unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_graphlint")).arg(".").current_dir(dir.path()).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("unknown profile `vlm`") && stderr.contains("vllm"), "{stderr}");
}

/// Once-per-request pipeline stages under the profiles: a diffusers pipeline's `prepare_latents`,
/// safety checker, scheduler `set_timesteps` and VAE, a transformers image processor, a vllm
/// feature extractor and CPU attention backend, the sglang diffusion runtime's prompt encoders;
/// a transformers modular source, which never runs (its generated `modeling_*.py` copy does, and
/// stays hot); a diffusers ONNX pipeline, whose torch tensors are numpy arrays wrapped for the
/// scheduler; and torchtune's export-only modules. Hot without profiles (forward roots, loops that
/// run a model), cold with them; the denoising loop stays hot.
#[test]
fn profiles_keep_once_per_request_stages_cold() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/projects/profile_stages");
    let hot = |extra: &[&str]| -> Vec<(String, u64)> {
        let output = Command::new(env!("CARGO_BIN_EXE_graphlint"))
            .args(["--output-format", "json"])
            .args(extra)
            .current_dir(&dir)
            .output()
            .unwrap();
        assert!(matches!(output.status.code(), Some(0 | 1)), "{}", String::from_utf8_lossy(&output.stderr));
        let findings: Vec<serde_json::Value> = serde_json::from_slice(&output.stdout).unwrap();
        let mut hot: Vec<_> = findings
            .iter()
            .filter(|f| f["hot"] == true)
            .map(|f| (f["filename"].as_str().unwrap().to_string(), f["location"]["row"].as_u64().unwrap()))
            .collect();
        hot.sort();
        hot
    };
    let pipeline = "diffusers/pipelines/toy/pipeline_toy.py".to_string();
    let modeling = "transformers/models/toy/modeling_toy.py".to_string();
    assert_eq!(hot(&[]), [(pipeline.clone(), 27), (modeling.clone(), 8)]);
    let stages = [
        ("diffusers/models/autoencoders/autoencoder_toy.py", 8),
        ("diffusers/pipelines/stable_diffusion/safety_checker.py", 8),
        ("diffusers/pipelines/toy/pipeline_toy.py", 22),
        ("diffusers/schedulers/scheduling_toy.py", 10),
        ("sglang/multimodal_gen/runtime/models/encoders/t5.py", 8),
        ("transformers/models/toy/image_processing_toy.py", 16),
        ("transformers/models/toy/modular_toy.py", 8),
        ("vllm/transformers_utils/processors/toy_asr.py", 8),
        ("vllm/v1/attention/backends/cpu_attn.py", 8),
        ("diffusers/pipelines/stable_diffusion/pipeline_onnx_toy.py", 16),
        ("torchtune/modules/_export/kv_cache.py", 9),
    ];
    let without = hot(&["--config", "no_profiles.toml"]);
    for (file, row) in stages {
        assert!(without.contains(&(file.to_string(), row)), "{file}:{row} is hot without profiles: {without:?}");
    }
    assert!(without.contains(&(pipeline, 27)) && without.contains(&(modeling, 8)));
}

/// The `vllm` profile's `cold` pattern: expert rearrangement, which the per-step
/// `EplbState.step` calls every `step_interval` steps, is maintenance, not a step.
#[test]
fn vllm_expert_rearrangement_is_cold() {
    let all = graphlint(&["--output-format", "json", "--all-paths"]);
    let all: Vec<serde_json::Value> = serde_json::from_slice(&all.stdout).unwrap();
    let eplb: Vec<_> = all.iter().filter(|f| f["filename"] == "vllm/distributed/eplb/eplb_state.py").collect();
    assert_eq!(eplb.len(), 1, "{all:#?}");
    assert_eq!(eplb[0]["hot"], false, "{eplb:#?}");
    let listed = String::from_utf8(graphlint(&["--show-hot"]).stdout).unwrap();
    assert!(listed.contains(": EplbState.step"), "the per-step part stays hot:\n{listed}");
}
