// Progress of a local build in the terminal: one line when a step starts and one when it
// ends (with its duration), then the summary table of stages and steps.

import type { BuildDetail } from '../core/builds/types.js';
import { duration } from './format.js';

const MARK: Record<string, string> = { success: '✓', failure: '✗', error: '✗', killed: '■', skipped: '-', running: '…' };

/** A callback for LocalSlipway.waitForBuild that prints what changed since its last call. */
export function progressPrinter(out: (line: string) => void): (build: BuildDetail) => void {
  const seen = new Map<string, string>();
  return (build) => {
    const now = Date.now();
    for (const stage of build.stages) {
      const prefix = build.stages.length > 1 ? `${stage.name}/` : '';
      for (const step of stage.steps) {
        const key = `${stage.number}.${step.number}`;
        const before = seen.get(key);
        if (before === step.status) continue;
        seen.set(key, step.status);
        if (step.status === 'pending') continue;
        const kind = step.kind === 'service' ? ' (service)' : '';
        if (step.status === 'running') out(`  … ${prefix}${step.name}${kind} running`);
        else out(`  ${MARK[step.status] ?? '?'} ${prefix}${step.name}${kind} ${step.status}${step.startedAt !== undefined ? ` in ${duration(step.startedAt, step.finishedAt, now)}` : ''}${step.reason && step.status !== 'success' ? ` — ${step.reason}` : ''}`);
      }
    }
  };
}
