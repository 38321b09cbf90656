// Original file: proto/control.proto

import type { Frame as _samplesource_control_v1_Frame, Frame__Output as _samplesource_control_v1_Frame__Output } from '../../../samplesource/control/v1/Frame';

export interface Envelope {
  'frames'?: (_samplesource_control_v1_Frame)[];
}

export interface Envelope__Output {
  'frames': (_samplesource_control_v1_Frame__Output)[];
}
