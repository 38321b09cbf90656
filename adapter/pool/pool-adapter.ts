// Wires one pool pod together: the source pool, its control server (pool identity; only the
// operator may connect), the PoolState publisher and the health server. main.ts adds the
// environment and signals; tests run this in-process.
import type { Logger } from 'pino';
import { Gauge } from 'prom-client';
import type { Clock } from '../../control/clock.js';
import { POOL_IDENTITY } from '../../contract/identities.js';
import { NOTIFICATION_POOL_STATE } from '../../contract/pool.js';
import { createMetrics, type AdapterMetrics } from '../metrics.js';
import { serving } from '../serving.js';
import { registerPoolCommands } from './commands.js';
import type { PoolConfig } from './config.js';
import { SharedSinks } from './shared-sinks.js';
import { SharedTimers } from './shared-timers.js';
import { SourcePool } from './source-pool.js';

/** A running pool pod. */
export interface RunningPool {
  controlPort: number;
  healthPort: number;
  pool: SourcePool;
  metrics: AdapterMetrics;
  /**
   * Stops every source (in-flight sends finish or are abandoned), answers the operator's releases
   * of them for a short drain, then closes streams and servers.
   */
  close(): Promise<void>;
}

/** Extra knobs for tests. */
export interface PoolOverrides {
  /** Minimum gap between PoolState notifications. Default 1 s. */
  publishGapMs?: number;
  /** Backoff base of sink retries. Default 100 ms. */
  retryInitialDelayMs?: number;
  /** Collect process metrics. Default true. */
  defaultMetrics?: boolean;
  /**
   * 'shared' (default): one timer for all sources, one connection pool per CA set. 'per-source':
   * a Node timer and a connection pool of its own per source, the layout before (benchmark baseline).
   */
  layout?: 'shared' | 'per-source';
  /** Longest drain of releases at shutdown. Default {@link DRAIN_MS}. */
  drainMs?: number;
  /**
   * Time of the sources' tickers and delayed first ticks (the shared timer's base, or every
   * source's timers in the per-source layout). Default the system clock; tests pass a ManualClock
   * so that beats fall on virtual time. The lease, the PoolState gap and the drain stay on real time.
   */
  sourceClock?: Clock;
}

/** Longest wait at shutdown for the operator to release the stopped sources (well within the grace period). */
export const DRAIN_MS = 3_000;

/** The less verbose of the logger's level and `level`, so that a silent logger stays silent. */
function quieter(logger: Logger, level: string): string {
  const wanted = logger.levels.values[level] ?? Infinity;
  return wanted >= logger.levelVal ? level : logger.level;
}

/** Starts a pool pod from validated configuration. */
export async function startPoolAdapter(
  config: PoolConfig,
  logger: Logger,
  overrides: PoolOverrides = {},
): Promise<RunningPool> {
  const metrics = createMetrics({ defaultMetrics: overrides.defaultMetrics ?? true });
  // Pool-wide series only: per-source figures travel in PoolState, so cardinality stays fixed at 10,000 sources.
  const running = new Gauge({
    name: 'samplesource_pool_sources',
    help: 'Shared sources running on this pod.',
    registers: [metrics.registry],
  });
  const servers = serving(config, POOL_IDENTITY, logger, metrics.registry);
  const server = servers.server;
  const gapMs = overrides.publishGapMs ?? 1_000;
  let timer: NodeJS.Timeout | undefined;
  let lastPublished = 0;
  const publishNow = () => {
    if (timer) clearTimeout(timer);
    timer = undefined;
    lastPublished = Date.now();
    for (const page of pool.statePages(config.podName)) {
      try {
        server.publish(NOTIFICATION_POOL_STATE, page);
      } catch (err) {
        // Best effort by design; a report that cannot be framed must never take the pod down.
        logger.warn({ err }, `PoolState page ${page.page} not published: ${(err as Error).message}`);
      }
    }
  };
  // A full PoolState of thousands of sources is large: at most one per gap, trailing edge.
  const publishSoon = () => {
    if (timer) return;
    timer = setTimeout(publishNow, Math.max(0, lastPublished + gapMs - Date.now()));
    timer.unref();
  };
  const shared = (overrides.layout ?? 'shared') === 'shared';
  const sinks = shared ? new SharedSinks() : undefined;
  const pool = new SourcePool({
    podName: config.podName,
    timers: shared ? new SharedTimers(overrides.sourceClock) : overrides.sourceClock,
    sinks,
    heartbeatLogger: logger.child({}, { level: quieter(logger, config.heartbeatLogLevel) }),
    metrics,
    retry: {
      retries: config.sinkRetries,
      initialDelayMs: overrides.retryInitialDelayMs ?? 100,
      maxDelayMs: 5_000,
      attemptTimeoutMs: config.sinkTimeoutMs,
    },
    stopDeadlineMs: Math.min(2_000, config.shutdownTimeoutMs),
    onChange: () => {
      running.set(pool.size);
      publishSoon();
    },
  });
  registerPoolCommands(server, pool, logger);
  let detachedSince: number | undefined = performance.now();
  server.onSessionOpen((session) => {
    // Attached from now on, even if no lease tick sees it before the stream ends again: the lease
    // counts from the last detachment, never from start-up.
    detachedSince = undefined;
    for (const page of pool.statePages(config.podName)) session.notify(NOTIFICATION_POOL_STATE, page);
  });

  // The lease: no two live pods may emit for one source. A pod cut off from the operator (a
  // partition, not a crash) stops its sources before the operator's dead-peer bound runs out
  // and the sources start elsewhere.
  const leaseCheck = setInterval(
    () => {
      const attached = server.stats().some((s) => s.attached);
      if (attached) {
        detachedSince = undefined;
        return;
      }
      detachedSince ??= performance.now();
      if (performance.now() - detachedSince < config.leaseMs || pool.size === 0) return;
      void pool.suspend().then((n) => {
        if (n > 0)
          logger.warn(
            { stopped: n, leaseMs: config.leaseMs },
            `no operator stream for ${config.leaseMs}ms: ${n} sources stopped until the next snapshot`,
          );
      });
    },
    Math.min(500, config.leaseMs / 4),
  );
  leaseCheck.unref();

  const { controlPort, healthPort } = await servers.start();
  servers.setReady(true);
  logger.info(
    { controlPort, healthPort },
    `pool adapter ${config.podName} started; control on ${config.controlAddress}:${controlPort}, health on ${config.healthAddress}:${healthPort}`,
  );

  // Shutdown's drain: every source is stopped, and the operator (which sees the pod leave the pool)
  // releases them to move them. Answering those releases before the servers close lets the new
  // owners start at once instead of after the dead-peer bound. The drain ends once every source is
  // released and every answer was acked by the operator (nothing in flight, outboxes empty: closing
  // any earlier could cut the last answer off before it was written), when no operator stream is
  // attached, or after DRAIN_MS at most.
  const answered = () =>
    pool.unreleasedCount === 0 && server.stats().every((s) => s.work === 0 && s.outbox === 0);
  const drainReleases = async () => {
    const until = performance.now() + (overrides.drainMs ?? DRAIN_MS);
    while (!answered() && server.stats().some((s) => s.attached) && performance.now() < until) {
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    if (pool.unreleasedCount > 0) {
      logger.info(
        { unreleased: pool.unreleasedCount },
        'closing with sources the operator has not released yet',
      );
    }
  };

  let closing: Promise<void> | undefined;
  return {
    controlPort,
    healthPort,
    pool,
    metrics,
    close() {
      closing ??= (async () => {
        servers.setReady(false);
        clearInterval(leaseCheck);
        const count = pool.size;
        await pool.close();
        await drainReleases();
        // Every source has let go of its connections by now; this only makes sure.
        await sinks?.close();
        if (timer) clearTimeout(timer);
        await servers.close();
        logger.info({ sources: count }, `pool adapter stopped (${count} sources stopped)`);
      })();
      return closing;
    },
  };
}
