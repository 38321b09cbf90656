// Fault injector for tests: a real TCP proxy on 127.0.0.1 that forwards to a target and cuts
// connections on demand, at random moments, after random byte counts in either direction, or
// silently stops forwarding (a black hole, to exercise keepalive). Test-only.
import { createServer, connect } from 'node:net';
import type { Server, Socket } from 'node:net';

/** Random faults. Every field optional; absent means that fault is off. */
export interface Chaos {
  /** Cut each connection after a random number of bytes, [min, max], counted per direction. */
  cutAfterBytes?: [number, number];
  /** Cut a random live connection every [min, max] milliseconds. */
  cutEveryMs?: [number, number];
  /** Stop random cuts after this many cuts in all, so a slow machine does not turn into an endless cutting loop. */
  maxCuts?: number;
}

interface Pair {
  down: Socket; // from the client
  up: Socket; // to the target
}

/** TCP proxy that injects faults between a client and a server on loopback. */
export class FaultInjector {
  private server: Server | null = null;
  private readonly pairs = new Set<Pair>();
  private chaos: Chaos = {};
  private timer: NodeJS.Timeout | undefined;
  private blackhole: 'both' | 'up' | 'down' | null = null;
  /** Connections cut so far. */
  cuts = 0;
  /** Connections accepted so far. */
  connections = 0;
  /** What happened, with Date.now() timestamps (bounded to the last 1000 entries), for debugging tests. */
  readonly events: Array<{ at: number; what: string }> = [];

  constructor(
    private readonly targetPort: number,
    private readonly targetHost = '127.0.0.1',
    private readonly random: () => number = Math.random,
  ) {}

  /** Listens on 127.0.0.1 (port 0 = any); resolves to the port. */
  start(port = 0): Promise<number> {
    this.server = createServer((down) => this.accept(down));
    return new Promise((resolve) => this.server!.listen(port, '127.0.0.1', () => resolve(this.port)));
  }

  get port(): number {
    const a = this.server?.address();
    return a && typeof a === 'object' ? a.port : 0;
  }

  /** Turns random faults on (or off with {}). */
  setChaos(chaos: Chaos): void {
    this.chaos = chaos;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (chaos.cutEveryMs) this.scheduleCut(chaos.cutEveryMs);
  }

  /**
   * Stops (true) or restarts (false) forwarding bytes without closing anything, so the peer looks dead or stops
   * reading. `direction` 'down' stops only server-to-client bytes, 'up' only client-to-server. Default both.
   */
  setBlackhole(on: boolean, direction: 'both' | 'up' | 'down' = 'both'): void {
    this.blackhole = on ? direction : null;
    for (const pair of this.pairs) this.applyBlackhole(pair);
  }

  private applyBlackhole({ down, up }: Pair): void {
    const b = this.blackhole;
    // Not reading a socket is what stops its bytes: TCP flow control then holds the sender.
    if (b === 'both' || b === 'up') down.pause();
    else down.resume();
    if (b === 'both' || b === 'down') up.pause();
    else up.resume();
  }

  /** Cuts every live connection now. */
  cutAll(): void {
    for (const pair of [...this.pairs]) this.cut(pair, this.random() < 0.5 ? 'down' : 'up');
  }

  /** Stops listening and cuts everything. */
  async close(): Promise<void> {
    this.setChaos({});
    this.cutAll();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  private between([min, max]: [number, number]): number {
    return min + Math.floor(this.random() * (max - min + 1));
  }

  private scheduleCut(range: [number, number]): void {
    this.timer = setTimeout(() => {
      const live = [...this.pairs];
      const victim = live[Math.floor(this.random() * live.length)];
      if (victim && this.cuts < (this.chaos.maxCuts ?? Infinity)) {
        this.cut(victim, this.random() < 0.5 ? 'down' : 'up', 'timed cut');
      }
      if (this.chaos.cutEveryMs) this.scheduleCut(this.chaos.cutEveryMs);
    }, this.between(range));
    this.timer.unref();
  }

  private note(what: string): void {
    this.events.push({ at: Date.now(), what });
    if (this.events.length > 1000) this.events.shift();
  }

  private cut(pair: Pair, first: 'down' | 'up', why = 'cut'): void {
    if (!this.pairs.delete(pair)) return;
    this.cuts++;
    this.note(`${why} ${pair.down.remotePort ?? '?'} (${first} first)`);
    // Reset (not a graceful FIN) the side chosen first, then close the other: a crash seen from either end.
    const [a, b] = first === 'down' ? [pair.down, pair.up] : [pair.up, pair.down];
    a.resetAndDestroy();
    b.destroy();
  }

  private accept(down: Socket): void {
    this.connections++;
    this.note(`accept ${down.remotePort ?? '?'}`);
    const up = connect(this.targetPort, this.targetHost);
    const pair: Pair = { down, up };
    this.pairs.add(pair);
    const limit = (): number =>
      this.chaos.cutAfterBytes ? this.between(this.chaos.cutAfterBytes) : Infinity;
    const forward = (from: Socket, to: Socket, direction: 'up' | 'down'): void => {
      let budget = limit();
      from.on('data', (chunk: Buffer) => {
        if (!this.pairs.has(pair)) return;
        budget -= chunk.length;
        if (budget <= 0 && this.cuts < (this.chaos.maxCuts ?? Infinity)) {
          // Let part of the chunk through so the cut lands mid-record, then kill the connection.
          to.write(chunk.subarray(0, Math.max(0, chunk.length + budget)));
          this.cut(pair, direction, `cut after bytes ${direction}`);
          return;
        }
        to.write(chunk);
      });
    };
    forward(down, up, 'up');
    forward(up, down, 'down');
    this.applyBlackhole(pair);
    const end = (): void => {
      if (this.pairs.delete(pair)) {
        this.note(`closed by an end ${down.remotePort ?? '?'}`);
        down.destroy();
        up.destroy();
      }
    };
    for (const s of [down, up]) {
      s.on('error', end);
      s.on('close', end);
    }
  }
}
