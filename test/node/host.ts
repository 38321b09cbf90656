// Small helpers for the node harness: run a host tool (ip, mount, nsenter) and fail with its stderr.
import { execFileSync } from 'node:child_process';

/** Runs `command args` and returns stdout; throws an Error naming the command and its stderr. */
export function run(
  command: string,
  args: string[],
  options: { input?: string; env?: NodeJS.ProcessEnv } = {},
): string {
  try {
    return execFileSync(command, args, {
      encoding: 'utf8',
      input: options.input,
      env: options.env ?? process.env,
      stdio: ['pipe', 'pipe', 'pipe'],
      maxBuffer: 64 << 20,
    });
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`${command} ${args.join(' ')}: ${(e.stderr ?? '').trim() || e.message}`, { cause: err });
  }
}

/** Like {@link run} but ignores failure (for teardown of what may already be gone). */
export function tryRun(command: string, args: string[]): string | undefined {
  try {
    return run(command, args);
  } catch {
    return undefined;
  }
}
