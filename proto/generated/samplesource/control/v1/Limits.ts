// Original file: proto/control.proto


export interface Limits {
  'maxInFlight'?: (number);
  'maxOutbox'?: (number);
  'dedupWindow'?: (number);
  'maxMessageBytes'?: (number);
}

export interface Limits__Output {
  'maxInFlight': (number);
  'maxOutbox': (number);
  'dedupWindow': (number);
  'maxMessageBytes': (number);
}
