/**
 * The model configurations checked against PyTorch (scripts/make-torch-fixture.sh). Narrow `width`
 * copies keep the fixture small; every layer type and stride semantics of the full networks is present.
 */
import type * as tfl from '@tensorflow/tfjs-layers';
import { alexnet, CIFAR100_STATS, preActResNet18, resnet18, vgg16, wideResNet, type WideResNetOptions } from '../src/index.node.js';

export type Architecture = 'resnet18' | 'preActResNet18' | 'vgg16' | 'alexnet' | 'wideResNet';

export interface FixtureCase {
  id: string;
  arch: Architecture;
  options: WideResNetOptions;
  /** Input batch size (default 2). */
  batch?: number;
  /** Also record PyTorch PGD (no random start) and DeepFool results on this case (foolbox semantics). */
  attacks?: boolean;
}

export const BUILDERS: Record<Architecture, (options: WideResNetOptions) => tfl.LayersModel> = {
  resnet18,
  preActResNet18,
  vgg16,
  alexnet,
  wideResNet,
};

const narrow = 1 / 16;

export const FIXTURE_CASES: FixtureCase[] = [
  { id: 'resnet18-1222', arch: 'resnet18', options: { strides: '1-2-2-2', width: narrow } },
  { id: 'resnet18-1122', arch: 'resnet18', options: { strides: '1-1-2-2', width: narrow } },
  { id: 'resnet18-1222-max', arch: 'resnet18', options: { strides: '1-2-2-2', width: narrow, pooling: 'max' } },
  { id: 'resnet18-1222-nearest2', arch: 'resnet18', options: { strides: '1-2-2-2', width: narrow, upsample: { scale: 2, mode: 'nearest' } } },
  { id: 'resnet18-1222-bilinear2', arch: 'resnet18', options: { strides: '1-2-2-2', width: narrow, upsample: { scale: 2, mode: 'bilinear' } } },
  { id: 'preActResNet18-1222', arch: 'preActResNet18', options: { strides: '1-2-2-2', width: narrow } },
  { id: 'preActResNet18-1122', arch: 'preActResNet18', options: { strides: '1-1-2-2', width: narrow } },
  { id: 'vgg16-22222', arch: 'vgg16', options: { strides: '2-2-2-2-2', width: narrow } },
  { id: 'vgg16-11222', arch: 'vgg16', options: { strides: '1-1-2-2-2', width: narrow } },
  { id: 'vgg16-11222-max', arch: 'vgg16', options: { strides: '1-1-2-2-2', width: narrow, pooling: 'max' } },
  { id: 'alexnet-2222', arch: 'alexnet', options: { strides: '2-2-2-2', width: narrow } },
  { id: 'alexnet-1122', arch: 'alexnet', options: { strides: '1-1-2-2', width: narrow } },
  {
    id: 'alexnet-1122-cifar100',
    arch: 'alexnet',
    options: { strides: '1-1-2-2', width: narrow, numClasses: 100, normalize: CIFAR100_STATS },
  },
  { id: 'wrn16-2-122', arch: 'wideResNet', options: { depth: 16, widenFactor: 2, strides: '1-2-2', width: 0.25 } },
  {
    id: 'resnet18-attacks',
    arch: 'resnet18',
    options: { strides: '1-1-2-2', width: 1 / 32, inputShape: [16, 16, 3] },
    batch: 8,
    attacks: true,
  },
  { id: 'wrn16-2-112', arch: 'wideResNet', options: { depth: 16, widenFactor: 2, strides: '1-1-2', width: 0.25 } },
];
