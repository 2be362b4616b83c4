/**
 * The BullMQ sandboxed processor of sweep jobs (./redis.ts): runs in a child process of the worker,
 * executes the run with resume from its checkpoint, and reports each checkpointed epoch as progress.
 * A configuration that cannot run fails at once (BullMQ's UnrecoverableError: no retries). If the
 * worker process dies, the child stops at the next batch instead of training on unowned. A run its
 * worker cancels (the worker stopping: {@link SweepWorker.stop}) stops at its next batch and goes back
 * to the queue (BullMQ's moveToWait and WaitingError: no attempt counted, no stall), to resume from its
 * last checkpoint.
 */
import '@tensorflow/tfjs-backend-cpu';
import '../register.js';
import { dropTfjsNodeBanner } from '../quiet-tfjs.js';
import * as tf from '@tensorflow/tfjs-core';
import type { SandboxedJob } from 'bullmq';
import { executeRun, RunConfigError } from './run.js';
import { directoryStore } from './store.js';
import type { SweepJobData, SweepWorker } from './redis.js';
import type { RunResult } from './store.js';

const parent = process.ppid;
dropTfjsNodeBanner();

export default async function processSweepJob(
  job: SandboxedJob<SweepJobData>,
  token?: string,
  signal?: AbortSignal,
): Promise<Pick<RunResult, 'id' | 'metrics' | 'startEpoch' | 'seconds'>> {
  await tf.setBackend('cpu');
  const store = directoryStore(process.env['RMC_SWEEP_RESULTS'] ?? job.data.results);
  try {
    const result = await executeRun({ id: job.data.id, config: job.data.config }, store, {
      onBatch: () => {
        if (process.ppid !== parent) process.exit(1);
        if (signal?.aborted) throw new Error(`run ${job.data.id}: stopped by its worker`);
      },
      onResume: async ({ epoch }) => {
        await job.updateProgress({ epoch, resumed: true });
      },
      onEpoch: async (e) => {
        await job.updateProgress({ epoch: e.epoch + 1, loss: e.loss });
      },
    });
    return { id: result.id, metrics: result.metrics, startEpoch: result.startEpoch, seconds: result.seconds };
  } catch (e) {
    if (signal?.aborted) {
      // Back to the queue, neither failed nor stalled.
      await job.moveToWait(token);
      throw bullmqError('WaitingError', `run ${job.data.id}: stopped by its worker, back in the queue`);
    }
    if (e instanceof RunConfigError) throw bullmqError('UnrecoverableError', e.message);
    throw e;
  }
}

/** An error BullMQ's worker recognises by its name (this child does not load BullMQ's classes). */
function bullmqError(name: 'WaitingError' | 'UnrecoverableError', message: string): Error {
  const error = new Error(message);
  error.name = name;
  return error;
}
