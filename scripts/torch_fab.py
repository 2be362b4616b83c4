#!/usr/bin/python3
"""PyTorch reference values for FAB-T in L2, and FAB and FAB-T in L1, on the small ResNet18 of
test/fixtures/torch-reference.json (the entry with attack results).

Writes test/fixtures/torch-fab.json and test/fixtures/torch-fab-l1.json. Run with Debian's python3-torch:
    /usr/bin/python3 scripts/torch_fab.py

The attack is the reference's `FABAttack.attack_single_run` (github fra31/auto-attack,
autoattack/fab_base.py, fab_pt.py: `get_diff_logits_grads_batch` for the untargeted attack,
`get_diff_logits_grads_batch_targeted` for FAB-T) with `projection_l2` or `projection_l1`
(autoattack/fab_projections.py), written out as they do it, for norm='L2' and norm='L1', from the clean
image (the first restart: no random start, so no randomness), target = the class ranked `rank` by the
clean logits. In L1 the nearest boundary is measured with the dual norm (max |grad|), the step and the
distances with the L1 norm, and `projection_l1` moves the coordinates in order of decreasing |w| (sorted
by 1/|w|), the last one partly (found by a binary search on the cumulative sums), in float32.
"""
import math
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, 'scripts')
from torch_attack_fixture import attack_entry, encoded_nhwc, write_fixture  # noqa: E402


def projection_l2(points_to_project, w_hyperplane, b_hyperplane):
    t, w, b = points_to_project, w_hyperplane.clone(), b_hyperplane

    c = (w * t).sum(1) - b
    ind2 = 2 * (c >= 0) - 1
    w.mul_(ind2.unsqueeze(1))
    c.mul_(ind2)

    r = torch.max(t / w, (t - 1) / w).clamp(min=-1e12, max=1e12)
    r.masked_fill_(w.abs() < 1e-8, 1e12)
    r[r == -1e12] *= -1
    rs, indr = torch.sort(r, dim=1)
    rs2 = F.pad(rs[:, 1:], (0, 1))
    rs.masked_fill_(rs == 1e12, 0)
    rs2.masked_fill_(rs2 == 1e12, 0)

    w3s = (w ** 2).gather(1, indr)
    w5 = w3s.sum(dim=1, keepdim=True)
    ws = w5 - torch.cumsum(w3s, dim=1)
    d = -(r * w)
    d.mul_((w.abs() > 1e-8).float())
    s = torch.cat((-w5 * rs[:, 0:1], torch.cumsum((-rs2 + rs) * ws, dim=1) - w5 * rs[:, 0:1]), 1)

    c4 = s[:, 0] + c < 0
    c3 = (d * w).sum(dim=1) + c > 0
    c2 = ~(c4 | c3)

    lb = torch.zeros(c2.sum())
    ub = torch.full_like(lb, w.shape[1] - 1)
    nitermax = math.ceil(math.log2(w.shape[1]))

    s_, c_ = s[c2], c[c2]
    for counter in range(nitermax):
        counter4 = torch.floor((lb + ub) / 2)
        counter2 = counter4.long().unsqueeze(1)
        c3 = s_.gather(1, counter2).squeeze(1) + c_ > 0
        lb = torch.where(c3, counter4, lb)
        ub = torch.where(c3, ub, counter4)

    lb = lb.long()

    if c4.any():
        alpha = c[c4] / w5[c4].squeeze(-1)
        d[c4] = -alpha.unsqueeze(-1) * w[c4]

    if c2.any():
        alpha = (s[c2, lb] + c[c2]) / ws[c2, lb] + rs[c2, lb]
        alpha[ws[c2, lb] == 0] = 0
        c5 = (alpha.unsqueeze(-1) > r[c2]).float()
        d[c2] = d[c2] * c5 - alpha.unsqueeze(-1) * w[c2] * (1 - c5)

    return d * (w.abs() > 1e-8).float()


def projection_l1(points_to_project, w_hyperplane, b_hyperplane):
    """The reference's projection_l1: per row the minimal-L1 step onto w . x = b inside [0, 1]."""
    t, w, b = points_to_project, w_hyperplane.clone(), b_hyperplane
    rows, size = w.shape
    c = (w * t).sum(1) - b
    flip = c < 0
    w[flip] *= -1
    c[flip] *= -1
    # Cheapest coordinates first: cost 1/|w| per unit of w . x.
    cost = torch.max(1 / w, -1 / w).clamp_max(1e12)
    order = torch.argsort(cost, dim=1)
    position = torch.argsort(order)
    full = (-t + (w < 0).float()) * (w != 0).float()  # each coordinate moved all the way to the box
    gains = torch.min(-w * t, w * (1 - t)).gather(1, order)
    remaining = torch.cumsum(torch.cat((c.unsqueeze(-1), gains), 1), dim=1)
    reachable = remaining[:, -1] < 0
    lb = torch.zeros(int(reachable.sum()))
    ub = torch.full_like(lb, float(remaining.shape[1]))
    sub = remaining[reachable]
    for _ in range(math.ceil(math.log2(size))):
        mid = torch.floor((lb + ub) / 2)
        above = sub.gather(1, mid.long().unsqueeze(1)).squeeze(1) > 0
        lb = torch.where(above, mid, lb)
        ub = torch.where(above, ub, mid)
    k = lb.long()
    d = full.clone()
    if reachable.any():
        last = order[reachable, k]
        alpha = -remaining[reachable, k] / w[reachable, last]
        before = torch.arange(size).repeat(int(reachable.sum()), 1) < lb.unsqueeze(-1)
        kept = before.gather(1, position[reachable])
        d[reachable] = d[reachable] * kept.float()
        d[reachable.nonzero().squeeze(1), last] = alpha
    return d * (w.abs() > 1e-8).float()


# Per norm: the dual norm of the gradients (the distance to a linearised boundary), the norm of steps
# and perturbations (per row of a [rows, size] tensor), and the projection onto a hyperplane in the box.
NORMS = {
    'L2': (lambda g: (g ** 2).sum(dim=-1).sqrt(), lambda v: (v ** 2).sum(dim=-1).sqrt(), projection_l2),
    'L1': (lambda g: g.abs().max(dim=-1)[0], lambda v: v.abs().sum(dim=-1), projection_l1),
}


def fab_single_run(model, x, la, la_target, norm, n_iter=100, alpha_max=0.1, eta=1.05, beta=0.9):
    """attack_single_run(x, y, use_rand_start=False) for norm 'L2' or 'L1', targeted when la_target is
    given (is_targeted=True), on points the model classifies correctly."""
    dual, length, projection = NORMS[norm]
    bs = x.shape[0]
    u1 = torch.arange(bs)
    im2 = x.clone()
    x0 = im2.clone().reshape([bs, -1])
    adv = im2.clone()
    res2 = 1e10 * torch.ones([bs])
    x1 = im2.clone()
    for _ in range(n_iter):
        xg = x1.clone().requires_grad_()
        y = model(xg)
        if la_target is not None:
            diffy = -(y[u1, la] - y[u1, la_target])
            (g2,) = torch.autograd.grad(diffy.sum(), xg)
            df, dg = diffy.detach().unsqueeze(1), g2.detach().unsqueeze(1)
        else:
            grads = torch.stack([torch.autograd.grad(y[:, k].sum(), xg, retain_graph=True)[0] for k in range(y.shape[1])], 1)
            y2 = y.detach()
            df = y2 - y2[u1, la].unsqueeze(1)
            dg = grads - grads[u1, la].unsqueeze(1)
            df[u1, la] = 1e10
        with torch.no_grad():
            dist1 = df.abs() / (1e-12 + dual(dg.reshape(dg.shape[0], dg.shape[1], -1)))
            ind = dist1.min(dim=1)[1]
            dg2 = dg[u1, ind]
            b = (- df[u1, ind] + (dg2 * x1).view(x1.shape[0], -1).sum(dim=-1))
            w = dg2.reshape([bs, -1])
            d3 = projection(torch.cat((x1.reshape([bs, -1]), x0), 0), torch.cat((w, w), 0), torch.cat((b, b), 0))
            d1 = torch.reshape(d3[:bs], x1.shape)
            d2 = torch.reshape(d3[-bs:], x1.shape)
            a0 = length(d3).view(-1, 1, 1, 1)
            a0 = torch.max(a0, 1e-8 * torch.ones(a0.shape))
            a1, a2 = a0[:bs], a0[-bs:]
            alpha = torch.min(torch.max(a1 / (a1 + a2), torch.zeros(a1.shape)), alpha_max * torch.ones(a1.shape))
            x1 = ((x1 + eta * d1) * (1 - alpha) + (im2 + d2 * eta) * alpha).clamp(0.0, 1.0)
            is_adv = model(x1).argmax(1) != la
            if is_adv.sum() > 0:
                ind_adv = is_adv.nonzero().flatten()
                t = length((x1[ind_adv] - im2[ind_adv]).reshape(ind_adv.shape[0], -1))
                closer = (t < res2[ind_adv]).float().reshape([-1, 1, 1, 1])
                adv[ind_adv] = x1[ind_adv] * closer + adv[ind_adv] * (1 - closer)
                res2[ind_adv] = t * (t < res2[ind_adv]).float() + res2[ind_adv] * (t >= res2[ind_adv]).float()
                x1[ind_adv] = im2[ind_adv] + (x1[ind_adv] - im2[ind_adv]) * beta
    return adv, res2


def l1_cases(model, x, y, target):
    cases = {}
    steps = 20
    for name, targets in [('fabTargetedL1', target), ('fabL1', None)]:
        adv, distance = fab_single_run(model, x, y, targets, 'L1', n_iter=steps)
        with torch.no_grad():
            pred = model(adv).argmax(1)
        print(f'{name}: distances {distance.tolist()}', file=sys.stderr)
        cases[name] = {
            'steps': steps, 'targetRank': 2 if targets is not None else None, 'labels': y.tolist(),
            'adversarial': encoded_nhwc(adv), 'predictions': pred.tolist(), 'distances': distance.tolist(),
        }
    # The projection on random problems: 32 rows of 30 coordinates in [0, 1], some zero weights, planes
    # from near (the free partial step) to beyond the box (the corner).
    g = torch.Generator().manual_seed(8)
    points = torch.rand(32, 30, generator=g)
    w = torch.randn(32, 30, generator=g) * (torch.rand(32, 30, generator=g) > 0.1).float()
    b = (w * points).sum(1) + torch.randn(32, generator=g) * torch.tensor([0.1, 1.0, 4.0, 50.0]).repeat(8)
    projection = {'points': points.tolist(), 'w': w.tolist(), 'b': b.tolist(), 'steps': projection_l1(points, w, b).tolist()}
    return cases, projection


def main():
    entry, model, x, y = attack_entry()
    with torch.no_grad():
        logits = model(x)
    rank = 2
    target = logits.sort(dim=1, descending=True)[1][:, rank - 1]
    steps = 20
    adv, distance = fab_single_run(model, x, y, target, 'L2', n_iter=steps)
    with torch.no_grad():
        pred = model(adv).argmax(1)
    print(f'distances {distance.tolist()}', file=sys.stderr)
    cases = {
        'fabTargetedL2': {
            'norm': 'l2', 'steps': steps, 'targetRank': rank, 'labels': y.tolist(), 'targets': target.tolist(),
            'adversarial': encoded_nhwc(adv), 'predictions': pred.tolist(), 'distances': distance.tolist(),
        },
    }
    write_fixture('test/fixtures/torch-fab.json', 'scripts/torch_fab.py', entry, cases)
    l1, projection = l1_cases(model, x, y, target)
    write_fixture('test/fixtures/torch-fab-l1.json', 'scripts/torch_fab.py (l1_cases)', entry, {**l1, 'projection': projection})


if __name__ == '__main__':
    main()
