// Async command pattern, control-plane side: what became of each command sent to each pod of each
// resource. Results re-queue the resource; entries go away with their pod or resource, so the store
// only holds what the cluster still has.

/** State of one command on one pod. */
export interface CommandStatus {
  state: 'pending' | 'succeeded' | 'failed';
  reason?: string;
  message?: string;
  detail?: unknown;
}

/** A result as ControlClient.onResult delivers it. */
export interface ResultLike {
  commandId: string;
  succeeded: boolean;
  reason?: string;
  message?: string;
  detail?: unknown;
}

/** Options of a NotificationStore. */
export interface NotificationStoreOptions {
  /** Called with the resource key whenever a result changes a state (re-queue it). Default none. */
  onChange?: (resourceKey: string) => void;
  /** Commands remembered per (resource, pod); the oldest are forgotten first. Default 64. */
  maxCommandsPerPod?: number;
}

/** Store keyed by (resource key, pod key, command id). */
export class NotificationStore {
  private readonly byResource = new Map<string, Map<string, Map<string, CommandStatus>>>();
  private readonly maxPerPod: number;

  constructor(private readonly options: NotificationStoreOptions = {}) {
    this.maxPerPod = options.maxCommandsPerPod ?? 64;
  }

  /** Marks a command as sent to a pod (state pending). Keeps an existing final state for the same id. */
  pending(resourceKey: string, podKey: string, commandId: string): void {
    const pod = this.pod(resourceKey, podKey, true)!;
    if (!pod.has(commandId)) this.put(pod, commandId, { state: 'pending' });
  }

  /** Records a result; calls onChange when the state changed. Results for unknown pods are kept too (they may race `pending`). */
  record(resourceKey: string, podKey: string, result: ResultLike): void {
    const pod = this.pod(resourceKey, podKey, true)!;
    const next: CommandStatus = { state: result.succeeded ? 'succeeded' : 'failed' };
    if (result.reason) next.reason = result.reason;
    if (result.message) next.message = result.message;
    if (result.detail !== undefined) next.detail = result.detail;
    const prev = pod.get(result.commandId);
    if (prev && prev.state === next.state && prev.reason === next.reason && prev.message === next.message)
      return;
    this.put(pod, result.commandId, next);
    this.options.onChange?.(resourceKey);
  }

  /** State of a command on a pod, or undefined when never sent (or forgotten). */
  get(resourceKey: string, podKey: string, commandId: string): CommandStatus | undefined {
    return this.pod(resourceKey, podKey, false)?.get(commandId);
  }

  /** Forgets everything about a pod (it went away). */
  forgetPod(resourceKey: string, podKey: string): void {
    const pods = this.byResource.get(resourceKey);
    pods?.delete(podKey);
    if (pods && pods.size === 0) this.byResource.delete(resourceKey);
  }

  /** Forgets everything about a resource (it was deleted). */
  forgetResource(resourceKey: string): void {
    this.byResource.delete(resourceKey);
  }

  /** Pod keys currently tracked for a resource. */
  pods(resourceKey: string): string[] {
    return [...(this.byResource.get(resourceKey)?.keys() ?? [])];
  }

  private pod(resourceKey: string, podKey: string, create: boolean): Map<string, CommandStatus> | undefined {
    let pods = this.byResource.get(resourceKey);
    if (!pods) {
      if (!create) return undefined;
      pods = new Map();
      this.byResource.set(resourceKey, pods);
    }
    let pod = pods.get(podKey);
    if (!pod && create) {
      pod = new Map();
      pods.set(podKey, pod);
    }
    return pod;
  }

  private put(pod: Map<string, CommandStatus>, commandId: string, status: CommandStatus): void {
    pod.delete(commandId); // re-insert so the map order stays "least recently written first"
    pod.set(commandId, status);
    while (pod.size > this.maxPerPod) {
      const oldest = pod.keys().next().value;
      if (oldest === undefined) break;
      pod.delete(oldest);
    }
  }
}
