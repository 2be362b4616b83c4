#!/usr/bin/python3
"""Dev script: a few epochs of TRADES in PyTorch, as an independent check of how training goes.

The paper's ResNet18 (scripts/torch_reference.py: its code's definition, normalising wrapper) with
He-normal (fan_out) convolutions as rmc-robust's, trained the way rmc-robust's trainer does it
(shared/reference/rcm-reference.md): TRADES beta 6, the adversary by KL-PGD-10 (step 0.007, eps 8/255,
start x + 0.001 * N(0, 1)) in eval mode, the loss CE(nat) + 6 * KL(p_nat || p_adv) (batchmean) in train
mode, SGD lr 0.1 momentum 0.9 weight decay 5e-4, batch 128, reflect-pad-4 crop and flip. Prints each
epoch's mean training loss and the natural accuracy of the first 1,000 test images, to compare with a
sweep run's loss history (`losses` in its result.json).

  /usr/bin/python3 scripts/torch_trades_train.py --data data/cifar10 --strides 1-1-2-2 --pooling max \\
      --width 0.125 --train-size 10000 --epochs 3 --seed 0

Needs Debian's python3-torch (apt-get install python3-torch) and the CIFAR-10 binary version
(`rmc-robust prepare --dir data/cifar10`).
"""
import argparse
import os
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_reference import CIFAR10, ResNet18, parse_strides  # noqa: E402


def read_cifar10(path, count):
    raw = np.fromfile(path, dtype=np.uint8).reshape(-1, 3073)[:count]
    labels = torch.from_numpy(raw[:, 0].astype(np.int64))
    images = torch.from_numpy(raw[:, 1:].reshape(-1, 3, 32, 32).astype(np.float32) / 255.0)
    return images, labels


class Normalised(nn.Module):
    def __init__(self, net):
        super().__init__()
        self.net = net
        self.register_buffer('mean', torch.tensor(CIFAR10[0]).view(1, 3, 1, 1))
        self.register_buffer('std', torch.tensor(CIFAR10[1]).view(1, 3, 1, 1))

    def forward(self, x):
        return self.net((x - self.mean) / self.std)


def augment(x, generator):
    padded = F.pad(x, (4, 4, 4, 4), mode='reflect')
    n = x.shape[0]
    out = torch.empty_like(x)
    offsets = torch.randint(0, 9, (n, 2), generator=generator)
    flips = torch.rand(n, generator=generator) < 0.5
    for i in range(n):
        dy, dx = int(offsets[i, 0]), int(offsets[i, 1])
        crop = padded[i, :, dy:dy + 32, dx:dx + 32]
        out[i] = crop.flip(2) if flips[i] else crop
    return out


def trades_adversary(model, x, eps=8 / 255, step=0.007, steps=10):
    model.eval()
    with torch.no_grad():
        p_nat = F.softmax(model(x), dim=1)
    x_adv = (x + 0.001 * torch.randn_like(x)).detach()
    for _ in range(steps):
        x_adv.requires_grad_(True)
        loss = F.kl_div(F.log_softmax(model(x_adv), dim=1), p_nat, reduction='sum')
        grad, = torch.autograd.grad(loss, x_adv)
        x_adv = x_adv.detach() + step * grad.sign()
        x_adv = torch.min(torch.max(x_adv, x - eps), x + eps).clamp(0, 1)
    model.train()
    return x_adv.detach()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--data', required=True)
    parser.add_argument('--strides', default='1-2-2-2')
    parser.add_argument('--pooling', default='avg', choices=['avg', 'max'])
    parser.add_argument('--width', type=float, default=0.125)
    parser.add_argument('--train-size', type=int, default=10000)
    parser.add_argument('--test-size', type=int, default=1000)
    parser.add_argument('--epochs', type=int, default=3)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--threads', type=int, default=1)
    a = parser.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    generator = torch.Generator().manual_seed(a.seed)
    if not 1 <= a.train_size <= 10000:
        sys.exit('--train-size: 1 to 10000 (the first training batch file)')
    x_train, y_train = read_cifar10(os.path.join(a.data, 'data_batch_1.bin'), a.train_size)
    x_test, y_test = read_cifar10(os.path.join(a.data, 'test_batch.bin'), a.test_size)
    net = ResNet18(10, parse_strides(a.strides), a.width, a.pooling)
    for m in net.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode='fan_out', nonlinearity='relu')
    model = Normalised(net)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=5e-4)
    print(f'resnet18 {a.strides} {a.pooling} width {a.width}, seed {a.seed}, {a.train_size} images, TRADES', flush=True)
    for epoch in range(a.epochs):
        model.train()
        order = torch.randperm(a.train_size, generator=generator)
        total, batches = 0.0, 0
        for start in range(0, a.train_size, 128):
            index = order[start:start + 128]
            x = augment(x_train[index], generator)
            y = y_train[index]
            x_adv = trades_adversary(model, x)
            logits_nat = model(x)
            kl = F.kl_div(F.log_softmax(model(x_adv), dim=1), F.softmax(logits_nat, dim=1), reduction='sum') / len(y)
            loss = F.cross_entropy(logits_nat, y) + 6.0 * kl
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += float(loss)
            batches += 1
        model.eval()
        with torch.no_grad():
            natural = float((model(x_test).argmax(1) == y_test).float().mean()) * 100
        print(f'epoch {epoch + 1}: mean loss {total / batches:.4f}, natural accuracy {natural:.1f}%', flush=True)


if __name__ == '__main__':
    main()
