// Prometheus metrics of the adapter, on its own registry (served at /metrics by health.ts).
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** Why an event was dropped: retries exhausted or not retryable, sends already at their bound, or shutdown. */
export type DropReason = 'send_failed' | 'busy' | 'shutdown';

/** The adapter's metric instruments. */
export interface AdapterMetrics {
  registry: Registry;
  eventsSent: Counter;
  eventsDropped: Counter<'reason'>;
  eventsRetried: Counter;
  sendDuration: Histogram<'result'>;
  intervalSeconds: Gauge;
  paused: Gauge;
  generation: Gauge;
}

/** Creates the instruments on a fresh registry; `defaultMetrics` (default true) adds process metrics. */
export function createMetrics(options: { defaultMetrics?: boolean } = {}): AdapterMetrics {
  const registry = new Registry();
  if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry });
  const registers = [registry];
  return {
    registry,
    eventsSent: new Counter({
      name: 'samplesource_adapter_events_sent_total',
      help: 'Heartbeat events accepted by the sink.',
      registers,
    }),
    eventsDropped: new Counter({
      name: 'samplesource_adapter_events_dropped_total',
      help: 'Heartbeat events given up on, by reason.',
      labelNames: ['reason'],
      registers,
    }),
    eventsRetried: new Counter({
      name: 'samplesource_adapter_events_retried_total',
      help: 'Send retries after a failed attempt.',
      registers,
    }),
    sendDuration: new Histogram({
      name: 'samplesource_adapter_send_duration_seconds',
      help: 'Duration of each HTTP attempt to the sink, by result.',
      labelNames: ['result'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    }),
    intervalSeconds: new Gauge({
      name: 'samplesource_adapter_interval_seconds',
      help: 'Heartbeat interval in force.',
      registers,
    }),
    paused: new Gauge({
      name: 'samplesource_adapter_paused',
      help: '1 while heartbeats are paused.',
      registers,
    }),
    generation: new Gauge({
      name: 'samplesource_adapter_applied_generation',
      help: 'Last SampleSource generation applied (0: environment only).',
      registers,
    }),
  };
}
