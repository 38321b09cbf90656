// A lean real HTTP sink for benchmarks with thousands of sources: it answers every request 202
// and keeps, per source, only what the pool benchmarks read (who sent the last heartbeat, when,
// with which sequence), instead of DevSink's full record of every request. The CloudEvent is read
// in HTTP binary mode as the adapters send it: `ce-source` header, JSON data in the body.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { z } from 'zod';

/** One heartbeat as the sink saw it. */
export interface Beat {
  source: string;
  podName: string;
  sequence: number;
  intervalMs: number;
  /** performance.now() at arrival. */
  at: number;
}

/** Per source: the last heartbeat and how often its sequence failed to increase. */
export interface SourceBeats {
  last: Beat;
  count: number;
  /** Heartbeats whose sequence was not above the previous one's (a repeat, a redelivery, two emitters or a reorder). */
  nonIncreasing: number;
}

/** A heartbeat whose sequence was not above its source's previous one, with that previous one. */
export interface SequenceAnomaly {
  previous: Beat;
  beat: Beat;
}

// Only the fields read here; the adapter's HeartbeatData has more.
const DataSchema = z.object({
  sequence: z.number().int(),
  intervalMs: z.number(),
  podName: z.string(),
});

/** A plain HTTP CloudEvents sink on 127.0.0.1 that tracks heartbeats per source. */
export class HeartbeatSink {
  readonly bySource = new Map<string, SourceBeats>();
  /** Requests that were not a heartbeat (no ce-source or a body that did not parse). */
  invalid = 0;
  total = 0;
  /** The first sequence anomalies (at most {@link HeartbeatSink.MAX_ANOMALIES}), for the report. */
  readonly anomalies: SequenceAnomaly[] = [];
  static readonly MAX_ANOMALIES = 200;
  /** Called for every heartbeat after it is recorded. */
  onBeat?: (beat: Beat) => void;
  private readonly server: Server;

  constructor() {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const at = performance.now();
        res.writeHead(202).end();
        const source = req.headers['ce-source'];
        let data: z.infer<typeof DataSchema> | undefined;
        try {
          const parsed = DataSchema.safeParse(JSON.parse(Buffer.concat(chunks).toString('utf8')));
          if (parsed.success) data = parsed.data;
        } catch {
          /* counted below */
        }
        if (typeof source !== 'string' || !data) {
          this.invalid++;
          return;
        }
        this.record({ source: decodeURIComponent(source), ...data, at });
      });
    });
    this.server.keepAliveTimeout = 65_000;
  }

  private record(beat: Beat): void {
    this.total++;
    const prev = this.bySource.get(beat.source);
    if (prev) {
      if (beat.sequence <= prev.last.sequence) {
        prev.nonIncreasing++;
        if (this.anomalies.length < HeartbeatSink.MAX_ANOMALIES)
          this.anomalies.push({ previous: prev.last, beat });
      }
      prev.last = beat;
      prev.count++;
    } else this.bySource.set(beat.source, { last: beat, count: 1, nonIncreasing: 0 });
    this.onBeat?.(beat);
  }

  /** Listens on 127.0.0.1; resolves with the sink URL. */
  start(): Promise<URL> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(0, '127.0.0.1', () => {
        const { port } = this.server.address() as AddressInfo;
        resolve(new URL(`http://127.0.0.1:${port}/`));
      });
    });
  }

  /** Stops listening and cuts every connection. */
  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }
}
