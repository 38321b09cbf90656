// Knative-style status conditions (knative.dev/pkg/apis condition_set.go), pure and clock-injected.
// A ConditionSet names a happy condition (Ready) and the dependents it summarises; a manager
// edits one status object's conditions, changing lastTransitionTime only on a real change.
import { z } from 'zod';

import type { Condition, ConditionSeverity, ConditionStatus } from '../../contract/knative.js';

// The condition shape is Knative's duck type, defined once in the contract.
export type { Condition, ConditionSeverity, ConditionStatus };

/** Schema of a {@link Condition} for validating objects read from the API server. */
export const conditionSchema = z.object({
  type: z.string(),
  status: z.enum(['True', 'False', 'Unknown']),
  severity: z.enum(['', 'Warning', 'Info']).optional(),
  lastTransitionTime: z.string().optional(),
  reason: z.string().optional(),
  message: z.string().optional(),
});

/** Any status with conditions. */
export interface ConditionedStatus {
  conditions?: Condition[];
  observedGeneration?: number;
}

/** The happy condition of a living set. */
export const Ready = 'Ready';

/** Formats a time the way metav1.Time does (RFC 3339, whole seconds). */
export function formatTime(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** A happy condition and the dependents that make it up. */
export class ConditionSet {
  readonly dependents: readonly string[];
  constructor(
    readonly happy: string,
    dependents: readonly string[],
  ) {
    this.dependents = dependents.filter((d) => d !== happy);
  }

  /** A set whose happy condition is `Ready` (Knative's NewLivingConditionSet). */
  static living(...dependents: string[]): ConditionSet {
    return new ConditionSet(Ready, dependents);
  }

  /** A manager editing `status.conditions` in place; `now` is injectable for tests. */
  manage(status: ConditionedStatus, now: () => Date = () => new Date()): ConditionManager {
    return new ConditionManager(this, status, now);
  }
}

/** Edits the conditions of one status object according to a {@link ConditionSet}. */
export class ConditionManager {
  constructor(
    private readonly set: ConditionSet,
    private readonly status: ConditionedStatus,
    private readonly now: () => Date,
  ) {}

  /** The condition of type `t`, if present. */
  get(t: string): Condition | undefined {
    return this.status.conditions?.find((c) => c.type === t);
  }

  /** The happy condition. */
  happy(): Condition | undefined {
    return this.get(this.set.happy);
  }

  /** True when the happy condition is True. */
  isHappy(): boolean {
    return this.happy()?.status === 'True';
  }

  /** Adds the happy condition and every dependent as Unknown when absent (True when already happy). */
  initialize(): void {
    const happy = this.happy();
    if (!happy) this.set_({ type: this.set.happy, status: 'Unknown' });
    const status = happy?.status === 'True' ? 'True' : 'Unknown';
    for (const t of this.set.dependents) if (!this.get(t)) this.set_({ type: t, status });
  }

  /** Sets a condition; a condition equal but for lastTransitionTime is left untouched (time kept). */
  setCondition(cond: Condition): void {
    this.set_(cond);
  }

  /** Removes a condition (no-op if absent). */
  clear(t: string): void {
    if (this.status.conditions) this.status.conditions = this.status.conditions.filter((c) => c.type !== t);
  }

  /** Marks `t` True; the happy condition follows once no dependent is unhappy. */
  markTrue(t: string): void {
    this.markTrueWithReason(t, undefined, undefined);
  }

  /** Marks `t` True with a reason and message. */
  markTrueWithReason(t: string, reason: string | undefined, message: string | undefined): void {
    this.set_({ type: t, status: 'True', reason, message });
    if (t === this.set.happy || !this.isDependent(t)) return;
    const unhappy = this.unhappyDependent();
    if (unhappy) {
      // Ready carries the reason of what still blocks it.
      this.set_({
        type: this.set.happy,
        status: unhappy.status,
        reason: unhappy.reason,
        message: unhappy.message,
      });
    } else {
      this.set_({ type: this.set.happy, status: 'True' });
    }
  }

  /** Marks `t` False; a dependent takes the happy condition down with the same reason. */
  markFalse(t: string, reason: string, message = ''): void {
    this.set_({ type: t, status: 'False', reason, message });
    if (this.isDependent(t)) this.set_({ type: this.set.happy, status: 'False', reason, message });
  }

  /** Marks `t` Unknown; the happy condition becomes Unknown too unless another dependent is False. */
  markUnknown(t: string, reason: string, message = ''): void {
    this.set_({ type: t, status: 'Unknown', reason, message });
    if (!this.isDependent(t)) return;
    const failed = this.set.dependents.map((d) => this.get(d)).find((c) => c?.status === 'False');
    if (failed) {
      // A failure outranks "still working": Ready keeps saying False, with the failure's reason.
      if (this.happy()?.status !== 'False') {
        this.set_({ type: this.set.happy, status: 'False', reason: failed.reason, message: failed.message });
      }
      return;
    }
    this.set_({ type: this.set.happy, status: 'Unknown', reason, message });
  }

  private isDependent(t: string): boolean {
    return this.set.dependents.includes(t);
  }

  /** The first False dependent, else the first Unknown (or missing) one. */
  private unhappyDependent(): Condition | undefined {
    const deps = this.set.dependents.map((t) => this.get(t) ?? { type: t, status: 'Unknown' as const });
    return deps.find((c) => c.status === 'False') ?? deps.find((c) => c.status !== 'True');
  }

  private severity(t: string): ConditionSeverity {
    return t === this.set.happy || this.isDependent(t) ? '' : 'Info';
  }

  private set_(input: Condition): void {
    const cond: Condition = { type: input.type, status: input.status };
    const severity = input.severity ?? this.severity(input.type);
    if (severity) cond.severity = severity;
    if (input.reason) cond.reason = input.reason;
    if (input.message) cond.message = input.message;
    const existing = this.get(cond.type);
    if (
      existing &&
      existing.status === cond.status &&
      (existing.severity ?? '') === (cond.severity ?? '') &&
      (existing.reason ?? '') === (cond.reason ?? '') &&
      (existing.message ?? '') === (cond.message ?? '')
    ) {
      return;
    }
    cond.lastTransitionTime = formatTime(this.now());
    const others = (this.status.conditions ?? []).filter((c) => c.type !== cond.type);
    // Sorted by type, as Knative does, so the order is stable for kubectl and for diffing.
    this.status.conditions = [...others, cond].sort((a, b) =>
      a.type < b.type ? -1 : a.type > b.type ? 1 : 0,
    );
  }
}
