#!/usr/bin/env python3
"""PyTorch's accuracy on the same data and recipe as bonsai's dense training (bench/torch-accuracy.ts).

Reads a folder written by bench/torch-accuracy.ts: train.x / test.x (float32, n x 784, pixels in
[0, 1]), train.y / test.y (int32 labels) and recipe.json. Trains the recipe's network from
scratch with the same recipe as bonsai's Trainer: He-normal weights truncated at two standard
deviations (tf.truncatedNormal), zero biases, leaky ReLU 0.01, softmax cross-entropy, SGD with
momentum, mini-batches of the shuffled training set, the learning rate cosine-annealed per epoch
from `lr` to `lr * minFactor` (core/update/strategies.ts scheduledRate), no augmentation.
Prints one JSON line: the test error after training and the seconds it took.

usage: torch_accuracy.py DIR --model lenet300|lenet5 --seed S [--threads N]
"""
import argparse
import json
import math
import os
import sys
import time

import numpy as np

try:
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
except ImportError as err:  # pragma: no cover - reported to the caller
    print(json.dumps({'error': f'torch is not importable: {err}'}))
    sys.exit(3)


def he_truncated(shape, fan_in):
    """N(0, 2 / fan_in) truncated at two standard deviations, as tf.truncatedNormal (torch's global seed)."""
    std = math.sqrt(2 / fan_in)
    return nn.init.trunc_normal_(torch.empty(shape), 0.0, std, -2 * std, 2 * std)


def he_init(layer, fan_in):
    """He-normal weights (truncated) and zero biases, in place."""
    with torch.no_grad():
        layer.weight.copy_(he_truncated(layer.weight.shape, fan_in))
        layer.bias.zero_()


def fc_chain(fcs, h):
    """The fully connected layers on the flattened `h`, leaky ReLU between them."""
    h = h.reshape(h.shape[0], -1)
    for i, fc in enumerate(fcs):
        h = fc(h)
        if i < len(fcs) - 1:
            h = F.leaky_relu(h, 0.01)
    return h


class LeNet300(nn.Module):
    def __init__(self):
        super().__init__()
        self.fcs = nn.ModuleList([nn.Linear(784, 300), nn.Linear(300, 100), nn.Linear(100, 10)])
        for fc in self.fcs:
            he_init(fc, fc.in_features)

    def forward(self, x):
        return fc_chain(self.fcs, x)


class LeNet5(nn.Module):
    """bonsai's LeNet-5: conv 6@5x5 same, max pool, conv 16@5x5 valid, max pool, 400-120-84-10."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, 5, padding=2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fcs = nn.ModuleList([nn.Linear(400, 120), nn.Linear(120, 84), nn.Linear(84, 10)])
        for conv in (self.conv1, self.conv2):
            he_init(conv, conv.in_channels * 25)
        for fc in self.fcs:
            he_init(fc, fc.in_features)

    def forward(self, x):
        h = F.max_pool2d(F.leaky_relu(self.conv1(x), 0.01), 2)
        h = F.max_pool2d(F.leaky_relu(self.conv2(h), 0.01), 2)
        # bonsai flattens NHWC; the order of a flatten does not change what the network can learn.
        return fc_chain(self.fcs, h)


def load(folder, part):
    x = np.fromfile(os.path.join(folder, f'{part}.x'), dtype=np.float32).reshape(-1, 1, 28, 28)
    y = np.fromfile(os.path.join(folder, f'{part}.y'), dtype=np.int32).astype(np.int64)
    return torch.from_numpy(x), torch.from_numpy(y)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('dir')
    ap.add_argument('--model', required=True, choices=['lenet300', 'lenet5'])
    ap.add_argument('--seed', type=int, required=True)
    ap.add_argument('--threads', type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    with open(os.path.join(args.dir, 'recipe.json')) as f:
        recipe = json.load(f)
    torch.manual_seed(args.seed)
    g = torch.Generator().manual_seed(args.seed)
    net = (LeNet300 if args.model == 'lenet300' else LeNet5)()
    xtr, ytr = load(args.dir, 'train')
    xte, yte = load(args.dir, 'test')
    base, epochs, batch = recipe['learningRate'], recipe['epochs'], recipe['batchSize']
    opt = torch.optim.SGD(net.parameters(), lr=base, momentum=recipe['momentum'])
    t0 = time.perf_counter()
    for e in range(epochs):
        lo = base * recipe['minLearningRateFactor']
        lr = base if epochs <= 1 else lo + (base - lo) * 0.5 * (1 + math.cos(math.pi * e / (epochs - 1)))
        for group in opt.param_groups:
            group['lr'] = lr
        net.train()
        order = torch.randperm(xtr.shape[0], generator=g)
        for i in range(0, xtr.shape[0], batch):
            idx = order[i:i + batch]
            opt.zero_grad(set_to_none=True)
            F.cross_entropy(net(xtr[idx]), ytr[idx]).backward()
            opt.step()
    seconds = time.perf_counter() - t0
    net.eval()
    with torch.no_grad():
        wrong = sum(int((net(xte[i:i + 500]).argmax(1) != yte[i:i + 500]).sum()) for i in range(0, xte.shape[0], 500))
    print(json.dumps({'model': args.model, 'seed': args.seed, 'testError': wrong / xte.shape[0], 'trainSeconds': seconds, 'torch': torch.__version__}))


if __name__ == '__main__':
    main()
