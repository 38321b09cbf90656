import { mkdtemp, writeFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { criText, followLogs } from './log-follower.js';

describe('log follower', () => {
  it('reads the text of CRI log lines and leaves other lines alone', () => {
    expect(criText('2026-12-02T17:00:00.123456789Z stdout F {"msg":"hi"}')).toBe('{"msg":"hi"}');
    expect(criText('2026-12-02T17:00:00.123456789Z stderr P partial')).toBe('partial');
    expect(criText('plain line')).toBe('plain line');
  });

  it("follows kubelet's container log links as namespace/pod container", async () => {
    const dir = await mkdtemp(join(tmpdir(), 'follower-'));
    const id = 'a'.repeat(64);
    await writeFile(
      join(dir, `event-display-5c8f746b9d-6tpsn_demo_event-display-${id}.log`),
      '2026-12-02T17:00:00.1Z stdout F ☁️  cloudevents.Event\n',
    );
    const lines: string[] = [];
    const stop = followLogs({ dir, kubelet: true, write: (t) => lines.push(t), pollMs: 20 });
    for (let i = 0; i < 100 && lines.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
    stop();
    await rm(dir, { recursive: true, force: true });
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain('demo/event-display-5c8f746b9d…-6tpsn event-display');
    expect(lines[0]).toContain('☁️  cloudevents.Event');
  });
});
