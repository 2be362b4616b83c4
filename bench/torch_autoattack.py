"""The AutoAttack table of bench/run.ts, PyTorch's side (bench/autoattack.ts is this library's):
    python3 bench/torch_autoattack.py <spec.json> <net> [--threads N]
Loads the network bench/autoattack.ts exported (safetensors, the reference's names and layout) into the
paper's ResNet18 (scripts/torch_reference.py), in NCHW (the ports' `.view` calls need contiguous tensors),
the same images (the first ones of data/cifar10-sample/test.bin), labels and APGD start points, then
answers each line of stdin with one JSON line, as bench/autoattack.ts does: `logits`, the clean logits;
`warmup`, after one untimed run of each of the network's attacks at the smallest budget; `<i>`, after
timing attack i of the spec: {net, kind, ms, robust}.

The attacks are the PyTorch ports of the reference (github fra31/auto-attack) that the dev scripts hold,
imported unchanged: scripts/torch_apgd.py (`apgd`: APGD-CE, and APGD-T with the targeted DLR loss put in
for its `dlr`), scripts/torch_fab.py (`fab_single_run`, in L2 with a target), scripts/torch_square.py (`SquareL2`, which draws
the same windows as rmc-robust's `square` from the same seed). What AutoAttack's `perturb` adds around
them is here: only the points still classified correctly are attacked, the target classes are ranks
2 .. targets + 1 of the clean logits, tried in turn on the points still robust, and a point counts as
fooled when the model misclassifies its example (FAB-T: and it lies within eps).
"""
import argparse
import json
import os
import struct
import sys
import time

import numpy as np
import torch

sys.path.insert(0, 'scripts')
import torch_apgd  # noqa: E402
from torch_fab import fab_single_run  # noqa: E402
from torch_reference import Wrapper, build  # noqa: E402
from torch_square import SquareL2  # noqa: E402

parser = argparse.ArgumentParser()
parser.add_argument('spec')
parser.add_argument('net')
parser.add_argument('--threads', type=int, default=os.cpu_count())
args = parser.parse_args()
torch.set_num_threads(args.threads)  # after torch_reference, which sets 2
spec = json.load(open(args.spec))
net = next(n for n in spec['nets'] if n['name'] == args.net)
eps, norm = float(net['eps']), spec['norm']  # JSON writes 1.0 as 1: the ports need a float


def read_safetensors(path):
    """{name: float32 tensor} of a safetensors file (F32 only: what bench/autoattack.ts writes)."""
    raw = open(path, 'rb').read()
    (length,) = struct.unpack('<Q', raw[:8])
    header = json.loads(raw[8:8 + length])
    out = {}
    for key, entry in header.items():
        if key == '__metadata__':
            continue
        if entry['dtype'] != 'F32':
            raise ValueError(f'{path}: {key} is {entry["dtype"]}, expected F32')
        begin, end = entry['data_offsets']
        out[key] = torch.from_numpy(np.frombuffer(raw, dtype='<f4', count=(end - begin) // 4, offset=8 + length + begin).copy()).reshape(entry['shape'])
    return out


def load_model():
    options = {'strides': net['strides'], 'width': net['width']}
    model = build('resnet18', options)
    state = read_safetensors(os.path.join(spec['dir'], f"{net['name']}.safetensors"))
    for key, value in model.state_dict().items():
        if key.endswith('num_batches_tracked'):
            state[key] = value
    model.load_state_dict(state, strict=True)
    model = Wrapper(model, options).eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return model


def images(n):
    """The first n test images of the embedded sample (CIFAR binary records: label, then R, G, B planes), NCHW in [0, 1]."""
    raw = np.fromfile('data/cifar10-sample/test.bin', dtype=np.uint8, count=n * 3073).reshape(n, 3073)
    return torch.from_numpy(raw[:, 1:].astype(np.float32)).reshape(n, 3, 32, 32) / 255


model = load_model()
x = images(net['images'])
data = read_safetensors(os.path.join(spec['dir'], f"{net['name']}-data.safetensors"))
init = data['init'].permute(0, 3, 1, 2).contiguous()
labels = data['labels'].long()


def predict(t):
    with torch.no_grad():
        return model(t).argmax(1)


def ranked_classes():
    """Column -r: the class ranked r by the clean logits."""
    with torch.no_grad():
        return model(x).sort(dim=1)[1]


def dlr_targeted(z, y, target):
    """The reference's targeted DLR loss (APGDAttack_targeted.dlr_loss_targeted)."""
    zs, _ = z.sort(dim=1)
    u = torch.arange(z.shape[0])
    return -(z[u, y] - z[u, target]) / (zs[:, -1] - .5 * (zs[:, -3] + zs[:, -4]) + 1e-12)


def cascade(runs):
    """Each run (a function of the indices still robust, returning their examples and which count) on the
    points still classified correctly, as AutoAttack's perturb; returns the adversarial batch."""
    adv = x.clone()
    robust = predict(x) == labels
    for run in runs:
        idx = robust.nonzero().flatten()
        if idx.numel() == 0:
            break
        examples, counts = run(idx)
        fooled = (predict(examples) != labels[idx]) & counts
        adv[idx[fooled]] = examples[fooled]
        robust[idx[fooled]] = False
    return adv


def apgd_run(loss, target_of=None, steps=1):
    def run(idx):
        saved = torch_apgd.dlr
        if target_of is not None:
            target = target_of(idx)
            torch_apgd.dlr = lambda z, y: dlr_targeted(z, y, target)
        try:
            examples, _, _, _ = torch_apgd.apgd(model, x[idx], labels[idx], init[idx], eps, norm, steps, loss)
        finally:
            torch_apgd.dlr = saved
        return examples, torch.ones(idx.numel(), dtype=torch.bool)
    return run


def attack(a):
    kind = a['kind']
    if kind == 'apgd-ce':
        return cascade([apgd_run('ce', steps=a['steps'])])
    if kind == 'apgd-t':
        ranked = ranked_classes()
        return cascade([apgd_run('dlr', lambda idx, r=r: ranked[idx, -r], a['steps']) for r in range(2, a['targets'] + 2)])
    if kind == 'fab-t':
        ranked = ranked_classes()

        def fab_run(rank):
            def run(idx):
                examples, distance = fab_single_run(model, x[idx], labels[idx], ranked[idx, -rank], 'L2', n_iter=a['steps'])
                return examples, distance <= eps
            return run
        return cascade([fab_run(r) for r in range(2, a['targets'] + 2)])
    if kind == 'square':
        def square_run(idx):
            _, examples, _ = SquareL2(model, eps, a['queries'], spec['seed']).attack_single_run(x[idx], labels[idx])
            return examples, torch.ones(idx.numel(), dtype=torch.bool)
        return cascade([square_run])
    raise ValueError(kind)


def answer(request):
    if request == 'logits':
        with torch.no_grad():
            return {'net': net['name'], 'logits': model(x).flatten().tolist()}
    if request == 'warmup':
        for a in spec['attacks']:
            if a['net'] == net['name']:
                attack({**a, 'steps': 1, 'targets': 1, 'queries': 1})
        return {}
    a = spec['attacks'][int(request)]
    if a['net'] != net['name']:
        raise ValueError(f"attack {request} is not on {net['name']}")
    start = time.perf_counter()
    adv = attack(a)
    ms = (time.perf_counter() - start) * 1000
    return {'net': net['name'], 'kind': a['kind'], 'ms': ms, 'robust': float((predict(adv) == labels).float().mean()),
            'torch': torch.__version__, 'threads': torch.get_num_threads()}


for line in iter(sys.stdin.readline, ''):
    if line.strip():
        print(json.dumps(answer(line.strip())), flush=True)
