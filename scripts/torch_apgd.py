"""PyTorch reference values for APGD (Croce & Hein 2020) on the small ResNet18 of
test/fixtures/torch-reference.json (the entry with attack results), from a stored start point, and
the reference's checkpoint table; and for APGD-L1 (Croce & Hein 2021, "Mind the box").

Writes test/fixtures/torch-apgd.json, test/fixtures/apgd-checkpoints.json and
test/fixtures/torch-apgd-l1.json. Run with Debian's python3-torch:
    /usr/bin/python3 scripts/torch_apgd.py

The L1 part ports the reference's L1 code paths (github fra31/auto-attack, autopgd_base.py):
`L1_projection` (the projection onto the L1 ball intersected with [0, 1], by sorting the breakpoints of
the soft threshold and a binary search, in float32), the L1 branch of `attack_single_run` from a given
`x_init` (sparse steps on the top `topk` share of |grad|, step size eps, no momentum, the sparsity and
step-size update every max(int(0.04 n), 1) iterations) and `decr_eps_pgd` (the `use_largereps`
schedule: 3 eps, 2 eps, eps for ceil(0.3 n), ceil(0.3 n) and the rest), as they compute them, not as
rmc-robust does (which solves the projection by a sweep in float64).

The step-size bookkeeping is the reference code's (github fra31/auto-attack, autopgd_base.py,
`APGDAttack.attack_single_run`), written out the way it does it, independently of rmc-robust's running
counters: checkpoint budgets `max(int(0.22 n), 1)`, `max(int(0.03 n), 1)`, `max(int(0.06 n), 1)`
counted down by `counter3`; the increases counted from the `loss_steps` history by
`check_oscillation` (whose first window reads the history's unfilled last row); `t <= k * rho`; the
"reduced at the last check" flags starting at ones.
"""
import datetime
import json
import math
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


def gradient(model, crit, xa, y):
    """The gradient of the summed per-point loss at xa, the losses and the logits."""
    xa = xa.detach().requires_grad_(True)
    z = model(xa)
    loss = crit(z, y)
    (g,) = torch.autograd.grad(loss.sum(), xa)
    return g.detach(), loss.detach(), z.detach()


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
        return gradient(model, crit, xa, y)

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


def l1_projection(x, y, eps):
    """The reference's L1_projection: the correction d (float32) such that y + d is the Euclidean projection
    of the perturbation y onto {||v||_1 <= eps} with 0 <= x + v <= 1, per row."""
    n = x.shape[0]
    xf, yf = x.reshape(n, -1).float(), y.reshape(n, -1).float()
    sign = yf.sign()
    # Per coordinate the magnitude reduction lies in [-u, |y|]: -u >= 0 is what the box takes anyway.
    u = torch.clamp(torch.min(1 - xf - yf, xf + yf), max=0)
    low = -yf.abs()
    d = u.clone()
    # Breakpoints in increasing order: where a coordinate starts shrinking (-u) or reaches 0 (|y|).
    points, order = torch.sort(-torch.cat((u, low), 1), dim=1)
    following = torch.cat((points[:, 1:], torch.zeros(n, 1)), 1)
    active = torch.cumsum(2 * (order < u.shape[1]).float() - 1, dim=1)
    box_excess = -u.sum(dim=1)
    slack = eps - yf.abs().sum(dim=1)
    # reduction[k]: what the box and the threshold at the breakpoint after k remove from ||y||_1.
    reduction = box_excess.unsqueeze(-1) + torch.cumsum((following - points) * active, dim=1)
    rows = (box_excess + slack < 0).nonzero().squeeze(1)
    if rows.numel() > 0:
        lb = torch.zeros(rows.shape[0])
        ub = torch.full((rows.shape[0],), float(points.shape[1] - 1))
        for _ in range(math.ceil(math.log2(points.shape[1]))):
            mid = torch.floor((lb + ub) / 2)
            short = reduction[rows, mid.long()] + slack[rows] < 0
            lb = torch.where(short, mid, lb)
            ub = torch.where(short, ub, mid)
        k = lb.long()
        alpha = (-reduction[rows, k] - slack[rows]) / active[rows, k + 1] + following[rows, k]
        d[rows] = -torch.min(torch.max(-u[rows], alpha.unsqueeze(-1)), -low[rows])
    return (sign * d).view(x.shape)


def l0(t):
    return (t != 0).flatten(1).sum(-1)


def dlr_targeted(z, y, t):
    zs, _ = z.sort(dim=1)
    u = torch.arange(z.shape[0])
    return -(z[u, y] - z[u, t]) / (zs[:, -1] - .5 * (zs[:, -3] + zs[:, -4]) + 1e-12)


def apgd_l1(model, x, y, x_init, eps, n_iter, loss_name, target=None, stop_early=True):
    """The reference's attack_single_run for norm='L1' from x_init; stops once every point is fooled when
    stop_early (as rmc-robust does on the run whose successes count; the reference runs on)."""
    if loss_name == 'ce':
        crit = lambda z, t: F.cross_entropy(z, t, reduction='none')  # noqa: E731
    elif loss_name == 'dlr':
        crit = dlr
    else:
        crit = lambda z, t: dlr_targeted(z, t, target)  # noqa: E731
    n = x.shape[0]
    n_fts = x[0].numel()
    u = torch.arange(n)

    def grad_at(xa):
        return gradient(model, crit, xa, y)

    x_adv = x_init.clone().clamp(0, 1)
    x_best, x_best_adv = x_adv.clone(), x_adv.clone()
    g, loss, z = grad_at(x_adv)
    g_best, loss_best = g.clone(), loss.clone()
    fooled = z.argmax(1) != y
    step = eps * torch.ones(n, 1, 1, 1)
    k = max(int(.04 * n_iter), 1)
    sp_old = l0(x_adv - x)
    topk = sp_old / n_fts / 1.5
    counter3 = 0
    for i in range(n_iter):
        ranked = g.abs().flatten(1).sort(-1)[0]
        rank = torch.clamp((1. - topk) * n_fts, min=0, max=n_fts - 1).long()
        threshold = ranked[u, rank].view(-1, 1, 1, 1)
        signs = (g * (g.abs() >= threshold).float()).sign()
        x1 = x_adv + step * signs / (signs.abs().flatten(1).sum(-1).view(-1, 1, 1, 1) + 1e-10)
        du = x1 - x
        x_adv = x + du + l1_projection(x, du, eps)
        g, loss, z = grad_at(x_adv)
        wrong = z.argmax(1) != y
        x_best_adv[wrong] = x_adv[wrong]
        fooled |= wrong
        better = loss > loss_best
        x_best[better], g_best[better], loss_best[better] = x_adv[better], g[better], loss[better]
        counter3 += 1
        if counter3 == k:
            sp = l0(x_best - x)
            reset = (sp / sp_old) < .95
            topk = sp / n_fts / 1.5
            step[reset] = eps
            step[~reset] /= 1.5
            step.clamp_(eps / 10, eps)
            sp_old = sp.clone()
            x_adv[reset] = x_best[reset]
            g[reset] = g_best[reset]
            counter3 = 0
        if stop_early and bool(fooled.all()):
            break
    return x_best, fooled, loss_best, x_best_adv, step.flatten(), topk


def apgd_l1_larger_eps(model, x, y, x_init, eps, n_iter, loss_name, target=None):
    """The reference's decr_eps_pgd from x_init (its random start replaced by the given point)."""
    first = math.ceil(.3 * n_iter)
    stages = [(3. * eps, first), (2. * eps, first), (eps, n_iter - 2 * first)]
    for j, (e, niter) in enumerate(stages):
        x_init = x_init + l1_projection(x, x_init - x, e)
        x_init, fooled, best, x_adv, steps, topk = apgd_l1(model, x, y, x_init, e, niter, loss_name, target, stop_early=j == 2)
    return x_init, fooled, best, x_adv, steps, topk


def l1_cases(model, x, y):
    """APGD-L1 from stored starts, and the projection on random problems."""
    g = torch.Generator().manual_seed(7)
    with torch.no_grad():
        target = model(x).sort(dim=1, descending=True)[1][:, 1]
    cases = {}
    for name, eps, loss_name, larger in [('l1Ce', 3.0, 'ce', False), ('l1Dlr', 3.0, 'dlr', False),
                                          ('l1CeLargerEps', 2.0, 'ce', True), ('l1TargetedLargerEps', 2.0, 'dlr-targeted', True)]:
        t = torch.randn(x.shape, generator=g) * 0.05
        # As the reference's random start, x + t projected onto the ball (3 eps for the larger-eps
        # schedule), but onto 0.99 of it, and without the float32 residues (~1e-8) that x + t - t leaves
        # where the projection zeroes t: a start whose L1 norm is eps up to rounding would make the
        # first projection's soft threshold (~1e-8) depend on float32 summation order, and with it which
        # residues count as moved coordinates (the sparsity).
        moved = t + l1_projection(x, t, 0.99 * (3 if larger else 1) * eps)
        start = torch.where(moved.abs() > 1e-6, x + moved, x).clamp(0, 1)
        run = apgd_l1_larger_eps if larger else apgd_l1
        _, fooled, best, x_best_adv, steps, topk = run(model, x, y, start, eps, 10, loss_name, target if loss_name == 'dlr-targeted' else None)
        adv = torch.where(fooled.view(-1, 1, 1, 1), x_best_adv, x)
        with torch.no_grad():
            pred = model(adv).argmax(1)
        cases[name] = {
            'eps': eps, 'loss': loss_name, 'largerEps': larger, 'steps': 10, 'targets': target.tolist(),
            'start': encoded_nhwc(start), 'adversarial': encoded_nhwc(adv),
            'labels': y.tolist(), 'predictions': pred.tolist(), 'fooled': fooled.tolist(),
            'stepSizes': steps.tolist(), 'bestLoss': best.tolist(), 'sparsity': topk.tolist(),
        }
        print(f'{name}: fooled {int(fooled.sum())}/{len(fooled)}, step sizes {steps.tolist()}', file=sys.stderr)
    # Projection problems: 24 rows of 40 coordinates in [0, 1], perturbations of three scales, budgets
    # from inactive to tight.
    xs = torch.rand(24, 40, generator=g)
    ys = torch.randn(24, 40, generator=g) * torch.tensor([0.05, 0.3, 1.0]).repeat(8).view(-1, 1)
    eps = torch.tensor([0.5, 2.0, 8.0, 30.0]).repeat(6)
    corrections = torch.cat([l1_projection(xs[i:i + 1], ys[i:i + 1], float(eps[i])) for i in range(24)])
    projection = {'x': xs.tolist(), 'delta': ys.tolist(), 'eps': eps.tolist(), 'correction': corrections.tolist()}
    return cases, projection


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
    l1, projection = l1_cases(model, x, y)
    write_fixture('test/fixtures/torch-apgd-l1.json', 'scripts/torch_apgd.py (l1_cases)', entry, {**l1, 'projection': projection})


if __name__ == '__main__':
    main()
