// How every benchmark process ends: exit 0 when its main resolves, print the error and exit 1
// when it throws (open sockets and timers must not keep a finished benchmark alive).

/** Runs a benchmark's `main` and exits with its outcome. */
export function runBench(main: () => Promise<void>): void {
  main().then(
    () => process.exit(0),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}
