// Original file: proto/control.proto


export interface Hello {
  'protocolVersion'?: (number);
  'capabilities'?: (string)[];
  'requiredCapabilities'?: (string)[];
  'identity'?: (string);
  'sessionId'?: (string);
  'resumed'?: (boolean);
}

export interface Hello__Output {
  'protocolVersion': (number);
  'capabilities': (string)[];
  'requiredCapabilities': (string)[];
  'identity': (string);
  'sessionId': (string);
  'resumed': (boolean);
}
