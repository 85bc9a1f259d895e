// The clone's end read from its agent's lines while the stage runs (core/builds/clone-end.ts):
// ECS's events carry no health, and steps that start with the task pass long after the clone.

import { describe, expect, it } from 'vitest';
import { cloneEndFromAgentLog, withCloneEnd } from '../../core/builds/clone-end.js';
import type { StepRecord } from '../../core/builds/types.js';

const T = 1_796_191_155_000;
const SHA = '7ebcc46808659b106649f41ee818b828411f1698';
const head = [
  { time: T + 2100, text: 'slipway-agent: pipeline "test" (stage demo/app#1/1): 1 step containers, 1 services, timeout 60 minutes' },
  { time: T + 2110, text: `slipway-agent: clone: file:///tmp/app refs/heads/main at ${SHA} into /drone/src` },
];
const clone: StepRecord = { buildId: 'demo/app#1', stageNumber: 1, number: 1, name: 'clone', container: 'slipway-agent', status: 'running', detached: false, kind: 'clone', startedAt: T };

describe('cloneEndFromAgentLog', () => {
  it('the clone passed when the agent checked the commit out, or when the pipeline disabled it', () => {
    expect(cloneEndFromAgentLog([...head, { time: T + 2380, text: `slipway-agent: clone: checked out ${SHA}` }])).toEqual({ status: 'success', at: T + 2380 });
    expect(cloneEndFromAgentLog([head[0]!, { time: T + 2105, text: 'slipway-agent: clone: disabled by the pipeline' }])).toEqual({ status: 'success', at: T + 2105 });
  });

  it('the clone failed when the agent says so before the steps that still run go on', () => {
    const failed = 'clone: fetch failed (git exit code 128): fatal: could not read from remote repository';
    expect(cloneEndFromAgentLog([...head, { time: T + 3000, text: `slipway-agent: ${failed}: the steps that run on failure still run, the others are skipped` }])).toEqual({ status: 'failure', at: T + 3000, reason: failed });
  });

  it('no end while the clone runs; a service that failed the setup is not the clone; a step\'s line saying so proves nothing', () => {
    expect(cloneEndFromAgentLog(head)).toBeUndefined();
    expect(cloneEndFromAgentLog([...head, { time: T + 2600, text: 'slipway-agent: clone: fetch failed, retrying in 1 s (1/3)' }])).toBeUndefined();
    expect(cloneEndFromAgentLog([{ time: T, text: 'slipway-agent: service "db" (port 5432) not ready after 2 s: the steps that run on failure still run, the others are skipped' }])).toBeUndefined();
    expect(cloneEndFromAgentLog([{ time: T, text: `clone: checked out ${SHA}` }])).toBeUndefined();
  });
});

describe('withCloneEnd', () => {
  it('a running clone takes the end its agent showed; a finished one stays as recorded', () => {
    expect(withCloneEnd(clone, { status: 'success', at: T + 2380 })).toEqual({ ...clone, status: 'success', finishedAt: T + 2380 });
    expect(withCloneEnd(clone, { status: 'failure', at: T + 3000, reason: 'clone: fetch failed' })).toEqual({ ...clone, status: 'failure', finishedAt: T + 3000, reason: 'clone: fetch failed' });
    const done = { ...clone, status: 'success' as const, finishedAt: T + 9000 };
    expect(withCloneEnd(done, { status: 'success', at: T + 2380 })).toBe(done);
    expect(withCloneEnd(clone, undefined)).toBe(clone);
  });

  it('a clone no event has started yet starts at its agent\'s first line', () => {
    const { startedAt: _startedAt, ...pending } = clone;
    expect(withCloneEnd({ ...pending, status: 'pending' }, { status: 'success', at: T + 2380 }, T + 2100)).toMatchObject({ status: 'success', startedAt: T + 2100, finishedAt: T + 2380 });
  });
});
