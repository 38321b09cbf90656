// Cluster DNS stand-in for processes run by the node agent (loaded with `node --import`): names of
// Services (`svc`, `svc.ns`, `svc.ns.svc`, `svc.ns.svc.cluster.local`) resolve to the loopback
// address where the agent's service proxy listens. Every other name goes to the real resolver.
import dns from 'node:dns';
import { readFileSync } from 'node:fs';

const hostsFile = process.env.NODEAGENT_HOSTS_FILE;
const namespace = process.env.NODEAGENT_POD_NAMESPACE ?? 'default';

function clusterAddress(hostname) {
  if (!hostsFile || typeof hostname !== 'string') return undefined;
  let hosts;
  try {
    hosts = JSON.parse(readFileSync(hostsFile, 'utf8'));
  } catch {
    return undefined;
  }
  const name = hostname.replace(/\.$/, '');
  const dots = name.split('.').length - 1;
  // The pod's search path, as resolv.conf would have it: <ns>.svc.cluster.local, svc.cluster.local, cluster.local.
  const candidates = [name];
  if (dots === 0) candidates.push(`${name}.${namespace}.svc.cluster.local`);
  if (dots === 1) candidates.push(`${name}.svc.cluster.local`);
  if (dots === 2 && name.endsWith('.svc')) candidates.push(`${name}.cluster.local`);
  for (const c of candidates) if (hosts[c]) return hosts[c];
  return undefined;
}

const realLookup = dns.lookup;
dns.lookup = function lookup(hostname, options, callback) {
  const cb = typeof options === 'function' ? options : callback;
  const opts = typeof options === 'object' && options !== null ? options : {};
  const address = clusterAddress(hostname);
  if (!address) return realLookup.call(dns, hostname, options, callback);
  process.nextTick(() => (opts.all ? cb(null, [{ address, family: 4 }]) : cb(null, address, 4)));
  return {};
};
const realPromiseLookup = dns.promises.lookup;
dns.promises.lookup = async function lookup(hostname, options = {}) {
  const address = clusterAddress(hostname);
  if (!address) return realPromiseLookup.call(dns.promises, hostname, options);
  return options.all ? [{ address, family: 4 }] : { address, family: 4 };
};
