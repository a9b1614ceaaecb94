"""Runtime truth for labels/chronos.tsv: chronos-forecasting's three pipelines with tiny random-init
models, built in memory (no hub download):
- ChronosPipeline (T5 seq2seq over MeanScaleUniformBins tokens), predict() with a horizon longer than
  the model's, so its autoregressive chunk loop runs several times; the context on the CPU (the usual
  case: the tokenizer's scale stays there) and the model on DEVICE;
- ChronosBoltPipeline.predict, context on the CPU, long horizon (its own chunk loop);
- Chronos2Pipeline._predict_step with future covariates (one call of the long-horizon loop) and the
  covariates slide between chunks.

`step()` (`--step __main__:step`) is one predict / one _predict_step call.
DEVICE=cpu runs the same code paths on the CPU (coverage only).
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _cover  # noqa: E402

_cover.start("chronos_predict", ["chronos"])

import torch  # noqa: E402
from transformers import T5Config, T5ForConditionalGeneration  # noqa: E402

from chronos import (  # noqa: E402
    Chronos2Model,
    Chronos2Pipeline,
    ChronosBoltPipeline,
    ChronosConfig,
    ChronosModel,
    ChronosPipeline,
)
from chronos.chronos2 import Chronos2CoreConfig  # noqa: E402
from chronos.chronos_bolt import ChronosBoltModelForForecasting  # noqa: E402

DEV = torch.device(_cover.DEVICE)
torch.manual_seed(0)


def step(fn, *args, **kwargs):
    """One per-step unit (what probe exec counts)."""
    return fn(*args, **kwargs)


def section(name, fn, reps=3):
    _cover.run_section(name, fn, step, reps)



def chronos_pipeline():
    n_tokens = 64
    cfg = ChronosConfig(
        tokenizer_class="MeanScaleUniformBins", tokenizer_kwargs={"low_limit": -15.0, "high_limit": 15.0},
        context_length=32, prediction_length=4, n_tokens=n_tokens, n_special_tokens=2, pad_token_id=0,
        eos_token_id=1, use_eos_token=True, model_type="seq2seq", num_samples=3, temperature=1.0, top_k=50,
        top_p=1.0,
    )
    t5 = T5Config(vocab_size=n_tokens, d_model=32, d_kv=8, d_ff=64, num_layers=1, num_decoder_layers=1, num_heads=2,
                  decoder_start_token_id=0, pad_token_id=0, eos_token_id=1)
    model = ChronosModel(cfg, T5ForConditionalGeneration(t5).to(DEV).eval())
    return ChronosPipeline(tokenizer=cfg.create_tokenizer(), model=model)


def bolt_pipeline():
    cfg = T5Config(d_model=32, d_kv=8, d_ff=64, num_layers=1, num_decoder_layers=1, num_heads=2,
                   decoder_start_token_id=0, pad_token_id=0, eos_token_id=1,
                   chronos_config={"context_length": 32, "prediction_length": 8, "input_patch_size": 4,
                                   "input_patch_stride": 4, "quantiles": [0.1, 0.5, 0.9], "use_reg_token": True})
    return ChronosBoltPipeline(ChronosBoltModelForForecasting(cfg).to(DEV).eval())


def chronos2_pipeline():
    cfg = Chronos2CoreConfig(d_model=32, d_kv=8, d_ff=64, num_layers=1, num_heads=2, feed_forward_proj="relu",
                             chronos_config={"context_length": 32, "output_patch_size": 4, "input_patch_size": 4,
                                             "input_patch_stride": 4, "quantiles": [0.1, 0.5, 0.9],
                                             "use_reg_token": True, "max_output_patches": 2})
    return Chronos2Pipeline(Chronos2Model(cfg).to(DEV).eval())


ctx_cpu = torch.randn(2, 40).cumsum(-1)  # contexts come from the host (a pandas frame, a list of arrays)
p1 = chronos_pipeline()
section("ChronosPipeline.predict, horizon 3x the model's", lambda: p1.predict(ctx_cpu, prediction_length=12))
p2 = bolt_pipeline()
section("ChronosBoltPipeline.predict, horizon 2x the model's", lambda: p2.predict(ctx_cpu, prediction_length=16))
p3 = chronos2_pipeline()
context = torch.randn(3, 32, device=DEV)
group_ids = torch.tensor([0, 0, 1], device=DEV)
future = torch.full((3, 6), float("nan"), device=DEV)
future[1] = torch.randn(6, device=DEV)  # one known covariate, the targets unknown (NaN)


def chronos2_two_chunks():
    pred = p3._predict_step(context, group_ids, future, num_output_patches=2)
    ctx2, fut2 = Chronos2Pipeline._slide_context_and_future_covariates(context.clone(), future, slide_by=4)
    return pred, p3._predict_step(ctx2, group_ids, fut2, num_output_patches=2)


section("Chronos2Pipeline._predict_step with future covariates, two chunks", chronos2_two_chunks)
print("chronos_predict: done")
