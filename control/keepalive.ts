// gRPC keepalive settings shared by both ends, tuned so that a dead peer is noticed within seconds
// (the Knative original relied on 30 s TCP keepalive).

/** Keepalive timing. Defaults: ping every 2 s, dead if no answer within 2 s (so about 4 s to detect). */
export interface KeepaliveOptions {
  timeMs?: number;
  timeoutMs?: number;
}

/** grpc-js channel options for keepalive on the given side. */
export function keepaliveOptions(
  k: KeepaliveOptions = {},
  side: 'client' | 'server',
): Record<string, number> {
  const time = k.timeMs ?? 2_000;
  const timeout = k.timeoutMs ?? 2_000;
  const common = {
    'grpc.keepalive_time_ms': time,
    'grpc.keepalive_timeout_ms': timeout,
    'grpc.keepalive_permit_without_calls': 1,
  };
  if (side === 'client') return common;
  // Accept the client's frequent pings instead of answering them with GOAWAY ("too many pings").
  return { ...common, 'grpc.http2.min_ping_interval_without_data_ms': Math.min(1_000, time / 2) };
}
