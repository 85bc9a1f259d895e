// The clone step's record spans the agent's start, the clone, the wait for services and the
// health check that lets the steps start (a clone of 0.27 s was shown as 16 s). The CLI
// splits that span at the agent's own log lines and shows the clone's time as the clone's.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { agentPhases, describePhases, firstStepStart, phaseDuration } from '../../cli/agent-phases.js';
import { formatBuild } from '../../cli/commands/build.js';
import type { CliIO } from '../../cli/io.js';
import { main } from '../../cli/main.js';
import { progressPrinter } from '../../cli/progress.js';
import type { BuildDetail, StepRecord } from '../../core/builds/types.js';

// The agent's lines of a local run (task-runner/agent.ts, clone.ts), at the times they were written.
const T = 1_796_191_155_000;
const AGENT_LOG = [
  { time: T + 2100, text: 'slipway-agent: pipeline "test" (stage demo/app#1/1): 1 step containers, 1 services, timeout 60 minutes' },
  { time: T + 2110, text: 'slipway-agent: clone: file:///tmp/slipway-app-x refs/heads/main at 7ebcc46808659b106649f41ee818b828411f1698 into /drone/src' },
  { time: T + 2380, text: 'slipway-agent: clone: checked out 7ebcc46808659b106649f41ee818b828411f1698' },
  { time: T + 2390, text: 'slipway-agent: build environment written to /slipway/agent/env' },
  { time: T + 3400, text: 'slipway-agent: ready: the first steps may start' },
  { time: T + 15_400, text: 'SLIPWAY_STEP {"name":"test","container":"test","status":"success","exitCode":0}' },
];
const clone: StepRecord = { buildId: 'demo/app#1', stageNumber: 1, number: 1, name: 'clone', container: 'slipway-agent', status: 'success', detached: false, kind: 'clone', startedAt: T, finishedAt: T + 16_000 };

describe('agentPhases', () => {
  it('splits the clone step at the agent\'s lines: its start, the clone, the services, the start of the steps', () => {
    expect(agentPhases(clone, AGENT_LOG)).toEqual([
      { name: 'agent start', ms: 2100 },
      { name: 'clone', ms: 270 },
      { name: 'services ready', ms: 1020 },
      { name: 'steps start', ms: 12_600 },
    ]);
  });

  it('"steps start" runs to the first step\'s start once the clone record ends at the clone (its agent\'s own end)', () => {
    const ended = { ...clone, finishedAt: T + 2380 };
    expect(agentPhases(ended, AGENT_LOG)?.map((p) => p.name)).toEqual(['agent start', 'clone', 'services ready']);
    expect(agentPhases(ended, AGENT_LOG, false, T + 16_000)?.find((p) => p.name === 'steps start')).toEqual({ name: 'steps start', ms: 12_600 });
    const plugin: StepRecord = { ...clone, number: 2, name: 'publish', container: 'publish', kind: 'step', startedAt: T + 16_000 };
    expect(firstStepStart([ended, plugin, { ...plugin, number: 3, whenStatus: 'failure', startedAt: T + 2200 }])).toBe(T + 16_000);
  });

  it('no "steps start" from the clone record\'s end when the steps started with the task: it then ends when a step passes', () => {
    expect(agentPhases(clone, AGENT_LOG, true)?.map((p) => p.name)).toEqual(['agent start', 'clone', 'services ready']);
  });

  it('"steps start" runs to the first commands\' start of steps that waited in their wrapper for the setup, not their containers\' start', () => {
    const ended = { ...clone, finishedAt: T + 2380 };
    // Its container started with the task; its commands 64 ms after `ready:` (its record's start, step-times.ts).
    const waited: StepRecord = { ...clone, number: 2, name: 'test', container: 'test', kind: 'step', afterSetup: true, startedAt: T + 3464, finishedAt: T + 15_400 };
    const first = firstStepStart([ended, waited]);
    expect(first).toBe(T + 3464);
    expect(agentPhases(ended, AGENT_LOG, true, first)?.find((p) => p.name === 'steps start')).toEqual({ name: 'steps start', ms: 64 });
    // A record from before steps started at their commands holds its container's start: its commands ran from `ready:` on.
    const older = { ...waited, startedAt: T + 300 };
    expect(agentPhases(ended, AGENT_LOG, true, firstStepStart([ended, older]))?.find((p) => p.name === 'steps start')).toEqual({ name: 'steps start', ms: 0 });
  });

  it('a disabled clone takes no time; a clone that did not end (failed, or not logged yet) has no phases', () => {
    const disabled = [AGENT_LOG[0]!, { time: T + 2110, text: 'slipway-agent: clone: disabled by the pipeline' }, AGENT_LOG[4]!];
    expect(agentPhases(clone, disabled)?.find((p) => p.name === 'clone')).toEqual({ name: 'clone', ms: 0 });
    expect(agentPhases(clone, AGENT_LOG.slice(0, 2))).toBeUndefined();
    expect(agentPhases(clone, [])).toBeUndefined();
  });

  it('a phase whose end is unknown is left out, not guessed', () => {
    expect(agentPhases({ startedAt: undefined, finishedAt: undefined }, AGENT_LOG)?.map((p) => p.name)).toEqual(['clone', 'services ready']);
  });

  it('writes short spans with the precision a clone has', () => {
    expect([270, 2100, 12_600, 125_000].map(phaseDuration)).toEqual(['0.27s', '2.1s', '13s', '2m 05s']);
  });
});

describe('the clone line and row', () => {
  const build = { repo: 'demo/app', number: 1, status: 'success', event: 'push', branch: 'main', commit: 'c'.repeat(40), createdAt: T, startedAt: T, finishedAt: T + 20_000, stages: [{ number: 1, name: 'test', status: 'success', dependsOn: [], attempts: 1, taskArn: 'arn:task', startedAt: T, finishedAt: T + 20_000, steps: [clone] }] } as unknown as BuildDetail;
  const phasesOf = () => agentPhases(clone, AGENT_LOG);

  it('progress: the clone\'s own time, the other phases beside it', () => {
    const lines: string[] = [];
    progressPrinter((l) => lines.push(l), phasesOf)(build);
    // Seen only once it passed: its start is printed all the same (cli/progress.ts).
    expect(lines).toEqual(['  … clone running', '  ✓ clone success in 0.27s (agent start 2.1s, services ready 1.0s, steps start 13s)']);
    expect(describePhases([])).toBeUndefined();
  });

  it('summary: the clone row\'s duration is the clone, its note the other phases', () => {
    const row = formatBuild(build, T + 30_000, phasesOf).split('\n').find((l) => l.includes('  clone'));
    expect(row).toMatch(/^1\.1 +clone +success +0\.27s +agent start 2\.1s, services ready 1\.0s, steps start 13s$/);
  });
});

describe('slipway run shows the clone as its own phase', () => {
  let dir: string;
  let home: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'slipway-run-phases-'));
    home = mkdtempSync(join(tmpdir(), 'slipway-home-'));
    writeFileSync(join(dir, '.drone.yml'), 'kind: pipeline\ntype: docker\nname: test\nsteps:\n  - name: hello\n    image: alpine:3.20\n    commands: [echo hello]\n');
  });
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
    rmSync(home, { recursive: true, force: true });
  });

  it('a local build prints the clone with its phases, in progress and in the summary', async () => {
    const out: string[] = [];
    const err: string[] = [];
    const io: CliIO = { out: (t) => out.push(t), err: (t) => err.push(t), cwd: dir, env: { ...process.env, SLIPWAY_HOME: home } };
    const code = await main(['run', '--quiet', dir], io);
    expect(err).toEqual([]);
    expect(code).toBe(0);
    const progress = out.find((l) => /^ {2}✓ clone success/.test(l)) ?? '';
    // Its step starts with the task (afterSetup): "steps start" runs to its commands' start, once known
    // (the progress line is printed when the clone ends, maybe before; the summary after the stage's end).
    const m = /^ {2}✓ clone success in (\d+(?:\.\d+)?)s \(agent start [\d.]+s, services ready [\d.]+s(, steps start [\d.]+s)?\)$/.exec(progress);
    expect(m, progress).not.toBeNull();
    const row = out.join('\n').split('\n').find((l) => /^1\.1 +clone /.test(l)) ?? '';
    expect(row).toMatch(/^1\.1 +clone +success +[\d.]+s +agent start [\d.]+s, services ready [\d.]+s, steps start [\d.]+s$/);
  });
});
