export { antiPerturbationRatio, type AntiPerturbationOptions, type AntiPerturbationResult } from './anti-perturbation.js';
export {
  avgPoolingBound,
  maxPoolingBound,
  avgPoolingGamma,
  maxPoolingGamma,
  avgPoolingFeatureSize,
  maxPoolingFeatureSize,
  type BoundInput,
  type BoundResult,
  type GammaInput,
  type SizeInput,
} from './proposition1.js';
export { compareStrides, type StrideComparison } from './compare-strides.js';
export { disturbanceExperiment, type DisturbanceOptions, type DisturbanceRow, type DisturbanceStat, type DisturbanceInit } from './disturbance.js';
export { receptiveField, type ReceptiveField, type FieldEntry } from './receptive-field.js';
export { modelCost, type ModelCost, type LayerCost } from './cost.js';
export { lineChartSvg, saveChart, type ChartSpec, type Series } from './chart.js';
