// Original file: proto/control.proto

import type { CloudEvent as _io_cloudevents_v1_CloudEvent, CloudEvent__Output as _io_cloudevents_v1_CloudEvent__Output } from '../../../io/cloudevents/v1/CloudEvent';

export interface Notification {
  'event'?: (_io_cloudevents_v1_CloudEvent | null);
}

export interface Notification__Output {
  'event': (_io_cloudevents_v1_CloudEvent__Output | null);
}
