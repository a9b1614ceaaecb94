"""Runtime truth for labels/diffusers.tsv: the schedulers' `step` as a pipeline drives it.

Each scheduler runs two "pipeline calls" (set_timesteps, then a loop over `scheduler.timesteps`
with `t` the 0-d device tensor that iterating the device timesteps gives, exactly as
StableDiffusionPipeline's loop does), the model replaced by a random tensor. Every per-step call goes
through `step()`, the function probe exec counts (`--step __main__:step`). Two calls per scheduler
so that the syncs of the first step of a loop (`_init_step_index`) are also seen in a counted step.
Also the varlen attention helper of attention_dispatch.py, called directly with a padding mask.

DEVICE=cpu runs the same code paths on the CPU (no syncs to see; coverage only).
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _cover  # noqa: E402

_cover.start("diffusers_schedulers", ["diffusers"])

import torch  # noqa: E402
from diffusers import (  # noqa: E402
    DDIMScheduler,
    DDPMScheduler,
    DPMSolverMultistepScheduler,
    EulerDiscreteScheduler,
    FlowMatchEulerDiscreteScheduler,
)
from diffusers.models import attention_dispatch  # noqa: E402

DEV = torch.device(_cover.DEVICE)
STEPS = int(os.environ.get("STEPS", "4"))
torch.manual_seed(0)


def step(fn, *args, **kwargs):
    """One per-step call (what probe exec counts)."""
    return fn(*args, **kwargs)


def pipeline_call(scheduler, calls=2, shape=(1, 4, 8, 8), **step_kwargs):
    for _ in range(calls):
        scheduler.set_timesteps(STEPS, device=DEV)
        timesteps = scheduler.timesteps
        sample = torch.randn(shape, device=DEV) * getattr(scheduler, "init_noise_sigma", 1.0)
        for t in timesteps:  # t: 0-d tensor on DEV, as in the pipelines' loops
            def one(sample=sample, t=t):
                x = scheduler.scale_model_input(sample, t) if hasattr(scheduler, "scale_model_input") else sample
                noise_pred = torch.randn_like(x)
                return scheduler.step(noise_pred, t, sample, return_dict=False, **step_kwargs)[0]

            sample = step(one)
    _cover.sync_device()


_cover.section("DDPM")
pipeline_call(DDPMScheduler(num_train_timesteps=1000))
_cover.section("DDIM eta=0 (the pipelines' default) and eta=0.5")
ddim = DDIMScheduler(num_train_timesteps=1000)
pipeline_call(ddim, calls=1)
pipeline_call(ddim, calls=1, eta=0.5)
_cover.section("Euler")
pipeline_call(EulerDiscreteScheduler(num_train_timesteps=1000))
_cover.section("DPM-Solver++ multistep (order 2)")
pipeline_call(DPMSolverMultistepScheduler(num_train_timesteps=1000, solver_order=2))
_cover.section("FlowMatch Euler, plain and per-token timesteps")
flow = FlowMatchEulerDiscreteScheduler(num_train_timesteps=1000)
pipeline_call(flow, shape=(1, 8, 4))
for _ in range(2):
    flow.set_timesteps(STEPS, device=DEV)
    sample = torch.randn(1, 8, 4, device=DEV)
    for t in flow.timesteps:
        per_token = t.expand(1, 8).to(torch.float32)
        sample = step(lambda s=sample, t=t, p=per_token: flow.step(torch.randn_like(s), t, s, per_token_timesteps=p,
                                                                   return_dict=False)[0])
_cover.sync_device()

_cover.section("attention_dispatch varlen helpers (a padding mask per call)")
fn_mask = attention_dispatch._prepare_for_flash_attn_or_sage_varlen_with_mask
fn_nomask = getattr(attention_dispatch._prepare_for_flash_attn_or_sage_varlen_without_mask, "__wrapped__",
                    attention_dispatch._prepare_for_flash_attn_or_sage_varlen_without_mask)
for i in range(STEPS + 1):
    mask = torch.ones(2, 16, dtype=torch.bool, device=DEV)
    mask[1, 10 + i % 4:] = False
    step(fn_mask, 2, 16, mask, device=DEV)
    step(fn_nomask, 2, 16, 16 + i, device=DEV)
_cover.sync_device()
print("diffusers_schedulers: done")
