// Follows the pod log files the node agent writes, stern-style: one coloured prefix per pod and
// container, pino JSON reduced to its message so that heartbeats and commands read at a glance.
import { open, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';

const COLOURS = [36, 35, 33, 32, 34, 91, 96, 95];

/** Picks out the human part of a pino line; other lines pass through. */
export function readableLine(line: string): string {
  if (!line.startsWith('{')) return line;
  try {
    const entry = JSON.parse(line) as { level?: number | string; msg?: string; err?: unknown };
    const level =
      typeof entry.level === 'number'
        ? entry.level >= 50
          ? 'ERROR '
          : entry.level >= 40
            ? 'WARN '
            : ''
        : '';
    return `${level}${entry.msg ?? line}`;
  } catch {
    return line;
  }
}

/** The text of a CRI log line (`2026-12-02T17:00:00.000000000Z stdout F text`). */
export function criText(line: string): string {
  const m = /^\S+ (?:stdout|stderr) [PF] (.*)$/.exec(line);
  return m ? m[1]! : line;
}

/** Options of {@link followLogs}. */
export interface FollowOptions {
  /** Directory of `<namespace>_<pod>_<container>.log` files (the node agent's). */
  dir: string;
  /**
   * kubelet's layout instead: `<pod>_<namespace>_<container>-<id>.log` links to files in the CRI
   * log format (`<time> <stream> <P|F> <text>`). Default false.
   */
  kubelet?: boolean;
  /** Which files to follow (by file name). Default all. */
  include?: (file: string) => boolean;
  /** Drop lines for which this returns false (after making them readable). */
  filter?: (prefix: string, line: string) => boolean;
  write?: (text: string) => void;
  pollMs?: number;
}

/** Follows every matching file (new ones too) until the returned function is called. */
export function followLogs(options: FollowOptions): () => void {
  const offsets = new Map<string, number>();
  const colours = new Map<string, number>();
  const partial = new Map<string, string>();
  const write = options.write ?? ((t: string) => process.stdout.write(t));
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;

  const prefixOf = (file: string) => {
    const parts = file.replace(/\.log$/, '').split('_');
    const [ns, pod, container] = options.kubelet
      ? [parts[1], parts[0], parts[2]?.replace(/-[0-9a-f]{64}$/, '')]
      : parts;
    // Deployment pods end in -<rs hash>-<id>: keep the readable head and the short id.
    const short = (pod ?? '').replace(/^(.{0,28}).*?(-[a-z0-9]{5})$/, '$1…$2');
    return `${ns}/${short} ${container}`;
  };

  const poll = async () => {
    const files = (await readdir(options.dir).catch(() => [] as string[])).filter(
      (f) => f.endsWith('.log') && (options.include?.(f) ?? true),
    );
    for (const file of files) {
      const path = join(options.dir, file);
      const size = (await stat(path).catch(() => undefined))?.size ?? 0;
      const from = offsets.get(file) ?? 0;
      if (size <= from) continue;
      const handle = await open(path, 'r');
      const buffer = Buffer.alloc(size - from);
      await handle.read(buffer, 0, buffer.length, from);
      await handle.close();
      offsets.set(file, size);
      if (!colours.has(file)) colours.set(file, COLOURS[colours.size % COLOURS.length]!);
      const text = (partial.get(file) ?? '') + buffer.toString('utf8');
      const lines = text.split('\n');
      partial.set(file, lines.pop() ?? '');
      const prefix = prefixOf(file);
      for (const raw of lines) {
        const line = readableLine(options.kubelet ? criText(raw) : raw);
        if (line.trim() === '' || (options.filter && !options.filter(prefix, line))) continue;
        write(`\x1b[${colours.get(file)}m${prefix}\x1b[0m │ ${line}\n`);
      }
    }
  };
  const loop = () => {
    if (stopped) return;
    void poll().finally(() => {
      if (!stopped) timer = setTimeout(loop, options.pollMs ?? 300);
    });
  };
  loop();
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}
