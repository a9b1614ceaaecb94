//! Configuration structs whose field names are the upstream constructor arguments, so an upstream
//! `config.json` (as written by `PyTorchModelHubMixin`) deserialises unchanged.

use serde::{Deserialize, Serialize};

/// Arguments of upstream's `KronosTokenizer.__init__`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TokenizerConfig {
    pub d_in: usize,
    pub d_model: usize,
    pub n_heads: usize,
    pub ff_dim: usize,
    /// Upstream builds `n_enc_layers - 1` encoder blocks.
    pub n_enc_layers: usize,
    /// Upstream builds `n_dec_layers - 1` decoder blocks.
    pub n_dec_layers: usize,
    #[serde(default)]
    pub ffn_dropout_p: f64,
    #[serde(default)]
    pub attn_dropout_p: f64,
    #[serde(default)]
    pub resid_dropout_p: f64,
    pub s1_bits: usize,
    pub s2_bits: usize,
    // The BSQ loss weights and entropy group size only matter for training; kept for round-trips.
    pub beta: f64,
    pub gamma0: f64,
    pub gamma: f64,
    pub zeta: f64,
    pub group_size: usize,
}

/// Arguments of upstream's `Kronos.__init__` (the autoregressive predictor).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KronosConfig {
    pub s1_bits: usize,
    pub s2_bits: usize,
    pub n_layers: usize,
    pub d_model: usize,
    pub n_heads: usize,
    pub ff_dim: usize,
    #[serde(default)]
    pub ffn_dropout_p: f64,
    #[serde(default)]
    pub attn_dropout_p: f64,
    #[serde(default)]
    pub resid_dropout_p: f64,
    #[serde(default)]
    pub token_dropout_p: f64,
    /// `true`: learned temporal embedding tables; `false`: fixed sinusoidal tables.
    pub learn_te: bool,
}

/// Number of heads of the dependency-aware layer. Upstream never passes `n_heads` to it, so its
/// constructor default applies whatever the model width.
pub const DEP_LAYER_HEADS: usize = 4;

impl TokenizerConfig {
    pub fn codebook_dim(&self) -> usize {
        self.s1_bits + self.s2_bits
    }

    pub fn head_dim(&self) -> usize {
        self.d_model / self.n_heads
    }

    pub fn num_encoder_blocks(&self) -> usize {
        self.n_enc_layers.saturating_sub(1)
    }

    pub fn num_decoder_blocks(&self) -> usize {
        self.n_dec_layers.saturating_sub(1)
    }

    pub fn validate(&self) -> candle_core::Result<()> {
        check(self.d_model.is_multiple_of(self.n_heads), || {
            format!("tokenizer d_model {} is not a multiple of n_heads {}", self.d_model, self.n_heads)
        })?;
        check(self.head_dim().is_multiple_of(2), || {
            format!("tokenizer head dim {} must be even for rotary embeddings", self.head_dim())
        })?;
        // Upstream's `indices_to_bits(half=True)` extracts `codebook_dim // 2` bits from each half.
        check(self.s1_bits == self.s2_bits, || {
            format!(
                "tokenizer s1_bits ({}) and s2_bits ({}) must be equal: upstream decodes both halves with codebook_dim/2 bits",
                self.s1_bits, self.s2_bits
            )
        })?;
        check(self.codebook_dim() <= 31, || "tokenizer codebook wider than 31 bits".to_string())
    }
}

impl KronosConfig {
    pub fn s1_vocab(&self) -> usize {
        1 << self.s1_bits
    }

    pub fn s2_vocab(&self) -> usize {
        1 << self.s2_bits
    }

    pub fn head_dim(&self) -> usize {
        self.d_model / self.n_heads
    }

    pub fn dep_head_dim(&self) -> usize {
        self.d_model / DEP_LAYER_HEADS
    }

    pub fn validate(&self) -> candle_core::Result<()> {
        check(self.d_model.is_multiple_of(self.n_heads), || {
            format!("d_model {} is not a multiple of n_heads {}", self.d_model, self.n_heads)
        })?;
        check(self.d_model.is_multiple_of(2 * DEP_LAYER_HEADS), || {
            format!("d_model {} must be a multiple of {} (dependency layer)", self.d_model, 2 * DEP_LAYER_HEADS)
        })?;
        check(self.head_dim().is_multiple_of(2), || format!("head dim {} must be even", self.head_dim()))?;
        check(self.s1_bits <= 24 && self.s2_bits <= 24, || "vocabulary wider than 24 bits".to_string())
    }

    /// Checks that this predictor reads the tokens that `tokenizer` writes.
    pub fn check_tokenizer(&self, tokenizer: &TokenizerConfig) -> candle_core::Result<()> {
        check(self.s1_bits == tokenizer.s1_bits && self.s2_bits == tokenizer.s2_bits, || {
            format!(
                "predictor expects s1/s2 bits {}/{}, the tokenizer produces {}/{}",
                self.s1_bits, self.s2_bits, tokenizer.s1_bits, tokenizer.s2_bits
            )
        })
    }
}

fn check(ok: bool, msg: impl FnOnce() -> String) -> candle_core::Result<()> {
    if ok {
        Ok(())
    } else {
        Err(candle_core::Error::Msg(format!("kronos config: {}", msg())))
    }
}

/// The released model sizes (HF `NeoQuasar/Kronos-{mini,small,base}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Preset {
    Mini,
    Small,
    Base,
}

impl Preset {
    pub const ALL: [Preset; 3] = [Preset::Mini, Preset::Small, Preset::Base];

    pub fn name(self) -> &'static str {
        match self {
            Preset::Mini => "mini",
            Preset::Small => "small",
            Preset::Base => "base",
        }
    }

    /// Hugging Face repositories of the predictor and of the tokenizer it was trained with.
    pub fn hf_repos(self) -> (&'static str, &'static str) {
        match self {
            Preset::Mini => ("NeoQuasar/Kronos-mini", "NeoQuasar/Kronos-Tokenizer-2k"),
            Preset::Small => ("NeoQuasar/Kronos-small", "NeoQuasar/Kronos-Tokenizer-base"),
            Preset::Base => ("NeoQuasar/Kronos-base", "NeoQuasar/Kronos-Tokenizer-base"),
        }
    }

    /// Context length the model was trained for (upstream README's model zoo).
    pub fn max_context(self) -> usize {
        match self {
            Preset::Mini => 2048,
            Preset::Small | Preset::Base => 512,
        }
    }

    /// Predictor parameter count as published in upstream's model zoo (tokenizer not included).
    pub fn published_params(self) -> usize {
        match self {
            Preset::Mini => 4_108_032,
            Preset::Small => 24_741_376,
            Preset::Base => 102_310_592,
        }
    }

    pub fn predictor_config(self) -> KronosConfig {
        // Dropout values are those of the released config.json files; they have no effect at inference.
        let (n_layers, d_model, n_heads, ff_dim, attn, ffn, resid, token) = match self {
            Preset::Mini => (4, 256, 4, 512, 0.0, 0.2, 0.2, 0.0),
            Preset::Small => (8, 512, 8, 1024, 0.1, 0.25, 0.25, 0.1),
            Preset::Base => (12, 832, 16, 2048, 0.0, 0.2, 0.2, 0.0),
        };
        KronosConfig {
            s1_bits: 10,
            s2_bits: 10,
            n_layers,
            d_model,
            n_heads,
            ff_dim,
            ffn_dropout_p: ffn,
            attn_dropout_p: attn,
            resid_dropout_p: resid,
            token_dropout_p: token,
            learn_te: true,
        }
    }

    pub fn tokenizer_config(self) -> TokenizerConfig {
        TokenizerConfig {
            d_in: 6,
            d_model: 256,
            n_heads: 4,
            ff_dim: 512,
            n_enc_layers: 4,
            n_dec_layers: 4,
            ffn_dropout_p: 0.0,
            attn_dropout_p: 0.0,
            resid_dropout_p: 0.0,
            s1_bits: 10,
            s2_bits: 10,
            beta: 0.05,
            gamma0: 1.0,
            gamma: 1.1,
            zeta: 0.05,
            // Kronos-Tokenizer-2k uses entropy groups of 5 bits, Tokenizer-base groups of 4.
            group_size: if self == Preset::Mini { 5 } else { 4 },
        }
    }
}

impl std::str::FromStr for Preset {
    type Err = crate::Error;
    fn from_str(s: &str) -> Result<Self, crate::Error> {
        Preset::ALL
            .into_iter()
            .find(|p| p.name().eq_ignore_ascii_case(s))
            .ok_or_else(|| crate::Error::UnknownPreset { model: "Kronos", name: s.to_string() })
    }
}

impl std::fmt::Display for Preset {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}
