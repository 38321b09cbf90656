import type * as grpc from '@grpc/grpc-js';
import type { MessageTypeDefinition } from '@grpc/proto-loader';

import type { Any as _google_protobuf_Any, Any__Output as _google_protobuf_Any__Output } from './google/protobuf/Any';
import type { Timestamp as _google_protobuf_Timestamp, Timestamp__Output as _google_protobuf_Timestamp__Output } from './google/protobuf/Timestamp';
import type { CloudEvent as _io_cloudevents_v1_CloudEvent, CloudEvent__Output as _io_cloudevents_v1_CloudEvent__Output } from './io/cloudevents/v1/CloudEvent';
import type { CloudEventBatch as _io_cloudevents_v1_CloudEventBatch, CloudEventBatch__Output as _io_cloudevents_v1_CloudEventBatch__Output } from './io/cloudevents/v1/CloudEventBatch';
import type { Ack as _samplesource_control_v1_Ack, Ack__Output as _samplesource_control_v1_Ack__Output } from './samplesource/control/v1/Ack';
import type { AckError as _samplesource_control_v1_AckError, AckError__Output as _samplesource_control_v1_AckError__Output } from './samplesource/control/v1/AckError';
import type { AsyncCommandResult as _samplesource_control_v1_AsyncCommandResult, AsyncCommandResult__Output as _samplesource_control_v1_AsyncCommandResult__Output } from './samplesource/control/v1/AsyncCommandResult';
import type { Command as _samplesource_control_v1_Command, Command__Output as _samplesource_control_v1_Command__Output } from './samplesource/control/v1/Command';
import type { ControlClient as _samplesource_control_v1_ControlClient, ControlDefinition as _samplesource_control_v1_ControlDefinition } from './samplesource/control/v1/Control';
import type { Envelope as _samplesource_control_v1_Envelope, Envelope__Output as _samplesource_control_v1_Envelope__Output } from './samplesource/control/v1/Envelope';
import type { Frame as _samplesource_control_v1_Frame, Frame__Output as _samplesource_control_v1_Frame__Output } from './samplesource/control/v1/Frame';
import type { Hello as _samplesource_control_v1_Hello, Hello__Output as _samplesource_control_v1_Hello__Output } from './samplesource/control/v1/Hello';
import type { Limits as _samplesource_control_v1_Limits, Limits__Output as _samplesource_control_v1_Limits__Output } from './samplesource/control/v1/Limits';
import type { Notification as _samplesource_control_v1_Notification, Notification__Output as _samplesource_control_v1_Notification__Output } from './samplesource/control/v1/Notification';

type SubtypeConstructor<Constructor extends new (...args: any) => any, Subtype> = {
  new(...args: ConstructorParameters<Constructor>): Subtype;
};

export interface ProtoGrpcType {
  google: {
    protobuf: {
      Any: MessageTypeDefinition<_google_protobuf_Any, _google_protobuf_Any__Output>
      Timestamp: MessageTypeDefinition<_google_protobuf_Timestamp, _google_protobuf_Timestamp__Output>
    }
  }
  io: {
    cloudevents: {
      v1: {
        CloudEvent: MessageTypeDefinition<_io_cloudevents_v1_CloudEvent, _io_cloudevents_v1_CloudEvent__Output>
        CloudEventBatch: MessageTypeDefinition<_io_cloudevents_v1_CloudEventBatch, _io_cloudevents_v1_CloudEventBatch__Output>
      }
    }
  }
  samplesource: {
    control: {
      v1: {
        Ack: MessageTypeDefinition<_samplesource_control_v1_Ack, _samplesource_control_v1_Ack__Output>
        AckError: MessageTypeDefinition<_samplesource_control_v1_AckError, _samplesource_control_v1_AckError__Output>
        AsyncCommandResult: MessageTypeDefinition<_samplesource_control_v1_AsyncCommandResult, _samplesource_control_v1_AsyncCommandResult__Output>
        Command: MessageTypeDefinition<_samplesource_control_v1_Command, _samplesource_control_v1_Command__Output>
        Control: SubtypeConstructor<typeof grpc.Client, _samplesource_control_v1_ControlClient> & { service: _samplesource_control_v1_ControlDefinition }
        Envelope: MessageTypeDefinition<_samplesource_control_v1_Envelope, _samplesource_control_v1_Envelope__Output>
        Frame: MessageTypeDefinition<_samplesource_control_v1_Frame, _samplesource_control_v1_Frame__Output>
        Hello: MessageTypeDefinition<_samplesource_control_v1_Hello, _samplesource_control_v1_Hello__Output>
        Limits: MessageTypeDefinition<_samplesource_control_v1_Limits, _samplesource_control_v1_Limits__Output>
        Notification: MessageTypeDefinition<_samplesource_control_v1_Notification, _samplesource_control_v1_Notification__Output>
      }
    }
  }
}

