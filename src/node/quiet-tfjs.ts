/**
 * tfjs-backend-cpu prints, on its first tensor in Node, a banner advising to install tfjs-node "to
 * speed things up dramatically". In rmc-robust's command line (and its sweep workers) that advice is
 * wrong: the package's kernel pack is what runs (see `rmc-robust info`), and the banner lands in the
 * middle of the command's output. Command-line processes drop that one message; the library itself
 * never touches `console`.
 */
const BANNER = 'Hi, looks like you are running TensorFlow.js in Node.js';

/** Makes `console.warn` drop tfjs-backend-cpu's tfjs-node banner (and only it) in this process. */
export function dropTfjsNodeBanner(): void {
  const warn = console.warn;
  if ((warn as { dropsTfjsBanner?: boolean }).dropsTfjsBanner) return;
  const filtered = (...args: unknown[]) => {
    if (args.length === 1 && typeof args[0] === 'string' && args[0].includes(BANNER)) return;
    warn.apply(console, args);
  };
  console.warn = Object.assign(filtered, { dropsTfjsBanner: true });
}
