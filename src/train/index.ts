export { TorchSGD, type SgdOptions, type SgdState, type Trainable, type WeightHandle } from './sgd.js';
export { piecewiseLr, type PiecewiseSchedule } from './schedule.js';
