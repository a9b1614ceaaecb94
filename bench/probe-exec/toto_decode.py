"""probe exec proof 2: upstream Toto (toto-ts 0.2.0) with random-init weights, decoding
autoregressively with its KV cache, as TotoForecaster does. Run under
--step toto.model.backbone:TotoBackbone.forward."""
import os

import torch
from toto.inference.forecaster import TotoForecaster
from toto.data.util.dataset import MaskedTimeseries
from toto.model.backbone import TotoBackbone

torch.manual_seed(0)
dev = "cuda"
backbone = TotoBackbone(
    patch_size=32,
    stride=32,
    embed_dim=256,
    num_layers=4,
    num_heads=4,
    mlp_hidden_dim=512,
    dropout=0.0,
    spacewise_every_n_layers=2,
    scaler_cls="<class 'model.scaler.CausalPatchStdMeanScaler'>",
    output_distribution_classes=["<class 'model.distribution.StudentTOutput'>"],
    use_memory_efficient_attention=False,
).to(dev).eval()
forecaster = TotoForecaster(backbone)
variates, context, horizon = 2, 512, int(os.environ.get("HORIZON", "256"))
series = torch.randn(variates, context, device=dev).cumsum(-1)
inputs = MaskedTimeseries(
    series=series,
    padding_mask=torch.ones_like(series, dtype=torch.bool),
    id_mask=torch.zeros_like(series),
    timestamp_seconds=torch.zeros_like(series, dtype=torch.long),
    time_interval_seconds=torch.full((variates,), 60, device=dev),
)
with torch.inference_mode():
    out = forecaster.forecast(inputs, prediction_length=horizon, num_samples=None, use_kv_cache=True)
print("toto forecast", tuple(out.mean.shape))
