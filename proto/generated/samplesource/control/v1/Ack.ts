// Original file: proto/control.proto

import type { AckError as _samplesource_control_v1_AckError, AckError__Output as _samplesource_control_v1_AckError__Output } from '../../../samplesource/control/v1/AckError';

export interface Ack {
  'id'?: (string);
  'error'?: (_samplesource_control_v1_AckError | null);
}

export interface Ack__Output {
  'id': (string);
  'error': (_samplesource_control_v1_AckError__Output | null);
}
