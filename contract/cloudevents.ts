// The CloudEvent rules of the contract: what every heartbeat carries (type, source) and which
// extension attributes a user may add (CloudEventOverrides). Written once, enforced alike by
// the operator (spec validation) and the adapter (K_CE_OVERRIDES); the CRD's CEL mirrors them.
import { z } from 'zod';

/** CloudEvent type of every heartbeat, as upstream sample-source. */
export const HEARTBEAT_EVENT_TYPE = 'dev.knative.sample';

/**
 * CloudEvent `source` of a SampleSource's heartbeats: the URI reference
 * `/apis/v1/namespaces/<ns>/samplesources/<name>`, naming the object the way ApiServerSource does.
 */
export function heartbeatSource(namespace: string, name: string): string {
  return `/apis/v1/namespaces/${namespace}/samplesources/${name}`;
}

/**
 * CloudEvents 1.0 extension attribute names: lower-case ASCII letters and digits, at most 20
 * characters (the spec's length advice, which Knative's CloudEventOverrides enforces too).
 */
export const CE_EXTENSION_NAME = /^[a-z0-9]{1,20}$/;

/**
 * Core CloudEvents attributes (and `data`), which an extension must not override; also the two
 * CloudEvents 0.3 attributes (`schemaurl`, `datacontentencoding`) that the adapter's SDK still
 * treats as attributes (it refuses `schemaurl` on a 1.0 event, which would fail every heartbeat),
 * and `validate`, a method of the SDK's event class.
 */
export const RESERVED_CE_ATTRIBUTES: ReadonlySet<string> = new Set([
  'id',
  'source',
  'type',
  'specversion',
  'time',
  'datacontenttype',
  'dataschema',
  'subject',
  'data',
  'schemaurl',
  'datacontentencoding',
  // Not an attribute: a method of the SDK's CloudEvent, which an extension would shadow (its
  // constructor then throws "this.validate is not a function"); found by adapter/contract-ce.unit.test.ts.
  'validate',
  // Object.prototype.constructor: the SDK looks attribute names up in plain objects, so
  // HTTP.binary throws on an extension of this name (also found by the property test).
  'constructor',
]);

/** Why an extension name is refused, or undefined when it is allowed. */
export function ceExtensionNameProblem(name: string): string | undefined {
  if (!CE_EXTENSION_NAME.test(name)) {
    return `extension name ${JSON.stringify(name)} must be 1-20 lowercase letters or digits`;
  }
  if (RESERVED_CE_ATTRIBUTES.has(name)) {
    return `extension name ${JSON.stringify(name)} cannot override a core CloudEvents attribute`;
  }
  return undefined;
}

/** Extension attributes of CloudEventOverrides: name → value, every name checked by {@link ceExtensionNameProblem}. */
export const CeExtensionsSchema = z.record(z.string(), z.string()).superRefine((extensions, ctx) => {
  for (const name of Object.keys(extensions)) {
    const problem = ceExtensionNameProblem(name);
    if (problem) ctx.addIssue({ code: 'custom', path: [name], message: problem });
  }
});

/** Knative CloudEventOverrides: attributes the adapter adds to every event. */
export const CloudEventOverridesSchema = z.object({ extensions: CeExtensionsSchema.optional() });
export type CloudEventOverrides = z.infer<typeof CloudEventOverridesSchema>;
