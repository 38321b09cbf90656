// A run that dies without cleaning up: prepares a node, starts a process in its namespaces, prints
// the slot and that pid, then waits to be SIGKILLed (node.cluster.test.ts checks the next start).
import { prepareNode } from '../node.js';

const node = await prepareNode();
const sleeper = node.spawn('sleeper', 'sleep', ['600']);
console.log(JSON.stringify({ slot: node.network.slot, pid: sleeper.pid, stateDir: node.stateDir }));
setInterval(() => undefined, 1_000);
