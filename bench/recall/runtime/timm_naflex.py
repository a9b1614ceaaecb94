"""Runtime truth for labels/timm.tsv: timm's NaFlexViT forward on NaFlex patch batches (per-sample
grid sizes from the patch coordinates), with learned, factorized and RoPE position embeddings; and
Gemma4VitEncoder.forward_intermediates with output_fmt='NCHW'. Tiny random-init models.

`step()` (`--step __main__:step`) is one forward. DEVICE=cpu runs the same code paths on the CPU.
timm imports torchvision at import time (installed on the lent GPU).
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _cover  # noqa: E402

_cover.start("timm_naflex", ["timm"])

import torch  # noqa: E402
from timm.models.gemma4_vit import Gemma4VitEncoder  # noqa: E402
from timm.models.naflexvit import NaFlexVit, NaFlexVitCfg  # noqa: E402

DEV = torch.device(_cover.DEVICE)
P, C = 8, 3
torch.manual_seed(0)


def step(fn, *args, **kwargs):
    """One forward (what probe exec counts)."""
    return fn(*args, **kwargs)


def naflex_batch():
    """Two images of different grid sizes (4x3 and 2x5 patches), padded to one length, as timm's
    NaFlex data loader hands them over: patches [B, N, P*P*C], coords [B, N, 2] (y, x), valid [B, N]."""
    grids = [(4, 3), (2, 5)]
    n = max(h * w for h, w in grids)
    patches = torch.randn(len(grids), n, P * P * C)
    coord = torch.zeros(len(grids), n, 2, dtype=torch.long)
    valid = torch.zeros(len(grids), n, dtype=torch.bool)
    for b, (h, w) in enumerate(grids):
        yy, xx = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
        coord[b, : h * w, 0], coord[b, : h * w, 1] = yy.flatten(), xx.flatten()
        valid[b, : h * w] = True
    return {"patches": patches.to(DEV), "patch_coord": coord.to(DEV), "patch_valid": valid.to(DEV)}


def section(name, fn, reps=3):
    _cover.run_section(name, fn, step, reps, inference=True)



batch = naflex_batch()
small = dict(patch_size=P, embed_dim=32, depth=1, num_heads=2, pos_embed_grid_size=(4, 4), global_pool="avg")
for pos in ("learned", "factorized"):
    m = NaFlexVit(cfg=NaFlexVitCfg(pos_embed=pos, **small), num_classes=10).to(DEV).eval()
    section(f"NaFlexVit pos_embed={pos}", lambda m=m: m(batch))
try:
    m = NaFlexVit(cfg=NaFlexVitCfg(pos_embed="none", attn_type="rope", rope_type="axial", **small),
                  num_classes=10).to(DEV).eval()
    section("NaFlexVit RoPE (axial)", lambda: m(batch))
except Exception as e:  # noqa: BLE001
    print(f"!!! NaFlexVit RoPE: {type(e).__name__}: {e}", flush=True)
try:
    g = Gemma4VitEncoder(img_size=32, patch_size=8, embed_dim=32, depth=1, num_heads=2, head_dim=16,
                         intermediate_size=64, position_embedding_size=64, pooling_kernel_size=2,
                         global_pool="none").to(DEV).eval()
    img = torch.randn(2, 3, 32, 32, device=DEV)
    section("Gemma4VitEncoder.forward_intermediates NCHW", lambda: g.forward_intermediates(img, output_fmt="NCHW"))
except Exception as e:  # noqa: BLE001
    print(f"!!! Gemma4VitEncoder: {type(e).__name__}: {e}", flush=True)
print("timm_naflex: done")
