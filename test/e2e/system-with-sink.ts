// The set-up e2e files share: the system started (config/ installed, a Ready operator), a fresh
// namespace, and a sink in it fitting the platform. Stopped again after the file.
import { freshNamespace } from '../support/cluster.js';
import { sinkFor, type E2eSink } from './sinks.js';
import { startSystem, type Platform } from './system.js';

/** A namespace made by freshNamespace. */
export type Namespace = Awaited<ReturnType<typeof freshNamespace>>;

/** What {@link startWithSink} brings up. */
export interface SystemWithSink {
  platform: Platform;
  ns: Namespace;
  sink: E2eSink;
}

/** Starts the system, then a namespace `<prefix>-…` and a sink in it; a failure on the way stops the system again. */
export async function startWithSink(prefix: string): Promise<SystemWithSink> {
  const platform = await startSystem();
  try {
    const ns = await freshNamespace(prefix);
    return { platform, ns, sink: await sinkFor(platform, ns.name) };
  } catch (err) {
    await platform.stop();
    throw err;
  }
}

/** Closes the sink, then stops the system (either may be missing: a beforeAll that failed). */
export async function stopWithSink(up: Partial<SystemWithSink>): Promise<void> {
  await up.sink?.close();
  await up.platform?.stop();
}
