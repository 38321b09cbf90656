import fc from 'fast-check';
import { DurationSyntaxError, formatDuration, parseDuration } from './duration.js';
import { MAX_INTERVAL_MS, MIN_INTERVAL_MS, parseInterval, IntervalSchema } from './commands.js';

describe('parseDuration (Go time.ParseDuration grammar)', () => {
  it.each([
    ['10s', 10_000],
    ['1m30s', 90_000],
    ['500ms', 500],
    ['1.5h', 5_400_000],
    ['.5s', 500],
    ['1h2m3s4ms', 3_723_004],
    ['0', 0],
    ['+2s', 2_000],
    ['-1s', -1_000],
    ['1000us', 1],
    ['1000µs', 1],
    ['2000000ns', 2],
  ])('%s → %d ms', (text, ms) => {
    expect(parseDuration(text)).toBeCloseTo(ms, 9);
  });

  it.each(['', '10', 's', '10x', '1.s.', 'ten seconds', '1 s', '-', '.s', '10S'])('rejects %j', (text) => {
    expect(() => parseDuration(text)).toThrow(DurationSyntaxError);
  });

  it('round-trips whole milliseconds through formatDuration', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 10 * MAX_INTERVAL_MS }),
        (ms) => parseDuration(formatDuration(ms)) === ms,
      ),
    );
  });

  it('formats compactly', () => {
    expect([10_000, 90_000, 500, 3_600_000, 0, 1_500].map(formatDuration)).toEqual([
      '10s',
      '1m30s',
      '500ms',
      '1h',
      '0s',
      '1s500ms',
    ]);
  });
});

describe('interval bounds', () => {
  it('accepts the bounds themselves', () => {
    expect(parseInterval('100ms')).toBe(MIN_INTERVAL_MS);
    expect(parseInterval('24h')).toBe(MAX_INTERVAL_MS);
  });

  it('rejects out-of-range and unparseable intervals with a clear message', () => {
    expect(() => parseInterval('50ms')).toThrow('interval "50ms" is below the minimum 100ms');
    expect(() => parseInterval('25h')).toThrow('interval "25h" is above the maximum 24h');
    const result = IntervalSchema.safeParse('soon');
    expect(result.success).toBe(false);
    expect(result.error?.issues[0]?.message).toMatch(/invalid duration "soon"/);
  });
});
