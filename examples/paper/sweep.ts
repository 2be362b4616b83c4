/** The sweep machinery the paper's scripts use (src/node/sweep: grids, the embedded executor, aggregation). */
export { collectSweep } from '../../src/node/sweep/aggregate.js';
export { embeddedExecutor } from '../../src/node/sweep/executor.js';
export { paperGrid, type PaperGridName } from '../../src/node/sweep/paper-grids.js';
export { SCALE_SETTINGS, SCALES, type Scale, type ScaleSettings } from '../../src/node/sweep/scale.js';
export { directoryStore } from '../../src/node/sweep/store.js';
