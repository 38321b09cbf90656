// A channel source: events from outside the informers (a control session's result, a tracked sink
// object that changed) that should trigger a reconcile, like controller-runtime's source.Channel or
// kube-rs's reconcile_on. Producers hold the source, not the controller, so neither needs the other
// to exist first; a controller subscribes with `controller.watchesChannel(source, map)`.
import type { Request } from './objects.js';

/** Something a controller can be triggered by: `send` delivers a value to every subscriber. */
export class ChannelSource<T = string | Request> {
  private readonly subscribers = new Set<(value: T) => void>();

  /**
   * Delivers `value` to every subscriber, synchronously. A controller that is not running (not
   * leading) drops it, as it drops informer events: its start re-queues every primary object.
   */
  send(value: T): void {
    for (const subscriber of this.subscribers) subscriber(value);
  }

  /** Calls `subscriber` for every value sent from now on; returns the unsubscribe function. */
  subscribe(subscriber: (value: T) => void): () => void {
    this.subscribers.add(subscriber);
    return () => this.subscribers.delete(subscriber);
  }

  /** Number of subscribers (for tests). */
  get size(): number {
    return this.subscribers.size;
  }
}
