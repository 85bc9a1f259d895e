// A deterministic CPU budget for reading and planning one pipeline file.
//
// A `.drone.yml` is written by whoever can push to a repository; the planner reads it on
// a queue shared by every repository. Each pass that can grow faster than the file
// (YAML nodes, lint's cross-checks, glob matching in `when:` / `trigger:`) spends work
// units on the active meter, and a file that needs more than its budget ends as an
// error build saying so, instead of holding the planner (and the builds queued behind
// it) or timing the message out into retries and the dead-letter queue.
//
// Units are counted, not timed, so a file is over budget on every machine or on none,
// and tests can assert on counts. One unit is roughly one step of an inner loop
// (tens of nanoseconds); bench/hostile-pipeline.bench.ts prints the figures.
//
// The meter is ambient for the duration of one synchronous call (`metered`), so the
// pure functions keep their signatures; without an active meter nothing is counted.

/** Work units one planner message may spend on its pipeline file. */
export const DEFAULT_WORK_LIMIT = 20_000_000;

export class WorkLimitExceeded extends Error {
  override readonly name = 'WorkLimitExceeded';
  constructor(
    readonly phase: string,
    readonly limit: number,
  ) {
    super(
      `the pipeline file needs more than ${limit} units of work to ${phase} (the limit keeps one repository's file from delaying other builds); ` +
        'simplify it: fewer or shorter glob patterns in when:/trigger:, fewer {…} alternatives, fewer steps',
    );
  }
}

export class WorkMeter {
  used = 0;
  constructor(readonly limit: number = DEFAULT_WORK_LIMIT) {}

  spend(units: number, phase: string): void {
    this.used += units;
    if (this.used > this.limit) throw new WorkLimitExceeded(phase, this.limit);
  }
}

let active: WorkMeter | undefined;

/**
 * Runs `fn` with `meter` counting the work of every metered pass inside it. `fn` must be
 * synchronous: the meter is unset when it returns.
 */
export function metered<T>(meter: WorkMeter, fn: () => T): T {
  const previous = active;
  active = meter;
  try {
    const result = fn();
    if (result instanceof Promise) throw new TypeError('metered: the function must be synchronous');
    return result;
  } finally {
    active = previous;
  }
}

/** Counts `units` of work in `phase` on the active meter, if any; throws WorkLimitExceeded past its limit. */
export function spend(units: number, phase: string): void {
  if (active) active.spend(units, phase);
}

/** The active meter, if any (loadManifest starts one when none is). */
export function activeMeter(): WorkMeter | undefined {
  return active;
}
