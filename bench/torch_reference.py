#!/usr/bin/env python3
"""PyTorch reference for bench/throughput.ts: the same workloads on the same shapes.

Masked training step (batch 64): forward, softmax cross-entropy, backward, the gradient
masked, SGD with momentum 0.9 at learning rate 0.01, then W and the momentum re-zeroed
with the mask (core/train/optimizer.ts). W's pruned entries are zero after every step, so
the forward pass runs on W itself: the same numbers as on W*M, one elementwise product per
kernel fewer (PyTorch's fastest way to write it). Inference: softmax of the forward pass in
eval mode at batch 1 and 128. Leaky ReLU 0.01 everywhere.
Models: LeNet-300-100 and LeNet-5 (28x28x1: conv 6@5x5 same, pool, conv 16@5x5 valid,
pool, 400-120-84-10), ResNet-18 (32x32x3, 7x7/2 stem and 3x3/2 max pool, batch norm).

usage: torch_reference.py --model lenet300|lenet5|resnet18 [--seconds S] [--threads N]
       [--density D] [--default-allocator]
       torch_reference.py --check   (the forward pass on W trains as on W*M; exit 1 if not)

glibc's malloc serves blocks above its mmap threshold (128 KiB at start, then moved by
what the process frees) with fresh pages from the kernel, and every step of these models
allocates and frees blocks of that size: the page faults then cost more than the
arithmetic, by 3-5x on LeNet-300-100's step here, and whether a process lands above or
below the moving threshold made PyTorch's speed change from one process to the next. The
script fixes the threshold at 32 MiB before torch allocates (mallopt), as a long-running
PyTorch service would (or jemalloc/tcmalloc); `--default-allocator` measures without it.
Prints one JSON object: trainSamplesPerSec, inferBatch1PerSec, inferBatch128PerSec,
gemmGflops (a 512^3 matmul, as bench/throughput.ts measures ours), torch version,
threads, the BLAS library loaded. Exits 3 when torch cannot be imported.
"""
import argparse
import ctypes
import ctypes.util
import json
import os
import sys
import time


def _fix_malloc_threshold():
    """Pins glibc's mmap threshold at 32 MiB (its maximum on 64 bits) and the trim threshold
    at 256 MiB, so blocks freed by one step are reused by the next; a description, or why not."""
    if '--default-allocator' in sys.argv:
        return 'glibc default (--default-allocator)'
    try:
        libc = ctypes.CDLL(ctypes.util.find_library('c') or 'libc.so.6')
        m_trim_threshold, m_mmap_threshold = -1, -3
        if libc.mallopt(m_mmap_threshold, 32 << 20) != 1 or libc.mallopt(m_trim_threshold, 256 << 20) != 1:
            return 'glibc default (mallopt refused)'
        return 'glibc, mmap threshold fixed at 32 MiB'
    except (OSError, AttributeError) as err:
        return f'default ({err})'


ALLOCATOR = _fix_malloc_threshold()

# Debian's torch calls the system BLAS (libblas.so.3: reference BLAS, or OpenBLAS when
# libopenblas0 is installed); OpenBLAS starts its own threads unless told otherwise.
_threads = sys.argv[sys.argv.index('--threads') + 1] if '--threads' in sys.argv else '1'
for _var in ('OPENBLAS_NUM_THREADS', 'OMP_NUM_THREADS', 'MKL_NUM_THREADS'):
    os.environ.setdefault(_var, _threads)

try:
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
except ImportError as err:  # pragma: no cover - reported to the caller
    print(json.dumps({'error': f'torch is not importable: {err}'}))
    sys.exit(3)


def leaky(x):
    return F.leaky_relu(x, 0.01)


class Masked(nn.Module):
    """Holds every weight tensor's mask. The step keeps W's masked entries at zero, so
    `masked(W)` is W; with `multiply_masks` it is W*M, as bonsai's forward pass computes it
    (`--check` trains both ways and compares)."""

    multiply_masks = False

    def masked(self, p):
        return p * self._masks[id(p)] if self.multiply_masks else p

    def init_masks(self, density, seed):
        g = torch.Generator().manual_seed(seed)
        self._masks = {}
        for p in self.parameters():
            if p.dim() > 1:
                m = (torch.rand(p.shape, generator=g) < density).float() if density < 1 else torch.ones_like(p)
                with torch.no_grad():
                    p.mul_(m)
                self._masks[id(p)] = m

    def weight_masks(self):
        return [(p, self._masks[id(p)]) for p in self.parameters() if id(p) in self._masks]

    def fc_chain(self, h):
        """The masked fully connected layers `self.fcs` on `h`, leaky ReLU between them."""
        h = h.reshape(h.shape[0], -1)
        for i, fc in enumerate(self.fcs):
            h = F.linear(h, self.masked(fc.weight), fc.bias)
            if i < len(self.fcs) - 1:
                h = leaky(h)
        return h


class LeNet300(Masked):
    def __init__(self):
        super().__init__()
        self.fcs = nn.ModuleList([nn.Linear(784, 300), nn.Linear(300, 100), nn.Linear(100, 10)])

    def forward(self, x):
        return self.fc_chain(x)


class LeNet5(Masked):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, 5, padding=2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fcs = nn.ModuleList([nn.Linear(400, 120), nn.Linear(120, 84), nn.Linear(84, 10)])

    def forward(self, x):
        h = F.max_pool2d(leaky(F.conv2d(x, self.masked(self.conv1.weight), self.conv1.bias, padding=2)), 2)
        h = F.max_pool2d(leaky(F.conv2d(h, self.masked(self.conv2.weight), self.conv2.bias)), 2)
        return self.fc_chain(h)


class ResNet18(Masked):
    def __init__(self, width=64, classes=10):
        super().__init__()
        self.stem = nn.Conv2d(3, width, 7, 2, 3, bias=False)
        self.stem_bn = nn.BatchNorm2d(width)
        self.blocks = nn.ModuleList()
        c_in = width
        for s, mult in enumerate([1, 2, 4, 8]):
            for b in range(2):
                c_out = width * mult
                stride = 2 if s > 0 and b == 0 else 1
                blk = nn.Module()
                blk.stride = stride
                blk.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
                blk.bn1 = nn.BatchNorm2d(c_out)
                blk.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
                blk.bn2 = nn.BatchNorm2d(c_out)
                blk.down = None
                if stride != 1 or c_in != c_out:
                    blk.down = nn.Conv2d(c_in, c_out, 1, stride, bias=False)
                    blk.down_bn = nn.BatchNorm2d(c_out)
                self.blocks.append(blk)
                c_in = c_out
        self.fc = nn.Linear(c_in, classes)

    def conv(self, conv, x):
        return F.conv2d(x, self.masked(conv.weight), None, conv.stride, conv.padding)

    def forward(self, x):
        h = leaky(self.stem_bn(self.conv(self.stem, x)))
        h = F.max_pool2d(h, 3, 2, 1)
        for b in self.blocks:
            y = b.bn2(self.conv(b.conv2, leaky(b.bn1(self.conv(b.conv1, h)))))
            skip = b.down_bn(self.conv(b.down, h)) if b.down is not None else h
            h = leaky(y + skip)
        return F.linear(h.mean((2, 3)), self.masked(self.fc.weight), self.fc.bias)


MODELS = {'lenet300': (LeNet300, (1, 28, 28)), 'lenet5': (LeNet5, (1, 28, 28)), 'resnet18': (ResNet18, (3, 32, 32))}


def blas_library():
    """The BLAS shared library this process mapped (which implementation torch's matmul runs on)."""
    try:
        with open('/proc/self/maps') as f:
            libs = {line.split()[-1] for line in f if 'blas' in line.lower() and '.so' in line}
        return ', '.join(sorted(libs)) or 'none mapped'
    except OSError:
        return 'unknown'


def per_call(fn, seconds):
    fn()
    calls = 0
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < seconds or calls < 3:
        fn()
        calls += 1
    return (time.perf_counter() - t0) / calls


def masked_step(net, opt, x, y):
    """One masked training step: forward, loss, backward, gradient masked, SGD, W and momentum re-zeroed."""
    weight_masks = net.weight_masks()

    def step():
        net.train()
        opt.zero_grad(set_to_none=False)
        F.cross_entropy(net(x), y).backward()
        with torch.no_grad():
            for w, m in weight_masks:
                w.grad.mul_(m)
        opt.step()
        with torch.no_grad():
            for w, m in weight_masks:
                w.mul_(m)
                buf = opt.state[w].get('momentum_buffer')
                if buf is not None:
                    buf.mul_(m)
    return step


def check_forward_on_w(model, density, steps=5):
    """Trains `model` at `density` for `steps` steps with the forward pass on W and on W*M from
    the same start; the largest difference of any weight afterwards (float32 rounding only)."""
    make, shape = MODELS[model]
    nets = []
    for multiply in (False, True):
        torch.manual_seed(1)
        net = make()
        net.multiply_masks = multiply
        net.init_masks(density, 7)
        opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
        g = torch.Generator().manual_seed(3)
        x = torch.rand(16, *shape, generator=g)
        y = torch.arange(16) % 10
        step = masked_step(net, opt, x, y)
        for _ in range(steps):
            step()
        nets.append(net)
    diff = max((a - b).abs().max().item() for a, b in zip(nets[0].parameters(), nets[1].parameters()))
    zero = all(bool((w[m == 0] == 0).all()) for w, m in nets[0].weight_masks())
    return {'model': model, 'density': density, 'steps': steps, 'maxWeightDiff': diff, 'maskedWeightsZero': zero}


def main():
    if '--check' in sys.argv:
        results = [check_forward_on_w(m, d) for m in sorted(MODELS) for d in (1.0, 0.3)]
        ok = all(r['maxWeightDiff'] < 1e-5 and r['maskedWeightsZero'] for r in results)
        print(json.dumps({'check': 'forward on W equals forward on W*M', 'ok': ok, 'results': results}))
        sys.exit(0 if ok else 1)
    ap = argparse.ArgumentParser()
    ap.add_argument('--model', required=True, choices=sorted(MODELS))
    ap.add_argument('--seconds', type=float, default=3.0)
    ap.add_argument('--threads', type=int, default=1)
    ap.add_argument('--density', type=float, default=1.0)
    ap.add_argument('--batch', type=int, default=64)
    ap.add_argument('--default-allocator', action='store_true', help="glibc's moving mmap threshold (see the module doc)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(1)
    make, shape = MODELS[args.model]
    net = make()
    net.init_masks(args.density, 7)
    opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
    x = torch.rand(args.batch, *shape)
    y = torch.arange(args.batch) % 10
    train = per_call(masked_step(net, opt, x, y), args.seconds)
    net.eval()
    x1 = torch.rand(1, *shape)
    x128 = torch.rand(128, *shape)

    def infer(xb):
        with torch.no_grad():
            return F.softmax(net(xb), 1)

    i1 = per_call(lambda: infer(x1), args.seconds * 2 / 3)
    i128 = per_call(lambda: infer(x128), args.seconds * 2 / 3)
    # Attainable GEMM at the same thread count, as bench/throughput.ts measures ours:
    # the ceiling that compute-bound work of either library can reach.
    a = torch.randn(512, 512)
    b = torch.randn(512, 512)
    gemm = per_call(lambda: torch.mm(a, b), args.seconds / 3)
    print(json.dumps({
        'model': args.model, 'density': args.density, 'torch': torch.__version__, 'threads': torch.get_num_threads(),
        'blas': blas_library(), 'allocator': ALLOCATOR,
        'trainSamplesPerSec': args.batch / train, 'inferBatch1PerSec': 1 / i1, 'inferBatch128PerSec': 128 / i128,
        'gemmGflops': 2 * 512 ** 3 / gemm / 1e9,
    }))


if __name__ == '__main__':
    main()
