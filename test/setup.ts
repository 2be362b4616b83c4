// Every test runs on the CPU backend (the one that installs everywhere), with the native kernels when
// they are built. Two test workers share the two cores: one OpenMP thread each for oneDNN (read when
// the addon loads, so it must be set before the library is imported).
process.env['OMP_NUM_THREADS'] ??= '1';
import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';

// The Node services (files, the addon), as the package's Node build plugs them in; tests import the
// universal modules under src/ directly.
await import('../src/node/register.js');

await tf.setBackend('cpu');
await tf.ready();
