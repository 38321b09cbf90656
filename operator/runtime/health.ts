// The probe and metrics endpoint: /healthz (the process is alive and not wedged), /readyz
// (caches are synced) and /metrics (Prometheus text from the manager's registry).
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';

/** Options of {@link HealthServer}. */
export interface HealthServerOptions {
  /** Default 8081; 0 picks a free port (tests). */
  port?: number;
  /** Default `0.0.0.0` (kubelet probes come from outside the pod's loopback). */
  host?: string;
  /** Returns undefined when healthy, or a reason. */
  healthy: () => string | undefined;
  /** Returns undefined when ready, or a reason. */
  ready: () => string | undefined;
  registry: Registry;
}

/** A tiny HTTP server for probes and metrics. */
export class HealthServer {
  private server?: Server;

  constructor(private readonly options: HealthServerOptions) {}

  /** Starts listening; resolves with the port. */
  async start(): Promise<number> {
    const server = createServer((req, res) => {
      const path = (req.url ?? '/').split('?')[0];
      const answer = (problem: string | undefined) => {
        res.writeHead(problem === undefined ? 200 : 503, { 'content-type': 'text/plain' });
        res.end(problem === undefined ? 'ok\n' : `${problem}\n`);
      };
      if (path === '/healthz' || path === '/livez') return answer(this.options.healthy());
      if (path === '/readyz') return answer(this.options.ready());
      if (path === '/metrics') {
        this.options.registry
          .metrics()
          .then((text) => {
            res.writeHead(200, { 'content-type': this.options.registry.contentType });
            res.end(text);
          })
          .catch((err: Error) => {
            res.writeHead(500);
            res.end(err.message);
          });
        return;
      }
      res.writeHead(404);
      res.end();
    });
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.options.port ?? 8081, this.options.host ?? '0.0.0.0', () => resolve());
    });
    return (server.address() as AddressInfo).port;
  }

  /** Stops listening and closes idle keep-alive connections. */
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
