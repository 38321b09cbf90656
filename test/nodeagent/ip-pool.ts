// Pod IPs from a loopback range: every address of 127.0.0.0/8 reaches this machine's `lo`, so a
// process can bind its pod IP and the operator dials it exactly as it would dial a real pod.

/** Hands out addresses 127.<second>.x.y, never reusing one still held. */
export class LoopbackIpPool {
  private readonly held = new Set<string>();
  private readonly second: number;
  private next = 2;

  /** @param second the second octet of the range (default 42: 127.42.0.0/16). */
  constructor(second = 42) {
    this.second = second;
    if (second < 1 || second > 254) throw new Error('second octet must be 1..254 (127.0.x.x is the host)');
  }

  /** A free address of the range. */
  allocate(): string {
    for (let tries = 0; tries < 65_000; tries++) {
      const n = this.next;
      this.next = this.next >= 65_000 ? 2 : this.next + 1;
      const ip = `127.${this.second}.${n >> 8}.${n & 0xff}`;
      if ((n & 0xff) === 0 || (n & 0xff) === 255 || this.held.has(ip)) continue;
      this.held.add(ip);
      return ip;
    }
    throw new Error('loopback pod IP range exhausted');
  }

  /** Returns an address to the pool. */
  release(ip: string): void {
    this.held.delete(ip);
  }
}

/** True for addresses in 127.0.0.0/8: the only ones tests may dial. */
export function isLoopback(ip: string): boolean {
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(ip) || ip === '::1';
}
