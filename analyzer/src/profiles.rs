//! Built-in framework profiles: the per-step entry points of frameworks whose steps are reached by
//! dispatch that the hot-path pass cannot follow (a scheduler registered from a parameter typed by
//! an enum, a processor taken out of a list, a model runner called from another process). A leaf
//! module of data; the Python frontend treats each pattern like a `hot` (or `cold`) pattern, and
//! the root's reason names the profile.
//!
//! Every pattern is module-qualified (`pkg.mod:Class.method`, `*` globs) and starts with the
//! profile's package, so it matches only that framework's own code, never a user's function of the
//! same name. Entries are per-step entry points, not set-up (`load_model`, capture, warm-up).

/// One framework's per-step entry points.
#[derive(Debug, PartialEq, Eq)]
pub struct Profile {
    /// What `profiles = [...]` names.
    pub name: &'static str,
    /// The top-level package every pattern lies in.
    pub package: &'static str,
    /// Module-qualified `hot` patterns.
    pub hot: &'static [&'static str],
    /// Module-qualified `cold` patterns: maintenance that an entry point calls now and then, not
    /// every step.
    pub cold: &'static [&'static str],
    /// Why these functions run once per step, for the root's reason (empty without `hot`).
    pub why: &'static str,
}

/// Every built-in profile, all on by default.
pub const PROFILES: &[Profile] = &[
    Profile {
        name: "vllm",
        package: "vllm",
        hot: &[
            "vllm.v1.worker.gpu_model_runner:GPUModelRunner.execute_model",
            "vllm.v1.worker.gpu_model_runner:GPUModelRunner.sample_tokens",
            "vllm.v1.worker.gpu.model_runner:GPUModelRunner.execute_model",
            "vllm.v1.worker.gpu.model_runner:GPUModelRunner.sample_tokens",
            // The executor waits for each step's output through these, from its output thread.
            "vllm.v1.worker.gpu_model_runner:Async*ModelRunnerOutput.get_output",
            "vllm.v1.worker.gpu.async_utils:Async*Output.get_output",
        ],
        // Expert rearrangement (EPLB) runs when a step counter reaches
        // `eplb_config.step_interval` (3,000 steps by default), from the per-step `EplbState.step`.
        cold: &[
            "vllm.distributed.eplb.eplb_state:EplbState.rearrange",
            // HF-style processors and feature extractors: the input processor runs them once per
            // request, before the model's steps.
            "vllm.transformers_utils.processors.*:*",
            // The CPU platform's workers, attention backends and kernels: on a CPU deployment a
            // value read back is already in host memory, so nothing there waits for a GPU.
            // (`vllm.v1.kv_offload.cpu` is not among them: it moves KV blocks off the GPU.)
            "vllm.v1.worker.cpu_*:*",
            "vllm.v1.worker.cpu.*:*",
            "vllm.v1.attention.backends.cpu_attn:*",
            "vllm.v1.attention.backends.mla.cpu_mla:*",
            "vllm.v1.attention.backends.mla.prefill.cpu_sdpa:*",
            "vllm.model_executor.layers.mamba.ops.cpu.*:*",
            "vllm.model_executor.layers.fused_moe.*.cpu_*:*",
            "vllm.lora.punica_wrapper.punica_cpu:*",
            "vllm.models.*.cpu.*:*",
        ],
        why: "per-step entry point of vllm's GPU model runner",
    },
    Profile {
        name: "sglang",
        package: "sglang",
        hot: &[
            "sglang.srt.managers.scheduler:Scheduler.run_batch",
            "sglang.srt.managers.scheduler_output_processor_mixin:SchedulerOutputProcessorMixin.process_batch_result_*",
            "sglang.srt.model_executor.model_runner:ModelRunner.forward",
            "sglang.srt.model_executor.model_runner:ModelRunner.sample",
        ],
        // Expert rebalancing runs every `eplb_rebalance_num_iterations` passes (1,000 by default) or after
        // a rank fault.
        cold: &[
            "sglang.srt.eplb.eplb_manager:EPLBManager.rebalance",
            // The diffusion runtime's text and image encoders run once per request, before the
            // denoising loop.
            "sglang.multimodal_gen.runtime.models.encoders.*:*",
        ],
        why: "per-batch step of sglang's scheduler and model runner",
    },
    Profile {
        name: "diffusers",
        package: "diffusers",
        hot: &[
            "diffusers.schedulers.scheduling_*:*.step",
            "diffusers.schedulers.scheduling_*:*.scale_model_input",
            // The attention backends: `dispatch_attention_fn` calls the active one out of the
            // registry that this decorator fills, in every attention layer of every step.
            "diffusers.models.attention_dispatch:@_AttentionBackendRegistry.register",
        ],
        // Once-per-request stages around the denoising loop: preparing inputs and latents,
        // encoding the prompt, checking and decoding the result.
        cold: &[
            // A scheduler's set-up: once per request (or per chunk of a long video), before the
            // denoising loop it prepares.
            "diffusers.schedulers.scheduling_*:*.set_timesteps",
            "diffusers.*:*.check_inputs",
            "diffusers.*:*.encode_prompt",
            "diffusers.*:*._encode_prompt",
            "diffusers.*:*.prepare_latents",
            "diffusers.*:*.decode_latents",
            "diffusers.*:*.run_safety_checker",
            "diffusers.pipelines.*:*SafetyChecker.*",
            "diffusers.pipelines.shap_e.renderer:MeshDecoder.*",
            "diffusers.pipelines.shap_e.renderer:*.decode_to_*",
            // VAEs: pipelines encode before the denoising loop and decode after it (no pipeline
            // in 0.42.1 calls a VAE inside its timestep loop).
            "diffusers.models.autoencoders.*:*",
            // The consistency decoder's own scheduler: only `ConsistencyDecoderVAE.decode` runs its
            // `step`, in a two-step loop inside the VAE decode (once per request, like the VAEs).
            "diffusers.schedulers.scheduling_consistency_decoder:*",
            // ONNX pipelines run onnxruntime sessions on numpy arrays; torch only wraps those
            // arrays (`torch.from_numpy`) for the scheduler's step on the host, and `.numpy()` /
            // `.cpu()` of what it returns read host memory. No device is involved.
            "diffusers.pipelines.*.pipeline_onnx_*:*",
        ],
        why: "a diffusers scheduler's step or attention backend, called in every denoising step",
    },
    Profile {
        name: "transformers",
        package: "transformers",
        hot: &[
            "transformers.generation.logits_process:*.__call__",
            "transformers.generation.stopping_criteria:*.__call__",
            "transformers.generation.candidate_generator:*.get_candidates",
            "transformers.generation.candidate_generator:*.update_candidate_strategy",
            // Continuous batching (`generate_batch`, `transformers serve`): a background thread's
            // loop runs one batch step and then reads its outputs back, through a loop condition
            // (`while self._generation_loop_body(...): pass`) more than two calls above the model.
            "transformers.generation.continuous_batching.continuous_api:ContinuousBatchProcessor._generation_step",
            "transformers.generation.continuous_batching.continuous_api:ContinuousBatchProcessor.update_batch",
        ],
        cold: &[
            // Image processors prepare each input once, before the model runs.
            "transformers.*:*ImageProcessor*",
            "transformers.models.*.image_processing_*:*",
            // Modular sources: transformers generates each model's `modeling_*.py` from its
            // `modular_*.py` and never imports the latter at run time. The generated file holds
            // the same code, where it runs (and is reported hot).
            "transformers.models.*.modular_*:*",
        ],
        why: "called once per generated token by transformers' generation loop or continuous batching",
    },
    Profile {
        name: "timm",
        package: "timm",
        // Feature extraction (`features_only=True`, `FeatureGetterNet`) calls the wrapped model's
        // `forward_intermediates` on every forward, through an attribute holding any timm model.
        hot: &["timm.models.*:*.forward_intermediates"],
        cold: &[],
        why: "called on every forward of a timm feature extractor (`features_only=True`), through the wrapped model",
    },
    Profile {
        name: "torchtune",
        package: "torchtune",
        hot: &[],
        // The `torch.export`/ExecuTorch variants of attention, KV cache and position embeddings:
        // their Python `forward` runs while export traces it, and the exported program runs
        // without it. Eager inference builds the modules of `torchtune.modules`.
        cold: &["torchtune.modules._export.*:*"],
        why: "",
    },
];

/// The profile called `name`.
pub fn named(name: &str) -> Option<&'static Profile> {
    PROFILES.iter().find(|profile| profile.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_are_qualified_by_their_package() {
        for profile in PROFILES {
            assert!(!profile.hot.is_empty() || !profile.cold.is_empty(), "{} has no pattern", profile.name);
            assert!(profile.hot.is_empty() || !profile.why.is_empty(), "{} roots say why", profile.name);
            for pattern in profile.hot.iter().chain(profile.cold) {
                let (module, function) = pattern.split_once(':').expect("module-qualified");
                assert!(
                    module.starts_with(&format!("{}.", profile.package)),
                    "{pattern} is outside {}",
                    profile.package
                );
                assert!(!function.is_empty() && !module.contains(':'), "{pattern}");
            }
        }
    }

    #[test]
    fn names_are_unique() {
        for (index, profile) in PROFILES.iter().enumerate() {
            assert!(PROFILES[..index].iter().all(|other| other.name != profile.name), "{} twice", profile.name);
            assert_eq!(named(profile.name), Some(profile));
        }
        assert_eq!(named("torch"), None);
    }
}
