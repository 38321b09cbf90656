// Async command pattern, data-plane side: the command is acked at once, the work runs afterwards
// (in order, one at a time per session), and its result travels back as a reliable message.
import type { Logger } from 'pino';
import { errorMessage } from './errors.js';

/** What a result carries back to the control plane. */
export interface AsyncOutcome {
  succeeded: boolean;
  /** Machine-readable reason of a failure (e.g. 'Superseded', 'HandlerError'); '' on success. */
  reason: string;
  message: string;
  /** Optional JSON detail (e.g. the applied state). */
  detail?: unknown;
}

/** Handed to an async handler next to its parsed payload. */
export interface AsyncResultNotifier {
  /** Reports success; `detail` (JSON) travels with the result. */
  notifySuccess(detail?: unknown): void;
  /** Reports failure: `notifyFailure('Superseded', 'generation 3 < 4')`, or `notifyFailure(err)` (reason 'HandlerError'). */
  notifyFailure(reasonOrError: unknown, message?: string): void;
}

/**
 * Runs async work one item at a time per session and limits how many items (queued, running, or with an unacked
 * result) exist at once; beyond that, admitting new work waits, which delays the command's ack and so pushes back
 * on the sender. Default limit 1024.
 */
export class AsyncWorkQueue {
  private chain: Promise<void> = Promise.resolve();
  private outstanding = 0;
  private readonly roomWaiters: Array<() => void> = [];

  constructor(readonly limit = 1024) {}

  get size(): number {
    return this.outstanding;
  }

  /** Null when there is room now, else a promise resolving when there is. */
  room(): null | Promise<void> {
    if (this.outstanding < this.limit) return null;
    return new Promise<void>((resolve) => this.roomWaiters.push(resolve));
  }

  /**
   * Queues `work`. It gets a notifier whose first call produces the outcome; `deliver` sends that outcome and
   * resolves once it is acked (or will never be), which frees the slot.
   */
  enqueue(
    work: (notifier: AsyncResultNotifier) => Promise<void> | void,
    deliver: (outcome: AsyncOutcome) => Promise<void>,
    logger: Logger,
  ): void {
    this.outstanding++;
    let delivered: Promise<void> | undefined;
    const settle = (outcome: AsyncOutcome): void => {
      if (delivered) {
        logger.warn({ outcome }, 'async command result already reported; extra report ignored');
        return;
      }
      delivered = deliver(outcome).catch((err: unknown) => {
        logger.warn({ err: errorMessage(err) }, 'async command result not delivered');
      });
      void delivered.finally(() => this.release());
    };
    const notifier: AsyncResultNotifier = {
      notifySuccess: (detail?: unknown) => settle({ succeeded: true, reason: '', message: '', detail }),
      notifyFailure: (reasonOrError: unknown, message?: string) => {
        if (typeof reasonOrError === 'string')
          settle({ succeeded: false, reason: reasonOrError, message: message ?? '' });
        else
          settle({
            succeeded: false,
            reason: 'HandlerError',
            message: message ?? errorMessage(reasonOrError),
          });
      },
    };
    this.chain = this.chain.then(async () => {
      try {
        await work(notifier);
        // Returning without reporting counts as success, so a forgetful handler never leaves a resource "processing".
        if (!delivered) notifier.notifySuccess();
      } catch (err) {
        if (!delivered) notifier.notifyFailure(err);
        else logger.warn({ err: errorMessage(err) }, 'async handler threw after reporting its result');
      }
    });
  }

  private release(): void {
    this.outstanding--;
    this.roomWaiters.shift()?.();
  }
}
