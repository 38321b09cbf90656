// Original file: proto/control.proto


export interface AsyncCommandResult {
  'id'?: (string);
  'commandId'?: (string);
  'opcode'?: (string);
  'succeeded'?: (boolean);
  'reason'?: (string);
  'message'?: (string);
  'detail'?: (Buffer | Uint8Array | string);
}

export interface AsyncCommandResult__Output {
  'id': (string);
  'commandId': (string);
  'opcode': (string);
  'succeeded': (boolean);
  'reason': (string);
  'message': (string);
  'detail': (Buffer);
}
