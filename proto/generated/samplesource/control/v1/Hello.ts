// Original file: proto/control.proto

import type { Limits as _samplesource_control_v1_Limits, Limits__Output as _samplesource_control_v1_Limits__Output } from '../../../samplesource/control/v1/Limits';

export interface Hello {
  'protocolVersion'?: (number);
  'capabilities'?: (string)[];
  'requiredCapabilities'?: (string)[];
  'identity'?: (string);
  'sessionId'?: (string);
  'resumed'?: (boolean);
  'limits'?: (_samplesource_control_v1_Limits | null);
}

export interface Hello__Output {
  'protocolVersion': (number);
  'capabilities': (string)[];
  'requiredCapabilities': (string)[];
  'identity': (string);
  'sessionId': (string);
  'resumed': (boolean);
  'limits': (_samplesource_control_v1_Limits__Output | null);
}
