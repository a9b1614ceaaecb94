"""probe exec proof 1: one instance of every Python construct in graphlint's rule catalogue, run in
a loop. Each construct's line ends with a `# GLxxx` marker; check_catalogue.py matches the
report's sync lines to these markers. Run: probe exec --step __main__:Constructs.step --skip 2 --
python3 catalogue.py"""
import logging
import os
import sys

import torch
import torch.distributed as dist
import torch.nn.functional as F

dev = "cuda"
log = logging.getLogger("catalogue")
logging.basicConfig(level=logging.DEBUG, stream=open(os.devnull, "w"))
devnull = open(os.devnull, "w")


class Constructs:
    def __init__(self):
        self.x = torch.randn(64, device=dev)
        self.idx = torch.tensor([3], device=dev)
        self.mask = self.x > 0
        self.event = torch.cuda.Event()
        self.stream = torch.cuda.current_stream()
        self.counts = torch.full((8,), 2, device=dev)
        self.labels = torch.randint(0, 5, (16,), device=dev)
        self.keys = torch.zeros(4, 64, device=dev)
        self.pad = torch.zeros(1, device=dev)
        self.msg = ""
        self.distributed = dist.is_initialized()

    # graphlint: hot
    def step(self, i):
        x = self.x
        torch.cuda.synchronize()  # GL101
        self.stream.synchronize()  # GL102
        self.event.record()
        self.event.query()  # GL103
        if self.distributed:
            dist.barrier()  # GL104
        a = x.sum().item()  # GL201
        b = x[:4].tolist()  # GL202
        c = int(x[0])  # GL203
        start = self.idx[0]
        self.keys[0, start:start + 4] = 1.0  # GL204
        d = x.cpu()  # GL301
        e = x.to("cpu")  # GL302
        g = x.numpy(force=True)  # GL303
        if torch.equal(x, x * 1):  # GL304 (two tensors: equal(x, x) answers True without reading them)
            pass
        if x.sum() > 0:  # GL401
            pass
        valid = self.mask.any() and (x.sum() > 0)  # GL402
        assert x.abs().sum() >= 0  # GL403
        m = max(x[0], x[1])  # GL404
        nz = x.nonzero()  # GL501
        sel = x[self.mask]  # GL502
        u = torch.unique(self.labels)  # GL503
        bc = torch.bincount(self.labels)  # GL504
        ri = x[:8].repeat_interleave(self.counts, dim=0)  # GL505
        oh = F.one_hot(self.labels)  # GL506
        y = x.clone()
        y[self.mask] = self.pad  # GL507
        t = torch.tensor(1.5, device=x.device)  # GL601
        p = x[[0, 3, 7]]  # GL602
        r = torch.arange(16).cuda()  # GL603
        y[self.labels.argsort()[:2]] = 0.0  # GL604
        print(x[:2], file=devnull)  # GL701
        self.msg = f"v={x[0]}"  # GL702
        log.debug("x %s", x[:2])  # GL703
        return a, b, c, d, e, g, valid, m, nz, sel, u, bc, ri, oh, y, t, p, r


def main():
    if os.environ.get("CATALOGUE_DIST") == "1":
        os.environ.setdefault("MASTER_ADDR", "127.0.0.1")
        os.environ.setdefault("MASTER_PORT", "29533")
        try:
            dist.init_process_group("nccl", rank=0, world_size=1, device_id=torch.device("cuda:0"))
        except Exception as e:  # the barrier line then shows as not exercised
            print(f"catalogue: no process group ({e})", file=sys.stderr)
    c = Constructs()
    for i in range(int(os.environ.get("STEPS", "10"))):
        c.step(i)
    torch.cuda.synchronize()
    if dist.is_initialized():
        dist.destroy_process_group()


if __name__ == "__main__":
    main()
