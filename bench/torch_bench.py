"""The PyTorch side of bench/run.ts: ResNet18 throughput cells, one after another in this process.
    python3 bench/torch_bench.py --cells forward@1-2-2-2,pgd@1-2-2-2 [--batch 32] [--repeats 5] [--warmup 3]
        [--format channels_last|contiguous] [--threads N] [--forward inference_mode|no_grad]
`--cells -` reads one cell per line from stdin and answers each with its line (how bench/run.ts keeps a
warm process beside ours).
ResNet18 for CIFAR as in the paper's code. Defaults: channels_last, torch.set_num_threads(os.cpu_count())
(PyTorch 1.13 takes one thread on the 2-core development machine by itself), forward passes under
torch.inference_mode(), oneDNN (torch.backends.mkldnn) on as PyTorch ships it. Each cell builds its model,
runs `warmup` untimed steps and `repeats` timed ones; prints one JSON line per cell: {cell,
imagesPerSecond, medianMs, cpuMs (the process's CPU time per step, all threads), maxRssMiB (the process's
peak so far), torch, threads, format, forward, mkldnn}."""
import argparse
import json
import os
import resource
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

parser = argparse.ArgumentParser()
parser.add_argument('--cells', required=True, help="comma-separated what@strides (what: forward, pgd, train), or '-': from stdin")
parser.add_argument('--batch', type=int, default=32)
parser.add_argument('--repeats', type=int, default=5)
parser.add_argument('--warmup', type=int, default=3)
parser.add_argument('--format', choices=['channels_last', 'contiguous'], default='channels_last')
parser.add_argument('--threads', type=int, default=os.cpu_count(), help="torch.set_num_threads (default os.cpu_count()); 0: PyTorch's own default")
parser.add_argument('--forward', choices=['inference_mode', 'no_grad'], default='inference_mode')
args = parser.parse_args()
if args.threads > 0:
    torch.set_num_threads(args.threads)
memory_format = torch.channels_last if args.format == 'channels_last' else torch.contiguous_format


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


def cell(what, strides):
    """The step function of one cell, on a new model and batch."""
    torch.manual_seed(0)
    model = ResNet18([int(c) for c in strides.replace('-', '')]).to(memory_format=memory_format)
    x = torch.rand(args.batch, 3, 32, 32).contiguous(memory_format=memory_format)
    y = torch.randint(0, 10, (args.batch,))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    no_grad = torch.inference_mode if args.forward == 'inference_mode' else torch.no_grad

    def forward():
        model.eval()
        with no_grad():
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

    return {'forward': forward, 'pgd': pgd, 'train': train}[what]


def measure(spec):
    what, strides = spec.split('@')
    fn = cell(what, strides)
    for _ in range(args.warmup):
        fn()
    times, cpu = [], []
    for _ in range(args.repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        fn()
        times.append((time.perf_counter() - start) * 1000)
        cpu.append((time.process_time() - start_cpu) * 1000)
    ms = statistics.median(times)
    print(json.dumps({'cell': spec, 'imagesPerSecond': args.batch * 1000 / ms, 'medianMs': ms, 'cpuMs': statistics.median(cpu),
                      'maxRssMiB': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                      'torch': torch.__version__, 'threads': torch.get_num_threads(), 'format': args.format,
                      'forward': args.forward, 'mkldnn': torch.backends.mkldnn.is_available() and torch.backends.mkldnn.enabled}),
          flush=True)


for spec in (line.strip() for line in iter(sys.stdin.readline, '')) if args.cells == '-' else args.cells.split(','):
    if spec:
        measure(spec)
