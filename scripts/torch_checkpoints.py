#!/usr/bin/python3
"""Dev script of scripts/make-torch-checkpoints.sh: the PyTorch checkpoint fixtures of issue #17.

  write   torch.save()s narrow copies of the reference definitions (scripts/torch_reference.py) and of
          RobustBench's layouts (facts read from robustbench/model_zoo/architectures/{resnet,wide_resnet}.py
          and cifar10.py) in the ways users have them: plain state dicts (the paper's `paras.pt`), its
          resumable `{'model', 'optimizer', 'lr_scheduler', 'epoch'}` dict, `{'state_dict'}` and
          `{'model_state_dict'}` wrappers, DataParallel's `module.` prefixes, float16 / bfloat16 /
          float64 weights, views into shared storages, pickle protocol 4; plus files that must be refused:
          the legacy (pre-1.6) format, a TorchScript archive and two malicious pickles that would call
          os.system. Also a safetensors file written from PyTorch (by this script's own writer:
          `safetensors` is not in Debian). Writes manifest.json with the inputs and PyTorch's logits.
  verify  reads from-tfjs.safetensors (written by scripts/export-safetensors-fixture.ts with the
          package's exportSafetensors) with this script's own reader, checks every tensor is identical to
          the state dict it came from, loads it into the PyTorch model with load_state_dict(strict=True)
          and checks the logits; records the check in the manifest.

Needs Debian's python3-torch (apt-get install python3-torch), which installs for /usr/bin/python3.
Nothing here unpickles the malicious files: they are written with pickle, never loaded.
"""
import base64
import collections
import datetime
import hashlib
import io
import json
import math
import os
import struct
import sys
import zipfile

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_reference import PreActBlock, Stage, Wrapper, build, scale  # noqa: E402

OUT = 'test/fixtures/torch-checkpoints'
MARKER = '/tmp/rmc-robust-torch-import-pwned'


def encode(t):
    return base64.b64encode(t.detach().contiguous().float().numpy().tobytes()).decode()


def nchw_to_nhwc(t):
    return t.permute(0, 2, 3, 1).contiguous()


# ---- RobustBench layouts (the modules as robustbench's architectures define them, width-scaled) ----

class RBBasicBlock(nn.Module):
    """robustbench resnet.py BasicBlock: shortcut = Sequential(conv1x1, BN) named `shortcut`."""

    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.shortcut = nn.Sequential()
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))


class RBResNet18(nn.Module):
    """robustbench resnet.py ResNet(BasicBlock, [2, 2, 2, 2]): classifier `linear`, F.avg_pool2d(out, 4)."""

    def __init__(self, num_classes, width):
        super().__init__()
        c = [scale(v, width) for v in (64, 128, 256, 512)]
        self.conv1 = nn.Conv2d(3, c[0], 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c[0])
        cin = c[0]
        for i, s in enumerate((1, 2, 2, 2)):
            setattr(self, f'layer{i + 1}', nn.Sequential(RBBasicBlock(cin, c[i], s), RBBasicBlock(c[i], c[i], 1)))
            cin = c[i]
        self.linear = nn.Linear(cin, num_classes)

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        for i in range(4):
            out = getattr(self, f'layer{i + 1}')(out)
        return self.linear(F.avg_pool2d(out, 4).flatten(1))


class RBPreActResNet18(nn.Module):
    """robustbench PreActResNet(PreActBlockV2, [2, 2, 2, 2], bn_before_fc=True) with `mu`/`sigma` buffers
    (Rice2020OverfittingNetL2, Kireev2021EffectivenessNet). PreActBlockV2 is the reference's PreActBlock:
    same names, the shortcut on the pre-activated input."""

    def __init__(self, num_classes, width):
        super().__init__()
        c = [scale(v, width) for v in (64, 128, 256, 512)]
        self.conv1 = nn.Conv2d(3, c[0], 3, 1, 1, bias=False)
        cin = c[0]
        for i, s in enumerate((1, 2, 2, 2)):
            setattr(self, f'layer{i + 1}', nn.Sequential(PreActBlock(cin, c[i], s), PreActBlock(c[i], c[i], 1)))
            cin = c[i]
        self.bn = nn.BatchNorm2d(cin)
        self.linear = nn.Linear(cin, num_classes)
        self.register_buffer('mu', torch.tensor([0.4914, 0.4822, 0.4465]).view(1, 3, 1, 1))
        self.register_buffer('sigma', torch.tensor([0.2471, 0.2435, 0.2616]).view(1, 3, 1, 1))

    def forward(self, x):
        out = self.conv1((x - self.mu) / self.sigma)
        for i in range(4):
            out = getattr(self, f'layer{i + 1}')(out)
        out = F.relu(self.bn(out))
        return self.linear(F.avg_pool2d(out, 4).flatten(1))


class RBWideResNet(nn.Module):
    """robustbench wide_resnet.py WideResNet(sub_block1=True) (TRADES' code: an unused `sub_block1`) with
    `mu`/`sigma` buffers, as Chen2020EfficientNet; F.avg_pool2d(out, 8). Its NetworkBlock and BasicBlock
    are the reference's Stage and WideBlock (same names; the ReLU modules hold no weights)."""

    def __init__(self, num_classes, width, depth, widen):
        super().__init__()
        n = (depth - 4) // 6
        c = [scale(16, width)] + [scale(b * widen, width) for b in (16, 32, 64)]
        self.conv1 = nn.Conv2d(3, c[0], 3, 1, 1, bias=False)
        self.block1 = Stage(n, c[0], c[1], 1)
        self.sub_block1 = Stage(n, c[0], c[1], 1)
        self.block2 = Stage(n, c[1], c[2], 2)
        self.block3 = Stage(n, c[2], c[3], 2)
        self.bn1 = nn.BatchNorm2d(c[3])
        self.relu = nn.ReLU()
        self.fc = nn.Linear(c[3], num_classes)
        self.register_buffer('mu', torch.tensor([0.4914, 0.4822, 0.4465]).view(1, 3, 1, 1))
        self.register_buffer('sigma', torch.tensor([0.2471, 0.2435, 0.2616]).view(1, 3, 1, 1))

    def forward(self, x):
        out = self.conv1((x - self.mu) / self.sigma)
        out = self.block3(self.block2(self.block1(out)))
        out = self.relu(self.bn1(out))
        return self.fc(F.avg_pool2d(out, 8).flatten(1))


# ---- helpers ----

def randomize(net, seed):
    """Non-trivial weights and batch-norm statistics (fresh BNs are the identity)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, t in net.state_dict().items():
            if t.dtype != torch.float32:
                continue
            if name.endswith('running_var'):
                t.copy_(torch.rand(t.shape, generator=g) + 0.5)
            elif name.endswith('running_mean') or name.endswith('bias'):
                t.copy_(torch.randn(t.shape, generator=g) * 0.1)
            elif name.endswith('weight') and t.dim() == 1:
                t.copy_(torch.rand(t.shape, generator=g) + 0.5)
            elif name in ('mu', 'sigma'):
                continue
            elif t.dim() > 1:
                fan_in = t[0].numel()
                t.copy_(torch.randn(t.shape, generator=g) * math.sqrt(2.0 / fan_in))
        for m in net.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.num_batches_tracked.fill_(int(torch.randint(1, 1000, (1,), generator=g)))
    return net


def tame(model, x, net=None):
    """Scales the last linear layer so that the largest |logit| on `x` is 4: float32 logits of a few units
    keep the 1e-4 comparison meaningful (random residual nets otherwise reach hundreds)."""
    last = [m for m in (net or model).modules() if isinstance(m, nn.Linear)][-1]
    model.eval()
    with torch.no_grad():
        peak = model(x).abs().max()
        last.weight.mul_(4 / peak)
        last.bias.mul_(4 / peak)
    return model


def cast_floats(sd, dtype):
    return collections.OrderedDict((k, v.to(dtype) if v.is_floating_point() else v) for k, v in sd.items())


def logits_of(model, sd, x):
    """Logits of `model` (eval mode, float32) with the weights as stored in `sd`, rounded as the file has them."""
    inner = model.net if isinstance(model, Wrapper) else model
    inner.load_state_dict(cast_floats(sd, torch.float32), strict=True)
    model.eval()
    with torch.no_grad():
        return model(x)


def sha256(path):
    with open(path, 'rb') as f:
        return hashlib.sha256(f.read()).hexdigest()


# ---- safetensors, by hand (the format: u64 LE header length, JSON header, raw little-endian data) ----

ST_DTYPES = {torch.float32: 'F32', torch.float16: 'F16', torch.bfloat16: 'BF16', torch.float64: 'F64', torch.int64: 'I64'}
ST_TORCH = {v: k for k, v in ST_DTYPES.items()}


def write_safetensors(path, tensors, metadata=None):
    """As the reference writer does: tensors ordered by name, offsets contiguous, header padded with spaces to 8."""
    header, chunks, offset = {}, [], 0
    if metadata:
        header['__metadata__'] = metadata
    for name in sorted(tensors):
        t = tensors[name].contiguous()
        data = t.view(torch.uint8).numpy().tobytes() if t.dtype == torch.bfloat16 else t.numpy().tobytes()
        header[name] = {'dtype': ST_DTYPES[t.dtype], 'shape': list(t.shape), 'data_offsets': [offset, offset + len(data)]}
        chunks.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(',', ':')).encode()
    text += b' ' * (-len(text) % 8)
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(text)) + text + b''.join(chunks))


def read_safetensors(path):
    with open(path, 'rb') as f:
        raw = f.read()
    (n,) = struct.unpack('<Q', raw[:8])
    header = json.loads(raw[8:8 + n])
    body = raw[8 + n:]
    metadata = header.pop('__metadata__', None)
    out = collections.OrderedDict()
    for name, info in header.items():
        a, b = info['data_offsets']
        dtype = ST_TORCH[info['dtype']]
        buf = bytearray(body[a:b])
        t = torch.frombuffer(buf, dtype=torch.uint8).view(dtype) if len(buf) else torch.empty(0, dtype=dtype)
        out[name] = t.reshape(info['shape'])
    return out, metadata


# ---- the cases ----

class Evil:
    """Pickles as a call of os.system: loading it with pickle would create MARKER. Never unpickled here."""

    def __reduce__(self):
        return (os.system, (f'touch {MARKER}',))


X = None  # the fixed input batch, set by main()


def reference_case(arch, options, seed):
    net = randomize(build(arch, options), seed)
    return net, tame(Wrapper(net, options), X, net)


def make_cases(x):
    cases = []

    def add(file, arch, options, sd, model, obj=None, protocol=2, layout='reference', extra=None):
        """Saves `obj` (default `sd`); the logits are those of `model` with the weights of `sd`."""
        path = os.path.join(OUT, file)
        torch.save(sd if obj is None else obj, path, pickle_protocol=protocol)
        logits = logits_of(model, sd, x)
        entry = {'file': file, 'arch': arch, 'options': options, 'layout': layout,
                 'logits': {'shape': list(logits.shape), 'data': encode(logits)}, 'bytes': os.path.getsize(path)}
        entry.update(extra or {})
        cases.append(entry)
        print(f'{file}: {os.path.getsize(path)} bytes, logits max |.| {logits.abs().max():.3f}', file=sys.stderr)

    # The paper's code: torch.save(model.state_dict(), 'paras.pt'), keys without prefix.
    o = {'width': 1 / 32, 'strides': '1-2-2-2'}
    net, model = reference_case('resnet18', o, 1)
    add('resnet18-1222.pt', 'resnet18', o, net.state_dict(), model, extra={'wrapper': '', 'dtype': 'float32'})

    o = {'width': 1 / 32, 'strides': '1-1-2-2'}
    net, model = reference_case('resnet18', o, 2)
    add('resnet18-1122-float16.pt', 'resnet18', o, cast_floats(net.state_dict(), torch.float16), model,
        extra={'wrapper': '', 'dtype': 'float16'})

    # DataParallel: keys prefixed with `module.`.
    o = {'width': 1 / 32, 'strides': '1-2-2-2'}
    net, model = reference_case('preActResNet18', o, 3)
    add('preact-1222-dataparallel.pt', 'preActResNet18', o, net.state_dict(), model, obj=nn.DataParallel(net).state_dict(),
        extra={'wrapper': '', 'prefix': 'module.', 'dtype': 'float32'})

    o = {'width': 1 / 32, 'strides': '1-1-2-2'}
    net, model = reference_case('preActResNet18', o, 4)
    sd = net.state_dict()
    add('preact-1122-state_dict.pt', 'preActResNet18', o, sd, model, obj={'state_dict': sd, 'epoch': 7, 'best_acc': 0.5},
        extra={'wrapper': 'state_dict', 'dtype': 'float32'})

    # The paper's resumable checkpoint: model, SGD state with momentum buffers, MultiStepLR (a Counter), epoch.
    o = {'width': 1 / 64, 'strides': '2-2-2-2-2'}
    net, model = reference_case('vgg16', o, 5)
    opt = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9, weight_decay=5e-4)
    sch = torch.optim.lr_scheduler.MultiStepLR(opt, milestones=[100, 105], gamma=0.1)
    g = torch.Generator().manual_seed(50)
    net.train()
    F.cross_entropy(model(torch.rand(4, 3, 32, 32, generator=g)), torch.tensor([0, 1, 2, 3])).backward()
    opt.step()
    sch.step()
    tame(model, x, net)
    sd = net.state_dict()
    add('vgg16-22222-resumable.tar', 'vgg16', o, sd, model,
        obj={'model': sd, 'optimizer': opt.state_dict(), 'lr_scheduler': sch.state_dict(), 'epoch': 1},
        extra={'wrapper': 'model', 'dtype': 'float32'})

    o = {'width': 1 / 64, 'strides': '1-1-2-2-2'}
    net, model = reference_case('vgg16', o, 6)
    sd = cast_floats(net.state_dict(), torch.float64)
    add('vgg16-11222-float64.pt', 'vgg16', o, sd, model, obj={'model_state_dict': sd},
        extra={'wrapper': 'model_state_dict', 'dtype': 'float64'})

    o = {'width': 1 / 16, 'strides': '2-2-2-2'}
    net, model = reference_case('alexnet', o, 7)
    add('alexnet-2222-bfloat16.pt', 'alexnet', o, cast_floats(net.state_dict(), torch.bfloat16), model,
        extra={'wrapper': '', 'dtype': 'bfloat16'})

    # Pickle protocol 4 (FRAME, STACK_GLOBAL, MEMOIZE, SHORT_BINUNICODE).
    o = {'width': 1 / 16, 'strides': '1-1-2-2'}
    net, model = reference_case('alexnet', o, 8)
    add('alexnet-1122-protocol4.pt', 'alexnet', o, net.state_dict(), model, protocol=4,
        extra={'wrapper': '', 'dtype': 'float32'})

    # The paper's WRN-34-10 (narrow) and a WRN-16-4 with strides 1-1-2.
    o = {'width': 1 / 32, 'strides': '1-2-2', 'depth': 34, 'widenFactor': 10}
    net, model = reference_case('wideResNet', o, 9)
    add('wrn-34-10-122.pt', 'wideResNet', o, net.state_dict(), model, extra={'wrapper': '', 'dtype': 'float32'})

    o = {'width': 1 / 16, 'strides': '1-1-2', 'depth': 16, 'widenFactor': 4}
    net, model = reference_case('wideResNet', o, 10)
    add('wrn-16-4-112.pt', 'wideResNet', o, net.state_dict(), model, extra={'wrapper': '', 'dtype': 'float32'})

    # Views: fc.weight a transposed (non-contiguous) view into a larger storage, two convolutions sharing
    # one storage at different offsets.
    o = {'width': 1 / 32, 'strides': '1-2-2-2'}
    net, model = reference_case('resnet18', o, 11)
    sd = collections.OrderedDict((k, v.clone()) for k, v in net.state_dict().items())
    w = sd['fc.weight']
    store = torch.zeros(w.shape[1] + 1, w.shape[0])
    store[1:] = w.t()
    sd['fc.weight'] = store[1:].t()
    a, b = sd['layer1.0.conv1.weight'], sd['layer1.0.conv2.weight']
    flat = torch.cat([torch.zeros(5), a.flatten(), b.flatten()])
    sd['layer1.0.conv1.weight'] = flat[5:5 + a.numel()].view(a.shape)
    sd['layer1.0.conv2.weight'] = flat[5 + a.numel():].view(b.shape)
    assert not sd['fc.weight'].is_contiguous()
    add('resnet18-1222-views.pt', 'resnet18', o, sd, model, extra={'wrapper': '', 'dtype': 'float32'})

    # RobustBench layouts; these models take raw [0, 1] pixels (normalisation, if any, is mu/sigma inside).
    rb = tame(randomize(RBResNet18(10, 1 / 32), 12), x)
    add('robustbench-resnet18.pt', 'resnet18', {'width': 1 / 32, 'normalize': False}, rb.state_dict(), rb,
        layout='robustbench', extra={'wrapper': '', 'dtype': 'float32'})
    rb = tame(randomize(RBPreActResNet18(10, 1 / 32), 13), x)
    stats = {'mean': [0.4914, 0.4822, 0.4465], 'std': [0.2471, 0.2435, 0.2616]}
    add('robustbench-preact18.pt', 'preActResNet18', {'width': 1 / 32, 'normalize': stats}, rb.state_dict(), rb,
        layout='robustbench', extra={'wrapper': '', 'dtype': 'float32'})
    rb = tame(randomize(RBWideResNet(10, 1 / 32, 28, 10), 14), x)
    add('robustbench-wrn-28-10.pt', 'wideResNet', {'width': 1 / 32, 'depth': 28, 'widenFactor': 10, 'normalize': stats},
        cast_floats(rb.state_dict(), torch.float16), rb, layout='robustbench', extra={'wrapper': '', 'dtype': 'float16'})
    return cases


def refused_files():
    net = randomize(build('alexnet', {'width': 1 / 16}), 20)
    sd = net.state_dict()
    torch.save(sd, os.path.join(OUT, 'legacy-format.pt'), _use_new_zipfile_serialization=False)
    evil = collections.OrderedDict(list(sd.items())[:2] + [('evil', Evil())] + list(sd.items())[2:])
    torch.save(evil, os.path.join(OUT, 'malicious-os-system.pt'))
    torch.save({'state_dict': evil}, os.path.join(OUT, 'malicious-protocol4.pt'), pickle_protocol=4)
    torch.jit.save(torch.jit.script(nn.Linear(3, 2)), os.path.join(OUT, 'torchscript.pt'))
    with zipfile.ZipFile(os.path.join(OUT, 'malicious-os-system.pt')) as z:
        assert any(b'posix' in z.read(n) or b'nt\n' in z.read(n) for n in z.namelist() if n.endswith('data.pkl'))


def write(x):
    os.makedirs(OUT, exist_ok=True)
    cases = make_cases(x)
    refused_files()
    # A safetensors file written from PyTorch (every dtype the state dict has: F32 and I64).
    o = {'width': 1 / 32, 'strides': '1-1-2-2'}
    net, model = reference_case('resnet18', o, 30)
    sd = net.state_dict()
    write_safetensors(os.path.join(OUT, 'from-pytorch.safetensors'), dict(sd), {'format': 'pt'})
    logits = logits_of(model, sd, x)
    safetensors = {'file': 'from-pytorch.safetensors', 'arch': 'resnet18', 'options': o, 'layout': 'reference',
                   'logits': {'shape': list(logits.shape), 'data': encode(logits)}}
    manifest = {
        'provenance': {
            'script': 'scripts/make-torch-checkpoints.sh (scripts/torch_checkpoints.py write, '
                      'scripts/export-safetensors-fixture.ts, scripts/torch_checkpoints.py verify)',
            'torch': torch.__version__, 'python': sys.version.split()[0], 'date': datetime.date.today().isoformat(),
            'layout': 'input NHWC float32 base64; logits [batch, classes] float32 base64, PyTorch eval mode '
                      'with the weights as stored in the file (rounded to their dtype), computed in float32',
        },
        'input': {'shape': list(nchw_to_nhwc(x).shape), 'data': encode(nchw_to_nhwc(x))},
        'cases': cases,
        'safetensors': safetensors,
        'refused': {'legacy': 'legacy-format.pt', 'malicious': ['malicious-os-system.pt', 'malicious-protocol4.pt'],
                    'marker': MARKER, 'torchscript': 'torchscript.pt'},
    }
    with open(os.path.join(OUT, 'manifest.json'), 'w') as f:
        json.dump(manifest, f, indent=1)


def verify(x):
    """from-tfjs.safetensors (the package's exportSafetensors of `source`) loads in PyTorch with identical tensors."""
    with open(os.path.join(OUT, 'manifest.json')) as f:
        manifest = json.load(f)
    source = 'resnet18-1122-float16.pt'
    case = next(c for c in manifest['cases'] if c['file'] == source)
    tensors, metadata = read_safetensors(os.path.join(OUT, 'from-tfjs.safetensors'))
    original = torch.load(os.path.join(OUT, source))
    floats = {k: v.float() for k, v in original.items() if not k.endswith('num_batches_tracked')}
    assert set(tensors) == set(floats), sorted(set(tensors) ^ set(floats))
    for k, v in tensors.items():
        assert v.dtype == torch.float32 and v.shape == floats[k].shape and torch.equal(v, floats[k]), k
    net = build(case['arch'], case['options'])
    net.load_state_dict(tensors, strict=True)
    model = Wrapper(net, case['options']).eval()
    with torch.no_grad():
        logits = model(x)
    expected = torch.frombuffer(bytearray(base64.b64decode(case['logits']['data'])), dtype=torch.float32)
    diff = (logits.flatten() - expected).abs().max().item()
    assert diff == 0, diff
    manifest['fromTfjs'] = {
        'file': 'from-tfjs.safetensors', 'source': source, 'sha256': sha256(os.path.join(OUT, 'from-tfjs.safetensors')),
        'checked': f'read by scripts/torch_checkpoints.py: {len(tensors)} float32 tensors identical to {source} as '
                   f'float32, load_state_dict(strict=True) accepted them, logits identical; metadata {metadata}',
    }
    with open(os.path.join(OUT, 'manifest.json'), 'w') as f:
        json.dump(manifest, f, indent=1)
    print(f"verified from-tfjs.safetensors: {len(tensors)} tensors identical, logits max diff {diff}", file=sys.stderr)


def main():
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(40)
    x = torch.rand(2, 3, 32, 32, generator=g)
    global X
    X = x
    {'write': write, 'verify': verify}[sys.argv[1]](x)


if __name__ == '__main__':
    main()
