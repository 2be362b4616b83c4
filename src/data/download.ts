/**
 * Downloads with an idle timeout: a transfer may take as long as it needs while bytes keep arriving,
 * and fails when none arrive for `idleTimeoutMs` (a stalled connection, a dead host). Uses `fetch`
 * and web streams only, so it runs in Node and browsers alike.
 */

/** The idle timeout of downloads when none is given: 30 s without a byte. */
export const DEFAULT_IDLE_TIMEOUT_MS = 30_000;

/** Progress of a download, reported after each chunk received. */
export interface DownloadProgress {
  /** The URL being downloaded. */
  url: string;
  /** Bytes received so far. */
  receivedBytes: number;
  /** The size announced by the server (`Content-Length`), or undefined when it announced none. */
  totalBytes: number | undefined;
}

/** Options of downloads: the idle timeout and a progress callback. */
export interface DownloadOptions {
  /**
   * Give up when no data arrives for this many milliseconds, while connecting or during the transfer
   * (default {@link DEFAULT_IDLE_TIMEOUT_MS}, 30 s). There is no limit on the whole transfer: a slow
   * link completes as long as bytes keep coming.
   */
  idleTimeoutMs?: number;
  /** Called after each chunk received (default: none). */
  onProgress?: (progress: DownloadProgress) => void;
}

/**
 * Why a download failed: `'unreachable'` (no connection: DNS, refused, reset before an answer),
 * `'http'` (the server answered with an error status), `'idle'` (no data for the idle timeout) or
 * `'interrupted'` (the connection failed during the transfer). The message names the URL and the
 * reason; `reason` is the reason alone (`ECONNREFUSED`, `HTTP 404 Not Found`, ...). @internal
 */
export class DownloadError extends Error {
  constructor(
    readonly url: string,
    readonly kind: 'unreachable' | 'http' | 'idle' | 'interrupted',
    readonly reason: string,
  ) {
    super(`${url}: ${kind === 'unreachable' ? `cannot fetch (${reason})` : reason}`);
    this.name = 'DownloadError';
  }
}

/** The most specific reason a fetch error carries: undici's `cause.code` (ECONNREFUSED, ...), else its messages. */
function reasonOf(error: unknown): string {
  const e = error as { message?: string; cause?: { code?: string; message?: string } };
  return e.cause?.code ?? e.cause?.message ?? e.message ?? String(error);
}

function megabytes(bytes: number): string {
  return `${(bytes / 1e6).toFixed(1)} MB`;
}

/** `options.idleTimeoutMs` or the default; a RangeError naming it when it is not a positive finite number. @internal */
export function idleTimeoutOf(options: DownloadOptions): number {
  const ms = options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS;
  if (typeof ms !== 'number' || !(ms > 0) || !Number.isFinite(ms)) throw new RangeError(`idleTimeoutMs = ${String(ms)}: must be a finite number of milliseconds > 0`);
  return ms;
}

/**
 * The bytes at `url`, fetched with an idle timeout (see {@link DownloadOptions}). Throws a
 * {@link DownloadError} naming the URL and the reason. @internal
 */
export async function download(url: string, options: DownloadOptions = {}): Promise<Uint8Array> {
  const idleMs = idleTimeoutOf(options);
  const controller = new AbortController();
  let idle = false;
  let received = 0;
  let total: number | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const arm = (): void => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      idle = true;
      controller.abort();
    }, idleMs);
  };
  const idleError = (): DownloadError => {
    const so = received === 0 ? 'before any data' : `after ${megabytes(received)}${total !== undefined ? ` of ${megabytes(total)}` : ''}`;
    return new DownloadError(url, 'idle', `no data for ${idleMs / 1000} s ${so} (idle timeout; a slower link is fine, a stalled one is not)`);
  };
  arm();
  try {
    let response: Response;
    try {
      response = await fetch(url, { signal: controller.signal });
    } catch (e) {
      throw idle ? idleError() : new DownloadError(url, 'unreachable', reasonOf(e));
    }
    if (!response.ok) {
      await response.body?.cancel().catch(() => {});
      throw new DownloadError(url, 'http', `HTTP ${response.status} ${response.statusText}`.trim());
    }
    const length = Number(response.headers.get('content-length') ?? NaN);
    total = Number.isSafeInteger(length) && length >= 0 ? length : undefined;
    if (!response.body) return new Uint8Array(await response.arrayBuffer());
    const reader = response.body.getReader();
    const chunks: Uint8Array[] = [];
    for (;;) {
      let chunk: Awaited<ReturnType<typeof reader.read>>;
      try {
        chunk = await reader.read();
      } catch (e) {
        throw idle ? idleError() : new DownloadError(url, 'interrupted', `the transfer failed after ${megabytes(received)} (${reasonOf(e)})`);
      }
      if (chunk.done) break;
      arm();
      chunks.push(chunk.value);
      received += chunk.value.length;
      options.onProgress?.({ url, receivedBytes: received, totalBytes: total });
    }
    const bytes = new Uint8Array(received);
    let at = 0;
    for (const c of chunks) {
      bytes.set(c, at);
      at += c.length;
    }
    return bytes;
  } finally {
    clearTimeout(timer);
  }
}
