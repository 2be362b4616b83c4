#!/usr/bin/python3
"""Dev script: PyTorch reference values for the defense losses and for SGD (test/fixtures/torch-defenses.json).

Losses as the paper's code and the official repositories define them (facts in
shared/reference/rcm-reference.md): AT = CE(adv); ALP = CE(nat) + CE(adv) + 0.5 * MSE(adv, nat);
TRADES = CE(nat) + 6 * KL(p_nat || p_adv) (KLDivLoss(sum) / batch); MART (beta 5) as in the official
MART code. For each: the loss and its gradients w.r.t. both logits, on fixed logits.
SGD: torch.optim.SGD(momentum 0.9, weight_decay) with MultiStepLR on a small least-squares problem.
Run with Debian's python3-torch: /usr/bin/python3 scripts/torch_defenses.py
"""
import datetime
import json
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(0)
N, C = 6, 10
logits_nat = torch.randn(N, C) * 2
logits_adv = logits_nat + torch.randn(N, C)
logits_adv[0] = logits_nat[0] + 8 * torch.randn(C)  # a strongly perturbed example
labels = torch.tensor([3, 0, 9, 3, 5, 1])
labels[1] = int(logits_adv[1].argmax())  # an example whose adversarial top class is the label


def at(nat, adv, y):
    return F.cross_entropy(adv, y)


def alp(nat, adv, y):
    return F.cross_entropy(nat, y) + F.cross_entropy(adv, y) + 0.5 * F.mse_loss(adv, nat)


def trades(nat, adv, y):
    kl = nn.KLDivLoss(reduction='sum')(F.log_softmax(adv, dim=1), F.softmax(nat, dim=1)) / len(y)
    return F.cross_entropy(nat, y) + 6.0 * kl


def mart(nat, adv, y, beta=5.0):
    kl = nn.KLDivLoss(reduction='none')
    adv_probs = F.softmax(adv, dim=1)
    tmp1 = torch.argsort(adv_probs, dim=1)[:, -2:]
    new_y = torch.where(tmp1[:, -1] == y, tmp1[:, -2], tmp1[:, -1])
    loss_adv = F.cross_entropy(adv, y) + F.nll_loss(torch.log(1.0001 - adv_probs + 1e-12), new_y)
    nat_probs = F.softmax(nat, dim=1)
    true_probs = torch.gather(nat_probs, 1, (y.unsqueeze(1)).long()).squeeze()
    loss_robust = (1.0 / len(y)) * torch.sum(torch.sum(kl(torch.log(adv_probs + 1e-12), nat_probs), dim=1) * (1.0000001 - true_probs))
    return loss_adv + beta * loss_robust


losses = {}
for name, fn in [('at', at), ('alp', alp), ('trades', trades), ('mart', mart)]:
    nat = logits_nat.clone().requires_grad_(True)
    adv = logits_adv.clone().requires_grad_(True)
    loss = fn(nat, adv, labels)
    loss.backward()
    zeros = torch.zeros(N, C)
    losses[name] = {'loss': loss.item(), 'gradNat': (nat.grad if nat.grad is not None else zeros).tolist(),
                    'gradAdv': (adv.grad if adv.grad is not None else zeros).tolist()}

# SGD with momentum and weight decay, piecewise schedule, on least squares.
torch.manual_seed(1)
A = torch.randn(8, 4)
b = torch.randn(8)
w0 = torch.randn(4)
w = nn.Parameter(w0.clone())
bias = nn.Parameter(torch.zeros(1))
opt = torch.optim.SGD([w, bias], lr=0.1, momentum=0.9, weight_decay=5e-4)
sched = torch.optim.lr_scheduler.MultiStepLR(opt, milestones=[2, 4], gamma=0.1)
trajectory = []
for epoch in range(6):
    opt.zero_grad()
    loss = ((A @ w + bias - b) ** 2).mean()
    loss.backward()
    opt.step()
    sched.step()
    trajectory.append({'w': w.detach().tolist(), 'bias': bias.detach().tolist(), 'lr': opt.param_groups[0]['lr']})

fixture = {
    'provenance': {'script': 'scripts/torch_defenses.py', 'torch': torch.__version__, 'date': datetime.date.today().isoformat()},
    'logitsNat': logits_nat.tolist(), 'logitsAdv': logits_adv.tolist(), 'labels': labels.tolist(),
    'losses': losses,
    'sgd': {'A': A.tolist(), 'b': b.tolist(), 'w0': w0.tolist(), 'lr': 0.1, 'momentum': 0.9, 'weightDecay': 5e-4,
            'milestones': [2, 4], 'gamma': 0.1, 'trajectory': trajectory},
}
out = sys.argv[1] if len(sys.argv) > 1 else 'test/fixtures/torch-defenses.json'
with open(out, 'w') as f:
    json.dump(fixture, f, indent=1)
print('wrote', out, {k: round(v['loss'], 5) for k, v in losses.items()})
