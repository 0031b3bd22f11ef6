export interface SignalWait {
  /** Resolves with the first SIGINT or SIGTERM. */
  readonly received: Promise<NodeJS.Signals>;
  dispose(): void;
}

/** Catches SIGINT and SIGTERM, so Ctrl-C is an orderly stop rather than a kill. */
export function untilSignal(): SignalWait {
  let onSignal: (signal: NodeJS.Signals) => void = () => {};
  const received = new Promise<NodeJS.Signals>((res) => (onSignal = res));
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return {
    received,
    dispose: () => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    },
  };
}
