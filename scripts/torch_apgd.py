"""PyTorch reference values for APGD (Croce & Hein 2020) on the small ResNet18 of
test/fixtures/torch-reference.json (the entry with attack results), from a stored start point, and
the reference's checkpoint table.

Writes test/fixtures/torch-apgd.json and test/fixtures/apgd-checkpoints.json. Run with Debian's
python3-torch:
    /usr/bin/python3 scripts/torch_apgd.py

The step-size bookkeeping is the reference code's (github fra31/auto-attack, autopgd_base.py,
`APGDAttack.attack_single_run`), written out the way it does it, independently of rmc-robust's running
counters: checkpoint budgets `max(int(0.22 n), 1)`, `max(int(0.03 n), 1)`, `max(int(0.06 n), 1)`
counted down by `counter3`; the increases counted from the `loss_steps` history by
`check_oscillation` (whose first window reads the history's unfilled last row); `t <= k * rho`; the
"reduced at the last check" flags starting at ones.
"""
import datetime
import json
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, 'scripts')
from torch_attack_fixture import attack_entry, encoded_nhwc, write_fixture  # noqa: E402


def checkpoints(n_iter):
    """The iterations (1-based) at which the reference checks the step size: its `counter3 == k` loop."""
    n_iter_2 = max(int(0.22 * n_iter), 1)
    n_iter_min = max(int(0.06 * n_iter), 1)
    size_decr = max(int(0.03 * n_iter), 1)
    out, k, counter3 = [], n_iter_2, 0
    for i in range(n_iter):
        counter3 += 1
        if counter3 == k:
            out.append(i + 1)
            k = max(k - size_decr, n_iter_min)
            counter3 = 0
    return out


def check_oscillation(x, j, k, k3):
    """The reference's `check_oscillation` (x[-1] is the last row of the history)."""
    t = torch.zeros(x.shape[1])
    for counter5 in range(k):
        t += (x[j - counter5] > x[j - counter5 - 1]).float()
    return t <= k * k3 * torch.ones_like(t)


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
    loss_steps = torch.zeros(n_iter, n)  # loss_steps[i] = loss after i + 1 iterations
    step = torch.full((n, 1, 1, 1), 2 * eps)
    x_prev = x_adv.clone()
    n_iter_min = max(int(0.06 * n_iter), 1)
    size_decr = max(int(0.03 * n_iter), 1)
    k, counter3 = max(int(0.22 * n_iter), 1), 0
    best_at_last, reduced_last = loss_best.clone(), torch.ones(n, dtype=torch.bool)
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
        loss_steps[i] = loss
        better = loss > loss_best
        x_best[better], g_best[better], loss_best[better] = x_adv[better], g[better], loss[better]
        counter3 += 1
        if counter3 == k:
            halve = check_oscillation(loss_steps, i, k, rho) | (~reduced_last & (best_at_last >= loss_best))
            step[halve] /= 2
            x_adv = torch.where(halve.view(-1, 1, 1, 1), x_best, x_adv)
            g = torch.where(halve.view(-1, 1, 1, 1), g_best, g)
            reduced_last, best_at_last = halve, loss_best.clone()
            k, counter3 = max(k - size_decr, n_iter_min), 0
        if bool(fooled.all()):
            break
    adv = torch.where(fooled.view(-1, 1, 1, 1), x_best_adv, x)
    return adv, step.flatten(), loss_best, fooled


def main():
    # Labels = the clean predictions, so every point is attacked (APGD skips misclassified ones).
    entry, model, x, y = attack_entry()
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
            'start': encoded_nhwc(start), 'adversarial': encoded_nhwc(adv),
            'labels': y.tolist(), 'predictions': pred.tolist(), 'fooled': fooled.tolist(),
            'stepSizes': steps.tolist(), 'bestLoss': best.tolist(),
        }
        print(f'{name}: fooled {int(fooled.sum())}/{len(fooled)}, step sizes {steps.tolist()}', file=sys.stderr)
    write_fixture('test/fixtures/torch-apgd.json', 'scripts/torch_apgd.py', entry, cases)
    table = {
        'provenance': {
            'script': 'scripts/torch_apgd.py (checkpoints: the reference\'s counter3 == k loop)',
            'python': sys.version.split()[0], 'date': datetime.date.today().isoformat(),
        },
        'checkpoints': {str(n): checkpoints(n) for n in range(1, 501)},
    }
    with open('test/fixtures/apgd-checkpoints.json', 'w') as f:
        json.dump(table, f, separators=(',', ':'))
        f.write('\n')


if __name__ == '__main__':
    main()
