// What a benchmark window cost the API server and the operator: kube-apiserver's own request
// counter (apiserver_request_total, by verb and resource) and the operator's reconcile and Event
// counters from its /metrics, read before and after the window and subtracted. Both are counters
// of the real processes; nothing here counts on its own.
import { readFileSync } from 'node:fs';
import type { ControlPlane } from '../../test/controlplane/controlplane.js';

/** Sums of a Prometheus text exposition's samples of one metric, grouped by `key` of its labels. */
export function sumSamples(
  text: string,
  metric: string,
  key: (labels: Record<string, string>) => string | undefined,
): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line.startsWith(metric)) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (!m || m[1] !== metric) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g))
      labels[l[1]!] = l[2]!;
    const k = key(labels);
    if (k === undefined) continue;
    out.set(k, (out.get(k) ?? 0) + Number(m[3]));
  }
  return out;
}

/** kube-apiserver's requests so far by `VERB resource[/subresource]` (all clients: subtract two reads). */
export async function apiserverRequests(
  cp: Pick<ControlPlane, 'adminRequest'>,
): Promise<Map<string, number>> {
  const res = await cp.adminRequest('GET', '/metrics');
  const text = typeof res.body === 'string' ? res.body : '';
  return sumSamples(text, 'apiserver_request_total', (l) =>
    l.resource ? `${l.verb} ${l.resource}${l.subresource ? `/${l.subresource}` : ''}` : undefined,
  );
}

/** `after − before` per key, without the keys that did not move. */
export function delta(before: Map<string, number>, after: Map<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of [...after].sort(([a], [b]) => a.localeCompare(b))) {
    const d = v - (before.get(k) ?? 0);
    if (d !== 0) out[k] = d;
  }
  return out;
}

/** The operator's counters that say how much work a window took (reconcile passes, Events). */
export async function operatorCounters(ip: string | undefined): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  if (!ip) return out;
  let text: string;
  try {
    const res = await fetch(`http://${ip}:8080/metrics`, { signal: AbortSignal.timeout(5_000) });
    text = await res.text();
  } catch {
    return out;
  }
  const add = (m: Map<string, number>) => m.forEach((v, k) => out.set(k, (out.get(k) ?? 0) + v));
  add(
    sumSamples(text, 'reconcile_duration_seconds_count', (l) =>
      l.controller === 'samplesource' ? `reconciles ${l.result}` : undefined,
    ),
  );
  add(
    sumSamples(text, 'workqueue_adds_total', (l) =>
      l.controller === 'samplesource' ? 'queue adds' : undefined,
    ),
  );
  add(sumSamples(text, 'events_aggregated_total', (l) => `events ${l.outcome}`));
  add(sumSamples(text, 'events_written_total', (l) => `events written ${l.outcome}`));
  add(sumSamples(text, 'process_cpu_seconds_total', () => 'cpu seconds'));
  return out;
}

/** CPU seconds (user + system) a process has used, from /proc/<pid>/stat; undefined when gone. */
export function cpuSecondsOf(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    // utime and stime are fields 14 and 15 of stat, 12 and 13 after "pid (comm) ".
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return undefined;
  }
}

/** The Events of a namespace by reason (and `Moved` for AssignedToPool events of a move), summed over their counts. */
export async function eventCensus(
  client: { request<T>(method: string, path: string, init?: { query?: Record<string, string> }): Promise<T> },
  namespace: string,
): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  let token: string | undefined;
  do {
    const page = await client.request<{
      items: Array<{ reason?: string; message?: string; count?: number }>;
      metadata: { continue?: string };
    }>('GET', `/api/v1/namespaces/${namespace}/events`, {
      query: { limit: '2000', ...(token ? { continue: token } : {}) },
    });
    for (const e of page.items) {
      const reason =
        e.reason === 'AssignedToPool' && e.message?.startsWith('Moved')
          ? 'AssignedToPool (moved)'
          : (e.reason ?? '?');
      out[reason] = (out[reason] ?? 0) + (e.count ?? 1);
    }
    token = page.metadata.continue || undefined;
  } while (token);
  return out;
}
