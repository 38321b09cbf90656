// The adapter Deployment of a SampleSource, built from the spec and the resolved sink.
//
// Pod-template stability: interval and paused travel over the control stream, so changing only
// them must not roll the pods. The adapter still gets them as SAMPLESOURCE_INTERVAL and
// SAMPLESOURCE_PAUSED, so that a pod starts in the right state before the operator reaches it;
// on update those two values are carried over from the existing template unless something else
// in the template changes anyway (a rollout is happening, so new pods get current values).
// Pods created later without a rollout (scale up, eviction) may start with older values for the
// moment until the operator's stream connects, which always sends the full state first.
// The sink (K_SINK, K_CA_CERTS, K_AUDIENCE) is kept the same way since it too travels live
// (ApplyState.sink, issue 13): a moved sink does not roll the pods.
import type {
  V1Container,
  V1Deployment,
  V1EnvVar,
  V1PodTemplateSpec,
  V1ResourceRequirements,
} from '@kubernetes/client-node';
import {
  DEFAULT_CONTROL_PORT,
  DEFAULT_HEALTH_PORT,
  DEFAULT_TLS_DIR,
  ENV,
} from '../../contract/adapter-env.js';
import { OPERATOR_IDENTITY } from '../../contract/identities.js';
import { controllerReference } from '../runtime/owner.js';
import type { SampleSource } from '../../contract/samplesource.js';
import { adapterDeploymentName, certSecretName } from './names.js';

/** Label on every adapter pod; the operator's pod informer selects on it. */
export const ADAPTER_APP_LABEL = 'app.kubernetes.io/name';
/** Value of {@link ADAPTER_APP_LABEL}: "samplesource-adapter". */
export const ADAPTER_APP = 'samplesource-adapter';
/** Label selector of all adapter pods: "app.kubernetes.io/name=samplesource-adapter". */
export const ADAPTER_POD_SELECTOR = `${ADAPTER_APP_LABEL}=${ADAPTER_APP}`;
/** Label with the owning source's name (names are at most 63 characters, a valid label value). */
export const SOURCE_NAME_LABEL = 'samples.knative.dev/source';
/** Label with the owning source's uid; the immutable Deployment selector uses it. */
export const SOURCE_UID_LABEL = 'samples.knative.dev/source-uid';
/** Name of the adapter container. */
export const ADAPTER_CONTAINER = 'adapter';
/** Name of the volume with the control certificate. */
export const TLS_VOLUME = 'control-tls';
/** Numeric user and group the adapter runs as (the distroless "nonroot" id): 65532. */
export const ADAPTER_UID = 65532;

/** Requests and limits of an adapter container unless configured: 25m/64Mi requested, 500m/128Mi limit. */
export const DEFAULT_ADAPTER_RESOURCES: V1ResourceRequirements = {
  requests: { cpu: '25m', memory: '64Mi' },
  limits: { cpu: '500m', memory: '128Mi' },
};

/** How adapter Deployments are built; the operator reads these from its environment. */
export interface AdapterOptions {
  /** Adapter image (required). */
  image: string;
  /** Default IfNotPresent. */
  imagePullPolicy?: 'Always' | 'IfNotPresent' | 'Never';
  /** Control server port. Default 9443. */
  controlPort?: number;
  /** Health port (/healthz, /readyz). Default 8080. */
  healthPort?: number;
  /** Where the certificate Secret is mounted. Default /etc/samplesource/tls. */
  tlsDir?: string;
  /** Adapter log level. Default "info". */
  logLevel?: string;
  /**
   * Bind the control and health servers to the pod IP (true) or 0.0.0.0 (false). Default true:
   * the operator dials pod IPs, and the test node agent runs many pods on one loopback host.
   */
  bindToPodIp?: boolean;
  /** Default {@link DEFAULT_ADAPTER_RESOURCES}. */
  resources?: V1ResourceRequirements;
}

/** Labels of the Deployment and its pods. */
export function adapterLabels(source: SampleSource): Record<string, string> {
  return {
    [ADAPTER_APP_LABEL]: ADAPTER_APP,
    'app.kubernetes.io/component': 'adapter',
    'app.kubernetes.io/managed-by': 'samplesource-operator',
    [SOURCE_NAME_LABEL]: source.metadata.name,
    [SOURCE_UID_LABEL]: source.metadata.uid,
  };
}

/** The Deployment's selector: only the uid, so a recreated source of the same name never adopts old pods. */
export function adapterSelector(source: SampleSource): Record<string, string> {
  return { [ADAPTER_APP_LABEL]: ADAPTER_APP, [SOURCE_UID_LABEL]: source.metadata.uid };
}

/** The initial heartbeat state written into a pod template. */
export interface InitialState {
  interval: string;
  paused: boolean;
}

/** Where and how the adapters reach the sink, as resolved for one reconcile. */
export interface AdapterSink {
  uri: string;
  /** PEM CAs of an HTTPS sink (K_CA_CERTS); absent: the default roots. */
  caCerts?: string;
  /** OIDC audience (K_AUDIENCE); absent: no token. */
  audience?: string;
}

function buildEnv(
  source: SampleSource,
  sink: AdapterSink,
  initial: InitialState,
  options: AdapterOptions,
): V1EnvVar[] {
  const env: V1EnvVar[] = [
    // POD_IP comes first: later entries refer to it as $(POD_IP).
    { name: 'POD_IP', valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath: 'status.podIP' } } },
    { name: ENV.podName, valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.name' } } },
    { name: ENV.sink, value: sink.uri },
  ];
  if (sink.caCerts !== undefined) env.push({ name: ENV.sinkCaCerts, value: sink.caCerts });
  // The audience only: the token itself comes over the control stream, never through the pod spec.
  if (sink.audience !== undefined) env.push({ name: ENV.sinkAudience, value: sink.audience });
  if (source.spec.ceOverrides)
    env.push({ name: ENV.ceOverrides, value: JSON.stringify(source.spec.ceOverrides) });
  const bindAddress = (options.bindToPodIp ?? true) ? '$(POD_IP)' : '0.0.0.0';
  env.push(
    { name: ENV.name, value: source.metadata.name },
    { name: ENV.namespace, value: source.metadata.namespace },
    { name: ENV.interval, value: initial.interval },
    { name: ENV.paused, value: String(initial.paused) },
    { name: ENV.controlAddress, value: bindAddress },
    { name: ENV.controlPort, value: String(options.controlPort ?? DEFAULT_CONTROL_PORT) },
    { name: ENV.healthAddress, value: bindAddress },
    { name: ENV.healthPort, value: String(options.healthPort ?? DEFAULT_HEALTH_PORT) },
    { name: ENV.tlsDir, value: options.tlsDir ?? DEFAULT_TLS_DIR },
    { name: ENV.operatorIdentity, value: OPERATOR_IDENTITY },
    { name: ENV.logLevel, value: options.logLevel ?? 'info' },
  );
  return env;
}

function buildPodTemplate(
  source: SampleSource,
  sink: AdapterSink,
  initial: InitialState,
  options: AdapterOptions,
): V1PodTemplateSpec {
  const healthPort = options.healthPort ?? DEFAULT_HEALTH_PORT;
  const container: V1Container = {
    name: ADAPTER_CONTAINER,
    image: options.image,
    imagePullPolicy: options.imagePullPolicy ?? 'IfNotPresent',
    env: buildEnv(source, sink, initial, options),
    ports: [
      { name: 'control', containerPort: options.controlPort ?? DEFAULT_CONTROL_PORT, protocol: 'TCP' },
      { name: 'health', containerPort: healthPort, protocol: 'TCP' },
    ],
    readinessProbe: { httpGet: { path: '/readyz', port: 'health' }, periodSeconds: 5, failureThreshold: 3 },
    livenessProbe: { httpGet: { path: '/healthz', port: 'health' }, periodSeconds: 10, failureThreshold: 3 },
    resources: options.resources ?? DEFAULT_ADAPTER_RESOURCES,
    securityContext: {
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      runAsNonRoot: true,
      capabilities: { drop: ['ALL'] },
    },
    volumeMounts: [{ name: TLS_VOLUME, mountPath: options.tlsDir ?? DEFAULT_TLS_DIR, readOnly: true }],
  };
  return {
    metadata: { labels: adapterLabels(source) },
    spec: {
      ...(source.spec.serviceAccountName ? { serviceAccountName: source.spec.serviceAccountName } : {}),
      // The data plane needs no Kubernetes API access at all.
      automountServiceAccountToken: false,
      enableServiceLinks: false,
      securityContext: {
        runAsNonRoot: true,
        runAsUser: ADAPTER_UID,
        runAsGroup: ADAPTER_UID,
        // Makes the 0440 key file readable by the adapter's group.
        fsGroup: ADAPTER_UID,
        seccompProfile: { type: 'RuntimeDefault' },
      },
      containers: [container],
      volumes: [{ name: TLS_VOLUME, secret: { secretName: certSecretName(source), defaultMode: 0o440 } }],
    },
  };
}

/** The interval and paused values in an existing adapter template, if both are there. */
export function initialStateOf(deployment: V1Deployment | undefined): InitialState | undefined {
  const container = deployment?.spec?.template?.spec?.containers?.find((c) => c.name === ADAPTER_CONTAINER);
  const interval = container?.env?.find((e) => e.name === ENV.interval)?.value;
  const paused = container?.env?.find((e) => e.name === ENV.paused)?.value;
  if (interval === undefined || (paused !== 'true' && paused !== 'false')) return undefined;
  return { interval, paused: paused === 'true' };
}

/** The sink (K_SINK, K_CA_CERTS, K_AUDIENCE) in an existing adapter template, if it has one. */
export function initialSinkOf(deployment: V1Deployment | undefined): AdapterSink | undefined {
  const container = deployment?.spec?.template?.spec?.containers?.find((c) => c.name === ADAPTER_CONTAINER);
  const value = (name: string) => container?.env?.find((e) => e.name === name)?.value;
  const uri = value(ENV.sink);
  if (uri === undefined) return undefined;
  const caCerts = value(ENV.sinkCaCerts);
  const audience = value(ENV.sinkAudience);
  return {
    uri,
    ...(caCerts === undefined ? {} : { caCerts }),
    ...(audience === undefined ? {} : { audience }),
  };
}

/**
 * The desired adapter Deployment. Pass the `existing` one (if any) so that a change of only
 * interval, paused or the sink leaves its pod template as it is (see the file comment for why).
 */
export function buildAdapterDeployment(
  source: SampleSource,
  sinkUri: string,
  options: AdapterOptions,
  existing?: V1Deployment,
  /** PEM CAs of an HTTPS sink (K_CA_CERTS). Default: none (the default roots). */
  sinkCaCerts?: string,
  /** OIDC audience of the sink (K_AUDIENCE). Default: none (no token). */
  sinkAudience?: string,
): V1Deployment {
  const current: InitialState = { interval: source.spec.interval, paused: source.spec.paused };
  const kept = initialStateOf(existing);
  const sink: AdapterSink = { uri: sinkUri, caCerts: sinkCaCerts, audience: sinkAudience };
  let template = buildPodTemplate(source, sink, current, options);
  if (kept && existing?.spec?.template) {
    // Interval, paused and the sink all reach running pods over the control stream: keep the values
    // the template started with unless something else rolls the pods anyway.
    const keptSink = initialSinkOf(existing) ?? sink;
    const keptTemplate = buildPodTemplate(source, keptSink, kept, options);
    if (isDerivative(keptTemplate, existing.spec.template)) template = keptTemplate;
  }
  const labels = adapterLabels(source);
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: {
      name: adapterDeploymentName(source),
      namespace: source.metadata.namespace,
      labels,
      ownerReferences: [
        controllerReference({ apiVersion: source.apiVersion, kind: source.kind, metadata: source.metadata }),
      ],
    },
    spec: {
      replicas: source.spec.replicas,
      selector: { matchLabels: adapterSelector(source) },
      template,
    },
  };
}

/**
 * Knative's equality.Semantic.DeepDerivative: every field set in `desired` equals the one in
 * `actual`; fields `desired` leaves unset (the API server's defaults) are ignored.
 */
export function isDerivative(desired: unknown, actual: unknown): boolean {
  if (desired === undefined || desired === null) return true;
  if (Array.isArray(desired)) {
    if (!Array.isArray(actual) || actual.length !== desired.length) return false;
    return desired.every((d, i) => isDerivative(d, actual[i]));
  }
  if (typeof desired === 'object') {
    if (typeof actual !== 'object' || actual === null || Array.isArray(actual)) return false;
    return Object.entries(desired).every(([k, v]) => isDerivative(v, (actual as Record<string, unknown>)[k]));
  }
  // The API server returns quantities normalised ("0.5" -> "500m") but we write canonical ones.
  return desired === actual;
}

/** What to do with the adapter Deployment. */
export type DeploymentAction =
  | { action: 'create'; deployment: V1Deployment }
  | { action: 'update'; deployment: V1Deployment }
  | { action: 'none'; deployment: V1Deployment }
  /** A Deployment of that name exists but another object controls it: leave it alone. */
  | { action: 'conflict'; deployment: V1Deployment; message: string };

/**
 * Compares the desired Deployment with the existing one: create when missing, update (the
 * existing object with our labels, owner and spec fields laid over it, keeping resourceVersion)
 * when any field we set differs, nothing otherwise.
 */
export function planDeployment(desired: V1Deployment, existing: V1Deployment | undefined): DeploymentAction {
  if (!existing) return { action: 'create', deployment: desired };
  const owner = desired.metadata?.ownerReferences?.[0];
  const controller = existing.metadata?.ownerReferences?.find((r) => r.controller);
  if (!controller || controller.uid !== owner?.uid) {
    return {
      action: 'conflict',
      deployment: existing,
      message: `Deployment ${existing.metadata?.name} exists and is not controlled by this SampleSource`,
    };
  }
  const same =
    isDerivative(desired.spec, existing.spec) &&
    isDerivative(desired.metadata?.labels, existing.metadata?.labels);
  if (same) return { action: 'none', deployment: existing };
  return {
    action: 'update',
    deployment: {
      ...existing,
      metadata: {
        ...existing.metadata,
        labels: { ...existing.metadata?.labels, ...desired.metadata?.labels },
      },
      // The selector is immutable: keep the stored one (ours, since we control the object).
      spec: {
        ...existing.spec,
        replicas: desired.spec!.replicas,
        selector: existing.spec?.selector ?? desired.spec!.selector,
        template: desired.spec!.template,
      },
    },
  };
}
