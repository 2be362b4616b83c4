export { type Attack, isAdversarial } from './attack.js';
export { type ModelLike, logitsOf } from './model.js';
export { type Bounds, type LabelsLike } from './validate.js';
export { NonFiniteLogitsError, type NonFiniteMode } from './finite.js';
export { type Norm, type LinfOrL2, perturbationNorms } from './norms.js';
export { crossEntropy, cwLoss, dlrLoss, dlrTargetedLoss, type LossFn, type LossOption } from './losses.js';
export { fgsm, fgsmAttack, type FgsmOptions } from './fgsm.js';
export { pgd, pgdAttack, type PgdOptions, type PgdAttackOptions } from './pgd.js';
export {
  apgd,
  apgdTargeted,
  apgdAttack,
  apgdTargetedAttack,
  apgdCheckpoints,
  apgdShouldHalve,
  type ApgdOptions,
  type ApgdTargetedOptions,
  type ApgdAttackOptions,
  type ApgdTargetedAttackOptions,
  type ApgdIteration,
  type ApgdSchedule,
} from './apgd.js';
export {
  fab,
  fabTargeted,
  fabAttack,
  fabTargetedAttack,
  type FabOptions,
  type FabTargetedOptions,
  type FabAttackOptions,
  type FabTargetedAttackOptions,
} from './fab.js';
export { projectLinfOntoHyperplane, projectL2OntoHyperplane, projectL1OntoHyperplane } from './fab-projection.js';
export { projectOntoL1BallInBox } from './l1-projection.js';
export {
  autoAttack,
  autoAttackAttack,
  type AutoAttackOptions,
  type AutoAttackResult,
  type AutoAttackProgress,
  type AutoAttackComponent,
  type AutoAttackVersion,
  type AutoAttackAttackOptions,
} from './autoattack.js';
export { square, squareAttack, squareFraction, squareSide, type SquareOptions, type SquareAttackOptions } from './square.js';
export { deepfool, deepfoolAttack, type DeepFoolOptions } from './deepfool.js';
export { attackSweep, type SweepResult } from './sweep.js';
export { paperAttacks, type PaperAttacksOptions } from './suite.js';
export {
  robustAccuracy,
  type RobustAccuracyOptions,
  type RobustAccuracyResult,
  type NonFiniteCounts,
  type EvaluationData,
  type Uint8ImageSource,
} from './robust-accuracy.js';
