// Connection pools and parsed sink URLs shared by the sources of a pool pod, counted by
// reference. A dedicated adapter's sender owns one undici Agent (about 1.2 KB before its first
// connection, then a keep-alive socket of its own); a pool of 10,000 sources would hold 10,000 of
// them, each with idle sockets to what is mostly the same few sinks. Here there is one Agent per
// distinct CA set (the CA set is the only connection option a source chooses) and one URL per
// distinct (sink, CA set).
//
// Isolation is unchanged: an undici Agent keeps one pool per origin with no connection limit and
// no pipelining, so a request that hangs holds its own socket and never queues another source's
// request behind it. What bounds a source is its heartbeat's in-flight limit, as before.
import { Agent } from 'undici';

/** A sink as the sources using it share it; hand it back with {@link SharedSinks.release}. */
export interface SharedSink {
  readonly uri: string;
  /** The CA set the connections trust ('' for Node's default roots). */
  readonly caCerts: string;
  readonly url: URL;
  readonly dispatcher: Agent;
}

interface SinkEntry extends SharedSink {
  key: string;
  users: number;
}

interface AgentEntry {
  agent: Agent;
  users: number;
}

/** The shared sinks of one pod. */
export class SharedSinks {
  private readonly sinks = new Map<string, SinkEntry>();
  private readonly agents = new Map<string, AgentEntry>();

  /** Distinct connection pools (CA sets) in use. */
  get agentCount(): number {
    return this.agents.size;
  }

  /** Distinct (sink, CA set) pairs in use. */
  get sinkCount(): number {
    return this.sinks.size;
  }

  /** The shared sink for `uri` trusting `caCerts` (default roots when absent); one more user. */
  acquire(uri: string, caCerts: string | undefined): SharedSink {
    const ca = caCerts ?? '';
    const key = `${ca}\n${uri}`;
    let sink = this.sinks.get(key);
    if (!sink) {
      let agent = this.agents.get(ca);
      if (!agent) {
        agent = { agent: new Agent(ca ? { connect: { ca } } : {}), users: 0 };
        this.agents.set(ca, agent);
      }
      agent.users++;
      // The map's key and the entry's strings are the only copies kept: each source's own copy of
      // a CA bundle (parsed from its assignment) is let go.
      sink = { key, uri, caCerts: ca, url: new URL(uri), dispatcher: agent.agent, users: 0 };
      this.sinks.set(key, sink);
    }
    sink.users++;
    return sink;
  }

  /** One user fewer; the last user of a CA set closes its connections. */
  async release(shared: SharedSink): Promise<void> {
    const sink = shared as SinkEntry;
    if (this.sinks.get(sink.key) !== sink || --sink.users > 0) return;
    this.sinks.delete(sink.key);
    const agent = this.agents.get(sink.caCerts);
    if (!agent || --agent.users > 0) return;
    this.agents.delete(sink.caCerts);
    await agent.agent.close();
  }

  /** Closes every connection pool (pod shutdown, after every source stopped). */
  async close(): Promise<void> {
    const agents = [...this.agents.values()];
    this.agents.clear();
    this.sinks.clear();
    await Promise.all(agents.map((a) => a.agent.close()));
  }
}
