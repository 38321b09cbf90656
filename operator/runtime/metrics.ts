// Prometheus metrics of the runtime. One registry per manager (not prom-client's global one),
// so two managers in one process (tests, or two operators) never collide.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** The runtime's metrics, registered in `registry`. */
export class RuntimeMetrics {
  readonly registry: Registry;
  /** Keys waiting in a controller's queue. */
  readonly queueDepth: Gauge<'controller'>;
  /** Keys added to a controller's queue (deduplicated adds not counted). */
  readonly queueAdds: Counter<'controller'>;
  /** Failed reconciles put back with backoff. */
  readonly retries: Counter<'controller'>;
  /** Reconcile wall time by outcome (success, requeue, error, terminal). */
  readonly reconcileDuration: Histogram<'controller' | 'result'>;
  /** Reconciles that returned an error (terminal ones included). */
  readonly reconcileErrors: Counter<'controller'>;
  /** Watch connections that ended and were re-opened, by resource and cause. */
  readonly watchRestarts: Counter<'resource' | 'cause'>;
  /** Full lists (the first one and every relist after 410 Gone). */
  readonly relists: Counter<'resource'>;
  /** 1 while this instance holds the leader lease. */
  readonly isLeader: Gauge<'lease'>;
  /** Events folded into an existing one (folded), or dropped by the per-object rate limit (dropped) or a full queue (queue_full). */
  readonly eventsAggregated: Counter<'outcome'>;
  /** Event writes by outcome: created (POST), updated (PATCH of the count), failed. */
  readonly eventsWritten: Counter<'outcome'>;

  constructor(options: { registry?: Registry; defaultMetrics?: boolean } = {}) {
    const registers = [(this.registry = options.registry ?? new Registry())];
    if (options.defaultMetrics) collectDefaultMetrics({ register: this.registry });
    this.queueDepth = new Gauge({
      name: 'workqueue_depth',
      help: 'Keys waiting in the work queue',
      labelNames: ['controller'],
      registers,
    });
    this.queueAdds = new Counter({
      name: 'workqueue_adds_total',
      help: 'Keys added to the work queue',
      labelNames: ['controller'],
      registers,
    });
    this.retries = new Counter({
      name: 'workqueue_retries_total',
      help: 'Keys requeued with backoff after a failure',
      labelNames: ['controller'],
      registers,
    });
    this.reconcileDuration = new Histogram({
      name: 'reconcile_duration_seconds',
      help: 'Time spent in one reconcile',
      labelNames: ['controller', 'result'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers,
    });
    this.reconcileErrors = new Counter({
      name: 'reconcile_errors_total',
      help: 'Reconciles that failed',
      labelNames: ['controller'],
      registers,
    });
    this.watchRestarts = new Counter({
      name: 'informer_watch_restarts_total',
      help: 'Watches re-opened',
      labelNames: ['resource', 'cause'],
      registers,
    });
    this.relists = new Counter({
      name: 'informer_lists_total',
      help: 'Full lists by informers',
      labelNames: ['resource'],
      registers,
    });
    this.isLeader = new Gauge({
      name: 'leader_election_is_leader',
      help: '1 while holding the lease',
      labelNames: ['lease'],
      registers,
    });
    this.eventsAggregated = new Counter({
      name: 'events_aggregated_total',
      help: 'Events folded into an existing one or dropped',
      labelNames: ['outcome'],
      registers,
    });
    this.eventsWritten = new Counter({
      name: 'events_written_total',
      help: 'Event writes to the API server by outcome',
      labelNames: ['outcome'],
      registers,
    });
  }
}
