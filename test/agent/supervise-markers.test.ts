// The supervision loop (task-runner/supervise.ts) follows the `.started` markers of the steps
// that wait in their wrappers: it says when their commands started (the line the API reads while
// the stage runs, core/builds/step-starts.ts), and a stop reads the records once more, so a step
// whose commands started since the last round is reported with its start, not as still waiting.

import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { commandEndsFromAgentLog } from '../../core/builds/step-ends.js';
import { commandStartsFromAgentLog } from '../../core/builds/step-starts.js';
import type { AgentStepPlan } from '../../core/pipeline/contract.js';
import { Reporter } from '../../task-runner/report.js';
import { supervise } from '../../task-runner/supervise.js';
import { waitFor } from '../support/wait.js';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

const build: AgentStepPlan = { container: 'build', steps: ['build'], detach: false, failure: 'always', dependsOn: [], dependsOnConditions: {}, afterSetup: true };

function marker(stepsDir: string, container: string): void {
  mkdirSync(join(stepsDir, container), { recursive: true });
  writeFileSync(join(stepsDir, container, `${container}.started`), '');
}

describe('supervise: steps that wait in their wrapper', () => {
  it('a step whose marker appears while the loop sleeps is running with the marker\'s time when a stop ends the supervision', async () => {
    const stepsDir = mkdtempSync(join(tmpdir(), 'slipway-markers-'));
    dirs.push(stepsDir);
    const lines: string[] = [];
    const stop = new AbortController();
    let rounds = 0;
    // A poll far longer than the test: only the stop ends the sleep.
    const supervision = supervise({ steps: [build], metadataUri: undefined, stepsDir, pollMs: 600_000, signal: stop.signal, reporter: new Reporter((l) => lines.push(l)), onStates: async () => void rounds++ });
    await waitFor('the first round', async () => (rounds > 0 ? true : undefined));
    marker(stepsDir, 'build');
    stop.abort();
    const result = await supervision;
    expect(result.done).toBe(false);
    expect(result.states['build']).toMatchObject({ phase: 'running' });
    expect((result.states['build'] as { startedAt?: string }).startedAt).toMatch(/^\d{4}-\d\d-\d\dT/);
  });

  it("says when a step's commands started, with the marker's time, in the line the control plane reads", async () => {
    const stepsDir = mkdtempSync(join(tmpdir(), 'slipway-markers-'));
    dirs.push(stepsDir);
    marker(stepsDir, 'build');
    const lines: string[] = [];
    const stop = new AbortController();
    const supervision = supervise({ steps: [build], metadataUri: undefined, stepsDir, pollMs: 600_000, signal: stop.signal, reporter: new Reporter((l) => lines.push(l)), onStates: async () => stop.abort() });
    const result = await supervision;
    const startedAt = (result.states['build'] as { startedAt?: string }).startedAt!;
    expect(lines).toContain(`slipway-agent: step build started at ${startedAt}`);
    expect(commandStartsFromAgentLog(lines.map((text) => ({ time: 0, text }))).get('build')).toBe(Date.parse(startedAt));
  });

  it('a step whose commands started and ended within one poll says its start before its exit (the line the control plane reads while the stage runs)', async () => {
    const stepsDir = mkdtempSync(join(tmpdir(), 'slipway-markers-'));
    dirs.push(stepsDir);
    const lines: string[] = [];
    let rounds = 0;
    // Between the first round and the next: its wait ends, its commands run and exit; the next round ends the supervision.
    const between = async () => {
      if (++rounds > 1) return;
      marker(stepsDir, 'build');
      writeFileSync(join(stepsDir, 'build', 'build.exit'), '0');
    };
    const result = await supervise({ steps: [build], metadataUri: undefined, stepsDir, pollMs: 1, signal: new AbortController().signal, reporter: new Reporter((l) => lines.push(l)), onStates: between });
    expect(rounds).toBe(2);
    expect(result.states['build']).toMatchObject({ phase: 'exited', exitCode: 0 });
    const startedAt = (result.states['build'] as { startedAt?: string }).startedAt!;
    expect(lines.indexOf(`slipway-agent: step build started at ${startedAt}`)).toBeGreaterThanOrEqual(0);
    expect(lines.indexOf(`slipway-agent: step build started at ${startedAt}`)).toBeLessThan(lines.findIndex((l) => l.includes('step build exited with code 0')));
    expect(commandStartsFromAgentLog(lines.map((text) => ({ time: 0, text }))).get('build')).toBe(Date.parse(startedAt));
    // Its exit line names its exit record's time, its commands' end (AgentResult.ended says it again).
    const finishedAt = (result.states['build'] as { finishedAt?: string }).finishedAt!;
    expect(finishedAt).toBe(statSync(join(stepsDir, 'build', 'build.exit')).mtime.toISOString());
    expect(lines).toContain(`slipway-agent: step build exited with code 0 at ${finishedAt}`);
    expect(commandEndsFromAgentLog(lines.map((text) => ({ time: 0, text }))).get('build')).toEqual({ exitCode: 0, at: Date.parse(finishedAt) });
  });
});
