import { Tracker, type KindReference, type ObjectReference } from './tracker.js';

const broker = (name: string, namespace = 'demo'): ObjectReference => ({
  apiVersion: 'eventing.knative.dev/v1',
  kind: 'Broker',
  namespace,
  name,
});
const kservice = (name: string): ObjectReference => ({
  apiVersion: 'serving.knative.dev/v1',
  kind: 'Service',
  namespace: 'demo',
  name,
});

function setup() {
  const enqueued: string[] = [];
  const calls: string[] = [];
  const watcher = {
    watch: (k: KindReference) => calls.push(`watch ${k.kind}`),
    unwatch: (k: KindReference) => calls.push(`unwatch ${k.kind}`),
  };
  const tracker = new Tracker({ enqueue: (key) => enqueued.push(key), watcher });
  return { tracker, enqueued, calls };
}

describe('Tracker', () => {
  it('enqueues exactly the keys referencing a changed object', () => {
    const { tracker, enqueued } = setup();
    tracker.track('demo/a', [broker('default')]);
    tracker.track('demo/b', [broker('default')]);
    tracker.track('demo/c', [broker('other')]);
    tracker.onChanged(broker('default'));
    expect(enqueued.sort()).toEqual(['demo/a', 'demo/b']);
    enqueued.length = 0;
    tracker.onChanged(broker('default', 'elsewhere'));
    tracker.onChanged(kservice('default'));
    expect(enqueued).toEqual([]);
  });

  it('replaces what a key references, and forgets it on untrack', () => {
    const { tracker, enqueued } = setup();
    tracker.track('demo/a', [broker('one')]);
    tracker.track('demo/a', [broker('two')]);
    tracker.onChanged(broker('one'));
    expect(enqueued).toEqual([]);
    tracker.onChanged(broker('two'));
    expect(enqueued).toEqual(['demo/a']);
    tracker.untrack('demo/a');
    tracker.onChanged(broker('two'));
    expect(enqueued).toEqual(['demo/a']);
    expect(tracker.referrers(broker('two'))).toEqual([]);
  });

  it('watches a kind from its first reference and unwatches it after its last', () => {
    const { tracker, calls } = setup();
    tracker.track('demo/a', [broker('one')]);
    tracker.track('demo/b', [broker('two')]);
    expect(tracker.referencedKinds().map((k) => k.kind)).toEqual(['Broker']);
    tracker.untrack('demo/a');
    expect(calls.filter((c) => c.startsWith('unwatch'))).toEqual([]);
    tracker.track('demo/b', [kservice('x')]);
    expect(calls.filter((c) => c.startsWith('unwatch'))).toEqual(['unwatch Broker']);
    tracker.untrack('demo/b');
    expect(calls.at(-1)).toBe('unwatch Service');
    expect(tracker.referencedKinds()).toEqual([]);
  });

  it('asks the watcher again on every track, so a kind that failed to start is retried', () => {
    const { tracker, calls } = setup();
    tracker.track('demo/a', [broker('one')]);
    tracker.track('demo/a', [broker('one')]);
    expect(calls).toEqual(['watch Broker', 'watch Broker']);
  });
});
