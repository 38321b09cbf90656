// The probe and metrics endpoint shared by the operator and the adapter, on its own port apart
// from the mTLS control port so kubelet probes and Prometheus need no client certificate:
// /healthz (alias /livez: the process is alive), /readyz and /metrics (Prometheus text).
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';

/** Options of {@link HealthServer}. */
export interface HealthServerOptions {
  /** Default 8081; 0 picks a free port (tests). */
  port?: number;
  /** Default `0.0.0.0` (kubelet probes come from outside the pod's loopback). */
  host?: string;
  /** Liveness: undefined when alive, or why not. Default always alive. */
  healthy?: () => string | undefined;
  /** Readiness: undefined when ready, or why not. */
  ready: () => string | undefined;
  registry: Registry;
}

/** A tiny HTTP server for probes and metrics: 200 `ok`, or 503 with the reason; GET and HEAD only. */
export class HealthServer {
  private server?: Server;

  constructor(private readonly options: HealthServerOptions) {}

  /** Starts listening; resolves with the bound port. */
  async start(): Promise<number> {
    const server = createServer((req, res) => {
      const path = (req.url ?? '/').split('?')[0];
      const text = (code: number, body: string) =>
        res.writeHead(code, { 'content-type': 'text/plain' }).end(`${body}\n`);
      const answer = (problem: string | undefined) =>
        problem === undefined ? text(200, 'ok') : text(503, problem);
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(405, { allow: 'GET, HEAD' }).end();
        return;
      }
      if (path === '/healthz' || path === '/livez') return answer(this.options.healthy?.());
      if (path === '/readyz') return answer(this.options.ready());
      if (path === '/metrics') {
        const registry = this.options.registry;
        registry.metrics().then(
          (body) => res.writeHead(200, { 'content-type': registry.contentType }).end(body),
          (err: Error) => text(500, err.message),
        );
        return;
      }
      text(404, 'not found');
    });
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.options.port ?? 8081, this.options.host ?? '0.0.0.0', () => {
        server.off('error', reject);
        resolve();
      });
    });
    return (server.address() as AddressInfo).port;
  }

  /** Stops listening and closes idle keep-alive connections. Idempotent. */
  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }
}
