"""Runtime truth for labels/diffusers.tsv, the pipeline side: StableDiffusionPipeline's denoising
loop end to end, with a tiny random-init UNet and VAE (no text encoder: the prompt embeddings are
given, as pipelines accept them), classifier-free guidance on, DDPM/DDIM/Euler schedulers, latents
out (no VAE decode). The scheduler gets its timesteps exactly as the pipeline passes them.

`--step diffusers.pipelines.stable_diffusion.pipeline_stable_diffusion:StableDiffusionPipeline.__call__`:
one step per pipeline call (its whole denoising loop; 6 calls, the first skipped), so per_step in the
report is syncs per generated image. DEVICE=cpu runs the same code paths on the CPU.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _cover  # noqa: E402

_cover.start("diffusers_pipeline", ["diffusers"])

import torch  # noqa: E402
from diffusers import (  # noqa: E402
    AutoencoderKL,
    DDIMScheduler,
    DDPMScheduler,
    EulerDiscreteScheduler,
    StableDiffusionPipeline,
    UNet2DConditionModel,
)

DEV = torch.device(_cover.DEVICE)
STEPS = int(os.environ.get("STEPS", "4"))
torch.manual_seed(0)

unet = UNet2DConditionModel(
    block_out_channels=(8, 16), layers_per_block=1, sample_size=8, in_channels=4, out_channels=4,
    down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"), up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
    cross_attention_dim=16, norm_num_groups=4, attention_head_dim=4,
)
vae = AutoencoderKL(block_out_channels=[8, 16], in_channels=3, out_channels=3,
                    down_block_types=["DownEncoderBlock2D"] * 2, up_block_types=["UpDecoderBlock2D"] * 2,
                    latent_channels=4, norm_num_groups=4)
pipe = StableDiffusionPipeline(vae=vae, text_encoder=None, tokenizer=None, unet=unet, scheduler=DDPMScheduler(),
                               safety_checker=None, feature_extractor=None, image_encoder=None,
                               requires_safety_checker=False).to(DEV)
pipe.set_progress_bar_config(disable=True)
embeds = torch.randn(1, 6, 16, device=DEV)
negative = torch.randn(1, 6, 16, device=DEV)
for sched in (DDPMScheduler(), DDIMScheduler(), EulerDiscreteScheduler()):
    pipe.scheduler = sched
    _cover.section(f"StableDiffusionPipeline, {type(sched).__name__}, {STEPS} steps, twice")
    try:
        with torch.inference_mode():
            for _ in range(2):
                pipe(prompt_embeds=embeds, negative_prompt_embeds=negative, num_inference_steps=STEPS, height=16,
                     width=16, guidance_scale=5.0, guidance_rescale=0.3, output_type="latent")
        _cover.sync_device()
    except Exception as e:  # noqa: BLE001
        import traceback

        traceback.print_exc()
        print(f"!!! {type(sched).__name__}: {type(e).__name__}: {e}", flush=True)
print("diffusers_pipeline: done")
