#!/usr/bin/python3
"""PyTorch reference values for Square Attack in L2 and L1 on the small ResNet18 of
test/fixtures/torch-reference.json (the entry with attack results).

Writes test/fixtures/torch-square.json (L2) and test/fixtures/torch-square-l1.json (L1). Run with
Debian's python3-torch:
    /usr/bin/python3 scripts/torch_square.py

The attack is the reference's `SquareAttack.attack_single_run` (github fra31/auto-attack,
autoattack/square.py: `eta_rectangles`, `eta`, `p_selection`, the start from a grid of windows, the
two-window update, `margin_and_loss`), written out in NCHW as its current version does it (the one with
the L1 branch and window sides capped at min(h, w); the stored copy of fra31/auto-attack is older, the
fork slietar/auto-attack has the current file): start windows filled with `eta(s)` (the randomly
transposed two-lobe pattern), the windows' mass measured per channel; for norm='L2' rectangles weighted
1/(k+1)^2 with unit L2 norm, for norm='L1' weighted 1/(k+1)^4 with unit L1 norm and `L1_projection`
onto the L1 ball of radius eps (1 - 1e-6) in [0, 1] after every move (ported in scripts/torch_apgd.py). One
change: its random draws (`random_int`, `random_choice`, the `torch.rand([1]) > 0.5` of `eta`) come
from rmc-robust's seeded generator (mulberry32, seed derived as `square` derives restart 0's), in the
reference's order, so that both sides draw the same windows and signs.
"""
import math
import sys

import torch

sys.path.insert(0, 'scripts')
from torch_apgd import l1_projection  # noqa: E402
from torch_attack_fixture import attack_entry, encoded_nhwc, write_fixture  # noqa: E402

M32 = 0xFFFFFFFF


def imul(a, b):
    return (a * b) & M32


def mulberry32(seed):
    state = [seed & M32]

    def draw():
        state[0] = (state[0] + 0x6D2B79F5) & M32
        t = state[0]
        t = imul(t ^ (t >> 15), t | 1)
        t ^= (t + imul(t ^ (t >> 7), t | 61)) & M32
        return ((t ^ (t >> 14)) & M32) / 4294967296
    return draw


def derive_seed(base, *parts):
    h = (base ^ 0x9E3779B9) & M32
    for p in parts:
        h = imul(h ^ ((p + 0x7F4A7C15) & M32), 0x85EBCA6B)
        h = (h ^ (h >> 13)) & M32
        h = imul(h, 0xC2B2AE35)
        h = (h ^ (h >> 16)) & M32
    return h & 0x7FFFFFFF


class Square:
    """The reference's attack_single_run: the start and the candidate are the norm's (subclasses)."""

    def __init__(self, model, eps, n_queries, seed, p_init=0.8):
        self.model, self.eps, self.n_queries, self.p_init = model, eps, n_queries, p_init
        self.draw = mulberry32(derive_seed(seed, 0))

    # The reference's random helpers, on the shared stream.
    def random_int(self, low, high):
        return int(low + (high - low) * self.draw())

    def random_choice(self, shape):
        return torch.tensor([-1.0 if self.draw() < 0.5 else 1.0 for _ in range(math.prod(shape))]).view(shape)

    def margin_and_loss(self, x, y):
        with torch.no_grad():
            logits = self.model(x)
        xent = logits[torch.arange(x.shape[0]), y]
        other = logits.clone()
        other[torch.arange(x.shape[0]), y] = -float('inf')
        margin = xent - other.max(dim=-1)[0]
        return margin, margin

    def p_selection(self, it):
        for i, bound in enumerate([10, 50, 200, 500, 1000, 2000, 4000, 6000, 8000]):
            if it <= bound:
                return self.p_init / 2 ** i
        return self.p_init / 512

    def rectangles(self, x, y, power):
        """eta_rectangles before its scaling."""
        delta = torch.zeros([x, y])
        x_c, y_c = x // 2 + 1, y // 2 + 1
        counter2 = [x_c - 1, y_c - 1]
        for counter in range(0, max(x_c, y_c)):
            delta[max(counter2[0], 0):min(counter2[0] + (2 * counter + 1), x),
                  max(0, counter2[1]):min(counter2[1] + (2 * counter + 1), y)] += 1.0 / (torch.Tensor([counter + 1]).view(1, 1) ** power)
            counter2[0] -= 1
            counter2[1] -= 1
        return delta

    def eta(self, s):
        delta = torch.zeros([s, s])
        delta[:s // 2] = self.eta_rectangles(s // 2, s)
        delta[s // 2:] = -1. * self.eta_rectangles(s - s // 2, s)
        delta = self.unit(delta)
        if self.draw() > 0.5:
            delta = delta.permute([1, 0])
        return delta

    def start_grid(self, x, window):
        """The start grid of h // 5-pixel windows, each filled with window(s) times a sign per image and channel."""
        c, h, w = x.shape[1:]
        delta_init = torch.zeros_like(x)
        s = h // 5
        sp_init = (h - s * 5) // 2
        vh = sp_init + 0
        for _ in range(h // s):
            vw = sp_init + 0
            for _ in range(w // s):
                delta_init[:, :, vh:vh + s, vw:vw + s] += window(s).view(1, 1, s, s) * self.random_choice([x.shape[0], c, 1, 1])
                vw += s
            vh += s
        return delta_init

    def side(self, p, c, h, w):
        s = max(int(round(math.sqrt(p * (c * h * w) / c))), 3)
        if s % 2 == 0:
            s += 1
        return min(s, min(h, w))

    def windows(self, x_curr, s):
        """The reference's two windows: corners, and the masks of both."""
        h, w = x_curr.shape[2:]
        vh = self.random_int(0, h - s)
        vw = self.random_int(0, w - s)
        vh2 = self.random_int(0, h - s)
        vw2 = self.random_int(0, w - s)
        mask = torch.zeros_like(x_curr)
        mask[:, :, vh:vh + s, vw:vw + s] = 1.0
        mask_2 = torch.zeros_like(x_curr)
        mask_2[:, :, vh2:vh2 + s, vw2:vw2 + s] = 1.
        return vh, vw, vh2, vw2, torch.max(mask, mask_2)

    def attack_single_run(self, x, y):
        x_best = self.start(x)
        margin_min, loss_min = self.margin_and_loss(x_best, y)
        n_queries = torch.ones(x.shape[0])
        for i_iter in range(self.n_queries):
            idx_to_fool = (margin_min > 0.0).nonzero().flatten()
            if idx_to_fool.numel() == 0:
                break
            x_curr = x[idx_to_fool]
            x_best_curr = x_best[idx_to_fool]
            y_curr = y[idx_to_fool]
            margin_min_curr = margin_min[idx_to_fool]
            loss_min_curr = loss_min[idx_to_fool]
            x_new = self.candidate(x_curr, x_best_curr, self.p_selection(i_iter))
            margin, loss = self.margin_and_loss(x_new, y_curr)
            idx_improved = (loss < loss_min_curr).float()
            loss_min[idx_to_fool] = idx_improved * loss + (1. - idx_improved) * loss_min_curr
            idx_miscl = (margin <= 0.).float()
            idx_improved = torch.max(idx_improved, idx_miscl)
            margin_min[idx_to_fool] = idx_improved * margin + (1. - idx_improved) * margin_min_curr
            idx_improved = idx_improved.reshape([-1, *[1] * len(x.shape[:-1])])
            x_best[idx_to_fool] = idx_improved * x_new + (1. - idx_improved) * x_best_curr
            n_queries[idx_to_fool] += 1.
        return n_queries, x_best, margin_min


class SquareL2(Square):
    def eta_rectangles(self, x, y):
        return self.unit(self.rectangles(x, y, 2))

    def unit(self, delta):
        return delta / (delta ** 2).sum(dim=(0, 1), keepdim=True).sqrt()

    def lp_norm(self, x):
        return (x ** 2).sum((1, 2, 3), keepdim=True).sqrt()

    def normalize(self, x):
        t = (x ** 2).view(x.shape[0], -1).sum(-1).sqrt()
        return x / (t.view(-1, 1, 1, 1) + 1e-12)

    def start(self, x):
        delta_init = self.start_grid(x, self.eta)
        return torch.clamp(x + self.normalize(delta_init) * self.eps, 0., 1.)

    def candidate(self, x_curr, x_best_curr, p):
        c, h, w = x_curr.shape[1:]
        delta_curr = x_best_curr - x_curr
        s = self.side(p, c, h, w)
        vh, vw, vh2, vw2, mask_image = self.windows(x_curr, s)
        norms_window_1 = (delta_curr[:, :, vh:vh + s, vw:vw + s] ** 2).sum(dim=(-2, -1), keepdim=True).sqrt()
        norms_image = self.lp_norm(x_best_curr - x_curr)
        norms_windows = ((delta_curr * mask_image) ** 2).sum(dim=(-2, -1), keepdim=True).sqrt()
        new_deltas = torch.ones([x_curr.shape[0], c, s, s])
        new_deltas *= (self.eta(s).view(1, 1, s, s) * self.random_choice([x_curr.shape[0], c, 1, 1]))
        old_deltas = delta_curr[:, :, vh:vh + s, vw:vw + s] / (1e-12 + norms_window_1)
        new_deltas += old_deltas
        new_deltas = new_deltas / (1e-12 + (new_deltas ** 2).sum(dim=(-2, -1), keepdim=True).sqrt()) * (torch.max(
            (self.eps * torch.ones_like(new_deltas)) ** 2 - norms_image ** 2, torch.zeros_like(new_deltas)) / c + norms_windows ** 2).sqrt()
        delta_curr[:, :, vh2:vh2 + s, vw2:vw2 + s] = 0.
        delta_curr[:, :, vh:vh + s, vw:vw + s] = new_deltas + 0
        return torch.clamp(x_curr + self.normalize(delta_curr) * self.eps, 0., 1.)


class SquareL1(Square):
    def eta_rectangles(self, x, y):
        return self.unit(self.rectangles(x, y, 4))

    def unit(self, delta):
        return delta / delta.abs().sum(dim=(), keepdim=True)

    def lp_norm(self, x):
        return x.abs().view(x.shape[0], -1).sum(dim=-1).view(-1, 1, 1, 1)

    def start(self, x):
        delta_init = self.start_grid(x, self.eta)
        return x + delta_init + l1_projection(x, delta_init, self.eps * (1. - 1e-6))

    def candidate(self, x_curr, x_best_curr, p):
        c, h, w = x_curr.shape[1:]
        delta_curr = x_best_curr - x_curr
        s = self.side(p, c, h, w)
        vh, vw, vh2, vw2, mask_image = self.windows(x_curr, s)
        norms_window_1 = delta_curr[:, :, vh:vh + s, vw:vw + s].abs().sum(dim=(-2, -1), keepdim=True)
        norms_image = self.lp_norm(x_best_curr - x_curr)
        norms_windows = (delta_curr * mask_image).abs().sum(dim=(-2, -1), keepdim=True)
        new_deltas = torch.ones([x_curr.shape[0], c, s, s])
        new_deltas *= (self.eta(s).view(1, 1, s, s) * self.random_choice([x_curr.shape[0], c, 1, 1]))
        old_deltas = delta_curr[:, :, vh:vh + s, vw:vw + s] / (1e-12 + norms_window_1)
        new_deltas += old_deltas
        new_deltas = new_deltas / (1e-12 + new_deltas.abs().sum(dim=(-2, -1), keepdim=True)) * (torch.max(
            self.eps * torch.ones_like(norms_image) - norms_image, torch.zeros_like(norms_image)) / c + norms_windows) * c
        delta_curr[:, :, vh2:vh2 + s, vw2:vw2 + s] = 0.
        delta_curr[:, :, vh:vh + s, vw:vw + s] = new_deltas + 0
        return x_curr + delta_curr + l1_projection(x_curr, delta_curr, self.eps * (1. - 1e-6))


L1_RUNS = [('l1', 20.0, 300, 5), ('l1Large', 40.0, 300, 6)]


def run_cases(attack_class, runs, model, x, y):
    """Each (name, eps, queries, seed) of runs as a fixture case: the reference's points and per-point results."""
    cases = {}
    for name, eps, queries, seed in runs:
        attack = attack_class(model, eps, queries, seed)
        n_queries, x_best, margin = attack.attack_single_run(x, y)
        fooled = margin <= 0
        adv = torch.where(fooled.view(-1, 1, 1, 1), x_best, x)
        with torch.no_grad():
            pred = model(adv).argmax(1)
        cases[name] = {
            'eps': eps, 'queries': queries, 'seed': seed, 'labels': y.tolist(), 'adversarial': encoded_nhwc(adv),
            'predictions': pred.tolist(), 'fooled': fooled.tolist(), 'queriesUsed': n_queries.tolist(),
        }
        print(f'{name}: fooled {int(fooled.sum())}/{len(fooled)}, queries {n_queries.tolist()}', file=sys.stderr)
    return cases


def main():
    entry, model, x, y = attack_entry()
    l2 = run_cases(SquareL2, [('l2', 5.0, 100, 3), ('l2Large', 8.0, 100, 4)], model, x, y)
    write_fixture('test/fixtures/torch-square.json', 'scripts/torch_square.py', entry, l2)
    l1 = run_cases(SquareL1, L1_RUNS, model, x, y)
    write_fixture('test/fixtures/torch-square-l1.json', 'scripts/torch_square.py (SquareL1)', entry, l1)


if __name__ == '__main__':
    main()
