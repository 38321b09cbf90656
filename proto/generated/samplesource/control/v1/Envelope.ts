// Original file: proto/control.proto

import type { Frame as _samplesource_control_v1_Frame, Frame__Output as _samplesource_control_v1_Frame__Output } from '../../../samplesource/control/v1/Frame';
import type { Long } from '@grpc/proto-loader';

export interface Envelope {
  'frames'?: (_samplesource_control_v1_Frame)[];
  'acksReceived'?: (number | string | Long);
}

export interface Envelope__Output {
  'frames': (_samplesource_control_v1_Frame__Output)[];
  'acksReceived': (string);
}
