// Why the agent stops early: the pipeline timeout or a termination signal (Spot
// interruption, StopTask, a timeout enforced from outside). The first reason wins; every
// wait in the agent listens to the one AbortSignal so the agent ends within seconds.

export type StopReason = { kind: 'timed-out' } | { kind: 'interrupted'; signal: NodeJS.Signals };

export class StopSwitch {
  private readonly controller = new AbortController();
  private stopReason: StopReason | undefined;

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  get reason(): StopReason | undefined {
    return this.stopReason;
  }

  /** Returns false when the agent was already stopping. */
  stop(reason: StopReason): boolean {
    if (this.stopReason !== undefined) return false;
    this.stopReason = reason;
    this.controller.abort();
    return true;
  }
}

export interface TerminationOptions {
  stop: StopSwitch;
  log: (message: string) => void;
  /** Called when the orderly end takes longer than graceMs, or on a second signal. */
  forceExit: (signal: NodeJS.Signals) => void;
  /** Well under ECS's stopTimeout (30 s by default). */
  graceMs: number;
}

/** Installs SIGTERM/SIGINT handlers; returns a function that removes them. */
export function handleTermination(options: TerminationOptions): () => void {
  let timer: NodeJS.Timeout | undefined;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (!options.stop.stop({ kind: 'interrupted', signal })) {
      // A second signal (or one after the timeout): the orderly end is not fast enough.
      options.forceExit(signal);
      return;
    }
    options.log(`received ${signal}: stopping (the task is being stopped)`);
    timer = setTimeout(() => options.forceExit(signal), options.graceMs);
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  return () => {
    if (timer !== undefined) clearTimeout(timer);
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
  };
}
