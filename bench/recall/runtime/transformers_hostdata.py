"""Runtime truth for hot findings that reasoning about host-resident data changed (2026-12-07), not
for labels: ViLT's patch index built on the host and moved to the device every forward
(modeling_vilt.py:125, GL603), HiggsAudioV2's delay-pattern logits processor comparing the newest
tokens on its host tables (generation_higgs_audio_v2.py:145/148/156, GL302), and M2M100's
sinusoidal position table, whose host-built rebuild is copied to the device only when the table
grows (modeling_m2m_100.py:96, GL603, cold since 01d421f). Tiny random-init models.

`step()` (`--step __main__:step`) is one call. The M2M100 section runs steady steps first and
the growing step last, and the program prints which step grew, so the report's per-step syncs
say whether line 96 waits in steady steps. DEVICE=cpu runs the same code paths on the CPU.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _cover  # noqa: E402

_cover.start("transformers_hostdata", ["transformers"])

import torch  # noqa: E402

DEV = torch.device(_cover.DEVICE)
torch.manual_seed(0)


def step(fn, *args, **kwargs):
    """One call (what probe exec counts)."""
    return fn(*args, **kwargs)


def section(name, fn, reps=3):
    _cover.run_section(name, fn, step, reps, inference=True)


try:
    from transformers import ViltConfig, ViltModel

    cfg = ViltConfig(hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64,
                     image_size=32, patch_size=8, vocab_size=100, max_position_embeddings=16)
    vilt = ViltModel(cfg).to(DEV).eval()
    ids = torch.randint(0, 100, (2, 8), device=DEV)
    pixels = torch.randn(2, 3, 32, 32, device=DEV)
    mask = torch.ones(2, 32, 32, dtype=torch.long, device=DEV)
    section("ViltModel.forward", lambda: vilt(input_ids=ids, pixel_values=pixels, pixel_mask=mask))
except Exception as e:  # noqa: BLE001
    print(f"!!! ViLT: {type(e).__name__}: {e}", flush=True)

try:
    from transformers.models.higgs_audio_v2.generation_higgs_audio_v2 import (
        HiggsAudioV2DelayPatternLogitsProcessor,
    )

    books, size = 4, 16
    proc = HiggsAudioV2DelayPatternLogitsProcessor(
        delay_pattern=[0, 1, 2, 3], audio_bos_token_id=1, audio_eos_token_id=2, audio_stream_bos_id=14,
        audio_stream_eos_id=15, num_codebooks=books, codebook_size=size)
    # Row 0 has generated the audio eos token (2), row 1 has not: the eos branch runs.
    tokens = torch.tensor([[5, 6, 2, 7], [5, 6, 7, 8]], device=DEV)
    scores = torch.randn(2 * books, size, device=DEV)
    section("HiggsAudioV2DelayPatternLogitsProcessor.__call__", lambda: proc(tokens, scores))
except Exception as e:  # noqa: BLE001
    print(f"!!! HiggsAudioV2 processor: {type(e).__name__}: {e}", flush=True)

try:
    from transformers.models.m2m_100.modeling_m2m_100 import M2M100SinusoidalPositionalEmbedding

    table = M2M100SinusoidalPositionalEmbedding(num_positions=16, embedding_dim=16, padding_idx=1).to(DEV)
    short = torch.randint(2, 50, (2, 8), device=DEV)
    long = torch.randint(2, 50, (2, 40), device=DEV)
    section("M2M100SinusoidalPositionalEmbedding steady", lambda: table(short), reps=3)
    print(f"--- M2M100 table rows before the growing step: {table.weights.shape[0]}", flush=True)
    section("M2M100SinusoidalPositionalEmbedding growing", lambda: table(long), reps=1)
    print(f"--- M2M100 table rows after it: {table.weights.shape[0]} (steps 1-3 steady, step 4 grew)", flush=True)
except Exception as e:  # noqa: BLE001
    print(f"!!! M2M100 positions: {type(e).__name__}: {e}", flush=True)
print("transformers_hostdata: done")
