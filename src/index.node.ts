/**
 * rmc-robust for Node.js: the same API as the universal entry (src/index.ts), with the Node services
 * plugged in first: files and downloads (CIFAR loaders, `prepareCifar10`, `fileSystem`, directory
 * checkpoints, the embedded sample), the `file://` IO routers and the native kernel pack. Chosen by
 * the `node` condition of the package's `exports`, so `import ... from 'rmc-robust'` gets it in Node
 * and the universal build in browsers and browser bundles.
 *
 * @packageDocumentation
 */
import './node/register.js';

export * from './index.js';
