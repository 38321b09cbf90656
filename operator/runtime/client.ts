// A small raw-JSON Kubernetes client. The generic informer, leases, events and status patches
// all go through it so that list results and watch events have one shape (plain JSON with
// string timestamps), unlike client-node's typed clients (pitfall 8 in the notes).
import { request as httpsRequest, Agent as HttpsAgent, type RequestOptions } from 'node:https';
import {
  request as httpRequest,
  Agent as HttpAgent,
  type IncomingMessage,
  type IncomingHttpHeaders,
} from 'node:http';
import type { KubeConfig } from '@kubernetes/client-node';

/** Options of one request. */
export interface RequestInit {
  body?: unknown;
  /** Default `application/json`; PATCH callers must choose (merge, json or apply patch). */
  contentType?: string;
  query?: Record<string, string | number | boolean | undefined>;
  signal?: AbortSignal;
  /** Client-side timeout for the whole request. Default 30 s. */
  timeoutMs?: number;
}

/** The minimal client the runtime needs; tests of pure parts can fake it. */
export interface KubeClient {
  /** Sends a request and resolves with the parsed JSON body; throws {@link ApiError} on a non-2xx answer. */
  request<T = unknown>(method: string, path: string, init?: RequestInit): Promise<T>;
  /**
   * Opens a streaming GET (a watch) and calls `onLine` for every newline-delimited chunk.
   * Resolves when the server closes the stream; rejects on a non-2xx answer or a broken connection.
   */
  stream(
    path: string,
    init: RequestInit & { onLine: (line: string) => void; onResponse?: () => void },
  ): Promise<void>;
}

/** A non-2xx answer from the API server, or a transport failure (code 0). */
export class ApiError extends Error {
  constructor(
    message: string,
    /** HTTP status, or 0 for a transport error. */
    readonly code: number,
    /** The `reason` of a metav1.Status body (NotFound, Conflict, Expired, ...), when present. */
    readonly reason?: string,
    /** Parsed `Retry-After` in milliseconds (429 and some 5xx). */
    readonly retryAfterMs?: number,
    readonly body?: unknown,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** True for a 404. */
export const isNotFound = (err: unknown): boolean => err instanceof ApiError && err.code === 404;
/** True for a 409 Conflict (stale resourceVersion) — but not AlreadyExists, which is also 409. */
export const isConflict = (err: unknown): boolean =>
  err instanceof ApiError && err.code === 409 && err.reason !== 'AlreadyExists';
/** True for a 409 AlreadyExists. */
export const isAlreadyExists = (err: unknown): boolean =>
  err instanceof ApiError && err.code === 409 && err.reason === 'AlreadyExists';
/** True for 410 Gone (resourceVersion too old / expired continue token). */
export const isGone = (err: unknown): boolean => err instanceof ApiError && err.code === 410;

function retryAfter(headers: IncomingHttpHeaders): number | undefined {
  const raw = headers['retry-after'];
  if (!raw) return undefined;
  const seconds = Number(raw);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(raw);
  return Number.isFinite(date) ? Math.max(0, date - Date.now()) : undefined;
}

function errorFrom(method: string, path: string, res: IncomingMessage, text: string): ApiError {
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    /* keep text */
  }
  const status = body as { message?: string; reason?: string };
  const message = typeof status?.message === 'string' ? status.message : text.slice(0, 300);
  return new ApiError(
    `${method} ${path}: ${res.statusCode} ${message}`,
    res.statusCode ?? 0,
    typeof status?.reason === 'string' ? status.reason : undefined,
    retryAfter(res.headers),
    body,
  );
}

function withQuery(path: string, query?: RequestInit['query']): string {
  if (!query) return path;
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined) params.set(k, String(v));
  const qs = params.toString();
  return qs ? `${path}${path.includes('?') ? '&' : '?'}${qs}` : path;
}

/** A {@link KubeClient} using the credentials of a client-node KubeConfig (certs, tokens, exec plugins). */
export function clientFromKubeConfig(kc: KubeConfig): KubeClient {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error('kubeconfig has no current cluster');
  const base = new URL(cluster.server);
  const send = base.protocol === 'http:' ? httpRequest : httpsRequest;

  // client-node hands out an https.Agent without keep-alive, so every request would pay a new TCP
  // and TLS handshake on both ends (the apiserver's CPU is what a busy operator runs short of).
  // One keep-alive agent per TLS identity; a rotated client certificate gets a fresh one.
  let agent: { key: string; agent: HttpsAgent | HttpAgent } | undefined;
  function keepAliveAgent(opts: RequestOptions): HttpsAgent | HttpAgent {
    const tls = {
      ca: opts.ca,
      cert: opts.cert,
      key: opts.key,
      pfx: opts.pfx,
      passphrase: opts.passphrase,
      rejectUnauthorized: opts.rejectUnauthorized,
    };
    const key = JSON.stringify(
      [tls.ca, tls.cert, tls.key, tls.pfx, tls.passphrase, tls.rejectUnauthorized].map(String),
    );
    if (agent?.key !== key) {
      agent = {
        key,
        agent:
          base.protocol === 'http:'
            ? new HttpAgent({ keepAlive: true })
            : new HttpsAgent({ ...tls, keepAlive: true }),
      };
    }
    return agent.agent;
  }

  async function open(
    method: string,
    path: string,
    init: RequestInit,
  ): Promise<{ res: IncomingMessage; done: () => void }> {
    const url = new URL(withQuery(path, init.query), base);
    const opts: RequestOptions = { method, headers: { accept: 'application/json' } };
    // Called per request so refreshed tokens (exec plugins, projected SA tokens) are picked up.
    await kc.applyToHTTPSOptions(opts);
    opts.agent = keepAliveAgent(opts);
    const payload =
      init.body === undefined
        ? undefined
        : typeof init.body === 'string'
          ? init.body
          : JSON.stringify(init.body);
    if (payload !== undefined) {
      opts.headers = {
        ...opts.headers,
        'content-type': init.contentType ?? 'application/json',
        'content-length': Buffer.byteLength(payload),
      };
    }
    return new Promise((resolve, reject) => {
      if (init.signal?.aborted) return reject(new ApiError(`${method} ${path}: aborted`, 0));
      const req = send(url, opts, (res) => resolve({ res, done: () => req.destroy() }));
      const onAbort = () => req.destroy(new ApiError(`${method} ${path}: aborted`, 0));
      init.signal?.addEventListener('abort', onAbort, { once: true });
      req.once('close', () => init.signal?.removeEventListener('abort', onAbort));
      if (init.timeoutMs !== undefined) {
        const timer = setTimeout(
          () => req.destroy(new ApiError(`${method} ${path}: timed out`, 0)),
          init.timeoutMs,
        );
        req.once('close', () => clearTimeout(timer));
      }
      req.on('error', (err) =>
        reject(err instanceof ApiError ? err : new ApiError(`${method} ${path}: ${err.message}`, 0)),
      );
      if (payload !== undefined) req.write(payload);
      req.end();
    });
  }

  function readAll(res: IncomingMessage): Promise<string> {
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
      res.on('error', reject);
      res.on('aborted', () => reject(new ApiError('response aborted', 0)));
    });
  }

  return {
    async request<T>(method: string, path: string, init: RequestInit = {}): Promise<T> {
      const { res } = await open(method, path, { timeoutMs: 30_000, ...init });
      const text = await readAll(res);
      const code = res.statusCode ?? 0;
      if (code < 200 || code >= 300) throw errorFrom(method, path, res, text);
      return (text ? JSON.parse(text) : undefined) as T;
    },

    async stream(path, init) {
      const { res, done } = await open('GET', path, init);
      const code = res.statusCode ?? 0;
      if (code < 200 || code >= 300) throw errorFrom('GET', path, res, await readAll(res));
      init.onResponse?.();
      await new Promise<void>((resolve, reject) => {
        let buffered = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          buffered += chunk;
          let nl: number;
          while ((nl = buffered.indexOf('\n')) >= 0) {
            const line = buffered.slice(0, nl).trim();
            buffered = buffered.slice(nl + 1);
            if (!line) continue;
            try {
              init.onLine(line);
            } catch (err) {
              done();
              reject(err);
              return;
            }
          }
        });
        res.on('end', () => resolve());
        res.on('error', (err) =>
          reject(err instanceof ApiError ? err : new ApiError(`watch ${path}: ${err.message}`, 0)),
        );
        res.on('aborted', () => reject(new ApiError(`watch ${path}: connection aborted`, 0)));
        res.on('close', () => {
          // 'close' without 'end' means the socket died mid-stream.
          if (!res.complete) reject(new ApiError(`watch ${path}: connection closed`, 0));
        });
      });
    },
  };
}
