// Where a dedicated adapter's heartbeats go, moved live: the environment gives the first sink
// (K_SINK, K_CA_CERTS, K_AUDIENCE); an applied ApplyState carrying another one moves the sender
// (URL and trusted CAs) and the token holder (audience) to it, without a restart.
import type { Logger } from 'pino';
import { sameSink, type AdapterSink } from '../contract/adapter-sink.js';
import type { AdapterConfig } from './config.js';
import type { SinkSender, SinkTls } from './sender.js';
import type { SinkTokenHolder } from './sink-token.js';

/** The sink the environment configured. */
export function sinkOfConfig(
  config: Pick<AdapterConfig, 'sink' | 'sinkCaCerts' | 'sinkAudience'>,
): AdapterSink {
  return {
    uri: config.sink.href,
    ...(config.sinkCaCerts ? { caCerts: config.sinkCaCerts } : {}),
    ...(config.sinkAudience ? { audience: config.sinkAudience } : {}),
  };
}

/** How the sender trusts and authenticates to `sink`. */
export function sinkTls(sink: AdapterSink, token: SinkTokenHolder): SinkTls {
  return {
    ...(sink.caCerts ? { caCerts: sink.caCerts } : {}),
    authorize: () => token.authorization(),
  };
}

/** Keeps the sender and the token holder on the sink in force. */
export class SinkTarget {
  constructor(
    private inForce: AdapterSink,
    private readonly sender: Pick<SinkSender, 'setTarget'>,
    private readonly token: SinkTokenHolder,
    private readonly logger: Logger,
  ) {}

  /** The sink requests go to now. */
  get sink(): AdapterSink {
    return this.inForce;
  }

  /** Moves to `next` if it differs from the sink in force (undefined: stays). Returns whether it moved. */
  follow(next: AdapterSink | undefined): boolean {
    if (next === undefined || sameSink(next, this.inForce)) return false;
    const before = this.inForce;
    this.inForce = next;
    // A token for the previous audience is dropped: it was never meant for this sink.
    const audienceChanged = this.token.setAudience(next.audience);
    this.sender.setTarget(new URL(next.uri), sinkTls(next, this.token));
    this.logger.info(
      {
        sink: next.uri,
        previousSink: before.uri,
        sinkCaCerts: next.caCerts ? 'given' : 'default roots',
        caCertsChanged: next.caCerts !== before.caCerts,
        sinkAudience: next.audience ?? null,
      },
      `sink moved to ${next.uri}${next.caCerts !== before.caCerts ? ' (new CA certificates)' : ''}${audienceChanged ? `; audience ${next.audience ?? 'none'}${next.audience ? ', waiting for its token' : ''}` : ''}`,
    );
    return true;
  }
}
