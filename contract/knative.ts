// Knative duck types the contract is made of: conditions as Knative serialises them, and the
// Destination (KReference and/or URI) a source sends to. Plain data, zod only.
import { z } from 'zod';
import { caCertsProblem } from './tls.js';

/** True, False or Unknown. */
export type ConditionStatus = 'True' | 'False' | 'Unknown';
/** "" (Error, the default), Warning or Info; Info conditions never affect the happy condition. */
export type ConditionSeverity = '' | 'Warning' | 'Info';

/** One condition, as Knative serialises it (not metav1.Condition: it has severity, no observedGeneration). */
export interface Condition {
  type: string;
  status: ConditionStatus;
  severity?: ConditionSeverity;
  /** RFC 3339, second precision. */
  lastTransitionTime?: string;
  /** CamelCase. */
  reason?: string;
  message?: string;
}

/** Longest audience accepted: 1024 characters (a URL or a name; the token carries it in `aud`). */
export const MAX_AUDIENCE_LENGTH = 1024;

/** An OIDC audience: a non-empty string without whitespace or control characters, at most 1024 long. */
export const AudienceSchema = z
  .string()
  .min(1, 'audience must not be empty')
  .max(MAX_AUDIENCE_LENGTH, `audience must be at most ${MAX_AUDIENCE_LENGTH} characters`)
  .regex(/^[^\s\p{Cc}]+$/u, 'audience must not contain whitespace or control characters');

const HAS_SCHEME = /^[a-zA-Z][a-zA-Z0-9+.-]*:/;

/** A Knative KReference: the object whose address is the sink. `namespace` defaults to the source's. */
export const KReferenceSchema = z.object({
  apiVersion: z.string().min(1, 'apiVersion is required'),
  kind: z.string().min(1, 'kind is required'),
  name: z.string().min(1, 'name is required'),
  namespace: z.string().min(1).optional(),
});
export type KReference = z.infer<typeof KReferenceSchema>;

function isHttpUrl(text: string): boolean {
  try {
    const url = new URL(text);
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.hostname !== '';
  } catch {
    return false;
  }
}

/**
 * A Knative Destination with Knative's rules: `ref` or `uri` or both, optional `CACerts` (PEM,
 * every certificate must parse); `uri` alone must be an
 * absolute http(s) URL; next to `ref` it must be relative (resolved against the ref's address).
 */
export const DestinationSchema = z
  .object({
    ref: KReferenceSchema.optional(),
    uri: z.string().min(1, 'uri must not be empty').optional(),
    /** PEM CA certificates the HTTPS sink is verified with (instead of the default roots). */
    CACerts: z.string().optional(),
    /**
     * OIDC audience of the sink (Knative Destination.audience): every request then carries a
     * ServiceAccount token for this audience as `Authorization: Bearer`. Takes precedence over the
     * ref's status.address.audience.
     */
    audience: AudienceSchema.optional(),
  })
  .superRefine((dest, ctx) => {
    const caProblem = dest.CACerts === undefined ? undefined : caCertsProblem(dest.CACerts);
    if (caProblem) ctx.addIssue({ code: 'custom', path: ['CACerts'], message: `CACerts ${caProblem}` });
    if (!dest.ref && dest.uri === undefined) {
      ctx.addIssue({ code: 'custom', message: 'expected at least one of ref and uri' });
    } else if (!dest.ref && dest.uri !== undefined && !isHttpUrl(dest.uri)) {
      ctx.addIssue({
        code: 'custom',
        path: ['uri'],
        message: `uri ${JSON.stringify(dest.uri)} must be an absolute http(s) URL when ref is absent`,
      });
    } else if (dest.ref && dest.uri !== undefined && HAS_SCHEME.test(dest.uri)) {
      ctx.addIssue({
        code: 'custom',
        path: ['uri'],
        message: `uri ${JSON.stringify(dest.uri)} must be relative when ref is set (it is resolved against the ref's address)`,
      });
    }
  });
export type Destination = z.infer<typeof DestinationSchema>;
