// CloudEvents delivery as Knative defines it, end to end from adapter pods to real sinks in this
// test process: extension values percent-encoded as the HTTP binding requires (a receiver that
// decodes, then parses with the cloudevents SDK's HTTP.toEvent, gets them intact); redelivery by
// Knative's rules, timed at the sink (same id and source, Retry-After honoured, no redelivery on
// 400, delays never below the base and never shrinking); and one contract for extension names:
// refused at admission naming the field, or a False condition naming it, never a crash-looping pod.
import * as k8s from '@kubernetes/client-node';
import { DevSink, type ReceivedEvent } from '../../adapter/dev-sink.js';
import { adminKubeConfig, eventually, freshNamespace } from '../support/cluster.js';
import { startSystem, type Platform } from './system.js';
import { condition, createSource, kubectlApply, waitForSource } from './source-helpers.js';

const heartbeatSource = (ns: string, name: string) => `/apis/v1/namespaces/${ns}/samplesources/${name}`;
const sequenceOf = (r: ReceivedEvent) => (r.event?.data as { sequence?: number } | undefined)?.sequence;
/** The adapters' backoff base (adapter.ts retryInitialDelayMs default). */
const BASE_DELAY_MS = 100;

describe('CloudEvents delivery end to end', () => {
  const kc = adminKubeConfig();
  const apps = kc.makeApiClient(k8s.AppsV1Api);
  const ext = kc.makeApiClient(k8s.ApiextensionsV1Api);
  // Where the adapters reach this test process (loopback locally, the node's host end on the real node).
  const host = new URL(kc.getCurrentCluster()!.server).hostname;
  let platform: Platform;
  let ns: Awaited<ReturnType<typeof freshNamespace>>;
  const sinks: DevSink[] = [];

  async function sinkOn(): Promise<{ sink: DevSink; url: string }> {
    const sink = new DevSink();
    sinks.push(sink);
    return { sink, url: (await sink.start(host)).href };
  }

  async function adapterDeployments(sourceUid: string): Promise<k8s.V1Deployment[]> {
    const list = await apps.listNamespacedDeployment({
      namespace: ns.name,
      labelSelector: `samples.knative.dev/source-uid=${sourceUid}`,
    });
    return list.items;
  }

  beforeAll(async () => {
    platform = await startSystem();
    ns = await freshNamespace('delivery');
  });
  afterAll(async () => {
    await platform?.stop();
    await Promise.all(sinks.map((s) => s.close()));
  });

  it('1. an extension with spaces, a quote, a percent sign, non-ASCII and control characters arrives intact', async () => {
    const { sink, url } = await sinkOn();
    const value = 'two words ü 100% "quoted" \u0007bell\ttab';
    await createSource(ns.name, 'encoded', {
      interval: '300ms',
      sink: { uri: url },
      ceOverrides: { extensions: { team: value, literal: '%41', plain: 'blue' } },
    });
    const source = heartbeatSource(ns.name, 'encoded');
    await sink.waitUntil(
      (requests) => requests.filter((r) => r.event?.source === source).length >= 2,
      'two heartbeats',
      90_000,
    );
    for (const r of sink.requests.filter((x) => x.event?.source === source)) {
      // On the wire: printable ASCII only, without a double quote, as the binding requires.
      const raw = r.headers['ce-team'] as string;
      expect(raw).toMatch(/^[\x21-\x7e]+$/);
      expect(raw).not.toContain('"');
      // Decoded by the platform's own percent-decoder, independently of the project's codec.
      expect(decodeURIComponent(raw)).toBe(value);
      // And through the conformant receiver (percent-decoding, then the SDK's HTTP.toEvent).
      expect(r.error).toBeUndefined();
      expect(r.event).toMatchObject({ team: value, literal: '%41', plain: 'blue' });
      expect(r.headers['ce-plain']).toBe('blue');
    }
  });

  it('2. retries as Knative defines them: 503 then 200 redelivered as the same event, Retry-After honoured, 400 never redelivered, delays never below the base nor shrinking', async () => {
    const { sink, url } = await sinkOn();
    // What the sink answers, per heartbeat (by the order its sequence number first arrived) and attempt.
    const plans: Array<Array<{ status: number; headers?: Record<string, string> }>> = [
      [{ status: 503 }, { status: 200 }],
      [{ status: 429, headers: { 'retry-after': '1' } }, { status: 200 }],
      [{ status: 400 }],
      [{ status: 503 }, { status: 500 }, { status: 503 }, { status: 200 }],
    ];
    const order: number[] = [];
    const attempts = new Map<number, number>();
    sink.behaviour = (_n, _req, event) => {
      const sequence = (event?.data as { sequence?: number } | undefined)?.sequence;
      if (sequence === undefined) return { status: 400 };
      if (!order.includes(sequence)) order.push(sequence);
      const attempt = attempts.get(sequence) ?? 0;
      attempts.set(sequence, attempt + 1);
      const plan = plans[order.indexOf(sequence)];
      return plan?.[attempt] ?? (plan ? { status: 200 } : { status: 202 });
    };
    await createSource(ns.name, 'retried', { interval: '1s', sink: { uri: url } });
    const source = heartbeatSource(ns.name, 'retried');
    // Heartbeats well past the scripted ones, so a late redelivery of any of them would have shown.
    await sink.waitUntil(
      () => order.length >= plans.length + 3,
      'heartbeats after the scripted ones',
      120_000,
    );
    const arrivals = (i: number) => sink.requests.filter((r) => sequenceOf(r) === order[i]);
    const gaps = (rs: ReceivedEvent[]) => rs.slice(1).map((r, k) => r.arrivedAt - rs[k]!.arrivedAt);

    // Every attempt of one heartbeat is the same event: one id, one source.
    for (let i = 0; i < plans.length; i++) {
      const rs = arrivals(i);
      expect(rs.map((r) => r.status)).toEqual(plans[i]!.map((p) => p.status));
      expect(new Set(rs.map((r) => r.event?.id)).size).toBe(1);
      expect(rs.every((r) => r.event?.source === source)).toBe(true);
    }
    // 503 then 200: redelivered once, not before the base delay.
    const [first] = gaps(arrivals(0));
    expect(first).toBeGreaterThanOrEqual(BASE_DELAY_MS);
    // 429 with Retry-After: 1 → the redelivery not before about a second (the backoff alone would be 100-150 ms).
    const [afterRetryAfter] = gaps(arrivals(1));
    expect(afterRetryAfter).toBeGreaterThanOrEqual(950);
    // 400: delivered once, never again (nor as a new event: its sequence shows up once).
    expect(arrivals(2)).toHaveLength(1);
    // Three retries: each delay at least the base and none shorter than the one before. The nominal
    // delays (100-150, 200-300, 400-600 ms) grow by at least 50 ms a step; measured at the sink they
    // also carry one request's latency, so a 20 ms allowance absorbs that noise, not a shrinking delay.
    const retryGaps = gaps(arrivals(3));
    process.stdout.write(
      `[delivery] redelivery gaps at the sink (ms): 503→200 ${Math.round(first!)}, 429 Retry-After 1 → ${Math.round(afterRetryAfter!)}, 503/500/503→200 ${retryGaps.map(Math.round).join(', ')}\n`,
    );
    expect(retryGaps).toHaveLength(3);
    for (const [k, gap] of retryGaps.entries()) {
      expect(gap).toBeGreaterThanOrEqual(BASE_DELAY_MS);
      if (k > 0) expect(gap).toBeGreaterThanOrEqual(retryGaps[k - 1]! - 20);
    }
  });

  describe('3. one contract for extension names', () => {
    const manifest = (name: string, extensions: string) =>
      `apiVersion: samples.knative.dev/v1alpha1\nkind: SampleSource\nmetadata:\n  name: ${name}\nspec:\n  sink:\n    uri: http://127.0.0.1:1/\n  ceOverrides:\n    extensions:\n${extensions}\n`;

    it('a reserved attribute name or an invalid name is refused at admission, the message naming the field', () => {
      for (const reserved of ['time', 'id', 'source', 'specversion', 'data', 'validate']) {
        expect(() =>
          kubectlApply(manifest(`reserved-${reserved}`, `      ${reserved}: "x"`), ns.name),
        ).toThrow(/spec\.ceOverrides\.extensions: .*must not be a core CloudEvents attribute/);
      }
      for (const bad of ['Team', 'two-words', 'averyveryverylongextensionname']) {
        expect(() => kubectlApply(manifest('badname', `      ${bad}: "x"`), ns.name)).toThrow(
          /spec\.ceOverrides\.extensions: .*1-20 lowercase letters or digits/,
        );
      }
    });

    it('what only the operator checks is a False condition naming the field, and no adapter is started', async () => {
      // Admission checks the PEM markers only; that the certificate parses is for the operator (and the adapter).
      const broken = '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n';
      const created = await createSource(ns.name, 'badca', {
        interval: '1s',
        sink: { uri: 'https://127.0.0.1:1/', CACerts: broken },
      });
      const refused = await waitForSource(
        ns.name,
        'badca',
        'SinkProvided False',
        (s) => condition(s, 'SinkProvided')?.status === 'False',
        60_000,
      );
      // The operator's spec validation (contract/knative.ts, the adapter's rule) refuses it first.
      expect(condition(refused, 'SinkProvided')).toMatchObject({ reason: 'InvalidSpec' });
      expect(condition(refused, 'SinkProvided')?.message).toContain('spec.sink.CACerts');
      expect(condition(refused, 'Ready')?.status).toBe('False');
      expect(await adapterDeployments(created.metadata.uid)).toEqual([]);
    });

    it('a reserved extension stored under an older CRD (no CEL rule then) is InvalidSpec naming the field, never a crash-looping adapter', async () => {
      const crdName = 'samplesources.samples.knative.dev';
      const original = await ext.readCustomResourceDefinition({ name: crdName });
      const older = structuredClone(original);
      const extensions =
        older.spec.versions[0]!.schema!.openAPIV3Schema!.properties!.spec!.properties!.ceOverrides!
          .properties!.extensions!;
      delete extensions.x_kubernetes_validations;
      await ext.replaceCustomResourceDefinition({ name: crdName, body: older });
      let created: Awaited<ReturnType<typeof createSource>> | undefined;
      try {
        // The API server picks the schema change up within moments: retry until the older rules apply.
        created = await eventually(
          'the older CRD to admit an extension named time',
          () =>
            createSource(ns.name, 'legacy', {
              interval: '1s',
              sink: { uri: 'http://127.0.0.1:1/' },
              ceOverrides: { extensions: { time: 'yesterday' } },
            }).catch(() => undefined),
          30_000,
        );
      } finally {
        const now = await ext.readCustomResourceDefinition({ name: crdName });
        await ext.replaceCustomResourceDefinition({
          name: crdName,
          body: {
            ...original,
            metadata: { ...original.metadata, resourceVersion: now.metadata!.resourceVersion },
          },
        });
      }
      const invalid = await waitForSource(
        ns.name,
        'legacy',
        'Ready False/InvalidSpec',
        (s) => condition(s, 'Ready')?.reason === 'InvalidSpec',
        60_000,
      );
      expect(condition(invalid, 'Ready')?.status).toBe('False');
      expect(condition(invalid, 'Ready')?.message).toMatch(
        /spec\.ceOverrides\.extensions\.time: .*core CloudEvents attribute/,
      );
      expect(condition(invalid, 'Deployed')).toMatchObject({ status: 'False', reason: 'InvalidSpec' });
      // The operator never started an adapter it knows would refuse its configuration.
      expect(await adapterDeployments(created.metadata.uid)).toEqual([]);
    });
  });
});
