import { NotificationStore } from './notification-store.js';
import { AsyncWorkQueue } from './async-command.js';
import type { AsyncOutcome } from './async-command.js';
import { pino } from 'pino';

describe('NotificationStore', () => {
  it('answers pending, succeeded and failed per (resource, pod, command) and re-queues on change only', () => {
    const changed: string[] = [];
    const store = new NotificationStore({ onChange: (k) => changed.push(k) });
    store.pending('ns/a', 'pod-1', 'c1');
    store.pending('ns/a', 'pod-2', 'c1');
    expect(store.get('ns/a', 'pod-1', 'c1')).toEqual({ state: 'pending' });
    expect(store.get('ns/a', 'pod-1', 'c2')).toBeUndefined();
    store.record('ns/a', 'pod-1', { commandId: 'c1', succeeded: true });
    store.record('ns/a', 'pod-1', { commandId: 'c1', succeeded: true }); // a resent result: no second re-queue
    store.record('ns/a', 'pod-2', {
      commandId: 'c1',
      succeeded: false,
      reason: 'Superseded',
      message: 'gen 2 < 3',
    });
    expect(changed).toEqual(['ns/a', 'ns/a']);
    expect(store.get('ns/a', 'pod-1', 'c1')).toEqual({ state: 'succeeded' });
    expect(store.get('ns/a', 'pod-2', 'c1')).toEqual({
      state: 'failed',
      reason: 'Superseded',
      message: 'gen 2 < 3',
    });
    // A later pending() for the same id does not erase its final state.
    store.pending('ns/a', 'pod-1', 'c1');
    expect(store.get('ns/a', 'pod-1', 'c1')?.state).toBe('succeeded');
  });

  it('forgets pods and resources that went away, and bounds commands per pod', () => {
    const store = new NotificationStore({ maxCommandsPerPod: 3 });
    for (const id of ['a', 'b', 'c', 'd']) store.pending('ns/x', 'pod-1', id);
    expect(store.get('ns/x', 'pod-1', 'a')).toBeUndefined();
    expect(store.get('ns/x', 'pod-1', 'd')).toEqual({ state: 'pending' });
    store.pending('ns/x', 'pod-2', 'a');
    store.forgetPod('ns/x', 'pod-1');
    expect(store.pods('ns/x')).toEqual(['pod-2']);
    store.forgetResource('ns/x');
    expect(store.pods('ns/x')).toEqual([]);
    expect(store.get('ns/x', 'pod-2', 'a')).toBeUndefined();
  });
});

describe('AsyncWorkQueue', () => {
  const logger = pino({ level: 'silent' });

  it('runs work in order, one at a time, reporting each outcome once (throw = failure, silence = success)', async () => {
    const q = new AsyncWorkQueue(10);
    const order: string[] = [];
    const outcomes: AsyncOutcome[] = [];
    const deliver = async (o: AsyncOutcome) => void outcomes.push(o);
    q.enqueue(
      async (n) => {
        await new Promise((r) => setTimeout(r, 10));
        order.push('first');
        n.notifySuccess({ ok: 1 });
        n.notifyFailure('Late', 'ignored: already reported');
      },
      deliver,
      logger,
    );
    q.enqueue(
      () => {
        order.push('second');
        throw new Error('broken');
      },
      deliver,
      logger,
    );
    q.enqueue(() => void order.push('third'), deliver, logger);
    await new Promise((r) => setTimeout(r, 50));
    expect(order).toEqual(['first', 'second', 'third']);
    expect(outcomes).toEqual([
      { succeeded: true, reason: '', message: '', detail: { ok: 1 } },
      { succeeded: false, reason: 'HandlerError', message: 'broken' },
      { succeeded: true, reason: '', message: '', detail: undefined },
    ]);
    expect(q.size).toBe(0);
  });

  it('admits no more than its limit until a result is delivered', async () => {
    const q = new AsyncWorkQueue(1);
    let deliverDone!: () => void;
    const delivered = new Promise<void>((r) => (deliverDone = r));
    q.enqueue(
      () => {},
      () => delivered,
      logger,
    );
    const room = q.room();
    expect(room).not.toBeNull();
    let admitted = false;
    void room!.then(() => (admitted = true));
    await new Promise((r) => setTimeout(r, 10));
    expect(admitted).toBe(false);
    deliverDone();
    await new Promise((r) => setTimeout(r, 10));
    expect(admitted).toBe(true);
  });
});
