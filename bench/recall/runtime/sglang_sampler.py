"""Runtime truth for part of labels/sglang.tsv: the sampler helpers of sglang/srt/layers/sampler.py
and sglang/srt/layers/utils/logprob.py, called directly on tensors shaped like one sampling step
(batch B, vocabulary V), with the batch metadata objects replaced by plain namespaces that carry
the attributes these functions read.

sglang's import chain names many serving packages that these helpers never call (zmq, fastapi,
openai, flashinfer, sgl_kernel, ...). The top-level sglang/__init__.py is skipped
(_cover.bare_package) and the packages below that are not installed are replaced by stub modules
(_cover.stub_missing_modules: any attribute is a stub class; an installed package is always found
first). dill is carried as a wheel (sglang calls it at import time).

`step()` (`--step __main__:step`) is one call of a helper. Not exercised: the NPU (ascend) sampler,
the scheduler's output processing (scheduler_output_processor_mixin.py), the CUDA-graph runner,
the TP all-reduce of token ids (needs grammars or SYNC_TOKEN_IDS_ACROSS_TP and a TP group).
DEVICE=cpu runs the same code paths on the CPU (coverage only).
"""
import os
import sys
import types

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _cover  # noqa: E402

_cover.start("sglang_sampler", ["sglang"])

import torch  # noqa: E402  (before the stubs: torch's own optional imports must see the real world)
import transformers  # noqa: E402,F401

_cover.bare_package("sglang")
_cover.stub_missing_modules({
    "orjson", "pybase64", "starlette", "zmq", "openai", "httpx2", "sniffio", "IPython", "traitlets",
    "partial_json_parser", "compressed_tensors", "loguru", "gguf", "fastapi", "uvicorn", "uvloop", "setproctitle",
    "msgspec", "outlines", "llguidance", "sgl_kernel", "flashinfer", "decord", "soundfile", "torchao",
    "interegular", "aiohttp", "prometheus_client", "modelscope", "tvm_ffi", "quack", "flash_attn", "cutlass",
    "mistral_common", "openai_harmony", "smg_grpc_servicer", "grpc", "av", "torchcodec", "datasets", "blobfile",
    "py_spy", "pynvml", "gpustat", "ray", "sentencepiece",
})

from sglang.srt.layers import sampler as sm  # noqa: E402
from sglang.srt.layers.utils import logprob as lpm  # noqa: E402

DEV = torch.device(_cover.DEVICE)
B, V = 4, 64
torch.manual_seed(0)


def step(fn, *args, **kwargs):
    """One helper call (what probe exec counts)."""
    return fn(*args, **kwargs)


class BatchInfo(types.SimpleNamespace):
    """The attributes of SamplingBatchInfo that the helpers read."""

    def __len__(self):
        return self.n


class AddOne:
    """A custom logit processor (sglang's CustomLogitProcessor protocol: logits, params -> logits)."""

    def __call__(self, logits, params):
        return logits + 1.0


def section(name, fn, reps=3):
    _cover.run_section(name, fn, step, reps)



logits = torch.randn(B, V, device=DEV)
mask = torch.tensor([True, False, True, False]).to(DEV)
info = BatchInfo(n=B, device=DEV, has_custom_logit_processor=True, custom_logit_processor={"p": (AddOne(), mask)},
                 custom_params=[{"k": i} for i in range(B)], grammars=[])
fake_sampler = types.SimpleNamespace(use_nan_detection=True, tp_sync_group=None)
section("Sampler._preprocess_logits (custom logit processor, NaN detection on)",
        lambda: sm.Sampler._preprocess_logits(fake_sampler, logits.clone(), info))
section("apply_custom_logit_processor", lambda: sm.apply_custom_logit_processor(logits.clone(), info))
logprobs = torch.log_softmax(torch.randn(B, V, device=DEV), -1)
next_ids = torch.randint(0, V, (B,), device=DEV)
section("Sampler._attach_logprobs_to_output",
        lambda: sm.Sampler._attach_logprobs_to_output(fake_sampler, types.SimpleNamespace(), logprobs.clone(),
                                                      [2, 0, 3, 1], [[1, 3], None, [0, 2, 4], [5]], info, next_ids))
section("Sampler._sync_token_ids_across_tp (default: no all-reduce)",
        lambda: sm.Sampler._sync_token_ids_across_tp(fake_sampler, next_ids, info))
section("get_token_ids_logprobs_batch_optimized",
        lambda: sm.get_token_ids_logprobs_batch_optimized(logprobs, [[1, 3], [2], [0, 2, 4], None]))
meta = types.SimpleNamespace(temp_scaled_logprobs=True, top_p_normalized_logprobs=True,
                             temperature=torch.full((B, 1), 0.7, device=DEV),
                             top_p=torch.tensor([1.0, 0.9, 0.8, 1.0], device=DEV), top_logprobs_nums=[2, 3, 1, 2])
section("compute_temp_top_p_normalized_logprobs",
        lambda: lpm.compute_temp_top_p_normalized_logprobs(torch.randn(B, V, device=DEV), meta))
section("get_top_logprobs_raw (copied to the host)",
        lambda: lpm.get_top_logprobs_raw(logprobs, [2, 3, 1, 2], stage=lpm.LogprobStage.DECODE))
section("get_top_logprobs_chunk",
        lambda: lpm.get_top_logprobs_chunk(logprobs, meta, [2, 3, 1, 2], [1, 1, 1, 1], [], [], 0))
print("sglang_sampler: done")
