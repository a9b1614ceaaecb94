"""probe exec proof 4: the wall time of a step loop with no host sync (MODE=clean) and of one that
syncs every step (MODE=sync), bare and under probe exec. Prints the loop's own time; the process
wall time is taken by the caller."""
import os
import time

import torch

mode = os.environ.get("MODE", "clean")
steps = int(os.environ.get("STEPS", "2000"))
x = torch.randn(256, 256, device="cuda")
w = torch.randn(256, 256, device="cuda") / 16


def step(x):
    y = torch.tanh(x @ w)
    if mode == "sync":
        y = y * (1.0 + 0.0 * y.mean().item())
    return y


for _ in range(20):
    x = step(x)
torch.cuda.synchronize()
t = time.perf_counter()
for _ in range(steps):
    x = step(x)
torch.cuda.synchronize()
print(f"overhead {mode}: {steps} steps in {time.perf_counter() - t:.4f} s")
