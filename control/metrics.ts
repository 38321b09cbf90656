// Prometheus instruments of the protocol, registered on the registry the caller passes in.
// Several clients may share one registry, so instruments are reused when already registered.
import { Counter, Histogram } from 'prom-client';
import type { Registry } from 'prom-client';

/** Per-role (client or server) bound instruments: cheap to bump on the hot path. */
export interface ControlMetrics {
  sent: { inc(n?: number): void };
  acked: { inc(n?: number): void };
  rejected: { inc(n?: number): void };
  resent: { inc(n?: number): void };
  duplicates: { inc(n?: number): void };
  reconnects: { inc(n?: number): void };
  dropped: { inc(n?: number): void };
  malformed: { inc(n?: number): void };
  refused: { inc(n?: number): void };
  /** Round trip from write to ack, seconds. */
  rtt: { observe(v: number): void };
}

const noop = { inc: () => {}, observe: () => {} };

/** Metrics that record nothing, when no registry is given. */
export const noMetrics: ControlMetrics = {
  sent: noop,
  acked: noop,
  rejected: noop,
  resent: noop,
  duplicates: noop,
  reconnects: noop,
  dropped: noop,
  malformed: noop,
  refused: noop,
  rtt: noop,
};

function counter(registry: Registry, name: string, help: string): Counter<'role'> {
  const existing = registry.getSingleMetric(name);
  if (existing) return existing as Counter<'role'>;
  return new Counter({ name, help, labelNames: ['role'], registers: [registry] });
}

/** Instruments named control_* with label role="client"|"server"; noMetrics when registry is undefined. */
export function controlMetrics(registry: Registry | undefined, role: 'client' | 'server'): ControlMetrics {
  if (!registry) return noMetrics;
  const rttName = 'control_ack_round_trip_seconds';
  const rtt =
    (registry.getSingleMetric(rttName) as Histogram<'role'> | undefined) ??
    new Histogram({
      name: rttName,
      help: 'Time from writing a reliable message to receiving its ack',
      labelNames: ['role'],
      buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 0.5, 2, 10],
      registers: [registry],
    });
  const c = (name: string, help: string) => counter(registry, name, help).labels(role);
  return {
    sent: c('control_messages_sent_total', 'Reliable messages (commands, async results) first written'),
    acked: c('control_messages_acked_total', 'Reliable messages acked without error'),
    rejected: c('control_messages_rejected_total', 'Reliable messages acked with an error'),
    resent: c('control_messages_resent_total', 'Reliable messages written again after a reconnect'),
    duplicates: c(
      'control_duplicates_total',
      'Duplicate messages received and answered from the dedup window',
    ),
    reconnects: c('control_reconnects_total', 'Streams re-established (client) or sessions resumed (server)'),
    dropped: c(
      'control_notifications_dropped_total',
      'Best-effort notifications dropped because the peer was not reading',
    ),
    malformed: c('control_malformed_frames_total', 'Frames that failed validation'),
    refused: c(
      'control_refused_total',
      'Connections or streams refused (TLS, identity, version, capability)',
    ),
    rtt: rtt.labels(role),
  };
}
