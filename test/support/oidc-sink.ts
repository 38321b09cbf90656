// A real OIDC-protected CloudEvents sink for tests: it accepts a request only when its
// `Authorization: Bearer` token is a JWT signed by the API server's ServiceAccount issuer, found the
// way any OIDC relying party finds it: the issuer's discovery document
// (/.well-known/openid-configuration) names the JWKS (/openid/v1/jwks), whose keys verify the
// signature; issuer, audience and expiry are checked by jose. Discovery is fetched without
// credentials (only the API server's CA), so the cluster must allow it to system:unauthenticated,
// as clusters serving OIDC relying parties outside the cluster do (see allowAnonymousDiscovery).
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { HTTP } from 'cloudevents';
import { createRemoteJWKSet, customFetch, jwtVerify, type JWTPayload } from 'jose';
import { Agent, fetch as undiciFetch } from 'undici';
import { z } from 'zod';
import { clusterRoleBinding } from './rbac.js';

const DiscoverySchema = z.object({ issuer: z.string().min(1), jwks_uri: z.url() });

/** The issuer's discovery document and a key set that follows its JWKS (refetched on an unknown key id). */
export interface IssuerKeys {
  issuer: string;
  jwksUri: string;
  keys: ReturnType<typeof createRemoteJWKSet>;
  /** Closes the connections to the issuer. */
  close(): Promise<void>;
}

/**
 * Reads the issuer's discovery document at `issuer` (the API server: `https://host:port/`) with
 * only `caPem` to trust it, and sets up its JWKS the same way.
 */
export async function discoverIssuer(issuer: string, caPem: string): Promise<IssuerKeys> {
  const dispatcher = new Agent({ connect: { ca: caPem } });
  const fetchWithCa = ((url: string, init: Record<string, unknown>) =>
    undiciFetch(url, { ...init, dispatcher })) as unknown as typeof fetch;
  const url = new URL('.well-known/openid-configuration', issuer.endsWith('/') ? issuer : `${issuer}/`);
  const res = await fetchWithCa(url.href, {});
  if (res.status !== 200) {
    const text = await res.text();
    await dispatcher.close();
    throw new Error(`GET ${url.href}: ${res.status} ${text}`);
  }
  const doc = DiscoverySchema.parse(await res.json());
  return {
    issuer: doc.issuer,
    jwksUri: doc.jwks_uri,
    keys: createRemoteJWKSet(new URL(doc.jwks_uri), { [customFetch]: fetchWithCa }),
    close: () => dispatcher.close(),
  };
}

/** One request the sink saw. */
export interface OidcRequest {
  /** CloudEvent source, when the body parsed as one. */
  source?: string;
  sequence?: number;
  status: 202 | 401;
  /** Why it was refused (jose's message), or the verified claims. */
  refusal?: string;
  claims?: JWTPayload;
  /** The presented token's signature segment, so a test can look for it where it must never be (logs). */
  tokenSignature?: string;
  /** When it arrived (epoch ms). */
  at: number;
}

/** The sink: accepts with 202 what verifies, answers 401 to everything else. */
export class OidcSink {
  readonly requests: OidcRequest[] = [];
  private server: Server | undefined;

  constructor(
    private readonly keys: IssuerKeys,
    /** The audience this sink is; tokens for any other are refused. */
    readonly audience: string,
  ) {}

  /** Listens on `host` (a loopback or the node's address); returns the URL to put in spec.sink.uri. */
  async start(host: string): Promise<URL> {
    this.server = createServer((req, res) => {
      void this.handle(req).then((status) => res.writeHead(status).end());
    });
    await new Promise<void>((resolve) => this.server!.listen(0, host, resolve));
    const { port } = this.server.address() as AddressInfo;
    return new URL(`http://${host.includes(':') ? `[${host}]` : host}:${port}/`);
  }

  /** Requests from heartbeat source `source` with status `status`. */
  from(source: string, status?: 202 | 401): OidcRequest[] {
    return this.requests.filter((r) => r.source === source && (status === undefined || r.status === status));
  }

  async close(): Promise<void> {
    const server = this.server;
    if (!server) return;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections(); // adapters keep their connections alive
    });
  }

  private async handle(req: IncomingMessage): Promise<202 | 401> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const record: OidcRequest = { status: 401, at: Date.now() };
    try {
      const event = HTTP.toEvent({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      const one = Array.isArray(event) ? event[0] : event;
      record.source = one?.source;
      const data = one?.data as { sequence?: number } | undefined;
      if (typeof data?.sequence === 'number') record.sequence = data.sequence;
    } catch {
      /* not a CloudEvent: still answered by the token check */
    }
    const header = req.headers.authorization ?? '';
    const match = /^Bearer (\S+)$/.exec(header);
    try {
      if (!match) throw new Error('no bearer token');
      record.tokenSignature = match[1]!.slice(match[1]!.lastIndexOf('.') + 1);
      const { payload } = await jwtVerify(match[1]!, this.keys.keys, {
        issuer: this.keys.issuer,
        audience: this.audience,
      });
      record.status = 202;
      record.claims = payload;
    } catch (err) {
      record.refusal = (err as Error).message;
    }
    this.requests.push(record);
    return record.status;
  }
}

/**
 * Lets anyone read the ServiceAccount issuer's discovery document and keys (the built-in
 * ClusterRole system:service-account-issuer-discovery, bound to system:unauthenticated), as a
 * cluster that serves OIDC relying parties does. Returns the binding's manifest name.
 */
export const ANONYMOUS_DISCOVERY_BINDING = clusterRoleBinding(
  'samplesource-test-oidc-discovery',
  'system:service-account-issuer-discovery',
  [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'Group', name: 'system:unauthenticated' }],
);
