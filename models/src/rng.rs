//! The seeded generator (SplitMix64) behind both ports' random init and sampling noise.
//!
//! Written out here rather than taken from `rand` so that a seed means the same numbers on every
//! platform and crate version (`rand` documents `StdRng` as non-portable: a later release may
//! replace its algorithm): a forecast made with seed 7 today is the same forecast next year.

#[derive(Debug, Clone)]
pub struct SplitMix64(u64);

const GOLDEN_GAMMA: u64 = 0x9e37_79b9_7f4a_7c15;

impl SplitMix64 {
    /// A generator for one named stream of a seed (one tensor, one decode step…).
    pub fn for_stream(seed: u64, stream: &[u64]) -> Self {
        let mut state = seed ^ 0x6a09_e667_f3bc_c908;
        for &s in stream {
            state = mix(state ^ mix(s.wrapping_add(GOLDEN_GAMMA)));
        }
        Self(state)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(GOLDEN_GAMMA);
        mix(self.0)
    }

    /// Uniform in the open interval (0, 1), with 24 bits of resolution. Exact in f64; use
    /// [`Self::next_open01_f32`] where the value is needed as an f32.
    pub fn next_open01(&mut self) -> f64 {
        ((self.next_u64() >> 40) as f64 + 0.5) / (1u64 << 24) as f64
    }

    /// Uniform in the open interval (0, 1) as an f32, with 23 bits of resolution so that every
    /// value is exact (24 bits would round the top half, and its last value to 1.0).
    pub fn next_open01_f32(&mut self) -> f32 {
        open01_f32(self.next_u64() >> 41)
    }

    /// Standard normal (Box-Muller).
    pub fn next_normal(&mut self) -> f64 {
        let u1 = self.next_open01();
        let u2 = self.next_open01();
        (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
    }
}

/// `(k + 0.5) / 2²³` for a 23-bit `k`: exact in f32, strictly inside (0, 1).
fn open01_f32(k: u64) -> f32 {
    (k as f32 + 0.5) / (1u32 << 23) as f32
}

fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// FNV-1a, to turn a tensor name into a stream id.
pub fn hash_name(name: &str) -> u64 {
    name.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ b as u64).wrapping_mul(0x0100_0000_01b3))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_are_reproducible_and_distinct() {
        let a: Vec<u64> = (0..4)
            .map({
                let mut r = SplitMix64::for_stream(7, &[1, 2]);
                move |_| r.next_u64()
            })
            .collect();
        let b: Vec<u64> = (0..4)
            .map({
                let mut r = SplitMix64::for_stream(7, &[1, 2]);
                move |_| r.next_u64()
            })
            .collect();
        let c = SplitMix64::for_stream(7, &[2, 1]).next_u64();
        assert_eq!(a, b);
        assert_ne!(a[0], c);
    }

    #[test]
    fn open_unit_interval_and_normal_moments() {
        let mut r = SplitMix64::for_stream(3, &[]);
        let xs: Vec<f64> = (0..20_000).map(|_| r.next_normal()).collect();
        let mean = xs.iter().sum::<f64>() / xs.len() as f64;
        let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / xs.len() as f64;
        assert!(mean.abs() < 0.03, "mean {mean}");
        assert!((var - 1.0).abs() < 0.05, "var {var}");
        let mut r = SplitMix64::for_stream(4, &[]);
        assert!((0..10_000).map(|_| r.next_open01()).all(|u| u > 0.0 && u < 1.0));
    }

    #[test]
    fn f32_uniforms_stay_open_at_both_ends() {
        assert!(open01_f32(0) > 0.0);
        assert!(open01_f32((1 << 23) - 1) < 1.0);
        let mut r = SplitMix64::for_stream(5, &[]);
        assert!((0..10_000).map(|_| r.next_open01_f32()).all(|u| u > 0.0 && u < 1.0));
    }
}
