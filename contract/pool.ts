// The shared-adapter (pool) part of the operator-adapter contract: how the operator streams a
// pool pod its assignments as list + watch over the control stream. A versioned snapshot, in
// pages ending with `last: true`, on every (re)connect; then increments (upsert, release),
// each one a reliable command. The pod converges its running sources to the set: state, not history.
import { z } from 'zod';
import { CeExtensionsSchema } from './cloudevents.js';
import { caCertsProblem } from './tls.js';
import { AppliedGenerationSchema, GenerationSchema, IntervalSchema } from './commands.js';

/** Opcode: one page of the full assignment set. Payload {@link AssignSnapshotPayload}. */
export const OP_POOL_SNAPSHOT = 'samplesource.v1.pool.AssignSnapshot';
/** Opcode: add a source or change its configuration. Payload {@link AssignUpsertPayload}. */
export const OP_POOL_UPSERT = 'samplesource.v1.pool.AssignUpsert';
/** Opcode: stop a source and report its last sequence. Payload {@link AssignReleasePayload}; result detail {@link ReleasedSource}. */
export const OP_POOL_RELEASE = 'samplesource.v1.pool.AssignRelease';
/**
 * Opcode: a new operator term asks a pod which sequences it knows, before it places anything.
 * Page 0 first stops every source the pod runs (so the figures cannot move on), then every page
 * reports {@link SEQUENCE_REPORT_PAGE_SIZE} of them. Payload {@link ReportSequencesPayload}; result
 * detail {@link SequenceReport}.
 */
export const OP_POOL_REPORT_SEQUENCES = 'samplesource.v1.pool.ReportSequences';
/** Notification carrying {@link PoolState}: on stream open and (rate-limited) on change. */
export const NOTIFICATION_POOL_STATE = 'samplesource.v1.pool.PoolState';
/** Async-result failure reason for a snapshot or increment older than the version applied. */
export const REASON_STALE_VERSION = 'StaleAssignmentVersion';

/** Sources per snapshot page the operator sends: 500 (about 150 KB, far under the 4 MiB frame bound). */
export const SNAPSHOT_PAGE_SIZE = 500;
/** Most sources one page may carry: 2,000. */
export const MAX_SNAPSHOT_PAGE = 2_000;

/** "namespace/name" of a SampleSource: the key of an assignment. */
export const SourceKeySchema = z
  .string()
  .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?\/[a-z0-9]([-.a-z0-9]*[a-z0-9])?$/, 'must be "namespace/name"')
  .max(317);

/**
 * Where and how one source sends: its own sink and options. One type so that sink features
 * (CA, audience, token: issue 13) are added here once and passed through unchanged.
 */
export const SinkConfigSchema = z.object({
  uri: z.url({ protocol: /^https?$/, error: 'must be an absolute http(s) URL' }),
  /** PEM CAs the sink is verified with (the resolved status.sinkCACerts). Default: the default roots. */
  caCerts: z
    .string()
    .superRefine((pem, ctx) => {
      const problem = caCertsProblem(pem);
      if (problem) ctx.addIssue({ code: 'custom', message: problem });
    })
    .optional(),
});
export type SinkConfig = z.infer<typeof SinkConfigSchema>;

/** One shared source as its owning pod runs it. */
export const SourceAssignmentSchema = z.object({
  key: SourceKeySchema,
  /** SampleSource UID: a re-created source with the same name starts a new sequence. */
  uid: z.string().min(1).max(64),
  generation: GenerationSchema,
  interval: IntervalSchema,
  paused: z.boolean(),
  sink: SinkConfigSchema,
  ceExtensions: CeExtensionsSchema.default({}),
  /** Last sequence number a previous owner reported on release; the new owner continues after it. Default 0. */
  lastSequence: z.number().int().min(0).default(0),
});
export type SourceAssignment = z.infer<typeof SourceAssignmentSchema>;
/** The input shape (defaults not yet applied), what the operator builds. */
export type SourceAssignmentInput = z.input<typeof SourceAssignmentSchema>;

/**
 * A monotonic assignment version. The operator derives it from wall-clock milliseconds at its
 * start plus a counter, so that a restarted operator never goes back below an applied version.
 */
export const AssignmentVersionSchema = z.number().int().min(1);

/**
 * Entries of a snapshot page are checked one by one by the pod (a bad entry is reported on
 * that source alone), so the page schema only requires them to be objects.
 */
export const AssignSnapshotPayloadSchema = z.object({
  version: AssignmentVersionSchema,
  /** 0, 1, 2, …: pages of one version arrive in order. */
  page: z.number().int().min(0),
  /** True on the final page: only then does the pod converge to the set. */
  last: z.boolean(),
  sources: z.array(z.looseObject({})).max(MAX_SNAPSHOT_PAGE),
});
export type AssignSnapshotPayload = z.infer<typeof AssignSnapshotPayloadSchema>;

/** Payload of AssignUpsert. */
export const AssignUpsertPayloadSchema = z.object({
  version: AssignmentVersionSchema,
  source: SourceAssignmentSchema,
});
export type AssignUpsertPayload = z.input<typeof AssignUpsertPayloadSchema>;

/** Payload of AssignRelease. */
export const AssignReleasePayloadSchema = z.object({
  version: AssignmentVersionSchema,
  key: SourceKeySchema,
});
export type AssignReleasePayload = z.infer<typeof AssignReleasePayloadSchema>;

/** Payload of ReportSequences. */
export const ReportSequencesPayloadSchema = z.object({
  version: AssignmentVersionSchema,
  /** 0 stops every source and takes the list; 1, 2, … page through that same list. */
  page: z.number().int().min(0),
});
export type ReportSequencesPayload = z.infer<typeof ReportSequencesPayloadSchema>;

/** Sources per ReportSequences page: 1,000 (at most about 420 KB with the longest keys). */
export const SEQUENCE_REPORT_PAGE_SIZE = 1_000;

/** The last sequence a pod used for one incarnation (uid) of a source. */
export const KnownSequenceSchema = z.object({
  key: SourceKeySchema,
  uid: z.string().min(1).max(64),
  lastSequence: z.number().int().min(0),
});
export type KnownSequence = z.infer<typeof KnownSequenceSchema>;

/** Result detail of ReportSequences: one page of the sequences the pod knows. */
export const SequenceReportSchema = z.object({
  page: z.number().int().min(0),
  pages: z.number().int().min(1),
  sources: z.array(KnownSequenceSchema).max(SEQUENCE_REPORT_PAGE_SIZE),
});
export type SequenceReport = z.infer<typeof SequenceReportSchema>;

/** Result detail of AssignRelease: the source stopped, nothing more will be sent for it by this pod. */
export const ReleasedSourceSchema = z.object({
  key: SourceKeySchema,
  /** Last sequence number this pod emitted (0 if it never ran the source). */
  lastSequence: z.number().int().min(0),
});
export type ReleasedSource = z.infer<typeof ReleasedSourceSchema>;

/** One running source in a {@link PoolState}. */
export const PooledSourceStateSchema = z.object({
  key: z.string(),
  uid: z.string(),
  generation: AppliedGenerationSchema,
  intervalMs: z.number().int(),
  paused: z.boolean(),
  lastSequence: z.number().int().min(0),
  eventsSent: z.number().int().min(0),
  eventsDropped: z.number().int().min(0),
  lastSendError: z.string().nullable(),
});
export type PooledSourceState = z.infer<typeof PooledSourceStateSchema>;

/** A source the pod refused (bad entry in a snapshot), reported on that source alone. */
export const RejectedSourceSchema = z.object({ key: z.string(), message: z.string() });
export type RejectedSource = z.infer<typeof RejectedSourceSchema>;

/** Sources per PoolState notification: 1,000 (about 250 KB; 10,000 in one would pass the 4 MiB frame bound). */
export const POOL_STATE_PAGE_SIZE = 1_000;

/** Data of the PoolState notification: what the pod runs now, in pages of {@link POOL_STATE_PAGE_SIZE} sources. */
export const PoolStateSchema = z.object({
  podName: z.string(),
  /** Last assignment version converged to; 0 before the first snapshot. */
  version: z.number().int().min(0),
  /** 0-based page of this report and the page count; `rejected` rides on page 0. */
  page: z.number().int().min(0),
  pages: z.number().int().min(1),
  sources: z.array(PooledSourceStateSchema),
  rejected: z.array(RejectedSourceSchema),
});
export type PoolState = z.infer<typeof PoolStateSchema>;
