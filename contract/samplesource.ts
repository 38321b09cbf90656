// The SampleSource API in code: the same defaults and rules as the CRD's OpenAPI schema and CEL
// (config/300-samplesource-crd.yaml), checked again here by the operator so that an object that slipped past the
// schema (an older CRD, a status-less edit, a bug) ends as a clear False condition, never a crash.
import { z } from 'zod';
import { CloudEventOverridesSchema } from './cloudevents.js';
import { DEFAULT_INTERVAL, IntervalSchema } from './commands.js';
import { DestinationSchema, type Condition } from './knative.js';

/** API group of SampleSource. */
export const GROUP = 'samples.knative.dev';
/** The only served version. */
export const VERSION = 'v1alpha1';
/** `samples.knative.dev/v1alpha1`. */
export const API_VERSION = `${GROUP}/${VERSION}`;
/** Kind. */
export const KIND = 'SampleSource';
/** Plural resource name. */
export const PLURAL = 'samplesources';

/** Adapter pods per source when spec.replicas is absent: 1. */
export const DEFAULT_REPLICAS = 1;
/** Most adapter pods a source may ask for: 10 (each one is steered over its own stream). */
export const MAX_REPLICAS = 10;
/** Longest SampleSource name: 63, because the name is a label value on its adapter pods. */
export const MAX_NAME_LENGTH = 63;

/** How a source runs: its own adapter Deployment, or a slot on the shared adapter pool. */
export const SOURCE_MODES = ['dedicated', 'shared'] as const;
export type SourceMode = (typeof SOURCE_MODES)[number];
/** The operator-wide default mode when none is configured: dedicated (today's behaviour). */
export const DEFAULT_SOURCE_MODE: SourceMode = 'dedicated';

// RFC 1123 subdomain (ServiceAccount names).
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** spec, with the CRD's defaults: interval "10s", paused false, replicas 1. */
export const SampleSourceSpecSchema = z.object({
  interval: IntervalSchema.default(DEFAULT_INTERVAL),
  paused: z.boolean().default(false),
  sink: DestinationSchema,
  ceOverrides: CloudEventOverridesSchema.optional(),
  serviceAccountName: z
    .string()
    .max(253)
    .regex(DNS_SUBDOMAIN, 'must be a DNS subdomain (a ServiceAccount name)')
    .optional(),
  replicas: z.number().int().min(1).max(MAX_REPLICAS).default(DEFAULT_REPLICAS),
  // No default here or in the CRD: unset means the operator-wide default (see effectiveMode).
  mode: z.enum(SOURCE_MODES).optional(),
});
export type SampleSourceSpec = z.infer<typeof SampleSourceSpecSchema>;

/** The mode a source runs in: its spec.mode, else the operator-wide default. */
export function effectiveMode(spec: Pick<SampleSourceSpec, 'mode'>, operatorDefault: SourceMode): SourceMode {
  return spec.mode ?? operatorDefault;
}

/** A Knative condition (type, status, severity, lastTransitionTime, reason, message). */
export type { Condition } from './knative.js';

/** The CloudEvent types and source a SampleSource emits (Knative SourceStatus.ceAttributes). */
export interface CloudEventAttributes {
  type: string;
  source: string;
}

/** status: Knative's SourceStatus plus what the adapters report. */
export interface SampleSourceStatus {
  observedGeneration?: number;
  conditions?: Condition[];
  annotations?: Record<string, string>;
  sinkUri?: string;
  /** PEM CAs the adapters verify the sink with (Knative SourceStatus.sinkCACerts); absent: default roots. */
  sinkCACerts?: string;
  /** OIDC audience of the sink the adapters present a token for (Knative SourceStatus.sinkAudience); absent: none. */
  sinkAudience?: string;
  ceAttributes?: CloudEventAttributes[];
  /** Interval every ready adapter pod reported applied for the current generation (kept while a change is processing). */
  appliedInterval?: string;
  /** Paused state every ready adapter pod reported applied (kept while a change is processing). */
  paused?: boolean;
  /** Adapter pods that are ready (and steered). */
  readyReplicas?: number;
  /** The mode the source runs in (spec.mode or the operator default). */
  mode?: SourceMode;
  /** Shared mode: the pool pod serving the source. */
  poolPod?: string;
}

/** The metadata a reconcile needs; the API server always sets these. */
export const SampleSourceMetaSchema = z.looseObject({
  name: z.string().min(1).max(MAX_NAME_LENGTH, `metadata.name must be at most ${MAX_NAME_LENGTH} characters`),
  namespace: z.string().min(1),
  uid: z.string().min(1),
  generation: z.number().int().min(1),
});
export type SampleSourceMeta = z.infer<typeof SampleSourceMetaSchema>;

/** A SampleSource whose spec passed validation, defaults applied. */
export interface SampleSource {
  apiVersion: typeof API_VERSION;
  kind: typeof KIND;
  metadata: SampleSourceMeta;
  spec: SampleSourceSpec;
  status?: SampleSourceStatus;
}

/** Which part of the source a spec error blocks, hence which condition turns False. */
export type SpecArea = 'sink' | 'config' | 'deployment';

/** One problem with a spec, with its path ("spec.sink.uri") and a readable message. */
export interface SpecError {
  path: string;
  message: string;
  area: SpecArea;
}

/** Result of {@link parseSampleSource}. */
export type ParsedSampleSource =
  | { ok: true; source: SampleSource }
  /** metadata is readable (so status can be written) but the spec is not valid. */
  | { ok: false; metadata: SampleSourceMeta; status?: SampleSourceStatus; errors: SpecError[] }
  /** Not even the metadata is usable: nothing can be written back; log and drop. */
  | { ok: false; metadata?: undefined; errors: SpecError[] };

function areaOf(path: readonly PropertyKey[]): SpecArea {
  if (path[0] === 'sink') return 'sink';
  if (path[0] === 'interval' || path[0] === 'paused') return 'config';
  return 'deployment';
}

function formatPath(prefix: string, path: readonly PropertyKey[]): string {
  return [prefix, ...path.map(String)].join('.');
}

/**
 * Validates a raw SampleSource (as read from the API server) and applies the defaults.
 * Never throws: problems come back as {@link SpecError}s, each tagged with the area it blocks.
 */
export function parseSampleSource(raw: unknown): ParsedSampleSource {
  const obj = (typeof raw === 'object' && raw !== null ? raw : {}) as Record<string, unknown>;
  const meta = SampleSourceMetaSchema.safeParse(obj.metadata, { reportInput: true });
  if (!meta.success) {
    return {
      ok: false,
      errors: meta.error.issues.map((i) => ({
        path: formatPath('metadata', i.path),
        message: i.message,
        area: 'deployment',
      })),
    };
  }
  const status = (typeof obj.status === 'object' && obj.status !== null ? obj.status : undefined) as
    SampleSourceStatus | undefined;
  // reportInput: tells an absent field ("required") from a wrong one.
  const spec = SampleSourceSpecSchema.safeParse(obj.spec ?? {}, { reportInput: true });
  if (!spec.success) {
    const errors = spec.error.issues.map((i) => ({
      path: formatPath('spec', i.path),
      message: i.code === 'invalid_type' && i.input === undefined ? 'required' : i.message,
      area: areaOf(i.path),
    }));
    return { ok: false, metadata: meta.data, ...(status ? { status } : {}), errors };
  }
  return {
    ok: true,
    source: {
      apiVersion: API_VERSION,
      kind: KIND,
      metadata: meta.data,
      spec: spec.data,
      ...(status ? { status } : {}),
    },
  };
}

/** "spec.interval: ...; spec.sink: ..." for a condition message. */
export function describeSpecErrors(errors: readonly SpecError[]): string {
  return errors.map((e) => `${e.path}: ${e.message}`).join('; ');
}
