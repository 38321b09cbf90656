// Original file: proto/control.proto


export interface Command {
  'id'?: (string);
  'opcode'?: (string);
  'payload'?: (Buffer | Uint8Array | string);
}

export interface Command__Output {
  'id': (string);
  'opcode': (string);
  'payload': (Buffer);
}
