// A real HTTP sink (DevSink) started before each test of a describe block and closed after it,
// shared by the sender and heartbeat tests. For jest test files only (it registers hooks).
import { afterEach, beforeEach } from '@jest/globals';
import { DevSink } from './dev-sink.js';

/** Registers the hooks; `use` receives each test's fresh sink and its URL before the test runs. */
export function sinkPerTest(use: (sink: DevSink, url: URL) => void): void {
  let sink: DevSink | undefined;
  beforeEach(async () => {
    sink = new DevSink();
    use(sink, await sink.start());
  });
  afterEach(() => sink?.close());
}
