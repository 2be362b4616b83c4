// Runs the built command line (dist/esm/cli/main.js, built by `npm test`'s pretest) in a child process,
// without blocking the test worker's event loop (a blocked worker misses vitest's RPC).
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The built CLI's entry file. */
export const cliPath = join(fileURLToPath(new URL('../..', import.meta.url)), 'dist', 'esm', 'cli', 'main.js');

/** What a run printed and how it ended (`out` is stdout and stderr interleaved as they arrived). */
export interface CliRun {
  code: number | null;
  out: string;
  stdout: string;
  stderr: string;
}

/** `rmc-robust ...args` in `cwd`, one OpenMP thread, with `env` added to this process's environment. */
export function runCli(cwd: string, args: string[], env: Record<string, string> = {}): Promise<CliRun> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [cliPath, ...args], { cwd, env: { ...process.env, OMP_NUM_THREADS: '1', ...env } });
    let out = '';
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => ((out += d), (stdout += d)));
    child.stderr.on('data', (d) => ((out += d), (stderr += d)));
    child.on('close', (code) => resolve({ code, out, stdout, stderr }));
  });
}
