// The manager owns the lifecycle: shared informers (caches warm on every replica), the probe
// and metrics server, leader election (only the leader runs controllers), and a graceful
// shutdown on SIGTERM: stop taking work, let in-flight reconciles finish within a deadline,
// then release the lease so a successor starts at once.
import type { KubeConfig } from '@kubernetes/client-node';
import { clientFromKubeConfig, type KubeClient } from './client.js';
import { Informer, type InformerOptions } from './informer.js';
import { Controller, type ControllerOptions } from './controller.js';
import { LeaderElector, type LeaderElectionOptions } from './leader.js';
import { EventRecorder, type EventRecorderOptions } from './events.js';
import { HealthServer } from '../../control/health.js';
import { RuntimeMetrics } from './metrics.js';
import { RunnableGroup, needsLeaderElection, type Runnable } from './runnable.js';
import { defaultLogger, type Logger } from './logger.js';
import type { KubeObject } from './objects.js';
import type { Clock } from '../../control/clock.js';

/** Options of {@link Manager}. */
export interface ManagerOptions {
  /** Credentials; or pass `client`. */
  kubeConfig?: KubeConfig;
  client?: KubeClient;
  /** Default: pino at LOG_LEVEL. */
  logger?: Logger;
  /** Default: a fresh registry with Node's default metrics. */
  metrics?: RuntimeMetrics;
  /** Lease to campaign for; `false` (the default) runs controllers without election. */
  leaderElection?: Omit<LeaderElectionOptions, 'logger' | 'metrics'> | false;
  /** Probe/metrics server; `false` disables it. Default port 8081 on 0.0.0.0. */
  health?: { port?: number; host?: string } | false;
  /** How long in-flight reconciles may run after shutdown starts. Default 30 s. */
  gracefulShutdownMs?: number;
  /** The clock of the controllers' queues and the informers' retries. Default the system clock. */
  clock?: Clock;
}

/** Runs informers, controllers, leader election and the health server together. */
export class Manager {
  readonly client: KubeClient;
  readonly log: Logger;
  readonly metrics: RuntimeMetrics;
  readonly elector?: LeaderElector;
  private readonly informers = new Map<string, Informer<KubeObject>>();
  private readonly controllers: Controller[] = [];
  private readonly recorders: EventRecorder[] = [];
  /** Runnables bound to leadership, and those that run on every replica. */
  private readonly leaderRunnables: RunnableGroup;
  private readonly everywhereRunnables: RunnableGroup;
  private health?: HealthServer;
  private electionAbort = new AbortController();
  private election?: Promise<void>;
  private started = false;
  private stopping?: Promise<void>;
  private healthPort?: number;

  constructor(private readonly options: ManagerOptions) {
    if (options.client) this.client = options.client;
    else if (options.kubeConfig) this.client = clientFromKubeConfig(options.kubeConfig);
    else throw new Error('Manager needs a kubeConfig or a client');
    this.log = options.logger ?? defaultLogger();
    this.metrics = options.metrics ?? new RuntimeMetrics({ defaultMetrics: true });
    this.leaderRunnables = new RunnableGroup(this.log);
    this.everywhereRunnables = new RunnableGroup(this.log);
    if (options.leaderElection) {
      this.elector = new LeaderElector(this.client, {
        ...options.leaderElection,
        logger: this.log,
        metrics: this.metrics,
      });
    }
  }

  /** A shared informer: one per resource, namespace and selectors, however often it is asked for. */
  informer<T extends KubeObject = KubeObject>(
    options: Omit<InformerOptions<T>, 'logger' | 'metrics'>,
  ): Informer<T> {
    const r = options.resource;
    const key = [
      r.apiVersion,
      r.plural,
      options.namespace,
      options.labelSelector,
      options.fieldSelector,
    ].join('|');
    let informer = this.informers.get(key);
    if (!informer) {
      informer = new Informer<T>(this.client, {
        ...(this.options.clock ? { clock: this.options.clock } : {}),
        ...options,
        logger: this.log,
        metrics: this.metrics,
      });
      this.informers.set(key, informer);
      if (this.started) informer.start();
    }
    return informer as unknown as Informer<T>;
  }

  /** A controller whose workers run only while this instance leads. Wire it with for/owns/watches. */
  controller(options: Omit<ControllerOptions, 'logger' | 'metrics'>): Controller {
    const controller = new Controller({
      ...(this.options.clock ? { clock: this.options.clock } : {}),
      ...options,
      logger: this.log,
      metrics: this.metrics,
    });
    this.controllers.push(controller);
    return controller;
  }

  /**
   * Adds work to run with the manager: a leader-bound runnable (the default) starts each time this
   * replica starts leading (before its controllers) and is aborted the moment it stops leading or
   * the manager stops (after the controllers drained, before the lease is released); one with
   * `needLeaderElection: false` runs on every replica from cache sync to stop. Returns `runnable`.
   */
  add<R extends Runnable>(runnable: R): R {
    (needsLeaderElection(runnable) ? this.leaderRunnables : this.everywhereRunnables).add(runnable);
    return runnable;
  }

  /** An event recorder sharing the manager's client, logger and metrics. */
  eventRecorder(options: Omit<EventRecorderOptions, 'logger' | 'metrics'>): EventRecorder {
    const recorder = new EventRecorder(this.client, { ...options, logger: this.log, metrics: this.metrics });
    this.recorders.push(recorder);
    return recorder;
  }

  /** True once every informer has listed. */
  cachesSynced(): boolean {
    return [...this.informers.values()].every((i) => i.hasSynced());
  }

  /** True while this instance's controllers run (always, without leader election, once started). */
  isLeader(): boolean {
    return this.elector ? this.elector.isLeader() : this.started && !this.stopping;
  }

  /** The port of the health server, once started. */
  get port(): number | undefined {
    return this.healthPort;
  }

  /**
   * Starts informers and the health server, waits for the caches, then campaigns for the lease
   * (or starts the controllers). Resolves once caches are synced.
   */
  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    for (const informer of this.informers.values()) informer.start();
    if (this.options.health !== false) {
      this.health = new HealthServer({
        ...(this.options.health ?? {}),
        registry: this.metrics.registry,
        healthy: () => (this.stopping ? 'shutting down' : undefined),
        ready: () => (this.cachesSynced() ? undefined : 'caches not synced'),
      });
      this.healthPort = await this.health.start();
    }
    await Promise.all([...this.informers.values()].map((i) => i.waitForSync(this.electionAbort.signal)));
    this.log.info({ informers: this.informers.size }, 'caches synced');
    if (this.stopping) return;
    this.everywhereRunnables.start();
    if (!this.elector) {
      this.startLeading();
      return;
    }
    this.election = this.elector.run(
      {
        onStartedLeading: () => {
          if (!this.stopping) this.startLeading();
        },
        onStoppedLeading: () => {
          // Lost the lease: abort in-flight work at once, another replica may already lead.
          if (this.stopping) return;
          for (const c of this.controllers) void c.stop(0);
          void this.leaderRunnables.stop();
        },
      },
      this.electionAbort.signal,
    );
  }

  /** Graceful stop: controllers drain (bounded), then the lease is released, then informers stop. Idempotent. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      const grace = this.options.gracefulShutdownMs ?? 30_000;
      this.log.info({ graceMs: grace }, 'shutting down');
      // Keep renewing while reconciles drain, so nobody else acts on the same objects meanwhile.
      await Promise.all(this.controllers.map((c) => c.stop(grace)));
      await this.leaderRunnables.stop(); // still leading: a successor cannot overlap with them
      this.electionAbort.abort();
      await this.election; // releases the lease when it was held
      await Promise.all(this.recorders.map((r) => r.flush()));
      await this.everywhereRunnables.stop();
      await Promise.all([...this.informers.values()].map((i) => i.stop()));
      await this.health?.stop();
      this.log.info('stopped');
    })();
    return this.stopping;
  }

  /** A leadership term begins: leader-bound runnables first, so the first reconciles find them running. */
  private startLeading(): void {
    this.leaderRunnables.start();
    for (const c of this.controllers) c.start();
  }

  /** Stops gracefully on SIGTERM or SIGINT, then calls `exit` (default: process.exit(0)). */
  handleSignals(exit: (code: number) => void = (code) => process.exit(code)): void {
    const onSignal = (signal: NodeJS.Signals) => {
      this.log.info({ signal }, 'signal received');
      this.stop().then(
        () => exit(0),
        (err) => {
          this.log.error({ err }, 'shutdown failed');
          exit(1);
        },
      );
    };
    process.once('SIGTERM', onSignal);
    process.once('SIGINT', onSignal);
  }
}
