// The controller runtime: informers, work queue, controllers, leader election, events,
// conditions, status helpers, health and metrics. Knows nothing of any particular resource.
export * from './client.js';
export * from './objects.js';
export * from './cache.js';
export * from './own-writes.js';
export * from './sleep.js';
export { Backoff, backoffDelay, type BackoffOptions } from '../../control/backoff.js';
export * from './informer.js';
export * from './rate-limiter.js';
export * from './workqueue.js';
export * from './predicates.js';
export * from './owner.js';
export * from './controller.js';
export * from './channel-source.js';
export * from './runnable.js';
export * from './leader.js';
export * from './events.js';
export * from './conditions.js';
export * from './status.js';
export * from './metrics.js';
// One probe server for the operator and the adapter: it lives in control/, which both may import.
export { HealthServer, type HealthServerOptions } from '../../control/health.js';
export * from './manager.js';
export * from './logger.js';
export * from './tracker.js';
export * from './dynamic-informers.js';
