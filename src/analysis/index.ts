export { antiPerturbationRatio, type AntiPerturbationOptions, type AntiPerturbationResult } from './anti-perturbation.js';
