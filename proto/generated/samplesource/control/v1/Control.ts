// Original file: proto/control.proto

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { Envelope as _samplesource_control_v1_Envelope, Envelope__Output as _samplesource_control_v1_Envelope__Output } from '../../../samplesource/control/v1/Envelope';

export interface ControlClient extends grpc.Client {
  Connect(metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientDuplexStream<_samplesource_control_v1_Envelope, _samplesource_control_v1_Envelope__Output>;
  Connect(options?: grpc.CallOptions): grpc.ClientDuplexStream<_samplesource_control_v1_Envelope, _samplesource_control_v1_Envelope__Output>;
  connect(metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientDuplexStream<_samplesource_control_v1_Envelope, _samplesource_control_v1_Envelope__Output>;
  connect(options?: grpc.CallOptions): grpc.ClientDuplexStream<_samplesource_control_v1_Envelope, _samplesource_control_v1_Envelope__Output>;
  
}

export interface ControlHandlers extends grpc.UntypedServiceImplementation {
  Connect: grpc.handleBidiStreamingCall<_samplesource_control_v1_Envelope__Output, _samplesource_control_v1_Envelope>;
  
}

export interface ControlDefinition extends grpc.ServiceDefinition {
  Connect: MethodDefinition<_samplesource_control_v1_Envelope, _samplesource_control_v1_Envelope, _samplesource_control_v1_Envelope__Output, _samplesource_control_v1_Envelope__Output>
}
