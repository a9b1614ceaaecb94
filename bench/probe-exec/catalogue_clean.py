"""probe exec proof 1, the clean twin of catalogue.py: the same work without a host sync, where
one exists (unique, print, f-strings, logging and barrier have none and are left out; torch.unique
has no sync-free form). Expected: zero syncs per counted step."""
import os

import torch
import torch.nn.functional as F

dev = "cuda"


class Constructs:
    def __init__(self):
        self.x = torch.randn(64, device=dev)
        self.idx = torch.tensor([3], device=dev)
        self.mask = self.x > 0
        self.event = torch.cuda.Event()
        self.counts = torch.full((8,), 2, device=dev)
        self.labels = torch.randint(0, 5, (16,), device=dev)
        self.ones = torch.ones(16, device=dev)
        self.keys = torch.zeros(4, 64, device=dev)
        self.host = torch.empty(64, pin_memory=True)
        self.pick = torch.tensor([0, 3, 7], device=dev)
        self.offsets = torch.arange(4, device=dev)
        self.zero = torch.zeros((), device=dev)

    # graphlint: hot
    def step(self, i):
        x = self.x
        self.event.record()
        torch.cuda.current_stream().wait_event(self.event)  # GL101 GL102 GL103: device-side wait
        a = x.sum()  # GL201
        b = x[:4]  # GL202
        c = x[0].to(torch.int64)  # GL203
        self.keys[0].index_fill_(0, self.idx + self.offsets, 1.0)  # GL204
        self.host.copy_(x, non_blocking=True)  # GL301 GL302 GL303: into pinned memory
        eq = (x == x).all()  # GL304
        w = torch.where(x.sum() > 0, x, -x)  # GL401
        valid = self.mask.any() & (x.sum() > 0)  # GL402
        torch._assert_async(x.abs().sum() >= 0)  # GL403
        m = torch.maximum(x[0], x[1])  # GL404
        nzmask = x != 0  # GL501
        sel = torch.where(self.mask, x, 0.0)  # GL502
        bc = torch.zeros(5, device=dev).scatter_add_(0, self.labels, self.ones)  # GL504
        ri = x[:8].repeat_interleave(self.counts, dim=0, output_size=16)  # GL505
        oh = F.one_hot(self.labels, num_classes=5)  # GL506
        y = x.masked_fill(self.mask, 0.0)  # GL507
        t = torch.full((), 1.5, device=dev)  # GL601
        p = x[self.pick]  # GL602
        r = torch.arange(16, device=dev)  # GL603
        y[self.labels.argsort()[:2]] = self.zero  # GL604
        return a, b, c, eq, w, valid, m, nzmask, sel, bc, ri, oh, y, t, p, r


def main():
    c = Constructs()
    for i in range(int(os.environ.get("STEPS", "10"))):
        c.step(i)
    torch.cuda.synchronize()


if __name__ == "__main__":
    main()
