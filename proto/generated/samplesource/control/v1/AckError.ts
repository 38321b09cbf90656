// Original file: proto/control.proto


export interface AckError {
  'code'?: (string);
  'message'?: (string);
}

export interface AckError__Output {
  'code': (string);
  'message': (string);
}
