// One pool pod in a process of its own for bench/pool.ts: the real startPoolAdapter, steered by
// the parent over real mTLS, sending to the parent's sink. So the pod's memory is the process's
// memory, with neither the sink nor the steering client in it. The parent asks over IPC for a
// reading after full garbage collections. Not a test, not a product binary.
import { setTimeout as sleep } from 'node:timers/promises';
import { pino } from 'pino';
import { loadPoolConfig } from '../adapter/pool/config.js';
import { startPoolAdapter } from '../adapter/pool/pool-adapter.js';

/** The parent's first message. */
export interface PodStart {
  tlsDir: string;
  layout: 'shared' | 'per-source';
  /** The GC before each reading: a plain full one, or memory-reducing (see REDUCING). */
  gc: 'full' | 'reducing';
}

/** A reading after GC: process.memoryUsage() and the pod's running sources. */
export interface PodReading {
  heapUsed: number;
  rss: number;
  sources: number;
}

/**
 * V8's memory-reducing GC (what it runs before giving up on an allocation, and what its memory
 * reducer does in an idle process): unlike a plain full GC it also shrinks the young generation
 * and returns free pages, so RSS comes close to what the heap holds. It flushes compiled code
 * too, so one pod's readings all use the same kind.
 */
const REDUCING = { type: 'major', execution: 'sync', flavor: 'last-resort' };

const gc = (globalThis as { gc?: (options?: unknown) => void }).gc;
if (!gc || !process.send) throw new Error('pool-pod.ts runs forked by bench/pool.ts, with --expose-gc');

process.once('message', (start: PodStart) => {
  void (async () => {
    const config = loadPoolConfig({
      POD_NAME: 'bench-pool-0',
      CONTROL_ADDRESS: '127.0.0.1',
      CONTROL_PORT: '0',
      HEALTH_PORT: '0',
      CONTROL_TLS_DIR: start.tlsDir,
      LOG_LEVEL: 'silent',
    });
    const pod = await startPoolAdapter(config, pino({ level: 'silent' }), {
      defaultMetrics: false,
      layout: start.layout,
    });
    process.on('message', (m: { measure?: boolean; close?: boolean }) => {
      void (async () => {
        if (m.close) {
          await pod.close();
          process.exit(0);
        }
        // Twice, with a pause (finalizers and weak references go on the second pass).
        gc(start.gc === 'reducing' ? REDUCING : undefined);
        await sleep(100);
        gc(start.gc === 'reducing' ? REDUCING : undefined);
        const mem = process.memoryUsage();
        const reading: PodReading = { heapUsed: mem.heapUsed, rss: mem.rss, sources: pod.pool.size };
        process.send!(reading);
      })();
    });
    process.send!({ controlPort: pod.controlPort });
  })();
});
