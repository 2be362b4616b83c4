export { augmentBatch, type AugmentOptions } from './augment.js';
export { mulberry32, deriveSeed, permutation } from './random.js';
export {
  CIFAR10_CLASSES,
  CIFAR10_MD5,
  CIFAR100_MD5,
  loadCifar10,
  loadCifar100,
  parseCifarRecords,
  imagesToTensor,
  md5,
  type CifarSplit,
  type DataSource,
  type LoadOptions,
} from './cifar.js';
export { DEFAULT_IDLE_TIMEOUT_MS, type DownloadOptions, type DownloadProgress } from './download.js';
export { prepareCifar10, prepareCifar100, type PrepareOptions, type PrepareSource, type PrepareCifar100Options, type PrepareCifar100Source } from './prepare.js';
export { loadCifar10Sample, CIFAR10_SAMPLE_MD5, type SampleOptions } from './sample.js';
