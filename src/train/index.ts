export { TorchSGD, type SgdOptions, type SgdState, type Trainable, type WeightHandle } from './sgd.js';
export { piecewiseLr, type PiecewiseSchedule } from './schedule.js';
export { adversarialTrain, type AdversarialTrainOptions, type BatchInfo, type EpochInfo, type TrainResult, type TrainingData } from './adversarial-train.js';
export { presets, type Defense, type TrainingPreset } from './presets.js';
export { TrainingDivergedError } from './divergence.js';
export { ResumeMismatchError, type RunSettings, type SettingDifference } from './run-identity.js';
export {
  checkpointStore,
  ioCheckpoints,
  saveCheckpoint,
  loadCheckpoint,
  type CheckpointStore,
  type CheckpointSlot,
  type CheckpointStateCheck,
  type TrainingCheckpoint,
  type TrainingState,
} from './checkpoint.js';
