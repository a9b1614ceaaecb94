"""Runtime truth for labels/eagle.tsv: EAGLE's per-step helpers of eagle/model/utils.py and
kv_cache.py on synthetic tensors shaped like one speculative step (a tree of T nodes, C candidate
paths of depth D over a vocabulary of V), greedy and sampling.

`step()` is one EAGLE step (`--step __main__:step`): generate_candidates, evaluate_posterior,
update_inference_inputs and a KV-cache append, as ea_model.eagenerate chains them. The draft
model's tree expansion (cnets.Model.topK_genrate, tiny random-init draft layer) runs as its own
steps; inside update_inference_inputs its call goes to a stub (the synthetic tree there is not
eagle's). Then EaModel's three generate loops end to end on eagle's own tiny KV-cache Llama.
DEVICE=cpu runs the same code paths on the CPU (coverage only).
"""
import itertools
import os
import random
import sys
import types

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _cover  # noqa: E402

_cover.start("eagle_posterior", ["eagle"])

import torch  # noqa: E402
from eagle.model import utils as eu  # noqa: E402
from eagle.model.kv_cache import KVCache  # noqa: E402

DEV = torch.device(_cover.DEVICE)
STEPS = int(os.environ.get("STEPS", "4"))
torch.manual_seed(0)
random.seed(0)
C, D, V, T, H, K = 5, 4, 32, 12, 16, 10
MAXLEN = 256


def make_model_stub():
    ea = types.SimpleNamespace(topK_genrate=lambda hidden, input_ids, head, logits_processor: None)
    return types.SimpleNamespace(ea_layer=ea, base_model=types.SimpleNamespace(lm_head=None))


MODEL = make_model_stub()
# The tree: node 0 is the root (the sampled token), nodes 1..T-1 draft tokens; each path of
# retrieve_indices walks from the root; T stands for "padding" (-1 in the extended candidates).
tree_indices = torch.randint(0, K + 1, (T,), device=DEV)
tree_indices[0] = 0
retrieve = torch.tensor([[0, 1, 2, 3], [0, 1, 2, 4], [0, 1, 5, 6], [0, 7, 8, 9], [0, 10, 11, T]], device=DEV)
p_indices = [[0, 1, 2, 3], [0, 1, 2, 4], [0, 1, 5, 6], [0, 7, 8, 9], [0, 10, 11, 11]]
b_indices = [[[], [], [], []], [[], [], [], [3]], [[], [], [2], []], [[], [1], [], []], [[], [1, 7], [], []]]


def one_step(logits_processor, input_ids, kv_list, current_length, kv, new_token):
    # draft tokens of this step and the base model's logits over the tree (random here)
    tree_tokens = torch.randint(0, V, (1, K), device=DEV)
    tree_probs = torch.rand(1, K, device=DEV)
    sample_token = torch.randint(0, V, (1, 1), device=DEV)
    cands, cart_prob, tree_cands = eu.generate_candidates((tree_tokens, tree_probs), tree_indices, retrieve,
                                                          sample_token, logits_processor)
    cands = cands.clamp(min=0)
    logits = torch.randn(C, D, V, device=DEV)
    if logits_processor is None:
        # make the first candidate partly accepted, so accept_length > 0 on some steps
        logits[0, 0, cands[0, 1]] += 50.0
        best, acc, sample_p = eu.evaluate_posterior(logits, cands, None, None, None, None, None, None)
    else:
        cands[:, 0] = cands[0, 0]  # one root token: every path is compared at depth 1
        op = [torch.softmax(torch.randn(T, V, device=DEV), -1) for _ in range(D)]
        # draft probabilities of 1 make most drafts rejected (the residual-adjust path); tiny ones make
        # every draft accepted (the path that samples from the last accepted position)
        one_step.n = getattr(one_step, "n", 0) + 1
        q = 1.0 if one_step.n % 2 else 1e-6
        best, acc, sample_p = eu.evaluate_posterior(logits, cands, logits_processor, torch.full_like(cart_prob, q),
                                                    op, p_indices, tree_cands, b_indices)
    hidden_new = torch.randn(1, T + 1, H, device=DEV)
    input_ids, _, new_token, _, token = eu.update_inference_inputs(
        input_ids, cands, best, acc, retrieve, logits_processor, logits, None, new_token, kv_list, current_length,
        MODEL, None, hidden_new, sample_p)
    kv.cat(torch.randn(1, 2, 1, 8, device=DEV))
    _ = kv.shape
    return input_ids, new_token


def step(fn, *args):
    """One EAGLE step, or one draft-tree expansion (what probe exec counts)."""
    return fn(*args)


for name, proc in (("greedy", None), ("sampling (temperature 0.8, top-p 0.9)",
                                      eu.prepare_logits_processor(temperature=0.8, top_p=0.9))):
    _cover.section(f"EAGLE steps, {name}")
    for _ in range(2):
        input_ids = torch.randint(0, V, (1, 8), device=DEV)
        kv_list = [torch.zeros(2, 1, 2, MAXLEN, 8, device=DEV) for _ in range(2)]
        current_length = torch.zeros(2, dtype=torch.long)  # eagle's kv_cache.py keeps the lengths on the CPU
        kv = KVCache(torch.zeros(1, 2, MAXLEN, 8, device=DEV), torch.zeros((), dtype=torch.long))
        new_token = 0
        for _ in range(STEPS):
            input_ids, new_token = step(one_step, proc, input_ids, kv_list, current_length, kv, new_token)
    _cover.sync_device()

# The draft model's tree expansion (cnets.Model.topK_genrate), as update_inference_inputs calls it at
# the end of every step: a tiny random-init draft layer over eagle's default tree (mc_sim_7b_63),
# the input growing by the accepted tokens each step, its KV cache kept between calls.
try:
    from transformers import LlamaConfig

    from eagle.model import cnets

    cfg = LlamaConfig(vocab_size=128, hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                      num_attention_heads=4, num_key_value_heads=4, max_position_embeddings=512, pad_token_id=0)
    cfg.rope_scaling = None  # eagle 1.2.1 reads the pre-5.x rope config: no scaling
    cfg.rope_theta = 10000.0
    draft = cnets.Model(cfg, bias=True).to(DEV).eval()
    draft.init_tree()
    draft.diff_device = False
    head = torch.nn.Linear(32, 128, bias=False).to(DEV)
    for name, proc in (("greedy", None), ("sampling", eu.prepare_logits_processor(temperature=0.8, top_p=0.9))):
        _cover.section(f"EAGLE draft tree expansion (cnets.Model.topK_genrate), {name}")
        for _ in range(2):
            draft.reset_kv()
            ids = torch.randint(0, 128, (1, 7), device=DEV)
            hs = torch.randn(1, 6, 32, device=DEV)
            for _ in range(STEPS):
                step(draft.topK_genrate, hs, ids, head, proc)
                ids = torch.cat([ids, torch.randint(0, 128, (1, 3), device=DEV)], 1)
                hs = torch.randn(1, 3, 32, device=DEV)
        _cover.sync_device()
except Exception as e:  # noqa: BLE001
    import traceback

    traceback.print_exc()
    print(f"!!! topK_genrate: {type(e).__name__}: {e}", flush=True)

# EaModel's generate loops end to end (eagenerate; ea_generate and naive_generate are generators),
# on eagle's own KV-cache Llama (tiny, random init) and the draft layer above. EaModel.__init__ reads
# a tokenizer and a config from disk: the object is assembled here with the same attributes instead
# (the tokenizer only gives eos_token_id).
try:
    from torch import nn

    from eagle.model import ea_model
    from eagle.model.modeling_llama_kv import LlamaForCausalLM as KVLlama

    base = KVLlama(cfg).to(DEV).eval()
    ea = ea_model.EaModel.__new__(ea_model.EaModel)
    nn.Module.__init__(ea)
    ea.base_model, ea.config, ea.hidden_size, ea.vocab_size = base, cfg, 32, 128
    ea.tokenizer = types.SimpleNamespace(eos_token_id=127)
    ea.ea_layer = draft
    prompt = torch.randint(0, 120, (1, 8), device=DEV)
    for name, kw in (("greedy", {}), ("sampling", {"temperature": 0.8, "top_p": 0.9})):
        _cover.section(f"EaModel.eagenerate / ea_generate / naive_generate, {name}")
        with torch.no_grad():
            for _ in range(2):
                step(lambda: ea.eagenerate(prompt, max_new_tokens=12, **kw))
                # the streaming loops run until eos or ~1000 tokens: take their first 6 yields
                step(lambda: list(itertools.islice(ea.ea_generate(prompt, max_steps=12, **kw), 6)))
                step(lambda: list(itertools.islice(ea.naive_generate(prompt, max_steps=12, **kw), 6)))
        _cover.sync_device()
except Exception as e:  # noqa: BLE001
    import traceback

    traceback.print_exc()
    print(f"!!! EaModel: {type(e).__name__}: {e}", flush=True)
print("eagle_posterior: done")
