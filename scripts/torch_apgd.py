"""PyTorch reference values for APGD (Croce & Hein 2020, Algorithm 1) on the small ResNet18 of
test/fixtures/torch-reference.json (the entry with attack results), from a stored start point.

Writes test/fixtures/torch-apgd.json. Run with Debian's python3-torch:
    /usr/bin/python3 scripts/torch_apgd.py

The loop keeps the history of losses and counts the increases inside each checkpoint window from it
(the way the reference code does), independently of rmc-robust's running counters; the rules are the
paper's: halve when fewer than rho * window steps raised the loss, or when the step was not halved at
the last checkpoint and the best loss has not improved since it (the first window compares with the
start).
"""
import datetime
import json
import math
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, 'scripts')
from torch_reference import decode, encode, load_model, nchw_to_nhwc, nhwc_to_nchw  # noqa: E402


def checkpoints(n_iter):
    out, p, gap = [], 22, 22
    while True:
        w = math.ceil(p * n_iter / 100)
        if w > n_iter:
            return out
        if not out or w > out[-1]:
            out.append(w)
        gap = max(gap - 3, 6)
        p += gap


def dlr(z, y):
    zs, ind = z.sort(dim=1)
    top_is_y = (ind[:, -1] == y).float()
    u = torch.arange(z.shape[0])
    return -(z[u, y] - zs[:, -2] * top_is_y - zs[:, -1] * (1 - top_is_y)) / (zs[:, -1] - zs[:, -3] + 1e-12)


def apgd(model, x, y, x_init, eps, norm, n_iter, loss_name, rho=0.75):
    crit = (lambda z, t: F.cross_entropy(z, t, reduction='none')) if loss_name == 'ce' else dlr
    n = x.shape[0]

    def l2(t):
        return t.flatten(1).norm(dim=1).view(-1, 1, 1, 1)

    def project(v):
        if norm == 'linf':
            return torch.min(torch.max(v, x - eps), x + eps).clamp(0, 1)
        d = v - x
        return (x + d / (l2(d) + 1e-12) * torch.min(torch.full_like(l2(d), eps), l2(d))).clamp(0, 1)

    def grad_at(xa):
        xa = xa.detach().requires_grad_(True)
        z = model(xa)
        loss = crit(z, y)
        (g,) = torch.autograd.grad(loss.sum(), xa)
        return g.detach(), loss.detach(), z.detach()

    x_adv = project(x_init)
    g, loss, z = grad_at(x_adv)
    x_best, g_best, loss_best = x_adv.clone(), g.clone(), loss.clone()
    x_best_adv = x_adv.clone()
    fooled = z.argmax(1) != y
    history = [loss.clone()]  # history[i] = loss after i iterations
    step = torch.full((n, 1, 1, 1), 2 * eps)
    x_prev = x_adv.clone()
    marks = checkpoints(n_iter)
    last, best_at_last, halved_last = 0, loss_best.clone(), torch.zeros(n, dtype=torch.bool)
    for i in range(n_iter):
        a = 0.75 if i > 0 else 1.0
        direction = g.sign() if norm == 'linf' else g / (l2(g) + 1e-12)
        x1 = project(x_adv + step * direction)
        x_new = project(x_adv + (x1 - x_adv) * a + (x_adv - x_prev) * (1 - a))
        x_prev = x_adv
        x_adv = x_new
        g, loss, z = grad_at(x_adv)
        wrong = z.argmax(1) != y
        x_best_adv[wrong] = x_adv[wrong]
        fooled |= wrong
        history.append(loss.clone())
        better = loss > loss_best
        x_best[better], g_best[better], loss_best[better] = x_adv[better], g[better], loss[better]
        if i + 1 in marks:
            w = i + 1
            increases = sum((history[k] > history[k - 1]).float() for k in range(last + 1, w + 1))
            halve = (increases < rho * (w - last)) | (~halved_last & (loss_best <= best_at_last))
            step[halve] /= 2
            x_adv = torch.where(halve.view(-1, 1, 1, 1), x_best, x_adv)
            g = torch.where(halve.view(-1, 1, 1, 1), g_best, g)
            halved_last, best_at_last, last = halve, loss_best.clone(), w
        if bool(fooled.all()):
            break
    adv = torch.where(fooled.view(-1, 1, 1, 1), x_best_adv, x)
    return adv, step.flatten(), loss_best, fooled


def main():
    fixture = json.load(open('test/fixtures/torch-reference.json'))
    entry = next(m for m in fixture['models'] if m.get('attacks'))
    model = load_model(entry)
    x = nhwc_to_nchw(decode(entry['input']))
    # Labels = the clean predictions, so every point is attacked (APGD skips misclassified ones).
    with torch.no_grad():
        y = model(x).argmax(1)
    g = torch.Generator().manual_seed(5)
    cases = {}
    for name, norm, eps, loss_name in [('linfCe', 'linf', 8 / 255, 'ce'), ('linfDlr', 'linf', 8 / 255, 'dlr'), ('l2Ce', 'l2', 0.5, 'ce')]:
        t = torch.rand(x.shape, generator=g) * 2 - 1
        if norm == 'linf':
            start = x + eps * t / (t.flatten(1).abs().max(dim=1)[0].view(-1, 1, 1, 1) + 1e-12)
        else:
            start = x + eps * t / (t.flatten(1).norm(dim=1).view(-1, 1, 1, 1) + 1e-12)
        start = start.clamp(0, 1)
        adv, steps, best, fooled = apgd(model, x, y, start, eps, norm, 10, loss_name)
        with torch.no_grad():
            pred = model(adv).argmax(1)
        cases[name] = {
            'norm': norm, 'eps': eps, 'loss': loss_name, 'steps': 10,
            'start': {'shape': list(nchw_to_nhwc(start).shape), 'data': encode(nchw_to_nhwc(start))},
            'adversarial': {'shape': list(nchw_to_nhwc(adv).shape), 'data': encode(nchw_to_nhwc(adv))},
            'labels': y.tolist(), 'predictions': pred.tolist(), 'fooled': fooled.tolist(),
            'stepSizes': steps.tolist(), 'bestLoss': best.tolist(),
        }
        print(f'{name}: fooled {int(fooled.sum())}/{len(fooled)}, step sizes {steps.tolist()}', file=sys.stderr)
    out = {
        'provenance': {
            'script': 'scripts/torch_apgd.py (model and input: test/fixtures/torch-reference.json, the entry with attacks)',
            'torch': torch.__version__, 'python': sys.version.split()[0], 'date': datetime.date.today().isoformat(),
        },
        'model': entry['id'],
        'cases': cases,
    }
    with open('test/fixtures/torch-apgd.json', 'w') as f:
        json.dump(out, f, indent=1)


if __name__ == '__main__':
    main()
