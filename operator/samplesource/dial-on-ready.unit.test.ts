// Which pod informer events make the sessions dial at once: a steered pod turning Ready (new, or
// not Ready before), nothing else. One row per event.
import type { KubeObject } from '../runtime/index.js';
import type { AdapterPod } from './sessions.js';
import { dialOnReady } from './dial-on-ready.js';
import { SOURCE_NAME_LABEL } from './resources.js';

function pod(
  over: { ready?: boolean; phase?: string; ip?: string; label?: boolean; deleting?: boolean } = {},
) {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: 'beat-0',
      namespace: 'demo',
      uid: 'uid-0',
      labels: over.label === false ? {} : { [SOURCE_NAME_LABEL]: 'beat' },
      ...(over.deleting ? { deletionTimestamp: '2026-12-03T12:00:00Z' } : {}),
    },
    status: {
      phase: over.phase ?? 'Running',
      ...(over.ip === '' ? {} : { podIP: over.ip ?? '10.0.0.7' }),
      conditions: [{ type: 'Ready', status: over.ready === false ? 'False' : 'True' }],
    },
  } as unknown as KubeObject;
}

const told: Array<[string, AdapterPod]> = [];
const handler = dialOnReady({ podReady: (key, p) => told.push([key, p]) });
beforeEach(() => (told.length = 0));

const READY: [string, AdapterPod] = ['demo/beat', { name: 'beat-0', uid: 'uid-0', ip: '10.0.0.7' }];

it.each([
  {
    name: 'not Ready -> Ready (a restarted adapter)',
    old: pod({ ready: false }),
    now: pod(),
    expected: [READY],
  },
  {
    name: 'Pending -> Running and Ready',
    old: pod({ phase: 'Pending', ip: '' }),
    now: pod(),
    expected: [READY],
  },
  { name: 'Ready -> Ready (a resync or a status write)', old: pod(), now: pod(), expected: [] },
  { name: 'Ready -> not Ready', old: pod(), now: pod({ ready: false }), expected: [] },
  {
    name: 'turned Ready while being deleted',
    old: pod({ ready: false }),
    now: pod({ deleting: true }),
    expected: [],
  },
  {
    name: 'no source label',
    old: pod({ ready: false, label: false }),
    now: pod({ label: false }),
    expected: [],
  },
])('update: $name', ({ old, now, expected }) => {
  handler.onUpdate(old, now);
  expect(told).toEqual(expected);
});

it.each([
  { name: 'a Ready pod (informer start, or a relist)', obj: pod(), expected: [READY] },
  { name: 'a pod not Ready yet', obj: pod({ ready: false }), expected: [] },
])('add: $name', ({ obj, expected }) => {
  handler.onAdd(obj);
  expect(told).toEqual(expected);
});
