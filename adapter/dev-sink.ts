// A small real CloudEvents sink: parses every request with the CloudEvents SDK and records it.
// Used by the tests, by the cadence benchmark and by hand (`steer-cli sink`) next to an adapter.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { HTTP, type CloudEventV1 } from 'cloudevents';
import { decodeCeHeaderValue, isCeAttributeHeader } from './ce-headers.js';

/** One request the sink received. */
export interface ReceivedEvent {
  /**
   * The parsed event, or undefined if the request was not a valid CloudEvent. Header values are
   * percent-decoded as the HTTP binding requires before the SDK reads them (the SDK does not).
   */
  event: CloudEventV1<unknown> | undefined;
  /** Parse error for an invalid request. */
  error?: string;
  /** Headers as they arrived (still percent-encoded). */
  headers: IncomingMessage['headers'];
  /** performance.now() at arrival. */
  arrivedAt: number;
  /** Status the sink answered (or 0 when it hung). */
  status: number;
}

/** What the sink does with request number `n` (0-based) carrying `event` (if it parsed); default 202. */
export type SinkBehaviour = (
  n: number,
  req: IncomingMessage,
  event: CloudEventV1<unknown> | undefined,
) => { status: number; headers?: Record<string, string> } | 'hang';

/** A CloudEvents sink on a real socket. */
export class DevSink {
  /** Every request, in arrival order (accepted or not). */
  readonly requests: ReceivedEvent[] = [];
  private readonly server: Server;
  private readonly waiters = new Set<() => void>();
  private readonly hung = new Set<ServerResponse>();
  /** Replace to script failures, latency or hangs. */
  behaviour: SinkBehaviour = () => ({ status: 202 });
  /** Extra delay before answering, in ms. Default 0. */
  delayMs = 0;
  /** Requests being answered right now, and the most there ever were at once. */
  open = 0;
  maxOpen = 0;
  /** Called on every request after it is recorded. */
  onRequest?: (r: ReceivedEvent) => void;

  /** A plain HTTP sink, or an HTTPS one serving `tls` (PEM certificate and key). */
  constructor(private readonly tls?: { certPem: string; keyPem: string }) {
    const handler = (req: IncomingMessage, res: ServerResponse) => {
      this.open++;
      this.maxOpen = Math.max(this.maxOpen, this.open);
      res.on('close', () => this.open--);
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => this.receive(req, res, Buffer.concat(chunks).toString('utf8')));
    };
    this.server = tls
      ? createHttpsServer({ cert: tls.certPem, key: tls.keyPem }, handler)
      : createServer(handler);
  }

  private receive(req: IncomingMessage, res: ServerResponse, body: string): void {
    const arrivedAt = performance.now();
    let event: CloudEventV1<unknown> | undefined;
    let error: string | undefined;
    try {
      const decoded: Record<string, string> = {};
      for (const [name, value] of Object.entries(req.headers)) {
        if (value === undefined) continue;
        const text = Array.isArray(value) ? value.join(', ') : value;
        decoded[name] = isCeAttributeHeader(name) ? decodeCeHeaderValue(text) : text;
      }
      const parsed = HTTP.toEvent({ headers: decoded, body });
      event = Array.isArray(parsed) ? parsed[0] : parsed;
    } catch (err) {
      error = (err as Error).message;
    }
    const answer = this.behaviour(this.requests.length, req, event);
    const record: ReceivedEvent = {
      event,
      error,
      headers: req.headers,
      arrivedAt,
      status: answer === 'hang' ? 0 : answer.status,
    };
    this.requests.push(record);
    this.onRequest?.(record);
    for (const wake of this.waiters) wake();
    if (answer === 'hang') {
      this.hung.add(res);
      res.on('close', () => this.hung.delete(res));
      return;
    }
    const reply = () => res.writeHead(answer.status, answer.headers).end();
    if (this.delayMs > 0) setTimeout(reply, this.delayMs);
    else reply();
  }

  /** Events the sink accepted (2xx), in arrival order. */
  get accepted(): ReceivedEvent[] {
    return this.requests.filter((r) => r.event && r.status >= 200 && r.status < 300);
  }

  /** Listens on 127.0.0.1 (or `host`); resolves with the sink URL. */
  start(host = '127.0.0.1', port = 0): Promise<URL> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        const { port: bound } = this.server.address() as AddressInfo;
        resolve(new URL(`${this.tls ? 'https' : 'http'}://${host}:${bound}/`));
      });
    });
  }

  /** Resolves once `predicate(requests)` holds; rejects after `timeoutMs` (default 10 s) with `what`. */
  waitUntil(
    predicate: (requests: ReceivedEvent[]) => boolean,
    what = 'sink condition',
    timeoutMs = 10_000,
  ): Promise<void> {
    if (predicate(this.requests)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(check);
        reject(
          new Error(
            `timed out after ${timeoutMs}ms waiting for ${what} (${this.requests.length} requests so far)`,
          ),
        );
      }, timeoutMs);
      const check = () => {
        if (!predicate(this.requests)) return;
        clearTimeout(timer);
        this.waiters.delete(check);
        resolve();
      };
      this.waiters.add(check);
    });
  }

  /** Waits until `n` events have been accepted. */
  waitForAccepted(n: number, timeoutMs = 10_000): Promise<void> {
    return this.waitUntil(() => this.accepted.length >= n, `${n} accepted events`, timeoutMs);
  }

  /** Stops listening and cuts every connection, hung ones included. */
  close(): Promise<void> {
    for (const res of this.hung) res.destroy();
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }
}
