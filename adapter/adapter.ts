// Wires one adapter together: state, heartbeat, sender, control server, health server.
// main.ts adds the environment and signals; tests run this in-process.
import type { Logger } from 'pino';
import { NOTIFICATION_ADAPTER_STATE } from '../contract/commands.js';
import { adapterIdentity } from '../contract/identities.js';
import { heartbeatSource } from '../contract/cloudevents.js';
import { describeState, registerCommands } from './commands.js';
import type { AdapterConfig } from './config.js';
import { Heartbeat } from './heartbeat.js';
import { createMetrics, type AdapterMetrics } from './metrics.js';
import { SinkSender } from './sender.js';
import { registerSinkTokenCommand, SinkTokenHolder } from './sink-token.js';
import { SinkTarget, sinkOfConfig, sinkTls } from './sink-target.js';
import { serving } from './serving.js';
import { StatePublisher, StateStore } from './state.js';

/** A running adapter. */
export interface RunningAdapter {
  /** Bound control port (differs from the config when it asked for 0). */
  controlPort: number;
  /** Bound health port. */
  healthPort: number;
  store: StateStore;
  metrics: AdapterMetrics;
  /** Stops ticking, finishes or abandons the in-flight send within the shutdown timeout, closes streams and servers. */
  close(): Promise<void>;
}

/** Extra knobs for tests. */
export interface AdapterOverrides {
  /** Minimum gap between counter-only state notifications. Default 1 s. */
  publishGapMs?: number;
  /** Concurrent sends before ticks are dropped. Default 2. */
  maxInFlight?: number;
  /** Backoff base of sink retries. Default 100 ms. */
  retryInitialDelayMs?: number;
  /** Collect process metrics. Default true. */
  defaultMetrics?: boolean;
}

/** Starts an adapter from validated configuration. */
export async function startAdapter(
  config: AdapterConfig,
  logger: Logger,
  overrides: AdapterOverrides = {},
): Promise<RunningAdapter> {
  const metrics = createMetrics({ defaultMetrics: overrides.defaultMetrics ?? true });
  // The environment's sink is the first; ApplyState may move it live (sink-target.ts).
  const initialSink = sinkOfConfig(config);
  const store = new StateStore(config.podName, {
    intervalMs: config.intervalMs,
    paused: config.paused,
    sink: initialSink,
  });
  // OIDC sink: the token arrives over the control stream; until then nothing is sent (sink-token.ts).
  const sinkToken = new SinkTokenHolder(config.sinkAudience);
  const sender = new SinkSender(
    config.sink,
    {
      retries: config.sinkRetries,
      initialDelayMs: overrides.retryInitialDelayMs ?? 100,
      maxDelayMs: 5_000,
      attemptTimeoutMs: config.sinkTimeoutMs,
    },
    {
      onAttempt: (ms, ok) => metrics.sendDuration.observe({ result: ok ? 'success' : 'error' }, ms / 1000),
      onRetry: (attempt, delayMs, reason) => {
        metrics.eventsRetried.inc();
        store.recordRetry(reason);
        logger.debug(
          { attempt, delayMs, reason },
          `send failed (${reason}); retry ${attempt} in ${delayMs}ms`,
        );
      },
    },
    undefined,
    sinkTls(initialSink, sinkToken),
  );
  const sinkTarget = new SinkTarget(initialSink, sender, sinkToken, logger);
  const heartbeat = new Heartbeat({
    source: heartbeatSource(config.namespace, config.name),
    podName: config.podName,
    extensions: config.ceExtensions,
    store,
    send: (event, signal) => sender.send(event, signal),
    logger,
    metrics,
    maxInFlight: overrides.maxInFlight,
  });
  // The operator learns the last sequence from every state (a switch to shared continues after it).
  store.reportSequence(() => heartbeat.lastSequence);

  const updateGauges = () => {
    const s = store.snapshot();
    metrics.intervalSeconds.set(s.intervalMs / 1000);
    metrics.paused.set(s.paused ? 1 : 0);
    metrics.generation.set(Number(s.generation)); // a gauge is a double: exact up to 2^53
  };
  updateGauges();

  const servers = serving(config, adapterIdentity(config.namespace, config.name), logger, metrics.registry);
  const server = servers.server;
  const publisher = new StatePublisher(
    store,
    (state) => server.publish(NOTIFICATION_ADAPTER_STATE, state),
    overrides.publishGapMs ?? 1_000,
  );
  registerCommands(
    server,
    store,
    (change) => {
      // Before the ticker may run again: the next heartbeat continues after the floor.
      if (change.sequenceFloor !== undefined) heartbeat.raiseSequence(change.sequenceFloor);
      sinkTarget.follow(store.sink);
      heartbeat.sync();
      updateGauges();
    },
    logger,
  );
  registerSinkTokenCommand(server, sinkToken, logger);
  // A (re)opened stream gets the full state at once; the others already have it.
  server.onSessionOpen((session) => session.notify(NOTIFICATION_ADAPTER_STATE, store.snapshot()));

  const { controlPort, healthPort } = await servers.start(() => {
    publisher.close();
    return sender.close();
  });
  heartbeat.start();
  servers.setReady(true);
  logger.info(
    {
      controlPort,
      healthPort,
      sink: initialSink.uri,
      sinkCaCerts: config.sinkCaCerts ? 'given' : 'default roots',
      sinkAudience: config.sinkAudience ?? null,
      ceSource: heartbeatSource(config.namespace, config.name),
    },
    `adapter ${config.namespace}/${config.name} started (${describeState(store.snapshot())}); control on ${config.controlAddress}:${controlPort}, health on ${config.healthAddress}:${healthPort}, sink ${initialSink.uri}`,
  );

  let closing: Promise<void> | undefined;
  return {
    controlPort,
    healthPort,
    store,
    metrics,
    close() {
      closing ??= (async () => {
        servers.setReady(false);
        await heartbeat.stop(config.shutdownTimeoutMs);
        // Last word to the control plane: the final counters.
        publisher.publishNow();
        publisher.close();
        await servers.close();
        await sender.close();
        const s = store.snapshot();
        logger.info(
          { eventsSent: s.eventsSent, eventsDropped: s.eventsDropped },
          `adapter stopped: ${s.eventsSent} sent, ${s.eventsDropped} dropped`,
        );
      })();
      return closing;
    },
  };
}
