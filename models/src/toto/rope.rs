//! Rotary position embeddings with xPos scaling, as upstream's `TimeAwareRotaryEmbedding`
//! (rotary-embedding-torch 0.8.6, `use_xpos=True`, theta 10000, xPos scale base 512).
//!
//! For a call over positions `t` (patch indices), dimension `j` of a head gets
//! - the angle `t * inv_freq[j / 2]`: frequencies are *interleaved* (pairs `2i, 2i+1` share one);
//! - the xPos factor `s[j % (d/2)] ^ ((t - c) / 512)`: Toto concatenates the scale as `[s, s]`
//!   instead of interleaving it, so the pairing differs from the frequencies' on purpose;
//! - the centre `c = floor(max(t) / 2)` of *the current call*. Queries are multiplied by the
//!   factor and keys by its inverse, so inside one call the centre cancels in `q·k`; across calls
//!   (keys cached in the prefill, queries of a later decode step) it does not. Matching upstream's
//!   cached numbers therefore needs the decode step's own centre `floor(p / 2)` at position `p`.
//!
//! Every table is computed on the host in f32 with upstream's operation order, then uploaded once:
//! a call's tables for the eager paths, and one row per decode position for the graph path, where
//! the row is picked on the device by the position index, so the centre comes from a device value.

use candle_core::{Device, Result, Tensor};

/// The xPos scale base of rotary-embedding-torch's default.
const XPOS_SCALE_BASE: f32 = 512.0;
const THETA: f32 = 10_000.0;

/// Per-frequency constants of one head dimension.
#[derive(Debug, Clone)]
pub struct XPos {
    head_dim: usize,
    inv_freq: Vec<f32>,
    scale: Vec<f32>,
}

/// Row-major `[positions, head_dim]` tables for one set of positions.
#[derive(Debug, Clone)]
pub struct RopeTables {
    pub head_dim: usize,
    pub cos: Vec<f32>,
    pub sin: Vec<f32>,
    pub q_scale: Vec<f32>,
    pub k_scale: Vec<f32>,
}

/// The same tables as device tensors `[positions, head_dim]`.
#[derive(Debug, Clone)]
pub struct RopeRows {
    pub cos: Tensor,
    pub sin: Tensor,
    pub q_scale: Tensor,
    pub k_scale: Tensor,
}

impl XPos {
    pub fn new(head_dim: usize) -> Self {
        let half = head_dim / 2;
        let d = head_dim as f32;
        // `1 / theta ** (arange(0, d, 2).float() / d)`, all in f32.
        let inv_freq = (0..half).map(|i| 1.0 / THETA.powf((2 * i) as f32 / d)).collect();
        // `(arange(0, d, 2) + 0.4 * d) / (1.4 * d)`: the Python scalars are rounded to f32 first.
        let (shift, div) = ((0.4 * head_dim as f64) as f32, (1.4 * head_dim as f64) as f32);
        let scale = (0..half).map(|i| ((2 * i) as f32 + shift) / div).collect();
        Self { head_dim, inv_freq, scale }
    }

    /// Tables for one call over the consecutive positions `start..start + len`.
    pub fn call_tables(&self, start: usize, len: usize) -> RopeTables {
        let centre = (((start + len - 1) as f32) / 2.0).floor();
        self.tables((start..start + len).map(|p| (p as f32, centre)))
    }

    /// One row per position `p < len` for single-position decode calls (centre `floor(p / 2)`).
    /// Row `p` equals `call_tables(p, 1)`.
    pub fn decode_tables(&self, len: usize) -> RopeTables {
        self.tables((0..len).map(|p| (p as f32, (p as f32 / 2.0).floor())))
    }

    fn tables(&self, positions: impl Iterator<Item = (f32, f32)>) -> RopeTables {
        let (d, half) = (self.head_dim, self.head_dim / 2);
        let mut t = RopeTables { head_dim: d, cos: vec![], sin: vec![], q_scale: vec![], k_scale: vec![] };
        for (pos, centre) in positions {
            let power = (pos - centre) / XPOS_SCALE_BASE;
            for j in 0..d {
                let angle = pos * self.inv_freq[j / 2];
                let factor = self.scale[j % half].powf(power);
                t.cos.push(angle.cos());
                t.sin.push(angle.sin());
                t.q_scale.push(factor);
                t.k_scale.push(1.0 / factor);
            }
        }
        t
    }
}

impl RopeTables {
    /// Uploads the tables as `[positions, head_dim]` tensors.
    pub fn upload(self, device: &Device) -> Result<RopeRows> {
        let shape = (self.cos.len() / self.head_dim, self.head_dim);
        let upload = |v: Vec<f32>| Tensor::from_vec(v, shape, device); // graphlint: ignore[GL804] -- eager forward and graph construction; the graph step selects rows on device
        Ok(RopeRows {
            cos: upload(self.cos)?,
            sin: upload(self.sin)?,
            q_scale: upload(self.q_scale)?,
            k_scale: upload(self.k_scale)?,
        })
    }
}

impl RopeRows {
    /// The rows at the device-resident position(s) `index` (`u32`, shape `[n]`).
    pub fn select(&self, index: &Tensor) -> Result<Self> {
        Ok(Self {
            cos: self.cos.index_select(index, 0)?,
            sin: self.sin.index_select(index, 0)?,
            q_scale: self.q_scale.index_select(index, 0)?,
            k_scale: self.k_scale.index_select(index, 0)?,
        })
    }
}

/// `(t * cos) * scale + (rotate_half(t) * sin) * scale`, upstream's `apply_rotary_emb` order,
/// for `t: [n, heads, seq, head_dim]` and tables `[seq, head_dim]`. `rotate_half` maps the pair
/// `(x0, x1)` to `(-x1, x0)`; it is done as a matmul with a fixed signed permutation matrix
/// (`rotate`, `[head_dim, head_dim]`), which is exact: one non-zero term per output.
pub fn apply_xpos(t: &Tensor, cos: &Tensor, sin: &Tensor, scale: &Tensor, rotate: &Tensor) -> Result<Tensor> {
    let dims = t.dims().to_vec();
    let head_dim = dims[dims.len() - 1];
    let rotated = t.reshape(((), head_dim))?.matmul(rotate)?.reshape(dims)?;
    let direct = t.broadcast_mul(cos)?.broadcast_mul(scale)?;
    let turned = rotated.broadcast_mul(sin)?.broadcast_mul(scale)?;
    direct + turned
}

/// The `[head_dim, head_dim]` matrix `R` with `x @ R == rotate_half(x)` for interleaved pairs.
pub fn rotate_half_matrix(head_dim: usize, device: &Device) -> Result<Tensor> {
    let mut m = vec![0f32; head_dim * head_dim];
    for i in 0..head_dim / 2 {
        let (even, odd) = (2 * i, 2 * i + 1);
        m[odd * head_dim + even] = -1.0; // out[even] = -x[odd]
        m[even * head_dim + odd] = 1.0; // out[odd] = x[even]
    }
    Tensor::from_vec(m, (head_dim, head_dim), device)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decode_row_equals_single_position_call() {
        let x = XPos::new(8);
        let all = x.decode_tables(10);
        for p in 0..10 {
            let one = x.call_tables(p, 1);
            assert_eq!(one.q_scale, all.q_scale[p * 8..(p + 1) * 8]);
            assert_eq!(one.cos, all.cos[p * 8..(p + 1) * 8]);
        }
    }

    #[test]
    fn scale_is_concatenated_not_interleaved() {
        let x = XPos::new(8);
        // Centre floor(7/2) = 3, so position 7 has power 4/512.
        let t = x.call_tables(0, 8);
        let row7 = &t.q_scale[7 * 8..8 * 8];
        assert_eq!(row7[0], row7[4]);
        assert_ne!(row7[0], row7[1]);
        let cos7 = &t.cos[7 * 8..8 * 8];
        assert_eq!(cos7[0], cos7[1]);
    }

    #[test]
    fn rotate_half_matrix_rotates_pairs() -> Result<()> {
        let r = rotate_half_matrix(4, &Device::Cpu)?;
        let x = Tensor::new(&[[1f32, 2., 3., 4.]], &Device::Cpu)?;
        assert_eq!(x.matmul(&r)?.to_vec2::<f32>()?, vec![vec![-2., 1., -4., 3.]]);
        Ok(())
    }
}
