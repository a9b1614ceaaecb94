"""The Python stacks of syncs made by several Python threads at once (the GIL is released by each
op): each thread's .item() must be reported at its own line."""
import threading

import torch

x = torch.randn(1024, device="cuda")


def worker_a(n):
    for _ in range(n):
        x.sum().item()  # thread A's line


def worker_b(n):
    for _ in range(n):
        x.max().item()  # thread B's line


threads = [threading.Thread(target=worker_a, args=(200,)) for _ in range(2)]
threads += [threading.Thread(target=worker_b, args=(200,)) for _ in range(2)]
for t in threads:
    t.start()
for t in threads:
    t.join()
print("threads done")
