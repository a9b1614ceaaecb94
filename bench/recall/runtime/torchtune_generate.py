"""Runtime truth for labels/torchtune.tsv: torchtune.generation.generate with KV caches on a tiny
random-init decoder built from torchtune.modules (one self-attention layer and one cross-attention
layer, as the Llama 3.2 Vision decoder interleaves them), with stop tokens; and the cross-attention
layer's forward with encoder input (its skip mask).

`step()` (`--step __main__:step`) is one whole `generate` call (its token loop runs inside), or one
decoder forward with encoder input. torchtune/__init__.py imports torchao and the HF `datasets`
package; the labelled modules need neither, so the top-level package is registered bare
(_cover.bare_package) and only torchtune.modules / torchtune.generation are imported
(torchtune.modules still imports torchao: carried as a wheel).
DEVICE=cpu runs the same code paths on the CPU (coverage only).
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _cover  # noqa: E402

_cover.start("torchtune_generate", ["torchtune"])
_cover.bare_package("torchtune")

import torch  # noqa: E402
from torch import nn  # noqa: E402
from torchtune.generation import _generation as gen  # noqa: E402
from torchtune.modules import (  # noqa: E402
    FeedForward,
    MultiHeadAttention,
    RMSNorm,
    RotaryPositionalEmbeddings,
    TransformerCrossAttentionLayer,
    TransformerDecoder,
    TransformerSelfAttentionLayer,
)

DEV = torch.device(_cover.DEVICE)
V, D, HEADS, KV_HEADS, MAXLEN, ENC = 256, 64, 4, 2, 64, 8
HD = D // HEADS
N = int(os.environ.get("NEW_TOKENS", "8"))
torch.manual_seed(0)


def mlp():
    return FeedForward(gate_proj=nn.Linear(D, 2 * D, bias=False), down_proj=nn.Linear(2 * D, D, bias=False),
                       up_proj=nn.Linear(D, 2 * D, bias=False))


def attn(cross):
    return MultiHeadAttention(
        embed_dim=D, num_heads=HEADS, num_kv_heads=KV_HEADS, head_dim=HD,
        q_proj=nn.Linear(D, HEADS * HD, bias=False), k_proj=nn.Linear(D, KV_HEADS * HD, bias=False),
        v_proj=nn.Linear(D, KV_HEADS * HD, bias=False), output_proj=nn.Linear(HEADS * HD, D, bias=False),
        pos_embeddings=None if cross else RotaryPositionalEmbeddings(HD, MAXLEN), max_seq_len=MAXLEN,
        is_causal=not cross)


layers = nn.ModuleList([
    TransformerSelfAttentionLayer(attn(False), mlp(), sa_norm=RMSNorm(D), mlp_norm=RMSNorm(D)),
    TransformerCrossAttentionLayer(attn(True), mlp(), ca_norm=RMSNorm(D), mlp_norm=RMSNorm(D)),
])
model = TransformerDecoder(tok_embeddings=nn.Embedding(V, D), layers=layers, max_seq_len=MAXLEN, num_heads=HEADS,
                           head_dim=HD, norm=RMSNorm(D), output=nn.Linear(D, V, bias=False)).to(DEV).eval()
# setup_caches allocates the caches on the current default device (torchtune's recipes call it inside
# `with device:`); without this the caches stay on the CPU and the first update mixes devices
with DEV:
    model.setup_caches(batch_size=2, dtype=torch.float32, encoder_max_seq_len=ENC, decoder_max_seq_len=MAXLEN)


def step(fn, *args, **kwargs):
    """One per-step unit (what probe exec counts)."""
    return fn(*args, **kwargs)


prompt = torch.randint(1, V, (2, 6), device=DEV)
with torch.inference_mode():
    _cover.section("generate with KV caches and stop tokens (3 calls)")
    for _ in range(3):
        model.reset_caches()
        step(gen.generate, model, prompt, max_generated_tokens=N, pad_id=0, temperature=0.8, top_k=50,
             stop_tokens=[V - 1, V - 2])
    _cover.section("generate, greedy-ish without stop tokens (2 calls)")
    for _ in range(2):
        model.reset_caches()
        step(gen.generate, model, prompt, max_generated_tokens=N, pad_id=0, temperature=1e-5)
    _cover.section("decoder forward with encoder input (cross-attention skip mask), caches off")
    model.reset_caches()
    nocache = TransformerDecoder(tok_embeddings=model.tok_embeddings, layers=nn.ModuleList(
        [TransformerCrossAttentionLayer(attn(True), mlp(), ca_norm=RMSNorm(D), mlp_norm=RMSNorm(D))]),
        max_seq_len=MAXLEN, num_heads=HEADS, head_dim=HD, norm=RMSNorm(D),
        output=nn.Linear(D, V, bias=False)).to(DEV).eval()
    enc_in = torch.randn(2, ENC, D, device=DEV)
    enc_mask = torch.ones(2, 6, ENC, dtype=torch.bool, device=DEV)
    enc_mask[1, 2, :] = False  # a token with no encoder input: skipped
    for _ in range(3):
        step(nocache, prompt, encoder_input=enc_in, encoder_mask=enc_mask)
    _cover.section("generate without KV caches (the whole sequence each token, 2 calls)")
    for _ in range(2):
        step(gen.generate, nocache, prompt, max_generated_tokens=4, pad_id=0, temperature=0.8, stop_tokens=[V - 1])
    _cover.sync_device()
print("torchtune_generate: done")
