// Addresses and names of the adapters an adapter host serves. A module of their own because
// importing adapter-host.ts makes a forked process an adapter host (it listens for its config).

/** Address of adapter i. */
export function hostAddress(octet: number, i: number): string {
  const n = i + 2;
  return `127.${octet}.${(n >> 8) & 0xff}.${n & 0xff}`;
}

/** The identity adapter i proves. */
export const adapterName = (i: number): string => `src-${i}`;
export const BENCH_NAMESPACE = 'bench';
