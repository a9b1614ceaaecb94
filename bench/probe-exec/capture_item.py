"""probe exec proof 5: a CUDA graph capture with an `.item()` inside it. Whatever CUDA and
PyTorch make of it (an error, an invalidated capture), probe exec must name the .item() line and
the capture's line."""
import torch

dev = "cuda"
x = torch.randn(1024, device=dev)
y = torch.empty_like(x)
side = torch.cuda.Stream()
side.wait_stream(torch.cuda.current_stream())
with torch.cuda.stream(side):
    y.copy_(x * 2)  # warm-up outside the capture
torch.cuda.current_stream().wait_stream(side)
graph = torch.cuda.CUDAGraph()
try:
    with torch.cuda.graph(graph):
        y.copy_(x * 2)
        scale = y.sum().item()  # the sync inside the capture
        y.mul_(scale)
    graph.replay()
    print("capture_item: captured and replayed")
except RuntimeError as e:
    print(f"capture_item: PyTorch refused: {str(e).splitlines()[0]}")
torch.cuda.synchronize()
