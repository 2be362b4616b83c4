#!/usr/bin/python3
"""PyTorch reference values for FAB-T in L2 on the small ResNet18 of test/fixtures/torch-reference.json
(the entry with attack results).

Writes test/fixtures/torch-fab.json. Run with Debian's python3-torch:
    /usr/bin/python3 scripts/torch_fab.py

The attack is the reference's targeted `FABAttack.attack_single_run` (github fra31/auto-attack,
autoattack/fab_base.py, fab_pt.py: `get_diff_logits_grads_batch_targeted`) with `projection_l2`
(autoattack/fab_projections.py), written out as they do it, for norm='L2', from the clean image (the
first restart: no random start, so no randomness), target = the class ranked `rank` by the clean logits.
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


def fab_targeted_l2(model, x, la, la_target, n_iter=100, alpha_max=0.1, eta=1.05, beta=0.9):
    """attack_single_run(x, y, use_rand_start=False, is_targeted=True) for norm='L2', on points the model classifies correctly."""
    bs = x.shape[0]
    u1 = torch.arange(bs)
    im2, la2, la_target2 = x.clone(), la.clone(), la_target.clone()
    x0 = im2.clone().reshape([bs, -1])
    adv = im2.clone()
    res2 = 1e10 * torch.ones([bs])
    x1 = im2.clone()
    for _ in range(n_iter):
        xg = x1.clone().requires_grad_()
        y = model(xg)
        diffy = -(y[u1, la2] - y[u1, la_target2])
        sumdiffy = diffy.sum()
        g2, = torch.autograd.grad(sumdiffy, xg)
        with torch.no_grad():
            df = diffy.detach().unsqueeze(1)
            dg = g2.detach().unsqueeze(1)
            dist1 = df.abs() / (1e-12 + (dg ** 2).reshape(dg.shape[0], dg.shape[1], -1).sum(dim=-1).sqrt())
            ind = dist1.min(dim=1)[1]
            dg2 = dg[u1, ind]
            b = (- df[u1, ind] + (dg2 * x1).view(x1.shape[0], -1).sum(dim=-1))
            w = dg2.reshape([bs, -1])
            d3 = projection_l2(torch.cat((x1.reshape([bs, -1]), x0), 0), torch.cat((w, w), 0), torch.cat((b, b), 0))
            d1 = torch.reshape(d3[:bs], x1.shape)
            d2 = torch.reshape(d3[-bs:], x1.shape)
            a0 = (d3 ** 2).sum(dim=1, keepdim=True).sqrt().view(-1, 1, 1, 1)
            a0 = torch.max(a0, 1e-8 * torch.ones(a0.shape))
            a1, a2 = a0[:bs], a0[-bs:]
            alpha = torch.min(torch.max(a1 / (a1 + a2), torch.zeros(a1.shape)), alpha_max * torch.ones(a1.shape))
            x1 = ((x1 + eta * d1) * (1 - alpha) + (im2 + d2 * eta) * alpha).clamp(0.0, 1.0)
            is_adv = model(x1).argmax(1) != la2
            if is_adv.sum() > 0:
                ind_adv = is_adv.nonzero().flatten()
                t = ((x1[ind_adv] - im2[ind_adv]) ** 2).reshape(ind_adv.shape[0], -1).sum(dim=-1).sqrt()
                closer = (t < res2[ind_adv]).float().reshape([-1, 1, 1, 1])
                adv[ind_adv] = x1[ind_adv] * closer + adv[ind_adv] * (1 - closer)
                res2[ind_adv] = t * (t < res2[ind_adv]).float() + res2[ind_adv] * (t >= res2[ind_adv]).float()
                x1[ind_adv] = im2[ind_adv] + (x1[ind_adv] - im2[ind_adv]) * beta
    return adv, res2


def main():
    entry, model, x, y = attack_entry()
    with torch.no_grad():
        logits = model(x)
    rank = 2
    target = logits.sort(dim=1, descending=True)[1][:, rank - 1]
    steps = 20
    adv, distance = fab_targeted_l2(model, x, y, target, n_iter=steps)
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


if __name__ == '__main__':
    main()
