// The resolved sink as the operator steers it to a dedicated adapter (ApplyState.sink): where the
// heartbeats go, which CAs verify an HTTPS sink, and the OIDC audience a token must be presented
// for. One schema, so the adapter refuses exactly what the operator never sends: a sink the
// operator resolved past these rules gets a False condition there (operator/samplesource/sink.ts).
import { z } from 'zod';
import { AudienceSchema } from './knative.js';
import { caCertsProblem, MAX_CA_CERTS_LENGTH } from './tls.js';

/** Longest resolved sink URI accepted: 4096 characters (spec.sink.uri is at most 2048, plus a ref's address). */
export const MAX_SINK_URI_LENGTH = 4096;

/** Why `text` cannot be a sink URI (absolute http(s), bounded), or undefined when it can. */
export function sinkUriProblem(text: string): string | undefined {
  if (text.length > MAX_SINK_URI_LENGTH) return `must be at most ${MAX_SINK_URI_LENGTH} characters`;
  try {
    const url = new URL(text);
    if ((url.protocol === 'http:' || url.protocol === 'https:') && url.hostname !== '') return undefined;
  } catch {
    // falls through
  }
  return 'must be an absolute http(s) URL';
}

/** The sink part of ApplyState. Messages name the field and never quote a PEM bundle. */
export const AdapterSinkSchema = z.strictObject({
  uri: z.string().superRefine((text, ctx) => {
    const problem = sinkUriProblem(text);
    if (problem) ctx.addIssue({ code: 'custom', message: `sink.uri ${problem}` });
  }),
  /** PEM CAs the sink is verified with instead of the default roots; absent: the default roots. */
  caCerts: z
    .string()
    .max(MAX_CA_CERTS_LENGTH, `sink.caCerts must be at most ${MAX_CA_CERTS_LENGTH} characters`)
    .superRefine((pem, ctx) => {
      const problem = caCertsProblem(pem);
      if (problem) ctx.addIssue({ code: 'custom', message: `sink.caCerts ${problem}` });
    })
    .optional(),
  /** OIDC audience; absent: requests carry no token. */
  audience: AudienceSchema.optional(),
});
export type AdapterSink = z.infer<typeof AdapterSinkSchema>;

/** True when two sinks are the same target (uri, CAs and audience). */
export function sameSink(a: AdapterSink | undefined, b: AdapterSink | undefined): boolean {
  return a?.uri === b?.uri && a?.caCerts === b?.caCerts && a?.audience === b?.audience;
}
