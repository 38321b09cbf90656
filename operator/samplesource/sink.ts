// Sink resolution, as Knative's resolver.URIResolver does it: a `uri`, or the address of the
// object `ref` points at (a core Service, or any Addressable with status.address.url), with a
// relative `uri` resolved against that address. Pure: the caller fetches the ref'd object.
import type { Destination, KReference } from '../../contract/knative.js';
import { caCertsProblem } from '../../contract/tls.js';
import { MAX_SINK_URI_LENGTH } from '../../contract/adapter-sink.js';

/** Cluster DNS domain for Service sinks when none is configured: "cluster.local". */
export const DEFAULT_CLUSTER_DOMAIN = 'cluster.local';

/** Why a sink is not usable; these are the reasons of a False `SinkProvided`. */
export const SinkReason = {
  /** spec.sink is absent or names neither ref nor uri. */
  Missing: 'SinkMissing',
  /** The uri is malformed, relative without a ref, or absolute next to a ref. */
  Invalid: 'SinkInvalid',
  /** ref names a namespace other than the source's (Knative refuses cross-namespace sinks by default). */
  NamespaceMismatch: 'SinkNamespaceMismatch',
  /** The object ref points at does not exist. */
  NotFound: 'SinkNotFound',
  /** The object exists but has no address (yet). */
  NotAddressable: 'SinkNotAddressable',
  /** The operator may not read the ref's kind (no ClusterRole labelled duck.knative.dev/addressable grants it). */
  Forbidden: 'SinkForbidden',
  /** Reading the object failed (unknown kind, API error). */
  ResolveFailed: 'SinkResolveFailed',
} as const;
export type SinkReason = (typeof SinkReason)[keyof typeof SinkReason];

/** A resolved sink URI, or why there is none. */
export type SinkResult =
  /** `caCerts`: the PEM CAs to verify the sink with (spec.sink.CACerts, else the Addressable's); absent: default roots. */
  /** `audience`: the OIDC audience of the sink (spec.sink.audience, else the Addressable's); absent: no token. */
  | { ok: true; uri: string; caCerts?: string; audience?: string }
  | { ok: false; reason: SinkReason; message: string };

/** What the caller found when it read the object a ref points at. */
export type SinkLookup =
  | { found: true; object: unknown }
  | { found: false }
  | { error: string }
  /** RBAC refused the read; the message says what to grant. */
  | { forbidden: string };

/** The object a sink's ref points at, with the namespace defaulted to the source's; undefined without a ref. */
export function sinkRefTarget(
  dest: Destination | undefined,
  sourceNamespace: string,
): Required<KReference> | undefined {
  if (!dest?.ref) return undefined;
  return { ...dest.ref, namespace: dest.ref.namespace ?? sourceNamespace };
}

function absoluteHttpUrl(text: unknown): URL | undefined {
  if (typeof text !== 'string') return undefined;
  try {
    const url = new URL(text);
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.hostname !== '' ? url : undefined;
  } catch {
    return undefined;
  }
}

function isCoreService(ref: KReference): boolean {
  return ref.apiVersion === 'v1' && ref.kind === 'Service';
}

interface AddressJson {
  url?: unknown;
  CACerts?: unknown;
  audience?: unknown;
}

// Knative Addressables publish status.address.url; newer ones also (or only) status.addresses[].
function addressObjectOf(object: unknown): AddressJson | undefined {
  const status = (object as { status?: { address?: AddressJson; addresses?: AddressJson[] } })?.status;
  return status?.address?.url !== undefined ? status.address : status?.addresses?.[0];
}

function addressOf(object: unknown): string | undefined {
  const url = addressObjectOf(object)?.url;
  return typeof url === 'string' && url !== '' ? url : undefined;
}

function addressCaCertsOf(object: unknown): string | undefined {
  const ca = addressObjectOf(object)?.CACerts;
  return typeof ca === 'string' && ca !== '' ? ca : undefined;
}

function addressAudienceOf(object: unknown): string | undefined {
  const audience = addressObjectOf(object)?.audience;
  return typeof audience === 'string' && audience !== '' ? audience : undefined;
}

/** The spec's CACerts and audience win over the Addressable's, as Knative's resolver does. */
function withCaCerts(uri: string, caCerts: string | undefined, audience?: string): SinkResult {
  // The adapters refuse a longer one (contract/adapter-sink.ts): say so here instead.
  if (uri.length > MAX_SINK_URI_LENGTH)
    return {
      ok: false,
      reason: SinkReason.Invalid,
      message: `the resolved sink URI is ${uri.length} characters, more than ${MAX_SINK_URI_LENGTH}`,
    };
  return {
    ok: true,
    uri,
    ...(caCerts === undefined ? {} : { caCerts }),
    ...(audience === undefined ? {} : { audience }),
  };
}

function describe(ref: Required<KReference>): string {
  return `${ref.kind} ${ref.namespace}/${ref.name} (${ref.apiVersion})`;
}

/** Options for {@link resolveSink}. */
export interface ResolveSinkOptions {
  /** Cluster DNS domain for Service URLs. Default {@link DEFAULT_CLUSTER_DOMAIN}. */
  clusterDomain?: string;
}

/**
 * Resolves a Destination to a URI. `lookup` is what the caller found for {@link sinkRefTarget}
 * (ignored without a ref). Checks Knative's rules again, since the spec may have slipped past the schema.
 */
export function resolveSink(
  dest: Destination | undefined,
  sourceNamespace: string,
  lookup: SinkLookup | undefined,
  options: ResolveSinkOptions = {},
): SinkResult {
  if (!dest || (!dest.ref && dest.uri === undefined)) {
    return { ok: false, reason: SinkReason.Missing, message: 'spec.sink needs a ref or a uri' };
  }
  const target = sinkRefTarget(dest, sourceNamespace);
  if (!target) {
    const url = absoluteHttpUrl(dest.uri);
    if (!url) {
      return {
        ok: false,
        reason: SinkReason.Invalid,
        message: `spec.sink.uri ${JSON.stringify(dest.uri)} must be an absolute http(s) URL when there is no ref`,
      };
    }
    const problem = dest.CACerts === undefined ? undefined : caCertsProblem(dest.CACerts);
    if (problem) return { ok: false, reason: SinkReason.Invalid, message: `spec.sink.CACerts ${problem}` };
    return withCaCerts(dest.uri!, dest.CACerts, dest.audience);
  }
  if (dest.uri !== undefined && /^[a-zA-Z][a-zA-Z0-9+.-]*:/.test(dest.uri)) {
    return {
      ok: false,
      reason: SinkReason.Invalid,
      message: `spec.sink.uri ${JSON.stringify(dest.uri)} must be relative when a ref is set`,
    };
  }
  // A ref to another namespace would let a source's owner learn addresses they may not read.
  if (target.namespace !== sourceNamespace) {
    return {
      ok: false,
      reason: SinkReason.NamespaceMismatch,
      message: `spec.sink.ref.namespace ${JSON.stringify(target.namespace)} differs from the source's namespace ${JSON.stringify(sourceNamespace)}; cross-namespace sinks are not allowed`,
    };
  }
  if (!lookup)
    return { ok: false, reason: SinkReason.ResolveFailed, message: `${describe(target)} was not looked up` };
  if ('forbidden' in lookup)
    return {
      ok: false,
      reason: SinkReason.Forbidden,
      message: `the operator may not read ${describe(target)}: ${lookup.forbidden}`,
    };
  if ('error' in lookup)
    return {
      ok: false,
      reason: SinkReason.ResolveFailed,
      message: `reading ${describe(target)}: ${lookup.error}`,
    };
  if (!lookup.found)
    return { ok: false, reason: SinkReason.NotFound, message: `${describe(target)} does not exist` };

  let base: URL | undefined;
  // Kept as written (Knative prints it without a trailing slash); URL objects would add one.
  let baseText: string;
  if (isCoreService(target)) {
    baseText = `http://${target.name}.${target.namespace}.svc.${options.clusterDomain ?? DEFAULT_CLUSTER_DOMAIN}`;
    base = new URL(baseText);
  } else {
    const address = addressOf(lookup.object);
    if (address === undefined) {
      return {
        ok: false,
        reason: SinkReason.NotAddressable,
        message: `${describe(target)} has no status.address.url (not an Addressable, or not ready)`,
      };
    }
    baseText = address;
    base = absoluteHttpUrl(address);
    if (!base) {
      return {
        ok: false,
        reason: SinkReason.NotAddressable,
        message: `${describe(target)} has an address that is not an absolute http(s) URL: ${JSON.stringify(address)}`,
      };
    }
  }
  const caCerts = dest.CACerts ?? (isCoreService(target) ? undefined : addressCaCertsOf(lookup.object));
  const caProblem = caCerts === undefined ? undefined : caCertsProblem(caCerts);
  if (caProblem) {
    return {
      ok: false,
      reason: dest.CACerts !== undefined ? SinkReason.Invalid : SinkReason.NotAddressable,
      message:
        dest.CACerts !== undefined
          ? `spec.sink.CACerts ${caProblem}`
          : `${describe(target)} has status.address.CACerts that ${caProblem}`,
    };
  }
  // A core Service publishes no address, hence no audience: only spec.sink.audience applies to it.
  const audience = dest.audience ?? (isCoreService(target) ? undefined : addressAudienceOf(lookup.object));
  if (dest.uri === undefined) return withCaCerts(baseText, caCerts, audience);
  try {
    // RFC 3986 reference resolution, as Go's url.ResolveReference does for Knative.
    return withCaCerts(new URL(dest.uri, base).href, caCerts, audience);
  } catch {
    return {
      ok: false,
      reason: SinkReason.Invalid,
      message: `spec.sink.uri ${JSON.stringify(dest.uri)} cannot be resolved against ${base.href}`,
    };
  }
}
