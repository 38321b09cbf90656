import type { AdapterState } from '../../contract/commands.js';
import {
  applySinkHealth,
  decideSinkHealth,
  healthSignature,
  FAIL_AFTER,
  RECOVER_AFTER,
  SinkHealthReason,
  SinkReachable,
  type SinkHealthDecision,
} from './sink-health.js';

type Prev = Parameters<typeof decideSinkHealth>[0];
const ok = (podName: string, n: number) => ({ podName, consecutiveSuccesses: n, consecutiveFailures: 0 });
const bad = (podName: string, n: number, reason = 'HTTP 503') => ({
  podName,
  consecutiveFailures: n,
  consecutiveSuccesses: 0,
  lastSendFailureReason: reason,
});
const TRUE: Prev = { status: 'True', reason: SinkHealthReason.Delivering };
const FALSE: Prev = { status: 'False', reason: SinkHealthReason.DeliveryFailing, message: 'earlier outage' };

describe('decideSinkHealth', () => {
  const cases: Array<{
    name: string;
    prev: Prev;
    states: Parameters<typeof decideSinkHealth>[1];
    status: 'True' | 'False' | 'Unknown';
    reason: string;
    event?: NonNullable<SinkHealthDecision['event']>['type'];
    message?: RegExp;
  }> = [
    { name: 'no adapters yet', prev: undefined, states: [], status: 'Unknown', reason: 'AwaitingDelivery' },
    {
      name: 'adapters without health fields are ignored',
      prev: undefined,
      states: [{ podName: 'a' }],
      status: 'Unknown',
      reason: 'AwaitingDelivery',
    },
    { name: 'first success', prev: undefined, states: [ok('a', 1)], status: 'True', reason: 'Delivering' },
    {
      name: 'failures below the threshold keep True',
      prev: TRUE,
      states: [bad('a', FAIL_AFTER - 1)],
      status: 'True',
      reason: 'Delivering',
    },
    {
      name: 'threshold reached turns False with a Warning',
      prev: TRUE,
      states: [bad('a', FAIL_AFTER, 'certificate verify failed')],
      status: 'False',
      reason: 'DeliveryFailing',
      event: 'Warning',
      message: /a: 3 consecutive failed deliveries \(certificate verify failed\)/,
    },
    {
      name: 'one failing adapter of two is enough',
      prev: TRUE,
      states: [ok('a', 9), bad('b', FAIL_AFTER + 4, 'ECONNREFUSED')],
      status: 'False',
      reason: 'DeliveryFailing',
      event: 'Warning',
      message: /1 of 2 adapter\(s\) failing; b: 7 .*ECONNREFUSED/,
    },
    {
      name: 'from Unknown straight to False also warns',
      prev: undefined,
      states: [bad('a', FAIL_AFTER)],
      status: 'False',
      reason: 'DeliveryFailing',
      event: 'Warning',
    },
    {
      name: 'still failing: no second Warning',
      prev: FALSE,
      states: [bad('a', FAIL_AFTER + 5)],
      status: 'False',
      reason: 'DeliveryFailing',
    },
    {
      name: 'failure without a reason says so',
      prev: TRUE,
      states: [{ podName: 'a', consecutiveFailures: FAIL_AFTER }],
      status: 'False',
      reason: 'DeliveryFailing',
      event: 'Warning',
      message: /unknown error/,
    },
    {
      name: 'one success is not a recovery',
      prev: FALSE,
      states: [ok('a', RECOVER_AFTER - 1)],
      status: 'False',
      reason: 'DeliveryFailing',
      message: /earlier outage/,
    },
    {
      name: 'a failure below the threshold during False keeps False',
      prev: FALSE,
      states: [bad('a', 1)],
      status: 'False',
      reason: 'DeliveryFailing',
    },
    {
      name: 'recovery needs every adapter',
      prev: FALSE,
      states: [ok('a', RECOVER_AFTER), ok('b', RECOVER_AFTER - 1)],
      status: 'False',
      reason: 'DeliveryFailing',
    },
    {
      name: 'recovered turns True with a Normal event',
      prev: FALSE,
      states: [ok('a', RECOVER_AFTER), ok('b', RECOVER_AFTER + 3)],
      status: 'True',
      reason: 'Delivering',
      event: 'Normal',
    },
    {
      name: 'False with no adapters left stays False',
      prev: FALSE,
      states: [],
      status: 'False',
      reason: 'DeliveryFailing',
    },
  ];

  it.each(cases)('$name', ({ prev, states, status, reason, event, message }) => {
    const got = decideSinkHealth(prev, states);
    expect(got.condition.type).toBe(SinkReachable);
    expect(got.condition.status).toBe(status);
    expect(got.condition.reason).toBe(reason);
    expect(got.event?.type).toBe(event);
    if (message) expect(got.condition.message).toMatch(message);
  });

  it('walks an outage with hysteresis: True, stays True, False once, stays, True once', () => {
    let prev: Prev = undefined;
    const events: string[] = [];
    const seq = [
      ok('a', 1),
      bad('a', 1),
      bad('a', 2),
      bad('a', 3),
      bad('a', 4),
      ok('a', 1),
      ok('a', 2),
      ok('a', 3),
    ];
    const statuses = seq.map((s) => {
      const d = decideSinkHealth(prev, [s]);
      if (d.event) events.push(d.event.type);
      prev = d.condition;
      return d.condition.status;
    });
    expect(statuses).toEqual(['True', 'True', 'True', 'False', 'False', 'False', 'True', 'True']);
    expect(events).toEqual(['Warning', 'Normal']);
  });
});

describe('applySinkHealth', () => {
  const now = new Date('2026-12-03T08:00:00Z');
  const state = (podName: string, over: Partial<AdapterState>): AdapterState => ({
    podName,
    interval: '10s',
    intervalMs: 10_000,
    paused: false,
    generation: 1,
    eventsSent: 0,
    eventsDropped: 0,
    eventsRetried: 0,
    lastSendError: null,
    ...over,
  });
  const readyTrue = { type: 'Ready', status: 'True' as const, lastTransitionTime: '2026-12-03T07:00:00Z' };

  it('sets an Info condition that leaves Ready alone, and only counts ready pods', () => {
    const status = { conditions: [structuredClone(readyTrue)] };
    const states = new Map([
      ['a', state('a', { consecutiveFailures: FAIL_AFTER, lastSendFailureReason: 'ECONNREFUSED' })],
      ['gone', state('gone', { consecutiveFailures: 99, lastSendFailureReason: 'HTTP 500' })],
    ]);
    const event = applySinkHealth(undefined, status, states, ['a'], now);
    expect(event).toMatchObject({ type: 'Warning', reason: 'SinkUnreachable' });
    expect(status.conditions.find((c) => c.type === 'Ready')).toEqual(readyTrue);
    expect(status.conditions.find((c) => c.type === SinkReachable)).toMatchObject({
      status: 'False',
      severity: 'Info',
      reason: 'DeliveryFailing',
      message: expect.stringMatching(/1 of 1 .*ECONNREFUSED/) as unknown,
      lastTransitionTime: '2026-12-03T08:00:00Z',
    });
  });
});

describe('healthSignature', () => {
  it.each([
    { name: 'no health fields', a: { podName: 'a' }, b: { podName: 'a' }, same: true },
    { name: 'failures below threshold', a: bad('a', 1), b: bad('a', FAIL_AFTER - 1), same: true },
    {
      name: 'crossing the failure threshold',
      a: bad('a', FAIL_AFTER - 1),
      b: bad('a', FAIL_AFTER),
      same: false,
    },
    { name: 'more failures past it', a: bad('a', FAIL_AFTER), b: bad('a', FAIL_AFTER + 9), same: true },
    {
      name: 'reason changes while failing',
      a: bad('a', FAIL_AFTER),
      b: bad('a', FAIL_AFTER, 'ECONNREFUSED'),
      same: false,
    },
    { name: 'first success', a: bad('a', 1), b: ok('a', 1), same: false },
    {
      name: 'reaching the recovery count',
      a: ok('a', RECOVER_AFTER - 1),
      b: ok('a', RECOVER_AFTER),
      same: false,
    },
    { name: 'more successes past it', a: ok('a', RECOVER_AFTER), b: ok('a', RECOVER_AFTER + 50), same: true },
  ])('$name', ({ a, b, same }) => {
    expect(healthSignature(a) === healthSignature(b)).toBe(same);
  });
});
