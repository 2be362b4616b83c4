/** The paper's experiments, by command name (examples/paper/run.ts runs them). */
import type { PaperExperiment } from './common.js';
import { fig2 } from './fig2.js';
import { fig5 } from './fig5.js';
import { fig6 } from './fig6.js';
import { fig7 } from './fig7.js';
import { table2 } from './table2.js';
import { table3 } from './table3.js';
import { table4 } from './table4.js';
import { table5, table6 } from './table5.js';

export const EXPERIMENTS: readonly PaperExperiment[] = [table2, table3, table4, table5, table6, fig2, fig5, fig6, fig7];

export { Experiment, parseArgs, SCALE_SETTINGS, tableMarkdown, USAGE, type ExperimentArgs, type PaperExperiment, type Scale, type Table } from './common.js';
