#!/usr/bin/python3
"""Dev script, step 2 of scripts/make-torch-fixture.sh: PyTorch reference values for the tests.

Builds the paper's architectures in PyTorch as its code defines them (facts in
shared/reference/rcm-reference.md: github.com/MTandHJ/rcm, models/cifar_resnet.py, preactresnet.py,
vgg.py, alexnet.py, wide_resnet.py; the wrapper normalises, then interpolates), with a width multiplier
for narrow copies. Then:

  1. parameter counts of the full-size networks (10 classes);
  2. for each case exported by scripts/export-tfjs-models.ts: loads the tfjs weights with
     load_state_dict(strict=True) (names and shapes must match exactly) and computes eval-mode logits;
  3. F.interpolate outputs and input gradients for the Upsample layer;
  4. nn.BatchNorm2d training-mode outputs and running statistics for the BatchNorm2d layer.

Writes test/fixtures/torch-reference.json. Needs Debian's python3-torch (apt-get install python3-torch),
which installs for /usr/bin/python3.
"""
import base64
import datetime
import json
import math
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.set_num_threads(2)
CIFAR10 = ((0.4914, 0.4824, 0.4467), (0.2471, 0.2435, 0.2617))


def scale(c, width):
    return max(1, int(math.floor(c * width + 0.5)))


def parse_strides(s):
    return [int(v) for v in (s.split('-') if '-' in s else list(s))]


def global_pool(kind):
    return nn.AdaptiveAvgPool2d((1, 1)) if kind == 'avg' else nn.AdaptiveMaxPool2d((1, 1))


class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU()
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        identity = x if self.downsample is None else self.downsample(x)
        return self.relu(out + identity)


class ResNet18(nn.Module):
    def __init__(self, num_classes, strides, width, pooling):
        super().__init__()
        c = [scale(v, width) for v in (64, 128, 256, 512)]
        self.conv1 = nn.Conv2d(3, c[0], 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c[0])
        self.relu = nn.ReLU()
        cin = c[0]
        for i in range(4):
            blocks = [BasicBlock(cin, c[i], strides[i]), BasicBlock(c[i], c[i], 1)]
            setattr(self, f'layer{i + 1}', nn.Sequential(*blocks))
            cin = c[i]
        self.pool = global_pool(pooling)
        self.fc = nn.Linear(cin, num_classes)

    def forward(self, x):
        x = self.relu(self.bn1(self.conv1(x)))
        for i in range(4):
            x = getattr(self, f'layer{i + 1}')(x)
        return self.fc(torch.flatten(self.pool(x), 1))


class PreActBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(cin)
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False))

    def forward(self, x):
        out = F.relu(self.bn1(x))
        shortcut = self.shortcut(out) if hasattr(self, 'shortcut') else x
        out = self.conv1(out)
        out = self.conv2(F.relu(self.bn2(out)))
        return out + shortcut


class PreActResNet18(nn.Module):
    def __init__(self, num_classes, strides, width, pooling):
        super().__init__()
        c = [scale(v, width) for v in (64, 128, 256, 512)]
        self.conv1 = nn.Conv2d(3, c[0], 3, 1, 1, bias=False)
        cin = c[0]
        for i in range(4):
            setattr(self, f'layer{i + 1}', nn.Sequential(PreActBlock(cin, c[i], strides[i]), PreActBlock(c[i], c[i], 1)))
            cin = c[i]
        self.bn = nn.BatchNorm2d(cin)
        self.pool = global_pool(pooling)
        self.fc = nn.Linear(cin, num_classes)

    def forward(self, x):
        x = self.conv1(x)
        for i in range(4):
            x = getattr(self, f'layer{i + 1}')(x)
        x = F.relu(self.bn(x))
        return self.fc(torch.flatten(self.pool(x), 1))


VGG_D = [64, 64, 'M', 128, 128, 'M', 256, 256, 256, 'M', 512, 512, 512, 'M', 512, 512, 512, 'M']


class VGG16(nn.Module):
    def __init__(self, num_classes, strides, width, pooling):
        super().__init__()
        layers, cin, it = [], 3, iter(strides)
        for v in VGG_D:
            if v == 'M':
                s = next(it)
                if s > 1:
                    layers.append(nn.MaxPool2d(2, s))
            else:
                v = scale(v, width)
                layers += [nn.Conv2d(cin, v, 3, padding=1), nn.BatchNorm2d(v), nn.ReLU()]
                cin = v
        self.features = nn.Sequential(*layers)
        self.pool = global_pool(pooling)
        h = scale(256, width)
        self.classifier = nn.Sequential(nn.Linear(cin, h), nn.ReLU(), nn.Dropout(), nn.Linear(h, h), nn.ReLU(),
                                        nn.Dropout(), nn.Linear(h, num_classes))

    def forward(self, x):
        return self.classifier(torch.flatten(self.pool(self.features(x)), 1))


class AlexNet(nn.Module):
    def __init__(self, num_classes, strides, width, pooling):
        super().__init__()
        s = strides
        c = [scale(v, width) for v in (64, 192, 384, 256, 256)]
        self.features = nn.Sequential(
            nn.Conv2d(3, c[0], 5, s[0], 2), nn.ReLU(), nn.MaxPool2d(2, s[1]),
            nn.Conv2d(c[0], c[1], 5, padding=2), nn.ReLU(), nn.MaxPool2d(2, s[2]),
            nn.Conv2d(c[1], c[2], 3, padding=1), nn.ReLU(),
            nn.Conv2d(c[2], c[3], 3, padding=1), nn.ReLU(),
            nn.Conv2d(c[3], c[4], 3, padding=1), nn.ReLU(), nn.MaxPool2d(2, s[3]))
        self.pool = global_pool(pooling)
        h = scale(512, width)
        self.classifier = nn.Sequential(nn.Dropout(), nn.Linear(c[4], h), nn.ReLU(), nn.Dropout(), nn.Linear(h, h),
                                        nn.ReLU(), nn.Linear(h, num_classes))

    def forward(self, x):
        return self.classifier(torch.flatten(self.pool(self.features(x)), 1))


class WideBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(cin)
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.equal = cin == cout
        self.convShortcut = None if self.equal else nn.Conv2d(cin, cout, 1, stride, 0, bias=False)

    def forward(self, x):
        if self.equal:
            out = F.relu(self.bn1(x))
            out = self.conv2(F.relu(self.bn2(self.conv1(out))))
            return x + out
        x = F.relu(self.bn1(x))
        out = self.conv2(F.relu(self.bn2(self.conv1(x))))
        return self.convShortcut(x) + out


class Stage(nn.Module):
    def __init__(self, n, cin, cout, stride):
        super().__init__()
        self.layer = nn.Sequential(*[WideBlock(cin if i == 0 else cout, cout, stride if i == 0 else 1) for i in range(n)])

    def forward(self, x):
        return self.layer(x)


class WideResNet(nn.Module):
    def __init__(self, num_classes, strides, width, pooling, depth=34, widen=10):
        super().__init__()
        n = (depth - 4) // 6
        c = [scale(16, width)] + [scale(b * widen, width) for b in (16, 32, 64)]
        self.conv1 = nn.Conv2d(3, c[0], 3, 1, 1, bias=False)
        self.block1 = Stage(n, c[0], c[1], strides[0])
        self.block2 = Stage(n, c[1], c[2], strides[1])
        self.block3 = Stage(n, c[2], c[3], strides[2])
        self.bn1 = nn.BatchNorm2d(c[3])
        self.pool = global_pool(pooling)
        self.fc = nn.Linear(c[3], num_classes)

    def forward(self, x):
        x = self.block3(self.block2(self.block1(self.conv1(x))))
        x = F.relu(self.bn1(x))
        return self.fc(torch.flatten(self.pool(x), 1))


DEFAULT_STRIDES = {'resnet18': '1222', 'preActResNet18': '1222', 'vgg16': '22222', 'alexnet': '2222', 'wideResNet': '122'}


def build(arch, options):
    strides = parse_strides(options.get('strides', DEFAULT_STRIDES[arch]))
    args = (options.get('numClasses', 10), strides, options.get('width', 1.0), options.get('pooling', 'avg'))
    if arch == 'resnet18':
        return ResNet18(*args)
    if arch == 'preActResNet18':
        return PreActResNet18(*args)
    if arch == 'vgg16':
        return VGG16(*args)
    if arch == 'alexnet':
        return AlexNet(*args)
    if arch == 'wideResNet':
        return WideResNet(*args, depth=options.get('depth', 34), widen=options.get('widenFactor', 10))
    raise ValueError(arch)


class Wrapper(nn.Module):
    """The reference's model wrapper: normalise, then interpolate, then the network."""

    def __init__(self, net, options):
        super().__init__()
        self.net = net
        stats = options.get('normalize', {'mean': CIFAR10[0], 'std': CIFAR10[1]})
        self.stats = None if stats is False else (torch.tensor(stats['mean']).view(1, -1, 1, 1),
                                                  torch.tensor(stats['std']).view(1, -1, 1, 1))
        self.upsample = options.get('upsample')

    def forward(self, x):
        if self.stats is not None:
            x = (x - self.stats[0]) / self.stats[1]
        if self.upsample:
            x = F.interpolate(x, scale_factor=self.upsample['scale'], mode=self.upsample.get('mode', 'nearest'))
        return self.net(x)


def decode(entry):
    return torch.from_numpy(np.frombuffer(base64.b64decode(entry['data']), dtype=np.float32).copy()).reshape(entry['shape'])


def encode(t):
    return base64.b64encode(np.ascontiguousarray(t.detach().numpy(), dtype=np.float32).tobytes()).decode()


def nhwc_to_nchw(t):
    return t.permute(0, 3, 1, 2).contiguous()


def nchw_to_nhwc(t):
    return t.permute(0, 2, 3, 1).contiguous()


def load_model(case):
    """The reference model of a fixture case ({arch, options, stateDict}), wrapped and in eval mode."""
    net = build(case['arch'], case['options'])
    state = {k: decode(v) for k, v in case['stateDict'].items()}
    for k, v in net.state_dict().items():
        if k.endswith('num_batches_tracked'):
            state[k] = v
    net.load_state_dict(state, strict=True)
    return Wrapper(net, case['options']).eval()


def model_cases(path):
    with open(path) as f:
        cases = json.load(f)['cases']
    out = []
    for case in cases:
        model = load_model(case)
        x = nhwc_to_nchw(decode(case['input'])).requires_grad_(True)
        labels = torch.tensor(case['labels'])
        logits = model(x)
        # What attacks need: the input gradient of the summed cross-entropy, in inference mode.
        F.cross_entropy(logits, labels, reduction='sum').backward()
        entry = {'id': case['id'], 'arch': case['arch'], 'options': case['options'],
                 'stateDict': case['stateDict'], 'input': case['input'], 'labels': case['labels'],
                 'logits': {'shape': list(logits.shape), 'data': encode(logits)},
                 'inputGrad': {'shape': case['input']['shape'], 'data': encode(nchw_to_nhwc(x.grad))}}
        if case.get('attacks'):
            entry['attacks'] = attack_results(model, nhwc_to_nchw(decode(case['input'])), labels)
        if case['arch'] not in ('vgg16', 'alexnet'):  # no dropout: training mode is deterministic
            # (last: a training-mode forward updates the running statistics)
            model.train()
            with torch.no_grad():
                train_logits = model(x)
            entry['trainLogits'] = {'shape': list(train_logits.shape), 'data': encode(train_logits)}
        out.append(entry)
        print(f"{case['id']}: logits max |.| {logits.abs().max():.3f}", file=sys.stderr)
    return out


def pgd(model, x0, labels, eps, norm, steps, rel_stepsize):
    """foolbox 3.3.1 LinfPGD / L2PGD without random start: x += step * dir(grad of summed CE),
    project to the eps-ball, clip to [0, 1]; the last iterate."""
    step = rel_stepsize * eps
    x = x0.clone()
    for _ in range(steps):
        x = x.detach().requires_grad_(True)
        loss = F.cross_entropy(model(x), labels, reduction='sum')
        (g,) = torch.autograd.grad(loss, x)
        if norm == 'linf':
            x = x + step * g.sign()
            x = x0 + (x - x0).clamp(-eps, eps)
        else:
            n = g.flatten(1).norm(dim=1).clamp(min=1e-12).view(-1, 1, 1, 1)
            x = x + step * g / n
            d = x - x0
            dn = d.flatten(1).norm(dim=1).clamp(min=1e-12).view(-1, 1, 1, 1)
            x = x0 + d * torch.clamp(eps / dn, max=1.0)
        x = x.clamp(0, 1)
    return x.detach()


def deepfool(model, x0, labels, norm, steps=50, candidates=10, overshoot=0.02):
    """foolbox 3.3.1 DeepFoolAttack (loss 'logits'), returning the raw (unclipped-to-eps) result."""
    with torch.no_grad():
        logits = model(x0)
    k = min(candidates, logits.shape[-1])
    classes = logits.argsort(dim=-1, descending=True)[:, :k]
    rows = torch.arange(len(x0))
    x = x0.clone()
    p_total = torch.zeros_like(x0)
    for _ in range(steps):
        losses, grads = [], []
        for j in range(1, k):
            xg = x.detach().requires_grad_(True)
            z = model(xg)
            diff = z[rows, classes[:, j]] - z[rows, classes[:, 0]]
            (g,) = torch.autograd.grad(diff.sum(), xg)
            if j == 1:
                is_adv = z.argmax(dim=1) != labels
            losses.append(diff.detach())
            grads.append(g)
        if bool(is_adv.all()):
            break
        losses = torch.stack(losses, 1)
        grads = torch.stack(grads, 1)
        flat = grads.flatten(2)
        dual = flat.abs().sum(-1) if norm == 'linf' else flat.norm(dim=-1)
        distances = losses.abs() / (dual + 1e-8)
        best = distances.argmin(dim=1)
        d = distances[rows, best] + 1e-4
        g = grads[rows, best]
        if norm == 'linf':
            p_step = d.view(-1, 1, 1, 1) * g.sign()
        else:
            p_step = (d / (g.flatten(1).norm(dim=1) + 1e-8)).view(-1, 1, 1, 1) * g
        p_total = p_total + p_step
        x = torch.where(is_adv.view(-1, 1, 1, 1), x, x0 + (1.0 + overshoot) * p_total).clamp(0, 1)
    return x.detach()


def attack_results(model, x0, labels):
    out = {}
    for name, fn in [
        ('pgdLinf', lambda: pgd(model, x0, labels, 8 / 255, 'linf', 10, 0.25)),
        ('pgdL2', lambda: pgd(model, x0, labels, 0.5, 'l2', 5, 0.25)),
        ('deepfoolLinf', lambda: deepfool(model, x0, labels, 'linf')),
        ('deepfoolL2', lambda: deepfool(model, x0, labels, 'l2')),
    ]:
        adv = fn()
        with torch.no_grad():
            pred = model(adv).argmax(dim=1)
        out[name] = {'adversarial': {'shape': list(nchw_to_nhwc(adv).shape), 'data': encode(nchw_to_nhwc(adv))},
                     'predictions': pred.tolist()}
    return out


def upsample_cases():
    g = torch.Generator().manual_seed(11)
    x = torch.rand(2, 3, 5, 7, generator=g)
    out = []
    for mode, factor in [('nearest', 2), ('bilinear', 2), ('nearest', 3), ('bilinear', 3), ('nearest', 1.5),
                         ('bilinear', 1.3), ('bilinear', 0.5), ('nearest', 1)]:
        xi = x.clone().requires_grad_(True)
        y = F.interpolate(xi, scale_factor=factor, mode=mode)
        weights = torch.rand(y.shape, generator=g)
        (y * weights).sum().backward()
        out.append({'mode': mode, 'scale': factor,
                    'input': {'shape': [2, 5, 7, 3], 'data': encode(nchw_to_nhwc(x))},
                    'output': {'shape': list(nchw_to_nhwc(y).shape), 'data': encode(nchw_to_nhwc(y))},
                    'outputWeights': {'shape': list(nchw_to_nhwc(weights).shape), 'data': encode(nchw_to_nhwc(weights))},
                    'inputGrad': {'shape': [2, 5, 7, 3], 'data': encode(nchw_to_nhwc(xi.grad))}})
    return out


def batch_norm_case():
    g = torch.Generator().manual_seed(12)
    bn = nn.BatchNorm2d(4)
    with torch.no_grad():
        bn.weight.copy_(torch.rand(4, generator=g) + 0.5)
        bn.bias.copy_(torch.rand(4, generator=g) - 0.5)
    x1 = torch.randn(3, 4, 5, 5, generator=g) * 2 + 1
    x2 = torch.randn(3, 4, 5, 5, generator=g) * 0.5 - 1
    bn.train()
    x1g = x1.clone().requires_grad_(True)
    y1 = bn(x1g)
    weights = torch.rand(y1.shape, generator=g)
    (y1 * weights).sum().backward()
    y2 = bn(x2)
    bn.eval()
    with torch.no_grad():
        y3 = bn(x1)
    return {'gamma': bn.weight.tolist(), 'beta': bn.bias.tolist(),
            'inputs': [{'shape': [3, 5, 5, 4], 'data': encode(nchw_to_nhwc(x))} for x in (x1, x2)],
            'trainOutputs': [{'shape': [3, 5, 5, 4], 'data': encode(nchw_to_nhwc(y))} for y in (y1, y2)],
            'outputWeights': {'shape': [3, 5, 5, 4], 'data': encode(nchw_to_nhwc(weights))},
            'inputGrad': {'shape': [3, 5, 5, 4], 'data': encode(nchw_to_nhwc(x1g.grad))},
            'gammaGrad': bn.weight.grad.tolist(), 'betaGrad': bn.bias.grad.tolist(),
            'runningMean': bn.running_mean.tolist(), 'runningVar': bn.running_var.tolist(),
            'evalOutput': {'shape': [3, 5, 5, 4], 'data': encode(nchw_to_nhwc(y3))}}


def param_counts():
    count = lambda m: sum(p.numel() for p in m.parameters() if p.requires_grad)
    return {
        'resnet18': count(ResNet18(10, [1, 2, 2, 2], 1.0, 'avg')),
        'preActResNet18': count(PreActResNet18(10, [1, 2, 2, 2], 1.0, 'avg')),
        'vgg16': count(VGG16(10, [2, 2, 2, 2, 2], 1.0, 'avg')),
        'alexnet': count(AlexNet(10, [2, 2, 2, 2], 1.0, 'avg')),
        'wideResNet': count(WideResNet(10, [1, 2, 2], 1.0, 'avg')),
    }


def main():
    src = sys.argv[1] if len(sys.argv) > 1 else 'scripts/.cache/tfjs-models.json'
    dst = sys.argv[2] if len(sys.argv) > 2 else 'test/fixtures/torch-reference.json'
    fixture = {
        'provenance': {
            'script': 'scripts/make-torch-fixture.sh (scripts/export-tfjs-models.ts, then scripts/torch_reference.py)',
            'torch': torch.__version__,
            'python': sys.version.split()[0],
            'date': datetime.date.today().isoformat(),
            'layout': 'tensors are {shape, data: base64 float32 little-endian}; images NHWC; stateDict in PyTorch layout',
        },
        'paramCounts': param_counts(),
        'models': model_cases(src),
        'upsample': upsample_cases(),
        'batchNorm': batch_norm_case(),
    }
    with open(dst, 'w') as f:
        json.dump(fixture, f)
    print(f"wrote {dst}: {len(fixture['models'])} models, param counts {fixture['paramCounts']}", file=sys.stderr)


if __name__ == '__main__':
    main()
