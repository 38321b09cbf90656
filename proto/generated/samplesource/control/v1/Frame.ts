// Original file: proto/control.proto

import type { Hello as _samplesource_control_v1_Hello, Hello__Output as _samplesource_control_v1_Hello__Output } from '../../../samplesource/control/v1/Hello';
import type { Command as _samplesource_control_v1_Command, Command__Output as _samplesource_control_v1_Command__Output } from '../../../samplesource/control/v1/Command';
import type { Ack as _samplesource_control_v1_Ack, Ack__Output as _samplesource_control_v1_Ack__Output } from '../../../samplesource/control/v1/Ack';
import type { AsyncCommandResult as _samplesource_control_v1_AsyncCommandResult, AsyncCommandResult__Output as _samplesource_control_v1_AsyncCommandResult__Output } from '../../../samplesource/control/v1/AsyncCommandResult';
import type { Notification as _samplesource_control_v1_Notification, Notification__Output as _samplesource_control_v1_Notification__Output } from '../../../samplesource/control/v1/Notification';

export interface Frame {
  'hello'?: (_samplesource_control_v1_Hello | null);
  'command'?: (_samplesource_control_v1_Command | null);
  'ack'?: (_samplesource_control_v1_Ack | null);
  'result'?: (_samplesource_control_v1_AsyncCommandResult | null);
  'notification'?: (_samplesource_control_v1_Notification | null);
  'kind'?: "hello"|"command"|"ack"|"result"|"notification";
}

export interface Frame__Output {
  'hello'?: (_samplesource_control_v1_Hello__Output | null);
  'command'?: (_samplesource_control_v1_Command__Output | null);
  'ack'?: (_samplesource_control_v1_Ack__Output | null);
  'result'?: (_samplesource_control_v1_AsyncCommandResult__Output | null);
  'notification'?: (_samplesource_control_v1_Notification__Output | null);
  'kind'?: "hello"|"command"|"ack"|"result"|"notification";
}
