//! The reference path: upstream's `auto_regressive_inference`, one step at a time.

use candle_core::{Result, Tensor};

use crate::kronos::data::ForecastInput;
use crate::kronos::model::Rows;
use crate::kronos::predictor::{Decoded, KronosPredictor};
use crate::kronos::sampling::{Head, NoiseSource, Sampler, SamplingParams};

/// What one decode step saw and produced (all sample paths).
#[derive(Debug, Clone)]
pub struct StepRecord {
    /// First token of the window fed to `decode_s1`.
    pub window_start: usize,
    /// Number of tokens fed to `decode_s1` (upstream's `window_len`).
    pub window_len: usize,
    /// `[samples, 2^s1_bits]` last-position s1 logits, before temperature and filtering.
    pub s1_logits: Tensor,
    /// `[samples, 2^s2_bits]` last-row s2 logits given the drawn s1.
    pub s2_logits: Tensor,
    /// `[samples]` drawn ids.
    pub s1: Tensor,
    pub s2: Tensor,
}

/// A finished generation.
#[derive(Debug, Clone)]
pub struct Generation {
    pub steps: Vec<StepRecord>,
    /// `[samples, context + steps]` full token sequences (context, then generated).
    pub s1: Tensor,
    pub s2: Tensor,
    pub decoded: Decoded,
}

pub struct ReferenceGenerator<'a> {
    predictor: &'a KronosPredictor,
    input: &'a ForecastInput,
    sampler: Sampler,
    noise: NoiseSource,
    rows: usize,
    /// `[rows, context + steps, 5]` calendar features of all positions.
    stamps: Tensor,
    s1: Tensor,
    s2: Tensor,
    steps: Vec<StepRecord>,
}

impl<'a> ReferenceGenerator<'a> {
    pub(crate) fn new(
        predictor: &'a KronosPredictor,
        input: &'a ForecastInput,
        params: &SamplingParams,
    ) -> Result<Self> {
        predictor.check_input(input)?;
        let rows = params.sample_count;
        let sampler = Sampler::new(params, predictor.device())?;
        let (s1, s2) = predictor.encode_context(input, rows)?;
        let (_, stamps) = predictor.input_tensors(input)?;
        Ok(Self {
            predictor,
            input,
            sampler,
            noise: NoiseSource::new(params.seed),
            rows,
            stamps: stamps.repeat((rows, 1, 1))?,
            s1,
            s2,
            steps: Vec::new(),
        })
    }

    pub fn num_steps(&self) -> usize {
        self.input.pred_len()
    }

    /// Runs the next step; errors after the last one.
    pub fn step(&mut self) -> Result<&StepRecord> {
        let i = self.steps.len();
        if i >= self.num_steps() {
            candle_core::bail!("all {} steps have run", self.num_steps());
        }
        let model = &self.predictor.model;
        let dev = self.predictor.device();
        let len = self.input.context_len() + i;
        let window_start = len.saturating_sub(self.predictor.max_context);
        let window_len = len - window_start;
        let s1_window = self.s1.narrow(1, window_start, window_len)?;
        let s2_window = self.s2.narrow(1, window_start, window_len)?;
        let stamp = self.stamps.narrow(1, window_start, window_len)?.contiguous()?;

        let (logits, context) = model.decode_s1(&s1_window, &s2_window, Some(&stamp))?;
        let s1_logits = logits.narrow(1, window_len - 1, 1)?.squeeze(1)?;
        let v1 = s1_logits.dim(1)?;
        let s1 = self.sampler.sample(&s1_logits, &self.noise.gumbel_tensor(i, Head::S1, self.rows, v1, dev)?)?;

        let s2_logits = model.decode_s2(&context, &s1.unsqueeze(1)?, Rows::Last)?.squeeze(1)?;
        let v2 = s2_logits.dim(1)?;
        let s2 = self.sampler.sample(&s2_logits, &self.noise.gumbel_tensor(i, Head::S2, self.rows, v2, dev)?)?;

        self.s1 = Tensor::cat(&[&self.s1, &s1.unsqueeze(1)?], 1)?;
        self.s2 = Tensor::cat(&[&self.s2, &s2.unsqueeze(1)?], 1)?;
        self.steps.push(StepRecord { window_start, window_len, s1_logits, s2_logits, s1, s2 });
        Ok(&self.steps[i])
    }

    /// Runs the remaining steps and decodes.
    pub fn run(mut self) -> Result<Generation> {
        while self.steps.len() < self.num_steps() {
            self.step()?;
        }
        self.finish()
    }

    /// Decodes what has been generated (all steps must have run).
    pub fn finish(self) -> Result<Generation> {
        if self.steps.len() != self.num_steps() {
            candle_core::bail!("finish after {} of {} steps", self.steps.len(), self.num_steps());
        }
        let decoded = self.predictor.finalize(&self.s1, &self.s2, self.input)?;
        Ok(Generation { steps: self.steps, s1: self.s1, s2: self.s2, decoded })
    }
}
