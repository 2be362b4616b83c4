"""One PyTorch benchmark cell, the reference for bench/run.ts:
    python3 bench/torch_bench.py <forward|pgd|train> <strides> <batch> <repeats> [warmup]
ResNet18 for CIFAR as in the paper's code, channels_last, torch.set_num_threads(2).
Prints one JSON line: {imagesPerSecond, medianMs, maxRssMiB, torch}."""
import json
import resource
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

what, strides, batch, repeats = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
warmup = int(sys.argv[5]) if len(sys.argv) > 5 else 3
torch.set_num_threads(2)
torch.manual_seed(0)


class Block(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.short = None
        if stride != 1 or cin != cout:
            self.short = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + (x if self.short is None else self.short(x)))


class ResNet18(nn.Module):
    def __init__(self, strides):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        layers, cin = [], 64
        for cout, s in zip((64, 128, 256, 512), strides):
            layers += [Block(cin, cout, s), Block(cout, cout, 1)]
            cin = cout
        self.layers = nn.Sequential(*layers)
        self.fc = nn.Linear(512, 10)
        self.register_buffer('mean', torch.tensor([0.4914, 0.4824, 0.4467]).view(1, 3, 1, 1))
        self.register_buffer('std', torch.tensor([0.2471, 0.2435, 0.2617]).view(1, 3, 1, 1))

    def forward(self, x):
        x = (x - self.mean) / self.std
        x = self.layers(F.relu(self.bn1(self.conv1(x))))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


model = ResNet18([int(c) for c in strides.replace('-', '')]).to(memory_format=torch.channels_last)
x = torch.rand(batch, 3, 32, 32).contiguous(memory_format=torch.channels_last)
y = torch.randint(0, 10, (batch,))
optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)


def forward():
    model.eval()
    with torch.no_grad():
        model(x)


def pgd():
    model.eval()
    xa = x.clone().requires_grad_(True)
    loss = F.cross_entropy(model(xa), y)
    torch.autograd.grad(loss, xa)


def train():
    model.train()
    optimizer.zero_grad()
    F.cross_entropy(model(x), y).backward()
    optimizer.step()


fn = {'forward': forward, 'pgd': pgd, 'train': train}[what]
for _ in range(warmup):
    fn()
times = []
for _ in range(repeats):
    start = time.perf_counter()
    fn()
    times.append((time.perf_counter() - start) * 1000)
ms = statistics.median(times)
print(json.dumps({'imagesPerSecond': batch * 1000 / ms, 'medianMs': ms,
                  'maxRssMiB': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 'torch': torch.__version__}))
