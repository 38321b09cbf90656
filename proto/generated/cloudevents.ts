import type * as grpc from '@grpc/grpc-js';
import type { MessageTypeDefinition } from '@grpc/proto-loader';

import type { Any as _google_protobuf_Any, Any__Output as _google_protobuf_Any__Output } from './google/protobuf/Any';
import type { Timestamp as _google_protobuf_Timestamp, Timestamp__Output as _google_protobuf_Timestamp__Output } from './google/protobuf/Timestamp';
import type { CloudEvent as _io_cloudevents_v1_CloudEvent, CloudEvent__Output as _io_cloudevents_v1_CloudEvent__Output } from './io/cloudevents/v1/CloudEvent';
import type { CloudEventBatch as _io_cloudevents_v1_CloudEventBatch, CloudEventBatch__Output as _io_cloudevents_v1_CloudEventBatch__Output } from './io/cloudevents/v1/CloudEventBatch';

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
}

