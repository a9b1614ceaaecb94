"""A program that subscribes to CUPTI itself (torch.profiler with CUDA activities, i.e. Kineto)
while probe exec holds CUPTI's subscriber: it must keep running, and the report must say what was
not traced."""
import torch
from torch.profiler import ProfilerActivity, profile

x = torch.randn(1024, device="cuda")
with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
    for _ in range(5):
        x.sum().item()
events = [e for e in prof.key_averages() if e.device_type.name == "CUDA" or "cuda" in e.key.lower()]
print(f"kineto: profiler finished, {len(prof.key_averages())} event kinds, {len(events)} CUDA ones")
