#!/usr/bin/python3
"""Dev script: multiply-accumulates of ResNet18 (the paper's CIFAR definition, scripts/torch_reference.py)
for one 32x32 image, counted with forward hooks on nn.Conv2d (k*k*C_in*C_out*H_out*W_out) and nn.Linear
(in*out), the convention of modelCost(). Run: /usr/bin/python3 scripts/torch_cost.py"""
import sys

import torch
import torch.nn as nn

sys.path.insert(0, 'scripts')
from torch_reference import ResNet18, Wrapper  # noqa: E402


def macs(strides, upsample=None):
    net = ResNet18(10, strides, 1.0, 'avg')
    model = Wrapper(net, {'upsample': upsample} if upsample else {}).eval()
    total = [0]

    def hook(module, inputs, output):
        if isinstance(module, nn.Conv2d):
            k = module.kernel_size[0] * module.kernel_size[1]
            total[0] += k * module.in_channels * output.shape[1] * output.shape[2] * output.shape[3]
        elif isinstance(module, nn.Linear):
            total[0] += module.in_features * module.out_features

    for m in model.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            m.register_forward_hook(hook)
    with torch.no_grad():
        model(torch.rand(1, 3, 32, 32))
    return total[0]


print('torch', torch.__version__)
print('resnet18 1-2-2-2:', macs([1, 2, 2, 2]))
print('resnet18 1-1-2-2:', macs([1, 1, 2, 2]))
print('resnet18 1-1-1-2:', macs([1, 1, 1, 2]))
print('resnet18 1-2-2-2 + 2x nearest upsampling:', macs([1, 2, 2, 2], {'scale': 2, 'mode': 'nearest'}))
