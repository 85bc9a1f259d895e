// What a step of a later segment of a split pipeline checks before it runs
// (docs/design/split-pipelines.md). In one task ECS keeps a plain step from starting after a
// failure (its SUCCESS dependency failed); across a cut there is no such dependency, since
// the steps it came after ran in an earlier task. Their final records are in the record
// directory (the agent seeded them from the snapshot), so the step reads them: when a step
// of an earlier segment failed (a non-zero exit that is not Drone's 78, or `unknown`), it is
// skipped as Drone skips a step after a failure, leaving `<container>.skipped` and exiting 0.
// A plugin step has no wrapper: its gate container runs the same check (exit 1 blocks it).

import { EARLY_EXIT_CODE, STATE_DIR, STEP_RECORD_DIR, STEP_SKIPPED_SUFFIX } from './contract.js';
import { shellQuote } from './shell-quote.js';

const STEPS = STEP_RECORD_DIR.slice(STATE_DIR.length);

/** Shell lines: skip this step when one of `earlier` (step containers of earlier segments whose failure counts) failed. */
export function earlierFailureLines(earlier: readonly string[], container: string, name: string, skipCode: 0 | 1 = 0): string[] {
  if (earlier.length === 0) return [];
  const dir = `"$slipway_state${STEPS}`;
  return [
    `for slipway_c in ${earlier.map(shellQuote).join(' ')}; do`,
    `  [ -f ${dir}/$slipway_c/$slipway_c.exit" ] || continue`,
    `  slipway_v=; read -r slipway_v < ${dir}/$slipway_c/$slipway_c.exit" || true`,
    `  if [ -n "$slipway_v" ] && [ "$slipway_v" != 0 ] && [ "$slipway_v" != ${EARLY_EXIT_CODE} ]; then`,
    `    echo ${shellQuote(`slipway: skipping ${name}: `)}"$slipway_c"${shellQuote(' failed in an earlier segment of the pipeline')}`,
    `    mkdir -p ${dir}/${container}" 2>/dev/null; : > ${dir}/${container}/${container}${STEP_SKIPPED_SUFFIX}"`,
    `    exit ${skipCode}`,
    '  fi',
    'done',
  ];
}

/** The gate container of a plugin step in a later segment that runs only while the build passes. */
export function earlierFailureGateScript(earlier: readonly string[], stepContainer: string, stepName: string, first: readonly string[] = []): string {
  // `first`: lines that run before anything else (its step's `.up` marker, script.ts upMarkerLines).
  const lines = [`# slipway: gate of ${stepName} (a later segment)`, `slipway_state="\${SLIPWAY_STATE_DIR:-${STATE_DIR}}"`, ...first, ...earlierFailureLines(earlier, stepContainer, stepName, 1), 'exit 0'];
  return `${lines.join('\n')}\n`;
}
