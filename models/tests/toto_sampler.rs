//! The device-side Student-T mixture sampler, tested statistically: 100,000 draws of a known
//! mixture with a fixed seed; the sample mean and the 10/50/90% quantiles must land within 1% of
//! the analytic values (computed here from the Student-T CDF via the incomplete beta function).

use candle_core::{Device, Tensor};
use models::toto::distribution::{mixture_noise, MixtureParams, MixtureSampler, NOISE_ROWS};
use models::toto::graph::quantile_sorted;

const DRAWS: usize = 100_000;

/// `ln Γ(z)` for `z > 0`: shift to `z ≥ 10`, then Stirling's series (error below 1e-12).
fn ln_gamma(mut z: f64) -> f64 {
    let mut shift = 0.0;
    while z < 10.0 {
        shift -= z.ln();
        z += 1.0;
    }
    let inv = 1.0 / z;
    let series = inv / 12.0 - inv.powi(3) / 360.0 + inv.powi(5) / 1260.0 - inv.powi(7) / 1680.0;
    shift + (z - 0.5) * z.ln() - z + 0.5 * (2.0 * std::f64::consts::PI).ln() + series
}

/// The continued fraction of the regularised incomplete beta (modified Lentz).
fn beta_fraction(a: f64, b: f64, x: f64) -> f64 {
    let tiny = 1e-300;
    let mut c = 1.0;
    let mut d = 1.0 - (a + b) * x / (a + 1.0);
    d = 1.0 / if d.abs() < tiny { tiny } else { d };
    let mut h = d;
    for m in 1..10_000 {
        let m = m as f64;
        for coefficient in [
            m * (b - m) * x / ((a + 2.0 * m - 1.0) * (a + 2.0 * m)),
            -(a + m) * (a + b + m) * x / ((a + 2.0 * m) * (a + 2.0 * m + 1.0)),
        ] {
            d = 1.0 + coefficient * d;
            d = 1.0 / if d.abs() < tiny { tiny } else { d };
            c = 1.0 + coefficient / c;
            c = if c.abs() < tiny { tiny } else { c };
            h *= d * c;
        }
        if (d * c - 1.0).abs() < 1e-15 {
            break;
        }
    }
    h
}

/// `I_x(a, b)`.
fn incomplete_beta(a: f64, b: f64, x: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    if x >= 1.0 {
        return 1.0;
    }
    let front = (ln_gamma(a + b) - ln_gamma(a) - ln_gamma(b) + a * x.ln() + b * (1.0 - x).ln()).exp();
    if x < (a + 1.0) / (a + b + 2.0) {
        front * beta_fraction(a, b, x) / a
    } else {
        1.0 - front * beta_fraction(b, a, 1.0 - x) / b
    }
}

/// CDF of the standard Student-T with `df` degrees of freedom.
fn student_t_cdf(t: f64, df: f64) -> f64 {
    let tail = 0.5 * incomplete_beta(df / 2.0, 0.5, df / (df + t * t));
    if t >= 0.0 {
        1.0 - tail
    } else {
        tail
    }
}

struct Mixture {
    probs: Vec<f64>,
    df: Vec<f64>,
    loc: Vec<f64>,
    scale: Vec<f64>,
}

impl Mixture {
    fn cdf(&self, x: f64) -> f64 {
        (0..self.probs.len())
            .map(|k| self.probs[k] * student_t_cdf((x - self.loc[k]) / self.scale[k], self.df[k]))
            .sum()
    }

    fn quantile(&self, q: f64) -> f64 {
        let (mut lo, mut hi) = (-1e4, 1e4);
        for _ in 0..200 {
            let mid = 0.5 * (lo + hi);
            if self.cdf(mid) < q {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        0.5 * (lo + hi)
    }

    fn mean(&self) -> f64 {
        self.probs.iter().zip(&self.loc).map(|(p, l)| p * l).sum()
    }

    /// The parameters repeated for `rows` draws, `[rows, K]`.
    fn params(&self, rows: usize) -> MixtureParams {
        let k = self.probs.len();
        let rep = |v: &[f64]| {
            let row: Vec<f32> = v.iter().map(|&x| x as f32).collect();
            Tensor::from_vec(row.repeat(rows), (rows, k), &Device::Cpu).unwrap()
        };
        MixtureParams { probs: rep(&self.probs), df: rep(&self.df), loc: rep(&self.loc), scale: rep(&self.scale) }
    }
}

fn draw(mixture: &Mixture, seed: u64) -> Vec<f32> {
    let k = mixture.probs.len();
    let noise = Tensor::from_vec(mixture_noise(seed, 0, DRAWS), (NOISE_ROWS, DRAWS), &Device::Cpu).unwrap();
    let sampler = MixtureSampler::new(k, &Device::Cpu).unwrap();
    sampler.sample(&mixture.params(DRAWS), &noise).unwrap().to_vec1::<f32>().unwrap()
}

fn check_moments(name: &str, mixture: &Mixture, seed: u64) {
    let mut samples = draw(mixture, seed);
    assert_eq!(samples.len(), DRAWS);
    assert!(samples.iter().all(|s| s.is_finite()));
    let mean = samples.iter().map(|&s| s as f64).sum::<f64>() / DRAWS as f64;
    samples.sort_by(f32::total_cmp);
    let mut report = vec![("mean", mean, mixture.mean())];
    for q in [0.1, 0.5, 0.9] {
        report.push((
            ["q10", "q50", "q90"][(q * 10.0) as usize / 4],
            quantile_sorted(&samples, q) as f64,
            mixture.quantile(q),
        ));
    }
    for (stat, got, want) in report {
        let rel = (got - want).abs() / want.abs();
        println!("{name}: {stat} sampled {got:.4} analytic {want:.4} relative error {rel:.2e}");
        assert!(rel < 0.01, "{name}: {stat} {got} vs {want}");
    }
}

#[test]
fn toto_sampler_matches_a_known_mixture() {
    let mixture = Mixture {
        probs: vec![0.5, 0.3, 0.2],
        df: vec![2.5, 4.0, 10.0],
        loc: vec![10.0, 14.0, 20.0],
        scale: vec![1.0, 2.0, 0.5],
    };
    check_moments("3 components", &mixture, 1234);
}

/// `df` just above 2 gives gamma shape 1, where Marsaglia–Tsang rejects most often.
#[test]
fn toto_sampler_handles_heavy_tails_and_many_components() {
    let k = 24;
    let mixture = Mixture {
        probs: (0..k).map(|i| (1.0 + i as f64) / (k * (k + 1) / 2) as f64).collect(),
        df: (0..k).map(|i| 2.000_001 + i as f64).collect(),
        loc: (0..k).map(|i| 50.0 + i as f64).collect(),
        scale: (0..k).map(|i| 0.5 + 0.1 * i as f64).collect(),
    };
    check_moments("24 components", &mixture, 99);
}

/// The analytic side of the test is itself checked against known Student-T values.
#[test]
fn toto_student_t_cdf_reference_values() {
    // df = 1 is the Cauchy distribution: F(1) = 3/4.
    assert!((student_t_cdf(1.0, 1.0) - 0.75).abs() < 1e-12);
    // df = 2 has the closed form F(t) = 1/2 + t / (2 sqrt(2 + t²)).
    for t in [-3.0, -0.5, 0.7, 2.0] {
        let exact = 0.5 + t / (2.0 * (2.0f64 + t * t).sqrt());
        assert!((student_t_cdf(t, 2.0) - exact).abs() < 1e-12, "{t}");
    }
    // Large df approaches the normal: F(1.2815515655446004) = 0.9.
    assert!((student_t_cdf(1.2815515655446004, 1e7) - 0.9).abs() < 1e-6);
}
