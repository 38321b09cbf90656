// The resolved sink as the adapters get it over the control stream (ApplyState.sink), and the key
// that tells whether a pod was already sent this very sink: a sink that moves (an Addressable's new
// address, new CAs, a new audience) without a new generation must still reach every pod.
import { createHash } from 'node:crypto';
import type { AdapterSink } from '../../contract/adapter-sink.js';
import type { SinkResult } from './sink.js';

/** The ApplyState sink for a resolved sink; undefined when it did not resolve (the adapters keep theirs). */
export function adapterSinkOf(sink: SinkResult | undefined): AdapterSink | undefined {
  if (!sink?.ok) return undefined;
  return {
    uri: sink.uri,
    ...(sink.caCerts === undefined ? {} : { caCerts: sink.caCerts }),
    ...(sink.audience === undefined ? {} : { audience: sink.audience }),
  };
}

/** A short digest of a sink (uri, CAs, audience), kept per pod with what was sent; undefined for none. */
export function sinkKey(sink: AdapterSink | undefined): string | undefined {
  if (!sink) return undefined;
  return createHash('sha256')
    .update(JSON.stringify([sink.uri, sink.caCerts ?? null, sink.audience ?? null]))
    .digest('base64url')
    .slice(0, 16);
}
