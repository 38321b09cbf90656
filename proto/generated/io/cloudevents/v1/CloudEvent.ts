// Original file: proto/cloudevents.proto

import type { Any as _google_protobuf_Any, Any__Output as _google_protobuf_Any__Output } from '../../../google/protobuf/Any';
import type { Timestamp as _google_protobuf_Timestamp, Timestamp__Output as _google_protobuf_Timestamp__Output } from '../../../google/protobuf/Timestamp';

export interface _io_cloudevents_v1_CloudEvent_CloudEventAttributeValue {
  'ceBoolean'?: (boolean);
  'ceInteger'?: (number);
  'ceString'?: (string);
  'ceBytes'?: (Buffer | Uint8Array | string);
  'ceUri'?: (string);
  'ceUriRef'?: (string);
  'ceTimestamp'?: (_google_protobuf_Timestamp | null);
  'attr'?: "ceBoolean"|"ceInteger"|"ceString"|"ceBytes"|"ceUri"|"ceUriRef"|"ceTimestamp";
}

export interface _io_cloudevents_v1_CloudEvent_CloudEventAttributeValue__Output {
  'ceBoolean'?: (boolean);
  'ceInteger'?: (number);
  'ceString'?: (string);
  'ceBytes'?: (Buffer);
  'ceUri'?: (string);
  'ceUriRef'?: (string);
  'ceTimestamp'?: (_google_protobuf_Timestamp__Output | null);
  'attr'?: "ceBoolean"|"ceInteger"|"ceString"|"ceBytes"|"ceUri"|"ceUriRef"|"ceTimestamp";
}

export interface CloudEvent {
  'id'?: (string);
  'source'?: (string);
  'specVersion'?: (string);
  'type'?: (string);
  'attributes'?: ({[key: string]: _io_cloudevents_v1_CloudEvent_CloudEventAttributeValue});
  'binaryData'?: (Buffer | Uint8Array | string);
  'textData'?: (string);
  'protoData'?: (_google_protobuf_Any | null);
  'data'?: "binaryData"|"textData"|"protoData";
}

export interface CloudEvent__Output {
  'id': (string);
  'source': (string);
  'specVersion': (string);
  'type': (string);
  'attributes': ({[key: string]: _io_cloudevents_v1_CloudEvent_CloudEventAttributeValue__Output});
  'binaryData'?: (Buffer);
  'textData'?: (string);
  'protoData'?: (_google_protobuf_Any__Output | null);
  'data'?: "binaryData"|"textData"|"protoData";
}
