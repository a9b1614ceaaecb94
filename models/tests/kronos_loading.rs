//! Loading: parameter counts of the released presets, the real-shape forward with weights rebuilt
//! from the reference's closed-form formula, and the errors a bad checkpoint gives.

mod kronos_support;

// Test paths start with `kronos::` so that `cargo test -p models kronos` selects them.
mod kronos {
    use std::collections::{BTreeSet, HashMap};

    use super::kronos_support::*;
    use candle_core::{DType, Device, Tensor};
    use models::data::OhlcvFrame;
    use models::kronos::{
        Checkpoint, ForecastInput, GraphOptions, Kronos, KronosConfig, KronosPredictor, KronosTokenizer, Preset, Rows,
        SamplingParams, ShapeRecorder, TokenizerConfig,
    };
    use models::GraphDecoder;
    use serde_json::Value;

    fn predictor_params(config: &KronosConfig) -> Vec<(String, usize)> {
        let shapes = ShapeRecorder::record(|vb| Kronos::load(vb, config)).unwrap();
        shapes.into_iter().map(|(n, s)| (n, s.elem_count())).collect()
    }

    fn tokenizer_params(config: &TokenizerConfig) -> Vec<(String, usize)> {
        let shapes = ShapeRecorder::record(|vb| KronosTokenizer::load(vb, config)).unwrap();
        shapes.into_iter().map(|(n, s)| (n, s.elem_count())).collect()
    }

    fn total(params: &[(String, usize)]) -> usize {
        params.iter().map(|(_, n)| n).sum()
    }

    #[test]
    fn preset_parameter_counts_match_the_published_figures() {
        for preset in Preset::ALL {
            let predictor = total(&predictor_params(&preset.predictor_config()));
            let tokenizer = total(&tokenizer_params(&preset.tokenizer_config()));
            println!("kronos-{preset}: predictor {predictor}, tokenizer {tokenizer}, both {}", predictor + tokenizer);
            // Upstream's model zoo counts the predictor only (`Kronos.parameters()`, buffers excluded).
            assert_eq!(predictor, preset.published_params(), "{preset}");
            // Tokenizer-2k and Tokenizer-base have the same shapes (they differ in BSQ group size only).
            assert_eq!(tokenizer, 3_958_042, "{preset} tokenizer");
        }
    }

    #[test]
    fn requested_keys_are_the_checkpoint_keys() {
        // Every parameter of the tiny checkpoints is read, under its exact key, and nothing else
        // (the checkpoints additionally hold the buffers rotary.inv_freq and tokenizer.bsq.*).
        let dir = reference_dir();
        let keys = |file: &str| -> BTreeSet<String> {
            Checkpoint::from_safetensors(dir.join(file))
                .unwrap()
                .tensors()
                .keys()
                .filter(|k| !k.ends_with("inv_freq") && !k.contains("bsq."))
                .cloned()
                .collect()
        };
        let tok_cfg: TokenizerConfig =
            serde_json::from_str(&std::fs::read_to_string(dir.join("tokenizer/config.json")).unwrap()).unwrap();
        let pred_cfg: KronosConfig =
            serde_json::from_str(&std::fs::read_to_string(dir.join("predictor/config.json")).unwrap()).unwrap();
        let names = |p: Vec<(String, usize)>| p.into_iter().map(|(n, _)| n).collect::<BTreeSet<_>>();
        assert_eq!(names(tokenizer_params(&tok_cfg)), keys("tokenizer/model.safetensors"));
        assert_eq!(names(predictor_params(&pred_cfg)), keys("predictor/model.safetensors"));
    }

    /// The reference's closed-form weight formula (see `real_shape_manifest.json`).
    fn formula_tensor(seed: u64, dims: &[usize], s: f32, offset: f32) -> Vec<f32> {
        let n: usize = dims.iter().product();
        (0..n as u64)
            .map(|i| {
                let k = i.wrapping_mul(2_654_435_761).wrapping_add(seed * 40_503 + 12_345) & 0xffff_ffff;
                let u = (k >> 8) as f32 * (1.0 / 16_777_216.0) - 0.5;
                u * s + offset
            })
            .collect()
    }

    fn formula_checkpoint(weights: &serde_json::Map<String, Value>, origin: &str) -> Checkpoint {
        let mut tensors = HashMap::new();
        for (name, w) in weights {
            let dims: Vec<usize> =
                w["shape"].as_array().unwrap().iter().map(|d| d.as_u64().unwrap() as usize).collect();
            let s = f32::from_bits(u32::from_str_radix(w["s_f32_hex"].as_str().unwrap(), 16).unwrap());
            assert_eq!(s, w["s"].as_f64().unwrap() as f32, "{name}: s");
            let values = formula_tensor(w["seed"].as_u64().unwrap(), &dims, s, w["offset"].as_f64().unwrap() as f32);
            let first4: Vec<f32> = w["first4"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap() as f32).collect();
            assert_eq!(values[..4], first4[..], "{name}: first values");
            let sum: f64 = values.iter().map(|&v| v as f64).sum();
            let want = w["sum_f64"].as_f64().unwrap();
            assert!((sum - want).abs() <= 1e-9 * (1.0 + want.abs()), "{name}: sum {sum} vs {want}");
            tensors.insert(name.clone(), Tensor::from_vec(values, dims, &Device::Cpu).unwrap());
        }
        Checkpoint::from_tensors(tensors, origin)
    }

    #[test]
    fn real_shape_forward_with_formula_weights() {
        let dir = reference_dir();
        let manifest: Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("real_shape_manifest.json")).unwrap()).unwrap();
        let fx = candle_core::safetensors::load(dir.join("real_shape.safetensors"), &Device::Cpu).unwrap();
        let tok_cfg: TokenizerConfig = serde_json::from_value(manifest["tokenizer_config"].clone()).unwrap();
        let pred_cfg: KronosConfig = serde_json::from_value(manifest["predictor_config"].clone()).unwrap();
        assert_eq!(tok_cfg, Preset::Small.tokenizer_config(), "Tokenizer-base preset");
        assert_eq!(
            KronosConfig {
                attn_dropout_p: 0.1,
                ffn_dropout_p: 0.25,
                resid_dropout_p: 0.25,
                token_dropout_p: 0.1,
                ..pred_cfg.clone()
            },
            Preset::Small.predictor_config(),
            "Kronos-small preset (dropouts aside)"
        );
        assert_eq!(total(&predictor_params(&pred_cfg)), manifest["predictor_param_count"].as_u64().unwrap() as usize);
        assert_eq!(total(&tokenizer_params(&tok_cfg)), manifest["tokenizer_param_count"].as_u64().unwrap() as usize);

        let weights = manifest["weights"].as_object().unwrap();
        let names = |p: Vec<(String, usize)>| p.into_iter().map(|(n, _)| n).collect::<BTreeSet<_>>();
        let manifest_names = |m: &str| weights[m].as_object().unwrap().keys().cloned().collect::<BTreeSet<_>>();
        assert_eq!(names(tokenizer_params(&tok_cfg)), manifest_names("tokenizer"), "Tokenizer-base keys");
        assert_eq!(names(predictor_params(&pred_cfg)), manifest_names("predictor"), "Kronos-small keys");
        let tok_ckpt = formula_checkpoint(weights["tokenizer"].as_object().unwrap(), "tokenizer formula");
        let pred_ckpt = formula_checkpoint(weights["predictor"].as_object().unwrap(), "predictor formula");
        let tokenizer = KronosTokenizer::load(tok_ckpt.into_var_builder(DType::F32, &Device::Cpu), &tok_cfg).unwrap();
        let model = Kronos::load(pred_ckpt.into_var_builder(DType::F32, &Device::Cpu), &pred_cfg).unwrap();

        let input = ForecastInput::from_frame(&OhlcvFrame::embedded(), 0, 32, 1).unwrap();
        let x = Tensor::from_vec(input.x.concat(), (1, 32, 6), &Device::Cpu).unwrap();
        let stamp = Tensor::from_vec(input.x_stamp.concat(), (1, 32, 5), &Device::Cpu).unwrap();
        assert_eq!(rel_max_diff(&x, &fx["input"]), 0.0, "real_shape input");
        assert_eq!(rel_max_diff(&stamp, &fx["stamp"]), 0.0, "real_shape stamp");

        let (s1, s2) = tokenizer.encode(&x).unwrap();
        assert_ids_eq("real_shape.s1", &s1, &fx["s1"]);
        assert_ids_eq("real_shape.s2", &s2, &fx["s2"]);
        assert_close("real_shape.recon", &tokenizer.decode(&s1, &s2).unwrap(), &fx["recon"]);

        let (s1_logits, context) = model.decode_s1(&s1, &s2, Some(&stamp)).unwrap();
        assert_close("real_shape.s1_logits", &s1_logits, &fx["s1_logits"]);
        let argmax = s1_logits.narrow(1, 31, 1).unwrap().argmax_keepdim(2).unwrap().squeeze(2).unwrap();
        assert_ids_eq("real_shape.s1_argmax_last", &argmax, &fx["s1_argmax_last"]);
        let s2_last = model.decode_s2(&context, &argmax, Rows::Last).unwrap().squeeze(1).unwrap();
        assert_close("real_shape.s2_logits_last", &s2_last, &fx["s2_logits_last"]);
    }

    fn tiny_checkpoint() -> HashMap<String, Tensor> {
        Checkpoint::from_safetensors(reference_dir().join("predictor/model.safetensors")).unwrap().tensors().clone()
    }

    fn tiny_config() -> KronosConfig {
        serde_json::from_str(&std::fs::read_to_string(reference_dir().join("predictor/config.json")).unwrap()).unwrap()
    }

    fn load_error(tensors: HashMap<String, Tensor>) -> String {
        let vb = Checkpoint::from_tensors(tensors, "test.safetensors").into_var_builder(DType::F32, &Device::Cpu);
        Kronos::load(vb, &tiny_config()).unwrap_err().to_string()
    }

    #[test]
    fn missing_tensor_error_names_key_and_shape() {
        let mut t = tiny_checkpoint();
        t.remove("transformer.1.ffn.w2.weight");
        let err = load_error(t);
        assert!(err.contains("missing tensor `transformer.1.ffn.w2.weight`"), "{err}");
        assert!(err.contains("[64, 128]") && err.contains("test.safetensors") && err.contains("no such key"), "{err}");
    }

    #[test]
    fn misshapen_tensor_error_names_key_and_both_shapes() {
        let mut t = tiny_checkpoint();
        t.insert("embedding.fusion_proj.weight".into(), Tensor::zeros((64, 100), DType::F32, &Device::Cpu).unwrap());
        let err = load_error(t);
        assert!(err.contains("`embedding.fusion_proj.weight`"), "{err}");
        assert!(err.contains("[64, 100]") && err.contains("[64, 128]"), "{err}");
    }

    #[test]
    fn mismatched_configs_and_missing_files_are_clear_errors() {
        let err = Kronos::from_dir("/nonexistent/kronos", DType::F32, &Device::Cpu).unwrap_err().to_string();
        assert!(err.contains("/nonexistent/kronos/config.json"), "{err}");
        let mut cfg = tiny_config();
        cfg.n_heads = 5;
        assert!(Kronos::random(&cfg, 0, DType::F32, &Device::Cpu).unwrap_err().to_string().contains("n_heads"));
        let tok = tokenizer();
        let wide = Kronos::random(&Preset::Mini.predictor_config(), 0, DType::F32, &Device::Cpu).unwrap();
        let err = KronosPredictor::new(tok, wide, 512).unwrap_err().to_string();
        assert!(err.contains("s1/s2 bits"), "{err}");
    }

    #[test]
    fn random_mini_preset_forecasts_with_both_paths() {
        let predictor = KronosPredictor::random(Preset::Mini, 5, DType::F32, &Device::Cpu).unwrap();
        let input = ForecastInput::from_frame(&OhlcvFrame::embedded(), 0, 48, 4).unwrap();
        let params = SamplingParams { sample_count: 2, seed: 1, ..Default::default() };
        let reference = predictor.predict(&input, &params).unwrap();
        let mut g = predictor.graph_generator(&input, &params, GraphOptions::default()).unwrap();
        for i in 0..g.num_steps() {
            g.prepare_step(i).unwrap();
            g.step().unwrap();
        }
        let forecast = g.finish().unwrap();
        assert_eq!(forecast, reference.decoded.forecast);
        assert!(forecast.values.iter().flatten().all(|v| v.is_finite()));
        // Same seed, same weights.
        let again = KronosPredictor::random(Preset::Mini, 5, DType::F32, &Device::Cpu).unwrap();
        assert_eq!(again.predict(&input, &params).unwrap().decoded.forecast, forecast);
    }
}
