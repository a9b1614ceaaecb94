//! Forecast inputs on the host and upstream's left padding to whole patches.

use candle_core::{Device, Result, Tensor};

use crate::data::OhlcvFrame;

/// A batch of multivariate series `[batch, variates, time]`, row-major, with upstream's masks.
#[derive(Debug, Clone, PartialEq)]
pub struct TotoInput {
    pub batch: usize,
    pub variates: usize,
    pub len: usize,
    pub series: Vec<f32>,
    /// `false` marks padding: excluded from the scaler's statistics.
    pub padding_mask: Vec<bool>,
    /// Group ids: space-wise attention only connects variates with equal ids at a patch.
    pub id_mask: Vec<i64>,
    /// A name per variate, used to label forecasts.
    pub channel_names: Vec<String>,
}

/// The inputs as device tensors: series f32, padding 1/0 f32, ids f32.
#[derive(Debug, Clone)]
pub struct InputTensors {
    pub series: Tensor,
    pub padding: Tensor,
    pub ids: Tensor,
}

/// The variates Toto reads from an [`OhlcvFrame`], in order.
pub const SAMPLE_CHANNELS: [&str; 4] = ["open", "high", "low", "close"];

impl TotoInput {
    /// One series of `variates[v][t]`, unpadded, all variates in group 0.
    pub fn from_variates(variates: &[Vec<f32>], names: &[&str]) -> Self {
        let len = variates.first().map_or(0, Vec::len);
        assert!(variates.iter().all(|v| v.len() == len), "variates must have equal lengths");
        let n = variates.len() * len;
        Self {
            batch: 1,
            variates: variates.len(),
            len,
            series: variates.concat(),
            padding_mask: vec![true; n],
            id_mask: vec![0; n],
            channel_names: (0..variates.len())
                .map(|i| names.get(i).map_or_else(|| format!("variate{i}"), |s| s.to_string()))
                .collect(),
        }
    }

    /// Rows `start..start + len` of `frame`'s open, high, low and close as one series of four
    /// variates.
    pub fn from_frame(frame: &OhlcvFrame, start: usize, len: usize) -> Self {
        let rows = &frame.rows[start..start + len];
        let variates: Vec<Vec<f32>> = (0..SAMPLE_CHANNELS.len()).map(|c| rows.iter().map(|r| r[c]).collect()).collect();
        TotoInput::from_variates(&variates, &SAMPLE_CHANNELS)
    }

    /// Sets one group id per variate (repeated over time and batch).
    pub fn with_variate_ids(mut self, ids: &[i64]) -> Self {
        assert_eq!(ids.len(), self.variates);
        for (i, id) in self.id_mask.iter_mut().enumerate() {
            *id = ids[(i / self.len) % self.variates];
        }
        self
    }

    /// Upstream's `pad_array` / `pad_id_mask`: left-pads with zeros (masked out) to a multiple
    /// of `multiple`, repeating each series' first id.
    pub fn left_padded(&self, multiple: usize) -> Self {
        let padded_len = self.len.div_ceil(multiple) * multiple;
        let pad = padded_len - self.len;
        if pad == 0 {
            return self.clone();
        }
        let rows = self.batch * self.variates;
        let mut out = Self { len: padded_len, series: vec![], padding_mask: vec![], id_mask: vec![], ..self.clone() };
        for r in 0..rows {
            let span = r * self.len..(r + 1) * self.len;
            out.series.extend(std::iter::repeat_n(0.0, pad).chain(self.series[span.clone()].iter().copied()));
            out.padding_mask
                .extend(std::iter::repeat_n(false, pad).chain(self.padding_mask[span.clone()].iter().copied()));
            let first = self.id_mask[span.start];
            out.id_mask.extend(std::iter::repeat_n(first, pad).chain(self.id_mask[span].iter().copied()));
        }
        out
    }

    /// Checks the invariants upstream asserts (equal lengths, patches within one id group).
    pub fn validate(&self, patch: usize) -> Result<()> {
        let n = self.batch * self.variates * self.len;
        if self.series.len() != n || self.padding_mask.len() != n || self.id_mask.len() != n {
            candle_core::bail!(
                "input buffers do not match batch {} × variates {} × len {}",
                self.batch,
                self.variates,
                self.len
            );
        }
        if self.len == 0 || !self.len.is_multiple_of(patch) {
            candle_core::bail!("series length {} is not a positive multiple of the patch size {patch}", self.len);
        }
        if self.id_mask.chunks(patch).any(|c| c.iter().any(|&id| id != c[0])) {
            candle_core::bail!("patches cannot span multiple id groups");
        }
        Ok(())
    }

    pub fn to_tensors(&self, device: &Device) -> Result<InputTensors> {
        let shape = (self.batch, self.variates, self.len);
        Ok(InputTensors {
            series: Tensor::from_vec(self.series.clone(), shape, device)?,
            padding: Tensor::from_vec(
                self.padding_mask.iter().map(|&m| f32::from(u8::from(m))).collect::<Vec<_>>(),
                shape,
                device,
            )?,
            ids: Tensor::from_vec(self.id_mask.iter().map(|&i| i as f32).collect::<Vec<_>>(), shape, device)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_rows_become_four_variates() {
        let frame = OhlcvFrame::embedded();
        let input = TotoInput::from_frame(&frame, 10, 64);
        assert_eq!((input.batch, input.variates, input.len), (1, 4, 64));
        // Row 10 is 2024-06-18 13:35 (open 11.32, high 11.33), row 73 closes at 11.18.
        assert_eq!(input.series[0], 11.32);
        assert_eq!(input.series[64], 11.33); // variate 1 (high) starts at offset 64
        assert_eq!(input.series[4 * 64 - 1], 11.18);
        assert_eq!(input.channel_names, SAMPLE_CHANNELS);
    }

    #[test]
    fn left_padding_masks_zeros_and_repeats_the_first_id() {
        let input = TotoInput::from_variates(&[vec![1.0, 2.0, 3.0], vec![4.0, 5.0, 6.0]], &["a", "b"])
            .with_variate_ids(&[0, 7]);
        let padded = input.left_padded(4);
        assert_eq!(padded.len, 4);
        assert_eq!(padded.series, [0.0, 1.0, 2.0, 3.0, 0.0, 4.0, 5.0, 6.0]);
        assert_eq!(padded.padding_mask, [false, true, true, true, false, true, true, true]);
        assert_eq!(padded.id_mask, [0, 0, 0, 0, 7, 7, 7, 7]);
        padded.validate(4).unwrap();
        assert!(input.validate(4).is_err());
    }
}
