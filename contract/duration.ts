// Go-style duration strings ("10s", "1m30s", "500ms", "1.5h"), the format Knative and
// sample-source use for `interval`, so a spec value means the same thing on both sides.

const UNIT_MS: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  µs: 1e-3, // U+00B5 micro sign, as Go accepts
  μs: 1e-3, // U+03BC greek mu, as Go accepts
  ms: 1,
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
};

const COMPONENT = /^(\d*)(?:\.(\d*))?([a-zµμ]+)/;

/** Thrown by {@link parseDuration} for text that is not a Go duration. */
export class DurationSyntaxError extends Error {
  override name = 'DurationSyntaxError';
}

/**
 * Parses a Go duration string (`time.ParseDuration` grammar: optional sign, then one or more
 * decimal numbers each with a unit ns, us, µs, ms, s, m or h; "0" alone is allowed) into
 * milliseconds, possibly fractional. Throws {@link DurationSyntaxError} on anything else.
 */
export function parseDuration(text: string): number {
  const original = text;
  const fail = (why: string): never => {
    throw new DurationSyntaxError(`invalid duration ${JSON.stringify(original)}: ${why}`);
  };
  let rest = text;
  let sign = 1;
  if (rest.startsWith('-') || rest.startsWith('+')) {
    sign = rest[0] === '-' ? -1 : 1;
    rest = rest.slice(1);
  }
  if (rest === '0') return 0;
  if (rest === '') fail('empty');
  let total = 0;
  while (rest !== '') {
    const match = COMPONENT.exec(rest);
    if (!match) fail('expected a number followed by a unit (ns, us, ms, s, m, h), as in "10s" or "1m30s"');
    const [whole, intPart = '', fracPart, unit = ''] = match!;
    if (intPart === '' && (fracPart === undefined || fracPart === '')) fail('missing number before unit');
    const scale = UNIT_MS[unit];
    if (scale === undefined) fail(`unknown unit ${JSON.stringify(unit)} (use ns, us, ms, s, m or h)`);
    total += Number(`${intPart || '0'}.${fracPart ?? ''}0`) * scale!;
    rest = rest.slice(whole.length);
  }
  if (!Number.isFinite(total)) fail('out of range');
  return sign * total;
}

/**
 * Formats whole milliseconds as a compact Go duration string that {@link parseDuration} reads
 * back exactly: 10000 → "10s", 90000 → "1m30s", 500 → "500ms", 3600000 → "1h", 0 → "0s".
 */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms)) throw new RangeError(`cannot format ${ms} as a duration`);
  const negative = ms < 0;
  let rest = Math.round(Math.abs(ms));
  if (rest === 0) return '0s';
  const parts: string[] = [];
  for (const [unit, size] of [
    ['h', 3_600_000],
    ['m', 60_000],
    ['s', 1_000],
    ['ms', 1],
  ] as const) {
    const count = Math.floor(rest / size);
    if (count > 0) parts.push(`${count}${unit}`);
    rest -= count * size;
  }
  return (negative ? '-' : '') + parts.join('');
}
