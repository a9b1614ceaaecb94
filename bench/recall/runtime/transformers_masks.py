"""Runtime truth for hot findings that proving boolean dtypes added (2026-12-07, wip-recall's
class 2), not for labels: HiggsAudioV2's decoder layer splits text and audio positions with a
boolean `audio_token_mask` (`hidden_states[audio_token_mask]` and the `~` of it, read and
index-put, modeling_higgs_audio_v2.py:258/262/282/283/286/289, GL502). graphlint proves the mask
boolean from `.to(device)` of a `torch.BoolTensor` parameter; reading a tensor through a
boolean mask on the device computes `nonzero()`, whose size the host must wait for. Tiny
random-init layer.

`step()` (`--step __main__:step`) is one call. DEVICE=cpu runs the same code paths on the CPU.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _cover  # noqa: E402

_cover.start("transformers_masks", ["transformers"])

import torch  # noqa: E402

DEV = torch.device(_cover.DEVICE)
torch.manual_seed(0)


def step(fn, *args, **kwargs):
    """One call (what probe exec counts)."""
    return fn(*args, **kwargs)


def section(name, fn, reps=3):
    _cover.run_section(name, fn, step, reps, inference=True)


try:
    from transformers import HiggsAudioV2Config
    from transformers.models.higgs_audio_v2.modeling_higgs_audio_v2 import (
        HiggsAudioV2DecoderLayer,
        HiggsAudioV2RotaryEmbedding,
    )

    cfg = HiggsAudioV2Config(hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2,
                             num_key_value_heads=2, head_dim=16)
    cfg._attn_implementation = "eager"
    layer = HiggsAudioV2DecoderLayer(cfg, layer_idx=0).to(DEV).eval()
    rotary = HiggsAudioV2RotaryEmbedding(cfg).to(DEV)
    batch, length = 2, 8
    hidden = torch.randn(batch, length, 32, device=DEV)
    positions = torch.arange(length, device=DEV).expand(batch, length)
    cos_sin = rotary(hidden, positions)
    # Text first, then audio positions, as the processor lays a sequence out.
    audio = torch.zeros(batch, length, dtype=torch.bool, device=DEV)
    audio[:, 5:] = True
    section("HiggsAudioV2DecoderLayer.forward (audio_token_mask)",
            lambda: layer(hidden, position_embeddings=cos_sin, audio_token_mask=audio))
    section("HiggsAudioV2DecoderLayer.forward (no mask)", lambda: layer(hidden, position_embeddings=cos_sin))
except Exception as e:  # noqa: BLE001
    print(f"!!! HiggsAudioV2 decoder layer: {type(e).__name__}: {e}", flush=True)
print("transformers_masks: done")
