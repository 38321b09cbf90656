// Where end-to-end heartbeats land. Locally: a DevSink on 127.0.0.1 (arrival times to the
// millisecond). On kind the adapters cannot reach the test machine's loopback, so the sink is an
// event display Deployment in the cluster and heartbeats are read back from its log.
import * as k8s from '@kubernetes/client-node';
import { DevSink } from '../../adapter/dev-sink.js';
import { adminKubeConfig, eventually, kubectl } from '../support/cluster.js';
import type { Platform } from './system.js';
import { restrictedDeployment } from '../support/restricted.js';

/** One heartbeat as the sink saw it. */
export interface Heartbeat {
  source: string;
  id: string;
  type: string;
  sequence: number;
  /** Epoch ms when it arrived (local) or was sent (its `time` attribute, kind). */
  at: number;
}

/** A sink the scenarios point sources at. */
export interface E2eSink {
  /** Value for `spec.sink.uri`. */
  readonly uri: string;
  /** Every heartbeat received so far. */
  heartbeats(): Promise<Heartbeat[]>;
  close(): Promise<void>;
}

/** A DevSink on loopback: local platform only. */
export async function loopbackSink(): Promise<E2eSink> {
  const sink = new DevSink();
  const url = await sink.start('127.0.0.1');
  return {
    uri: url.href,
    heartbeats: async () =>
      sink.requests
        .filter((r) => r.event)
        .map((r) => ({
          source: r.event!.source,
          id: r.event!.id,
          type: r.event!.type,
          sequence: Number((r.event!.data as { sequence?: number }).sequence),
          at: performance.timeOrigin + r.arrivedAt,
        })),
    close: () => sink.close(),
  };
}

/** Parses event_display output (Knative's format, which the local stand-in prints too). */
export function parseEventDisplayLog(log: string): Heartbeat[] {
  return log
    .split('☁️  cloudevents.Event')
    .slice(1)
    .flatMap((block) => {
      const attr = (name: string) => block.match(new RegExp(`^\\s+${name}: (.*)$`, 'm'))?.[1]?.trim();
      const sequence = block.match(/"sequence":\s*(\d+)/)?.[1];
      const source = attr('source');
      const id = attr('id');
      const type = attr('type');
      const time = attr('time');
      if (!source || !id || !type || !time || !sequence) return [];
      return [{ source, id, type, sequence: Number(sequence), at: Date.parse(time) }];
    });
}

const EVENT_DISPLAY_IMAGE =
  process.env.E2E_EVENT_DISPLAY_IMAGE ?? 'gcr.io/knative-releases/knative.dev/eventing/cmd/event_display';

/** An event display Deployment and Service in `namespace`, read through its pod log. */
export async function clusterSink(
  platform: Platform,
  namespace: string,
  name = 'e2e-sink',
): Promise<E2eSink> {
  const labels = { app: name };
  const apps = adminKubeConfig().makeApiClient(k8s.AppsV1Api);
  const core = adminKubeConfig().makeApiClient(k8s.CoreV1Api);
  await apps.createNamespacedDeployment({
    namespace,
    // As example.yaml runs it: numeric user *and* group (kubelet takes only the image's user).
    body: restrictedDeployment({
      name,
      labels,
      pod: {
        automountServiceAccountToken: false,
        containers: [
          {
            name: 'event-display',
            image: EVENT_DISPLAY_IMAGE,
            ports: [{ name: 'http', containerPort: 8080 }],
          },
        ],
      },
    }),
  });
  await core.createNamespacedService({
    namespace,
    body: {
      metadata: { name, labels },
      spec: { selector: labels, ports: [{ name: 'http', port: 80, targetPort: 'http' }] },
    },
  });
  const pod = await eventually(`the ${name} event display to be Ready`, async () => {
    const pods = (await core.listNamespacedPod({ namespace, labelSelector: `app=${name}` })).items;
    return pods.find((p) => p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'));
  });
  return {
    uri: `http://${name}.${namespace}.svc.cluster.local`,
    heartbeats: async () =>
      parseEventDisplayLog(platform.podLog(namespace, pod.metadata!.name!, 'event-display')),
    close: async () => {
      kubectl(['-n', namespace, 'delete', 'deployment,service', name, '--wait=false']);
    },
  };
}

/** The sink fitting the platform: loopback locally, in-cluster on kind. */
export function sinkFor(platform: Platform, namespace: string, name?: string): Promise<E2eSink> {
  return platform.name === 'local' ? loopbackSink() : clusterSink(platform, namespace, name);
}

/** Waits until `predicate` holds over the heartbeats of `source`. */
export async function waitForHeartbeats(
  sink: E2eSink,
  source: string,
  what: string,
  predicate: (beats: Heartbeat[]) => boolean,
  timeoutMs = 30_000,
): Promise<Heartbeat[]> {
  return eventually(
    what,
    async () => {
      const beats = (await sink.heartbeats()).filter((b) => b.source === source);
      return predicate(beats) ? beats : undefined;
    },
    timeoutMs,
  );
}
