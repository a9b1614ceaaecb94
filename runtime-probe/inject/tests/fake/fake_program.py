"""A CUDA program without CUDA: the injection library is initialised as the driver would, and the
fake libcupti (libcupti_fake.c) calls it back around simulated CUDA calls, as CUPTI does around
PyTorch's. argv: injection library, fake libcupti."""
import ctypes
import sys
import threading
from ctypes import POINTER, Structure, c_char_p, c_int, c_size_t, c_uint32, c_uint64, c_void_p

inject = ctypes.CDLL(sys.argv[1])
cupti = ctypes.CDLL(sys.argv[2])
call = cupti.fake_call
call.argtypes = [c_uint32, c_uint32, c_char_p, c_void_p, c_int, c_uint64]
RUNTIME, MEMCPY_ASYNC, STREAM_SYNC, BEGIN_CAPTURE, END_CAPTURE = 2, 41, 131, 317, 318
DEVICE_TO_HOST = 2


class RuntimeCopy(Structure):
    _fields_ = [("dst", c_void_p), ("src", c_void_p), ("count", c_size_t), ("kind", c_int)]


host = ctypes.create_string_buffer(8)


def item(result=0):
    """What `.item()` does: a copy into pageable host memory, then a stream sync."""
    copy = RuntimeCopy(ctypes.cast(host, c_void_p), 0x7F0000000000, 4, DEVICE_TO_HOST)
    call(RUNTIME, MEMCPY_ASYNC, b"cudaMemcpyAsync", ctypes.addressof(copy), 0, 3000)
    call(RUNTIME, STREAM_SYNC, b"cudaStreamSynchronize", None, result, 20000)


def step(i):
    inject.probe_step_begin()
    item()
    if i % 2:
        call(RUNTIME, STREAM_SYNC, b"cudaStreamSynchronize", None, 0, 50000)
    inject.probe_step_end()


def capture():
    call(RUNTIME, BEGIN_CAPTURE, b"cudaStreamBeginCapture", None, 0, 0)
    item(result=900)  # refused: cudaErrorStreamCaptureUnsupported
    call(RUNTIME, END_CAPTURE, b"cudaStreamEndCapture", None, 901, 0)


def worker():
    for _ in range(3):
        item()


assert inject.InitializeInjection() == 1
for i in range(4):
    step(i)
capture()
threads = [threading.Thread(target=worker) for _ in range(2)]
for t in threads:
    t.start()
for t in threads:
    t.join()
