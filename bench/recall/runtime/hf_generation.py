"""Runtime truth for labels/transformers.tsv: generation loops and the labelled logits processors
and stopping criteria, on a tiny random-init Llama (as bench/probe-exec/hf_generate.py builds it).

Every unit of per-step work goes through `step()` (`--step __main__:step`): one whole `generate`
call (its decoding loop runs inside the step), or one call of a processor / stop check on tensors
shaped like a decoding step. Each kind runs at least twice, and a plain generate first (the skipped
warm-up step). DEVICE=cpu runs the same code paths on the CPU (coverage only).

Modes: greedy with no_repeat_ngram_size and a streamer (StopCheck), beam search, prompt-lookup
decoding (PromptLookupCandidateGenerator, with an eos inside the looked-up continuation), assisted
decoding with an assistant model and its confidence threshold (ConfidenceCriteria; the learned
threshold path needs scikit-learn), synced_gpus on a one-process group (nccl on CUDA, gloo on CPU);
direct calls: EncoderNoRepeatNGram, WhisperTimeStamp, WhisperNoSpeechDetection, Watermark (lefthash
and selfhash), DiaEOSDelayPattern, ConfidenceCriteria, DeferredStopCheck (the mps-only deferred
check, called directly).
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _cover  # noqa: E402

_cover.start("hf_generation", ["transformers"])

import torch  # noqa: E402
import transformers  # noqa: E402
from transformers import GenerationConfig, LlamaConfig, LlamaForCausalLM  # noqa: E402
from transformers.generation import logits_process as lp  # noqa: E402
from transformers.generation import stopping_criteria as sc  # noqa: E402
from transformers.generation import utils as gu  # noqa: E402
from transformers.generation.streamers import BaseStreamer  # noqa: E402

DEV = torch.device(_cover.DEVICE)
N = int(os.environ.get("NEW_TOKENS", "8"))
EOS = 999
torch.manual_seed(0)
print("transformers", transformers.__version__, "from", transformers.__file__, flush=True)


def step(fn, *args, **kwargs):
    """One per-step unit (what probe exec counts)."""
    return fn(*args, **kwargs)


def llama(layers=2, hidden=128):
    cfg = LlamaConfig(
        vocab_size=1000, hidden_size=hidden, intermediate_size=2 * hidden, num_hidden_layers=layers,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512, pad_token_id=0,
        eos_token_id=EOS, bos_token_id=1,
    )
    return LlamaForCausalLM(cfg).to(DEV).eval()


class NullStreamer(BaseStreamer):
    def __init__(self):
        self.n = 0

    def put(self, value):
        self.n += 1

    def end(self):
        pass


def section(name, fn, reps=2):
    _cover.run_section(name, fn, step, reps, inference=True)



model = llama()
prompt = torch.randint(2, 998, (2, 12), device=DEV)
mask = torch.ones_like(prompt)
base = dict(max_new_tokens=N, min_new_tokens=N, pad_token_id=0)

section("warm-up: greedy", lambda: model.generate(prompt, attention_mask=mask, do_sample=False, **base), reps=1)
section("greedy + no_repeat_ngram_size + streamer (StopCheck)",
        lambda: model.generate(prompt[:1], attention_mask=mask[:1], do_sample=False, no_repeat_ngram_size=2,
                               streamer=NullStreamer(), **base))
section("sampling + no_repeat_ngram_size", lambda: model.generate(prompt, attention_mask=mask, do_sample=True,
                                                                   top_k=50, no_repeat_ngram_size=2, **base))
section("beam search", lambda: model.generate(prompt, attention_mask=mask, num_beams=2, do_sample=False,
                                              early_stopping=True, **base))
# Prompt lookup: a prompt that repeats itself, with the eos inside the continuation it looks up.
pattern = torch.tensor([[5, 6, 7, EOS, 8, 9, 5, 6, 7, EOS, 8, 9, 5, 6]], device=DEV)
section("prompt-lookup decoding", lambda: model.generate(pattern, attention_mask=torch.ones_like(pattern),
                                                         prompt_lookup_num_tokens=3, do_sample=False,
                                                         eos_token_id=EOS, streamer=NullStreamer(),
                                                         max_new_tokens=N, pad_token_id=0))
assistant = llama(layers=1, hidden=64)
assistant.generation_config.assistant_confidence_threshold = 0.3
assistant.generation_config.num_assistant_tokens = 3
section("assisted decoding (assistant model, confidence threshold)",
        lambda: model.generate(prompt[:1], attention_mask=mask[:1], assistant_model=assistant, do_sample=False,
                               streamer=NullStreamer(), max_new_tokens=N, pad_token_id=0, eos_token_id=EOS))
# An eos the main model will emit (its own greedy 4th token), so that assisted decoding crops at it.
with torch.inference_mode():
    greedy = model.generate(prompt[:1], attention_mask=mask[:1], do_sample=False, **base)
eos_hit = int(greedy[0, prompt.shape[1] + 3])
section("assisted decoding, an eos inside the accepted tokens",
        lambda: model.generate(prompt[:1], attention_mask=mask[:1], assistant_model=assistant, do_sample=False,
                               max_new_tokens=N, pad_token_id=0, eos_token_id=eos_hit))
section("assisted decoding, sampling",
        lambda: model.generate(prompt[:1], attention_mask=mask[:1], assistant_model=assistant, do_sample=True,
                               max_new_tokens=N, pad_token_id=0))

# synced_gpus on a one-process group (ZeRO-3's flag all-reduce every step).
try:
    import torch.distributed as dist

    if not dist.is_initialized():
        dist.init_process_group("nccl" if DEV.type == "cuda" else "gloo", store=dist.HashStore(), rank=0,
                                world_size=1)
    section("greedy, synced_gpus (one-process group)",
            lambda: model.generate(prompt, attention_mask=mask, do_sample=False, synced_gpus=True, **base))
except Exception as e:  # noqa: BLE001
    print(f"!!! synced_gpus: {type(e).__name__}: {e}", flush=True)

# Direct calls, one decoding step's tensors each.
B, V = 2, 1000
ids = torch.randint(2, 998, (B, 10), device=DEV)
scores = torch.randn(B, V, device=DEV)
enc = torch.randint(2, 998, (B, 10), device=DEV)
enc[:, 3:5] = ids[:, -2:]  # an encoder n-gram that the decoder's last token starts
p_enc = lp.EncoderNoRepeatNGramLogitsProcessor(2, enc)
section("EncoderNoRepeatNGramLogitsProcessor", lambda: p_enc(ids, scores), reps=3)
p_ngram = lp.NoRepeatNGramLogitsProcessor(2)
section("NoRepeatNGramLogitsProcessor", lambda: p_ngram(ids, scores), reps=3)
wcfg = GenerationConfig(eos_token_id=EOS - 100, bos_token_id=1)
wcfg.no_timestamps_token_id = 880
wcfg.max_initial_timestamp_index = 5
p_ts = lp.WhisperTimeStampLogitsProcessor(wcfg, begin_index=4)
ts_ids = ids.clone()
ts_ids[:, -2:] = torch.tensor([[900, 905], [10, 901]], device=DEV)  # timestamps at the end of the rows
section("WhisperTimeStampLogitsProcessor", lambda: p_ts(ts_ids, scores), reps=3)
p_ns = lp.WhisperNoSpeechDetection(no_speech_token=7, begin_index=1)
section("WhisperNoSpeechDetection", lambda: p_ns(ids, scores), reps=3)
for scheme in ("lefthash", "selfhash"):
    p_wm = lp.WatermarkLogitsProcessor(vocab_size=V, device=DEV, seeding_scheme=scheme, context_width=2)
    section(f"WatermarkLogitsProcessor {scheme}", lambda p=p_wm: p(ids, scores), reps=2)
p_dia = lp.DiaEOSDelayPatternLogitsProcessor(delay_pattern=[0, 1, 2], eos_token_id=EOS, max_generation_len=64,
                                             device=DEV)
dia_scores = torch.randn(B * 3, V, device=DEV)
dia_scores[0, EOS] = 100.0  # row 0's first channel emits eos: forced eos on the delayed channels
section("DiaEOSDelayPatternLogitsProcessor", lambda: p_dia(ids, dia_scores.clone()), reps=3)
c_conf = sc.ConfidenceCriteria(assistant_confidence_threshold=0.5)
conf_scores = (torch.randn(1, V, device=DEV),)
section("ConfidenceCriteria", lambda: c_conf(ids[:1], conf_scores), reps=3)
unfinished = torch.ones(B, dtype=torch.long, device=DEV)
stop_now = gu.StopCheck(streamer=NullStreamer())
section("StopCheck (with a streamer)", lambda: stop_now(unfinished, ids[:, -1], 10), reps=3)
deferred = gu.DeferredStopCheck(ids, max_length=None, cache=None, cache_is_returned=False,
                                streamer=NullStreamer())
section("DeferredStopCheck (mps-only in generate; called directly)",
        lambda: deferred(unfinished, ids[:, -1], 10), reps=4)
try:
    import torch.distributed as dist

    if dist.is_initialized():
        dist.destroy_process_group()
except Exception as e:  # noqa: BLE001
    print(f"!!! destroy_process_group: {e}", flush=True)
print("hf_generation: done", flush=True)
