//! The graph path against the reference path (and, for greedy decoding, against upstream's
//! recorded tokens), on CPU.

mod kronos_support;

// Test paths start with `kronos::` so that `cargo test -p models kronos` selects them.
mod kronos {
    use super::kronos_support::*;
    use candle_core::Tensor;
    use models::data::OhlcvFrame;
    use models::kronos::{ForecastInput, GraphOptions, KronosPredictor, SamplingParams};
    use models::{Forecast, GraphDecoder};

    /// Logit tolerance between the two paths (absolute): they differ only in matmul shapes.
    const LOGIT_TOL: f32 = 1e-5;

    struct GraphRun {
        s1_logits: Vec<Tensor>,
        s2_logits: Vec<Tensor>,
        s1: Vec<Vec<u32>>,
        s2: Vec<Vec<u32>>,
        forecast: Forecast,
    }

    /// Drives a decoder exactly as the probe does: reset, (prepare_step, step)*, finish.
    fn drive(
        predictor: &KronosPredictor,
        input: &ForecastInput,
        params: &SamplingParams,
        options: GraphOptions,
    ) -> GraphRun {
        let mut g = predictor.graph_generator(input, params, options).unwrap();
        let ids_before: Vec<_> = g.state_buffers().iter().map(|t| t.id()).collect();
        g.reset().unwrap();
        let (mut s1_logits, mut s2_logits) = (vec![], vec![]);
        for i in 0..g.num_steps() {
            g.prepare_step(i).unwrap();
            g.step().unwrap();
            let (l1, l2) = g.last_logits();
            s1_logits.push(l1.copy().unwrap());
            s2_logits.push(l2.copy().unwrap());
        }
        let ids_after: Vec<_> = g.state_buffers().iter().map(|t| t.id()).collect();
        assert_eq!(ids_before, ids_after, "a step replaced a state buffer instead of writing into it");
        let (s1, s2) = g.generated_ids().unwrap();
        let forecast = g.finish().unwrap();
        GraphRun { s1_logits, s2_logits, s1, s2, forecast }
    }

    fn max_abs_diff(a: &Tensor, b: &Tensor) -> f32 {
        assert_eq!(a.dims(), b.dims());
        a.sub(b).unwrap().abs().unwrap().flatten_all().unwrap().max(0).unwrap().to_scalar::<f32>().unwrap()
    }

    /// Runs both paths on the same input and checks identical tokens and forecasts, and logits
    /// within [`LOGIT_TOL`]. Returns the largest logit difference.
    fn compare_paths(
        max_context: usize,
        context: usize,
        steps: usize,
        params: &SamplingParams,
        options: GraphOptions,
    ) -> (f32, GraphRun) {
        let predictor = predictor(max_context);
        let input = ForecastInput::from_frame(&OhlcvFrame::embedded(), 100, context, steps).unwrap();
        let reference = predictor.predict(&input, params).unwrap();
        let graph = drive(&predictor, &input, params, options);
        let mut worst = 0f32;
        for (i, step) in reference.steps.iter().enumerate() {
            let d1 = max_abs_diff(&graph.s1_logits[i], &step.s1_logits);
            let d2 = max_abs_diff(&graph.s2_logits[i], &step.s2_logits);
            worst = worst.max(d1).max(d2);
            assert!(d1 <= LOGIT_TOL && d2 <= LOGIT_TOL, "step {i}: logits differ by {d1:e} / {d2:e}");
        }
        let ref_ids = |t: &Tensor| t.narrow(1, context, steps).unwrap().to_vec2::<u32>().unwrap();
        assert_eq!(graph.s1, ref_ids(&reference.s1), "s1 ids");
        assert_eq!(graph.s2, ref_ids(&reference.s2), "s2 ids");
        assert_eq!(graph.forecast, reference.decoded.forecast, "forecast");
        println!(
            "graph vs reference (max_context {max_context}, context {context}, {steps} steps, {params:?}, {options:?}): \
             identical ids, max |logit diff| = {worst:.2e}"
        );
        (worst, graph)
    }

    #[test]
    fn graph_path_matches_upstream_greedy_tokens() {
        let fx = fixtures();
        let input = ForecastInput::from_frame(&OhlcvFrame::embedded(), 0, 64, 8).unwrap();
        for (tag, max_context) in [("gen512", 512), ("gen68", 68)] {
            let run = drive(&predictor(max_context), &input, &SamplingParams::greedy(), GraphOptions::default());
            let want = |name: &str| ids(&fx[&format!("{tag}.{name}")]).to_vec1::<u32>().unwrap();
            assert_eq!(run.s1[0], want("pred_s1"), "{tag} s1");
            assert_eq!(run.s2[0], want("pred_s2"), "{tag} s2");
            let logits = Tensor::stack(&run.s1_logits, 0).unwrap().squeeze(1).unwrap();
            assert_close(&format!("graph {tag}.step_s1_logits"), &logits, &fx[&format!("{tag}.step_s1_logits")]);
            let values = Tensor::from_vec(run.forecast.values.concat(), (8, 6), &candle_core::Device::Cpu).unwrap();
            assert_close(&format!("graph {tag}.pred_ohlcva"), &values, &fx[&format!("{tag}.pred_ohlcva")]);
        }
    }

    #[test]
    fn greedy_paths_agree_growing_and_sliding() {
        // Never slides; slides for the last steps; context already longer than the window.
        compare_paths(512, 64, 12, &SamplingParams::greedy(), GraphOptions::default());
        compare_paths(70, 64, 12, &SamplingParams::greedy(), GraphOptions::default());
        compare_paths(48, 64, 6, &SamplingParams::greedy(), GraphOptions::default());
    }

    #[test]
    fn sampled_paths_agree_and_follow_the_seed() {
        let nucleus = SamplingParams { temperature: 1.0, top_k: 0, top_p: 0.9, sample_count: 3, seed: 42 };
        let (_, a) = compare_paths(60, 50, 16, &nucleus, GraphOptions::default());
        let top_k = SamplingParams { temperature: 0.7, top_k: 4, top_p: 1.0, sample_count: 2, seed: 7 };
        compare_paths(512, 50, 10, &top_k, GraphOptions::default());
        let plain = SamplingParams { temperature: 1.5, top_k: 0, top_p: 1.0, sample_count: 2, seed: 1 };
        compare_paths(512, 50, 10, &plain, GraphOptions::default());

        let other_seed = SamplingParams { seed: 43, ..nucleus.clone() };
        let (_, b) = compare_paths(60, 50, 16, &other_seed, GraphOptions::default());
        assert_ne!(a.s1, b.s1, "another seed draws other tokens");
        assert_ne!(a.s1[0], a.s1[1], "sample paths draw independently");
    }

    #[test]
    fn upstream_syncs_mode_computes_the_same_forecast() {
        let params = SamplingParams { top_p: 0.9, sample_count: 2, seed: 3, ..Default::default() };
        let (_, synced) = compare_paths(60, 50, 14, &params, GraphOptions { upstream_syncs: true });
        let (_, plain) = compare_paths(60, 50, 14, &params, GraphOptions::default());
        assert_eq!((synced.s1, synced.s2), (plain.s1, plain.s2));
    }

    #[test]
    fn reset_replays_the_same_forecast() {
        let predictor = predictor(64);
        let input = ForecastInput::from_frame(&OhlcvFrame::embedded(), 10, 60, 8).unwrap();
        let params = SamplingParams { top_p: 0.8, sample_count: 2, seed: 9, ..Default::default() };
        let mut g = predictor.graph_generator(&input, &params, GraphOptions::default()).unwrap();
        let mut runs = vec![];
        for _ in 0..2 {
            g.reset().unwrap();
            for i in 0..g.num_steps() {
                g.prepare_step(i).unwrap();
                g.step().unwrap();
            }
            runs.push((g.generated_ids().unwrap(), g.finish().unwrap()));
        }
        assert_eq!(runs[0], runs[1]);
    }

    #[test]
    fn bf16_graph_path_matches_bf16_reference() {
        use candle_core::{DType, Device};
        use models::kronos::Kronos;
        let model = Kronos::from_dir(reference_dir().join("predictor"), DType::BF16, &Device::Cpu).unwrap();
        assert_eq!(model.dtype(), DType::BF16);
        let bf16 = KronosPredictor::new(tokenizer(), model, 64).unwrap();
        let input = ForecastInput::from_frame(&OhlcvFrame::embedded(), 0, 60, 8).unwrap();
        let run = drive(&bf16, &input, &SamplingParams::greedy(), GraphOptions::default());
        let reference = bf16.predict(&input, &SamplingParams::greedy()).unwrap();
        let worst = (0..8).map(|i| max_abs_diff(&run.s1_logits[i], &reference.steps[i].s1_logits)).fold(0f32, f32::max);
        println!("bf16 graph vs bf16 reference: max |s1 logit diff| = {worst:.2e}");
        assert!(worst < 0.1, "{worst}");
        let ref_s1 = reference.s1.narrow(1, 60, 8).unwrap().to_vec2::<u32>().unwrap();
        assert_eq!(run.s1, ref_s1);
        assert!(run.forecast.values.iter().flatten().all(|v| v.is_finite()));
    }

    #[test]
    fn prepare_step_rejects_steps_past_the_end() {
        let predictor = predictor(512);
        let input = ForecastInput::from_frame(&OhlcvFrame::embedded(), 0, 20, 3).unwrap();
        let mut g = predictor.graph_generator(&input, &SamplingParams::greedy(), GraphOptions::default()).unwrap();
        assert!(g.prepare_step(3).is_err());
    }
}
