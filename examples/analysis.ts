/**
 * The paper's analysis in one run (the same as `rmc-robust analyze`): Proposition 1 bounds, the
 * feature-disturbance experiment, receptive fields and cost, as SVG plots with JSON data.
 *
 *   npx tsx examples/analysis.ts [outDir=analysis-out] [samples=1000]
 */
import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import { runAnalysis } from '../src/cli/analyze.js';

await tf.setBackend('cpu');
await runAnalysis(process.argv[2] ?? 'analysis-out', Number(process.argv[3] ?? 1000));
