// Sink tokens on the real kube-apiserver: the operator's TokenRequest (with nothing but
// `create serviceaccounts/token` in the namespace) yields a JWT for exactly the requested
// audience and lifetime, whose signature verifies against the API server's own OIDC discovery
// and JWKS, fetched without credentials once system:unauthenticated may read them; a verifier
// expecting another audience refuses it.
import * as k8s from '@kubernetes/client-node';
import { jwtVerify } from 'jose';
import { pino } from 'pino';
import { adminKubeConfig, eventually, freshNamespace } from '../../test/support/cluster.js';
import { kubeconfigForUser } from '../../test/support/identities.js';
import { ANONYMOUS_DISCOVERY_BINDING, discoverIssuer } from '../../test/support/oidc-sink.js';
import { clientFromKubeConfig } from '../runtime/client.js';
import { SinkTokens, type SinkTokenGrant } from './sink-tokens.js';

const AUDIENCE = 'https://sink.test.example/heartbeats';

describe('sink tokens from the real TokenRequest API', () => {
  const admin = adminKubeConfig();
  const core = admin.makeApiClient(k8s.CoreV1Api);
  const rbac = admin.makeApiClient(k8s.RbacAuthorizationV1Api);
  const server = admin.getCurrentCluster()!.server;
  const caPem = Buffer.from(admin.getCurrentCluster()!.caData!, 'base64').toString('utf8');
  let ns: Awaited<ReturnType<typeof freshNamespace>>;

  beforeAll(async () => {
    ns = await freshNamespace('sinktok');
    await core.createNamespacedServiceAccount({
      namespace: ns.name,
      body: { metadata: { name: 'samplesource-src-oidc-1' }, automountServiceAccountToken: false },
    });
    // The operator's grant for tokens, and nothing else, to a user of its own.
    await rbac.createNamespacedRole({
      namespace: ns.name,
      body: {
        metadata: { name: 'mint' },
        rules: [{ apiGroups: [''], resources: ['serviceaccounts/token'], verbs: ['create'] }],
      },
    });
    await rbac.createNamespacedRoleBinding({
      namespace: ns.name,
      body: {
        metadata: { name: 'mint' },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'mint' },
        subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: 'sink-token-minter' }],
      },
    });
  });
  afterAll(async () => {
    await rbac
      .deleteClusterRoleBinding({ name: ANONYMOUS_DISCOVERY_BINDING.metadata.name })
      .catch(() => undefined);
    await ns?.cleanup();
  });

  it('mints a token the issuer signed for exactly that audience, verifiable by a stranger through OIDC discovery', async () => {
    const kc = new k8s.KubeConfig();
    kc.loadFromFile(await kubeconfigForUser('sink-token-minter'));
    const grants: SinkTokenGrant[] = [];
    const tokens = new SinkTokens({
      client: clientFromKubeConfig(kc),
      onToken: (_key, grant) => grant && grants.push(grant),
      logger: pino({ level: 'silent' }),
    });
    tokens.activate();
    const before = Date.now();
    tokens.want(`${ns.name}/src`, ns.name, 'samplesource-src-oidc-1', AUDIENCE);
    const grant = await eventually('a minted token', async () => grants[0]);
    tokens.forget(`${ns.name}/src`);
    expect(grant.audience).toBe(AUDIENCE);
    // 3600 s asked; the server may round, never exceed.
    const lifetime = grant.expiresAt.getTime() - before;
    expect(lifetime).toBeGreaterThan(3_500_000);
    expect(lifetime).toBeLessThanOrEqual(3_610_000);

    // Discovery is not public by default: an anonymous client is refused.
    await expect(discoverIssuer(server, caPem)).rejects.toThrow(/40[13]/);
    await rbac.createClusterRoleBinding({ body: ANONYMOUS_DISCOVERY_BINDING }).catch((err: unknown) => {
      if ((err as { code?: number }).code !== 409) throw err;
    });
    const issuer = await eventually('anonymous OIDC discovery', () =>
      discoverIssuer(server, caPem).catch(() => undefined),
    );
    expect(issuer.jwksUri).toMatch(/\/openid\/v1\/jwks$/);

    const { payload, protectedHeader } = await jwtVerify(grant.token, issuer.keys, {
      issuer: issuer.issuer,
      audience: AUDIENCE,
    });
    expect(protectedHeader.alg).toMatch(/^(RS|ES)\d+$/);
    expect(payload.sub).toBe(`system:serviceaccount:${ns.name}:samplesource-src-oidc-1`);
    expect(payload.aud).toEqual([AUDIENCE]);
    expect(payload.exp! * 1000).toBe(grant.expiresAt.getTime());

    await expect(
      jwtVerify(grant.token, issuer.keys, { issuer: issuer.issuer, audience: 'https://another.sink/' }),
    ).rejects.toThrow(/"aud" claim/);
    // A token whose signature was tampered with fails too.
    const [h, c, s] = grant.token.split('.');
    const forged = `${h}.${c}.${s!.slice(0, -4)}${s!.slice(-4) === 'AAAA' ? 'BBBB' : 'AAAA'}`;
    await expect(
      jwtVerify(forged, issuer.keys, { issuer: issuer.issuer, audience: AUDIENCE }),
    ).rejects.toThrow(/signature/);
  });

  it('reports a missing ServiceAccount as a failed mint (the real 404) and mints nothing', async () => {
    const grants: SinkTokenGrant[] = [];
    const lines: string[] = [];
    const tokens = new SinkTokens({
      client: clientFromKubeConfig(admin),
      onToken: (_key, grant) => grant && grants.push(grant),
      logger: pino({ level: 'warn' }, { write: (line: string) => void lines.push(line) }),
      retry: { initialMs: 60_000, maxMs: 60_000 },
    });
    tokens.activate();
    tokens.want(`${ns.name}/other`, ns.name, 'absent', AUDIENCE);
    const warning = await eventually('the failed mint logged', async () =>
      lines.find((l) => l.includes('minting a sink token failed')),
    );
    expect(warning).toMatch(/404 serviceaccounts \\"absent\\" not found/);
    expect(grants).toHaveLength(0);
    expect(tokens.current(`${ns.name}/other`)).toBeUndefined();
    tokens.forget(`${ns.name}/other`);
  });
});
