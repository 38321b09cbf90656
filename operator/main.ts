// The operator process: configuration, Kubernetes credentials (in-cluster, or KUBECONFIG), the
// manager with leader election, the SampleSource controller, and a graceful SIGTERM.
import { KubeConfig } from '@kubernetes/client-node';
import { pino } from 'pino';
import { Manager } from './runtime/index.js';
import { loadOperatorConfig } from './config.js';
import { OperatorPki } from './samplesource/operator-pki.js';
import { setupSampleSourceController } from './samplesource/controller.js';
import { REDACTED, TOKEN_LOG_REDACT_PATHS } from '../contract/sink-token.js';

async function main(): Promise<void> {
  const config = loadOperatorConfig();
  // Sink tokens are never logged; a field that would carry one is masked all the same.
  const log = pino({
    name: 'samplesource-operator',
    level: config.LOG_LEVEL,
    redact: { paths: [...TOKEN_LOG_REDACT_PATHS], censor: REDACTED },
  });
  const kc = new KubeConfig();
  kc.loadFromDefault(); // KUBECONFIG when set, otherwise the pod's service account
  const manager = new Manager({
    kubeConfig: kc,
    logger: log,
    health: { port: config.HEALTH_PORT, host: config.HEALTH_ADDRESS },
    gracefulShutdownMs: config.GRACEFUL_SHUTDOWN_MS,
    leaderElection: config.LEADER_ELECT
      ? {
          namespace: config.SYSTEM_NAMESPACE,
          name: config.LEADER_ELECTION_LEASE,
          identity: config.POD_NAME,
          leaseDurationMs: config.LEASE_DURATION_MS,
          renewDeadlineMs: config.RENEW_DEADLINE_MS,
          retryPeriodMs: config.RETRY_PERIOD_MS,
        }
      : false,
  });
  const pki = await OperatorPki.load(manager.client, {
    namespace: config.SYSTEM_NAMESPACE,
    secretName: config.CA_SECRET_NAME,
    logger: log,
  });
  // The control sessions are a leader-bound runnable: they open only while this replica leads and
  // close at once when it stops leading or shuts down (after in-flight reconciles drained).
  setupSampleSourceController(manager, {
    pki,
    controlPort: config.ADAPTER_CONTROL_PORT,
    workers: config.WORKERS,
    logger: log,
    pool: {
      namespace: config.SYSTEM_NAMESPACE,
      selector: config.POOL_SELECTOR,
      controlPort: config.POOL_CONTROL_PORT,
      secretName: config.POOL_SECRET_NAME,
      deadPeerBoundMs: config.POOL_DEAD_PEER_BOUND_MS,
    },
    plan: {
      clusterDomain: config.CLUSTER_DOMAIN,
      defaultMode: config.DEFAULT_SOURCE_MODE,
      adapter: {
        image: config.ADAPTER_IMAGE,
        controlPort: config.ADAPTER_CONTROL_PORT,
        healthPort: config.ADAPTER_HEALTH_PORT,
        logLevel: config.ADAPTER_LOG_LEVEL,
      },
    },
  });

  manager.handleSignals((code) => {
    pki.stop();
    process.exit(code);
  });
  await manager.start();
  log.info({ namespace: config.SYSTEM_NAMESPACE, adapterImage: config.ADAPTER_IMAGE }, 'operator started');
}

main().catch((err: unknown) => {
  console.error(JSON.stringify({ level: 'fatal', msg: err instanceof Error ? err.message : String(err) }));
  process.exit(1);
});
