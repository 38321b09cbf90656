// Shared between the two processes of bench/protocol.ts.
import type * as grpc from '@grpc/grpc-js';

/** Certificates handed to the peer process. */
export interface BenchPki {
  ca: string;
  serverCert: string;
  serverKey: string;
  serverId: string;
  clientId: string;
}

const identity = (b: Buffer): Buffer => b;

/** A bidi echo of raw bytes: no protobuf, no protocol, just grpc-js + TLS. */
export const RAW_ECHO_SERVICE: grpc.ServiceDefinition = {
  Echo: {
    path: '/bench.RawEcho/Echo',
    requestStream: true,
    responseStream: true,
    requestSerialize: identity,
    requestDeserialize: identity,
    responseSerialize: identity,
    responseDeserialize: identity,
  },
};
