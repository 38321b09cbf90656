// The pool's command handlers: snapshot pages, upserts and releases, each acked at once by the
// control library (a payload failing its schema is rejected with InvalidArgument, changing
// nothing) and answered with an async result once the pool has applied it.
import type { Logger } from 'pino';
import {
  AssignReleasePayloadSchema,
  AssignSnapshotPayloadSchema,
  AssignUpsertPayloadSchema,
  OP_POOL_RELEASE,
  OP_POOL_REPORT_SEQUENCES,
  OP_POOL_SNAPSHOT,
  OP_POOL_UPSERT,
  ReportSequencesPayloadSchema,
} from '../../contract/pool.js';
import type { AsyncCommandContext, AsyncCommandRegistry } from '../commands.js';
import type { PoolOutcome, SourcePool } from './source-pool.js';

function report<T>(ctx: AsyncCommandContext, outcome: PoolOutcome<T>, logger: Logger, what: string): void {
  if (outcome.ok) {
    ctx.notifySuccess(outcome.detail);
    return;
  }
  logger.warn({ reason: outcome.reason }, `${what} not applied: ${outcome.message}`);
  ctx.notifyFailure(outcome.reason, outcome.message);
}

/** Registers AssignSnapshot, AssignUpsert, AssignRelease and ReportSequences on the pod's control server. */
export function registerPoolCommands(server: AsyncCommandRegistry, pool: SourcePool, logger: Logger): void {
  server.handleAsync(OP_POOL_SNAPSHOT, AssignSnapshotPayloadSchema, async (p, ctx) => {
    const outcome = await pool.snapshotPage(p.version, p.page, p.last, p.sources);
    if (outcome.ok && 'running' in outcome.detail) {
      const d = outcome.detail;
      logger.info(
        d,
        `assignments converged to version ${d.version}: ${d.running} running (${d.started} started, ${d.changed} changed, ${d.stopped} stopped, ${d.rejected} rejected)`,
      );
    }
    report(ctx, outcome, logger, `snapshot version ${p.version} page ${p.page}`);
  });
  server.handleAsync(OP_POOL_UPSERT, AssignUpsertPayloadSchema, async (p, ctx) => {
    const outcome = await pool.upsert(p.version, p.source);
    if (outcome.ok)
      logger.info(
        { source: p.source.key, generation: p.source.generation, version: p.version },
        `source ${p.source.key} assigned (generation ${p.source.generation}): ${p.source.paused ? 'paused' : `every ${p.source.interval}`}`,
      );
    report(ctx, outcome, logger, `upsert of ${p.source.key}`);
  });
  server.handleAsync(OP_POOL_RELEASE, AssignReleasePayloadSchema, async (p, ctx) => {
    const outcome = await pool.release(p.version, p.key);
    if (outcome.ok)
      logger.info(
        { source: p.key, lastSequence: outcome.detail.lastSequence, version: p.version },
        `source ${p.key} released after sequence ${outcome.detail.lastSequence}`,
      );
    report(ctx, outcome, logger, `release of ${p.key}`);
  });
  server.handleAsync(OP_POOL_REPORT_SEQUENCES, ReportSequencesPayloadSchema, async (p, ctx) => {
    const outcome = await pool.reportSequences(p.version, p.page);
    if (outcome.ok)
      logger.info(
        {
          version: p.version,
          page: p.page,
          pages: outcome.detail.pages,
          sources: outcome.detail.sources.length,
        },
        `a new operator term: sources stopped; reported page ${p.page + 1} of ${outcome.detail.pages} of the sequences known`,
      );
    report(ctx, outcome, logger, `sequence report page ${p.page}`);
  });
}
